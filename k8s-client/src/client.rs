//! [`Client`]: one connection pool, one rate limiter and one credential source, cheap to
//! clone and shared by every API handle made from it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, TryStreamExt};
use http::header::{
    HeaderMap, HeaderName, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER,
    USER_AGENT,
};
use http::{Method, StatusCode};
use http_body_util::{BodyDataStream, BodyExt};
use serde::de::DeserializeOwned;

use crate::auth::Authenticator;
use crate::config::{Config, Impersonation};
use crate::error::{ApiError, Error, Result};
use crate::rest::{RateLimiter, WarningHandler};
use crate::transport::{
    ResponseBody, Transport, TransportError, TransportOptions, UpgradeResponse, Upgraded,
};

/// Consumes an answer body chunk by chunk (see [`Client::request_decoded`]).
pub(crate) trait BodyDecoder {
    /// What the whole body decodes to.
    type Output;
    /// Takes the next chunk of the body.
    fn push(&mut self, chunk: &[u8]) -> Result<()>;
    /// The body ended.
    fn finish(self) -> Result<Self::Output>;
}

/// The most of an error answer's body that is read (to build the `Status`).
const MAX_ERROR_BODY: usize = 1 << 20;

/// A handle to one API server as one identity. Clones share everything (pool, rate limiter,
/// credentials), so make one per program and clone it freely.
///
/// Every request goes through the same path: wait for the rate limiter, get the
/// `Authorization` header from the credential source, send, and retry when the server asks
/// for it (429, 5xx with `Retry-After`; 503 and 504 of idempotent requests), when no
/// connection could be made, or when an idempotent request's connection broke. A 401 makes
/// the credential source refresh, and the request is repeated once when that can help.
/// [`Config::timeout`] bounds each attempt, except for watches and followed logs (a query
/// with `watch=true` or `follow=true`), which may stream for as long as the server keeps them
/// open.
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
    transport: Transport,
    auth: Arc<Authenticator>,
    rate_limiter: Option<Arc<RateLimiter>>,
    warnings: Arc<dyn WarningHandler>,
    /// The client certificate generation the pool's connections were made with.
    cert_generation: Arc<AtomicU64>,
    /// The `Impersonate-*` headers, computed once.
    impersonation: HeaderMap,
    user_agent: HeaderValue,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("server", &self.inner.config.cluster_url)
            .finish_non_exhaustive()
    }
}

/// What one attempt produced.
enum Answer {
    /// A 2xx response, body not read.
    Streaming(http::Response<ResponseBody>),
    /// A 2xx response, body read.
    Collected(http::response::Parts, Bytes),
    /// A non-2xx response and (the start of) its body.
    Failed(http::response::Parts, Bytes),
}

impl Client {
    /// A client from [`Config::infer`]: kubeconfig first, then the in-cluster environment.
    pub async fn try_default() -> Result<Self> {
        let config = Config::infer().await?;
        Client::try_from(config)
    }

    /// A client for `config`.
    ///
    /// Fails with [`TransportError::Config`] when the server URL is plain `http://` and any
    /// credential (token, token file, basic auth, exec plugin, client certificate) is
    /// configured: credentials are never sent unencrypted.
    pub fn try_from(config: Config) -> Result<Self> {
        Client::try_from_with_options(config, &TransportOptions::default())
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
        let auth = Authenticator::new(&config)?;
        let transport = Transport::with_options(&config, &auth, options)?;
        let generation = auth.client_cert_generation();
        let rate_limiter = config
            .rate_limit
            .map(|rl| Arc::new(RateLimiter::new(rl.qps, rl.burst)));
        Ok(Client {
            inner: Arc::new(Inner {
                config,
                base,
                transport,
                auth: Arc::new(auth),
                rate_limiter,
                warnings: <dyn WarningHandler>::log_once(),
                cert_generation: Arc::new(AtomicU64::new(generation)),
                impersonation,
                user_agent,
            }),
        })
    }

    /// This client with another handler for the server's `Warning` headers. The result
    /// shares this client's connections, credentials and rate limiter.
    ///
    /// The default handler logs each distinct warning once with `tracing::warn!`.
    pub fn with_warning_handler(self, handler: Arc<dyn WarningHandler>) -> Self {
        let mut inner = (*self.inner).clone();
        inner.warnings = handler;
        Client {
            inner: Arc::new(inner),
        }
    }

