//! The structure of the kinds, read from the OpenAPI v3 documents the API server serves
//! (`/openapi/v3/api/v1`, `/openapi/v3/apis/apps/v1`, ...) and from the `openAPIV3Schema` of
//! custom resource definitions.
//!
//! The model keeps what the write paths need: which fields are structs, maps or lists, the
//! list types and map keys of server-side apply (`x-kubernetes-list-type`,
//! `x-kubernetes-list-map-keys`, `x-kubernetes-map-type`), the patch strategies and merge keys of
//! strategic merge patch (`x-kubernetes-patch-strategy`, `x-kubernetes-patch-merge-key`), and
//! the `required` fields.

use std::collections::{BTreeMap, HashMap, HashSet};

use k8s_client::api::GroupVersionKind;
use serde_json::Value;

/// The name of the shared `ObjectMeta` definition in the OpenAPI documents.
const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

/// An error reading a schema.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// The document is not shaped like an OpenAPI v3 document.
    #[error("invalid OpenAPI document {document}: {reason}")]
    InvalidDocument {
        /// The index of the document in the input.
        document: usize,
        /// What is wrong.
        reason: String,
    },
    /// A `$ref` names a definition that no document holds.
    #[error("unresolved reference {reference} in {at}")]
    UnresolvedRef {
        /// The reference.
        reference: String,
        /// The definition that holds it.
        at: String,
    },
    /// A custom resource schema is not structural.
    #[error("invalid schema for {kind}: {reason}")]
    InvalidSchema {
        /// The kind (`group/version/Kind`).
        kind: String,
        /// What is wrong.
        reason: String,
    },
}

/// The index of a node in [`Schemas`].
pub type TypeId = usize;

/// The node every untyped value has: its structure is deduced from the value (maps are
/// granular, lists atomic), as for `x-kubernetes-preserve-unknown-fields`.
pub const UNTYPED: TypeId = 0;
/// The node of scalars (strings, numbers, booleans, int-or-string).
pub const SCALAR: TypeId = 1;

/// How server-side apply treats the items of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListType {
    /// The list is one value (the default).
    Atomic,
    /// A set of scalars.
    Set,
    /// A map of objects keyed by these fields.
    Map(Vec<String>),
}

/// A field of a struct.
#[derive(Debug, Clone)]
pub struct Field {
    /// The type of the field.
    pub ty: TypeId,
    /// `x-kubernetes-patch-strategy` (comma-separated: `merge`, `retainKeys`, `replace`).
    pub patch_strategy: Option<String>,
    /// `x-kubernetes-patch-merge-key`.
    pub merge_key: Option<String>,
    /// The field is a struct the server always holds (`default: {}`): a Go value, not a pointer.
    pub default_empty: bool,
}

/// One node of the schema.
#[derive(Debug, Clone)]
pub enum Node {
    /// Deduced from the value.
    Untyped,
    /// A scalar.
    Scalar,
    /// An object with named fields and/or arbitrary keys.
    Map {
        /// The named fields.
        fields: BTreeMap<String, Field>,
        /// The type of other keys (`additionalProperties`, or untyped for preserved unknown
        /// fields); `None` when only the named fields are allowed.
        elements: Option<TypeId>,
        /// `x-kubernetes-map-type: atomic`.
        atomic: bool,
        /// The required fields.
        required: Vec<String>,
    },
    /// A list.
    List {
        /// The type of the items.
        items: TypeId,
        /// The list type.
        list_type: ListType,
    },
}

/// The structure of the kinds.
#[derive(Debug, Clone)]
pub struct Schemas {
    nodes: Vec<Node>,
    named: HashMap<String, TypeId>,
    kinds: HashMap<(String, String, String), TypeId>,
    custom: HashSet<(String, String, String)>,
    status_subresource: HashMap<(String, String, String), bool>,
}

impl Default for Schemas {
    fn default() -> Self {
        Schemas {
            nodes: vec![Node::Untyped, Node::Scalar],
            named: HashMap::new(),
            kinds: HashMap::new(),
            custom: HashSet::new(),
            status_subresource: HashMap::new(),
        }
    }
}

fn key(gvk: &GroupVersionKind) -> (String, String, String) {
    (gvk.group.clone(), gvk.version.clone(), gvk.kind.clone())
}

impl Schemas {
    /// No kinds: every object is untyped.
    pub fn new() -> Schemas {
        Schemas::default()
    }

