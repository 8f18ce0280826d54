//! CustomResourceDefinitions against the real control plane: install and wait until
//! Established (short names accepted), then use the custom resource through the dynamic
//! client (CRUD, patches, server-side apply conflicts, status and scale subresources,
//! metadata-only list) and through a typed struct declared with `custom_resource!`
//! (`Api<Widget>`, conversions to and from `DynamicObject`); clear errors for rejected names,
//! missing CRDs and timeouts. Each CRD is deleted at the end (also when a test fails).

use std::time::Duration;

use k8s_client::api::{
    Api, ApiResource, DeleteParams, Deleted, ListParams, Object, Patch, PatchParams, PostParams,
};
use k8s_client::dynamic::{ConvertError, DynamicApi, DynamicObject};
use k8s_client::metadata::MetadataApi;
use k8s_client::runtime::crd::{self, CrdError};
use k8s_client::Client;
use k8s_client_testsupport as ts;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde::{Deserialize, Serialize};
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(30);

/// A CRD `<plural>.<group>` of kind `kind`, namespaced, with a short name, a schema, and
/// the status and scale subresources.
fn definition(group: &str, plural: &str, kind: &str, short: &str) -> CustomResourceDefinition {
    serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.{group}")},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {
                "plural": plural,
                "singular": kind.to_lowercase(),
                "kind": kind,
                "shortNames": [short]
            },
            "versions": [{
                "name": "v1",
                "served": true,
                "storage": true,
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": {"type": "object", "properties": {
                            "size": {"type": "integer"},
                            "color": {"type": "string"},
                            "replicas": {"type": "integer"}
                        }},
                        "status": {"type": "object", "properties": {
                            "ready": {"type": "boolean"},
                            "replicas": {"type": "integer"}
                        }}
                    }
                }},
                "subresources": {
                    "status": {},
                    "scale": {
                        "specReplicasPath": ".spec.replicas",
                        "statusReplicasPath": ".status.replicas"
                    }
                }
            }]
        }
    }))
    .unwrap()
}

async fn fast_client() -> Client {
    let mut config = ts::config("admin").await;
    config.rate_limit = None;
    Client::try_from(config).unwrap()
}

fn guard(
    client: &Client,
    crd: &CustomResourceDefinition,
) -> ts::DeleteOnDrop<CustomResourceDefinition> {
    let mut guard = ts::DeleteOnDrop::new(client.config());
    guard.add(crd.metadata.name.as_deref().unwrap());
    guard
}

