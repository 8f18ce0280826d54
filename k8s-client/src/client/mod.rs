//! [`Client`]: one service stack (connection pool, rate limiter, credentials, retries), cheap
//! to clone and shared by every API handle made from it; [`ClientBuilder`] puts another
//! service under it (an in-memory API server, a fault injector) or layers around it.
//!
//! A request goes through these layers (see [`layer`] for each):
//!
//! ```text
//! your layers (ClientBuilder::layer), outermost first added last
//!   -> RetryLayer      the one retry loop, per-attempt timeout, body reading
//!   -> TraceLayer      a `k8s.request` span per attempt (trace)
//!   -> RateLimitLayer  client-side token bucket (when configured)
//!   -> MetricsLayer    request count, latency, rate-limiter wait, retries (feature metrics)
//!   -> AuthLayer       Authorization, User-Agent, Impersonate-*; 401 refreshes credentials
//!   -> WarningLayer    the server's Warning headers to the warning handler
//!   -> GzipLayer       Accept-Encoding: gzip, decompression (feature gzip; unless
//!                      disable-compression)
//!   -> your transport layers (ClientBuilder::transport_layer)
//!   -> the service: the HTTPS Transport, or ClientBuilder::service
//! ```

pub mod layer;
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub mod metrics;
pub mod trace;

use std::sync::Arc;

use bytes::Bytes;
use futures::{Stream, TryStreamExt};
use http::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, CONTENT_TYPE};
use http_body_util::BodyDataStream;
use serde::de::DeserializeOwned;
use tower::util::BoxCloneSyncService;
use tower::{Layer, Service, ServiceExt};

use crate::auth::Authenticator;
use crate::backoff::Backoff;
use crate::config::{Config, Impersonation};
use crate::error::{ApiError, DecodeError, Error, RequestError, Result};
use crate::rest::{RateLimiter, StatusDecoder, WarningHandler};
pub use crate::transport::{Body, BoxError};
use crate::transport::{OnUpgrade, Transport, TransportError, TransportOptions, Upgraded};
#[cfg(feature = "gzip")]
#[cfg_attr(docsrs, doc(cfg(feature = "gzip")))]
pub use layer::GzipDecoded;
#[cfg(feature = "gzip")]
use layer::GzipLayer;
use layer::{is_failure, AuthLayer, Decoded, RateLimitLayer, RetryLayer, WarningLayer};
pub(crate) use layer::{BodyDecoder, ReadBody};

/// The service stack of a client, type-erased: requests with absolute URIs in, answers of
/// every status out.
pub type BoxService = BoxCloneSyncService<http::Request<Body>, http::Response<Body>, Error>;

/// A layer kept by a client, applied again when the stack is rebuilt.
type LayerFn = Arc<dyn Fn(BoxService) -> BoxService + Send + Sync>;

