//! Rate limiters for [`WorkQueue::add_rate_limited`](super::WorkQueue::add_rate_limited):
//! they decide how long an item waits before it is queued again, from the number of times it
//! failed, as client-go's `workqueue.RateLimiter` family. The queue counts each item's
//! failures (until [`WorkQueue::forget`](super::WorkQueue::forget)), so a limiter keeps no
//! per-item state and never copies a key.
//!
//! | type | client-go | behaviour |
//! |---|---|---|
//! | [`Backoff`] | `ItemExponentialFailureRateLimiter` | per item: `initial * factor^failures`, capped (jitter optional) |
//! | [`BucketRateLimiter`] | `BucketRateLimiter` | one token bucket for all items |
//! | [`FastSlowRateLimiter`] | `ItemFastSlowRateLimiter` | per item: a short delay for the first attempts, then a long one |
//! | [`MaxOfRateLimiter`] | `MaxOfRateLimiter` | the longest delay of several limiters |
//! | [`default_controller_rate_limiter`] | `DefaultControllerRateLimiter` | max of exponential (5 ms .. 1000 s) and bucket (10 qps, burst 100) |
//!
//! ```
//! use std::time::Duration;
//! use k8s_client::backoff::Backoff;
//! use k8s_client::runtime::workqueue::RateLimiter;
//!
//! let limiter = Backoff::new(Duration::from_millis(5)).cap(Duration::from_secs(1000));
//! assert_eq!(limiter.when(0), Duration::from_millis(5));
//! assert_eq!(limiter.when(1), Duration::from_millis(10));
//! assert_eq!(limiter.when(30), Duration::from_secs(1000));
//! ```

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

use crate::backoff::Backoff;

/// Decides how long an item waits before it is retried.
///
/// Called by the queue with its lock held: never call back into the queue.
pub trait RateLimiter: Send + Sync {
    /// How long an item that failed `failures` times before (0 on its first failure) waits
    /// now. Limiters with shared state (a token bucket) record the attempt.
    fn when(&self, failures: u32) -> Duration;
}

impl<R: RateLimiter + ?Sized> RateLimiter for Arc<R> {
    fn when(&self, failures: u32) -> Duration {
        (**self).when(failures)
    }
}

impl<R: RateLimiter + ?Sized> RateLimiter for Box<R> {
    fn when(&self, failures: u32) -> Duration {
        (**self).when(failures)
    }
}

/// Per item: the `n`-th failure in a row (counting from 0) waits
/// [`Backoff::delay(n)`](Backoff::delay): `initial * factor^n`, at most `cap`, with its
/// jitter (client-go's `ItemExponentialFailureRateLimiter` is
/// `Backoff::new(base).cap(max)`). `steps` and `reset_after` do not apply: the queue retries
/// until the item is [`forget`](super::WorkQueue::forget)-ten.
impl RateLimiter for Backoff {
    fn when(&self, failures: u32) -> Duration {
        self.delay(failures)
    }
}

fn lock<S>(m: &Mutex<S>) -> MutexGuard<'_, S> {
    // The lock guards plain numbers; recover from poisoning.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One token bucket shared by all items: `qps` retries a second overall, `burst` at once
/// (client-go's `BucketRateLimiter`). It ignores the failure count.
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

impl RateLimiter for BucketRateLimiter {
    fn when(&self, _failures: u32) -> Duration {
        self.reserve()
    }
}

/// Per item: `fast` for the first `max_fast_attempts` failures, `slow` after that
/// (client-go's `ItemFastSlowRateLimiter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FastSlowRateLimiter {
    fast: Duration,
    slow: Duration,
    max_fast_attempts: u32,
}

impl FastSlowRateLimiter {
    /// Waits `fast` for failures 1 to `max_fast_attempts`, then `slow`.
    pub fn new(fast: Duration, slow: Duration, max_fast_attempts: u32) -> Self {
        FastSlowRateLimiter {
            fast,
            slow,
            max_fast_attempts,
        }
    }
}

impl RateLimiter for FastSlowRateLimiter {
    fn when(&self, failures: u32) -> Duration {
        if failures < self.max_fast_attempts {
            self.fast
        } else {
            self.slow
        }
    }
}

/// The longest delay of several limiters; every limiter sees every call
/// (client-go's `MaxOfRateLimiter`).
pub struct MaxOfRateLimiter {
    limiters: Vec<Box<dyn RateLimiter>>,
}

