//! The Kubernetes protobuf envelope (`application/vnd.kubernetes.protobuf`): the `k8s\0`
//! magic, `runtime.Unknown { typeMeta, raw, contentEncoding, contentType }`, lists, `Status`
//! errors, and watch event frames.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, ObjectMeta, Status};

use super::parallel::ParallelItems;
use super::runtime::*;
use super::wire::{put_bytes_field, put_key, put_len};
use crate::api::{Bookmark, ObjectList, WatchEvent};

/// The four bytes that start every protobuf-encoded Kubernetes object.
pub const MAGIC: &[u8] = b"k8s\x00";

/// The media type of the Kubernetes protobuf encoding.
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// A decoded `runtime.Unknown`: an object's type and its encoded bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unknown {
    /// `typeMeta.apiVersion`, such as `apps/v1`.
    pub api_version: String,
    /// `typeMeta.kind`, such as `Deployment` or `Status`.
    pub kind: String,
    /// The object's own protobuf encoding.
    pub raw: Vec<u8>,
    /// `contentEncoding` (empty: none).
    pub content_encoding: String,
    /// `contentType` (empty: protobuf).
    pub content_type: String,
}

impl Unknown {
    /// Decodes `magic + Unknown` (errors name what is missing or malformed).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        Self::split(bytes).map(Self::owning)
    }

    /// Decodes an `Unknown` message without the magic.
    pub fn decode_fields(bytes: &[u8]) -> Result<Self, DecodeError> {
        Self::split_fields(bytes).map(Self::owning)
    }

    /// The `Unknown` with its `raw` bytes copied in.
    fn owning((mut out, raw): (Self, &[u8])) -> Self {
        out.raw = raw.to_vec();
        out
    }

    /// [`Unknown::decode`] that leaves `raw` empty and returns the bytes of `raw` where they
    /// lie: a large list is decoded from the body itself, not from a copy of it.
    pub(crate) fn split(bytes: &[u8]) -> Result<(Self, &[u8]), DecodeError> {
        let Some(body) = bytes.strip_prefix(MAGIC) else {
            return Err(DecodeError::new(
                "Unknown",
                "the body does not start with the protobuf magic k8s\\0",
            ));
        };
        Self::split_fields(body)
    }

    /// [`Unknown::decode_fields`] that leaves `raw` empty and returns its bytes.
    fn split_fields(bytes: &[u8]) -> Result<(Self, &[u8]), DecodeError> {
        let mut out = Unknown::default();
        let mut r = Reader::new(bytes, "Unknown");
        let (mut raw, mut encoding, mut ctype): (&[u8], _, _) = (&[], None, None);
        while let Some((tag, wire)) = r.next_key()? {
            match tag {
                1 => {
                    let meta = r.bytes(wire, "typeMeta")?;
                    let mut m = Reader::new(meta, "TypeMeta");
                    let (mut v, mut k) = (None, None);
                    while let Some((tag, wire)) = m.next_key()? {
                        match tag {
                            1 => m.one(wire, &mut v, "apiVersion")?,
                            2 => m.one(wire, &mut k, "kind")?,
                            _ => m.skip(wire)?,
                        }
                    }
                    out.api_version = v.unwrap_or_default();
                    out.kind = k.unwrap_or_default();
                }
                // A later `raw` replaces an earlier one, as protobuf's last-one-wins rule says.
                2 => match r.raw(wire)? {
                    Raw::Len(bytes) => raw = bytes,
                    other => {
                        let text = format!("expected length-delimited, got {:?}", other.wire());
                        return Err(DecodeError::new("", text).within("Unknown", "raw"));
                    }
                },
                3 => r.one(wire, &mut encoding, "contentEncoding")?,
                4 => r.one(wire, &mut ctype, "contentType")?,
                _ => r.skip(wire)?,
            }
        }
        out.content_encoding = encoding.unwrap_or_default();
        out.content_type = ctype.unwrap_or_default();
        if !out.content_encoding.is_empty() {
            return Err(DecodeError::new(
                "Unknown",
                format!("unsupported contentEncoding {:?}", out.content_encoding),
            ));
        }
        Ok((out, raw))
    }

    /// Encodes `magic + Unknown`.
    pub fn encode(&self) -> Vec<u8> {
        let mut meta = Vec::new();
        put(&mut meta, 1, &self.api_version);
        put(&mut meta, 2, &self.kind);
        let mut out = MAGIC.to_vec();
        put_bytes_field(&mut out, 1, &meta);
        put_bytes_field(&mut out, 2, &self.raw);
        put(&mut out, 3, &self.content_encoding);
        put(&mut out, 4, &self.content_type);
        out
    }
}