#[tokio::test]
async fn dynamic_client_on_a_new_crd() {
    let ns = ts::namespace("crd-dyn").await;
    let client = fast_client().await;
    let group = format!("{}.k8s-client.test", ns.name);
    let def = definition(&group, "gizmos", "Gizmo", "gz");
    let _cleanup = guard(&client, &def);

    let installed = crd::create(&client, &def, TIMEOUT).await.unwrap();
    assert_eq!(crd::state(&installed), crd::CrdState::Established);
    let accepted = installed
        .status
        .as_ref()
        .unwrap()
        .accepted_names
        .as_ref()
        .unwrap();
    assert_eq!(
        accepted.short_names.as_deref(),
        Some(&["gz".to_string()][..])
    );
    // Creating it again: AlreadyExists, as a typed API error.
    match crd::create(&client, &def, TIMEOUT).await {
        Err(CrdError::Api(e)) => assert!(e.is_already_exists(), "{e}"),
        other => panic!("{other:?}"),
    }
    // Applying it is idempotent.
    crd::apply(&client, &def, "k8s-client-tests", TIMEOUT)
        .await
        .unwrap();

    // A change of names is waited for until the new names are accepted.
    let mut renamed = def.clone();
    renamed.spec.names.short_names = Some(vec!["gz".into(), "gzm".into()]);
    let updated = crd::apply(&client, &renamed, "k8s-client-tests", TIMEOUT)
        .await
        .unwrap();
    let accepted = updated.status.unwrap().accepted_names.unwrap();
    assert_eq!(
        accepted.short_names.unwrap_or_default(),
        ["gz".to_string(), "gzm".to_string()]
    );

    let resource = crd::api_resource(&installed, "v1").unwrap();
    assert_eq!(resource.api_version(), format!("{group}/v1"));
    let api = DynamicApi::namespaced_with(client.clone(), &ns.name, &resource);

    // Create from JSON; status is ignored on create (status subresource).
    let g1 = DynamicObject::from_json(json!({
        "apiVersion": format!("{group}/v1"),
        "kind": "Gizmo",
        "metadata": {"name": "g1", "labels": {"app": "demo"}},
        "spec": {"size": 1, "color": "red", "replicas": 1},
        "status": {"ready": true}
    }))
    .unwrap();
    let created = api.create(&PostParams::default(), &g1).await.unwrap();
    assert_eq!(created.kind, "Gizmo");
    assert_eq!(created.field(&["spec", "color"]), Some(&json!("red")));
    assert_eq!(created.field(&["status"]), None);

    // Get, list, replace, patches.
    let mut got = api.get("g1").await.unwrap();
    assert_eq!(got.uid(), created.uid());
    got.set_field(&["spec", "size"], json!(2)).unwrap();
    let replaced = api
        .replace("g1", &PostParams::default(), &got)
        .await
        .unwrap();
    assert_eq!(replaced.field(&["spec", "size"]), Some(&json!(2)));
    let merged = api
        .patch(
            "g1",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"color": "blue"}})),
        )
        .await
        .unwrap();
    assert_eq!(merged.field(&["spec", "color"]), Some(&json!("blue")));
    let json_patched = api
        .patch(
            "g1",
            &PatchParams::default(),
            &Patch::Json(json!([{"op": "replace", "path": "/spec/size", "value": 3}])),
        )
        .await
        .unwrap();
    assert_eq!(json_patched.field(&["spec", "size"]), Some(&json!(3)));
    // Custom resources have no strategic merge: 415, a typed API error.
    let err = api
        .patch(
            "g1",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"size": 4}})),
        )
        .await
        .unwrap_err();
    assert_eq!(err.api().map(|e| e.code), Some(415), "{err}");
    // The schema is enforced: a string where an integer belongs is 422 Invalid.
    let mut bad = DynamicObject::new("bad", &resource);
    bad.set_field(&["spec", "size"], json!("big")).unwrap();
    let err = api.create(&PostParams::default(), &bad).await.unwrap_err();
    assert!(err.is_invalid(), "{err}");
    let list = api.list(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 1);
    assert_eq!(list.items[0].kind, "Gizmo");

    // Server-side apply: conflict without force, success with force.
    let apply = |color: &str| {
        DynamicObject::new("g1", &resource).with_field("spec", json!({"color": color}))
    };
    api.patch(
        "g1",
        &PatchParams::apply("owner-a").force(),
        &Patch::Apply(&apply("green")),
    )
    .await
    .unwrap();
    let err = api
        .patch(
            "g1",
            &PatchParams::apply("owner-b"),
            &Patch::Apply(&apply("black")),
        )
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{err}");
    assert!(err.to_string().contains("owner-a"), "{err}");
    let forced = api
        .patch(
            "g1",
            &PatchParams::apply("owner-b").force(),
            &Patch::Apply(&apply("black")),
        )
        .await
        .unwrap();
    assert_eq!(forced.field(&["spec", "color"]), Some(&json!("black")));
    // Apply creates, too.
    let g2 = api
        .patch(
            "g2",
            &PatchParams::apply("owner-a"),
            &Patch::Apply(
                &DynamicObject::new("g2", &resource).with_field("spec", json!({"size": 9})),
            ),
        )
        .await
        .unwrap();
    assert_eq!(g2.field(&["spec", "size"]), Some(&json!(9)));

    // Status subresource: writes to the main resource leave the status alone, and the
    // status subresource changes only the status.
    let status = api
        .patch_status(
            "g1",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"ready": true, "replicas": 1}, "spec": {"size": 100}})),
        )
        .await
        .unwrap();
    assert_eq!(status.field(&["status", "ready"]), Some(&json!(true)));
    assert_eq!(status.field(&["spec", "size"]), Some(&json!(3)));
    let mut current = api.get_status("g1").await.unwrap();
    current
        .set_field(&["status", "ready"], json!(false))
        .unwrap();
    let out = api
        .replace_status("g1", &PostParams::default(), &current)
        .await
        .unwrap();
    assert_eq!(out.field(&["status", "ready"]), Some(&json!(false)));
    let ignored = api
        .patch(
            "g1",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"ready": true}})),
        )
        .await
        .unwrap();
    assert_eq!(ignored.field(&["status", "ready"]), Some(&json!(false)));

    // Scale subresource.
    let scale = api.get_scale("g1").await.unwrap();
    assert_eq!(scale.spec.unwrap().replicas, Some(1));
    assert_eq!(scale.status.unwrap().replicas, 1);
    api.patch_scale(
        "g1",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 5}})),
    )
    .await
    .unwrap();
    assert_eq!(
        api.get("g1").await.unwrap().field(&["spec", "replicas"]),
        Some(&json!(5))
    );

    // Metadata only.
    let meta = MetadataApi::namespaced_with(client.clone(), &ns.name, &resource);
    let names: Vec<String> = meta
        .list(&ListParams::default())
        .await
        .unwrap()
        .iter()
        .filter_map(|m| m.name().map(String::from))
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");

    // Delete one, then the rest.
    match api.delete("g2", &DeleteParams::default()).await.unwrap() {
        Deleted::Object(o) => assert_eq!(o.name(), Some("g2")),
        Deleted::Status(s) => assert_eq!(s.status.as_deref(), Some("Success")),
    }
    api.delete_collection(&DeleteParams::default(), &ListParams::default())
        .await
        .unwrap();
    assert!(api
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .is_empty());
}