    /// This client with another rate limiter (`None`: no client-side limit), for example one
    /// shared with other clients. The result shares this client's connections and
    /// credentials.
    pub fn with_rate_limiter(self, limiter: Option<Arc<RateLimiter>>) -> Self {
        let mut inner = (*self.inner).clone();
        inner.rate_limiter = limiter;
        Client {
            inner: Arc::new(inner),
        }
    }

    /// This client with another retry policy (for example fewer retries, for requests whose
    /// failure is reported rather than waited out). The result shares this client's
    /// connections, credentials and rate limiter.
    pub fn with_retry_policy(self, policy: crate::config::RetryPolicy) -> Self {
        let mut inner = (*self.inner).clone();
        inner.config.retry = policy;
        Client {
            inner: Arc::new(inner),
        }
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

    /// Sends `request` (URI: path and query, relative to the server URL) through the rate
    /// limiter, credentials and retry policy, and returns the successful response. A non-2xx
    /// answer becomes [`Error::Api`](crate::Error::Api) with the server's `Status`.
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
    pub async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<ResponseBody>> {
        match self.execute(request, false).await? {
            Answer::Streaming(response) => Ok(response),
            Answer::Collected(parts, body) => Ok(http::Response::from_parts(
                parts,
                http_body_util::Full::new(body)
                    .map_err(|never| match never {})
                    .boxed(),
            )),
            Answer::Failed(parts, body) => {
                Err(ApiError::from_response(parts.status.as_u16(), &body).into())
            }
        }
    }

    /// Sends `request` and decodes the JSON answer as `T`. [`Config::timeout`] bounds each
    /// attempt including reading the body.
    pub async fn request<T: DeserializeOwned>(&self, request: http::Request<Vec<u8>>) -> Result<T> {
        let body = self.collected(request).await?;
        serde_json::from_slice(&body).map_err(|e| Error::Decode {
            what: std::any::type_name::<T>().to_string(),
            message: e.to_string(),
        })
    }

    /// Sends `request` and returns the answer body as text. [`Config::timeout`] bounds each
    /// attempt including reading the body.
    pub async fn request_text(&self, request: http::Request<Vec<u8>>) -> Result<String> {
        let body = self.collected(request).await?;
        String::from_utf8(body.to_vec()).map_err(|e| Error::Decode {
            what: "response text".to_string(),
            message: e.to_string(),
        })
    }

    /// Sends `request` and returns the answer body as a stream of chunks, as they arrive
    /// (watch, log follow). The stream ends when the server closes the response.
    pub async fn request_stream(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<impl Stream<Item = Result<Bytes>> + Send + 'static> {
        let response = self.send(request).await?;
        Ok(BodyDataStream::new(response.into_body()).map_err(Error::Transport))
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
        match self.execute(request, true).await? {
            Answer::Collected(parts, body) => Ok((parts.headers, body)),
            Answer::Streaming(response) => {
                let (parts, body) = response.into_parts();
                let body = body.collect().await.map_err(Error::Transport)?.to_bytes();
                Ok((parts.headers, body))
            }
            Answer::Failed(parts, body) => {
                Err(ApiError::from_response(parts.status.as_u16(), &body).into())
            }
        }
    }

    /// Sends `request` and feeds the answer body to a decoder as it arrives, so a large body
    /// (a list) is never held whole: `decoder` is made from the answer's headers (its
    /// `Content-Type` chooses the format). [`Config::timeout`] bounds each attempt including
    /// reading the body. An idempotent request whose body breaks off is repeated with a new
    /// decoder, as the policy allows.
    pub(crate) async fn request_decoded<D: BodyDecoder>(
        &self,
        request: http::Request<Vec<u8>>,
        decoder: impl Fn(&HeaderMap) -> D,
    ) -> Result<D::Output> {
        let policy = self.inner.config.retry;
        let idempotent = is_idempotent(request.method());
        let mut retries = 0u32;
        loop {
            let started = tokio::time::Instant::now();
            let mut copy = http::Request::new(request.body().clone());
            *copy.method_mut() = request.method().clone();
            *copy.uri_mut() = request.uri().clone();
            *copy.headers_mut() = request.headers().clone();
            let response = self.send(copy).await?;
            let (parts, body) = response.into_parts();
            let mut sink = decoder(&parts.headers);
            let read = async move {
                let mut chunks = BodyDataStream::new(body);
                while let Some(chunk) = chunks.try_next().await.map_err(Error::Transport)? {
                    sink.push(&chunk)?;
                }
                sink.finish()
            };
            let outcome = match self.inner.config.timeout {
                Some(limit) => match tokio::time::timeout_at(started + limit, read).await {
                    Ok(outcome) => outcome,
                    Err(_) => Err(Error::Timeout(limit)),
                },
                None => read.await,
            };
            match outcome {
                Err(Error::Transport(e)) if idempotent && retries < policy.max_retries => {
                    retries += 1;
                    let delay = backoff(retries, &policy);
                    tracing::debug!(uri = %request.uri(), attempt = retries, ?delay, "retrying after the body broke off: {e}");
                    tokio::time::sleep(delay).await;
                }
                other => return other,
            }
        }
    }

    /// The request loop: rate limit, credentials, send, and retry as the policy says.
    /// Returns `Answer::Failed` only when no more retries are allowed.
    async fn execute(&self, request: http::Request<Vec<u8>>, collect: bool) -> Result<Answer> {
        let inner = &*self.inner;
        let (parts, body) = request.into_parts();
        let body = Bytes::from(body);
        let uri = self.absolute_uri(&parts.uri)?;
        let streaming = is_streaming(&parts.uri);
        let timeout = if streaming {
            None
        } else {
            inner.config.timeout
        };
        let idempotent = is_idempotent(&parts.method);
        let policy = inner.config.retry;

        let mut retries = 0u32;
        let mut reauthenticated = false;
        loop {
            if let Some(limiter) = &inner.rate_limiter {
                limiter.acquire().await;
            }
            let attempt = self.attempt(&parts, &uri, body.clone(), collect);
            let outcome = match timeout {
                Some(limit) => match tokio::time::timeout(limit, attempt).await {
                    Ok(outcome) => outcome,
                    Err(_) => Err(Error::Timeout(limit)),
                },
                None => attempt.await,
            };

            let delay = match &outcome {
                Ok(Answer::Failed(head, _)) => {
                    let status = head.status;
                    if status == StatusCode::UNAUTHORIZED && !reauthenticated {
                        reauthenticated = true;
                        if inner.auth.invalidate() {
                            tracing::debug!(%uri, "401 Unauthorized: retrying with fresh credentials");
                            continue;
                        }
                    }
                    retry_delay_for_status(status, &head.headers, idempotent, retries, &policy)
                }
                Ok(_) => return outcome,
                Err(Error::Transport(e)) => {
                    let retryable = e.is_connect()
                        || (idempotent
                            && matches!(e, TransportError::Http(_) | TransportError::Body(_)));
                    retryable.then(|| backoff(retries, &policy))
                }
                Err(_) => None,
            };
            match delay {
                Some(delay) if retries < policy.max_retries => {
                    retries += 1;
                    tracing::debug!(
                        %uri,
                        attempt = retries,
                        ?delay,
                        "retrying after {}",
                        describe_outcome(&outcome)
                    );
                    tokio::time::sleep(delay).await;
                }
                _ => return outcome,
            }
        }
    }

    /// One attempt: credentials, send, read what has to be read.
    async fn attempt(
        &self,
        parts: &http::request::Parts,
        uri: &http::Uri,
        body: Bytes,
        collect: bool,
    ) -> Result<Answer> {
        let inner = &*self.inner;
        let authorization = inner.auth.prepare().await?;
        let generation = inner.auth.client_cert_generation();
        if inner.cert_generation.swap(generation, Ordering::AcqRel) != generation {
            tracing::debug!("the client certificate changed: opening new connections");
            inner.transport.reset_connections();
        }

        let mut request = http::Request::new(body);
        *request.method_mut() = parts.method.clone();
        *request.uri_mut() = uri.clone();
        *request.version_mut() = http::Version::HTTP_11;
        *request.headers_mut() = parts.headers.clone();
        *request.extensions_mut() = parts.extensions.clone();
        let has_body = !request.body().is_empty();
        let headers = request.headers_mut();
        self.add_identity(headers, authorization);
        if !headers.contains_key(ACCEPT) {
            headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        }
        if has_body && !headers.contains_key(CONTENT_TYPE) {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }

        let response = inner.transport.send(request).await?;
        inner.warnings.dispatch(response.headers());
        let (head, body) = response.into_parts();
        if !head.status.is_success() {
            // The error body only explains the status: read what can be read.
            let body = read_capped(body, MAX_ERROR_BODY).await;
            return Ok(Answer::Failed(head, body));
        }
        if collect {
            let body = body.collect().await?.to_bytes();
            Ok(Answer::Collected(head, body))
        } else {
            Ok(Answer::Streaming(http::Response::from_parts(head, body)))
        }
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
    /// [`Error::Api`](crate::Error::Api) with the server's `Status` (a 2xx, which means the
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
        let inner = &*self.inner;
        let (parts, body) = request.into_parts();
        let body = Bytes::from(body);
        let uri = self.absolute_uri(&parts.uri)?;
        let mut reauthenticated = false;
        loop {
            if let Some(limiter) = &inner.rate_limiter {
                limiter.acquire().await;
            }
            let authorization = inner.auth.prepare().await?;
            let mut request = http::Request::new(body.clone());
            *request.method_mut() = parts.method.clone();
            *request.uri_mut() = uri.clone();
            *request.headers_mut() = parts.headers.clone();
            self.add_identity(request.headers_mut(), authorization);
            let attempt = inner.transport.upgrade(request);
            let outcome = match inner.config.timeout {
                Some(limit) => tokio::time::timeout(limit, attempt)
                    .await
                    .map_err(|_| Error::Timeout(limit))??,
                None => attempt.await?,
            };
            match outcome {
                UpgradeResponse::Switched { head, io } => {
                    inner.warnings.dispatch(&head.headers);
                    return Ok(http::Response::from_parts(head, io));
                }
                UpgradeResponse::Refused { head, body } => {
                    inner.warnings.dispatch(&head.headers);
                    let status = head.status;
                    if status == StatusCode::UNAUTHORIZED && !reauthenticated {
                        reauthenticated = true;
                        if inner.auth.invalidate() {
                            tracing::debug!(%uri, "401 Unauthorized: retrying the upgrade with fresh credentials");
                            continue;
                        }
                    }
                    if status.is_success() || status.is_informational() {
                        return Err(TransportError::Http(format!(
                            "{uri}: the server answered {status} instead of 101 Switching Protocols"
                        ))
                        .into());
                    }
                    let body = read_capped(body, MAX_ERROR_BODY).await;
                    return Err(ApiError::from_response(status.as_u16(), &body).into());
                }
            }
        }
    }

    /// Adds who we are to a request's headers, unless the request set them itself: the user
    /// agent, the credential source's `Authorization` (marked sensitive, so it never shows
    /// in logs) and the `Impersonate-*` headers.
    fn add_identity(&self, headers: &mut HeaderMap, authorization: Option<HeaderValue>) {
        let inner = &*self.inner;
        if !headers.contains_key(USER_AGENT) {
            headers.insert(USER_AGENT, inner.user_agent.clone());
        }
        if let Some(mut value) = authorization {
            if !headers.contains_key(AUTHORIZATION) {
                value.set_sensitive(true);
                headers.insert(AUTHORIZATION, value);
            }
        }
        if !inner.impersonation.is_empty() && !headers.contains_key("impersonate-user") {
            for (name, value) in &inner.impersonation {
                headers.append(name.clone(), value.clone());
            }
        }
    }

    fn absolute_uri(&self, uri: &http::Uri) -> Result<http::Uri> {
        let path_and_query = uri.path_and_query().map(|pq| pq.as_str()).unwrap_or("/");
        if !path_and_query.starts_with('/') {
            return Err(Error::Request(format!(
                "request path {path_and_query:?} must start with /"
            )));
        }
        let full = format!("{}{path_and_query}", self.inner.base);
        full.parse()
            .map_err(|e| Error::Request(format!("request URI {full:?}: {e}")))
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

/// True for a watch or a followed log: `watch` or `follow` set to a true value in the query.
fn is_streaming(uri: &http::Uri) -> bool {
    uri.query().is_some_and(|q| {
        q.split('&').any(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (key == "watch" || key == "follow")
                && matches!(value, "true" | "1" | "t" | "T" | "TRUE" | "True")
        })
    })
}

fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS | Method::TRACE
    )
}

