//! The layers of a [`Client`](super::Client)'s service stack, each a tower [`Layer`] that
//! does one job and can be tested alone. From the outside in:
//!
//! 1. [`RetryLayer`]: the one retry loop. It repeats an attempt when the server asks for it
//!    (429, 5xx with `Retry-After`: any verb; 503 and 504 without it: reads only), when no
//!    connection could be made (any verb: nothing was sent), when a read's (`GET`, `HEAD`,
//!    `OPTIONS`) connection broke (never a write the server may have applied), and once at once after a
//!    401 made the credential source refresh. It bounds each attempt by the configured
//!    timeout (not watches and followed logs), reads the bodies of error answers (capped),
//!    and reads or decodes whole bodies when the caller asked for that, so a body that
//!    breaks off is retried like any other broken attempt.
//! 2. [`RateLimitLayer`]: waits for the client-side rate limiter before every attempt.
//! 3. [`AuthLayer`]: who we are: the credential source's `Authorization`, the `User-Agent`
//!    and `Impersonate-*` headers; a 401 makes the credential source refresh.
//! 4. [`WarningLayer`]: hands the server's `Warning` headers to the warning handler.
//! 5. [`GzipLayer`] (feature `gzip`): asks for gzip and decompresses answers as they stream
//!    in.
//! 6. The service: the HTTPS [`Transport`](crate::transport::Transport) by default, or any
//!    other (an in-memory API server, a fault injector), given to
//!    [`ClientBuilder::service`](super::ClientBuilder::service).
//!
//! Every service in the stack takes `http::Request<Body>` with an absolute URI and answers
//! `http::Response<Body>` for every status; the [`Client`](super::Client) turns error
//! statuses into [`Error::Api`].

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

#[cfg(feature = "gzip")]
use async_compression::tokio::bufread::GzipDecoder;
use bytes::Bytes;
use futures::TryStreamExt;
use http::header::{HeaderMap, HeaderValue, AUTHORIZATION, RETRY_AFTER, USER_AGENT};
#[cfg(feature = "gzip")]
use http::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_LENGTH};
use http::{Method, StatusCode};
use http_body_util::{BodyDataStream, BodyExt};
#[cfg(feature = "gzip")]
use tokio_util::io::{ReaderStream, StreamReader};
use tower::{Layer, Service, ServiceExt};

use crate::auth::Authenticator;
use crate::backoff::Backoff;
use crate::error::{Error, Result};
use crate::rest::{RateLimiter, WarningHandler};
use crate::transport::{Body, BoxError, TransportError};

/// A boxed future, as every layer here returns.
type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// The most of an error answer's body that is read (to build the `Status`).
pub(crate) const MAX_ERROR_BODY: usize = 1 << 20;

/// Whether an answer is an error the client reports (anything but 2xx and `101`).
pub(crate) fn is_failure(status: StatusCode) -> bool {
    !(status.is_success() || status == StatusCode::SWITCHING_PROTOCOLS)
}

/// A body error as the crate's error: a transport error stays one, anything else becomes
/// [`TransportError::Body`].
pub(crate) fn body_error(e: BoxError) -> Error {
    match e.downcast::<TransportError>() {
        Ok(e) => Error::Transport(*e),
        Err(e) => match e.downcast::<Error>() {
            Ok(e) => *e,
            Err(e) => Error::Transport(TransportError::body(e)),
        },
    }
}

// ---------------------------------------------------------------------------------------
// Retry

/// Consumes an answer body chunk by chunk (see [`Client::request_decoded`](super::Client)).
pub(crate) trait BodyDecoder: Send + 'static {
    /// What the whole body decodes to.
    type Output: Send + 'static;
    /// Takes the next chunk of the body.
    fn push(&mut self, chunk: &[u8]) -> Result<()>;
    /// The body ended.
    fn finish(self) -> Result<Self::Output>;
}

/// A [`BodyDecoder`] with its output type erased, so the retry layer can run it.
pub(crate) trait ErasedDecoder: Send {
    fn push(&mut self, chunk: &[u8]) -> Result<()>;
    fn finish(self: Box<Self>) -> Result<Box<dyn Any + Send>>;
}

