//! Subresources against the real control plane: status and scale of a Deployment, pod
//! eviction, and the generic subresource methods.

use k8s_client::api::{Api, DeleteParams, EvictParams, Patch, PatchParams, PostParams};
use k8s_client::retry::{retry_on_conflict, Backoff};
use k8s_client_testsupport as ts;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v1::Scale;
use k8s_openapi::api::core::v1::Pod;
use serde_json::json;

fn deployment(name: &str, replicas: i32) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.12"}]}
            }
        }
    }))
    .unwrap()
}

fn pod(name: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "busybox:1"}]}
    }))
    .unwrap()
}

fn has_condition(d: &Deployment, type_: &str) -> bool {
    d.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_.as_deref() == Some(type_)))
}

#[tokio::test]
async fn deployment_status_subresource() {
    let ns = ts::namespace("api-status").await;
    let api: Api<Deployment> = Api::namespaced(ts::client().await, &ns.name);
    api.create(&PostParams::default(), &deployment("st", 0))
        .await
        .unwrap();

    let got = api.get_status("st").await.unwrap();
    assert_eq!(got.metadata.name.as_deref(), Some("st"));

    // Patch the status: a condition of our own (controllers keep conditions they do not
    // own). The spec part of a status patch is ignored.
    let out = api
        .patch_status(
            "st",
            &PatchParams::default(),
            &Patch::Merge(json!({
                "spec": {"replicas": 5},
                "status": {"conditions": [{"type": "Patched", "status": "True"}]}
            })),
        )
        .await
        .unwrap();
    assert!(has_condition(&out, "Patched"), "{:?}", out.status);
    assert_eq!(
        out.spec.replicas,
        Some(0),
        "a status patch changed the spec"
    );

    // Replace the status (get-modify-replace, retried as a controller may write too).
    let out = retry_on_conflict(Backoff::default_retry(), || async {
        let mut d = api.get_status("st").await?;
        let status = d.status.get_or_insert_with(Default::default);
        let conditions = status.conditions.get_or_insert_with(Vec::new);
        conditions.push(k8s_openapi::api::apps::v1::DeploymentCondition {
            type_: Some("Replaced".into()),
            status: Some("True".into()),
            ..Default::default()
        });
        api.replace_status("st", &PostParams::default(), &d).await
    })
    .await
    .unwrap();
    assert!(has_condition(&out, "Replaced"), "{:?}", out.status);

    // The main resource ignores status changes.
    let out = retry_on_conflict(Backoff::default_retry(), || async {
        let mut fresh = api.get("st").await?;
        fresh.status = None;
        api.replace("st", &PostParams::default(), &fresh).await
    })
    .await
    .unwrap();
    assert!(
        has_condition(&out, "Replaced"),
        "replace of the main resource changed the status"
    );

    // Generic form, same subresource.
    let via_generic: Deployment = api.get_subresource("status", "st").await.unwrap();
    assert_eq!(via_generic.metadata.uid, out.metadata.uid);

    let err = api.get_status("missing").await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

#[tokio::test]
async fn deployment_scale_subresource() {
    let ns = ts::namespace("api-scale").await;
    let api: Api<Deployment> = Api::namespaced(ts::client().await, &ns.name);
    api.create(&PostParams::default(), &deployment("sc", 2))
        .await
        .unwrap();

    let scale = api.get_scale("sc").await.unwrap();
    assert_eq!(scale.spec.as_ref().and_then(|s| s.replicas), Some(2));
    assert_eq!(scale.metadata.name.as_deref(), Some("sc"));

    let out: Scale = retry_on_conflict(Backoff::default_retry(), || async {
        let mut scale = api.get_scale("sc").await?;
        scale.spec.get_or_insert_with(Default::default).replicas = Some(3);
        api.replace_scale("sc", &PostParams::default(), &scale)
            .await
    })
    .await
    .unwrap();
    assert_eq!(out.spec.and_then(|s| s.replicas), Some(3));
    assert_eq!(api.get("sc").await.unwrap().spec.replicas, Some(3));

    let out = api
        .patch_scale(
            "sc",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 1}})),
        )
        .await
        .unwrap();
    assert_eq!(out.spec.and_then(|s| s.replicas), Some(1));
    assert_eq!(api.get("sc").await.unwrap().spec.replicas, Some(1));

    // Dry-run scale changes nothing.
    let out = api
        .patch_scale(
            "sc",
            &PatchParams::default().dry_run(),
            &Patch::Merge(json!({"spec": {"replicas": 7}})),
        )
        .await
        .unwrap();
    assert_eq!(out.spec.and_then(|s| s.replicas), Some(7));
    assert_eq!(api.get("sc").await.unwrap().spec.replicas, Some(1));

    // Generic patch_subresource, same thing.
    let out: Scale = api
        .patch_subresource(
            "scale",
            "sc",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 0}})),
        )
        .await
        .unwrap();
    // Zero replicas is omitted on the wire.
    assert_eq!(out.spec.and_then(|s| s.replicas).unwrap_or(0), 0);
    assert_eq!(api.get("sc").await.unwrap().spec.replicas, Some(0));
}

#[tokio::test]
async fn pod_eviction() {
    let ns = ts::namespace("api-evict").await;
    let pods: Api<Pod> = Api::namespaced(ts::client().await, &ns.name);
    pods.create(&PostParams::default(), &pod("victim"))
        .await
        .unwrap();

    // A dry-run eviction keeps the pod.
    let dry = EvictParams::default().post_options(PostParams::default().dry_run());
    let status = pods.evict("victim", &dry).await.unwrap();
    assert_eq!(status.status.as_deref(), Some("Success"), "{status:?}");
    assert!(pods.get_opt("victim").await.unwrap().is_some());

    // A real one removes it (an unscheduled pod goes at once).
    let params = EvictParams::default().delete_options(DeleteParams::default().grace_period(0));
    let status = pods.evict("victim", &params).await.unwrap();
    assert_eq!(status.status.as_deref(), Some("Success"), "{status:?}");
    let gone = match pods.get_opt("victim").await.unwrap() {
        None => true,
        Some(p) => p.metadata.deletion_timestamp.is_some(),
    };
    assert!(gone, "the evicted pod is still there");

    let err = pods
        .evict("missing", &EvictParams::default())
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
}
