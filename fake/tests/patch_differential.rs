//! Differential tests of the patch engine: the same patches and apply sequences go to the real
//! control plane and through `k8s_client_fake::patch` from the same starting object, and the
//! results must be equal (after normalizing resourceVersion, uid, timestamps, generation and
//! the time of managedFields entries).
//!
//! Needs the test control plane (`K8S_CLIENT_TEST_KUBECONFIG`).

use k8s_client::api::GroupVersionKind;
use k8s_client::Client;
use k8s_client_fake::patch::{
    apply, json_patch, merge_patch, record_update, strategic_merge_patch,
};
use k8s_client_fake::schema::Schemas;
use k8s_client_testsupport as ts;
use serde_json::{json, Value};

const NOW: &str = "2026-01-01T00:00:00Z";

struct Env {
    client: Client,
    schemas: Schemas,
    ns: ts::TestNamespace,
}

type ServerResult = Result<Value, (u16, String)>;

async fn call(
    client: &Client,
    method: &str,
    uri: &str,
    ctype: &str,
    body: Option<&Value>,
) -> ServerResult {
    let bytes = body
        .map(|b| serde_json::to_vec(b).unwrap())
        .unwrap_or_default();
    let mut req = http::Request::builder().method(method).uri(uri);
    if body.is_some() {
        req = req.header("Content-Type", ctype);
    }
    let req = req.body(bytes).unwrap();
    match client.request::<Value>(req).await {
        Ok(v) => Ok(v),
        Err(e) => match e.api() {
            Some(a) => Err((a.code, a.message().to_string())),
            None => panic!("{method} {uri}: {e}"),
        },
    }
}

impl Env {
    async fn new(prefix: &str) -> Env {
        let client = ts::client().await;
        let ns = ts::namespace(prefix).await;
        let mut docs = Vec::new();
        for p in ["api/v1", "apis/apps/v1"] {
            docs.push(
                call(&client, "GET", &format!("/openapi/v3/{p}"), "", None)
                    .await
                    .unwrap_or_else(|e| panic!("GET /openapi/v3/{p}: {e:?}")),
            );
        }
        let schemas =
            Schemas::from_openapi_v3(&docs).expect("reading the server's OpenAPI documents");
        Env {
            client,
            schemas,
            ns,
        }
    }

    fn path(&self, api: &str, resource: &str, name: &str) -> String {
        format!("{api}/namespaces/{}/{resource}/{name}", self.ns.name)
    }

    async fn create(&self, api: &str, resource: &str, object: Value) -> Value {
        let uri = format!(
            "{api}/namespaces/{}/{resource}?fieldManager=creator",
            self.ns.name
        );
        call(
            &self.client,
            "POST",
            &uri,
            "application/json",
            Some(&object),
        )
        .await
        .unwrap_or_else(|e| panic!("creating {resource}: {e:?}"))
    }

    async fn get(&self, path: &str) -> Value {
        call(&self.client, "GET", path, "", None).await.unwrap()
    }

    /// Sends one patch to the server and through the engine from the object the server had,
    /// and compares the results (object and managedFields, or the error).
    async fn check_patch(
        &self,
        path: &str,
        gvk: &GroupVersionKind,
        ctype: &str,
        patch: Value,
    ) -> Value {
        let before = self.get(path).await;
        let server = call(
            &self.client,
            "PATCH",
            &format!("{path}?fieldManager=patcher"),
            ctype,
            Some(&patch),
        )
        .await;
        let mine = match ctype {
            "application/json-patch+json" => json_patch(&before, &patch),
            "application/merge-patch+json" => merge_patch(&before, &patch),
            _ => strategic_merge_patch(&self.schemas, gvk, &before, &patch),
        };
        match (server, mine) {
            (Ok(s), Ok(mut m)) => {
                record_update(
                    &self.schemas,
                    gvk,
                    Some(&before),
                    &mut m,
                    "patcher",
                    "",
                    NOW,
                )
                .unwrap();
                assert_eq!(
                    normalize(&m),
                    normalize(&s),
                    "patch {patch}: engine (left) vs server (right)"
                );
                s
            }
            (Err((code, message)), Err(e)) => {
                assert_eq!(code, e.status_code(), "patch {patch}: {message} vs {e}");
                assert_message(&message, &e.to_string());
                before
            }
            (s, m) => panic!("patch {patch}: server {s:?}, engine {m:?}"),
        }
    }