impl<D: BodyDecoder> ErasedDecoder for D {
    fn push(&mut self, chunk: &[u8]) -> Result<()> {
        BodyDecoder::push(self, chunk)
    }
    fn finish(self: Box<Self>) -> Result<Box<dyn Any + Send>> {
        Ok(Box::new(BodyDecoder::finish(*self)?))
    }
}

type DecoderFactory = Arc<dyn Fn(&HeaderMap) -> Box<dyn ErasedDecoder> + Send + Sync>;

/// How the retry layer treats a successful answer's body (a request extension; streaming
/// when absent).
#[derive(Clone)]
pub(crate) enum ReadBody {
    /// Hand the body on as it streams (bounded by the timeout until the head only).
    Stream,
    /// Read the whole body within the attempt.
    Whole,
    /// Feed the body to a decoder made from the answer's headers within the attempt; the
    /// output is in a [`Decoded`] response extension.
    Decode(DecoderFactory),
}

impl ReadBody {
    /// Decoding with decoders made by `make`.
    pub(crate) fn decode<D: BodyDecoder>(
        make: impl Fn(&HeaderMap) -> D + Send + Sync + 'static,
    ) -> Self {
        ReadBody::Decode(Arc::new(move |headers| Box::new(make(headers))))
    }
}

/// The output of a [`ReadBody::Decode`] request, in the response's extensions.
#[derive(Clone)]
pub(crate) struct Decoded(Arc<Mutex<Option<Box<dyn Any + Send>>>>);

impl Decoded {
    /// Takes the output out, as `T`.
    pub(crate) fn take<T: 'static>(&self) -> Option<T> {
        let output = self.0.lock().unwrap_or_else(|p| p.into_inner()).take()?;
        output.downcast::<T>().ok().map(|b| *b)
    }
}

/// Marks a 401 answer after which the credential source has fresh credentials, so the
/// request is worth repeating at once.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reauthenticated;

/// The one retry loop of a client (see the [module docs](self) for what it retries).
///
/// ```
/// use k8s_client::client::layer::RetryLayer;
/// use k8s_client::backoff::Backoff;
/// let layer = RetryLayer::new(
///     Backoff::default_request_retry(),
///     Some(std::time::Duration::from_secs(30)),
/// );
/// # drop(layer);
/// ```
#[derive(Clone, Debug)]
pub struct RetryLayer {
    policy: Backoff,
    timeout: Option<Duration>,
}

impl RetryLayer {
    /// Retries with the waits of `policy`, at most `policy.steps - 1` times (`cap` also
    /// bounds a `Retry-After`); `timeout` bounds each attempt (`None`: no bound).
    pub fn new(policy: Backoff, timeout: Option<Duration>) -> Self {
        RetryLayer { policy, timeout }
    }
}

impl<S> Layer<S> for RetryLayer {
    type Service = Retry<S>;
    fn layer(&self, inner: S) -> Retry<S> {
        Retry {
            inner,
            policy: self.policy,
            timeout: self.timeout,
        }
    }
}

/// The service of [`RetryLayer`].
#[derive(Clone, Debug)]
pub struct Retry<S> {
    inner: S,
    policy: Backoff,
    timeout: Option<Duration>,
}

impl<S> Service<http::Request<Body>> for Retry<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Error>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    type Response = http::Response<Body>;
    type Error = Error;
    type Future = BoxFuture<Result<http::Response<Body>>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<()>> {
        // Each attempt waits for a clone of the inner service to be ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let inner = self.inner.clone();
        let (policy, timeout) = (self.policy, self.timeout);
        Box::pin(retry_loop(inner, policy, timeout, request))
    }
}

