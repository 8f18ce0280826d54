//! [`Backoff`]: how long to wait before each retry, the one backoff of the crate (client-go's
//! `wait.Backoff`). The client's retries of failed requests ([`Config::retry`]), the
//! reflector's waits after failed lists and watches, the work queue's per-item retries
//! ([`WorkQueue::add_rate_limited`]) and [`retry_on_conflict`] all use it.
//!
//! The wait before retry `n` (counting from 0) is `initial * factor^n`, plus up to
//! `jitter` times itself at random, and never longer than `cap`. A [`Backoff`] is the
//! policy and keeps no state: [`Backoff::delay`] gives the wait for a retry number, and
//! [`Backoff::waits`] counts the retries for a loop (and starts over after `reset_after`
//! without failures).
//!
//! | preset | client-go | waits |
//! |---|---|---|
//! | [`Backoff::default_retry`] | `retry.DefaultRetry` | 5 attempts, 10 ms apart, jitter 0.1 |
//! | [`Backoff::default_backoff`] | `retry.DefaultBackoff` | 4 attempts, 10 ms then 5 times longer each time, jitter 0.1 |
//! | [`Backoff::default_request_retry`] | (the client's `maxRetries` 10) | 0.5 to 1 s doubling, at most 30 s, 11 attempts |
//!
//! ```
//! use std::time::Duration;
//! use k8s_client::backoff::Backoff;
//!
//! let backoff = Backoff::new(Duration::from_millis(100)).cap(Duration::from_secs(1)).steps(5);
//! assert_eq!(backoff.delay(0), Duration::from_millis(100));
//! assert_eq!(backoff.delay(3), Duration::from_millis(800));
//! assert_eq!(backoff.delay(4), Duration::from_secs(1));
//! // Five attempts in all: four waits between them.
//! assert_eq!(backoff.waits().count(), 4);
//! ```
//!
//! [`Config::retry`]: ../config/struct.Config.html#structfield.retry
//! [`WorkQueue::add_rate_limited`]: ../runtime/workqueue/struct.WorkQueue.html#method.add_rate_limited
//! [`retry_on_conflict`]: ../retry/fn.retry_on_conflict.html

use std::time::{Duration, Instant};

/// An exponential backoff with jitter, a cap, a limit on attempts and a reset after a calm
/// period (client-go's `wait.Backoff`, with its `ExponentialBackoffManager`'s reset).
///
/// Build one with [`Backoff::new`] or a preset and the setters; the fields can be read and
/// changed directly.
///
/// ```
/// use std::time::Duration;
/// use k8s_client::backoff::Backoff;
///
/// // The reflector's backoff: 800 ms doubling to 30 s, up to 100% jitter, starting over
/// // after two minutes without failures.
/// let backoff = Backoff::new(Duration::from_millis(800))
///     .jitter(1.0)
///     .cap(Duration::from_secs(30))
///     .reset_after(Duration::from_secs(120));
/// let first = backoff.delay(0);
/// assert!(first >= Duration::from_millis(800) && first <= Duration::from_millis(1600));
/// assert_eq!(backoff.delay(20), Duration::from_secs(30));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Backoff {
    /// The first wait (before jitter).
    pub initial: Duration,
    /// What each wait is multiplied by for the next one (`1.0`: constant; a value that is
    /// not a positive number counts as `1.0`). Default of [`Backoff::new`]: `2.0`.
    pub factor: f64,
    /// Up to `jitter * wait` is added to each wait at random (`0`: no jitter).
    pub jitter: f64,
    /// The longest wait, jitter included (`None`: no limit). Unlike client-go, where the
    /// jitter is added after the cap, no wait is ever longer than this.
    pub cap: Option<Duration>,
    /// How many attempts are made at most, the first included, as client-go's `Steps`
    /// (`None`: no limit; `0` and `1` both mean a single attempt, no retry).
    pub steps: Option<u32>,
    /// After this long without a wait, [`Waits`] starts over from `initial` (`None`: never).
    pub reset_after: Option<Duration>,
}

