//! Exec and attach: a process in a container, with stdin/stdout/stderr as async streams,
//! a terminal that can be resized, and the exit code.
//!
//! ```no_run
//! use k8s_client::{Api, remote::AttachParams};
//! use k8s_openapi::api::core::v1::Pod;
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # async fn run(client: k8s_client::Client) -> Result<(), Box<dyn std::error::Error>> {
//! let pods: Api<Pod> = Api::namespaced(client, "default");
//! let mut process = pods.exec("my-pod", ["cat"], &AttachParams::default().stdin(true)).await?;
//! let mut stdin = process.stdin().unwrap();
//! let mut stdout = process.stdout().unwrap();
//! stdin.write_all(b"hello").await?;
//! stdin.shutdown().await?; // end of file for `cat`
//! let mut echoed = Vec::new();
//! stdout.read_to_end(&mut echoed).await?;
//! let status = process.status().await?;
//! assert!(status.success());
//! # Ok(())
//! # }
//! ```

use std::io;

use bytes::Bytes;
use futures::stream::SplitStream;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use tokio::io::AsyncReadExt;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

use super::channel::{self, ExitStatus, Protocol, TerminalSize};
use super::io::{self as rio, Alive, ChannelReader, ChannelWriter, Liveness, OnShutdown};
use super::websocket::{self, Ws};
use super::RemoteError;
use crate::error::{Error, Result};
use crate::rest::{Request, Verb};
use crate::Api;

/// The subprotocols offered for exec and attach, most preferred first.
const PROTOCOLS: [&str; 2] = ["v5.channel.k8s.io", "v4.channel.k8s.io"];

/// Which streams an exec or attach opens, in which container, and whether with a terminal.
///
/// The default: stdout and stderr, no stdin, no TTY, the pod's default container.
///
/// ```
/// use k8s_client::remote::AttachParams;
/// let params = AttachParams::default().container("app").stdin(true).tty(true);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachParams {
    container: Option<String>,
    stdin: bool,
    stdout: bool,
    stderr: bool,
    tty: bool,
}

impl Default for AttachParams {
    fn default() -> Self {
        AttachParams {
            container: None,
            stdin: false,
            stdout: true,
            stderr: true,
            tty: false,
        }
    }
}

impl AttachParams {
    /// The container (needed when the pod has more than one and no default annotation).
    pub fn container(mut self, name: impl Into<String>) -> Self {
        self.container = Some(name.into());
        self
    }

    /// Open stdin (default `false`).
    pub fn stdin(mut self, enabled: bool) -> Self {
        self.stdin = enabled;
        self
    }

    /// Open stdout (default `true`).
    pub fn stdout(mut self, enabled: bool) -> Self {
        self.stdout = enabled;
        self
    }

    /// Open stderr (default `true`; with a TTY there is no separate stderr: its output
    /// arrives on stdout, so stderr is not requested).
    pub fn stderr(mut self, enabled: bool) -> Self {
        self.stderr = enabled;
        self
    }

    /// Allocate a terminal (default `false`); resize it with
    /// [`Process::terminal_resizer`].
    pub fn tty(mut self, enabled: bool) -> Self {
        self.tty = enabled;
        self
    }

    /// Whether stderr is requested (never with a TTY).
    fn wants_stderr(&self) -> bool {
        self.stderr && !self.tty
    }

    fn add_query(&self, mut request: Request) -> Result<Request> {
        if !self.stdin && !self.stdout && !self.wants_stderr() {
            return Err(Error::Request(crate::error::RequestError::new(
                "exec/attach needs at least one of stdin, stdout and stderr".to_string(),
            )));
        }
        if let Some(c) = &self.container {
            request = request.query("container", c.as_str());
        }
        for (key, on) in [
            ("stdin", self.stdin),
            ("stdout", self.stdout),
            ("stderr", self.wants_stderr()),
            ("tty", self.tty),
        ] {
            if on {
                request = request.query(key, "true");
            }
        }
        Ok(request)
    }
}

/// The path and query of an exec of `command` in pod `namespace/pod`.
pub(crate) fn exec_uri(
    namespace: &str,
    pod: &str,
    command: &[String],
    params: &AttachParams,
) -> Result<String> {
    if command.is_empty() {
        return Err(Error::Request(crate::error::RequestError::new(format!(
            "exec in pod {namespace}/{pod}: the command is empty"
        ))));
    }
    let mut request = Request::new(Verb::Connect)
        .namespace(namespace)
        .resource("pods")
        .name(pod)
        .subresource("exec");
    for arg in command {
        request = request.query("command", arg.as_str());
    }
    params.add_query(request)?.uri()
}

