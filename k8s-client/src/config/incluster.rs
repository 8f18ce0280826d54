//! In-cluster configuration: the service-account files a pod gets mounted and the
//! `KUBERNETES_SERVICE_HOST` / `KUBERNETES_SERVICE_PORT` environment (client-go's
//! `rest.InClusterConfig`).

use std::path::{Path, PathBuf};

use super::error::ConfigError;
use super::{AuthConfig, Config};

/// The directory where Kubernetes mounts a pod's service-account token, CA and namespace.
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// Where the in-cluster files are and what the service environment says. [`Default`] gives
/// the standard file paths and no host or port (as outside a cluster);
/// [`InClusterPaths::from_env`] also reads the environment; tests use
/// [`InClusterPaths::in_dir`].
///
/// ```
/// use k8s_client::config::InClusterPaths;
/// let paths = InClusterPaths::default().service("10.0.0.1", "443");
/// assert!(paths.token_file.ends_with("token"));
/// let fake = InClusterPaths::in_dir("/tmp/fake-pod");
/// assert_eq!(fake.namespace_file, std::path::Path::new("/tmp/fake-pod/namespace"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct InClusterPaths {
    /// The service-account token (re-read while running: it rotates).
    pub token_file: PathBuf,
    /// The cluster CA bundle.
    pub ca_file: PathBuf,
    /// The pod's namespace.
    pub namespace_file: PathBuf,
    /// `KUBERNETES_SERVICE_HOST`.
    pub service_host: Option<String>,
    /// `KUBERNETES_SERVICE_PORT`.
    pub service_port: Option<String>,
}

impl Default for InClusterPaths {
    fn default() -> Self {
        InClusterPaths::in_dir(SERVICE_ACCOUNT_DIR)
    }
}

impl InClusterPaths {
    /// The files `token`, `ca.crt` and `namespace` in `dir` (a stand-in for
    /// [`SERVICE_ACCOUNT_DIR`], in tests), with no host or port.
    pub fn in_dir(dir: impl AsRef<Path>) -> Self {
        let dir = dir.as_ref();
        InClusterPaths {
            token_file: dir.join("token"),
            ca_file: dir.join("ca.crt"),
            namespace_file: dir.join("namespace"),
            service_host: None,
            service_port: None,
        }
    }

    /// Sets the service host and port (as `KUBERNETES_SERVICE_HOST` and
    /// `KUBERNETES_SERVICE_PORT` would).
    pub fn service(mut self, host: impl Into<String>, port: impl Into<String>) -> Self {
        self.service_host = Some(host.into());
        self.service_port = Some(port.into());
        self
    }

    /// The standard file paths, and host and port from `KUBERNETES_SERVICE_HOST` and
    /// `KUBERNETES_SERVICE_PORT`.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        InClusterPaths {
            service_host: var("KUBERNETES_SERVICE_HOST"),
            service_port: var("KUBERNETES_SERVICE_PORT"),
            ..InClusterPaths::default()
        }
    }
}

impl Config {
    /// The config of a program running in a pod: the API server from
    /// `KUBERNETES_SERVICE_HOST`/`_PORT`, the service-account token (re-read as it rotates),
    /// CA and namespace from the mounted files.
    ///
    /// Fails with [`ConfigError::NotInCluster`] outside a cluster.
    pub fn incluster() -> Result<Config, ConfigError> {
        Config::incluster_with(&InClusterPaths::from_env())
    }

    /// [`Config::incluster`] with the files and environment values given explicitly.
    ///
    /// ```
    /// use k8s_client::config::{Config, ConfigError, InClusterPaths};
    /// let err = Config::incluster_with(&InClusterPaths::default()).unwrap_err();
    /// assert!(matches!(err, ConfigError::NotInCluster(_)));
    /// ```
    pub fn incluster_with(paths: &InClusterPaths) -> Result<Config, ConfigError> {
        let (host, port) = match (&paths.service_host, &paths.service_port) {
            (Some(h), Some(p)) if !h.is_empty() && !p.is_empty() => (h.trim(), p.trim()),
            _ => {
                return Err(ConfigError::NotInCluster(
                    "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not both set"
                        .to_string(),
                ))
            }
        };
        let env_origin = PathBuf::from("in-cluster environment");
        if port.parse::<u16>().is_err() {
            return Err(ConfigError::invalid_field(
                env_origin,
                "KUBERNETES_SERVICE_PORT",
                format!("{port:?} is not a port number"),
            ));
        }
        let authority = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let url: http::Uri = format!("https://{authority}").parse().map_err(|e| {
            ConfigError::invalid_field_caused(
                env_origin.clone(),
                "KUBERNETES_SERVICE_HOST",
                format!("{host:?} does not make a URL: {e}"),
                e,
            )
        })?;

        // The token must be there now (as client-go requires); it is re-read later.
        match std::fs::read_to_string(&paths.token_file) {
            Ok(t) if !t.trim().is_empty() => {}
            Ok(_) => {
                return Err(ConfigError::invalid_field(
                    paths.token_file.clone(),
                    "service-account token",
                    "the file is empty",
                ))
            }
            Err(source) => {
                return Err(ConfigError::ReadFile {
                    path: paths.token_file.clone(),
                    source,
                })
            }
        }

        let mut config = Config::new(url);
        match std::fs::read(&paths.ca_file) {
            Ok(ca) => config.tls.root_certs_pem.push(ca),
            // client-go goes on with the system roots; say so.
            Err(e) => tracing::warn!(
                file = %paths.ca_file.display(),
                error = %e,
                "in-cluster CA file unreadable; using the platform's trusted roots"
            ),
        }
        config.auth = AuthConfig {
            token_file: Some(paths.token_file.clone()),
            ..AuthConfig::default()
        };
        if let Some(ns) = read_namespace_file(&paths.namespace_file) {
            config.default_namespace = ns;
        }
        config.origin = format!("in-cluster ({host}:{port})");
        Ok(config)
    }
}

/// The namespace in a service-account namespace file, when it is there and not empty.
pub(crate) fn read_namespace_file(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_host_is_bracketed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "t").unwrap();
        let paths = InClusterPaths {
            token_file: dir.path().join("token"),
            ca_file: dir.path().join("ca.crt"),
            namespace_file: dir.path().join("namespace"),
            service_host: Some("fd00::1".into()),
            service_port: Some("443".into()),
        };
        let config = Config::incluster_with(&paths).unwrap();
        assert_eq!(config.cluster_url.to_string(), "https://[fd00::1]:443/");
        assert_eq!(config.default_namespace, "default");
        assert!(config.tls.root_certs_pem.is_empty());
    }
}
