//! HTTP/1.1 connection upgrades (WebSocket for exec, attach and port-forward).
//!
//! An upgrade needs HTTP/1.1: the pool may speak HTTP/2 to the same server, so each upgrade
//! opens a fresh connection of its own through the same connector (same TLS roots, same
//! client certificate, same proxy) whose TLS offers only `http/1.1` in ALPN. The connection
//! is never pooled: after `101 Switching Protocols` it belongs to the caller.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tower_service::Service;

use super::connector::Connector;
use super::{body, ResponseBody, TransportError};

/// What the server answered to an upgrade request.
pub enum UpgradeResponse {
    /// `101 Switching Protocols`: the connection now speaks the new protocol.
    Switched {
        /// The response head (status, headers such as `Sec-WebSocket-Protocol`, version).
        head: http::response::Parts,
        /// The connection, for the new protocol.
        io: Upgraded,
    },
    /// Any other answer (the server refused the upgrade), with its body.
    Refused {
        /// The response head.
        head: http::response::Parts,
        /// The response body (usually a `Status`).
        body: ResponseBody,
    },
}

impl std::fmt::Debug for UpgradeResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UpgradeResponse::Switched { head, .. } => f
                .debug_struct("Switched")
                .field("status", &head.status)
                .finish_non_exhaustive(),
            UpgradeResponse::Refused { head, .. } => f
                .debug_struct("Refused")
                .field("status", &head.status)
                .finish_non_exhaustive(),
        }
    }
}

/// An upgraded connection: raw bytes both ways ([`AsyncRead`] + [`AsyncWrite`]).
pub struct Upgraded {
    io: TokioIo<hyper::upgrade::Upgraded>,
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
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Upgraded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// Opens a new HTTP/1.1 connection with `connector`, sends `request` (URI absolute) and, on
/// `101`, takes the connection over.
pub(crate) async fn upgrade(
    connector: &Connector,
    request: http::Request<Bytes>,
) -> Result<UpgradeResponse, TransportError> {
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
        .map_err(|e| e.to_transport_error())?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(stream)
        .await
        .map_err(|e| TransportError::Http(body::describe(&e)))?;
    // Drives the connection until the upgrade hands it over (or it fails).
    tokio::spawn(async move {
        if let Err(e) = connection.with_upgrades().await {
            tracing::debug!("upgrade connection: {}", body::describe(&e));
        }
    });
    let request = http::Request::from_parts(parts, Full::new(body));
    let mut response = sender
        .send_request(request)
        .await
        .map_err(|e| TransportError::Http(body::describe(&e)))?;
    if response.status() != http::StatusCode::SWITCHING_PROTOCOLS {
        let (head, incoming) = response.into_parts();
        return Ok(UpgradeResponse::Refused {
            head,
            body: body::plain(incoming),
        });
    }
    let upgraded = hyper::upgrade::on(&mut response)
        .await
        .map_err(|e| TransportError::Http(format!("upgrading {uri}: {}", body::describe(&e))))?;
    let (head, _) = response.into_parts();
    Ok(UpgradeResponse::Switched {
        head,
        io: Upgraded {
            io: TokioIo::new(upgraded),
        },
    })
}
