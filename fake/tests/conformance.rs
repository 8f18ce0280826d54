//! The differential conformance suite: every scenario (a short sequence of requests) runs
//! against the real control plane (in a fresh namespace) and against a [`FakeServer`] (in a
//! namespace of the same name), each answer is normalized (uids, timestamps, generated-name
//! suffixes, allocated IPs; resourceVersions become their rank among the versions the
//! scenario saw, so equality and order are kept but not the values) and the two sequences
//! must be equal: status code and reason for errors, the normalized body for successes.
//!
//! Scenarios where the fake is known to answer differently are listed in
//! [`KNOWN_DIFFERENCES`] with the reason, and asserted to still differ, so that a fix shows
//! up as a failure here (then move the scenario out of the list). The same differences are
//! listed in the crate documentation.
//!
//! Needs the test control plane (`K8S_CLIENT_TEST_KUBECONFIG`).

use std::collections::BTreeSet;

use k8s_client::api::{Api, PostParams};
use k8s_client::Client;
use k8s_client_fake::FakeServer;
use k8s_client_testsupport as ts;
use k8s_openapi::api::core::v1::Namespace;
use serde_json::{json, Map, Value};

/// Scenarios where the fake answers differently from kube-apiserver, with the reason.
/// Each is asserted to still differ.
/// Scenarios that differ on a 1.33 server only (asserted to still differ there).
const KNOWN_ON_1_33: &[&str] = &[
    "deploy create",
    "deploy spec change bumps generation",
    "deploy strategic merge patch of containers",
    "deploy strategic merge patch delete directive",
    "deploy main resource ignores status",
    "deploy status subresource ignores spec",
    "deploy scale get",
    "deploy scale patch",
    "deploy apply",
];

/// Why [`KNOWN_ON_1_33`] differ.
const KNOWN_ON_1_33_WHY: &str =
    "a 1.33 server writes `spec.template.metadata.creationTimestamp: null` \
     into workloads' pod templates; the fake's defaults follow 1.36, which does not";

const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    // None at present. An entry is ("scenario name", "why the fake answers differently").
];

const CM: &str = "/api/v1/namespaces/{ns}/configmaps";
const SECRET: &str = "/api/v1/namespaces/{ns}/secrets";
const DEPLOY: &str = "/apis/apps/v1/namespaces/{ns}/deployments";
const SVC: &str = "/api/v1/namespaces/{ns}/services";
const JSON: &str = "application/json";
const MERGE: &str = "application/merge-patch+json";
const JSONPATCH: &str = "application/json-patch+json";
const SMP: &str = "application/strategic-merge-patch+json";
const APPLY: &str = "application/apply-patch+yaml";

struct Step {
    method: &'static str,
    path: String,
    ctype: &'static str,
    body: Option<Value>,
}

struct Scenario {
    name: &'static str,
    /// Objects a controller of the real control plane also writes (Deployments): their
    /// status, the controller's annotation and managedFields entries and the values of
    /// resourceVersions are not compared.
    racy: bool,
    steps: Vec<Step>,
}

fn get(path: impl Into<String>) -> Step {
    Step {
        method: "GET",
        path: path.into(),
        ctype: "",
        body: None,
    }
}

fn post(path: impl Into<String>, body: Value) -> Step {
    Step {
        method: "POST",
        path: path.into(),
        ctype: JSON,
        body: Some(body),
    }
}

fn put(path: impl Into<String>, body: Value) -> Step {
    Step {
        method: "PUT",
        path: path.into(),
        ctype: JSON,
        body: Some(body),
    }
}

fn patch(path: impl Into<String>, ctype: &'static str, body: Value) -> Step {
    Step {
        method: "PATCH",
        path: path.into(),
        ctype,
        body: Some(body),
    }
}

fn delete(path: impl Into<String>) -> Step {
    Step {
        method: "DELETE",
        path: path.into(),
        ctype: "",
        body: None,
    }
}

fn delete_with(path: impl Into<String>, body: Value) -> Step {
    Step {
        method: "DELETE",
        path: path.into(),
        ctype: JSON,
        body: Some(body),
    }
}

fn sc(name: &'static str, steps: Vec<Step>) -> Scenario {
    Scenario {
        name,
        racy: false,
        steps,
    }
}

fn racy(name: &'static str, steps: Vec<Step>) -> Scenario {
    Scenario {
        name,
        racy: true,
        steps,
    }
}

