//! Loading kubeconfig files into a [`Config`]: which files (`--kubeconfig`, `$KUBECONFIG`,
//! `~/.kube/config`), how they merge, which context, and the overrides a command line gives
//! (client-go's `clientcmd` loading rules and `ConfigOverrides`).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;

use super::error::ConfigError;
use super::incluster::{read_namespace_file, InClusterPaths, SERVICE_ACCOUNT_DIR};
use super::kubeconfig::{
    AuthInfo, Cluster, Context, ExecInteractiveMode, Kubeconfig, EXEC_CLUSTER_EXTENSION,
};
use super::{AuthConfig, ClientCertConfig, Config, DataSource, Impersonation};
use crate::config::Secret;

/// The `apiVersion` of `v1` exec credential plugins.
pub const EXEC_API_V1: &str = "client.authentication.k8s.io/v1";
/// The `apiVersion` of `v1beta1` exec credential plugins.
pub const EXEC_API_V1BETA1: &str = "client.authentication.k8s.io/v1beta1";

/// Which kubeconfig to load and what to override in it: the equivalent of kubectl's
/// `--kubeconfig`, `--context`, `--cluster`, `--user`, `--namespace`, `--server`, `--token`,
/// `--as*`, `--request-timeout`, `--proxy-url`, `--tls-server-name` and
/// `--insecure-skip-tls-verify`.
///
/// `KubeConfigOptions::default()` reads nothing from the environment; the loading functions
/// read `$KUBECONFIG` and `$HOME` only for the values left `None` here.
///
/// ```no_run
/// use k8s_client::config::{Config, KubeConfigOptions};
/// # async fn run() -> Result<(), k8s_client::Error> {
/// let options = KubeConfigOptions::default().context("staging").namespace("team-a");
/// let config = Config::from_kubeconfig(&options).await?;
/// assert_eq!(config.default_namespace, "team-a");
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct KubeConfigOptions {
    /// One explicit kubeconfig file (`--kubeconfig`); it must exist. When set,
    /// `$KUBECONFIG` and `~/.kube/config` are not looked at.
    pub path: Option<PathBuf>,
    /// The value to use instead of the `KUBECONFIG` environment variable: a list of files
    /// separated by the platform's path-list separator (`:` on Unix). `None`: read the
    /// variable. An empty value means "not set".
    pub kubeconfig_env: Option<OsString>,
    /// The home directory whose `.kube/config` is the default file. `None`: the user's
    /// home directory.
    pub home_dir: Option<PathBuf>,
    /// The in-cluster namespace file, consulted when neither the override nor the context
    /// names a namespace. `None`: the service-account namespace file
    /// (`/var/run/secrets/kubernetes.io/serviceaccount/namespace`).
    pub incluster_namespace_file: Option<PathBuf>,
    /// The context to use instead of `current-context`.
    pub context: Option<String>,
    /// The cluster to use instead of the context's.
    pub cluster: Option<String>,
    /// The user to use instead of the context's.
    pub user: Option<String>,
    /// The default namespace.
    pub namespace: Option<String>,
    /// The server URL instead of the cluster's (also drops the cluster's
    /// `tls-server-name` unless `tls_server_name` is given too).
    pub server: Option<String>,
    /// A bearer token; replaces the user's token, token file, basic auth and exec plugin
    /// (a client certificate stays).
    pub token: Option<Secret<String>>,
    /// Impersonate this user (replaces the kubeconfig's `as*` fields).
    pub impersonate: Option<Impersonation>,
    /// Per-request timeout (`Duration::ZERO`: none).
    pub timeout: Option<Duration>,
    /// Proxy URL instead of the cluster's `proxy-url`.
    pub proxy_url: Option<String>,
    /// The name to verify the server certificate against.
    pub tls_server_name: Option<String>,
    /// Skip (or, with `Some(false)`, enforce) server certificate verification. `Some(true)`
    /// also drops the cluster's CA, as kubectl does.
    pub insecure_skip_tls_verify: Option<bool>,
}

impl KubeConfigOptions {
    /// Sets `path`: the one kubeconfig file to read.
    pub fn path(mut self, value: impl Into<PathBuf>) -> Self {
        self.path = Some(value.into());
        self
    }

    /// Sets `kubeconfig_env`: the value used instead of `$KUBECONFIG`.
    pub fn kubeconfig_env(mut self, value: impl Into<OsString>) -> Self {
        self.kubeconfig_env = Some(value.into());
        self
    }

