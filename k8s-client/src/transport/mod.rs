//! One pooled HTTPS client per [`Client`](crate::Client): hyper over rustls, HTTP/2 chosen by
//! ALPN with HTTP/1.1 as fallback, keep-alive pings, gzip, proxies.
//!
//! * **TLS**: rustls with the ring provider (chosen explicitly; the process-wide default
//!   provider is never used). The server certificate is checked against
//!   [`TlsConfig::root_certs_pem`](crate::config::TlsConfig::root_certs_pem), or the
//!   platform's certificate store when that is empty; `insecure_skip_verify` turns checking
//!   off (dangerous); `server_name` replaces the URL's host in SNI and verification.
//! * **HTTP/2** is offered by ALPN (`h2`, then `http/1.1`); the server picks. With keep-alive
//!   configured, idle HTTP/2 connections are pinged every
//!   [`Config::keep_alive`](crate::Config::keep_alive) and dropped when a ping gets no answer
//!   within [`PING_TIMEOUT`] (see [`TransportOptions::ping_timeout`]), so a dead server is noticed even by a quiet watch.
//! * **Upgrades** (exec, attach, port-forward): a request with `Connection: Upgrade` goes on
//!   a new HTTP/1.1 connection of its own; a `101` answer carries the connection in an
//!   [`OnUpgrade`] extension.
//! * **Proxies**: [`Config::proxy_url`](crate::Config::proxy_url) (`http://` proxies via
//!   `CONNECT`, `socks5://`), bypassed for hosts in
//!   [`Config::no_proxy`](crate::Config::no_proxy). Environment variables are read only when
//!   the program calls [`proxy_from_env`].

pub(crate) mod body;
mod connector;
mod error;
mod proxy;
mod tls;
mod upgrade;

use std::sync::Arc;
use std::time::Duration;

pub use body::{Body, BoxError};
pub use error::TransportError;
pub use proxy::proxy_from_env;
pub(crate) use upgrade::is_upgrade;
pub use upgrade::{OnUpgrade, Upgraded};

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::pki_types::ServerName;

use crate::auth::Authenticator;
use crate::config::Config;

use connector::{ConnectError, Connector};

/// How long an HTTP/2 keep-alive ping may go unanswered before the connection is closed.
pub const PING_TIMEOUT: Duration = Duration::from_secs(15);

/// How long opening a connection (TCP, proxy tunnel, and then the TLS handshake) may take by
/// default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long an unused pooled connection is kept.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// Transport settings that are not part of [`Config`] (they are about this program's
/// connections, not about the server or the identity).
///
/// ```
/// use k8s_client::transport::TransportOptions;
/// // Force HTTP/1.1, as when debugging with a proxy that cannot do HTTP/2.
/// let options = TransportOptions::new().http2(false);
/// assert!(!options.is_http2());
/// ```
#[derive(Clone, Debug)]
pub struct TransportOptions {
    http2: bool,
    connect_timeout: Duration,
    ping_timeout: Duration,
}

impl Default for TransportOptions {
    fn default() -> Self {
        TransportOptions {
            http2: true,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            ping_timeout: PING_TIMEOUT,
        }
    }
}

impl TransportOptions {
    /// The defaults: HTTP/2 offered, [`DEFAULT_CONNECT_TIMEOUT`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Offer HTTP/2 in ALPN (default `true`); `false` forces HTTP/1.1.
    pub fn http2(mut self, enabled: bool) -> Self {
        self.http2 = enabled;
        self
    }

    /// Whether HTTP/2 is offered.
    pub fn is_http2(&self) -> bool {
        self.http2
    }

    /// How long opening a connection may take (TCP, proxy, TLS handshake each).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long an HTTP/2 keep-alive ping may go unanswered before the connection (and every
    /// request on it) fails. Default: [`PING_TIMEOUT`]. Pings are sent every
    /// [`Config::keep_alive`].
    pub fn ping_timeout(mut self, timeout: Duration) -> Self {
        self.ping_timeout = timeout;
        self
    }
}

/// The HTTPS transport: the connection pool and TLS setup shared by every request of one
/// client, as a [`tower_service::Service`] (the default service under a
/// [`Client`](crate::Client)). It sends each request once: no retries, no status checks, no
/// credentials beyond the TLS client certificate.
///
/// When the client certificate of its [`Authenticator`] changes (a rotated certificate file),
/// later requests go on new connections, as client-go closes its connections then.
#[derive(Clone)]
pub struct Transport {
    shared: Arc<Shared>,
}

struct Shared {
    /// The pool in use; replaced (and the old one left to drain) by
    /// [`Transport::reset_connections`].
    client: std::sync::RwLock<HyperClient<Connector, Body>>,
    /// The credential source whose client certificate the connections use.
    auth: Arc<Authenticator>,
    /// The client certificate generation the pool's connections were made with.
    cert_generation: AtomicU64,
    builder: hyper_util::client::legacy::Builder,
    connector: Connector,
    /// Opens the HTTP/1.1-only connections of upgrades (ALPN offers `http/1.1` alone).
    upgrade_connector: Connector,
    server: String,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("server", &self.shared.server)
            .finish_non_exhaustive()
    }
}

impl Transport {
    /// Builds the transport for `config`, taking the client certificate from `auth`.
    pub fn new(config: &Config, auth: &Arc<Authenticator>) -> Result<Self, TransportError> {
        Self::with_options(config, auth, &TransportOptions::default())
    }

