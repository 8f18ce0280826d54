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
#[cfg(feature = "protobuf")]
use std::sync::atomic::{AtomicBool, Ordering};
#[cfg(feature = "protobuf")]
use std::sync::Arc;

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
///
/// With the `protobuf` feature, a handle on a built-in type speaks the Kubernetes protobuf
/// encoding (reads, writes and watches; patches are JSON as Kubernetes requires, their
/// answers protobuf), and falls back to JSON for good when the server refuses it (`406`,
/// `415`). Custom resources and types without a generated codec use JSON; so does a handle
/// made with [`json`](Api::json).
pub struct Api<K> {
    client: Client,
    namespace: Option<String>,
    /// The wire format, which also carries `K`.
    wire: Wire<K>,
}

/// How a handle chooses its wire format.
struct Wire<K> {
    /// JSON only ([`Api::json`]).
    json: bool,
    /// Ask for protobuf only, so a server that cannot answer in it says `406`.
    #[cfg(feature = "protobuf")]
    protobuf_only: bool,
    /// The server refused protobuf on this handle (or a clone of it): JSON from now on.
    #[cfg(feature = "protobuf")]
    refused: Arc<AtomicBool>,
    /// The codec given with [`Api::protobuf`] (else the generated one is looked up).
    #[cfg(feature = "protobuf")]
    codec: Option<crate::protobuf::registry::Codec<K>>,
    /// Protobuf decoding skips `metadata.managedFields` (for informers that drop them).
    #[cfg(feature = "protobuf")]
    without_managed_fields: bool,
    _kind: PhantomData<fn() -> K>,
}

impl<K> Default for Wire<K> {
    fn default() -> Self {
        Wire {
            json: false,
            #[cfg(feature = "protobuf")]
            protobuf_only: false,
            #[cfg(feature = "protobuf")]
            refused: Arc::default(),
            #[cfg(feature = "protobuf")]
            codec: None,
            #[cfg(feature = "protobuf")]
            without_managed_fields: false,
            _kind: PhantomData,
        }
    }
}

impl<K> Clone for Wire<K> {
    fn clone(&self) -> Self {
        Wire {
            json: self.json,
            #[cfg(feature = "protobuf")]
            protobuf_only: self.protobuf_only,
            #[cfg(feature = "protobuf")]
            refused: self.refused.clone(),
            #[cfg(feature = "protobuf")]
            codec: self.codec,
            #[cfg(feature = "protobuf")]
            without_managed_fields: self.without_managed_fields,
            _kind: PhantomData,
        }
    }
}

impl<K> Clone for Api<K> {
    fn clone(&self) -> Self {
        Api {
            client: self.client.clone(),
            namespace: self.namespace.clone(),
            wire: self.wire.clone(),
        }
    }
}

impl<K: Resource> fmt::Debug for Api<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Api")
            .field("api_version", &K::API_VERSION)
            .field("resource", &K::URL_PATH_SEGMENT)
            .field("namespace", &self.namespace)
            .field("json_only", &self.wire.json)
            .finish()
    }
}

impl<K: Resource<Scope = NamespaceResourceScope>> Api<K> {
    /// A handle on `K` objects in `namespace`.
    pub fn namespaced(client: Client, namespace: &str) -> Self {
        Api {
            client,
            namespace: Some(namespace.to_string()),
            wire: Wire::default(),
        }
    }