    /// Reads the OpenAPI v3 documents as the server serves them (one per group version).
    /// Definitions shared between documents (`ObjectMeta`, ...) are read once; every
    /// definition with `x-kubernetes-group-version-kind` becomes a kind.
    pub fn from_openapi_v3(documents: &[Value]) -> Result<Schemas, SchemaError> {
        let mut schemas = Schemas::default();
        let mut definitions: Vec<(String, &Value)> = Vec::new();
        for (i, doc) in documents.iter().enumerate() {
            let Some(components) = doc.get("components") else {
                // A document without components (`/openapi/v3/apis`, `.well-known/...`).
                continue;
            };
            let Some(defs) = components.get("schemas") else {
                continue;
            };
            let defs = defs
                .as_object()
                .ok_or_else(|| SchemaError::InvalidDocument {
                    document: i,
                    reason: "components.schemas is not an object".to_string(),
                })?;
            for (name, def) in defs {
                if !schemas.named.contains_key(name) {
                    let id = schemas.push(Node::Untyped);
                    schemas.named.insert(name.clone(), id);
                    definitions.push((name.clone(), def));
                }
            }
        }
        for (name, def) in &definitions {
            let id = schemas.named[name];
            let node = schemas.convert(def, name)?;
            schemas.nodes[id] = node;
            if let Some(gvks) = def
                .get("x-kubernetes-group-version-kind")
                .and_then(Value::as_array)
            {
                let has_status = def.pointer("/properties/status").is_some();
                for gvk in gvks {
                    let part =
                        |f: &str| gvk.get(f).and_then(Value::as_str).unwrap_or("").to_string();
                    let k = (part("group"), part("version"), part("kind"));
                    // `DeleteOptions`, `WatchEvent`, ... carry many GVKs; the kind's own
                    // definition wins when both exist.
                    if !schemas.kinds.contains_key(&k) || gvks.len() == 1 {
                        schemas.kinds.insert(k.clone(), id);
                        schemas.status_subresource.insert(k, has_status);
                    }
                }
            }
        }
        Ok(schemas)
    }

    /// Adds the `openAPIV3Schema` of one version of a custom resource definition. The
    /// `metadata` field gets the structure of `ObjectMeta` when a document defined it.
    /// The status subresource is assumed off; see [`Schemas::set_status_subresource`].
    pub fn add_crd_version(
        &mut self,
        group: &str,
        version: &str,
        kind: &str,
        schema: &Value,
    ) -> Result<(), SchemaError> {
        let gvk = format!("{group}/{version}/{kind}");
        if !schema.is_object() {
            return Err(SchemaError::InvalidSchema {
                kind: gvk,
                reason: "openAPIV3Schema is not an object".to_string(),
            });
        }
        let mut node = self.convert(schema, &gvk)?;
        if let Node::Map { fields, .. } = &mut node {
            let meta = self.named.get(OBJECT_META).copied().unwrap_or(UNTYPED);
            fields.insert(
                "metadata".to_string(),
                Field {
                    ty: meta,
                    patch_strategy: None,
                    merge_key: None,
                    default_empty: true,
                },
            );
            for f in ["apiVersion", "kind"] {
                fields.entry(f.to_string()).or_insert(Field {
                    ty: SCALAR,
                    patch_strategy: None,
                    merge_key: None,
                    default_empty: false,
                });
            }
        }
        let id = self.push(node);
        let k = (group.to_string(), version.to_string(), kind.to_string());
        self.kinds.insert(k.clone(), id);
        self.custom.insert(k.clone());
        self.status_subresource.insert(k, false);
        Ok(())
    }

    /// Says whether a kind has the status subresource: when it does, writes to the main
    /// resource do not own `status` (the server resets it), as the server does for built-in
    /// kinds with a `status` field and for custom resources with `subresources.status`.
    pub fn set_status_subresource(&mut self, gvk: &GroupVersionKind, enabled: bool) {
        self.status_subresource.insert(key(gvk), enabled);
    }

    /// Whether the kind has the status subresource.
    pub fn has_status_subresource(&self, gvk: &GroupVersionKind) -> bool {
        self.status_subresource
            .get(&key(gvk))
            .copied()
            .unwrap_or(false)
    }

    /// Whether the kind is a custom resource (added with [`Schemas::add_crd_version`]).
    pub fn is_custom(&self, gvk: &GroupVersionKind) -> bool {
        self.custom.contains(&key(gvk))
    }

    /// The root node of a kind, if known.
    pub fn kind(&self, gvk: &GroupVersionKind) -> Option<TypeId> {
        self.kinds.get(&key(gvk)).copied()
    }

    /// The root node of a kind, or [`UNTYPED`] when it is unknown.
    pub fn root(&self, gvk: &GroupVersionKind) -> TypeId {
        self.kind(gvk).unwrap_or(UNTYPED)
    }

    /// A node.
    pub fn node(&self, id: TypeId) -> &Node {
        self.nodes.get(id).unwrap_or(&Node::Untyped)
    }

    /// A named field of a map node.
    pub fn field(&self, id: TypeId, name: &str) -> Option<&Field> {
        match self.node(id) {
            Node::Map { fields, .. } => fields.get(name),
            _ => None,
        }
    }

