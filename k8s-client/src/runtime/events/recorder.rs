//! [`EventRecorder`]: a never-blocking front (a bounded channel) and the background task that
//! aggregates and writes.

use std::future::pending;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::record::{check_field, EventError, EventRecord};
use super::series::{Aggregator, EventKey, Observed, Series};
use super::sink::{EventApi, Sink, Wrote};
use super::spam::{SpamFilter, DEFAULT_SPAM_BURST, DEFAULT_SPAM_REFILL};
use crate::Client;

/// How many events wait for the background task at most, by default (client-go: 1000).
pub const DEFAULT_QUEUE_CAPACITY: usize = 1000;

/// How long after its last occurrence a repeat still joins a series (client-go: 6 minutes).
pub const DEFAULT_SERIES_WINDOW: Duration = Duration::from_secs(6 * 60);

/// How often a series' count is written at most (client-go's heartbeat: 30 seconds).
pub const DEFAULT_SERIES_UPDATE_INTERVAL: Duration = Duration::from_secs(30);

/// Counters of what a recorder did, from [`EventRecorder::stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EventStats {
    /// Events accepted by [`EventRecorder::record`].
    pub recorded: u64,
    /// Events dropped because the queue was full or the recorder had shut down.
    pub dropped_full: u64,
    /// Events dropped by the spam filter.
    pub dropped_spam: u64,
    /// Events created on the server.
    pub created: u64,
    /// Series updates (patches) written.
    pub patched: u64,
    /// Writes that failed (logged with `tracing` at `warn`).
    pub failed: u64,
}

impl EventStats {
    /// API writes made: creates and patches.
    pub fn writes(&self) -> u64 {
        self.created + self.patched
    }
}

#[derive(Debug, Default)]
struct Counters {
    recorded: AtomicU64,
    dropped_full: AtomicU64,
    dropped_spam: AtomicU64,
    created: AtomicU64,
    patched: AtomicU64,
    failed: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

enum Message {
    Record(Box<EventRecord>, Instant, Timestamp),
    Flush(oneshot::Sender<()>),
    ShutDown(oneshot::Sender<()>),
}

/// Records Events about objects, as client-go's event recorders: [`record`](Self::record)
/// never blocks (events go through a bounded queue to a background task, and are dropped
/// and counted when it is full); repeats of an event become one Event with a growing series
/// count, written at most every [`series_update_interval`](EventRecorderBuilder::series_update_interval);
/// a spam filter limits how many new Events one object gets.
///
/// Clones share the recorder. Call [`shut_down`](Self::shut_down) (or
/// [`flush`](Self::flush)) before the program exits so the last counts are written; when
/// every clone is dropped the task writes them and ends by itself.
///
/// ```no_run
/// use k8s_client::api::{Api, Object};
/// use k8s_client::runtime::events::{reference_of, EventRecord, EventRecorder};
/// use k8s_openapi::api::apps::v1::Deployment;
///
/// # async fn run(client: k8s_client::Client, deploy: Deployment) -> Result<(), Box<dyn std::error::Error>> {
/// let recorder = EventRecorder::builder(client, "example.com/scaler", "scaler-7d9f-x2x")
///     .build()?;
/// recorder.record(
///     EventRecord::normal("ScaledUp", "Scale", reference_of(&deploy)).note("scaled to 3 replicas"),
/// )?;
/// recorder.shut_down().await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct EventRecorder {
    tx: mpsc::Sender<Message>,
    counters: Arc<Counters>,
}

/// Builds an [`EventRecorder`].
#[derive(Debug)]
pub struct EventRecorderBuilder {
    client: Client,
    controller: String,
    instance: String,
    api: EventApi,
    capacity: usize,
    window: Duration,
    interval: Duration,
    spam_burst: u32,
    spam_refill: Duration,
}

impl EventRecorder {
    /// A builder for a recorder that reports as `controller` (the `reportingController`, a
    /// qualified name such as `example.com/my-controller`) and `instance` (the
    /// `reportingInstance`, such as the pod's name), writing with `client`.
    pub fn builder(
        client: Client,
        controller: impl Into<String>,
        instance: impl Into<String>,
    ) -> EventRecorderBuilder {
        EventRecorderBuilder {
            client,
            controller: controller.into(),
            instance: instance.into(),
            api: EventApi::default(),
            capacity: DEFAULT_QUEUE_CAPACITY,
            window: DEFAULT_SERIES_WINDOW,
            interval: DEFAULT_SERIES_UPDATE_INTERVAL,
            spam_burst: DEFAULT_SPAM_BURST,
            spam_refill: DEFAULT_SPAM_REFILL,
        }
    }

