//! Decodes the items of a large protobuf list on more than one thread, keeping their order.
//!
//! Decoding a list is nearly all allocation and parsing work per item, and items are
//! independent, so a large list decodes faster when several cores share it.
//! [`ParallelItems`] takes the items' bytes one at a time, in body order:
//!
//! - The first [`INLINE_BYTES`] of items are decoded at once on the caller's thread, as a
//!   sequential decoder would. A small list never starts a thread.
//! - After that, items are gathered into batches of up to [`BATCH_BYTES`]. A full batch is
//!   queued for helpers: one fewer than `std::thread::available_parallelism` (which follows
//!   CPU affinity and cgroup CPU quotas, so a program limited to one CPU gets none), at most
//!   [`MAX_HELPERS`] or what [`ParallelItems::threads`] allows (`Config::list_decode_threads`),
//!   started when the first batch is queued, gone when the list is done.
//!   Inside a tokio runtime they run on its blocking pool. When [`QUEUED_BATCHES`] batches
//!   already wait, the caller decodes the new batch itself: the bytes held stay bounded, and
//!   the caller's thread does its share.
//! - [`ParallelItems::finish`] decodes what is still queued on the caller's thread, waits for
//!   the helpers' batches, and returns the items in body order.
//!
//! An item that fails to decode fails the list with the same error a sequential decoder gives
//! (the earliest failing item, by its index), possibly a little later than that decoder would.

use std::collections::{BTreeMap, VecDeque};
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use super::wire::DecodeError;

/// Item bytes decoded on the caller's thread before batching starts.
pub(crate) const INLINE_BYTES: usize = 1 << 20;
/// The most item bytes in a batch (unless one item alone is larger).
pub(crate) const BATCH_BYTES: usize = 256 << 10;
/// Batches that may wait for a helper; a batch beyond these is decoded by the caller.
pub(crate) const QUEUED_BATCHES: usize = 2;
/// The most helper threads one list uses unless told otherwise ([`ParallelItems::threads`]).
pub(crate) const MAX_HELPERS: usize = 3;

/// Decodes one item.
pub(crate) type Decode<K> = fn(&[u8]) -> Result<K, DecodeError>;

/// Starts helper threads for a list. A field rather than a direct call so that only
/// [`ParallelItems::new`] needs `K: Send + 'static`.
type Spawn<K> = fn(&Arc<Shared<K>>, usize);

/// The items of one list, decoded as they come (see the module docs).
pub(crate) struct ParallelItems<K> {
    decode: Decode<K>,
    /// Starts the helpers.
    spawn: Spawn<K>,
    /// The most helpers (threads besides the caller's).
    max_helpers: usize,
    /// Item bytes decoded inline before batching starts.
    inline_bytes: usize,
    /// The batch size.
    batch_bytes: usize,
    /// Items decoded on the caller's thread before batching started.
    head: Vec<K>,
    /// How many items have been taken (the index of the next one).
    count: usize,
    /// Item bytes taken so far.
    taken_bytes: usize,
    /// The batch being filled.
    batch: Batch,
    /// The batch number the next full batch gets.
    next_batch: usize,
    /// The helpers' shared state, once batching has started.
    pool: Option<Arc<Shared<K>>>,
}

/// Item bytes laid end to end, with where each ends.
#[derive(Default)]
struct Batch {
    /// The batch's place in the list.
    number: usize,
    /// The index of its first item in the list.
    first: usize,
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

/// What the caller and the helpers share.
pub(crate) struct Shared<K> {
    state: Mutex<State<K>>,
    /// Signalled when a batch is queued or decoded, or the list is closed.
    changed: Condvar,
    decode: Decode<K>,
}

struct State<K> {
    queue: VecDeque<Batch>,
    /// Batches being decoded by helpers.
    running: usize,
    /// Decoded batches by number.
    done: BTreeMap<usize, Result<Vec<K>, DecodeError>>,
    /// Whether some decoded batch failed.
    failed: bool,
    /// No more batches will come: idle helpers leave.
    closed: bool,
}

impl<K> ParallelItems<K> {
    /// Takes the next item's bytes. An error is the earliest failing item's (of those decoded
    /// so far); after it the list is not decoded further.
    pub(crate) fn push(&mut self, item: &[u8]) -> Result<(), DecodeError> {
        let index = self.count;
        self.count += 1;
        if self.taken_bytes < self.inline_bytes {
            self.taken_bytes += item.len();
            let decoded = (self.decode)(item).map_err(|e| item_error(e, index))?;
            self.head.push(decoded);
            return Ok(());
        }
        if !self.batch.ends.is_empty() && self.batch.bytes.len() + item.len() > self.batch_bytes {
            self.hand_out()?;
        }
        if self.batch.ends.is_empty() {
            self.batch.first = index;
            // Exactly a batch (or the one item that is larger): held bytes stay as counted.
            self.batch
                .bytes
                .reserve_exact(self.batch_bytes.max(item.len()));
        }
        self.batch.bytes.extend_from_slice(item);
        self.batch.ends.push(self.batch.bytes.len());
        Ok(())
    }