/// What a protobuf body held: the expected object, or a `Status`.
// The lint sees `T` as zero-sized; real objects are as large as `Status` or larger.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Decoded<T> {
    /// The object asked for.
    Object(T),
    /// A `Status` (an error answer, or the result of a delete).
    Status(Status),
}

/// Decodes `magic + Unknown` holding a `K` (of kind `kind`), or a `Status`.
pub fn decode_object<K: ProtobufMessage>(
    bytes: &[u8],
    kind: &str,
) -> Result<Decoded<K>, DecodeError> {
    decode_object_with(bytes, kind, K::decode_fields)
}

/// [`decode_object`] with the message decoder given.
pub(crate) fn decode_object_with<K>(
    bytes: &[u8],
    kind: &str,
    decode: fn(&[u8]) -> Result<K, DecodeError>,
) -> Result<Decoded<K>, DecodeError> {
    let (unknown, raw) = Unknown::split(bytes)?;
    decode_unknown(&unknown, raw, kind, decode)
}

/// Decodes `raw`, the bytes of `unknown`'s `raw` field, as a `kind` (or a `Status`).
fn decode_unknown<K>(
    unknown: &Unknown,
    raw: &[u8],
    kind: &str,
    decode: fn(&[u8]) -> Result<K, DecodeError>,
) -> Result<Decoded<K>, DecodeError> {
    if unknown.kind == "Status" && kind != "Status" {
        return Status::decode_fields(raw).map(Decoded::Status);
    }
    if unknown.kind != kind {
        return Err(DecodeError::new(
            "Unknown",
            format!("expected kind {kind}, the server sent {:?}", unknown.kind),
        ));
    }
    decode(raw).map(Decoded::Object)
}

/// Encodes `object` as a request body: `magic + Unknown { typeMeta, raw }`.
pub fn encode_object<K: ProtobufMessage + k8s_openapi::Resource>(object: &K) -> Vec<u8> {
    encode_object_with(object, K::encode_fields)
}

/// [`encode_object`] with the message encoder given.
pub(crate) fn encode_object_with<K: k8s_openapi::Resource>(
    object: &K,
    encode: fn(&K, &mut Vec<u8>),
) -> Vec<u8> {
    encode_object_as(object, encode, K::API_VERSION, K::KIND)
}

/// [`encode_object`] with the message encoder, `apiVersion` and kind given.
pub(crate) fn encode_object_as<K>(
    object: &K,
    encode: fn(&K, &mut Vec<u8>),
    api_version: &str,
    kind: &str,
) -> Vec<u8> {
    let mut raw = Vec::new();
    encode(object, &mut raw);
    Unknown {
        api_version: api_version.to_string(),
        kind: kind.to_string(),
        raw,
        ..Unknown::default()
    }
    .encode()
}

/// Decodes a list body (`XxxList { ListMeta metadata = 1; repeated Xxx items = 2; }`). Past
/// the first MiB of items, a large list is decoded on helper threads too (one per spare core,
/// at most three; on tokio's blocking pool when called inside a runtime).
pub fn decode_list<K: ProtobufMessage>(
    bytes: &[u8],
    list_kind: &str,
) -> Result<Decoded<ObjectList<K>>, DecodeError> {
    decode_list_with(bytes, list_kind, ParallelItems::new(K::decode_fields))
}

