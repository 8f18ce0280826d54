//! `#[derive(CustomResource)]` against the real control plane: the generated CRDs are
//! accepted (the server refuses non-structural schemas), a full object comes back unchanged
//! (nothing pruned), the generated validation is enforced (bounds, pattern, CEL rule,
//! required fields), server-side apply merges a list-map by key (and replaces an atomic
//! list), and two versions with one storage version both serve the same object. Each CRD is
//! deleted at the end (also when a test fails).

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_client::api::{Api, Patch, PatchParams, PostParams};
use k8s_client::custom_resource::{merge_crds, JsonSchema};
use k8s_client::runtime::crd;
use k8s_client::{Client, CustomResource};
use k8s_client_testsupport as ts;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::{Deserialize, Serialize};
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(30);
const MANAGER: &str = "crd-derive-test";

/// A website served by a Deployment.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[resource(
    group = "derive.k8s-client.test",
    version = "v1",
    kind = "Website",
    namespaced,
    status = "WebsiteStatus",
    shortname = "ws",
    category = "k8s-client-test",
    printcolumn(name = "Replicas", type = "integer", json_path = ".spec.replicas"),
    printcolumn(
        name = "Image",
        type = "string",
        json_path = ".spec.image",
        priority = 1
    ),
    scale(
        spec_replicas_path = ".spec.replicas",
        status_replicas_path = ".status.replicas"
    ),
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
#[schema(validation(
    rule = "self.replicas <= self.maxReplicas",
    message = "replicas must not exceed maxReplicas"
))]
pub struct WebsiteSpec {
    /// The image serving the site.
    #[schema(pattern = "^[a-z0-9./:-]+$", min_length = 1)]
    pub image: String,
    #[schema(minimum = 0, maximum = 10)]
    pub replicas: i32,
    #[serde(default = "default_max")]
    pub max_replicas: i32,
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(list_type = "map", list_map_keys = "name")]
    pub env: Vec<EnvVar>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(list_type = "atomic")]
    pub hosts: Vec<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub tls: Option<Tls>,
    pub source: Source,
    pub cache: Cache,
    pub policy: Policy,
    pub memory: Option<Quantity>,
    pub port: Option<IntOrString>,
    /// Free-form settings, kept whole.
    pub settings: Option<serde_json::Value>,
    #[serde(flatten)]
    pub extra: Extra,
}

fn default_max() -> i32 {
    10
}

#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct EnvVar {
    pub name: String,
    pub value: Option<String>,
}

#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Tls {
    pub secret_name: String,
    #[serde(default)]
    pub redirect: bool,
}

/// Where the content comes from (externally tagged).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Source {
    Git {
        repo_url: String,
        revision: Option<String>,
    },
    Bucket(String),
}

/// The cache (internally tagged).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Cache {
    None,
    Memory { size_mb: u32 },
    Redis(Redis),
}

#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Redis {
    pub address: String,
}

#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
pub enum Policy {
    Always,
    Never,
}

#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Extra {
    pub owner_team: String,
}

#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WebsiteStatus {
    pub replicas: i32,
    pub last_updated: Option<Time>,
    #[serde(default)]
    #[schema(list_type = "map", list_map_keys = "type")]
    pub conditions: Vec<Condition>,
}

fn full_spec() -> WebsiteSpec {
    WebsiteSpec {
        image: "nginx:1.27".into(),
        replicas: 3,
        max_replicas: 5,
        title: Some("Blog".into()),
        env: vec![
            EnvVar {
                name: "A".into(),
                value: Some("1".into()),
            },
            EnvVar {
                name: "B".into(),
                value: None,
            },
        ],
        hosts: vec!["a.example.com".into(), "b.example.com".into()],
        labels: [("tier".to_string(), "web".to_string())].into(),
        tls: Some(Tls {
            secret_name: "cert".into(),
            redirect: true,
        }),
        source: Source::Git {
            repo_url: "https://example.com/site.git".into(),
            revision: None,
        },
        cache: Cache::Memory { size_mb: 64 },
        policy: Policy::Always,
        memory: Some(Quantity("128Mi".into())),
        port: Some(IntOrString::Int(8080)),
        settings: Some(json!({"nested": {"deep": [1, "two", {"three": null}]}, "flag": true})),
        extra: Extra {
            owner_team: "web".into(),
        },
    }
}

