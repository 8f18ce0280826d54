//! A private control plane per test, for tests that restart or reconfigure the server: a thin
//! wrapper over [`k8s_client_testenv::TestEnv`] (the harness binary source) that panics with
//! the reason instead of returning errors, as test helpers do.
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

use k8s_client::{Client, Config};
use k8s_client_testenv::TestEnv;

/// The environment variable naming the harness binary.
pub const TESTCLUSTER_BIN_ENV: &str = k8s_client_testenv::TESTCLUSTER_BIN_ENV;

/// A control plane (etcd + kube-apiserver) of one test's own, in a temporary directory.
#[derive(Debug)]
pub struct PrivateControlPlane {
    env: TestEnv,
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
    /// When the harness binary is missing, exits during start-up, or is not ready within
    /// 3 minutes (with the end of its log).
    pub async fn start(apiserver_flags: &[&str]) -> Self {
        let env = TestEnv::builder()
            .harness(testcluster_bin())
            .apiserver_flags(apiserver_flags.iter().copied())
            .start()
            .await
            .unwrap_or_else(|e| panic!("starting a private control plane: {e}"));
        PrivateControlPlane { env }
    }

    /// The control plane's directory (kubeconfig, `pki/`, `data/`, `testcluster.log`).
    pub fn dir(&self) -> &Path {
        self.env
            .dir()
            .expect("a control plane started from the harness has a directory")
    }

    /// The kubeconfig path.
    pub fn kubeconfig(&self) -> PathBuf {
        self.env.kubeconfig().to_path_buf()
    }

    /// Whether the control plane is running.
    pub fn is_running(&self) -> bool {
        self.env.is_running()
    }

    /// The config of the `admin` context (no client-side rate limit).
    pub async fn config(&self) -> Config {
        self.env.config().clone()
    }

    /// An admin client without client-side rate limiting, with connections of its own.
    pub async fn client(&self) -> Client {
        self.env
            .new_client()
            .unwrap_or_else(|e| panic!("making a client: {e}"))
    }

    /// The test environment underneath.
    pub fn env(&self) -> &TestEnv {
        &self.env
    }

    /// (Re)starts the control plane (same port, data, certificates and tokens as before)
    /// and waits until it is ready.
    ///
    /// # Panics
    /// When it is running already, or does not start (with the end of its log).
    pub async fn start_again(&mut self) {
        assert!(
            !self.env.is_running(),
            "the private control plane is running already"
        );
        self.env
            .start_again()
            .await
            .unwrap_or_else(|e| panic!("restarting the private control plane: {e}"));
    }

    /// Stops the control plane (SIGTERM, then SIGKILL after 30 s), keeping its data.
    pub async fn stop(&mut self) {
        self.env.stop().await;
    }
}
