//! Metadata-only access to any resource: the one resource handle [`Api`] on
//! [`PartialObjectMetadata`] (`apiVersion`, `kind`, `metadata`), as client-go's `metadata`
//! package does. The server sends only the metadata, so a list of big objects (or of
//! Secrets, whose data should not travel) stays small.
//!
//! ```no_run
//! use futures::TryStreamExt;
//! use k8s_client::api::{ApiResource, WatchParams};
//! use k8s_client::metadata::MetadataApi;
//! use k8s_openapi::api::apps::v1::Deployment;
//!
//! # async fn run(client: k8s_client::Client) -> Result<(), k8s_client::Error> {
//! let api = MetadataApi::all_with(client, &ApiResource::of::<Deployment>());
//! let mut events = Box::pin(api.watch(&WatchParams::default(), "").await?);
//! while let Some(event) = events.try_next().await? {
//!     if let Some(obj) = event.object() {
//!         println!("{} {:?}", event.type_name(), obj.metadata.name);
//!     }
//! }
//! # Ok(())
//! # }
//! ```

mod object;

use std::sync::Arc;

pub use object::PartialObjectMetadata;

use crate::api::format::{Format, Json};
use crate::api::{Api, ApiResource, DynamicScope, Resource};
use crate::error::DecodeError;

/// The `Accept` header of a metadata-only get, watch, patch or delete: the
/// `PartialObjectMetadata` form, or the plain object from servers that cannot make it (as
/// client-go asks, without protobuf).
pub const ACCEPT_OBJECT: &str =
    "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json";

/// The `Accept` header of a metadata-only list.
pub const ACCEPT_LIST: &str =
    "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";

/// The resource handle on one resource's objects, metadata only: made with
/// [`Api::namespaced_with`], [`Api::default_namespaced_with`] or [`Api::all_with`] and an
/// [`ApiResource`]. The server leaves out everything but `metadata` (a list of Secrets has
/// their names and labels, not their data), which makes lists and watches of big objects
/// cheap. Creating or replacing objects needs their whole content: use a typed or dynamic
/// handle for that.
///
/// ```no_run
/// use k8s_client::api::{ApiResource, ListParams};
/// use k8s_client::metadata::MetadataApi;
/// use k8s_openapi::api::core::v1::Secret;
///
/// # async fn run(client: k8s_client::Client) -> Result<(), k8s_client::Error> {
/// let secrets = MetadataApi::namespaced_with(client, "default", &ApiResource::of::<Secret>());
/// for s in secrets.list(&ListParams::default()).await? {
///     println!("{} {:?}", s.metadata.name.unwrap_or_default(), s.metadata.labels);
/// }
/// # Ok(())
/// # }
/// ```
pub type MetadataApi = Api<PartialObjectMetadata>;

/// Metadata-only objects are asked for with the `PartialObjectMetadata` media types; an
/// answer is the server's `PartialObjectMetadata`, or (from a server that could not make
/// one) an object that looks like one, whose type fields are then cleared, as client-go
/// does.
impl Resource for PartialObjectMetadata {
    type DynamicType = ApiResource;
    type Scope = DynamicScope;

    fn api_resource(resource: &ApiResource) -> ApiResource {
        resource.clone()
    }

    fn format(_: &ApiResource) -> Arc<dyn Format<Self>> {
        Arc::new(Json::with_accept(ACCEPT_OBJECT, ACCEPT_LIST))
    }

    fn received(mut self, resource: &ApiResource) -> Result<Self, DecodeError> {
        if self.kind == PartialObjectMetadata::KIND {
            return Ok(self);
        }
        if !self.is_likely_object_metadata() {
            return Err(DecodeError::msg(
                format!("{} metadata", resource.gvk()),
                format!(
                    "the answer (kind {:?}) has no object metadata (no name, generateName, \
                     uid or creationTimestamp)",
                    self.kind
                ),
            ));
        }
        self.api_version.clear();
        self.kind.clear();
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{Namespace, Secret};

    use super::*;
    use crate::api::{ListParams, WatchParams};
    use crate::rest::{Request, Verb};
    use crate::{Client, Error};

    fn api(namespace: Option<&str>) -> MetadataApi {
        let config = crate::Config::new("https://127.0.0.1:6443".parse().unwrap());
        let client = Client::try_from(config).unwrap();
        let secrets = ApiResource::of::<Secret>();
        match namespace {
            Some(ns) => MetadataApi::namespaced_with(client, ns, &secrets),
            None => MetadataApi::all_with(client, &secrets),
        }
    }

    #[test]
    fn requests_ask_for_metadata_only() {
        let build = |r: Request| r.build().unwrap();
        let list = build(
            ListParams::default()
                .limit(2)
                .apply_to(api(Some("ns")).request(Verb::List)),
        );
        assert_eq!(list.uri(), "/api/v1/namespaces/ns/secrets?limit=2");
        assert_eq!(list.headers()["accept"], ACCEPT_LIST);
        let watch = build(WatchParams::default().apply_to(api(None).request(Verb::Watch), "5"));
        assert_eq!(
            watch.uri(),
            "/api/v1/secrets?watch=true&resourceVersion=5&allowWatchBookmarks=true"
        );
        assert_eq!(watch.headers()["accept"], ACCEPT_OBJECT);
        let get = build(api(Some("ns")).request(Verb::Get).name("s"));
        assert_eq!(get.uri(), "/api/v1/namespaces/ns/secrets/s");
        assert_eq!(get.headers().get_all("accept").iter().count(), 1);
        assert_eq!(get.headers()["accept"], ACCEPT_OBJECT);
        assert!(format!("{:?}", api(None)).contains("secrets"));
        let namespaces = ApiResource::of::<Namespace>();
        let config = crate::Config::new("https://127.0.0.1:6443".parse().unwrap());
        let cluster_scoped =
            MetadataApi::namespaced_with(Client::try_from(config).unwrap(), "ns", &namespaces);
        assert!(cluster_scoped.request(Verb::List).build().is_err());
    }

    #[test]
    fn answers_that_are_not_metadata_are_errors() {
        let secrets = ApiResource::of::<Secret>();
        let mut full = PartialObjectMetadata {
            api_version: "v1".into(),
            kind: "Secret".into(),
            ..Default::default()
        };
        match full.clone().received(&secrets) {
            Err(e) => {
                assert_eq!(e.what(), "v1/Secret metadata");
                assert!(e.to_string().contains("no object metadata"), "{e}");
            }
            other => panic!("{other:?}"),
        }
        full.metadata.name = Some("s".into());
        let ok = full.received(&secrets).unwrap();
        assert!(ok.kind.is_empty() && ok.api_version.is_empty());
        let partial = PartialObjectMetadata {
            api_version: PartialObjectMetadata::API_VERSION.into(),
            kind: PartialObjectMetadata::KIND.into(),
            ..Default::default()
        };
        assert_eq!(partial.clone().received(&secrets).unwrap(), partial);
        let _: Option<Error> = None;
    }
}