impl fmt::Debug for MaxOfRateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MaxOfRateLimiter")
            .field("limiters", &self.limiters.len())
            .finish()
    }
}

impl MaxOfRateLimiter {
    /// Combines `limiters` (none: no delay).
    pub fn new(limiters: Vec<Box<dyn RateLimiter>>) -> Self {
        MaxOfRateLimiter { limiters }
    }
}

impl RateLimiter for MaxOfRateLimiter {
    fn when(&self, failures: u32) -> Duration {
        self.limiters
            .iter()
            .map(|l| l.when(failures))
            .max()
            .unwrap_or_default()
    }
}

/// client-go's `DefaultControllerRateLimiter`: the max of a per-item exponential backoff
/// (5 ms doubling up to 1000 s) and an overall token bucket (10 qps, burst 100). This is the
/// limiter [`WorkQueue::new`](super::WorkQueue::new) uses.
pub fn default_controller_rate_limiter() -> MaxOfRateLimiter {
    MaxOfRateLimiter::new(vec![
        Box::new(Backoff::new(Duration::from_millis(5)).cap(Duration::from_secs(1000))),
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
    fn backoff_doubles_and_caps_per_failure() {
        let l = Backoff::new(ms(5)).cap(Duration::from_secs(1000));
        let got: Vec<_> = (0..8).map(|n| l.when(n)).collect();
        assert_eq!(got, [5, 10, 20, 40, 80, 160, 320, 640].map(ms));
        // 5 ms * 2^17 = 655.36 s, 2^18 = 1310.72 s: capped.
        assert_eq!(l.when(17), Duration::from_millis(655_360));
        assert_eq!(l.when(18), Duration::from_secs(1000));
        // Far past any overflow: still the cap.
        for n in 19..400 {
            assert_eq!(l.when(n), Duration::from_secs(1000));
        }
        let small = Backoff::new(ms(1)).cap(ms(3));
        assert_eq!(
            (0..4).map(|n| small.when(n)).collect::<Vec<_>>(),
            [1, 2, 3, 3].map(ms)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn bucket_burst_then_rate() {
        let l = BucketRateLimiter::default();
        for i in 0..100 {
            assert_eq!(l.when(i), Duration::ZERO, "token {i}");
        }
        // Tokens are reserved: each further call is due 100 ms after the previous one.
        let next: Vec<_> = (0..3).map(|i| l.when(i)).collect();
        assert_eq!(next, vec![ms(100), ms(200), ms(300)]);
        // After 1.3 s the three reservations are paid and 10 more tokens are back.
        tokio::time::advance(ms(1300)).await;
        for i in 0..10 {
            let d = l.when(i);
            assert!(d <= ms(1), "token {i} after refill: {d:?}");
        }
        let d = l.when(0);
        assert!(d >= ms(99) && d <= ms(101), "{d:?}");
    }

    #[test]
    fn fast_slow() {
        let l = FastSlowRateLimiter::new(ms(5), Duration::from_secs(10), 3);
        let got: Vec<_> = (0..5).map(|n| l.when(n)).collect();
        let slow = Duration::from_secs(10);
        assert_eq!(got, vec![ms(5), ms(5), ms(5), slow, slow]);
    }

    #[tokio::test(start_paused = true)]
    async fn max_of_takes_the_longest() {
        let l = MaxOfRateLimiter::new(vec![
            Box::new(FastSlowRateLimiter::new(ms(5), ms(300), 2)),
            Box::new(Backoff::new(ms(10)).cap(Duration::from_secs(1))),
        ]);
        let got: Vec<_> = (0..5).map(|n| l.when(n)).collect();
        // fast/slow: 5 5 300 300 300; exponential: 10 20 40 80 160.
        assert_eq!(got, vec![ms(10), ms(20), ms(300), ms(300), ms(300)]);
        assert_eq!(MaxOfRateLimiter::new(Vec::new()).when(1), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn default_controller_limiter() {
        let l = default_controller_rate_limiter();
        assert_eq!(l.when(0), ms(5));
        assert_eq!(l.when(1), ms(10));
        // 98 more calls use up the rest of the burst of 100 ...
        for _ in 0..98 {
            l.when(0);
        }
        // ... so the bucket's 100 ms now beats the item's 20 ms.
        let d = l.when(2);
        assert!(d >= ms(99) && d <= ms(101), "{d:?}");
    }
}
