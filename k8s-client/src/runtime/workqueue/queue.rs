//! [`WorkQueue`]: the queue itself (dedupe, one worker per item, FIFO, delays, rate-limited
//! retries, shutdown and drain, metrics).

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::hash::Hash;
use std::ops::Deref;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::metrics::QueueMetrics;
use super::rate_limiter::{default_controller_rate_limiter, RateLimiter};
use super::waiting::Waiting;

/// How often [`QueueMetrics::unfinished_work`] and
/// [`QueueMetrics::longest_running_processor`] are reported by default (client-go: 500 ms).
pub const DEFAULT_METRICS_UPDATE_PERIOD: Duration = Duration::from_millis(500);

/// A work queue as client-go's rate-limited work queue, for async workers.
///
/// - **Dedupe**: an item added again while it waits to be handed out is handed out once.
/// - **One worker per item**: an item added while a worker processes it is not handed to
///   another worker; it is queued again when the first worker calls [`done`](Self::done).
/// - **FIFO** otherwise.
/// - **Delays**: [`add_after`](Self::add_after) queues an item later; for an item that is
///   already waiting, the earlier due time wins. Delays are driven by Tokio timers in
///   [`get`](Self::get); there is no background task.
/// - **Retries**: [`add_rate_limited`](Self::add_rate_limited) delays an item as its
///   [`RateLimiter`] says (by default [`default_controller_rate_limiter`]);
///   [`forget`](Self::forget) resets it after success.
///
/// Clones share one queue. Items are keys (usually `namespace/name` strings), not objects.
///
/// ```
/// use k8s_client::runtime::workqueue::WorkQueue;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let queue: WorkQueue<String> = WorkQueue::builder().name("pods").build();
/// queue.add("default/web".to_string());
/// queue.add("default/web".to_string()); // deduplicated
/// assert_eq!(queue.len(), 1);
///
/// let worker = {
///     let queue = queue.clone();
///     tokio::spawn(async move {
///         let mut handled = Vec::new();
///         while let Some(key) = queue.get().await {
///             // reconcile `key` here; on failure: queue.add_rate_limited(key.clone())
///             queue.forget(&key);
///             queue.done(&key);
///             handled.push(key);
///         }
///         handled
///     })
/// };
/// queue.shut_down_with_drain().await; // returns when the queue is empty and idle
/// assert_eq!(worker.await.unwrap(), vec!["default/web".to_string()]);
/// # }
/// ```
pub struct WorkQueue<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Clone for WorkQueue<T> {
    fn clone(&self) -> Self {
        WorkQueue {
            shared: self.shared.clone(),
        }
    }
}

struct Shared<T> {
    name: String,
    limiter: Box<dyn RateLimiter<T>>,
    metrics: Option<Arc<dyn QueueMetrics>>,
    metrics_period: Duration,
    reporter_started: AtomicBool,
    state: Mutex<State<T>>,
    /// Signalled when an item is queued, when the earliest delay moves earlier, and (to all)
    /// on shutdown.
    ready: Notify,
    /// Signalled (to all) when the queue becomes empty and idle, and on shutdown.
    idle: Notify,
}

struct State<T> {
    /// Items to hand out, in order.
    queue: VecDeque<T>,
    /// Items that need processing: those in `queue` and those re-added while processing.
    dirty: HashSet<T>,
    /// Items handed out and not yet done, with when they were handed out.
    processing: HashMap<T, Instant>,
    /// Items added with a delay.
    waiting: Waiting<T>,
    /// When each dirty item was added (only kept when metrics are on).
    added_at: HashMap<T, Instant>,
    shutting_down: bool,
    /// Shutting down, but still handing out the queued items.
    draining: bool,
}

impl<T: Clone + Eq + Hash + Send + Sync + 'static> Default for WorkQueue<T> {
    fn default() -> Self {
        WorkQueue::new()
    }
}

impl<T> fmt::Debug for WorkQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = lock(&self.shared.state);
        f.debug_struct("WorkQueue")
            .field("name", &self.shared.name)
            .field("queued", &st.queue.len())
            .field("processing", &st.processing.len())
            .field("waiting", &st.waiting.len())
            .field("shutting_down", &st.shutting_down)
            .finish()
    }
}

fn lock<S>(m: &Mutex<S>) -> MutexGuard<'_, S> {
    // The state is only changed by code that cannot panic half-way; recover from poisoning.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Builds a [`WorkQueue`] with a name, a rate limiter and metrics.
