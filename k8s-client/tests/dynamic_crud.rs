//! The dynamic client against the real control plane: the seed walkthrough's Deployment
//! from untyped JSON; every verb on ConfigMaps (get, list with pages, replace, the four patch
//! types, delete, delete_collection); server-side apply conflicts and force; status and
//! scale subresources; typed <-> dynamic conversion of server answers; typed errors.

use futures::TryStreamExt;
use k8s_client::api::{
    ApiResource, DeleteParams, Deleted, GroupVersionKind, ListParams, Object, Patch, PatchParams,
    PostParams, PropagationPolicy,
};
use k8s_client::dynamic::{ConvertError, DynamicApi, DynamicObject};
use k8s_client::retry::{retry_on_conflict, Backoff};
use k8s_client::{Client, Error};
use k8s_client_testsupport as ts;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use serde_json::{json, Value};

fn deployments() -> ApiResource {
    ApiResource::from_gvk(
        &GroupVersionKind::new("apps", "v1", "Deployment"),
        "deployments",
        true,
    )
}

fn configmaps() -> ApiResource {
    ApiResource::of::<ConfigMap>()
}

fn demo_deployment() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "demo-deployment"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "demo"}},
            "template": {
                "metadata": {"labels": {"app": "demo"}},
                "spec": {"containers": [{
                    "name": "web",
                    "image": "nginx:1.12",
                    "ports": [{"name": "http", "protocol": "TCP", "containerPort": 80}]
                }]}
            }
        }
    })
}

async fn fast_client() -> Client {
    let mut config = ts::config("admin").await;
    config.rate_limit = None;
    Client::try_from(config).unwrap()
}

#[tokio::test]
async fn seed_walkthrough_dynamic() {
    let ns = ts::namespace("dyn-seed").await;
    let client = fast_client().await;
    let api = DynamicApi::namespaced_with(client.clone(), &ns.name, &deployments());

    // Create from untyped JSON.
    let deployment = DynamicObject::from_json(demo_deployment()).unwrap();
    let created = api
        .create(&PostParams::default(), &deployment)
        .await
        .unwrap();
    assert_eq!(created.name(), Some("demo-deployment"));
    assert_eq!(created.namespace(), Some(ns.name.as_str()));
    assert_eq!(created.kind, "Deployment");
    assert!(created.uid().is_some());
    assert_eq!(created.field(&["spec", "replicas"]), Some(&json!(2)));
    // Defaults the server filled in arrive as JSON too.
    assert_eq!(
        created.field(&["spec", "strategy", "type"]),
        Some(&json!("RollingUpdate"))
    );

    // Read it.
    let got = api.get("demo-deployment").await.unwrap();
    assert_eq!(got.uid(), created.uid());
    assert_eq!(
        got.field(&["spec", "template", "spec", "containers"])
            .unwrap()[0]["image"],
        "nginx:1.12"
    );

    // Update replicas and image: get, modify, replace, retried on conflict.
    retry_on_conflict(Backoff::default_retry(), || async {
        let mut latest = api.get("demo-deployment").await?;
        latest.set_field(&["spec", "replicas"], json!(1))?;
        if let Some(c) = latest.field_mut(&["spec", "template", "spec", "containers"]) {
            c[0]["image"] = json!("nginx:1.13");
        }
        api.replace("demo-deployment", &PostParams::default(), &latest)
            .await
    })
    .await
    .unwrap();
    let updated = api.get("demo-deployment").await.unwrap();
    assert_eq!(updated.field(&["spec", "replicas"]), Some(&json!(1)));
    let typed: Deployment = updated.try_parse().unwrap();
    let spec = typed.spec;
    assert_eq!(spec.replicas, Some(1));
    assert_eq!(
        spec.template.spec.unwrap().containers[0].image.as_deref(),
        Some("nginx:1.13")
    );

    // List (items of a built-in kind's list get apiVersion and kind from the resource).
    let list = api.list(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 1);
    assert_eq!(list.items[0].name(), Some("demo-deployment"));
    assert_eq!(list.items[0].api_version, "apps/v1");
    assert_eq!(list.items[0].kind, "Deployment");
    assert!(list.resource_version().is_some());

    // Delete, in the foreground: the answer is the object, kept (with a deletion timestamp)
    // until the garbage collector has deleted its ReplicaSets, or a Status.
    let dp = DeleteParams::default().propagation(PropagationPolicy::Foreground);
    match api.delete("demo-deployment", &dp).await.unwrap() {
        Deleted::Object(o) => {
            assert_eq!(o.kind, "Deployment");
            assert!(o.metadata.deletion_timestamp.is_some());
        }
        Deleted::Status(s) => assert_eq!(s.status.as_deref(), Some("Success")),
    }
    // It is gone, or going (the garbage collector of a shared control plane may take its
    // time: not waited for).
    if let Some(d) = api.get_opt("demo-deployment").await.unwrap() {
        assert!(d.metadata.deletion_timestamp.is_some());
        assert!(d
            .metadata
            .finalizers
            .unwrap_or_default()
            .contains(&"foregroundDeletion".to_string()));
    }
}

