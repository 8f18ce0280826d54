//! [`WorkQueue`]: the queue itself (dedupe, one worker per item, FIFO, delays, rate-limited
//! retries, shutdown and drain, metrics).

use std::borrow::Borrow;
use std::collections::{HashMap, VecDeque};
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
use super::waiting::{WaitKey, Waiting};

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
/// - **Retries**: [`add_rate_limited`](Self::add_rate_limited) delays an item as the queue's
///   [`RateLimiter`] says for its number of failures (by default
///   [`default_controller_rate_limiter`]); [`forget`](Self::forget) resets the count after a
///   success.
///
/// Clones share one queue. Items are keys (usually `namespace/name` strings), not objects.
/// The methods borrow the key, as `HashMap`'s do: a `WorkQueue<String>` takes `&str`, and
/// copies the key only when the queue does not hold it yet.
///
/// ```
/// use k8s_client::runtime::workqueue::WorkQueue;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let queue: WorkQueue<String> = WorkQueue::builder().name("pods").build();
/// queue.add("default/web");
/// queue.add("default/web"); // deduplicated
/// assert_eq!(queue.len(), 1);
///
/// let worker = {
///     let queue = queue.clone();
///     tokio::spawn(async move {
///         let mut handled = Vec::new();
///         while let Some(key) = queue.get().await {
///             // reconcile `key` here; on failure: queue.add_rate_limited(&key)
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
pub struct WorkQueue<K> {
    shared: Arc<Shared<K>>,
}

impl<K> Clone for WorkQueue<K> {
    fn clone(&self) -> Self {
        WorkQueue {
            shared: self.shared.clone(),
        }
    }
}

struct Shared<K> {
    name: String,
    limiter: Box<dyn RateLimiter>,
    metrics: Option<Arc<dyn QueueMetrics>>,
    metrics_period: Duration,
    reporter_started: AtomicBool,
    state: Mutex<State<K>>,
    /// Signalled when an item is queued, when the earliest delay moves earlier, and (to all)
    /// on shutdown.
    ready: Notify,
    /// Signalled (to all) when the queue becomes empty and idle, and on shutdown.
    idle: Notify,
}

struct State<K> {
    /// Items to hand out, in order: each is dirty and not being processed.
    queue: VecDeque<K>,
    /// What the queue knows of each item it holds in any way: queued, being processed,
    /// waiting with a delay, or with failures not yet forgotten. An item that is none of
    /// these is removed.
    items: HashMap<K, Item>,
    /// Items added with a delay.
    waiting: Waiting<K>,
    /// How many items are handed out and not yet done.
    processing: usize,
    shutting_down: bool,
    /// Shutting down, but still handing out the queued items.
    draining: bool,
}

/// What [`WorkQueue::add`] must do after marking an item as needing processing.
enum Marked {
    /// Nothing: it is queued already, or in progress (and queued again when done).
    Skip,
    /// Put it in line to be handed out.
    Line,
    /// The queue does not know it yet.
    Unknown,
}

/// The state of one item.
#[derive(Debug, Default)]
struct Item {
    /// Needs processing: queued, or added again while being processed.
    dirty: bool,
    /// Handed out at this time and not yet done.
    processing_since: Option<Instant>,
    /// Waiting for its delay under this key of [`State::waiting`].
    waiting: Option<WaitKey>,
    /// When it became dirty (only kept when metrics are on).
    added_at: Option<Instant>,
    /// Rate-limited adds since it was last forgotten.
    failures: u32,
}

impl Item {
    fn is_unused(&self) -> bool {
        !self.dirty
            && self.processing_since.is_none()
            && self.waiting.is_none()
            && self.failures == 0
    }
}

impl<K: Clone + Eq + Hash> State<K> {
    /// A copy of the key the queue holds for `item` (or of `item` if it holds none).
    fn key_of<Q>(&self, item: &Q) -> K
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        match self.items.get_key_value(item) {
            Some((key, _)) => key.clone(),
            None => item.to_owned(),
        }
    }

    /// Drops what the queue knows of `item` when that is nothing.
    fn remove_if_unused<Q>(&mut self, item: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if self.items.get(item).is_some_and(Item::is_unused) {
            self.items.remove(item);
        }
    }
}

impl<K: Clone + Eq + Hash + Send + Sync + 'static> Default for WorkQueue<K> {
    fn default() -> Self {
        WorkQueue::new()
    }
}

