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

pub use crate::backoff::Backoff;
use crate::error::Error;

/// Runs `attempt` until it succeeds, fails with an error that `retriable` rejects, or
/// `backoff.steps` attempts were made; waits per `backoff` in between. The last error is
/// returned when the attempts run out (client-go's `retry.OnError`).
pub async fn retry_on_error<T, E, F, Fut, R>(
    backoff: Backoff,
    retriable: R,
    mut attempt: F,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    R: Fn(&E) -> bool,
{
    let mut waits = backoff.waits();
    loop {
        let error = match attempt().await {
            Ok(v) => return Ok(v),
            Err(e) if retriable(&e) => e,
            Err(e) => return Err(e),
        };
        let Some(wait) = waits.next() else {
            return Err(error);
        };
        tracing::debug!(
            ?wait,
            retry = waits.retries(),
            "retrying after a retriable error"
        );
        tokio::time::sleep(wait).await;
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
    use std::time::Duration;

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
        let zero = Backoff::default_retry().steps(0);
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
