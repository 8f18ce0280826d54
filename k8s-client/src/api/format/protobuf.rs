//! The protobuf format of the built-in kinds (feature `protobuf`): asks for
//! `application/vnd.kubernetes.protobuf` with JSON as the server's second choice (or
//! protobuf only), sends bodies in protobuf, decodes protobuf or JSON answers by their
//! `Content-Type`, and falls back to JSON (see [`Format::fallback`]) when the server refuses
//! it with `406` or `415`. Patches stay JSON, as Kubernetes requires; their answers are
//! protobuf.

use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use http::HeaderMap;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{Format, Json, ListDecoder};
use crate::api::protobuf::envelope::{self, Decoded, FrameReader, CONTENT_TYPE};
use crate::api::protobuf::list_stream::ProtobufListDecoder;
use crate::api::protobuf::registry::{self, Codec};
use crate::api::protobuf::{DecodeError as WireError, ProtobufMessage};
use crate::api::{Deleted, ObjectList, WatchEvent};
use crate::error::{ApiError, DecodeError, Error, Result, Status};
use crate::rest::{Request, StatusDecodeFn, Verb};

/// The `Accept` header asking for protobuf with JSON as the server's second choice.
pub const ACCEPT: &str = "application/vnd.kubernetes.protobuf, application/json";

/// A protobuf decoding error as the crate's error, naming what was decoded.
pub(crate) fn decode_error(what: &str, e: WireError) -> Error {
    DecodeError::new(what, e).into()
}

/// A `Status` that came with a 2xx answer where something else was expected.
pub(crate) fn status_error(status: Status) -> Error {
    ApiError::from_status(status).into()
}

/// Whether a response's `Content-Type` is protobuf.
pub(crate) fn is_protobuf(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(CONTENT_TYPE))
}

/// The protobuf format of `K`, with `K`'s codec.
pub(crate) struct ProtobufFormat<K> {
    codec: Codec<K>,
    /// Ask for protobuf only, so a server that cannot answer in it says `406`.
    only: bool,
    api_version: &'static str,
    kind: &'static str,
}

impl<K> Clone for ProtobufFormat<K> {
    fn clone(&self) -> Self {
        ProtobufFormat { ..*self }
    }
}

impl<K> ProtobufFormat<K> {
    /// Asking for protobuf only.
    pub(crate) fn only(self) -> Self {
        ProtobufFormat { only: true, ..self }
    }
}

impl<K: k8s_openapi::Resource + 'static> ProtobufFormat<K> {
    /// The format of a built-in kind with a generated codec.
    pub(crate) fn generated() -> Option<Self> {
        registry::codec::<K>().map(Self::with_codec)
    }

    /// The format of a kind of the program's own that implements [`ProtobufMessage`].
    pub(crate) fn of() -> Self
    where
        K: ProtobufMessage,
    {
        Self::with_codec(Codec::of())
    }

    fn with_codec(codec: Codec<K>) -> Self {
        ProtobufFormat {
            codec,
            only: false,
            api_version: K::API_VERSION,
            kind: K::KIND,
        }
    }
}