async fn retry_loop<S>(
    mut inner: S,
    policy: Backoff,
    timeout: Option<Duration>,
    request: http::Request<Body>,
) -> Result<http::Response<Body>>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Error>,
{
    let (parts, body) = request.into_parts();
    let Some(body) = body.as_bytes().cloned() else {
        // A streaming request body can be sent only once.
        let request = http::Request::from_parts(parts, body);
        return inner.ready().await?.call(request).await;
    };
    let read = parts
        .extensions
        .get::<ReadBody>()
        .cloned()
        .unwrap_or(ReadBody::Stream);
    let timeout = if is_streaming(&parts.uri) {
        None
    } else {
        timeout
    };
    let idempotent = is_replayable(&parts.method);
    let mut retries = 0u32;
    let mut reauthenticated = false;
    loop {
        let request = copy_request(&parts, body.clone());
        let attempt = attempt(&mut inner, request, &read);
        let outcome = match timeout {
            Some(limit) => match tokio::time::timeout(limit, attempt).await {
                Ok(outcome) => outcome,
                Err(_) => Err(Error::Timeout(limit)),
            },
            None => attempt.await,
        };
        let delay = match &outcome {
            Ok(response) if is_failure(response.status()) => {
                if response.status() == StatusCode::UNAUTHORIZED
                    && !reauthenticated
                    && response.extensions().get::<Reauthenticated>().is_some()
                {
                    reauthenticated = true;
                    tracing::debug!(uri = %parts.uri, "401 Unauthorized: retrying with fresh credentials");
                    continue;
                }
                retry_delay_for_status(
                    response.status(),
                    response.headers(),
                    idempotent,
                    retries,
                    &policy,
                )
            }
            Ok(_) => return outcome,
            Err(Error::Transport(e)) => {
                let retryable = e.is_connect()
                    || (idempotent
                        && matches!(e, TransportError::Http { .. } | TransportError::Body { .. }));
                retryable.then(|| policy.delay(retries))
            }
            Err(_) => None,
        };
        match delay {
            Some(delay) if policy.max_retries().is_none_or(|max| retries < max) => {
                retries += 1;
                tracing::debug!(
                    uri = %parts.uri,
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

/// One attempt: send, then read what the caller asked to be read.
async fn attempt<S>(
    inner: &mut S,
    request: http::Request<Body>,
    read: &ReadBody,
) -> Result<http::Response<Body>>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Error>,
{
    let uri = request.uri().path().to_string();
    let response = inner.ready().await?.call(request).await?;
    let (mut parts, body) = response.into_parts();
    if is_failure(parts.status) {
        // The error body only explains the status: read what can be read.
        let body = read_capped(body, MAX_ERROR_BODY).await;
        return Ok(http::Response::from_parts(parts, Body::from(body)));
    }
    match read {
        ReadBody::Stream => Ok(http::Response::from_parts(parts, body)),
        ReadBody::Whole => {
            let bytes = read_whole(body, MAX_WHOLE_BODY, &uri).await?;
            Ok(http::Response::from_parts(parts, Body::from(bytes)))
        }
        ReadBody::Decode(make) => {
            let mut decoder = make(&parts.headers);
            let mut chunks = BodyDataStream::new(body);
            while let Some(chunk) = chunks.try_next().await.map_err(body_error)? {
                decoder.push(&chunk)?;
            }
            let output = decoder.finish()?;
            parts
                .extensions
                .insert(Decoded(Arc::new(Mutex::new(Some(output)))));
            Ok(http::Response::from_parts(parts, Body::empty()))
        }
    }
}

fn copy_request(parts: &http::request::Parts, body: Bytes) -> http::Request<Body> {
    let mut request = http::Request::new(Body::from(body));
    *request.method_mut() = parts.method.clone();
    *request.uri_mut() = parts.uri.clone();
    *request.version_mut() = parts.version;
    *request.headers_mut() = parts.headers.clone();
    *request.extensions_mut() = parts.extensions.clone();
    request
}

/// True for a watch or a followed log: `watch` or `follow` set to a true value in the query.
pub(crate) fn is_streaming(uri: &http::Uri) -> bool {
    uri.query().is_some_and(|q| {
        q.split('&').any(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (key == "watch" || key == "follow")
                && matches!(value, "true" | "1" | "t" | "T" | "TRUE" | "True")
        })
    })
}

/// Whether a request may be sent again after the server may have received it: only reads
/// (`GET`, `HEAD`, `OPTIONS`), as client-go. A `PUT` or `DELETE` is idempotent in HTTP's
/// sense, but sent twice it can answer differently (a `NotFound` for a delete that
/// succeeded, a `Conflict` for an update that was applied), so a write whose connection
/// broke after sending, or that got a 503/504 without `Retry-After`, reaches the caller as
/// it failed.
fn is_replayable(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether (and after how long) a failed status is retried:
/// * `Retry-After` on a 429 or 5xx: any verb (the server asks for it), after that many
///   seconds (at most the backoff's `cap`);
/// * 429 without `Retry-After`: any verb (nothing was done), with backoff;
/// * 503 or 504 without `Retry-After`: reads (`GET`, `HEAD`, `OPTIONS`) only, with backoff.
fn retry_delay_for_status(
    status: StatusCode,
    headers: &HeaderMap,
    idempotent: bool,
    retries: u32,
    policy: &Backoff,
) -> Option<Duration> {
    let code = status.as_u16();
    if code != 429 && code < 500 {
        return None;
    }
    if let Some(seconds) = retry_after_seconds(headers) {
        return Some(Duration::from_secs(seconds).min(policy.cap.unwrap_or(Duration::MAX)));
    }
    match code {
        429 => Some(policy.delay(retries)),
        503 | 504 if idempotent => Some(policy.delay(retries)),
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

fn describe_outcome(outcome: &Result<http::Response<Body>>) -> String {
    match outcome {
        Ok(response) => format!("HTTP {}", response.status()),
        Err(e) => e.to_string(),
    }
}

/// The largest body read whole (a get, create, update, patch, delete, a log read at once,
/// a discovery document), after decompression: 128 MiB. Objects are at most a few MiB (the
/// API server's request limit is 3 MiB); lists are decoded as they stream and are not
/// bound by this. A larger answer (a hostile server, a gzip bomb) fails with a
/// [`DecodeError`](crate::error::DecodeError) once this much has arrived, and is not
/// retried.
pub const MAX_WHOLE_BODY: usize = 128 << 20;

/// Reads `body` whole, failing once it passes `cap` bytes.
async fn read_whole(mut body: Body, cap: usize, path: &str) -> Result<Bytes> {
    if let Some(bytes) = body.as_bytes() {
        if bytes.len() <= cap {
            return Ok(bytes.clone());
        }
    }
    let mut out = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(body_error)?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if out.len() + data.len() > cap {
            return Err(Error::Decode(crate::error::DecodeError::msg(
                format!("answer to {path}"),
                format!("the body passed {cap} bytes (client::layer::MAX_WHOLE_BODY): given up"),
            )));
        }
        out.extend_from_slice(&data);
    }
    Ok(out.freeze())
}

/// Reads at most `cap` bytes of `body`; a body that breaks yields what arrived.
pub(crate) async fn read_capped(mut body: Body, cap: usize) -> Bytes {
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

// ---------------------------------------------------------------------------------------
// Rate limit

/// Waits for a client-side [`RateLimiter`] before every attempt. A wait longer than
/// [`LONG_THROTTLE`] is logged (`tracing::info!`, at most once per [`THROTTLE_LOG_EVERY`]
/// per layer), as client-go does, so a program that is slow because of its own limiter
/// says so: "waited 2.3s due to client-side throttling, not priority and fairness".
#[derive(Clone, Debug)]
pub struct RateLimitLayer {
    limiter: Arc<RateLimiter>,
    last_log: Arc<Mutex<Option<tokio::time::Instant>>>,
}

/// A client-side throttling wait longer than this is logged.
pub const LONG_THROTTLE: Duration = Duration::from_secs(1);

/// Long throttling waits are logged at most this often.
pub const THROTTLE_LOG_EVERY: Duration = Duration::from_secs(10);

impl RateLimitLayer {
    /// Waits for `limiter`.
    pub fn new(limiter: Arc<RateLimiter>) -> Self {
        RateLimitLayer {
            limiter,
            last_log: Arc::default(),
        }
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;
    fn layer(&self, inner: S) -> RateLimit<S> {
        RateLimit {
            inner,
            limiter: self.limiter.clone(),
            last_log: self.last_log.clone(),
        }
    }
}

/// The service of [`RateLimitLayer`].
#[derive(Clone, Debug)]
pub struct RateLimit<S> {
    inner: S,
    limiter: Arc<RateLimiter>,
    last_log: Arc<Mutex<Option<tokio::time::Instant>>>,
}

/// Whether a throttling wait is to be logged now (long, and none logged lately).
fn log_throttle_now(last_log: &Mutex<Option<tokio::time::Instant>>, waited: Duration) -> bool {
    if waited <= LONG_THROTTLE {
        return false;
    }
    let now = tokio::time::Instant::now();
    let mut last = last_log.lock().unwrap_or_else(|p| p.into_inner());
    let due = last.is_none_or(|at| now.saturating_duration_since(at) >= THROTTLE_LOG_EVERY);
    if due {
        *last = Some(now);
    }
    due
}

impl<S> Service<http::Request<Body>> for RateLimit<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Error>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    type Response = http::Response<Body>;
    type Error = Error;
    type Future = BoxFuture<Result<http::Response<Body>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let limiter = self.limiter.clone();
        // The clone is made ready before the wait ends; take the ready one for this call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let last_log = self.last_log.clone();
        Box::pin(async move {
            let start = tokio::time::Instant::now();
            limiter.acquire().await;
            let waited = start.elapsed();
            if log_throttle_now(&last_log, waited) {
                tracing::info!(
                    method = %request.method(),
                    uri = %request.uri().path(),
                    "waited {:.1}s due to client-side throttling, not priority and fairness",
                    waited.as_secs_f64()
                );
            }
            inner.call(request).await
        })
    }
}

// ---------------------------------------------------------------------------------------
// Auth

/// Who we are: adds the credential source's `Authorization` (marked sensitive, so it never
/// shows in logs), the `User-Agent` and the `Impersonate-*` headers, each unless the request
/// has its own. A 401 answer makes the credential source refresh; when that can help, the
/// answer is marked so the retry layer repeats the request once.
#[derive(Clone)]
pub struct AuthLayer {
    shared: Arc<AuthShared>,
}

struct AuthShared {
    auth: Arc<Authenticator>,
    user_agent: HeaderValue,
    impersonation: HeaderMap,
}

impl std::fmt::Debug for AuthLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthLayer").finish_non_exhaustive()
    }
}

impl AuthLayer {
    /// Credentials from `auth`; `user_agent` and the `impersonation` headers are added to
    /// every request.
    pub fn new(
        auth: Arc<Authenticator>,
        user_agent: HeaderValue,
        impersonation: HeaderMap,
    ) -> Self {
        AuthLayer {
            shared: Arc::new(AuthShared {
                auth,
                user_agent,
                impersonation,
            }),
        }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Auth<S>;
    fn layer(&self, inner: S) -> Auth<S> {
        Auth {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// The service of [`AuthLayer`].
#[derive(Clone)]
pub struct Auth<S> {
    inner: S,
    shared: Arc<AuthShared>,
}

impl<S> Service<http::Request<Body>> for Auth<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Error>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    type Response = http::Response<Body>;
    type Error = Error;
    type Future = BoxFuture<Result<http::Response<Body>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        let shared = self.shared.clone();
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let authorization = shared.auth.prepare().await?;
            add_identity(&shared, request.headers_mut(), authorization);
            let mut response = inner.call(request).await?;
            if response.status() == StatusCode::UNAUTHORIZED && shared.auth.invalidate() {
                response.extensions_mut().insert(Reauthenticated);
            }
            Ok(response)
        })
    }
}

fn add_identity(shared: &AuthShared, headers: &mut HeaderMap, authorization: Option<HeaderValue>) {
    if !headers.contains_key(USER_AGENT) {
        headers.insert(USER_AGENT, shared.user_agent.clone());
    }
    if let Some(mut value) = authorization {
        if !headers.contains_key(AUTHORIZATION) {
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
    }
    if !shared.impersonation.is_empty() && !headers.contains_key("impersonate-user") {
        for (name, value) in &shared.impersonation {
            headers.append(name.clone(), value.clone());
        }
    }
}

// ---------------------------------------------------------------------------------------
// Warnings

/// Hands the `Warning` headers of every answer to a [`WarningHandler`].
#[derive(Clone)]
pub struct WarningLayer {
    handler: Arc<dyn WarningHandler>,
}

impl std::fmt::Debug for WarningLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WarningLayer").finish_non_exhaustive()
    }
}

impl WarningLayer {
    /// Warnings go to `handler`.
    pub fn new(handler: Arc<dyn WarningHandler>) -> Self {
        WarningLayer { handler }
    }
}

impl<S> Layer<S> for WarningLayer {
    type Service = Warnings<S>;
    fn layer(&self, inner: S) -> Warnings<S> {
        Warnings {
            inner,
            handler: self.handler.clone(),
        }
    }
}

/// The service of [`WarningLayer`].
#[derive(Clone)]
pub struct Warnings<S> {
    inner: S,
    handler: Arc<dyn WarningHandler>,
}

impl<S> Service<http::Request<Body>> for Warnings<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Error>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    type Response = http::Response<Body>;
    type Error = Error;
    type Future = BoxFuture<Result<http::Response<Body>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let handler = self.handler.clone();
        let future = self.inner.call(request);
        Box::pin(async move {
            let response = future.await?;
            handler.dispatch(response.headers());
            Ok(response)
        })
    }
}

// ---------------------------------------------------------------------------------------
// Gzip

/// Marks a response (in its [`extensions`](http::Response::extensions)) whose body the
/// [`GzipLayer`] decompressed: the server sent it gzip-compressed.
///
/// ```no_run
/// # async fn run(client: k8s_client::Client) -> Result<(), k8s_client::Error> {
/// let request = http::Request::get("/api/v1/configmaps").body(Vec::new()).unwrap();
/// let response = client.send(request).await?;
/// let compressed = response.extensions().get::<k8s_client::client::GzipDecoded>().is_some();
/// # Ok(())
/// # }
/// ```
#[cfg(feature = "gzip")]
#[cfg_attr(docsrs, doc(cfg(feature = "gzip")))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GzipDecoded;

/// Asks for gzip (`Accept-Encoding: gzip`, unless the request sets its own
/// `Accept-Encoding`) and, only then, decompresses a gzip answer as it streams in (a watch
/// stays a stream), removing its `Content-Encoding` and `Content-Length` headers and marking
/// it [`GzipDecoded`]. Left out of the stack when the kubeconfig says
/// `disable-compression: true` ([`Config::disable_compression`](crate::Config::disable_compression)).
#[cfg(feature = "gzip")]
#[cfg_attr(docsrs, doc(cfg(feature = "gzip")))]
#[derive(Clone, Copy, Debug, Default)]
pub struct GzipLayer;

#[cfg(feature = "gzip")]
impl<S> Layer<S> for GzipLayer {
    type Service = Gzip<S>;
    fn layer(&self, inner: S) -> Gzip<S> {
        Gzip { inner }
    }
}

/// The service of [`GzipLayer`].
#[cfg(feature = "gzip")]
#[cfg_attr(docsrs, doc(cfg(feature = "gzip")))]
#[derive(Clone, Debug)]
pub struct Gzip<S> {
    inner: S,
}

#[cfg(feature = "gzip")]
impl<S> Service<http::Request<Body>> for Gzip<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Error>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    type Response = http::Response<Body>;
    type Error = Error;
    type Future = BoxFuture<Result<http::Response<Body>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        // An upgraded connection is not a body: nothing to compress.
        let we_asked = !request.headers().contains_key(ACCEPT_ENCODING)
            && !crate::transport::is_upgrade(request.headers());
        if we_asked {
            request
                .headers_mut()
                .insert(ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
        }
        let future = self.inner.call(request);
        Box::pin(async move {
            let response = future.await?;
            let gzipped = we_asked
                && response
                    .headers()
                    .get(CONTENT_ENCODING)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.trim().eq_ignore_ascii_case("gzip"));
            if !gzipped {
                return Ok(response);
            }
            let (mut parts, body) = response.into_parts();
            parts.headers.remove(CONTENT_ENCODING);
            parts.headers.remove(CONTENT_LENGTH);
            parts.extensions.insert(GzipDecoded);
            Ok(http::Response::from_parts(parts, gunzip(body)))
        })
    }
}

