//! `Api<K>` against the real control plane: create/get/list/replace/delete, every patch type,
//! dry runs, delete options (preconditions, propagation), delete_collection, the typed errors
//! (not found, already exists, conflict) and retry_on_conflict on a real conflict.

use std::sync::atomic::{AtomicU32, Ordering};

use k8s_client::api::{
    Api, DeleteParams, Deleted, ListParams, Patch, PatchParams, PostParams, PropagationPolicy,
};
use k8s_client::retry::{retry_on_conflict, Backoff};
use k8s_client_testsupport as ts;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use serde_json::json;

/// Waits (up to 30 s) until `$check` holds, polling every 100 ms.
macro_rules! eventually {
    ($what:expr, $check:expr) => {{
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        while !$check {
            assert!(
                tokio::time::Instant::now() < deadline,
                "not within 30 s: {}",
                $what
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }};
}

fn config_map(name: &str, data: &[(&str, &str)], labels: &[(&str, &str)]) -> ConfigMap {
    serde_json::from_value(json!({
        "metadata": {
            "name": name,
            "labels": labels.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
        },
        "data": data.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
    }))
    .unwrap()
}

fn deployment(name: &str, replicas: i32) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [
                    {"name": "web", "image": "nginx:1.12", "ports": [{"containerPort": 80}]},
                    {"name": "sidecar", "image": "busybox:1"}
                ]}
            }
        }
    }))
    .unwrap()
}

fn data(cm: &ConfigMap, key: &str) -> Option<String> {
    cm.data.as_ref().and_then(|d| d.get(key).cloned())
}

#[tokio::test]
async fn create_get_list_replace_delete() {
    let ns = ts::namespace("api-crud").await;
    let api: Api<ConfigMap> = Api::namespaced(ts::client().await, &ns.name);

    let created = api
        .create(
            &PostParams::default(),
            &config_map("one", &[("k", "v1")], &[]),
        )
        .await
        .unwrap();
    assert_eq!(
        created.metadata.namespace.as_deref(),
        Some(ns.name.as_str())
    );
    assert!(created.metadata.uid.is_some());
    let rv1 = created.metadata.resource_version.clone().unwrap();

    // Create existing -> AlreadyExists.
    let err = api
        .create(&PostParams::default(), &config_map("one", &[], &[]))
        .await
        .unwrap_err();
    assert!(err.is_already_exists(), "{err}");
    // 409 with reason AlreadyExists: not a resourceVersion conflict.
    assert!(!err.is_conflict(), "{err}");
    assert_eq!(err.api().map(|s| s.code), Some(409), "{err}");

    let got = api.get("one").await.unwrap();
    assert_eq!(data(&got, "k").as_deref(), Some("v1"));
    assert_eq!(
        api.get_opt("one").await.unwrap().unwrap().metadata.uid,
        created.metadata.uid
    );

    // Missing -> NotFound / None.
    let err = api.get("missing").await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert_eq!(err.status().unwrap().code, Some(404));
    assert!(api.get_opt("missing").await.unwrap().is_none());

    let list = api.list(&ListParams::default()).await.unwrap();
    assert!(list
        .iter()
        .any(|c| c.metadata.name.as_deref() == Some("one")));
    assert!(list.resource_version().is_some());

    // Replace with the current resourceVersion.
    let mut changed = got.clone();
    changed
        .data
        .get_or_insert_with(Default::default)
        .insert("k".into(), "v2".into());
    let replaced = api
        .replace("one", &PostParams::default(), &changed)
        .await
        .unwrap();
    assert_eq!(data(&replaced, "k").as_deref(), Some("v2"));
    assert_ne!(
        replaced.metadata.resource_version.as_deref(),
        Some(rv1.as_str())
    );

    // Replace with a stale resourceVersion -> Conflict.
    let mut stale = got;
    stale
        .data
        .get_or_insert_with(Default::default)
        .insert("k".into(), "v3".into());
    let err = api
        .replace("one", &PostParams::default(), &stale)
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{err}");
    assert_eq!(
        data(&api.get("one").await.unwrap(), "k").as_deref(),
        Some("v2")
    );

    // Delete, then it is gone; deleting again is NotFound.
    let answer = api.delete("one", &DeleteParams::default()).await.unwrap();
    match answer {
        Deleted::Object(cm) => assert_eq!(cm.metadata.name.as_deref(), Some("one")),
        Deleted::Status(s) => assert_eq!(s.status.as_deref(), Some("Success")),
    }
    assert!(api.get_opt("one").await.unwrap().is_none());
    let err = api
        .delete("one", &DeleteParams::default())
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");

    // A bad name is refused before anything is sent.
    let err = api.get("a/b").await.unwrap_err();
    assert!(matches!(err, k8s_client::Error::Request(_)), "{err:?}");
}