    /// A handle on `K` objects in the client's default namespace (the kubeconfig context's,
    /// or the pod's own namespace in a cluster).
    pub fn default_namespaced(client: Client) -> Self {
        let namespace = client.default_namespace().to_string();
        Api {
            client,
            namespace: Some(namespace),
            wire: Wire::default(),
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
            wire: Wire::default(),
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

    /// This handle, speaking JSON only (also with the `protobuf` feature).
    pub fn json(mut self) -> Self {
        self.wire.json = true;
        self
    }

    /// This handle, asking for protobuf only (`Accept: application/vnd.kubernetes.protobuf`,
    /// without JSON as a second choice): a server that cannot answer in protobuf then says
    /// `406` and the handle switches to JSON, where by default it would quietly answer JSON.
    #[cfg(feature = "protobuf")]
    pub fn protobuf_only(mut self) -> Self {
        self.wire.protobuf_only = true;
        self
    }

    /// This handle, speaking protobuf with `K`'s own [`ProtobufMessage`] codec: for a type
    /// of your own that implements it (built-in types need no call, they use protobuf by
    /// default). Cancels [`json`](Api::json).
    ///
    /// [`ProtobufMessage`]: crate::protobuf::ProtobufMessage
    #[cfg(feature = "protobuf")]
    pub fn protobuf(mut self) -> Self
    where
        K: crate::protobuf::ProtobufMessage,
    {
        self.wire.json = false;
        self.wire.codec = Some(crate::protobuf::registry::Codec::of());
        self
    }

    /// Whether this handle's requests use protobuf: the `protobuf` feature is on, `K` has a
    /// generated codec (the built-in types), [`json`](Api::json) was not asked for, and the
    /// server has not refused protobuf on this handle.
    pub fn uses_protobuf(&self) -> bool
    where
        K: 'static,
    {
        #[cfg(feature = "protobuf")]
        return self.codec().is_some();
        #[cfg(not(feature = "protobuf"))]
        false
    }

    #[cfg(feature = "protobuf")]
    fn codec(&self) -> Option<crate::protobuf::registry::Codec<K>>
    where
        K: 'static,
    {
        if self.wire.json || self.wire.refused.load(Ordering::Relaxed) {
            return None;
        }
        let codec = self
            .wire
            .codec
            .or_else(crate::protobuf::registry::codec::<K>)?;
        Some(match self.wire.without_managed_fields {
            true => codec.without_managed_fields(),
            false => codec,
        })
    }

    /// This handle, decoding protobuf answers without `metadata.managedFields` (skipped on
    /// the wire, never built). JSON answers still carry them: callers that must not see
    /// them remove them too (as an informer's transform does).
    #[cfg_attr(not(feature = "protobuf"), allow(unused_mut))]
    pub(crate) fn protobuf_without_managed_fields(mut self) -> Self {
        #[cfg(feature = "protobuf")]
        {
            self.wire.without_managed_fields = true;
        }
        self
    }

    #[cfg(feature = "protobuf")]
    fn accept(&self) -> &'static str {
        if self.wire.protobuf_only {
            crate::protobuf::envelope::CONTENT_TYPE
        } else {
            crate::protobuf::ACCEPT
        }
    }

    /// Notes a refusal of protobuf (then the caller repeats the request in JSON); other
    /// outcomes are returned as they are.
    #[cfg(feature = "protobuf")]
    fn unless_refused<T>(&self, outcome: Result<T>) -> Option<Result<T>> {
        if matches!(&outcome, Err(e) if crate::protobuf::refused(e)) {
            tracing::debug!(what = %self.what(), "the server refused protobuf: using JSON");
            self.wire.refused.store(true, Ordering::Relaxed);
            return None;
        }
        Some(outcome)
    }

    /// Runs `call` with the protobuf form of `request` (and of `body`) when this handle uses
    /// protobuf; `None`: use JSON (no codec, opted out, or the server just refused).
    #[cfg(feature = "protobuf")]
    fn via_protobuf<'a, T, Fut>(
        &'a self,
        request: &Request,
        body: Option<&K>,
        call: impl FnOnce(Request, crate::protobuf::registry::Codec<K>) -> Fut + 'a,
    ) -> impl std::future::Future<Output = Option<Result<T>>> + 'a
    where
        K: 'static,
        Fut: std::future::Future<Output = Result<T>> + 'a,
    {
        // Prepared before the future, which so holds neither `request` nor `body`.
        let prepared = self.codec().map(|codec| {
            let request =
                crate::protobuf::protobuf_request(request.clone(), body, codec, self.accept());
            (request, codec)
        });
        async move {
            let (request, codec) = prepared?;
            self.unless_refused(call(request, codec).await)
        }
    }

    /// Sends `request` (with `body`, for create and replace) and decodes one `K`.
    async fn object(&self, request: Request, body: Option<&K>) -> Result<K>
    where
        K: DeserializeOwned + Serialize + 'static,
    {
        #[cfg(feature = "protobuf")]
        if let Some(outcome) = self
            .via_protobuf(&request, body, |r, codec| {
                crate::protobuf::object(&self.client, r, codec, self.what())
            })
            .await
        {
            return outcome;
        }
        let request = match body {
            Some(object) => request.json_body(object),
            None => request,
        };
        self.client.request(request.build()?).await
    }
}

