//! [`MetadataApi`]: reads, watches, patches and deletes any resource's objects as
//! [`PartialObjectMetadata`] (client-go's `metadata` package).

use std::fmt;

use futures::{Stream, StreamExt};
use serde::Serialize;

use crate::api::collection::{collect_pages, list_pages, resource_request};
use crate::api::{
    decode_deleted, decode_stream, ApiResource, DeleteParams, Deleted, ListParams, ObjectList,
    Patch, PatchParams, WatchEvent, WatchParams,
};
use crate::client::Client;
use crate::error::{Error, Result};
use crate::rest::{Request, Verb};

use super::PartialObjectMetadata;

/// The `Accept` header of a metadata-only get, watch, patch or delete: the
/// `PartialObjectMetadata` form, or the plain object from servers that cannot make it (as
/// client-go asks, without protobuf).
pub const ACCEPT_OBJECT: &str =
    "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json";

/// The `Accept` header of a metadata-only list.
pub const ACCEPT_LIST: &str =
    "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";

/// A handle on one resource's objects, metadata only, in one namespace, in all namespaces,
/// or cluster-wide. The server leaves out everything but `metadata` (a list of Secrets has
/// their names and labels, not their data), which makes lists and watches of big objects
/// cheap. Cheap to clone.
///
/// ```no_run
/// use k8s_client::api::{ApiResource, ListParams};
/// use k8s_client::metadata::MetadataApi;
/// use k8s_openapi::api::core::v1::Secret;
///
/// # async fn run(client: k8s_client::Client) -> Result<(), k8s_client::Error> {
/// let secrets = MetadataApi::namespaced(client, &ApiResource::of::<Secret>(), "default");
/// for s in secrets.list(&ListParams::default()).await? {
///     println!("{} {:?}", s.metadata.name.unwrap_or_default(), s.metadata.labels);
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct MetadataApi {
    client: Client,
    resource: ApiResource,
    namespace: Option<String>,
}

impl fmt::Debug for MetadataApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetadataApi")
            .field("resource", &self.resource.gvr().to_string())
            .field("namespace", &self.namespace)
            .finish()
    }
}

impl MetadataApi {
    /// A handle on `resource`'s objects in `namespace`. When `resource` is cluster-scoped,
    /// every request fails with [`Error::Request`] saying so.
    pub fn namespaced(client: Client, resource: &ApiResource, namespace: &str) -> Self {
        MetadataApi {
            client,
            resource: resource.clone(),
            namespace: Some(namespace.to_string()),
        }
    }

    /// A handle on `resource`'s objects in the client's default namespace.
    pub fn default_namespaced(client: Client, resource: &ApiResource) -> Self {
        let namespace = client.default_namespace().to_string();
        MetadataApi::namespaced(client, resource, &namespace)
    }

    /// A handle on `resource`'s objects in all namespaces or on a cluster-scoped resource.
    pub fn all(client: Client, resource: &ApiResource) -> Self {
        MetadataApi {
            client,
            resource: resource.clone(),
            namespace: None,
        }
    }

    /// The resource of this handle.
    pub fn resource(&self) -> &ApiResource {
        &self.resource
    }

    /// The namespace of this handle (`None`: all namespaces or cluster-scoped).
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// A request for `verb` on this handle's collection, with the `Accept` header that asks
    /// for metadata only ([`ACCEPT_LIST`] for lists and collection deletes,
    /// [`ACCEPT_OBJECT`] otherwise).
    pub fn request(&self, verb: Verb) -> Request {
        let accept = match verb {
            Verb::List | Verb::DeleteCollection => ACCEPT_LIST,
            _ => ACCEPT_OBJECT,
        };
        resource_request(&self.resource, self.namespace.as_deref(), verb).header("Accept", accept)
    }

    fn what(&self) -> String {
        format!("{} metadata", self.resource.gvk())
    }

    /// Checks one answer: the server's `PartialObjectMetadata`, or (from a server that could
    /// not make one) an object that looks like one, whose type fields are then cleared, as
    /// client-go does.
    fn checked(&self, mut obj: PartialObjectMetadata) -> Result<PartialObjectMetadata> {
        if obj.kind == PartialObjectMetadata::KIND {
            return Ok(obj);
        }
        if !obj.is_likely_object_metadata() {
            return Err(Error::Decode {
                what: self.what(),
                message: format!(
                    "the answer (kind {:?}) has no object metadata (no name, generateName, \
                     uid or creationTimestamp)",
                    obj.kind
                ),
            });
        }
        obj.api_version.clear();
        obj.kind.clear();
        Ok(obj)
    }

    async fn send_object(&self, req: Request) -> Result<PartialObjectMetadata> {
        let obj = self.client.request(req.build()?).await?;
        self.checked(obj)
    }

    /// Reads the metadata of the object `name`.
    pub async fn get(&self, name: &str) -> Result<PartialObjectMetadata> {
        self.send_object(self.request(Verb::Get).name(name)).await
    }

