use std::path::PathBuf;

/// The error underneath a [`ConfigError`] (an I/O, YAML, URL or base64 error).
type Cause = Box<dyn std::error::Error + Send + Sync>;

/// The configuration is unusable. Each variant names the file and the field at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A file that had to be read could not be.
    #[error("reading {path}: {source}")]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A kubeconfig file is not valid YAML or does not have the kubeconfig shape.
    #[error("parsing kubeconfig {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the YAML parser said, with line and column.
        message: String,
        /// The parser's error (`serde_yaml_ng::Error`, or `std::str::Utf8Error` for a file
        /// that is not UTF-8).
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A field has a value that cannot be used.
    #[error("{path}: field {field}: {message}")]
    InvalidField {
        /// The file (or `overrides`, `in-cluster environment`).
        path: PathBuf,
        /// The field, such as `users[admin].client-certificate-data`.
        field: String,
        /// What is wrong with it.
        message: String,
        /// The error underneath, when there is one (the file that could not be read, the
        /// URL or base64 parser's error).
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// A context, cluster or user that is named does not exist.
    #[error("{what} {name:?} not found in {origin}")]
    NotFound {
        /// `context`, `cluster` or `user`.
        what: &'static str,
        /// The missing name.
        name: String,
        /// Where it was looked for (the kubeconfig files).
        origin: String,
    },
    /// No kubeconfig could be found or none selects a context.
    #[error("no usable kubeconfig: {0}")]
    NoKubeconfig(String),
    /// The process does not run inside a cluster (no service-account environment or files).
    #[error("not running in a cluster: {0}")]
    NotInCluster(String),
    /// Neither a kubeconfig nor the in-cluster environment gave a configuration.
    #[error(
        "no configuration found; tried kubeconfig: {kubeconfig}; tried in-cluster: {incluster}"
    )]
    NoConfig {
        /// Why the kubeconfig attempt failed.
        kubeconfig: String,
        /// Why the in-cluster attempt failed.
        incluster: String,
    },
}

impl ConfigError {
    /// An [`InvalidField`](ConfigError::InvalidField) with no error underneath.
    pub(crate) fn invalid_field(
        path: impl Into<PathBuf>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ConfigError::InvalidField {
            path: path.into(),
            field: field.into(),
            message: message.into(),
            source: None,
        }
    }

    /// An [`InvalidField`](ConfigError::InvalidField) caused by `source`.
    pub(crate) fn invalid_field_caused(
        path: impl Into<PathBuf>,
        field: impl Into<String>,
        message: impl Into<String>,
        source: impl Into<Cause>,
    ) -> Self {
        ConfigError::InvalidField {
            path: path.into(),
            field: field.into(),
            message: message.into(),
            source: Some(source.into()),
        }
    }
}