/// The body decompressed as it arrives.
#[cfg(feature = "gzip")]
fn gunzip(body: Body) -> Body {
    let compressed = BodyDataStream::new(body).map_err(std::io::Error::other);
    let mut decoder = GzipDecoder::new(StreamReader::new(compressed));
    decoder.multiple_members(true);
    Body::from_stream(
        ReaderStream::new(decoder).map_err(|e| TransportError::Body {
            message: format!("gzip-compressed body: {e}"),
            source: Some(Box::new(e)),
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn retry_decisions() {
        let policy = Backoff::new(Duration::from_millis(100))
            .cap(Duration::from_secs(5))
            .steps(4);
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
    fn long_throttling_waits_are_logged_now_and_then() {
        let last = Mutex::new(None);
        assert!(!log_throttle_now(&last, Duration::from_millis(900)));
        assert!(log_throttle_now(&last, Duration::from_millis(1500)));
        // Not again right away.
        assert!(!log_throttle_now(&last, Duration::from_secs(3)));
        *last.lock().unwrap() = Some(tokio::time::Instant::now() - THROTTLE_LOG_EVERY);
        assert!(log_throttle_now(&last, Duration::from_secs(3)));
    }

    #[test]
    fn default_backoff_grows_jittered_and_is_capped() {
        let policy = Backoff::default_request_retry();
        assert_eq!(policy.max_retries(), Some(10));
        let s = Duration::from_secs;
        let ms = Duration::from_millis;
        for _ in 0..50 {
            let b0 = policy.delay(0);
            assert!(b0 >= ms(500) && b0 <= s(1), "{b0:?}");
            let b2 = policy.delay(2);
            assert!(b2 >= s(2) && b2 <= s(4), "{b2:?}");
            let b5 = policy.delay(5);
            assert!(b5 >= s(16) && b5 <= s(30), "{b5:?}");
            assert_eq!(policy.delay(40), s(30));
        }
    }

    /// A service that answers from a script, counting calls.
    #[derive(Clone)]
    struct Script {
        calls: Arc<Mutex<Vec<http::Request<Body>>>>,
        answer: Arc<dyn Fn(usize) -> Result<http::Response<Body>> + Send + Sync>,
    }

    impl Service<http::Request<Body>> for Script {
        type Response = http::Response<Body>;
        type Error = Error;
        type Future = BoxFuture<Result<http::Response<Body>>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn call(&mut self, request: http::Request<Body>) -> Self::Future {
            let mut calls = self.calls.lock().unwrap();
            let n = calls.len();
            calls.push(request);
            let answer = (self.answer)(n);
            Box::pin(async move { answer })
        }
    }

    fn script(
        answer: impl Fn(usize) -> Result<http::Response<Body>> + Send + Sync + 'static,
    ) -> Script {
        Script {
            calls: Arc::default(),
            answer: Arc::new(answer),
        }
    }

    fn status(code: u16) -> http::Response<Body> {
        let mut response = http::Response::new(Body::from(format!("code {code}")));
        *response.status_mut() = StatusCode::from_u16(code).unwrap();
        response
    }

    fn quick() -> RetryLayer {
        RetryLayer::new(
            Backoff::new(Duration::from_millis(1))
                .cap(Duration::from_millis(2))
                .steps(4),
            None,
        )
    }

    fn get() -> http::Request<Body> {
        http::Request::get("http://x/api")
            .body(Body::empty())
            .unwrap()
    }

    #[tokio::test]
    async fn the_retry_layer_alone_retries_and_stops() {
        let inner = script(|n| Ok(status(if n < 2 { 503 } else { 200 })));
        let calls = inner.calls.clone();
        let response = quick().layer(inner).oneshot(get()).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(calls.lock().unwrap().len(), 3);

        let inner = script(|_| Ok(status(503)));
        let calls = inner.calls.clone();
        let response = quick().layer(inner).oneshot(get()).await.unwrap();
        assert_eq!(response.status(), 503);
        // One attempt plus max_retries, and the error body was read for the caller.
        assert_eq!(calls.lock().unwrap().len(), 4);
        assert_eq!(response.into_body().as_bytes().unwrap(), "code 503");

        let inner = script(|_| Ok(status(503)));
        let calls = inner.calls.clone();
        let post = http::Request::post("http://x/api")
            .body(Body::from("{}"))
            .unwrap();
        quick().layer(inner).oneshot(post).await.unwrap();
        assert_eq!(
            calls.lock().unwrap().len(),
            1,
            "a POST is not retried on 503"
        );
    }

    #[tokio::test]
    async fn a_401_after_a_refresh_is_retried_once() {
        let inner = script(|_| {
            let mut response = status(401);
            response.extensions_mut().insert(Reauthenticated);
            Ok(response)
        });
        let calls = inner.calls.clone();
        let response = quick().layer(inner).oneshot(get()).await.unwrap();
        assert_eq!(response.status(), 401);
        assert_eq!(calls.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn decoded_bodies_that_break_are_retried() {
        struct Count(usize);
        impl BodyDecoder for Count {
            type Output = usize;
            fn push(&mut self, chunk: &[u8]) -> Result<()> {
                self.0 += chunk.len();
                Ok(())
            }
            fn finish(self) -> Result<usize> {
                Ok(self.0)
            }
        }
        let inner = script(|n| {
            let chunks: Vec<std::result::Result<Bytes, TransportError>> = if n == 0 {
                vec![
                    Ok(Bytes::from_static(b"abc")),
                    Err(TransportError::http_msg("reset")),
                ]
            } else {
                vec![Ok(Bytes::from_static(b"abcdef"))]
            };
            Ok(http::Response::new(Body::from_stream(
                futures::stream::iter(chunks),
            )))
        });
        let calls = inner.calls.clone();
        let mut request = get();
        request
            .extensions_mut()
            .insert(ReadBody::decode(|_| Count(0)));
        let response = quick().layer(inner).oneshot(request).await.unwrap();
        let decoded = response.extensions().get::<Decoded>().unwrap();
        assert_eq!(decoded.take::<usize>(), Some(6));
        assert_eq!(calls.lock().unwrap().len(), 2);
    }

    #[cfg(feature = "gzip")]
    #[tokio::test]
    async fn gzip_is_asked_for_and_undone() {
        use async_compression::tokio::write::GzipEncoder;
        use tokio::io::AsyncWriteExt;
        let mut encoder = GzipEncoder::new(Vec::new());
        encoder.write_all(b"hello").await.unwrap();
        encoder.shutdown().await.unwrap();
        let compressed = Bytes::from(encoder.into_inner());
        let inner = script(move |_| {
            let mut response = http::Response::new(Body::from(compressed.clone()));
            response
                .headers_mut()
                .insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            Ok(response)
        });
        let calls = inner.calls.clone();
        let response = GzipLayer.layer(inner).oneshot(get()).await.unwrap();
        assert!(response.extensions().get::<GzipDecoded>().is_some());
        assert!(response.headers().get(CONTENT_ENCODING).is_none());
        assert_eq!(response.into_body().into_bytes().await.unwrap(), "hello");
        assert_eq!(calls.lock().unwrap()[0].headers()[ACCEPT_ENCODING], "gzip");
    }
}