    /// Queues the full batch for the helpers, or decodes it here when enough already wait.
    fn hand_out(&mut self) -> Result<(), DecodeError> {
        let mut batch = std::mem::take(&mut self.batch);
        batch.number = self.next_batch;
        self.next_batch += 1;
        let shared = self.pool();
        let mut state = lock(&shared.state);
        if !state.failed {
            if state.queue.len() < QUEUED_BATCHES {
                state.queue.push_back(batch);
                shared.changed.notify_one();
                return Ok(());
            }
            drop(state);
            shared.run(batch);
            state = lock(&shared.state);
        }
        if !state.failed {
            return Ok(());
        }
        drop(state);
        Err(self.settle().unwrap_or_else(failed_earlier))
    }

    /// The helpers' shared state, started at the first batch.
    fn pool(&mut self) -> Arc<Shared<K>> {
        if let Some(shared) = &self.pool {
            return shared.clone();
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                running: 0,
                done: BTreeMap::new(),
                failed: false,
                closed: false,
            }),
            changed: Condvar::new(),
            decode: self.decode,
        });
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        (self.spawn)(&shared, cores.saturating_sub(1).min(self.max_helpers));
        self.pool = Some(shared.clone());
        shared
    }

    /// Decodes what is still queued on this thread and waits for the helpers. Returns the
    /// earliest error of any batch. Callers whose list bytes turned out malformed use it too:
    /// an item before that point failed first for a sequential decoder, so its error wins.
    ///
    /// Inside a multi-thread tokio runtime the wait (and the decoding of what is still
    /// queued) runs through `tokio::task::block_in_place`: the worker thread hands its other
    /// tasks to a new worker first, so a large list being finished never holds up other
    /// requests of the program. (Elsewhere, including a current-thread runtime, it waits on
    /// the thread it is called on.)
    pub(crate) fn settle(&mut self) -> Option<DecodeError> {
        let shared = self.pool.clone()?;
        off_the_workers(|| settle_on(&shared))
    }

    /// The items in list order, once the last has been pushed.
    pub(crate) fn finish(mut self) -> Result<Vec<K>, DecodeError> {
        if !self.batch.ends.is_empty() {
            if self.pool.is_none() {
                // Batching started but no batch filled: decode the rest here.
                let batch = std::mem::take(&mut self.batch);
                let rest = decode_batch(self.decode, &batch)?;
                self.head.extend(rest);
                return Ok(std::mem::take(&mut self.head));
            }
            self.hand_out()?;
        }
        if let Some(e) = self.settle() {
            return Err(e);
        }
        let mut items = std::mem::take(&mut self.head);
        if let Some(shared) = self.pool.take() {
            let done = std::mem::take(&mut lock(&shared.state).done);
            items.reserve_exact(self.count - items.len());
            for (_, batch) in done {
                items.extend(batch?);
            }
        }
        Ok(items)
    }

    /// Decodes on at most `threads` threads, the caller's included (`0` counts as `1`).
    pub(crate) fn threads(mut self, threads: usize) -> Self {
        self.max_helpers = threads.saturating_sub(1);
        self
    }

    /// Item bytes held and not yet decoded.
    #[cfg(test)]
    pub(crate) fn buffered(&self) -> usize {
        let queued = self.pool.as_ref().map_or(0, |shared| {
            let state = lock(&shared.state);
            state.queue.iter().map(|b| b.bytes.capacity()).sum()
        });
        self.batch.bytes.capacity() + queued
    }
}