    /// Applies on the server and through the engine from the object the server had.
    async fn check_apply(
        &self,
        path: &str,
        gvk: &GroupVersionKind,
        applied: Value,
        manager: &str,
        force: bool,
        whole: bool,
    ) -> Result<Value, String> {
        let before = call(&self.client, "GET", path, "", None).await.ok();
        let uri = format!("{path}?fieldManager={manager}&force={force}");
        let server = call(
            &self.client,
            "PATCH",
            &uri,
            "application/apply-patch+yaml",
            Some(&applied),
        )
        .await;
        let mut mine = apply(
            &self.schemas,
            gvk,
            before.as_ref(),
            &applied,
            manager,
            force,
            NOW,
        );
        if let (None, Ok(m)) = (&before, &mut mine) {
            // The server takes the namespace from the URL.
            m["metadata"]["namespace"] = json!(self.ns.name);
        }
        match (server, mine) {
            (Ok(s), Ok(m)) => {
                if whole {
                    assert_eq!(
                        normalize(&m),
                        normalize(&s),
                        "apply by {manager} of {applied}: engine (left) vs server (right)"
                    );
                } else {
                    assert_eq!(
                        normalize(&m)["metadata"]["managedFields"],
                        normalize(&s)["metadata"]["managedFields"],
                        "apply by {manager} of {applied}: managedFields of engine (left) vs server (right)"
                    );
                }
                Ok(s)
            }
            (Err((code, message)), Err(e)) => {
                assert_eq!(code, e.status_code(), "apply {applied}: {message} vs {e}");
                assert_message(&message, &e.to_string());
                Err(message)
            }
            (s, m) => panic!("apply by {manager} of {applied}: server {s:?}, engine {m:?}"),
        }
    }
}

fn assert_message(server: &str, mine: &str) {
    assert!(
        server == mine || server.contains(mine),
        "server message {server:?} vs engine {mine:?}"
    );
}

/// Drops what differs by nature between two runs: identity, times, versions.
fn normalize(v: &Value) -> Value {
    let mut v = v.clone();
    // The status is written by the controller manager through the status subresource, at
    // its own pace, between our read and the server's answer: not the patch engine's part.
    if let Some(o) = v.as_object_mut() {
        o.remove("status");
    }
    // So is the Deployment controller's revision annotation (its manager is the harness's
    // controller manager, "testcluster").
    if let Some(Value::Array(list)) = v.pointer_mut("/metadata/managedFields") {
        list.retain(|e| {
            e["subresource"].as_str() != Some("status")
                && e["manager"].as_str() != Some("testcluster")
        });
    }
    if let Some(Value::Object(annotations)) = v.pointer_mut("/metadata/annotations") {
        annotations.remove("deployment.kubernetes.io/revision");
        if annotations.is_empty() {
            if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
                m.remove("annotations");
            }
        }
    }
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for f in ["resourceVersion", "uid", "creationTimestamp", "generation"] {
            m.remove(f);
        }
        if let Some(Value::Array(list)) = m.get_mut("managedFields") {
            for e in list.iter_mut() {
                if let Some(e) = e.as_object_mut() {
                    e.remove("time");
                }
            }
            list.sort_by_key(|e| {
                (
                    e["operation"].as_str().unwrap_or("").to_string(),
                    e["manager"].as_str().unwrap_or("").to_string(),
                    e["subresource"].as_str().unwrap_or("").to_string(),
                )
            });
        }
    }
    v
}

fn cm_gvk() -> GroupVersionKind {
    GroupVersionKind::new("", "v1", "ConfigMap")
}

fn deploy_gvk() -> GroupVersionKind {
    GroupVersionKind::new("apps", "v1", "Deployment")
}

/// A container with the fields the server defaults, so that objects compare equal.
fn container(name: &str, image: &str) -> Value {
    json!({
        "name": name, "image": image, "imagePullPolicy": "IfNotPresent",
        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
        "resources": {}
    })
}

fn deployment(name: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}, "finalizers": ["a.io/x", "a.io/y"]},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [container("one", "busybox:1"), container("two", "busybox:2")]}
            }
        }
    })
}

