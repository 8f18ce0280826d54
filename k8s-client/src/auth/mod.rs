//! Credentials that can change while the program runs: bearer tokens (static or re-read
//! from a file), basic auth, client certificates (re-read when their files change) and exec
//! credential plugins (cached until expiry, re-run after a 401).
//!
//! [`Authenticator`] is made once per [`Client`](crate::Client) from its [`Config`]; the
//! transport asks it for the `Authorization` header before each request and for the client
//! certificate during each TLS handshake.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), k8s_client::auth::AuthError> {
//! use k8s_client::{auth::Authenticator, Config};
//! let mut config = Config::new("https://127.0.0.1:6443".parse().unwrap());
//! config.auth.token = Some("s3cr3t".to_string().into());
//! let auth = Authenticator::new(&config)?;
//! let header = auth.prepare().await?.unwrap();
//! assert!(header.is_sensitive());
//! assert!(!format!("{auth:?}").contains("s3cr3t"));
//! # Ok(())
//! # }
//! ```

mod certs;
mod error;
mod exec;
mod token;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use http::HeaderValue;

pub use error::AuthError;

use crate::config::{Config, DataSource};
use certs::{CertSlot, Resolver, StaticCerts};
use exec::ExecPlugin;
use token::{TokenFile, TOKEN_FILE_PERIOD};

/// Where the `Authorization` header comes from.
enum HeaderSource {
    None,
    /// A fixed header (static token or basic auth).
    Static(HeaderValue),
    TokenFile(TokenFile),
    Exec,
}

/// The credential source of one client.
pub struct Authenticator {
    header: HeaderSource,
    exec: Option<ExecPlugin>,
    static_certs: Option<Arc<StaticCerts>>,
    resolver: Option<Arc<Resolver>>,
    description: String,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Only the kind of credential and where it comes from, never its value.
        f.debug_struct("Authenticator")
            .field("credentials", &self.description)
            .finish()
    }
}

/// Makes a sensitive header value; `what` names the credential in the error (never its
/// value).
pub(crate) fn header_value(value: &str, what: &str) -> Result<HeaderValue, AuthError> {
    let mut header = HeaderValue::from_str(value).map_err(|_| {
        AuthError::InvalidHeader(format!(
            "{what} contains characters that are not allowed in an HTTP header"
        ))
    })?;
    header.set_sensitive(true);
    Ok(header)
}

fn describe_source(source: &DataSource) -> String {
    match source {
        DataSource::File(p) => p.display().to_string(),
        DataSource::Data(_) => "inline data".to_string(),
    }
}

impl Authenticator {
    /// Builds the credential source for `config` (reads nothing yet; files and plugins are
    /// read on first use; inline certificate data is parsed at once).
    ///
    /// The `Authorization` header comes from the first of: token file (seeded with
    /// `token` when both are set), token, basic auth, exec plugin. A token and basic auth
    /// together are an error; an exec plugin beside a token or basic auth is not run. The
    /// client certificate an exec plugin returns takes precedence over a configured one.
    pub fn new(config: &Config) -> Result<Self, AuthError> {
        let auth = &config.auth;
        let mut parts: Vec<String> = Vec::new();
        let has_token = auth.token.is_some() || auth.token_file.is_some();
        if has_token && auth.basic.is_some() {
            return Err(AuthError::Invalid(
                "a bearer token and basic auth are both set; only one is allowed".to_string(),
            ));
        }
        let static_token = match &auth.token {
            Some(t) => {
                let t = t.expose().trim();
                if t.is_empty() {
                    None
                } else {
                    Some(header_value(&format!("Bearer {t}"), "the bearer token")?)
                }
            }
            None => None,
        };

        let mut exec = None;
        let header = if let Some(path) = &auth.token_file {
            parts.push(format!("token file {}", path.display()));
            HeaderSource::TokenFile(TokenFile::new(
                path.clone(),
                static_token,
                TOKEN_FILE_PERIOD,
            ))
        } else if let Some(h) = static_token {
            parts.push("bearer token".to_string());
            HeaderSource::Static(h)
        } else if let Some((user, password)) = &auth.basic {
            let encoded = base64::engine::general_purpose::STANDARD
                .encode(format!("{user}:{}", password.expose()));
            parts.push(format!("basic auth as {user:?}"));
            HeaderSource::Static(header_value(
                &format!("Basic {encoded}"),
                "the basic auth user or password",
            )?)
        } else if let Some(e) = &auth.exec {
            let plugin = ExecPlugin::new(e, config)?;
            parts.push(format!("exec plugin {}", plugin.command()));
            exec = Some(plugin);
            HeaderSource::Exec
        } else {
            HeaderSource::None
        };
        if auth.exec.is_some() && exec.is_none() {
            tracing::debug!(
                "an exec plugin is configured beside a token or basic auth; it is not run"
            );
        }

        let mut static_certs = None;
        let mut slots: Option<Arc<CertSlot>> = None;
        if let Some(cc) = &auth.client_cert {
            parts.push(format!(
                "client certificate from {}",
                describe_source(&cc.cert)
            ));
            let slot = Arc::new(CertSlot::default());
            static_certs = Some(Arc::new(StaticCerts::new(cc.clone(), slot.clone())?));
            slots = Some(slot);
        }
        let resolver = match (&exec, slots) {
            (None, None) => None,
            (exec, static_slot) => Some(Arc::new(Resolver {
                exec_slot: exec.as_ref().map(|e| e.slot.clone()),
                static_slot,
                static_source: static_certs.clone(),
            })),
        };
        let description = if parts.is_empty() {
            "none".to_string()
        } else {
            parts.join(", ")
        };
        Ok(Authenticator {
            header,
            exec,
            static_certs,
            resolver,
            description,
        })
    }

