//! The event recorder against the real control plane: aggregation into series, the spam
//! filter, dropping when the queue is full, and both Event APIs.

use std::time::Duration;

use futures::StreamExt;
use k8s_client::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use k8s_client::runtime::events::{reference_of, EventApi, EventRecord, EventRecorder, EventType};
use k8s_client::Client;
use k8s_client_testsupport as ts;
use k8s_openapi::api::core::v1::{ConfigMap, Event as CoreEvent, ObjectReference};
use k8s_openapi::api::events::v1::Event;

const CONTROLLER: &str = "k8s-client.test/recorder";

async fn client() -> Client {
    let mut config = ts::config("admin").await;
    config.rate_limit = None;
    Client::try_from(config).unwrap()
}

/// A ConfigMap to be the subject of events (a real object, with a uid).
async fn subject(client: &Client, ns: &str, name: &str) -> ObjectReference {
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some(name.into());
    let cm = Api::<ConfigMap>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &cm)
        .await
        .unwrap();
    let reference = reference_of(&cm);
    assert!(reference.uid.is_some());
    reference
}

async fn events_in(client: &Client, ns: &str) -> Vec<Event> {
    Api::<Event>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
}

fn series_count(e: &Event) -> i32 {
    e.series.as_ref().map_or(1, |s| s.count)
}