async fn clear_finalizers(env: &Env, path: &str) {
    call(
        &env.client,
        "PATCH",
        path,
        "application/merge-patch+json",
        Some(&json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn create_records_the_creator_like_the_server() {
    let env = Env::new("pd-create").await;
    for (api, resource, gvk, object) in [
        (
            "/api/v1",
            "configmaps",
            cm_gvk(),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"a": "b"}}, "data": {"x": "1"}}),
        ),
        (
            "/apis/apps/v1",
            "deployments",
            deploy_gvk(),
            deployment("d"),
        ),
    ] {
        let created = env.create(api, resource, object).await;
        let mut mine = created.clone();
        mine["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("managedFields");
        record_update(&env.schemas, &gvk, None, &mut mine, "creator", "", NOW).unwrap();
        assert_eq!(
            normalize(&mine),
            normalize(&created),
            "create of {resource}"
        );
    }
    clear_finalizers(&env, &env.path("/apis/apps/v1", "deployments", "d")).await;
}

#[tokio::test]
async fn json_and_merge_patches_match_the_server() {
    let env = Env::new("pd-json").await;
    env.create(
        "/api/v1",
        "configmaps",
        json!({"metadata": {"name": "c", "labels": {"a": "1"}}, "data": {"x": "1", "y": "2"}}),
    )
    .await;
    let path = env.path("/api/v1", "configmaps", "c");
    let gvk = cm_gvk();
    let jp = "application/json-patch+json";
    let mp = "application/merge-patch+json";
    env.check_patch(
        &path,
        &gvk,
        jp,
        json!([
            {"op": "add", "path": "/data/z", "value": "3"},
            {"op": "replace", "path": "/data/x", "value": "10"},
            {"op": "remove", "path": "/data/y"},
            {"op": "copy", "from": "/data/z", "path": "/data/w"},
            {"op": "move", "from": "/data/w", "path": "/metadata/labels/b"},
            {"op": "test", "path": "/data/x", "value": "10"}
        ]),
    )
    .await;
    // A failing test, a missing path to replace or remove, an unknown operation.
    env.check_patch(
        &path,
        &gvk,
        jp,
        json!([{"op": "test", "path": "/data/x", "value": "nope"}]),
    )
    .await;
    env.check_patch(
        &path,
        &gvk,
        jp,
        json!([{"op": "replace", "path": "/data/missing", "value": "1"}]),
    )
    .await;
    env.check_patch(
        &path,
        &gvk,
        jp,
        json!([{"op": "remove", "path": "/data/missing"}]),
    )
    .await;
    env.check_patch(
        &path,
        &gvk,
        jp,
        json!([{"op": "add", "path": "/nothere/x", "value": "1"}]),
    )
    .await;
    env.check_patch(
        &path,
        &gvk,
        jp,
        json!([{"op": "move", "from": "/data/nothere", "path": "/data/b"}]),
    )
    .await;
    env.check_patch(&path, &gvk, jp, json!([{"op": "frob", "path": "/data/x"}]))
        .await;
    // Malformed patches.
    env.check_patch(&path, &gvk, jp, json!({"op": "add"})).await;
    env.check_patch(&path, &gvk, mp, json!([1])).await;
    env.check_patch(
        &path,
        &gvk,
        "application/strategic-merge-patch+json",
        json!("x"),
    )
    .await;
    // Merge patch: set, delete with null, nested maps.
    env.check_patch(&path, &gvk, mp, json!({"data": {"x": null, "q": "7"}, "metadata": {"labels": {"a": null, "c": "3"}, "annotations": {"n": "v"}}})).await;
    // A second writer: its entry is separate; the first loses the fields it changed.
    let before = env.get(&path).await;
    let server = call(
        &env.client,
        "PATCH",
        &format!("{path}?fieldManager=other"),
        mp,
        Some(&json!({"data": {"q": "8"}})),
    )
    .await
    .unwrap();
    let mut mine = merge_patch(&before, &json!({"data": {"q": "8"}})).unwrap();
    record_update(
        &env.schemas,
        &gvk,
        Some(&before),
        &mut mine,
        "other",
        "",
        NOW,
    )
    .unwrap();
    assert_eq!(normalize(&mine), normalize(&server));
    // Replacing the managed fields with one empty entry resets them; an empty list keeps them.
    let reset = env
        .check_patch(
            &path,
            &gvk,
            mp,
            json!({"metadata": {"managedFields": []}, "data": {"r": "1"}}),
        )
        .await;
    assert!(reset["metadata"].get("managedFields").is_none(), "{reset}");
    env.check_patch(&path, &gvk, mp, json!({"data": {"r": "2"}}))
        .await;
    let reset = env
        .check_patch(
            &path,
            &gvk,
            jp,
            json!([{"op": "replace", "path": "/metadata/managedFields", "value": [{}]}]),
        )
        .await;
    assert!(reset["metadata"].get("managedFields").is_none(), "{reset}");
    // Without managed fields an update is not tracked; an apply starts tracking again.
    env.check_patch(&path, &gvk, mp, json!({"data": {"s": "1"}}))
        .await;
    env.check_apply(&path, &gvk, json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"s": "1"}}), "applier", false, true).await.unwrap();
    env.check_patch(&path, &gvk, mp, json!({"data": {"u": "1"}}))
        .await;
    // Managed fields sent in full replace the live ones.
    env.check_patch(&path, &gvk, mp, json!({"metadata": {"managedFields": [
        {"manager": "someone", "operation": "Update", "apiVersion": "v1", "time": "2025-01-01T00:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:s": {}}}}
    ]}, "data": {"t": "1"}})).await;
}