/// The path and query of an attach to pod `namespace/pod`.
pub(crate) fn attach_uri(namespace: &str, pod: &str, params: &AttachParams) -> Result<String> {
    let request = Request::new(Verb::Connect)
        .namespace(namespace)
        .resource("pods")
        .name(pod)
        .subresource("attach");
    params.add_query(request)?.uri()
}

/// Sends terminal sizes to a process started with a TTY. Cheap to clone.
#[derive(Clone, Debug)]
pub struct TerminalResizer {
    frames: mpsc::Sender<Bytes>,
    _alive: Alive,
}

impl TerminalResizer {
    /// Tells the process's terminal its new size.
    pub async fn resize(&self, size: TerminalSize) -> Result<()> {
        self.frames
            .send(channel::resize_frame(size))
            .await
            .map_err(|_| Error::from(RemoteError::Closed))
    }
}

/// What [`Api::exec_output`] collected.
#[derive(Clone, Debug, PartialEq)]
pub struct ExecOutput {
    /// How the command ended.
    pub status: ExitStatus,
    /// Everything it wrote to stdout.
    pub stdout: Vec<u8>,
    /// Everything it wrote to stderr.
    pub stderr: Vec<u8>,
}

/// A running exec or attach session. Take its streams with [`stdin`](Process::stdin),
/// [`stdout`](Process::stdout), [`stderr`](Process::stderr) (each once), and wait for the
/// end with [`status`](Process::status).
///
/// The session lives until the server ends it (the command exits) or every handle (this
/// one and the streams taken from it) is dropped; then the WebSocket is closed, which ends
/// the command on the server's side.
#[derive(Debug)]
pub struct Process {
    stdin: Option<ChannelWriter>,
    stdout: Option<ChannelReader>,
    stderr: Option<ChannelReader>,
    resizer: Option<TerminalResizer>,
    status: oneshot::Receiver<Result<ExitStatus>>,
    protocol: Protocol,
    http_version: http::Version,
    _alive: Alive,
}

impl Process {
    /// The process's stdin (when requested); `None` once taken.
    ///
    /// Shut it down (or drop it) to send end-of-file: possible with `v5.channel.k8s.io`
    /// (Kubernetes 1.30 and later); see [`ChannelWriter`].
    pub fn stdin(&mut self) -> Option<ChannelWriter> {
        self.stdin.take()
    }

    /// The process's stdout (when requested; with a TTY, the terminal's output); `None`
    /// once taken.
    pub fn stdout(&mut self) -> Option<ChannelReader> {
        self.stdout.take()
    }

    /// The process's stderr (when requested, never with a TTY); `None` once taken.
    pub fn stderr(&mut self) -> Option<ChannelReader> {
        self.stderr.take()
    }

    /// Resizes the terminal (when started with a TTY); `None` once taken.
    pub fn terminal_resizer(&mut self) -> Option<TerminalResizer> {
        self.resizer.take()
    }

    /// The channel subprotocol the server chose.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The HTTP version of the upgraded connection (HTTP/1.1: WebSocket needs it).
    pub fn http_version(&self) -> http::Version {
        self.http_version
    }

    /// Waits for the command to end and returns its exit status. Streams not taken yet are
    /// dropped first (an untaken stdin is closed, so a command reading it sees end-of-file;
    /// untaken output is discarded). Read the taken output streams concurrently or before:
    /// the session waits while one of them is full.
    ///
    /// A command that could not run (missing executable, ...) is
    /// [`RemoteError::Command`] with the server's `Status`; a connection that ends without
    /// a status is [`RemoteError::Protocol`].
    pub async fn status(mut self) -> Result<ExitStatus> {
        drop(self.stdin.take());
        drop(self.stdout.take());
        drop(self.stderr.take());
        drop(self.resizer.take());
        match self.status.await {
            Ok(result) => result,
            Err(_) => {
                Err(RemoteError::Protocol("the session ended without a status".into()).into())
            }
        }
    }
}

