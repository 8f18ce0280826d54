//! Where the API server is and how to reach it: kubeconfig files, in-cluster service-account
//! files, and explicit overrides, resolved into one [`Config`]. Pure data plus file loading;
//! nothing here touches the network.
//!
//! ```no_run
//! use k8s_client::config::{Config, KubeConfigOptions};
//!
//! # async fn run() -> Result<(), k8s_client::Error> {
//! // What `kubectl` would use: $KUBECONFIG or ~/.kube/config, its current context.
//! let config = Config::from_kubeconfig(&KubeConfigOptions::default()).await?;
//! println!("talking to {}", config.cluster_url);
//! # Ok(())
//! # }
//! ```

mod error;
mod flags;
mod incluster;
mod kubeconfig;
mod load;
mod secret;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

pub use error::ConfigError;
pub use incluster::{InClusterPaths, SERVICE_ACCOUNT_DIR};
pub use kubeconfig::{
    AuthInfo, Cluster, Context, ExecConfig, ExecEnvVar, ExecInteractiveMode, Kubeconfig,
    NamedAuthInfo, NamedCluster, NamedContext, NamedExtension, EXEC_CLUSTER_EXTENSION,
};
pub use load::{KubeConfigOptions, EXEC_API_V1, EXEC_API_V1BETA1};

pub use secret::Secret;

use crate::backoff::Backoff;

/// Everything a [`Client`](crate::Client) needs to talk to one API server as one identity.
///
/// Built by [`Config::from_kubeconfig`], [`Config::incluster`] or [`Config::infer`], or by
/// hand with [`Config::new`]. Every field is public so a program can adjust it before making
/// a client; new fields may be added (with defaults), so it cannot be written as a struct
/// literal.
///
/// ```
/// use std::time::Duration;
/// use k8s_client::backoff::Backoff;
/// use k8s_client::config::{Config, RateLimit};
///
/// let mut config = Config::new("https://127.0.0.1:6443".parse().unwrap());
/// config.timeout = Some(Duration::from_secs(10));
/// config.rate_limit = Some(RateLimit::new(50.0, 100));
/// config.retry = Backoff::default_request_retry().steps(1); // no retries
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct Config {
    /// The API server's base URL, such as `https://127.0.0.1:6443` (may carry a path prefix).
    pub cluster_url: http::Uri,
    /// The namespace `Api::default_namespaced` uses.
    pub default_namespace: String,
    /// How the server's certificate is verified.
    pub tls: TlsConfig,
    /// Who we are: the credential source.
    pub auth: AuthConfig,
    /// Act as another user (the `Impersonate-*` headers).
    pub impersonate: Option<Impersonation>,
    /// An explicit proxy (`http://`, `https://` or `socks5://`); `None` means no proxy unless
    /// the program set one, for example from
    /// [`transport::proxy_from_env`](super::transport::proxy_from_env).
    pub proxy_url: Option<http::Uri>,
    /// Hosts that bypass the proxy (the `NO_PROXY` syntax: names, `.suffix`, IPs, CIDRs).
    pub no_proxy: Vec<String>,
    /// Per-request timeout (`None`: no timeout; watches use their own server-side timeout).
    pub timeout: Option<Duration>,
    /// Client-side rate limit shared by every handle made from one `Client`
    /// (`None`: no limit). Default: `None`. Every server this crate supports (1.33 and
    /// later) protects itself with API Priority and Fairness (GA since 1.29): it queues or
    /// answers 429 with `Retry-After`, which the client honours for every verb. That is the
    /// advice of SIG API Machinery, followed by controller-runtime, Flux and cert-manager;
    /// client-go's historical 5 QPS / burst 10 would hold 480 writes back for 95 s.
    /// Set `Some(RateLimit::new(qps, burst))` for a token bucket of the client's own (for
    /// a server run with `--enable-priority-and-fairness=false`, or to be gentle on
    /// purpose); a request it delays by more than a second is logged now and then.
    pub rate_limit: Option<RateLimit>,
    /// How failed requests are retried (429, 5xx, connection errors on idempotent verbs):
    /// the waits, and at most `steps - 1` retries; `cap` also bounds the server's
    /// `Retry-After`. Default: [`Backoff::default_request_retry`] (10 retries, 0.5 to 1 s
    /// doubling, at most 30 s).
    pub retry: Backoff,
    /// The `User-Agent` header. Default: `k8s-client/<version> (<os>/<arch>)`.
    pub user_agent: String,
    /// Interval of HTTP/2 keep-alive pings (`None`: off). Default: 30 s.
    pub keep_alive: Option<Duration>,
    /// The most threads one large protobuf list is decoded on, the task reading the body
    /// included: past its first MiB, a list is decoded in batches on up to this many threads
    /// less one of tokio's blocking pool. Never more than
    /// [`std::thread::available_parallelism`] (which follows CPU affinity and cgroup CPU
    /// quotas). `1` keeps decoding on the reading task, for programs that would rather spend
    /// less CPU than wait less. Default: 4.
    pub list_decode_threads: usize,
    /// Do not ask for gzip-compressed answers (the kubeconfig cluster's
    /// `disable-compression`): for fast networks where compression costs more CPU than it
    /// saves time. Default: `false` (ask for gzip).
    pub disable_compression: bool,
    /// Where the config came from, for error messages (`kubeconfig /path, context x`).
    pub origin: String,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A proxy URL may carry `user:password@`: show only scheme, host and port.
        let proxy = self.proxy_url.as_ref().map(|u| {
            let host = u.host().unwrap_or_default();
            match u.port_u16() {
                Some(p) => format!("{}://{host}:{p}", u.scheme_str().unwrap_or("http")),
                None => format!("{}://{host}", u.scheme_str().unwrap_or("http")),
            }
        });
        f.debug_struct("Config")
            .field("cluster_url", &self.cluster_url)
            .field("default_namespace", &self.default_namespace)
            .field("tls", &self.tls)
            .field("auth", &self.auth)
            .field("impersonate", &self.impersonate)
            .field("proxy_url", &proxy)
            .field("no_proxy", &self.no_proxy)
            .field("timeout", &self.timeout)
            .field("rate_limit", &self.rate_limit)
            .field("retry", &self.retry)
            .field("user_agent", &self.user_agent)
            .field("keep_alive", &self.keep_alive)
            .field("list_decode_threads", &self.list_decode_threads)
            .field("disable_compression", &self.disable_compression)
            .field("origin", &self.origin)
            .finish()
    }
}