impl<K> fmt::Debug for WorkQueue<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = lock(&self.shared.state);
        f.debug_struct("WorkQueue")
            .field("name", &self.shared.name)
            .field("queued", &st.queue.len())
            .field("processing", &st.processing)
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
/// use k8s_client::backoff::Backoff;
/// use k8s_client::runtime::workqueue::WorkQueue;
///
/// let queue: WorkQueue<String> = WorkQueue::builder()
///     .name("deployments")
///     .rate_limiter(Backoff::new(Duration::from_millis(100)).cap(Duration::from_secs(60)))
///     .build();
/// assert_eq!(queue.name(), "deployments");
/// ```
pub struct WorkQueueBuilder<K> {
    name: String,
    limiter: Option<Box<dyn RateLimiter>>,
    metrics: Option<Arc<dyn QueueMetrics>>,
    metrics_period: Duration,
    _keys: std::marker::PhantomData<fn() -> K>,
}

impl<K> fmt::Debug for WorkQueueBuilder<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkQueueBuilder")
            .field("name", &self.name)
            .field("custom_rate_limiter", &self.limiter.is_some())
            .field("metrics", &self.metrics.is_some())
            .field("metrics_period", &self.metrics_period)
            .finish()
    }
}

impl<K: Clone + Eq + Hash + Send + Sync + 'static> WorkQueueBuilder<K> {
    /// The queue's name, passed to the metrics (default: empty).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The limiter behind [`WorkQueue::add_rate_limited`] (default:
    /// [`default_controller_rate_limiter`]); a [`Backoff`](crate::backoff::Backoff) is one.
    pub fn rate_limiter(mut self, limiter: impl RateLimiter + 'static) -> Self {
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
    pub fn build(self) -> WorkQueue<K> {
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
                    items: HashMap::new(),
                    waiting: Waiting::new(),
                    processing: 0,
                    shutting_down: false,
                    draining: false,
                }),
                ready: Notify::new(),
                idle: Notify::new(),
            }),
        }
    }
}

