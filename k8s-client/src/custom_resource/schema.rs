//! Structural OpenAPI v3 schemas of Rust types: the [`JsonSchema`] trait, its impls for the
//! standard and Kubernetes types that specs are made of, and the helpers the derive's code
//! calls.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool, ValidationRule, JSON,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    Condition, LabelSelector, LabelSelectorRequirement, MicroTime, Time,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// A type whose JSON form has a *structural* OpenAPI v3 schema (every node typed, no
/// `$ref`, junctors only constraining what is declared outside them), as
/// CustomResourceDefinitions require.
///
/// Derive it with `#[derive(JsonSchema)]` (feature `derive`), which follows the type's serde
/// attributes; implement it by hand for a type serialized some other way.
///
/// ```
/// use k8s_client::custom_resource::JsonSchema;
///
/// struct Port(u16);
///
/// impl JsonSchema for Port {
///     fn schema() -> k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps {
///         let mut s = u16::schema();
///         s.minimum = Some(1.0);
///         s
///     }
/// }
///
/// assert_eq!(Port::schema().type_.as_deref(), Some("integer"));
/// assert_eq!(Option::<Port>::schema().nullable, Some(true));
/// assert!(Option::<Port>::OPTIONAL);
/// ```
pub trait JsonSchema {
    /// Whether a field of this type may be absent, so that it is not `required` (true for
    /// `Option`).
    const OPTIONAL: bool = false;

    /// The schema of the values of this type.
    fn schema() -> JSONSchemaProps;
}

fn typed(type_: &str) -> JSONSchemaProps {
    JSONSchemaProps {
        type_: Some(type_.to_string()),
        ..Default::default()
    }
}

fn formatted(type_: &str, format: &str) -> JSONSchemaProps {
    JSONSchemaProps {
        format: Some(format.to_string()),
        ..typed(type_)
    }
}

impl JsonSchema for String {
    fn schema() -> JSONSchemaProps {
        typed("string")
    }
}

impl JsonSchema for str {
    fn schema() -> JSONSchemaProps {
        typed("string")
    }
}

impl JsonSchema for bool {
    fn schema() -> JSONSchemaProps {
        typed("boolean")
    }
}

macro_rules! integers {
    ($($t:ty => $format:literal, $unsigned:literal;)*) => {$(
        impl JsonSchema for $t {
            fn schema() -> JSONSchemaProps {
                let mut s = formatted("integer", $format);
                if $unsigned {
                    s.minimum = Some(0.0);
                }
                s
            }
        }
    )*};
}

integers! {
    i8 => "int32", false; i16 => "int32", false; i32 => "int32", false;
    i64 => "int64", false; isize => "int64", false;
    u8 => "int32", true; u16 => "int32", true; u32 => "int64", true;
    u64 => "int64", true; usize => "int64", true;
}

impl JsonSchema for f32 {
    fn schema() -> JSONSchemaProps {
        formatted("number", "float")
    }
}

impl JsonSchema for f64 {
    fn schema() -> JSONSchemaProps {
        formatted("number", "double")
    }
}

impl<T: JsonSchema> JsonSchema for Option<T> {
    const OPTIONAL: bool = true;

    fn schema() -> JSONSchemaProps {
        JSONSchemaProps {
            nullable: Some(true),
            ..T::schema()
        }
    }
}

impl<T: JsonSchema + ?Sized> JsonSchema for Box<T> {
    const OPTIONAL: bool = T::OPTIONAL;
    fn schema() -> JSONSchemaProps {
        T::schema()
    }
}

impl<T: JsonSchema + ?Sized> JsonSchema for Arc<T> {
    const OPTIONAL: bool = T::OPTIONAL;
    fn schema() -> JSONSchemaProps {
        T::schema()
    }
}

fn array_of<T: JsonSchema>() -> JSONSchemaProps {
    JSONSchemaProps {
        items: Some(JSONSchemaPropsOrArray::Schema(Box::new(T::schema()))),
        ..typed("array")
    }
}

impl<T: JsonSchema> JsonSchema for Vec<T> {
    fn schema() -> JSONSchemaProps {
        array_of::<T>()
    }
}

impl<T: JsonSchema> JsonSchema for [T] {
    fn schema() -> JSONSchemaProps {
        array_of::<T>()
    }
}

/// Sets are lists of `x-kubernetes-list-type: set` (their items must be scalars).
impl<T: JsonSchema> JsonSchema for BTreeSet<T> {
    fn schema() -> JSONSchemaProps {
        JSONSchemaProps {
            x_kubernetes_list_type: Some("set".into()),
            ..array_of::<T>()
        }
    }
}

/// Sets are lists of `x-kubernetes-list-type: set` (their items must be scalars).
impl<T: JsonSchema, S> JsonSchema for HashSet<T, S> {
    fn schema() -> JSONSchemaProps {
        BTreeSet::<T>::schema()
    }
}

