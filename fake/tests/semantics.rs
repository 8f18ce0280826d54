//! The object, list and watch semantics of the in-memory server, seen through k8s-client's
//! own handles (no control plane).

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_client::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, PropagationPolicy,
    ResourceVersionMatch, WatchEvent, WatchParams,
};
use k8s_client::Client;
use k8s_client_fake::{FakeServer, Reaction};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use serde_json::json;

fn server() -> (FakeServer, Client) {
    let server = FakeServer::new("1.36").unwrap();
    let client = server.client();
    (server, client)
}

fn cm(name: &str, labels: serde_json::Value) -> ConfigMap {
    serde_json::from_value(
        json!({"metadata": {"name": name, "labels": labels}, "data": {"k": "v"}}),
    )
    .unwrap()
}

fn deployment(name: &str) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}
    }))
    .unwrap()
}

#[tokio::test]
async fn create_get_update_delete_with_server_fields() {
    let (_server, client) = server();
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let created = api
        .create(&PostParams::default(), &cm("a", json!({})))
        .await
        .unwrap();
    let meta = &created.metadata;
    assert!(meta.uid.is_some() && meta.creation_timestamp.is_some());
    let rv1: u64 = meta.resource_version.as_deref().unwrap().parse().unwrap();
    assert_eq!(meta.generation, None, "configmaps have no generation");

    let err = api
        .create(&PostParams::default(), &cm("a", json!({})))
        .await
        .unwrap_err();
    assert!(
        err.is_already_exists() || err.api().is_some_and(|s| s.reason() == "AlreadyExists"),
        "{err:?}"
    );
    let status = err.api().unwrap();
    assert_eq!(status.code, 409);
    assert_eq!(status.message(), "configmaps \"a\" already exists");

    let mut changed = created.clone();
    changed.data = Some([("k".to_string(), "w".to_string())].into());
    let updated = api
        .replace("a", &PostParams::default(), &changed)
        .await
        .unwrap();
    let rv2: u64 = updated
        .metadata
        .resource_version
        .as_deref()
        .unwrap()
        .parse()
        .unwrap();
    assert!(rv2 > rv1);
    // A stale resourceVersion is a conflict.
    let err = api
        .replace("a", &PostParams::default(), &changed)
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{err:?}");
    // A no-op update does not bump the resourceVersion.
    let same = api
        .replace("a", &PostParams::default(), &updated)
        .await
        .unwrap();
    assert_eq!(
        same.metadata.resource_version,
        updated.metadata.resource_version
    );

    api.delete("a", &DeleteParams::default()).await.unwrap();
    let err = api.get("a").await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert_eq!(err.api().unwrap().message(), "configmaps \"a\" not found");
}

#[tokio::test]
async fn generation_bumps_on_spec_changes_only() {
    let (_server, client) = server();
    let api: Api<Deployment> = Api::namespaced(client, "default");
    let d = api
        .create(&PostParams::default(), &deployment("web"))
        .await
        .unwrap();
    assert_eq!(d.metadata.generation, Some(1));
    // The server's defaults.
    let spec = d.spec.clone();
    assert_eq!(spec.revision_history_limit, Some(10));
    assert_eq!(
        spec.strategy.unwrap().type_.as_deref(),
        Some("RollingUpdate")
    );
    let container = &spec.template.spec.unwrap().containers[0];
    assert_eq!(container.image_pull_policy.as_deref(), Some("Always"));
    assert_eq!(
        container.termination_message_path.as_deref(),
        Some("/dev/termination-log")
    );
    let labelled = api
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}})),
        )
        .await
        .unwrap();
    assert_eq!(labelled.metadata.generation, Some(1));
    let status = api
        .patch_status(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"replicas": 3}})),
        )
        .await
        .unwrap();
    assert_eq!(status.metadata.generation, Some(1));
    assert_eq!(status.status.unwrap().replicas, Some(3));
    // Status in a main-resource update is ignored.
    let scaled = api
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 2}, "status": {"replicas": 9}})),
        )
        .await
        .unwrap();
    assert_eq!(scaled.metadata.generation, Some(2));
    assert_eq!(scaled.status.unwrap().replicas, Some(3));
    // The scale subresource.
    let scale = api.get_scale("web").await.unwrap();
    assert_eq!(scale.spec.unwrap().replicas, Some(2));
    assert_eq!(scale.status.unwrap().selector.as_deref(), Some("app=web"));
    api.patch_scale(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 5}})),
    )
    .await
    .unwrap();
    let d = api.get("web").await.unwrap();
    assert_eq!(d.spec.replicas, Some(5));
    assert_eq!(d.metadata.generation, Some(3));
}

