//! Client-side rate limiting: a token bucket, as client-go's `flowcontrol` token bucket.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// A token bucket shared by every clone of a client: `qps` tokens a second, at most `burst`
/// saved up. [`acquire`](RateLimiter::acquire) waits until a token is free.
///
/// There is no background task: each caller reserves the next free token under a lock and
/// sleeps until its time comes, so callers are served in the order they asked (fair under
/// contention), and a dropped (cancelled) wait gives its token back.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::time::Duration;
/// use k8s_client::rest::RateLimiter;
/// use tokio::time::Instant;
/// let limiter = RateLimiter::new(10.0, 5);
/// let start = Instant::now();
/// for _ in 0..5 {
///     limiter.acquire().await; // the burst: no wait
/// }
/// assert_eq!(start.elapsed(), Duration::ZERO);
/// limiter.acquire().await; // waits 100 ms (1 / qps)
/// let waited = start.elapsed(); // the clock is paused: no timing noise
/// assert!(waited >= Duration::from_millis(100) && waited < Duration::from_millis(102));
/// # }
/// ```
#[derive(Debug)]
pub struct RateLimiter {
    qps: f64,
    burst: f64,
    state: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    /// Tokens available at `updated`; negative when callers have reserved tokens that are
    /// not yet due.
    tokens: f64,
    updated: Instant,
}

impl RateLimiter {
    /// A bucket that starts full (`burst` tokens) and refills at `qps` tokens a second.
    /// A `burst` of 0 counts as 1. A `qps` that is not a positive number means no limit.
    pub fn new(qps: f32, burst: u32) -> Self {
        let qps = f64::from(qps);
        let burst = f64::from(burst.max(1));
        RateLimiter {
            qps: if qps.is_finite() && qps > 0.0 {
                qps
            } else {
                f64::INFINITY
            },
            burst,
            state: Mutex::new(Bucket {
                tokens: burst,
                updated: Instant::now(),
            }),
        }
    }

    /// Sustained tokens a second.
    pub fn qps(&self) -> f64 {
        self.qps
    }

    /// The bucket size.
    pub fn burst(&self) -> u32 {
        // `burst` came from a u32.
        self.burst as u32
    }

    /// Waits until a token is available and takes it.
    pub async fn acquire(&self) {
        let wait = self.reserve();
        if wait.is_zero() {
            return;
        }
        let mut guard = Reservation {
            limiter: self,
            done: false,
        };
        tokio::time::sleep(wait).await;
        guard.done = true;
    }

    /// Takes a token when one is available now, without waiting.
    pub fn try_acquire(&self) -> bool {
        let mut bucket = self.lock();
        self.refill(&mut bucket);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Reserves the next token and returns how long until it is due.
    fn reserve(&self) -> Duration {
        if self.qps.is_infinite() {
            return Duration::ZERO;
        }
        let mut bucket = self.lock();
        self.refill(&mut bucket);
        bucket.tokens -= 1.0;
        if bucket.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-bucket.tokens / self.qps)
        }
    }

    fn refill(&self, bucket: &mut Bucket) {
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.qps).min(self.burst);
        bucket.updated = now;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Bucket> {
        // The lock guards plain arithmetic that cannot panic; recover from poisoning anyway.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Gives the reserved token back when a wait is cancelled.
struct Reservation<'a> {
    limiter: &'a RateLimiter,
    done: bool,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.done {
            let mut bucket = self.limiter.lock();
            self.limiter.refill(&mut bucket);
            bucket.tokens = (bucket.tokens + 1.0).min(self.limiter.burst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test(start_paused = true)]
    async fn burst_then_qps() {
        let limiter = RateLimiter::new(10.0, 5);
        let start = Instant::now();
        for _ in 0..5 {
            limiter.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        for _ in 0..45 {
            limiter.acquire().await;
        }
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(4490), "{took:?}");
        assert!(took <= Duration::from_millis(4600), "{took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn refills_up_to_burst_only() {
        let limiter = RateLimiter::new(100.0, 3);
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert!(limiter.try_acquire());
        assert!(limiter.try_acquire());
        assert!(limiter.try_acquire());
        assert!(!limiter.try_acquire());
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_waiters_are_served_in_order() {
        let limiter = Arc::new(RateLimiter::new(2.0, 1));
        limiter.acquire().await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..6 {
            let (limiter, order) = (limiter.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                limiter.acquire().await;
                order.lock().unwrap().push((i, Instant::now()));
            }));
            // Let task i reserve before task i+1 starts.
            tokio::task::yield_now().await;
        }
        let start = Instant::now();
        for t in tasks {
            t.await.unwrap();
        }
        let order = order.lock().unwrap();
        let ids: Vec<_> = order.iter().map(|(i, _)| *i).collect();
        assert_eq!(ids, vec![0, 1, 2, 3, 4, 5]);
        // Six more tokens at 2/s: the last is due after 3 s.
        let last = order.last().unwrap().1 - start;
        assert!(last >= Duration::from_millis(2990) && last <= Duration::from_millis(3100));
    }

    #[tokio::test(start_paused = true)]
    async fn cancelled_wait_returns_its_token() {
        let limiter = RateLimiter::new(1.0, 1);
        limiter.acquire().await;
        // Reserve and cancel: the token must come back.
        let r = tokio::time::timeout(Duration::from_millis(10), limiter.acquire()).await;
        assert!(r.is_err());
        let start = Instant::now();
        limiter.acquire().await;
        let took = start.elapsed();
        assert!(took <= Duration::from_millis(1000), "{took:?}");
    }

    #[tokio::test]
    async fn no_limit_for_non_positive_qps() {
        let limiter = RateLimiter::new(0.0, 0);
        for _ in 0..1000 {
            limiter.acquire().await;
        }
        assert!(limiter.qps().is_infinite());
        assert_eq!(limiter.burst(), 1);
    }
}