#[tokio::test]
async fn strategic_merge_patches_match_the_server() {
    let env = Env::new("pd-smp").await;
    env.create("/apis/apps/v1", "deployments", deployment("d"))
        .await;
    let path = env.path("/apis/apps/v1", "deployments", "d");
    let gvk = deploy_gvk();
    let sp = "application/strategic-merge-patch+json";
    // Merge by key: change one container, add one.
    env.check_patch(
        &path,
        &gvk,
        sp,
        json!({"spec": {"template": {"spec": {"containers": [
            {"name": "two", "image": "busybox:22"}, container("three", "busybox:3")
        ]}}}}),
    )
    .await;
    // Delete an item by key; set the order of the others.
    env.check_patch(
        &path,
        &gvk,
        sp,
        json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "three"}, {"name": "one"}],
            "containers": [{"name": "two", "$patch": "delete"}]
        }}}}),
    )
    .await;
    // Atomic list (args) replaces; env merges by name; null deletes a field.
    env.check_patch(&path, &gvk, sp, json!({"metadata": {"labels": {"app": null, "tier": "web"}}, "spec": {"template": {"spec": {"containers": [
        {"name": "one", "args": ["a", "b"], "env": [{"name": "E1", "value": "1"}]}
    ]}}}})).await;
    env.check_patch(
        &path,
        &gvk,
        sp,
        json!({"spec": {"template": {"spec": {"containers": [
            {"name": "one", "args": ["c"], "env": [{"name": "E2", "value": "2"}]}
        ]}}}}),
    )
    .await;
    // Primitive lists with the merge strategy (finalizers): merge, then delete from.
    env.check_patch(
        &path,
        &gvk,
        sp,
        json!({"metadata": {"finalizers": ["a.io/z", "a.io/x"]}}),
    )
    .await;
    env.check_patch(
        &path,
        &gvk,
        sp,
        json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a.io/y"]}}),
    )
    .await;
    // $retainKeys: switching the strategy drops rollingUpdate.
    env.check_patch(
        &path,
        &gvk,
        sp,
        json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}),
    )
    .await;
    // $patch: replace on a map.
    env.check_patch(
        &path,
        &gvk,
        sp,
        json!({"metadata": {"labels": {"$patch": "replace", "fresh": "1"}}}),
    )
    .await;
    // A list item without its merge key is an error.
    env.check_patch(
        &path,
        &gvk,
        sp,
        json!({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}),
    )
    .await;
    // Replace a list whole with $patch: replace.
    env.check_patch(
        &path,
        &gvk,
        sp,
        json!({"spec": {"template": {"spec": {"containers": [
            {"$patch": "replace"}, container("solo", "busybox:9")
        ]}}}}),
    )
    .await;
    clear_finalizers(&env, &path).await;
}