#[tokio::test]
async fn invalid_names_namespaces_generate_name_and_dry_run() {
    let (_server, client) = server();
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let err = api
        .create(&PostParams::default(), &cm("Bad_Name", json!({})))
        .await
        .unwrap_err();
    let status = err.api().unwrap();
    assert_eq!((status.code, status.reason()), (422, "Invalid"));
    assert!(status.message().starts_with("ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain"), "{}", status.message());

    let missing: Api<ConfigMap> = Api::namespaced(client.clone(), "nope");
    let err = missing
        .create(&PostParams::default(), &cm("a", json!({})))
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert_eq!(
        err.api().unwrap().message(),
        "namespaces \"nope\" not found"
    );

    let generated: ConfigMap =
        serde_json::from_value(json!({"metadata": {"generateName": "gen-"}})).unwrap();
    let made = api
        .create(&PostParams::default(), &generated)
        .await
        .unwrap();
    let name = made.metadata.name.unwrap();
    assert!(name.starts_with("gen-") && name.len() == 9, "{name}");

    let dry = api
        .create(&PostParams::default().dry_run(), &cm("dry", json!({})))
        .await
        .unwrap();
    assert_eq!(dry.metadata.name.as_deref(), Some("dry"));
    assert!(api.get("dry").await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn label_and_field_selectors_and_paging() {
    let (_server, client) = server();
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for i in 0..10 {
        let tier = if i % 2 == 0 { "even" } else { "odd" };
        api.create(
            &PostParams::default(),
            &cm(&format!("cm-{i}"), json!({"tier": tier})),
        )
        .await
        .unwrap();
    }
    let even = api
        .list(&ListParams::default().labels("tier=even"))
        .await
        .unwrap();
    assert_eq!(even.items.len(), 5);
    let one = api
        .list(&ListParams::default().fields("metadata.name=cm-3"))
        .await
        .unwrap();
    assert_eq!(one.items.len(), 1);
    let err = api
        .list(&ListParams::default().fields("data.k=v"))
        .await
        .unwrap_err();
    let status = err.api().unwrap();
    assert_eq!(
        (status.code, status.message()),
        (400, "\"data.k\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"")
    );
    let pods: Api<Pod> = Api::all(client.clone());
    pods.list(&ListParams::default().fields("spec.nodeName=n1,status.phase!=Running"))
        .await
        .unwrap();

    // Pages are a consistent snapshot: a change after the first page is not seen.
    let first = api.list(&ListParams::default().limit(4)).await.unwrap();
    assert_eq!(first.items.len(), 4);
    let token = first.metadata.continue_.clone().unwrap();
    assert_eq!(first.metadata.remaining_item_count, Some(6));
    api.delete("cm-9", &DeleteParams::default()).await.unwrap();
    api.create(&PostParams::default(), &cm("cm-99", json!({})))
        .await
        .unwrap();
    let second = api
        .list(&ListParams::default().limit(4).continue_token(&token))
        .await
        .unwrap();
    let third = api
        .list(
            &ListParams::default()
                .limit(4)
                .continue_token(second.metadata.continue_.as_deref().unwrap()),
        )
        .await
        .unwrap();
    assert!(third.metadata.continue_.is_none());
    let names: Vec<String> = first
        .items
        .iter()
        .chain(&second.items)
        .chain(&third.items)
        .filter_map(|c| c.metadata.name.clone())
        .collect();
    assert_eq!(names.len(), 10);
    assert!(names.contains(&"cm-9".to_string()) && !names.contains(&"cm-99".to_string()));
    assert_eq!(
        second.metadata.resource_version,
        first.metadata.resource_version
    );

    let err = client
        .request::<serde_json::Value>(
            http::Request::get("/api/v1/namespaces/default/configmaps?resourceVersionMatch=Exact")
                .body(Vec::new())
                .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.api().unwrap().message(),
        "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided"
    );

    // An exact list at an old resourceVersion.
    let at = first.metadata.resource_version.clone().unwrap();
    let exact = api
        .list(
            &ListParams::default()
                .at(&at)
                .matching(ResourceVersionMatch::Exact),
        )
        .await
        .unwrap();
    assert_eq!(exact.items.len(), 10);
}

#[tokio::test]
async fn expired_continue_and_watch_are_410() {
    let server = FakeServer::builder("1.36").history(3).build().unwrap();
    let api: Api<ConfigMap> = Api::namespaced(server.client(), "default");
    for i in 0..3 {
        api.create(&PostParams::default(), &cm(&format!("c{i}"), json!({})))
            .await
            .unwrap();
    }
    let first = api.list(&ListParams::default().limit(1)).await.unwrap();
    let old_rv = first.metadata.resource_version.clone().unwrap();
    for i in 3..8 {
        api.create(&PostParams::default(), &cm(&format!("c{i}"), json!({})))
            .await
            .unwrap();
    }
    let err = api
        .list(
            &ListParams::default()
                .limit(1)
                .continue_token(first.metadata.continue_.as_deref().unwrap()),
        )
        .await
        .unwrap_err();
    assert!(err.is_gone(), "{err:?}");
    let mut events = api.watch(&WatchParams::default(), &old_rv).await.unwrap();
    match events.next().await {
        Some(Ok(WatchEvent::Error(status))) => assert_eq!(status.code, Some(410)),
        other => panic!("expected a 410 error event, got {other:?}"),
    }
}

#[tokio::test]
async fn watch_from_a_resource_version_with_bookmarks_and_filters() {
    let (server, client) = server();
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let a = api
        .create(&PostParams::default(), &cm("a", json!({"w": "yes"})))
        .await
        .unwrap();
    let rv = a.metadata.resource_version.clone().unwrap();
    api.create(&PostParams::default(), &cm("b", json!({"w": "yes"})))
        .await
        .unwrap();
    api.create(&PostParams::default(), &cm("c", json!({"w": "no"})))
        .await
        .unwrap();
    let mut events = api
        .watch(&WatchParams::default().labels("w=yes"), &rv)
        .await
        .unwrap()
        .boxed();
    match events.next().await {
        Some(Ok(WatchEvent::Added(o))) => assert_eq!(o.metadata.name.as_deref(), Some("b")),
        other => panic!("{other:?}"),
    }
    // An object leaving the selection is DELETED for the watch.
    api.patch(
        "b",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"w": "no"}}})),
    )
    .await
    .unwrap();
    assert!(matches!(
        events.next().await,
        Some(Ok(WatchEvent::Deleted(_)))
    ));
    server.send_bookmarks();
    match events.next().await {
        Some(Ok(WatchEvent::Bookmark(b))) => {
            assert_eq!(b.resource_version, server.resource_version().to_string())
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn streaming_watch_list_ends_initial_events_with_a_bookmark() {
    let (_server, client) = server();
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    for i in 0..3 {
        api.create(&PostParams::default(), &cm(&format!("s{i}"), json!({})))
            .await
            .unwrap();
    }
    let mut events = api
        .watch(&WatchParams::default().streaming_list(), "")
        .await
        .unwrap()
        .boxed();
    let mut added = 0;
    loop {
        match events.next().await {
            Some(Ok(WatchEvent::Added(_))) => added += 1,
            Some(Ok(WatchEvent::Bookmark(b))) => {
                assert_eq!(
                    b.annotations
                        .get("k8s.io/initial-events-end")
                        .map(String::as_str),
                    Some("true")
                );
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(added, 3);
}

#[tokio::test(start_paused = true)]
async fn watch_timeout_ends_the_stream() {
    let (_server, client) = server();
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let events = api
        .watch(&WatchParams::default().timeout(5), "")
        .await
        .unwrap();
    let all: Vec<_> = tokio::time::timeout(Duration::from_secs(60), events.try_collect::<Vec<_>>())
        .await
        .unwrap()
        .unwrap();
    assert!(all.is_empty());
}

#[tokio::test]
async fn finalizers_and_namespace_termination() {
    let (server, client) = server();
    let nss: Api<Namespace> = Api::all(client.clone());
    nss.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "doomed"}})).unwrap(),
    )
    .await
    .unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "doomed");
    let mut held = cm("held", json!({}));
    held.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    api.create(&PostParams::default(), &held).await.unwrap();
    api.create(&PostParams::default(), &cm("free", json!({})))
        .await
        .unwrap();
    nss.delete("doomed", &DeleteParams::default())
        .await
        .unwrap();
    server.settle();
    let ns = nss.get("doomed").await.unwrap();
    assert_eq!(ns.status.unwrap().phase.as_deref(), Some("Terminating"));
    let err = api
        .create(&PostParams::default(), &cm("late", json!({})))
        .await
        .unwrap_err();
    assert!(err.is_forbidden(), "{err:?}");
    assert!(api.get("free").await.unwrap_err().is_not_found());
    let held = api.get("held").await.unwrap();
    assert!(held.metadata.deletion_timestamp.is_some());
    api.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    server.settle();
    assert!(api.get("held").await.unwrap_err().is_not_found());
    assert!(nss.get("doomed").await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn garbage_collection_background_foreground_orphan() {
    let (server, client) = server();
    let owners: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let deps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for policy in [
        PropagationPolicy::Background,
        PropagationPolicy::Foreground,
        PropagationPolicy::Orphan,
    ] {
        let owner = owners
            .create(&PostParams::default(), &cm("owner", json!({})))
            .await
            .unwrap();
        let mut dep = cm("dep", json!({}));
        dep.metadata.owner_references = Some(vec![serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid.clone().unwrap(), "blockOwnerDeletion": true
        })).unwrap()]);
        deps.create(&PostParams::default(), &dep).await.unwrap();
        owners
            .delete("owner", &DeleteParams::default().propagation(policy))
            .await
            .unwrap();
        server.settle();
        assert!(
            owners.get("owner").await.unwrap_err().is_not_found(),
            "{policy:?}"
        );
        let dep = deps.get_opt("dep").await.unwrap();
        match policy {
            PropagationPolicy::Orphan => {
                let dep = dep.expect("orphaned dependent stays");
                assert!(dep.metadata.owner_references.unwrap_or_default().is_empty());
                deps.delete("dep", &DeleteParams::default()).await.unwrap();
            }
            _ => assert!(dep.is_none(), "{policy:?}"),
        }
    }
}

