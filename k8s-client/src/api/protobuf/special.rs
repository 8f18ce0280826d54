//! Hand-written codecs for the types whose protobuf and k8s-openapi shapes differ: times,
//! quantities, int-or-string, raw JSON carriers, and the JSON-schema "or" types.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool, JSONSchemaPropsOrStringArray,
    JSON,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{FieldsV1, MicroTime, Time};
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::fields_json;
use super::runtime::*;
use super::wire::put_bytes_field;

/// `Time` and `MicroTime` are `{ int64 seconds = 1; int32 nanos = 2; }`.
fn decode_timestamp(bytes: &[u8], name: &'static str) -> Result<(i64, i32), DecodeError> {
    let (mut seconds, mut nanos) = (None::<i64>, None::<i32>);
    let mut r = Reader::new(bytes, name);
    while let Some((tag, wire)) = r.next_key()? {
        match tag {
            1 => r.one(wire, &mut seconds, "seconds")?,
            2 => r.one(wire, &mut nanos, "nanos")?,
            _ => r.skip(wire)?,
        }
    }
    Ok((seconds.unwrap_or(0), nanos.unwrap_or(0)))
}

fn timestamp(seconds: i64, nanos: i32, name: &str) -> Result<jiff::Timestamp, String> {
    jiff::Timestamp::new(seconds, nanos)
        .map_err(|e| format!("{name} {seconds}s {nanos}ns out of range: {e}"))
}

/// An empty `Time` message is Go's zero time, which JSON writes as `null`: `None` here.
impl Value for Time {
    const WIRE: WireType = WireType::Len;
    fn put_value(&self, buf: &mut Vec<u8>) {
        // Kubernetes keeps whole seconds only (as its JSON does).
        let mut inner = Vec::new();
        put(&mut inner, 1, &self.0.as_second());
        put(&mut inner, 2, &0i32);
        put_len_value(buf, &inner);
    }
    fn get_value(raw: Raw<'_>) -> Result<Option<Self>, String> {
        let bytes = len(raw)?;
        if bytes.is_empty() {
            return Ok(None);
        }
        let (seconds, _) = decode_timestamp(bytes, "Time").map_err(|e| e.to_string())?;
        timestamp(seconds, 0, "Time").map(|t| Some(Time(t)))
    }
}

/// Like `Time`, with microseconds (the precision of its JSON form).
impl Value for MicroTime {
    const WIRE: WireType = WireType::Len;
    fn put_value(&self, buf: &mut Vec<u8>) {
        let mut inner = Vec::new();
        put(&mut inner, 1, &self.0.as_second());
        put(&mut inner, 2, &(self.0.subsec_microsecond() * 1000));
        put_len_value(buf, &inner);
    }
    fn get_value(raw: Raw<'_>) -> Result<Option<Self>, String> {
        let bytes = len(raw)?;
        if bytes.is_empty() {
            return Ok(None);
        }
        let (seconds, nanos) = decode_timestamp(bytes, "MicroTime").map_err(|e| e.to_string())?;
        timestamp(seconds, nanos / 1000 * 1000, "MicroTime").map(|t| Some(MicroTime(t)))
    }
}

/// `Quantity` is `{ string string = 1; }`.
impl Value for Quantity {
    const WIRE: WireType = WireType::Len;
    fn put_value(&self, buf: &mut Vec<u8>) {
        let mut inner = Vec::new();
        put(&mut inner, 1, &self.0);
        put_len_value(buf, &inner);
    }
    fn get_value(raw: Raw<'_>) -> Result<Option<Self>, String> {
        let mut s = None::<String>;
        let mut r = Reader::new(len(raw)?, "Quantity");
        while let Some((tag, wire)) = r.next_key().map_err(|e| e.to_string())? {
            match tag {
                1 => r.one(wire, &mut s, "string"),
                _ => r.skip(wire),
            }
            .map_err(|e| e.to_string())?;
        }
        Ok(Some(Quantity(s.unwrap_or_default())))
    }
    fn default_value() -> Option<Self> {
        Some(Quantity::default())
    }
}

