//! A real Kubernetes control plane for the integration tests of applications built on
//! [`k8s_client`]: the role controller-runtime's *envtest* plays for Go.
//!
//! [`TestEnv`] starts etcd and kube-apiserver (and, when asked, kube-controller-manager, so
//! that garbage collection and namespace deletion happen) on 127.0.0.1 in a private temporary
//! directory, waits until the API server is ready and hands out a [`Client`], the kubeconfig
//! path, and a fresh namespace per test ([`TestEnv::namespace`]) so that tests running in
//! parallel do not see each other's objects. When the `TestEnv` is dropped (also when the test
//! panics) every process is stopped (its whole process group) and the directory removed; a
//! watchdog does the same if the test process dies without dropping it.
//!
//! # Where the binaries come from
//!
//! - [`TestEnv::from_kubebuilder_assets`]: a directory laid out like the output of
//!   `setup-envtest use -p path` (`etcd`, `kube-apiserver`, and `kube-controller-manager` if
//!   the controller manager is wanted).
//! - [`TestEnv::from_harness`]: the k8s-client project's harness binary (`testcluster`, all
//!   three in one process; `scripts/build-testcluster.sh` builds it and prints its path).
//! - [`TestEnv::from_kubeconfig`]: an already running control plane; nothing is started.
//! - [`TestEnv::start`] looks in this order and takes the first that is there:
//!   1. the environment variable `KUBEBUILDER_ASSETS` (a directory, as above);
//!   2. the environment variable `K8S_CLIENT_TESTCLUSTER_BIN` (the harness binary);
//!   3. `scripts/build-testcluster.sh` of the k8s-client repository, when this crate is built
//!      from a checkout of it (not from crates.io), which builds or finds the harness binary.
//!
//!   When none is there it fails with [`Error::NoSource`] naming all three; it never falls
//!   back to a cluster of your kubeconfig. [`TestEnv::source`] tells which one was used.
//!
//! # Example: an integration test
//!
//! One control plane per test binary, shared by its tests through a `OnceCell`; each test
//! has its own namespace and makes its own [`Client`] (a client's connections belong to the
//! runtime of the test that made it, and every `#[tokio::test]` has a runtime of its own).
//!
//! ```no_run
//! use k8s_client::api::PostParams;
//! use k8s_client::Api;
//! use k8s_client_testenv::TestEnv;
//! use k8s_openapi::api::core::v1::ConfigMap;
//! use tokio::sync::OnceCell;
//!
//! static ENV: OnceCell<TestEnv> = OnceCell::const_new();
//!
//! async fn env() -> &'static TestEnv {
//!     ENV.get_or_init(|| async { TestEnv::start().await.expect("starting the test environment") })
//!         .await
//! }
//!
//! #[tokio::test]
//! async fn creates_a_config_map() {
//!     let env = env().await;
//!     let ns = env.namespace("config-maps").await.unwrap();
//!     let client = env.new_client().unwrap();
//!     let api = Api::<ConfigMap>::namespaced(client, ns.name());
//!     let mut cm = ConfigMap::default();
//!     cm.metadata.name = Some("settings".into());
//!     let created = api.create(&PostParams::default(), &cm).await.unwrap();
//!     assert!(created.metadata.uid.is_some());
//! }
//! ```
//!
//! A `static` is never dropped: the watchdog stops that control plane when the test binary
//! exits. A `TestEnv` owned by one test is stopped when the test ends.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod assets;
mod certs;
mod error;
mod harness;
mod namespace;
mod process;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use k8s_client::config::KubeConfigOptions;
use k8s_client::{Api, Client, Config};
use k8s_openapi::api::core::v1::Namespace;

pub use error::Error;
pub use namespace::{TestNamespace, NAMESPACE_LABEL};

use assets::{Assets, AssetsPlane};
use process::{tail, Group};

/// The environment variable naming a directory of envtest binaries (as `setup-envtest` makes).
pub const KUBEBUILDER_ASSETS_ENV: &str = "KUBEBUILDER_ASSETS";

/// The environment variable naming the k8s-client harness binary (`testcluster`).
pub const TESTCLUSTER_BIN_ENV: &str = "K8S_CLIENT_TESTCLUSTER_BIN";

/// How long a start may take by default.
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(180);

/// Where the control plane of a [`TestEnv`] comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Source {
    /// Separate `etcd`, `kube-apiserver` (and `kube-controller-manager`) binaries in this
    /// directory, the layout of `setup-envtest`.
    KubebuilderAssets(PathBuf),
    /// The k8s-client harness binary (`testcluster up`).
    Harness(PathBuf),
    /// A control plane that runs already, reached through this kubeconfig (its current
    /// context); nothing is started or stopped.
    Kubeconfig(PathBuf),
}