/// Whether (and after how long) a failed status is retried:
/// * `Retry-After` on a 429 or 5xx: any verb (the server asks for it), after that many
///   seconds (at most `max_backoff`);
/// * 429 without `Retry-After`: any verb (nothing was done), with backoff;
/// * 503 or 504 without `Retry-After`: idempotent verbs only, with backoff.
fn retry_delay_for_status(
    status: StatusCode,
    headers: &HeaderMap,
    idempotent: bool,
    retries: u32,
    policy: &crate::config::RetryPolicy,
) -> Option<Duration> {
    let code = status.as_u16();
    if code != 429 && code < 500 {
        return None;
    }
    if let Some(seconds) = retry_after_seconds(headers) {
        return Some(Duration::from_secs(seconds).min(policy.max_backoff));
    }
    match code {
        429 => Some(backoff(retries, policy)),
        503 | 504 if idempotent => Some(backoff(retries, policy)),
        _ => None,
    }
}

/// `Retry-After` as whole seconds (the form the API server sends).
fn retry_after_seconds(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
}

/// Exponential backoff with jitter: `initial * 2^retries`, at most `max_backoff`, then a
/// random part of it between half and all.
fn backoff(retries: u32, policy: &crate::config::RetryPolicy) -> Duration {
    let factor = 2u32.saturating_pow(retries.min(30));
    let base = policy
        .initial_backoff
        .saturating_mul(factor)
        .min(policy.max_backoff);
    base.mul_f64(0.5 + rand::random::<f64>() * 0.5)
}