/// `IntOrString` is `{ int64 type = 1; int32 intVal = 2; string strVal = 3; }` (type 1: string).
impl Value for IntOrString {
    const WIRE: WireType = WireType::Len;
    fn put_value(&self, buf: &mut Vec<u8>) {
        let mut inner = Vec::new();
        match self {
            IntOrString::Int(i) => {
                put(&mut inner, 1, &0i64);
                put(&mut inner, 2, i);
                put(&mut inner, 3, &String::new());
            }
            IntOrString::String(s) => {
                put(&mut inner, 1, &1i64);
                put(&mut inner, 2, &0i32);
                put(&mut inner, 3, s);
            }
        }
        put_len_value(buf, &inner);
    }
    fn get_value(raw: Raw<'_>) -> Result<Option<Self>, String> {
        let (mut kind, mut int, mut string) = (None::<i64>, None::<i32>, None::<String>);
        let mut r = Reader::new(len(raw)?, "IntOrString");
        while let Some((tag, wire)) = r.next_key().map_err(|e| e.to_string())? {
            match tag {
                1 => r.one(wire, &mut kind, "type"),
                2 => r.one(wire, &mut int, "intVal"),
                3 => r.one(wire, &mut string, "strVal"),
                _ => r.skip(wire),
            }
            .map_err(|e| e.to_string())?;
        }
        match kind.unwrap_or(0) {
            0 => Ok(Some(IntOrString::Int(int.unwrap_or(0)))),
            1 => Ok(Some(IntOrString::String(string.unwrap_or_default()))),
            other => Err(format!("IntOrString.type is {other}, expected 0 or 1")),
        }
    }
    fn default_value() -> Option<Self> {
        Some(IntOrString::default())
    }
}

/// The messages `{ bytes raw = 1; }` whose bytes are JSON (`RawExtension`, `FieldsV1`, `JSON`).
fn put_json(value: &serde_json::Value, buf: &mut Vec<u8>) {
    let mut inner = Vec::new();
    // Serializing a `serde_json::Value` cannot fail (its map keys are strings).
    put_bytes_field(
        &mut inner,
        1,
        &serde_json::to_vec(value).unwrap_or_default(),
    );
    put_len_value(buf, &inner);
}

/// Decodes such a message. `quick` first tries [`fields_json::parse`], for `FieldsV1`, whose
/// JSON is always objects of objects.
fn get_json(raw: Raw<'_>, name: &'static str, quick: bool) -> Result<serde_json::Value, String> {
    // The JSON is parsed where it lies, not copied out first.
    let mut bytes: &[u8] = &[];
    let mut r = Reader::new(len(raw)?, name);
    while let Some((tag, wire)) = r.next_key().map_err(|e| e.to_string())? {
        match tag {
            1 => r.bytes(wire, "raw").map(|b| bytes = b),
            _ => r.skip(wire),
        }
        .map_err(|e| e.to_string())?;
    }
    if bytes.is_empty() {
        return Ok(serde_json::Value::Null);
    }
    if bytes.starts_with(super::envelope::MAGIC) {
        return Err(format!("{name}.raw holds a protobuf object, not JSON"));
    }
    if let Some(value) = quick.then(|| fields_json::parse(bytes)).flatten() {
        return Ok(value);
    }
    serde_json::from_slice(bytes).map_err(|e| format!("{name}.raw is not JSON: {e}"))
}

macro_rules! json_carrier {
    ($t:ty, $name:literal, $quick:literal) => {
        impl Value for $t {
            const WIRE: WireType = WireType::Len;
            fn put_value(&self, buf: &mut Vec<u8>) {
                put_json(&self.0, buf)
            }
            fn get_value(raw: Raw<'_>) -> Result<Option<Self>, String> {
                get_json(raw, $name, $quick).map(|v| Some(Self(v)))
            }
            fn default_value() -> Option<Self> {
                Some(Self::default())
            }
        }
    };
}

json_carrier!(RawExtension, "RawExtension", false);
json_carrier!(FieldsV1, "FieldsV1", true);
json_carrier!(JSON, "JSON", false);

