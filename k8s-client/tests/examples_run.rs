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

#[tokio::test]
async fn exec() {
    let ns = ts::namespace("ex-exec").await;
    let pod = ts::kwok::running_pod(&ns, "p").await;
    let out = run(
        "exec",
        &["-n", &ns.name, &pod.name, "--", "echo", "hello from exec"],
        Duration::from_secs(60),
    )
    .await;
    assert!(out.contains("hello from exec"), "{out}");
}

#[tokio::test]
async fn leader_election() {
    let ns = ts::namespace("ex-leader").await;
    let out = run(
        "leader_election",
        &["alice", "2", &ns.name, "example-lease"],
        Duration::from_secs(60),
    )
    .await;
    assert!(out.to_lowercase().contains("alice"), "{out}");
}

#[tokio::test]
async fn workqueue() {
    let ns = ts::namespace("ex-workqueue").await;
    run(
        "workqueue",
        &[&ns.name, "--for", "3"],
        Duration::from_secs(60),
    )
    .await;
}
