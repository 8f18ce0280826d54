//! [`wait_until`] and [`wait_until_list`]: read the current state (a list, which also gives
//! the collection's resourceVersion), check the condition, then follow a [`RetryWatcher`]
//! from exactly that resourceVersion, so no change between the check and the watch is
//! missed. A `410 Gone` during the wait lists again.

use std::time::Duration;

use futures::StreamExt;

use super::retry_watcher::{RetryWatcher, WatchError};
use crate::api::{Api, ListParams, ObjectList, Resource, WatchEvent, WatchParams};
use crate::error::Error;

/// Why a wait ended without its condition holding.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WaitError {
    /// The condition did not hold within the timeout.
    #[error("timed out after {timeout:?} waiting for {what}")]
    Timeout {
        /// What was waited for (resource, namespace, name or selector).
        what: String,
        /// The timeout given.
        timeout: Duration,
    },
    /// Listing the current state failed.
    #[error("waiting for {what}: {source}")]
    Api {
        /// What was waited for.
        what: String,
        /// The error.
        #[source]
        source: Error,
    },
    /// The watch failed in a way retrying cannot fix.
    #[error("waiting for {what}: {source}")]
    Watch {
        /// What was waited for.
        what: String,
        /// The error.
        #[source]
        source: WatchError,
    },
}

impl WaitError {
    /// Whether the wait timed out.
    pub fn is_timeout(&self) -> bool {
        matches!(self, WaitError::Timeout { .. })
    }
}

fn describe<K: Resource>(api: &Api<K>, selection: &str) -> String {
    let gvk = api.resource().gvk();
    match api.namespace() {
        Some(ns) => format!("{gvk} {selection} in namespace {ns}"),
        None => format!("{gvk} {selection}"),
    }
}

/// Waits until `condition` holds for the object `name` (`None`: it does not exist), for at
/// most `timeout`. Returns the object the condition held for (`None` when it held for a
/// missing object). Ready-made conditions are in [`conditions`](super::conditions).
///
/// ```no_run
/// use std::time::Duration;
/// use k8s_client::Api;
/// use k8s_client::runtime::wait::{conditions, wait_until};
/// use k8s_openapi::api::core::v1::Pod;
///
/// # async fn run(pods: Api<Pod>) -> Result<(), Box<dyn std::error::Error>> {
/// let pod = wait_until(&pods, "web-0", Duration::from_secs(60), conditions::pod_running).await?;
/// wait_until(&pods, "old", Duration::from_secs(30), conditions::is_deleted).await?;
/// # drop(pod);
/// # Ok(())
/// # }
/// ```
pub async fn wait_until<K, C>(
    api: &Api<K>,
    name: &str,
    timeout: Duration,
    mut condition: C,
) -> Result<Option<K>, WaitError>
where
    K: Resource,
    C: FnMut(Option<&K>) -> bool,
{
    let what = describe(api, &format!("{name:?}"));
    let selector = format!("metadata.name={name}");
    let list = ListParams::default().fields(&selector);
    let watch = WatchParams::default().fields(&selector);
    let wait = follow(api, &list, &watch, &what, |objects: &[K]| {
        let found = objects.iter().find(|o| o.name() == Some(name));
        condition(found)
    });
    let objects = within(timeout, &what, wait).await?;
    Ok(objects.into_iter().find(|o| o.name() == Some(name)))
}

