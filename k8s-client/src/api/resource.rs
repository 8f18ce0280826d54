//! Names of kinds and resources: [`GroupVersionKind`], [`GroupVersionResource`] and
//! [`ApiResource`] (everything needed to build a URL for a resource and to name its objects).
//!
//! ```
//! use k8s_client::api::ApiResource;
//! use k8s_openapi::api::apps::v1::Deployment;
//!
//! let deploy = ApiResource::of::<Deployment>();
//! assert_eq!(deploy.api_version(), "apps/v1");
//! assert_eq!(deploy.plural, "deployments");
//! assert!(deploy.namespaced);
//! ```

use std::any::TypeId;
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::NamespaceResourceScope;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::format::{self, Format};
use super::Object;
use crate::error::DecodeError;

/// A kind of object the one resource handle [`Api<K>`](super::Api) serves: every
/// k8s-openapi type and custom resource (through a blanket implementation, with the
/// compile-time scope of `K`), [`DynamicObject`](super::super::dynamic::DynamicObject) and
/// [`PartialObjectMetadata`](super::super::metadata::PartialObjectMetadata) (whose resource is
/// given at run time).
///
/// `DynamicType` is what a handle needs besides the type to address the objects: `()` for
/// types that know their resource, an [`ApiResource`] for dynamic and metadata-only
/// objects.
pub trait Resource: Object + Clone + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// What addresses the objects at run time: `()` for typed kinds, [`ApiResource`] for
    /// dynamic and metadata-only objects.
    type DynamicType: Clone + fmt::Debug + Send + Sync + 'static;

    /// `NamespaceResourceScope` or `ClusterResourceScope` for typed kinds, whose handles'
    /// constructors are checked at compile time; [`DynamicScope`] when the scope is known
    /// only at run time.
    type Scope: 'static;

    /// The resource (group, version, kind, plural, scope).
    fn api_resource(dyntype: &Self::DynamicType) -> ApiResource;

    /// The wire format of a new handle on these objects. Default: JSON.
    fn format(dyntype: &Self::DynamicType) -> Arc<dyn Format<Self>> {
        let _ = dyntype;
        format::json()
    }

    /// An object as it arrived, checked and completed for this handle (dynamic objects get
    /// the `apiVersion` and `kind` the server leaves out of list items; metadata-only
    /// answers are checked to be metadata). Default: as it is.
    fn received(self, dyntype: &Self::DynamicType) -> Result<Self, DecodeError> {
        let _ = dyntype;
        Ok(self)
    }

    /// An object as it is sent (dynamic objects get an empty `apiVersion` or `kind` filled
    /// in). Default: as it is.
    fn outgoing<'a>(&'a self, dyntype: &Self::DynamicType) -> Cow<'a, Self> {
        let _ = dyntype;
        Cow::Borrowed(self)
    }
}

/// The scope of objects whose resource is given at run time (dynamic and metadata-only):
/// their handles are made with [`Api::namespaced_with`](super::Api::namespaced_with) and
/// [`Api::all_with`](super::Api::all_with), and a namespace given for a cluster-scoped
/// resource is an error when the request is built.
#[derive(Debug, Clone, Copy)]
pub struct DynamicScope;

impl<K> Resource for K
where
    K: k8s_openapi::Resource
        + k8s_openapi::Metadata<Ty = ObjectMeta>
        + Clone
        + Serialize
        + DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    type DynamicType = ();
    type Scope = K::Scope;

    fn api_resource(_: &()) -> ApiResource {
        ApiResource::of::<K>()
    }

    fn format(_: &()) -> Arc<dyn Format<K>> {
        format::default_for::<K>()
    }
}

/// Whether a k8s-openapi scope type is the namespaced one.
fn is_namespaced<S: 'static>() -> bool {
    TypeId::of::<S>() == TypeId::of::<NamespaceResourceScope>()
}

/// Splits an `apiVersion` (`"apps/v1"`, or `"v1"` for the core group) into group and version.
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((group, version)) => (group, version),
        None => ("", api_version),
    }
}

/// Joins a group and version into an `apiVersion` (`"v1"` for the core group).
pub fn join_api_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

/// A kind in one API version, such as `apps/v1` `Deployment`. The core group is `""`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct GroupVersionKind {
    /// The API group (`""` for the core group).
    pub group: String,
    /// The version (`v1`, `v1beta1`, ...).
    pub version: String,
    /// The kind (`Deployment`).
    pub kind: String,
}

