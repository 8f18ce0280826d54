//! [`DynamicApi`]: every verb of the typed [`Api`](crate::Api), for a resource named at run
//! time by an [`ApiResource`], on [`DynamicObject`]s.

use std::fmt;

use futures::{Stream, StreamExt};
use k8s_openapi::api::autoscaling::v1::Scale;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::api::collection::{collect_pages, list_pages, resource_request};
use crate::api::{
    decode_deleted, decode_stream, ApiResource, DeleteParams, Deleted, ListParams, ObjectList,
    Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use crate::client::Client;
use crate::error::Result;
use crate::rest::{Request, Verb};

use super::DynamicObject;

/// A handle on one resource, named at run time by an [`ApiResource`], in one namespace, in
/// all namespaces, or cluster-wide: client-go's `dynamic.Interface`. Every verb of the typed
/// [`Api`](crate::Api) is here, on [`DynamicObject`]s. Cheap to clone.
///
/// ```no_run
/// use k8s_client::api::{ApiResource, GroupVersionKind, ListParams, Patch, PatchParams};
/// use k8s_client::dynamic::{DynamicApi, DynamicObject};
/// use serde_json::json;
///
/// # async fn run(client: k8s_client::Client) -> Result<(), k8s_client::Error> {
/// let gvk = GroupVersionKind::new("apps", "v1", "Deployment");
/// let deployments = ApiResource::from_gvk(&gvk, "deployments", true);
/// let api = DynamicApi::namespaced(client, &deployments, "default");
/// for d in api.list(&ListParams::default()).await? {
///     println!("{} replicas: {:?}", d.metadata.name.unwrap_or_default(), d.data["spec"]["replicas"]);
/// }
/// api.patch("web", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 3}})))
///     .await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct DynamicApi {
    client: Client,
    resource: ApiResource,
    namespace: Option<String>,
}

impl fmt::Debug for DynamicApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamicApi")
            .field("resource", &self.resource.gvr().to_string())
            .field("namespace", &self.namespace)
            .finish()
    }
}

impl DynamicApi {
    /// A handle on `resource`'s objects in `namespace`. When `resource` is cluster-scoped,
    /// every request fails with [`Error::Request`](crate::Error::Request) saying so.
    pub fn namespaced(client: Client, resource: &ApiResource, namespace: &str) -> Self {
        DynamicApi {
            client,
            resource: resource.clone(),
            namespace: Some(namespace.to_string()),
        }
    }

    /// A handle on `resource`'s objects in the client's default namespace.
    pub fn default_namespaced(client: Client, resource: &ApiResource) -> Self {
        let namespace = client.default_namespace().to_string();
        DynamicApi::namespaced(client, resource, &namespace)
    }

    /// A handle on `resource`'s objects in all namespaces (reads only, for a namespaced
    /// resource) or on a cluster-scoped resource.
    pub fn all(client: Client, resource: &ApiResource) -> Self {
        DynamicApi {
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

    /// The client of this handle.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// A request for `verb` on this handle's collection, for requests this type has no
    /// method for.
    pub fn request(&self, verb: Verb) -> Request {
        resource_request(&self.resource, self.namespace.as_deref(), verb)
    }

    fn named(&self, verb: Verb, name: &str) -> Request {
        self.request(verb).name(name)
    }

    fn what(&self) -> String {
        self.resource.gvk().to_string()
    }

    /// Sets `apiVersion` and `kind` from the resource where the server left them out (the
    /// items of lists of built-in kinds), as client-go's `UnstructuredList` does.
    fn typed(&self, mut obj: DynamicObject) -> DynamicObject {
        if obj.api_version.is_empty() {
            obj.api_version = self.resource.api_version();
        }
        if obj.kind.is_empty() {
            obj.kind = self.resource.kind.clone();
        }
        obj
    }

    /// The object to send: `apiVersion` and `kind` default to the resource's.
    fn outgoing<'a>(&self, obj: &'a DynamicObject) -> std::borrow::Cow<'a, DynamicObject> {
        if obj.api_version.is_empty() || obj.kind.is_empty() {
            std::borrow::Cow::Owned(self.typed(obj.clone()))
        } else {
            std::borrow::Cow::Borrowed(obj)
        }
    }

    async fn send_object(&self, req: Request) -> Result<DynamicObject> {
        let obj: DynamicObject = self.client.request(req.build()?).await?;
        Ok(self.typed(obj))
    }

    /// Reads the object `name`.
    pub async fn get(&self, name: &str) -> Result<DynamicObject> {
        self.send_object(self.named(Verb::Get, name)).await
    }