/// A handle to one API server as one identity. Clones share everything (pool, rate limiter,
/// credentials), so make one per program and clone it freely.
///
/// Every request goes through the same stack of layers (see the [module docs](self)): wait
/// for the rate limiter, get the `Authorization` header from the credential source, send, and
/// retry when the server asks for it (429, 5xx with `Retry-After`: any verb; 503 and 504
/// without it: reads only), when no connection could be made (any verb), or when a read's
/// (`GET`, `HEAD`, `OPTIONS`) connection broke; a write the server may have applied is never
/// sent again. A 401 makes the credential source refresh, and the request is repeated once when
/// that can help. [`Config::timeout`] bounds each attempt, except for watches and followed
/// logs (a query with `watch=true` or `follow=true`), which may stream for as long as the
/// server keeps them open.
///
/// ```no_run
/// # async fn run() -> Result<(), k8s_client::Error> {
/// let client = k8s_client::Client::try_default().await?;
/// let version: serde_json::Value = client
///     .request(http::Request::get("/version").body(Vec::new()).unwrap())
///     .await?;
/// println!("server {}", version["gitVersion"]);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    config: Config,
    /// `scheme://authority/prefix` without a trailing slash.
    base: String,
    auth: Arc<Authenticator>,
    rate_limiter: Option<Arc<RateLimiter>>,
    warnings: Arc<dyn WarningHandler>,
    /// `User-Agent`, computed once.
    user_agent: HeaderValue,
    /// The `Impersonate-*` headers, computed once.
    impersonation: HeaderMap,
    /// The service with the transport layers, under the default layers.
    bottom: BoxService,
    /// The program's layers around the default stack, innermost first.
    outer: Vec<LayerFn>,
    /// The whole stack.
    stack: BoxService,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("server", &self.inner.config.cluster_url)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Client`] with another service under its layers, or layers of the program's own
/// around or under them.
///
/// ```
/// use k8s_client::client::{Body, ClientBuilder};
/// use k8s_client::Config;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), k8s_client::Error> {
/// // A service that answers every request with the same version document.
/// let canned = tower::service_fn(|_request: http::Request<Body>| async {
///     Ok::<_, std::convert::Infallible>(http::Response::new(Body::from(r#"{"gitVersion":"v1.36.0"}"#)))
/// });
/// let config = Config::new("http://in-memory.invalid".parse().unwrap());
/// let client = ClientBuilder::new(config).service(canned).build()?;
/// let version: serde_json::Value =
///     client.request(http::Request::get("/version").body(Vec::new()).unwrap()).await?;
/// assert_eq!(version["gitVersion"], "v1.36.0");
/// # Ok(())
/// # }
/// ```
pub struct ClientBuilder {
    config: Config,
    options: TransportOptions,
    service: Option<BoxService>,
    transport_layers: Vec<LayerFn>,
    outer: Vec<LayerFn>,
    warnings: Option<Arc<dyn WarningHandler>>,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("server", &self.config.cluster_url)
            .field("custom_service", &self.service.is_some())
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// A builder for a client of `config`, over the HTTPS transport unless
    /// [`service`](ClientBuilder::service) says otherwise.
    pub fn new(config: Config) -> Self {
        ClientBuilder {
            config,
            options: TransportOptions::default(),
            service: None,
            transport_layers: Vec::new(),
            outer: Vec::new(),
            warnings: None,
        }
    }

    /// Transport settings that are not part of [`Config`] (forcing HTTP/1.1, the connect
    /// timeout). Not used with [`service`](ClientBuilder::service).
    pub fn transport_options(mut self, options: TransportOptions) -> Self {
        self.options = options;
        self
    }

