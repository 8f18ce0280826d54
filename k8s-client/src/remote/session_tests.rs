//! Sessions against a local WebSocket server that plays the API server with canned frames:
//! what the client sends (the stdin close, resize) and how it reacts to what a server may send
//! (v4 fallback, exit codes, protocol violations, refusals). The real-server tests are in
//! `tests/remote_*.rs`.

use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::Message;

use super::*;
use crate::{Api, Client, Config};

const LIMIT: Duration = Duration::from_secs(10);

/// What the fake server does once the WebSocket is open: it gets every message the client
/// sends and answers with `reply` (called per message, plus once with `None` at the start).
type Script = Box<dyn FnMut(Option<&[u8]>) -> Vec<Message> + Send>;

/// Starts a one-connection server choosing `protocol` (or refusing with `refuse`), and
/// returns a pod API pointed at it plus the task yielding every binary frame received.
async fn server(
    protocol: &'static str,
    refuse: Option<(u16, &'static str)>,
    mut script: Script,
) -> (Api<Pod>, tokio::task::JoinHandle<(String, Vec<Vec<u8>>)>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut path = String::new();
        // The signature is tungstenite's.
        #[allow(clippy::result_large_err)]
        let callback = |req: &Request, mut resp: Response| -> Result<Response, ErrorResponse> {
            path = req.uri().to_string();
            if let Some((code, body)) = refuse {
                let mut err = ErrorResponse::new(Some(body.to_string()));
                *err.status_mut() = http::StatusCode::from_u16(code).unwrap();
                return Err(err);
            }
            resp.headers_mut()
                .insert("sec-websocket-protocol", protocol.parse().unwrap());
            Ok(resp)
        };
        let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(tcp, callback).await else {
            return (path, Vec::new());
        };
        let mut received = Vec::new();
        for m in script(None) {
            ws.send(m).await.unwrap();
        }
        while let Some(Ok(m)) = ws.next().await {
            if let Message::Binary(data) = m {
                received.push(data.to_vec());
                for reply in script(Some(&data)) {
                    let close = matches!(reply, Message::Close(_));
                    let _ = ws.send(reply).await;
                    if close {
                        return (path, received);
                    }
                }
            }
        }
        (path, received)
    });
    let config = Config::new(format!("http://{addr}").parse().unwrap());
    let client = Client::try_from(config).unwrap();
    (Api::namespaced(client, "ns"), task)
}

fn bin(data: &[u8]) -> Message {
    Message::Binary(Bytes::copy_from_slice(data))
}

const SUCCESS: &[u8] = br#"{"metadata":{},"status":"Success"}"#;

#[tokio::test]
async fn v5_stdin_close_and_resize_are_sent_and_output_arrives() {
    // Echoes stdin to stdout; on the stdin close, reports success and closes.
    let script: Script = Box::new(|m| match m {
        Some([0, data @ ..]) => vec![bin(&[&[1u8][..], data].concat())],
        Some([255, 0]) => vec![bin(&[&[3u8][..], SUCCESS].concat()), Message::Close(None)],
        _ => vec![],
    });
    let (pods, srv) = server("v5.channel.k8s.io", None, script).await;
    let params = AttachParams::default().stdin(true).tty(true).container("c");
    let mut process = pods.exec("p", ["cat"], &params).await.unwrap();
    assert_eq!(process.protocol(), Protocol::V5);
    assert_eq!(process.http_version(), http::Version::HTTP_11);
    let resizer = process.terminal_resizer().unwrap();
    resizer.resize(TerminalSize::new(80, 24)).await.unwrap();
    let mut stdin = process.stdin().unwrap();
    let mut stdout = process.stdout().unwrap();
    stdin.write_all(b"hello").await.unwrap();
    stdin.shutdown().await.unwrap();
    assert!(stdin.write_all(b"late").await.is_err());
    let mut out = Vec::new();
    tokio::time::timeout(LIMIT, stdout.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out, b"hello");
    let status = tokio::time::timeout(LIMIT, process.status())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());

    let (path, frames) = srv.await.unwrap();
    assert_eq!(
        path,
        "/api/v1/namespaces/ns/pods/p/exec?command=cat&container=c&stdin=true&stdout=true&tty=true"
    );
    assert_eq!(frames[0], b"\x04{\"Width\":80,\"Height\":24}");
    assert_eq!(frames[1], b"\x00hello");
    assert_eq!(frames[2], [255, 0], "the stdin close");
    assert_eq!(frames.len(), 3);
}

#[tokio::test]
async fn dropping_stdin_closes_it_too() {
    let script: Script = Box::new(|m| match m {
        Some([255, 0]) => vec![bin(&[&[3u8][..], SUCCESS].concat()), Message::Close(None)],
        _ => vec![],
    });
    let (pods, srv) = server("v5.channel.k8s.io", None, script).await;
    let mut process = pods
        .exec("p", ["cat"], &AttachParams::default().stdin(true))
        .await
        .unwrap();
    drop(process.stdin());
    let status = tokio::time::timeout(LIMIT, process.status())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
    let (_, frames) = srv.await.unwrap();
    assert_eq!(frames, vec![vec![255, 0]]);
}

