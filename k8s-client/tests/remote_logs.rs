//! Logs end to end: through the real kube-apiserver to KWOK's fake kubelet, which replays a
//! two-line log file (timestamps 2026-01-01T00:00:00Z and 00:00:01Z) and keeps following it.
//! The tests that read the file run one at a time: one appends a line to it (and puts it
//! back) and watches KWOK's open descriptors of it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::TryStreamExt;
use k8s_client::remote::LogParams;
use k8s_client::Api;
use k8s_client_testsupport as ts;
use k8s_openapi::api::core::v1::Pod;

const LIMIT: Duration = Duration::from_secs(30);
const LINE1: &str = ts::kwok::LOG_LINES[0];
const LINE2: &str = ts::kwok::LOG_LINES[1];

#[tokio::test]
async fn logs_get_with_options() {
    let _serial = LOG_FILE.lock().await;
    let ns = ts::namespace("logs-get").await;
    let pod = ts::kwok::running_pod(&ns, "p").await;
    let pods: Api<Pod> = Api::namespaced(ts::client().await, &ns.name);

    let all = pods.logs(&pod.name, &LogParams::default()).await.unwrap();
    assert_eq!(all, format!("{LINE1}\n{LINE2}\n"));

    let with_container = LogParams::default().container(ts::kwok::CONTAINER);
    assert_eq!(pods.logs(&pod.name, &with_container).await.unwrap(), all);

    let tail = pods
        .logs(&pod.name, &LogParams::default().tail_lines(1))
        .await
        .unwrap();
    assert_eq!(tail, format!("{LINE2}\n"));

    let stamped = pods
        .logs(&pod.name, &LogParams::default().timestamps(true))
        .await
        .unwrap();
    let lines: Vec<&str> = stamped.lines().collect();
    assert_eq!(lines.len(), 2, "{stamped:?}");
    assert!(lines[0].starts_with("2026-01-01T00:00:00"), "{stamped:?}");
    assert!(lines[0].ends_with(LINE1), "{stamped:?}");
    assert!(lines[1].starts_with("2026-01-01T00:00:01"), "{stamped:?}");

    let limited = pods
        .logs(&pod.name, &LogParams::default().limit_bytes(10))
        .await
        .unwrap();
    assert_eq!(limited, &LINE1[..10]);

    let since: jiff::Timestamp = "2026-01-01T00:00:01Z".parse().unwrap();
    let recent = pods
        .logs(&pod.name, &LogParams::default().since_time(since))
        .await
        .unwrap();
    assert_eq!(recent, format!("{LINE2}\n"));

    // KWOK has no previous instance's log file: the server's error comes back typed (and
    // shows that `previous` reached the kubelet).
    let err = pods
        .logs(&pod.name, &LogParams::default().previous(true))
        .await
        .unwrap_err();
    let api = err.api().unwrap_or_else(|| panic!("{err:?}"));
    assert_eq!(api.code, 400, "{err:?}");
    assert!(api.message().contains("log file"), "{err:?}");

    // The file's lines are older than an hour.
    let last_hour = pods
        .logs(&pod.name, &LogParams::default().since_seconds(3600))
        .await
        .unwrap();
    assert_eq!(last_hour, "");
}

#[tokio::test]
async fn logs_of_a_missing_pod_are_not_found() {
    let ns = ts::namespace("logs-missing").await;
    let pods: Api<Pod> = Api::namespaced(ts::client().await, &ns.name);
    let err = pods.logs("nope", &LogParams::default()).await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    let err = pods
        .log_stream("nope", &LogParams::default())
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
}

/// KWOK's log file, shared by every fake pod of the test control plane.
fn kwok_log_file() -> PathBuf {
    ts::cluster_dir().join("kwok-pod.log")
}

/// How many open file descriptors, in any process, point at `path` (KWOK holds the log file
/// open while it follows it for a request; Linux only).
fn open_descriptors(path: &Path) -> usize {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return 0;
    };
    procs
        .flatten()
        .filter_map(|p| std::fs::read_dir(p.path().join("fd")).ok())
        .flat_map(|fds| fds.flatten())
        .filter(|fd| std::fs::read_link(fd.path()).is_ok_and(|target| target == path))
        .count()
}

/// Puts KWOK's log file back as it was, also when the test fails.
struct RestoreLog {
    path: PathBuf,
    original: Vec<u8>,
}

impl Drop for RestoreLog {
    fn drop(&mut self) {
        let _ = std::fs::write(&self.path, &self.original);
    }
}