    /// Reads the object `name`; `None` when it does not exist.
    pub async fn get_opt(&self, name: &str) -> Result<Option<DynamicObject>> {
        match self.get(name).await {
            Ok(o) => Ok(Some(o)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Lists one page of objects (each with `apiVersion` and `kind` set).
    pub async fn list(&self, params: &ListParams) -> Result<ObjectList<DynamicObject>> {
        let request = params.apply_to(self.request(Verb::List));
        let what = format!("{} list", self.what());
        let mut list: ObjectList<DynamicObject> =
            crate::api::collection::list_json(&self.client, request, what).await?;
        list.items = list.items.into_iter().map(|o| self.typed(o)).collect();
        Ok(list)
    }

    /// Lists page by page, following `continue` tokens, from `params` (whose `limit` is the
    /// page size). The stream ends after the last page or the first error.
    pub fn list_pages(
        &self,
        params: &ListParams,
    ) -> impl Stream<Item = Result<ObjectList<DynamicObject>>> + Send + 'static {
        let api = self.clone();
        list_pages(params, move |p| {
            let api = api.clone();
            async move { api.list(&p).await }
        })
    }

    /// Lists every object, following `continue` tokens (`params.limit` is the page size).
    /// The answer's metadata is the last page's.
    pub async fn list_all(&self, params: &ListParams) -> Result<ObjectList<DynamicObject>> {
        collect_pages(self.list_pages(params)).await
    }

    /// Watches the collection from `resource_version` (`""`: from now; see
    /// [`Api::watch`](crate::Api::watch)). The stream ends when the server closes the watch;
    /// decoding errors are `Err` items.
    pub async fn watch(
        &self,
        params: &WatchParams,
        resource_version: &str,
    ) -> Result<impl Stream<Item = Result<WatchEvent<DynamicObject>>> + Send + 'static> {
        let req = params
            .apply_to(self.request(Verb::Watch), resource_version)
            .build()?;
        let chunks = self.client.request_stream(req).await?;
        let api = self.clone();
        Ok(decode_stream::<DynamicObject, _>(chunks, self.what())
            .map(move |event| event.map(|event| event.map_object(|o| api.typed(o)))))
    }

    /// Creates `object` (its `metadata.name`, or `generateName`, names it; an empty
    /// `apiVersion` or `kind` is the resource's).
    pub async fn create(
        &self,
        params: &PostParams,
        object: &DynamicObject,
    ) -> Result<DynamicObject> {
        let req = params
            .apply_to(self.request(Verb::Create))
            .json_body(&*self.outgoing(object));
        self.send_object(req).await
    }

    /// Replaces the object `name` with `object` (whose `metadata.resourceVersion`, when set,
    /// must be current, else `409 Conflict`).
    pub async fn replace(
        &self,
        name: &str,
        params: &PostParams,
        object: &DynamicObject,
    ) -> Result<DynamicObject> {
        let req = params
            .apply_to(self.named(Verb::Replace, name))
            .json_body(&*self.outgoing(object));
        self.send_object(req).await
    }

    /// Patches the object `name` (JSON, merge, strategic merge or server-side apply; an
    /// apply payload needs `apiVersion`, `kind` and `metadata.name`).
    pub async fn patch<P: Serialize>(
        &self,
        name: &str,
        params: &PatchParams,
        patch: &Patch<P>,
    ) -> Result<DynamicObject> {
        self.send_object(params.apply_to(self.named(Verb::Patch, name), patch))
            .await
    }

    /// Deletes the object `name`. The answer is the object (while finalizers or a
    /// foreground deletion keep it, or as deleted) or a `Status`.
    pub async fn delete(
        &self,
        name: &str,
        params: &DeleteParams,
    ) -> Result<Deleted<DynamicObject>> {
        let req = params.apply_to(self.named(Verb::Delete, name)).build()?;
        let body = self.client.request_text(req).await?;
        Ok(
            match decode_deleted::<DynamicObject>(
                body.as_bytes(),
                &self.resource.kind,
                &self.what(),
            )? {
                Deleted::Object(o) => Deleted::Object(self.typed(o)),
                status => status,
            },
        )
    }

    /// Deletes every object `list` selects. The answer is the list of deleted objects or a
    /// `Status`.
    pub async fn delete_collection(
        &self,
        params: &DeleteParams,
        list: &ListParams,
    ) -> Result<Deleted<ObjectList<DynamicObject>>> {
        let req = params
            .apply_to(list.apply_to(self.request(Verb::DeleteCollection)))
            .build()?;
        let body = self.client.request_text(req).await?;
        let what = format!("{} list", self.what());
        Ok(
            match decode_deleted::<ObjectList<DynamicObject>>(body.as_bytes(), "", &what)? {
                Deleted::Object(mut l) => {
                    l.items = l.items.into_iter().map(|o| self.typed(o)).collect();
                    Deleted::Object(l)
                }
                status => status,
            },
        )
    }

    /// Reads the `status` subresource of `name`.
    pub async fn get_status(&self, name: &str) -> Result<DynamicObject> {
        let obj = self.get_subresource("status", name).await?;
        Ok(self.typed(obj))
    }

    /// Replaces the `status` subresource of `name` (only the status of `object` is used;
    /// its `metadata.resourceVersion`, when set, must be current).
    pub async fn replace_status(
        &self,
        name: &str,
        params: &PostParams,
        object: &DynamicObject,
    ) -> Result<DynamicObject> {
        let obj = self
            .replace_subresource("status", name, params, &*self.outgoing(object))
            .await?;
        Ok(self.typed(obj))
    }

    /// Patches the `status` subresource of `name`.
    pub async fn patch_status<P: Serialize>(
        &self,
        name: &str,
        params: &PatchParams,
        patch: &Patch<P>,
    ) -> Result<DynamicObject> {
        let obj = self
            .patch_subresource("status", name, params, patch)
            .await?;
        Ok(self.typed(obj))
    }

    /// Reads the `scale` subresource of `name` (built-in workloads, and custom resources
    /// whose CRD enables it).
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

    /// Reads any subresource of `name`, decoded as `T` (a [`DynamicObject`], a typed
    /// struct, or `serde_json::Value`).
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
