//! Untyped objects addressed by group/version/resource: the dynamic client.
//!
//! - [`DynamicObject`]: any object as JSON with typed `metadata`, convertible to and from the
//!   typed k8s-openapi structs ([`DynamicObject::try_parse`], [`DynamicObject::from_typed`]).
//! - [`DynamicApi`]: the one resource handle [`Api`] on [`DynamicObject`]s, for
//!   a resource named at run time by an [`ApiResource`] (client-go's `dynamic` package):
//!   every verb of the typed handle.
//!
//! ```no_run
//! use k8s_client::api::{ApiResource, ListParams, PostParams};
//! use k8s_client::dynamic::{DynamicApi, DynamicObject};
//! use k8s_openapi::api::core::v1::ConfigMap;
//! use serde_json::json;
//!
//! # async fn run(client: k8s_client::Client) -> Result<(), k8s_client::Error> {
//! let api = DynamicApi::namespaced_with(client, "default", &ApiResource::of::<ConfigMap>());
//! let cm = DynamicObject::from_json(json!({
//!     "apiVersion": "v1",
//!     "kind": "ConfigMap",
//!     "metadata": {"name": "settings"},
//!     "data": {"mode": "fast"}
//! }))?;
//! api.create(&PostParams::default(), &cm).await?;
//! let typed: ConfigMap = api.get("settings").await?.try_parse()?;
//! println!("{:?}", typed.data);
//! # Ok(())
//! # }
//! ```

mod object;

use std::borrow::Cow;

pub use object::{ConvertError, DynamicObject};

use crate::api::{Api, ApiResource, DynamicScope, Resource};
use crate::error::DecodeError;

/// The resource handle on [`DynamicObject`]s (client-go's `dynamic.Interface`): made with
/// [`Api::namespaced_with`], [`Api::default_namespaced_with`] or [`Api::all_with`] and an
/// [`ApiResource`].
///
/// ```no_run
/// use k8s_client::api::{ApiResource, GroupVersionKind, ListParams, Patch, PatchParams};
/// use k8s_client::dynamic::DynamicApi;
/// use serde_json::json;
///
/// # async fn run(client: k8s_client::Client) -> Result<(), k8s_client::Error> {
/// let gvk = GroupVersionKind::new("apps", "v1", "Deployment");
/// let deployments = ApiResource::from_gvk(&gvk, "deployments", true);
/// let api = DynamicApi::namespaced_with(client, "default", &deployments);
/// for d in api.list(&ListParams::default()).await? {
///     println!("{} replicas: {:?}", d.metadata.name.unwrap_or_default(), d.data["spec"]["replicas"]);
/// }
/// api.patch("web", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 3}})))
///     .await?;
/// # Ok(())
/// # }
/// ```
pub type DynamicApi = Api<DynamicObject>;

/// Dynamic objects travel as JSON; the `apiVersion` and `kind` the server leaves out of list
/// items are set from the resource (as client-go's `UnstructuredList` does), and an object
/// sent without them gets the resource's.
impl Resource for DynamicObject {
    type DynamicType = ApiResource;
    type Scope = DynamicScope;

    fn api_resource(resource: &ApiResource) -> ApiResource {
        resource.clone()
    }

    fn received(self, resource: &ApiResource) -> Result<Self, DecodeError> {
        Ok(with_type(self, resource))
    }

    fn outgoing<'a>(&'a self, resource: &ApiResource) -> Cow<'a, Self> {
        if self.api_version.is_empty() || self.kind.is_empty() {
            Cow::Owned(with_type(self.clone(), resource))
        } else {
            Cow::Borrowed(self)
        }
    }
}

/// `object` with an empty `apiVersion` or `kind` set from `resource`.
fn with_type(mut object: DynamicObject, resource: &ApiResource) -> DynamicObject {
    if object.api_version.is_empty() {
        object.api_version = resource.api_version();
    }
    if object.kind.is_empty() {
        object.kind = resource.kind.clone();
    }
    object
}