    /// Puts `service` under the client's layers in place of the HTTPS transport: an
    /// in-memory API server, a recorded or scripted server, a transport of the program's own.
    /// It gets requests with absolute URIs (the config's server URL) and whole bodies, and
    /// answers every status as a response; an error it returns is
    /// [`Error::Transport`] when it is a [`TransportError`] (retried like one), else
    /// [`Error::Service`].
    pub fn service<S, B>(mut self, service: S) -> Self
    where
        S: Service<http::Request<Body>, Response = http::Response<B>>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let service = service
            .map_response(|response: http::Response<B>| response.map(Body::wrap))
            .map_err(|e: S::Error| service_error(e.into()));
        self.service = Some(BoxService::new(service));
        self
    }

    /// Wraps the service (the HTTPS transport or the one given) in `layer`, under the
    /// client's layers: every attempt of a request goes through it, after credentials were
    /// added. For fault injection, recording, or metrics per attempt. Layers given later
    /// wrap those given earlier.
    pub fn transport_layer<L>(mut self, layer: L) -> Self
    where
        L: Layer<BoxService> + Send + Sync + 'static,
        L::Service: Service<http::Request<Body>, Response = http::Response<Body>, Error = Error>
            + Clone
            + Send
            + Sync
            + 'static,
        <L::Service as Service<http::Request<Body>>>::Future: Send + 'static,
    {
        self.transport_layers.push(layer_fn(layer));
        self
    }

    /// Wraps the whole stack in `layer`: it sees each request once, before retries, and its
    /// final answer (any status; the client turns error statuses into [`Error::Api`] after
    /// it). For tracing, metrics per request, or a policy of the program's own. Layers given
    /// later wrap those given earlier.
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: Layer<BoxService> + Send + Sync + 'static,
        L::Service: Service<http::Request<Body>, Response = http::Response<Body>, Error = Error>
            + Clone
            + Send
            + Sync
            + 'static,
        <L::Service as Service<http::Request<Body>>>::Future: Send + 'static,
    {
        self.outer.push(layer_fn(layer));
        self
    }

    /// Another handler for the server's `Warning` headers (default: each distinct warning
    /// logged once with `tracing::warn!`).
    pub fn warning_handler(mut self, handler: Arc<dyn WarningHandler>) -> Self {
        self.warnings = Some(handler);
        self
    }

    /// Builds the client.
    ///
    /// Fails with [`TransportError::Config`] when the server URL is plain `http://` and any
    /// credential (token, token file, basic auth, exec plugin, client certificate) is
    /// configured: credentials are never sent unencrypted.
    pub fn build(self) -> Result<Client> {
        let config = self.config;
        refuse_plain_http_credentials(&config)?;
        let base = base_url(&config.cluster_url)?;
        let impersonation = match &config.impersonate {
            Some(imp) => impersonation_headers(imp)?,
            None => HeaderMap::new(),
        };
        let user_agent = HeaderValue::from_str(&config.user_agent).map_err(|_| {
            TransportError::Config(format!(
                "user agent {:?} is not a valid header value",
                config.user_agent
            ))
        })?;
        let auth = Arc::new(Authenticator::new(&config)?);
        let mut bottom = match self.service {
            Some(service) => service,
            None => {
                let transport = Transport::with_options(&config, &auth, &self.options)?;
                BoxService::new(transport.map_err(Error::Transport))
            }
        };
        for layer in &self.transport_layers {
            bottom = layer(bottom);
        }
        let rate_limiter = config
            .rate_limit
            .map(|rl| Arc::new(RateLimiter::new(rl.qps, rl.burst)));
        let mut inner = Inner {
            stack: bottom.clone(),
            config,
            base,
            auth,
            rate_limiter,
            warnings: self.warnings.unwrap_or_else(<dyn WarningHandler>::log_once),
            user_agent,
            impersonation,
            bottom,
            outer: self.outer,
        };
        inner.stack = inner.build_stack();
        Ok(Client {
            inner: Arc::new(inner),
        })
    }
}

fn layer_fn<L>(layer: L) -> LayerFn
where
    L: Layer<BoxService> + Send + Sync + 'static,
    L::Service: Service<http::Request<Body>, Response = http::Response<Body>, Error = Error>
        + Clone
        + Send
        + Sync
        + 'static,
    <L::Service as Service<http::Request<Body>>>::Future: Send + 'static,
{
    Arc::new(move |service| BoxService::new(layer.layer(service)))
}

/// The error of a service given to [`ClientBuilder::service`], as the crate's error.
fn service_error(e: BoxError) -> Error {
    match e.downcast::<TransportError>() {
        Ok(e) => Error::Transport(*e),
        Err(e) => match e.downcast::<Error>() {
            Ok(e) => *e,
            Err(e) => Error::Service(e),
        },
    }
}

impl Inner {
    /// The default layers over the bottom service, and the program's around them.
    fn build_stack(&self) -> BoxService {
        let service = self.compression(self.bottom.clone());
        let service = WarningLayer::new(self.warnings.clone()).layer(service);
        let service = AuthLayer::new(
            self.auth.clone(),
            self.user_agent.clone(),
            self.impersonation.clone(),
        )
        .layer(service);
        #[cfg(feature = "metrics")]
        let service = metrics::measured(BoxService::new(service));
        let service = match &self.rate_limiter {
            Some(limiter) => BoxService::new(RateLimitLayer::new(limiter.clone()).layer(service)),
            None => BoxService::new(service),
        };
        let service = trace::traced(service);
        let mut service =
            BoxService::new(RetryLayer::new(self.config.retry, self.config.timeout).layer(service));
        for layer in &self.outer {
            service = layer(service);
        }
        service
    }