#[tokio::test]
async fn v4_fallback_exit_code_and_no_stdin_close() {
    let exit7 = br#"{"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"7"}]}}"#;
    let script: Script = Box::new(move |m| match m {
        None => vec![
            bin(b"\x01out"),
            bin(b"\x02err"),
            bin(&[&[3u8][..], exit7].concat()),
            Message::Close(None),
        ],
        _ => vec![],
    });
    let (pods, _server) = server("v4.channel.k8s.io", None, script).await;
    let mut process = pods
        .exec("p", ["x"], &AttachParams::default().stdin(true))
        .await
        .unwrap();
    assert_eq!(process.protocol(), Protocol::V4);
    let mut stdin = process.stdin().unwrap();
    let err = stdin.shutdown().await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::Unsupported);
    let (mut out, mut errs) = (process.stdout().unwrap(), process.stderr().unwrap());
    let (mut a, mut b) = (Vec::new(), Vec::new());
    out.read_to_end(&mut a).await.unwrap();
    errs.read_to_end(&mut b).await.unwrap();
    assert_eq!((&a[..], &b[..]), (&b"out"[..], &b"err"[..]));
    let status = tokio::time::timeout(LIMIT, process.status())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), 7);
}

#[tokio::test]
async fn protocol_violations_are_typed_errors() {
    for bad in [bin(b"\x09what"), Message::Text("hello".into())] {
        let script: Script = Box::new(move |m| match m {
            None => vec![bad.clone()],
            _ => vec![],
        });
        let (pods, _server) = server("v5.channel.k8s.io", None, script).await;
        let process = pods
            .exec("p", ["x"], &AttachParams::default())
            .await
            .unwrap();
        let err = tokio::time::timeout(LIMIT, process.status())
            .await
            .unwrap()
            .unwrap_err();
        assert!(
            matches!(err.find::<RemoteError>(), Some(RemoteError::Protocol(_))),
            "{err:?}"
        );
    }

    // A subprotocol that was not offered.
    let (pods, _server) = server("base64.channel.k8s.io", None, Box::new(|_| vec![])).await;
    let err = pods
        .exec("p", ["x"], &AttachParams::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err.find::<RemoteError>(), Some(RemoteError::Protocol(_))),
        "{err:?}"
    );

    // The connection closes before a status arrives.
    let script: Script = Box::new(|m| match m {
        None => vec![bin(b"\x01partial"), Message::Close(None)],
        _ => vec![],
    });
    let (pods, _server) = server("v5.channel.k8s.io", None, script).await;
    let process = pods
        .exec("p", ["x"], &AttachParams::default())
        .await
        .unwrap();
    let err = tokio::time::timeout(LIMIT, process.status())
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(err.find::<RemoteError>(), Some(RemoteError::Protocol(_))),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_refused_upgrade_is_the_api_error() {
    let status = r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"pods \"p\" is forbidden: no exec for you","reason":"Forbidden","code":403}"#;
    let (pods, _server) = server(
        "v5.channel.k8s.io",
        Some((403, status)),
        Box::new(|_| vec![]),
    )
    .await;
    let err = pods
        .exec("p", ["x"], &AttachParams::default())
        .await
        .unwrap_err();
    assert!(err.is_forbidden(), "{err:?}");
    assert!(err.to_string().contains("no exec for you"), "{err}");
}

#[tokio::test]
async fn port_forward_framing() {
    // Port prefixes first on both channels of both ports, then an echo on port 81's data
    // channel and an error on port 82's error channel.
    let script: Script = Box::new(|m| match m {
        None => vec![
            bin(&[0, 81, 0]),
            bin(&[1, 81, 0]),
            bin(&[2, 82, 0]),
            bin(&[3, 82, 0]),
            bin(b"\x03connection refused"),
        ],
        Some([0, data @ ..]) => vec![bin(&[&[0u8][..], data].concat())],
        _ => vec![],
    });
    let (pods, srv) = server("v4.channel.k8s.io", None, script).await;
    let mut forward = pods.port_forward("p", &[81, 82]).await.unwrap();
    let mut a = forward.take_stream(81).unwrap();
    let mut b = forward.take_stream(82).unwrap();
    a.write_all(b"ping").await.unwrap();
    let mut buf = [0u8; 4];
    tokio::time::timeout(LIMIT, a.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf, b"ping");
    let err = tokio::time::timeout(LIMIT, b.read_to_end(&mut Vec::new()))
        .await
        .unwrap()
        .unwrap_err();
    let typed = err.get_ref().and_then(|e| e.downcast_ref::<RemoteError>());
    assert!(
        matches!(typed, Some(RemoteError::PortForward { port: 82, message }) if message == "connection refused"),
        "{err:?}"
    );
    drop((a, b));
    let joined = tokio::time::timeout(LIMIT, forward.join()).await.unwrap();
    assert!(matches!(
        joined.as_ref().map_err(|e| e.find::<RemoteError>()),
        Err(Some(RemoteError::PortForward { port: 82, .. }))
    ));
    let (path, frames) = srv.await.unwrap();
    assert_eq!(
        path,
        "/api/v1/namespaces/ns/pods/p/portforward?ports=81%2C82"
    );
    assert_eq!(frames, vec![b"\x00ping".to_vec()]);

    // A port prefix that does not match the port asked for.
    let script: Script = Box::new(|m| match m {
        None => vec![bin(&[0, 99, 0])],
        _ => vec![],
    });
    let (pods, _server) = server("v4.channel.k8s.io", None, script).await;
    let forward = pods.port_forward("p", &[81]).await.unwrap();
    let joined = tokio::time::timeout(LIMIT, forward.join()).await.unwrap();
    assert!(
        matches!(
            joined.as_ref().map_err(|e| e.find::<RemoteError>()),
            Err(Some(RemoteError::Protocol(_)))
        ),
        "{joined:?}"
    );
}