#[cfg(test)]
mod debug_tests {
    #[test]
    fn proxy_credentials_are_not_in_debug() {
        let mut c = super::Config::new("https://127.0.0.1:6443".parse().unwrap());
        c.proxy_url = Some("http://user:hunter2@proxy.local:3128".parse().unwrap());
        let d = format!("{c:?}");
        assert!(!d.contains("hunter2"), "{d}");
        assert!(d.contains("proxy.local:3128"), "{d}");
    }
}

/// How the server certificate is checked. [`Default`]: the platform's roots, verified
/// against the URL's host.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct TlsConfig {
    /// Extra trusted CA certificates (PEM). When empty, the platform's roots are used.
    pub root_certs_pem: Vec<Vec<u8>>,
    /// Skip verification of the server certificate (`insecure-skip-tls-verify`).
    pub insecure_skip_verify: bool,
    /// The name to verify the server certificate against instead of the URL's host.
    pub server_name: Option<String>,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig")
            .field("root_certs", &self.root_certs_pem.len())
            .field("insecure_skip_verify", &self.insecure_skip_verify)
            .field("server_name", &self.server_name)
            .finish()
    }
}

/// Data given inline or a file read when needed (and re-read when it changes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataSource {
    /// Bytes given directly (kubeconfig `*-data`, already base64-decoded).
    Data(Secret<Vec<u8>>),
    /// A file path (absolute, or resolved against the kubeconfig file that named it).
    File(PathBuf),
}

/// The credential source of a [`Config`]. At most one of token, token file, basic auth and
/// exec gives the `Authorization` header; a client certificate may accompany any of them.
/// [`Default`]: no credentials; set the fields to add some.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct AuthConfig {
    /// A static bearer token.
    pub token: Option<Secret<String>>,
    /// A file holding a bearer token, re-read periodically (rotating service-account tokens).
    pub token_file: Option<PathBuf>,
    /// Basic authentication (user name, password).
    pub basic: Option<(String, Secret<String>)>,
    /// Client certificate and key (PEM), re-read when the files change.
    pub client_cert: Option<ClientCertConfig>,
    /// An exec credential plugin.
    pub exec: Option<ExecConfig>,
}

