//! Work queues, as client-go's `util/workqueue`: what sits between informers (which say
//! "this key changed") and the workers that reconcile each key.
//!
//! [`WorkQueue`] gives client-go's guarantees:
//!
//! - an item added several times before a worker takes it is handed out once (dedupe);
//! - an item is never handed to two workers at once: added again while it is processed, it
//!   is queued again when the worker calls [`WorkQueue::done`];
//! - items are handed out in the order they were added;
//! - [`WorkQueue::add_after`] delays an item (the shorter delay wins for an item already
//!   waiting), and [`WorkQueue::add_rate_limited`] delays it as a [`RateLimiter`] says for
//!   its number of failures (per-item exponential [`Backoff`](crate::backoff::Backoff),
//!   token bucket, fast/slow, max of several);
//! - [`WorkQueue::shut_down`] wakes every blocked [`WorkQueue::get`];
//!   [`WorkQueue::shut_down_with_drain`] waits until the queued and in-progress items are done;
//! - metrics (depth, adds, latency, work duration, unfinished work, longest running
//!   processor, retries) go to a [`QueueMetrics`] of your choice.
//!
//! Its methods borrow the key as `HashMap`'s do (a `WorkQueue<String>` takes `&str`) and
//! copy it only when the queue does not hold it yet.
//!
//! The worker loop:
//!
//! ```no_run
//! use k8s_client::runtime::workqueue::WorkQueue;
//!
//! async fn reconcile(key: &str) -> Result<(), String> { Ok(()) }
//!
//! async fn worker(queue: WorkQueue<String>) {
//!     while let Some(key) = queue.get().await {
//!         match reconcile(&key).await {
//!             Ok(()) => queue.forget(&key),
//!             Err(_) => queue.add_rate_limited(&key),
//!         }
//!         queue.done(&key);
//!     }
//! }
//! ```

mod metrics;
mod queue;
mod rate_limiter;
mod waiting;

#[cfg(feature = "metrics")]
pub use metrics::FacadeMetrics;
pub use metrics::{NoMetrics, QueueMetrics};
pub use queue::{ItemGuard, WorkQueue, WorkQueueBuilder, DEFAULT_METRICS_UPDATE_PERIOD};
pub use rate_limiter::{
    default_controller_rate_limiter, BucketRateLimiter, FastSlowRateLimiter, MaxOfRateLimiter,
    RateLimiter,
};

#[cfg(test)]
mod tests;