    /// Makes sure the credentials are current (re-reads a changed token or certificate file,
    /// runs the exec plugin when its credential is missing or expired) and returns the
    /// `Authorization` header to send, if any. The header is marked sensitive.
    pub async fn prepare(&self) -> Result<Option<HeaderValue>, AuthError> {
        if let Some(certs) = &self.static_certs {
            certs.refresh().await?;
        }
        match &self.header {
            HeaderSource::None => Ok(None),
            HeaderSource::Static(h) => Ok(Some(h.clone())),
            HeaderSource::TokenFile(tf) => tf.header().await.map(Some),
            HeaderSource::Exec => match &self.exec {
                Some(plugin) => plugin.header().await,
                None => Ok(None),
            },
        }
    }

    /// The server answered 401: forget cached credentials so the next [`prepare`] fetches
    /// fresh ones. Returns true when there is something that could change (an exec plugin
    /// or a token file), so that retrying once makes sense.
    ///
    /// [`prepare`]: Authenticator::prepare
    pub fn invalidate(&self) -> bool {
        if let Some(certs) = &self.static_certs {
            // Certificate files are checked again on the next request.
            certs.invalidate();
        }
        match &self.header {
            HeaderSource::TokenFile(tf) => {
                tf.invalidate();
                true
            }
            HeaderSource::Exec => {
                if let Some(plugin) = &self.exec {
                    plugin.invalidate();
                }
                true
            }
            HeaderSource::None | HeaderSource::Static(_) => false,
        }
    }

    /// The client certificate source for rustls, when a certificate is configured (from
    /// files, data, or an exec plugin). It hands out the current certificate at each
    /// handshake.
    pub fn client_cert_resolver(&self) -> Option<Arc<dyn rustls::client::ResolvesClientCert>> {
        self.resolver
            .clone()
            .map(|r| r as Arc<dyn rustls::client::ResolvesClientCert>)
    }

    /// A number that changes whenever the client certificate changes (rotated files, a new
    /// exec credential). A transport can compare it between requests and drop pooled
    /// connections made with an old certificate, as client-go does.
    pub fn client_cert_generation(&self) -> u64 {
        let exec = self.exec.as_ref().map_or(0, |e| e.slot.generation());
        let stat = self
            .resolver
            .as_ref()
            .and_then(|r| r.static_slot.as_ref())
            .map_or(0, |s| s.generation());
        exec.wrapping_add(stat)
    }
}

/// How long a token read from a file is used before the file is read again.
pub const TOKEN_FILE_REFRESH: Duration = TOKEN_FILE_PERIOD;
