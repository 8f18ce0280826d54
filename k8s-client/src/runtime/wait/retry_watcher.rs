//! [`RetryWatcher`] (client-go `watchtools.RetryWatcher`): one endless stream of watch events
//! that survives disconnects and server-side watch timeouts by watching again from the last
//! resourceVersion it delivered (objects' and bookmarks'), with backoff after errors. It never
//! skips an event: a watch that breaks mid-stream (even on an undecodable line) is restarted
//! from the last event delivered. When the server no longer has that resourceVersion
//! (`410 Gone`) it ends with [`WatchError::Gone`]: the caller must list again.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::stream::BoxStream;
use futures::{Stream, StreamExt};

use crate::api::{Api, Resource, WatchEvent, WatchParams};
use crate::backoff::{Backoff, Waits};
use crate::error::{ApiError, Error, Status};

/// Why a [`RetryWatcher`] (or a wait built on it) stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WatchError {
    /// The resourceVersion is too old for the server (`410 Gone` / `Expired`): list again and
    /// watch from the list's resourceVersion.
    #[error(
        "watch of {what} from resourceVersion {resource_version} is no longer possible \
         (410 Gone: {message}); list again"
    )]
    Gone {
        /// The resource watched.
        what: String,
        /// The resourceVersion the watch tried to resume from.
        resource_version: String,
        /// The server's message.
        message: String,
        /// The server's answer, from the refused watch request or the watch's `ERROR`
        /// event: an [`ApiError`] whose `is_gone()` is true ([`WatchError::api`] gives it
        /// typed).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A retrying watch needs a definite starting point: not `""` or `"0"`.
    #[error(
        "a retrying watch of {what} needs a resourceVersion from a list or get, \
         not {resource_version:?}"
    )]
    InvalidResourceVersion {
        /// The resource watched.
        what: String,
        /// The resourceVersion given.
        resource_version: String,
    },
    /// An event's object has no `metadata.resourceVersion`, so the watch could not resume
    /// after it.
    #[error("a {event} event of the watch of {what} has no resourceVersion")]
    MissingResourceVersion {
        /// The resource watched.
        what: String,
        /// The event type.
        event: &'static str,
    },
    /// The server refused the watch in a way retrying cannot fix (bad request, forbidden,
    /// unauthorized, not found, invalid).
    #[error("watch of {what}: {source}")]
    Api {
        /// The resource watched.
        what: String,
        /// The server's answer.
        #[source]
        source: Error,
    },
}

// `is_gone()` (true for `WatchError::Gone`), `is_not_found()`, `is_forbidden()`, ...: the
// server's answer is among the causes of `Gone` and `Api`.
crate::__status_questions!(WatchError);

/// A watch stream that resumes across disconnects and timeouts from the last resourceVersion
/// it delivered (objects' and bookmarks'), with backoff after errors, and never skips an
/// event; it ends with [`WatchError::Gone`] when the server no longer has that
/// resourceVersion (list again). Items are events (never `WatchEvent::Error`: server errors
/// are handled or become a final `Err` item).
///
/// ```no_run
/// use futures::StreamExt;
/// use k8s_client::api::{Api, ListParams, WatchEvent, WatchParams};
/// use k8s_client::runtime::wait::{RetryWatcher, WatchError};
/// use k8s_openapi::api::core::v1::ConfigMap;
///
/// # async fn run(cms: Api<ConfigMap>) -> Result<(), Box<dyn std::error::Error>> {
/// let list = cms.list(&ListParams::default()).await?;
/// let rv = list.resource_version().unwrap_or_default();
/// let mut events = RetryWatcher::new(cms.clone(), WatchParams::default(), rv)?;
/// while let Some(event) = events.next().await {
///     match event {
///         Ok(WatchEvent::Modified(cm)) => println!("changed: {:?}", cm.metadata.name),
///         Ok(_) => {}
///         Err(WatchError::Gone { .. }) => break, // list again, then watch again
///         Err(e) => return Err(e.into()),
///     }
/// }
/// # Ok(())
/// # }
/// ```
pub struct RetryWatcher<K> {
    inner: BoxStream<'static, Result<WatchEvent<K>, WatchError>>,
}

impl<K> std::fmt::Debug for RetryWatcher<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetryWatcher").finish_non_exhaustive()
    }
}

