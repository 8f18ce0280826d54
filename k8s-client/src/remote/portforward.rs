//! Port-forward: streams to ports of a pod, and a local TCP listener that forwards every
//! accepted connection (as `kubectl port-forward` does).
//!
//! The protocol is `v4.channel.k8s.io` port-forwarding over WebSocket: for the `k`-th port
//! of the `ports` query, channel `2k` carries data both ways and channel `2k+1` carries the
//! server's error text; the server's first message on each channel starts with the port (2
//! bytes, little-endian). The protocol has no half-close: a forwarded stream ends when the
//! session ends.
//!
//! ```no_run
//! use k8s_client::Api;
//! use k8s_openapi::api::core::v1::Pod;
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # async fn run(client: k8s_client::Client) -> Result<(), Box<dyn std::error::Error>> {
//! let pods: Api<Pod> = Api::namespaced(client, "default");
//! let mut forward = pods.port_forward("my-pod", &[8080]).await?;
//! let mut stream = forward.take_stream(8080).unwrap();
//! stream.write_all(b"GET / HTTP/1.0\r\n\r\n").await?;
//! let mut answer = Vec::new();
//! stream.read_to_end(&mut answer).await?;
//!
//! // Or: every connection to 127.0.0.1:9090 goes to port 8080 of the pod.
//! let listener = pods.port_forward_listener("my-pod", "127.0.0.1:9090".parse()?, 8080).await?;
//! println!("forwarding {}", listener.local_addr());
//! # Ok(())
//! # }
//! ```

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::stream::SplitStream;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

use super::channel;
use super::io::{self as rio, Alive, ChannelReader, ChannelWriter, Liveness, OnShutdown};
use super::websocket::{self, Ws};
use super::RemoteError;
use crate::error::{Error, Result};
use crate::rest::{Request, Verb};
use crate::Api;

/// The subprotocol of WebSocket port-forwarding.
const PROTOCOLS: [&str; 1] = ["v4.channel.k8s.io"];

/// The path and query of a port-forward to `ports` of pod `namespace/pod`.
pub(crate) fn port_forward_uri(namespace: &str, pod: &str, ports: &[u16]) -> Result<String> {
    if ports.is_empty() {
        return Err(Error::Request(crate::error::RequestError::new(format!(
            "port-forward to pod {namespace}/{pod}: no port given"
        ))));
    }
    for (i, p) in ports.iter().enumerate() {
        if *p == 0 {
            return Err(Error::Request(crate::error::RequestError::new(format!(
                "port-forward to pod {namespace}/{pod}: port 0 is not a port"
            ))));
        }
        if ports[..i].contains(p) {
            return Err(Error::Request(crate::error::RequestError::new(format!(
                "port-forward to pod {namespace}/{pod}: port {p} is given twice"
            ))));
        }
    }
    let list: Vec<String> = ports.iter().map(u16::to_string).collect();
    Request::new(Verb::Connect)
        .namespace(namespace)
        .resource("pods")
        .name(pod)
        .subresource("portforward")
        .query("ports", list.join(","))
        .uri()
}

/// One forwarded pod port: read what the pod's side sends, write to it.
///
/// Reading ends when the session ends; a failure the server reports for this port is an
/// [`io::Error`] wrapping [`RemoteError::PortForward`].
#[derive(Debug)]
pub struct PortStream {
    port: u16,
    reader: ChannelReader,
    writer: ChannelWriter,
}

impl PortStream {
    /// The pod port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The read and write halves, to use from two tasks.
    pub fn into_split(self) -> (ChannelReader, ChannelWriter) {
        (self.reader, self.writer)
    }
}

impl AsyncRead for PortStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.reader).poll_read(cx, buf)
    }
}

impl AsyncWrite for PortStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.writer).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.writer).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.writer).poll_shutdown(cx)
    }
}

/// A port-forward session to one or more ports of a pod. Take each port's stream with
/// [`take_stream`](PortForward::take_stream); [`join`](PortForward::join) waits for the end.
///
/// The session lives until the server ends it or this handle and every stream taken from
/// it are dropped.
#[derive(Debug)]
pub struct PortForward {
    streams: Vec<PortStream>,
    done: oneshot::Receiver<Result<()>>,
    http_version: http::Version,
    _alive: Alive,
}

impl PortForward {
    /// The stream of pod port `port`; `None` when not forwarded or already taken.
    pub fn take_stream(&mut self, port: u16) -> Option<PortStream> {
        let i = self.streams.iter().position(|s| s.port == port)?;
        Some(self.streams.swap_remove(i))
    }

    /// The HTTP version of the upgraded connection (HTTP/1.1: WebSocket needs it).
    pub fn http_version(&self) -> http::Version {
        self.http_version
    }

