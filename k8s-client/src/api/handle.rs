//! [`Api<K>`]: the one resource handle. Every verb is written once here, for typed kinds,
//! custom resources, dynamic objects and metadata-only objects alike; the kind's
//! [`Resource`] implementation says how its objects are addressed and which wire
//! [`Format`] they travel in.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures::{Stream, StreamExt, TryStreamExt};
use k8s_openapi::api::autoscaling::v1::Scale;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::NamespaceResourceScope;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::collection::{collect_pages, list_pages, resource_request};
use super::format::{self, Format, ListDecoder};
use super::{
    ApiResource, DeleteParams, Deleted, DynamicScope, EvictParams, ListParams, ObjectList, Patch,
    PatchParams, PostParams, Resource, WatchEvent, WatchParams,
};
use crate::client::{BodyDecoder, Client};
use crate::error::{Result, Status};
use crate::rest::{Request, Verb};

/// A handle on one resource's objects (`K`) in one namespace, in all namespaces, or
/// cluster-wide: typed k8s-openapi kinds and custom resources (`Api<Pod>`), dynamic objects
/// (`Api<DynamicObject>`, also called [`DynamicApi`](super::super::dynamic::DynamicApi)) and
/// metadata-only objects (`Api<PartialObjectMetadata>`, also called
/// [`MetadataApi`](super::super::metadata::MetadataApi)). Cheap to clone.
///
/// Typed kinds are addressed by their type, so [`namespaced`](Api::namespaced) exists only
/// for namespaced kinds; dynamic and metadata-only handles take the resource at run time
/// ([`namespaced_with`](Api::namespaced_with), [`all_with`](Api::all_with)).
///
/// The wire format is the handle's: with the `protobuf` feature, a handle on a built-in kind
/// speaks the Kubernetes protobuf encoding (reads, writes and watches; patches are JSON as
/// Kubernetes requires, their answers protobuf), and falls back to JSON for good when the
/// server refuses it (`406`, `415`). Custom resources, dynamic and metadata-only objects use
/// JSON; so does a handle made with [`json`](Api::json).
///
/// ```no_run
/// use k8s_client::api::{Api, ListParams, Patch, PatchParams, PostParams};
/// use k8s_openapi::api::core::v1::ConfigMap;
/// use serde_json::json;
///
/// # async fn run(client: k8s_client::Client) -> Result<(), k8s_client::Error> {
/// let cms: Api<ConfigMap> = Api::namespaced(client, "default");
/// let mut cm = ConfigMap::default();
/// cm.metadata.name = Some("settings".into());
/// cms.create(&PostParams::default(), &cm).await?;
/// cms.patch("settings", &PatchParams::default(), &Patch::Merge(json!({"data": {"k": "v"}})))
///     .await?;
/// for cm in cms.list(&ListParams::default().labels("app=demo")).await? {
///     println!("{:?}", cm.metadata.name);
/// }
/// # Ok(())
/// # }
/// ```
pub struct Api<K: Resource> {
    client: Client,
    namespace: Option<String>,
    resource: Arc<ApiResource>,
    dyntype: K::DynamicType,
    format: Arc<dyn Format<K>>,
    /// The server refused `format` on this handle (or a clone of it): its fallback from now.
    refused: Arc<AtomicBool>,
}

impl<K: Resource> Clone for Api<K> {
    fn clone(&self) -> Self {
        Api {
            client: self.client.clone(),
            namespace: self.namespace.clone(),
            resource: self.resource.clone(),
            dyntype: self.dyntype.clone(),
            format: self.format.clone(),
            refused: self.refused.clone(),
        }
    }
}

impl<K: Resource> fmt::Debug for Api<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Api")
            .field("api_version", &self.resource.api_version())
            .field("resource", &self.resource.plural)
            .field("namespace", &self.namespace)
            .field("format", &self.current_format().name())
            .finish()
    }
}