fn cm(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": {"suite": "c"}}, "data": {"a": "1"}})
}

fn cm_labeled(name: &str, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}, "data": {"a": "1"}})
}

fn secret(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": {"k": "v"}})
}

fn deployment(name: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "one", "image": "busybox:1"}, {"name": "two", "image": "busybox:2"}]}
            }
        }
    })
}

fn service(name: &str, cluster_ip: Option<&str>) -> Value {
    let mut s = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]}
    });
    if let Some(ip) = cluster_ip {
        s["spec"]["clusterIP"] = json!(ip);
    }
    s
}

fn at(base: &str, name: &str) -> String {
    format!("{base}/{name}")
}

fn scenarios() -> Vec<Scenario> {
    let c = |n: &str| at(CM, n);
    let d = |n: &str| at(DEPLOY, n);
    vec![
        // --- ConfigMap CRUD ---
        sc("cm create", vec![post(CM, cm("a"))]),
        sc("cm create then get", vec![post(CM, cm("a")), get(c("a"))]),
        sc(
            "cm update",
            vec![
                post(CM, cm("a")),
                put(
                    c("a"),
                    json!({"metadata": {"name": "a", "resourceVersion": "{rv}"}, "data": {"a": "2"}}),
                ),
                get(c("a")),
            ],
        ),
        sc(
            "cm update without resourceVersion",
            vec![
                post(CM, cm("a")),
                put(
                    c("a"),
                    json!({"metadata": {"name": "a"}, "data": {"b": "2"}}),
                ),
            ],
        ),
        sc(
            "cm update that changes nothing keeps the resourceVersion",
            vec![post(CM, cm("a")), put(c("a"), cm("a")), get(c("a"))],
        ),
        sc(
            "cm stale resourceVersion is a conflict",
            vec![
                post(CM, cm("a")),
                put(
                    c("a"),
                    json!({"metadata": {"name": "a", "resourceVersion": "1"}, "data": {"a": "2"}}),
                ),
            ],
        ),
        sc(
            "cm delete",
            vec![post(CM, cm("a")), delete(c("a")), get(c("a"))],
        ),
        sc(
            "cm already exists",
            vec![post(CM, cm("a")), post(CM, cm("a"))],
        ),
        sc("cm get not found", vec![get(c("missing"))]),
        sc("cm delete not found", vec![delete(c("missing"))]),
        sc(
            "cm update not found",
            vec![put(c("missing"), cm("missing"))],
        ),
        sc(
            "cm update with a name differing from the URL",
            vec![post(CM, cm("a")), put(c("a"), cm("b"))],
        ),
        sc("cm invalid name", vec![post(CM, cm("Bad_Name"))]),
        sc("cm name too long", vec![post(CM, cm(&"a".repeat(254)))]),
        sc(
            "cm generateName",
            vec![post(
                CM,
                json!({"metadata": {"generateName": "gen-"}, "data": {"a": "1"}}),
            )],
        ),
        sc(
            "cm without name",
            vec![post(CM, json!({"metadata": {}, "data": {"a": "1"}}))],
        ),
        sc(
            "cm invalid data key",
            vec![post(
                CM,
                json!({"metadata": {"name": "a"}, "data": {"bad key!": "1"}}),
            )],
        ),
        sc(
            "cm kind mismatch",
            vec![post(
                CM,
                json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "a"}}),
            )],
        ),
        sc(
            "cm namespace mismatch",
            vec![post(
                CM,
                json!({"metadata": {"name": "a", "namespace": "other"}, "data": {}}),
            )],
        ),
        sc(
            "cm immutable",
            vec![
                post(
                    CM,
                    json!({"metadata": {"name": "a"}, "data": {"a": "1"}, "immutable": true}),
                ),
                patch(c("a"), MERGE, json!({"data": {"a": "2"}})),
            ],
        ),
        // --- dryRun ---
        sc(
            "cm dryRun create",
            vec![post(format!("{CM}?dryRun=All"), cm("a")), get(c("a"))],
        ),
        sc(
            "cm dryRun delete",
            vec![
                post(CM, cm("a")),
                delete(format!("{}?dryRun=All", c("a"))),
                get(c("a")),
            ],
        ),
        sc(
            "cm dryRun patch",
            vec![
                post(CM, cm("a")),
                patch(
                    format!("{}?dryRun=All", c("a")),
                    MERGE,
                    json!({"data": {"a": "9"}}),
                ),
                get(c("a")),
            ],
        ),
        // --- merge and JSON patches ---
        sc(
            "cm merge patch",
            vec![
                post(CM, cm("a")),
                patch(
                    c("a"),
                    MERGE,
                    json!({"metadata": {"labels": {"x": "y"}}, "data": {"a": null, "b": "2"}}),
                ),
            ],
        ),
        sc(
            "cm merge patch not found",
            vec![patch(c("missing"), MERGE, json!({"data": {"a": "2"}}))],
        ),
        sc(
            "cm json patch",
            vec![
                post(CM, cm("a")),
                patch(
                    c("a"),
                    JSONPATCH,
                    json!([
                        {"op": "add", "path": "/data/b", "value": "2"},
                        {"op": "replace", "path": "/data/a", "value": "3"},
                        {"op": "remove", "path": "/metadata/labels/suite"}
                    ]),
                ),
            ],
        ),
        sc(
            "cm json patch failing test",
            vec![
                post(CM, cm("a")),
                patch(
                    c("a"),
                    JSONPATCH,
                    json!([{"op": "test", "path": "/data/a", "value": "nope"}, {"op": "add", "path": "/data/b", "value": "2"}]),
                ),
                get(c("a")),
            ],
        ),
        sc(
            "cm json patch passing test",
            vec![
                post(CM, cm("a")),
                patch(
                    c("a"),
                    JSONPATCH,
                    json!([{"op": "test", "path": "/data/a", "value": "1"}, {"op": "add", "path": "/data/b", "value": "2"}]),
                ),
            ],
        ),
        sc(
            "cm json patch remove missing path",
            vec![
                post(CM, cm("a")),
                patch(
                    c("a"),
                    JSONPATCH,
                    json!([{"op": "remove", "path": "/data/nope"}]),
                ),
            ],
        ),
        sc(
            "cm merge patch with stale resourceVersion",
            vec![
                post(CM, cm("a")),
                patch(
                    c("a"),
                    MERGE,
                    json!({"metadata": {"resourceVersion": "1"}, "data": {"a": "2"}}),
                ),
            ],
        ),
        // --- server-side apply ---
        sc(
            "cm apply creates",
            vec![patch(format!("{}?fieldManager=a", c("a")), APPLY, cm("a"))],
        ),
        sc(
            "cm apply by two managers",
            vec![
                patch(format!("{}?fieldManager=a", c("a")), APPLY, cm("a")),
                patch(
                    format!("{}?fieldManager=b", c("a")),
                    APPLY,
                    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"b": "2"}}),
                ),
            ],
        ),
        sc(
            "cm apply conflict",
            vec![
                patch(format!("{}?fieldManager=a", c("a")), APPLY, cm("a")),
                patch(
                    format!("{}?fieldManager=b", c("a")),
                    APPLY,
                    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"a": "2"}}),
                ),
            ],
        ),
        sc(
            "cm apply force",
            vec![
                patch(format!("{}?fieldManager=a", c("a")), APPLY, cm("a")),
                patch(
                    format!("{}?fieldManager=b&force=true", c("a")),
                    APPLY,
                    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"a": "2"}}),
                ),
            ],
        ),
        sc(
            "cm apply drops a field no longer applied",
            vec![
                patch(
                    format!("{}?fieldManager=a", c("a")),
                    APPLY,
                    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"x": "1", "y": "2"}}),
                ),
                patch(
                    format!("{}?fieldManager=a", c("a")),
                    APPLY,
                    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"x": "1"}}),
                ),
            ],
        ),
        sc(
            "cm apply after create takes over nothing",
            vec![
                post(format!("{CM}?fieldManager=creator"), cm("a")),
                patch(
                    format!("{}?fieldManager=a", c("a")),
                    APPLY,
                    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"a": "1", "z": "3"}}),
                ),
            ],
        ),
        sc(
            "cm apply without fieldManager",
            vec![patch(c("a"), APPLY, cm("a"))],
        ),
        // --- lists and selectors ---
        sc(
            "cm label selector equality",
            vec![
                post(CM, cm_labeled("a", json!({"t": "1", "env": "prod"}))),
                post(CM, cm_labeled("b", json!({"t": "1", "env": "dev"}))),
                post(CM, cm_labeled("c", json!({"t": "1"}))),
                get(format!("{CM}?labelSelector=t%3D1,env%3Dprod")),
                get(format!("{CM}?labelSelector=t%3D1,env!%3Dprod")),
            ],
        ),
        sc(
            "cm label selector set-based",
            vec![
                post(CM, cm_labeled("a", json!({"t": "1", "env": "prod"}))),
                post(CM, cm_labeled("b", json!({"t": "1", "env": "dev"}))),
                post(CM, cm_labeled("c", json!({"t": "1"}))),
                get(format!("{CM}?labelSelector=t,env%20in%20(dev,qa)")),
                get(format!("{CM}?labelSelector=t,env%20notin%20(dev)")),
                get(format!("{CM}?labelSelector=t,!env")),
            ],
        ),
        sc(
            "cm invalid label selector",
            vec![get(format!("{CM}?labelSelector=a%20in%20b"))],
        ),
        sc(
            "cm field selector metadata.name",
            vec![
                post(CM, cm("a")),
                post(CM, cm("b")),
                get(format!("{CM}?fieldSelector=metadata.name%3Db")),
                get(format!(
                    "{CM}?labelSelector=suite&fieldSelector=metadata.name!%3Db"
                )),
            ],
        ),
        sc(
            "cm unsupported field selector",
            vec![get(format!("{CM}?fieldSelector=data.a%3D1"))],
        ),
        sc(
            "secret field selector type",
            vec![
                post(SECRET, secret("a")),
                post(
                    SECRET,
                    json!({"metadata": {"name": "b"}, "type": "kubernetes.io/basic-auth", "stringData": {"username": "u"}}),
                ),
                get(format!("{SECRET}?fieldSelector=type%3DOpaque")),
            ],
        ),
        sc(
            "secret paging",
            vec![
                post(SECRET, secret("s1")),
                post(SECRET, secret("s2")),
                post(SECRET, secret("s3")),
                post(SECRET, secret("s4")),
                post(SECRET, secret("s5")),
                get(format!("{SECRET}?limit=2")),
                get(format!("{SECRET}?limit=2&continue={{continue}}")),
                get(format!("{SECRET}?limit=2&continue={{continue}}")),
            ],
        ),
        sc(
            "secret invalid continue token",
            vec![get(format!("{SECRET}?limit=2&continue=garbage"))],
        ),
        // --- Secrets ---
        sc(
            "secret create with stringData",
            vec![post(SECRET, secret("a")), get(at(SECRET, "a"))],
        ),
        sc(
            "secret invalid data key",
            vec![post(
                SECRET,
                json!({"metadata": {"name": "a"}, "stringData": {"bad key": "v"}}),
            )],
        ),
        sc(
            "secret type is immutable",
            vec![
                post(SECRET, secret("a")),
                patch(at(SECRET, "a"), MERGE, json!({"type": "Other"})),
            ],
        ),
        // --- finalizers and deletion ---
        sc(
            "cm finalizers and deletionTimestamp",
            vec![
                post(
                    CM,
                    json!({"metadata": {"name": "a", "finalizers": ["x.io/f"]}, "data": {}}),
                ),
                delete(c("a")),
                get(c("a")),
                patch(c("a"), MERGE, json!({"metadata": {"finalizers": null}})),
                get(c("a")),
            ],
        ),
        sc(
            "cm delete with stale precondition",
            vec![
                post(CM, cm("a")),
                delete_with(
                    c("a"),
                    json!({"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"resourceVersion": "1"}}),
                ),
            ],
        ),
        sc(
            "cm delete with wrong uid precondition",
            vec![
                post(CM, cm("a")),
                delete_with(
                    c("a"),
                    json!({"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"uid": "00000000-0000-0000-0000-000000000000"}}),
                ),
            ],
        ),
        // --- Deployments ---
        racy("deploy create", vec![post(DEPLOY, deployment("d"))]),
        racy(
            "deploy invalid selector",
            vec![post(DEPLOY, {
                let mut x = deployment("d");
                x["spec"]["selector"] = json!({"matchLabels": {"app": "other"}});
                x
            })],
        ),
        racy(
            "deploy spec change bumps generation",
            vec![
                post(DEPLOY, deployment("d")),
                patch(d("d"), MERGE, json!({"spec": {"replicas": 2}})),
                patch(d("d"), MERGE, json!({"metadata": {"labels": {"x": "y"}}})),
            ],
        ),
        racy(
            "deploy strategic merge patch of containers",
            vec![
                post(DEPLOY, deployment("d")),
                patch(
                    d("d"),
                    SMP,
                    json!({"spec": {"template": {"spec": {"containers": [{"name": "two", "image": "busybox:3"}, {"name": "three", "image": "busybox:4"}]}}}}),
                ),
            ],
        ),
        racy(
            "deploy strategic merge patch delete directive",
            vec![
                post(DEPLOY, deployment("d")),
                patch(
                    d("d"),
                    SMP,
                    json!({"spec": {"template": {"spec": {"containers": [{"name": "one", "$patch": "delete"}]}}}}),
                ),
            ],
        ),
        racy(
            "deploy main resource ignores status",
            vec![
                post(DEPLOY, deployment("d")),
                patch(
                    d("d"),
                    MERGE,
                    json!({"status": {"replicas": 7}, "metadata": {"labels": {"z": "1"}}}),
                ),
            ],
        ),
        racy(
            "deploy status subresource ignores spec",
            vec![
                post(DEPLOY, deployment("d")),
                patch(
                    format!("{}/status", d("d")),
                    MERGE,
                    json!({"spec": {"replicas": 5}, "metadata": {"labels": {"z": "1"}}}),
                ),
            ],
        ),
        racy(
            "deploy scale get",
            vec![
                post(DEPLOY, deployment("d")),
                get(format!("{}/scale", d("d"))),
            ],
        ),
        racy(
            "deploy scale patch",
            vec![
                post(DEPLOY, deployment("d")),
                patch(
                    format!("{}/scale", d("d")),
                    MERGE,
                    json!({"spec": {"replicas": 3}}),
                ),
            ],
        ),
        racy(
            "deploy scale not found",
            vec![get(format!("{}/scale", d("missing")))],
        ),
        racy(
            "deploy apply",
            vec![
                patch(format!("{}?fieldManager=a", d("d")), APPLY, deployment("d")),
                patch(
                    format!("{}?fieldManager=b", d("d")),
                    APPLY,
                    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"replicas": 4}}),
                ),
            ],
        ),
        // --- Services ---
        sc(
            "svc create headless",
            vec![post(SVC, service("s", Some("None")))],
        ),
        sc("svc create cluster IP", vec![post(SVC, service("s", None))]),
        sc("svc invalid name", vec![post(SVC, service("a.b", None))]),
        sc(
            "svc status subresource",
            vec![
                post(SVC, service("s", Some("None"))),
                patch(
                    format!("{}/status", at(SVC, "s")),
                    MERGE,
                    json!({"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "R", "message": "m", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}}),
                ),
            ],
        ),
        // --- namespaces and resources ---
        sc(
            "create in a missing namespace",
            vec![post(
                "/api/v1/namespaces/no-such-ns-c0nf/configmaps",
                cm("a"),
            )],
        ),
        sc(
            "list in a missing namespace",
            vec![get("/api/v1/namespaces/no-such-ns-c0nf/secrets")],
        ),
        sc(
            "unknown resource",
            vec![get("/api/v1/namespaces/{ns}/nothings")],
        ),
        sc(
            "malformed body",
            vec![Step {
                method: "POST",
                path: CM.to_string(),
                ctype: JSON,
                body: Some(json!("not an object")),
            }],
        ),
    ]
}

/// The normalized answer to one step.
type Outcome = Value;

async fn call(
    client: &Client,
    method: &str,
    uri: &str,
    ctype: &str,
    body: Option<&str>,
) -> Outcome {
    let mut req = http::Request::builder().method(method).uri(uri);
    if body.is_some() {
        req = req.header("Content-Type", ctype);
    }
    let req = req
        .body(body.map(|b| b.as_bytes().to_vec()).unwrap_or_default())
        .expect("a valid request");
    match client.request::<Value>(req).await {
        Ok(v) => json!({"ok": v}),
        Err(e) => match e.api() {
            Some(a) => json!({"code": a.code, "reason": a.reason()}),
            None => json!({"error": e.to_string()}),
        },
    }
}

/// Runs the steps of a scenario in namespace `ns`, substituting `{ns}`, `{rv}` (the
/// resourceVersion of the last object answered) and `{continue}` (the last list's token).
async fn run(client: &Client, ns: &str, scenario: &Scenario) -> Vec<Outcome> {
    let mut rv = String::new();
    let mut cont = String::new();
    let mut out = Vec::new();
    for step in &scenario.steps {
        let subst = |s: &str| {
            s.replace("{ns}", ns)
                .replace("{rv}", &rv)
                .replace("{continue}", &cont)
        };
        let path = subst(&step.path);
        let body = step
            .body
            .as_ref()
            .map(|b| subst(&serde_json::to_string(b).expect("JSON")));
        let o = call(client, step.method, &path, step.ctype, body.as_deref()).await;
        if let Some(v) = o.get("ok") {
            let is_list = v["kind"].as_str().is_some_and(|k| k.ends_with("List"));
            if is_list {
                cont = v["metadata"]["continue"].as_str().unwrap_or("").to_string();
            } else if let Some(r) = v["metadata"]["resourceVersion"].as_str() {
                rv = r.to_string();
            }
        }
        out.push(o);
    }
    out
}

const TIME_KEYS: &[&str] = &[
    "creationTimestamp",
    "deletionTimestamp",
    "time",
    "lastTransitionTime",
    "lastUpdateTime",
];

/// Replaces uids and times anywhere, generated-name suffixes and allocated IPs.
fn scrub(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if k == "uid" && x.is_string() {
                    *x = json!("<uid>");
                } else if TIME_KEYS.contains(&k.as_str()) && x.is_string() {
                    *x = json!("<time>");
                } else {
                    scrub(x);
                }
            }
            if let Some(meta) = m.get_mut("metadata").and_then(Value::as_object_mut) {
                if let (Some(g), Some(n)) = (
                    meta.get("generateName").and_then(Value::as_str),
                    meta.get("name").and_then(Value::as_str),
                ) {
                    if let Some(suffix) = n.strip_prefix(g) {
                        let fixed = format!("{g}{}", "x".repeat(suffix.len()));
                        meta.insert("name".into(), json!(fixed));
                    }
                }
            }
            if m.get("kind").and_then(Value::as_str) == Some("Service") {
                if let Some(spec) = m.get_mut("spec").and_then(Value::as_object_mut) {
                    for k in ["clusterIP", "clusterIPs"] {
                        if let Some(x) = spec.get_mut(k) {
                            let ip = |s: &Value| {
                                if s == "None" {
                                    s.clone()
                                } else {
                                    json!("<ip>")
                                }
                            };
                            let new = match &*x {
                                Value::Array(a) => Value::Array(a.iter().map(ip).collect()),
                                other => ip(other),
                            };
                            *x = new;
                        }
                    }
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(scrub),
        _ => {}
    }
}

/// The objects of an answer: itself, or the items of a list.
fn objects_mut(v: &mut Value) -> Vec<&mut Map<String, Value>> {
    let is_list = v["kind"].as_str().is_some_and(|k| k.ends_with("List"));
    if is_list {
        match v.get_mut("items") {
            Some(Value::Array(items)) => {
                items.iter_mut().filter_map(Value::as_object_mut).collect()
            }
            _ => Vec::new(),
        }
    } else {
        v.as_object_mut().into_iter().collect()
    }
}

fn normalize(outcomes: &[Outcome], racy: bool) -> Vec<Outcome> {
    let mut out = outcomes.to_vec();
    // The ranks of the objects' resourceVersions.
    let mut rvs = BTreeSet::new();
    for o in out.iter_mut() {
        if let Some(v) = o.get_mut("ok") {
            for obj in objects_mut(v) {
                if let Some(r) = obj
                    .get("metadata")
                    .and_then(|m| m.get("resourceVersion"))
                    .and_then(Value::as_str)
                    .and_then(|r| r.parse::<u64>().ok())
                {
                    rvs.insert(r);
                }
            }
        }
    }
    let rank = |r: &str| -> Value {
        match r.parse::<u64>() {
            Ok(n) => json!(format!("rv#{}", rvs.range(..n).count())),
            Err(_) => json!(format!("bad:{r}")),
        }
    };
    for o in out.iter_mut() {
        let Some(v) = o.get_mut("ok") else { continue };
        scrub(v);
        let is_list = v["kind"].as_str().is_some_and(|k| k.ends_with("List"));
        if is_list {
            if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
                if m.contains_key("resourceVersion") {
                    m.insert("resourceVersion".into(), json!("<list rv>"));
                }
                if m.contains_key("continue") {
                    m.insert("continue".into(), json!("<token>"));
                }
            }
        }
        let is_scale = v["kind"] == "Scale";
        for obj in objects_mut(v) {
            if racy {
                obj.remove("status");
            }
            let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
                continue;
            };
            if let Some(r) = meta.get("resourceVersion").and_then(Value::as_str) {
                let r = if racy { json!("<rv>") } else { rank(r) };
                meta.insert("resourceVersion".into(), r);
            }
            if racy {
                if let Some(Value::Object(a)) = meta.get_mut("annotations") {
                    a.remove("deployment.kubernetes.io/revision");
                    if a.is_empty() {
                        meta.remove("annotations");
                    }
                }
                if let Some(Value::Array(list)) = meta.get_mut("managedFields") {
                    // The deployment controller's writes (status, revision annotation).
                    list.retain(|e| {
                        let manager = e["manager"].as_str().unwrap_or("");
                        // (the test harness's controller manager is "testcluster")
                        manager != "testcluster" && !manager.contains("controller")
                    });
                }
            }
            if let Some(Value::Array(list)) = meta.get_mut("managedFields") {
                list.sort_by_key(|e| e.to_string());
            }
        }
        if is_scale && racy {
            // kept: spec and the selector; the replicas counted by the controller are not.
            if let Some(s) = v.get_mut("status").and_then(Value::as_object_mut) {
                s.remove("replicas");
            }
        }
    }
    out
}

