/// The request got no HTTP answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// TLS setup or handshake failed (bad CA, certificate not valid for the host, ...).
    #[error("TLS: {0}")]
    Tls(String),
    /// The connection could not be made or broke (refused, reset, DNS, proxy).
    #[error("connecting to {url}: {message}")]
    Connect {
        /// The server (or proxy) URL.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The connection failed while the request or response was under way.
    #[error("HTTP: {0}")]
    Http(String),
    /// Reading the response body failed (including a broken gzip stream).
    #[error("reading response body: {0}")]
    Body(String),
    /// The configuration cannot be used by the transport (bad proxy URL, plain HTTP with
    /// credentials, ...).
    #[error("transport configuration: {0}")]
    Config(String),
}

impl TransportError {
    /// True when the request certainly did not reach the server (connect failed), so any
    /// verb may be retried; other failures are retried only for idempotent verbs.
    pub fn is_connect(&self) -> bool {
        matches!(self, TransportError::Connect { .. })
    }
}