/// Watches start at most this often (as client-go's `RetryWatcher`), so a server that ends
/// every watch at once is not hammered; a watch that lasted longer restarts at once.
pub const MIN_WATCH_INTERVAL: Duration = Duration::from_secs(1);
/// The first wait after a failed watch; doubles up to [`MAX_RESTART_DELAY`].
pub const MIN_RESTART_DELAY: Duration = Duration::from_millis(200);
/// The longest wait between failed watches.
pub const MAX_RESTART_DELAY: Duration = Duration::from_secs(30);

fn restart_backoff() -> Waits {
    Backoff::new(MIN_RESTART_DELAY)
        .jitter(0.1)
        .cap(MAX_RESTART_DELAY)
        .waits()
}

type EventStream<K> = BoxStream<'static, crate::Result<WatchEvent<K>>>;

struct State<K: Resource> {
    api: Api<K>,
    params: WatchParams,
    resource_version: String,
    what: String,
    stream: Option<EventStream<K>>,
    delay: Option<Duration>,
    last_start: Option<tokio::time::Instant>,
    backoff: Waits,
    done: bool,
}

/// Whether a failed watch request cannot succeed by trying again.
fn is_permanent(e: &Error) -> bool {
    matches!(
        e.api().map(|a| a.code),
        Some(400 | 401 | 403 | 404 | 405 | 406 | 415 | 422)
    )
}

impl<K> RetryWatcher<K>
where
    K: Resource,
{
    /// Watches `api`'s collection (filtered by `params`; its `timeout_seconds` bounds each
    /// underlying watch) from `resource_version`, which must come from a list or get.
    /// `params.send_initial_events` is ignored: a resumed streaming list would replay every
    /// object.
    pub fn new(
        api: Api<K>,
        mut params: WatchParams,
        resource_version: &str,
    ) -> Result<Self, WatchError> {
        params.send_initial_events = false;
        let gvk = api.resource().gvk();
        let what = match api.namespace() {
            Some(ns) => format!("{gvk} in namespace {ns}"),
            None => gvk.to_string(),
        };
        if resource_version.is_empty() || resource_version == "0" {
            return Err(WatchError::InvalidResourceVersion {
                what,
                resource_version: resource_version.to_string(),
            });
        }
        let state = State {
            api,
            params,
            resource_version: resource_version.to_string(),
            what,
            stream: None,
            delay: None,
            last_start: None,
            backoff: restart_backoff(),
            done: false,
        };
        let inner = futures::stream::unfold(state, |mut st| async move {
            let item = st.next_item().await?;
            Some((item, st))
        })
        .boxed();
        Ok(RetryWatcher { inner })
    }
}

