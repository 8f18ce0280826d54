//! The Kubernetes channel protocol over WebSocket, without I/O: every binary message starts
//! with a channel byte.
//!
//! For exec and attach (`v4.channel.k8s.io`, `v5.channel.k8s.io`): 0 stdin, 1 stdout,
//! 2 stderr, 3 the error channel (a JSON `Status` when the command ends), 4 terminal resize
//! (JSON `{"Width":..,"Height":..}`); `v5` adds 255, "close": `[255, n]` ends stream `n`
//! (the client uses it to signal stdin EOF).
//!
//! For port-forward (`v4.channel.k8s.io`): each requested port `k` (in the order of the
//! `ports` query) has a data channel `2k` and an error channel `2k+1`; the first message the
//! server sends on each of them starts with the port as 2 little-endian bytes.

use bytes::{BufMut, Bytes, BytesMut};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;

use super::RemoteError;

/// Channel of the process's standard input (client to server).
pub const STDIN: u8 = 0;
/// Channel of the process's standard output.
pub const STDOUT: u8 = 1;
/// Channel of the process's standard error.
pub const STDERR: u8 = 2;
/// Channel of the final `Status` (exit code, or why the command failed).
pub const ERROR: u8 = 3;
/// Channel of terminal size changes (client to server).
pub const RESIZE: u8 = 4;
/// `v5` only: `[CLOSE, n]` closes stream `n`.
pub const CLOSE: u8 = 255;

/// The largest payload put in one frame (writes are split).
pub(crate) const MAX_PAYLOAD: usize = 32 * 1024;

/// A version of the channel subprotocol, as negotiated with `Sec-WebSocket-Protocol`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Protocol {
    /// `v5.channel.k8s.io`: v4 plus the close channel (stdin EOF can be signalled).
    V5,
    /// `v4.channel.k8s.io`: a JSON `Status` on the error channel; stdin cannot be closed
    /// alone.
    V4,
}

impl Protocol {
    /// The subprotocol name.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::V5 => "v5.channel.k8s.io",
            Protocol::V4 => "v4.channel.k8s.io",
        }
    }

    /// The protocol with this name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name.trim() {
            "v5.channel.k8s.io" => Some(Protocol::V5),
            "v4.channel.k8s.io" => Some(Protocol::V4),
            _ => None,
        }
    }

    /// Whether one stream can be closed alone (stdin EOF).
    pub fn can_close_streams(self) -> bool {
        self == Protocol::V5
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One message: `channel` then `data`.
pub(crate) fn frame(channel: u8, data: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(data.len() + 1);
    out.put_u8(channel);
    out.put_slice(data);
    out.freeze()
}

/// The `v5` message that closes stream `channel`.
pub(crate) fn close_frame(channel: u8) -> Bytes {
    Bytes::from(vec![CLOSE, channel])
}

/// Splits a received message into channel and payload. `None` for an empty message (which
/// carries nothing and is skipped).
pub(crate) fn split(message: &Bytes) -> Option<(u8, Bytes)> {
    let channel = *message.first()?;
    Some((channel, message.slice(1..)))
}

/// A terminal size in character cells.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct TerminalSize {
    /// Columns.
    pub width: u16,
    /// Rows.
    pub height: u16,
}

impl TerminalSize {
    /// A size of `width` columns and `height` rows.
    pub fn new(width: u16, height: u16) -> Self {
        TerminalSize { width, height }
    }
}

/// The resize message for `size`: `{"Width":w,"Height":h}` on channel 4.
pub(crate) fn resize_frame(size: TerminalSize) -> Bytes {
    let json = format!(r#"{{"Width":{},"Height":{}}}"#, size.width, size.height);
    frame(RESIZE, json.as_bytes())
}

/// How a command ended: its exit code and the server's `Status`.
#[derive(Clone, Debug, PartialEq)]
pub struct ExitStatus {
    code: i32,
    status: Status,
}

impl ExitStatus {
    /// The exit code (0: success).
    pub fn code(&self) -> i32 {
        self.code
    }

    /// Whether the command exited with code 0.
    pub fn success(&self) -> bool {
        self.code == 0
    }

    /// The `Status` the server sent.
    pub fn status(&self) -> &Status {
        &self.status
    }
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit code {}", self.code)
    }
}