impl Api<Pod> {
    /// Runs `command` in pod `name` (`/exec`) and returns the running [`Process`].
    ///
    /// Speaks `v5.channel.k8s.io`, or `v4.channel.k8s.io` when the server offers no more
    /// (then stdin cannot be closed alone). A missing pod or a refusal is
    /// [`Error::Api`] (for example [`Error::is_not_found`]).
    pub async fn exec<I, S>(&self, name: &str, command: I, params: &AttachParams) -> Result<Process>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let command: Vec<String> = command.into_iter().map(Into::into).collect();
        let uri = exec_uri(self.pod_namespace("exec")?, name, &command, params)?;
        start(self, &uri, params).await
    }

    /// Attaches to the main process of pod `name` (`/attach`): its output, and its stdin
    /// and terminal when the container has them. The exit status is the container's.
    pub async fn attach(&self, name: &str, params: &AttachParams) -> Result<Process> {
        let uri = attach_uri(self.pod_namespace("attach")?, name, params)?;
        start(self, &uri, params).await
    }

    /// Runs `command` in pod `name` (in `container`, or the default one) without stdin,
    /// collects stdout and stderr, and returns them with the exit status. A non-zero exit
    /// code is not an error: check [`ExitStatus::code`].
    ///
    /// ```no_run
    /// # async fn run(pods: k8s_client::Api<k8s_openapi::api::core::v1::Pod>) -> Result<(), k8s_client::Error> {
    /// let out = pods.exec_output("my-pod", None, ["sh", "-c", "echo hi; exit 3"]).await?;
    /// assert_eq!(out.status.code(), 3);
    /// assert_eq!(out.stdout, b"hi\n");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn exec_output<I, S>(
        &self,
        name: &str,
        container: Option<&str>,
        command: I,
    ) -> Result<ExecOutput>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut params = AttachParams::default();
        if let Some(c) = container {
            params = params.container(c);
        }
        let mut process = self.exec(name, command, &params).await?;
        let (mut out, mut err) = (process.stdout(), process.stderr());
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        let read_out = async {
            match out.as_mut() {
                Some(r) => r.read_to_end(&mut stdout).await.map(|_| ()),
                None => Ok(()),
            }
        };
        let read_err = async {
            match err.as_mut() {
                Some(r) => r.read_to_end(&mut stderr).await.map(|_| ()),
                None => Ok(()),
            }
        };
        let (a, b) = tokio::join!(read_out, read_err);
        a.and(b).map_err(io_to_error)?;
        let status = process.status().await?;
        Ok(ExecOutput {
            status,
            stdout,
            stderr,
        })
    }
}

/// An I/O error from a session handle back into the crate's error (the typed remote error
/// when it carries one).
pub(crate) fn io_to_error(e: io::Error) -> Error {
    if e.get_ref().is_some_and(|inner| inner.is::<RemoteError>()) {
        if let Some(inner) = e.into_inner() {
            if let Ok(remote) = inner.downcast::<RemoteError>() {
                return Error::from(*remote);
            }
        }
        return RemoteError::Closed.into();
    }
    RemoteError::Io(std::sync::Arc::new(e)).into()
}

async fn start(api: &Api<Pod>, uri: &str, params: &AttachParams) -> Result<Process> {
    let connected = websocket::connect(api.client(), uri, &PROTOCOLS).await?;
    let protocol = Protocol::from_name(&connected.protocol).ok_or_else(|| {
        RemoteError::Protocol(format!("unexpected subprotocol {:?}", connected.protocol))
    })?;
    let (sink, stream) = connected.ws.split();
    let (frames_tx, frames_rx) = mpsc::channel(rio::QUEUE);
    rio::spawn_writer(sink, frames_rx);
    let (alive, liveness) = rio::liveness();

    let stdin = params.stdin.then(|| {
        let on_shutdown = if protocol.can_close_streams() {
            OnShutdown::Send(channel::close_frame(channel::STDIN))
        } else {
            OnShutdown::Unsupported(
                "the server speaks v4.channel.k8s.io, which cannot close stdin alone",
            )
        };
        ChannelWriter::new(
            frames_tx.clone(),
            channel::STDIN,
            on_shutdown,
            alive.clone(),
        )
    });
    let (out_tx, stdout) = if params.stdout {
        let (tx, rx) = ChannelReader::new(alive.clone());
        (Some(tx), Some(rx))
    } else {
        (None, None)
    };
    let (err_tx, stderr) = if params.wants_stderr() {
        let (tx, rx) = ChannelReader::new(alive.clone());
        (Some(tx), Some(rx))
    } else {
        (None, None)
    };
    let resizer = params.tty.then(|| TerminalResizer {
        frames: frames_tx.clone(),
        _alive: alive.clone(),
    });
    let (status_tx, status_rx) = oneshot::channel();
    tokio::spawn(run(
        stream,
        Outputs {
            stdout: out_tx,
            stderr: err_tx,
        },
        status_tx,
        liveness,
        frames_tx,
    ));
    Ok(Process {
        stdin,
        stdout,
        stderr,
        resizer,
        status: status_rx,
        protocol,
        http_version: connected.http_version,
        _alive: alive,
    })
}

struct Outputs {
    stdout: Option<mpsc::Sender<io::Result<Bytes>>>,
    stderr: Option<mpsc::Sender<io::Result<Bytes>>>,
}

impl Outputs {
    fn slot(&mut self, channel: u8) -> Option<&mut Option<mpsc::Sender<io::Result<Bytes>>>> {
        match channel {
            channel::STDOUT => Some(&mut self.stdout),
            channel::STDERR => Some(&mut self.stderr),
            _ => None,
        }
    }