impl<K> Api<K>
where
    K: Resource + Clone + DeserializeOwned + Serialize + 'static,
{
    /// Reads the object `name`.
    pub async fn get(&self, name: &str) -> Result<K> {
        self.object(self.named(Verb::Get, name), None).await
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
        let request = params.apply_to(self.request(Verb::List));
        let what = format!("{} list", self.what());
        #[cfg(feature = "protobuf")]
        if let Some(outcome) = self
            .via_protobuf(&request, None, |r, codec| {
                crate::protobuf::list(&self.client, r, codec, &what)
            })
            .await
        {
            return outcome;
        }
        collection::list_json(&self.client, request, what).await
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
        let request = params.apply_to(self.request(Verb::Watch), resource_version);
        #[cfg(feature = "protobuf")]
        if let Some(outcome) = self
            .via_protobuf(&request, None, |r, codec| {
                crate::protobuf::watch(&self.client, r, codec, self.what())
            })
            .await
        {
            return outcome.map(futures::future::Either::Left);
        }
        let chunks = self.client.request_stream(request.build()?).await?;
        let events = decode_stream(chunks, self.what());
        #[cfg(feature = "protobuf")]
        let events = futures::future::Either::Right(events);
        Ok(events)
    }

    /// Creates `object` (its `metadata.name`, or `generateName`, names it).
    pub async fn create(&self, params: &PostParams, object: &K) -> Result<K> {
        self.object(params.apply_to(self.request(Verb::Create)), Some(object))
            .await
    }

    /// Replaces the object `name` with `object` (whose `metadata.resourceVersion`, when set,
    /// must be current, else `409 Conflict`).
    pub async fn replace(&self, name: &str, params: &PostParams, object: &K) -> Result<K> {
        self.object(
            params.apply_to(self.named(Verb::Replace, name)),
            Some(object),
        )
        .await
    }

    /// Patches the object `name`.
    pub async fn patch<P: Serialize>(
        &self,
        name: &str,
        params: &PatchParams,
        patch: &Patch<P>,
    ) -> Result<K> {
        self.object(params.apply_to(self.named(Verb::Patch, name), patch), None)
            .await
    }

    /// Deletes the object `name`. The answer is the object (while finalizers or a
    /// foreground deletion keep it, or as deleted) or a `Status`.
    pub async fn delete(&self, name: &str, params: &DeleteParams) -> Result<Deleted<K>> {
        let what = self.what();
        let request = params.apply_to(self.named(Verb::Delete, name));
        #[cfg(feature = "protobuf")]
        if let Some(outcome) = self
            .via_protobuf(&request, None, |r, codec| {
                crate::protobuf::deleted(&self.client, r, codec, &what)
            })
            .await
        {
            return outcome;
        }
        let (_, body) = self.client.request_bytes(request.build()?).await?;
        decode_deleted(&body, K::KIND, &what)
    }

    /// Deletes every object `list` selects. The answer is the list of deleted objects or a
    /// `Status`.
    pub async fn delete_collection(
        &self,
        params: &DeleteParams,
        list: &ListParams,
    ) -> Result<Deleted<ObjectList<K>>> {
        let request = params.apply_to(list.apply_to(self.request(Verb::DeleteCollection)));
        let what = format!("{} list", self.what());
        #[cfg(feature = "protobuf")]
        if let Some(outcome) = self
            .via_protobuf(&request, None, |r, codec| {
                crate::protobuf::deleted_list(&self.client, r, codec, &what)
            })
            .await
        {
            return outcome;
        }
        let (_, body) = self.client.request_bytes(request.build()?).await?;
        decode_deleted(&body, "", &what)
    }

    /// Reads the `status` subresource of `name`.
    pub async fn get_status(&self, name: &str) -> Result<K> {
        let request = self.named(Verb::Get, name).subresource("status");
        self.object(request, None).await
    }

    /// Replaces the `status` subresource of `name` (only the status of `object` is used).
    pub async fn replace_status(&self, name: &str, params: &PostParams, object: &K) -> Result<K> {
        let request = params.apply_to(self.named(Verb::Replace, name).subresource("status"));
        self.object(request, Some(object)).await
    }

    /// Patches the `status` subresource of `name`.
    pub async fn patch_status<P: Serialize>(
        &self,
        name: &str,
        params: &PatchParams,
        patch: &Patch<P>,
    ) -> Result<K> {
        let request = self.named(Verb::Patch, name).subresource("status");
        self.object(params.apply_to(request, patch), None).await
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
    body: &[u8],
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
    let head: Kind = serde_json::from_slice(body).map_err(decode_err)?;
    if head.kind.as_deref() == Some("Status") && kind != "Status" {
        return serde_json::from_slice(body)
            .map(Deleted::Status)
            .map_err(decode_err);
    }
    serde_json::from_slice(body)
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
        let d: Deleted<ConfigMap> =
            decode_deleted(status.as_bytes(), "ConfigMap", "v1/ConfigMap").unwrap();
        assert_eq!(d.status().unwrap().status.as_deref(), Some("Success"));

        let obj = r#"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"x","deletionTimestamp":"2024-01-01T00:00:00Z","finalizers":["foregroundDeletion"]}}"#;
        let d: Deleted<ConfigMap> =
            decode_deleted(obj.as_bytes(), "ConfigMap", "v1/ConfigMap").unwrap();
        let cm = d.object().unwrap();
        assert_eq!(cm.metadata.finalizers.unwrap(), vec!["foregroundDeletion"]);

        let list = r#"{"kind":"ConfigMapList","apiVersion":"v1","metadata":{"resourceVersion":"3"},"items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b"}}]}"#;
        let d: Deleted<ObjectList<ConfigMap>> =
            decode_deleted(list.as_bytes(), "", "v1/ConfigMap list").unwrap();
        let l = d.object().unwrap();
        assert_eq!(l.items.len(), 2);
        assert_eq!(l.resource_version(), Some("3"));

        match decode_deleted::<ConfigMap>(b"{oops", "ConfigMap", "v1/ConfigMap") {
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