async fn fast_client() -> Client {
    let mut config = ts::config("admin").await;
    config.rate_limit = None;
    Client::try_from(config).unwrap()
}

/// Installs `def` (deleting it when the guard drops).
async fn install(
    client: &Client,
    def: &CustomResourceDefinition,
) -> ts::DeleteOnDrop<CustomResourceDefinition> {
    let mut guard = ts::DeleteOnDrop::new(client.config());
    guard.add(def.metadata.name.as_deref().unwrap());
    crd::apply(client, def, MANAGER, TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("the generated CRD was refused: {e}"));
    guard
}

/// The `Website` CRD is installed once (its name is fixed by the type) for the three checks
/// that use it, which run concurrently, each in its own namespace.
#[tokio::test]
async fn website_crd_on_the_server() {
    let client = fast_client().await;
    let _crd = install(&client, &Website::crd()).await;
    futures::join!(
        objects_round_trip(&client),
        generated_validation_is_enforced(&client),
        server_side_apply_merges_list_maps_by_key(&client),
        non_structural_schemas_are_refused(&client),
    );
}

/// The control: the same CRD with one untyped property (not structural) is refused, so the
/// acceptance above means the generated schema is structural.
async fn non_structural_schemas_are_refused(client: &Client) {
    let mut def = Website::crd();
    let group = "nonstructural.k8s-client.test";
    def.metadata.name = Some(format!("websites.{group}"));
    def.spec.group = group.into();
    let root = def.spec.versions[0]
        .schema
        .as_mut()
        .and_then(|s| s.open_api_v3_schema.as_mut())
        .unwrap();
    let spec = root.properties.as_mut().unwrap().get_mut("spec").unwrap();
    spec.properties
        .as_mut()
        .unwrap()
        .get_mut("image")
        .unwrap()
        .type_ = None;
    let err = Api::<CustomResourceDefinition>::all(client.clone())
        .create(&PostParams::default().dry_run(), &def)
        .await
        .unwrap_err();
    assert!(
        err.is_invalid()
            && err
                .to_string()
                .contains("properties[spec].properties[image].type"),
        "{err}"
    );
}

/// The generated CRD was accepted (structural); objects come back unchanged.
async fn objects_round_trip(client: &Client) {
    let ns = ts::namespace("crd-derive-rt").await;
    let api: Api<Website> = Api::namespaced(client.clone(), &ns.name);

    // Every field set: what comes back is what was sent (no field pruned, no default
    // injected, enums and free-form JSON intact).
    let site = Website::new("full", full_spec());
    let created = api.create(&PostParams::default(), &site).await.unwrap();
    assert_eq!(created.spec, site.spec);
    assert_eq!(api.get("full").await.unwrap().spec, site.spec);

    // The other enum variants and the minimal object (optional fields absent, defaults
    // filled by serde on read).
    let mut minimal = full_spec();
    minimal.title = None;
    minimal.env.clear();
    minimal.hosts.clear();
    minimal.labels.clear();
    minimal.tls = None;
    minimal.source = Source::Bucket("s3://site".into());
    minimal.cache = Cache::Redis(Redis {
        address: "redis:6379".into(),
    });
    minimal.policy = Policy::Never;
    minimal.memory = None;
    minimal.port = Some(IntOrString::String("http".into()));
    minimal.settings = None;
    let created = api
        .create(
            &PostParams::default(),
            &Website::new("minimal", minimal.clone()),
        )
        .await
        .unwrap();
    assert_eq!(created.spec, minimal);
    let mut none_cache = minimal.clone();
    none_cache.cache = Cache::None;
    let created = api
        .create(
            &PostParams::default(),
            &Website::new("nocache", none_cache.clone()),
        )
        .await
        .unwrap();
    assert_eq!(created.spec, none_cache);

    // The status subresource round-trips too (conditions with their required fields).
    let status = WebsiteStatus {
        replicas: 3,
        last_updated: Some(Time(jiff_now())),
        conditions: vec![Condition {
            type_: "Ready".into(),
            status: "True".into(),
            reason: "Serving".into(),
            message: "all replicas serve".into(),
            last_transition_time: Time(jiff_now()),
            observed_generation: Some(1),
        }],
    };
    let patched = api
        .patch_status(
            "full",
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": status })),
        )
        .await
        .unwrap();
    assert_eq!(patched.status.as_ref(), Some(&status));
    assert_eq!(patched.spec, site.spec);
}

