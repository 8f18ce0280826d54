//! [`wait_until_cached`]: the wait of [`wait_until`](super::wait_until), over an informer's
//! store instead of the server: no request of its own, the condition is checked against the
//! cache after every change the informer reports.

use std::sync::Arc;
use std::time::Duration;

use crate::api::Object;
use crate::cache::{Event, HandlerRegistration, SharedInformer};

use super::until::WaitError;

/// Removes the wait's handler from the informer however the wait ends.
struct Remove(HandlerRegistration);

impl Drop for Remove {
    fn drop(&mut self) {
        self.0.remove();
    }
}

/// Waits until `condition` holds for the object `key` (`namespace/name`, or `name` for a
/// cluster-scoped object) in `informer`'s store (`None`: not in the store), for at most
/// `timeout`, counting the wait for the informer's first sync. The informer must be started
/// (by the caller, or its factory). Returns the cached object the condition held for.
///
/// ```no_run
/// use std::time::Duration;
/// use k8s_client::cache::InformerFactory;
/// use k8s_client::runtime::wait::{conditions, wait_until_cached};
/// use k8s_openapi::api::core::v1::Pod;
///
/// # async fn run(client: k8s_client::Client) -> Result<(), Box<dyn std::error::Error>> {
/// let factory = InformerFactory::new(client);
/// let pods = factory.informer::<Pod>();
/// factory.start();
/// let pod = wait_until_cached(&pods, "default/web-0", Duration::from_secs(60), conditions::pod_running)
///     .await?;
/// # drop(pod);
/// # Ok(())
/// # }
/// ```
pub async fn wait_until_cached<K, C>(
    informer: &SharedInformer<K>,
    key: &str,
    timeout: Duration,
    mut condition: C,
) -> Result<Option<Arc<K>>, WaitError>
where
    K: Object + Send + Sync + 'static,
    C: FnMut(Option<&K>) -> bool,
{
    let what = format!("{key:?} in the cache of {}", informer.describe());
    let changed = Arc::new(tokio::sync::Notify::new());
    let _remove = {
        let changed = changed.clone();
        // A permit is kept when nobody waits: a change between a check and the next wait
        // is not missed.
        Remove(informer.add_handler(move |_: Event<K>| changed.notify_one()))
    };
    let wait = async {
        informer.wait_for_sync().await;
        let store = informer.store();
        loop {
            let object = store.get_by_key(key);
            if condition(object.as_deref()) {
                return object;
            }
            changed.notified().await;
        }
    };
    match tokio::time::timeout(timeout, wait).await {
        Ok(object) => Ok(object),
        Err(_) => Err(WaitError::Timeout { what, timeout }),
    }
}