    /// The [`GzipLayer`] over `service`, unless the kubeconfig disables compression.
    #[cfg(feature = "gzip")]
    fn compression(&self, service: BoxService) -> BoxService {
        if self.config.disable_compression {
            service
        } else {
            BoxService::new(GzipLayer.layer(service))
        }
    }

    /// Without the `gzip` feature the client never asks for compressed answers.
    #[cfg(not(feature = "gzip"))]
    fn compression(&self, service: BoxService) -> BoxService {
        service
    }
}

impl Client {
    /// A client from [`Config::infer`]: kubeconfig first, then the in-cluster environment.
    pub async fn try_default() -> Result<Self> {
        let config = Config::infer().await?;
        Client::try_from(config)
    }

    /// A client for `config`, over the HTTPS transport.
    ///
    /// Fails with [`TransportError::Config`] when the server URL is plain `http://` and any
    /// credential (token, token file, basic auth, exec plugin, client certificate) is
    /// configured: credentials are never sent unencrypted.
    pub fn try_from(config: Config) -> Result<Self> {
        ClientBuilder::new(config).build()
    }

    /// A client for `config` with transport settings that are not part of [`Config`]
    /// (forcing HTTP/1.1, the connect timeout).
    ///
    /// ```no_run
    /// use k8s_client::transport::TransportOptions;
    /// # fn run(config: k8s_client::Config) -> Result<(), k8s_client::Error> {
    /// let http1_only =
    ///     k8s_client::Client::try_from_with_options(config, &TransportOptions::new().http2(false))?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn try_from_with_options(config: Config, options: &TransportOptions) -> Result<Self> {
        ClientBuilder::new(config)
            .transport_options(options.clone())
            .build()
    }

    /// A builder for a client of `config` (see [`ClientBuilder`]).
    pub fn builder(config: Config) -> ClientBuilder {
        ClientBuilder::new(config)
    }

    fn rebuilt(&self, change: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = (*self.inner).clone();
        change(&mut inner);
        inner.stack = inner.build_stack();
        Client {
            inner: Arc::new(inner),
        }
    }

    /// This client with another handler for the server's `Warning` headers. The result
    /// shares this client's connections, credentials and rate limiter.
    ///
    /// The default handler logs each distinct warning once with `tracing::warn!`.
    pub fn with_warning_handler(self, handler: Arc<dyn WarningHandler>) -> Self {
        self.rebuilt(|inner| inner.warnings = handler)
    }

    /// This client with another rate limiter (`None`: no client-side limit), for example one
    /// shared with other clients. The result shares this client's connections and
    /// credentials.
    pub fn with_rate_limiter(self, limiter: Option<Arc<RateLimiter>>) -> Self {
        self.rebuilt(|inner| inner.rate_limiter = limiter)
    }

    /// This client with another retry policy ([`Config::retry`]; for example fewer retries,
    /// for requests whose failure is reported rather than waited out). The result shares
    /// this client's connections, credentials and rate limiter.
    pub fn with_retry_policy(self, policy: Backoff) -> Self {
        self.rebuilt(|inner| inner.config.retry = policy)
    }

    /// The configuration this client was made from.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The namespace `Api::default_namespaced` uses.
    pub fn default_namespace(&self) -> &str {
        &self.inner.config.default_namespace
    }

    /// The client-side rate limiter, when there is one.
    pub fn rate_limiter(&self) -> Option<&Arc<RateLimiter>> {
        self.inner.rate_limiter.as_ref()
    }

    /// The whole service stack (see the [module docs](self)), for calling it directly: it
    /// takes requests with absolute URIs and answers every status as a response.
    pub fn service(&self) -> BoxService {
        self.inner.stack.clone()
    }

    /// Sends `request` (URI: path and query, relative to the server URL) through the rate
    /// limiter, credentials and retry policy, and returns the successful response. A non-2xx
    /// answer becomes [`Error::Api`] with the server's `Status`.
    ///
    /// Only the request URI's path and query are used: the scheme and host always come from
    /// [`Config::cluster_url`] (whose path, if any, is kept as a prefix), so credentials
    /// never go to another host. `User-Agent`, `Accept: application/json` and, for a
    /// non-empty body, `Content-Type: application/json` are added unless the request has
    /// them; `Authorization` comes from the credential source unless the request has one.
    ///
    /// [`Config::timeout`] bounds each attempt until the response head arrives (not for
    /// watches: see [`Client`]); reading the body is up to the caller. The response's
    /// [`version`](http::Response::version) tells whether HTTP/2 was used.
    pub async fn send(&self, request: http::Request<Vec<u8>>) -> Result<http::Response<Body>> {
        self.exchange(request, ReadBody::Stream).await
    }

    /// Sends `request` and decodes the JSON answer as `T`. [`Config::timeout`] bounds each
    /// attempt including reading the body.
    pub async fn request<T: DeserializeOwned>(&self, request: http::Request<Vec<u8>>) -> Result<T> {
        let body = self.collected(request).await?;
        serde_json::from_slice(&body)
            .map_err(|e| DecodeError::new(std::any::type_name::<T>(), e).into())
    }

    /// Sends `request` and returns the answer body as text. [`Config::timeout`] bounds each
    /// attempt including reading the body.
    pub async fn request_text(&self, request: http::Request<Vec<u8>>) -> Result<String> {
        let body = self.collected(request).await?;
        String::from_utf8(body.to_vec()).map_err(|e| DecodeError::new("response text", e).into())
    }

    /// Sends `request` and returns the answer body as a stream of chunks, as they arrive
    /// (watch, log follow). The stream ends when the server closes the response.
    pub async fn request_stream(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<impl Stream<Item = Result<Bytes>> + Send + 'static> {
        let response = self.send(request).await?;
        Ok(BodyDataStream::new(response.into_body()).map_err(layer::body_error))
    }

    async fn collected(&self, request: http::Request<Vec<u8>>) -> Result<Bytes> {
        self.request_bytes(request).await.map(|(_, body)| body)
    }

    /// Sends `request` and returns the answer's headers and whole body. [`Config::timeout`]
    /// bounds each attempt including reading the body.
    pub(crate) async fn request_bytes(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<(HeaderMap, Bytes)> {
        let response = self.exchange(request, ReadBody::Whole).await?;
        let (parts, body) = response.into_parts();
        let body = body.as_bytes().cloned().unwrap_or_default();
        Ok((parts.headers, body))
    }

    /// Sends `request` and feeds the answer body to a decoder as it arrives, so a large body
    /// (a list) is never held whole: `decoder` is made from the answer's headers (its
    /// `Content-Type` chooses the format). [`Config::timeout`] bounds each attempt including
    /// reading the body. An idempotent request whose body breaks off is repeated with a new
    /// decoder, as the retry policy allows.
    pub(crate) async fn request_decoded<D: BodyDecoder>(
        &self,
        request: http::Request<Vec<u8>>,
        decoder: impl Fn(&HeaderMap) -> D + Send + Sync + 'static,
    ) -> Result<D::Output> {
        let response = self.exchange(request, ReadBody::decode(decoder)).await?;
        response
            .extensions()
            .get::<Decoded>()
            .and_then(Decoded::take::<D::Output>)
            .ok_or_else(|| {
                Error::Service("the client's stack answered without reading the body".into())
            })
    }

    /// Sends an HTTP/1.1 upgrade request (WebSocket for exec, attach and port-forward) and
    /// returns the `101 Switching Protocols` response, whose body is the connection.
    ///
    /// The request carries what ordinary requests carry (the credential source's
    /// `Authorization`, the client certificate in TLS, `User-Agent`, impersonation) and goes
    /// through the rate limiter, but on a new HTTP/1.1 connection of its own: the upgrade
    /// mechanism exists only in HTTP/1.1, while the pool keeps using HTTP/2. The caller sets
    /// the protocol headers (`Connection: Upgrade`, `Upgrade`, `Sec-WebSocket-*`). A 401 makes
    /// the credential source refresh once; any other answer than 101 becomes
    /// [`Error::Api`] with the server's `Status` (a 2xx, which means the
    /// server ignored the upgrade, a [`TransportError::Http`]). [`Config::timeout`] bounds the
    /// wait for the response head.
    ///
    /// ```no_run
    /// # async fn run(client: k8s_client::Client) -> Result<(), k8s_client::Error> {
    /// let request = http::Request::get("/api/v1/namespaces/default/pods/p/exec?command=ls&stdout=true")
    ///     .header("connection", "Upgrade")
    ///     .header("upgrade", "websocket")
    ///     .header("sec-websocket-version", "13")
    ///     .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
    ///     .header("sec-websocket-protocol", "v5.channel.k8s.io")
    ///     .body(Vec::new())
    ///     .unwrap();
    /// let response = client.upgrade(request).await?;
    /// assert_eq!(response.version(), http::Version::HTTP_11);
    /// let connection = response.into_body(); // AsyncRead + AsyncWrite
    /// # drop(connection);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn upgrade(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Upgraded>> {
        let uri = request.uri().clone();
        let response = self.exchange(request, ReadBody::Stream).await?;
        let (parts, _) = response.into_parts();
        match parts
            .extensions
            .get::<OnUpgrade>()
            .and_then(OnUpgrade::take)
        {
            Some(io) if parts.status == http::StatusCode::SWITCHING_PROTOCOLS => {
                Ok(http::Response::from_parts(parts, io))
            }
            _ => Err(TransportError::http_msg(format!(
                "{uri}: the server answered {} instead of 101 Switching Protocols",
                parts.status
            ))
            .into()),
        }
    }

    /// Sends `request` through the stack: the URI made absolute, the default `Accept` and
    /// `Content-Type` added, the body read as `read` says. An error status becomes
    /// [`Error::Api`], its body decoded by the request's status decoder (see
    /// [`Request::status_decoder`](crate::rest::Request::status_decoder)) when it has one.
    async fn exchange(
        &self,
        request: http::Request<Vec<u8>>,
        read: ReadBody,
    ) -> Result<http::Response<Body>> {
        let (mut parts, body) = request.into_parts();
        parts.uri = self.absolute_uri(&parts.uri)?;
        parts.version = http::Version::HTTP_11;
        // An upgrade (exec, attach, port-forward) carries only its protocol headers, as
        // before the stack existed: a server may refuse an `Accept` it cannot satisfy.
        let upgrade = crate::transport::is_upgrade(&parts.headers);
        if !upgrade && !parts.headers.contains_key(ACCEPT) {
            parts
                .headers
                .insert(ACCEPT, HeaderValue::from_static("application/json"));
        }
        if !body.is_empty() && !parts.headers.contains_key(CONTENT_TYPE) {
            parts
                .headers
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        parts.extensions.insert(read);
        let decode_status = parts.extensions.get::<StatusDecoder>().copied();
        let request = http::Request::from_parts(parts, Body::from(body));
        let response = self.inner.stack.clone().oneshot(request).await?;
        if !is_failure(response.status()) {
            return Ok(response);
        }
        let (parts, body) = response.into_parts();
        let body = layer::read_capped(body, layer::MAX_ERROR_BODY).await;
        let code = parts.status.as_u16();
        let error = match decode_status.and_then(|StatusDecoder(decode)| decode(&body)) {
            Some(status) => ApiError { code, status },
            None => ApiError::from_response(code, &body),
        };
        Err(error.into())
    }

    fn absolute_uri(&self, uri: &http::Uri) -> Result<http::Uri> {
        let path_and_query = uri.path_and_query().map(|pq| pq.as_str()).unwrap_or("/");
        if !path_and_query.starts_with('/') {
            return Err(RequestError::new(format!(
                "request path {path_and_query:?} must start with /"
            ))
            .into());
        }
        let full = format!("{}{path_and_query}", self.inner.base);
        full.parse()
            .map_err(|e| RequestError::with_source(format!("request URI {full:?}: {e}"), e).into())
    }
}