/// [`decode_list`] with the items' decoder given.
pub(crate) fn decode_list_with<K>(
    bytes: &[u8],
    list_kind: &str,
    items: ParallelItems<K>,
) -> Result<Decoded<ObjectList<K>>, DecodeError> {
    let (unknown, raw) = Unknown::split(bytes)?;
    if unknown.kind == "Status" {
        return Status::decode_fields(raw).map(Decoded::Status);
    }
    if unknown.kind != list_kind {
        return Err(DecodeError::new(
            "Unknown",
            format!(
                "expected kind {list_kind}, the server sent {:?}",
                unknown.kind
            ),
        ));
    }
    decode_list_fields_with(raw, items).map(Decoded::Object)
}

/// Decodes the fields of a list message.
pub fn decode_list_fields<K: ProtobufMessage>(bytes: &[u8]) -> Result<ObjectList<K>, DecodeError> {
    decode_list_fields_with(bytes, ParallelItems::new(K::decode_fields))
}

pub(crate) fn decode_list_fields_with<K>(
    bytes: &[u8],
    mut items: ParallelItems<K>,
) -> Result<ObjectList<K>, DecodeError> {
    let mut r = Reader::new(bytes, "List");
    let mut metadata = None::<ListMeta>;
    let mut split = || -> Result<(), DecodeError> {
        while let Some((tag, wire)) = r.next_key()? {
            match tag {
                1 => r.one(wire, &mut metadata, "metadata")?,
                2 => items.push(r.bytes(wire, "items")?)?,
                _ => r.skip(wire)?,
            }
        }
        Ok(())
    };
    if let Err(e) = split() {
        // An item before the malformed field may have failed on a helper thread.
        return Err(items.settle().unwrap_or(e));
    }
    Ok(ObjectList {
        metadata: metadata.unwrap_or_default(),
        items: items.finish()?,
    })
}

/// Encodes a list body (for tests and fakes).
pub fn encode_list<K: ProtobufMessage>(
    api_version: &str,
    list_kind: &str,
    list: &ObjectList<K>,
) -> Vec<u8> {
    let mut raw = Vec::new();
    put(&mut raw, 1, &list.metadata);
    for item in &list.items {
        put_key(&mut raw, 2, WireType::Len);
        put_len(&mut raw, &item.to_protobuf());
    }
    Unknown {
        api_version: api_version.to_string(),
        kind: list_kind.to_string(),
        raw,
        ..Unknown::default()
    }
    .encode()
}

/// Decodes a protobuf `Status` body (`None` when the body is not one).
pub fn decode_status(bytes: &[u8]) -> Option<Status> {
    let (unknown, raw) = Unknown::split(bytes).ok()?;
    if unknown.kind != "Status" {
        return None;
    }
    Status::decode_fields(raw).ok()
}

/// Decodes one watch frame (the bytes inside the 4-byte length prefix): a
/// `metav1.WatchEvent { type, object: RawExtension { raw } }`, where `raw` is again
/// `magic + Unknown`. A frame that itself starts with the magic is an `Unknown` holding the
/// `WatchEvent`; both forms are accepted.
pub fn decode_watch_frame<K: ProtobufMessage>(
    frame: &[u8],
    kind: &str,
) -> Result<WatchEvent<K>, DecodeError> {
    decode_watch_frame_with(frame, kind, K::decode_fields)
}

