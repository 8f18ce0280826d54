//! Untyped objects addressed by group/version/resource: the dynamic client.
//!
//! - [`DynamicObject`]: any object as JSON with typed `metadata`, convertible to and from the
//!   typed k8s-openapi structs ([`DynamicObject::try_parse`], [`DynamicObject::from_typed`]).
//! - [`DynamicApi`]: every verb of [`Api<K>`](crate::Api) for a resource named at run time
//!   by an [`ApiResource`](crate::api::ApiResource) (client-go's `dynamic` package).
//! - [`crd`]: install a CustomResourceDefinition and wait until it is served.
//! - [`custom_resource!`](crate::custom_resource): a typed struct for a custom resource, so
//!   `Api<K>` works on it (see [`custom`]).
//!
//! ```no_run
//! use k8s_client::api::{ApiResource, ListParams, PostParams};
//! use k8s_client::dynamic::{DynamicApi, DynamicObject};
//! use k8s_openapi::api::core::v1::ConfigMap;
//! use serde_json::json;
//!
//! # async fn run(client: k8s_client::Client) -> Result<(), k8s_client::Error> {
//! let api = DynamicApi::namespaced(client, &ApiResource::of::<ConfigMap>(), "default");
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

mod api;
pub mod crd;
pub mod custom;
mod object;

pub use api::DynamicApi;
pub use object::{ConvertError, DynamicObject};

/// What [`custom_resource!`](crate::custom_resource) expands to refers to; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use super::custom::{deserialize, serialize, Parts};
    pub use k8s_openapi;
    pub use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    pub use serde;
}