/// Refuses configurations that would send credentials over plain HTTP.
fn refuse_plain_http_credentials(config: &Config) -> Result<(), TransportError> {
    if config.cluster_url.scheme_str() != Some("http") {
        return Ok(());
    }
    let auth = &config.auth;
    let configured: Vec<&str> = [
        (auth.token.is_some(), "a bearer token"),
        (auth.token_file.is_some(), "a token file"),
        (auth.basic.is_some(), "basic authentication"),
        (auth.exec.is_some(), "an exec credential plugin"),
        (auth.client_cert.is_some(), "a client certificate"),
    ]
    .into_iter()
    .filter_map(|(set, what)| set.then_some(what))
    .collect();
    if configured.is_empty() {
        return Ok(());
    }
    Err(TransportError::Config(format!(
        "the server URL {} is plain http:// but {} is configured: credentials are never sent \
         unencrypted; use an https:// server URL (config from {})",
        config.cluster_url,
        configured.join(" and "),
        config.origin
    )))
}

/// `scheme://authority[/prefix]` of the server URL, without a trailing slash.
fn base_url(url: &http::Uri) -> Result<String, TransportError> {
    let (Some(scheme), Some(authority)) = (url.scheme_str(), url.authority()) else {
        return Err(TransportError::Config(format!(
            "server URL {url} must be absolute (https://host:port)"
        )));
    };
    if url.query().is_some() {
        return Err(TransportError::Config(format!(
            "server URL {url} must not have a query"
        )));
    }
    Ok(format!(
        "{scheme}://{authority}{}",
        url.path().trim_end_matches('/')
    ))
}

