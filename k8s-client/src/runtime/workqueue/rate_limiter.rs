//! Rate limiters for [`WorkQueue::add_rate_limited`](super::WorkQueue::add_rate_limited):
//! they decide how long an item waits before it is queued again, as client-go's
//! `workqueue.RateLimiter` family.
//!
//! | type | client-go | behaviour |
//! |---|---|---|
//! | [`ExponentialFailureRateLimiter`] | `ItemExponentialFailureRateLimiter` | per item: `base * 2^failures`, capped |
//! | [`BucketRateLimiter`] | `BucketRateLimiter` | one token bucket for all items |
//! | [`FastSlowRateLimiter`] | `ItemFastSlowRateLimiter` | per item: a short delay for the first attempts, then a long one |
//! | [`MaxOfRateLimiter`] | `MaxOfRateLimiter` | the longest delay of several limiters |
//! | [`default_controller_rate_limiter`] | `DefaultControllerRateLimiter` | max of exponential (5 ms .. 1000 s) and bucket (10 qps, burst 100) |
//!
//! ```
//! use std::time::Duration;
//! use k8s_client::runtime::workqueue::{ExponentialFailureRateLimiter, RateLimiter};
//!
//! let limiter = ExponentialFailureRateLimiter::new(Duration::from_millis(5), Duration::from_secs(1000));
//! assert_eq!(limiter.when(&"a"), Duration::from_millis(5));
//! assert_eq!(limiter.when(&"a"), Duration::from_millis(10));
//! assert_eq!(limiter.num_requeues(&"a"), 2);
//! limiter.forget(&"a");
//! assert_eq!(limiter.when(&"a"), Duration::from_millis(5));
//! ```

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

/// Decides how long an item waits before it is retried.
pub trait RateLimiter<T>: Send + Sync {
    /// How long `item` should wait now; records the attempt.
    fn when(&self, item: &T) -> Duration;
    /// Stops tracking `item` (it succeeded): its next failure starts from scratch.
    fn forget(&self, item: &T);
    /// How many times `item` has been rate limited since it was last forgotten.
    fn num_requeues(&self, item: &T) -> u32;
}

impl<T, R: RateLimiter<T> + ?Sized> RateLimiter<T> for Arc<R> {
    fn when(&self, item: &T) -> Duration {
        (**self).when(item)
    }
    fn forget(&self, item: &T) {
        (**self).forget(item)
    }
    fn num_requeues(&self, item: &T) -> u32 {
        (**self).num_requeues(item)
    }
}

impl<T, R: RateLimiter<T> + ?Sized> RateLimiter<T> for Box<R> {
    fn when(&self, item: &T) -> Duration {
        (**self).when(item)
    }
    fn forget(&self, item: &T) {
        (**self).forget(item)
    }
    fn num_requeues(&self, item: &T) -> u32 {
        (**self).num_requeues(item)
    }
}

fn lock<S>(m: &Mutex<S>) -> MutexGuard<'_, S> {
    // The locks guard plain counters; recover from poisoning.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Per item: the n-th failure in a row waits `base * 2^(n-1)`, at most `max`
/// (client-go's `ItemExponentialFailureRateLimiter`).
pub struct ExponentialFailureRateLimiter<T> {
    base: Duration,
    max: Duration,
    failures: Mutex<HashMap<T, u32>>,
}

impl<T> fmt::Debug for ExponentialFailureRateLimiter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExponentialFailureRateLimiter")
            .field("base", &self.base)
            .field("max", &self.max)
            .field("tracked_items", &lock(&self.failures).len())
            .finish()
    }
}

