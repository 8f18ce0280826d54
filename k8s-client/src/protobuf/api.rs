//! Protobuf for [`Api<K>`]: `api.protobuf()` reads and writes the built-in types in
//! `application/vnd.kubernetes.protobuf`, and falls back to JSON (for good, on that handle)
//! when the server answers `406 Not Acceptable` or `415 Unsupported Media Type`.
//!
//! ```no_run
//! use k8s_client::{Api, Client, protobuf::ProtobufExt};
//! use k8s_openapi::api::core::v1::Pod;
//!
//! # async fn run(client: Client) -> Result<(), k8s_client::Error> {
//! let pods: Api<Pod> = Api::namespaced(client, "default");
//! let pod = pods.protobuf().get("web").await?;
//! # Ok(())
//! # }
//! ```
//!
//! Only types with a generated codec (the k8s-openapi built-in types) can be used; custom
//! resources and dynamic objects stay JSON.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use http_body_util::{BodyDataStream, BodyExt};
use k8s_openapi::{ListableResource, Resource};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::envelope::{self, Decoded, FrameReader, CONTENT_TYPE};
use super::runtime::{DecodeError, ProtobufMessage};
use crate::api::{
    DeleteParams, Deleted, ListParams, ObjectList, Patch, PatchParams, PostParams, WatchEvent,
    WatchParams,
};
use crate::error::{ApiError, Error, Result};
use crate::rest::Verb;
use crate::Api;

/// The `Accept` header asking for protobuf with JSON as the server's second choice.
pub const ACCEPT: &str = "application/vnd.kubernetes.protobuf, application/json";

/// Adds [`protobuf`](ProtobufExt::protobuf) to [`Api<K>`].
pub trait ProtobufExt<K> {
    /// A handle on the same objects that speaks protobuf.
    fn protobuf(&self) -> ProtobufApi<K>;
}

impl<K: Resource> ProtobufExt<K> for Api<K> {
    fn protobuf(&self) -> ProtobufApi<K> {
        ProtobufApi {
            api: self.clone(),
            json_only: Arc::new(AtomicBool::new(false)),
            accept: ACCEPT,
        }
    }
}

/// [`Api<K>`] over protobuf; see the [module docs](self).
pub struct ProtobufApi<K> {
    api: Api<K>,
    json_only: Arc<AtomicBool>,
    accept: &'static str,
}

impl<K> Clone for ProtobufApi<K> {
    fn clone(&self) -> Self {
        ProtobufApi {
            api: self.api.clone(),
            json_only: self.json_only.clone(),
            accept: self.accept,
        }
    }
}

impl<K> std::fmt::Debug for ProtobufApi<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProtobufApi")
            .field("json_only", &self.json_only.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

fn decode_error(what: &str, e: DecodeError) -> Error {
    Error::Decode {
        what: what.to_string(),
        message: e.to_string(),
    }
}

fn is_protobuf(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(CONTENT_TYPE))
}

/// Whether the server refused protobuf (so JSON should be used instead).
fn refused(e: &Error) -> bool {
    matches!(e, Error::Api(api) if api.code == 406 || api.code == 415)
}

