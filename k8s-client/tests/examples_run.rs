//! Every example runs against the test control plane, as a user would run it: the binary
//! `cargo test` built, with `KUBECONFIG` pointing at the test kubeconfig, its usual
//! arguments and a deadline. A non-zero exit (or a missing binary) fails the test with the
//! example's output.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use k8s_client_testsupport as ts;

/// The example binaries `cargo test` builds beside the test binaries.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let path = dir.join("examples").join(name);
    assert!(
        path.is_file(),
        "example {name} is not built at {}: `cargo test --workspace` builds the examples \
         (or run `cargo build -p k8s-client --examples` first)",
        path.display()
    );
    path
}

/// Runs example `name` with `args` and returns its standard output.
async fn run(name: &str, args: &[&str], limit: Duration) -> String {
    let mut command = tokio::process::Command::new(example(name));
    command
        .args(args)
        .env("KUBECONFIG", ts::kubeconfig_path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = command
        .spawn()
        .unwrap_or_else(|e| panic!("starting example {name}: {e}"));
    let output = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("example {name} {args:?} did not end within {limit:?}"))
        .unwrap_or_else(|e| panic!("waiting for example {name}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "example {name} {args:?} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
    stdout
}

#[tokio::test]
async fn demo() {
    let out = run("demo", &[], Duration::from_secs(120)).await;
    assert!(out.contains("get of a missing pod: not found"), "{out}");
    assert!(out.contains("applied replicas=3"), "{out}");
}

#[tokio::test]
async fn discovery() {
    let out = run("discovery", &[], Duration::from_secs(60)).await;
    assert!(out.contains("pods"), "{out}");
}

#[tokio::test]
async fn dynamic() {
    let ns = ts::namespace("ex-dynamic").await;
    run("dynamic", &[&ns.name], Duration::from_secs(60)).await;
}

/// The operator example, driven as a user would: create a Website, scale it, change its
/// image, delete it, and check the owned objects, the status, the finalizer's cleanup of
/// the state file, and the metrics it serves.
#[tokio::test]
async fn operator() {
    use k8s_client::api::{ApiResource, PostParams};
    use k8s_client::api::{Patch, PatchParams};
    use k8s_client::dynamic::DynamicObject;
    use k8s_client::Api;
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::ConfigMap;
    use tokio::io::AsyncBufReadExt;

    let ns = ts::namespace("ex-operator").await;
    let state = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(example("operator"))
        .args([&ns.name, state.path().to_str().unwrap(), "127.0.0.1:0"])
        .env("KUBECONFIG", ts::kubeconfig_path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("starting the operator example");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let metrics_url = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(url) = line.strip_prefix("metrics on ") {
                return url.to_string();
            }
        }
        panic!("the operator ended before serving metrics")
    })
    .await
    .expect("the operator did not start");
    // Keep its output flowing (and visible in a failure).
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            println!("operator: {line}");
        }
    });

    let client = ts::client().await;
    let resource = ApiResource {
        group: "example.com".into(),
        version: "v1".into(),
        kind: "Website".into(),
        plural: "websites".into(),
        namespaced: true,
    };
    let websites: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns.name, &resource);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns.name);
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &ns.name);
    let site: DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "example.com/v1", "kind": "Website",
        "metadata": {"name": "hello"},
        "spec": {"replicas": 2, "image": "nginx:1.27"},
    }))
    .unwrap();
    websites
        .create(&PostParams::default(), &site)
        .await
        .unwrap();

    async fn until<T, F: std::future::Future<Output = Option<T>>>(
        what: &str,
        mut f: impl FnMut() -> F,
    ) -> T {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(v) = f().await {
                return v;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let deployment_is = |replicas: i32, image: &'static str| {
        let deployments = deployments.clone();
        move || {
            let deployments = deployments.clone();
            async move {
                let d = deployments.get_opt("hello").await.unwrap()?;
                let spec = &d.spec;
                let img = spec.template.spec.as_ref()?.containers[0].image.clone()?;
                (spec.replicas == Some(replicas) && img == image).then_some(d)
            }
        }
    };
    let d = until("the Deployment", deployment_is(2, "nginx:1.27")).await;
    let owner = &d.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.controller),
        ("Website", Some(true))
    );
    let cm = cms.get("hello").await.unwrap();
    assert!(cm.data.unwrap()["index.html"].contains("hello"));
    let state_file = state.path().join(format!("{}_hello", ns.name));
    until("the state file", || async {
        state_file.exists().then_some(())
    })
    .await;
    until("the Ready condition", || async {
        let w = websites.get("hello").await.unwrap();
        let c = &w.data["status"]["conditions"][0];
        (c["type"] == "Ready" && c["status"] == "True").then_some(())
    })
    .await;

    // Scale, then change the image.
    let patch = Patch::Merge(serde_json::json!({"spec": {"replicas": 3}}));
    websites
        .patch("hello", &PatchParams::default(), &patch)
        .await
        .unwrap();
    until("scaled to 3", deployment_is(3, "nginx:1.27")).await;
    let patch = Patch::Merge(serde_json::json!({"spec": {"image": "nginx:1.28"}}));
    websites
        .patch("hello", &PatchParams::default(), &patch)
        .await
        .unwrap();
    until("the new image", deployment_is(3, "nginx:1.28")).await;
    // A hand edit of an owned object is put back.
    let patch = Patch::Merge(serde_json::json!({"spec": {"replicas": 1}}));
    deployments
        .patch("hello", &PatchParams::default(), &patch)
        .await
        .unwrap();
    until("the hand edit undone", deployment_is(3, "nginx:1.28")).await;

    // The metrics the example serves.
    let body = http_get(&metrics_url).await;
    assert!(
        body.contains("controller_runtime_reconcile_total{controller=\"website\""),
        "{body}"
    );
    assert!(
        body.contains("workqueue_adds_total{name=\"website\"}"),
        "{body}"
    );
    assert!(
        body.contains("rest_client_requests_total{verb=\"patch\""),
        "{body}"
    );
    assert!(
        body.contains("informer_store_size")
            || body.contains("rest_client_request_duration_seconds_count"),
        "{body}"
    );
    let ready = http_get(&metrics_url.replace("/metrics", "/readyz")).await;
    assert_eq!(ready.trim(), "ok");

    // Delete: the finalizer's cleanup removes the state file, then the Website goes.
    websites.delete("hello", &Default::default()).await.unwrap();
    until("the Website deleted", || async {
        websites
            .get_opt("hello")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    assert!(
        !state_file.exists(),
        "the cleanup did not remove the state file"
    );
    let _ = child.start_kill();
}

/// GET over plain HTTP/1.1 to the example's local metrics server.
async fn http_get(url: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").expect("http url");
    let (host, path) = rest.split_once('/').expect("path");
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    let request = format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or(response)
}
