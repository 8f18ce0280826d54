//! [`Lister`]: typed reads over a store: all objects, by namespace, by label selector.

use std::fmt;
use std::sync::Arc;

use crate::api::Object;

use super::error::CacheError;
use super::selector::Selector;
use super::store::{Store, NAMESPACE_INDEX};

/// Reads a [`Store`]: every object, one namespace, or the objects a label selector matches.
///
/// ```
/// use k8s_client::cache::{Lister, StoreWriter};
/// use k8s_openapi::api::core::v1::ConfigMap;
///
/// let writer = StoreWriter::<ConfigMap>::new();
/// let mut cm = ConfigMap::default();
/// cm.metadata.name = Some("a".into());
/// cm.metadata.namespace = Some("prod".into());
/// cm.metadata.labels = Some([("app".to_string(), "web".to_string())].into());
/// writer.apply(cm);
/// let lister = Lister::new(writer.store());
/// assert_eq!(lister.list_selected("app in (web,api)").unwrap().len(), 1);
/// assert!(lister.by_namespace("prod").get("a").is_some());
/// assert!(lister.by_namespace("dev").list().is_empty());
/// ```
pub struct Lister<K> {
    store: Store<K>,
}

impl<K> Clone for Lister<K> {
    fn clone(&self) -> Self {
        Lister {
            store: self.store.clone(),
        }
    }
}

impl<K: Object> fmt::Debug for Lister<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lister")
            .field("store", &self.store)
            .finish()
    }
}

impl<K: Object> Lister<K> {
    /// A lister over `store`.
    pub fn new(store: Store<K>) -> Self {
        Lister { store }
    }

    /// Every object.
    pub fn list(&self) -> Vec<Arc<K>> {
        self.store.list()
    }

    /// The objects `selector` matches (a compact store decodes only those).
    pub fn list_matching(&self, selector: &Selector) -> Vec<Arc<K>> {
        self.store.list_labelled(|labels| selector.matches(labels))
    }

    /// The objects the label selector `selector` (string form) matches.
    pub fn list_selected(&self, selector: &str) -> Result<Vec<Arc<K>>, CacheError> {
        Ok(self.list_matching(&Selector::parse(selector)?))
    }

    /// A cluster-scoped object by name.
    pub fn get(&self, name: &str) -> Option<Arc<K>> {
        self.store.get_by_key(name)
    }

    /// Reads one namespace.
    pub fn by_namespace(&self, namespace: &str) -> NamespaceLister<K> {
        NamespaceLister {
            store: self.store.clone(),
            namespace: namespace.to_string(),
        }
    }
}

/// Reads one namespace of a store (through the namespace index).
pub struct NamespaceLister<K> {
    store: Store<K>,
    namespace: String,
}

impl<K: Object> fmt::Debug for NamespaceLister<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NamespaceLister")
            .field("namespace", &self.namespace)
            .finish()
    }
}

impl<K: Object> NamespaceLister<K> {
    /// Every object in the namespace.
    pub fn list(&self) -> Vec<Arc<K>> {
        // Every store has the namespace index.
        self.store
            .by_index(NAMESPACE_INDEX, &self.namespace)
            .unwrap_or_default()
    }

    /// The objects in the namespace that `selector` matches (a compact store decodes only
    /// those).
    pub fn list_matching(&self, selector: &Selector) -> Vec<Arc<K>> {
        self.store
            .by_index_labelled(NAMESPACE_INDEX, &self.namespace, |labels| {
                selector.matches(labels)
            })
            .unwrap_or_default()
    }

    /// The objects in the namespace that the label selector `selector` matches.
    pub fn list_selected(&self, selector: &str) -> Result<Vec<Arc<K>>, CacheError> {
        Ok(self.list_matching(&Selector::parse(selector)?))
    }

    /// The object `name` in the namespace.
    pub fn get(&self, name: &str) -> Option<Arc<K>> {
        self.store.get_by_key(&format!("{}/{name}", self.namespace))
    }
}
