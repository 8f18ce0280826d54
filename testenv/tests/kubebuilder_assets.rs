//! A test environment from separate etcd, kube-apiserver and kube-controller-manager
//! binaries laid out like `setup-envtest`'s output (`KUBEBUILDER_ASSETS`), against the real
//! binaries: `KUBEBUILDER_ASSETS` when set, else the ones `scripts/build-envtest-assets.sh`
//! builds from the harness's Go modules (cached; a cold build mostly links, as the harness
//! build has compiled the packages).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use k8s_client::api::{DeleteParams, PostParams};
use k8s_client::Api;
use k8s_client_testenv::{Source, TestEnv};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

async fn assets_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("KUBEBUILDER_ASSETS").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/build-envtest-assets.sh");
    let out = tokio::process::Command::new(&script)
        .output()
        .await
        .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "{} failed: {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

#[tokio::test]
async fn runs_etcd_apiserver_and_controller_manager_from_assets() {
    let dir = assets_dir().await;
    let started = Instant::now();
    let env = TestEnv::builder()
        .kubebuilder_assets(&dir)
        .controller_manager(true)
        .apiserver_flag("--audit-log-maxage=1")
        .start()
        .await
        .unwrap_or_else(|e| panic!("starting from {}: {e}", dir.display()));
    eprintln!("started from {} in {:?}", dir.display(), started.elapsed());
    assert_eq!(env.source(), &Source::KubebuilderAssets(dir.clone()));
    let env_dir = env.dir().expect("dir").to_path_buf();
    for log in [
        "etcd.log",
        "kube-apiserver.log",
        "kube-controller-manager.log",
    ] {
        assert!(env_dir.join(log).is_file(), "no {log}");
    }

    // The server is the real one: /version from the binary.
    let version: serde_json::Value = env
        .client()
        .request(
            http::Request::get("/version")
                .body(Vec::new())
                .expect("request"),
        )
        .await
        .expect("/version");
    assert!(
        version["gitVersion"]
            .as_str()
            .unwrap_or("")
            .starts_with("v1."),
        "{version}"
    );

    // Garbage collection works, so the controller manager runs and is authorized.
    let ns = env.namespace("assets").await.expect("namespace");
    let api = Api::<ConfigMap>::namespaced(env.client().clone(), ns.name());
    let mut owner = ConfigMap::default();
    owner.metadata.name = Some("owner".into());
    let owner = api
        .create(&PostParams::default(), &owner)
        .await
        .expect("owner");
    let mut dependent = ConfigMap::default();
    dependent.metadata.name = Some("dependent".into());
    dependent.metadata.owner_references = Some(vec![OwnerReference {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        name: "owner".into(),
        uid: owner.metadata.uid.clone().expect("uid"),
        ..Default::default()
    }]);
    api.create(&PostParams::default(), &dependent)
        .await
        .expect("dependent");
    api.delete("owner", &DeleteParams::default())
        .await
        .expect("delete owner");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match api.get("dependent").await {
            Err(e) if e.is_not_found() => break,
            Err(e) => panic!("reading the dependent: {e}"),
            Ok(_) if Instant::now() > deadline => {
                panic!("the garbage collector did not delete the dependent in 60 s")
            }
            Ok(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }

    drop(ns);
    let url = env.config().cluster_url.clone();
    drop(env);
    assert!(!env_dir.exists(), "{} was not removed", env_dir.display());
    let port = url.port_u16().expect("port");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "kube-apiserver still listens on {port} after drop"
    );
}
