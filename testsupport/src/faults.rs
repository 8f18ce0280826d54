//! A fault injector for tests against the real control plane, in two parts:
//!
//! * [`Faults`]: a tower layer for [`ClientBuilder::transport_layer`], under the client's
//!   retry, rate-limit and auth layers, so every *attempt* of a request meets it. Rules
//!   ([`Rule`]) pick requests by verb and path and apply a [`Fault`]: answer a status
//!   (429 with `Retry-After`, 500/503 bursts) without reaching the server, fail as a
//!   connect error (nothing sent), forward the request and then fail as if the connection
//!   broke (the server applied it), add latency, stall or truncate the answer's body
//!   (a watch cut mid-frame, JSON or protobuf). Every attempt is recorded ([`Faults::seen`]).
//! * [`FaultProxy`]: a loopback TCP forwarder for faults a layer cannot make, on the real
//!   network path (TLS and HTTP/2 pass through it untouched): reset every open connection,
//!   stall all traffic (a connection dropped silently, as by a dead peer or a partition),
//!   add latency, refuse new connections, and count the connections made.
//!
//! Not covered: an HTTP/2 `GOAWAY` frame (the proxy sees only TLS records; the closest fault
//! is [`FaultProxy::reset_all`]).
//!
//! ```no_run
//! # async fn t() {
//! use k8s_client::client::ClientBuilder;
//! use k8s_client_testsupport::faults::{Fault, Faults, Rule};
//! let faults = Faults::new();
//! faults.add(Rule::new(Fault::status(503)).method(http::Method::GET).times(2));
//! let config = k8s_client_testsupport::config("admin").await;
//! let client = ClientBuilder::new(config).transport_layer(faults.layer()).build().unwrap();
//! # drop(client);
//! # }
//! ```
//!
//! [`ClientBuilder::transport_layer`]: k8s_client::client::ClientBuilder::transport_layer

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use http_body_util::BodyExt;
use k8s_client::client::{Body, BoxService};
use k8s_client::transport::TransportError;
use k8s_client::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{watch, Notify};

// ---------------------------------------------------------------------------------------
// The layer

/// What happens to a request a [`Rule`] picks.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Fault {
    /// Answer this status without reaching the server, with `Retry-After: seconds` when set
    /// and a `Status` body.
    Status {
        /// The HTTP status (429, 500, 503, ...).
        status: u16,
        /// The `Retry-After` header, in seconds.
        retry_after: Option<u64>,
    },
    /// Fail as a connection that could not be made: nothing reaches the server.
    ConnectError,
    /// Send the request (the server applies it), drop the answer and fail as a connection
    /// reset while waiting for it.
    ResetAfterSend,
    /// Wait this long before sending.
    Latency(Duration),
    /// Pass the first `after` bytes of the answer's body, then nothing more, ever (the
    /// connection stays open): a silently stalled stream.
    StallBody {
        /// Bytes passed before the stall.
        after: usize,
    },
    /// Pass the first `after` bytes of the answer's body, then fail it as a reset
    /// connection: a watch cut mid-frame.
    TruncateBody {
        /// Bytes passed before the cut.
        after: usize,
    },
}

impl Fault {
    /// A status answer without `Retry-After`.
    pub fn status(status: u16) -> Self {
        Fault::Status {
            status,
            retry_after: None,
        }
    }

    /// A status answer with `Retry-After: seconds`.
    pub fn retry_after(status: u16, seconds: u64) -> Self {
        Fault::Status {
            status,
            retry_after: Some(seconds),
        }
    }
}

/// Which requests get a [`Fault`], and how many times.
#[derive(Clone, Debug)]
pub struct Rule {
    fault: Fault,
    method: Option<Method>,
    path: Option<String>,
    query: Option<String>,
    times: usize,
}

impl Rule {
    /// `fault` for every request (narrow it with the builder methods).
    pub fn new(fault: Fault) -> Self {
        Rule {
            fault,
            method: None,
            path: None,
            query: None,
            times: usize::MAX,
        }
    }

    /// Only requests with this verb.
    pub fn method(mut self, method: Method) -> Self {
        self.method = Some(method);
        self
    }

    /// Only requests whose path contains `part`.
    pub fn path(mut self, part: impl Into<String>) -> Self {
        self.path = Some(part.into());
        self
    }

