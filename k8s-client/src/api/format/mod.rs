//! Wire formats: how a handle's objects are encoded in requests and decoded from answers.
//!
//! A [`Format`] is chosen per handle when it is made (by the kind's
//! [`Resource::format`](super::Resource::format)): [`Json`] for custom resources and dynamic
//! objects, [`Json`] with the `PartialObjectMetadata` media types for metadata-only handles,
//! and, with the `protobuf` feature, protobuf for the built-in kinds (which falls back to
//! JSON when the server refuses it). Every verb of [`Api`](super::Api) is written once over
//! this trait; only the protobuf format is behind the feature.
//!
//! Answers are decoded by their `Content-Type`, so a handle that asked for protobuf decodes a
//! JSON answer too (a server may answer with its second choice).

#[cfg(feature = "protobuf")]
pub(crate) mod protobuf;

use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;
use http::HeaderMap;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::list_decoder::JsonListDecoder;
use super::watch::decode_stream;
use super::{Deleted, ObjectList, WatchEvent};
use crate::error::{DecodeError, Error, Result};
use crate::rest::{Request, StatusDecodeFn, Verb};

/// The JSON media type.
pub const JSON: &str = "application/json";

/// Decodes a list answer chunk by chunk, as the body streams in.
pub trait ListDecoder<K>: Send {
    /// Takes the next chunk of the body.
    fn push(&mut self, chunk: &[u8]) -> Result<()>;
    /// The body ended: the list (or the error the server sent in its place).
    fn finish(self: Box<Self>) -> Result<ObjectList<K>>;
}

/// How a handle's objects of type `K` travel: the `Accept` header it asks with, how a body is
/// encoded, and how each kind of answer is decoded.
///
/// Implemented by [`Json`] (any serde type) and, with the `protobuf` feature, by the protobuf
/// format of the built-in kinds. `what` names what is decoded in errors (`v1/Pod list`).
pub trait Format<K>: Send + Sync + 'static {
    /// The format's name, for logs and `Debug` (`json`, `protobuf`).
    fn name(&self) -> &'static str;

    /// The `Accept` header of a request with `verb`.
    fn accept(&self, verb: Verb) -> &'static str;

    /// `request` with `object` as its body, and its `Content-Type`.
    fn encode(&self, request: Request, object: &K) -> Request;

    /// One object (the answer of get, create, replace, patch).
    fn decode(&self, headers: &HeaderMap, body: &[u8], what: &str) -> Result<K>;

    /// The answer of a delete: the object (`kind` is its kind) or a `Status`.
    fn decode_deleted(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        kind: &str,
        what: &str,
    ) -> Result<Deleted<K>>;

    /// The answer of a collection delete: the deleted objects or a `Status`.
    fn decode_deleted_list(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        what: &str,
    ) -> Result<Deleted<ObjectList<K>>>;

    /// A decoder for a list answer with `headers` (items decoded as the body streams in, on at
    /// most `threads` threads where the format can use more than one).
    fn list_decoder(
        &self,
        headers: &HeaderMap,
        what: &str,
        threads: usize,
    ) -> Box<dyn ListDecoder<K>>;

    /// The events of a watch answer with `headers`, from its body's chunks.
    fn watch(
        &self,
        headers: &HeaderMap,
        chunks: BoxStream<'static, Result<Bytes>>,
        what: String,
    ) -> BoxStream<'static, Result<WatchEvent<K>>>;

    /// Decodes an error answer's body that is not JSON (a protobuf `Status`).
    fn status_decoder(&self) -> Option<StatusDecodeFn> {
        None
    }

    /// The format to use once the server refused this one (`406`, `415`); `None`: there is
    /// nothing to fall back to.
    fn fallback(&self) -> Option<Arc<dyn Format<K>>> {
        None
    }

    /// Whether this format is protobuf.
    fn is_protobuf(&self) -> bool {
        false
    }

    /// Whether decoded objects come without spare capacity in their lists (so a cache can
    /// keep them as they are).
    fn decodes_exactly(&self) -> bool {
        false
    }

    /// This format, asking for itself only (no second choice), so a server that cannot
    /// answer in it says `406`; `None` when that makes no difference (JSON).
    fn protobuf_only(&self) -> Option<Arc<dyn Format<K>>> {
        None
    }

    /// This format, decoding without `metadata.managedFields` where it can skip them while
    /// decoding (protobuf); `None` when it cannot.
    fn without_managed_fields(&self) -> Option<Arc<dyn Format<K>>> {
        None
    }
}