impl<K: Send + 'static> ParallelItems<K> {
    /// Items decoded by `decode`, on helper threads too once the list is large.
    pub(crate) fn new(decode: Decode<K>) -> Self {
        ParallelItems {
            decode,
            spawn: spawn_helpers::<K>,
            max_helpers: MAX_HELPERS,
            inline_bytes: INLINE_BYTES,
            batch_bytes: BATCH_BYTES,
            head: Vec::new(),
            count: 0,
            taken_bytes: 0,
            batch: Batch::default(),
            next_batch: 0,
            pool: None,
        }
    }

    /// [`ParallelItems::new`] with other sizes (tests use small ones).
    #[cfg(test)]
    pub(crate) fn with_sizes(decode: Decode<K>, inline_bytes: usize, batch_bytes: usize) -> Self {
        let mut items = Self::new(decode);
        items.inline_bytes = inline_bytes;
        items.batch_bytes = batch_bytes;
        items
    }
}

impl<K> Drop for ParallelItems<K> {
    /// Helpers leave once their batch in hand is done, whether or not the list was finished.
    fn drop(&mut self) {
        if let Some(shared) = &self.pool {
            let mut state = lock(&shared.state);
            state.closed = true;
            state.queue.clear();
            shared.changed.notify_all();
        }
    }
}

impl<K> Shared<K> {
    /// Decodes `batch` (without holding the lock) and records the result.
    fn run(&self, batch: Batch) {
        let result = decode_batch(self.decode, &batch);
        let mut state = lock(&self.state);
        state.failed |= result.is_err();
        state.done.insert(batch.number, result);
    }
}

/// [`ParallelItems::settle`]'s work: closes the list, decodes what is still queued and waits
/// for the helpers' batches; the earliest error of any batch.
fn settle_on<K>(shared: &Shared<K>) -> Option<DecodeError> {
    let mut state = lock(&shared.state);
    state.closed = true;
    shared.changed.notify_all();
    loop {
        if let Some(batch) = state.queue.pop_front() {
            drop(state);
            shared.run(batch);
            state = lock(&shared.state);
        } else if state.running > 0 {
            state = shared
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        } else {
            break;
        }
    }
    state.done.values().find_map(|r| r.as_ref().err().cloned())
}

/// Runs `f`, which may block for a while, without holding up the other tasks of a
/// multi-thread tokio runtime it may be called from (see [`ParallelItems::settle`]).
fn off_the_workers<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) if runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// Starts up to `n` helpers. Inside a tokio runtime they run on its blocking pool (threads
/// the program already has and sizes), elsewhere on threads of their own. A helper that
/// cannot be started leaves its share to the caller.
fn spawn_helpers<K: Send + 'static>(shared: &Arc<Shared<K>>, n: usize) {
    let runtime = tokio::runtime::Handle::try_current().ok();
    for _ in 0..n {
        let shared = shared.clone();
        match &runtime {
            Some(runtime) => drop(runtime.spawn_blocking(move || helper(&shared))),
            None => {
                // A thread that cannot be started is not needed: the caller decodes.
                let _ = std::thread::Builder::new()
                    .name("k8s-client-decode".into())
                    .spawn(move || helper(&shared));
            }
        }
    }
}