    /// Queues `event` for writing; never waits. A full queue (or a recorder that has shut
    /// down) drops the event and counts it in [`EventStats::dropped_full`].
    ///
    /// # Errors
    /// [`EventError::Invalid`] when a field would be rejected by the server (empty or
    /// over-long `reason` or `action`, a `regarding` object without name or kind). A note
    /// longer than [`MAX_NOTE_LEN`](super::MAX_NOTE_LEN) bytes is cut, not refused.
    pub fn record(&self, event: EventRecord) -> Result<(), EventError> {
        let event = event.validate()?;
        let message = Message::Record(Box::new(event), Instant::now(), Timestamp::now());
        match self.tx.try_send(message) {
            Ok(()) => bump(&self.counters.recorded),
            Err(_) => {
                bump(&self.counters.dropped_full);
                tracing::debug!("event queue full or recorder shut down: event dropped");
            }
        }
        Ok(())
    }

    /// Writes every pending series update now, after the events recorded before this call
    /// are processed, and waits for the writes.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Message::Flush(done)).await.is_ok() {
            // An error means the task ended, which flushes too.
            let _ = wait.await;
        }
    }

    /// Flushes like [`flush`](Self::flush) and stops the background task; events recorded
    /// afterwards (by any clone) are dropped.
    pub async fn shut_down(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Message::ShutDown(done)).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// What the recorder did so far.
    pub fn stats(&self) -> EventStats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        EventStats {
            recorded: get(&c.recorded),
            dropped_full: get(&c.dropped_full),
            dropped_spam: get(&c.dropped_spam),
            created: get(&c.created),
            patched: get(&c.patched),
            failed: get(&c.failed),
        }
    }
}

impl EventRecorderBuilder {
    /// Which Event API to write (default [`EventApi::EventsV1`]).
    pub fn api(mut self, api: EventApi) -> Self {
        self.api = api;
        self
    }

    /// How many events may wait for the background task (default
    /// [`DEFAULT_QUEUE_CAPACITY`]; at least 1).
    pub fn queue_capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// How long after its last occurrence a repeat still joins a series (default
    /// [`DEFAULT_SERIES_WINDOW`]).
    pub fn series_window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// How often a series' count is written at most (default
    /// [`DEFAULT_SERIES_UPDATE_INTERVAL`]; never longer than the window).
    pub fn series_update_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// The spam filter: each object may get `burst` new Events at once, and one more every
    /// `refill` (default 25 and 5 minutes, as client-go; a zero `refill` turns it off).
    pub fn spam_filter(mut self, burst: u32, refill: Duration) -> Self {
        self.spam_burst = burst;
        self.spam_refill = refill;
        self
    }

    /// The recorder, with its background task started on the current Tokio runtime.
    ///
    /// # Errors
    /// [`EventError::Invalid`] for an empty or over-long controller or instance, or a
    /// controller that is not a qualified name; [`EventError::NoRuntime`] outside a Tokio
    /// runtime.
    pub fn build(self) -> Result<EventRecorder, EventError> {
        check_field("reportingController", &self.controller)?;
        check_qualified_name("reportingController", &self.controller)?;
        check_field("reportingInstance", &self.instance)?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| EventError::NoRuntime)?;
        let (tx, rx) = mpsc::channel(self.capacity);
        let counters = Arc::new(Counters::default());
        let task = Task {
            aggregator: Aggregator::new(
                self.window,
                self.interval.min(self.window),
                SpamFilter::new(self.spam_burst, self.spam_refill),
            ),
            sink: Sink::new(self.client, self.api, self.controller, self.instance),
            counters: counters.clone(),
        };
        runtime.spawn(task.run(rx));
        Ok(EventRecorder { tx, counters })
    }
}

