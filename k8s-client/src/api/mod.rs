//! The typed [`Api<K>`] over the k8s-openapi types: every verb, every patch type,
//! server-side apply, subresources, watch.
//!
//! ```no_run
//! use k8s_client::api::{Api, ListParams, Patch, PatchParams, PostParams};
//! use k8s_openapi::api::core::v1::ConfigMap;
//! use serde_json::json;
//!
//! # async fn run(client: k8s_client::Client) -> Result<(), k8s_client::Error> {
//! let cms: Api<ConfigMap> = Api::namespaced(client, "default");
//! let mut cm = ConfigMap::default();
//! cm.metadata.name = Some("settings".into());
//! cms.create(&PostParams::default(), &cm).await?;
//! cms.patch("settings", &PatchParams::default(), &Patch::Merge(json!({"data": {"k": "v"}})))
//!     .await?;
//! for cm in cms.list(&ListParams::default().labels("app=demo")).await? {
//!     println!("{:?}", cm.metadata.name);
//! }
//! # Ok(())
//! # }
//! ```

pub(crate) mod collection;
pub(crate) mod list_decoder;
mod object;
mod params;
mod resource;
mod watch;

use std::fmt;
use std::marker::PhantomData;

use futures::Stream;
use k8s_openapi::api::autoscaling::v1::Scale;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;
use k8s_openapi::{NamespaceResourceScope, Resource};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use object::Object;
pub use params::{
    DeleteParams, EvictParams, FieldValidation, ListParams, Patch, PatchParams, PostParams,
    Preconditions, PropagationPolicy, ResourceVersionMatch, WatchParams,
};
pub use resource::{
    join_api_version, split_api_version, ApiResource, GroupVersionKind, GroupVersionResource,
};
pub use watch::{decode_stream, Bookmark, WatchEvent, INITIAL_EVENTS_END_ANNOTATION};

use crate::client::Client;
use crate::error::{Error, Result, Status};
use crate::rest::{Request, Verb};

/// One page of a list: the objects and the list's metadata (`continue`, `resourceVersion`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(bound(deserialize = "K: DeserializeOwned", serialize = "K: Serialize"))]
pub struct ObjectList<K> {
    /// `continue` token and resourceVersion of the list.
    #[serde(default)]
    pub metadata: ListMeta,
    /// The objects.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub items: Vec<K>,
}

fn null_as_empty<'de, D, K>(d: D) -> std::result::Result<Vec<K>, D::Error>
where
    D: serde::Deserializer<'de>,
    K: DeserializeOwned,
{
    Ok(Option::<Vec<K>>::deserialize(d)?.unwrap_or_default())
}

impl<K> Default for ObjectList<K> {
    fn default() -> Self {
        ObjectList {
            metadata: ListMeta::default(),
            items: Vec::new(),
        }
    }
}

impl<K> ObjectList<K> {
    /// The token that fetches the next page, when there is one.
    pub fn continue_token(&self) -> Option<&str> {
        self.metadata.continue_.as_deref().filter(|t| !t.is_empty())
    }

    /// The resourceVersion the list was read at (start a watch from here).
    pub fn resource_version(&self) -> Option<&str> {
        self.metadata.resource_version.as_deref()
    }

    /// Iterates over the objects.
    pub fn iter(&self) -> std::slice::Iter<'_, K> {
        self.items.iter()
    }
}

impl<K> IntoIterator for ObjectList<K> {
    type Item = K;
    type IntoIter = std::vec::IntoIter<K>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

impl<'a, K> IntoIterator for &'a ObjectList<K> {
    type Item = &'a K;
    type IntoIter = std::slice::Iter<'a, K>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

/// The answer to a delete: the object (still there while finalizers run, or as it was
/// deleted), or a `Status` when the server answered with one.
// The lint sees `T` as zero-sized; real objects are as large as `Status` or larger.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Deleted<T> {
    /// The object (or, for `delete_collection`, the list of deleted objects).
    Object(T),
    /// The server's `Status` (`"status": "Success"`).
    Status(Status),
}

impl<T> Deleted<T> {
    /// The object, when the server answered with one.
    pub fn object(self) -> Option<T> {
        match self {
            Deleted::Object(o) => Some(o),
            Deleted::Status(_) => None,
        }
    }

