//! Finalizers for controllers: [`finalizer`] makes sure an object is not removed from the
//! API before the controller has cleaned up what it created outside it.
//!
//! Called from a reconcile with the cached object, it
//!
//! 1. adds the finalizer `name` to an object that is not being deleted and lacks it, and
//!    returns (the change queues the object again; the next reconcile applies);
//! 2. runs your [`Event::Apply`] while the object lives and has the finalizer;
//! 3. runs your [`Event::Cleanup`] when the object is being deleted and still has the
//!    finalizer, and removes the finalizer only when cleanup succeeded (a failed cleanup is
//!    returned as an error, so the controller retries it; the object stays until it works);
//! 4. does nothing for an object being deleted without the finalizer.
//!
//! The finalizer is added and removed with JSON patches guarded by a `test` operation on
//! the list as it was read, so a concurrent change of the list (another controller's
//! finalizer) is never overwritten: the patch fails, the object is read again and the patch
//! is retried.
//!
//! ```no_run
//! use std::sync::Arc;
//! use k8s_client::runtime::controller::Action;
//! use k8s_client::runtime::finalizer::{finalizer, Event, FinalizerError};
//! use k8s_client::Api;
//! use k8s_openapi::api::core::v1::ConfigMap;
//!
//! async fn reconcile(cm: Arc<ConfigMap>, client: k8s_client::Client) -> Result<Action, FinalizerError<std::io::Error>> {
//!     let ns = cm.metadata.namespace.clone().unwrap_or_default();
//!     let api: Api<ConfigMap> = Api::namespaced(client, &ns);
//!     finalizer(&api, "example.com/cleanup", cm, |event| async move {
//!         match event {
//!             Event::Apply(cm) => { /* create what cm describes */ Ok(Action::await_change()) }
//!             Event::Cleanup(cm) => { /* delete it again */ Ok(Action::await_change()) }
//!         }
//!     })
//!     .await
//! }
//! ```

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use serde_json::json;

use crate::api::{Api, Patch, PatchParams, Resource};
use crate::error::Error;
use crate::runtime::controller::Action;

/// How many times a finalizer patch is retried after the object changed underneath.
const ATTEMPTS: usize = 5;

/// What [`finalizer`] asks of your function.
#[derive(Debug)]
pub enum Event<K> {
    /// The object lives and carries the finalizer: make the world match it.
    Apply(Arc<K>),
    /// The object is being deleted and carries the finalizer: remove what it made outside
    /// the API. Must be idempotent (it runs again if removing the finalizer fails).
    Cleanup(Arc<K>),
}