/// [`decode_watch_frame`] with the object decoder given.
pub(crate) fn decode_watch_frame_with<K>(
    frame: &[u8],
    kind: &str,
    decode: fn(&[u8]) -> Result<K, DecodeError>,
) -> Result<WatchEvent<K>, DecodeError> {
    let fields = if frame.starts_with(MAGIC) {
        Unknown::split(frame)?.1
    } else {
        frame
    };
    let mut r = Reader::new(fields, "WatchEvent");
    let (mut kind_name, mut object) = (None::<String>, None::<&[u8]>);
    while let Some((tag, wire)) = r.next_key()? {
        match tag {
            1 => r.one(wire, &mut kind_name, "type")?,
            2 => {
                let ext = r.bytes(wire, "object")?;
                let mut e = Reader::new(ext, "RawExtension");
                while let Some((tag, wire)) = e.next_key()? {
                    match tag {
                        1 => object = Some(e.bytes(wire, "raw")?),
                        _ => e.skip(wire)?,
                    }
                }
            }
            _ => r.skip(wire)?,
        }
    }
    let type_name = kind_name.unwrap_or_default();
    let object = object.unwrap_or_default();
    let (unknown, raw) = Unknown::split(object).map_err(|e| e.within("WatchEvent", "object"))?;
    let in_object = |e: DecodeError| e.within("WatchEvent", "object");
    match type_name.as_str() {
        "ERROR" => Status::decode_fields(raw)
            .map(WatchEvent::Error)
            .map_err(in_object),
        "BOOKMARK" => {
            let meta = object_metadata(raw).map_err(in_object)?;
            Ok(WatchEvent::Bookmark(Bookmark {
                resource_version: meta.resource_version.unwrap_or_default(),
                annotations: meta.annotations.unwrap_or_else(BTreeMap::new),
            }))
        }
        "ADDED" | "MODIFIED" | "DELETED" => {
            let object = match decode_unknown(&unknown, raw, kind, decode).map_err(in_object)? {
                Decoded::Object(k) => k,
                Decoded::Status(s) => return Ok(WatchEvent::Error(s)),
            };
            Ok(match type_name.as_str() {
                "ADDED" => WatchEvent::Added(object),
                "MODIFIED" => WatchEvent::Modified(object),
                _ => WatchEvent::Deleted(object),
            })
        }
        other => Err(DecodeError::new(
            "WatchEvent",
            format!("unknown event type {other:?}"),
        )),
    }
}

/// The `ObjectMeta` (field 1 of every top-level kind) of an encoded object.
fn object_metadata(raw: &[u8]) -> Result<ObjectMeta, DecodeError> {
    let mut r = Reader::new(raw, "Object");
    let mut meta = None::<ObjectMeta>;
    while let Some((tag, wire)) = r.next_key()? {
        match tag {
            1 => r.one(wire, &mut meta, "metadata")?,
            _ => r.skip(wire)?,
        }
    }
    Ok(meta.unwrap_or_default())
}

/// Splits a watch body into frames: each is a 4-byte big-endian length and that many bytes.
#[derive(Debug, Default)]
pub struct FrameReader {
    buf: Vec<u8>,
}

/// The largest watch frame accepted (the API server's own request limit is 3 MiB per object;
/// this leaves room for a list-sized event).
pub const MAX_FRAME: usize = 64 << 20;

impl FrameReader {
    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, if one has arrived.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, DecodeError> {
        let Some(head) = self.buf.get(..4) else {
            return Ok(None);
        };
        let n = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        if n > MAX_FRAME {
            return Err(DecodeError::new(
                "watch frame",
                format!("frame of {n} bytes exceeds the {MAX_FRAME}-byte limit"),
            ));
        }
        if self.buf.len() < 4 + n {
            return Ok(None);
        }
        let frame = self.buf[4..4 + n].to_vec();
        self.buf.drain(..4 + n);
        Ok(Some(frame))
    }

    /// Bytes received that do not yet form a frame.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

/// Writes a frame (for tests and fakes).
pub fn frame(bytes: &[u8]) -> Vec<u8> {
    let mut out = (bytes.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(bytes);
    out
}

/// Encodes a watch event frame's content (for tests and fakes): `WatchEvent` with the object
/// as `magic + Unknown`.
pub fn encode_watch_event(type_name: &str, object: &Unknown) -> Vec<u8> {
    let mut ext = Vec::new();
    put_bytes_field(&mut ext, 1, &object.encode());
    let mut out = Vec::new();
    put(&mut out, 1, &type_name.to_string());
    put_bytes_field(&mut out, 2, &ext);
    out
}
