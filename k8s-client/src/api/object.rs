//! [`Object`]: read and write access to the `metadata` of any Kubernetes object, typed
//! (every k8s-openapi type), dynamic or metadata-only, so caches, informers and helpers work
//! the same on all of them; [`ObjectRef`]: a typed key naming one object.
//!
//! ```
//! use k8s_client::api::Object;
//! use k8s_openapi::api::core::v1::ConfigMap;
//!
//! let mut cm = ConfigMap::default();
//! cm.meta_mut().name = Some("settings".into());
//! cm.meta_mut().namespace = Some("default".into());
//! assert_eq!(cm.name(), Some("settings"));
//! assert_eq!(cm.key(), "default/settings");
//! ```

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use super::{GroupVersionKind, Resource};

/// An object with standard Kubernetes `metadata`.
///
/// Implemented for every k8s-openapi type (through [`k8s_openapi::Metadata`]) and for the
/// crate's dynamic and metadata-only objects.
pub trait Object {
    /// The object's metadata.
    fn meta(&self) -> &ObjectMeta;
    /// The object's metadata, for changing it.
    fn meta_mut(&mut self) -> &mut ObjectMeta;

    /// `metadata.name`.
    fn name(&self) -> Option<&str> {
        self.meta().name.as_deref()
    }
    /// `metadata.namespace` (`None` for cluster-scoped objects).
    fn namespace(&self) -> Option<&str> {
        self.meta().namespace.as_deref()
    }
    /// `metadata.resourceVersion`.
    fn resource_version(&self) -> Option<&str> {
        self.meta().resource_version.as_deref()
    }
    /// `metadata.uid`.
    fn uid(&self) -> Option<&str> {
        self.meta().uid.as_deref()
    }
    /// `metadata.labels` (empty when there are none).
    fn labels(&self) -> &BTreeMap<String, String> {
        self.meta().labels.as_ref().unwrap_or(empty_map())
    }
    /// `metadata.annotations` (empty when there are none).
    fn annotations(&self) -> &BTreeMap<String, String> {
        self.meta().annotations.as_ref().unwrap_or(empty_map())
    }
    /// `metadata.finalizers` (empty when there are none).
    fn finalizers(&self) -> &[String] {
        self.meta().finalizers.as_deref().unwrap_or_default()
    }
    /// `metadata.ownerReferences` (empty when there are none).
    fn owner_references(&self) -> &[OwnerReference] {
        self.meta().owner_references.as_deref().unwrap_or_default()
    }
    /// `metadata.generation` (`None` when the server has not set one).
    fn generation(&self) -> Option<i64> {
        self.meta().generation
    }
    /// Whether the object is being deleted (`metadata.deletionTimestamp` is set).
    fn is_being_deleted(&self) -> bool {
        self.meta().deletion_timestamp.is_some()
    }
    /// The cache key client-go uses: `namespace/name`, or `name` for cluster-scoped objects.
    fn key(&self) -> String {
        match (self.namespace(), self.name()) {
            (Some(ns), Some(name)) if !ns.is_empty() => format!("{ns}/{name}"),
            (_, name) => name.unwrap_or_default().to_string(),
        }
    }
}

impl<K> Object for K
where
    K: k8s_openapi::Metadata<Ty = ObjectMeta>,
{
    fn meta(&self) -> &ObjectMeta {
        k8s_openapi::Metadata::metadata(self)
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        k8s_openapi::Metadata::metadata_mut(self)
    }
}

fn empty_map() -> &'static BTreeMap<String, String> {
    static EMPTY: BTreeMap<String, String> = BTreeMap::new();
    &EMPTY
}

/// Names one object: its kind (group, version, kind), namespace and name. A typed key for
/// work queues and events, where a `namespace/name` string would lose the kind.
///
/// ```
/// use k8s_client::api::ObjectRef;
/// use k8s_openapi::api::apps::v1::Deployment;
///
/// let mut d = Deployment::default();
/// d.metadata.name = Some("web".into());
/// d.metadata.namespace = Some("prod".into());
/// let r = ObjectRef::of(&d);
/// assert_eq!(r.to_string(), "Deployment.apps/web in prod");
/// assert_eq!(r.key(), "prod/web");
/// assert_eq!(ObjectRef::new::<Deployment>("web").within("prod"), r);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectRef {
    /// The kind of the object.
    pub gvk: GroupVersionKind,
    /// Its namespace (`None` for cluster-scoped objects).
    pub namespace: Option<String>,
    /// Its name.
    pub name: String,
}

impl ObjectRef {
    /// A reference to the object `name` of the typed kind `K` (cluster-scoped until
    /// [`within`](ObjectRef::within) gives a namespace).
    pub fn new<K: Resource<DynamicType = ()>>(name: &str) -> Self {
        ObjectRef {
            gvk: K::api_resource(&()).gvk(),
            namespace: None,
            name: name.to_string(),
        }
    }

    /// The same reference in `namespace`.
    pub fn within(mut self, namespace: &str) -> Self {
        self.namespace = Some(namespace.to_string());
        self
    }

    /// The reference of a typed object.
    pub fn of<K: Resource<DynamicType = ()>>(object: &K) -> Self {
        ObjectRef::from_object(object, &())
    }

    /// The reference of an object whose resource `dyntype` names (see [`Resource`]).
    pub fn from_object<K: Resource>(object: &K, dyntype: &K::DynamicType) -> Self {
        ObjectRef {
            gvk: K::api_resource(dyntype).gvk(),
            namespace: object
                .namespace()
                .filter(|ns| !ns.is_empty())
                .map(str::to_string),
            name: object.name().unwrap_or_default().to_string(),
        }
    }

    /// The cache key client-go uses: `namespace/name`, or `name` when cluster-scoped.
    pub fn key(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{ns}/{}", self.name),
            None => self.name.clone(),
        }
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.gvk.kind)?;
        if !self.gvk.group.is_empty() {
            write!(f, ".{}", self.gvk.group)?;
        }
        write!(f, "/{}", self.name)?;
        if let Some(ns) = &self.namespace {
            write!(f, " in {ns}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::Namespace;

    use super::*;

    #[test]
    fn keys_follow_client_go() {
        let mut ns = Namespace::default();
        ns.meta_mut().name = Some("kube-system".into());
        assert_eq!(ns.key(), "kube-system");
        ns.meta_mut().namespace = Some(String::new());
        assert_eq!(ns.key(), "kube-system");
        assert!(ns.labels().is_empty() && ns.finalizers().is_empty());
        ns.meta_mut().finalizers = Some(vec!["kubernetes".into()]);
        assert_eq!(ns.finalizers(), ["kubernetes"]);
        assert_eq!(ObjectRef::of(&ns).to_string(), "Namespace/kube-system");
        assert_eq!(ObjectRef::of(&ns).key(), "kube-system");
    }
}
