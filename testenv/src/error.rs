//! The error of starting and using a test environment.

use std::path::PathBuf;
use std::time::Duration;

/// Why a test environment could not start, or a namespace could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No source of control-plane binaries was given or found (see [`TestEnv::start`](super::TestEnv::start)).
    #[error("no control plane to start: {0}")]
    NoSource(String),
    /// A binary the source needs is missing.
    #[error("{name} not found: {path} is not an executable file ({hint})")]
    MissingBinary {
        /// The binary's name (`etcd`, `kube-apiserver`, ...).
        name: String,
        /// Where it was looked for.
        path: PathBuf,
        /// What to do about it.
        hint: &'static str,
    },
    /// A file or process operation failed.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file, directory or program concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Building the harness binary with the project's script failed.
    #[error("building the harness with {} failed: {message}", script.display())]
    Build {
        /// The build script.
        script: PathBuf,
        /// Its exit status and the end of its output.
        message: String,
    },
    /// A control-plane process exited while it was starting (or before it was stopped).
    #[error("{process} exited ({status}); last lines of {}:\n{tail}", log.display())]
    Exited {
        /// The process (`etcd`, `kube-apiserver`, `testcluster`, ...).
        process: String,
        /// Its exit status.
        status: String,
        /// Its log file.
        log: PathBuf,
        /// The last lines of the log.
        tail: String,
    },
    /// The control plane did not become ready in time.
    #[error("the control plane was not ready after {timeout:?} ({waiting_for}); last lines of {}:\n{tail}", log.display())]
    NotReady {
        /// The start timeout.
        timeout: Duration,
        /// What it was still waiting for.
        waiting_for: String,
        /// The log of the process that was not ready.
        log: PathBuf,
        /// The last lines of that log.
        tail: String,
    },
    /// Generating the certificates or keys failed.
    #[error("generating certificates: {0}")]
    Certificates(String),
    /// A request to the control plane failed.
    #[error("{what}: {source}")]
    Client {
        /// What was being done.
        what: String,
        /// The client's error.
        source: k8s_client::Error,
    },
}

impl Error {
    pub(crate) fn io(
        what: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { what, path, source }
    }

    pub(crate) fn client(what: impl Into<String>) -> impl FnOnce(k8s_client::Error) -> Error {
        let what = what.into();
        move |source| Error::Client { what, source }
    }
}
