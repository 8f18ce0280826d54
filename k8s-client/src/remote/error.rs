//! [`RemoteError`]: what can go wrong on an upgraded connection after the server accepted it.
//!
//! A refused upgrade (the server answered 4xx/5xx instead of `101`) is not here: it is
//! [`Error::Api`](crate::Error::Api) with the server's `Status`, as for any other request.

use std::fmt;
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;

/// A failure of exec, attach or port-forward once the connection was upgraded.
///
/// Cloneable, so that every stream of a session can be handed the failure that ended it;
/// the error underneath (the WebSocket library's, an I/O error) is shared and stays
/// reachable as the [`source`](std::error::Error::source).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum RemoteError {
    /// The server broke the stream protocol (an unexpected frame, channel, port or status),
    /// or did not agree to a subprotocol this client speaks.
    Protocol(String),
    /// The WebSocket connection failed (broken connection, invalid WebSocket frame); the
    /// WebSocket library's error is the source.
    WebSocket(Arc<dyn std::error::Error + Send + Sync>),
    /// Reading or writing a stream of the session, or a local connection forwarded to it,
    /// failed; the [`std::io::Error`] is the source.
    Io(Arc<std::io::Error>),
    /// The session is closed (the server ended it or the connection broke), so nothing more
    /// can be sent.
    Closed,
    /// The command could not be run or failed without an exit code (for example: the
    /// executable does not exist, the container is not running). The server's `Status`
    /// is kept.
    Command(Box<Status>),
    /// The remote side could not forward `port` (nothing listens there, the pod is gone):
    /// the text the server sent on the port's error channel.
    PortForward {
        /// The pod port.
        port: u16,
        /// What the server reported.
        message: String,
    },
}

impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RemoteError::Protocol(message) => write!(f, "stream protocol: {message}"),
            RemoteError::WebSocket(e) => write!(f, "WebSocket: {e}"),
            RemoteError::Io(e) => write!(f, "I/O: {e}"),
            RemoteError::Closed => f.write_str("the remote session is closed"),
            RemoteError::Command(status) => write!(
                f,
                "the command failed: {}",
                status.message.as_deref().unwrap_or("no message")
            ),
            RemoteError::PortForward { port, message } => {
                write!(f, "forwarding port {port}: {message}")
            }
        }
    }
}

impl std::error::Error for RemoteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            // The shared error itself (not the `Arc`), so that `downcast_ref` finds its type.
            RemoteError::WebSocket(e) => Some(&**e),
            RemoteError::Io(e) => Some(&**e),
            _ => None,
        }
    }
}

impl RemoteError {
    /// A WebSocket failure, keeping `error` as the source.
    pub(crate) fn websocket(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        RemoteError::WebSocket(Arc::new(error))
    }

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

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use tokio_tungstenite::tungstenite;

    use super::*;

    #[test]
    fn a_websocket_error_is_the_source_and_survives_clones_and_io() {
        let error = RemoteError::websocket(tungstenite::Error::ConnectionClosed);
        let source = error.source().expect("the WebSocket error is the source");
        assert!(
            matches!(
                source.downcast_ref::<tungstenite::Error>(),
                Some(tungstenite::Error::ConnectionClosed)
            ),
            "{source:?}"
        );
        // Every stream of a session gets a clone; the cause stays typed in each.
        let copy = error.clone();
        assert!(copy.source().is_some_and(|s| s.is::<tungstenite::Error>()));
        // Through an io::Error (what the AsyncRead handles give) and back.
        let back = super::super::exec::io_to_error(copy.into_io());
        assert!(back.find::<tungstenite::Error>().is_some(), "{back:?}");
        assert!(
            matches!(back.find::<RemoteError>(), Some(RemoteError::WebSocket(_))),
            "{back:?}"
        );
        assert!(error.to_string().starts_with("WebSocket: "), "{error}");
    }

    #[test]
    fn an_io_error_of_a_session_is_kept() {
        let e = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
        let error = super::super::exec::io_to_error(e);
        let io = error
            .find::<std::io::Error>()
            .expect("the I/O error is kept");
        assert_eq!(io.kind(), std::io::ErrorKind::ConnectionReset);
        assert!(
            matches!(error.find::<RemoteError>(), Some(RemoteError::Io(_))),
            "{error:?}"
        );
    }
}
