//! Server-side apply: two field managers share a ConfigMap. The first applies `color` and
//! `size`; `metadata.managedFields` then names it as the owner of both. The second applies
//! another `color`: the server refuses with a conflict naming the owner, until the second
//! applies with `force` and takes `color` over. The first then applies only `size`, and
//! `color` (no longer the first's) stays as the second set it.
//!
//! client-go: `client.CoreV1().ConfigMaps(ns).Apply(ctx, applyConfig,
//! metav1.ApplyOptions{FieldManager: "...", Force: true})` (the typed client's apply, seed
//! 001 section 3's CRUD done declaratively; `kubectl apply --server-side
//! [--force-conflicts]`).
//!
//! ```text
//! cargo run -p k8s-client --example server_side_apply -- --context kind-dev -n default [NAME] [--keep]
//! ```
//!
//! NAME defaults to `ssa-example`; the ConfigMap is deleted at the end unless `--keep`.

mod common;

use k8s_client::api::{DeleteParams, Patch, PatchParams};
use k8s_client::Api;
use k8s_openapi::api::core::v1::ConfigMap;
use serde_json::json;

const FIRST: &str = "ssa-example-first";
const SECOND: &str = "ssa-example-second";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut setup = common::setup().await?;
    let keep = common::take_switch(&mut setup.args, "--keep");
    let name = setup
        .args
        .first()
        .cloned()
        .unwrap_or_else(|| "ssa-example".to_string());
    let ns = &setup.namespace;
    let cms: Api<ConfigMap> = Api::namespaced(setup.client.clone(), ns);
    let config = |data: serde_json::Value| {
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name},
            "data": data,
        })
    };

    // 1. The first manager applies two fields (creating the ConfigMap).
    println!("{FIRST} applies color=blue, size=small");
    let cm = cms
        .patch(
            &name,
            &PatchParams::apply(FIRST),
            &Patch::Apply(config(json!({"color": "blue", "size": "small"}))),
        )
        .await?;
    print_state(&cm);

    // 2. The second manager wants another color: a conflict, reported with its owner.
    println!("{SECOND} applies color=red");
    match cms
        .patch(
            &name,
            &PatchParams::apply(SECOND),
            &Patch::Apply(config(json!({"color": "red"}))),
        )
        .await
    {
        Err(e) if e.is_conflict() => {
            let message = e
                .status()
                .and_then(|s| s.message.clone())
                .unwrap_or_default();
            println!("  conflict (409): {message}");
        }
        Err(e) => return Err(e.into()),
        Ok(_) => return Err("the second manager's apply should have conflicted".into()),
    }

    // 3. With force, the second manager takes the field over.
    println!("{SECOND} applies color=red with force");
    let cm = cms
        .patch(
            &name,
            &PatchParams::apply(SECOND).force(),
            &Patch::Apply(config(json!({"color": "red"}))),
        )
        .await?;
    print_state(&cm);

    // 4. The first manager now applies only what it still owns: `color` is not removed,
    //    because it belongs to the second manager now.
    println!("{FIRST} applies size=large (no color)");
    let cm = cms
        .patch(
            &name,
            &PatchParams::apply(FIRST),
            &Patch::Apply(config(json!({"size": "large"}))),
        )
        .await?;
    print_state(&cm);

    if keep {
        println!("kept configmap {ns}/{name}");
    } else {
        cms.delete(&name, &DeleteParams::default()).await?;
        println!("deleted configmap {ns}/{name}");
    }
    Ok(())
}

/// Prints the data and, for each manager, the fields it owns.
fn print_state(cm: &ConfigMap) {
    let data = cm.data.clone().unwrap_or_default();
    let pairs: Vec<String> = data.iter().map(|(k, v)| format!("{k}={v}")).collect();
    println!("  data: {}", pairs.join(", "));
    for entry in cm.metadata.managed_fields.iter().flatten() {
        let fields = entry
            .fields_v1
            .as_ref()
            .map(|f| owned_fields(&f.0))
            .unwrap_or_default();
        println!(
            "  managedFields: {} ({}) owns {}",
            entry.manager.as_deref().unwrap_or("?"),
            entry.operation.as_deref().unwrap_or("?"),
            fields.join(" ")
        );
    }
}

/// The `data` keys in a `fieldsV1` set (`{"f:data": {"f:color": {}}}` -> `.data.color`).
fn owned_fields(fields: &serde_json::Value) -> Vec<String> {
    fields
        .get("f:data")
        .and_then(|d| d.as_object())
        .map(|d| {
            d.keys()
                .filter_map(|k| k.strip_prefix("f:"))
                .map(|k| format!(".data.{k}"))
                .collect()
        })
        .unwrap_or_default()
}