impl<T: Eq + Hash + Clone> ExponentialFailureRateLimiter<T> {
    /// Starts at `base`, doubles on each failure, never waits longer than `max`.
    pub fn new(base: Duration, max: Duration) -> Self {
        ExponentialFailureRateLimiter {
            base,
            max,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn delay(&self, exponent: u32) -> Duration {
        let nanos = 1u128
            .checked_shl(exponent)
            .and_then(|factor| self.base.as_nanos().checked_mul(factor));
        match nanos {
            Some(n) if n < self.max.as_nanos() => {
                // n < max's nanos, so it fits a Duration.
                Duration::new((n / 1_000_000_000) as u64, (n % 1_000_000_000) as u32)
            }
            _ => self.max,
        }
    }
}

impl<T: Eq + Hash + Clone> Default for ExponentialFailureRateLimiter<T> {
    /// client-go's controller default: 5 ms, at most 1000 s.
    fn default() -> Self {
        ExponentialFailureRateLimiter::new(Duration::from_millis(5), Duration::from_secs(1000))
    }
}

impl<T: Eq + Hash + Clone + Send + Sync> RateLimiter<T> for ExponentialFailureRateLimiter<T> {
    fn when(&self, item: &T) -> Duration {
        let exponent = {
            let mut failures = lock(&self.failures);
            let count = failures.entry(item.clone()).or_insert(0);
            let exponent = *count;
            *count = count.saturating_add(1);
            exponent
        };
        self.delay(exponent)
    }

    fn forget(&self, item: &T) {
        lock(&self.failures).remove(item);
    }

    fn num_requeues(&self, item: &T) -> u32 {
        lock(&self.failures).get(item).copied().unwrap_or(0)
    }
}

/// One token bucket shared by all items: `qps` retries a second overall, `burst` at once
/// (client-go's `BucketRateLimiter`). It does not track items: `forget` does nothing and
/// `num_requeues` is 0.
///
/// [`when`](RateLimiter::when) reserves the next token and returns how long until it is due
/// (it never sleeps itself).
#[derive(Debug)]
pub struct BucketRateLimiter {
    qps: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl BucketRateLimiter {
    /// A bucket that starts full with `burst` tokens (at least 1) and refills at `qps` tokens
    /// a second. A `qps` that is not a positive number means no limit.
    pub fn new(qps: f64, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        BucketRateLimiter {
            qps: if qps.is_finite() && qps > 0.0 {
                qps
            } else {
                f64::INFINITY
            },
            burst,
            state: Mutex::new((burst, Instant::now())),
        }
    }

    fn reserve(&self) -> Duration {
        if self.qps.is_infinite() {
            return Duration::ZERO;
        }
        let mut state = lock(&self.state);
        let (tokens, updated) = &mut *state;
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(*updated).as_secs_f64();
        *tokens = (*tokens + elapsed * self.qps).min(self.burst) - 1.0;
        *updated = now;
        if *tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::try_from_secs_f64(-*tokens / self.qps).unwrap_or(Duration::MAX)
        }
    }
}

impl Default for BucketRateLimiter {
    /// client-go's controller default: 10 qps, burst 100.
    fn default() -> Self {
        BucketRateLimiter::new(10.0, 100)
    }
}

impl<T> RateLimiter<T> for BucketRateLimiter {
    fn when(&self, _item: &T) -> Duration {
        self.reserve()
    }
    fn forget(&self, _item: &T) {}
    fn num_requeues(&self, _item: &T) -> u32 {
        0
    }
}

/// Per item: `fast` for the first `max_fast_attempts` attempts, `slow` after that
/// (client-go's `ItemFastSlowRateLimiter`).
pub struct FastSlowRateLimiter<T> {
    fast: Duration,
    slow: Duration,
    max_fast_attempts: u32,
    failures: Mutex<HashMap<T, u32>>,
}

impl<T> fmt::Debug for FastSlowRateLimiter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FastSlowRateLimiter")
            .field("fast", &self.fast)
            .field("slow", &self.slow)
            .field("max_fast_attempts", &self.max_fast_attempts)
            .finish()
    }
}