impl<K> ProtobufApi<K>
where
    K: Resource + ListableResource + ProtobufMessage + Clone + DeserializeOwned + Serialize,
{
    /// Asks for protobuf only (`Accept: application/vnd.kubernetes.protobuf`): a server that
    /// cannot answer in protobuf (custom resources, some aggregated APIs) then says `406`, and
    /// the handle switches to JSON, where by default the server would quietly answer JSON.
    pub fn protobuf_only(mut self) -> Self {
        self.accept = CONTENT_TYPE;
        self
    }

    /// The JSON handle this one falls back to.
    pub fn json(&self) -> &Api<K> {
        &self.api
    }

    /// Whether the server refused protobuf and this handle now uses JSON.
    pub fn is_json_fallback(&self) -> bool {
        self.json_only.load(Ordering::Relaxed)
    }

    fn what(&self) -> String {
        format!("{}/{}", K::API_VERSION, K::KIND)
    }

    /// Sends `request` asking for protobuf; the body and whether it is protobuf.
    async fn fetch(&self, request: crate::rest::Request) -> Result<(Bytes, bool, u16)> {
        let request = request.header("Accept", self.accept).build()?;
        let response = self.api.client().send(request).await?;
        let protobuf = is_protobuf(response.headers());
        let code = response.status().as_u16();
        // As for JSON answers, the timeout also bounds reading the body.
        let collect = response.into_body().collect();
        let collected = match self.api.client().config().timeout {
            Some(limit) => tokio::time::timeout(limit, collect)
                .await
                .map_err(|_| Error::Timeout(limit))?,
            None => collect.await,
        };
        let body = collected.map_err(Error::Transport)?.to_bytes();
        Ok((body, protobuf, code))
    }

    fn object(&self, body: &[u8], protobuf: bool, code: u16) -> Result<K> {
        if !protobuf {
            return serde_json::from_slice(body).map_err(|e| Error::Decode {
                what: self.what(),
                message: e.to_string(),
            });
        }
        match envelope::decode_object::<K>(body, K::KIND)
            .map_err(|e| decode_error(&self.what(), e))?
        {
            Decoded::Object(k) => Ok(k),
            Decoded::Status(status) => Err(Error::Api(Box::new(ApiError { code, status }))),
        }
    }

    /// Reads the object `name`.
    pub async fn get(&self, name: &str) -> Result<K> {
        if self.is_json_fallback() {
            return self.api.get(name).await;
        }
        match self.fetch(self.api.request(Verb::Get).name(name)).await {
            Ok((body, protobuf, code)) => self.object(&body, protobuf, code),
            Err(e) if refused(&e) => {
                self.json_only.store(true, Ordering::Relaxed);
                self.api.get(name).await
            }
            Err(e) => Err(e),
        }
    }

    /// Lists one page of objects.
    pub async fn list(&self, params: &ListParams) -> Result<ObjectList<K>> {
        if self.is_json_fallback() {
            return self.api.list(params).await;
        }
        match self
            .fetch(params.apply_to(self.api.request(Verb::List)))
            .await
        {
            Ok((body, true, code)) => {
                match envelope::decode_list::<K>(&body, K::LIST_KIND)
                    .map_err(|e| decode_error(&format!("{} list", self.what()), e))?
                {
                    Decoded::Object(list) => Ok(list),
                    Decoded::Status(status) => Err(Error::Api(Box::new(ApiError { code, status }))),
                }
            }
            Ok((body, false, _)) => serde_json::from_slice(&body).map_err(|e| Error::Decode {
                what: format!("{} list", self.what()),
                message: e.to_string(),
            }),
            Err(e) if refused(&e) => {
                self.json_only.store(true, Ordering::Relaxed);
                self.api.list(params).await
            }
            Err(e) => Err(e),
        }
    }

    /// Creates `object`, sending it as protobuf.
    pub async fn create(&self, params: &PostParams, object: &K) -> Result<K> {
        if self.is_json_fallback() {
            return self.api.create(params, object).await;
        }
        let request = params
            .apply_to(self.api.request(Verb::Create))
            .body(envelope::encode_object(object))
            .header("Content-Type", CONTENT_TYPE);
        match self.fetch(request).await {
            Ok((body, protobuf, code)) => self.object(&body, protobuf, code),
            Err(e) if refused(&e) => {
                self.json_only.store(true, Ordering::Relaxed);
                self.api.create(params, object).await
            }
            Err(e) => Err(e),
        }
    }

    /// Replaces the object `name` with `object`, sending it as protobuf.
    pub async fn replace(&self, name: &str, params: &PostParams, object: &K) -> Result<K> {
        if self.is_json_fallback() {
            return self.api.replace(name, params, object).await;
        }
        let request = params
            .apply_to(self.api.request(Verb::Replace).name(name))
            .body(envelope::encode_object(object))
            .header("Content-Type", CONTENT_TYPE);
        match self.fetch(request).await {
            Ok((body, protobuf, code)) => self.object(&body, protobuf, code),
            Err(e) if refused(&e) => {
                self.json_only.store(true, Ordering::Relaxed);
                self.api.replace(name, params, object).await
            }
            Err(e) => Err(e),
        }
    }

    /// Patches the object `name` (the patch itself is JSON or YAML, as Kubernetes requires;
    /// the answer comes back in protobuf).
    pub async fn patch<P: Serialize>(
        &self,
        name: &str,
        params: &PatchParams,
        patch: &Patch<P>,
    ) -> Result<K> {
        if self.is_json_fallback() {
            return self.api.patch(name, params, patch).await;
        }
        let request = params.apply_to(self.api.request(Verb::Patch).name(name), patch);
        match self.fetch(request).await {
            Ok((body, protobuf, code)) => self.object(&body, protobuf, code),
            Err(e) if refused(&e) => {
                self.json_only.store(true, Ordering::Relaxed);
                self.api.patch(name, params, patch).await
            }
            Err(e) => Err(e),
        }
    }

    /// Deletes the object `name`; the answer is its last state or a `Status`.
    pub async fn delete(&self, name: &str, params: &DeleteParams) -> Result<Deleted<K>> {
        if self.is_json_fallback() {
            return self.api.delete(name, params).await;
        }
        let request = params.apply_to(self.api.request(Verb::Delete).name(name));
        match self.fetch(request).await {
            Ok((body, true, _)) => {
                match envelope::decode_object::<K>(&body, K::KIND)
                    .map_err(|e| decode_error(&self.what(), e))?
                {
                    Decoded::Object(k) => Ok(Deleted::Object(k)),
                    Decoded::Status(s) => Ok(Deleted::Status(s)),
                }
            }
            Ok((body, false, _)) => {
                let value: serde_json::Value =
                    serde_json::from_slice(&body).map_err(|e| Error::Decode {
                        what: self.what(),
                        message: e.to_string(),
                    })?;
                let decoded = if value.get("kind").and_then(|k| k.as_str()) == Some("Status") {
                    serde_json::from_value(value).map(Deleted::Status)
                } else {
                    serde_json::from_value(value).map(Deleted::Object)
                };
                decoded.map_err(|e| Error::Decode {
                    what: self.what(),
                    message: e.to_string(),
                })
            }
            Err(e) if refused(&e) => {
                self.json_only.store(true, Ordering::Relaxed);
                self.api.delete(name, params).await
            }
            Err(e) => Err(e),
        }
    }

    /// Watches the collection in protobuf (see [`Api::watch`]).
    pub async fn watch(
        &self,
        params: &WatchParams,
        resource_version: &str,
    ) -> Result<impl Stream<Item = Result<WatchEvent<K>>> + Send + 'static>
    where
        K: Send + 'static,
    {
        let request = params
            .apply_to(self.api.request(Verb::Watch), resource_version)
            .header("Accept", self.accept)
            .build()?;
        let response = match self.api.client().send(request).await {
            Ok(r) => r,
            Err(e) if refused(&e) => {
                self.json_only.store(true, Ordering::Relaxed);
                let events = self.api.watch(params, resource_version).await?;
                return Ok(events.boxed());
            }
            Err(e) => return Err(e),
        };
        let protobuf = is_protobuf(response.headers());
        let chunks = BodyDataStream::new(response.into_body()).map_err(Error::Transport);
        if !protobuf {
            return Ok(crate::api::decode_stream(chunks, self.what()).boxed());
        }
        Ok(decode_frames::<K, _>(chunks, self.what()).boxed())
    }
}

