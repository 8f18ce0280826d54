//! Exec and attach end to end: through the real kube-apiserver to KWOK's fake kubelet, which
//! runs the commands on this machine.

use std::time::Duration;

use k8s_client::remote::{AttachParams, Protocol, RemoteError, TerminalSize};
use k8s_client::{Api, Error};
use k8s_client_testsupport as ts;
use k8s_openapi::api::core::v1::Pod;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LIMIT: Duration = Duration::from_secs(40);

async fn pods_with_running(prefix: &str) -> (ts::TestNamespace, ts::kwok::RunningPod, Api<Pod>) {
    let ns = ts::namespace(prefix).await;
    let pod = ts::kwok::running_pod(&ns, "p").await;
    let mut config = ts::config("admin").await;
    config.rate_limit = None;
    let client = k8s_client::Client::try_from(config).unwrap();
    let pods: Api<Pod> = Api::namespaced(client, &ns.name);
    (ns, pod, pods)
}

#[tokio::test]
async fn exec_echo_gives_stdout_and_exit_zero() {
    let (_ns, pod, pods) = pods_with_running("exec-echo").await;
    let out = tokio::time::timeout(LIMIT, pods.exec_output(&pod.name, Some(ts::kwok::CONTAINER), ["echo", "hello"]))
        .await
        .expect("exec timed out")
        .unwrap();
    assert_eq!(out.status.code(), 0, "{:?}", out.status);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\n");
    assert!(out.stderr.is_empty(), "{:?}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test]
async fn exec_non_zero_exit_code_and_stderr() {
    let (_ns, pod, pods) = pods_with_running("exec-exit").await;
    let out = tokio::time::timeout(
        LIMIT,
        pods.exec_output(&pod.name, None, ["sh", "-c", "echo out; echo err >&2; exit 3"]),
    )
    .await
    .expect("exec timed out")
    .unwrap();
    assert_eq!(out.status.code(), 3, "{:?}", out.status);
    assert!(!out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
}

#[tokio::test]
async fn exec_upgrade_is_http1_while_requests_stay_http2() {
    let (_ns, pod, pods) = pods_with_running("exec-versions").await;
    let version = http::Request::get("/version").body(Vec::new()).unwrap();
    let response = pods.client().send(version).await.unwrap();
    assert_eq!(response.version(), http::Version::HTTP_2);

    let mut process = pods
        .exec(&pod.name, ["true"], &AttachParams::default())
        .await
        .unwrap();
    assert_eq!(process.http_version(), http::Version::HTTP_11);
    // Both 1.33 and 1.36 servers translate v5 WebSockets.
    assert_eq!(process.protocol(), Protocol::V5);
    let mut stdout = process.stdout().unwrap();
    let mut buf = Vec::new();
    stdout.read_to_end(&mut buf).await.unwrap();
    assert!(process.status().await.unwrap().success());

    // And the pool still speaks HTTP/2 afterwards.
    let version = http::Request::get("/version").body(Vec::new()).unwrap();
    let response = pods.client().send(version).await.unwrap();
    assert_eq!(response.version(), http::Version::HTTP_2);
}

#[tokio::test]
async fn exec_cat_round_trips_stdin_and_closes_it() {
    let (_ns, pod, pods) = pods_with_running("exec-cat").await;
    let mut process = pods
        .exec(&pod.name, ["cat"], &AttachParams::default().stdin(true))
        .await
        .unwrap();
    let mut stdin = process.stdin().unwrap();
    let mut stdout = process.stdout().unwrap();
    let mut stderr = process.stderr().unwrap();
    let writer = async move {
        stdin.write_all(b"round trip\nsecond line").await.unwrap();
        stdin.shutdown().await.unwrap();
    };
    let reader = async move {
        let mut out = Vec::new();
        stdout.read_to_end(&mut out).await.unwrap();
        let mut err = Vec::new();
        stderr.read_to_end(&mut err).await.unwrap();
        (out, err)
    };
    let ((), (out, err)) = tokio::time::timeout(LIMIT, async { tokio::join!(writer, reader) })
        .await
        .expect("cat did not end after stdin was closed");
    assert_eq!(out, b"round trip\nsecond line");
    assert!(err.is_empty());
    let status = tokio::time::timeout(LIMIT, process.status()).await.unwrap().unwrap();
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn exec_cat_moves_ten_mebibytes_without_loss() {
    let (_ns, pod, pods) = pods_with_running("exec-bulk").await;
    let mut process = pods
        .exec(&pod.name, ["cat"], &AttachParams::default().stdin(true).stderr(false))
        .await
        .unwrap();
    let mut stdin = process.stdin().unwrap();
    let mut stdout = process.stdout().unwrap();
    const SIZE: usize = 10 * 1024 * 1024;
    let data: Vec<u8> = (0..SIZE).map(|i| (i * 7 + i / 4096) as u8).collect();
    let expected = data.clone();
    let started = std::time::Instant::now();
    let writer = tokio::spawn(async move {
        stdin.write_all(&data).await.unwrap();
        stdin.shutdown().await.unwrap();
    });
    let mut out = Vec::with_capacity(SIZE);
    tokio::time::timeout(LIMIT, stdout.read_to_end(&mut out))
        .await
        .expect("10 MiB through cat took too long")
        .unwrap();
    writer.await.unwrap();
    assert_eq!(out.len(), SIZE);
    assert!(out == expected, "the data came back changed");
    let status = process.status().await.unwrap();
    assert!(status.success());
    eprintln!("10 MiB through exec cat and back in {:?}", started.elapsed());
}

#[tokio::test]
async fn exec_tty_resize_reaches_the_terminal() {
    let (_ns, pod, pods) = pods_with_running("exec-tty").await;
    let mut process = pods
        .exec(
            &pod.name,
            ["sh", "-c", "while read line; do stty size; done"],
            &AttachParams::default().stdin(true).tty(true),
        )
        .await
        .unwrap();
    assert!(process.stderr().is_none(), "a TTY has no separate stderr");
    let resizer = process.terminal_resizer().unwrap();
    let mut stdin = process.stdin().unwrap();
    let mut stdout = process.stdout().unwrap();
    resizer.resize(TerminalSize::new(123, 45)).await.unwrap();
    // The resize and the input travel on different streams: ask again until the terminal
    // reports the new size.
    let mut seen = Vec::new();
    let found = tokio::time::timeout(LIMIT, async {
        loop {
            stdin.write_all(b"size?\n").await.unwrap();
            let mut buf = [0u8; 4096];
            let n = stdout.read(&mut buf).await.unwrap();
            assert!(n > 0, "the terminal closed: {:?}", String::from_utf8_lossy(&seen));
            seen.extend_from_slice(&buf[..n]);
            if String::from_utf8_lossy(&seen).contains("45 123") {
                break;
            }
        }
    })
    .await;
    assert!(
        found.is_ok(),
        "the terminal never reported 45 rows x 123 columns: {:?}",
        String::from_utf8_lossy(&seen)
    );
    stdin.shutdown().await.unwrap();
    drop(stdin);
    drop(stdout);
    drop(resizer);
    let status = tokio::time::timeout(LIMIT, process.status()).await.unwrap();
    // The shell exits when its stdin ends.
    assert!(status.unwrap().success());
}

#[tokio::test]
async fn exec_in_a_missing_pod_is_not_found() {
    let ns = ts::namespace("exec-missing").await;
    let pods: Api<Pod> = Api::namespaced(ts::client().await, &ns.name);
    let err = pods
        .exec("no-such-pod", ["true"], &AttachParams::default())
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert!(matches!(err, Error::Api(_)));
    assert!(err.to_string().contains("no-such-pod"), "{err}");
}

#[tokio::test]
async fn exec_of_a_missing_executable_is_a_command_error() {
    let (_ns, pod, pods) = pods_with_running("exec-noexe").await;
    let err = tokio::time::timeout(
        LIMIT,
        pods.exec_output(&pod.name, None, ["/no/such/executable"]),
    )
    .await
    .expect("exec timed out")
    .unwrap_err();
    match err {
        Error::Remote(RemoteError::Command(status)) => {
            assert_eq!(status.status.as_deref(), Some("Failure"));
        }
        other => panic!("expected a command error, got {other:?}"),
    }
}

#[tokio::test]
async fn attach_streams_the_container_output() {
    let (_ns, pod, pods) = pods_with_running("attach").await;
    let mut process = pods
        .attach(&pod.name, &AttachParams::default().stderr(false))
        .await
        .unwrap();
    assert_eq!(process.http_version(), http::Version::HTTP_11);
    let mut stdout = process.stdout().unwrap();
    let mut seen = Vec::new();
    let read = tokio::time::timeout(LIMIT, async {
        let mut buf = [0u8; 1024];
        while !String::from_utf8_lossy(&seen).contains(ts::kwok::LOG_LINES[1]) {
            let n = stdout.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    assert!(read.is_ok(), "attach gave {:?}", String::from_utf8_lossy(&seen));
    let text = String::from_utf8_lossy(&seen);
    assert!(text.contains(ts::kwok::LOG_LINES[0]), "{text:?}");
    assert!(text.contains(ts::kwok::LOG_LINES[1]), "{text:?}");
}