impl<T: Eq + Hash + Clone> FastSlowRateLimiter<T> {
    /// Waits `fast` for attempts 1 to `max_fast_attempts`, then `slow`.
    pub fn new(fast: Duration, slow: Duration, max_fast_attempts: u32) -> Self {
        FastSlowRateLimiter {
            fast,
            slow,
            max_fast_attempts,
            failures: Mutex::new(HashMap::new()),
        }
    }
}

impl<T: Eq + Hash + Clone + Send + Sync> RateLimiter<T> for FastSlowRateLimiter<T> {
    fn when(&self, item: &T) -> Duration {
        let mut failures = lock(&self.failures);
        let count = failures.entry(item.clone()).or_insert(0);
        *count = count.saturating_add(1);
        if *count <= self.max_fast_attempts {
            self.fast
        } else {
            self.slow
        }
    }

    fn forget(&self, item: &T) {
        lock(&self.failures).remove(item);
    }

    fn num_requeues(&self, item: &T) -> u32 {
        lock(&self.failures).get(item).copied().unwrap_or(0)
    }
}

/// The longest delay of several limiters; every limiter sees every call
/// (client-go's `MaxOfRateLimiter`).
pub struct MaxOfRateLimiter<T> {
    limiters: Vec<Box<dyn RateLimiter<T>>>,
}

impl<T> fmt::Debug for MaxOfRateLimiter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MaxOfRateLimiter")
            .field("limiters", &self.limiters.len())
            .finish()
    }
}

impl<T> MaxOfRateLimiter<T> {
    /// Combines `limiters` (none: no delay).
    pub fn new(limiters: Vec<Box<dyn RateLimiter<T>>>) -> Self {
        MaxOfRateLimiter { limiters }
    }
}

impl<T> RateLimiter<T> for MaxOfRateLimiter<T> {
    fn when(&self, item: &T) -> Duration {
        self.limiters
            .iter()
            .map(|l| l.when(item))
            .max()
            .unwrap_or_default()
    }

    fn forget(&self, item: &T) {
        for l in &self.limiters {
            l.forget(item);
        }
    }

    fn num_requeues(&self, item: &T) -> u32 {
        self.limiters
            .iter()
            .map(|l| l.num_requeues(item))
            .max()
            .unwrap_or(0)
    }
}