    /// The status, when the server answered with one.
    pub fn status(self) -> Option<Status> {
        match self {
            Deleted::Object(_) => None,
            Deleted::Status(s) => Some(s),
        }
    }
}

/// A typed handle on one resource (`K`) in one namespace, in all namespaces, or cluster-wide.
/// Cheap to clone. See the [module docs](self) for an example.
pub struct Api<K> {
    client: Client,
    namespace: Option<String>,
    _kind: PhantomData<fn() -> K>,
}

impl<K> Clone for Api<K> {
    fn clone(&self) -> Self {
        Api {
            client: self.client.clone(),
            namespace: self.namespace.clone(),
            _kind: PhantomData,
        }
    }
}

impl<K: Resource> fmt::Debug for Api<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Api")
            .field("api_version", &K::API_VERSION)
            .field("resource", &K::URL_PATH_SEGMENT)
            .field("namespace", &self.namespace)
            .finish()
    }
}

impl<K: Resource<Scope = NamespaceResourceScope>> Api<K> {
    /// A handle on `K` objects in `namespace`.
    pub fn namespaced(client: Client, namespace: &str) -> Self {
        Api {
            client,
            namespace: Some(namespace.to_string()),
            _kind: PhantomData,
        }
    }

    /// A handle on `K` objects in the client's default namespace (the kubeconfig context's,
    /// or the pod's own namespace in a cluster).
    pub fn default_namespaced(client: Client) -> Self {
        let namespace = client.default_namespace().to_string();
        Api {
            client,
            namespace: Some(namespace),
            _kind: PhantomData,
        }
    }
}

impl<K: Resource> Api<K> {
    /// A handle on `K` objects in all namespaces (reads only, for namespaced `K`) or on a
    /// cluster-scoped `K`.
    pub fn all(client: Client) -> Self {
        Api {
            client,
            namespace: None,
            _kind: PhantomData,
        }
    }

    /// The namespace of this handle (`None`: all namespaces or cluster-scoped).
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// The client of this handle.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// A request for `verb` on this handle's collection, for building requests this type
    /// has no method for.
    pub fn request(&self, verb: Verb) -> Request {
        collection_request::<K>(self.namespace.as_deref(), verb)
    }

    fn named(&self, verb: Verb, name: &str) -> Request {
        self.request(verb).name(name)
    }

    fn what(&self) -> String {
        format!("{}/{}", K::API_VERSION, K::KIND)
    }
}

