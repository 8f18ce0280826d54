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
    let out = tokio::time::timeout(
        LIMIT,
        pods.exec_output(&pod.name, Some(ts::kwok::CONTAINER), ["echo", "hello"]),
    )
    .await
    .expect("exec timed out")
    .unwrap();
    assert_eq!(out.status.code(), 0, "{:?}", out.status);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\n");
    assert!(
        out.stderr.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn exec_non_zero_exit_code_and_stderr() {
    let (_ns, pod, pods) = pods_with_running("exec-exit").await;
    let mut process = pods
        .exec(
            &pod.name,
            ["sh", "-c", "echo out; echo err >&2; exit 3"],
            &AttachParams::default(),
        )
        .await
        .unwrap();
    let mut stdout = process.stdout().unwrap();
    let mut stderr = process.stderr().unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let (a, b) = tokio::time::timeout(LIMIT, async {
        tokio::join!(stdout.read_to_end(&mut out), stderr.read_to_end(&mut err))
    })
    .await
    .expect("the output did not end");
    a.unwrap();
    b.unwrap();
    assert_eq!(String::from_utf8_lossy(&out), "out\n");
    assert_eq!(String::from_utf8_lossy(&err), "err\n");
    match tokio::time::timeout(LIMIT, process.status()).await.unwrap() {
        // A kubelet reports the code as a `NonZeroExitCode` status with an `ExitCode` cause.
        Ok(status) => assert_eq!(status.code(), 3, "{status:?}"),
        // KWOK (v0.8.0) wraps the command's exit error, so its kubelet code cannot recognise
        // it and reports an InternalError naming the exit status instead: a typed command
        // failure with the server's Status.
        Err(e) if matches!(e.find::<RemoteError>(), Some(RemoteError::Command(_))) => {
            let Some(RemoteError::Command(status)) = e.find::<RemoteError>() else {
                unreachable!()
            };
            let message = status.message.as_deref().unwrap_or("");
            assert!(message.contains("exit status 3"), "{status:?}");
            assert_eq!(status.reason.as_deref(), Some("InternalError"));
        }
        Err(other) => panic!("expected exit code 3, got {other:?}"),
    }
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

// KWOK (v0.8.0) never closes a command's stdin pipe when the client closes stdin, so `cat`
// would never end there: the commands read a known number of bytes instead. That the close
// message goes out is checked against a local WebSocket server in the unit tests.
#[tokio::test]
async fn exec_stdin_round_trips_and_closes() {
    let (_ns, pod, pods) = pods_with_running("exec-stdin").await;
    let input = b"round trip\nsecond line";
    let count = input.len().to_string();
    let mut process = pods
        .exec(
            &pod.name,
            ["head", "-c", count.as_str()],
            &AttachParams::default().stdin(true),
        )
        .await
        .unwrap();
    let mut stdin = process.stdin().unwrap();
    let mut stdout = process.stdout().unwrap();
    let mut stderr = process.stderr().unwrap();
    let writer = async move {
        stdin.write_all(input).await.unwrap();
        // v5: sends the close of stdin (the server ends the stdin stream).
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
        .expect("the command did not end");
    assert_eq!(out, input);
    assert!(err.is_empty(), "{:?}", String::from_utf8_lossy(&err));
    let status = tokio::time::timeout(LIMIT, process.status())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn exec_stdin_to_stdout_moves_ten_mebibytes_without_loss() {
    let (_ns, pod, pods) = pods_with_running("exec-bulk").await;
    const SIZE: usize = 10 * 1024 * 1024;
    let mut process = pods
        .exec(
            &pod.name,
            ["head", "-c", &SIZE.to_string()],
            &AttachParams::default().stdin(true).stderr(false),
        )
        .await
        .unwrap();
    let mut stdin = process.stdin().unwrap();
    let mut stdout = process.stdout().unwrap();
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
        .expect("10 MiB through exec took too long")
        .unwrap();
    writer.await.unwrap();
    assert_eq!(out.len(), SIZE);
    assert!(out == expected, "the data came back changed");
    let status = process.status().await.unwrap();
    assert!(status.success());
    eprintln!(
        "10 MiB through exec stdin -> stdout in {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn exec_tty_resize_reaches_the_terminal() {
    let (_ns, pod, pods) = pods_with_running("exec-tty").await;
    let mut process = pods
        .exec(
            &pod.name,
            [
                "sh",
                "-c",
                "while read line; do [ \"$line\" = quit ] && exit 0; stty size; done",
            ],
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
            assert!(
                n > 0,
                "the terminal closed: {:?}",
                String::from_utf8_lossy(&seen)
            );
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
    // Through a terminal a program ends on what is typed, not on a closed stdin.
    stdin.write_all(b"quit\n").await.unwrap();
    let rest = tokio::time::timeout(LIMIT, async {
        let mut rest = Vec::new();
        stdout.read_to_end(&mut rest).await.map(|_| rest)
    })
    .await
    .expect("the terminal did not close after quit");
    rest.unwrap();
    let status = tokio::time::timeout(LIMIT, process.status()).await.unwrap();
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
    match err.find::<RemoteError>() {
        Some(RemoteError::Command(status)) => {
            assert_eq!(status.status.as_deref(), Some("Failure"));
        }
        other => panic!("expected a command error, got {other:?}"),
    }
}

// KWOK's attach follows the shared log file from its end (new lines only), and no test may
// append to that file (the log tests read it): this checks that attach opens and is refused
// for a missing pod.
#[tokio::test]
async fn attach_opens_a_session_and_refuses_a_missing_pod() {
    let (_ns, pod, pods) = pods_with_running("attach").await;
    let mut process = tokio::time::timeout(
        LIMIT,
        pods.attach(&pod.name, &AttachParams::default().stderr(false)),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(process.http_version(), http::Version::HTTP_11);
    assert_eq!(process.protocol(), Protocol::V5);
    assert!(process.stdout().is_some());
    assert!(process.stderr().is_none());
    assert!(process.stdin().is_none());
    drop(process);

    let err = pods
        .attach("no-such-pod", &AttachParams::default())
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
}

#[tokio::test]
async fn exec_carries_the_bearer_token_and_refuses_the_restricted_user() {
    let (ns, pod, _) = pods_with_running("exec-auth").await;
    // A token user: the upgrade request carries the Authorization header.
    let token_client = ts::client_for("admin-token").await;
    let pods: Api<Pod> = Api::namespaced(token_client, &ns.name);
    let out = tokio::time::timeout(LIMIT, pods.exec_output(&pod.name, None, ["echo", "token"]))
        .await
        .expect("exec timed out")
        .unwrap();
    assert_eq!(out.stdout, b"token\n");

    // A user without pods/exec in this namespace: the typed Forbidden error.
    let restricted = ts::client_for("restricted").await;
    let pods: Api<Pod> = Api::namespaced(restricted, &ns.name);
    let err = pods
        .exec(&pod.name, ["true"], &AttachParams::default())
        .await
        .unwrap_err();
    assert!(err.is_forbidden(), "{err:?}");
}
