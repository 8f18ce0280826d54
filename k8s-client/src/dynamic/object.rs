//! [`DynamicObject`]: any Kubernetes object as JSON, with typed `metadata`, and its
//! conversions to and from the typed k8s-openapi structs.

use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::Resource;
use serde::de::{DeserializeOwned, Error as _};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::api::{ApiResource, GroupVersionKind, Object};
use crate::error::Error;

/// The top-level keys [`DynamicObject`] keeps in fields of its own rather than in `data`.
const RESERVED: [&str; 3] = ["apiVersion", "kind", "metadata"];

/// Why a conversion between JSON, [`DynamicObject`] and a typed struct failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConvertError {
    /// The object is of another kind than the type it was converted to.
    #[error("expected a {expected} object, found {found}")]
    WrongKind {
        /// The apiVersion and kind of the target type.
        expected: Box<GroupVersionKind>,
        /// The apiVersion and kind of the object.
        found: Box<GroupVersionKind>,
    },
    /// The JSON does not have the shape the target needs.
    #[error("{what}: {message}")]
    Json {
        /// What was being converted (`DynamicObject to apps/v1/Deployment`).
        what: String,
        /// What was wrong with it.
        message: String,
        /// The JSON decoder's (or encoder's) error.
        source: serde_json::Error,
    },
    /// A field path used with [`DynamicObject::set_field`] runs through a value that is not
    /// an object.
    #[error("field {path}: {message}")]
    Field {
        /// The path, joined with `.`.
        path: String,
        /// What was wrong with it.
        message: String,
    },
}

impl ConvertError {
    fn json(what: impl Into<String>, source: serde_json::Error) -> Self {
        ConvertError::Json {
            what: what.into(),
            message: source.to_string(),
            source,
        }
    }
}

impl From<ConvertError> for Error {
    fn from(e: ConvertError) -> Self {
        let what = match &e {
            ConvertError::WrongKind { expected, .. } => format!("a {expected} object"),
            ConvertError::Json { what, .. } => what.clone(),
            ConvertError::Field { path, .. } => format!("field {path}"),
        };
        Error::Decode(crate::error::DecodeError::new(what, e))
    }
}

/// Any Kubernetes object: `apiVersion`, `kind`, typed `metadata`, and every other field
/// (`spec`, `status`, `data`, ...) kept as JSON in [`data`](Self::data).
///
/// Decoding and encoding are lossless for every field outside `metadata` (unknown fields,
/// numbers, nulls are kept as they came); `metadata` is the typed [`ObjectMeta`], so it
/// keeps the fields `ObjectMeta` knows. This is client-go's `unstructured.Unstructured`,
/// with typed metadata.
///
/// ```
/// use k8s_client::dynamic::DynamicObject;
/// use k8s_client::api::Object;
/// use k8s_openapi::api::core::v1::ConfigMap;
/// use serde_json::json;
///
/// let obj = DynamicObject::from_json(json!({
///     "apiVersion": "v1",
///     "kind": "ConfigMap",
///     "metadata": {"name": "settings", "namespace": "default"},
///     "data": {"mode": "fast"},
///     "someFutureField": [1, 2.5, null]
/// }))?;
/// assert_eq!(obj.key(), "default/settings");
/// assert_eq!(obj.gvk().kind, "ConfigMap");
/// assert_eq!(obj.field(&["data", "mode"]), Some(&json!("fast")));
/// assert_eq!(obj.data["someFutureField"], json!([1, 2.5, null]));
///
/// let cm: ConfigMap = obj.try_parse()?;
/// assert_eq!(cm.data.unwrap()["mode"], "fast");
/// # Ok::<(), k8s_client::dynamic::ConvertError>(())
/// ```
#[derive(Clone, PartialEq, Default)]
pub struct DynamicObject {
    /// `apiVersion` (`apps/v1`; empty when the JSON had none).
    pub api_version: String,
    /// `kind` (`Deployment`; empty when the JSON had none).
    pub kind: String,
    /// The standard object metadata.
    pub metadata: ObjectMeta,
    /// Every other top-level field. The keys `apiVersion`, `kind` and `metadata` are never
    /// read from here, nor written (the fields above are).
    pub data: Map<String, Value>,
}