    /// Sets `home_dir`: the home directory of `.kube/config`.
    pub fn home_dir(mut self, value: impl Into<PathBuf>) -> Self {
        self.home_dir = Some(value.into());
        self
    }

    /// Sets `incluster_namespace_file`.
    pub fn incluster_namespace_file(mut self, value: impl Into<PathBuf>) -> Self {
        self.incluster_namespace_file = Some(value.into());
        self
    }

    /// Sets `context`: the context to use.
    pub fn context(mut self, value: impl Into<String>) -> Self {
        self.context = Some(value.into());
        self
    }

    /// Sets `cluster`: the cluster to use.
    pub fn cluster(mut self, value: impl Into<String>) -> Self {
        self.cluster = Some(value.into());
        self
    }

    /// Sets `user`: the user to use.
    pub fn user(mut self, value: impl Into<String>) -> Self {
        self.user = Some(value.into());
        self
    }

    /// Sets `namespace`: the default namespace.
    pub fn namespace(mut self, value: impl Into<String>) -> Self {
        self.namespace = Some(value.into());
        self
    }

    /// Sets `server`: the server URL.
    pub fn server(mut self, value: impl Into<String>) -> Self {
        self.server = Some(value.into());
        self
    }

    /// Sets `token`: a bearer token.
    pub fn token(mut self, value: impl Into<String>) -> Self {
        self.token = Some(Secret::new(value.into()));
        self
    }

    /// Sets `impersonate`: the user to act as.
    pub fn impersonate(mut self, value: Impersonation) -> Self {
        self.impersonate = Some(value);
        self
    }

    /// Sets `timeout`: the per-request timeout.
    pub fn timeout(mut self, value: Duration) -> Self {
        self.timeout = Some(value);
        self
    }

    /// Sets `proxy_url`.
    pub fn proxy_url(mut self, value: impl Into<String>) -> Self {
        self.proxy_url = Some(value.into());
        self
    }

    /// Sets `tls_server_name`.
    pub fn tls_server_name(mut self, value: impl Into<String>) -> Self {
        self.tls_server_name = Some(value.into());
        self
    }

    /// Sets `insecure_skip_tls_verify`.
    pub fn insecure_skip_tls_verify(mut self, value: bool) -> Self {
        self.insecure_skip_tls_verify = Some(value);
        self
    }
}

/// Which files the loading rules picked.
enum Sources {
    /// `--kubeconfig`: must exist.
    Explicit(PathBuf),
    /// `$KUBECONFIG`: missing ones are skipped.
    EnvList(Vec<PathBuf>),
    /// `~/.kube/config`.
    Home(PathBuf),
}

fn sources(options: &KubeConfigOptions) -> Result<Sources, ConfigError> {
    if let Some(path) = &options.path {
        return Ok(Sources::Explicit(path.clone()));
    }
    let env = match &options.kubeconfig_env {
        Some(v) => Some(v.clone()),
        None => std::env::var_os("KUBECONFIG"),
    };
    if let Some(env) = env.filter(|v| !v.is_empty()) {
        let mut list: Vec<PathBuf> = Vec::new();
        for p in std::env::split_paths(&env) {
            if !p.as_os_str().is_empty() && !list.contains(&p) {
                list.push(p);
            }
        }
        if !list.is_empty() {
            return Ok(Sources::EnvList(list));
        }
    }
    let home = match &options.home_dir {
        Some(h) => h.clone(),
        None => home::home_dir().ok_or_else(|| {
            ConfigError::NoKubeconfig(
                "KUBECONFIG is not set and the home directory is unknown".to_string(),
            )
        })?,
    };
    Ok(Sources::Home(home.join(".kube").join("config")))
}

