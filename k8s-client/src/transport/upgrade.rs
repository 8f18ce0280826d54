//! HTTP/1.1 connection upgrades (WebSocket for exec, attach and port-forward).
//!
//! An upgrade needs HTTP/1.1: the pool may speak HTTP/2 to the same server, so each upgrade
//! opens a fresh connection of its own through the same connector (same TLS roots, same
//! client certificate, same proxy) whose TLS offers only `http/1.1` in ALPN. The connection
//! is never pooled: after `101 Switching Protocols` it belongs to the caller.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use std::sync::{Arc, Mutex};

use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tower_service::Service;

use super::body::{self, Body};
use super::connector::{ConnectError, Connector};
use super::TransportError;

/// An upgraded connection: raw bytes both ways ([`AsyncRead`] + [`AsyncWrite`]). Made by the
/// HTTPS transport after `101 Switching Protocols`, or by any other service under a
/// [`Client`](crate::Client) (an in-memory server can hand out one end of a
/// [`tokio::io::duplex`]).
pub struct Upgraded {
    io: Pin<Box<dyn Io>>,
}

trait Io: AsyncRead + AsyncWrite + Send {}
impl<T: AsyncRead + AsyncWrite + Send> Io for T {}

impl Upgraded {
    /// Wraps a connection.
    pub fn new<T>(io: T) -> Self
    where
        T: AsyncRead + AsyncWrite + Send + 'static,
    {
        Upgraded { io: Box::pin(io) }
    }
}

impl std::fmt::Debug for Upgraded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upgraded").finish_non_exhaustive()
    }
}

impl AsyncRead for Upgraded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.io.as_mut().poll_read(cx, buf)
    }
}

impl AsyncWrite for Upgraded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.io.as_mut().poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.as_mut().poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io.as_mut().poll_shutdown(cx)
    }
}

/// The connection of a `101 Switching Protocols` response, in the response's
/// [`extensions`](http::Response::extensions): how a service under a
/// [`Client`](crate::Client) hands an upgraded connection up through the layers (extensions
/// must be `Clone`, a connection is not; the first [`take`](OnUpgrade::take) gets it).
///
/// ```
/// use k8s_client::transport::{OnUpgrade, Upgraded};
///
/// let (ours, _theirs) = tokio::io::duplex(1024);
/// let mut response = http::Response::new(k8s_client::client::Body::empty());
/// *response.status_mut() = http::StatusCode::SWITCHING_PROTOCOLS;
/// response.extensions_mut().insert(OnUpgrade::new(Upgraded::new(ours)));
/// let slot = response.extensions().get::<OnUpgrade>().unwrap();
/// assert!(slot.take().is_some());
/// assert!(slot.take().is_none());
/// ```
#[derive(Clone)]
pub struct OnUpgrade {
    io: Arc<Mutex<Option<Upgraded>>>,
}

impl OnUpgrade {
    /// A slot holding `io`.
    pub fn new(io: Upgraded) -> Self {
        OnUpgrade {
            io: Arc::new(Mutex::new(Some(io))),
        }
    }

    /// Takes the connection out (`None` when it was taken already).
    pub fn take(&self) -> Option<Upgraded> {
        self.io.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

impl std::fmt::Debug for OnUpgrade {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnUpgrade").finish_non_exhaustive()
    }
}

/// Whether `headers` ask for a connection upgrade (`Connection: Upgrade`).
pub(crate) fn is_upgrade(headers: &http::HeaderMap) -> bool {
    headers
        .get_all(http::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("upgrade"))
}

/// Opens a new HTTP/1.1 connection with `connector`, sends `request` (URI absolute) and
/// returns the answer: on `101`, with the connection in an [`OnUpgrade`] extension.
pub(crate) async fn upgrade(
    connector: &Connector,
    request: http::Request<Body>,
) -> Result<http::Response<Body>, TransportError> {
    let (mut parts, body) = request.into_parts();
    let uri = parts.uri.clone();
    let (Some(_), Some(authority)) = (uri.scheme(), uri.authority()) else {
        return Err(TransportError::Config(format!(
            "request URI {uri} is not absolute"
        )));
    };
    // HTTP/1.1 wants the origin form on the request line and the authority in `Host`.
    if !parts.headers.contains_key(http::header::HOST) {
        let host = http::HeaderValue::from_str(authority.as_str()).map_err(|_| {
            TransportError::Config(format!("{authority} is not a valid Host header"))
        })?;
        parts.headers.insert(http::header::HOST, host);
    }
    parts.uri = uri
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("/")
        .parse()
        .map_err(|e| TransportError::Config(format!("request URI {uri}: {e}")))?;
    parts.version = http::Version::HTTP_11;

    let stream = connector
        .clone()
        .call(uri.clone())
        .await
        .map_err(ConnectError::into_transport_error)?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(stream)
        .await
        .map_err(|e| TransportError::http(body::describe(&e), e))?;
    // Drives the connection until the upgrade hands it over (or it fails).
    tokio::spawn(async move {
        if let Err(e) = connection.with_upgrades().await {
            tracing::debug!("upgrade connection: {}", body::describe(&e));
        }
    });
    let request = http::Request::from_parts(parts, body);
    let mut response = sender
        .send_request(request)
        .await
        .map_err(|e| TransportError::http(body::describe(&e), e))?;
    if response.status() != http::StatusCode::SWITCHING_PROTOCOLS {
        return Ok(response.map(body::plain));
    }
    let upgraded = hyper::upgrade::on(&mut response)
        .await
        .map_err(|e| TransportError::http(format!("upgrading {uri}: {}", body::describe(&e)), e))?;
    let (mut head, _) = response.into_parts();
    head.extensions
        .insert(OnUpgrade::new(Upgraded::new(TokioIo::new(upgraded))));
    Ok(http::Response::from_parts(head, Body::empty()))
}
