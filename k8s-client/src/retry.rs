//! [`retry_on_conflict`], as client-go's `retry.RetryOnConflict` with `retry.DefaultRetry`:
//! run a get-modify-update closure again, after a short backoff, while the update loses a
//! race with another writer (`409 Conflict`).
//!
//! ```no_run
//! use k8s_client::api::{Api, PostParams};
//! use k8s_client::retry::{retry_on_conflict, Backoff};
//! use k8s_openapi::api::core::v1::ConfigMap;
//!
//! # async fn run(config_maps: Api<ConfigMap>) -> Result<(), k8s_client::Error> {
//! retry_on_conflict(Backoff::default_retry(), || async {
//!     let mut cm = config_maps.get("settings").await?;
//!     cm.data.get_or_insert_with(Default::default).insert("mode".into(), "fast".into());
//!     config_maps.replace("settings", &PostParams::default(), &cm).await
//! })
//! .await?;
//! # Ok(())
//! # }
//! ```

use std::future::Future;
use std::time::Duration;

use crate::error::Error;

/// An exponential backoff, as client-go's `wait.Backoff`: the first wait is `duration`, each
/// later one is `factor` times the previous (at most `cap`), each with up to `jitter` times
/// itself added at random; at most `steps` attempts are made in all.
#[derive(Debug, Clone, PartialEq)]
pub struct Backoff {
    /// How many attempts are made at most (a value of 0 still makes one attempt).
    pub steps: u32,
    /// The first wait.
    pub duration: Duration,
    /// What each wait is multiplied by for the next one (`1.0`: constant, `0`: constant).
    pub factor: f64,
    /// Up to `jitter * wait` is added to each wait at random (`0`: no jitter).
    pub jitter: f64,
    /// The longest wait, before jitter (`None`: no limit).
    pub cap: Option<Duration>,
}

impl Backoff {
    /// client-go's `retry.DefaultRetry`: 5 attempts, 10ms apart, jitter 0.1. Meant for
    /// get-modify-update loops against a live API server.
    pub fn default_retry() -> Self {
        Backoff {
            steps: 5,
            duration: Duration::from_millis(10),
            factor: 1.0,
            jitter: 0.1,
            cap: None,
        }
    }

    /// client-go's `retry.DefaultBackoff`: 4 attempts, 10ms then 5 times longer each time,
    /// jitter 0.1. Meant for operations that may take a while to succeed.
    pub fn default_backoff() -> Self {
        Backoff {
            steps: 4,
            duration: Duration::from_millis(10),
            factor: 5.0,
            jitter: 0.1,
            cap: None,
        }
    }

    /// The next wait (with jitter), advancing the backoff.
    pub fn step(&mut self) -> Duration {
        let base = match self.cap {
            Some(cap) => self.duration.min(cap),
            None => self.duration,
        };
        if self.factor > 0.0 {
            let next = self.duration.as_secs_f64() * self.factor;
            // A wait that no longer fits a Duration stays where it was.
            if let Ok(next) = Duration::try_from_secs_f64(next) {
                self.duration = match self.cap {
                    Some(cap) => next.min(cap),
                    None => next,
                };
            }
        }
        if self.jitter > 0.0 {
            let extra = base.as_secs_f64() * self.jitter * rand::random::<f64>();
            base + Duration::try_from_secs_f64(extra).unwrap_or_default()
        } else {
            base
        }
    }
}

impl Default for Backoff {
    /// [`Backoff::default_retry`].
    fn default() -> Self {
        Backoff::default_retry()
    }
}

