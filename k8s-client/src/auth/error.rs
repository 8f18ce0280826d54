use std::path::PathBuf;

/// Credentials could not be obtained.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// A credential file (token, certificate, key) could not be read.
    #[error("reading {what} {path}: {source}")]
    ReadFile {
        /// What the file holds (`token file`, `client certificate`, ...).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A certificate or key is not valid PEM, or holds nothing usable.
    #[error("{what}: {message}")]
    BadPem {
        /// Which material (`client certificate from /path`, ...).
        what: String,
        /// What is wrong.
        message: String,
        /// The PEM reader's or rustls' error, when there is one.
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The exec credential plugin failed or printed something unusable.
    #[error("exec credential plugin {command}: {message}")]
    Exec {
        /// The plugin command.
        command: String,
        /// What went wrong, including the plugin's stderr when it failed.
        message: String,
        /// The error underneath, when there is one: the `std::io::Error` of starting or
        /// waiting for the plugin, the `serde_json::Error` of output that is not JSON, ...
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// A credential cannot be put into an HTTP header.
    #[error("{0}")]
    InvalidHeader(String),
    /// The credential configuration contradicts itself (for example a token and basic
    /// auth both set).
    #[error("invalid credential configuration: {0}")]
    Invalid(String),
}