#[tokio::test]
async fn rejected_names_missing_crds_and_timeouts_are_clear_errors() {
    let ns = ts::namespace("crd-err").await;
    let client = fast_client().await;
    let group = format!("{}.k8s-client.test", ns.name);
    let first = definition(&group, "sprockets", "Sprocket", "sp");
    let _cleanup_first = guard(&client, &first);
    crd::create(&client, &first, TIMEOUT).await.unwrap();

    // Another CRD of the group with the same kind: its names are not accepted.
    let second = definition(&group, "cogs", "Sprocket", "cg");
    let _cleanup_second = guard(&client, &second);
    match crd::create(&client, &second, TIMEOUT).await {
        Err(e @ CrdError::NamesNotAccepted { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains(&format!("cogs.{group}")), "{msg}");
            assert!(msg.contains("Sprocket"), "{msg}");
        }
        other => panic!("expected NamesNotAccepted, got {other:?}"),
    }

    // A CRD that does not exist.
    match crd::wait_established(&client, &format!("nothing.{group}"), TIMEOUT).await {
        Err(CrdError::Api(e)) => assert!(e.is_not_found(), "{e}"),
        other => panic!("{other:?}"),
    }
    // A deadline that passes before the server answers: a timeout that says so. The server
    // is a listener that accepts and never answers: against the real, fast one even a 1 ms
    // deadline (with tokio's clock paused) sometimes loses the race to the answer.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut config = ts::config("admin").await;
    config.cluster_url = format!("https://{}", silent.local_addr().unwrap())
        .parse()
        .unwrap();
    let unanswered = Client::try_from(config).unwrap();
    let waited = crd::wait_established(
        &unanswered,
        &format!("sprockets.{group}"),
        Duration::from_millis(300),
    )
    .await;
    match waited {
        Err(e @ CrdError::Timeout { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("not established within 300ms"), "{msg}");
            assert!(msg.contains("the CRD was never read"), "{msg}");
        }
        other => panic!("{other:?}"),
    }
    drop(silent);
    // A definition without a name.
    let mut unnamed = first.clone();
    unnamed.metadata.name = None;
    assert!(matches!(
        crd::create(&client, &unnamed, TIMEOUT).await,
        Err(CrdError::Unnamed)
    ));
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
struct WidgetSpec {
    size: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    color: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
struct WidgetStatus {
    ready: bool,
}

// A typed struct's group is a compile-time constant, so this test's CRD has a fixed name
// used by this test only.
k8s_client::custom_resource! {
    #[resource(group = "typed.k8s-client.test", version = "v1", kind = "Widget",
               plural = "widgets", scope = Namespaced)]
    #[derive(Clone, Debug, Default, PartialEq)]
    struct Widget {
        spec: WidgetSpec,
        status: Option<WidgetStatus>,
    }
}

