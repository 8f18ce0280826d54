//! How [`Api<K>`](crate::Api) speaks protobuf: it asks for
//! `application/vnd.kubernetes.protobuf` (JSON as the server's second choice), sends
//! protobuf bodies, and decodes whichever format came back. The handle falls back to JSON for
//! good when the server answers `406 Not Acceptable` or `415 Unsupported Media Type`.
//!
//! These functions do one request each; the choice (codec found, not refused, not
//! [`Api::json`](crate::Api::json)) is made by `Api<K>`.

use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use http_body_util::BodyDataStream;
use k8s_openapi::Resource;
use serde::de::DeserializeOwned;

use super::envelope::{self, Decoded, FrameReader, CONTENT_TYPE};
use super::list_stream::ProtobufListDecoder;
use super::registry::Codec;
use super::runtime::{DecodeError, ProtobufMessage};
use crate::api::collection::ListBody;
use crate::api::list_decoder::JsonListDecoder;
use crate::api::{decode_deleted, Deleted, ObjectList, WatchEvent};
use crate::client::Client;
use crate::error::{ApiError, Error, Result};
use crate::rest::Request;

/// The `Accept` header asking for protobuf with JSON as the server's second choice.
pub const ACCEPT: &str = "application/vnd.kubernetes.protobuf, application/json";

/// A protobuf decoding error as the crate's error, naming what was decoded.
pub(crate) fn decode_error(what: &str, e: DecodeError) -> Error {
    Error::Decode {
        what: what.to_string(),
        message: e.to_string(),
    }
}

/// Whether a response's `Content-Type` is protobuf.
pub(crate) fn is_protobuf(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(CONTENT_TYPE))
}

/// Whether the server refused protobuf (so JSON should be used instead).
pub(crate) fn refused(e: &Error) -> bool {
    matches!(e, Error::Api(api) if api.code == 406 || api.code == 415)
}

/// `request` with `body` (when given) encoded in protobuf, asking for protobuf back.
pub(crate) fn protobuf_request<K: Resource>(
    request: Request,
    body: Option<&K>,
    codec: Codec<K>,
    accept: &'static str,
) -> Request {
    let request = request.header("Accept", accept);
    match body {
        Some(object) => request
            .body(envelope::encode_object_with(object, codec.encode))
            .header("Content-Type", CONTENT_TYPE),
        None => request,
    }
}

/// Sends `request` and returns the body and whether it is protobuf.
async fn fetch(client: &Client, request: Request) -> Result<(Bytes, bool)> {
    let (headers, body) = client.request_bytes(request.build()?).await?;
    Ok((body, is_protobuf(&headers)))
}

fn json<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| Error::Decode {
        what: what.to_string(),
        message: e.to_string(),
    })
}

/// One object (get, create, replace, patch, status).
pub(crate) async fn object<K: Resource + DeserializeOwned>(
    client: &Client,
    request: Request,
    codec: Codec<K>,
    what: String,
) -> Result<K> {
    let (body, protobuf) = fetch(client, request).await?;
    if !protobuf {
        return json(&body, &what);
    }
    match envelope::decode_object_with(&body, K::KIND, codec.decode)
        .map_err(|e| decode_error(&what, e))?
    {
        Decoded::Object(k) => Ok(k),
        Decoded::Status(status) => Err(status_error(status)),
    }
}

/// One page of a list, decoded as the body streams in (protobuf, or JSON when the server
/// chose JSON).
pub(crate) async fn list<K: Resource + DeserializeOwned>(
    client: &Client,
    request: Request,
    codec: Codec<K>,
    what: &str,
) -> Result<ObjectList<K>> {
    let list_kind = format!("{}List", K::KIND);
    client
        .request_decoded(request.build()?, |headers| {
            if is_protobuf(headers) {
                let threads = client.config().list_decode_threads;
                let list = ProtobufListDecoder::with_codec(&list_kind, codec, threads);
                ListBody::Protobuf(list, what.to_string())
            } else {
                ListBody::Json(JsonListDecoder::new(what.to_string()))
            }
        })
        .await
}

/// A `Status` that came with a 2xx answer where something else was expected.
pub(crate) fn status_error(
    status: k8s_openapi::apimachinery::pkg::apis::meta::v1::Status,
) -> Error {
    let code = status
        .code
        .and_then(|c| u16::try_from(c).ok())
        .unwrap_or(500);
    Error::Api(Box::new(ApiError { code, status }))
}

/// A delete answer: the object or a `Status`.
pub(crate) async fn deleted<K: Resource + DeserializeOwned>(
    client: &Client,
    request: Request,
    codec: Codec<K>,
    what: &str,
) -> Result<Deleted<K>> {
    let (body, protobuf) = fetch(client, request).await?;
    if !protobuf {
        return decode_deleted(&body, K::KIND, what);
    }
    match envelope::decode_object_with(&body, K::KIND, codec.decode)
        .map_err(|e| decode_error(what, e))?
    {
        Decoded::Object(k) => Ok(Deleted::Object(k)),
        Decoded::Status(s) => Ok(Deleted::Status(s)),
    }
}

/// A delete-collection answer: the deleted objects or a `Status`.
pub(crate) async fn deleted_list<K: Resource + DeserializeOwned>(
    client: &Client,
    request: Request,
    codec: Codec<K>,
    what: &str,
) -> Result<Deleted<ObjectList<K>>> {
    let (body, protobuf) = fetch(client, request).await?;
    if !protobuf {
        return decode_deleted(&body, "", what);
    }
    let list_kind = format!("{}List", K::KIND);
    match envelope::decode_list_with(
        &body,
        &list_kind,
        codec.list_items(client.config().list_decode_threads),
    )
    .map_err(|e| decode_error(what, e))?
    {
        Decoded::Object(list) => Ok(Deleted::Object(list)),
        Decoded::Status(s) => Ok(Deleted::Status(s)),
    }
}

/// A watch: length-prefixed protobuf frames (or JSON lines, when the server chose JSON).
pub(crate) async fn watch<K>(
    client: &Client,
    request: Request,
    codec: Codec<K>,
    what: String,
) -> Result<futures::stream::BoxStream<'static, Result<WatchEvent<K>>>>
where
    K: Resource + DeserializeOwned + Send + 'static,
{
    let response = client.send(request.build()?).await?;
    let protobuf = is_protobuf(response.headers());
    let chunks = BodyDataStream::new(response.into_body()).map_err(Error::Transport);
    if !protobuf {
        return Ok(crate::api::decode_stream(chunks, what).boxed());
    }
    Ok(frames(chunks, what, K::KIND, codec.decode).boxed())
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
    frames(chunks, what, K::KIND, K::decode_fields)
}

fn frames<K, S>(
    chunks: S,
    what: String,
    kind: &'static str,
    decode: fn(&[u8]) -> std::result::Result<K, DecodeError>,
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