/// Turns a protobuf watch body (length-prefixed frames in arbitrary chunks) into events.
pub fn decode_frames<K, S>(
    chunks: S,
    what: String,
) -> impl Stream<Item = Result<WatchEvent<K>>> + Send
where
    K: ProtobufMessage + Resource + Send,
    S: Stream<Item = Result<Bytes>> + Send,
{
    let state = (Box::pin(chunks), FrameReader::default(), false, what);
    futures::stream::unfold(
        state,
        |(mut chunks, mut frames, mut ended, what)| async move {
            loop {
                match frames.next_frame() {
                    Ok(Some(frame)) => {
                        let event = envelope::decode_watch_frame::<K>(&frame, K::KIND)
                            .map_err(|e| decode_error(&format!("watch event for {what}"), e));
                        return Some((event, (chunks, frames, ended, what)));
                    }
                    Ok(None) => {}
                    Err(e) => {
                        let err = decode_error(&format!("watch of {what}"), e);
                        // A bad frame length leaves the stream unframed: end it.
                        return Some((Err(err), (chunks, FrameReader::default(), true, what)));
                    }
                }
                if ended {
                    if frames.pending() > 0 {
                        let n = frames.pending();
                        let err = Error::Decode {
                            what: format!("watch of {what}"),
                            message: format!("the stream ended inside a frame ({n} bytes left)"),
                        };
                        return Some((Err(err), (chunks, FrameReader::default(), true, what)));
                    }
                    return None;
                }
                match chunks.next().await {
                    Some(Ok(bytes)) => frames.push(&bytes),
                    Some(Err(e)) => return Some((Err(e), (chunks, frames, true, what))),
                    None => ended = true,
                }
            }
        },
    )
}