#[tokio::test]
async fn every_patch_type() {
    let ns = ts::namespace("api-patch").await;
    let client = ts::client().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &ns.name);
    cms.create(
        &PostParams::default(),
        &config_map("p", &[("a", "1"), ("b", "2")], &[]),
    )
    .await
    .unwrap();

    // Merge patch: set one key, remove another.
    let pp = PatchParams::default();
    let out = cms
        .patch(
            "p",
            &pp,
            &Patch::Merge(json!({"data": {"a": "10", "b": null}})),
        )
        .await
        .unwrap();
    assert_eq!(data(&out, "a").as_deref(), Some("10"));
    assert_eq!(data(&out, "b"), None);

    // JSON patch: test + add + replace.
    let out = cms
        .patch(
            "p",
            &pp,
            &Patch::Json(json!([
                {"op": "test", "path": "/data/a", "value": "10"},
                {"op": "add", "path": "/data/c", "value": "3"},
                {"op": "replace", "path": "/data/a", "value": "11"}
            ])),
        )
        .await
        .unwrap();
    assert_eq!(data(&out, "a").as_deref(), Some("11"));
    assert_eq!(data(&out, "c").as_deref(), Some("3"));
    // A failing JSON patch test is refused by the server.
    let err = cms
        .patch(
            "p",
            &pp,
            &Patch::Json(json!([
                {"op": "test", "path": "/data/a", "value": "nope"},
                {"op": "replace", "path": "/data/a", "value": "12"}
            ])),
        )
        .await
        .unwrap_err();
    // 422 Invalid ("testing value /data/a failed"), and the replace after it was not applied.
    let status = err
        .api()
        .unwrap_or_else(|| panic!("not an API error: {err}"));
    assert_eq!((status.code, status.reason()), (422, "Invalid"), "{err}");
    assert_eq!(
        data(&cms.get("p").await.unwrap(), "a").as_deref(),
        Some("11")
    );

    // Strategic merge patch on a Deployment: containers merge by name (a merge patch would
    // replace the whole list).
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns.name);
    deployments
        .create(&PostParams::default(), &deployment("web", 1))
        .await
        .unwrap();
    let out = deployments
        .patch(
            "web",
            &pp,
            &Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [
                {"name": "web", "image": "nginx:1.13"}
            ]}}}})),
        )
        .await
        .unwrap();
    let containers = &out.spec.template.spec.as_ref().unwrap().containers;
    assert_eq!(containers.len(), 2, "strategic merge keeps the sidecar");
    assert_eq!(containers[0].image.as_deref(), Some("nginx:1.13"));
    assert_eq!(containers[1].name, "sidecar");

    // Apply patch (server-side apply).
    let out = cms
        .patch(
            "p",
            &PatchParams::apply("crud-test"),
            &Patch::Apply(json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "p"},
                "data": {"applied": "yes"}
            })),
        )
        .await
        .unwrap();
    assert_eq!(data(&out, "applied").as_deref(), Some("yes"));
    assert_eq!(
        data(&out, "a").as_deref(),
        Some("11"),
        "fields of other managers stay"
    );
    let managers: Vec<String> = out
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.manager)
        .collect();
    assert!(managers.iter().any(|m| m == "crud-test"), "{managers:?}");

    // Patching a missing object is NotFound.
    let err = cms
        .patch("missing", &pp, &Patch::Merge(json!({"data": {}})))
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