    /// The type of a key of a map node (named field or element type); `None` when the key is
    /// not allowed. Untyped nodes give untyped children.
    pub fn child(&self, id: TypeId, name: &str) -> Option<TypeId> {
        match self.node(id) {
            Node::Map {
                fields, elements, ..
            } => fields.get(name).map(|f| f.ty).or(*elements),
            Node::Untyped => Some(UNTYPED),
            _ => None,
        }
    }

    /// The required fields missing from `object` (paths like `spec.selector`), empty when
    /// valid.
    pub fn missing_required(&self, gvk: &GroupVersionKind, object: &Value) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(root) = self.kind(gvk) {
            self.walk_required(root, object, "", &mut out, 0);
        }
        out
    }

    fn walk_required(
        &self,
        id: TypeId,
        v: &Value,
        path: &str,
        out: &mut Vec<String>,
        depth: usize,
    ) {
        if depth > 64 {
            return;
        }
        match (self.node(id), v) {
            (
                Node::Map {
                    fields, required, ..
                },
                Value::Object(m),
            ) => {
                for r in required {
                    if m.get(r).is_none_or(Value::is_null) {
                        out.push(join(path, r));
                    }
                }
                for (k, child) in m {
                    if let Some(f) = fields.get(k) {
                        self.walk_required(f.ty, child, &join(path, k), out, depth + 1);
                    }
                }
            }
            (Node::List { items, .. }, Value::Array(a)) => {
                for (i, child) in a.iter().enumerate() {
                    self.walk_required(*items, child, &format!("{path}[{i}]"), out, depth + 1);
                }
            }
            _ => {}
        }
    }

    fn push(&mut self, node: Node) -> TypeId {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    /// The type a (sub)schema refers to: a `$ref` (direct or as the single `allOf`), or an
    /// inline node.
    fn type_of(&mut self, s: &Value, at: &str) -> Result<TypeId, SchemaError> {
        if let Some(r) = reference(s) {
            let name = r.rsplit('/').next().unwrap_or(r);
            return self
                .named
                .get(name)
                .copied()
                .ok_or_else(|| SchemaError::UnresolvedRef {
                    reference: r.to_string(),
                    at: at.to_string(),
                });
        }
        let node = self.convert(s, at)?;
        Ok(match node {
            Node::Untyped => UNTYPED,
            Node::Scalar => SCALAR,
            n => self.push(n),
        })
    }

    fn convert(&mut self, s: &Value, at: &str) -> Result<Node, SchemaError> {
        if let Some(r) = reference(s) {
            // A definition that is only a reference: copy the referenced node when known.
            let name = r.rsplit('/').next().unwrap_or(r);
            let id = self
                .named
                .get(name)
                .copied()
                .ok_or_else(|| SchemaError::UnresolvedRef {
                    reference: r.to_string(),
                    at: at.to_string(),
                })?;
            return Ok(self.node(id).clone());
        }
        let preserve = s
            .get("x-kubernetes-preserve-unknown-fields")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if s.get("x-kubernetes-int-or-string").and_then(Value::as_bool) == Some(true)
            || s.get("format").and_then(Value::as_str) == Some("int-or-string")
            || s.get("oneOf").is_some()
            || s.get("anyOf").is_some() && s.get("type").is_none() && !preserve
        {
            return Ok(Node::Scalar);
        }
        let ty = s.get("type").and_then(Value::as_str);
        match ty {
            Some("array") => {
                let items = match s.get("items") {
                    Some(i) => self.type_of(i, at)?,
                    None => UNTYPED,
                };
                let list_type = match s.get("x-kubernetes-list-type").and_then(Value::as_str) {
                    Some("set") => ListType::Set,
                    Some("map") => {
                        let keys = s
                            .get("x-kubernetes-list-map-keys")
                            .and_then(Value::as_array)
                            .map(|a| {
                                a.iter()
                                    .filter_map(Value::as_str)
                                    .map(str::to_string)
                                    .collect::<Vec<_>>()
                            })
                            .unwrap_or_default();
                        if keys.is_empty() {
                            return Err(SchemaError::InvalidSchema {
                                kind: at.to_string(),
                                reason:
                                    "x-kubernetes-list-type map without x-kubernetes-list-map-keys"
                                        .to_string(),
                            });
                        }
                        ListType::Map(keys)
                    }
                    _ => ListType::Atomic,
                };
                Ok(Node::List { items, list_type })
            }
            Some("object") | None
                if s.get("properties").is_some()
                    || s.get("additionalProperties").is_some()
                    || ty.is_some() =>
            {
                let mut fields = BTreeMap::new();
                if let Some(props) = s.get("properties").and_then(Value::as_object) {
                    for (name, p) in props {
                        let fty = self.type_of(p, &format!("{at}.{name}"))?;
                        let text = |k: &str| p.get(k).and_then(Value::as_str).map(str::to_string);
                        fields.insert(
                            name.clone(),
                            Field {
                                ty: fty,
                                patch_strategy: text("x-kubernetes-patch-strategy"),
                                merge_key: text("x-kubernetes-patch-merge-key"),
                                default_empty: p
                                    .get("default")
                                    .is_some_and(|d| d.as_object().is_some_and(|o| o.is_empty())),
                            },
                        );
                    }
                }
                let elements = match s.get("additionalProperties") {
                    Some(Value::Bool(true)) => Some(UNTYPED),
                    Some(Value::Bool(false)) => None,
                    Some(a) => Some(self.type_of(a, &format!("{at}.*"))?),
                    None if preserve || fields.is_empty() => Some(UNTYPED),
                    None => None,
                };
                let atomic =
                    s.get("x-kubernetes-map-type").and_then(Value::as_str) == Some("atomic");
                let required = s
                    .get("required")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default();
                Ok(Node::Map {
                    fields,
                    elements,
                    atomic,
                    required,
                })
            }
            Some(_) => Ok(Node::Scalar),
            None => Ok(Node::Untyped),
        }
    }
}