    /// Only requests whose query contains `part` (for example `watch=true`).
    pub fn query(mut self, part: impl Into<String>) -> Self {
        self.query = Some(part.into());
        self
    }

    /// Only the next `n` matching requests (default: all).
    pub fn times(mut self, n: usize) -> Self {
        self.times = n;
        self
    }

    fn matches(&self, request: &http::Request<Body>) -> bool {
        self.times > 0
            && self.method.as_ref().is_none_or(|m| request.method() == m)
            && self
                .path
                .as_deref()
                .is_none_or(|p| request.uri().path().contains(p))
            && self
                .query
                .as_deref()
                .is_none_or(|q| request.uri().query().unwrap_or("").contains(q))
    }
}

/// One attempt the layer saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    /// The verb.
    pub method: Method,
    /// The path and query.
    pub path: String,
    /// The fault applied, by name (`None`: passed untouched).
    pub fault: Option<&'static str>,
}

#[derive(Default)]
struct State {
    rules: Mutex<VecDeque<Rule>>,
    seen: Mutex<Vec<Seen>>,
}

/// The fault rules and the record of attempts, shared by every [`FaultLayer`] made from
/// it; clones share them. Rules are tried in the order added; the first that matches (and
/// has uses left) applies.
#[derive(Clone, Default)]
pub struct Faults {
    state: Arc<State>,
}

impl std::fmt::Debug for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Faults").finish_non_exhaustive()
    }
}

impl Faults {
    /// No rules yet: every request passes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a rule after those present.
    pub fn add(&self, rule: Rule) {
        lock(&self.state.rules).push_back(rule);
    }

    /// Removes every rule.
    pub fn clear(&self) {
        lock(&self.state.rules).clear();
    }

    /// The layer for [`ClientBuilder::transport_layer`](k8s_client::client::ClientBuilder::transport_layer).
    pub fn layer(&self) -> FaultLayer {
        FaultLayer {
            faults: self.clone(),
        }
    }

    /// Every attempt seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        lock(&self.state.seen).clone()
    }

    /// How many attempts with verb `method` had a path containing `path`.
    pub fn count(&self, method: &Method, path: &str) -> usize {
        lock(&self.state.seen)
            .iter()
            .filter(|s| s.method == *method && s.path.contains(path))
            .count()
    }

    /// Forgets the attempts seen.
    pub fn forget(&self) {
        lock(&self.state.seen).clear();
    }

    fn pick(&self, request: &http::Request<Body>) -> Option<Fault> {
        let mut rules = lock(&self.state.rules);
        let rule = rules.iter_mut().find(|r| r.matches(request))?;
        rule.times = rule.times.saturating_sub(1);
        Some(rule.fault.clone())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The tower layer of a [`Faults`].
#[derive(Clone, Debug)]
pub struct FaultLayer {
    faults: Faults,
}

impl tower::Layer<BoxService> for FaultLayer {
    type Service = FaultService;
    fn layer(&self, inner: BoxService) -> FaultService {
        FaultService {
            inner,
            faults: self.faults.clone(),
        }
    }
}

/// The service of a [`FaultLayer`].
#[derive(Clone)]
pub struct FaultService {
    inner: BoxService,
    faults: Faults,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl tower::Service<http::Request<Body>> for FaultService {
    type Response = http::Response<Body>;
    type Error = Error;
    type Future = BoxFuture<Result<http::Response<Body>, Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let fault = self.faults.pick(&request);
        let seen = Seen {
            method: request.method().clone(),
            path: request
                .uri()
                .path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_default(),
            fault: fault.as_ref().map(fault_name),
        };
        lock(&self.faults.state.seen).push(seen);
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            match fault {
                None => inner.call(request).await,
                Some(Fault::Status {
                    status,
                    retry_after,
                }) => Ok(status_answer(status, retry_after)),
                Some(Fault::ConnectError) => Err(Error::Transport(TransportError::Connect {
                    url: request.uri().to_string(),
                    message: "injected fault: connection refused".into(),
                    source: None,
                })),
                Some(Fault::ResetAfterSend) => {
                    let response = inner.call(request).await?;
                    // Let the server finish; the answer is lost with the connection.
                    drop(response);
                    Err(Error::Transport(TransportError::Http {
                        message: "injected fault: connection reset by peer".into(),
                        source: Some(Box::new(std::io::Error::from(
                            std::io::ErrorKind::ConnectionReset,
                        ))),
                    }))
                }
                Some(Fault::Latency(delay)) => {
                    tokio::time::sleep(delay).await;
                    inner.call(request).await
                }
                Some(Fault::StallBody { after }) => {
                    let response = inner.call(request).await?;
                    Ok(response.map(|b| cut_body(b, after, false)))
                }
                Some(Fault::TruncateBody { after }) => {
                    let response = inner.call(request).await?;
                    Ok(response.map(|b| cut_body(b, after, true)))
                }
            }
        })
    }
}

