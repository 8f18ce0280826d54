//! Test support for k8s-client: finds the test control plane that `scripts/test.sh` started,
//! makes clients for its kubeconfig contexts, and hands out a fresh namespace per test that is
//! deleted when the test ends.
//!
//! When no control plane is reachable every function here panics with the reason, so a test
//! that needs one fails loudly instead of passing by skipping.
//!
//! ```no_run
//! # async fn t() {
//! use k8s_client_testsupport as ts;
//! let ns = ts::namespace("demo").await;
//! let client = ts::client().await;
//! // ... create objects in `ns.name` ...
//! # drop((ns, client));
//! # }
//! ```

pub mod controlplane;
pub mod faults;
pub mod kwok;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use k8s_client::api::{DeleteParams, PostParams};
use k8s_client::config::KubeConfigOptions;
use k8s_client::{Api, Client, Config};
use k8s_openapi::api::core::v1::Namespace;

/// The environment variable that names the test control plane's kubeconfig.
pub const KUBECONFIG_ENV: &str = "K8S_CLIENT_TEST_KUBECONFIG";

/// The namespace in which the `restricted` context may read (and nothing else).
pub const RESTRICTED_NAMESPACE: &str = "restricted-ns";

/// The kubeconfig of the running test control plane (from `K8S_CLIENT_TEST_KUBECONFIG`).
///
/// # Panics
/// When the variable is unset or names a missing file: run the tests with `scripts/test.sh`,
/// or start a control plane with `scripts/testcluster.sh start` and export the variable.
pub fn kubeconfig_path() -> PathBuf {
    let path = std::env::var_os(KUBECONFIG_ENV).unwrap_or_else(|| {
        panic!(
            "{KUBECONFIG_ENV} is not set: these tests need the real control plane. \
             Run them with scripts/test.sh, or start one with `scripts/testcluster.sh start` \
             and export {KUBECONFIG_ENV}=<its dir>/kubeconfig"
        )
    });
    let path = PathBuf::from(path);
    assert!(
        path.is_file(),
        "{KUBECONFIG_ENV}={} does not exist: is the test control plane running? \
         (scripts/testcluster.sh start)",
        path.display()
    );
    path
}

