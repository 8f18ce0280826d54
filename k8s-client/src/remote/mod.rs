//! Streaming subresources of pods: logs, exec, attach and port-forward.
//!
//! * **Logs** ([`Api::logs`](crate::Api::logs), [`Api::log_stream`](crate::Api::log_stream)):
//!   ordinary requests on the client's pooled (HTTP/2) connections; a followed log is a
//!   stream of bytes or of lines.
//! * **Exec and attach**, feature `remote` ([`Api::exec`](crate::Api::exec),
//!   [`Api::attach`](crate::Api::attach), [`Api::exec_output`](crate::Api::exec_output)): a
//!   WebSocket speaking the channel protocol `v5.channel.k8s.io` (or `v4.channel.k8s.io` with
//!   older servers), with stdin, stdout and stderr as async streams, terminal resizing and the
//!   exit code.
//! * **Port-forward**, feature `remote` ([`Api::port_forward`](crate::Api::port_forward),
//!   [`Api::port_forward_listener`](crate::Api::port_forward_listener)): a WebSocket per
//!   session, each forwarded port an async read/write stream; the listener opens one session
//!   per accepted local connection.
//!
//! WebSocket sessions are HTTP/1.1 upgrades made with [`Client::upgrade`](crate::Client::upgrade):
//! the same credentials, client certificate, TLS settings and proxy as every other request.
//! A refused upgrade (a missing pod, no permission) is [`Error::Api`] with
//! the server's `Status`; what goes wrong after it is a [`RemoteError`].
//!
//! ```no_run
//! use k8s_client::Api;
//! use k8s_openapi::api::core::v1::Pod;
//!
//! # async fn run(client: k8s_client::Client) -> Result<(), k8s_client::Error> {
//! let pods: Api<Pod> = Api::namespaced(client, "default");
//! let out = pods.exec_output("my-pod", None, ["echo", "hello"]).await?;
//! assert!(out.status.success());
//! assert_eq!(out.stdout, b"hello\n");
//! # Ok(())
//! # }
//! ```

use k8s_openapi::api::core::v1::Pod;

use crate::error::{Error, RequestError, Result};
use crate::Api;

#[cfg(feature = "remote")]
mod channel;
#[cfg(feature = "remote")]
mod error;
#[cfg(feature = "remote")]
mod exec;
#[cfg(feature = "remote")]
mod io;
mod logs;
#[cfg(feature = "remote")]
mod portforward;
#[cfg(feature = "remote")]
mod websocket;

#[cfg(all(test, feature = "remote"))]
mod session_tests;

#[cfg(feature = "remote")]
#[cfg_attr(docsrs, doc(cfg(feature = "remote")))]
pub use channel::{ExitStatus, Protocol, TerminalSize};
#[cfg(feature = "remote")]
#[cfg_attr(docsrs, doc(cfg(feature = "remote")))]
pub use error::RemoteError;
#[cfg(feature = "remote")]
#[cfg_attr(docsrs, doc(cfg(feature = "remote")))]
pub use exec::{AttachParams, ExecOutput, Process, TerminalResizer};
#[cfg(feature = "remote")]
#[cfg_attr(docsrs, doc(cfg(feature = "remote")))]
pub use io::{ChannelReader, ChannelWriter};
pub use logs::{LogParams, LogStream};
#[cfg(feature = "remote")]
#[cfg_attr(docsrs, doc(cfg(feature = "remote")))]
pub use portforward::{LocalPortForward, PortForward, PortStream};

impl Api<Pod> {
    /// The namespace of this handle, which exec, attach, logs and port-forward need.
    pub(crate) fn pod_namespace(&self, what: &str) -> Result<&str> {
        self.namespace().ok_or_else(|| {
            Error::Request(RequestError::new(format!(
                "{what} needs a namespaced Api<Pod> (Api::namespaced), not one over all namespaces"
            )))
        })
    }
}

/// The channel numbers of the exec/attach protocol: 0 stdin, 1 stdout, 2 stderr, 3 the
/// final `Status`, 4 terminal resize, 255 close a stream (`v5`).
#[cfg(feature = "remote")]
#[cfg_attr(docsrs, doc(cfg(feature = "remote")))]
pub mod channels {
    pub use super::channel::{CLOSE, ERROR, RESIZE, STDERR, STDIN, STDOUT};
}
