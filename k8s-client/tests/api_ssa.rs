//! Server-side apply against the real control plane: field ownership, conflicts between
//! managers, force, dry run, and the client-side checks of apply options.

use k8s_client::api::{Api, Patch, PatchParams};
use k8s_client_testsupport as ts;
use k8s_openapi::api::core::v1::ConfigMap;
use serde_json::json;

fn apply_config(value: &str) -> Patch<serde_json::Value> {
    Patch::Apply(json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "owned"},
        "data": {"shared": value}
    }))
}

fn owners(cm: &ConfigMap) -> Vec<String> {
    cm.metadata
        .managed_fields
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|m| {
            m.fields_v1
                .as_ref()
                .is_some_and(|f| f.0.to_string().contains("f:shared"))
        })
        .filter_map(|m| m.manager)
        .collect()
}

#[tokio::test]
async fn field_ownership_conflicts_and_force() {
    let ns = ts::namespace("api-ssa").await;
    let api: Api<ConfigMap> = Api::namespaced(ts::client().await, &ns.name);

    // Manager A creates the object by applying and owns data.shared.
    let out = api
        .patch(
            "owned",
            &PatchParams::apply("manager-a"),
            &apply_config("from-a"),
        )
        .await
        .unwrap();
    assert_eq!(out.data.as_ref().unwrap()["shared"], "from-a");
    assert_eq!(owners(&out), ["manager-a"]);

    // Manager A re-applying the same is a no-op, not a conflict: nothing is written, so the
    // resourceVersion stays (managedFields timestamps are not bumped for an unchanged apply).
    let again = api
        .patch(
            "owned",
            &PatchParams::apply("manager-a"),
            &apply_config("from-a"),
        )
        .await
        .unwrap();
    assert_eq!(
        again.metadata.resource_version, out.metadata.resource_version,
        "a re-apply of the same configuration wrote the object"
    );

    // Manager B applying another value conflicts...
    let err = api
        .patch(
            "owned",
            &PatchParams::apply("manager-b"),
            &apply_config("from-b"),
        )
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{err}");
    assert!(err.to_string().contains("manager-a"), "{err}");
    let unchanged = api.get("owned").await.unwrap();
    assert_eq!(unchanged.data.as_ref().unwrap()["shared"], "from-a");

    // ... a dry-run force does not change anything ...
    let dry = api
        .patch(
            "owned",
            &PatchParams::apply("manager-b").force().dry_run(),
            &apply_config("from-b"),
        )
        .await
        .unwrap();
    assert_eq!(dry.data.as_ref().unwrap()["shared"], "from-b");
    assert_eq!(
        api.get("owned").await.unwrap().data.unwrap()["shared"],
        "from-a"
    );

    // ... and with force B wins and takes the field over.
    let out = api
        .patch(
            "owned",
            &PatchParams::apply("manager-b").force(),
            &apply_config("from-b"),
        )
        .await
        .unwrap();
    assert_eq!(out.data.as_ref().unwrap()["shared"], "from-b");
    assert_eq!(owners(&out), ["manager-b"]);

    // Now A is the one that conflicts.
    let err = api
        .patch(
            "owned",
            &PatchParams::apply("manager-a"),
            &apply_config("from-a"),
        )
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{err}");
}

#[tokio::test]
async fn apply_options_are_checked_before_sending() {
    let ns = ts::namespace("api-ssa-opts").await;
    let api: Api<ConfigMap> = Api::namespaced(ts::client().await, &ns.name);
    let err = api
        .patch("owned", &PatchParams::default(), &apply_config("x"))
        .await
        .unwrap_err();
    assert!(matches!(err, k8s_client::Error::Request(_)), "{err:?}");
    let err = api
        .patch(
            "owned",
            &PatchParams::default().force(),
            &Patch::Merge(json!({"data": {}})),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, k8s_client::Error::Request(_)), "{err:?}");
    // Nothing was created by those.
    assert!(api.get_opt("owned").await.unwrap().is_none());
}