impl Backoff {
    /// Starts at `initial` and doubles, without jitter, cap, limit or reset.
    pub fn new(initial: Duration) -> Self {
        Backoff {
            initial,
            factor: 2.0,
            jitter: 0.0,
            cap: None,
            steps: None,
            reset_after: None,
        }
    }

    /// client-go's `retry.DefaultRetry`: 5 attempts, 10 ms apart, jitter 0.1. Meant for
    /// get-modify-update loops against a live API server.
    pub fn default_retry() -> Self {
        Backoff::new(Duration::from_millis(10))
            .factor(1.0)
            .jitter(0.1)
            .steps(5)
    }

    /// client-go's `retry.DefaultBackoff`: 4 attempts, 10 ms then 5 times longer each time,
    /// jitter 0.1. Meant for operations that may take a while to succeed.
    pub fn default_backoff() -> Self {
        Backoff::new(Duration::from_millis(10))
            .factor(5.0)
            .jitter(0.1)
            .steps(4)
    }

    /// The client's retries of failed requests (the default of
    /// [`Config::retry`](../config/struct.Config.html#structfield.retry)): 10 retries (client-go's
    /// `maxRetries`), the first after 0.5 to 1 s, doubling, at most 30 s.
    pub fn default_request_retry() -> Self {
        Backoff::new(Duration::from_millis(500))
            .jitter(1.0)
            .cap(Duration::from_secs(30))
            .steps(11)
    }

    /// Sets the factor each wait is multiplied by.
    pub fn factor(mut self, factor: f64) -> Self {
        self.factor = factor;
        self
    }

    /// Sets the jitter: up to `jitter * wait` is added at random.
    pub fn jitter(mut self, jitter: f64) -> Self {
        self.jitter = jitter;
        self
    }

    /// Sets the longest wait.
    pub fn cap(mut self, cap: Duration) -> Self {
        self.cap = Some(cap);
        self
    }

    /// Sets how many attempts are made at most, the first included.
    pub fn steps(mut self, steps: u32) -> Self {
        self.steps = Some(steps);
        self
    }

    /// Sets how long without a wait makes [`Waits`] start over.
    pub fn reset_after(mut self, calm: Duration) -> Self {
        self.reset_after = Some(calm);
        self
    }

    /// How many retries (attempts after the first) `steps` allows (`None`: no limit).
    pub fn max_retries(&self) -> Option<u32> {
        self.steps.map(|steps| steps.saturating_sub(1))
    }

    /// The wait before retry `retry` (0 for the first retry) without jitter:
    /// `initial * factor^retry`, at most `cap`.
    pub fn base_delay(&self, retry: u32) -> Duration {
        let factor = if self.factor.is_finite() && self.factor > 0.0 {
            self.factor
        } else {
            1.0
        };
        let exponent = i32::try_from(retry).unwrap_or(i32::MAX);
        // In nanoseconds, so that whole factors give exact waits (5 ms * 2^17 = 655.36 s).
        let nanos = (self.initial.as_nanos() as f64 * factor.powi(exponent)).round();
        let limit = self.cap.unwrap_or(Duration::MAX);
        // 2^64 ns (584 years) and more, or an infinite product, is past any cap.
        if nanos < 18_446_744_073_709_551_616.0 {
            Duration::from_nanos(nanos as u64).min(limit)
        } else {
            limit
        }
    }

    /// The wait before retry `retry` (0 for the first retry): [`base_delay`](Self::base_delay)
    /// plus its jitter, at most `cap`.
    pub fn delay(&self, retry: u32) -> Duration {
        let base = self.base_delay(retry);
        // Also no jitter for a NaN.
        if self.jitter.is_nan() || self.jitter <= 0.0 {
            return base;
        }
        let extra = base.as_secs_f64() * self.jitter * rand::random::<f64>();
        let waited =
            base.saturating_add(Duration::try_from_secs_f64(extra).unwrap_or(Duration::MAX));
        waited.min(self.cap.unwrap_or(Duration::MAX))
    }

    /// The waits of one retry loop, counted from the first retry.
    pub fn waits(&self) -> Waits {
        Waits {
            backoff: *self,
            retries: 0,
            last: None,
        }
    }
}