/// The `Impersonate-*` headers for `imp`.
fn impersonation_headers(imp: &Impersonation) -> Result<HeaderMap, TransportError> {
    let value = |what: &str, v: &str| {
        HeaderValue::from_str(v).map_err(|_| {
            TransportError::Config(format!(
                "impersonation {what} {v:?} is not a valid header value"
            ))
        })
    };
    let mut headers = HeaderMap::new();
    if imp.user.is_empty() {
        if imp.uid.is_some() || !imp.groups.is_empty() || !imp.extra.is_empty() {
            return Err(TransportError::Config(
                "impersonation of a uid, groups or extra fields needs a user name".to_string(),
            ));
        }
        return Ok(headers);
    }
    headers.insert("impersonate-user", value("user", &imp.user)?);
    if let Some(uid) = &imp.uid {
        headers.insert("impersonate-uid", value("uid", uid)?);
    }
    for group in &imp.groups {
        headers.append("impersonate-group", value("group", group)?);
    }
    for (key, values) in &imp.extra {
        let name = format!("impersonate-extra-{}", escape_extra_key(key));
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            TransportError::Config(format!("impersonation extra key {key:?} is not usable"))
        })?;
        for v in values {
            headers.append(name.clone(), value("extra value", v)?);
        }
    }
    Ok(headers)
}