#[tokio::test]
async fn every_verb_on_configmaps() {
    let ns = ts::namespace("dyn-verbs").await;
    let client = fast_client().await;
    let api = DynamicApi::namespaced_with(client.clone(), &ns.name, &configmaps());

    // Create five, one without apiVersion/kind (the resource's are used).
    for i in 0..5 {
        let mut cm = DynamicObject::new(&format!("cm-{i}"), &configmaps())
            .with_field("data", json!({"i": i.to_string()}));
        cm.metadata.labels = Some([("set".to_string(), "a".to_string())].into());
        if i == 0 {
            cm.api_version.clear();
            cm.kind.clear();
        }
        let created = api.create(&PostParams::default(), &cm).await.unwrap();
        assert_eq!(created.data["data"]["i"], i.to_string());
    }

    // get_opt, pages.
    assert!(api.get_opt("missing").await.unwrap().is_none());
    let err = api.get("missing").await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    let lp = ListParams::default().labels("set=a").limit(2);
    let pages: Vec<_> = api.list_pages(&lp).try_collect().await.unwrap();
    // With a selector the server may end a page early or send a last empty page (it
    // filters what it reads from storage page by page).
    assert!(pages.len() >= 3, "{} pages", pages.len());
    assert!(pages.iter().all(|p| p.items.len() <= 2));
    assert_eq!(pages.iter().map(|p| p.items.len()).sum::<usize>(), 5);
    let all = api.list_all(&lp).await.unwrap();
    let mut names: Vec<_> = all.iter().filter_map(|o| o.name()).collect();
    names.sort();
    assert_eq!(names, ["cm-0", "cm-1", "cm-2", "cm-3", "cm-4"]);

    // Listing across all namespaces finds ours.
    let everywhere = DynamicApi::all_with(client.clone(), &configmaps());
    let found = everywhere
        .list(&ListParams::default().labels("set=a"))
        .await
        .unwrap();
    assert!(found
        .iter()
        .any(|o| o.namespace() == Some(ns.name.as_str())));

    // Replace with a stale resourceVersion conflicts.
    let stale = api.get("cm-0").await.unwrap();
    let mut fresh = stale.clone();
    fresh.set_field(&["data", "i"], json!("zero")).unwrap();
    api.replace("cm-0", &PostParams::default(), &fresh)
        .await
        .unwrap();
    let err = api
        .replace("cm-0", &PostParams::default(), &stale)
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{err}");

    // The four patch types.
    let pp = PatchParams::default();
    let out = api
        .patch("cm-1", &pp, &Patch::Merge(json!({"data": {"m": "merge"}})))
        .await
        .unwrap();
    assert_eq!(out.data["data"]["m"], "merge");
    let out = api
        .patch(
            "cm-1",
            &pp,
            &Patch::Json(json!([{"op": "replace", "path": "/data/m", "value": "json"}])),
        )
        .await
        .unwrap();
    assert_eq!(out.data["data"]["m"], "json");
    let out = api
        .patch(
            "cm-1",
            &pp,
            &Patch::Strategic(json!({"metadata": {"labels": {"s": "yes"}}})),
        )
        .await
        .unwrap();
    assert_eq!(out.metadata.labels.as_ref().unwrap()["s"], "yes");
    assert_eq!(out.data["data"]["i"], "1");

    // Dry run changes nothing.
    api.patch(
        "cm-1",
        &PatchParams::default().dry_run(),
        &Patch::Merge(json!({"data": {"m": "dry"}})),
    )
    .await
    .unwrap();
    assert_eq!(api.get("cm-1").await.unwrap().data["data"]["m"], "json");

    // Delete one: the answer for a ConfigMap is the deleted object or a Status.
    match api.delete("cm-2", &DeleteParams::default()).await.unwrap() {
        Deleted::Object(o) => assert_eq!(o.name(), Some("cm-2")),
        Deleted::Status(s) => assert_eq!(s.status.as_deref(), Some("Success")),
    }
    assert!(api.get_opt("cm-2").await.unwrap().is_none());
    let err = api
        .delete("cm-2", &DeleteParams::default())
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");

    // Delete the rest of the set.
    match api
        .delete_collection(
            &DeleteParams::default(),
            &ListParams::default().labels("set=a"),
        )
        .await
        .unwrap()
    {
        Deleted::Object(list) => {
            let mut names: Vec<_> = list.iter().filter_map(|o| o.name()).collect();
            names.sort();
            assert_eq!(names, ["cm-0", "cm-1", "cm-3", "cm-4"]);
            assert!(list.iter().all(|o| o.kind == "ConfigMap"));
        }
        Deleted::Status(s) => panic!("expected the deleted list, got {s:?}"),
    }
    assert!(api
        .list(&ListParams::default().labels("set=a"))
        .await
        .unwrap()
        .items
        .is_empty());
}