impl DynamicObject {
    /// An empty object of `resource`'s kind named `name` (add a namespace with
    /// [`within`](Self::within) and fields with [`with_field`](Self::with_field)).
    pub fn new(name: &str, resource: &ApiResource) -> Self {
        DynamicObject {
            api_version: resource.api_version(),
            kind: resource.kind.clone(),
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                ..ObjectMeta::default()
            },
            data: Map::new(),
        }
    }

    /// This object in `namespace`.
    pub fn within(mut self, namespace: &str) -> Self {
        self.metadata.namespace = Some(namespace.to_string());
        self
    }

    /// This object with the top-level field `key` set to `value` (a `key` of `apiVersion`,
    /// `kind` or `metadata` is ignored: set those fields directly).
    pub fn with_field(mut self, key: &str, value: Value) -> Self {
        if !RESERVED.contains(&key) {
            self.data.insert(key.to_string(), value);
        }
        self
    }

    /// Reads an object from JSON, which must be a JSON object whose `metadata` (if any) is
    /// valid `ObjectMeta`.
    pub fn from_json(value: Value) -> Result<Self, ConvertError> {
        serde_json::from_value(value).map_err(|e| ConvertError::json("JSON to DynamicObject", e))
    }

    /// Reads an object from JSON text.
    pub fn from_json_str(text: &str) -> Result<Self, ConvertError> {
        serde_json::from_str(text).map_err(|e| ConvertError::json("JSON text to DynamicObject", e))
    }

    /// The object as one JSON value.
    pub fn to_json(&self) -> Value {
        let mut map = Map::with_capacity(self.data.len() + 3);
        if !self.api_version.is_empty() {
            map.insert("apiVersion".into(), self.api_version.clone().into());
        }
        if !self.kind.is_empty() {
            map.insert("kind".into(), self.kind.clone().into());
        }
        // ObjectMeta's serialization cannot fail (strings, maps and numbers only).
        map.insert(
            "metadata".into(),
            serde_json::to_value(&self.metadata).unwrap_or_default(),
        );
        for (k, v) in &self.data {
            if !RESERVED.contains(&k.as_str()) {
                map.insert(k.clone(), v.clone());
            }
        }
        Value::Object(map)
    }

    /// The group, version and kind (`apiVersion` split at `/`).
    pub fn gvk(&self) -> GroupVersionKind {
        GroupVersionKind::from_api_version(&self.api_version, &self.kind)
    }

    /// Sets `apiVersion` and `kind` from `gvk`.
    pub fn set_gvk(&mut self, gvk: &GroupVersionKind) {
        self.api_version = gvk.api_version();
        self.kind = gvk.kind.clone();
    }

    /// The value at `path` below the top level (`&["spec", "replicas"]`), if every step
    /// exists. Paths into `metadata` are not looked up here: use [`metadata`](Self::metadata).
    pub fn field(&self, path: &[&str]) -> Option<&Value> {
        let (first, rest) = path.split_first()?;
        let mut value = self.data.get(*first)?;
        for key in rest {
            value = value.as_object()?.get(*key)?;
        }
        Some(value)
    }

    /// The value at `path` below the top level, for changing it in place.
    pub fn field_mut(&mut self, path: &[&str]) -> Option<&mut Value> {
        let (first, rest) = path.split_first()?;
        let mut value = self.data.get_mut(*first)?;
        for key in rest {
            value = value.as_object_mut()?.get_mut(*key)?;
        }
        Some(value)
    }

    /// Sets the value at `path` (`&["spec", "replicas"]`), creating missing objects on the
    /// way, as client-go's `SetNestedField` does. Fails when a step is a value that is not an
    /// object, or when the path is empty or starts at `apiVersion`, `kind` or `metadata`.
    pub fn set_field(&mut self, path: &[&str], value: Value) -> Result<(), ConvertError> {
        let joined = path.join(".");
        let fail = |message: &str| ConvertError::Field {
            path: joined.clone(),
            message: message.to_string(),
        };
        let Some((last, parents)) = path.split_last() else {
            return Err(fail("the path is empty"));
        };
        if RESERVED.contains(&path[0]) {
            return Err(fail(
                "apiVersion, kind and metadata are fields of DynamicObject, not of its data",
            ));
        }
        let mut map = &mut self.data;
        for (i, key) in parents.iter().enumerate() {
            let entry = map
                .entry(key.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            map = match entry {
                Value::Object(m) => m,
                other => {
                    return Err(fail(&format!(
                        "{} is {}, not an object",
                        path[..=i].join("."),
                        json_type(other)
                    )))
                }
            };
        }
        map.insert(last.to_string(), value);
        Ok(())
    }

    /// This object as the typed `K`. Fails with [`ConvertError::WrongKind`] when the
    /// object's `apiVersion` or `kind` (when set) is not `K`'s, and with
    /// [`ConvertError::Json`] when a field does not fit `K`.
    pub fn try_parse<K: Resource + DeserializeOwned>(&self) -> Result<K, ConvertError> {
        let expected = GroupVersionKind::of::<K>();
        let api_version_ok = self.api_version.is_empty() || self.api_version == K::API_VERSION;
        let kind_ok = self.kind.is_empty() || self.kind == K::KIND;
        if !api_version_ok || !kind_ok {
            return Err(ConvertError::WrongKind {
                expected: Box::new(expected),
                found: Box::new(self.gvk()),
            });
        }
        let mut json = self.to_json();
        if let Value::Object(map) = &mut json {
            map.insert("apiVersion".into(), K::API_VERSION.into());
            map.insert("kind".into(), K::KIND.into());
        }
        serde_json::from_value(json).map_err(|e| {
            ConvertError::json(format!("DynamicObject {} to {expected}", self.key()), e)
        })
    }

    /// The typed `object` as a `DynamicObject`, with `K`'s `apiVersion` and `kind`.
    pub fn from_typed<K: Resource + Serialize>(object: &K) -> Result<Self, ConvertError> {
        let what = || format!("{} to DynamicObject", GroupVersionKind::of::<K>());
        let json = serde_json::to_value(object).map_err(|e| ConvertError::json(what(), e))?;
        let mut obj: DynamicObject =
            serde_json::from_value(json).map_err(|e| ConvertError::json(what(), e))?;
        obj.api_version = K::API_VERSION.to_string();
        obj.kind = K::KIND.to_string();
        Ok(obj)
    }

    /// Whether this object is a core `v1` `Secret` (whose contents [`Debug`] hides).
    fn is_secret(&self) -> bool {
        self.kind == "Secret" && (self.api_version == "v1" || self.api_version.is_empty())
    }
}

