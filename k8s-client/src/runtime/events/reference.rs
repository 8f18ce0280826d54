//! [`ObjectReference`]s to the objects events are about.

use k8s_openapi::api::core::v1::ObjectReference;

use crate::api::{GroupVersionKind, Object};

/// A reference to `object`, whose kind is `gvk`: `apiVersion`, `kind`, `namespace`, `name`,
/// `uid` and `resourceVersion`. Works for typed, dynamic and metadata-only objects; for
/// k8s-openapi types [`reference_of`] finds the kind itself.
///
/// ```
/// use k8s_client::api::{ApiResource, Object};
/// use k8s_client::runtime::events::object_reference;
/// use k8s_openapi::api::apps::v1::Deployment;
///
/// let mut deploy = Deployment::default();
/// deploy.meta_mut().name = Some("web".into());
/// deploy.meta_mut().namespace = Some("shop".into());
/// let reference = object_reference(&deploy, &ApiResource::of::<Deployment>().gvk());
/// assert_eq!(reference.api_version.as_deref(), Some("apps/v1"));
/// assert_eq!(reference.kind.as_deref(), Some("Deployment"));
/// assert_eq!(reference.name.as_deref(), Some("web"));
/// ```
pub fn object_reference<K: Object + ?Sized>(object: &K, gvk: &GroupVersionKind) -> ObjectReference {
    ObjectReference {
        api_version: Some(gvk.api_version()),
        kind: Some(gvk.kind.clone()),
        name: object.name().map(str::to_string),
        namespace: object
            .namespace()
            .filter(|ns| !ns.is_empty())
            .map(str::to_string),
        uid: object.uid().map(str::to_string),
        resource_version: object.resource_version().map(str::to_string),
        field_path: None,
    }
}

/// A reference to a k8s-openapi `object` (its kind comes from its type).
///
/// ```
/// use k8s_client::api::Object;
/// use k8s_client::runtime::events::reference_of;
/// use k8s_openapi::api::core::v1::Node;
///
/// let mut node = Node::default();
/// node.meta_mut().name = Some("node-1".into());
/// let reference = reference_of(&node);
/// assert_eq!((reference.kind.as_deref(), reference.namespace), (Some("Node"), None));
/// ```
pub fn reference_of<K: Object + k8s_openapi::Resource>(object: &K) -> ObjectReference {
    object_reference(object, &GroupVersionKind::of::<K>())
}