fn map_of<V: JsonSchema>() -> JSONSchemaProps {
    JSONSchemaProps {
        additional_properties: Some(JSONSchemaPropsOrBool::Schema(Box::new(V::schema()))),
        ..typed("object")
    }
}

/// Maps are objects with `additionalProperties` (their keys must serialize as strings).
impl<K, V: JsonSchema> JsonSchema for BTreeMap<K, V> {
    fn schema() -> JSONSchemaProps {
        map_of::<V>()
    }
}

/// Maps are objects with `additionalProperties` (their keys must serialize as strings).
impl<K, V: JsonSchema, S> JsonSchema for HashMap<K, V, S> {
    fn schema() -> JSONSchemaProps {
        map_of::<V>()
    }
}

/// Any JSON value: `x-kubernetes-preserve-unknown-fields`, so the server keeps it whole.
impl JsonSchema for serde_json::Value {
    fn schema() -> JSONSchemaProps {
        JSONSchemaProps {
            x_kubernetes_preserve_unknown_fields: Some(true),
            ..Default::default()
        }
    }
}

/// Any JSON object, kept whole.
impl JsonSchema for serde_json::Map<String, serde_json::Value> {
    fn schema() -> JSONSchemaProps {
        JSONSchemaProps {
            x_kubernetes_preserve_unknown_fields: Some(true),
            ..typed("object")
        }
    }
}

fn int_or_string() -> JSONSchemaProps {
    JSONSchemaProps {
        x_kubernetes_int_or_string: Some(true),
        ..Default::default()
    }
}

/// A quantity (`"500m"`, `2`): `x-kubernetes-int-or-string`.
impl JsonSchema for Quantity {
    fn schema() -> JSONSchemaProps {
        int_or_string()
    }
}

impl JsonSchema for IntOrString {
    fn schema() -> JSONSchemaProps {
        int_or_string()
    }
}

impl JsonSchema for Time {
    fn schema() -> JSONSchemaProps {
        formatted("string", "date-time")
    }
}

impl JsonSchema for MicroTime {
    fn schema() -> JSONSchemaProps {
        formatted("string", "date-time")
    }
}

fn object_of(fields: &[(&str, JSONSchemaProps, bool)]) -> JSONSchemaProps {
    let mut o = object(None);
    for (name, schema, required) in fields {
        insert(&mut o, name, schema.clone(), *required);
    }
    o
}

/// The standard status condition (`metav1.Condition`), as Kubernetes' own types declare it.
impl JsonSchema for Condition {
    fn schema() -> JSONSchemaProps {
        let limited = |max: i64| JSONSchemaProps {
            max_length: Some(max),
            ..typed("string")
        };
        let status = JSONSchemaProps {
            enum_: Some(["True", "False", "Unknown"].map(|s| JSON(s.into())).into()),
            ..typed("string")
        };
        let mut generation = i64::schema();
        generation.minimum = Some(0.0);
        object_of(&[
            ("type", limited(316), true),
            ("status", status, true),
            ("observedGeneration", generation, false),
            ("lastTransitionTime", Time::schema(), true),
            ("reason", limited(1024), true),
            ("message", limited(32768), true),
        ])
    }
}

impl JsonSchema for LabelSelectorRequirement {
    fn schema() -> JSONSchemaProps {
        let mut values = Vec::<String>::schema();
        values.x_kubernetes_list_type = Some("atomic".into());
        object_of(&[
            ("key", String::schema(), true),
            ("operator", String::schema(), true),
            ("values", values, false),
        ])
    }
}

impl JsonSchema for LabelSelector {
    fn schema() -> JSONSchemaProps {
        let mut expressions = Vec::<LabelSelectorRequirement>::schema();
        expressions.x_kubernetes_list_type = Some("atomic".into());
        let mut s = object_of(&[
            ("matchExpressions", expressions, false),
            ("matchLabels", BTreeMap::<String, String>::schema(), false),
        ]);
        s.x_kubernetes_map_type = Some("atomic".into());
        s
    }
}

// ---- Helpers called by the code `#[derive(JsonSchema)]` generates. ----

/// An object schema with no properties yet.
pub fn object(description: Option<&str>) -> JSONSchemaProps {
    JSONSchemaProps {
        description: description.map(str::to_string),
        properties: Some(BTreeMap::new()),
        ..typed("object")
    }
}

/// Sets the description (when there is one).
pub fn describe(schema: &mut JSONSchemaProps, description: Option<&str>) {
    if let Some(d) = description {
        schema.description = Some(d.to_string());
    }
}

fn insert(parent: &mut JSONSchemaProps, name: &str, schema: JSONSchemaProps, required: bool) {
    parent
        .properties
        .get_or_insert_with(BTreeMap::new)
        .insert(name.to_string(), schema);
    if required {
        let list = parent.required.get_or_insert_with(Vec::new);
        if !list.iter().any(|r| r == name) {
            list.push(name.to_string());
        }
    }
}