/// A CRD with a list-map, a set and an atomic list, and its schema added to `env.schemas`.
async fn widget_crd(env: &mut Env) -> (GroupVersionKind, String) {
    let group = format!("pd{}.example.com", ts::unique_suffix());
    let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "size": {"type": "integer"},
        "color": {"type": "string"},
        "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["port", "protocol"],
            "items": {"type": "object", "required": ["port", "protocol"], "properties": {
                "port": {"type": "integer"}, "protocol": {"type": "string"}, "name": {"type": "string"}}}},
        "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
        "args": {"type": "array", "items": {"type": "string"}},
        "limits": {"type": "object", "x-kubernetes-map-type": "atomic", "additionalProperties": {"type": "string"}},
        "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
    }}}});
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("widgets.{group}")},
        "spec": {"group": group, "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": schema}}]}
    });
    call(
        &env.client,
        "POST",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        "application/json",
        Some(&crd),
    )
    .await
    .unwrap();
    for _ in 0..100 {
        let got = call(
            &env.client,
            "GET",
            &format!("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.{group}"),
            "",
            None,
        )
        .await
        .unwrap();
        let established = got["status"]["conditions"].as_array().is_some_and(|c| {
            c.iter()
                .any(|c| c["type"] == "Established" && c["status"] == "True")
        });
        if established
            && call(
                &env.client,
                "GET",
                &format!("/apis/{group}/v1/namespaces/{}/widgets", env.ns.name),
                "",
                None,
            )
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    env.schemas
        .add_crd_version(&group, "v1", "Widget", &schema)
        .unwrap();
    (
        GroupVersionKind::new(&group, "v1", "Widget"),
        format!("/apis/{group}/v1"),
    )
}

async fn delete_crd(env: &Env, gvk: &GroupVersionKind) {
    let _ = call(
        &env.client,
        "DELETE",
        &format!(
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.{}",
            gvk.group
        ),
        "",
        None,
    )
    .await;
}

#[tokio::test]
async fn apply_sequences_match_the_server() {
    let mut env = Env::new("pd-apply").await;
    let (gvk, api) = widget_crd(&mut env).await;
    let path = env.path(&api, "widgets", "w");
    let av = gvk.api_version();
    let w = |spec: Value| json!({"apiVersion": av, "kind": "Widget", "metadata": {"name": "w"}, "spec": spec});

    // Create by apply; a second manager shares a field with the same value and adds its own.
    env.check_apply(&path, &gvk, w(json!({"size": 1, "color": "red", "tags": ["a", "b"], "ports": [{"port": 80, "protocol": "TCP", "name": "http"}], "args": ["x"]})), "alice", false, true).await.unwrap();
    env.check_apply(
        &path,
        &gvk,
        w(json!({"color": "red", "tags": ["c"], "ports": [{"port": 443, "protocol": "TCP"}]})),
        "bob",
        false,
        true,
    )
    .await
    .unwrap();
    // A conflict on a scalar, an atomic list and a list-map item's field.
    let err = env.check_apply(&path, &gvk, w(json!({"size": 2, "args": ["y"], "ports": [{"port": 80, "protocol": "TCP", "name": "web"}]})), "bob", false, true).await.unwrap_err();
    assert!(err.starts_with("Apply failed with 3 conflicts"), "{err}");
    let err = env
        .check_apply(&path, &gvk, w(json!({"size": 2})), "bob", false, true)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        "Apply failed with 1 conflict: conflict with \"alice\": .spec.size"
    );
    // Force takes the field over.
    env.check_apply(&path, &gvk, w(json!({"color": "red", "size": 2, "tags": ["c"], "ports": [{"port": 443, "protocol": "TCP"}]})), "bob", true, true).await.unwrap();
    // Alice stops applying size (now bob's: stays), color (shared: stays), a tag and her port
    // (hers alone: removed), the atomic list (removed).
    env.check_apply(
        &path,
        &gvk,
        w(json!({"tags": ["a"], "limits": {"cpu": "1"}, "extra": {"k": {"n": 1}}})),
        "alice",
        false,
        true,
    )
    .await
    .unwrap();
    // An update by another writer, then a conflict with it names it with its API version.
    let before = env.get(&path).await;
    let patch = json!({"spec": {"limits": {"cpu": "2", "mem": "1Gi"}, "extra": {"j": 2}}});
    let server = call(
        &env.client,
        "PATCH",
        &format!("{path}?fieldManager=editor"),
        "application/merge-patch+json",
        Some(&patch),
    )
    .await
    .unwrap();
    let mut mine = merge_patch(&before, &patch).unwrap();
    record_update(
        &env.schemas,
        &gvk,
        Some(&before),
        &mut mine,
        "editor",
        "",
        NOW,
    )
    .unwrap();
    assert_eq!(normalize(&mine), normalize(&server));
    let err = env
        .check_apply(
            &path,
            &gvk,
            w(json!({"tags": ["a"], "limits": {"cpu": "1"}, "extra": {"k": {"n": 1}}})),
            "alice",
            false,
            true,
        )
        .await
        .unwrap_err();
    assert!(err.contains(&format!("\"editor\" using {av}")), "{err}");
    env.check_apply(
        &path,
        &gvk,
        w(json!({"tags": ["a"], "limits": {"cpu": "3"}})),
        "alice",
        true,
        true,
    )
    .await
    .unwrap();
    // Strategic merge patch on a custom resource is 415, as on the server.
    env.check_patch(
        &path,
        &gvk,
        "application/strategic-merge-patch+json",
        json!({"spec": {"size": 5}}),
    )
    .await;
    // Applying managedFields or another version is refused.
    let mut bad = w(json!({"size": 1}));
    bad["metadata"]["managedFields"] = json!([{"manager": "x"}]);
    env.check_apply(&path, &gvk, bad, "alice", false, true)
        .await
        .unwrap_err();
    delete_crd(&env, &gvk).await;
}