/// A helper: decodes queued batches until the list is closed and the queue is empty.
fn helper<K>(shared: &Shared<K>) {
    let mut state = lock(&shared.state);
    loop {
        if let Some(batch) = state.queue.pop_front() {
            state.running += 1;
            drop(state);
            shared.run(batch);
            state = lock(&shared.state);
            state.running -= 1;
            shared.changed.notify_all();
        } else if state.closed {
            return;
        } else {
            state = shared
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// Decodes a batch's items in order, stopping at the first that fails. A decoder that
/// panics is reported as an error of that item rather than losing the batch.
fn decode_batch<K>(decode: Decode<K>, batch: &Batch) -> Result<Vec<K>, DecodeError> {
    let mut items = Vec::with_capacity(batch.ends.len());
    let mut start = 0;
    for (i, &end) in batch.ends.iter().enumerate() {
        let bytes = &batch.bytes[start..end];
        let item = panic::catch_unwind(AssertUnwindSafe(|| decode(bytes)))
            .unwrap_or_else(|_| Err(DecodeError::new("", "the item's decoder panicked")))
            .map_err(|e| item_error(e, batch.first + i))?;
        items.push(item);
        start = end;
    }
    Ok(items)
}

/// An item's error, placed in the list and numbered.
pub(crate) fn item_error(e: DecodeError, index: usize) -> DecodeError {
    let mut e = e.within("List", "items");
    e.message = format!("{} (item {index})", e.message);
    e
}

fn failed_earlier() -> DecodeError {
    DecodeError::new("List", "an item failed to decode")
}

/// Locks the state; a helper that panicked while holding the lock left it consistent (every
/// change is made in one step), so a poisoned lock is used as it is.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A test item: its number, and the thread that decoded it.
    #[derive(Debug, PartialEq)]
    struct Item {
        n: u32,
        thread: Option<String>,
    }

    const FAIL: u32 = u32::MAX;
    const PANIC: u32 = u32::MAX - 1;

    /// Decodes a 4-byte number, slowly enough that helpers get batches; `FAIL` is an error,
    /// `PANIC` panics.
    fn decode(bytes: &[u8]) -> Result<Item, DecodeError> {
        let n = u32::from_le_bytes(
            bytes
                .try_into()
                .map_err(|_| DecodeError::new("Item", "not 4 bytes"))?,
        );
        std::thread::sleep(std::time::Duration::from_micros(200));
        match n {
            FAIL => Err(DecodeError::new("Item", format!("item {n} is bad"))),
            PANIC => panic!("the decoder panicked on purpose"),
            n => Ok(Item {
                n,
                thread: std::thread::current().name().map(str::to_string),
            }),
        }
    }

    /// Small sizes: 16 items inline, then batches of 8 items.
    fn items() -> ParallelItems<Item> {
        ParallelItems::with_sizes(decode, 64, 32)
    }

    fn run(numbers: impl IntoIterator<Item = u32>) -> Result<Vec<Item>, DecodeError> {
        let mut items = items();
        for n in numbers {
            items.push(&n.to_le_bytes())?;
        }
        items.finish()
    }

    const GATE: u32 = u32::MAX - 2;
    static GATE_ENTERED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    static GATE_OPEN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

    /// [`decode`], except that `GATE` waits until the gate opens.
    fn gated(bytes: &[u8]) -> Result<Item, DecodeError> {
        use std::sync::atomic::Ordering::SeqCst;
        if bytes == GATE.to_le_bytes() {
            GATE_ENTERED.fetch_add(1, SeqCst);
            while !GATE_OPEN.load(SeqCst) {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
        decode(bytes)
    }

    #[test]
    fn finishing_lists_does_not_hold_up_the_other_tasks_of_a_runtime() {
        use std::sync::atomic::Ordering::SeqCst;
        use std::time::{Duration, Instant};
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        // Two lists, as many as the runtime has workers, each finishing while an item of
        // theirs takes long to decode (on a helper, or on the caller when it has none).
        let lists: Vec<_> = (0..2)
            .map(|_| {
                runtime.spawn(async {
                    let mut items = ParallelItems::with_sizes(gated, 0, 8);
                    for n in [GATE, 1, 2] {
                        items.push(&n.to_le_bytes())?;
                    }
                    items.finish()
                })
            })
            .collect();
        let start = Instant::now();
        while GATE_ENTERED.load(SeqCst) < 2 {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the lists did not start"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        // Both lists wait now: another task of the runtime still runs at once.
        let (tx, rx) = std::sync::mpsc::channel();
        runtime.spawn(async move { tx.send(()) });
        let probe = rx.recv_timeout(Duration::from_secs(2));
        GATE_OPEN.store(true, SeqCst);
        for list in lists {
            let items = runtime.block_on(list).unwrap().unwrap();
            assert_eq!(items.iter().map(|i| i.n).collect::<Vec<_>>(), [GATE, 1, 2]);
        }
        assert!(
            probe.is_ok(),
            "a task waited for lists being decoded on other tasks"
        );
    }

    #[test]
    fn items_keep_their_order_and_helpers_share_the_work() {
        let got = run(0..2000).unwrap();
        let numbers: Vec<u32> = got.iter().map(|i| i.n).collect();
        assert_eq!(numbers, (0..2000).collect::<Vec<_>>());
        let on_helpers = got
            .iter()
            .filter(|i| i.thread.as_deref() == Some("k8s-client-decode"))
            .count();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        if cores > 1 {
            assert!(on_helpers > 0, "no item was decoded by a helper");
            assert!(on_helpers < 2000, "the caller decoded nothing");
        } else {
            assert_eq!(on_helpers, 0, "one core: no helpers");
        }
        // The first 16 items (64 bytes) are decoded inline.
        assert!(got[..16]
            .iter()
            .all(|i| i.thread.as_deref() != Some("k8s-client-decode")));
    }

    #[test]
    fn inside_a_runtime_helpers_run_on_its_blocking_pool() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .thread_name("test-blocking-pool")
            .build()
            .unwrap();
        let got = runtime.block_on(async { run(0..1000) }).unwrap();
        assert_eq!(
            got.iter().map(|i| i.n).collect::<Vec<_>>(),
            (0..1000).collect::<Vec<_>>()
        );
        let pooled = got
            .iter()
            .filter(|i| i.thread.as_deref() == Some("test-blocking-pool"))
            .count();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(pooled > 0, cores > 1, "{pooled} items on the blocking pool");
        assert!(got
            .iter()
            .all(|i| i.thread.as_deref() != Some("k8s-client-decode")));
    }

    #[test]
    fn one_thread_means_no_helpers() {
        for threads in [0, 1] {
            let mut items = items().threads(threads);
            for n in 0..1000u32 {
                items.push(&n.to_le_bytes()).unwrap();
            }
            let got = items.finish().unwrap();
            assert_eq!(
                got.iter().map(|i| i.n).collect::<Vec<_>>(),
                (0..1000).collect::<Vec<_>>()
            );
            let here = std::thread::current().name().map(str::to_string);
            assert!(got.iter().all(|i| i.thread == here), "threads({threads})");
        }
    }

    #[test]
    fn small_lists_are_decoded_inline_with_the_same_result() {
        for len in [0, 1, 15, 16, 17, 23, 24, 25, 40] {
            let got = run(0..len).unwrap();
            assert_eq!(
                got.iter().map(|i| i.n).collect::<Vec<_>>(),
                (0..len).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn the_earliest_failing_item_is_reported() {
        let sequential = |numbers: &[u32]| {
            numbers
                .iter()
                .enumerate()
                .find_map(|(i, n)| decode(&n.to_le_bytes()).err().map(|e| item_error(e, i)))
                .map(|e| e.to_string())
        };
        for bad in [[3, 900], [40, 41], [100, 1500], [1999, 5]] {
            let mut numbers: Vec<u32> = (0..2000).collect();
            for at in bad {
                numbers[at] = FAIL;
            }
            let err = run(numbers.iter().copied()).unwrap_err().to_string();
            assert_eq!(Some(err.clone()), sequential(&numbers));
            let first = bad.iter().min().unwrap();
            assert!(err.contains(&format!("(item {first})")), "{err}");
        }
    }

    #[test]
    fn a_panicking_decoder_is_an_error_not_a_hang() {
        let mut numbers: Vec<u32> = (0..500).collect();
        numbers[300] = PANIC;
        let err = run(numbers).unwrap_err().to_string();
        assert!(
            err.contains("panicked") && err.contains("(item 300)"),
            "{err}"
        );
    }

    #[test]
    fn an_earlier_item_error_outranks_a_later_one() {
        let mut items = items();
        for n in (0..200).map(|n| if n == 150 { FAIL } else { n }) {
            // The error may surface at a later push or at the end.
            if items.push(&n.to_le_bytes()).is_err() {
                break;
            }
        }
        let err = items.settle().expect("item 150 failed");
        assert!(err.to_string().contains("(item 150)"), "{err}");
    }

    #[test]
    fn held_bytes_stay_bounded_and_dropping_unfinished_is_fine() {
        let mut items = items();
        let mut most = 0;
        for n in 0..3000u32 {
            items.push(&n.to_le_bytes()).unwrap();
            most = most.max(items.buffered());
        }
        // The batch being filled and the queued ones, each at most a batch.
        assert!(most <= (QUEUED_BATCHES + 1) * 32, "held {most} bytes");
        drop(items);
    }
}
