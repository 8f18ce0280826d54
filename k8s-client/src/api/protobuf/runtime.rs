//! What the generated codecs are written in: the [`ProtobufMessage`] and [`Value`] traits and
//! small helpers for each field shape (single, repeated, map, inline struct).

use std::collections::BTreeMap;

use super::wire::{put_key, put_len, put_varint};
pub use super::wire::{DecodeError, Raw, Reader, WireType};

/// A k8s-openapi type with a protobuf encoding (the Kubernetes `generated.proto` message).
/// (`Send + 'static`, as every k8s-openapi type is, so that large lists can be decoded on
/// more than one thread.)
pub trait ProtobufMessage: Sized + Send + 'static {
    /// Appends the message's fields (no length prefix).
    fn encode_fields(&self, buf: &mut Vec<u8>);

    /// Decodes the message from its fields; unknown fields are skipped.
    fn decode_fields(bytes: &[u8]) -> Result<Self, DecodeError>;

    /// The encoded message.
    fn to_protobuf(&self) -> Vec<u8> {
        let mut buf = Vec::new();
        self.encode_fields(&mut buf);
        buf
    }
}

/// A value that can sit in a field: a scalar, a message, or a Kubernetes wrapper type.
#[doc(hidden)]
pub trait Value: Sized {
    /// The wire type the value is written with.
    const WIRE: WireType;
    /// Appends the value (after the key; length-prefixed for [`WireType::Len`]).
    fn put_value(&self, buf: &mut Vec<u8>);
    /// Decodes a value; `None` for a value that means "absent" (the zero `Time`).
    fn get_value(raw: Raw<'_>) -> Result<Option<Self>, String>;
    /// Whether this is the zero value Go would not write as JSON (`""`, `0`, `false`).
    fn is_zero(&self) -> bool {
        false
    }
    /// The value of a required field the message did not carry.
    fn default_value() -> Option<Self> {
        None
    }
}

fn expect_len(raw: Raw<'_>) -> Result<&[u8], String> {
    match raw {
        Raw::Len(b) => Ok(b),
        other => Err(format!("expected length-delimited, got {:?}", other.wire())),
    }
}

fn expect_varint(raw: Raw<'_>) -> Result<u64, String> {
    match raw {
        Raw::Varint(v) => Ok(v),
        other => Err(format!("expected varint, got {:?}", other.wire())),
    }
}

/// How deeply messages may nest (JSON schemas are recursive; bad input must not exhaust the
/// stack).
pub const MAX_DEPTH: usize = 100;

thread_local! {
    static DEPTH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

thread_local! {
    static SKIP_MANAGED_FIELDS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether the decode under way skips `metadata.managedFields` (see
/// [`decode_without_managed_fields`]).
pub fn skipping_managed_fields() -> bool {
    SKIP_MANAGED_FIELDS.with(|s| s.get())
}

/// Decodes `K` leaving `metadata.managedFields` (of `K` and of any object inside it) unset:
/// the entries are skipped on the wire, never built. For callers that drop them anyway (an
/// informer that strips them); several times faster than decoding them for typical objects,
/// whose managedFields are most of their bytes.
pub fn decode_without_managed_fields<K: ProtobufMessage>(bytes: &[u8]) -> Result<K, DecodeError> {
    /// Restores the flag however the decode ends.
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            SKIP_MANAGED_FIELDS.with(|s| s.set(self.0));
        }
    }
    let _restore = Restore(SKIP_MANAGED_FIELDS.with(|s| s.replace(true)));
    K::decode_fields(bytes)
}

/// Decodes a nested message from a field value.
pub fn get_message<T: ProtobufMessage>(raw: Raw<'_>) -> Result<T, String> {
    let bytes = expect_len(raw)?;
    let depth = DEPTH.with(|d| d.get());
    if depth >= MAX_DEPTH {
        return Err(format!("messages nested more than {MAX_DEPTH} deep"));
    }
    DEPTH.with(|d| d.set(depth + 1));
    let out = T::decode_fields(bytes).map_err(|e| e.to_string());
    DEPTH.with(|d| d.set(depth));
    out
}

/// Appends a message as a length-prefixed value.
pub fn put_message<T: ProtobufMessage>(value: &T, buf: &mut Vec<u8>) {
    let mut inner = Vec::new();
    value.encode_fields(&mut inner);
    put_len(buf, &inner);
}

/// Implements [`Value`] for a generated message type (`default`: it has `Default`).
#[macro_export]
#[doc(hidden)]
macro_rules! message_value {
    ($t:ty) => {
        impl $crate::api::protobuf::runtime::Value for $t {
            const WIRE: $crate::api::protobuf::runtime::WireType =
                $crate::api::protobuf::runtime::WireType::Len;
            fn put_value(&self, buf: &mut Vec<u8>) {
                $crate::api::protobuf::runtime::put_message(self, buf)
            }
            fn get_value(
                raw: $crate::api::protobuf::runtime::Raw<'_>,
            ) -> Result<Option<Self>, String> {
                $crate::api::protobuf::runtime::get_message(raw).map(Some)
            }
        }
    };
    ($t:ty, default) => {
        impl $crate::api::protobuf::runtime::Value for $t {
            const WIRE: $crate::api::protobuf::runtime::WireType =
                $crate::api::protobuf::runtime::WireType::Len;
            fn put_value(&self, buf: &mut Vec<u8>) {
                $crate::api::protobuf::runtime::put_message(self, buf)
            }
            fn get_value(
                raw: $crate::api::protobuf::runtime::Raw<'_>,
            ) -> Result<Option<Self>, String> {
                $crate::api::protobuf::runtime::get_message(raw).map(Some)
            }
            fn default_value() -> Option<Self> {
                Some(Self::default())
            }
        }
    };
}
pub use crate::message_value;

impl Value for String {
    const WIRE: WireType = WireType::Len;
    fn put_value(&self, buf: &mut Vec<u8>) {
        put_len(buf, self.as_bytes());
    }
    fn get_value(raw: Raw<'_>) -> Result<Option<Self>, String> {
        let b = expect_len(raw)?;
        String::from_utf8(b.to_vec())
            .map(Some)
            .map_err(|e| format!("string is not UTF-8: {e}"))
    }
    fn is_zero(&self) -> bool {
        self.is_empty()
    }
    fn default_value() -> Option<Self> {
        Some(String::new())
    }
}

impl Value for bool {
    const WIRE: WireType = WireType::Varint;
    fn put_value(&self, buf: &mut Vec<u8>) {
        put_varint(buf, u64::from(*self));
    }
    fn get_value(raw: Raw<'_>) -> Result<Option<Self>, String> {
        Ok(Some(expect_varint(raw)? != 0))
    }
    fn is_zero(&self) -> bool {
        !*self
    }
    fn default_value() -> Option<Self> {
        Some(false)
    }
}

impl Value for i64 {
    const WIRE: WireType = WireType::Varint;
    fn put_value(&self, buf: &mut Vec<u8>) {
        put_varint(buf, *self as u64);
    }
    fn get_value(raw: Raw<'_>) -> Result<Option<Self>, String> {
        Ok(Some(expect_varint(raw)? as i64))
    }
    fn is_zero(&self) -> bool {
        *self == 0
    }
    fn default_value() -> Option<Self> {
        Some(0)
    }
}

impl Value for i32 {
    const WIRE: WireType = WireType::Varint;
    fn put_value(&self, buf: &mut Vec<u8>) {
        // Negative int32 values are sign-extended to ten bytes, as protobuf requires.
        put_varint(buf, i64::from(*self) as u64);
    }
    fn get_value(raw: Raw<'_>) -> Result<Option<Self>, String> {
        // Protobuf truncates an int32 read from a wider varint.
        Ok(Some(expect_varint(raw)? as i32))
    }
    fn is_zero(&self) -> bool {
        *self == 0
    }
    fn default_value() -> Option<Self> {
        Some(0)
    }
}

impl Value for f64 {
    const WIRE: WireType = WireType::Fixed64;
    fn put_value(&self, buf: &mut Vec<u8>) {
        buf.extend_from_slice(&self.to_bits().to_le_bytes());
    }
    fn get_value(raw: Raw<'_>) -> Result<Option<Self>, String> {
        match raw {
            Raw::Fixed64(v) => Ok(Some(f64::from_bits(v))),
            other => Err(format!("expected fixed64, got {:?}", other.wire())),
        }
    }
    fn is_zero(&self) -> bool {
        *self == 0.0
    }
    fn default_value() -> Option<Self> {
        Some(0.0)
    }
}

impl Value for k8s_openapi::ByteString {
    const WIRE: WireType = WireType::Len;
    fn put_value(&self, buf: &mut Vec<u8>) {
        put_len(buf, &self.0);
    }
    fn get_value(raw: Raw<'_>) -> Result<Option<Self>, String> {
        Ok(Some(k8s_openapi::ByteString(expect_len(raw)?.to_vec())))
    }
    fn default_value() -> Option<Self> {
        Some(k8s_openapi::ByteString(Vec::new()))
    }
}

impl<T: Value> Value for Box<T> {
    const WIRE: WireType = T::WIRE;
    fn put_value(&self, buf: &mut Vec<u8>) {
        (**self).put_value(buf)
    }
    fn get_value(raw: Raw<'_>) -> Result<Option<Self>, String> {
        Ok(T::get_value(raw)?.map(Box::new))
    }
}

/// Go's named string slices (`ExtraValue`, `Verbs`) are messages `{ repeated string items = 1 }`.
impl Value for Vec<String> {
    const WIRE: WireType = WireType::Len;
    fn put_value(&self, buf: &mut Vec<u8>) {
        let mut inner = Vec::new();
        put_repeated(&mut inner, 1, self);
        put_len(buf, &inner);
    }
    fn get_value(raw: Raw<'_>) -> Result<Option<Self>, String> {
        let mut r = Reader::new(expect_len(raw)?, "StringList");
        let mut items = Vec::new();
        while let Some((tag, wire)) = r.next_key().map_err(|e| e.to_string())? {
            match tag {
                1 => r.repeated(wire, &mut items, "items"),
                _ => r.skip(wire),
            }
            .map_err(|e| e.to_string())?;
        }
        Ok(Some(items))
    }
    fn default_value() -> Option<Self> {
        Some(Vec::new())
    }
}

/// Writes a field that is always present.
pub fn put<T: Value>(buf: &mut Vec<u8>, tag: u32, value: &T) {
    put_key(buf, tag, T::WIRE);
    value.put_value(buf);
}

/// Writes an optional field when it is set.
pub fn put_opt<T: Value>(buf: &mut Vec<u8>, tag: u32, value: &Option<T>) {
    if let Some(v) = value {
        put(buf, tag, v);
    }
}

/// Writes a repeated field, one key per element (proto2 unpacked, as Kubernetes does).
pub fn put_repeated<T: Value>(buf: &mut Vec<u8>, tag: u32, values: &[T]) {
    for v in values {
        put(buf, tag, v);
    }
}

/// Writes a map as repeated entry messages `{ key = 1; value = 2 }`, in key order.
pub fn put_map<T: Value>(buf: &mut Vec<u8>, tag: u32, map: &BTreeMap<String, T>) {
    for (k, v) in map {
        let mut entry = Vec::new();
        put(&mut entry, 1, k);
        put(&mut entry, 2, v);
        put_key(buf, tag, WireType::Len);
        put_len(buf, &entry);
    }
}

/// Writes an optional map.
pub fn put_map_opt<T: Value>(buf: &mut Vec<u8>, tag: u32, map: &Option<BTreeMap<String, T>>) {
    if let Some(m) = map {
        put_map(buf, tag, m);
    }
}

/// Writes an embedded Go struct (flattened in JSON, a nested message in protobuf).
pub fn put_inline(buf: &mut Vec<u8>, tag: u32, fields: impl FnOnce(&mut Vec<u8>)) {
    let mut inner = Vec::new();
    fields(&mut inner);
    put_key(buf, tag, WireType::Len);
    put_len(buf, &inner);
}

impl<'a> Reader<'a> {
    /// Reads a singular field into `slot` (a later occurrence replaces an earlier one).
    pub fn one<T: Value>(
        &mut self,
        wire: WireType,
        slot: &mut Option<T>,
        field: &str,
    ) -> Result<(), DecodeError> {
        let raw = self.raw(wire)?;
        *slot = T::get_value(raw).map_err(|e| self.field_error(field, e))?;
        Ok(())
    }

    /// Reads one element of a repeated field (packed or not).
    pub fn repeated<T: Value>(
        &mut self,
        wire: WireType,
        out: &mut Vec<T>,
        field: &str,
    ) -> Result<(), DecodeError> {
        let raw = self.raw(wire)?;
        if let (Raw::Len(bytes), false) = (raw, T::WIRE == WireType::Len) {
            let mut packed = Reader::new(bytes, self.message());
            while !packed.is_done() {
                let raw = packed.raw(T::WIRE)?;
                if let Some(v) = T::get_value(raw).map_err(|e| self.field_error(field, e))? {
                    out.push(v);
                }
            }
            return Ok(());
        }
        match T::get_value(raw).map_err(|e| self.field_error(field, e))? {
            Some(v) => out.push(v),
            None => {
                return Err(self.field_error(field, "an element has the zero value".to_string()))
            }
        }
        Ok(())
    }

    /// Reads one map entry.
    pub fn entry<T: Value>(
        &mut self,
        wire: WireType,
        map: &mut BTreeMap<String, T>,
        field: &str,
    ) -> Result<(), DecodeError> {
        let bytes = self.bytes(wire, field)?;
        let mut r = Reader::new(bytes, "MapEntry");
        let (mut key, mut value) = (None::<String>, None::<T>);
        let inner = (|| {
            while let Some((tag, wire)) = r.next_key()? {
                match tag {
                    1 => r.one(wire, &mut key, "key")?,
                    2 => r.one(wire, &mut value, "value")?,
                    _ => r.skip(wire)?,
                }
            }
            Ok::<_, DecodeError>(())
        })();
        inner.map_err(|e| e.within(self.message(), field))?;
        let value = match value.or_else(T::default_value) {
            Some(v) => v,
            None => return Err(self.field_error(field, "map entry without a value".into())),
        };
        map.insert(key.unwrap_or_default(), value);
        Ok(())
    }

    /// The reader of an embedded struct's fields.
    pub fn inline(&mut self, wire: WireType, field: &str) -> Result<Reader<'a>, DecodeError> {
        let message = self.message();
        Ok(Reader::new(self.bytes(wire, field)?, message))
    }

    /// The value of a required field, or its default when the message did not carry it.
    pub fn required<T: Value>(&self, value: Option<T>, field: &str) -> Result<T, DecodeError> {
        match value.or_else(T::default_value) {
            Some(v) => Ok(v),
            None => Err(self.field_error(field, "required field is missing".into())),
        }
    }

    fn field_error(&self, field: &str, text: String) -> DecodeError {
        DecodeError::new("", text).within(self.message(), field)
    }

    fn is_done(&self) -> bool {
        self.remaining() == 0
    }
}

/// `None` for the zero value: a Go field that is not a pointer has no "unset" in protobuf, and
/// its JSON omits the zero value.
pub fn non_zero<T: Value>(value: Option<T>) -> Option<T> {
    value.filter(|v| !v.is_zero())
}

/// A collection that may be empty.
pub trait Collection {
    /// Whether it has no elements.
    fn is_empty_collection(&self) -> bool;
    /// The collection without spare capacity.
    fn exact(self) -> Self;
}

impl<T> Collection for Vec<T> {
    fn is_empty_collection(&self) -> bool {
        self.is_empty()
    }
    fn exact(mut self) -> Self {
        self.shrink_to_fit();
        self
    }
}

impl<K, V> Collection for BTreeMap<K, V> {
    fn is_empty_collection(&self) -> bool {
        self.is_empty()
    }
    fn exact(self) -> Self {
        self
    }
}

/// `None` for an empty list or map (protobuf cannot tell empty from absent; Go decodes nil);
/// a list comes without spare capacity.
pub fn non_empty<C: Collection>(c: C) -> Option<C> {
    (!c.is_empty_collection()).then(|| c.exact())
}

/// A decoded list without spare capacity (elements are pushed one by one as they are read;
/// a cached object should not keep the growth room).
pub fn exact<T>(v: Vec<T>) -> Vec<T> {
    v.exact()
}

/// Checks that `bytes` are well-formed fields, ignoring them all.
pub fn skip_all(bytes: &[u8], message: &'static str) -> Result<(), DecodeError> {
    let mut r = Reader::new(bytes, message);
    while let Some((_, wire)) = r.next_key()? {
        r.skip(wire)?;
    }
    Ok(())
}
