//! A hung or runaway exec credential plugin: the run is bounded by `ExecConfig::timeout`,
//! every request waiting for it fails with a clear error when it is stopped (they share the
//! one run, not a queue of runs), and output past 1 MiB is refused.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_client::auth::{AuthError, Authenticator};
use k8s_client::config::{ExecConfig, ExecInteractiveMode};
use k8s_client::Config;

fn plugin(dir: &Path, name: &str, body: &str) -> ExecConfig {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    ExecConfig {
        api_version: Some("client.authentication.k8s.io/v1".into()),
        command: "/bin/sh".into(),
        args: vec![path.to_string_lossy().into_owned()],
        interactive_mode: Some(ExecInteractiveMode::Never),
        ..ExecConfig::default()
    }
}

fn exec_config(exec: ExecConfig) -> Config {
    let mut c = Config::new("https://127.0.0.1:6443".parse().unwrap());
    c.auth.exec = Some(exec);
    c
}

#[tokio::test]
async fn a_hung_plugin_fails_every_waiter_after_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let mut exec = plugin(
        dir.path(),
        "hang.sh",
        &format!("echo run >> '{}'\nexec sleep 600", runs.display()),
    );
    exec.timeout = Some(Duration::from_millis(800));
    let auth = Arc::new(Authenticator::new(&exec_config(exec)).unwrap());
    let start = Instant::now();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let auth = auth.clone();
            tokio::spawn(async move { auth.prepare().await })
        })
        .collect();
    for t in tasks {
        let err = tokio::time::timeout(Duration::from_secs(20), t)
            .await
            .expect("a waiter hung with the plugin")
            .unwrap()
            .unwrap_err();
        assert!(matches!(err, AuthError::Exec { .. }), "{err:?}");
        assert!(err.to_string().contains("did not finish within"), "{err}");
    }
    // Everyone shared the one run.
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    let count = std::fs::read_to_string(&runs).unwrap().lines().count();
    assert_eq!(count, 1, "the plugin ran {count} times");
}

#[tokio::test]
async fn runaway_output_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut exec = plugin(dir.path(), "yes.sh", "exec yes");
    exec.timeout = Some(Duration::from_secs(20));
    let auth = Authenticator::new(&exec_config(exec)).unwrap();
    let start = Instant::now();
    let err = auth.prepare().await.unwrap_err();
    assert!(err.to_string().contains("printed more than"), "{err}");
    assert!(start.elapsed() < Duration::from_secs(10));
}