fn jiff_now() -> k8s_openapi::jiff::Timestamp {
    // Whole seconds: the server keeps RFC 3339 times at second precision.
    let now = k8s_openapi::jiff::Timestamp::now();
    k8s_openapi::jiff::Timestamp::from_second(now.as_second()).unwrap()
}

/// The server's answer to `body` applied as `name`: the error text when refused.
async fn refused(api: &Api<Website>, name: &str, spec: serde_json::Value) -> String {
    let body = json!({
        "apiVersion": "derive.k8s-client.test/v1", "kind": "Website",
        "metadata": {"name": name}, "spec": spec,
    });
    match api
        .patch(name, &PatchParams::apply(MANAGER), &Patch::Apply(body))
        .await
    {
        Ok(_) => panic!("{name}: the server accepted an invalid object"),
        Err(e) => {
            assert!(e.is_invalid(), "{name}: {e}");
            e.to_string()
        }
    }
}

async fn generated_validation_is_enforced(client: &Client) {
    let ns = ts::namespace("crd-derive-val").await;
    let api: Api<Website> = Api::namespaced(client.clone(), &ns.name);

    let valid = serde_json::to_value(full_spec()).unwrap();
    let with = |path: &str, value: serde_json::Value| {
        let mut spec = valid.clone();
        spec[path] = value;
        spec
    };
    // The valid object is accepted (so the refusals below are about the one change each).
    api.patch(
        "ok",
        &PatchParams::apply(MANAGER),
        &Patch::Apply(json!({
            "apiVersion": "derive.k8s-client.test/v1", "kind": "Website",
            "metadata": {"name": "ok"}, "spec": valid,
        })),
    )
    .await
    .unwrap();

    let cases = [
        ("above-max", with("replicas", json!(11)), "spec.replicas"),
        ("below-min", with("replicas", json!(-1)), "spec.replicas"),
        ("pattern", with("image", json!("NGINX!")), "spec.image"),
        ("empty", with("image", json!("")), "spec.image"),
        (
            "cel",
            with("maxReplicas", json!(2)),
            "replicas must not exceed maxReplicas",
        ),
        ("enum", with("policy", json!("Sometimes")), "spec.policy"),
        (
            "one-of",
            with("source", json!({"git": {"repoUrl": "x"}, "bucket": "y"})),
            "spec.source",
        ),
        (
            "tag",
            with("cache", json!({"type": "disk"})),
            "spec.cache.type",
        ),
        (
            "variant-required",
            with("cache", json!({"type": "memory"})),
            "spec.cache",
        ),
    ];
    for (name, spec, needle) in cases {
        let err = refused(&api, name, spec).await;
        assert!(err.contains(needle), "{name}: {err}");
    }
    // Required fields, including one from a flattened struct.
    for field in ["image", "ownerTeam", "source"] {
        let mut spec = valid.clone();
        spec.as_object_mut().unwrap().remove(field);
        let err = refused(&api, &format!("no-{}", field.to_lowercase()), spec).await;
        assert!(
            err.contains(&format!("spec.{field}")) && err.contains("Required"),
            "{field}: {err}"
        );
    }
}

