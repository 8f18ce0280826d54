//! The protobuf wire format: varints, keys, length-delimited fields, and a bounds-checked
//! reader that never panics on bad input.

use std::fmt;

/// Why bytes could not be decoded as a protobuf message, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// The path to the bad field, outermost first (for example `Pod.spec.containers`).
    pub path: String,
    /// What was wrong.
    pub message: String,
}

impl DecodeError {
    /// An error at `message_name`.
    pub fn new(message_name: &str, message: impl Into<String>) -> Self {
        DecodeError {
            path: message_name.to_string(),
            message: message.into(),
        }
    }

    /// Prefixes the path with the message and field this error happened inside.
    pub(crate) fn within(mut self, message_name: &str, field: &str) -> Self {
        let inner = std::mem::take(&mut self.path);
        self.path = if inner.is_empty() {
            format!("{message_name}.{field}")
        } else {
            format!("{message_name}.{field} > {inner}")
        };
        self
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "protobuf {}: {}", self.path, self.message)
    }
}

impl std::error::Error for DecodeError {}

/// The wire type in a field key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireType {
    /// Variable-length integer (int32, int64, bool, enums).
    Varint,
    /// Eight little-endian bytes (double).
    Fixed64,
    /// Length-prefixed bytes (string, bytes, messages, packed repeated).
    Len,
    /// Four little-endian bytes (float).
    Fixed32,
}

impl WireType {
    fn code(self) -> u64 {
        match self {
            WireType::Varint => 0,
            WireType::Fixed64 => 1,
            WireType::Len => 2,
            WireType::Fixed32 => 5,
        }
    }
}

/// One field value as read from the wire, before it is interpreted.
#[derive(Debug, Clone, Copy)]
pub enum Raw<'a> {
    /// A varint.
    Varint(u64),
    /// A 64-bit fixed value.
    Fixed64(u64),
    /// A 32-bit fixed value.
    Fixed32(u32),
    /// Length-delimited bytes.
    Len(&'a [u8]),
}

impl Raw<'_> {
    /// The wire type this value came with.
    pub fn wire(&self) -> WireType {
        match self {
            Raw::Varint(_) => WireType::Varint,
            Raw::Fixed64(_) => WireType::Fixed64,
            Raw::Fixed32(_) => WireType::Fixed32,
            Raw::Len(_) => WireType::Len,
        }
    }
}

/// Appends `v` as a varint.
pub fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// Appends a field key.
pub fn put_key(buf: &mut Vec<u8>, tag: u32, wire: WireType) {
    put_varint(buf, (u64::from(tag) << 3) | wire.code());
}

/// Appends length-prefixed bytes (no key).
pub fn put_len(buf: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(buf, bytes.len() as u64);
    buf.extend_from_slice(bytes);
}

/// Appends a length-delimited field: key, length, bytes.
pub fn put_bytes_field(buf: &mut Vec<u8>, tag: u32, bytes: &[u8]) {
    put_key(buf, tag, WireType::Len);
    put_len(buf, bytes);
}

/// Reads the fields of one message, naming the message in its errors.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    message: &'static str,
}

impl<'a> Reader<'a> {
    /// A reader over the encoded fields of the message `message`.
    pub fn new(buf: &'a [u8], message: &'static str) -> Self {
        Reader { buf, message }
    }

    /// How many bytes are left.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// The message name used in errors.
    pub fn message(&self) -> &'static str {
        self.message
    }

    /// An error at this message.
    pub fn error(&self, text: impl Into<String>) -> DecodeError {
        DecodeError::new(self.message, text)
    }

    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for i in 0..10 {
            let Some((&b, rest)) = self.buf.split_first() else {
                return Err(self.error("truncated varint"));
            };
            self.buf = rest;
            if i == 9 && b > 1 {
                return Err(self.error("varint longer than 64 bits"));
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(self.error("varint longer than 10 bytes"))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.buf.len() {
            return Err(self.error(format!(
                "field of {n} bytes but only {} left",
                self.buf.len()
            )));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    /// The next field key (`None` at the end of the message).
    pub fn next_key(&mut self) -> Result<Option<(u32, WireType)>, DecodeError> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let wire = match key & 7 {
            0 => WireType::Varint,
            1 => WireType::Fixed64,
            2 => WireType::Len,
            5 => WireType::Fixed32,
            other => return Err(self.error(format!("unsupported wire type {other}"))),
        };
        let tag = key >> 3;
        if tag == 0 || tag > u64::from(u32::MAX >> 3) {
            return Err(self.error(format!("invalid field number {tag}")));
        }
        Ok(Some((tag as u32, wire)))
    }

    /// Reads the value of a field whose key was just read.
    pub fn raw(&mut self, wire: WireType) -> Result<Raw<'a>, DecodeError> {
        Ok(match wire {
            WireType::Varint => Raw::Varint(self.varint()?),
            WireType::Fixed64 => {
                let b = self.take(8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                Raw::Fixed64(u64::from_le_bytes(a))
            }
            WireType::Fixed32 => {
                let b = self.take(4)?;
                let mut a = [0u8; 4];
                a.copy_from_slice(b);
                Raw::Fixed32(u32::from_le_bytes(a))
            }
            WireType::Len => {
                let n = self.varint()?;
                let n = usize::try_from(n).map_err(|_| self.error("length overflows"))?;
                Raw::Len(self.take(n)?)
            }
        })
    }

    /// Reads a length-delimited value (errors on any other wire type).
    pub fn bytes(&mut self, wire: WireType, field: &str) -> Result<&'a [u8], DecodeError> {
        match self.raw(wire)? {
            Raw::Len(b) => Ok(b),
            other => Err(self
                .error(format!("expected length-delimited, got {:?}", other.wire()))
                .within(self.message, field)),
        }
    }

    /// Skips an unknown field.
    pub fn skip(&mut self, wire: WireType) -> Result<(), DecodeError> {
        self.raw(wire).map(|_| ())
    }
}