impl Source {
    /// The source [`TestEnv::start`] uses: `KUBEBUILDER_ASSETS`, else
    /// `K8S_CLIENT_TESTCLUSTER_BIN`, else the harness that the k8s-client repository's
    /// `scripts/build-testcluster.sh` builds (only when this crate is built from that
    /// repository). Runs that script, which takes minutes when its cache is cold.
    pub async fn lookup() -> Result<Source, Error> {
        if let Some(dir) = std::env::var_os(KUBEBUILDER_ASSETS_ENV).filter(|v| !v.is_empty()) {
            return Ok(Source::KubebuilderAssets(PathBuf::from(dir)));
        }
        if let Some(bin) = std::env::var_os(TESTCLUSTER_BIN_ENV).filter(|v| !v.is_empty()) {
            return Ok(Source::Harness(PathBuf::from(bin)));
        }
        if let Some(script) = harness::build_script() {
            return Ok(Source::Harness(harness::build(&script).await?));
        }
        Err(Error::NoSource(format!(
            "set {KUBEBUILDER_ASSETS_ENV} to a directory with etcd and kube-apiserver \
             (`setup-envtest use -p path` prints one), or {TESTCLUSTER_BIN_ENV} to the \
             k8s-client harness binary (scripts/build-testcluster.sh prints it)"
        )))
    }
}

/// How to start a [`TestEnv`]; made by [`TestEnv::builder`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TestEnvBuilder {
    source: Option<Source>,
    controller_manager: bool,
    apiserver_flags: Vec<String>,
    start_timeout: Duration,
}

impl Default for TestEnvBuilder {
    fn default() -> Self {
        TestEnvBuilder {
            source: None,
            controller_manager: false,
            apiserver_flags: Vec::new(),
            start_timeout: DEFAULT_START_TIMEOUT,
        }
    }
}

impl TestEnvBuilder {
    /// Where the control plane comes from (default: [`Source::lookup`] at start).
    pub fn source(mut self, source: Source) -> Self {
        self.source = Some(source);
        self
    }

    /// Binaries from a `setup-envtest` style directory.
    pub fn kubebuilder_assets(self, dir: impl Into<PathBuf>) -> Self {
        self.source(Source::KubebuilderAssets(dir.into()))
    }

    /// The k8s-client harness binary.
    pub fn harness(self, bin: impl Into<PathBuf>) -> Self {
        self.source(Source::Harness(bin.into()))
    }

    /// Reuse the control plane this kubeconfig (its current context) reaches.
    pub fn kubeconfig(self, path: impl Into<PathBuf>) -> Self {
        self.source(Source::Kubeconfig(path.into()))
    }

    /// Also run kube-controller-manager (default off, as in envtest): garbage collection,
    /// namespace deletion, service-account tokens, workload controllers. From
    /// `KUBEBUILDER_ASSETS` this needs a `kube-controller-manager` binary there.
    pub fn controller_manager(mut self, on: bool) -> Self {
        self.controller_manager = on;
        self
    }

    /// An extra kube-apiserver flag (`--name=value`), after the defaults so it wins.
    pub fn apiserver_flag(mut self, flag: impl Into<String>) -> Self {
        self.apiserver_flags.push(flag.into());
        self
    }

    /// Extra kube-apiserver flags.
    pub fn apiserver_flags<I, S>(mut self, flags: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.apiserver_flags
            .extend(flags.into_iter().map(Into::into));
        self
    }