impl<K> Api<K>
where
    K: Resource + Clone + DeserializeOwned + Serialize,
{
    /// Reads the object `name`.
    pub async fn get(&self, name: &str) -> Result<K> {
        self.client
            .request(self.named(Verb::Get, name).build()?)
            .await
    }

    /// Reads the object `name`; `None` when it does not exist.
    pub async fn get_opt(&self, name: &str) -> Result<Option<K>> {
        match self.get(name).await {
            Ok(k) => Ok(Some(k)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Lists one page of objects.
    pub async fn list(&self, params: &ListParams) -> Result<ObjectList<K>> {
        let req = params.apply_to(self.request(Verb::List)).build()?;
        self.client.request(req).await
    }

    /// Lists page by page, following `continue` tokens, from `params` (whose `limit` is the
    /// page size). The stream ends after the last page or the first error.
    pub fn list_pages(
        &self,
        params: &ListParams,
    ) -> impl Stream<Item = Result<ObjectList<K>>> + Send + 'static
    where
        K: Send + 'static,
    {
        let api = self.clone();
        collection::list_pages(params, move |p| {
            let api = api.clone();
            async move { api.list(&p).await }
        })
    }

    /// Lists every object, following `continue` tokens (`params.limit` is the page size).
    /// The answer's metadata is the last page's.
    pub async fn list_all(&self, params: &ListParams) -> Result<ObjectList<K>>
    where
        K: Send + 'static,
    {
        collection::collect_pages(self.list_pages(params)).await
    }

    /// Watches the collection from `resource_version` (`""`: from now, after the current
    /// objects as `ADDED` events for a streaming list; `"0"`: from any recent version). The
    /// stream ends when the server closes the watch (see
    /// [`WatchParams::timeout_seconds`]); decoding errors are `Err` items.
    pub async fn watch(
        &self,
        params: &WatchParams,
        resource_version: &str,
    ) -> Result<impl Stream<Item = Result<WatchEvent<K>>> + Send + 'static>
    where
        K: Send + 'static,
    {
        let req = params
            .apply_to(self.request(Verb::Watch), resource_version)
            .build()?;
        let chunks = self.client.request_stream(req).await?;
        Ok(decode_stream(chunks, self.what()))
    }

    /// Creates `object` (its `metadata.name`, or `generateName`, names it).
    pub async fn create(&self, params: &PostParams, object: &K) -> Result<K> {
        let req = params
            .apply_to(self.request(Verb::Create))
            .json_body(object)
            .build()?;
        self.client.request(req).await
    }

    /// Replaces the object `name` with `object` (whose `metadata.resourceVersion`, when set,
    /// must be current, else `409 Conflict`).
    pub async fn replace(&self, name: &str, params: &PostParams, object: &K) -> Result<K> {
        let req = params
            .apply_to(self.named(Verb::Replace, name))
            .json_body(object)
            .build()?;
        self.client.request(req).await
    }

    /// Patches the object `name`.
    pub async fn patch<P: Serialize>(
        &self,
        name: &str,
        params: &PatchParams,
        patch: &Patch<P>,
    ) -> Result<K> {
        let req = params
            .apply_to(self.named(Verb::Patch, name), patch)
            .build()?;
        self.client.request(req).await
    }

    /// Deletes the object `name`. The answer is the object (while finalizers or a
    /// foreground deletion keep it, or as deleted) or a `Status`.
    pub async fn delete(&self, name: &str, params: &DeleteParams) -> Result<Deleted<K>> {
        let req = params.apply_to(self.named(Verb::Delete, name)).build()?;
        let body = self.client.request_text(req).await?;
        decode_deleted(&body, K::KIND, &self.what())
    }

    /// Deletes every object `list` selects. The answer is the list of deleted objects or a
    /// `Status`.
    pub async fn delete_collection(
        &self,
        params: &DeleteParams,
        list: &ListParams,
    ) -> Result<Deleted<ObjectList<K>>> {
        let req = params
            .apply_to(list.apply_to(self.request(Verb::DeleteCollection)))
            .build()?;
        let body = self.client.request_text(req).await?;
        decode_deleted(&body, "", &format!("{} list", self.what()))
    }

    /// Reads the `status` subresource of `name`.
    pub async fn get_status(&self, name: &str) -> Result<K> {
        self.get_subresource("status", name).await
    }

    /// Replaces the `status` subresource of `name` (only the status of `object` is used).
    pub async fn replace_status(&self, name: &str, params: &PostParams, object: &K) -> Result<K> {
        self.replace_subresource("status", name, params, object)
            .await
    }

    /// Patches the `status` subresource of `name`.
    pub async fn patch_status<P: Serialize>(
        &self,
        name: &str,
        params: &PatchParams,
        patch: &Patch<P>,
    ) -> Result<K> {
        self.patch_subresource("status", name, params, patch).await
    }

    /// Reads the `scale` subresource of `name` (Deployments, ReplicaSets, StatefulSets, ...).
    pub async fn get_scale(&self, name: &str) -> Result<Scale> {
        self.get_subresource("scale", name).await
    }

    /// Replaces the `scale` subresource of `name`.
    pub async fn replace_scale(
        &self,
        name: &str,
        params: &PostParams,
        scale: &Scale,
    ) -> Result<Scale> {
        self.replace_subresource("scale", name, params, scale).await
    }

    /// Patches the `scale` subresource of `name` (for example
    /// `Patch::Merge(json!({"spec": {"replicas": 3}}))`).
    pub async fn patch_scale<P: Serialize>(
        &self,
        name: &str,
        params: &PatchParams,
        patch: &Patch<P>,
    ) -> Result<Scale> {
        self.patch_subresource("scale", name, params, patch).await
    }

    /// Reads any subresource of `name`, decoded as `T`.
    pub async fn get_subresource<T: DeserializeOwned>(
        &self,
        subresource: &str,
        name: &str,
    ) -> Result<T> {
        let req = self
            .named(Verb::Get, name)
            .subresource(subresource)
            .build()?;
        self.client.request(req).await
    }

    /// Replaces any subresource of `name` with `body`, decoding the answer as `T`.
    pub async fn replace_subresource<B: Serialize, T: DeserializeOwned>(
        &self,
        subresource: &str,
        name: &str,
        params: &PostParams,
        body: &B,
    ) -> Result<T> {
        let req = params
            .apply_to(self.named(Verb::Replace, name).subresource(subresource))
            .json_body(body)
            .build()?;
        self.client.request(req).await
    }

    /// Patches any subresource of `name`, decoding the answer as `T`.
    pub async fn patch_subresource<P: Serialize, T: DeserializeOwned>(
        &self,
        subresource: &str,
        name: &str,
        params: &PatchParams,
        patch: &Patch<P>,
    ) -> Result<T> {
        let req = params
            .apply_to(
                self.named(Verb::Patch, name).subresource(subresource),
                patch,
            )
            .build()?;
        self.client.request(req).await
    }

    /// Creates (POSTs) `body` on a subresource of `name` (eviction, token requests, ...),
    /// decoding the answer as `T`.
    pub async fn create_subresource<B: Serialize, T: DeserializeOwned>(
        &self,
        subresource: &str,
        name: &str,
        params: &PostParams,
        body: &B,
    ) -> Result<T> {
        let req = params
            .apply_to(self.named(Verb::Create, name).subresource(subresource))
            .json_body(body)
            .build()?;
        self.client.request(req).await
    }
}

impl Api<Pod> {
    /// Evicts the pod `name` (a `policy/v1` `Eviction`), honouring PodDisruptionBudgets: a
    /// `429 TooManyRequests` means a budget forbids it now. The answer is the server's
    /// `Status`.
    pub async fn evict(&self, name: &str, params: &EvictParams) -> Result<Status> {
        let mut metadata = serde_json::Map::new();
        metadata.insert("name".into(), name.into());
        if let Some(ns) = &self.namespace {
            metadata.insert("namespace".into(), ns.as_str().into());
        }
        let mut eviction = serde_json::Map::new();
        eviction.insert("apiVersion".into(), "policy/v1".into());
        eviction.insert("kind".into(), "Eviction".into());
        eviction.insert("metadata".into(), metadata.into());
        if let Some(dp) = &params.delete_options {
            eviction.insert("deleteOptions".into(), dp.to_delete_options());
        }
        self.create_subresource("eviction", name, &params.post_options, &eviction)
            .await
    }
}

/// A request for `verb` on the collection of `K` in `namespace` (or all / cluster-scoped).
fn collection_request<K: Resource>(namespace: Option<&str>, verb: Verb) -> Request {
    Request::new(verb)
        .group_version(K::GROUP, K::VERSION)
        .namespace_opt(namespace)
        .resource(K::URL_PATH_SEGMENT)
}

/// Decodes a delete answer: a `Status` (unless `kind` is itself `Status`) or the object.
pub(crate) fn decode_deleted<T: DeserializeOwned>(
    body: &str,
    kind: &str,
    what: &str,
) -> Result<Deleted<T>> {
    #[derive(Deserialize)]
    struct Kind {
        #[serde(default)]
        kind: Option<String>,
    }
    let decode_err = |e: serde_json::Error| Error::Decode {
        what: format!("delete answer for {what}"),
        message: e.to_string(),
    };
    let head: Kind = serde_json::from_str(body).map_err(decode_err)?;
    if head.kind.as_deref() == Some("Status") && kind != "Status" {
        return serde_json::from_str(body)
            .map(Deleted::Status)
            .map_err(decode_err);
    }
    serde_json::from_str(body)
        .map(Deleted::Object)
        .map_err(decode_err)
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::{ConfigMap, Namespace};

    use super::*;

    #[test]
    fn deleted_decodes_status_or_object() {
        let status = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success","details":{"name":"x","kind":"configmaps","uid":"u"}}"#;
        let d: Deleted<ConfigMap> = decode_deleted(status, "ConfigMap", "v1/ConfigMap").unwrap();
        assert_eq!(d.status().unwrap().status.as_deref(), Some("Success"));

        let obj = r#"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"x","deletionTimestamp":"2024-01-01T00:00:00Z","finalizers":["foregroundDeletion"]}}"#;
        let d: Deleted<ConfigMap> = decode_deleted(obj, "ConfigMap", "v1/ConfigMap").unwrap();
        let cm = d.object().unwrap();
        assert_eq!(cm.metadata.finalizers.unwrap(), vec!["foregroundDeletion"]);

        let list = r#"{"kind":"ConfigMapList","apiVersion":"v1","metadata":{"resourceVersion":"3"},"items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b"}}]}"#;
        let d: Deleted<ObjectList<ConfigMap>> =
            decode_deleted(list, "", "v1/ConfigMap list").unwrap();
        let l = d.object().unwrap();
        assert_eq!(l.items.len(), 2);
        assert_eq!(l.resource_version(), Some("3"));

        match decode_deleted::<ConfigMap>("{oops", "ConfigMap", "v1/ConfigMap") {
            Err(Error::Decode { what, .. }) => assert_eq!(what, "delete answer for v1/ConfigMap"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn object_list_decodes_pages() {
        let page = r#"{"kind":"ConfigMapList","apiVersion":"v1","metadata":{"resourceVersion":"10","continue":"abc","remainingItemCount":4},"items":[{"metadata":{"name":"a"}}]}"#;
        let l: ObjectList<ConfigMap> = serde_json::from_str(page).unwrap();
        assert_eq!(l.continue_token(), Some("abc"));
        assert_eq!(l.iter().count(), 1);
        let last = r#"{"metadata":{"resourceVersion":"10","continue":""},"items":null}"#;
        let l: ObjectList<ConfigMap> = serde_json::from_str(last).unwrap();
        assert_eq!(l.continue_token(), None);
        assert!(l.items.is_empty());
        let names: Vec<String> = serde_json::from_str::<ObjectList<ConfigMap>>(page)
            .unwrap()
            .into_iter()
            .filter_map(|c| c.metadata.name)
            .collect();
        assert_eq!(names, ["a"]);
    }

    use super::collection_request as req;

    #[test]
    fn resource_paths_come_from_the_type() {
        let uri = |r: Request| r.build().unwrap().uri().to_string();
        assert_eq!(
            uri(req::<Deployment>(Some("ns"), Verb::Get)
                .name("d")
                .subresource("scale")),
            "/apis/apps/v1/namespaces/ns/deployments/d/scale"
        );
        assert_eq!(uri(req::<Pod>(None, Verb::List)), "/api/v1/pods");
        assert_eq!(
            uri(req::<Namespace>(None, Verb::Get).name("x")),
            "/api/v1/namespaces/x"
        );
        assert_eq!(
            uri(req::<ConfigMap>(Some("ns"), Verb::Watch)),
            "/api/v1/namespaces/ns/configmaps?watch=true"
        );
    }
}
