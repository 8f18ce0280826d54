//! A private control plane per test, for tests that restart or reconfigure the server.
//!
//! [`PrivateControlPlane::start`] runs the harness binary named by
//! `K8S_CLIENT_TESTCLUSTER_BIN` (exported by `scripts/test.sh`; `scripts/build-testcluster.sh`
//! prints it) in a fresh temporary directory, with extra kube-apiserver flags, and waits until
//! it is ready. [`stop`](PrivateControlPlane::stop) and [`start_again`](PrivateControlPlane::start_again)
//! restart it on the same port with the same etcd data, certificates and tokens, so clients
//! made before keep working. Everything is stopped and removed on drop.
//!
//! ```no_run
//! # async fn t() {
//! use k8s_client_testsupport::controlplane::PrivateControlPlane;
//! let mut cp = PrivateControlPlane::start(&["--etcd-compaction-interval=2s"]).await;
//! let client = cp.client().await;
//! cp.stop().await;
//! cp.start_again().await;
//! # drop(client);
//! # }
//! ```

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use k8s_client::config::KubeConfigOptions;
use k8s_client::{Client, Config};
use tokio::process::{Child, Command};

/// The environment variable naming the harness binary.
pub const TESTCLUSTER_BIN_ENV: &str = "K8S_CLIENT_TESTCLUSTER_BIN";

/// How long a start may take before the test fails.
const START_TIMEOUT: Duration = Duration::from_secs(180);

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A control plane (etcd + kube-apiserver) of one test's own, in a temporary directory.
#[derive(Debug)]
pub struct PrivateControlPlane {
    bin: PathBuf,
    dir: PathBuf,
    apiserver_flags: Vec<String>,
    child: Option<Child>,
}

/// The harness binary from `K8S_CLIENT_TESTCLUSTER_BIN`.
///
/// # Panics
/// When the variable is unset or names a missing file.
pub fn testcluster_bin() -> PathBuf {
    let bin = std::env::var_os(TESTCLUSTER_BIN_ENV).unwrap_or_else(|| {
        panic!(
            "{TESTCLUSTER_BIN_ENV} is not set: this test starts a private control plane. \
             Run it with scripts/test.sh, or export {TESTCLUSTER_BIN_ENV}=$(scripts/build-testcluster.sh)"
        )
    });
    let bin = PathBuf::from(bin);
    assert!(
        bin.is_file(),
        "{TESTCLUSTER_BIN_ENV}={} does not exist: run scripts/build-testcluster.sh and export its output",
        bin.display()
    );
    bin
}

impl PrivateControlPlane {
    /// Starts a new control plane with these extra kube-apiserver flags and waits until it
    /// is ready.
    ///
    /// # Panics
    /// When the harness binary is missing or the control plane does not become ready within
    /// 3 minutes (with the end of its log).
    pub async fn start(apiserver_flags: &[&str]) -> Self {
        let bin = testcluster_bin();
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "k8s-client-cp-{}-{nanos:x}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        let mut cp = PrivateControlPlane {
            bin,
            dir,
            apiserver_flags: apiserver_flags.iter().map(|f| f.to_string()).collect(),
            child: None,
        };
        cp.start_again().await;
        cp
    }

    /// The control plane's directory (kubeconfig, `pki/`, `data/`, `testcluster.log`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The kubeconfig path.
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }

    /// Whether the control plane is running.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// The config of the `admin` context.
    pub async fn config(&self) -> Config {
        let options = KubeConfigOptions::default()
            .path(self.kubeconfig())
            .context("admin");
        Config::from_kubeconfig(&options)
            .await
            .unwrap_or_else(|e| panic!("loading {}: {e}", self.kubeconfig().display()))
    }

    /// An admin client without client-side rate limiting.
    pub async fn client(&self) -> Client {
        let mut config = self.config().await;
        config.rate_limit = None;
        Client::try_from(config).unwrap_or_else(|e| panic!("making a client: {e}"))
    }

    /// (Re)starts the control plane (same port, data, certificates and tokens as before)
    /// and waits until it is ready.
    pub async fn start_again(&mut self) {
        assert!(
            self.child.is_none(),
            "the private control plane is running already"
        );
        let ready = self.dir.join("ready");
        let _ = std::fs::remove_file(&ready);
        let log_path = self.dir.join("testcluster.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .unwrap_or_else(|e| panic!("opening {}: {e}", log_path.display()));
        let log2 = log
            .try_clone()
            .unwrap_or_else(|e| panic!("opening {}: {e}", log_path.display()));
        let mut cmd = Command::new(&self.bin);
        cmd.arg("up")
            .arg("--dir")
            .arg(&self.dir)
            .arg("--keep-data")
            .arg("--")
            .args(&self.apiserver_flags)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", self.bin.display()));
        let started = Instant::now();
        loop {
            if ready.is_file() {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "the private control plane exited during start-up ({status}); log {}:\n{}",
                    log_path.display(),
                    tail(&log_path)
                );
            }
            if started.elapsed() > START_TIMEOUT {
                let _ = child.kill().await;
                panic!(
                    "the private control plane was not ready after {START_TIMEOUT:?}; log {}:\n{}",
                    log_path.display(),
                    tail(&log_path)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.child = Some(child);
    }

    /// Stops the control plane (SIGTERM, then SIGKILL after 30 s), keeping its data.
    pub async fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Some(pid) = child.id() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status()
                .await;
        }
        match tokio::time::timeout(Duration::from_secs(30), child.wait()).await {
            Ok(_) => {}
            Err(_) => {
                let _ = child.kill().await;
            }
        }
    }
}

impl Drop for PrivateControlPlane {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            if let Some(pid) = child.id() {
                let _ = std::process::Command::new("kill")
                    .arg("-TERM")
                    .arg(pid.to_string())
                    .status();
                // Give it a moment to stop etcd cleanly, then make sure it is gone.
                let deadline = Instant::now() + Duration::from_secs(20);
                while Instant::now() < deadline {
                    if matches!(child.try_wait(), Ok(Some(_))) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            let _ = child.start_kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}