/// Escapes an `Impersonate-Extra-` key as client-go does: every byte that is not an HTTP
/// token character (RFC 7230), and `%` itself, becomes `%XX`. The server unescapes it.
fn escape_extra_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        let token = b.is_ascii_alphanumeric() || b"!#$&'*+-.^_`|~".contains(&b);
        if token {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_keeps_prefix() {
        let b = |u: &str| base_url(&u.parse().unwrap()).unwrap();
        assert_eq!(b("https://h:6443"), "https://h:6443");
        assert_eq!(b("https://h:6443/"), "https://h:6443");
        assert_eq!(
            b("https://rancher/k8s/clusters/c-1/"),
            "https://rancher/k8s/clusters/c-1"
        );
        assert!(base_url(&"/relative".parse().unwrap()).is_err());
    }

    #[test]
    fn extra_keys_are_escaped_like_client_go() {
        assert_eq!(escape_extra_key("scopes"), "scopes");
        assert_eq!(escape_extra_key("example.org/key"), "example.org%2Fkey");
        assert_eq!(escape_extra_key("a b%c"), "a%20b%25c");
        assert_eq!(escape_extra_key("ü"), "%C3%BC");
    }

    #[test]
    fn impersonation_header_set() {
        let imp = Impersonation {
            user: "jane".into(),
            uid: Some("42".into()),
            groups: vec!["g1".into(), "g2".into()],
            extra: [(
                "example.org/scopes".to_string(),
                vec!["a".into(), "b".into()],
            )]
            .into(),
        };
        let h = impersonation_headers(&imp).unwrap();
        assert_eq!(h["impersonate-user"], "jane");
        assert_eq!(h["impersonate-uid"], "42");
        assert_eq!(h.get_all("impersonate-group").iter().count(), 2);
        assert_eq!(
            h.get_all("impersonate-extra-example.org%2fscopes")
                .iter()
                .count(),
            2
        );
        let bad = Impersonation {
            groups: vec!["g".into()],
            ..Impersonation::default()
        };
        assert!(impersonation_headers(&bad).is_err());
    }

    #[test]
    fn plain_http_with_credentials_is_refused() {
        let mut config = Config::new("http://127.0.0.1:8080".parse().unwrap());
        assert!(refuse_plain_http_credentials(&config).is_ok());
        config.auth.token = Some("t0ken".to_string().into());
        let err = refuse_plain_http_credentials(&config).unwrap_err();
        assert!(err.to_string().contains("bearer token"), "{err}");
        assert!(!err.to_string().contains("t0ken"));
        config.cluster_url = "https://127.0.0.1:8443".parse().unwrap();
        assert!(refuse_plain_http_credentials(&config).is_ok());
    }
}

