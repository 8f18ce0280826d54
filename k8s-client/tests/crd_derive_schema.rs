//! The schemas `#[derive(CustomResource)]` and `#[derive(JsonSchema)]` generate, without a
//! server: a snapshot of the CRD of a representative resource (every serde attribute and
//! `#[schema]` key the derive reads), and the rules in isolation. That the server accepts
//! these schemas and enforces them is `crd_derive.rs`.

use std::collections::{BTreeMap, HashSet};

use k8s_client::custom_resource::{merge_crds, CrdMergeError, JsonSchema};
use k8s_client::CustomResource;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::Resource as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// A representative spec.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[resource(
    group = "snapshot.example.com",
    version = "v1",
    kind = "Snapshot",
    namespaced,
    status = "SnapshotStatus",
    shortname = "snap",
    shortname = "sn",
    category = "all",
    printcolumn(name = "Replicas", type = "integer", json_path = ".spec.replicas"),
    printcolumn(
        name = "Ready",
        type = "boolean",
        json_path = ".status.ready",
        description = "Whether it is ready",
        priority = 1
    ),
    scale(
        spec_replicas_path = ".spec.replicas",
        status_replicas_path = ".status.replicas",
        label_selector_path = ".status.selector"
    ),
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
#[schema(validation(
    rule = "self.replicas <= self.maxReplicas",
    message = "replicas above maxReplicas",
    reason = "FieldValueInvalid",
    field_path = ".replicas"
))]
pub struct SnapshotSpec {
    /// How many copies.
    #[schema(minimum = 1, maximum = 10)]
    pub replicas: i32,
    #[serde(default = "ten")]
    pub max_replicas: i32,
    #[schema(pattern = "^[a-z]+$", min_length = 1, max_length = 20)]
    pub r#type: String,
    pub comment: Option<String>,
    #[serde(rename = "IMAGE")]
    pub image: String,
    #[serde(skip)]
    pub cache: u8,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    #[schema(list_type = "map", list_map_keys = "name, protocol", max_items = 8)]
    pub ports: Vec<Port>,
    pub tags: HashSet<String>,
    pub labels: BTreeMap<String, String>,
    pub config: Value,
    #[serde(flatten)]
    pub extra: Extra,
    pub policy: Policy,
    pub source: Source,
    pub backend: Backend,
    pub size: Quantity,
    pub port: IntOrString,
    pub since: Option<Time>,
    pub weight: f64,
    pub unsigned: u64,
    pub boxed: Box<Inner>,
    pub id: Id,
    #[schema(with = "any_string")]
    pub custom: Opaque,
}

fn ten() -> i32 {
    10
}

fn any_string() -> JSONSchemaProps {
    JSONSchemaProps {
        type_: Some("string".into()),
        format: Some("byte".into()),
        ..Default::default()
    }
}

/// A type with no `JsonSchema` impl, given its schema by `with`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Opaque(String);

#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Port {
    pub name: String,
    /// List-map keys must be required (or defaulted by the schema).
    pub protocol: String,
    pub number: u16,
}

#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct Extra {
    pub extra_field: bool,
    pub extra_optional: Option<bool>,
}

/// How updates roll out.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Policy {
    RollingUpdate,
    Recreate,
    #[serde(rename = "never")]
    Never,
    #[serde(skip)]
    #[allow(dead_code)]
    Internal,
}

/// Externally tagged with data.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Source {
    Git {
        repo_url: String,
        branch: Option<String>,
    },
    Image(String),
}

/// Internally tagged.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "kind")]
pub enum Backend {
    Memory,
    Disk { path: String, size_gb: Option<u32> },
    Remote(Inner),
}

#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[schema(validation(rule = "size(self.url) > 0"))]
pub struct Inner {
    pub url: String,
}

/// A newtype: serialized as its content.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Id(#[schema(format = "uuid")] String);

#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct SnapshotStatus {
    pub replicas: i32,
    pub ready: bool,
    pub selector: Option<String>,
    #[serde(default)]
    #[schema(list_type = "map", list_map_keys = "type")]
    pub conditions: Vec<Condition>,
}