impl<K: Serialize + DeserializeOwned + Send + 'static> Format<K> for ProtobufFormat<K> {
    fn name(&self) -> &'static str {
        "protobuf"
    }

    fn accept(&self, _verb: Verb) -> &'static str {
        if self.only {
            CONTENT_TYPE
        } else {
            ACCEPT
        }
    }

    fn encode(&self, request: Request, object: &K) -> Request {
        let body =
            envelope::encode_object_as(object, self.codec.encode, self.api_version, self.kind);
        request.body(body).header("Content-Type", CONTENT_TYPE)
    }

    fn decode(&self, headers: &HeaderMap, body: &[u8], what: &str) -> Result<K> {
        if !is_protobuf(headers) {
            return Format::<K>::decode(&Json::new(), headers, body, what);
        }
        match envelope::decode_object_with(body, self.kind, self.codec.decode)
            .map_err(|e| decode_error(what, e))?
        {
            Decoded::Object(k) => Ok(k),
            Decoded::Status(status) => Err(status_error(status)),
        }
    }

    fn decode_deleted(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        kind: &str,
        what: &str,
    ) -> Result<Deleted<K>> {
        if !is_protobuf(headers) {
            return Json::new().decode_deleted(headers, body, kind, what);
        }
        match envelope::decode_object_with(body, self.kind, self.codec.decode)
            .map_err(|e| decode_error(what, e))?
        {
            Decoded::Object(k) => Ok(Deleted::Object(k)),
            Decoded::Status(s) => Ok(Deleted::Status(s)),
        }
    }

    fn decode_deleted_list(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        what: &str,
    ) -> Result<Deleted<ObjectList<K>>> {
        if !is_protobuf(headers) {
            return Json::new().decode_deleted_list(headers, body, what);
        }
        let list_kind = format!("{}List", self.kind);
        match envelope::decode_list_with(body, &list_kind, self.codec.list_items(1))
            .map_err(|e| decode_error(what, e))?
        {
            Decoded::Object(list) => Ok(Deleted::Object(list)),
            Decoded::Status(s) => Ok(Deleted::Status(s)),
        }
    }

    fn list_decoder(
        &self,
        headers: &HeaderMap,
        what: &str,
        threads: usize,
    ) -> Box<dyn ListDecoder<K>> {
        if !is_protobuf(headers) {
            return Json::new().list_decoder(headers, what, threads);
        }
        let list_kind = format!("{}List", self.kind);
        Box::new(ProtobufList {
            decoder: ProtobufListDecoder::with_codec(&list_kind, self.codec, threads),
            what: what.to_string(),
        })
    }

    fn watch(
        &self,
        headers: &HeaderMap,
        chunks: BoxStream<'static, Result<Bytes>>,
        what: String,
    ) -> BoxStream<'static, Result<WatchEvent<K>>> {
        if !is_protobuf(headers) {
            return Json::new().watch(headers, chunks, what);
        }
        frames(chunks, what, self.kind, self.codec.decode).boxed()
    }

    fn status_decoder(&self) -> Option<StatusDecodeFn> {
        Some(envelope::decode_status)
    }

    fn fallback(&self) -> Option<Arc<dyn Format<K>>> {
        Some(Arc::new(Json::new()))
    }

    fn is_protobuf(&self) -> bool {
        true
    }

    fn decodes_exactly(&self) -> bool {
        true
    }

    fn protobuf_only(&self) -> Option<Arc<dyn Format<K>>> {
        Some(Arc::new(self.clone().only()))
    }

    fn without_managed_fields(&self) -> Option<Arc<dyn Format<K>>> {
        Some(Arc::new(ProtobufFormat {
            codec: self.codec.without_managed_fields(),
            ..self.clone()
        }))
    }
}

/// A protobuf list answer decoded as it streams in.
struct ProtobufList<K> {
    decoder: ProtobufListDecoder<K>,
    what: String,
}

impl<K: Send> ListDecoder<K> for ProtobufList<K> {
    fn push(&mut self, chunk: &[u8]) -> Result<()> {
        self.decoder
            .push(chunk)
            .map_err(|e| decode_error(&self.what, e))
    }

    fn finish(self: Box<Self>) -> Result<ObjectList<K>> {
        let ProtobufList { decoder, what } = *self;
        match decoder.finish().map_err(|e| decode_error(&what, e))? {
            Decoded::Object(list) => Ok(list),
            Decoded::Status(status) => Err(status_error(status)),
        }
    }
}

/// Turns a protobuf watch body (length-prefixed frames in arbitrary chunks) into events.
pub fn decode_frames<K, S>(
    chunks: S,
    what: String,
) -> impl Stream<Item = Result<WatchEvent<K>>> + Send
where
    K: ProtobufMessage + k8s_openapi::Resource + Send,
    S: Stream<Item = Result<Bytes>> + Send,
{
    frames(chunks, what, K::KIND, K::decode_fields)
}

fn frames<K, S>(
    chunks: S,
    what: String,
    kind: &'static str,
    decode: fn(&[u8]) -> std::result::Result<K, WireError>,
) -> impl Stream<Item = Result<WatchEvent<K>>> + Send
where
    K: Send,
    S: Stream<Item = Result<Bytes>> + Send,
{
    let state = (Box::pin(chunks), FrameReader::default(), false, what);
    futures::stream::unfold(
        state,
        move |(mut chunks, mut frames, mut ended, what)| async move {
            loop {
                match frames.next_frame() {
                    Ok(Some(frame)) => {
                        let event = envelope::decode_watch_frame_with(&frame, kind, decode)
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
                        let err = DecodeError::msg(
                            format!("watch of {what}"),
                            format!("the stream ended inside a frame ({n} bytes left)"),
                        );
                        return Some((
                            Err(err.into()),
                            (chunks, FrameReader::default(), true, what),
                        ));
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