/// Decodes the error channel's `Status`: `Success` is exit code 0; a `Failure` with reason
/// `NonZeroExitCode` carries the code in a cause with reason `ExitCode`; any other failure
/// is [`RemoteError::Command`].
pub(crate) fn exit_status(payload: &[u8]) -> Result<ExitStatus, RemoteError> {
    let status: Status = serde_json::from_slice(payload).map_err(|e| {
        RemoteError::Protocol(format!(
            "the error channel carried no Status ({e}): {:?}",
            String::from_utf8_lossy(&payload[..payload.len().min(200)])
        ))
    })?;
    match status.status.as_deref() {
        Some("Success") => Ok(ExitStatus { code: 0, status }),
        _ => {
            let cause = status
                .details
                .as_ref()
                .and_then(|d| d.causes.as_ref())
                .and_then(|causes| {
                    causes
                        .iter()
                        .find(|c| c.reason.as_deref() == Some("ExitCode"))
                });
            match (status.reason.as_deref(), cause) {
                (Some("NonZeroExitCode"), Some(cause)) => {
                    let text = cause.message.as_deref().unwrap_or("");
                    let code = text.trim().parse::<i32>().map_err(|_| {
                        RemoteError::Protocol(format!(
                            "the exit code {text:?} in the error channel's Status is not a number"
                        ))
                    })?;
                    Ok(ExitStatus { code, status })
                }
                _ => Err(RemoteError::Command(Box::new(status))),
            }
        }
    }
}

/// Takes the 2-byte little-endian port off the first message of a port-forward channel and
/// checks it is `expected`; returns the rest.
pub(crate) fn strip_port(payload: Bytes, expected: u16, channel: u8) -> Result<Bytes, RemoteError> {
    if payload.len() < 2 {
        return Err(RemoteError::Protocol(format!(
            "the first message on port-forward channel {channel} has {} bytes, not the 2-byte port",
            payload.len()
        )));
    }
    let port = u16::from_le_bytes([payload[0], payload[1]]);
    if port != expected {
        return Err(RemoteError::Protocol(format!(
            "port-forward channel {channel} is for port {port}, expected {expected}"
        )));
    }
    Ok(payload.slice(2..))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_carry_the_channel_first() {
        assert_eq!(&frame(STDIN, b"abc")[..], b"\x00abc");
        assert_eq!(&frame(RESIZE, b"")[..], b"\x04");
        assert_eq!(&close_frame(STDIN)[..], &[255, 0]);
        let (ch, data) = split(&Bytes::from_static(b"\x02oops")).unwrap();
        assert_eq!((ch, &data[..]), (STDERR, &b"oops"[..]));
        assert!(split(&Bytes::new()).is_none());
    }

    #[test]
    fn resize_is_json_with_capitalised_keys() {
        let f = resize_frame(TerminalSize::new(120, 40));
        assert_eq!(f[0], RESIZE);
        let v: serde_json::Value = serde_json::from_slice(&f[1..]).unwrap();
        assert_eq!(v, serde_json::json!({"Width": 120, "Height": 40}));
    }

    #[test]
    fn protocol_names() {
        assert_eq!(Protocol::from_name("v5.channel.k8s.io"), Some(Protocol::V5));
        assert_eq!(
            Protocol::from_name(" v4.channel.k8s.io"),
            Some(Protocol::V4)
        );
        assert_eq!(Protocol::from_name("channel.k8s.io"), None);
        assert!(Protocol::V5.can_close_streams());
        assert!(!Protocol::V4.can_close_streams());
    }

    #[test]
    fn success_status_is_exit_code_zero() {
        let s = exit_status(br#"{"metadata":{},"status":"Success"}"#).unwrap();
        assert!(s.success());
        assert_eq!(s.code(), 0);
    }

    #[test]
    fn non_zero_exit_code_comes_from_the_causes() {
        let canned = br#"{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}"#;
        let s = exit_status(canned).unwrap();
        assert_eq!(s.code(), 3);
        assert!(!s.success());
        assert_eq!(s.status().reason.as_deref(), Some("NonZeroExitCode"));
    }

    #[test]
    fn other_failures_and_garbage_are_typed_errors() {
        let canned = br#"{"metadata":{},"status":"Failure","message":"executable file not found","reason":"InternalError"}"#;
        match exit_status(canned) {
            Err(RemoteError::Command(status)) => {
                assert_eq!(status.message.as_deref(), Some("executable file not found"))
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            exit_status(b"not json"),
            Err(RemoteError::Protocol(_))
        ));
        let bad_code = br#"{"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"three"}]}}"#;
        assert!(matches!(
            exit_status(bad_code),
            Err(RemoteError::Protocol(m)) if m.contains("three")
        ));
    }

    #[test]
    fn port_prefix_is_little_endian_and_checked() {
        // 18081 = 0x46A1
        let first = Bytes::from_static(&[0xA1, 0x46, b'h', b'i']);
        assert_eq!(&strip_port(first.clone(), 18081, 0).unwrap()[..], b"hi");
        assert!(matches!(
            strip_port(first, 18082, 0),
            Err(RemoteError::Protocol(m)) if m.contains("18081")
        ));
        assert!(strip_port(Bytes::from_static(&[1]), 1, 1).is_err());
    }
}
