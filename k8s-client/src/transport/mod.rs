//! One pooled HTTPS client per [`Client`](crate::Client): hyper over rustls, HTTP/2 chosen by
//! ALPN with HTTP/1.1 as fallback, keep-alive pings, gzip, proxies.

mod error;

pub use error::TransportError;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;

use crate::auth::Authenticator;
use crate::config::Config;

/// A response body as the transport hands it out: already un-gzipped.
pub type ResponseBody = BoxBody<Bytes, TransportError>;

/// The connection pool and TLS setup shared by every request of one client.
#[derive(Clone)]
pub struct Transport {
    // Filled in by the transport implementation.
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport").finish_non_exhaustive()
    }
}

impl Transport {
    /// Builds the transport for `config`, taking the client certificate from `auth`.
    pub fn new(config: &Config, auth: &Authenticator) -> Result<Self, TransportError> {
        let _ = (config, auth);
        todo!("transport implementation")
    }

    /// Sends one request (its URI already absolute) and returns the response head with a
    /// streaming, decompressed body. No retries, no status checks.
    pub async fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<ResponseBody>, TransportError> {
        let _ = request;
        todo!("transport implementation")
    }
}