impl<K: Resource<DynamicType = ()>> Api<K> {
    /// A handle on `K` objects in all namespaces (reads only, for namespaced `K`) or on a
    /// cluster-scoped `K`.
    pub fn all(client: Client) -> Self {
        Api::make(client, None, ())
    }
}

impl<K: Resource<DynamicType = (), Scope = NamespaceResourceScope>> Api<K> {
    /// A handle on `K` objects in `namespace`.
    pub fn namespaced(client: Client, namespace: &str) -> Self {
        Api::make(client, Some(namespace.to_string()), ())
    }

    /// A handle on `K` objects in the client's default namespace (the kubeconfig context's,
    /// or the pod's own namespace in a cluster).
    pub fn default_namespaced(client: Client) -> Self {
        let namespace = client.default_namespace().to_string();
        Api::make(client, Some(namespace), ())
    }
}

impl<K: Resource<Scope = DynamicScope>> Api<K> {
    /// A handle on the objects of the resource `dyntype` names, in `namespace`. When the
    /// resource is cluster-scoped, every request fails with
    /// [`Error::Request`](crate::Error::Request) saying so.
    ///
    /// ```no_run
    /// use k8s_client::api::{Api, ApiResource, GroupVersionKind};
    /// use k8s_client::dynamic::DynamicObject;
    ///
    /// # fn run(client: k8s_client::Client) {
    /// let gvk = GroupVersionKind::new("apps", "v1", "Deployment");
    /// let deployments = ApiResource::from_gvk(&gvk, "deployments", true);
    /// let api: Api<DynamicObject> = Api::namespaced_with(client, "default", &deployments);
    /// # }
    /// ```
    pub fn namespaced_with(client: Client, namespace: &str, dyntype: &K::DynamicType) -> Self {
        Api::make(client, Some(namespace.to_string()), dyntype.clone())
    }

    /// A handle on the objects of the resource `dyntype` names, in the client's default
    /// namespace.
    pub fn default_namespaced_with(client: Client, dyntype: &K::DynamicType) -> Self {
        let namespace = client.default_namespace().to_string();
        Api::make(client, Some(namespace), dyntype.clone())
    }

    /// A handle on the objects of the resource `dyntype` names, in all namespaces (reads
    /// only, for a namespaced resource) or cluster-wide.
    pub fn all_with(client: Client, dyntype: &K::DynamicType) -> Self {
        Api::make(client, None, dyntype.clone())
    }
}