/// Runs `attempt` until it succeeds, fails with an error that `retriable` rejects, or
/// `backoff.steps` attempts were made; waits per `backoff` in between. The last error is
/// returned when the attempts run out (client-go's `retry.OnError`).
pub async fn retry_on_error<T, E, F, Fut, R>(
    mut backoff: Backoff,
    retriable: R,
    mut attempt: F,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    R: Fn(&E) -> bool,
{
    let mut left = backoff.steps.max(1);
    loop {
        match attempt().await {
            Ok(v) => return Ok(v),
            Err(e) if left > 1 && retriable(&e) => {
                left -= 1;
                let wait = backoff.step();
                tracing::debug!(
                    ?wait,
                    attempts_left = left,
                    "retrying after a retriable error"
                );
                tokio::time::sleep(wait).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Runs `attempt` again (waiting per `backoff`) while it fails with a conflict
/// ([`Error::is_conflict`]); any other error, or the last conflict once `backoff.steps`
/// attempts were made, is returned. See the [module docs](self) for an example.
pub async fn retry_on_conflict<T, F, Fut>(backoff: Backoff, attempt: F) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    retry_on_error(backoff, Error::is_conflict, attempt).await
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::error::ApiError;

    fn conflict() -> Error {
        ApiError::from_response(
            409,
            br#"{"kind":"Status","status":"Failure","reason":"Conflict","message":"the object has been modified","code":409}"#,
        )
        .into()
    }

    fn not_found() -> Error {
        ApiError::from_response(404, br#"{"reason":"NotFound","message":"nope","code":404}"#).into()
    }

    #[test]
    fn default_retry_matches_client_go() {
        let b = Backoff::default_retry();
        assert_eq!(
            (b.steps, b.duration, b.factor, b.jitter),
            (5, Duration::from_millis(10), 1.0, 0.1)
        );
        assert_eq!(Backoff::default(), b);
        let b = Backoff::default_backoff();
        assert_eq!((b.steps, b.factor), (4, 5.0));
    }

    #[test]
    fn steps_grow_with_jitter_and_cap() {
        let mut b = Backoff {
            steps: 10,
            duration: Duration::from_millis(10),
            factor: 2.0,
            jitter: 0.5,
            cap: Some(Duration::from_millis(35)),
        };
        let waits: Vec<Duration> = (0..5).map(|_| b.step()).collect();
        let bases = [10, 20, 35, 35, 35];
        for (wait, base) in waits.iter().zip(bases) {
            let base = Duration::from_millis(base);
            assert!(
                *wait >= base && *wait <= base.mul_f64(1.5),
                "{wait:?} vs {base:?}"
            );
        }
        let mut flat = Backoff {
            jitter: 0.0,
            ..Backoff::default_retry()
        };
        assert_eq!(flat.step(), Duration::from_millis(10));
        assert_eq!(flat.step(), Duration::from_millis(10));
    }

    #[tokio::test(start_paused = true)]
    async fn retries_conflicts_then_succeeds() {
        let calls = AtomicU32::new(0);
        let start = tokio::time::Instant::now();
        let out = retry_on_conflict(Backoff::default_retry(), || async {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            if n < 3 {
                Err(conflict())
            } else {
                Ok(n)
            }
        })
        .await
        .unwrap();
        assert_eq!(out, 3);
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(30) && waited <= Duration::from_millis(34),
            "{waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_steps_with_last_conflict() {
        let calls = AtomicU32::new(0);
        let err = retry_on_conflict(Backoff::default_retry(), || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(conflict())
        })
        .await
        .unwrap_err();
        assert!(err.is_conflict());
        assert_eq!(calls.load(Ordering::SeqCst), 5);
    }

    #[tokio::test(start_paused = true)]
    async fn other_errors_are_returned_at_once() {
        let calls = AtomicU32::new(0);
        let err = retry_on_conflict(Backoff::default_retry(), || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(not_found())
        })
        .await
        .unwrap_err();
        assert!(err.is_not_found());
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        let calls = AtomicU32::new(0);
        let zero = Backoff {
            steps: 0,
            ..Backoff::default_retry()
        };
        let err = retry_on_conflict(zero, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(conflict())
        })
        .await
        .unwrap_err();
        assert!(err.is_conflict());
        assert_eq!(calls.load(Ordering::SeqCst), 1, "steps 0 still tries once");
    }

    #[tokio::test(start_paused = true)]
    async fn retry_on_error_uses_the_predicate() {
        let calls = AtomicU32::new(0);
        let out: Result<u32, String> = retry_on_error(
            Backoff::default_retry(),
            |e: &String| e == "again",
            || async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 | 1 => Err("again".to_string()),
                    _ => Err("fatal".to_string()),
                }
            },
        )
        .await;
        assert_eq!(out.unwrap_err(), "fatal");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }
}