async fn server_side_apply_merges_list_maps_by_key(client: &Client) {
    let ns = ts::namespace("crd-derive-ssa").await;
    let api: Api<Website> = Api::namespaced(client.clone(), &ns.name);

    let apply = |manager: &'static str, env: serde_json::Value, hosts: serde_json::Value| {
        let api = api.clone();
        async move {
            let mut spec = serde_json::to_value(full_spec()).unwrap();
            spec["env"] = env;
            spec["hosts"] = hosts;
            api.patch(
                "site",
                &PatchParams::apply(manager).force(),
                &Patch::Apply(json!({
                    "apiVersion": "derive.k8s-client.test/v1", "kind": "Website",
                    "metadata": {"name": "site"}, "spec": spec,
                })),
            )
            .await
            .unwrap()
        }
    };
    apply(
        "team-a",
        json!([{"name": "A", "value": "from-a"}]),
        json!(["a.example.com"]),
    )
    .await;
    let site = apply(
        "team-b",
        json!([{"name": "B", "value": "from-b"}]),
        json!(["b.example.com"]),
    )
    .await;
    // The list-map keeps both managers' entries, by key.
    let env: Vec<(&str, Option<&str>)> = site
        .spec
        .env
        .iter()
        .map(|e| (e.name.as_str(), e.value.as_deref()))
        .collect();
    assert_eq!(env, [("A", Some("from-a")), ("B", Some("from-b"))]);
    // The atomic list is owned whole by the last applier.
    assert_eq!(site.spec.hosts, ["b.example.com"]);

    // Team A changes its own entry: B's stays.
    let site = apply(
        "team-a",
        json!([{"name": "A", "value": "changed"}]),
        json!(["a.example.com"]),
    )
    .await;
    let env: Vec<_> = site.spec.env.iter().map(|e| e.value.as_deref()).collect();
    assert_eq!(env, [Some("changed"), Some("from-b")]);
}

mod v1 {
    use super::*;

    /// Version v1 (the storage version).
    #[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq)]
    #[resource(
        group = "derive-versions.k8s-client.test",
        version = "v1",
        kind = "Gadget",
        namespaced,
        derive = "PartialEq"
    )]
    pub struct GadgetSpec {
        pub size: i32,
        pub color: Option<String>,
    }
}

mod v1beta1 {
    use super::*;

    /// Version v1beta1 (served, not stored).
    #[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq)]
    #[resource(
        group = "derive-versions.k8s-client.test",
        version = "v1beta1",
        kind = "Gadget",
        namespaced,
        storage = false,
        deprecation_warning = "use v1",
        derive = "PartialEq"
    )]
    pub struct GadgetSpec {
        #[schema(maximum = 100)]
        pub size: i32,
    }
}

#[tokio::test]
async fn two_versions_with_one_storage_version() {
    let client = fast_client().await;
    let def = merge_crds(vec![v1beta1::Gadget::crd(), v1::Gadget::crd()], "v1").unwrap();
    let _crd = install(&client, &def).await;
    let installed = Api::<CustomResourceDefinition>::all(client.clone())
        .get(def.metadata.name.as_deref().unwrap())
        .await
        .unwrap();
    let stored = installed
        .status
        .unwrap()
        .stored_versions
        .unwrap_or_default();
    assert_eq!(stored, ["v1"]);

    let ns = ts::namespace("crd-derive-ver").await;
    let old: Api<v1beta1::Gadget> = Api::namespaced(client.clone(), &ns.name);
    let new: Api<v1::Gadget> = Api::namespaced(client.clone(), &ns.name);

    // Written through v1beta1, read through v1 (and back).
    old.create(
        &PostParams::default(),
        &v1beta1::Gadget::new("g1", v1beta1::GadgetSpec { size: 7 }),
    )
    .await
    .unwrap();
    let read = new.get("g1").await.unwrap();
    assert_eq!(
        read.spec,
        v1::GadgetSpec {
            size: 7,
            color: None
        }
    );
    new.create(
        &PostParams::default(),
        &v1::Gadget::new(
            "g2",
            v1::GadgetSpec {
                size: 8,
                color: Some("red".into()),
            },
        ),
    )
    .await
    .unwrap();
    assert_eq!(old.get("g2").await.unwrap().spec.size, 8);
    assert_eq!(
        new.get("g2").await.unwrap().spec.color.as_deref(),
        Some("red")
    );
    // Each version validates with its own schema.
    let err = old
        .create(
            &PostParams::default(),
            &v1beta1::Gadget::new("g3", v1beta1::GadgetSpec { size: 101 }),
        )
        .await
        .unwrap_err();
    assert!(err.is_invalid(), "{err}");
    new.create(
        &PostParams::default(),
        &v1::Gadget::new(
            "g3",
            v1::GadgetSpec {
                size: 101,
                color: None,
            },
        ),
    )
    .await
    .unwrap();
}