impl Default for Backoff {
    /// [`Backoff::default_retry`], as client-go's `retry.DefaultRetry`.
    fn default() -> Self {
        Backoff::default_retry()
    }
}

/// The waits of one retry loop, from [`Backoff::waits`]: each wait counts one retry. As an
/// [`Iterator`], it ends when `steps` attempts are used up; [`next_wait`](Waits::next_wait)
/// never ends (for loops that retry for ever). After `reset_after` without a wait it starts
/// over from the first wait.
///
/// ```
/// use std::time::Duration;
/// use k8s_client::backoff::Backoff;
///
/// let mut waits = Backoff::new(Duration::from_millis(10)).steps(3).waits();
/// assert_eq!(waits.next(), Some(Duration::from_millis(10)));
/// assert_eq!(waits.next(), Some(Duration::from_millis(20)));
/// assert_eq!(waits.next(), None); // three attempts made
/// waits.reset();
/// assert_eq!(waits.next(), Some(Duration::from_millis(10)));
/// ```
#[derive(Debug, Clone)]
pub struct Waits {
    backoff: Backoff,
    retries: u32,
    last: Option<Instant>,
}

impl Waits {
    /// The backoff these waits follow.
    pub fn backoff(&self) -> &Backoff {
        &self.backoff
    }

    /// How many waits were handed out since the start or the last reset.
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// Starts over from the first wait.
    pub fn reset(&mut self) {
        self.retries = 0;
        self.last = None;
    }

    /// The next wait, whatever `steps` says.
    pub fn next_wait(&mut self) -> Duration {
        self.next_wait_at(Instant::now())
    }

    /// [`next_wait`](Self::next_wait) at `now` (for `reset_after`).
    pub fn next_wait_at(&mut self, now: Instant) -> Duration {
        self.reset_if_calm(now);
        self.take(now)
    }

    /// The next wait at `now`, or `None` once `steps` attempts are used up.
    pub fn next_at(&mut self, now: Instant) -> Option<Duration> {
        self.reset_if_calm(now);
        let used_up = self
            .backoff
            .max_retries()
            .is_some_and(|max| self.retries >= max);
        (!used_up).then(|| self.take(now))
    }

    fn reset_if_calm(&mut self, now: Instant) {
        let calm = match (self.backoff.reset_after, self.last) {
            (Some(reset_after), Some(last)) => now.saturating_duration_since(last) > reset_after,
            _ => false,
        };
        if calm {
            self.retries = 0;
        }
    }

    fn take(&mut self, now: Instant) -> Duration {
        self.last = Some(now);
        let wait = self.backoff.delay(self.retries);
        self.retries = self.retries.saturating_add(1);
        wait
    }
}

impl Iterator for Waits {
    type Item = Duration;