const FIXTURE: &str = "tests/fixtures/crd_derive/snapshot_crd.json";

#[test]
fn crd_matches_the_snapshot() {
    let crd = serde_json::to_value(Snapshot::crd()).unwrap();
    let pretty = serde_json::to_string_pretty(&crd).unwrap();
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(FIXTURE).unwrap_or_else(|e| panic!("{FIXTURE}: {e}")),
    )
    .unwrap();
    assert!(
        crd == expected,
        "the generated CRD differs from {FIXTURE}; if the change is intended, write this \
         there:\n{pretty}"
    );
}

fn spec_schema() -> Value {
    let crd = serde_json::to_value(Snapshot::crd()).unwrap();
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"].clone()
}

#[test]
fn serde_attributes_are_honoured() {
    let spec = spec_schema();
    let props = spec["properties"].as_object().unwrap();
    // rename_all, rename, raw identifiers, flatten (kebab-case inside), skip.
    for name in [
        "replicas",
        "maxReplicas",
        "type",
        "IMAGE",
        "extra-field",
        "extra-optional",
    ] {
        assert!(
            props.contains_key(name),
            "{name} missing: {:?}",
            props.keys()
        );
    }
    assert!(!props.contains_key("cache"));
    assert!(!props.contains_key("extra"));
    // Required: neither Option, nor default, nor skip_serializing_if.
    let required: Vec<&str> = spec["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(required.contains(&"replicas") && required.contains(&"IMAGE"));
    assert!(required.contains(&"extra-field"));
    for optional in ["maxReplicas", "comment", "ports", "extra-optional", "since"] {
        assert!(!required.contains(&optional), "{optional} is required");
    }
    assert_eq!(props["comment"]["nullable"], true);
    assert_eq!(props["replicas"]["description"], "How many copies.");
    assert_eq!(
        props["policy"]["enum"],
        json!(["ROLLING_UPDATE", "RECREATE", "never"])
    );
    assert_eq!(
        props["source"]["oneOf"],
        json!([{"required": ["git"]}, {"required": ["image"]}])
    );
    assert_eq!(
        props["source"]["properties"]["git"]["properties"]["repoUrl"]["type"],
        "string"
    );
    assert_eq!(
        props["backend"]["properties"]["kind"]["enum"],
        json!(["Memory", "Disk", "Remote"])
    );
    assert_eq!(
        props["id"],
        json!({"type": "string", "format": "uuid", "description": "A newtype: serialized as its content."})
    );
    assert_eq!(props["custom"], json!({"type": "string", "format": "byte"}));
    assert_eq!(
        props["config"],
        json!({"x-kubernetes-preserve-unknown-fields": true})
    );
    assert_eq!(props["size"], json!({"x-kubernetes-int-or-string": true}));
    assert_eq!(props["tags"]["x-kubernetes-list-type"], "set");
    assert_eq!(props["unsigned"]["minimum"], 0.0);
    assert_eq!(
        props["ports"]["x-kubernetes-list-map-keys"],
        json!(["name", "protocol"])
    );
}

#[test]
fn the_resource_type_is_complete() {
    assert_eq!(Snapshot::API_VERSION, "snapshot.example.com/v1");
    assert_eq!(Snapshot::URL_PATH_SEGMENT, "snapshots");
    let crd = Snapshot::crd();
    assert_eq!(
        crd.metadata.name.as_deref(),
        Some("snapshots.snapshot.example.com")
    );
    assert_eq!(crd.spec.scope, "Namespaced");
    let inner = Inner::default();
    assert_eq!(
        <Inner as JsonSchema>::schema()
            .x_kubernetes_validations
            .unwrap()[0]
            .rule,
        "size(self.url) > 0"
    );
    drop(inner);
}

mod v1 {
    use super::*;

    #[derive(CustomResource, Serialize, Deserialize, Clone, Debug)]
    #[resource(group = "merge.example.com", version = "v1", kind = "Thing")]
    pub struct ThingSpec {
        pub size: i64,
    }
}

mod v2 {
    use super::*;

    #[derive(CustomResource, Serialize, Deserialize, Clone, Debug)]
    #[resource(
        group = "merge.example.com",
        version = "v2",
        kind = "Thing",
        storage = false,
        deprecated,
        deprecation_warning = "use v1"
    )]
    pub struct ThingSpec {
        pub size: String,
    }
}