#[tokio::test]
async fn a_burst_of_identical_events_is_one_event_with_a_series() {
    let ns = ts::namespace("events-burst").await;
    let client = client().await;
    let regarding = subject(&client, &ns.name, "subject").await;

    // Count the writes the server sees: every create or patch is one watch event.
    let api = Api::<Event>::namespaced(client.clone(), &ns.name);
    let rv = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut watch = api
        .watch(&WatchParams::default(), &rv)
        .await
        .unwrap()
        .boxed();
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
    let watcher = tokio::spawn(async move {
        while let Some(event) = watch.next().await {
            match event.unwrap() {
                WatchEvent::Added(e) => seen_tx.send(("ADDED", series_count(&e))).unwrap(),
                WatchEvent::Modified(e) => seen_tx.send(("MODIFIED", series_count(&e))).unwrap(),
                other => panic!("unexpected watch event {other:?}"),
            }
        }
    });

    let recorder = EventRecorder::builder(client.clone(), CONTROLLER, "burst-0")
        .queue_capacity(2000)
        .build()
        .unwrap();
    let event = EventRecord::normal("Reconciled", "Reconcile", regarding.clone())
        .note("all replicas ready");
    let started = std::time::Instant::now();
    for _ in 0..1000 {
        recorder.record(event.clone()).unwrap();
    }
    let record_time = started.elapsed();
    recorder.flush().await;
    let flush_time = started.elapsed();

    let stats = recorder.stats();
    assert_eq!(
        (
            stats.recorded,
            stats.dropped_full,
            stats.dropped_spam,
            stats.failed
        ),
        (1000, 0, 0, 0),
        "{stats:?}"
    );
    assert_eq!(stats.created, 1, "{stats:?}");
    assert!(stats.writes() <= 3, "a handful of writes, not {stats:?}");

    let stored = events_in(&client, &ns.name).await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    let e = &stored[0];
    assert_eq!(series_count(e), 1000);
    assert!(e.series.as_ref().unwrap().last_observed_time >= *e.event_time.as_ref().unwrap());
    assert_eq!(e.reason.as_deref(), Some("Reconciled"));
    assert_eq!(e.action.as_deref(), Some("Reconcile"));
    assert_eq!(e.note.as_deref(), Some("all replicas ready"));
    assert_eq!(e.type_.as_deref(), Some("Normal"));
    assert_eq!(e.reporting_controller.as_deref(), Some(CONTROLLER));
    assert_eq!(e.reporting_instance.as_deref(), Some("burst-0"));
    assert_eq!(e.regarding.as_ref().unwrap().uid, regarding.uid);
    assert_eq!(
        e.regarding.as_ref().unwrap().kind.as_deref(),
        Some("ConfigMap")
    );

    // The server saw exactly the writes the recorder counted, ending at 1000.
    let mut seen = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), async {
        while seen.last().is_none_or(|(_, count)| *count != 1000) {
            seen.push(seen_rx.recv().await.expect("watch ended"));
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the watch never showed count 1000: {seen:?}"));
    assert_eq!(seen.len() as u64, stats.writes(), "{seen:?}");
    assert_eq!(seen[0], ("ADDED", 1));
    watcher.abort();

    recorder.shut_down().await;
    eprintln!(
        "1000 events: recorded in {record_time:?}, flushed after {flush_time:?}, \
         {} API writes ({seen:?})",
        stats.writes()
    );
}

#[tokio::test]
async fn different_reasons_types_and_objects_are_different_events() {
    let ns = ts::namespace("events-kinds").await;
    let client = client().await;
    let a = subject(&client, &ns.name, "a").await;
    let b = subject(&client, &ns.name, "b").await;

    let recorder = EventRecorder::builder(client.clone(), CONTROLLER, "kinds-0")
        .build()
        .unwrap();
    for _ in 0..3 {
        recorder
            .record(EventRecord::normal("Started", "Start", a.clone()))
            .unwrap();
        recorder
            .record(EventRecord::normal("Stopped", "Stop", a.clone()))
            .unwrap();
        recorder
            .record(EventRecord::normal("Started", "Start", b.clone()))
            .unwrap();
    }
    for _ in 0..2 {
        recorder
            .record(
                EventRecord::warning("Failed", "Start", a.clone())
                    .note("image pull failed")
                    .related(b.clone()),
            )
            .unwrap();
    }
    recorder
        .record(EventRecord::normal("Started", "Start", a.clone()).note("with a note"))
        .unwrap();
    recorder.shut_down().await;
    let stats = recorder.stats();
    assert_eq!(
        (stats.created, stats.failed, stats.dropped_spam),
        (5, 0, 0),
        "{stats:?}"
    );

    let mut got: Vec<_> = events_in(&client, &ns.name)
        .await
        .into_iter()
        .map(|e| {
            (
                e.regarding.unwrap().name.unwrap(),
                e.reason.unwrap(),
                e.type_.unwrap(),
                e.note.unwrap_or_default(),
                e.series.map_or(1, |s| s.count),
                e.related.and_then(|r| r.name),
            )
        })
        .collect();
    got.sort();
    let expect =
        |name: &str, reason: &str, type_: &str, note: &str, count, related: Option<&str>| {
            (
                name.to_string(),
                reason.to_string(),
                type_.to_string(),
                note.to_string(),
                count,
                related.map(str::to_string),
            )
        };
    assert_eq!(
        got,
        vec![
            expect("a", "Failed", "Warning", "image pull failed", 2, Some("b")),
            expect("a", "Started", "Normal", "", 3, None),
            expect("a", "Started", "Normal", "with a note", 1, None),
            expect("a", "Stopped", "Normal", "", 3, None),
            expect("b", "Started", "Normal", "", 3, None),
        ]
    );
    // After shutdown, events are dropped and counted.
    recorder
        .record(EventRecord::normal("Late", "Start", a))
        .unwrap();
    assert_eq!(recorder.stats().dropped_full, 1);
}

#[tokio::test]
async fn series_counts_are_written_by_the_heartbeat_without_a_flush() {
    let ns = ts::namespace("events-heartbeat").await;
    let client = client().await;
    let regarding = subject(&client, &ns.name, "subject").await;
    let recorder = EventRecorder::builder(client.clone(), CONTROLLER, "heartbeat-0")
        .series_update_interval(Duration::from_millis(300))
        .build()
        .unwrap();
    for _ in 0..7 {
        recorder
            .record(EventRecord::warning(
                "Unhealthy",
                "Probe",
                regarding.clone(),
            ))
            .unwrap();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let events = events_in(&client, &ns.name).await;
        if events.len() == 1 && series_count(&events[0]) == 7 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "count 7 not written within 20 s: {events:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stats = recorder.stats();
    // The six repeats are queued before the create returns, so the heartbeat folds them into
    // one patch; a second one only if the task was descheduled for a whole interval between
    // two queued repeats. Six (one per repeat) would mean no batching at all.
    assert_eq!(
        (stats.recorded, stats.created, stats.failed),
        (7, 1, 0),
        "{stats:?}"
    );
    assert!((1..=2).contains(&stats.patched), "{stats:?}");
}

#[tokio::test]
async fn the_spam_filter_limits_new_events_per_object() {
    let ns = ts::namespace("events-spam").await;
    let client = client().await;
    let hot = subject(&client, &ns.name, "hot").await;
    let cold = subject(&client, &ns.name, "cold").await;
    let recorder = EventRecorder::builder(client.clone(), CONTROLLER, "spam-0")
        .spam_filter(5, Duration::from_secs(300))
        .build()
        .unwrap();
    for i in 0..12 {
        recorder
            .record(EventRecord::normal("Tick", "Count", hot.clone()).note(format!("tick {i}")))
            .unwrap();
    }
    // Repeats of an Event that exists are counted, not filtered.
    for _ in 0..4 {
        recorder
            .record(EventRecord::normal("Tick", "Count", hot.clone()).note("tick 0"))
            .unwrap();
    }
    recorder
        .record(EventRecord::normal("Tick", "Count", cold))
        .unwrap();
    recorder.shut_down().await;
    let stats = recorder.stats();
    assert_eq!((stats.created, stats.dropped_spam), (6, 7), "{stats:?}");
    let events = events_in(&client, &ns.name).await;
    assert_eq!(events.len(), 6);
    let tick0 = events
        .iter()
        .find(|e| e.note.as_deref() == Some("tick 0"))
        .unwrap();
    assert_eq!(series_count(tick0), 5);
}

#[tokio::test]
async fn a_full_queue_drops_and_counts_without_blocking() {
    let ns = ts::namespace("events-full").await;
    let client = client().await;
    let regarding = subject(&client, &ns.name, "subject").await;
    let recorder = EventRecorder::builder(client.clone(), CONTROLLER, "full-0")
        .queue_capacity(10)
        .build()
        .unwrap();
    // On this single-threaded runtime the background task cannot run during the loop.
    for _ in 0..1000 {
        recorder
            .record(EventRecord::normal("Busy", "Work", regarding.clone()))
            .unwrap();
    }
    let stats = recorder.stats();
    assert_eq!((stats.recorded, stats.dropped_full), (10, 990), "{stats:?}");
    recorder.flush().await;
    let events = events_in(&client, &ns.name).await;
    assert_eq!(events.len(), 1);
    assert_eq!(series_count(&events[0]), 10);
}

#[tokio::test]
async fn core_v1_mode_creates_core_events_with_counts() {
    let ns = ts::namespace("events-core").await;
    let client = client().await;
    let regarding = subject(&client, &ns.name, "subject").await;
    let recorder = EventRecorder::builder(client.clone(), CONTROLLER, "core-0")
        .api(EventApi::CoreV1)
        .build()
        .unwrap();
    for _ in 0..5 {
        recorder
            .record(EventRecord::warning("BackOff", "Restart", regarding.clone()).note("crashed"))
            .unwrap();
    }
    recorder
        .record(EventRecord::new(
            EventType::Normal,
            "Pulled",
            "Pull",
            regarding.clone(),
        ))
        .unwrap();
    recorder.shut_down().await;
    assert_eq!(recorder.stats().failed, 0, "{:?}", recorder.stats());

    let mut events = Api::<CoreEvent>::namespaced(client.clone(), &ns.name)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items;
    events.sort_by_key(|e| e.reason.clone());
    assert_eq!(events.len(), 2, "{events:?}");
    let backoff = &events[0];
    assert_eq!(backoff.reason.as_deref(), Some("BackOff"));
    assert_eq!(backoff.count, Some(5));
    assert_eq!(backoff.message.as_deref(), Some("crashed"));
    assert_eq!(backoff.type_.as_deref(), Some("Warning"));
    assert_eq!(backoff.involved_object.uid, regarding.uid);
    assert_eq!(
        backoff.source.as_ref().and_then(|s| s.component.as_deref()),
        Some(CONTROLLER)
    );
    assert!(backoff.first_timestamp <= backoff.last_timestamp);
    assert_eq!(events[1].reason.as_deref(), Some("Pulled"));
    assert_eq!(events[1].count, Some(1));
    assert_eq!(events[1].type_.as_deref(), Some("Normal"));
}

#[tokio::test]
async fn bad_input_is_refused_with_the_field_named() {
    let client = client().await;
    let err = EventRecorder::builder(client.clone(), "Not A Name!", "x")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("reportingController"), "{err}");
    let err = EventRecorder::builder(client.clone(), CONTROLLER, "")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("reportingInstance"), "{err}");
    let recorder = EventRecorder::builder(client, CONTROLLER, "x")
        .build()
        .unwrap();
    let err = recorder
        .record(EventRecord::normal("", "Do", ObjectReference::default()))
        .unwrap_err();
    assert_eq!(err.to_string(), "invalid event reason: must not be empty");
    assert_eq!(recorder.stats().recorded, 0);
}

#[tokio::test]
async fn a_repeat_after_the_series_window_starts_a_new_event() {
    let ns = ts::namespace("events-window").await;
    let client = client().await;
    let regarding = subject(&client, &ns.name, "subject").await;
    let window = Duration::from_millis(300);
    let recorder = EventRecorder::builder(client.clone(), CONTROLLER, "window-0")
        .series_window(window)
        .series_update_interval(Duration::from_millis(100))
        .build()
        .unwrap();
    let event = EventRecord::normal("Resynced", "Resync", regarding);
    for _ in 0..3 {
        recorder.record(event.clone()).unwrap();
    }
    recorder.flush().await;
    // The window counts from the last occurrence, which was before this sleep.
    tokio::time::sleep(window + Duration::from_millis(100)).await;
    recorder.record(event.clone()).unwrap();
    recorder.record(event).unwrap();
    recorder.shut_down().await;
    let stats = recorder.stats();
    assert_eq!((stats.created, stats.failed), (2, 0), "{stats:?}");
    let mut counts: Vec<_> = events_in(&client, &ns.name)
        .await
        .iter()
        .map(series_count)
        .collect();
    counts.sort();
    assert_eq!(counts, vec![2, 3]);
}