/// Waits until `condition` holds for the objects `params` selects (labels, fields), for at
/// most `timeout`; returns those objects.
///
/// ```no_run
/// use std::time::Duration;
/// use k8s_client::api::{Api, ListParams};
/// use k8s_client::runtime::wait::wait_until_list;
/// use k8s_openapi::api::core::v1::ConfigMap;
///
/// # async fn run(cms: Api<ConfigMap>) -> Result<(), Box<dyn std::error::Error>> {
/// let lp = ListParams::default().labels("app=demo");
/// let three = wait_until_list(&cms, &lp, Duration::from_secs(30), |cms| cms.len() >= 3).await?;
/// # drop(three);
/// # Ok(())
/// # }
/// ```
pub async fn wait_until_list<K, C>(
    api: &Api<K>,
    params: &ListParams,
    timeout: Duration,
    condition: C,
) -> Result<Vec<K>, WaitError>
where
    K: Resource,
    C: FnMut(&[K]) -> bool,
{
    let mut selection = Vec::new();
    if let Some(l) = &params.label_selector {
        selection.push(format!("labels {l:?}"));
    }
    if let Some(f) = &params.field_selector {
        selection.push(format!("fields {f:?}"));
    }
    let selection = if selection.is_empty() {
        "(all)".to_string()
    } else {
        selection.join(", ")
    };
    let what = describe(api, &selection);
    let watch = WatchParams {
        label_selector: params.label_selector.clone(),
        field_selector: params.field_selector.clone(),
        ..WatchParams::default()
    };
    // The wait reads the newest state: no resourceVersion or continue token of the caller's.
    let list = ListParams {
        label_selector: params.label_selector.clone(),
        field_selector: params.field_selector.clone(),
        limit: params.limit,
        ..ListParams::default()
    };
    within(timeout, &what, follow(api, &list, &watch, &what, condition)).await
}

async fn within<T>(
    timeout: Duration,
    what: &str,
    wait: impl std::future::Future<Output = Result<T, WaitError>>,
) -> Result<T, WaitError> {
    match tokio::time::timeout(timeout, wait).await {
        Ok(result) => result,
        Err(_) => Err(WaitError::Timeout {
            what: what.to_string(),
            timeout,
        }),
    }
}

/// Lists, checks, then follows the watch from the list's resourceVersion, keeping the
/// selected objects up to date, until `condition` holds. Lists again after `410 Gone`.
async fn follow<K, C>(
    api: &Api<K>,
    list: &ListParams,
    watch: &WatchParams,
    what: &str,
    mut condition: C,
) -> Result<Vec<K>, WaitError>
where
    K: Resource,
    C: FnMut(&[K]) -> bool,
{
    loop {
        let listed: ObjectList<K> = api.list_all(list).await.map_err(|source| WaitError::Api {
            what: what.to_string(),
            source,
        })?;
        let rv = listed.resource_version().unwrap_or_default().to_string();
        let mut objects = listed.items;
        if condition(&objects) {
            return Ok(objects);
        }
        let mut events = RetryWatcher::new(api.clone(), watch.clone(), &rv).map_err(|source| {
            WaitError::Watch {
                what: what.to_string(),
                source,
            }
        })?;
        while let Some(event) = events.next().await {
            match event {
                Ok(WatchEvent::Added(o)) | Ok(WatchEvent::Modified(o)) => {
                    let key = o.key();
                    match objects.iter_mut().find(|x| x.key() == key) {
                        Some(slot) => *slot = o,
                        None => objects.push(o),
                    }
                }
                Ok(WatchEvent::Deleted(o)) => {
                    let key = o.key();
                    objects.retain(|x| x.key() != key);
                }
                Ok(WatchEvent::Bookmark(_)) | Ok(WatchEvent::Error(_)) => continue,
                Err(e) if e.is_gone() => {
                    tracing::debug!(what, "watch expired while waiting; listing again");
                    break;
                }
                Err(source) => {
                    return Err(WaitError::Watch {
                        what: what.to_string(),
                        source,
                    })
                }
            }
            if condition(&objects) {
                return Ok(objects);
            }
        }
    }
}

crate::__status_questions!(WaitError);

impl From<WaitError> for crate::error::Error {
    /// Kept whole as [`Error::Other`]: `is_not_found()` and
    /// friends see the API error inside, and `find::<WaitError>()` gives it back.
    fn from(e: WaitError) -> Self {
        crate::error::Error::other(e)
    }
}