    /// Waits until the session ends (streams not taken are dropped first; the session ends
    /// when the server ends it or every stream taken is dropped) and returns the
    /// first error the server reported for a port ([`RemoteError::PortForward`]) or the
    /// connection's failure.
    pub async fn join(self) -> Result<()> {
        // This handle no longer keeps the session open: it ends when the server ends it or
        // the streams taken from it are dropped.
        let PortForward {
            streams,
            done,
            _alive,
            ..
        } = self;
        drop(streams);
        drop(_alive);
        match done.await {
            Ok(result) => result,
            Err(_) => Err(RemoteError::Closed.into()),
        }
    }
}

impl Api<Pod> {
    /// Forwards `ports` of pod `name` (`/portforward`) over one WebSocket session.
    ///
    /// A missing pod or a refusal is [`Error::Api`].
    pub async fn port_forward(&self, name: &str, ports: &[u16]) -> Result<PortForward> {
        let uri = port_forward_uri(self.pod_namespace("port-forward")?, name, ports)?;
        let connected = websocket::connect(self.client(), &uri, &PROTOCOLS).await?;
        let (sink, stream) = connected.ws.split();
        let (frames_tx, frames_rx) = mpsc::channel(rio::QUEUE);
        rio::spawn_writer(sink, frames_rx);
        let (alive, liveness) = rio::liveness();
        let mut streams = Vec::with_capacity(ports.len());
        let mut senders = Vec::with_capacity(ports.len());
        for (k, &port) in ports.iter().enumerate() {
            let (tx, reader) = ChannelReader::new(alive.clone());
            let data_channel = data_channel(k)?;
            let writer = ChannelWriter::new(
                frames_tx.clone(),
                data_channel,
                OnShutdown::Nothing,
                alive.clone(),
            );
            streams.push(PortStream {
                port,
                reader,
                writer,
            });
            senders.push(PortState {
                port,
                data: Some(tx),
                data_seen: false,
                error_seen: false,
                error_text: Vec::new(),
            });
        }
        let (done_tx, done_rx) = oneshot::channel();
        tokio::spawn(run(stream, senders, done_tx, liveness, frames_tx));
        Ok(PortForward {
            streams,
            done: done_rx,
            http_version: connected.http_version,
            _alive: alive,
        })
    }