#[test]
fn extra_keys_are_escaped_like_client_go() {
    assert_eq!(escape_extra_key("scopes"), "scopes");
    assert_eq!(escape_extra_key("example.org/key"), "example.org%2Fkey");
    assert_eq!(escape_extra_key("a b%c"), "a%20b%25c");
    assert_eq!(escape_extra_key("ü"), "%C3%BC");
}

#[test]
fn impersonation_header_set() {
    let imp = Impersonation {
        user: "jane".into(),
        uid: Some("42".into()),
        groups: vec!["g1".into(), "g2".into()],
        extra: [(
            "example.org/scopes".to_string(),
            vec!["a".into(), "b".into()],
        )]
        .into(),
    };
    let h = impersonation_headers(&imp).unwrap();
    assert_eq!(h["impersonate-user"], "jane");
    assert_eq!(h["impersonate-uid"], "42");
    assert_eq!(h.get_all("impersonate-group").iter().count(), 2);
    assert_eq!(
        h.get_all("impersonate-extra-example.org%2fscopes")
            .iter()
            .count(),
        2
    );
    let bad = Impersonation {
        groups: vec!["g".into()],
        ..Impersonation::default()
    };
    assert!(impersonation_headers(&bad).is_err());
}

#[test]
fn plain_http_with_credentials_is_refused() {
    let mut config = Config::new("http://127.0.0.1:8080".parse().unwrap());
    assert!(refuse_plain_http_credentials(&config).is_ok());
    config.auth.token = Some("t0ken".to_string().into());
    let err = refuse_plain_http_credentials(&config).unwrap_err();
    assert!(err.to_string().contains("bearer token"), "{err}");
    assert!(!err.to_string().contains("t0ken"));
    config.cluster_url = "https://127.0.0.1:8443".parse().unwrap();
    assert!(refuse_plain_http_credentials(&config).is_ok());
}