fn fault_name(fault: &Fault) -> &'static str {
    match fault {
        Fault::Status { .. } => "status",
        Fault::ConnectError => "connect-error",
        Fault::ResetAfterSend => "reset-after-send",
        Fault::Latency(_) => "latency",
        Fault::StallBody { .. } => "stall-body",
        Fault::TruncateBody { .. } => "truncate-body",
    }
}

fn status_answer(status: u16, retry_after: Option<u64>) -> http::Response<Body> {
    let body = serde_json::json!({
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": format!("injected fault: status {status}"),
        "reason": if status == 429 { "TooManyRequests" } else { "InternalError" },
        "code": status,
    });
    let mut builder = http::Response::builder()
        .status(status)
        .header("content-type", "application/json");
    if let Some(seconds) = retry_after {
        builder = builder.header("retry-after", seconds.to_string());
    }
    builder
        .body(Body::from(body.to_string()))
        .unwrap_or_else(|_| http::Response::new(Body::empty()))
}

/// `body` up to `after` bytes, then an error (`fail`) or a wait without end.
fn cut_body(body: Body, after: usize, fail: bool) -> Body {
    let stream = futures::stream::unfold(
        (body, after, false),
        move |(mut body, left, done)| async move {
            if done {
                return None;
            }
            if left == 0 {
                if fail {
                    let e = TransportError::Body {
                        message: "injected fault: connection reset mid-body".into(),
                        source: None,
                    };
                    return Some((Err(e), (body, 0, true)));
                }
                std::future::pending::<()>().await;
            }
            loop {
                match body.frame().await {
                    None => return None,
                    Some(Err(e)) => {
                        let e = TransportError::Body {
                            message: e.to_string(),
                            source: None,
                        };
                        return Some((Err(e), (body, 0, true)));
                    }
                    Some(Ok(frame)) => {
                        let Ok(data) = frame.into_data() else {
                            continue;
                        };
                        let n = data.len().min(left);
                        let data: Bytes = data.slice(..n);
                        return Some((Ok(data), (body, left - n, false)));
                    }
                }
            }
        },
    );
    Body::from_stream(stream)
}

// ---------------------------------------------------------------------------------------
// The proxy

#[derive(Default)]
struct ProxyState {
    accepted: AtomicUsize,
    open: AtomicUsize,
    stalled: AtomicBool,
    refuse: AtomicBool,
    latency_ms: AtomicU64,
    unstalled: Notify,
    /// One flag per open connection: set, it passes nothing more, ever.
    dropped: Mutex<Vec<std::sync::Weak<AtomicBool>>>,
}

/// A loopback TCP forwarder to the API server with network faults on demand (see the
/// [module docs](self)). It runs until dropped.
pub struct FaultProxy {
    port: u16,
    state: Arc<ProxyState>,
    reset: watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
        self.reset.send_modify(|g| *g += 1);
    }
}