    /// Reads the metadata of the object `name`; `None` when it does not exist.
    pub async fn get_opt(&self, name: &str) -> Result<Option<PartialObjectMetadata>> {
        match self.get(name).await {
            Ok(o) => Ok(Some(o)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Lists one page of the objects' metadata.
    pub async fn list(&self, params: &ListParams) -> Result<ObjectList<PartialObjectMetadata>> {
        let request = params.apply_to(self.request(Verb::List));
        let what = format!("{} list", self.what());
        crate::api::collection::list_json(&self.client, request, what).await
    }

    /// Lists page by page, following `continue` tokens, from `params` (whose `limit` is the
    /// page size). The stream ends after the last page or the first error.
    pub fn list_pages(
        &self,
        params: &ListParams,
    ) -> impl Stream<Item = Result<ObjectList<PartialObjectMetadata>>> + Send + 'static {
        let api = self.clone();
        list_pages(params, move |p| {
            let api = api.clone();
            async move { api.list(&p).await }
        })
    }

    /// Lists every object's metadata, following `continue` tokens (`params.limit` is the
    /// page size). The answer's metadata is the last page's.
    pub async fn list_all(&self, params: &ListParams) -> Result<ObjectList<PartialObjectMetadata>> {
        collect_pages(self.list_pages(params)).await
    }

    /// Watches the collection's metadata from `resource_version` (`""`: from now; see
    /// [`Api::watch`](crate::Api::watch)). The events' objects are
    /// `PartialObjectMetadata`. The stream ends when the server closes the watch; decoding
    /// errors are `Err` items.
    pub async fn watch(
        &self,
        params: &WatchParams,
        resource_version: &str,
    ) -> Result<impl Stream<Item = Result<WatchEvent<PartialObjectMetadata>>> + Send + 'static>
    {
        let req = params
            .apply_to(self.request(Verb::Watch), resource_version)
            .build()?;
        let chunks = self.client.request_stream(req).await?;
        let api = self.clone();
        Ok(
            decode_stream::<PartialObjectMetadata, _>(chunks, self.what())
                .map(move |event| event.and_then(|event| event.try_map_object(|o| api.checked(o)))),
        )
    }

    /// Patches the object `name` (labels, annotations, finalizers, owner references) and
    /// returns its new metadata.
    pub async fn patch<P: Serialize>(
        &self,
        name: &str,
        params: &PatchParams,
        patch: &Patch<P>,
    ) -> Result<PartialObjectMetadata> {
        self.send_object(params.apply_to(self.request(Verb::Patch).name(name), patch))
            .await
    }

    /// Deletes the object `name`. The answer is its metadata (while finalizers keep it, or
    /// as deleted) or a `Status`.
    pub async fn delete(
        &self,
        name: &str,
        params: &DeleteParams,
    ) -> Result<Deleted<PartialObjectMetadata>> {
        let req = params
            .apply_to(self.request(Verb::Delete).name(name))
            .build()?;
        let body = self.client.request_text(req).await?;
        match decode_deleted::<PartialObjectMetadata>(
            body.as_bytes(),
            PartialObjectMetadata::KIND,
            &self.what(),
        )? {
            Deleted::Object(o) => Ok(Deleted::Object(self.checked(o)?)),
            Deleted::Status(s) => Ok(Deleted::Status(s)),
        }
    }

    /// Deletes every object `list` selects. The answer is the metadata of the deleted
    /// objects or a `Status`.
    pub async fn delete_collection(
        &self,
        params: &DeleteParams,
        list: &ListParams,
    ) -> Result<Deleted<ObjectList<PartialObjectMetadata>>> {
        let req = params
            .apply_to(list.apply_to(self.request(Verb::DeleteCollection)))
            .build()?;
        let body = self.client.request_text(req).await?;
        decode_deleted(body.as_bytes(), "", &format!("{} list", self.what()))
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{Namespace, Secret};

    use super::*;

    fn api(namespace: Option<&str>) -> MetadataApi {
        let config = crate::Config::new("https://127.0.0.1:6443".parse().unwrap());
        let client = Client::try_from(config).unwrap();
        let secrets = ApiResource::of::<Secret>();
        match namespace {
            Some(ns) => MetadataApi::namespaced(client, &secrets, ns),
            None => MetadataApi::all(client, &secrets),
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
        assert_eq!(
            list.headers()["accept"],
            "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
        );
        let watch = build(WatchParams::default().apply_to(api(None).request(Verb::Watch), "5"));
        assert_eq!(
            watch.uri(),
            "/api/v1/secrets?watch=true&resourceVersion=5&allowWatchBookmarks=true"
        );
        assert_eq!(
            watch.headers()["accept"],
            "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"
        );
        let get = build(api(Some("ns")).request(Verb::Get).name("s"));
        assert_eq!(get.uri(), "/api/v1/namespaces/ns/secrets/s");
        assert_eq!(get.headers().get_all("accept").iter().count(), 1);
        assert_eq!(get.headers()["accept"], ACCEPT_OBJECT);
        assert!(format!("{:?}", api(None)).contains("secrets"));
        assert!(
            resource_request(&ApiResource::of::<Namespace>(), Some("ns"), Verb::List)
                .build()
                .is_err()
        );
    }

    #[test]
    fn answers_that_are_not_metadata_are_errors() {
        let api = api(Some("ns"));
        let mut full = PartialObjectMetadata {
            api_version: "v1".into(),
            kind: "Secret".into(),
            ..Default::default()
        };
        match api.checked(full.clone()) {
            Err(Error::Decode { what, message }) => {
                assert_eq!(what, "v1/Secret metadata");
                assert!(message.contains("no object metadata"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        full.metadata.name = Some("s".into());
        let ok = api.checked(full).unwrap();
        assert!(ok.kind.is_empty() && ok.api_version.is_empty());
        let partial = PartialObjectMetadata {
            api_version: PartialObjectMetadata::API_VERSION.into(),
            kind: PartialObjectMetadata::KIND.into(),
            ..Default::default()
        };
        assert_eq!(api.checked(partial.clone()).unwrap(), partial);
    }
}