fn apply_config(value: &str) -> DynamicObject {
    DynamicObject::new("owned", &configmaps()).with_field("data", json!({"shared": value}))
}

fn owners(obj: &DynamicObject) -> Vec<String> {
    obj.metadata
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
async fn server_side_apply_conflicts_and_force() {
    let ns = ts::namespace("dyn-ssa").await;
    let api = DynamicApi::namespaced_with(fast_client().await, &ns.name, &configmaps());

    let out = api
        .patch(
            "owned",
            &PatchParams::apply("manager-a"),
            &Patch::Apply(&apply_config("from-a")),
        )
        .await
        .unwrap();
    assert_eq!(out.data["data"]["shared"], "from-a");
    assert_eq!(owners(&out), ["manager-a"]);

    // Another manager applying another value conflicts, naming the owner.
    let err = api
        .patch(
            "owned",
            &PatchParams::apply("manager-b"),
            &Patch::Apply(&apply_config("from-b")),
        )
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{err}");
    assert!(err.to_string().contains("manager-a"), "{err}");
    assert_eq!(
        api.get("owned").await.unwrap().data["data"]["shared"],
        "from-a"
    );

    // With force, it takes the field over.
    let out = api
        .patch(
            "owned",
            &PatchParams::apply("manager-b").force(),
            &Patch::Apply(&apply_config("from-b")),
        )
        .await
        .unwrap();
    assert_eq!(out.data["data"]["shared"], "from-b");
    assert_eq!(owners(&out), ["manager-b"]);

    // An apply without a field manager is refused before anything is sent.
    let err = api
        .patch(
            "owned",
            &PatchParams::default(),
            &Patch::Apply(&apply_config("x")),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Request(_)), "{err:?}");
}

#[tokio::test]
async fn status_and_scale_subresources_of_a_deployment() {
    let ns = ts::namespace("dyn-sub").await;
    let api = DynamicApi::namespaced_with(fast_client().await, &ns.name, &deployments());
    api.create(
        &PostParams::default(),
        &DynamicObject::from_json(demo_deployment()).unwrap(),
    )
    .await
    .unwrap();

    // Scale.
    let scale = api.get_scale("demo-deployment").await.unwrap();
    assert_eq!(scale.spec.unwrap().replicas, Some(2));
    let scale = api
        .patch_scale(
            "demo-deployment",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 4}})),
        )
        .await
        .unwrap();
    assert_eq!(scale.spec.unwrap().replicas, Some(4));
    // The Scale carries the Deployment's resourceVersion, which the deployment controller
    // changes when it writes the status: retried on conflict.
    retry_on_conflict(Backoff::default_retry(), || async {
        let mut scale = api.get_scale("demo-deployment").await?;
        if let Some(spec) = scale.spec.as_mut() {
            spec.replicas = Some(3);
        }
        api.replace_scale("demo-deployment", &PostParams::default(), &scale)
            .await
    })
    .await
    .unwrap();
    let obj = api.get("demo-deployment").await.unwrap();
    assert_eq!(obj.field(&["spec", "replicas"]), Some(&json!(3)));

    // Status: a patch of the status subresource changes the status only. (The deployment
    // controller rewrites the status at any time: only the answers to our own writes are
    // checked for status values.)
    let out = api
        .patch_status(
            "demo-deployment",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"observedGeneration": 99}, "spec": {"replicas": 7}})),
        )
        .await
        .unwrap();
    assert_eq!(
        out.field(&["status", "observedGeneration"]),
        Some(&json!(99))
    );
    assert_eq!(out.field(&["spec", "replicas"]), Some(&json!(3)));
    let status = api.get_status("demo-deployment").await.unwrap();
    assert_eq!(status.kind, "Deployment");
    assert!(status.field(&["status"]).is_some());
    assert_eq!(status.field(&["spec", "replicas"]), Some(&json!(3)));
    let out = retry_on_conflict(Backoff::default_retry(), || async {
        let mut current = api.get_status("demo-deployment").await?;
        current.set_field(&["status", "observedGeneration"], json!(100))?;
        current.set_field(&["spec", "replicas"], json!(8))?;
        api.replace_status("demo-deployment", &PostParams::default(), &current)
            .await
    })
    .await
    .unwrap();
    assert_eq!(
        out.field(&["status", "observedGeneration"]),
        Some(&json!(100))
    );
    assert_eq!(out.field(&["spec", "replicas"]), Some(&json!(3)));
    let raw: Value = api
        .get_subresource("status", "demo-deployment")
        .await
        .unwrap();
    assert_eq!(raw["kind"], "Deployment");
}

