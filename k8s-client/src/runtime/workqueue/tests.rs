//! Fast unit tests of the work queue (paused Tokio time where delays matter).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::{timeout, Instant};

use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// `get`, failing the test if nothing comes within `within` (of paused time).
async fn get_within<T>(q: &WorkQueue<T>, within: Duration) -> T
where
    T: Clone + Eq + std::hash::Hash + Send + Sync + 'static,
{
    timeout(within, q.get())
        .await
        .expect("get timed out")
        .expect("get returned None")
}

/// Whether `get` stays blocked for `for_` (of paused time).
async fn nothing_for<T>(q: &WorkQueue<T>, for_: Duration) -> bool
where
    T: Clone + Eq + std::hash::Hash + Send + Sync + 'static,
{
    timeout(for_, q.get()).await.is_err()
}

#[tokio::test(start_paused = true)]
async fn dedupes_and_keeps_fifo_order() {
    let q = WorkQueue::new();
    for item in ["a", "b", "a", "c", "b", "a"] {
        q.add(&item);
    }
    assert_eq!(q.len(), 3);
    let mut got = Vec::new();
    for _ in 0..3 {
        let item = get_within(&q, ms(1)).await;
        q.done(&item);
        got.push(item);
    }
    assert_eq!(got, vec!["a", "b", "c"]);
    assert!(q.is_empty());
    assert!(nothing_for(&q, Duration::from_secs(1)).await);
}

#[tokio::test(start_paused = true)]
async fn item_added_while_processing_waits_for_done() {
    let q = WorkQueue::new();
    q.add(&"a");
    let a = get_within(&q, ms(1)).await;
    q.add(&"a");
    q.add(&"a");
    // Not queued while a worker has it: a second worker gets nothing.
    assert_eq!(q.len(), 0);
    assert!(nothing_for(&q, Duration::from_secs(1)).await);
    q.add(&"b");
    assert_eq!(get_within(&q, ms(1)).await, "b");
    q.done(&a);
    // Queued again (once) after done.
    assert_eq!(q.len(), 1);
    assert_eq!(get_within(&q, ms(1)).await, "a");
    q.done(&"a");
    q.done(&"b");
    // Done for an item not in progress is a no-op.
    q.done(&"zzz");
    assert!(q.is_empty());
    assert!(nothing_for(&q, Duration::from_secs(1)).await);
}