#[tokio::test]
async fn the_fake_answers_as_kube_apiserver() {
    let started = std::time::Instant::now();
    let real = ts::client().await;
    // The fake serves the real server's minor (its discovery and OpenAPI snapshots).
    let version = k8s_client::discovery::Discovery::new(real.clone())
        .server_version()
        .await
        .expect("the real server's version");
    let minor = format!("{}.{}", version.major, version.minor.trim_end_matches('+'));
    let all = scenarios();
    let mut known: Vec<&str> = KNOWN_DIFFERENCES.iter().map(|(n, _)| *n).collect();
    if minor == "1.33" {
        eprintln!(
            "conformance: on 1.33, {} known differences more: {KNOWN_ON_1_33_WHY}",
            KNOWN_ON_1_33.len()
        );
        known.extend(KNOWN_ON_1_33);
    }
    let mut failures = Vec::new();
    let mut equal = 0;
    for scenario in &all {
        let ns = ts::namespace("conf").await;
        let fake = FakeServer::new(&minor).expect("a snapshot of the real server's minor");
        let fake_client = fake.client();
        let namespaces: Api<Namespace> = Api::all(fake_client.clone());
        let namespace: Namespace =
            serde_json::from_value(json!({"metadata": {"name": ns.name}})).expect("a Namespace");
        namespaces
            .create(&PostParams::default(), &namespace)
            .await
            .expect("creating the namespace in the fake");

        let from_real = normalize(&run(&real, &ns.name, scenario).await, scenario.racy);
        let from_fake = normalize(&run(&fake_client, &ns.name, scenario).await, scenario.racy);
        let same = from_real == from_fake;
        if same {
            equal += 1;
        }
        match (same, known.contains(&scenario.name)) {
            (true, false) => {}
            (false, true) => eprintln!(
                "{} (known difference)\n  real: {}\n  fake: {}",
                scenario.name,
                serde_json::to_string(&from_real).unwrap_or_default(),
                serde_json::to_string(&from_fake).unwrap_or_default()
            ),
            (false, false) => failures.push(format!(
                "{}: differs\n  real: {}\n  fake: {}",
                scenario.name,
                serde_json::to_string(&from_real).unwrap_or_default(),
                serde_json::to_string(&from_fake).unwrap_or_default()
            )),
            (true, true) => failures.push(format!(
                "{}: listed in KNOWN_DIFFERENCES but now equal: remove it from the list",
                scenario.name
            )),
        }
    }
    for (name, _) in KNOWN_DIFFERENCES {
        assert!(
            all.iter().any(|s| s.name == *name),
            "KNOWN_DIFFERENCES names a scenario that does not exist: {name}"
        );
    }
    eprintln!(
        "conformance: {} scenarios, {equal} equal, {} known differences, {:?}",
        all.len(),
        KNOWN_DIFFERENCES.len(),
        started.elapsed()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