/// The example binary `name` that `cargo test` built beside the test binaries (in
/// `target/<profile>/examples`); fails the test, naming the path, when it is not there.
pub fn example(name: &str) -> PathBuf {
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

/// The directory of the test control plane (certificates in `pki/`, logs).
pub fn cluster_dir() -> PathBuf {
    let kc = kubeconfig_path();
    kc.parent().map(PathBuf::from).unwrap_or_default()
}

/// The config of one context of the test kubeconfig: `admin` (client certificate),
/// `admin-token`, `admin-token-2` (static tokens, cluster admins) or `restricted`.
pub async fn config(context: &str) -> Config {
    let path = kubeconfig_path();
    let options = KubeConfigOptions::default()
        .path(path.clone())
        .context(context.to_string());
    Config::from_kubeconfig(&options)
        .await
        .unwrap_or_else(|e| panic!("loading context {context} of {}: {e}", path.display()))
}

/// A client for one context of the test kubeconfig, checked to reach the server.
pub async fn client_for(context: &str) -> Client {
    let config = config(context).await;
    let server = config.cluster_url.clone();
    let client = Client::try_from(config)
        .unwrap_or_else(|e| panic!("making a client for context {context}: {e}"));
    let version = http::Request::get("/version")
        .body(Vec::new())
        .expect("static request");
    if let Err(e) = client.request::<serde_json::Value>(version).await {
        panic!("the test control plane at {server} does not answer (context {context}): {e}");
    }
    client
}

/// An admin client (the `admin` context: client certificate in system:masters).
pub async fn client() -> Client {
    client_for("admin").await
}

/// An admin client without client-side rate limiting, for tests that make many requests.
pub async fn client_unlimited() -> Client {
    let mut config = config("admin").await;
    config.rate_limit = None;
    Client::try_from(config).unwrap_or_else(|e| panic!("making an unlimited admin client: {e}"))
}

/// The minor version of the test control plane (from `/version`), for the few behaviours that
/// differ between the supported Kubernetes versions (streaming lists are refused before 1.34).
pub async fn server_minor() -> u32 {
    let req = http::Request::get("/version")
        .body(Vec::new())
        .expect("static request");
    let v: serde_json::Value = client()
        .await
        .request(req)
        .await
        .unwrap_or_else(|e| panic!("reading the test control plane's /version: {e}"));
    v["minor"]
        .as_str()
        .and_then(|m| m.trim_end_matches('+').parse().ok())
        .unwrap_or_else(|| panic!("no minor version in {v}"))
}

/// A namespace made for one test; deleted (in the background) when dropped.
#[derive(Debug)]
pub struct TestNamespace {
    /// The namespace's name.
    pub name: String,
    config: Config,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Creates a fresh namespace named `<prefix>-<unique suffix>`.
pub async fn namespace(prefix: &str) -> TestNamespace {
    let client = client().await;
    let config = client.config().clone();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = format!(
        "{}-{:x}{:x}-{n}",
        prefix.to_lowercase(),
        std::process::id() % 0xffff,
        nanos % 0xfffff
    );
    let ns = Namespace {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: Some(name.clone()),
            labels: Some([("k8s-client-test".to_string(), "true".to_string())].into()),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap_or_else(|e| panic!("creating test namespace {name}: {e}"));
    TestNamespace { name, config }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        let name = self.name.clone();
        delete_on_own_thread::<Namespace>(&self.config, vec![name]);
    }
}

/// A suffix that differs between tests and between runs (process id and clock), for names
/// of cluster-scoped objects such as CRD groups.
pub fn unique_suffix() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{:x}{:x}{n}", std::process::id() % 0xffff, nanos % 0xfffff)
}

/// Deletes the named cluster-scoped objects of kind `K` (CRDs, APIServices, ...) when
/// dropped, so a failing test leaves nothing behind.
///
/// ```no_run
/// # async fn t(client: k8s_client::Client) {
/// use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
/// let mut cleanup = k8s_client_testsupport::DeleteOnDrop::<CustomResourceDefinition>::new(client.config());
/// cleanup.add("widgets.example.com");
/// # }
/// ```
pub struct DeleteOnDrop<K: Deletable> {
    config: Config,
    names: Vec<String>,
    _kind: std::marker::PhantomData<fn() -> K>,
}

/// What [`DeleteOnDrop`] can delete: any typed kind.
pub trait Deletable: k8s_client::Resource<DynamicType = ()> + k8s_openapi::Resource {}

impl<K> Deletable for K where K: k8s_client::Resource<DynamicType = ()> + k8s_openapi::Resource {}

impl<K: Deletable> DeleteOnDrop<K> {
    /// A guard deleting with `config`'s credentials.
    pub fn new(config: &Config) -> Self {
        DeleteOnDrop {
            config: config.clone(),
            names: Vec::new(),
            _kind: std::marker::PhantomData,
        }
    }

    /// Deletes `name` too when dropped.
    pub fn add(&mut self, name: &str) {
        self.names.push(name.to_string());
    }
}

impl<K: Deletable> Drop for DeleteOnDrop<K> {
    fn drop(&mut self) {
        delete_on_own_thread::<K>(&self.config, std::mem::take(&mut self.names));
    }
}

/// Deletes cluster-scoped objects (or namespaces) by name on a thread of its own with a client
/// of its own: Drop cannot await, and the test's runtime (which drives the test's pooled
/// connections) is blocked while we wait. Failures are reported, not fatal: the objects are
/// disposable.
fn delete_on_own_thread<K: Deletable>(config: &Config, names: Vec<String>) {
    if names.is_empty() {
        return;
    }
    let config = config.clone();
    let handle = std::thread::spawn(move || {
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                eprintln!("testsupport: cannot delete {} {names:?}: {e}", K::KIND);
                return;
            }
        };
        rt.block_on(async move {
            let client = match Client::try_from(config) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("testsupport: cannot delete {} {names:?}: {e}", K::KIND);
                    return;
                }
            };
            let api = Api::<K>::all(client);
            for name in names {
                if let Err(e) = api.delete(&name, &DeleteParams::default()).await {
                    if !e.is_not_found() {
                        eprintln!("testsupport: deleting {} {name}: {e}", K::KIND);
                    }
                }
            }
        });
    });
    let _ = handle.join();
}

/// Waits until `cond` holds, checking every 20 ms; fails the test naming `what` after 45 s.
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(45);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
