//! Exponential backoff with jitter that resets after a healthy period (client-go's
//! `ExponentialBackoffManager` as the reflector uses it: 800 ms to 30 s, factor 2, jitter
//! 1.0, reset after 2 minutes without errors).

use std::time::{Duration, Instant};

/// The reflector's backoff on errors.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    initial: Duration,
    max: Duration,
    reset_after: Duration,
    current: Duration,
    last: Option<Instant>,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new(
            Duration::from_millis(800),
            Duration::from_secs(30),
            Duration::from_secs(120),
        )
    }
}

impl Backoff {
    pub(crate) fn new(initial: Duration, max: Duration, reset_after: Duration) -> Self {
        Backoff {
            initial,
            max,
            reset_after,
            current: initial,
            last: None,
        }
    }

    /// The next delay: the current step plus up to 100% jitter; the step doubles (up to the
    /// maximum) and starts over when the previous backoff is longer ago than `reset_after`.
    pub(crate) fn next_at(&mut self, now: Instant) -> Duration {
        if self
            .last
            .is_some_and(|last| now.saturating_duration_since(last) > self.reset_after)
        {
            self.current = self.initial;
        }
        self.last = Some(now);
        let base = self.current;
        self.current = (self.current * 2).min(self.max);
        let jitter = base.mul_f64(rand::random::<f64>());
        (base + jitter).min(self.max)
    }

    pub(crate) fn next(&mut self) -> Duration {
        self.next_at(Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_with_jitter_caps_and_resets() {
        let mut b = Backoff::default();
        let t0 = Instant::now();
        let d1 = b.next_at(t0);
        assert!(
            d1 >= Duration::from_millis(800) && d1 <= Duration::from_millis(1600),
            "{d1:?}"
        );
        let d2 = b.next_at(t0 + Duration::from_secs(1));
        assert!(
            d2 >= Duration::from_millis(1600) && d2 <= Duration::from_millis(3200),
            "{d2:?}"
        );
        for i in 0..10 {
            let d = b.next_at(t0 + Duration::from_secs(2 + i));
            assert!(d <= Duration::from_secs(30));
        }
        assert_eq!(
            b.next_at(t0 + Duration::from_secs(20)),
            Duration::from_secs(30)
        );
        let after_calm = b.next_at(t0 + Duration::from_secs(200));
        assert!(after_calm <= Duration::from_millis(1600), "{after_calm:?}");
    }
}