#[tokio::test(start_paused = true)]
async fn guard_marks_done_on_drop() {
    let q = WorkQueue::new();
    q.add(&1u32);
    let guard = q.get_guarded().await.unwrap();
    assert_eq!(*guard, 1);
    q.add(&1);
    assert_eq!(q.len(), 0);
    drop(guard);
    assert_eq!(q.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn delayed_items_come_in_due_order() {
    let q = WorkQueue::new();
    let start = Instant::now();
    q.add_after(&"a", ms(30));
    q.add_after(&"b", ms(10));
    q.add_after(&"c", ms(20));
    q.add_after(&"now", Duration::ZERO);
    assert_eq!(q.len(), 1, "a zero delay adds at once");
    let mut got = Vec::new();
    for _ in 0..4 {
        let item = get_within(&q, Duration::from_secs(1)).await;
        got.push((item, start.elapsed()));
        q.done(&item);
    }
    assert_eq!(
        got,
        vec![("now", ms(0)), ("b", ms(10)), ("c", ms(20)), ("a", ms(30))]
    );
    assert!(nothing_for(&q, Duration::from_secs(10)).await);
}

#[tokio::test(start_paused = true)]
async fn shorter_delay_wins_for_a_waiting_item() {
    let q = WorkQueue::new();
    let start = Instant::now();
    q.add_after(&"a", Duration::from_secs(1));
    q.add_after(&"a", ms(100));
    assert_eq!(get_within(&q, Duration::from_secs(5)).await, "a");
    assert_eq!(start.elapsed(), ms(100));
    q.done(&"a");
    // The length counts due items only.
    q.add_after(&"c", ms(10));
    assert_eq!(q.len(), 0);
    tokio::time::advance(ms(10)).await;
    assert_eq!(q.len(), 1);
    assert_eq!(get_within(&q, ms(1)).await, "c");
    q.done(&"c");
    // The 1 s entry was replaced, not kept: nothing more comes.
    assert!(nothing_for(&q, Duration::from_secs(5)).await);

    // A longer delay for an item already waiting is ignored.
    let start = Instant::now();
    q.add_after(&"b", ms(100));
    q.add_after(&"b", Duration::from_secs(1));
    assert_eq!(get_within(&q, Duration::from_secs(5)).await, "b");
    assert_eq!(start.elapsed(), ms(100));
    q.done(&"b");
    assert!(nothing_for(&q, Duration::from_secs(5)).await);
}

#[tokio::test(start_paused = true)]
async fn a_blocked_getter_sees_a_new_earlier_delay() {
    let q = WorkQueue::new();
    let start = Instant::now();
    q.add_after(&"late", Duration::from_secs(10));
    let getter = tokio::spawn({
        let q = q.clone();
        async move { (q.get().await, start.elapsed()) }
    });
    tokio::task::yield_now().await;
    q.add_after(&"early", ms(50));
    let (item, at) = getter.await.unwrap();
    assert_eq!((item, at), (Some("early"), ms(50)));
}

#[tokio::test(start_paused = true)]
async fn rate_limited_adds_back_off_and_forget_resets() {
    let q = WorkQueue::builder()
        .rate_limiter(crate::backoff::Backoff::new(ms(5)).cap(Duration::from_secs(1000)))
        .build();
    let mut delays = Vec::new();
    for _ in 0..4 {
        let start = Instant::now();
        q.add_rate_limited(&"k");
        let item = get_within(&q, Duration::from_secs(1)).await;
        delays.push(start.elapsed());
        q.done(&item);
    }
    assert_eq!(delays, vec![ms(5), ms(10), ms(20), ms(40)]);
    assert_eq!(q.num_requeues(&"k"), 4);
    q.forget(&"k");
    assert_eq!(q.num_requeues(&"k"), 0);
    let start = Instant::now();
    q.add_rate_limited(&"k");
    get_within(&q, Duration::from_secs(1)).await;
    assert_eq!(start.elapsed(), ms(5));
}

#[tokio::test(start_paused = true)]
async fn default_queue_uses_the_controller_limiter() {
    let q: WorkQueue<String> = WorkQueue::new();
    let start = Instant::now();
    q.add_rate_limited("x");
    q.add_rate_limited("x"); // second failure: 10 ms, but the 5 ms entry is earlier
    assert_eq!(q.num_requeues("x"), 2);
    get_within(&q, Duration::from_secs(1)).await;
    assert_eq!(start.elapsed(), ms(5));
}

#[tokio::test(start_paused = true)]
async fn shut_down_wakes_blocked_getters() {
    let q: WorkQueue<u32> = WorkQueue::new();
    let getters: Vec<_> = (0..4)
        .map(|_| {
            let q = q.clone();
            tokio::spawn(async move { q.get().await })
        })
        .collect();
    tokio::task::yield_now().await;
    q.add_after(&9, Duration::from_secs(1));
    assert!(!q.is_shutting_down());
    q.shut_down();
    assert!(q.is_shutting_down());
    for g in getters {
        let got = timeout(ms(10), g).await.expect("getter not woken").unwrap();
        assert_eq!(got, None);
    }
    // Adds are ignored after shutdown, delayed items are gone.
    q.add(&1);
    q.add_after(&2, ms(1));
    assert_eq!(q.len(), 0);
    assert_eq!(timeout(Duration::from_secs(5), q.get()).await, Ok(None));
}

#[tokio::test(start_paused = true)]
async fn shut_down_stops_handing_out_queued_items() {
    let q = WorkQueue::new();
    q.add(&"a");
    q.shut_down();
    assert_eq!(q.get().await, None);
}

#[tokio::test(start_paused = true)]
async fn drain_waits_for_queued_and_in_flight_items() {
    let q = WorkQueue::new();
    q.add(&"a");
    q.add(&"b");
    let a = get_within(&q, ms(1)).await;
    let drained = Arc::new(Mutex::new(None));
    let drain = tokio::spawn({
        let (q, drained) = (q.clone(), drained.clone());
        async move {
            q.shut_down_with_drain().await;
            *drained.lock().unwrap() = Some(Instant::now());
        }
    });
    tokio::task::yield_now().await;
    assert!(q.is_shutting_down());
    // New work is refused, queued work is still handed out.
    q.add(&"c");
    assert_eq!(get_within(&q, ms(1)).await, "b");
    assert_eq!(timeout(ms(1), q.get()).await, Ok(None));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(drained.lock().unwrap().is_none(), "drain returned early");
    q.done(&"b");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        drained.lock().unwrap().is_none(),
        "drain returned before a was done"
    );
    let done_at = Instant::now();
    q.done(&a);
    timeout(ms(10), drain)
        .await
        .expect("drain did not finish")
        .unwrap();
    assert_eq!(drained.lock().unwrap().unwrap(), done_at);
}

#[tokio::test(start_paused = true)]
async fn drain_of_an_idle_queue_returns_at_once() {
    let q: WorkQueue<u8> = WorkQueue::new();
    timeout(ms(1), q.shut_down_with_drain()).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn shut_down_during_drain_only_waits_for_in_flight() {
    let q = WorkQueue::new();
    q.add(&"a");
    q.add(&"b");
    let a = get_within(&q, ms(1)).await;
    let drain = tokio::spawn({
        let q = q.clone();
        async move { q.shut_down_with_drain().await }
    });
    tokio::task::yield_now().await;
    q.shut_down();
    // "b" is abandoned; the drain still waits for "a".
    assert_eq!(q.get().await, None);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!drain.is_finished());
    q.done(&a);
    timeout(ms(10), drain)
        .await
        .expect("drain did not finish")
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn cancelled_get_loses_nothing() {
    let q = WorkQueue::new();
    assert!(timeout(ms(5), q.get()).await.is_err());
    let blocked = tokio::spawn({
        let q = q.clone();
        async move { timeout(ms(5), q.get()).await.is_err() }
    });
    assert!(blocked.await.unwrap());
    q.add(&3u8);
    assert_eq!(get_within(&q, ms(1)).await, 3);
}

#[derive(Default)]
struct Recorded {
    depth: Vec<usize>,
    adds: u32,
    latency: Vec<Duration>,
    work: Vec<Duration>,
    unfinished: Vec<Duration>,
    longest: Vec<Duration>,
    retries: u32,
    names: std::collections::BTreeSet<String>,
}

#[derive(Default)]
struct Recorder(Mutex<Recorded>);

impl QueueMetrics for Recorder {
    fn depth(&self, queue: &str, depth: usize) {
        let mut r = self.0.lock().unwrap();
        r.names.insert(queue.into());
        r.depth.push(depth);
    }
    fn add(&self, queue: &str) {
        let mut r = self.0.lock().unwrap();
        r.names.insert(queue.into());
        r.adds += 1;
    }
    fn queue_latency(&self, _: &str, latency: Duration) {
        self.0.lock().unwrap().latency.push(latency);
    }
    fn work_duration(&self, _: &str, duration: Duration) {
        self.0.lock().unwrap().work.push(duration);
    }
    fn unfinished_work(&self, _: &str, total: Duration) {
        self.0.lock().unwrap().unfinished.push(total);
    }
    fn longest_running_processor(&self, _: &str, longest: Duration) {
        self.0.lock().unwrap().longest.push(longest);
    }
    fn retry(&self, _: &str) {
        self.0.lock().unwrap().retries += 1;
    }
}

#[tokio::test(start_paused = true)]
async fn metrics_are_reported() {
    let rec = Arc::new(Recorder::default());
    let q = WorkQueue::builder()
        .name("things")
        .metrics(rec.clone())
        .metrics_update_period(ms(100))
        .build();
    q.add(&"a");
    q.add(&"a"); // deduplicated: not an add
    q.add(&"b");
    tokio::time::sleep(ms(50)).await;
    let a = q.get().await.unwrap();
    let b = q.get().await.unwrap();
    // Two items in progress for 1 s: the reporter sees them.
    tokio::time::sleep(ms(1000)).await;
    q.done(&a);
    tokio::time::sleep(ms(250)).await;
    q.done(&b);
    q.add_rate_limited(&"c");
    q.add_after(&"d", ms(1));
    tokio::time::sleep(ms(250)).await;

    let r = rec.0.lock().unwrap();
    assert_eq!(r.names.iter().collect::<Vec<_>>(), vec!["things"]);
    assert_eq!(r.adds, 2);
    assert_eq!(r.depth, vec![1, 2, 1, 0]);
    assert_eq!(r.latency, vec![ms(50), ms(50)]);
    assert_eq!(r.work, vec![ms(1000), ms(1250)]);
    assert_eq!(r.retries, 2);
    // Reports every 100 ms while a and b run: near 1 s both have run 0.9 to 1 s.
    let max_unfinished = r.unfinished.iter().max().copied().unwrap_or_default();
    let max_longest = r.longest.iter().max().copied().unwrap_or_default();
    assert!(
        max_unfinished >= ms(1800) && max_unfinished <= ms(2000),
        "{:?}",
        r.unfinished
    );
    assert!(
        max_longest >= ms(1150) && max_longest <= ms(1250),
        "{:?}",
        r.longest
    );
    assert!(r.unfinished.len() >= 10, "{:?}", r.unfinished);
    // Nothing in progress now: the last report is zero.
    assert_eq!(r.unfinished.last(), Some(&Duration::ZERO));
    assert_eq!(r.longest.last(), Some(&Duration::ZERO));
}

#[tokio::test(start_paused = true)]
async fn borrowed_keys_and_nothing_left_behind() {
    let q: WorkQueue<String> = WorkQueue::builder()
        .rate_limiter(crate::backoff::Backoff::new(ms(5)))
        .build();
    let key = String::from("ns/a");
    q.add("ns/a");
    q.add(&key);
    assert_eq!(q.len(), 1);
    let got = get_within(&q, ms(1)).await;
    assert_eq!(got, "ns/a");
    q.add_rate_limited(got.as_str());
    q.add_rate_limited("ns/a");
    assert_eq!(q.num_requeues("ns/a"), 2);
    assert_eq!(q.num_requeues("ns/other"), 0);
    q.done("ns/a");
    // The shorter delay (5 ms, the first failure's) wins.
    let start = Instant::now();
    let again = get_within(&q, Duration::from_secs(1)).await;
    assert_eq!(start.elapsed(), ms(5));
    // Failures outlive a done, until forgotten.
    q.done(&again);
    assert_eq!(q.num_requeues("ns/a"), 2);
    assert_eq!(q.known_items(), 1);
    q.forget("ns/a");
    assert_eq!(q.known_items(), 0);
    assert_eq!(q.num_requeues("ns/a"), 0);

    // A delayed item dropped on shutdown leaves nothing behind either; an unknown key's
    // done, forget or count changes nothing.
    q.add_after("ns/b", Duration::from_secs(1));
    q.done("ns/nothing");
    q.forget("ns/nothing");
    assert_eq!(q.known_items(), 1);
    q.shut_down();
    assert_eq!(q.known_items(), 0);
}

/// A key that counts its copies, to check when the queue copies keys.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Counted(u32);

static COPIES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl Clone for Counted {
    fn clone(&self) -> Self {
        COPIES.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Counted(self.0)
    }
}

fn copies() -> usize {
    COPIES.swap(0, std::sync::atomic::Ordering::SeqCst)
}

#[tokio::test(start_paused = true)]
async fn keys_are_copied_only_when_new_to_the_queue() {
    let q: WorkQueue<Counted> = WorkQueue::builder()
        .rate_limiter(crate::backoff::Backoff::new(ms(5)))
        .build();
    let k = Counted(1);
    copies();
    // A new key: one copy kept in the queue's index, one in the line to hand out.
    q.add(&k);
    assert_eq!(copies(), 2);
    // Already queued: no copy.
    for _ in 0..10 {
        q.add(&k);
    }
    assert_eq!(copies(), 0);
    // Handing it out moves the queued copy to the worker.
    let got = get_within(&q, ms(1)).await;
    assert_eq!(copies(), 0);
    // Added while in progress: no copy until done puts it back in line.
    q.add(&k);
    q.add(&k);
    assert_eq!(copies(), 0);
    assert_eq!(q.num_requeues(&k), 0);
    q.forget(&k);
    q.done(&got);
    assert_eq!(copies(), 1);
    let got = get_within(&q, ms(1)).await;
    // A rate-limited retry of a known key: one copy, for the waiting line.
    q.add_rate_limited(&got);
    assert_eq!(copies(), 1);
    q.done(&got);
    assert_eq!(copies(), 0);
    let got = get_within(&q, Duration::from_secs(1)).await;
    q.forget(&got);
    q.done(&got);
    assert_eq!(copies(), 0);
    assert_eq!(q.known_items(), 0);
}
