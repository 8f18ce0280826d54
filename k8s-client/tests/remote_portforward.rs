//! Port-forward end to end: through the real kube-apiserver to KWOK's fake kubelet, which
//! forwards pod ports 18081-18083 to the same ports on 127.0.0.1, where each test runs its
//! own TCP echo server. A port is used by one test at a time (the locks below).

use std::time::Duration;

use k8s_client::remote::RemoteError;
use k8s_client::Api;
use k8s_client_testsupport as ts;
use k8s_openapi::api::core::v1::Pod;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, MutexGuard};

const LIMIT: Duration = Duration::from_secs(40);

/// One lock per forwarded port (18081, 18082, 18083); take them in ascending order.
static PORTS: [Mutex<()>; 3] = [
    Mutex::const_new(()),
    Mutex::const_new(()),
    Mutex::const_new(()),
];

async fn lock(port: u16) -> MutexGuard<'static, ()> {
    let i = ts::kwok::FORWARDED_PORTS
        .iter()
        .position(|p| *p == port)
        .expect("a port KWOK forwards");
    PORTS[i].lock().await
}

/// A TCP echo server on 127.0.0.1:`port`, stopped when the returned handle is dropped.
async fn echo_server(port: u16) -> AbortOnDrop {
    // The previous holder of this port aborts its server task on drop, but the listener is
    // closed only when that task is dropped, which may be a moment after the port's lock was
    // released: wait for it (bounded) rather than fail.
    let mut tries = 0;
    let listener = loop {
        match TcpListener::bind(("127.0.0.1", port)).await {
            Ok(l) => break l,
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && tries < 100 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("binding the echo server on 127.0.0.1:{port}: {e}"),
        }
    };
    AbortOnDrop(tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let (mut r, mut w) = conn.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
                let _ = w.shutdown().await;
            });
        }
    }))
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn setup(prefix: &str) -> (ts::TestNamespace, ts::kwok::RunningPod, Api<Pod>) {
    let ns = ts::namespace(prefix).await;
    let pod = ts::kwok::running_pod(&ns, "p").await;
    let mut config = ts::config("admin").await;
    config.rate_limit = None;
    let client = k8s_client::Client::try_from(config).unwrap();
    let pods: Api<Pod> = Api::namespaced(client, &ns.name);
    (ns, pod, pods)
}

fn pattern(size: usize, seed: usize) -> Vec<u8> {
    (0..size)
        .map(|i| ((i * 31 + seed) ^ (i >> 11)) as u8)
        .collect()
}

#[tokio::test]
async fn port_forward_stream_moves_ten_mebibytes_both_ways() {
    let _port = lock(18081).await;
    let _echo = echo_server(18081).await;
    let (_ns, pod, pods) = setup("pf-stream").await;
    let mut forward = pods.port_forward(&pod.name, &[18081]).await.unwrap();
    assert_eq!(forward.http_version(), http::Version::HTTP_11);
    let stream = forward.take_stream(18081).unwrap();
    assert!(forward.take_stream(18081).is_none());
    assert_eq!(stream.port(), 18081);
    let (mut reader, mut writer) = stream.into_split();

    const SIZE: usize = 10 * 1024 * 1024;
    let data = pattern(SIZE, 5);
    let expected = data.clone();
    let started = std::time::Instant::now();
    let write = tokio::spawn(async move {
        writer.write_all(&data).await.unwrap();
        writer
    });
    let mut echoed = vec![0u8; SIZE];
    tokio::time::timeout(LIMIT, reader.read_exact(&mut echoed))
        .await
        .expect("10 MiB through port-forward took too long")
        .unwrap();
    let writer = write.await.unwrap();
    assert!(echoed == expected, "the echoed data differs");
    eprintln!(
        "10 MiB each way through port-forward in {:?}",
        started.elapsed()
    );
    drop((reader, writer));
    tokio::time::timeout(LIMIT, forward.join())
        .await
        .expect("the session did not end after its streams were dropped")
        .unwrap();
}