/// JSON, with configurable media types (for metadata-only answers).
#[derive(Debug, Clone, Copy)]
pub struct Json {
    accept_object: &'static str,
    accept_list: &'static str,
}

impl Default for Json {
    fn default() -> Self {
        Json::new()
    }
}

impl Json {
    /// Plain JSON (`application/json`).
    pub const fn new() -> Self {
        Json {
            accept_object: JSON,
            accept_list: JSON,
        }
    }

    /// JSON asked for with other media types: `object` for single objects and watches,
    /// `list` for lists and collection deletes.
    pub const fn with_accept(object: &'static str, list: &'static str) -> Self {
        Json {
            accept_object: object,
            accept_list: list,
        }
    }
}

/// The JSON format as a shared trait object.
pub fn json<K: Serialize + DeserializeOwned + Send + 'static>() -> Arc<dyn Format<K>> {
    Arc::new(Json::new())
}

/// The default format of a built-in kind `K`: protobuf when the `protobuf` feature is on and
/// `K` has a generated codec, else JSON.
pub(crate) fn default_for<K>() -> Arc<dyn Format<K>>
where
    K: k8s_openapi::Resource + Serialize + DeserializeOwned + Send + 'static,
{
    #[cfg(feature = "protobuf")]
    if let Some(format) = protobuf::ProtobufFormat::<K>::generated() {
        return Arc::new(format);
    }
    json()
}

impl<K: Serialize + DeserializeOwned + Send + 'static> Format<K> for Json {
    fn name(&self) -> &'static str {
        "json"
    }

    fn accept(&self, verb: Verb) -> &'static str {
        match verb {
            Verb::List | Verb::DeleteCollection => self.accept_list,
            _ => self.accept_object,
        }
    }

    fn encode(&self, request: Request, object: &K) -> Request {
        request.json_body(object)
    }

    fn decode(&self, _headers: &HeaderMap, body: &[u8], what: &str) -> Result<K> {
        decode_json(body, what)
    }

    fn decode_deleted(
        &self,
        _headers: &HeaderMap,
        body: &[u8],
        kind: &str,
        what: &str,
    ) -> Result<Deleted<K>> {
        decode_deleted(body, kind, what)
    }

    fn decode_deleted_list(
        &self,
        _headers: &HeaderMap,
        body: &[u8],
        what: &str,
    ) -> Result<Deleted<ObjectList<K>>> {
        decode_deleted(body, "", what)
    }

    fn list_decoder(
        &self,
        _headers: &HeaderMap,
        what: &str,
        _threads: usize,
    ) -> Box<dyn ListDecoder<K>> {
        Box::new(JsonListDecoder::new(what.to_string()))
    }

    fn watch(
        &self,
        _headers: &HeaderMap,
        chunks: BoxStream<'static, Result<Bytes>>,
        what: String,
    ) -> BoxStream<'static, Result<WatchEvent<K>>> {
        decode_stream(chunks, what).boxed()
    }
}

impl<K: DeserializeOwned + Send> ListDecoder<K> for JsonListDecoder<K> {
    fn push(&mut self, chunk: &[u8]) -> Result<()> {
        JsonListDecoder::push(self, chunk)
    }
    fn finish(self: Box<Self>) -> Result<ObjectList<K>> {
        JsonListDecoder::finish(*self)
    }
}

/// Decodes a JSON body as `T`, naming `what` in the error.
pub(crate) fn decode_json<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| DecodeError::new(what, e).into())
}

/// Decodes a JSON delete answer: a `Status` (unless `kind` is itself `Status`) or the object.
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
    let what = format!("delete answer for {what}");
    let head: Kind = decode_json(body, &what)?;
    if head.kind.as_deref() == Some("Status") && kind != "Status" {
        return decode_json(body, &what).map(Deleted::Status);
    }
    decode_json(body, &what).map(Deleted::Object)
}

/// Whether the server refused the format (so another should be tried).
pub(crate) fn refused(e: &Error) -> bool {
    matches!(e, Error::Api(api) if api.code == 406 || api.code == 415)
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::ConfigMap;

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
            Err(Error::Decode(e)) => {
                assert_eq!(e.what(), "delete answer for v1/ConfigMap");
                assert!(std::error::Error::source(&e).is_some());
            }
            other => panic!("{other:?}"),
        }
    }
}