///
/// ```
/// use std::time::Duration;
/// use k8s_client::runtime::workqueue::{ExponentialFailureRateLimiter, WorkQueue};
///
/// let queue: WorkQueue<String> = WorkQueue::builder()
///     .name("deployments")
///     .rate_limiter(ExponentialFailureRateLimiter::new(
///         Duration::from_millis(100),
///         Duration::from_secs(60),
///     ))
///     .build();
/// assert_eq!(queue.name(), "deployments");
/// ```
pub struct WorkQueueBuilder<T> {
    name: String,
    limiter: Option<Box<dyn RateLimiter<T>>>,
    metrics: Option<Arc<dyn QueueMetrics>>,
    metrics_period: Duration,
}

impl<T> fmt::Debug for WorkQueueBuilder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkQueueBuilder")
            .field("name", &self.name)
            .field("custom_rate_limiter", &self.limiter.is_some())
            .field("metrics", &self.metrics.is_some())
            .field("metrics_period", &self.metrics_period)
            .finish()
    }
}

impl<T: Clone + Eq + Hash + Send + Sync + 'static> WorkQueueBuilder<T> {
    /// The queue's name, passed to the metrics (default: empty).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The limiter behind [`WorkQueue::add_rate_limited`] (default:
    /// [`default_controller_rate_limiter`]).
    pub fn rate_limiter(mut self, limiter: impl RateLimiter<T> + 'static) -> Self {
        self.limiter = Some(Box::new(limiter));
        self
    }

    /// Where the queue reports its metrics (default: nowhere).
    pub fn metrics(mut self, metrics: Arc<dyn QueueMetrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// How often the in-progress metrics ([`QueueMetrics::unfinished_work`],
    /// [`QueueMetrics::longest_running_processor`]) are reported (default
    /// [`DEFAULT_METRICS_UPDATE_PERIOD`]). They are reported by a Tokio task started by the
    /// first [`WorkQueue::get`], only when metrics are set; it ends with the queue.
    pub fn metrics_update_period(mut self, period: Duration) -> Self {
        self.metrics_period = period.max(Duration::from_millis(1));
        self
    }

    /// The queue.
    pub fn build(self) -> WorkQueue<T> {
        WorkQueue {
            shared: Arc::new(Shared {
                name: self.name,
                limiter: self
                    .limiter
                    .unwrap_or_else(|| Box::new(default_controller_rate_limiter())),
                metrics: self.metrics,
                metrics_period: self.metrics_period,
                reporter_started: AtomicBool::new(false),
                state: Mutex::new(State {
                    queue: VecDeque::new(),
                    dirty: HashSet::new(),
                    processing: HashMap::new(),
                    waiting: Waiting::new(),
                    added_at: HashMap::new(),
                    shutting_down: false,
                    draining: false,
                }),
                ready: Notify::new(),
                idle: Notify::new(),
            }),
        }
    }
}

