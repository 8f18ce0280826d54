//! Logs end to end: through the real kube-apiserver to KWOK's fake kubelet, which replays a
//! two-line log file (timestamps 2026-01-01T00:00:00Z and 00:00:01Z) and keeps following it.

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

#[tokio::test]
async fn followed_log_lines_arrive_and_the_caller_can_stop() {
    let ns = ts::namespace("logs-follow").await;
    let pod = ts::kwok::running_pod(&ns, "p").await;
    let pods: Api<Pod> = Api::namespaced(ts::client().await, &ns.name);
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
    // KWOK keeps following (the container "runs"): nothing more comes for now, and dropping
    // the stream ends the request.
    drop(lines);
    // The client is still usable afterwards (the HTTP/2 stream was reset, not the connection).
    let again = pods
        .logs(&pod.name, &LogParams::default().tail_lines(1))
        .await
        .unwrap();
    assert_eq!(again, format!("{LINE2}\n"));
}

#[tokio::test]
async fn followed_log_ends_when_the_server_ends_it() {
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