/// The JSON type of `v`, for messages.
fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Object for DynamicObject {
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

impl TryFrom<Value> for DynamicObject {
    type Error = ConvertError;
    fn try_from(value: Value) -> Result<Self, ConvertError> {
        DynamicObject::from_json(value)
    }
}

impl From<DynamicObject> for Value {
    fn from(obj: DynamicObject) -> Self {
        obj.to_json()
    }
}

impl fmt::Debug for DynamicObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("DynamicObject");
        s.field("api_version", &self.api_version)
            .field("kind", &self.kind);
        if self.is_secret() {
            // A Secret's values, and the copy kubectl keeps in an annotation, stay hidden.
            let keys: Vec<&String> = self.data.keys().collect();
            s.field("name", &self.metadata.name)
                .field("namespace", &self.metadata.namespace)
                .field("fields", &keys)
                .finish_non_exhaustive()
        } else {
            s.field("metadata", &self.metadata)
                .field("data", &self.data)
                .finish()
        }
    }
}

impl Serialize for DynamicObject {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        if !self.api_version.is_empty() {
            map.serialize_entry("apiVersion", &self.api_version)?;
        }
        if !self.kind.is_empty() {
            map.serialize_entry("kind", &self.kind)?;
        }
        map.serialize_entry("metadata", &self.metadata)?;
        for (k, v) in &self.data {
            if !RESERVED.contains(&k.as_str()) {
                map.serialize_entry(k, v)?;
            }
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for DynamicObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut data = Map::<String, Value>::deserialize(deserializer)?;
        let mut string = |key: &str| match data.remove(key) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s),
            Some(other) => Err(D::Error::custom(format!(
                "{key} must be a string, not {}",
                json_type(&other)
            ))),
        };
        let api_version = string("apiVersion")?;
        let kind = string("kind")?;
        let metadata = match data.remove("metadata") {
            None | Some(Value::Null) => ObjectMeta::default(),
            Some(meta) => ObjectMeta::deserialize(meta)
                .map_err(|e| D::Error::custom(format!("metadata: {e}")))?,
        };
        Ok(DynamicObject {
            api_version,
            kind,
            metadata,
            data,
        })
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::{ConfigMap, Secret};
    use serde_json::json;

    use super::*;

    fn deployment_json() -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "ns", "labels": {"app": "demo"}},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "demo"}},
                "template": {
                    "metadata": {"labels": {"app": "demo"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx:1.12"}]}
                }
            }
        })
    }

    #[test]
    fn json_round_trip_keeps_unknown_fields() {
        let mut input = deployment_json();
        input["spec"]["futureField"] =
            json!({"big": 18446744073709551615u64, "neg": -3, "f": 0.25, "n": null});
        input["topLevelExtra"] = json!(["a", {"b": true}]);
        let obj = DynamicObject::from_json(input.clone()).unwrap();
        assert_eq!(obj.api_version, "apps/v1");
        assert_eq!(obj.kind, "Deployment");
        assert_eq!(obj.metadata.name.as_deref(), Some("web"));
        assert!(!obj.data.contains_key("metadata"));
        assert_eq!(obj.to_json(), input);
        assert_eq!(serde_json::to_value(&obj).unwrap(), input);
        let text = serde_json::to_string(&obj).unwrap();
        assert_eq!(DynamicObject::from_json_str(&text).unwrap(), obj);
        assert_eq!(Value::from(obj.clone()), input);
        assert_eq!(DynamicObject::try_from(input).unwrap(), obj);
    }

    #[test]
    fn typed_round_trip() {
        let obj = DynamicObject::from_json(deployment_json()).unwrap();
        let deploy: Deployment = obj.try_parse().unwrap();
        assert_eq!(deploy.spec.replicas, Some(2));
        assert_eq!(deploy.metadata.namespace.as_deref(), Some("ns"));
        let back = DynamicObject::from_typed(&deploy).unwrap();
        assert_eq!(back, obj);
        assert_eq!(back.try_parse::<Deployment>().unwrap(), deploy);

        // Typed -> dynamic -> typed for an object built in code.
        let mut cm = ConfigMap::default();
        cm.metadata.name = Some("c".into());
        cm.data = Some([("k".to_string(), "v".to_string())].into());
        let dynamic = DynamicObject::from_typed(&cm).unwrap();
        assert_eq!(dynamic.gvk(), GroupVersionKind::new("", "v1", "ConfigMap"));
        assert_eq!(dynamic.field(&["data", "k"]), Some(&json!("v")));
        assert_eq!(dynamic.try_parse::<ConfigMap>().unwrap(), cm);
    }

    #[test]
    fn missing_type_fields_are_filled_by_try_parse() {
        // List items of built-in kinds come without apiVersion and kind.
        let obj = DynamicObject::from_json(json!({"metadata": {"name": "x"}, "data": {"a": "b"}}))
            .unwrap();
        assert!(obj.api_version.is_empty() && obj.kind.is_empty());
        assert!(!obj.to_json().as_object().unwrap().contains_key("kind"));
        let cm: ConfigMap = obj.try_parse().unwrap();
        assert_eq!(cm.metadata.name.as_deref(), Some("x"));
    }

    #[test]
    fn wrong_kind_and_bad_json_are_typed_errors() {
        let obj = DynamicObject::from_json(deployment_json()).unwrap();
        match obj.try_parse::<ConfigMap>() {
            Err(ConvertError::WrongKind { expected, found }) => {
                assert_eq!(*expected, GroupVersionKind::new("", "v1", "ConfigMap"));
                assert_eq!(*found, GroupVersionKind::new("apps", "v1", "Deployment"));
            }
            other => panic!("{other:?}"),
        }
        let mut v1beta = obj.clone();
        v1beta.api_version = "apps/v1beta2".into();
        assert!(matches!(
            v1beta.try_parse::<Deployment>(),
            Err(ConvertError::WrongKind { .. })
        ));

        let mut bad = deployment_json();
        bad["spec"]["replicas"] = json!("two");
        let obj = DynamicObject::from_json(bad).unwrap();
        match obj.try_parse::<Deployment>() {
            Err(e @ ConvertError::Json { .. }) => {
                let msg = e.to_string();
                assert!(
                    msg.contains("ns/web") && msg.contains("apps/v1/Deployment"),
                    "{msg}"
                );
                let source = std::error::Error::source(&e).expect("the serde error is kept");
                assert!(source.is::<serde_json::Error>(), "{source:?}");
                let err: Error = e.into();
                assert!(matches!(err, Error::Decode { .. }), "{err:?}");
                assert!(err.find::<serde_json::Error>().is_some(), "{err:?}");
                assert!(err.find::<ConvertError>().is_some(), "{err:?}");
            }
            other => panic!("{other:?}"),
        }

        for (input, needle) in [
            (json!("just a string"), "expected a map"),
            (json!([1, 2]), "expected a map"),
            (json!({"kind": 5}), "kind must be a string, not a number"),
            (json!({"apiVersion": ["v1"]}), "apiVersion must be a string"),
            (json!({"metadata": "x"}), "metadata:"),
            (json!({"metadata": {"labels": {"a": 1}}}), "metadata:"),
        ] {
            match DynamicObject::from_json(input.clone()) {
                Err(ConvertError::Json { message, .. }) => {
                    assert!(message.contains(needle), "{input}: {message}")
                }
                other => panic!("{input}: {other:?}"),
            }
        }
        assert!(matches!(
            DynamicObject::from_json_str("{not json"),
            Err(ConvertError::Json { .. })
        ));
        assert!(DynamicObject::from_json(json!({"kind": null, "metadata": null})).is_ok());
    }

    #[test]
    fn nested_fields() {
        let resource = ApiResource::of::<Deployment>();
        let mut obj = DynamicObject::new("web", &resource)
            .within("ns")
            .with_field("spec", json!({"replicas": 1}))
            .with_field("metadata", json!("ignored"));
        assert_eq!(obj.key(), "ns/web");
        assert_eq!(obj.gvk(), GroupVersionKind::new("apps", "v1", "Deployment"));
        assert!(!obj.data.contains_key("metadata"));
        obj.set_field(&["spec", "replicas"], json!(3)).unwrap();
        obj.set_field(
            &["spec", "template", "metadata", "labels", "app"],
            json!("demo"),
        )
        .unwrap();
        assert_eq!(obj.field(&["spec", "replicas"]), Some(&json!(3)));
        assert_eq!(
            obj.field(&["spec", "template", "metadata", "labels"]),
            Some(&json!({"app": "demo"}))
        );
        *obj.field_mut(&["spec", "replicas"]).unwrap() = json!(4);
        assert_eq!(obj.data["spec"]["replicas"], json!(4));
        assert_eq!(obj.field(&["spec", "replicas", "deeper"]), None);
        assert_eq!(obj.field(&[]), None);
        match obj.set_field(&["spec", "replicas", "x"], json!(1)) {
            Err(ConvertError::Field { path, message }) => {
                assert_eq!(path, "spec.replicas.x");
                assert!(message.contains("spec.replicas is a number"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        assert!(obj.set_field(&[], json!(1)).is_err());
        assert!(obj.set_field(&["metadata", "name"], json!("x")).is_err());
        let mut gvk = obj.gvk();
        gvk.version = "v2".into();
        obj.set_gvk(&gvk);
        assert_eq!(obj.api_version, "apps/v2");
    }

    #[test]
    fn debug_hides_secret_values() {
        let mut secret = Secret::default();
        secret.metadata.name = Some("creds".into());
        secret.metadata.annotations = Some(
            [(
                "kubectl.kubernetes.io/last-applied-configuration".to_string(),
                "{\"stringData\":{\"password\":\"hunter2\"}}".to_string(),
            )]
            .into(),
        );
        secret.string_data = Some([("password".to_string(), "hunter2".to_string())].into());
        let obj = DynamicObject::from_typed(&secret).unwrap();
        let shown = format!("{obj:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("creds") && shown.contains("stringData"),
            "{shown}"
        );
        let cm = DynamicObject::from_json(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "visible"}}),
        )
        .unwrap();
        assert!(format!("{cm:?}").contains("visible"));
    }
}