#[tokio::test]
async fn dry_run_writes_persist_nothing() {
    let ns = ts::namespace("api-dryrun").await;
    let api: Api<ConfigMap> = Api::namespaced(ts::client().await, &ns.name);

    let out = api
        .create(
            &PostParams::default().dry_run(),
            &config_map("dry", &[("k", "v")], &[]),
        )
        .await
        .unwrap();
    assert_eq!(out.metadata.name.as_deref(), Some("dry"));
    assert!(
        api.get_opt("dry").await.unwrap().is_none(),
        "dry-run create persisted"
    );

    let real = api
        .create(
            &PostParams::default(),
            &config_map("real", &[("k", "v")], &[]),
        )
        .await
        .unwrap();
    let mut changed = real.clone();
    changed.data = Some([("k".to_string(), "changed".to_string())].into());
    let out = api
        .replace("real", &PostParams::default().dry_run(), &changed)
        .await
        .unwrap();
    assert_eq!(data(&out, "k").as_deref(), Some("changed"));
    let out = api
        .patch(
            "real",
            &PatchParams::default().dry_run(),
            &Patch::Merge(json!({"data": {"k": "patched"}})),
        )
        .await
        .unwrap();
    assert_eq!(data(&out, "k").as_deref(), Some("patched"));
    let out = api
        .patch(
            "real",
            // Forced: data.k belongs to the creator's manager.
            &PatchParams::apply("dry").force().dry_run(),
            &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "real"}, "data": {"k": "applied"}})),
        )
        .await
        .unwrap();
    assert_eq!(data(&out, "k").as_deref(), Some("applied"));
    api.delete("real", &DeleteParams::default().dry_run())
        .await
        .unwrap();
    let delete_all = api
        .delete_collection(&DeleteParams::default().dry_run(), &ListParams::default())
        .await
        .unwrap();
    if let Deleted::Object(list) = delete_all {
        assert!(list
            .iter()
            .any(|c| c.metadata.name.as_deref() == Some("real")));
    }

    let still = api.get("real").await.unwrap();
    assert_eq!(data(&still, "k").as_deref(), Some("v"));
    assert_eq!(
        still.metadata.resource_version,
        real.metadata.resource_version
    );
}

#[tokio::test]
async fn delete_preconditions_and_propagation() {
    let ns = ts::namespace("api-delete").await;
    let client = ts::client().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &ns.name);
    let cm = api
        .create(&PostParams::default(), &config_map("pre", &[], &[]))
        .await
        .unwrap();

    let err = api
        .delete(
            "pre",
            &DeleteParams::default().precondition_resource_version("1"),
        )
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{err}");
    let err = api
        .delete(
            "pre",
            &DeleteParams::default().precondition_uid("not-the-uid"),
        )
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{err}");
    assert!(api.get_opt("pre").await.unwrap().is_some());

    api.delete(
        "pre",
        &DeleteParams::default()
            .precondition_uid(cm.metadata.uid.as_deref().unwrap())
            .precondition_resource_version(cm.metadata.resource_version.as_deref().unwrap()),
    )
    .await
    .unwrap();
    assert!(api.get_opt("pre").await.unwrap().is_none());

    // Foreground: the answer is the object, marked for deletion, with the finalizer.
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns.name);
    deployments
        .create(&PostParams::default(), &deployment("fg", 1))
        .await
        .unwrap();
    let answer = deployments
        .delete(
            "fg",
            &DeleteParams::default().propagation(PropagationPolicy::Foreground),
        )
        .await
        .unwrap();
    let Deleted::Object(d) = answer else {
        panic!("foreground deletion answered with a Status, not the object");
    };
    assert!(d.metadata.deletion_timestamp.is_some());
    let finalizers = d.metadata.finalizers.unwrap_or_default();
    assert!(
        finalizers.iter().any(|f| f == "foregroundDeletion"),
        "{finalizers:?}"
    );

    // Orphan: the answer carries the orphan finalizer; the garbage collector then removes
    // the owner reference from the ReplicaSet, which survives its Deployment.
    let replica_sets: Api<ReplicaSet> = Api::namespaced(client.clone(), &ns.name);
    deployments
        .create(&PostParams::default(), &deployment("orphan", 0))
        .await
        .unwrap();
    let rs = owned_replica_set(&replica_sets, "orphan").await;
    let answer = deployments
        .delete(
            "orphan",
            &DeleteParams::default()
                .propagation(PropagationPolicy::Orphan)
                .grace_period(0),
        )
        .await
        .unwrap();
    let Deleted::Object(d) = answer else {
        panic!("orphan deletion answered with a Status, not the object: {answer:?}");
    };
    let finalizers = d.metadata.finalizers.unwrap_or_default();
    assert!(finalizers.iter().any(|f| f == "orphan"), "{finalizers:?}");
    eventually!("the Deployment is gone and its ReplicaSet orphaned", {
        let rs = replica_sets.get_opt(&rs).await.unwrap();
        deployments.get_opt("orphan").await.unwrap().is_none()
            && rs.is_some_and(|rs| rs.metadata.owner_references.unwrap_or_default().is_empty())
    });

    // Background: the Deployment goes at once, the collector deletes its ReplicaSet after.
    deployments
        .create(&PostParams::default(), &deployment("background", 0))
        .await
        .unwrap();
    let rs = owned_replica_set(&replica_sets, "background").await;
    deployments
        .delete(
            "background",
            &DeleteParams::default()
                .propagation(PropagationPolicy::Background)
                .grace_period(0),
        )
        .await
        .unwrap();
    assert!(deployments.get_opt("background").await.unwrap().is_none());
    eventually!(
        "the ReplicaSet is collected",
        replica_sets.get_opt(&rs).await.unwrap().is_none()
    );

    // Pods are deleted gracefully: the answer is the pod.
    let pods: Api<Pod> = Api::namespaced(client, &ns.name);
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "busybox:1"}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let answer = pods.delete("p", &DeleteParams::default()).await.unwrap();
    assert!(matches!(answer, Deleted::Object(_)), "{answer:?}");
}

