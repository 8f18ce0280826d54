//! [`InformerFactory`]: hands out one shared informer per resource and options, starts them
//! all and waits for their caches.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::future::BoxFuture;
use k8s_openapi::NamespaceResourceScope;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::api::{Api, Object, Resource};
use crate::client::Client;

use super::informer::{InformerOptions, SharedInformer, WatchListMode};
use super::source::ListWatch;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    object: TypeId,
    what: String,
    label_selector: Option<String>,
    field_selector: Option<String>,
    watch_list: WatchListMode,
    compact: bool,
    drop_managed_fields: bool,
}

/// What the factory needs of an informer, whatever its type.
trait Managed: Send + Sync {
    fn start(&self);
    fn has_synced(&self) -> bool;
    fn wait_for_sync(&self) -> BoxFuture<'static, ()>;
    fn as_any(&self) -> &dyn Any;
}

impl<K: Object + Send + Sync + 'static> Managed for SharedInformer<K> {
    fn start(&self) {
        SharedInformer::start(self)
    }
    fn has_synced(&self) -> bool {
        SharedInformer::has_synced(self)
    }
    fn wait_for_sync(&self) -> BoxFuture<'static, ()> {
        let me = self.clone();
        Box::pin(async move { me.wait_for_sync().await })
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Hands out shared informers: asking twice for the same resource (and namespace,
/// selectors) gives the same informer, so every part of a program shares one watch and one
/// cache per resource.
///
/// ```no_run
/// use k8s_client::cache::InformerFactory;
/// use k8s_openapi::api::core::v1::{ConfigMap, Pod};
///
/// # async fn run(client: k8s_client::Client) {
/// let factory = InformerFactory::new(client);
/// let pods = factory.informer::<Pod>();
/// let cms = factory.namespaced_informer::<ConfigMap>("default");
/// factory.start();
/// factory.wait_for_cache_sync().await;
/// println!("{} pods, {} config maps", pods.store().len(), cms.store().len());
/// # }
/// ```
pub struct InformerFactory {
    client: Client,
    label_selector: Option<String>,
    field_selector: Option<String>,
    resync: Option<Duration>,
    watch_list: WatchListMode,
    #[cfg(feature = "compact")]
    compact: bool,
    informers: Mutex<HashMap<Key, Arc<dyn Managed>>>,
}

impl fmt::Debug for InformerFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let informers = self.lock();
        let mut names: Vec<&str> = informers.keys().map(|k| k.what.as_str()).collect();
        names.sort_unstable();
        f.debug_struct("InformerFactory")
            .field("informers", &names)
            .finish()
    }
}

impl InformerFactory {
    /// A factory whose informers use `client`.
    pub fn new(client: Client) -> Self {
        InformerFactory {
            client,
            label_selector: None,
            field_selector: None,
            resync: None,
            watch_list: WatchListMode::Auto,
            #[cfg(feature = "compact")]
            compact: false,
            informers: Mutex::new(HashMap::new()),
        }
    }

    /// Restricts every informer of this factory by a label selector.
    pub fn labels(mut self, selector: &str) -> Self {
        self.label_selector = Some(selector.to_string());
        self
    }

    /// Restricts every informer of this factory by a field selector.
    pub fn fields(mut self, selector: &str) -> Self {
        self.field_selector = Some(selector.to_string());
        self
    }

    /// The default resync period of the handlers of this factory's informers.
    pub fn resync(mut self, period: Duration) -> Self {
        self.resync = Some(period);
        self
    }

    /// Whether this factory's informers use streaming watch-lists.
    pub fn watch_list(mut self, mode: WatchListMode) -> Self {
        self.watch_list = mode;
        self
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Key, Arc<dyn Managed>>> {
        self.informers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether this factory's informers keep compact stores (see
    /// [`InformerOptions::compact`]).
    #[cfg(feature = "compact")]
    #[cfg_attr(docsrs, doc(cfg(feature = "compact")))]
    pub fn compact(mut self, compact: bool) -> Self {
        self.compact = compact;
        self
    }

    /// The options this factory gives its informers.
    pub fn options<K: Serialize + DeserializeOwned>(&self) -> InformerOptions<K> {
        let options = InformerOptions {
            label_selector: self.label_selector.clone(),
            field_selector: self.field_selector.clone(),
            watch_list: self.watch_list,
            resync: self.resync,
            ..InformerOptions::default()
        };
        self.packed(options)
    }

    /// `options` for a compact store when this factory keeps them.
    #[cfg(feature = "compact")]
    fn packed<K: Serialize + DeserializeOwned>(
        &self,
        options: InformerOptions<K>,
    ) -> InformerOptions<K> {
        if self.compact {
            options.compact()
        } else {
            options
        }
    }

    /// Without the `compact` feature every store keeps objects decoded.
    #[cfg(not(feature = "compact"))]
    fn packed<K>(&self, options: InformerOptions<K>) -> InformerOptions<K> {
        options
    }

    /// The shared informer of `K` in all namespaces (or of a cluster-scoped `K`).
    pub fn informer<K: Resource<DynamicType = ()>>(&self) -> SharedInformer<K> {
        self.informer_for(Api::<K>::all(self.client.clone()))
    }

    /// The shared informer of `K` in one namespace.
    pub fn namespaced_informer<K>(&self, namespace: &str) -> SharedInformer<K>
    where
        K: Resource<DynamicType = (), Scope = NamespaceResourceScope>,
    {
        self.informer_for(Api::<K>::namespaced(self.client.clone(), namespace))
    }

    /// The shared informer of any source (typed, dynamic, metadata-only) with this
    /// factory's options.
    pub fn informer_for<S: ListWatch>(&self, source: S) -> SharedInformer<S::Object> {
        self.informer_with_options(source, self.options())
    }

    /// The shared informer of any source with explicit options. The informer is shared by
    /// resource, namespace, selectors and watch-list mode: when one exists for those, it is
    /// returned as it is (its transform and resync were set by whoever asked first).
    pub fn informer_with_options<S: ListWatch>(
        &self,
        source: S,
        options: InformerOptions<S::Object>,
    ) -> SharedInformer<S::Object> {
        let key = Key {
            object: TypeId::of::<S::Object>(),
            what: source.describe(),
            label_selector: options.label_selector.clone(),
            field_selector: options.field_selector.clone(),
            watch_list: options.watch_list,
            compact: options.packing.is_some(),
            drop_managed_fields: options.drop_managed_fields,
        };
        let mut informers = self.lock();
        if let Some(existing) = informers.get(&key) {
            if let Some(informer) = existing
                .as_any()
                .downcast_ref::<SharedInformer<S::Object>>()
            {
                return informer.clone();
            }
        }
        let informer = SharedInformer::new(source, options);
        informers.insert(key, Arc::new(informer.clone()));
        informer
    }

    /// Starts every informer handed out so far that is not running yet (call again after
    /// asking for more).
    ///
    /// # Panics
    /// Outside a Tokio runtime.
    pub fn start(&self) {
        for informer in self.lock().values() {
            informer.start();
        }
    }

    /// Whether every informer handed out so far has synced.
    pub fn has_synced(&self) -> bool {
        self.lock().values().all(|i| i.has_synced())
    }

    /// Waits until every informer handed out so far has its first list (wrap it in a
    /// timeout to bound the wait).
    pub async fn wait_for_cache_sync(&self) {
        let waits: Vec<_> = self.lock().values().map(|i| i.wait_for_sync()).collect();
        futures::future::join_all(waits).await;
    }
}