/// Checks a Kubernetes qualified name: an optional DNS subdomain prefix and `/`, then 1 to 63
/// alphanumerics, `-`, `_` or `.`, starting and ending alphanumeric.
fn check_qualified_name(field: &'static str, value: &str) -> Result<(), EventError> {
    let invalid = |message: String| EventError::Invalid { field, message };
    let (prefix, name) = match value.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, value),
    };
    if let Some(prefix) = prefix {
        let ok = !prefix.is_empty()
            && prefix.len() <= 253
            && prefix.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            });
        if !ok {
            return Err(invalid(format!(
                "{value:?}: the prefix before '/' must be a DNS subdomain (like example.com)"
            )));
        }
    }
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !ok {
        return Err(invalid(format!(
            "{value:?}: the name must be 1 to 63 letters, digits, '-', '_' or '.', \
             starting and ending with a letter or digit"
        )));
    }
    Ok(())
}

/// The background task: aggregates, filters and writes.
struct Task {
    aggregator: Aggregator,
    sink: Sink,
    counters: Arc<Counters>,
}

impl Task {
    async fn run(mut self, mut rx: mpsc::Receiver<Message>) {
        loop {
            let wake = self.aggregator.next_wake();
            let timer = async move {
                match wake {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => pending().await,
                }
            };
            tokio::select! {
                message = rx.recv() => match message {
                    Some(Message::Record(event, at, time)) => self.observe(*event, at, time).await,
                    Some(Message::Flush(done)) => {
                        self.write_due(true).await;
                        let _ = done.send(());
                    }
                    Some(Message::ShutDown(done)) => {
                        rx.close();
                        self.drain(&mut rx).await;
                        let _ = done.send(());
                        return;
                    }
                    None => {
                        self.write_due(true).await;
                        return;
                    }
                },
                () = timer => {}
            }
            // Also under a steady stream of events, which could keep the timer from winning.
            if self
                .aggregator
                .next_wake()
                .is_some_and(|w| w <= Instant::now())
            {
                self.write_due(false).await;
                self.aggregator.prune(Instant::now());
            }
        }
    }

    /// After shutdown: processes what is still queued, then writes every pending count.
    async fn drain(&mut self, rx: &mut mpsc::Receiver<Message>) {
        while let Ok(message) = rx.try_recv() {
            match message {
                Message::Record(event, at, time) => self.observe(*event, at, time).await,
                Message::Flush(done) | Message::ShutDown(done) => {
                    self.write_due(true).await;
                    let _ = done.send(());
                }
            }
        }
        self.write_due(true).await;
    }

    async fn observe(&mut self, event: EventRecord, at: Instant, time: Timestamp) {
        let (key, finished) = match self.aggregator.observe(&event, at, time) {
            Observed::Repeat => return,
            Observed::Spam { finished } => {
                bump(&self.counters.dropped_spam);
                tracing::debug!(reason = %event.reason, "event dropped by the spam filter");
                (None, finished)
            }
            Observed::New { key, finished } => (Some(key), finished),
        };
        if let Some(old) = finished {
            // The last count of a finished series.
            self.update(&old).await;
        }
        let Some(key) = key else {
            return;
        };
        let mut series = Series::first(event, at, time);
        self.create(key, &mut series).await;
    }

    async fn create(&mut self, key: EventKey, series: &mut Series) {
        match self.sink.create(series).await {
            Ok(name) => {
                bump(&self.counters.created);
                series.name = name;
                series.written = series.count;
                series.last_write = Instant::now();
                self.aggregator.insert(key, series.clone());
            }
            Err(e) => {
                bump(&self.counters.failed);
                tracing::warn!(reason = %series.record.reason, error = %e, "creating an Event failed");
            }
        }
    }

    /// Writes a series' count; returns what the server has afterwards.
    async fn update(&mut self, series: &Series) -> Option<(u32, String)> {
        match self.sink.update(series).await {
            Ok((wrote, name)) => {
                bump(match wrote {
                    Wrote::Created => &self.counters.created,
                    Wrote::Patched => &self.counters.patched,
                });
                Some((series.count, name))
            }
            Err(e) => {
                bump(&self.counters.failed);
                tracing::warn!(event = %series.name, error = %e, "updating an Event series failed");
                None
            }
        }
    }

    /// Writes the series updates that are due (all pending ones when `all`).
    async fn write_due(&mut self, all: bool) {
        for key in self.aggregator.due(Instant::now(), all) {
            let Some(series) = self.aggregator.get(&key).cloned() else {
                continue;
            };
            let wrote = self.update(&series).await;
            self.aggregator.written(&key, Instant::now(), wrote);
        }
    }
}