#[tokio::test]
async fn apply_on_a_deployment_matches_the_servers_ownership() {
    let env = Env::new("pd-apply-deploy").await;
    let path = env.path("/apis/apps/v1", "deployments", "d");
    let gvk = deploy_gvk();
    let d = |containers: Value, replicas: Option<i64>| {
        let mut v = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "labels": {"app": "d"}},
            "spec": {"selector": {"matchLabels": {"app": "d"}}, "template": {"metadata": {"labels": {"app": "d"}}, "spec": {"containers": containers}}}});
        if let Some(r) = replicas {
            v["spec"]["replicas"] = json!(r);
        }
        v
    };
    env.check_apply(
        &path,
        &gvk,
        d(json!([{"name": "a", "image": "busybox:1"}]), Some(2)),
        "ci",
        false,
        false,
    )
    .await
    .unwrap();
    // A kubectl-style update takes replicas.
    let before = env.get(&path).await;
    let server = call(
        &env.client,
        "PATCH",
        &format!("{path}?fieldManager=kubectl"),
        "application/strategic-merge-patch+json",
        Some(&json!({"spec": {"replicas": 3}})),
    )
    .await
    .unwrap();
    let mut mine = strategic_merge_patch(
        &env.schemas,
        &gvk,
        &before,
        &json!({"spec": {"replicas": 3}}),
    )
    .unwrap();
    record_update(
        &env.schemas,
        &gvk,
        Some(&before),
        &mut mine,
        "kubectl",
        "",
        NOW,
    )
    .unwrap();
    assert_eq!(normalize(&mine), normalize(&server));
    let err = env
        .check_apply(
            &path,
            &gvk,
            d(json!([{"name": "a", "image": "busybox:1"}]), Some(2)),
            "ci",
            false,
            false,
        )
        .await
        .unwrap_err();
    assert_eq!(
        err,
        "Apply failed with 1 conflict: conflict with \"kubectl\" using apps/v1: .spec.replicas"
    );
    // Another applier adds a container (merged by key); the first stops applying replicas.
    env.check_apply(
        &path,
        &gvk,
        d(json!([{"name": "b", "image": "busybox:2"}]), None),
        "sidecar",
        false,
        false,
    )
    .await
    .unwrap();
    env.check_apply(
        &path,
        &gvk,
        d(json!([{"name": "a", "image": "busybox:1"}]), None),
        "ci",
        false,
        false,
    )
    .await
    .unwrap();
    let got = env.get(&path).await;
    let names: Vec<&str> = got["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(got["spec"]["replicas"], 3);
}