async fn read_kubeconfig_file(path: &Path) -> Result<Option<Kubeconfig>, ConfigError> {
    match tokio::fs::read(path).await {
        Ok(bytes) => Kubeconfig::from_file_bytes(path, &bytes).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ConfigError::ReadFile {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn display_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl Kubeconfig {
    /// Finds and reads the kubeconfig files as kubectl does and merges them: the explicit
    /// [`path`](KubeConfigOptions::path) if given (it must exist), else every existing file
    /// of `$KUBECONFIG` (duplicates dropped, missing files skipped), else `~/.kube/config`.
    ///
    /// Fails with [`ConfigError::NoKubeconfig`] when no file exists.
    pub async fn load(options: &KubeConfigOptions) -> Result<Kubeconfig, ConfigError> {
        match sources(options)? {
            Sources::Explicit(path) => match read_kubeconfig_file(&path).await? {
                Some(kc) => Ok(kc),
                None => Err(ConfigError::ReadFile {
                    source: std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "the kubeconfig file given explicitly does not exist",
                    ),
                    path,
                }),
            },
            Sources::EnvList(list) => {
                let mut merged: Option<Kubeconfig> = None;
                for path in &list {
                    match read_kubeconfig_file(path).await? {
                        Some(kc) => {
                            merged = Some(match merged {
                                Some(m) => m.merge(kc),
                                None => kc,
                            })
                        }
                        None => tracing::debug!(
                            file = %path.display(),
                            "skipping missing KUBECONFIG entry"
                        ),
                    }
                }
                merged.ok_or_else(|| {
                    ConfigError::NoKubeconfig(format!(
                        "none of the KUBECONFIG files exist ({})",
                        display_paths(&list)
                    ))
                })
            }
            Sources::Home(path) => match read_kubeconfig_file(&path).await? {
                Some(kc) => Ok(kc),
                None => Err(ConfigError::NoKubeconfig(format!(
                    "KUBECONFIG is not set and {} does not exist",
                    path.display()
                ))),
            },
        }
    }
}

impl Config {
    /// The config kubectl would use: the kubeconfig files found by [`Kubeconfig::load`],
    /// the chosen (or current) context, and the overrides in `options`.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), k8s_client::Error> {
    /// use k8s_client::config::{Config, KubeConfigOptions};
    /// let config = Config::from_kubeconfig(&KubeConfigOptions::default()).await?;
    /// println!("{}", config.origin); // kubeconfig /home/me/.kube/config, context dev
    /// # Ok(())
    /// # }
    /// ```
    pub async fn from_kubeconfig(options: &KubeConfigOptions) -> Result<Config, ConfigError> {
        load_config(options).await
    }

    /// A config from an already loaded (or hand-made) [`Kubeconfig`], with the context and
    /// overrides of `options`. Its file-locating fields (`path`, `kubeconfig_env`,
    /// `home_dir`) are not used.
    pub async fn from_custom_kubeconfig(
        kubeconfig: Kubeconfig,
        options: &KubeConfigOptions,
    ) -> Result<Config, ConfigError> {
        resolve(&kubeconfig, options).await
    }

    /// The config a program finds by itself: the kubeconfig (`$KUBECONFIG` or
    /// `~/.kube/config`) when there is one, otherwise the in-cluster service account.
    ///
    /// A kubeconfig that exists but is broken is an error (not silently skipped). When
    /// neither source is there, [`ConfigError::NoConfig`] says what each attempt found.
    pub async fn infer() -> Result<Config, ConfigError> {
        Config::infer_with(&KubeConfigOptions::default(), &InClusterPaths::from_env()).await
    }

    /// [`Config::infer`] with explicit kubeconfig options and in-cluster paths. The
    /// overrides of `options` (namespace, server, token, impersonation, timeout, proxy, TLS
    /// name and verification) also apply to an in-cluster config.
    pub async fn infer_with(
        options: &KubeConfigOptions,
        incluster: &InClusterPaths,
    ) -> Result<Config, ConfigError> {
        match load_config(options).await {
            Ok(config) => Ok(config),
            Err(kerr @ ConfigError::NoKubeconfig(_)) => match Config::incluster_with(incluster) {
                Ok(config) => Ok(apply_incluster_overrides(config, options)?),
                Err(ierr) => Err(ConfigError::NoConfig {
                    kubeconfig: kerr.to_string(),
                    incluster: ierr.to_string(),
                }),
            },
            Err(e) => Err(e),
        }
    }
}

async fn load_config(options: &KubeConfigOptions) -> Result<Config, ConfigError> {
    let kubeconfig = Kubeconfig::load(options).await?;
    resolve(&kubeconfig, options).await
}

/// `what` of an override error.
fn overrides_path() -> PathBuf {
    PathBuf::from("overrides")
}

fn entry_path(source: &Option<PathBuf>, kc: &Kubeconfig) -> PathBuf {
    match source {
        Some(p) => p.clone(),
        None if kc.files.len() == 1 => kc.files[0].clone(),
        None => PathBuf::from("kubeconfig"),
    }
}

fn origin_of(kc: &Kubeconfig) -> String {
    if kc.files.is_empty() {
        "the given kubeconfig".to_string()
    } else {
        format!("kubeconfig {}", display_paths(&kc.files))
    }
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.is_empty())
}

/// Standard base64 (padding optional), ignoring whitespace and line breaks.
fn decode_base64(value: &str) -> Result<Vec<u8>, base64::DecodeError> {
    let compact: String = value.chars().filter(|c| !c.is_whitespace()).collect();
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    engine.decode(compact)
}

/// What is wrong with a field's value, and the error underneath when there is one.
#[derive(Debug)]
pub(crate) struct Problem {
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl Problem {
    /// A problem caused by `source` (its text is expected in `message`).
    fn caused(
        message: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Problem {
            message: message.into(),
            source: Some(source.into()),
        }
    }
}

impl From<String> for Problem {
    fn from(message: String) -> Self {
        Problem {
            message,
            source: None,
        }
    }
}

impl From<&str> for Problem {
    fn from(message: &str) -> Self {
        Problem::from(message.to_string())
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

fn invalid(path: PathBuf, field: String, problem: impl Into<Problem>) -> ConfigError {
    let Problem { message, source } = problem.into();
    match source {
        Some(source) => ConfigError::invalid_field_caused(path, field, message, source),
        None => ConfigError::invalid_field(path, field, message),
    }
}

/// Checks that a referenced file can be opened now, so a missing one is reported with the
/// kubeconfig field that names it.
async fn check_file(path: &Path, origin: &Path, field: &str) -> Result<(), ConfigError> {
    match tokio::fs::metadata(path).await {
        Ok(m) if m.is_file() => Ok(()),
        Ok(_) => Err(invalid(
            origin.to_path_buf(),
            field.to_string(),
            format!("{} is not a file", path.display()),
        )),
        Err(e) => Err(invalid(
            origin.to_path_buf(),
            field.to_string(),
            Problem::caused(format!("cannot read {}: {e}", path.display()), e),
        )),
    }
}

/// Parses a server URL; one without a scheme gets `https://`.
pub(crate) fn parse_server(server: &str) -> Result<http::Uri, Problem> {
    let server = server.trim();
    let text = if server.contains("://") {
        server.to_string()
    } else {
        format!("https://{server}")
    };
    let uri: http::Uri = text
        .parse()
        .map_err(|e| Problem::caused(format!("{server:?} is not a URL: {e}"), e))?;
    match uri.scheme_str() {
        Some("https") | Some("http") => {}
        _ => return Err(format!("{server:?}: the scheme must be https or http").into()),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("{server:?} has no host").into());
    }
    Ok(uri)
}

/// Parses a proxy URL (`http`, `https` or `socks5`).
fn parse_proxy(proxy: &str) -> Result<http::Uri, Problem> {
    let uri: http::Uri = proxy
        .trim()
        .parse()
        .map_err(|e| Problem::caused(format!("{proxy:?} is not a URL: {e}"), e))?;
    match uri.scheme_str() {
        Some("http") | Some("https") | Some("socks5") => {}
        _ => return Err(format!("{proxy:?}: the scheme must be http, https or socks5").into()),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("{proxy:?} has no host").into());
    }
    Ok(uri)
}

/// Resolves the chosen context of a (merged) kubeconfig with the overrides into a Config.
async fn resolve(kc: &Kubeconfig, options: &KubeConfigOptions) -> Result<Config, ConfigError> {
    let origin = origin_of(kc);

    // The context.
    let context_name = non_empty(&options.context)
        .or(non_empty(&kc.current_context))
        .map(str::to_string);
    let empty_context = Context::default();
    let (context, context_source) = match &context_name {
        Some(name) => {
            let named = kc.context(name).ok_or_else(|| ConfigError::NotFound {
                what: "context",
                name: name.clone(),
                origin: origin.clone(),
            })?;
            (&named.context, entry_path(&named.source, kc))
        }
        None => {
            if options.server.is_none() && options.cluster.is_none() {
                return Err(ConfigError::NoKubeconfig(format!(
                    "{origin} sets no current-context and no context was chosen"
                )));
            }
            (&empty_context, PathBuf::from("overrides"))
        }
    };
    let context_label = context_name.as_deref().unwrap_or("<none>");

    // The cluster.
    let cluster_name = non_empty(&options.cluster).unwrap_or(context.cluster.as_str());
    let empty_cluster = Cluster::default();
    let (cluster, cluster_path) = if cluster_name.is_empty() {
        (&empty_cluster, context_source.clone())
    } else {
        let named = kc
            .cluster(cluster_name)
            .ok_or_else(|| ConfigError::NotFound {
                what: "cluster",
                name: cluster_name.to_string(),
                origin: format!("{origin} (used by context {context_label})"),
            })?;
        (&named.cluster, entry_path(&named.source, kc))
    };
    let cfield = |f: &str| format!("clusters[{cluster_name}].{f}");

    // The user.
    let user_name = non_empty(&options.user)
        .or(non_empty(&context.user))
        .unwrap_or("");
    let empty_user = AuthInfo::default();
    let (user, user_path) = if user_name.is_empty() {
        (&empty_user, context_source.clone())
    } else {
        let named = kc
            .auth_info(user_name)
            .ok_or_else(|| ConfigError::NotFound {
                what: "user",
                name: user_name.to_string(),
                origin: format!("{origin} (used by context {context_label})"),
            })?;
        (&named.auth_info, entry_path(&named.source, kc))
    };
    let ufield = |f: &str| format!("users[{user_name}].{f}");

    // Server.
    let cluster_url = match non_empty(&options.server) {
        Some(server) => {
            parse_server(server).map_err(|m| invalid(overrides_path(), "server".to_string(), m))?
        }
        None => match non_empty(&cluster.server) {
            Some(server) => parse_server(server)
                .map_err(|m| invalid(cluster_path.clone(), cfield("server"), m))?,
            None if cluster_name.is_empty() => {
                return Err(ConfigError::NoKubeconfig(format!(
                    "context {context_label} of {origin} names no cluster"
                )))
            }
            None => {
                return Err(invalid(
                    cluster_path.clone(),
                    cfield("server"),
                    "no server is set",
                ))
            }
        },
    };
    let mut config = Config::new(cluster_url);

    // TLS.
    let override_insecure = options.insecure_skip_tls_verify;
    config.tls.insecure_skip_verify = override_insecure.unwrap_or(cluster.insecure_skip_tls_verify);
    config.disable_compression = cluster.disable_compression;
    let drop_ca = override_insecure == Some(true);
    if !drop_ca {
        let ca_data = non_empty(&cluster.certificate_authority_data);
        let ca_file = cluster
            .certificate_authority
            .as_ref()
            .filter(|p| !p.as_os_str().is_empty());
        if ca_data.is_some() && ca_file.is_some() {
            return Err(invalid(
                cluster_path.clone(),
                cfield("certificate-authority-data"),
                "certificate-authority-data and certificate-authority are both set; keep one",
            ));
        }
        if let Some(data) = ca_data {
            let pem = decode_base64(data).map_err(|e| {
                invalid(
                    cluster_path.clone(),
                    cfield("certificate-authority-data"),
                    Problem::caused(format!("not valid base64: {e}"), e),
                )
            })?;
            config.tls.root_certs_pem.push(pem);
        }
        if let Some(file) = ca_file {
            let pem = tokio::fs::read(file).await.map_err(|e| {
                invalid(
                    cluster_path.clone(),
                    cfield("certificate-authority"),
                    Problem::caused(format!("cannot read {}: {e}", file.display()), e),
                )
            })?;
            config.tls.root_certs_pem.push(pem);
        }
        if config.tls.insecure_skip_verify && !config.tls.root_certs_pem.is_empty() {
            return Err(invalid(
                cluster_path.clone(),
                cfield("insecure-skip-tls-verify"),
                "a certificate authority cannot be given together with insecure-skip-tls-verify",
            ));
        }
    }
    config.tls.server_name = match (non_empty(&options.tls_server_name), &options.server) {
        (Some(name), _) => Some(name.to_string()),
        (None, Some(_)) => None,
        (None, None) => non_empty(&cluster.tls_server_name).map(str::to_string),
    };

    // Proxy.
    config.proxy_url = match non_empty(&options.proxy_url) {
        Some(p) => Some(
            parse_proxy(p).map_err(|m| invalid(overrides_path(), "proxy-url".to_string(), m))?,
        ),
        None => match non_empty(&cluster.proxy_url) {
            Some(p) => Some(
                parse_proxy(p)
                    .map_err(|m| invalid(cluster_path.clone(), cfield("proxy-url"), m))?,
            ),
            None => None,
        },
    };

    // Credentials: as client-go, only sent over TLS.
    let secure = config.cluster_url.scheme_str() == Some("https");
    if secure {
        config.auth = resolve_auth(user, &user_path, &ufield, options).await?;
        if let Some(exec) = &mut config.auth.exec {
            exec.cluster_config = cluster
                .extensions
                .iter()
                .find(|e| e.name == EXEC_CLUSTER_EXTENSION)
                .map(|e| e.extension.clone());
        }
    } else if !user_name.is_empty() || options.token.is_some() {
        tracing::warn!(
            server = %config.cluster_url,
            "the server URL is plain http: credentials are not sent"
        );
    }

    // Impersonation.
    config.impersonate = match &options.impersonate {
        Some(imp) => {
            if imp.user.is_empty() {
                return Err(invalid(
                    overrides_path(),
                    "impersonate.user".to_string(),
                    "a user must be given to impersonate",
                ));
            }
            Some(imp.clone())
        }
        None => non_empty(&user.impersonate).map(|name| Impersonation {
            user: name.to_string(),
            uid: non_empty(&user.impersonate_uid).map(str::to_string),
            groups: user.impersonate_groups.clone(),
            extra: user.impersonate_user_extra.clone(),
        }),
    };

    // Timeout.
    if let Some(t) = options.timeout {
        config.timeout = (!t.is_zero()).then_some(t);
    }

    // Namespace: override, context, in-cluster namespace file, "default".
    config.default_namespace = match non_empty(&options.namespace).or(non_empty(&context.namespace))
    {
        Some(ns) => ns.to_string(),
        None => {
            let file = options
                .incluster_namespace_file
                .clone()
                .unwrap_or_else(|| Path::new(SERVICE_ACCOUNT_DIR).join("namespace"));
            read_namespace_file(&file).unwrap_or_else(|| "default".to_string())
        }
    };

    config.origin = format!("{origin}, context {context_label}");
    Ok(config)
}

async fn resolve_auth(
    user: &AuthInfo,
    path: &Path,
    field: &dyn Fn(&str) -> String,
    options: &KubeConfigOptions,
) -> Result<AuthConfig, ConfigError> {
    let mut auth = AuthConfig::default();
    let err = |f: &str, m: String| invalid(path.to_path_buf(), field(f), m);
    let bad_base64 = |f: &str, e: base64::DecodeError| {
        invalid(
            path.to_path_buf(),
            field(f),
            Problem::caused(format!("not valid base64: {e}"), e),
        )
    };

    if user.auth_provider.is_some() {
        return Err(err(
            "auth-provider",
            "auth-provider plugins are not supported; use an exec credential plugin".to_string(),
        ));
    }

    // Client certificate.
    let cert_data = non_empty(&user.client_certificate_data);
    let cert_file = user
        .client_certificate
        .as_ref()
        .filter(|p| !p.as_os_str().is_empty());
    let key_data = user
        .client_key_data
        .as_ref()
        .map(|s| s.expose().as_str())
        .filter(|s| !s.is_empty());
    let key_file = user
        .client_key
        .as_ref()
        .filter(|p| !p.as_os_str().is_empty());
    if cert_data.is_some() && cert_file.is_some() {
        return Err(err(
            "client-certificate-data",
            "client-certificate-data and client-certificate are both set; keep one".to_string(),
        ));
    }
    if key_data.is_some() && key_file.is_some() {
        return Err(err(
            "client-key-data",
            "client-key-data and client-key are both set; keep one".to_string(),
        ));
    }
    let cert = match (cert_data, cert_file) {
        (Some(data), _) => Some(DataSource::Data(Secret::new(
            decode_base64(data).map_err(|e| bad_base64("client-certificate-data", e))?,
        ))),
        (None, Some(file)) => {
            check_file(file, path, &field("client-certificate")).await?;
            Some(DataSource::File(file.clone()))
        }
        (None, None) => None,
    };
    let key = match (key_data, key_file) {
        (Some(data), _) => Some(DataSource::Data(Secret::new(
            decode_base64(data).map_err(|e| bad_base64("client-key-data", e))?,
        ))),
        (None, Some(file)) => {
            check_file(file, path, &field("client-key")).await?;
            Some(DataSource::File(file.clone()))
        }
        (None, None) => None,
    };
    auth.client_cert = match (cert, key) {
        (Some(cert), Some(key)) => Some(ClientCertConfig { cert, key }),
        (Some(_), None) => {
            return Err(err(
                "client-key",
                "a client certificate is set but no client-key or client-key-data".to_string(),
            ))
        }
        (None, Some(_)) => {
            return Err(err(
                "client-certificate",
                "a client key is set but no client-certificate or client-certificate-data"
                    .to_string(),
            ))
        }
        (None, None) => None,
    };

    if let Some(token) = &options.token {
        // The override replaces every other Authorization source.
        auth.token = Some(token.clone());
        return Ok(auth);
    }

    // Bearer token, basic auth.
    let token = user
        .token
        .as_ref()
        .filter(|t| !t.expose().trim().is_empty());
    let token_file = user
        .token_file
        .as_ref()
        .filter(|p| !p.as_os_str().is_empty());
    let has_basic = non_empty(&user.username).is_some()
        || user
            .password
            .as_ref()
            .is_some_and(|p| !p.expose().is_empty());
    if (token.is_some() || token_file.is_some()) && has_basic {
        return Err(err(
            "username",
            "more than one authentication method (token and basic auth); only one is allowed"
                .to_string(),
        ));
    }
    auth.token = token.map(|t| Secret::new(t.expose().trim().to_string()));
    if let Some(file) = token_file {
        check_file(file, path, &field("tokenFile")).await?;
        auth.token_file = Some(file.clone());
    }
    if has_basic {
        auth.basic = Some((
            user.username.clone().unwrap_or_default(),
            user.password.clone().unwrap_or_default(),
        ));
    }

    // Exec plugin.
    if let Some(exec) = &user.exec {
        let mut exec = exec.clone();
        if exec.command.trim().is_empty() {
            return Err(err(
                "exec.command",
                "the plugin command is empty".to_string(),
            ));
        }
        match exec.api_version.as_deref() {
            Some(EXEC_API_V1) => {
                if exec.interactive_mode.is_none() {
                    return Err(err(
                        "exec.interactiveMode",
                        format!(
                            "must be set (Never, IfAvailable or Always) for {EXEC_API_V1} plugins"
                        ),
                    ));
                }
            }
            Some(EXEC_API_V1BETA1) => {
                exec.interactive_mode
                    .get_or_insert(ExecInteractiveMode::IfAvailable);
            }
            Some(other) => {
                return Err(err(
                    "exec.apiVersion",
                    format!("{other:?} is not supported; use {EXEC_API_V1} or {EXEC_API_V1BETA1}"),
                ))
            }
            None => {
                return Err(err(
                    "exec.apiVersion",
                    format!("must be set ({EXEC_API_V1} or {EXEC_API_V1BETA1})"),
                ))
            }
        }
        if exec.env.iter().any(|e| e.name.is_empty()) {
            return Err(err(
                "exec.env",
                "an environment variable has no name".to_string(),
            ));
        }
        auth.exec = Some(exec);
    }
    Ok(auth)
}

/// Applies the overrides that make sense for an in-cluster config.
fn apply_incluster_overrides(
    mut config: Config,
    options: &KubeConfigOptions,
) -> Result<Config, ConfigError> {
    if let Some(server) = non_empty(&options.server) {
        config.cluster_url =
            parse_server(server).map_err(|m| invalid(overrides_path(), "server".to_string(), m))?;
    }
    if let Some(token) = &options.token {
        config.auth = AuthConfig {
            token: Some(token.clone()),
            ..AuthConfig::default()
        };
    }
    if let Some(ns) = non_empty(&options.namespace) {
        config.default_namespace = ns.to_string();
    }
    if let Some(imp) = &options.impersonate {
        config.impersonate = Some(imp.clone());
    }
    if let Some(t) = options.timeout {
        config.timeout = (!t.is_zero()).then_some(t);
    }
    if let Some(p) = non_empty(&options.proxy_url) {
        config.proxy_url = Some(
            parse_proxy(p).map_err(|m| invalid(overrides_path(), "proxy-url".to_string(), m))?,
        );
    }
    if let Some(name) = non_empty(&options.tls_server_name) {
        config.tls.server_name = Some(name.to_string());
    }
    if let Some(insecure) = options.insecure_skip_tls_verify {
        config.tls.insecure_skip_verify = insecure;
        if insecure {
            config.tls.root_certs_pem.clear();
        }
    }
    Ok(config)
}