impl<K: Resource> Api<K> {
    fn make(client: Client, namespace: Option<String>, dyntype: K::DynamicType) -> Self {
        Api {
            client,
            namespace,
            resource: Arc::new(K::api_resource(&dyntype)),
            format: K::format(&dyntype),
            dyntype,
            refused: Arc::default(),
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

    /// The resource of this handle (group, version, kind, plural, scope).
    pub fn resource(&self) -> &ApiResource {
        &self.resource
    }

    /// What addresses the objects at run time (`()` for typed kinds, the [`ApiResource`] of
    /// a dynamic or metadata-only handle).
    pub fn dynamic_type(&self) -> &K::DynamicType {
        &self.dyntype
    }

    /// A request for `verb` on this handle's collection, with the `Accept` header of its
    /// wire format when that is not plain JSON (and its way of reading error answers), for
    /// building requests this type has no method for.
    pub fn request(&self, verb: Verb) -> Request {
        let format = self.current_format();
        let accept = format.accept(verb);
        // Plain JSON is what the client asks for anyway: no header, so the caller may set
        // its own `Accept`.
        let request = if accept == format::JSON {
            self.base(verb)
        } else {
            self.base(verb).header("Accept", accept)
        };
        match format.status_decoder() {
            Some(decode) => request.status_decoder(decode),
            None => request,
        }
    }

    /// This handle, speaking JSON only (also with the `protobuf` feature).
    pub fn json(mut self) -> Self {
        self.format = format::json();
        self.refused = Arc::default();
        self
    }

    /// This handle, asking for protobuf only (`Accept: application/vnd.kubernetes.protobuf`,
    /// without JSON as a second choice): a server that cannot answer in protobuf then says
    /// `406` and the handle switches to JSON, where by default it would quietly answer JSON.
    /// A handle that does not speak protobuf (its kind has no codec, or [`json`](Api::json)
    /// was asked for) stays as it is.
    #[cfg(feature = "protobuf")]
    pub fn protobuf_only(mut self) -> Self {
        if let Some(format) = self.format.protobuf_only() {
            self.format = format;
            self.refused = Arc::default();
        }
        self
    }

    /// This handle, speaking protobuf with `K`'s own
    /// [`ProtobufMessage`](crate::protobuf::ProtobufMessage) codec: for a type of the
    /// program's own that implements it (built-in types need no call, they use protobuf by
    /// default). Cancels [`json`](Api::json).
    #[cfg(feature = "protobuf")]
    pub fn protobuf(mut self) -> Self
    where
        K: crate::protobuf::ProtobufMessage + k8s_openapi::Resource,
    {
        self.format = Arc::new(format::protobuf::ProtobufFormat::<K>::of());
        self.refused = Arc::default();
        self
    }

    /// Whether this handle's requests use protobuf: the `protobuf` feature is on, `K` has a
    /// codec (the built-in types), [`json`](Api::json) was not asked for, and the server has
    /// not refused protobuf on this handle.
    pub fn uses_protobuf(&self) -> bool {
        self.current_format().is_protobuf()
    }

    /// Whether decoded objects come without spare capacity in their lists (protobuf), so a
    /// cache can keep them as they are.
    #[cfg(feature = "runtime")]
    pub(crate) fn decodes_exactly(&self) -> bool {
        self.current_format().decodes_exactly()
    }

    /// This handle, decoding protobuf answers without `metadata.managedFields` (skipped on
    /// the wire, never built). JSON answers still carry them: callers that must not see
    /// them remove them too (as an informer's transform does).
    #[cfg(feature = "runtime")]
    pub(crate) fn without_managed_fields(mut self) -> Self {
        if let Some(format) = self.format.without_managed_fields() {
            self.format = format;
        }
        self
    }

    /// The format requests use now: the handle's, or its fallback once the server refused it.
    fn current_format(&self) -> Arc<dyn Format<K>> {
        if self.refused.load(Ordering::Relaxed) {
            if let Some(fallback) = self.format.fallback() {
                return fallback;
            }
        }
        self.format.clone()
    }

    fn base(&self, verb: Verb) -> Request {
        resource_request(&self.resource, self.namespace.as_deref(), verb)
    }

    fn named(&self, verb: Verb, name: &str) -> Request {
        self.base(verb).name(name)
    }

    fn what(&self) -> String {
        self.resource.gvk().to_string()
    }

    /// Runs `call` with the current format; when the server refuses it (`406`, `415`) and it
    /// has a fallback, notes the refusal (for every clone of this handle) and runs `call`
    /// again with the fallback.
    async fn negotiate<'a, T, F, Fut>(&'a self, call: F) -> Result<T>
    where
        F: Fn(Arc<dyn Format<K>>) -> Fut,
        Fut: Future<Output = Result<T>> + 'a,
    {
        let format = self.current_format();
        let outcome = call(format.clone()).await;
        let refused = matches!(&outcome, Err(e) if format::refused(e));
        match format.fallback() {
            Some(fallback) if refused => {
                tracing::debug!(what = %self.what(), format = format.name(), "the server refused the format: using {}", fallback.name());
                self.refused.store(true, Ordering::Relaxed);
                call(fallback).await
            }
            _ => outcome,
        }
    }

    /// `request` in `format`: its `Accept`, and `body` encoded when given, built, with the
    /// format's way of reading error bodies.
    fn prepared(
        format: &dyn Format<K>,
        request: &Request,
        body: Option<&K>,
    ) -> Result<http::Request<Vec<u8>>> {
        let mut request = request
            .clone()
            .header("Accept", format.accept(request.verb()));
        if let Some(decode) = format.status_decoder() {
            request = request.status_decoder(decode);
        }
        if let Some(object) = body {
            request = format.encode(request, object);
        }
        request.build()
    }

    /// Sends `request` (with `body`, for create and replace) and decodes one `K`.
    async fn object(&self, request: Request, body: Option<&K>) -> Result<K> {
        let body = body.map(|b| b.outgoing(&self.dyntype));
        let body = body.as_deref();
        let what = self.what();
        let request = &request;
        let object = self
            .negotiate(|format| {
                let what = &what;
                async move {
                    let built = Self::prepared(&*format, request, body)?;
                    let (headers, bytes) = self.client.request_bytes(built).await?;
                    format.decode(&headers, &bytes, what)
                }
            })
            .await?;
        Ok(object.received(&self.dyntype)?)
    }

    /// The items of a list, each completed for this handle.
    fn received_list(&self, mut list: ObjectList<K>) -> Result<ObjectList<K>> {
        list.items = list
            .items
            .into_iter()
            .map(|o| o.received(&self.dyntype))
            .collect::<std::result::Result<_, _>>()?;
        Ok(list)
    }
}

/// A [`ListDecoder`] as the client's body decoder.
struct ListBody<K>(Box<dyn ListDecoder<K>>);

impl<K: Send + 'static> BodyDecoder for ListBody<K> {
    type Output = ObjectList<K>;
    fn push(&mut self, chunk: &[u8]) -> Result<()> {
        self.0.push(chunk)
    }
    fn finish(self) -> Result<ObjectList<K>> {
        self.0.finish()
    }
}

