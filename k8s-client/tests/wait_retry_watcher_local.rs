//! The retrying watcher against a scripted local server, for what the real API server does
//! not produce on demand: a garbled line mid-stream, `ERROR` events with codes 500 and 410,
//! an event without a resourceVersion, a forbidden watch. (The real-server test is
//! `wait_retry_watcher.rs`.)

mod rest_support;

use std::time::Duration;

use futures::StreamExt;
use k8s_client::api::{WatchEvent, WatchParams};
use k8s_client::runtime::wait::{RetryWatcher, WatchError, MIN_WATCH_INTERVAL};
use k8s_client::{Api, Client};
use k8s_openapi::api::core::v1::ConfigMap;
use rest_support::{Reply, Server};

fn added(name: &str, rv: u32) -> String {
    format!(
        r#"{{"type":"ADDED","object":{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"{name}","resourceVersion":"{rv}"}}}}}}"#
    )
}

fn bookmark(rv: u32) -> String {
    format!(
        r#"{{"type":"BOOKMARK","object":{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"resourceVersion":"{rv}"}}}}}}"#
    )
}

fn error(code: u16, reason: &str) -> String {
    format!(
        r#"{{"type":"ERROR","object":{{"kind":"Status","apiVersion":"v1","status":"Failure","message":"scripted {code}","reason":"{reason}","code":{code},"details":{{"retryAfterSeconds":0}}}}}}"#
    )
}

fn body(lines: &[String]) -> Reply {
    let mut text = lines.join("\n");
    text.push('\n');
    Reply::json(200, &text)
}

/// The `resourceVersion` query parameter of a request path.
fn rv_of(path: &str) -> String {
    path.split(['?', '&'])
        .find_map(|kv| kv.strip_prefix("resourceVersion="))
        .unwrap_or("")
        .to_string()
}

async fn collect(w: RetryWatcher<ConfigMap>) -> Vec<Result<WatchEvent<ConfigMap>, WatchError>> {
    tokio::time::timeout(Duration::from_secs(20), w.collect())
        .await
        .expect("the retrying watcher did not end")
}

#[tokio::test]
async fn garbled_line_and_error_events_resume_without_skipping() {
    let server = Server::start(|i, _| match i {
        // A garbled line: the event after it must not be delivered from this stream.
        0 => body(&[
            added("a", 11),
            "{\"type\":\"ADDED\",\"obj".into(),
            added("b", 12),
        ]),
        1 => body(&[added("b", 12), bookmark(15)]),
        2 => body(&[error(500, "InternalError")]),
        3 => body(&[]),
        _ => body(&[error(410, "Expired")]),
    })
    .await;
    let client = Client::try_from(server.config()).unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client, "ns");
    let watcher = RetryWatcher::new(api, WatchParams::default(), "10").unwrap();
    let started = std::time::Instant::now();
    let items = collect(watcher).await;
    // Five watches, each ended at once by the server: started at most once a second.
    let took = started.elapsed();
    assert!(
        took >= MIN_WATCH_INTERVAL * 4 - Duration::from_millis(50),
        "five watches in {took:?}: restarts are not paced"
    );

    let described: Vec<String> = items
        .iter()
        .map(|item| match item {
            Ok(WatchEvent::Added(cm)) => format!(
                "ADDED {} {}",
                cm.metadata.name.as_deref().unwrap_or(""),
                cm.metadata.resource_version.as_deref().unwrap_or("")
            ),
            Ok(WatchEvent::Bookmark(b)) => format!("BOOKMARK {}", b.resource_version),
            Ok(other) => format!("unexpected {other:?}"),
            Err(WatchError::Gone {
                resource_version, ..
            }) => format!("GONE {resource_version}"),
            Err(e) => format!("error {e}"),
        })
        .collect();
    assert_eq!(
        described,
        ["ADDED a 11", "ADDED b 12", "BOOKMARK 15", "GONE 15"]
    );
    let rvs: Vec<String> = server.seen().iter().map(|s| rv_of(&s.path)).collect();
    assert_eq!(rvs, ["10", "11", "15", "15", "15"]);
    assert!(server.seen()[0].path.contains("watch=true"));
    assert!(server.seen()[0].path.contains("allowWatchBookmarks=true"));
}

#[tokio::test]
async fn event_without_resource_version_is_an_error() {
    let server = Server::start(|_, _| {
        body(&[
            r#"{"type":"MODIFIED","object":{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}}"#.into(),
        ])
    })
    .await;
    let client = Client::try_from(server.config()).unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client, "ns");
    let items = collect(RetryWatcher::new(api, WatchParams::default(), "5").unwrap()).await;
    assert_eq!(items.len(), 1);
    match &items[0] {
        Err(e @ WatchError::MissingResourceVersion { event, .. }) => {
            assert_eq!(*event, "MODIFIED");
            assert!(
                e.to_string().contains("v1/ConfigMap in namespace ns"),
                "{e}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn forbidden_watch_is_not_retried() {
    let server = Server::start(|_, _| {
        Reply::json(
            403,
            r#"{"kind":"Status","status":"Failure","message":"configmaps is forbidden","reason":"Forbidden","code":403}"#,
        )
    })
    .await;
    let client = Client::try_from(server.config()).unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client, "ns");
    let items = collect(RetryWatcher::new(api, WatchParams::default(), "5").unwrap()).await;
    assert_eq!(items.len(), 1);
    match &items[0] {
        Err(WatchError::Api { source, .. }) => assert!(source.is_forbidden()),
        other => panic!("{other:?}"),
    }
    assert_eq!(server.seen().len(), 1);
}