#[tokio::test]
async fn graceful_pod_deletion_and_advance_time() {
    let (server, client) = server();
    let pods: Api<Pod> = Api::namespaced(client, "default");
    let pod = |name: &str, node: Option<&str>| -> Pod {
        let mut v = json!({"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "x"}]}});
        if let Some(n) = node {
            v["spec"]["nodeName"] = json!(n);
        }
        serde_json::from_value(v).unwrap()
    };
    pods.create(&PostParams::default(), &pod("unbound", None))
        .await
        .unwrap();
    pods.create(&PostParams::default(), &pod("bound", Some("node-1")))
        .await
        .unwrap();
    pods.delete("unbound", &DeleteParams::default())
        .await
        .unwrap();
    assert!(pods.get("unbound").await.unwrap_err().is_not_found());
    pods.delete("bound", &DeleteParams::default())
        .await
        .unwrap();
    let bound = pods.get("bound").await.unwrap();
    assert_eq!(bound.metadata.deletion_grace_period_seconds, Some(30));
    server.advance_time(Duration::from_secs(31));
    assert!(pods.get("bound").await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn reactors_and_recorded_actions() {
    let (server, client) = server();
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    server.prepend_reactor("create", "configmaps", |action| {
        if action
            .body
            .as_ref()
            .is_some_and(|b| b["metadata"]["name"] == "blocked")
        {
            Reaction::Fail(k8s_client_fake::StatusError::new(
                500,
                "InternalError",
                "injected",
            ))
        } else {
            Reaction::Continue
        }
    });
    let err = api
        .create(&PostParams::default(), &cm("blocked", json!({})))
        .await
        .unwrap_err();
    assert_eq!(err.api().unwrap().message(), "injected");
    api.create(&PostParams::default(), &cm("fine", json!({})))
        .await
        .unwrap();
    server.prepend_reactor("update", "configmaps", Reaction::conflict);
    let fine = api.get("fine").await.unwrap();
    assert!(api
        .replace("fine", &PostParams::default(), &fine)
        .await
        .unwrap_err()
        .is_conflict());
    let verbs: Vec<String> = server
        .actions()
        .iter()
        .filter(|a| a.resource == "configmaps")
        .map(|a| a.verb.clone())
        .collect();
    assert!(
        verbs.starts_with(&[
            "create".to_string(),
            "create".into(),
            "get".into(),
            "update".into()
        ]),
        "{verbs:?}"
    );
}

#[tokio::test]
async fn seeding_from_yaml() {
    let (server, client) = server();
    server
        .seed_yaml("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: one\n  namespace: team\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: team\nspec:\n  selector: {matchLabels: {a: b}}\n  template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: i}]}}\n")
        .unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "team");
    assert!(api.get("one").await.is_ok());
    let d: Api<Deployment> = Api::namespaced(client, "team");
    assert_eq!(d.get("web").await.unwrap().metadata.generation, Some(1));
}

#[tokio::test]
async fn wire_formats_and_aggregated_discovery() {
    let (_server, client) = server();
    let get = |path: &str, accept: &str| {
        http::Request::get(path)
            .header("accept", accept)
            .body(Vec::new())
            .unwrap()
    };
    // A protobuf-only Accept is refused with 406 (the client falls back to JSON).
    let err = client
        .request::<serde_json::Value>(get(
            "/api/v1/namespaces/default/configmaps",
            "application/vnd.kubernetes.protobuf",
        ))
        .await
        .unwrap_err();
    assert_eq!(err.api().unwrap().code, 406);
    // Aggregated discovery, v2 and v2beta1.
    for (asked, expected) in [
        ("v2", "apidiscovery.k8s.io/v2"),
        ("v2beta1", "apidiscovery.k8s.io/v2beta1"),
    ] {
        let accept =
            format!("application/json;g=apidiscovery.k8s.io;v={asked};as=APIGroupDiscoveryList");
        let doc: serde_json::Value = client.request(get("/apis", &accept)).await.unwrap();
        assert_eq!(doc["apiVersion"], expected);
        assert!(doc["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["metadata"]["name"] == "apps"));
    }
    // Unsupported requests say so.
    let err = client
        .request::<serde_json::Value>(get(
            "/api/v1/namespaces/default/pods/x/log",
            "application/json",
        ))
        .await
        .unwrap_err();
    assert!(
        err.api()
            .unwrap()
            .message()
            .starts_with("not supported by the in-memory server: "),
        "{err:?}"
    );
}