/// Decodes a message of two fields: the schema (`schema_tag`) and what else (`other`).
fn schema_or<T: Value>(
    raw: Raw<'_>,
    name: &'static str,
    schema_tag: u32,
    other_tag: u32,
    repeated_other: bool,
) -> Result<(Option<JSONSchemaProps>, Vec<T>), String> {
    let mut schema = None::<JSONSchemaProps>;
    let mut others = Vec::new();
    let mut r = Reader::new(len(raw)?, name);
    while let Some((tag, wire)) = r.next_key().map_err(|e| e.to_string())? {
        let step = if tag == schema_tag {
            r.one(wire, &mut schema, "schema")
        } else if tag == other_tag && repeated_other {
            r.repeated(wire, &mut others, "items")
        } else if tag == other_tag {
            let mut one = None;
            let step = r.one(wire, &mut one, "allows");
            others.extend(one);
            step
        } else {
            r.skip(wire)
        };
        step.map_err(|e| e.to_string())?;
    }
    Ok((schema, others))
}

/// `{ JSONSchemaProps schema = 1; repeated JSONSchemaProps jSONSchemas = 2; }`
impl Value for JSONSchemaPropsOrArray {
    const WIRE: WireType = WireType::Len;
    fn put_value(&self, buf: &mut Vec<u8>) {
        let mut inner = Vec::new();
        match self {
            JSONSchemaPropsOrArray::Schema(s) => put(&mut inner, 1, &**s),
            JSONSchemaPropsOrArray::Schemas(v) => put_repeated(&mut inner, 2, v),
        }
        put_len_value(buf, &inner);
    }
    fn get_value(raw: Raw<'_>) -> Result<Option<Self>, String> {
        let (schema, schemas) =
            schema_or::<JSONSchemaProps>(raw, "JSONSchemaPropsOrArray", 1, 2, true)?;
        Ok(Some(match schema {
            Some(s) if schemas.is_empty() => JSONSchemaPropsOrArray::Schema(Box::new(s)),
            _ => JSONSchemaPropsOrArray::Schemas(schemas),
        }))
    }
}

/// `{ bool allows = 1; JSONSchemaProps schema = 2; }`
impl Value for JSONSchemaPropsOrBool {
    const WIRE: WireType = WireType::Len;
    fn put_value(&self, buf: &mut Vec<u8>) {
        let mut inner = Vec::new();
        match self {
            JSONSchemaPropsOrBool::Bool(b) => put(&mut inner, 1, b),
            JSONSchemaPropsOrBool::Schema(s) => {
                put(&mut inner, 1, &true);
                put(&mut inner, 2, &**s);
            }
        }
        put_len_value(buf, &inner);
    }
    fn get_value(raw: Raw<'_>) -> Result<Option<Self>, String> {
        let (schema, allows) = schema_or::<bool>(raw, "JSONSchemaPropsOrBool", 2, 1, false)?;
        Ok(Some(match schema {
            Some(s) => JSONSchemaPropsOrBool::Schema(Box::new(s)),
            None => JSONSchemaPropsOrBool::Bool(allows.last().copied().unwrap_or(false)),
        }))
    }
}

/// `{ JSONSchemaProps schema = 1; repeated string property = 2; }`
impl Value for JSONSchemaPropsOrStringArray {
    const WIRE: WireType = WireType::Len;
    fn put_value(&self, buf: &mut Vec<u8>) {
        let mut inner = Vec::new();
        match self {
            JSONSchemaPropsOrStringArray::Schema(s) => put(&mut inner, 1, &**s),
            JSONSchemaPropsOrStringArray::Strings(v) => put_repeated(&mut inner, 2, v),
        }
        put_len_value(buf, &inner);
    }
    fn get_value(raw: Raw<'_>) -> Result<Option<Self>, String> {
        let (schema, strings) =
            schema_or::<String>(raw, "JSONSchemaPropsOrStringArray", 1, 2, true)?;
        Ok(Some(match schema {
            Some(s) if strings.is_empty() => JSONSchemaPropsOrStringArray::Schema(Box::new(s)),
            _ => JSONSchemaPropsOrStringArray::Strings(strings),
        }))
    }
}

fn len(raw: Raw<'_>) -> Result<&[u8], String> {
    match raw {
        Raw::Len(b) => Ok(b),
        other => Err(format!("expected a message, got {:?}", other.wire())),
    }
}

fn put_len_value(buf: &mut Vec<u8>, inner: &[u8]) {
    super::wire::put_len(buf, inner);
}