/// client-go's `DefaultControllerRateLimiter`: the max of a per-item exponential backoff
/// (5 ms doubling up to 1000 s) and an overall token bucket (10 qps, burst 100). This is the
/// limiter [`WorkQueue::new`](super::WorkQueue::new) uses.
pub fn default_controller_rate_limiter<T>() -> MaxOfRateLimiter<T>
where
    T: Eq + Hash + Clone + Send + Sync + 'static,
{
    MaxOfRateLimiter::new(vec![
        Box::new(ExponentialFailureRateLimiter::<T>::default()),
        Box::new(BucketRateLimiter::default()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn exponential_doubles_and_caps() {
        let l = ExponentialFailureRateLimiter::new(ms(5), Duration::from_secs(1000));
        let got: Vec<_> = (0..8).map(|_| l.when(&"a")).collect();
        assert_eq!(
            got,
            vec![
                ms(5),
                ms(10),
                ms(20),
                ms(40),
                ms(80),
                ms(160),
                ms(320),
                ms(640)
            ]
        );
        assert_eq!(l.num_requeues(&"a"), 8);
        // 5 ms * 2^17 = 655.36 s, 2^18 = 1310.72 s: capped.
        for _ in 8..17 {
            l.when(&"a");
        }
        assert_eq!(l.when(&"a"), Duration::from_millis(655_360));
        assert_eq!(l.when(&"a"), Duration::from_secs(1000));
        // Far past any overflow: still the cap.
        for _ in 0..300 {
            assert_eq!(l.when(&"a"), Duration::from_secs(1000));
        }
        // Other items are independent.
        assert_eq!(l.when(&"b"), ms(5));
        l.forget(&"a");
        assert_eq!(l.num_requeues(&"a"), 0);
        assert_eq!(l.when(&"a"), ms(5));
    }

    #[test]
    fn exponential_small_cap() {
        let l = ExponentialFailureRateLimiter::new(ms(1), ms(3));
        let got: Vec<_> = (0..4).map(|_| l.when(&1)).collect();
        assert_eq!(got, vec![ms(1), ms(2), ms(3), ms(3)]);
    }

    #[tokio::test(start_paused = true)]
    async fn bucket_burst_then_rate() {
        let l = BucketRateLimiter::default();
        for i in 0..100 {
            assert_eq!(
                RateLimiter::<u32>::when(&l, &i),
                Duration::ZERO,
                "token {i}"
            );
        }
        // Tokens are reserved: each further call is due 100 ms after the previous one.
        let next: Vec<_> = (0..3).map(|i| RateLimiter::<u32>::when(&l, &i)).collect();
        assert_eq!(next, vec![ms(100), ms(200), ms(300)]);
        assert_eq!(RateLimiter::<u32>::num_requeues(&l, &1), 0);
        // After 1.3 s the three reservations are paid and 10 more tokens are back.
        tokio::time::advance(ms(1300)).await;
        for i in 0..10 {
            let d = RateLimiter::<u32>::when(&l, &i);
            assert!(d <= ms(1), "token {i} after refill: {d:?}");
        }
        let d = RateLimiter::<u32>::when(&l, &0);
        assert!(d >= ms(99) && d <= ms(101), "{d:?}");
    }

    #[test]
    fn fast_slow() {
        let l = FastSlowRateLimiter::new(ms(5), Duration::from_secs(10), 3);
        let got: Vec<_> = (0..5).map(|_| l.when(&"x")).collect();
        assert_eq!(
            got,
            vec![
                ms(5),
                ms(5),
                ms(5),
                Duration::from_secs(10),
                Duration::from_secs(10)
            ]
        );
        assert_eq!(l.num_requeues(&"x"), 5);
        l.forget(&"x");
        assert_eq!(l.when(&"x"), ms(5));
    }

    #[tokio::test(start_paused = true)]
    async fn max_of_takes_the_longest_and_forgets_everywhere() {
        let l: MaxOfRateLimiter<&str> = MaxOfRateLimiter::new(vec![
            Box::new(FastSlowRateLimiter::new(ms(5), ms(300), 2)),
            Box::new(ExponentialFailureRateLimiter::new(
                ms(10),
                Duration::from_secs(1),
            )),
        ]);
        let got: Vec<_> = (0..5).map(|_| l.when(&"k")).collect();
        // fast/slow: 5 5 300 300 300; exponential: 10 20 40 80 160.
        assert_eq!(got, vec![ms(10), ms(20), ms(300), ms(300), ms(300)]);
        assert_eq!(l.num_requeues(&"k"), 5);
        l.forget(&"k");
        assert_eq!(l.num_requeues(&"k"), 0);
        assert_eq!(l.when(&"k"), ms(10));
        assert_eq!(
            MaxOfRateLimiter::<u8>::new(Vec::new()).when(&1),
            Duration::ZERO
        );
    }

    #[tokio::test(start_paused = true)]
    async fn default_controller_limiter() {
        let l = default_controller_rate_limiter::<String>();
        let k = "ns/a".to_string();
        assert_eq!(l.when(&k), ms(5));
        assert_eq!(l.when(&k), ms(10));
        assert_eq!(l.num_requeues(&k), 2);
        // 98 different items use up the rest of the burst of 100 ...
        for i in 0..98 {
            l.when(&format!("other-{i}"));
        }
        // ... so the bucket's 100 ms now beats the item's 20 ms.
        let d = l.when(&k);
        assert!(d >= ms(99) && d <= ms(101), "{d:?}");
        l.forget(&k);
        assert_eq!(l.num_requeues(&k), 0);
    }
}