impl<K: Resource> Api<K> {
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

    /// Lists one page of objects, decoding them as the body streams in.
    pub async fn list(&self, params: &ListParams) -> Result<ObjectList<K>> {
        let request = &params.apply_to(self.base(Verb::List));
        let what = format!("{} list", self.what());
        let threads = self.client.config().list_decode_threads;
        let list = self
            .negotiate(|format| {
                let what = what.clone();
                async move {
                    let built = Self::prepared(&*format, request, None)?;
                    self.client
                        .request_decoded(built, move |headers| {
                            ListBody(format.list_decoder(headers, &what, threads))
                        })
                        .await
                }
            })
            .await?;
        self.received_list(list)
    }

    /// Lists page by page, following `continue` tokens, from `params` (whose `limit` is the
    /// page size). The stream ends after the last page or the first error.
    pub fn list_pages(
        &self,
        params: &ListParams,
    ) -> impl Stream<Item = Result<ObjectList<K>>> + Send + 'static {
        let api = self.clone();
        list_pages(params, move |p| {
            let api = api.clone();
            async move { api.list(&p).await }
        })
    }

    /// Lists every object, following `continue` tokens (`params.limit` is the page size).
    /// The answer's metadata is the last page's.
    pub async fn list_all(&self, params: &ListParams) -> Result<ObjectList<K>> {
        collect_pages(self.list_pages(params)).await
    }

    /// Watches the collection from `resource_version` (`""`: from now, after the current
    /// objects as `ADDED` events for a streaming list; `"0"`: from any recent version). The
    /// stream ends when the server closes the watch (see
    /// [`WatchParams::timeout_seconds`]); decoding errors are `Err` items.
    pub async fn watch(
        &self,
        params: &WatchParams,
        resource_version: &str,
    ) -> Result<impl Stream<Item = Result<WatchEvent<K>>> + Send + 'static> {
        let request = &params.apply_to(self.base(Verb::Watch), resource_version);
        let what = self.what();
        let events = self
            .negotiate(|format| {
                let what = what.clone();
                async move {
                    let built = Self::prepared(&*format, request, None)?;
                    let response = self.client.send(built).await?;
                    let (parts, body) = response.into_parts();
                    let chunks = http_body_util::BodyDataStream::new(body)
                        .map_err(crate::client::layer::body_error)
                        .boxed();
                    Ok(format.watch(&parts.headers, chunks, what))
                }
            })
            .await?;
        let dyntype = self.dyntype.clone();
        Ok(events.map(move |event| {
            event.and_then(|event| Ok(event.try_map_object(|o| o.received(&dyntype))?))
        }))
    }

    /// Creates `object` (its `metadata.name`, or `generateName`, names it).
    pub async fn create(&self, params: &PostParams, object: &K) -> Result<K> {
        self.object(params.apply_to(self.base(Verb::Create)), Some(object))
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

    /// Patches the object `name` (JSON, merge, strategic merge or server-side apply; an
    /// apply payload needs `apiVersion`, `kind` and `metadata.name`).
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
        let request = &params.apply_to(self.named(Verb::Delete, name));
        let what = self.what();
        let kind = &self.resource.kind;
        let deleted = self
            .negotiate(|format| {
                let what = &what;
                async move {
                    let built = Self::prepared(&*format, request, None)?;
                    let (headers, bytes) = self.client.request_bytes(built).await?;
                    format.decode_deleted(&headers, &bytes, kind, what)
                }
            })
            .await?;
        Ok(match deleted {
            Deleted::Object(o) => Deleted::Object(o.received(&self.dyntype)?),
            Deleted::Status(s) => Deleted::Status(s),
        })
    }

    /// Deletes every object `list` selects. The answer is the list of deleted objects or a
    /// `Status`.
    pub async fn delete_collection(
        &self,
        params: &DeleteParams,
        list: &ListParams,
    ) -> Result<Deleted<ObjectList<K>>> {
        let request = &params.apply_to(list.apply_to(self.base(Verb::DeleteCollection)));
        let what = format!("{} list", self.what());
        let deleted = self
            .negotiate(|format| {
                let what = &what;
                async move {
                    let built = Self::prepared(&*format, request, None)?;
                    let (headers, bytes) = self.client.request_bytes(built).await?;
                    format.decode_deleted_list(&headers, &bytes, what)
                }
            })
            .await?;
        Ok(match deleted {
            Deleted::Object(list) => Deleted::Object(self.received_list(list)?),
            Deleted::Status(s) => Deleted::Status(s),
        })
    }

    /// Reads the `status` subresource of `name`.
    pub async fn get_status(&self, name: &str) -> Result<K> {
        let request = self.named(Verb::Get, name).subresource("status");
        self.object(request, None).await
    }

    /// Replaces the `status` subresource of `name` (only the status of `object` is used;
    /// its `metadata.resourceVersion`, when set, must be current).
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

    /// Reads the `scale` subresource of `name` (Deployments, ReplicaSets, StatefulSets,
    /// custom resources whose CRD enables it).
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

    /// Reads any subresource of `name`, decoded (from JSON) as `T`.
    pub async fn get_subresource<T: DeserializeOwned>(
        &self,
        subresource: &str,
        name: &str,
    ) -> Result<T> {
        let request = self.named(Verb::Get, name).subresource(subresource);
        self.client.request(request.build()?).await
    }

    /// Replaces any subresource of `name` with `body`, decoding the answer as `T`.
    pub async fn replace_subresource<B: Serialize, T: DeserializeOwned>(
        &self,
        subresource: &str,
        name: &str,
        params: &PostParams,
        body: &B,
    ) -> Result<T> {
        let request = params
            .apply_to(self.named(Verb::Replace, name).subresource(subresource))
            .json_body(body);
        self.client.request(request.build()?).await
    }

    /// Patches any subresource of `name`, decoding the answer as `T`.
    pub async fn patch_subresource<P: Serialize, T: DeserializeOwned>(
        &self,
        subresource: &str,
        name: &str,
        params: &PatchParams,
        patch: &Patch<P>,
    ) -> Result<T> {
        let request = params.apply_to(
            self.named(Verb::Patch, name).subresource(subresource),
            patch,
        );
        self.client.request(request.build()?).await
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
        let request = params
            .apply_to(self.named(Verb::Create, name).subresource(subresource))
            .json_body(body);
        self.client.request(request.build()?).await
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