impl<K: Clone + Eq + Hash + Send + Sync + 'static> WorkQueue<K> {
    /// An unnamed queue with the default controller rate limiter and no metrics.
    pub fn new() -> Self {
        WorkQueue::builder().build()
    }

    /// A builder for a queue with a name, rate limiter or metrics.
    pub fn builder() -> WorkQueueBuilder<K> {
        WorkQueueBuilder {
            name: String::new(),
            limiter: None,
            metrics: None,
            metrics_period: DEFAULT_METRICS_UPDATE_PERIOD,
            _keys: std::marker::PhantomData,
        }
    }

    /// The queue's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Queues `item` unless it is already queued. An item being processed is queued again
    /// when it is [`done`](Self::done). Ignored once the queue is shutting down.
    pub fn add<Q>(&self, item: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let mut st = lock(&self.shared.state);
        self.add_locked(&mut st, item, Instant::now());
    }

    fn add_locked<Q>(&self, st: &mut State<K>, item: &Q, now: Instant)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        if st.shutting_down {
            return;
        }
        match self.mark_dirty(st, item, now) {
            Marked::Skip => {}
            Marked::Line => {
                let key = st.key_of(item);
                self.push_line(st, key);
            }
            Marked::Unknown => {
                let key = item.to_owned();
                let known = Item {
                    dirty: true,
                    added_at: self.shared.metrics.as_ref().map(|_| now),
                    ..Item::default()
                };
                st.items.insert(key.clone(), known);
                self.count_add();
                self.push_line(st, key);
            }
        }
    }

    /// Marks a known `item` as needing processing, and says whether it must join the line.
    fn mark_dirty<Q>(&self, st: &mut State<K>, item: &Q, now: Instant) -> Marked
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let Some(known) = st.items.get_mut(item) else {
            return Marked::Unknown;
        };
        if known.dirty {
            return Marked::Skip;
        }
        known.dirty = true;
        known.added_at = self.shared.metrics.as_ref().map(|_| now);
        let in_progress = known.processing_since.is_some();
        self.count_add();
        if in_progress {
            // Queued again when the worker is done with it.
            Marked::Skip
        } else {
            Marked::Line
        }
    }

    fn push_line(&self, st: &mut State<K>, key: K) {
        st.queue.push_back(key);
        self.report_depth(st);
        self.shared.ready.notify_one();
    }

    fn count_add(&self) {
        if let Some(m) = &self.shared.metrics {
            m.add(&self.shared.name);
        }
    }

    /// Queues the delayed items that are due.
    fn promote_due(&self, st: &mut State<K>, now: Instant) {
        if st.shutting_down {
            return;
        }
        while let Some(item) = st.waiting.pop_due(now) {
            if let Some(known) = st.items.get_mut(&item) {
                known.waiting = None;
            }
            match self.mark_dirty(st, &item, now) {
                Marked::Skip => {}
                // The waiting line's copy of the key moves to the queue.
                Marked::Line => self.push_line(st, item),
                Marked::Unknown => self.add_locked(st, &item, now),
            }
        }
    }

    fn report_depth(&self, st: &State<K>) {
        if let Some(m) = &self.shared.metrics {
            m.depth(&self.shared.name, st.queue.len());
        }
    }

    /// Queues `item` after `delay` (at once for a zero delay). For an item that is already
    /// waiting, the earlier due time wins. Delayed items are dropped on shutdown.
    /// Counted as a retry in the metrics (as client-go does).
    pub fn add_after<Q>(&self, item: &Q, delay: Duration)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let mut st = lock(&self.shared.state);
        self.add_after_locked(&mut st, item, delay);
    }

    fn add_after_locked<Q>(&self, st: &mut State<K>, item: &Q, delay: Duration)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        if st.shutting_down {
            return;
        }
        if let Some(m) = &self.shared.metrics {
            m.retry(&self.shared.name);
        }
        let now = Instant::now();
        if delay.is_zero() {
            self.add_locked(st, item, now);
            return;
        }
        // A delay too long for the clock waits "forever" (about 30 years).
        let due = now
            .checked_add(delay)
            .unwrap_or_else(|| now + Duration::from_secs(30 * 365 * 86_400));
        let key = match st.items.get(item).map(|known| known.waiting) {
            Some(Some(old)) if due >= old.0 => return,
            Some(Some(old)) => match st.waiting.remove(old) {
                Some(key) => key,
                None => st.key_of(item),
            },
            Some(None) => st.key_of(item),
            None => {
                let key = item.to_owned();
                st.items.insert(key.clone(), Item::default());
                key
            }
        };
        let (wait_key, earlier) = st.waiting.insert(key, due);
        if let Some(known) = st.items.get_mut(item) {
            known.waiting = Some(wait_key);
        }
        if earlier {
            // The earliest due time moved: a sleeping getter must look again.
            self.shared.ready.notify_one();
        }
    }

    /// Counts a failure of `item` and queues it after the delay the rate limiter gives for
    /// its failures so far (client-go `AddRateLimited`). Ignored once the queue is shutting
    /// down.
    pub fn add_rate_limited<Q>(&self, item: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let mut st = lock(&self.shared.state);
        if st.shutting_down {
            return;
        }
        let failures = match st.items.get_mut(item) {
            Some(known) => {
                let failures = known.failures;
                known.failures = failures.saturating_add(1);
                failures
            }
            None => {
                let known = Item {
                    failures: 1,
                    ..Item::default()
                };
                st.items.insert(item.to_owned(), known);
                0
            }
        };
        let delay = self.shared.limiter.when(failures);
        self.add_after_locked(&mut st, item, delay);
    }

    /// Forgets the failures of `item` (it succeeded): its next
    /// [`add_rate_limited`](Self::add_rate_limited) waits the shortest delay again.
    pub fn forget<Q>(&self, item: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut st = lock(&self.shared.state);
        if let Some(known) = st.items.get_mut(item) {
            known.failures = 0;
            st.remove_if_unused(item);
        }
    }

    /// How many times `item` was rate limited since it was last forgotten.
    pub fn num_requeues<Q>(&self, item: &Q) -> u32
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let st = lock(&self.shared.state);
        st.items.get(item).map_or(0, |known| known.failures)
    }

    /// Waits for the next item and marks it as being processed; call [`done`](Self::done)
    /// with it when finished (or use [`get_guarded`](Self::get_guarded)).
    ///
    /// Returns `None` once the queue is shut down ([`shut_down`](Self::shut_down)), or, after
    /// [`shut_down_with_drain`](Self::shut_down_with_drain), once no items are left. Blocked
    /// callers are woken by the shutdown. Cancel safe: dropping the future loses no item.
    pub async fn get(&self) -> Option<K> {
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
                    let added_at = match st.items.get_mut(&item) {
                        Some(known) => {
                            known.dirty = false;
                            known.processing_since = Some(now);
                            known.added_at.take()
                        }
                        None => {
                            // Every queued item is known; should that ever fail, keep the
                            // count of items in progress right all the same.
                            let known = Item {
                                processing_since: Some(now),
                                ..Item::default()
                            };
                            st.items.insert(item.clone(), known);
                            None
                        }
                    };
                    st.processing += 1;
                    if let Some(m) = &self.shared.metrics {
                        m.depth(&self.shared.name, st.queue.len());
                        if let Some(added) = added_at {
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
    /// queue.add(&7u32);
    /// if let Some(item) = queue.get_guarded().await {
    ///     assert_eq!(*item, 7);
    /// } // done(&7) here
    /// queue.add(&7);
    /// assert_eq!(queue.len(), 1);
    /// # }
    /// ```
    pub async fn get_guarded(&self) -> Option<ItemGuard<K>> {
        let item = self.get().await?;
        Some(ItemGuard {
            queue: self.clone(),
            item,
        })
    }

    /// Marks `item` as processed. If it was added again meanwhile, it is queued again now.
    /// Calling it for an item that is not being processed does nothing.
    pub fn done<Q>(&self, item: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut st = lock(&self.shared.state);
        let Some(known) = st.items.get_mut(item) else {
            return;
        };
        let Some(started) = known.processing_since.take() else {
            return;
        };
        let requeue = known.dirty;
        st.processing = st.processing.saturating_sub(1);
        if let Some(m) = &self.shared.metrics {
            m.work_duration(&self.shared.name, started.elapsed());
        }
        if requeue {
            if let Some((key, _)) = st.items.get_key_value(item) {
                let key = key.clone();
                self.push_line(&mut st, key);
            }
        } else {
            st.remove_if_unused(item);
            if st.processing == 0 {
                // A drain may be waiting for this.
                self.shared.idle.notify_waiters();
            }
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
            drop_waiting(&mut st);
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
                drop_waiting(&mut st);
            }
        }
        self.shared.ready.notify_waiters();
        loop {
            let mut idle = pin!(self.shared.idle.notified());
            idle.as_mut().enable();
            {
                let st = lock(&self.shared.state);
                let queued = if st.draining { st.queue.len() } else { 0 };
                if queued == 0 && st.processing == 0 {
                    return;
                }
            }
            idle.await;
        }
    }

    /// How many items the queue keeps state for (queued, in progress, waiting, or with
    /// failures): for tests that check nothing is left behind.
    #[cfg(test)]
    pub(crate) fn known_items(&self) -> usize {
        lock(&self.shared.state).items.len()
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

/// Drops the delayed items (on shutdown).
fn drop_waiting<K: Clone + Eq + Hash>(st: &mut State<K>) {
    let dropped: Vec<K> = st.waiting.drain().collect();
    for item in dropped {
        if let Some(known) = st.items.get_mut(&item) {
            known.waiting = None;
        }
        st.remove_if_unused(&item);
    }
}

/// Reports unfinished work and the longest running processor every `period` until the queue
/// is dropped, or shut down with nothing in progress.
async fn report_in_progress<K>(queue: Weak<Shared<K>>, period: Duration) {
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
            for started in st.items.values().filter_map(|known| known.processing_since) {
                let running = now.saturating_duration_since(started);
                total = total.saturating_add(running);
                longest = longest.max(running);
            }
            (total, longest, st.shutting_down && st.processing == 0)
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
pub struct ItemGuard<K: Clone + Eq + Hash + Send + Sync + 'static> {
    queue: WorkQueue<K>,
    item: K,
}

impl<K: Clone + Eq + Hash + Send + Sync + 'static> ItemGuard<K> {
    /// The item.
    pub fn item(&self) -> &K {
        &self.item
    }

    /// The queue it came from (to [`add_rate_limited`](WorkQueue::add_rate_limited) or
    /// [`forget`](WorkQueue::forget) it).
    pub fn queue(&self) -> &WorkQueue<K> {
        &self.queue
    }
}

impl<K: Clone + Eq + Hash + Send + Sync + 'static> Deref for ItemGuard<K> {
    type Target = K;
    fn deref(&self) -> &K {
        &self.item
    }
}

impl<K: Clone + Eq + Hash + Send + Sync + 'static + fmt::Debug> fmt::Debug for ItemGuard<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ItemGuard").field(&self.item).finish()
    }
}

impl<K: Clone + Eq + Hash + Send + Sync + 'static> Drop for ItemGuard<K> {
    fn drop(&mut self) {
        self.queue.done(&self.item);
    }
}
