//! [`RemoteError`]: what can go wrong on an upgraded connection after the server accepted it.
//!
//! A refused upgrade (the server answered 4xx/5xx instead of `101`) is not here: it is
//! [`Error::Api`](crate::Error::Api) with the server's `Status`, as for any other request.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;

/// A failure of exec, attach or port-forward once the connection was upgraded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteError {
    /// The server broke the stream protocol (an unexpected frame, channel, port or status),
    /// or did not agree to a subprotocol this client speaks.
    #[error("stream protocol: {0}")]
    Protocol(String),
    /// The WebSocket connection failed (broken connection, invalid WebSocket frame).
    #[error("WebSocket: {0}")]
    WebSocket(String),
    /// The session is closed (the server ended it or the connection broke), so nothing more
    /// can be sent.
    #[error("the remote session is closed")]
    Closed,
    /// The command could not be run or failed without an exit code (for example: the
    /// executable does not exist, the container is not running). The server's `Status`
    /// is kept.
    #[error("the command failed: {}", .0.message.as_deref().unwrap_or("no message"))]
    Command(Box<Status>),
    /// The remote side could not forward `port` (nothing listens there, the pod is gone):
    /// the text the server sent on the port's error channel.
    #[error("forwarding port {port}: {message}")]
    PortForward {
        /// The pod port.
        port: u16,
        /// What the server reported.
        message: String,
    },
}

impl RemoteError {
    /// Turns this error into an [`std::io::Error`] (kind `Other`) for the `AsyncRead` and
    /// `AsyncWrite` handles; the typed error stays reachable with
    /// [`std::io::Error::get_ref`] and `downcast_ref::<RemoteError>()`.
    pub fn into_io(self) -> std::io::Error {
        std::io::Error::other(self)
    }
}

impl From<RemoteError> for crate::error::Error {
    /// Kept whole as [`Error::Other`](crate::error::Error::Other): `is_not_found()` and
    /// friends see the API error inside, and `find::<RemoteError>()` gives it back.
    fn from(e: RemoteError) -> Self {
        crate::error::Error::other(e)
    }
}
