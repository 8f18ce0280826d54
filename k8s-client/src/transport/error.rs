use super::body::BoxError;

/// The request got no HTTP answer, or the answer's body could not be read.
///
/// Every variant but `Config` keeps what went wrong underneath (an I/O, TLS or HTTP error) as
/// its [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// TLS setup or handshake failed (bad CA, certificate not valid for the host, ...).
    #[error("TLS: {message}")]
    Tls {
        /// What failed, naming the server or the certificate material.
        message: String,
        /// The TLS or I/O error underneath, when there is one.
        source: Option<BoxError>,
    },
    /// The connection could not be made (refused, DNS, proxy, timeout): nothing was sent.
    #[error("connecting to {url}: {message}")]
    Connect {
        /// The server (or proxy) URL.
        url: String,
        /// What went wrong.
        message: String,
        /// The I/O error underneath, when there is one.
        source: Option<BoxError>,
    },
    /// The connection failed while the request or response was under way.
    #[error("HTTP: {message}")]
    Http {
        /// What went wrong.
        message: String,
        /// The HTTP or I/O error underneath, when there is one.
        source: Option<BoxError>,
    },
    /// Reading the response body failed (including a broken gzip stream).
    #[error("reading response body: {message}")]
    Body {
        /// What went wrong.
        message: String,
        /// The error underneath, when there is one.
        source: Option<BoxError>,
    },
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

    /// A TLS error without an underlying cause (bad configuration or material).
    pub(crate) fn tls(message: impl Into<String>) -> Self {
        TransportError::Tls {
            message: message.into(),
            source: None,
        }
    }

    /// A TLS error caused by `source` (a rustls, PEM or I/O error).
    pub(crate) fn tls_caused(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        TransportError::Tls {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// A failure while the exchange was under way, keeping `source`.
    pub(crate) fn http(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        TransportError::Http {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// A failure while the exchange was under way, with no cause to keep.
    pub(crate) fn http_msg(message: impl Into<String>) -> Self {
        TransportError::Http {
            message: message.into(),
            source: None,
        }
    }

    /// A body that could not be read, keeping `source` (its causes are also in the message).
    pub(crate) fn body(source: impl Into<BoxError>) -> Self {
        let source = source.into();
        TransportError::Body {
            message: super::body::describe(source.as_ref()),
            source: Some(source),
        }
    }
}