fn describe_outcome(outcome: &Result<Answer>) -> String {
    match outcome {
        Ok(Answer::Failed(head, _)) => format!("HTTP {}", head.status),
        Ok(_) => "success".to_string(),
        Err(e) => e.to_string(),
    }
}

/// Reads at most `cap` bytes of `body`; a body that breaks yields what arrived.
async fn read_capped(mut body: ResponseBody, cap: usize) -> Bytes {
    let mut out = Vec::new();
    while out.len() < cap {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    out.extend_from_slice(&data);
                }
            }
            Some(Err(e)) => {
                tracing::debug!("reading an error answer's body: {e}");
                break;
            }
            None => break,
        }
    }
    out.truncate(cap);
    Bytes::from(out)
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
    use crate::config::RetryPolicy;

    #[test]
    fn streaming_requests_are_recognised() {
        let s = |u: &str| is_streaming(&u.parse().unwrap());
        assert!(s("/api/v1/pods?watch=true"));
        assert!(s("/api/v1/pods?limit=1&watch=1"));
        assert!(s("/api/v1/namespaces/a/pods/p/log?follow=true"));
        assert!(!s("/api/v1/pods?watch=false"));
        assert!(!s("/api/v1/pods?fieldSelector=watch%3Dtrue"));
        assert!(!s("/api/v1/pods"));
    }

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

    #[test]
    fn retry_decisions() {
        let policy = RetryPolicy {
            max_retries: 3,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
        };
        let mut with_retry_after = HeaderMap::new();
        with_retry_after.insert(RETRY_AFTER, HeaderValue::from_static("2"));
        let none = HeaderMap::new();
        let d = |code: u16, h: &HeaderMap, idem: bool| {
            retry_delay_for_status(StatusCode::from_u16(code).unwrap(), h, idem, 0, &policy)
        };
        assert_eq!(
            d(429, &with_retry_after, false),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            d(500, &with_retry_after, false),
            Some(Duration::from_secs(2))
        );
        assert!(d(429, &none, false).is_some());
        assert!(d(503, &none, true).is_some());
        assert!(d(504, &none, true).is_some());
        assert!(d(503, &none, false).is_none());
        assert!(d(500, &none, true).is_none());
        assert!(d(404, &with_retry_after, true).is_none());
        let mut long = HeaderMap::new();
        long.insert(RETRY_AFTER, HeaderValue::from_static("3600"));
        assert_eq!(d(429, &long, true), Some(Duration::from_secs(5)));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = RetryPolicy {
            max_retries: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
        };
        for _ in 0..50 {
            let b0 = backoff(0, &policy);
            assert!(b0 >= Duration::from_millis(50) && b0 <= Duration::from_millis(100));
            let b2 = backoff(2, &policy);
            assert!(b2 >= Duration::from_millis(200) && b2 <= Duration::from_millis(400));
            let b9 = backoff(40, &policy);
            assert!(b9 >= Duration::from_millis(500) && b9 <= Duration::from_secs(1));
        }
    }
}
