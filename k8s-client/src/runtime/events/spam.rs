//! The spam filter: a token bucket per object, as client-go's `EventSourceObjectSpamFilter`
//! (burst 25, one more token every 5 minutes), so a hot loop cannot flood the server with
//! new Events about one object.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

/// client-go's default burst: 25 new Events per object at once.
pub const DEFAULT_SPAM_BURST: u32 = 25;

/// client-go's default refill: one token every 5 minutes.
pub const DEFAULT_SPAM_REFILL: Duration = Duration::from_secs(300);

/// Token buckets keyed by source + object.
#[derive(Debug)]
pub(crate) struct SpamFilter {
    burst: f64,
    refill: Duration,
    buckets: HashMap<String, (f64, Instant)>,
}

impl SpamFilter {
    /// `burst` tokens per key (at least 1), one more every `refill` (zero: no filtering).
    pub(crate) fn new(burst: u32, refill: Duration) -> Self {
        SpamFilter {
            burst: f64::from(burst.max(1)),
            refill,
            buckets: HashMap::new(),
        }
    }

    fn tokens_at(&self, tokens: f64, updated: Instant, now: Instant) -> f64 {
        let gained =
            now.saturating_duration_since(updated).as_secs_f64() / self.refill.as_secs_f64();
        (tokens + gained).min(self.burst)
    }

    /// Takes a token for `key`; false when its bucket is empty.
    pub(crate) fn allow(&mut self, key: &str, now: Instant) -> bool {
        if self.refill.is_zero() {
            return true;
        }
        let (tokens, updated) = self.buckets.get(key).copied().unwrap_or((self.burst, now));
        let tokens = self.tokens_at(tokens, updated, now);
        if tokens >= 1.0 {
            self.buckets.insert(key.to_string(), (tokens - 1.0, now));
            true
        } else {
            self.buckets.insert(key.to_string(), (tokens, now));
            false
        }
    }

    /// Forgets buckets that have refilled completely (they behave like new ones).
    pub(crate) fn prune(&mut self, now: Instant) {
        if self.refill.is_zero() {
            return;
        }
        let burst = self.burst;
        let refill = self.refill.as_secs_f64();
        self.buckets.retain(|_, (tokens, updated)| {
            let gained = now.saturating_duration_since(*updated).as_secs_f64() / refill;
            *tokens + gained < burst
        });
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn burst_then_one_per_refill() {
        let mut f = SpamFilter::new(DEFAULT_SPAM_BURST, DEFAULT_SPAM_REFILL);
        let t0 = Instant::now();
        let allowed = (0..40).filter(|_| f.allow("pod/a", t0)).count();
        assert_eq!(allowed, 25);
        // Another object has its own bucket.
        assert!(f.allow("pod/b", t0));
        // One token back after 5 minutes, not before.
        assert!(!f.allow("pod/a", t0 + Duration::from_secs(299)));
        assert!(f.allow("pod/a", t0 + Duration::from_secs(300)));
        assert!(!f.allow("pod/a", t0 + Duration::from_secs(301)));
        // Full buckets are forgotten, partly used ones kept.
        f.prune(t0 + Duration::from_secs(600));
        assert_eq!(f.len(), 1);
        f.prune(t0 + Duration::from_secs(300 * 30));
        assert_eq!(f.len(), 0);
    }

    #[test]
    fn zero_refill_disables_the_filter() {
        let mut f = SpamFilter::new(1, Duration::ZERO);
        let now = Instant::now();
        assert!((0..100).all(|_| f.allow("k", now)));
    }
}