    /// How long the start may take (default [`DEFAULT_START_TIMEOUT`]).
    pub fn start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }

    /// Starts the control plane and waits until it is ready.
    pub async fn start(self) -> Result<TestEnv, Error> {
        let source = match self.source.clone() {
            Some(source) => source,
            None => Source::lookup().await?,
        };
        let (plane, dir) = match &source {
            Source::Kubeconfig(path) => {
                let config = load_config(path, None).await?;
                let client =
                    Client::try_from(config.clone()).map_err(Error::client("making a client"))?;
                return Ok(TestEnv {
                    kubeconfig: path.clone(),
                    source,
                    config,
                    client,
                    dir: None,
                    plane: Plane::External,
                    group: None,
                    options: self,
                });
            }
            Source::Harness(bin) => {
                if !bin.is_file() {
                    return Err(Error::MissingBinary {
                        name: "testcluster".into(),
                        path: bin.clone(),
                        hint: "scripts/build-testcluster.sh builds it and prints its path",
                    });
                }
                (Plane::Harness(bin.clone()), private_dir()?)
            }
            Source::KubebuilderAssets(assets_dir) => {
                let assets = Assets::find(assets_dir, self.controller_manager)?;
                let dir = private_dir()?;
                match AssetsPlane::prepare(assets, &dir, self.apiserver_flags.clone()) {
                    Ok(plane) => (Plane::Assets(Box::new(plane)), dir),
                    Err(e) => {
                        let _ = std::fs::remove_dir_all(&dir);
                        return Err(e);
                    }
                }
            }
        };
        let launched = launch(&plane, &dir, &self, None).await;
        let (group, config) = match launched {
            Ok(ok) => ok,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e);
            }
        };
        let client = Client::try_from(config.clone()).map_err(Error::client("making a client"))?;
        Ok(TestEnv {
            source,
            kubeconfig: dir.join("kubeconfig"),
            config,
            client,
            dir: Some(dir),
            plane,
            group: Some(group),
            options: self,
        })
    }
}

/// Starts the processes of `plane` in `dir` and waits until the API server is ready; returns
/// them with the admin config (`config` when known from an earlier start).
async fn launch(
    plane: &Plane,
    dir: &Path,
    options: &TestEnvBuilder,
    config: Option<&Config>,
) -> Result<(Group, Config), Error> {
    let timeout = options.start_timeout;
    let kubeconfig = dir.join("kubeconfig");
    match plane {
        Plane::External => Err(Error::NoSource(
            "a control plane from a kubeconfig is not started by the test environment".into(),
        )),
        Plane::Harness(bin) => {
            let group = harness::start(
                bin,
                dir,
                options.controller_manager,
                &options.apiserver_flags,
                timeout,
            )
            .await?;
            let config = match config {
                Some(c) => c.clone(),
                None => load_config(&kubeconfig, Some("admin")).await?,
            };
            Ok((group, config))
        }
        Plane::Assets(plane) => {
            let started = Instant::now();
            let mut group = plane.start(timeout).await?;
            let config = match config {
                Some(c) => c.clone(),
                None => load_config(&kubeconfig, None).await?,
            };
            wait_ready(
                &config,
                &mut group,
                &plane.apiserver_log(),
                timeout,
                started,
            )
            .await?;
            plane.start_controller_manager(&mut group)?;
            Ok((group, config))
        }
    }
}

/// How a [`TestEnv`] runs its control plane.
#[derive(Debug)]
enum Plane {
    Harness(PathBuf),
    Assets(Box<AssetsPlane>),
    External,
}

/// A running control plane for tests, stopped and removed when dropped.
#[derive(Debug)]
pub struct TestEnv {
    source: Source,
    kubeconfig: PathBuf,
    config: Config,
    client: Client,
    dir: Option<PathBuf>,
    plane: Plane,
    group: Option<Group>,
    options: TestEnvBuilder,
}

impl TestEnv {
    /// Starts a control plane from the first source [`Source::lookup`] finds, without the
    /// controller manager; see [`builder`](TestEnv::builder) for more choices.
    pub async fn start() -> Result<TestEnv, Error> {
        TestEnvBuilder::default().start().await
    }

    /// Options for the start.
    pub fn builder() -> TestEnvBuilder {
        TestEnvBuilder::default()
    }

    /// Starts etcd and kube-apiserver from a `setup-envtest` style directory.
    pub async fn from_kubebuilder_assets(dir: impl Into<PathBuf>) -> Result<TestEnv, Error> {
        TestEnvBuilder::default()
            .kubebuilder_assets(dir)
            .start()
            .await
    }

    /// Starts the k8s-client harness binary.
    pub async fn from_harness(bin: impl Into<PathBuf>) -> Result<TestEnv, Error> {
        TestEnvBuilder::default().harness(bin).start().await
    }

    /// Uses the control plane this kubeconfig (its current context) reaches; nothing is
    /// started, and dropping the `TestEnv` stops nothing.
    pub async fn from_kubeconfig(path: impl Into<PathBuf>) -> Result<TestEnv, Error> {
        TestEnvBuilder::default().kubeconfig(path).start().await
    }

    /// Where the control plane came from.
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// The kubeconfig of the control plane (an admin with a client certificate).
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The private directory (kubeconfig, `pki/`, data, logs); `None` for
    /// [`Source::Kubeconfig`].
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The admin config (no client-side rate limit).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The admin client made at start (no client-side rate limit). Use
    /// [`new_client`](TestEnv::new_client) in a test that runs on another runtime than the
    /// one that started the environment.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// A new admin client with connections of its own.
    pub fn new_client(&self) -> Result<Client, Error> {
        Client::try_from(self.config.clone()).map_err(Error::client("making a client"))
    }