#[tokio::test]
async fn port_forward_three_ports_at_once_carry_data_on_each() {
    let _locks = (lock(18081).await, lock(18082).await, lock(18083).await);
    let _echo = (
        echo_server(18081).await,
        echo_server(18082).await,
        echo_server(18083).await,
    );
    let (_ns, pod, pods) = setup("pf-three").await;
    let ports = ts::kwok::FORWARDED_PORTS;
    let mut forward = pods.port_forward(&pod.name, &ports).await.unwrap();
    // All three at the same time, each with data of its own: a stream mixed up with another
    // (or a port's data sent on another's channel) gets the wrong bytes back.
    const SIZE: usize = 256 * 1024;
    let mut tasks = Vec::new();
    for (seed, port) in ports.into_iter().enumerate() {
        let stream = forward.take_stream(port).unwrap();
        assert_eq!(stream.port(), port);
        tasks.push(tokio::spawn(async move {
            let (mut reader, mut writer) = stream.into_split();
            let data = pattern(SIZE, seed + 1);
            let expected = data.clone();
            let write = tokio::spawn(async move {
                writer.write_all(&data).await.unwrap();
                writer
            });
            let mut echoed = vec![0u8; SIZE];
            tokio::time::timeout(LIMIT, reader.read_exact(&mut echoed))
                .await
                .unwrap_or_else(|_| panic!("port {port}: no echo in time"))
                .unwrap();
            let writer = write.await.unwrap();
            assert!(echoed == expected, "port {port}: the echoed data differs");
            drop((reader, writer));
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    tokio::time::timeout(LIMIT, forward.join())
        .await
        .expect("the session did not end after its streams were dropped")
        .unwrap();
}

#[tokio::test]
async fn port_forward_two_ports_and_a_typed_error_for_the_closed_one() {
    let _a = lock(18081).await;
    let _b = lock(18083).await;
    let _echo = echo_server(18081).await;
    // Nothing listens on 18083: KWOK's dial fails and it reports it on the error channel.
    let (_ns, pod, pods) = setup("pf-two").await;
    let mut forward = pods.port_forward(&pod.name, &[18081, 18083]).await.unwrap();
    let mut good = forward.take_stream(18081).unwrap();
    let mut bad = forward.take_stream(18083).unwrap();

    good.write_all(b"ping").await.unwrap();
    let mut buf = [0u8; 4];
    tokio::time::timeout(LIMIT, good.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf, b"ping");

    let mut sink = Vec::new();
    let err = tokio::time::timeout(LIMIT, bad.read_to_end(&mut sink))
        .await
        .expect("no error for the closed port")
        .unwrap_err();
    let remote = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<RemoteError>())
        .unwrap_or_else(|| panic!("not a typed error: {err:?}"));
    match remote {
        RemoteError::PortForward { port, message } => {
            assert_eq!(*port, 18083);
            assert!(!message.is_empty());
        }
        other => panic!("{other:?}"),
    }
    drop((good, bad));
    let joined = tokio::time::timeout(LIMIT, forward.join()).await.unwrap();
    assert!(
        matches!(
            joined.as_ref().map_err(|e| e.find::<RemoteError>()),
            Err(Some(RemoteError::PortForward { port: 18083, .. }))
        ),
        "{joined:?}"
    );
}

#[tokio::test]
async fn port_forward_listener_serves_concurrent_connections() {
    let _port = lock(18082).await;
    let _echo = echo_server(18082).await;
    let (_ns, pod, pods) = setup("pf-listen").await;
    let listener = pods
        .port_forward_listener(&pod.name, "127.0.0.1:0".parse().unwrap(), 18082)
        .await
        .unwrap();
    let addr = listener.local_addr();
    assert_ne!(addr.port(), 0);

    let clients = (0..6).map(|n| {
        tokio::spawn(async move {
            let mut conn = TcpStream::connect(addr).await.unwrap();
            let data = pattern(256 * 1024 + n, n);
            let (mut r, mut w) = conn.split();
            let mut echoed = vec![0u8; data.len()];
            let (wrote, read) = tokio::join!(w.write_all(&data), r.read_exact(&mut echoed));
            wrote.unwrap();
            read.unwrap();
            assert!(echoed == data, "connection {n}: the echoed data differs");
            n
        })
    });
    let done = tokio::time::timeout(LIMIT, futures::future::join_all(clients))
        .await
        .expect("the forwarded connections did not finish");
    let mut ids: Vec<usize> = done.into_iter().map(|r| r.unwrap()).collect();
    ids.sort();
    assert_eq!(ids, (0..6).collect::<Vec<_>>());

    // A second round on new connections: each gets a fresh session.
    let mut conn = TcpStream::connect(addr).await.unwrap();
    conn.write_all(b"again").await.unwrap();
    let mut buf = [0u8; 5];
    tokio::time::timeout(LIMIT, conn.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf, b"again");
}

#[tokio::test]
async fn port_forward_to_a_missing_pod_is_not_found() {
    let ns = ts::namespace("pf-missing").await;
    let pods: Api<Pod> = Api::namespaced(ts::client().await, &ns.name);
    let err = pods
        .port_forward("no-such-pod", &[18081])
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
}

#[tokio::test]
async fn port_forward_listener_reports_remote_errors() {
    // Nothing listens on 18083: the connection is closed and the typed error is kept.
    let _port = lock(18083).await;
    let (_ns, pod, pods) = setup("pf-listen-err").await;
    let mut listener = pods
        .port_forward_listener(&pod.name, "127.0.0.1:0".parse().unwrap(), 18083)
        .await
        .unwrap();
    let mut conn = TcpStream::connect(listener.local_addr()).await.unwrap();
    let mut sink = Vec::new();
    // The local connection ends (the forwarding failed), with or without a reset.
    let _ = tokio::time::timeout(LIMIT, conn.read_to_end(&mut sink))
        .await
        .expect("the local connection was not closed");
    let err = tokio::time::timeout(LIMIT, listener.next_error())
        .await
        .expect("no error reported")
        .expect("the listener ended");
    assert!(
        matches!(
            err.find::<RemoteError>(),
            Some(RemoteError::PortForward { port: 18083, .. })
        ),
        "{err:?}"
    );
}