    /// Hands `data` to the stream's reader (dropped when nobody reads it any more).
    async fn deliver(&mut self, channel: u8, data: Bytes) {
        if let Some(slot) = self.slot(channel) {
            if let Some(tx) = slot {
                if tx.send(Ok(data)).await.is_err() {
                    *slot = None;
                }
            }
        }
    }

    fn fail(&mut self, e: &RemoteError) {
        for tx in [self.stdout.take(), self.stderr.take()]
            .into_iter()
            .flatten()
        {
            // After the output already queued (a full queue must not turn the failure into
            // a clean end of stream).
            let error = Err(e.clone().into_io());
            if let Err(mpsc::error::TrySendError::Full(error)) = tx.try_send(error) {
                tokio::spawn(async move {
                    let _ = tx.send(error).await;
                });
            }
        }
    }
}

/// Reads the session's messages until the server closes it: output to the readers, the
/// status to the waiter. When every handle is gone, drops its own frame sender, so the
/// writer closes the WebSocket.
async fn run(
    mut stream: SplitStream<Ws>,
    mut outputs: Outputs,
    status_tx: oneshot::Sender<Result<ExitStatus>>,
    mut liveness: Liveness,
    frames: mpsc::Sender<Bytes>,
) {
    let mut frames = Some(frames);
    let mut status: Option<Result<ExitStatus>> = None;
    let mut failure: Option<RemoteError> = None;
    loop {
        let message = tokio::select! {
            m = stream.next() => m,
            _ = liveness.gone(), if frames.is_some() => {
                frames = None;
                continue;
            }
        };
        let message = match message {
            None => break,
            Some(Ok(m)) => m,
            Some(Err(e)) => {
                failure = Some(RemoteError::websocket(e));
                break;
            }
        };
        let data = match message {
            Message::Binary(data) => data,
            Message::Close(_) => continue,
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
            Message::Text(_) => {
                failure = Some(RemoteError::Protocol(
                    "a text message on a binary channel protocol".to_string(),
                ));
                break;
            }
        };
        let Some((ch, payload)) = channel::split(&data) else {
            continue;
        };
        match ch {
            channel::STDOUT | channel::STDERR => outputs.deliver(ch, payload).await,
            channel::ERROR => {
                // The command ended: its output is complete.
                outputs.stdout = None;
                outputs.stderr = None;
                if status.is_none() {
                    status = Some(channel::exit_status(&payload).map_err(Error::from));
                }
            }
            channel::CLOSE => {
                if let Some(&closed) = payload.first() {
                    if let Some(slot) = outputs.slot(closed) {
                        *slot = None;
                    }
                }
            }
            other => {
                failure = Some(RemoteError::Protocol(format!(
                    "a message on channel {other}, which exec/attach does not use"
                )));
                break;
            }
        }
    }
    drop(frames);
    let result = match (status, failure) {
        (Some(s), _) => s,
        (None, Some(e)) => {
            outputs.fail(&e);
            Err(e.into())
        }
        (None, None) => Err(RemoteError::Protocol(
            "the connection closed before the exit status arrived".to_string(),
        )
        .into()),
    };
    drop(outputs);
    let _ = status_tx.send(result);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn exec_uri_repeats_command_and_sets_streams() {
        let uri = exec_uri(
            "ns",
            "p",
            &cmd(&["sh", "-c", "echo a&b"]),
            &AttachParams::default().container("c"),
        )
        .unwrap();
        assert_eq!(
            uri,
            "/api/v1/namespaces/ns/pods/p/exec?command=sh&command=-c&command=echo%20a%26b&container=c&stdout=true&stderr=true"
        );
    }

    #[test]
    fn tty_drops_stderr() {
        let uri = exec_uri(
            "ns",
            "p",
            &cmd(&["sh"]),
            &AttachParams::default().stdin(true).tty(true),
        )
        .unwrap();
        assert_eq!(
            uri,
            "/api/v1/namespaces/ns/pods/p/exec?command=sh&stdin=true&stdout=true&tty=true"
        );
    }

    #[test]
    fn attach_uri_and_bad_input() {
        assert_eq!(
            attach_uri("ns", "p", &AttachParams::default().stderr(false)).unwrap(),
            "/api/v1/namespaces/ns/pods/p/attach?stdout=true"
        );
        assert!(exec_uri("ns", "p", &[], &AttachParams::default()).is_err());
        let none = AttachParams::default().stdout(false).stderr(false);
        assert!(attach_uri("ns", "p", &none).is_err());
        assert!(exec_uri("ns", "../x", &cmd(&["ls"]), &AttachParams::default()).is_err());
    }
}
