//! Metrics hooks for work queues, as client-go's `workqueue.MetricsProvider`: the queue
//! reports what happens to it through a [`QueueMetrics`] implementation, which forwards the
//! numbers to whatever metrics system the program uses.

use std::time::Duration;

/// Receives a work queue's metrics. Every method has a no-op default, so an implementation
/// overrides only what it records. `queue` is the queue's name
/// ([`WorkQueueBuilder::name`](super::WorkQueueBuilder::name)).
///
/// The methods are called while the queue's lock is held: keep them quick (update an atomic,
/// a gauge, a histogram) and never call back into the queue.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use k8s_client::runtime::workqueue::QueueMetrics;
///
/// #[derive(Default)]
/// struct Adds(AtomicU64);
///
/// impl QueueMetrics for Adds {
///     fn add(&self, _queue: &str) {
///         self.0.fetch_add(1, Ordering::Relaxed);
///     }
/// }
/// ```
pub trait QueueMetrics: Send + Sync {
    /// The number of items waiting to be handed out changed to `depth` (client-go `depth`).
    fn depth(&self, queue: &str, depth: usize) {
        let _ = (queue, depth);
    }

    /// A new item was added (an add of an item that was already waiting is not counted;
    /// client-go `adds_total`).
    fn add(&self, queue: &str) {
        let _ = queue;
    }

    /// An item was handed out `latency` after it was added (client-go
    /// `queue_duration_seconds`).
    fn queue_latency(&self, queue: &str, latency: Duration) {
        let _ = (queue, latency);
    }

    /// An item was marked done `duration` after it was handed out (client-go
    /// `work_duration_seconds`).
    fn work_duration(&self, queue: &str, duration: Duration) {
        let _ = (queue, duration);
    }

    /// Periodically while items are being processed: the sum of how long each of them has
    /// been in progress (client-go `unfinished_work_seconds`; 0 when nothing is in progress).
    fn unfinished_work(&self, queue: &str, total: Duration) {
        let _ = (queue, total);
    }

    /// Periodically while items are being processed: how long the item in progress for the
    /// longest time has been (client-go `longest_running_processor_seconds`).
    fn longest_running_processor(&self, queue: &str, longest: Duration) {
        let _ = (queue, longest);
    }

    /// An item was re-added through the rate limiter
    /// ([`add_rate_limited`](super::WorkQueue::add_rate_limited); client-go `retries_total`).
    fn retry(&self, queue: &str) {
        let _ = queue;
    }
}

/// Metrics that go nowhere: the default.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoMetrics;

impl QueueMetrics for NoMetrics {}

/// Sends a queue's figures to the [`metrics`](https://docs.rs/metrics) facade under
/// client-go's names, labelled `name` (the queue's name): `workqueue_depth`,
/// `workqueue_adds_total`, `workqueue_queue_duration_seconds`,
/// `workqueue_work_duration_seconds`, `workqueue_unfinished_work_seconds`,
/// `workqueue_longest_running_processor_seconds`, `workqueue_retries_total`. Whatever
/// recorder the program installs (Prometheus, OpenTelemetry, ...) receives them.
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
#[derive(Debug, Clone, Copy, Default)]
pub struct FacadeMetrics;

#[cfg(feature = "metrics")]
impl QueueMetrics for FacadeMetrics {
    fn depth(&self, queue: &str, depth: usize) {
        metrics::gauge!("workqueue_depth", "name" => queue.to_string()).set(depth as f64);
    }
    fn add(&self, queue: &str) {
        metrics::counter!("workqueue_adds_total", "name" => queue.to_string()).increment(1);
    }
    fn queue_latency(&self, queue: &str, latency: Duration) {
        metrics::histogram!("workqueue_queue_duration_seconds", "name" => queue.to_string())
            .record(latency.as_secs_f64());
    }
    fn work_duration(&self, queue: &str, duration: Duration) {
        metrics::histogram!("workqueue_work_duration_seconds", "name" => queue.to_string())
            .record(duration.as_secs_f64());
    }
    fn unfinished_work(&self, queue: &str, total: Duration) {
        metrics::gauge!("workqueue_unfinished_work_seconds", "name" => queue.to_string())
            .set(total.as_secs_f64());
    }
    fn longest_running_processor(&self, queue: &str, longest: Duration) {
        metrics::gauge!("workqueue_longest_running_processor_seconds", "name" => queue.to_string())
            .set(longest.as_secs_f64());
    }
    fn retry(&self, queue: &str) {
        metrics::counter!("workqueue_retries_total", "name" => queue.to_string()).increment(1);
    }
}