#[tokio::test]
async fn typed_struct_on_a_crd() {
    let ns = ts::namespace("crd-typed").await;
    let client = fast_client().await;
    let def = definition("typed.k8s-client.test", "widgets", "Widget", "wd");
    let _cleanup = guard(&client, &def);
    // A previous run's CRD may still be terminating: wait until it is gone.
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    tokio::time::timeout(TIMEOUT, async {
        while let Some(old) = crds.get_opt("widgets.typed.k8s-client.test").await.unwrap() {
            if old.metadata.deletion_timestamp.is_none() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("a terminating widgets CRD did not go away within 30s");
    crd::apply(&client, &def, "k8s-client-tests", TIMEOUT)
        .await
        .unwrap();

    let widgets: Api<Widget> = Api::namespaced(client.clone(), &ns.name);
    let mut w1 = Widget::new(
        "w1",
        WidgetSpec {
            size: 1,
            color: None,
        },
    );
    w1.metadata.labels = Some([("app".to_string(), "demo".to_string())].into());
    let created = widgets.create(&PostParams::default(), &w1).await.unwrap();
    assert_eq!(created.spec, w1.spec);
    assert_eq!(created.status, None);
    assert_eq!(
        created.metadata.namespace.as_deref(),
        Some(ns.name.as_str())
    );

    let mut got = widgets.get("w1").await.unwrap();
    got.spec.color = Some("red".into());
    let replaced = widgets
        .replace("w1", &PostParams::default(), &got)
        .await
        .unwrap();
    assert_eq!(replaced.spec.color.as_deref(), Some("red"));
    let status = widgets
        .patch_status(
            "w1",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"ready": true}})),
        )
        .await
        .unwrap();
    assert_eq!(status.status, Some(WidgetStatus { ready: true }));
    let mut current = widgets.get_status("w1").await.unwrap();
    current.status = Some(WidgetStatus { ready: false });
    let out = widgets
        .replace_status("w1", &PostParams::default(), &current)
        .await
        .unwrap();
    assert_eq!(out.status, Some(WidgetStatus { ready: false }));

    // Typed <-> dynamic, through the server.
    let resource = ApiResource::of::<Widget>();
    assert_eq!(resource, crd::api_resource(&def, "v1").unwrap());
    let dynamic = DynamicApi::namespaced_with(client.clone(), &ns.name, &resource);
    let as_dynamic = dynamic.get("w1").await.unwrap();
    assert_eq!(as_dynamic.field(&["status", "ready"]), Some(&json!(false)));
    let typed_again: Widget = as_dynamic.try_parse().unwrap();
    assert_eq!(typed_again, widgets.get("w1").await.unwrap());
    assert_eq!(DynamicObject::from_typed(&typed_again).unwrap(), as_dynamic);
    assert!(matches!(
        as_dynamic.try_parse::<ConfigMap>(),
        Err(ConvertError::WrongKind { .. })
    ));
    let mut broken = as_dynamic.clone();
    broken.set_field(&["spec", "size"], json!("big")).unwrap();
    match broken.try_parse::<Widget>() {
        Err(ConvertError::Json {
            what,
            message,
            source,
        }) => {
            assert!(what.contains("typed.k8s-client.test/v1/Widget"), "{what}");
            assert!(message.contains("invalid type"), "{message}");
            assert!(source.is_data(), "the serde error is kept: {source:?}");
        }
        other => panic!("{other:?}"),
    }
    let w2 = Widget::new(
        "w2",
        WidgetSpec {
            size: 2,
            color: Some("blue".into()),
        },
    );
    dynamic
        .create(
            &PostParams::default(),
            &DynamicObject::from_typed(&w2).unwrap(),
        )
        .await
        .unwrap();
    let list = widgets.list(&ListParams::default()).await.unwrap();
    let mut specs: Vec<_> = list
        .iter()
        .map(|w| (w.name().unwrap().to_string(), w.spec.size))
        .collect();
    specs.sort();
    assert_eq!(specs, [("w1".to_string(), 1), ("w2".to_string(), 2)]);

    // Server-side apply with the typed struct.
    let mut applied = Widget::new(
        "w3",
        WidgetSpec {
            size: 3,
            color: None,
        },
    );
    applied.metadata.namespace = Some(ns.name.clone());
    let out = widgets
        .patch("w3", &PatchParams::apply("typed"), &Patch::Apply(&applied))
        .await
        .unwrap();
    assert_eq!(out.spec.size, 3);

    widgets
        .delete("w1", &DeleteParams::default())
        .await
        .unwrap();
    assert!(widgets.get_opt("w1").await.unwrap().is_none());
}