    /// As [`Transport::new`], with settings that are not part of [`Config`].
    pub fn with_options(
        config: &Config,
        auth: &Arc<Authenticator>,
        options: &TransportOptions,
    ) -> Result<Self, TransportError> {
        let server = config.cluster_url.to_string();
        let https = match config.cluster_url.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            other => {
                return Err(TransportError::Config(format!(
                    "server URL {server}: the scheme must be https:// or http://, not {other:?}"
                )))
            }
        };
        if config.cluster_url.host().is_none() {
            return Err(TransportError::Config(format!(
                "server URL {server} has no host"
            )));
        }

        let tls = if https {
            let tls = tls::client_config(&config.tls, auth.client_cert_resolver(), options.http2)?;
            Some(Arc::new(tls))
        } else {
            None
        };
        let tls_http1 = if https {
            let tls = tls::client_config(&config.tls, auth.client_cert_resolver(), false)?;
            Some(Arc::new(tls))
        } else {
            None
        };
        let server_name = match &config.tls.server_name {
            Some(name) if !name.is_empty() => {
                Some(ServerName::try_from(name.clone()).map_err(|e| {
                    TransportError::Config(format!("tls-server-name {name:?} is invalid: {e}"))
                })?)
            }
            _ => None,
        };
        let proxy = match &config.proxy_url {
            Some(url) => Some(proxy::Proxy::new(url, &config.no_proxy)?),
            None => None,
        };
        let upgrade_connector = Connector::new(
            tls_http1,
            server_name.clone(),
            proxy.clone(),
            options.connect_timeout,
        );
        let connector = Connector::new(tls, server_name, proxy, options.connect_timeout);

        let mut builder = HyperClient::builder(TokioExecutor::new());
        builder
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .http2_adaptive_window(true);
        if let Some(interval) = config.keep_alive {
            builder
                .http2_keep_alive_interval(interval)
                .http2_keep_alive_timeout(options.ping_timeout)
                .http2_keep_alive_while_idle(true);
        }
        Ok(Transport {
            shared: Arc::new(Shared {
                client: std::sync::RwLock::new(builder.build(connector.clone())),
                cert_generation: AtomicU64::new(auth.client_cert_generation()),
                auth: auth.clone(),
                builder,
                connector,
                upgrade_connector,
                server,
            }),
        })
    }

    /// Starts a fresh connection pool: later requests open new connections (with the current
    /// client certificate), while requests under way finish on the old ones, which close
    /// when they fall idle. Used when the client certificate rotates, as client-go closes
    /// its connections then.
    pub fn reset_connections(&self) {
        let fresh = self.shared.builder.build(self.shared.connector.clone());
        let mut client = self
            .shared
            .client
            .write()
            .unwrap_or_else(|p| p.into_inner());
        *client = fresh;
    }

    /// Sends one request (its URI absolute) and returns the response head with a streaming
    /// body. No retries, no status checks. An upgrade request (`Connection: Upgrade`) goes on a
    /// new HTTP/1.1 connection of its own, with the same TLS settings, client certificate and
    /// proxy as the pool; a `101` answer carries the connection in an [`OnUpgrade`] extension
    /// (the pool keeps using HTTP/2: the upgrade mechanism exists only in HTTP/1.1).
    pub async fn send(
        &self,
        request: http::Request<Body>,
    ) -> Result<http::Response<Body>, TransportError> {
        let uri = request.uri().clone();
        if uri.scheme().is_none() || uri.authority().is_none() {
            return Err(TransportError::Config(format!(
                "request URI {uri} is not absolute"
            )));
        }
        let generation = self.shared.auth.client_cert_generation();
        if self
            .shared
            .cert_generation
            .swap(generation, Ordering::AcqRel)
            != generation
        {
            tracing::debug!("the client certificate changed: opening new connections");
            self.reset_connections();
        }
        if upgrade::is_upgrade(request.headers()) {
            return upgrade::upgrade(&self.shared.upgrade_connector, request).await;
        }
        let client = self
            .shared
            .client
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let response = client
            .request(request)
            .await
            .map_err(|e| classify(e, &uri))?;
        Ok(response.map(body::plain))
    }
}

impl tower_service::Service<http::Request<Body>> for Transport {
    type Response = http::Response<Body>;
    type Error = TransportError;
    type Future =
        Pin<Box<dyn Future<Output = Result<http::Response<Body>, TransportError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), TransportError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let transport = self.clone();
        Box::pin(async move { transport.send(request).await })
    }
}

/// Turns hyper's error into ours: connection and TLS failures keep their kind, and hyper's
/// error is kept as the source.
fn classify(e: hyper_util::client::legacy::Error, uri: &http::Uri) -> TransportError {
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        if let Some(ce) = s.downcast_ref::<ConnectError>() {
            return ce.to_transport_error();
        }
        source = s.source();
    }
    let message = body::describe(&e);
    if e.is_connect() {
        TransportError::Connect {
            url: format!(
                "{}://{}",
                uri.scheme_str().unwrap_or(""),
                uri.authority().map(|a| a.as_str()).unwrap_or("")
            ),
            message,
            source: Some(Box::new(e)),
        }
    } else {
        TransportError::http(message, e)
    }
}