    /// Creates a fresh namespace `<prefix>-<unique suffix>`, deleted when the returned guard
    /// is dropped.
    pub async fn namespace(&self, prefix: &str) -> Result<TestNamespace, Error> {
        TestNamespace::create(&self.config, prefix).await
    }

    /// Whether the control plane's processes run (`true` for [`Source::Kubeconfig`]).
    pub fn is_running(&self) -> bool {
        matches!(self.plane, Plane::External) || self.group.is_some()
    }

    /// `Err(Error::Exited)` with the end of its log when a process of the control plane has
    /// exited since the start.
    pub fn check_running(&mut self) -> Result<(), Error> {
        match self.group.as_mut() {
            Some(group) => group.check_alive(),
            None => Ok(()),
        }
    }

    /// Stops the control plane (SIGTERM to its process group, SIGKILL after 30 s), keeping
    /// its data, ports and certificates for [`start_again`](TestEnv::start_again). Does
    /// nothing for [`Source::Kubeconfig`]. Waits on a blocking thread, so other tasks of the test keep running meanwhile.
    pub async fn stop(&mut self) {
        if let Some(mut group) = self.group.take() {
            let stopping = tokio::task::spawn_blocking(move || group.stop(Duration::from_secs(30)));
            // A failed join means the stopping thread panicked; the group's Drop has run.
            let _ = stopping.await;
        }
    }

    /// Starts the control plane again after [`stop`](TestEnv::stop) (same address, data and
    /// credentials, so clients made before keep working) and waits until it is ready.
    pub async fn start_again(&mut self) -> Result<(), Error> {
        if matches!(self.plane, Plane::External) || self.group.is_some() {
            return Ok(());
        }
        let Some(dir) = self.dir.as_deref() else {
            return Ok(());
        };
        let (group, _) = launch(&self.plane, dir, &self.options, Some(&self.config)).await?;
        self.group = Some(group);
        Ok(())
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        if let Some(mut group) = self.group.take() {
            if let Err(e) = group.check_alive() {
                eprintln!(
                    "k8s-client-testenv: the control plane failed before the end of the test: {e}"
                );
            }
            group.stop(Duration::from_secs(10));
        }
        if let Some(dir) = self.dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A new private directory (mode 0700) under the system's temporary directory.
fn private_dir() -> Result<PathBuf, Error> {
    use std::os::unix::fs::DirBuilderExt;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "k8s-client-testenv-{}-{nanos:x}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .recursive(true)
        .create(&dir)
        .map_err(Error::io("creating", &dir))?;
    Ok(dir)
}

/// The config of a kubeconfig's context (its current one when `None`), without a client-side
/// rate limit (tests make many requests quickly).
async fn load_config(path: &Path, context: Option<&str>) -> Result<Config, Error> {
    let mut options = KubeConfigOptions::default().path(path.to_path_buf());
    if let Some(context) = context {
        options = options.context(context.to_string());
    }
    let mut config = Config::from_kubeconfig(&options)
        .await
        .map_err(|e| Error::client(format!("loading {}", path.display()))(e.into()))?;
    config.rate_limit = None;
    Ok(config)
}

/// Waits until `/readyz` answers and the `default` namespace exists, failing early when a
/// process of `group` exits.
async fn wait_ready(
    config: &Config,
    group: &mut Group,
    log: &Path,
    timeout: Duration,
    started: Instant,
) -> Result<(), Error> {
    let mut probe_config = config.clone();
    probe_config.retry = probe_config.retry.steps(1);
    let client = Client::try_from(probe_config).map_err(Error::client("making a client"))?;
    let mut waiting_for = "/readyz";
    loop {
        group.check_alive()?;
        let probe = async {
            let readyz = http::Request::get("/readyz")
                .body(Vec::new())
                .map_err(|e| e.to_string())?;
            client
                .request_text(readyz)
                .await
                .map_err(|e| e.to_string())?;
            Api::<Namespace>::all(client.clone())
                .get("default")
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        match tokio::time::timeout(Duration::from_secs(5), probe).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) if e.contains("default") => waiting_for = "the default namespace",
            _ => {}
        }
        if started.elapsed() > timeout {
            return Err(Error::NotReady {
                timeout,
                waiting_for: waiting_for.to_string(),
                log: log.to_path_buf(),
                tail: tail(log),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