/// The name of the ReplicaSet the deployment controller made for Deployment `owner`.
async fn owned_replica_set(replica_sets: &Api<ReplicaSet>, owner: &str) -> String {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let list = replica_sets.list(&ListParams::default()).await.unwrap();
        let owned = list.items.into_iter().find(|rs| {
            rs.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.kind == "Deployment" && o.name == owner)
        });
        if let Some(name) = owned.and_then(|rs| rs.metadata.name) {
            return name;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no ReplicaSet for Deployment {owner} within 30 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn delete_collection_with_label_selector() {
    let ns = ts::namespace("api-delcoll").await;
    let api: Api<ConfigMap> = Api::namespaced(ts::client().await, &ns.name);
    for (name, group) in [("a", "x"), ("b", "x"), ("c", "x"), ("d", "y")] {
        api.create(
            &PostParams::default(),
            &config_map(name, &[], &[("group", group)]),
        )
        .await
        .unwrap();
    }
    let answer = api
        .delete_collection(
            &DeleteParams::default(),
            &ListParams::default().labels("group=x"),
        )
        .await
        .unwrap();
    match answer {
        Deleted::Object(list) => {
            let mut names: Vec<String> = list
                .items
                .into_iter()
                .filter_map(|c| c.metadata.name)
                .collect();
            names.sort();
            assert_eq!(names, ["a", "b", "c"]);
        }
        Deleted::Status(s) => assert_eq!(s.status.as_deref(), Some("Success")),
    }
    let left: Vec<String> = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .into_iter()
        .filter_map(|c| c.metadata.name)
        // Published into every namespace by the controller manager, when it runs.
        .filter(|n| n != "kube-root-ca.crt")
        .collect();
    assert_eq!(left, ["d"]);
}

#[tokio::test]
async fn retry_on_conflict_recovers_from_a_real_conflict() {
    let ns = ts::namespace("api-retry").await;
    let api: Api<ConfigMap> = Api::namespaced(ts::client().await, &ns.name);
    api.create(&PostParams::default(), &config_map("r", &[("n", "0")], &[]))
        .await
        .unwrap();
    // A copy that another writer will make stale.
    let stale = api.get("r").await.unwrap();
    api.patch(
        "r",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"other": "writer"}})),
    )
    .await
    .unwrap();

    let attempts = AtomicU32::new(0);
    let out = retry_on_conflict(Backoff::default_retry(), || async {
        let n = attempts.fetch_add(1, Ordering::SeqCst);
        // The first attempt uses the stale copy (as a racing writer would), later ones
        // re-read.
        let mut cm = if n == 0 {
            stale.clone()
        } else {
            api.get("r").await?
        };
        cm.data
            .get_or_insert_with(Default::default)
            .insert("n".into(), "1".into());
        api.replace("r", &PostParams::default(), &cm).await
    })
    .await
    .unwrap();
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
    assert_eq!(data(&out, "n").as_deref(), Some("1"));
    assert_eq!(data(&out, "other").as_deref(), Some("writer"));

    // When every attempt conflicts, the conflict comes back after `steps` attempts.
    let attempts = AtomicU32::new(0);
    let err = retry_on_conflict(Backoff::default_retry(), || async {
        attempts.fetch_add(1, Ordering::SeqCst);
        api.replace("r", &PostParams::default(), &stale).await
    })
    .await
    .unwrap_err();
    assert!(err.is_conflict(), "{err}");
    assert_eq!(attempts.load(Ordering::SeqCst), 5);
}