/// Adds the property `name` of type `T`; required when `may_require` (no serde default or
/// skip condition) and `T` is not optional.
pub fn property<T: JsonSchema + ?Sized>(
    parent: &mut JSONSchemaProps,
    name: &str,
    may_require: bool,
    description: Option<&str>,
    edit: impl FnOnce(&mut JSONSchemaProps),
) {
    let mut schema = T::schema();
    describe(&mut schema, description);
    edit(&mut schema);
    insert(parent, name, schema, may_require && !T::OPTIONAL);
}

/// Adds the property `name` with a schema given by `#[schema(with = ...)]`.
pub fn property_with(
    parent: &mut JSONSchemaProps,
    name: &str,
    required: bool,
    mut schema: JSONSchemaProps,
    description: Option<&str>,
    edit: impl FnOnce(&mut JSONSchemaProps),
) {
    describe(&mut schema, description);
    edit(&mut schema);
    insert(parent, name, schema, required);
}

/// Merges the properties of a `#[serde(flatten)]` field of type `T` into `parent`; a
/// flattened map (or anything without properties) keeps unknown fields instead.
pub fn flatten<T: JsonSchema + ?Sized>(parent: &mut JSONSchemaProps, may_require: bool) {
    let inner = T::schema();
    match inner.properties {
        Some(properties) if inner.additional_properties.is_none() => {
            let required = inner.required.unwrap_or_default();
            for (name, schema) in properties {
                let req = may_require && !T::OPTIONAL && required.contains(&name);
                insert(parent, &name, schema, req);
            }
            if let Some(rules) = inner.x_kubernetes_validations {
                parent
                    .x_kubernetes_validations
                    .get_or_insert_with(Vec::new)
                    .extend(rules);
            }
        }
        _ => parent.x_kubernetes_preserve_unknown_fields = Some(true),
    }
}

/// Appends a CEL rule to `x-kubernetes-validations`.
pub fn push_rule(schema: &mut JSONSchemaProps, rule: ValidationRule) {
    schema
        .x_kubernetes_validations
        .get_or_insert_with(Vec::new)
        .push(rule);
}

/// A string that is one of `values` (an enum of unit variants).
pub fn string_enum(description: Option<&str>, values: &[&str]) -> JSONSchemaProps {
    JSONSchemaProps {
        description: description.map(str::to_string),
        enum_: Some(values.iter().map(|v| JSON((*v).into())).collect()),
        ..typed("string")
    }
}

/// An externally tagged enum with data: an object with one property per variant, exactly
/// one of which is present (`oneOf` of `required`, which is structural).
pub fn externally_tagged(
    description: Option<&str>,
    variants: Vec<(&str, JSONSchemaProps)>,
) -> JSONSchemaProps {
    let mut o = object(description);
    let mut one_of = Vec::new();
    for (name, schema) in variants {
        insert(&mut o, name, schema, false);
        one_of.push(JSONSchemaProps {
            required: Some(vec![name.to_string()]),
            ..Default::default()
        });
    }
    o.one_of = Some(one_of);
    o
}

/// An internally tagged enum: an object with the tag property (an enum of the variant
/// names) and the properties of every variant; one `oneOf` branch per variant pins the tag
/// and requires that variant's required properties. A property declared by several variants
/// takes the first variant's schema.
pub fn internally_tagged(
    description: Option<&str>,
    tag: &str,
    variants: Vec<(&str, Option<JSONSchemaProps>)>,
) -> JSONSchemaProps {
    let mut o = object(description);
    let names: Vec<&str> = variants.iter().map(|(n, _)| *n).collect();
    insert(&mut o, tag, string_enum(None, &names), true);
    let mut one_of = Vec::new();
    let mut any_required = false;
    for (name, schema) in variants {
        let mut required = vec![tag.to_string()];
        if let Some(schema) = schema {
            let variant_required = schema.required.unwrap_or_default();
            for (prop, prop_schema) in schema.properties.unwrap_or_default() {
                if prop == tag {
                    continue;
                }
                let props = o.properties.get_or_insert_with(BTreeMap::new);
                props.entry(prop).or_insert(prop_schema);
            }
            any_required |= !variant_required.is_empty();
            required.extend(variant_required);
        }
        let mut pin = BTreeMap::new();
        pin.insert(
            tag.to_string(),
            JSONSchemaProps {
                enum_: Some(vec![JSON(name.into())]),
                ..Default::default()
            },
        );
        one_of.push(JSONSchemaProps {
            properties: Some(pin),
            required: Some(required),
            ..Default::default()
        });
    }
    if any_required {
        o.one_of = Some(one_of);
    }
    o
}
