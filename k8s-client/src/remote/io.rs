//! The plumbing shared by exec, attach and port-forward: one task writes frames to the
//! WebSocket, handles read and write channels as [`AsyncRead`]/[`AsyncWrite`], and a
//! liveness token that tells the session when every handle is gone.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use futures::stream::SplitSink;
use futures::SinkExt;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::PollSender;

use super::channel::{self, MAX_PAYLOAD};
use super::websocket::Ws;

/// How many frames (or received chunks) may wait in a queue.
pub(crate) const QUEUE: usize = 16;

/// Held by every user-facing handle of a session; when the last one is dropped,
/// [`Liveness::gone`] resolves and the session closes its side.
#[derive(Clone, Debug)]
pub(crate) struct Alive(#[allow(dead_code)] mpsc::Sender<()>);

/// The session's end of the liveness tokens.
pub(crate) struct Liveness(mpsc::Receiver<()>);

pub(crate) fn liveness() -> (Alive, Liveness) {
    let (tx, rx) = mpsc::channel(1);
    (Alive(tx), Liveness(rx))
}

impl Liveness {
    /// Resolves when every [`Alive`] is dropped.
    pub(crate) async fn gone(&mut self) {
        while self.0.recv().await.is_some() {}
    }
}

/// Sends every frame queued on `frames` as a binary message, in order; when every sender is
/// dropped, sends a WebSocket close. Ends early when the connection breaks.
pub(crate) fn spawn_writer(mut sink: SplitSink<Ws, Message>, mut frames: mpsc::Receiver<Bytes>) {
    tokio::spawn(async move {
        while let Some(frame) = frames.recv().await {
            if let Err(e) = sink.send(Message::Binary(frame)).await {
                tracing::debug!("WebSocket write: {e}");
                return;
            }
        }
        if let Err(e) = sink.close().await {
            tracing::debug!("WebSocket close: {e}");
        }
    });
}

/// What a writer does when it is shut down.
#[derive(Clone, Debug)]
pub(crate) enum OnShutdown {
    /// Send this frame (the `v5` close of the stream).
    Send(Bytes),
    /// Nothing can be sent (the protocol has no half-close): shutting down succeeds and
    /// only stops this handle from writing.
    Nothing,
    /// Nothing can be sent, and the caller must know: shutting down fails with this reason.
    Unsupported(&'static str),
}

/// A stream into the remote side (a process's stdin, a forwarded port's data) as
/// [`AsyncWrite`]. Each write is sent as one or more WebSocket messages, in order.
///
/// [`shutdown`](tokio::io::AsyncWriteExt::shutdown) (or dropping it) ends the stream: for
/// exec and attach over `v5.channel.k8s.io` the process sees
/// end-of-file on stdin; `v4.channel.k8s.io` cannot close stdin alone, so there shutdown
/// fails with [`io::ErrorKind::Unsupported`]. For port-forward, whose protocol has no
/// half-close, shutdown only stops this handle from writing.
pub struct ChannelWriter {
    frames: PollSender<Bytes>,
    channel: u8,
    on_shutdown: OnShutdown,
    shut: bool,
    _alive: Alive,
}

impl std::fmt::Debug for ChannelWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelWriter")
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for ChannelReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelReader").finish_non_exhaustive()
    }
}

impl ChannelWriter {
    pub(crate) fn new(
        frames: mpsc::Sender<Bytes>,
        channel: u8,
        on_shutdown: OnShutdown,
        alive: Alive,
    ) -> Self {
        ChannelWriter {
            frames: PollSender::new(frames),
            channel,
            on_shutdown,
            shut: false,
            _alive: alive,
        }
    }

    fn broken() -> io::Error {
        io::Error::new(io::ErrorKind::BrokenPipe, "the remote session is closed")
    }
}

impl Drop for ChannelWriter {
    /// Dropping a writer that was not shut down ends the stream as shutdown would (the close
    /// message is queued; it is lost only when the session is already gone).
    fn drop(&mut self) {
        if self.shut {
            return;
        }
        let OnShutdown::Send(frame) = &self.on_shutdown else {
            return;
        };
        let Some(tx) = self.frames.get_ref().cloned() else {
            return;
        };
        if let Err(mpsc::error::TrySendError::Full(frame)) = tx.try_send(frame.clone()) {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    let _ = tx.send(frame).await;
                });
            }
        }
    }
}

impl AsyncWrite for ChannelWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.shut {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "this stream was shut down",
            )));
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        ready!(self.frames.poll_reserve(cx)).map_err(|_| Self::broken())?;
        let n = buf.len().min(MAX_PAYLOAD);
        let frame = channel::frame(self.channel, &buf[..n]);
        self.frames.send_item(frame).map_err(|_| Self::broken())?;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Frames are queued in order; the session's writer sends them as fast as the
        // connection takes them.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.shut {
            return Poll::Ready(Ok(()));
        }
        match self.on_shutdown.clone() {
            OnShutdown::Send(frame) => {
                ready!(self.frames.poll_reserve(cx)).map_err(|_| Self::broken())?;
                self.frames.send_item(frame).map_err(|_| Self::broken())?;
            }
            OnShutdown::Nothing => {}
            OnShutdown::Unsupported(why) => {
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::Unsupported, why)))
            }
        }
        self.shut = true;
        self.frames.close();
        Poll::Ready(Ok(()))
    }
}

/// A stream from the remote side (a process's stdout or stderr, a forwarded port's data) as
/// [`AsyncRead`]. It ends (reads 0 bytes) when the remote side ends it; a failure of the
/// remote side is an [`io::Error`] wrapping the typed
/// [`RemoteError`](super::RemoteError) (see [`RemoteError::into_io`](super::RemoteError::into_io)).
///
/// The session waits while this stream's small buffer is full: read it (concurrently with
/// the other streams of the session), or drop it to discard what comes.
pub struct ChannelReader {
    chunks: mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
    _alive: Alive,
}

impl ChannelReader {
    /// A reader and the sender the session fills.
    pub(crate) fn new(alive: Alive) -> (mpsc::Sender<io::Result<Bytes>>, Self) {
        let (tx, rx) = mpsc::channel(QUEUE);
        (
            tx,
            ChannelReader {
                chunks: rx,
                current: Bytes::new(),
                _alive: alive,
            },
        )
    }
}

impl AsyncRead for ChannelReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        while self.current.is_empty() {
            match ready!(self.chunks.poll_recv(cx)) {
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(e)) => return Poll::Ready(Err(e)),
                None => return Poll::Ready(Ok(())),
            }
        }
        let n = self.current.len().min(buf.remaining());
        buf.put_slice(&self.current.split_to(n));
        Poll::Ready(Ok(()))
    }
}