/// A client certificate and its private key, PEM.
///
/// ```
/// use k8s_client::config::ClientCertConfig;
/// let files = ClientCertConfig::from_files("/etc/tls/client.crt", "/etc/tls/client.key");
/// # drop(files);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientCertConfig {
    /// The certificate chain.
    pub cert: DataSource,
    /// The private key.
    pub key: DataSource,
}

impl ClientCertConfig {
    /// A certificate and key from these sources.
    pub fn new(cert: DataSource, key: DataSource) -> Self {
        ClientCertConfig { cert, key }
    }

    /// A certificate and key given as PEM bytes.
    pub fn from_pem(cert: impl Into<Vec<u8>>, key: impl Into<Vec<u8>>) -> Self {
        ClientCertConfig::new(
            DataSource::Data(Secret::new(cert.into())),
            DataSource::Data(Secret::new(key.into())),
        )
    }

    /// A certificate and key read from these PEM files (and re-read when they change).
    pub fn from_files(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        ClientCertConfig::new(DataSource::File(cert.into()), DataSource::File(key.into()))
    }
}

/// `Impersonate-*` headers: act as this user.
///
/// ```
/// use k8s_client::config::Impersonation;
/// let as_dev = Impersonation::new("jane").group("developers").extra("team", ["a", "b"]);
/// assert_eq!(as_dev.groups, ["developers"]);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Impersonation {
    /// `Impersonate-User`.
    pub user: String,
    /// `Impersonate-Uid`.
    pub uid: Option<String>,
    /// `Impersonate-Group`, one header each.
    pub groups: Vec<String>,
    /// `Impersonate-Extra-<key>`, one header per value.
    pub extra: BTreeMap<String, Vec<String>>,
}

impl Impersonation {
    /// Act as `user`, with no UID, groups or extra fields.
    pub fn new(user: impl Into<String>) -> Self {
        Impersonation {
            user: user.into(),
            ..Impersonation::default()
        }
    }

    /// Sets the UID.
    pub fn uid(mut self, uid: impl Into<String>) -> Self {
        self.uid = Some(uid.into());
        self
    }

    /// Adds a group.
    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.groups.push(group.into());
        self
    }

    /// Adds values of the extra field `key`.
    pub fn extra<V: Into<String>>(
        mut self,
        key: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        self.extra
            .entry(key.into())
            .or_default()
            .extend(values.into_iter().map(Into::into));
        self
    }
}

/// A token bucket: `qps` tokens a second, at most `burst` saved up.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct RateLimit {
    /// Sustained requests per second.
    pub qps: f32,
    /// Requests allowed at once after a quiet period.
    pub burst: u32,
}

impl RateLimit {
    /// `qps` requests a second, `burst` at once.
    pub fn new(qps: f32, burst: u32) -> Self {
        RateLimit { qps, burst }
    }
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            qps: 5.0,
            burst: 10,
        }
    }
}

/// The default `User-Agent`: `k8s-client/<version> (<os>/<arch>)`.
pub fn default_user_agent() -> String {
    format!(
        "k8s-client/{} ({}/{})",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

impl Config {
    /// A config for `cluster_url` with no credentials and every other setting at its default.
    ///
    /// ```
    /// let config = k8s_client::Config::new("https://127.0.0.1:6443".parse().unwrap());
    /// assert_eq!(config.default_namespace, "default");
    /// ```
    pub fn new(cluster_url: http::Uri) -> Self {
        Config {
            cluster_url,
            default_namespace: "default".to_string(),
            tls: TlsConfig::default(),
            auth: AuthConfig::default(),
            impersonate: None,
            proxy_url: None,
            no_proxy: Vec::new(),
            timeout: Some(Duration::from_secs(295)),
            rate_limit: None,
            retry: Backoff::default_request_retry(),
            user_agent: default_user_agent(),
            keep_alive: Some(Duration::from_secs(30)),
            list_decode_threads: 4,
            disable_compression: false,
            origin: "explicit".to_string(),
        }
    }
}