#[tokio::test]
async fn conversions_of_server_answers_and_typed_errors() {
    let ns = ts::namespace("dyn-conv").await;
    let client = fast_client().await;
    let api = DynamicApi::namespaced_with(client.clone(), &ns.name, &configmaps());
    let typed_api: k8s_client::Api<ConfigMap> =
        k8s_client::Api::namespaced(client.clone(), &ns.name);

    // Typed -> dynamic -> server -> dynamic -> typed.
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("conv".into());
    cm.data = Some([("k".to_string(), "v".to_string())].into());
    cm.binary_data = Some(
        [(
            "b".to_string(),
            k8s_openapi::ByteString(vec![0, 159, 146, 150]),
        )]
        .into(),
    );
    let created = api
        .create(
            &PostParams::default(),
            &DynamicObject::from_typed(&cm).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(created.data["binaryData"]["b"], "AJ+Slg==");
    let back: ConfigMap = created.try_parse().unwrap();
    assert_eq!(back.data, cm.data);
    assert_eq!(back.binary_data, cm.binary_data);
    assert_eq!(back, typed_api.get("conv").await.unwrap());
    assert_eq!(DynamicObject::from_typed(&back).unwrap(), created);

    // The wrong type is a typed error.
    match created.try_parse::<Deployment>() {
        Err(ConvertError::WrongKind { expected, found }) => {
            assert_eq!(expected.to_string(), "apps/v1/Deployment");
            assert_eq!(found.to_string(), "v1/ConfigMap");
        }
        other => panic!("{other:?}"),
    }
    // An object of another kind is refused by the server, with its Status.
    let err = api
        .create(
            &PostParams::default(),
            &DynamicObject::from_json(demo_deployment()).unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.api().map(|e| e.code), Some(400), "{err}");
    // Fields of the wrong type are refused by the server (a typed Api error).
    let mut bad = DynamicObject::new("bad", &configmaps());
    bad.set_field(&["data", "k"], json!(5)).unwrap();
    let err = api.create(&PostParams::default(), &bad).await.unwrap_err();
    assert!(err.api().is_some(), "{err:?}");
    assert!(err.to_string().contains("data"), "{err}");

    // A namespace on a cluster-scoped resource is refused before anything is sent.
    let wrong = DynamicApi::namespaced_with(client.clone(), "x", &ApiResource::of::<Namespace>());
    match wrong.get(&ns.name).await {
        Err(Error::Request(e)) => assert!(e.message().contains("cluster-scoped"), "{e}"),
        other => panic!("{other:?}"),
    }
    // Cluster-scoped resources work through `all`.
    let namespaces = DynamicApi::all_with(client.clone(), &ApiResource::of::<Namespace>());
    let mine = namespaces.get(&ns.name).await.unwrap();
    assert_eq!(mine.kind, "Namespace");
    assert_eq!(mine.field(&["status", "phase"]), Some(&json!("Active")));

    // A resource the server does not serve: NotFound.
    let nothing = ApiResource::from_gvk(
        &GroupVersionKind::new("nothing.example.com", "v1", "Nothing"),
        "nothings",
        true,
    );
    let err = DynamicApi::namespaced_with(client, &ns.name, &nothing)
        .list(&ListParams::default())
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

#[tokio::test]
async fn generic_subresources() {
    let ns = ts::namespace("dyn-gensub").await;
    let client = fast_client().await;
    let accounts = DynamicApi::namespaced_with(
        client.clone(),
        &ns.name,
        &ApiResource::of::<k8s_openapi::api::core::v1::ServiceAccount>(),
    );
    accounts
        .create(
            &PostParams::default(),
            &DynamicObject::new("robot", accounts.resource()),
        )
        .await
        .unwrap();
    // POST on a subresource: a TokenRequest (the token itself is never printed).
    let request = json!({
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {"audiences": ["k8s-client-test"], "expirationSeconds": 600}
    });
    let answer: DynamicObject = accounts
        .create_subresource("token", "robot", &PostParams::default(), &request)
        .await
        .unwrap();
    assert_eq!(answer.kind, "TokenRequest");
    let token = answer.field(&["status", "token"]).and_then(Value::as_str);
    assert!(
        token.is_some_and(|t| t.len() > 20),
        "no token in the answer"
    );
    assert!(answer.field(&["status", "expirationTimestamp"]).is_some());
    let err = accounts
        .create_subresource::<_, Value>("token", "nobody", &PostParams::default(), &request)
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
}
