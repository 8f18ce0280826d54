//! Start, stop, restart, reuse and clean-up of test environments from the harness binary,
//! against real control planes (each test starts its own: that is what it tests).

use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use k8s_client::api::PostParams;
use k8s_client::Api;
use k8s_client_testenv::{Error, Source, TestEnv};
use k8s_openapi::api::core::v1::ConfigMap;

/// The harness binary the default lookup finds (env var or the repository's build script).
async fn harness() -> PathBuf {
    match Source::lookup().await {
        Ok(Source::Harness(bin)) => bin,
        Ok(other) => panic!(
            "these tests use the harness binary; the lookup found {other:?} \
             (unset KUBEBUILDER_ASSETS to run them)"
        ),
        Err(e) => panic!("finding the harness: {e}"),
    }
}

fn port_open(env_url: &http::Uri) -> bool {
    let port = env_url.port_u16().expect("the server URL has a port");
    TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(500),
    )
    .is_ok()
}

#[tokio::test]
async fn everything_is_removed_on_drop_and_on_panic() {
    let bin = harness().await;
    // Dropped at the end of a scope.
    let env = TestEnv::from_harness(&bin).await.expect("start");
    let dir = env
        .dir()
        .expect("a started env has a directory")
        .to_path_buf();
    let url = env.config().cluster_url.clone();
    assert!(dir.join("kubeconfig").is_file());
    assert!(port_open(&url));
    drop(env);
    assert!(!dir.exists(), "{} was not removed", dir.display());
    assert!(
        !port_open(&url),
        "the API server at {url} still answers after drop"
    );

    // Dropped while a test panics.
    let (tx, rx) = std::sync::mpsc::channel();
    let bin2 = bin.clone();
    let panicked = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let env = TestEnv::from_harness(&bin2).await.expect("start");
            tx.send((
                env.dir().expect("dir").to_path_buf(),
                env.config().cluster_url.clone(),
            ))
            .expect("send");
            panic!("the test fails while the environment runs");
        })
    })
    .join();
    assert!(panicked.is_err(), "the thread should have panicked");
    let (dir, url) = rx.recv().expect("the env was started");
    assert!(
        !dir.exists(),
        "{} was not removed after a panic",
        dir.display()
    );
    assert!(
        !port_open(&url),
        "the API server at {url} still answers after a panic"
    );
}

#[tokio::test]
async fn a_process_that_exits_during_start_fails_with_its_log() {
    let bin = harness().await;
    let err = TestEnv::builder()
        .harness(bin)
        .apiserver_flag("--no-such-flag=1")
        .start()
        .await
        .expect_err("kube-apiserver refuses an unknown flag");
    match &err {
        Error::Exited { process, tail, .. } => {
            assert_eq!(process, "testcluster");
            assert!(
                tail.contains("no-such-flag"),
                "the log tail does not name the flag: {tail}"
            );
        }
        other => panic!("expected Error::Exited, got {other:?}"),
    }
    assert!(err.to_string().contains("no-such-flag"), "{err}");
}

#[tokio::test]
async fn missing_binaries_are_named() {
    let empty =
        std::env::temp_dir().join(format!("k8s-client-testenv-empty-{}", std::process::id()));
    std::fs::create_dir_all(&empty).expect("mkdir");
    let err = TestEnv::from_kubebuilder_assets(&empty)
        .await
        .expect_err("no binaries there");
    assert!(
        matches!(&err, Error::MissingBinary { name, .. } if name == "etcd"),
        "{err:?}"
    );
    let err = TestEnv::from_harness(empty.join("testcluster"))
        .await
        .expect_err("no binary there");
    assert!(matches!(&err, Error::MissingBinary { .. }), "{err:?}");
    let _ = std::fs::remove_dir(&empty);
}

#[tokio::test]
async fn restarts_keep_data_and_a_kubeconfig_reuses_a_running_plane() {
    let bin = harness().await;
    let mut env = TestEnv::builder()
        .harness(bin)
        .apiserver_flag("--etcd-compaction-interval=0")
        .start()
        .await
        .expect("start");
    assert!(env.is_running());
    let ns = env.namespace("restart").await.expect("namespace");
    let api = Api::<ConfigMap>::namespaced(env.client().clone(), ns.name());
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("kept".into());
    api.create(&PostParams::default(), &cm)
        .await
        .expect("create");

    // Another TestEnv on the same control plane through its kubeconfig; dropping it stops nothing.
    let reused = TestEnv::from_kubeconfig(env.kubeconfig())
        .await
        .expect("reuse");
    assert_eq!(
        reused.source(),
        &Source::Kubeconfig(env.kubeconfig().to_path_buf())
    );
    assert!(reused.dir().is_none());
    let via_reused = Api::<ConfigMap>::namespaced(reused.new_client().expect("client"), ns.name());
    via_reused
        .get("kept")
        .await
        .expect("get through the reused env");
    drop(reused);
    api.get("kept")
        .await
        .expect("still running after the reused env was dropped");

    env.stop().await;
    assert!(!env.is_running());
    env.start_again().await.expect("start again");
    env.check_running().expect("running");
    // Same address and credentials: a client made before the restart works again.
    let kept = api.get("kept").await.expect("get after restart");
    assert_eq!(kept.metadata.name.as_deref(), Some("kept"));
}

/// The environment variable that makes [`killed_child`] run (it is a helper process).
const CHILD_ENV: &str = "K8S_CLIENT_TESTENV_KILLED_CHILD";

/// Helper of `a_killed_test_process_leaves_nothing_behind`, run in a process of its own:
/// starts an environment, prints its directory and port, and kills its own process with
/// SIGKILL, so that no destructor runs.
#[tokio::test]
#[ignore = "helper process of a_killed_test_process_leaves_nothing_behind (kills its own test binary)"]
async fn killed_child() {
    let bin =
        std::env::var_os(CHILD_ENV).expect("run by a_killed_test_process_leaves_nothing_behind");
    let env = TestEnv::from_harness(PathBuf::from(bin))
        .await
        .expect("start");
    println!(
        "CHILD-ENV {} {}",
        env.dir().expect("dir").display(),
        env.config().cluster_url.port_u16().expect("port")
    );
    let _ = std::process::Command::new("kill")
        .arg("-KILL")
        .arg(std::process::id().to_string())
        .status();
    std::thread::sleep(Duration::from_secs(30));
    unreachable!("the process was killed");
}

#[tokio::test]
async fn a_killed_test_process_leaves_nothing_behind() {
    let bin = harness().await;
    let out = tokio::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--ignored",
            "--exact",
            "killed_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &bin)
        .output()
        .await
        .expect("running the child");
    assert!(!out.status.success(), "the child should have been killed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("CHILD-ENV ").map(|(_, rest)| rest.trim()))
        .unwrap_or_else(|| {
            panic!(
                "no CHILD-ENV line in the child's output:\n{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let (dir, port) = line.rsplit_once(' ').expect("dir and port");
    let dir = PathBuf::from(dir);
    let port: u16 = port.parse().expect("port");
    // The watchdog polls every second and gives the control plane 10 s to stop.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let url: http::Uri = format!("https://127.0.0.1:{port}").parse().expect("url");
    while (dir.exists() || port_open(&url)) && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        !port_open(&url),
        "the control plane of a killed test process still listens on {port}"
    );
    assert!(
        !dir.exists(),
        "{} was not removed after the test process was killed",
        dir.display()
    );
}