impl GroupVersionKind {
    /// A GVK from its parts.
    pub fn new(group: &str, version: &str, kind: &str) -> Self {
        GroupVersionKind {
            group: group.to_string(),
            version: version.to_string(),
            kind: kind.to_string(),
        }
    }

    /// A GVK from an `apiVersion` and a kind.
    pub fn from_api_version(api_version: &str, kind: &str) -> Self {
        let (group, version) = split_api_version(api_version);
        GroupVersionKind::new(group, version, kind)
    }

    /// The GVK of a k8s-openapi type.
    pub fn of<K: k8s_openapi::Resource>() -> Self {
        GroupVersionKind::new(K::GROUP, K::VERSION, K::KIND)
    }

    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        join_api_version(&self.group, &self.version)
    }
}

impl fmt::Display for GroupVersionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.api_version(), self.kind)
    }
}

/// A resource in one API version, such as `apps/v1` `deployments`. The core group is `""`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct GroupVersionResource {
    /// The API group (`""` for the core group).
    pub group: String,
    /// The version.
    pub version: String,
    /// The resource (plural, lower case: `deployments`).
    pub resource: String,
}

impl GroupVersionResource {
    /// A GVR from its parts.
    pub fn new(group: &str, version: &str, resource: &str) -> Self {
        GroupVersionResource {
            group: group.to_string(),
            version: version.to_string(),
            resource: resource.to_string(),
        }
    }

    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        join_api_version(&self.group, &self.version)
    }
}

impl fmt::Display for GroupVersionResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.group.is_empty() {
            write!(f, "{}/{}", self.version, self.resource)
        } else {
            write!(f, "{}.{}.{}", self.resource, self.version, self.group)
        }
    }
}

/// Everything needed to address one resource: its group, version, kind, plural name and
/// scope. Made by discovery, by [`ApiResource::of`] for a k8s-openapi type, or by hand.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ApiResource {
    /// The API group (`""` for the core group).
    pub group: String,
    /// The version.
    pub version: String,
    /// The kind of its objects (`Deployment`).
    pub kind: String,
    /// The resource name used in URLs (`deployments`).
    pub plural: String,
    /// Whether its objects live in namespaces.
    pub namespaced: bool,
}

impl ApiResource {
    /// The resource of a k8s-openapi type.
    pub fn of<K: k8s_openapi::Resource + 'static>() -> Self {
        ApiResource {
            group: K::GROUP.to_string(),
            version: K::VERSION.to_string(),
            kind: K::KIND.to_string(),
            plural: K::URL_PATH_SEGMENT.to_string(),
            namespaced: is_namespaced::<K::Scope>(),
        }
    }

    /// A resource from its GVK and plural name.
    pub fn from_gvk(gvk: &GroupVersionKind, plural: &str, namespaced: bool) -> Self {
        ApiResource {
            group: gvk.group.clone(),
            version: gvk.version.clone(),
            kind: gvk.kind.clone(),
            plural: plural.to_string(),
            namespaced,
        }
    }

    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        join_api_version(&self.group, &self.version)
    }

    /// Its group, version and kind.
    pub fn gvk(&self) -> GroupVersionKind {
        GroupVersionKind::new(&self.group, &self.version, &self.kind)
    }

    /// Its group, version and resource.
    pub fn gvr(&self) -> GroupVersionResource {
        GroupVersionResource::new(&self.group, &self.version, &self.plural)
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{Namespace, Pod};

    use super::*;

    #[test]
    fn names_of_typed_resources() {
        let pod = ApiResource::of::<Pod>();
        assert_eq!(
            (pod.api_version().as_str(), pod.plural.as_str()),
            ("v1", "pods")
        );
        assert!(pod.namespaced);
        assert!(!ApiResource::of::<Namespace>().namespaced);
        assert_eq!(pod.gvk().to_string(), "v1/Pod");
        assert_eq!(
            GroupVersionResource::new("apps", "v1", "deployments").to_string(),
            "deployments.v1.apps"
        );
        assert_eq!(split_api_version("apps/v1"), ("apps", "v1"));
        assert_eq!(split_api_version("v1"), ("", "v1"));
        assert_eq!(
            GroupVersionKind::from_api_version("batch/v1", "Job"),
            GroupVersionKind::new("batch", "v1", "Job")
        );
    }
}
