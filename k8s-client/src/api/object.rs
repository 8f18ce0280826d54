//! [`Object`]: read and write access to the `metadata` of any Kubernetes object, typed
//! (every k8s-openapi type), dynamic or metadata-only, so caches, informers and helpers work
//! the same on all of them.
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

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

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
    }
}