    /// Listens on `local` and forwards every accepted connection to pod port `port` of pod
    /// `name`, each over a session of its own (so connections are independent and may be
    /// concurrent), as `kubectl port-forward` does. Port 0 in `local` picks a free port:
    /// see [`LocalPortForward::local_addr`].
    ///
    /// A connection's forwarding ends when the local side closes (the protocol cannot pass a
    /// half-close on) or the pod side ends. Failures of a connection (the pod is gone, the
    /// server reports an error for the port) are logged and kept for
    /// [`LocalPortForward::next_error`].
    pub async fn port_forward_listener(
        &self,
        name: &str,
        local: SocketAddr,
        port: u16,
    ) -> Result<LocalPortForward> {
        // Checks the request before listening.
        port_forward_uri(self.pod_namespace("port-forward")?, name, &[port])?;
        let listener = TcpListener::bind(local).await.map_err(|e| {
            Error::Request(crate::error::RequestError::with_source(
                format!("port-forward: listening on {local}: {e}"),
                e,
            ))
        })?;
        let local_addr = listener.local_addr().map_err(|e| {
            Error::Request(crate::error::RequestError::with_source(
                format!("port-forward: address of the listener on {local}: {e}"),
                e,
            ))
        })?;
        let (errors_tx, errors_rx) = mpsc::channel(64);
        let api = self.clone();
        let name = name.to_string();
        let task = tokio::spawn(async move {
            loop {
                let (tcp, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        tracing::warn!(%local_addr, "port-forward: accepting a connection: {e}");
                        // Out of file descriptors, for example: give it a moment.
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let api = api.clone();
                let name = name.clone();
                let errors = errors_tx.clone();
                tokio::spawn(async move {
                    if let Err(e) = forward_connection(&api, &name, port, tcp).await {
                        tracing::warn!(%peer, pod = %name, port, "port-forward: {e}");
                        let _ = errors.try_send(e);
                    }
                });
            }
        });
        Ok(LocalPortForward {
            local_addr,
            task,
            errors: errors_rx,
        })
    }
}

/// A local listener forwarding to a pod port; stops accepting when dropped (connections
/// under way go on until they end).
#[derive(Debug)]
pub struct LocalPortForward {
    local_addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
    errors: mpsc::Receiver<Error>,
}

impl LocalPortForward {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The next failure of a forwarded connection, waiting for one (up to 64 are kept).
    pub async fn next_error(&mut self) -> Option<Error> {
        self.errors.recv().await
    }
}

impl Drop for LocalPortForward {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Copies between one local connection and a session of its own to pod port `port`.
async fn forward_connection(api: &Api<Pod>, name: &str, port: u16, tcp: TcpStream) -> Result<()> {
    let mut forward = api.port_forward(name, &[port]).await?;
    let stream = forward
        .take_stream(port)
        .ok_or_else(|| RemoteError::Protocol(format!("no stream for port {port}")))?;
    let (mut remote_read, mut remote_write) = stream.into_split();
    let (mut local_read, mut local_write) = tcp.into_split();
    let upstream = async { tokio::io::copy(&mut local_read, &mut remote_write).await };
    let downstream = async {
        let copied = tokio::io::copy(&mut remote_read, &mut local_write).await;
        let _ = local_write.shutdown().await;
        copied
    };
    let result = tokio::select! {
        r = upstream => r,
        r = downstream => r,
    };
    drop((remote_read, remote_write));
    let copied = result.map_err(super::exec::io_to_error);
    // The session's own verdict (an error the server reported) wins over a copy error.
    let verdict = forward.join().await;
    verdict.and(copied.map(|_| ()))
}

/// The data channel of the `k`-th port.
fn data_channel(k: usize) -> Result<u8> {
    u8::try_from(2 * k).map_err(|_| {
        Error::Request(crate::error::RequestError::new(
            "port-forward: at most 128 ports fit in one session",
        ))
    })
}

struct PortState {
    port: u16,
    data: Option<mpsc::Sender<io::Result<Bytes>>>,
    data_seen: bool,
    error_seen: bool,
    error_text: Vec<u8>,
}

/// Reads the session's messages: data to the port's reader, error text to the port's reader
/// (as a typed error) and to [`PortForward::join`].
async fn run(
    mut stream: SplitStream<Ws>,
    mut ports: Vec<PortState>,
    done: oneshot::Sender<Result<()>>,
    mut liveness: Liveness,
    frames: mpsc::Sender<Bytes>,
) {
    let mut frames = Some(frames);
    let mut first_error: Option<RemoteError> = None;
    loop {
        let message = tokio::select! {
            m = stream.next() => m,
            _ = liveness.gone(), if frames.is_some() => {
                frames = None;
                continue;
            }
        };
        let data = match message {
            None => break,
            Some(Ok(Message::Binary(data))) => data,
            Some(Ok(Message::Text(_))) => {
                first_error.get_or_insert(RemoteError::Protocol(
                    "a text message on a binary channel protocol".to_string(),
                ));
                break;
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => {
                first_error.get_or_insert(RemoteError::websocket(e));
                break;
            }
        };
        let Some((ch, payload)) = channel::split(&data) else {
            continue;
        };
        let k = usize::from(ch / 2);
        let Some(state) = ports.get_mut(k) else {
            first_error.get_or_insert(RemoteError::Protocol(format!(
                "a message on channel {ch}, but only {} ports are forwarded",
                ports.len()
            )));
            break;
        };
        let is_data = ch % 2 == 0;
        let seen = if is_data {
            &mut state.data_seen
        } else {
            &mut state.error_seen
        };
        let payload = if *seen {
            payload
        } else {
            *seen = true;
            match channel::strip_port(payload, state.port, ch) {
                Ok(rest) => rest,
                Err(e) => {
                    first_error.get_or_insert(e);
                    break;
                }
            }
        };
        if payload.is_empty() {
            continue;
        }
        if is_data {
            if let Some(tx) = &state.data {
                if tx.send(Ok(payload)).await.is_err() {
                    state.data = None;
                }
            }
        } else {
            // The server writes the whole error text at once, then ends the port.
            state.error_text.extend_from_slice(&payload);
            let message = String::from_utf8_lossy(&state.error_text)
                .trim()
                .to_string();
            let port = state.port;
            if let Some(tx) = state.data.take() {
                let _ = tx
                    .send(Err(RemoteError::PortForward {
                        port,
                        message: message.clone(),
                    }
                    .into_io()))
                    .await;
            }
            first_error.get_or_insert(RemoteError::PortForward { port, message });
        }
    }
    drop(frames);
    if let Some(e) = &first_error {
        for state in &mut ports {
            if let Some(tx) = state.data.take() {
                // After the data already queued: a full queue must not turn the failure
                // into a clean end of stream.
                let error = Err(e.clone().into_io());
                if let Err(mpsc::error::TrySendError::Full(error)) = tx.try_send(error) {
                    tokio::spawn(async move {
                        let _ = tx.send(error).await;
                    });
                }
            }
        }
    }
    drop(ports);
    let _ = done.send(match first_error {
        Some(e) => Err(e.into()),
        None => Ok(()),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_lists_ports() {
        assert_eq!(
            port_forward_uri("ns", "p", &[18081, 18082]).unwrap(),
            "/api/v1/namespaces/ns/pods/p/portforward?ports=18081%2C18082"
        );
        assert!(port_forward_uri("ns", "p", &[]).is_err());
        assert!(port_forward_uri("ns", "p", &[0]).is_err());
        assert!(port_forward_uri("ns", "p", &[80, 80]).is_err());
    }

    #[test]
    fn data_channels_are_even() {
        assert_eq!(data_channel(0).unwrap(), 0);
        assert_eq!(data_channel(3).unwrap(), 6);
        assert!(data_channel(128).is_err());
    }
}