/// Tests of this file that follow or change KWOK's log file run one at a time.
static LOG_FILE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test]
async fn followed_log_lines_arrive_and_the_caller_can_stop() {
    let _serial = LOG_FILE.lock().await;
    let ns = ts::namespace("logs-follow").await;
    let pod = ts::kwok::running_pod(&ns, "p").await;
    let pods: Api<Pod> = Api::namespaced(ts::client().await, &ns.name);
    let file = kwok_log_file();
    // A stream an earlier request left may take a while to end on KWOK's side (older API
    // servers cancel their request to the kubelet late): wait a little for it, then count
    // this test's stream above whatever is still open.
    let start = tokio::time::Instant::now();
    while open_descriptors(&file) > 0 && start.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let baseline = open_descriptors(&file);
    if baseline > 0 {
        eprintln!(
            "followed logs: {baseline} earlier log stream(s) still open; counting above them"
        );
    }
    let mut lines = pods
        .log_stream(&pod.name, &LogParams::default())
        .await
        .unwrap()
        .lines();
    let first = tokio::time::timeout(LIMIT, lines.try_next())
        .await
        .unwrap()
        .unwrap();
    let second = tokio::time::timeout(LIMIT, lines.try_next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.as_deref(), Some(LINE1));
    assert_eq!(second.as_deref(), Some(LINE2));
    // KWOK follows the file (the container "runs") and holds it open for this request.
    assert!(
        open_descriptors(&file) > baseline,
        "KWOK is not following the log"
    );

    // The stream stays open for new lines: one written now arrives on it (a request without
    // follow would have ended after the second line).
    let restore = RestoreLog {
        original: std::fs::read(&file).unwrap(),
        path: file.clone(),
    };
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .unwrap();
    std::io::Write::write_all(
        &mut log,
        b"2026-01-01T00:00:02.000000000Z stdout F a line written while following\n",
    )
    .unwrap();
    drop(log);
    let third = tokio::time::timeout(LIMIT, lines.try_next())
        .await
        .expect("a line appended to the log did not arrive on the followed stream")
        .unwrap();
    assert_eq!(third.as_deref(), Some("a line written while following"));
    drop(restore);

    // Dropping the stream ends the request: the apiserver cancels its request to the
    // kubelet (KWOK), which stops following and closes the file.
    drop(lines);
    let deadline = std::time::Instant::now() + LIMIT;
    while open_descriptors(&file) > baseline {
        assert!(
            std::time::Instant::now() < deadline,
            "the server side still follows the log {LIMIT:?} after the stream was dropped"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The client is still usable afterwards (the HTTP/2 stream was reset, not the connection).
    let again = pods
        .logs(&pod.name, &LogParams::default().tail_lines(1))
        .await
        .unwrap();
    assert_eq!(again, format!("{LINE2}\n"));
}

#[tokio::test]
async fn followed_log_ends_when_the_server_ends_it() {
    let _serial = LOG_FILE.lock().await;
    let ns = ts::namespace("logs-end").await;
    let pod = ts::kwok::running_pod(&ns, "p").await;
    let pods: Api<Pod> = Api::namespaced(ts::client().await, &ns.name);
    // The server stops after limitBytes: the stream must end by itself, cleanly.
    let limit = LINE1.len() + 1 + 4;
    let stream = pods
        .log_stream(&pod.name, &LogParams::default().limit_bytes(limit as i64))
        .await
        .unwrap();
    let chunks: Vec<bytes::Bytes> = tokio::time::timeout(LIMIT, stream.try_collect())
        .await
        .expect("the followed log did not end at limitBytes")
        .unwrap();
    let text: Vec<u8> = chunks.concat();
    assert_eq!(
        String::from_utf8_lossy(&text),
        format!("{LINE1}\n{}", &LINE2[..4])
    );

    // The same as lines: the last, partial line is yielded at the end.
    let lines: Vec<String> = pods
        .log_stream(&pod.name, &LogParams::default().limit_bytes(limit as i64))
        .await
        .unwrap()
        .lines()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(lines, vec![LINE1.to_string(), LINE2[..4].to_string()]);

    // With timestamps and a tail.
    let mut stamped = pods
        .log_stream(
            &pod.name,
            &LogParams::default().tail_lines(1).timestamps(true),
        )
        .await
        .unwrap()
        .lines();
    let line = tokio::time::timeout(LIMIT, stamped.try_next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(line.starts_with("2026-01-01T00:00:01"), "{line:?}");
    assert!(line.ends_with(LINE2), "{line:?}");
}