/// The `$ref` of a schema, direct or as the single element of `allOf`.
fn reference(s: &Value) -> Option<&str> {
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        return Some(r);
    }
    let all = s.get("allOf")?.as_array()?;
    all.iter()
        .find_map(|a| a.get("$ref").and_then(Value::as_str))
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({"components": {"schemas": {
            "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": {"type": "object", "properties": {
                "name": {"type": "string"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "finalizers": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set", "x-kubernetes-patch-strategy": "merge"}
            }},
            "x.Thing": {"type": "object", "required": ["spec"], "properties": {
                "metadata": {"default": {}, "allOf": [{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}]},
                "spec": {"allOf": [{"$ref": "#/components/schemas/x.Spec"}]}
            }, "x-kubernetes-group-version-kind": [{"group": "x", "version": "v1", "kind": "Thing"}]},
            "x.Spec": {"type": "object", "required": ["items"], "properties": {
                "items": {"type": "array", "items": {"allOf": [{"$ref": "#/components/schemas/x.Item"}]},
                    "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                    "x-kubernetes-patch-strategy": "merge", "x-kubernetes-patch-merge-key": "name"},
                "count": {"type": "integer"}
            }},
            "x.Item": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}
        }}})
    }

    #[test]
    fn reads_refs_list_types_and_required() {
        let s = Schemas::from_openapi_v3(&[doc()]).unwrap();
        let gvk = GroupVersionKind::new("x", "v1", "Thing");
        let root = s.kind(&gvk).unwrap();
        let spec = s.child(root, "spec").unwrap();
        let items = s.field(spec, "items").unwrap();
        assert_eq!(items.merge_key.as_deref(), Some("name"));
        match s.node(items.ty) {
            Node::List { list_type, .. } => {
                assert_eq!(list_type, &ListType::Map(vec!["name".into()]))
            }
            n => panic!("{n:?}"),
        }
        assert!(s.field(root, "metadata").unwrap().default_empty);
        assert_eq!(
            s.missing_required(&gvk, &json!({})),
            vec!["spec".to_string()]
        );
        assert_eq!(
            s.missing_required(&gvk, &json!({"spec": {"items": [{"name": "a"}, {}]}})),
            vec!["spec.items[1].name".to_string()]
        );
        assert!(s
            .missing_required(&gvk, &json!({"spec": {"items": []}}))
            .is_empty());
    }

    #[test]
    fn unresolved_ref_is_an_error() {
        let d = json!({"components": {"schemas": {"a": {"allOf": [{"$ref": "#/components/schemas/b"}]}}}});
        assert!(matches!(
            Schemas::from_openapi_v3(&[d]),
            Err(SchemaError::UnresolvedRef { .. })
        ));
    }

    #[test]
    fn crd_schema_gets_object_meta_and_preserves_unknown() {
        let mut s = Schemas::from_openapi_v3(&[doc()]).unwrap();
        s.add_crd_version("e.io", "v1", "Widget", &json!({"type": "object", "properties": {
            "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {"a": {"type": "string"}}}
        }})).unwrap();
        let gvk = GroupVersionKind::new("e.io", "v1", "Widget");
        assert!(s.is_custom(&gvk));
        let root = s.root(&gvk);
        let meta = s.child(root, "metadata").unwrap();
        assert!(s.field(meta, "labels").is_some());
        let spec = s.child(root, "spec").unwrap();
        assert_eq!(s.child(spec, "other"), Some(UNTYPED));
    }
}
