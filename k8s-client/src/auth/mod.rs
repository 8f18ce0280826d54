//! Credentials that can change while the program runs: bearer tokens (static or re-read
//! from a file), basic auth, client certificates (re-read when their files change) and exec
//! credential plugins (cached until expiry, re-run after a 401).
//!
//! [`Authenticator`] is made once per [`Client`](crate::Client) from its [`Config`]; the
//! transport asks it for the `Authorization` header before each request and for the client
//! certificate during each TLS handshake.

mod error;

use std::sync::Arc;

pub use error::AuthError;

use crate::config::Config;

/// The credential source of one client.
pub struct Authenticator {
    // Filled in by the auth implementation.
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator").finish_non_exhaustive()
    }
}

impl Authenticator {
    /// Builds the credential source for `config` (reads nothing yet; files and plugins are
    /// read on first use).
    pub fn new(config: &Config) -> Result<Self, AuthError> {
        let _ = config;
        todo!("auth implementation")
    }

    /// Makes sure the credentials are current (re-reads a changed token or certificate file,
    /// runs the exec plugin when its credential is missing or expired) and returns the
    /// `Authorization` header to send, if any.
    pub async fn prepare(&self) -> Result<Option<http::HeaderValue>, AuthError> {
        todo!("auth implementation")
    }

    /// The server answered 401: forget cached credentials so the next [`prepare`] fetches
    /// fresh ones. Returns true when there is something that could change (an exec plugin
    /// or a token file), so that retrying once makes sense.
    ///
    /// [`prepare`]: Authenticator::prepare
    pub fn invalidate(&self) -> bool {
        todo!("auth implementation")
    }

    /// The client certificate source for rustls, when a certificate is configured (from
    /// files, data, or an exec plugin). It hands out the current certificate at each
    /// handshake.
    pub fn client_cert_resolver(&self) -> Option<Arc<dyn rustls::client::ResolvesClientCert>> {
        todo!("auth implementation")
    }
}