impl<T: Clone + Eq + Hash + Send + Sync + 'static> WorkQueue<T> {
    /// An unnamed queue with the default controller rate limiter and no metrics.
    pub fn new() -> Self {
        WorkQueue::builder().build()
    }

    /// A builder for a queue with a name, rate limiter or metrics.
    pub fn builder() -> WorkQueueBuilder<T> {
        WorkQueueBuilder {
            name: String::new(),
            limiter: None,
            metrics: None,
            metrics_period: DEFAULT_METRICS_UPDATE_PERIOD,
        }
    }

    /// The queue's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Queues `item` unless it is already queued. An item being processed is queued again
    /// when it is [`done`](Self::done). Ignored once the queue is shutting down.
    pub fn add(&self, item: T) {
        let mut st = lock(&self.shared.state);
        self.add_locked(&mut st, item, Instant::now());
    }

    fn add_locked(&self, st: &mut State<T>, item: T, now: Instant) {
        if st.shutting_down || st.dirty.contains(&item) {
            return;
        }
        if let Some(m) = &self.shared.metrics {
            m.add(&self.shared.name);
            st.added_at.entry(item.clone()).or_insert(now);
        }
        st.dirty.insert(item.clone());
        if st.processing.contains_key(&item) {
            return;
        }
        st.queue.push_back(item);
        self.report_depth(st);
        self.shared.ready.notify_one();
    }

    /// Queues the delayed items that are due.
    fn promote_due(&self, st: &mut State<T>, now: Instant) {
        if st.shutting_down {
            return;
        }
        while let Some(item) = st.waiting.pop_due(now) {
            self.add_locked(st, item, now);
        }
    }

    fn report_depth(&self, st: &State<T>) {
        if let Some(m) = &self.shared.metrics {
            m.depth(&self.shared.name, st.queue.len());
        }
    }

    /// Queues `item` after `delay` (at once for a zero delay). For an item that is already
    /// waiting, the earlier due time wins. Delayed items are dropped on shutdown.
    /// Counted as a retry in the metrics (as client-go does).
    pub fn add_after(&self, item: T, delay: Duration) {
        let mut st = lock(&self.shared.state);
        if st.shutting_down {
            return;
        }
        if let Some(m) = &self.shared.metrics {
            m.retry(&self.shared.name);
        }
        let now = Instant::now();
        if delay.is_zero() {
            self.add_locked(&mut st, item, now);
            return;
        }
        // A delay too long for the clock waits "forever" (about 30 years).
        let due = now
            .checked_add(delay)
            .unwrap_or_else(|| now + Duration::from_secs(30 * 365 * 86_400));
        if st.waiting.insert(item, due) {
            // The earliest due time moved: a sleeping getter must look again.
            self.shared.ready.notify_one();
        }
    }

    /// Queues `item` after the delay its rate limiter gives (client-go `AddRateLimited`).
    pub fn add_rate_limited(&self, item: T) {
        let delay = self.shared.limiter.when(&item);
        self.add_after(item, delay);
    }

    /// Tells the rate limiter `item` succeeded: its next failure starts from the shortest
    /// delay again.
    pub fn forget(&self, item: &T) {
        self.shared.limiter.forget(item);
    }

    /// How many times `item` was rate limited since it was last forgotten.
    pub fn num_requeues(&self, item: &T) -> u32 {
        self.shared.limiter.num_requeues(item)
    }

    /// Waits for the next item and marks it as being processed; call [`done`](Self::done)
    /// with it when finished (or use [`get_guarded`](Self::get_guarded)).
    ///
    /// Returns `None` once the queue is shut down ([`shut_down`](Self::shut_down)), or, after
    /// [`shut_down_with_drain`](Self::shut_down_with_drain), once no items are left. Blocked
    /// callers are woken by the shutdown. Cancel safe: dropping the future loses no item.
    pub async fn get(&self) -> Option<T> {
        self.start_reporter();
        loop {
            let mut notified = pin!(self.shared.ready.notified());
            notified.as_mut().enable();
            let due = {
                let mut st = lock(&self.shared.state);
                let now = Instant::now();
                self.promote_due(&mut st, now);
                if st.shutting_down && !st.draining {
                    return None;
                }
                if let Some(item) = st.queue.pop_front() {
                    st.dirty.remove(&item);
                    st.processing.insert(item.clone(), now);
                    if let Some(m) = &self.shared.metrics {
                        m.depth(&self.shared.name, st.queue.len());
                        if let Some(added) = st.added_at.remove(&item) {
                            m.queue_latency(&self.shared.name, now.duration_since(added));
                        }
                    }
                    return Some(item);
                }
                if st.shutting_down {
                    return None;
                }
                st.waiting.next_due()
            };
            match due {
                Some(due) => {
                    tokio::select! {
                        _ = notified => {}
                        _ = tokio::time::sleep_until(due) => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// [`get`](Self::get), with a guard that calls [`done`](Self::done) when dropped.
    ///
    /// ```
    /// # use k8s_client::runtime::workqueue::WorkQueue;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let queue = WorkQueue::new();
    /// queue.add(7u32);
    /// if let Some(item) = queue.get_guarded().await {
    ///     assert_eq!(*item, 7);
    /// } // done(&7) here
    /// queue.add(7);
    /// assert_eq!(queue.len(), 1);
    /// # }
    /// ```
    pub async fn get_guarded(&self) -> Option<ItemGuard<T>> {
        let item = self.get().await?;
        Some(ItemGuard {
            queue: self.clone(),
            item,
        })
    }

    /// Marks `item` as processed. If it was added again meanwhile, it is queued again now.
    /// Calling it for an item that is not being processed does nothing.
    pub fn done(&self, item: &T) {
        let mut st = lock(&self.shared.state);
        let Some(started) = st.processing.remove(item) else {
            return;
        };
        if let Some(m) = &self.shared.metrics {
            m.work_duration(&self.shared.name, started.elapsed());
        }
        if st.dirty.contains(item) {
            st.queue.push_back(item.clone());
            self.report_depth(&st);
            self.shared.ready.notify_one();
        } else if st.processing.is_empty() {
            // A drain may be waiting for this.
            self.shared.idle.notify_waiters();
        }
    }

    /// How many items wait to be handed out: queued items and delayed items that are due,
    /// not items whose delay is still running or items being processed.
    pub fn len(&self) -> usize {
        let mut st = lock(&self.shared.state);
        self.promote_due(&mut st, Instant::now());
        st.queue.len()
    }

    /// Whether no item waits to be handed out.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stops the queue: new adds are ignored, delayed items are dropped, and every
    /// [`get`](Self::get), blocked or future, returns `None`. Items being processed can still
    /// be marked [`done`](Self::done).
    pub fn shut_down(&self) {
        {
            let mut st = lock(&self.shared.state);
            st.shutting_down = true;
            st.draining = false;
            st.waiting.clear();
        }
        self.shared.ready.notify_waiters();
        self.shared.idle.notify_waiters();
    }

    /// Stops the queue like [`shut_down`](Self::shut_down), but keeps handing out the items
    /// already queued, and returns once none are left and every item handed out is
    /// [`done`](Self::done). Workers must keep calling `get` (which returns `None` when the
    /// queue is drained) and `done`; bound the wait with `tokio::time::timeout` if they may
    /// not. A concurrent [`shut_down`](Self::shut_down) stops handing out items and makes
    /// this return once the items in progress are done.
    pub async fn shut_down_with_drain(&self) {
        {
            let mut st = lock(&self.shared.state);
            if !st.shutting_down {
                st.shutting_down = true;
                st.draining = true;
                st.waiting.clear();
            }
        }
        self.shared.ready.notify_waiters();
        loop {
            let mut idle = pin!(self.shared.idle.notified());
            idle.as_mut().enable();
            {
                let st = lock(&self.shared.state);
                let queued = if st.draining { st.queue.len() } else { 0 };
                if queued == 0 && st.processing.is_empty() {
                    return;
                }
            }
            idle.await;
        }
    }

    /// Whether [`shut_down`](Self::shut_down) or
    /// [`shut_down_with_drain`](Self::shut_down_with_drain) was called.
    pub fn is_shutting_down(&self) -> bool {
        lock(&self.shared.state).shutting_down
    }

    /// Starts the task that reports the in-progress metrics, once, when there are metrics.
    fn start_reporter(&self) {
        if self.shared.metrics.is_none() || self.shared.reporter_started.load(Ordering::Relaxed) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.shared.reporter_started.swap(true, Ordering::AcqRel) {
            return;
        }
        let weak = Arc::downgrade(&self.shared);
        let period = self.shared.metrics_period;
        runtime.spawn(report_in_progress(weak, period));
    }
}

/// Reports unfinished work and the longest running processor every `period` until the queue
/// is dropped, or shut down with nothing in progress.
async fn report_in_progress<T>(queue: Weak<Shared<T>>, period: Duration) {
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(shared) = queue.upgrade() else {
            return;
        };
        let Some(metrics) = &shared.metrics else {
            return;
        };
        let (total, longest, finished) = {
            let st = lock(&shared.state);
            let now = Instant::now();
            let mut total = Duration::ZERO;
            let mut longest = Duration::ZERO;
            for started in st.processing.values() {
                let running = now.saturating_duration_since(*started);
                total = total.saturating_add(running);
                longest = longest.max(running);
            }
            (total, longest, st.shutting_down && st.processing.is_empty())
        };
        metrics.unfinished_work(&shared.name, total);
        metrics.longest_running_processor(&shared.name, longest);
        if finished {
            return;
        }
    }
}

/// An item handed out by [`WorkQueue::get_guarded`]; marks it [`done`](WorkQueue::done) when
/// dropped. Dereferences to the item.
pub struct ItemGuard<T: Clone + Eq + Hash + Send + Sync + 'static> {
    queue: WorkQueue<T>,
    item: T,
}

impl<T: Clone + Eq + Hash + Send + Sync + 'static> ItemGuard<T> {
    /// The item.
    pub fn item(&self) -> &T {
        &self.item
    }

    /// The queue it came from (to [`add_rate_limited`](WorkQueue::add_rate_limited) or
    /// [`forget`](WorkQueue::forget) it).
    pub fn queue(&self) -> &WorkQueue<T> {
        &self.queue
    }
}

impl<T: Clone + Eq + Hash + Send + Sync + 'static> Deref for ItemGuard<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.item
    }
}

impl<T: Clone + Eq + Hash + Send + Sync + 'static + fmt::Debug> fmt::Debug for ItemGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ItemGuard").field(&self.item).finish()
    }
}

impl<T: Clone + Eq + Hash + Send + Sync + 'static> Drop for ItemGuard<T> {
    fn drop(&mut self) {
        self.queue.done(&self.item);
    }
}