/// Why [`finalizer`] failed.
#[derive(Debug, thiserror::Error)]
pub enum FinalizerError<E: std::error::Error + 'static> {
    /// Your [`Event::Apply`] failed.
    #[error("reconciling failed: {0}")]
    Apply(#[source] E),
    /// Your [`Event::Cleanup`] failed; the finalizer stays.
    #[error("cleanup failed: {0}")]
    Cleanup(#[source] E),
    /// Adding the finalizer to the object failed.
    #[error("adding finalizer {finalizer} to {object}: {source}")]
    AddFinalizer {
        /// The finalizer.
        finalizer: String,
        /// `namespace/name` of the object.
        object: String,
        /// The request's error.
        #[source]
        source: Error,
    },
    /// Removing the finalizer from the object failed (after cleanup succeeded).
    #[error("removing finalizer {finalizer} from {object}: {source}")]
    RemoveFinalizer {
        /// The finalizer.
        finalizer: String,
        /// `namespace/name` of the object.
        object: String,
        /// The request's error.
        #[source]
        source: Error,
    },
    /// The object has no name, or `api` addresses another namespace than the object's.
    #[error("finalizer {finalizer}: {problem}")]
    InvalidObject {
        /// The finalizer.
        finalizer: String,
        /// What is wrong.
        problem: String,
    },
}

/// Runs `reconcile` for `object` under the finalizer `name` (see the [module docs](self)).
///
/// `api` must address the object's namespace (a namespaced handle on it, or any handle for
/// a cluster-scoped kind).
pub async fn finalizer<K, F, Fut, E>(
    api: &Api<K>,
    name: &str,
    object: Arc<K>,
    reconcile: F,
) -> Result<Action, FinalizerError<E>>
where
    K: Resource,
    F: FnOnce(Event<K>) -> Fut,
    Fut: Future<Output = Result<Action, E>>,
    E: std::error::Error + 'static,
{
    let invalid = |problem: String| FinalizerError::InvalidObject {
        finalizer: name.to_string(),
        problem,
    };
    let Some(object_name) = object.name().map(str::to_string) else {
        return Err(invalid("the object has no name".into()));
    };
    if let Some(ns) = object.namespace().filter(|ns| !ns.is_empty()) {
        if api.namespace() != Some(ns) {
            return Err(invalid(format!(
                "the object {} is in namespace {ns}, the handle addresses {}",
                object.key(),
                api.namespace().unwrap_or("all namespaces")
            )));
        }
    }
    let has = object.finalizers().iter().any(|f| f == name);
    match (object.is_being_deleted(), has) {
        (false, true) => reconcile(Event::Apply(object))
            .await
            .map_err(FinalizerError::Apply),
        (false, false) => {
            change_finalizers(api, &object_name, name, object, Change::Add)
                .await
                .map_err(|source| FinalizerError::AddFinalizer {
                    finalizer: name.to_string(),
                    object: object_name.clone(),
                    source,
                })?;
            // The update queues the object again; the next reconcile applies.
            Ok(Action::await_change())
        }
        (true, true) => {
            let action = reconcile(Event::Cleanup(object.clone()))
                .await
                .map_err(FinalizerError::Cleanup)?;
            change_finalizers(api, &object_name, name, object, Change::Remove)
                .await
                .map_err(|source| FinalizerError::RemoveFinalizer {
                    finalizer: name.to_string(),
                    object: object_name.clone(),
                    source,
                })?;
            Ok(action)
        }
        (true, false) => Ok(Action::await_change()),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Add,
    Remove,
}

/// The JSON patch that adds or removes `finalizer` from `current` (the list as read),
/// guarded by a `test` of that list; `None` when there is nothing to do.
fn patch_for(
    current: &[String],
    resource_version: &str,
    finalizer: &str,
    change: Change,
) -> Option<serde_json::Value> {
    let present = current.iter().position(|f| f == finalizer);
    match (change, present) {
        (Change::Add, Some(_)) | (Change::Remove, None) => None,
        // No list to test (absent and empty read the same): the object must be unchanged.
        (Change::Add, None) if current.is_empty() => Some(json!([
            { "op": "test", "path": "/metadata/resourceVersion", "value": resource_version },
            { "op": "add", "path": "/metadata/finalizers", "value": [finalizer] },
        ])),
        (Change::Add, None) => Some(json!([
            { "op": "test", "path": "/metadata/finalizers", "value": current },
            { "op": "add", "path": "/metadata/finalizers/-", "value": finalizer },
        ])),
        (Change::Remove, Some(i)) => Some(json!([
            { "op": "test", "path": "/metadata/finalizers", "value": current },
            { "op": "remove", "path": format!("/metadata/finalizers/{i}") },
        ])),
    }
}

/// Applies `change`, reading the object again and retrying when the list changed meanwhile
/// (the `test` failed: 422, or a conflict: 409).
async fn change_finalizers<K: Resource>(
    api: &Api<K>,
    object_name: &str,
    finalizer: &str,
    object: Arc<K>,
    change: Change,
) -> Result<(), Error> {
    let mut current: Vec<String> = object.finalizers().to_vec();
    let mut version = object.resource_version().unwrap_or_default().to_string();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let Some(patch) = patch_for(&current, &version, finalizer, change) else {
            return Ok(());
        };
        match api
            .patch(object_name, &PatchParams::default(), &Patch::Json(patch))
            .await
        {
            Ok(_) => return Ok(()),
            // Removing from an object that is gone: its deletion completed anyway.
            Err(e) if change == Change::Remove && e.is_not_found() => return Ok(()),
            Err(e) if attempt < ATTEMPTS && is_stale(&e) => {
                tracing::debug!(object = object_name, finalizer, error = %e, "finalizers changed meanwhile; reading the object again");
                match api.get(object_name).await {
                    Ok(fresh) => {
                        current = fresh.finalizers().to_vec();
                        version = fresh.resource_version().unwrap_or_default().to_string();
                    }
                    Err(e) if change == Change::Remove && e.is_not_found() => return Ok(()),
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// A failed `test` operation (422 Unprocessable Entity) or a conflict.
fn is_stale(e: &Error) -> bool {
    e.is_conflict() || e.api().is_some_and(|a| a.code == 422)
}

impl<K> fmt::Display for Event<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Apply(_) => f.write_str("apply"),
            Event::Cleanup(_) => f.write_str("cleanup"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patches_test_the_list_they_change() {
        let f = "example.com/x";
        assert_eq!(patch_for(&[f.to_string()], "1", f, Change::Add), None);
        assert_eq!(patch_for(&[], "1", f, Change::Remove), None);
        let add = patch_for(&["other".to_string()], "1", f, Change::Add).expect("patch");
        assert_eq!(add[0]["op"], "test");
        assert_eq!(add[0]["value"], json!(["other"]));
        assert_eq!(add[1]["path"], "/metadata/finalizers/-");
        let remove = patch_for(
            &["other".to_string(), f.to_string()],
            "1",
            f,
            Change::Remove,
        )
        .expect("patch");
        assert_eq!(remove[0]["value"], json!(["other", f]));
        assert_eq!(
            remove[1],
            json!({"op": "remove", "path": "/metadata/finalizers/1"})
        );
        let first = patch_for(&[], "7", f, Change::Add).expect("patch");
        assert_eq!(
            first[0],
            json!({"op": "test", "path": "/metadata/resourceVersion", "value": "7"})
        );
        assert_eq!(first[1]["value"], json!([f]));
    }
}
