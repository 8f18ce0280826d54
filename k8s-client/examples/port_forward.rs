//! Forwards a local port to a pod's port, like `kubectl port-forward POD [LOCAL:]REMOTE`:
//! a local listener whose every connection is carried to the pod port over a session of
//! its own through the API server. With `--send TEXT` (or `--http-get PATH`) the example
//! also makes one connection through the tunnel itself, sends the text (or an HTTP GET),
//! prints what came back, and stops; without either it forwards until Ctrl-C.
//!
//! client-go: `tools/portforward` (`portforward.New(dialer, []string{"8080:80"}, stop,
//! ready, out, errOut)` and `ForwardPorts()`) over the `pods/portforward` subresource,
//! with the WebSocket dialer (`NewSPDYOverWebsocketDialer`).
//!
//! Run it by hand (kubectl's connection flags; without them, the current context of
//! `$KUBECONFIG` or `~/.kube/config`, or the in-cluster account):
//!
//! ```sh
//! kubectl -n Y run web --image=nginx --port=80
//! cargo run -p k8s-client --example port_forward -- --context X -n Y web 8080:80 --http-get /
//! cargo run -p k8s-client --example port_forward -- --context X -n Y web 8080:80   # then curl localhost:8080
//! ```
//!
//! The ports are read as kubectl reads them: `PORT` (the same port locally), `:REMOTE` (a
//! free local port is picked) or `LOCAL:REMOTE`; `--address` sets the local address
//! (default `127.0.0.1`).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use k8s_client::config::{InClusterPaths, KubeConfigOptions};
use k8s_client::{Api, Client, Config};
use k8s_openapi::api::core::v1::Pod;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const USAGE: &str = "usage: port_forward [--kubeconfig FILE] [--context NAME] [-n NAMESPACE] \
                     [--address IP] POD [LOCAL:]REMOTE [--send TEXT | --http-get PATH]";

/// How long to wait for the answer through the tunnel.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(20);

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("port_forward: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    // kubectl's connection flags (--kubeconfig, --context, -n, ...); the rest is ours.
    let (options, rest) = KubeConfigOptions::from_args(std::env::args().skip(1))?;
    let mut args = rest.into_iter();
    let (mut pod, mut ports, mut address) = (None, None, IpAddr::from([127, 0, 0, 1]));
    let mut payload: Option<Vec<u8>> = None;
    let mut http = false;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--address" => {
                let v = args.next().ok_or("--address needs an IP address")?;
                address = v
                    .parse()
                    .map_err(|e| format!("--address {v:?} is not an IP address: {e}"))?;
            }
            "--send" => payload = Some(args.next().ok_or("--send needs a text")?.into_bytes()),
            "--http-get" => {
                let path = args.next().ok_or("--http-get needs a path")?;
                let request = format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n");
                payload = Some(request.into_bytes());
                http = true;
            }
            _ if arg.starts_with('-') => {
                return Err(format!("unexpected argument {arg:?}; {USAGE}").into())
            }
            _ if pod.is_none() => pod = Some(arg),
            _ if ports.is_none() => ports = Some(parse_ports(&arg)?),
            _ => return Err(format!("unexpected argument {arg:?}; {USAGE}").into()),
        }
    }
    let (pod, (local_port, remote_port)) = match (pod, ports) {
        (Some(pod), Some(ports)) => (pod, ports),
        _ => return Err(USAGE.into()),
    };

    let config = Config::infer_with(&options, &InClusterPaths::from_env()).await?;
    let client = Client::try_from(config)?;
    let namespace = client.default_namespace().to_string();
    let pods: Api<Pod> = Api::namespaced(client, &namespace);
    // Fails early (and clearly) when the pod is not there.
    pods.get(&pod).await?;

    let mut forward = pods
        .port_forward_listener(&pod, SocketAddr::new(address, local_port), remote_port)
        .await?;
    let local = forward.local_addr();
    println!("Forwarding from {local} -> {namespace}/{pod}:{remote_port}");

    let Some(payload) = payload else {
        // Forward until Ctrl-C, reporting failed connections as they happen.
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                Some(e) = forward.next_error() => eprintln!("a forwarded connection failed: {e}"),
            }
        }
        println!("stopped forwarding");
        return Ok(());
    };

    // One connection through the tunnel: send, then read the answer.
    let mut conn = tokio::net::TcpStream::connect(local).await?;
    conn.write_all(&payload).await?;
    println!("sent {} bytes through {local}", payload.len());
    let answer = tokio::time::timeout(ANSWER_TIMEOUT, read_answer(&mut conn, payload.len(), http))
        .await
        .map_err(|_| format!("no complete answer within {ANSWER_TIMEOUT:?}"))??;
    println!("received {} bytes:", answer.len());
    println!("{}", String::from_utf8_lossy(&answer));
    // Dropping the listener stops forwarding.
    drop(conn);
    drop(forward);
    println!("stopped forwarding");
    Ok(())
}

/// Reads the answer: up to the end of the connection (HTTP/1.0 closes it), or, for plain
/// text, as many bytes as were sent (an echo) unless the pod side closes first.
async fn read_answer(
    conn: &mut tokio::net::TcpStream,
    sent: usize,
    http: bool,
) -> std::io::Result<Vec<u8>> {
    let mut answer = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = conn.read(&mut buf).await?;
        if n == 0 {
            return Ok(answer);
        }
        answer.extend_from_slice(&buf[..n]);
        if !http && answer.len() >= sent {
            return Ok(answer);
        }
    }
}

/// `PORT` (the same port locally), `:REMOTE` (any free local port) or `LOCAL:REMOTE`, as
/// kubectl reads them.
fn parse_ports(spec: &str) -> Result<(u16, u16), String> {
    let port = |s: &str| {
        s.parse::<u16>()
            .map_err(|e| format!("port {s:?} in {spec:?}: {e}"))
    };
    let (local, remote) = match spec.split_once(':') {
        Some(("", remote)) => (0, port(remote)?),
        Some((local, remote)) => (port(local)?, port(remote)?),
        None => {
            let p = port(spec)?;
            (p, p)
        }
    };
    if remote == 0 {
        return Err(format!("the pod port in {spec:?} cannot be 0"));
    }
    Ok((local, remote))
}