    /// The next wait, or `None` once `steps` attempts are used up.
    fn next(&mut self) -> Option<Duration> {
        self.next_at(Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn presets_match_client_go() {
        let b = Backoff::default_retry();
        assert_eq!(
            (b.steps, b.initial, b.factor, b.jitter, b.cap),
            (Some(5), ms(10), 1.0, 0.1, None)
        );
        assert_eq!(Backoff::default(), b);
        let b = Backoff::default_backoff();
        assert_eq!((b.steps, b.initial, b.factor), (Some(4), ms(10), 5.0));
        assert_eq!(b.base_delay(0), ms(10));
        assert_eq!(b.base_delay(1), ms(50));
        assert_eq!(b.base_delay(2), ms(250));
        assert_eq!(b.waits().count(), 3);
        let b = Backoff::default_request_retry();
        assert_eq!(b.max_retries(), Some(10));
    }

    #[test]
    fn exact_doubling_up_to_the_cap() {
        let b = Backoff::new(ms(5)).cap(Duration::from_secs(1000));
        let got: Vec<_> = (0..8).map(|n| b.delay(n)).collect();
        assert_eq!(got, [5, 10, 20, 40, 80, 160, 320, 640].map(ms));
        assert_eq!(b.delay(17), ms(655_360));
        assert_eq!(b.delay(18), Duration::from_secs(1000));
        for n in [64, 1000, 100_000, u32::MAX] {
            assert_eq!(b.delay(n), Duration::from_secs(1000), "retry {n}");
        }
        // Without a cap, far past any overflow: the longest Duration, not a panic.
        assert_eq!(Backoff::new(ms(5)).delay(u32::MAX), Duration::MAX);
        let small = Backoff::new(ms(1)).cap(ms(3));
        assert_eq!(
            (0..4).map(|n| small.delay(n)).collect::<Vec<_>>(),
            [1, 2, 3, 3].map(ms)
        );
    }

    #[test]
    fn odd_factors_and_jitter_are_tamed() {
        for factor in [0.0, -2.0, f64::NAN, f64::INFINITY] {
            let b = Backoff::new(ms(7)).factor(factor);
            assert_eq!(b.delay(3), ms(7), "factor {factor}");
        }
        for jitter in [-1.0, f64::NAN] {
            assert_eq!(Backoff::new(ms(7)).jitter(jitter).delay(1), ms(14));
        }
        let huge = Backoff::new(ms(7)).jitter(f64::INFINITY).cap(ms(100));
        assert_eq!(huge.delay(0), ms(100));
        let huge = Backoff::new(Duration::MAX).jitter(1.0);
        assert_eq!(huge.delay(0), Duration::MAX);
    }

    #[test]
    fn jitter_adds_up_to_its_share_and_the_cap_holds() {
        let b = Backoff::new(ms(10)).jitter(0.5).cap(ms(35));
        for _ in 0..200 {
            for (n, base) in [(0, 10), (1, 20), (2, 35), (9, 35)] {
                let wait = b.delay(n);
                let base = ms(base);
                assert!(
                    wait >= base && wait <= base.mul_f64(1.5).min(ms(35)),
                    "{wait:?} vs {base:?}"
                );
            }
        }
        let spread: std::collections::BTreeSet<_> = (0..50).map(|_| b.delay(0)).collect();
        assert!(spread.len() > 10, "jitter varies: {spread:?}");
    }

    #[test]
    fn waits_count_steps_and_reset_after_a_calm_period() {
        let b = Backoff::new(ms(10)).steps(3);
        let mut waits = b.waits();
        assert_eq!(waits.next(), Some(ms(10)));
        assert_eq!(waits.next(), Some(ms(20)));
        assert_eq!(waits.next(), None);
        assert_eq!(waits.retries(), 2);
        // next_wait ignores steps.
        assert_eq!(waits.next_wait(), ms(40));
        for steps in [0, 1] {
            assert_eq!(b.steps(steps).waits().next(), None, "steps {steps}");
        }
        assert_eq!(Backoff::new(ms(1)).waits().take(100).count(), 100);

        let b = Backoff::new(ms(800))
            .jitter(1.0)
            .cap(Duration::from_secs(30))
            .reset_after(Duration::from_secs(120));
        let mut waits = b.waits();
        let t0 = Instant::now();
        let d1 = waits.next_wait_at(t0);
        assert!(d1 >= ms(800) && d1 <= ms(1600), "{d1:?}");
        let d2 = waits.next_wait_at(t0 + Duration::from_secs(1));
        assert!(d2 >= ms(1600) && d2 <= ms(3200), "{d2:?}");
        for i in 0..10 {
            let d = waits.next_wait_at(t0 + Duration::from_secs(2 + i));
            assert!(d <= Duration::from_secs(30));
        }
        assert_eq!(
            waits.next_wait_at(t0 + Duration::from_secs(20)),
            Duration::from_secs(30)
        );
        // Exactly reset_after later is not yet calm; more is.
        let at = t0 + Duration::from_secs(140);
        assert_eq!(waits.next_wait_at(at), Duration::from_secs(30));
        let calm = waits.next_wait_at(at + Duration::from_secs(121));
        assert!(calm <= ms(1600), "{calm:?}");
        assert_eq!(waits.retries(), 1);
    }
}