impl<K> State<K>
where
    K: Resource,
{
    fn fail(&mut self, error: WatchError) -> Option<Result<WatchEvent<K>, WatchError>> {
        self.done = true;
        self.stream = None;
        Some(Err(error))
    }

    fn gone(&mut self, answer: Error) -> Option<Result<WatchEvent<K>, WatchError>> {
        let message = answer
            .status()
            .and_then(|s| s.message.clone())
            .unwrap_or_default();
        // The API error itself when the answer is one (it nearly always is): small, and
        // found by `api()` as well as by `Error::find`.
        let source: Box<dyn std::error::Error + Send + Sync> = match answer {
            Error::Api(api) => api,
            other => Box::new(other),
        };
        let error = WatchError::Gone {
            what: self.what.clone(),
            resource_version: self.resource_version.clone(),
            message,
            source,
        };
        self.fail(error)
    }

    /// Drops the current watch; the next one starts after `delay` from the last
    /// resourceVersion delivered.
    fn restart(&mut self, delay: Option<Duration>) {
        self.stream = None;
        self.delay = delay;
    }

    async fn next_item(&mut self) -> Option<Result<WatchEvent<K>, WatchError>> {
        loop {
            if self.done {
                return None;
            }
            let Some(stream) = self.stream.as_mut() else {
                let mut resume_at =
                    tokio::time::Instant::now() + self.delay.take().unwrap_or_default();
                if let Some(last) = self.last_start {
                    resume_at = resume_at.max(last + MIN_WATCH_INTERVAL);
                }
                tokio::time::sleep_until(resume_at).await;
                self.last_start = Some(tokio::time::Instant::now());
                match self.api.watch(&self.params, &self.resource_version).await {
                    Ok(s) => self.stream = Some(s.boxed()),
                    Err(e) if e.is_gone() => return self.gone(e),
                    Err(e) if is_permanent(&e) => {
                        let what = self.what.clone();
                        return self.fail(WatchError::Api { what, source: e });
                    }
                    Err(e) => {
                        let delay = self.backoff.next_wait();
                        tracing::warn!(what = %self.what, error = %e, ?delay, "starting a watch failed; retrying");
                        self.delay = Some(delay);
                    }
                }
                continue;
            };
            let event = match stream.next().await {
                None => {
                    // The server ended the watch (timeoutSeconds, or its own limit).
                    tracing::debug!(what = %self.what, rv = %self.resource_version, "watch closed; resuming");
                    self.restart(None);
                    continue;
                }
                Some(Err(e)) => {
                    let delay = self.backoff.next_wait();
                    tracing::warn!(what = %self.what, error = %e, ?delay, "watch broke; resuming from the last resourceVersion");
                    self.restart(Some(delay));
                    continue;
                }
                Some(Ok(event)) => event,
            };
            match &event {
                WatchEvent::Added(o) | WatchEvent::Modified(o) | WatchEvent::Deleted(o) => {
                    match o.resource_version().filter(|rv| !rv.is_empty()) {
                        Some(rv) => self.resource_version = rv.to_string(),
                        None => {
                            let what = self.what.clone();
                            let event = event.type_name();
                            return self.fail(WatchError::MissingResourceVersion { what, event });
                        }
                    }
                }
                WatchEvent::Bookmark(b) => {
                    if !b.resource_version.is_empty() {
                        self.resource_version = b.resource_version.clone();
                    }
                }
                WatchEvent::Error(status) => {
                    if let Some(item) = self.on_error_event(status) {
                        return Some(item);
                    }
                    continue;
                }
            }
            self.backoff.reset();
            return Some(Ok(event));
        }
    }

    /// An `ERROR` event: `410` ends the stream; anything else restarts the watch after the
    /// server's `retryAfterSeconds` (at least the backoff for `500`/`504`).
    fn on_error_event(&mut self, status: &Status) -> Option<Result<WatchEvent<K>, WatchError>> {
        let code = status.code.unwrap_or(0);
        let reason = status.reason.as_deref().unwrap_or("");
        if code == 410 || reason == "Expired" || reason == "Gone" {
            // A `Status` without a code still means 410 (`from_status` would assume 500).
            let code = u16::try_from(code).ok().filter(|c| *c != 0).unwrap_or(410);
            let status = status.clone();
            return self.gone(Error::from(ApiError { code, status }));
        }
        let retry_after = status
            .details
            .as_ref()
            .and_then(|d| d.retry_after_seconds)
            .and_then(|s| u64::try_from(s).ok())
            .map(Duration::from_secs)
            .unwrap_or_default();
        let delay = if matches!(code, 500 | 504) {
            retry_after.max(self.backoff.next_wait())
        } else {
            retry_after
        };
        tracing::warn!(what = %self.what, code, reason, message = status.message.as_deref().unwrap_or(""), ?delay, "watch error event; resuming");
        self.restart(Some(delay));
        None
    }
}

impl<K> Stream for RetryWatcher<K> {
    type Item = Result<WatchEvent<K>, WatchError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl From<WatchError> for crate::error::Error {
    /// Kept whole as [`Error::Other`]: `is_not_found()` and
    /// friends see the API error inside, and `find::<WatchError>()` gives it back.
    fn from(e: WatchError) -> Self {
        crate::error::Error::other(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permanent_errors_are_client_errors_but_not_throttling() {
        use crate::error::ApiError;
        let err = |code| -> Error { ApiError::from_response(code, b"").into() };
        for code in [400, 401, 403, 404, 422] {
            assert!(is_permanent(&err(code)), "{code}");
        }
        for code in [429, 500, 503, 504] {
            assert!(!is_permanent(&err(code)), "{code}");
        }
        assert!(!is_permanent(&Error::Request(
            crate::error::RequestError::new("x")
        )));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let mut b = restart_backoff();
        let first = b.next_wait();
        assert!(first >= MIN_RESTART_DELAY && first <= MIN_RESTART_DELAY.mul_f64(1.1));
        for _ in 0..20 {
            b.next_wait();
        }
        assert_eq!(b.next_wait(), MAX_RESTART_DELAY);
    }
}