mod v3 {
    use super::*;

    #[derive(CustomResource, Serialize, Deserialize, Clone, Debug)]
    #[resource(
        group = "merge.example.com",
        version = "v3",
        kind = "Thing",
        namespaced
    )]
    pub struct ThingSpec {
        pub size: String,
    }
}

#[test]
fn versions_merge_into_one_crd() {
    let merged = merge_crds(vec![v1::Thing::crd(), v2::Thing::crd()], "v2").unwrap();
    let versions: Vec<_> = merged
        .spec
        .versions
        .iter()
        .map(|v| (v.name.as_str(), v.storage, v.deprecated))
        .collect();
    assert_eq!(versions, [("v1", false, None), ("v2", true, Some(true))]);
    assert_eq!(merged.spec.scope, "Cluster");

    let err = merge_crds(vec![v1::Thing::crd(), v1::Thing::crd()], "v1").unwrap_err();
    assert!(
        matches!(err, CrdMergeError::DuplicateVersion(ref v) if v == "v1"),
        "{err}"
    );
    let err = merge_crds(vec![v1::Thing::crd(), v2::Thing::crd()], "v9").unwrap_err();
    assert!(err.to_string().contains("\"v9\""), "{err}");
    let err = merge_crds(vec![v1::Thing::crd(), v3::Thing::crd()], "v1").unwrap_err();
    assert!(err.to_string().contains("scope"), "{err}");
    assert!(matches!(
        merge_crds(vec![], "v1"),
        Err(CrdMergeError::Empty)
    ));
}

#[test]
fn serde_round_trip_of_the_resource() {
    let mut t = v1::Thing::new("t", v1::ThingSpec { size: 3 });
    t.metadata.namespace = None;
    let json = serde_json::to_value(&t).unwrap();
    assert_eq!(
        json,
        json!({"apiVersion": "merge.example.com/v1", "kind": "Thing",
               "metadata": {"name": "t"}, "spec": {"size": 3}})
    );
    let back: v1::Thing = serde_json::from_value(json).unwrap();
    assert_eq!(back.spec.size, 3);
    let err = serde_json::from_value::<v1::Thing>(
        json!({"apiVersion": "merge.example.com/v2", "kind": "Thing", "spec": {"size": 3}}),
    )
    .unwrap_err();
    assert!(err.to_string().contains("apiVersion"), "{err}");
}

/// A facade re-exporting k8s-client under another path.
mod facade {
    pub use k8s_client as kube_stack;
}

mod through_facade {
    use super::facade::kube_stack::custom_resource::JsonSchema;
    use super::facade::kube_stack::CustomResource;
    use serde::{Deserialize, Serialize};

    #[derive(CustomResource, Serialize, Deserialize, Clone, Debug)]
    #[resource(
        group = "facade.example.com",
        version = "v1",
        kind = "Relay",
        crate = "crate::facade::kube_stack"
    )]
    pub struct RelaySpec {
        pub target: Target,
    }

    #[derive(JsonSchema, Serialize, Deserialize, Clone, Debug)]
    #[schema(crate = "crate::facade::kube_stack")]
    pub struct Target {
        pub host: String,
    }
}

#[test]
fn the_crate_path_can_be_overridden() {
    let crd = through_facade::Relay::crd();
    let schema = serde_json::to_value(&crd.spec.versions[0].schema).unwrap();
    assert_eq!(
        schema["openAPIV3Schema"]["properties"]["spec"]["properties"]["target"]["required"],
        json!(["host"])
    );
}