impl FaultProxy {
    /// A proxy to `target` (`host:port`) on a free loopback port.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub async fn start(target: impl Into<String>) -> Self {
        let target = target.into();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding a loopback port for the fault proxy");
        let port = listener.local_addr().expect("local address").port();
        let state = Arc::new(ProxyState::default());
        let (reset, _) = watch::channel(0u64);
        let (s, r) = (state.clone(), reset.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                s.accepted.fetch_add(1, Ordering::SeqCst);
                if s.refuse.load(Ordering::SeqCst) {
                    abort(client);
                    continue;
                }
                tokio::spawn(connection(client, target.clone(), s.clone(), r.subscribe()));
            }
        });
        FaultProxy {
            port,
            state,
            reset,
            task,
        }
    }

    /// A proxy to the server of `config`, and `config` changed to go through it (the
    /// server certificate of the test control plane is valid for `127.0.0.1`).
    ///
    /// # Panics
    /// When the config's server URL has no authority.
    pub async fn in_front_of(config: &mut k8s_client::Config) -> Self {
        let target = config
            .cluster_url
            .authority()
            .expect("the server URL has a host")
            .to_string();
        let proxy = Self::start(target).await;
        let scheme = config.cluster_url.scheme_str().unwrap_or("https");
        config.cluster_url = format!("{scheme}://127.0.0.1:{}", proxy.port)
            .parse()
            .expect("a proxy URL");
        proxy
    }

    /// The loopback port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// How many connections it accepted so far.
    pub fn connections(&self) -> usize {
        self.state.accepted.load(Ordering::SeqCst)
    }

    /// How many connections are open now.
    pub fn open_connections(&self) -> usize {
        self.state.open.load(Ordering::SeqCst)
    }

    /// Resets (TCP RST) every open connection, both ends.
    pub fn reset_all(&self) {
        self.reset.send_modify(|g| *g += 1);
    }

    /// Stalls (`true`) or resumes all traffic: bytes are held, sockets stay open, as with a
    /// peer that died without closing or a network partition. New connections are
    /// accepted but pass nothing either.
    pub fn stall(&self, stalled: bool) {
        self.state.stalled.store(stalled, Ordering::SeqCst);
        if !stalled {
            self.state.unstalled.notify_waiters();
        }
    }

    /// Drops every open connection silently: from now on it passes nothing, its sockets
    /// stay open and nobody is told (a NAT entry or a peer gone without a trace). New
    /// connections work.
    pub fn drop_silently(&self) {
        for flag in lock(&self.state.dropped).drain(..) {
            if let Some(flag) = flag.upgrade() {
                flag.store(true, Ordering::SeqCst);
            }
        }
    }

    /// Refuses (`true`: accepts and resets at once) new connections.
    pub fn refuse(&self, refuse: bool) {
        self.state.refuse.store(refuse, Ordering::SeqCst);
    }

    /// Delays every chunk passed by `delay`, each way.
    pub fn latency(&self, delay: Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.state.latency_ms.store(ms, Ordering::SeqCst);
    }
}

/// Closes `stream` with a reset instead of an orderly shutdown.
#[allow(deprecated)]
fn abort(stream: TcpStream) {
    let _ = stream.set_linger(Some(Duration::ZERO));
    drop(stream);
}

async fn connection(
    client: TcpStream,
    target: String,
    state: Arc<ProxyState>,
    mut reset: watch::Receiver<u64>,
) {
    let Ok(upstream) = TcpStream::connect(&target).await else {
        abort(client);
        return;
    };
    #[allow(deprecated)]
    {
        let _ = client.set_linger(Some(Duration::ZERO));
        let _ = upstream.set_linger(Some(Duration::ZERO));
    }
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    state.open.fetch_add(1, Ordering::SeqCst);
    let (cr, cw) = client.into_split();
    let (ur, uw) = upstream.into_split();
    let dropped = Arc::new(AtomicBool::new(false));
    lock(&state.dropped).push(Arc::downgrade(&dropped));
    reset.mark_unchanged();
    tokio::select! {
        _ = futures::future::join(pump(cr, uw, &state, &dropped), pump(ur, cw, &state, &dropped)) => {}
        _ = reset.changed() => {}
    }
    state.open.fetch_sub(1, Ordering::SeqCst);
    // The halves drop here; with a zero linger the peers see a reset.
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    state: &ProxyState,
    dropped: &AtomicBool,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => {
                let _ = to.shutdown().await;
                return;
            }
            Ok(n) => n,
        };
        if dropped.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        loop {
            let woken = state.unstalled.notified();
            if !state.stalled.load(Ordering::SeqCst) {
                break;
            }
            woken.await;
        }
        let latency = state.latency_ms.load(Ordering::SeqCst);
        if latency > 0 {
            tokio::time::sleep(Duration::from_millis(latency)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
