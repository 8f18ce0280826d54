//! Unit tests with canned objects (the differential tests against the real control plane are
//! in `tests/patch_differential.rs`).

use serde_json::{json, Value};

use super::*;
use crate::schema::Schemas;

fn schemas() -> Schemas {
    let mut s = Schemas::new();
    s.add_crd_version(
        "e.io",
        "v1",
        "W",
        &json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "n": {"type": "integer"},
            "m": {"type": "object", "additionalProperties": {"type": "string"}},
            "items": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["k"],
                "items": {"type": "object", "properties": {"k": {"type": "string"}, "v": {"type": "string"}}}},
            "set": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
            "atomic": {"type": "array", "items": {"type": "string"}}
        }}}}),
    )
    .unwrap();
    s
}

fn smp_schemas() -> Schemas {
    Schemas::from_openapi_v3(&[json!({"components": {"schemas": {
        "T": {"type": "object", "properties": {
            "list": {"type": "array", "items": {"allOf": [{"$ref": "#/components/schemas/I"}]},
                "x-kubernetes-patch-strategy": "merge", "x-kubernetes-patch-merge-key": "name"},
            "prims": {"type": "array", "items": {"type": "string"}, "x-kubernetes-patch-strategy": "merge"},
            "plain": {"type": "array", "items": {"type": "string"}},
            "strategy": {"type": "object", "properties": {"type": {"type": "string"}, "ru": {"type": "object"}},
                "x-kubernetes-patch-strategy": "retainKeys"}
        }, "x-kubernetes-group-version-kind": [{"group": "g", "version": "v1", "kind": "T"}]},
        "I": {"type": "object", "properties": {"name": {"type": "string"}, "v": {"type": "string"}}}
    }}})])
    .unwrap()
}

fn gvk() -> GroupVersionKind {
    GroupVersionKind::new("e.io", "v1", "W")
}

fn t_gvk() -> GroupVersionKind {
    GroupVersionKind::new("g", "v1", "T")
}

fn w(spec: Value) -> Value {
    json!({"apiVersion": "e.io/v1", "kind": "W", "metadata": {"name": "x"}, "spec": spec})
}

fn managers(v: &Value) -> Vec<(String, Value)> {
    v["metadata"]["managedFields"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    (
                        e["manager"].as_str().unwrap().to_string(),
                        e["fieldsV1"].clone(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn smp_merges_lists_by_key_and_orders_them() {
    let s = smp_schemas();
    let target = json!({"list": [{"name": "a", "v": "1"}, {"name": "b", "v": "2"}], "prims": ["x"], "plain": ["p"]});
    let out = strategic_merge_patch(
        &s,
        &t_gvk(),
        &target,
        &json!({"list": [{"name": "b", "v": "3"}, {"name": "c"}], "prims": ["y", "x"], "plain": ["q"]}),
    )
    .unwrap();
    assert_eq!(
        out,
        json!({"list": [{"name": "a", "v": "1"}, {"name": "b", "v": "3"}, {"name": "c"}], "prims": ["y", "x"], "plain": ["q"]})
    );
    let out = strategic_merge_patch(
        &s,
        &t_gvk(),
        &target,
        &json!({"$setElementOrder/list": [{"name": "b"}, {"name": "a"}], "list": [{"name": "a", "$patch": "delete"}]}),
    )
    .unwrap();
    assert_eq!(out["list"], json!([{"name": "b", "v": "2"}]));
}

#[test]
fn smp_directives() {
    let s = smp_schemas();
    let target = json!({"prims": ["x", "y"], "strategy": {"type": "A", "ru": {"a": 1}}, "m": {"a": 1, "b": 2}});
    let out = strategic_merge_patch(
        &s,
        &t_gvk(),
        &target,
        &json!({"$deleteFromPrimitiveList/prims": ["x"], "strategy": {"$retainKeys": ["type"], "type": "B"}, "m": {"$patch": "replace", "c": 3}}),
    )
    .unwrap();
    assert_eq!(
        out,
        json!({"prims": ["y"], "strategy": {"type": "B"}, "m": {"c": 3}})
    );
    let e =
        strategic_merge_patch(&s, &t_gvk(), &target, &json!({"list": [{"v": "1"}]})).unwrap_err();
    assert_eq!(e.status_code(), 500);
    assert_eq!(
        e.to_string(),
        "map: map[v:1] does not contain declared merge key: name"
    );
    let e = strategic_merge_patch(&schemas(), &gvk(), &w(json!({})), &json!({})).unwrap_err();
    assert_eq!(e, PatchError::UnsupportedMediaType);
    assert_eq!(e.status_code(), 415);
}

#[test]
fn apply_owns_shares_conflicts_and_forces() {
    let s = schemas();
    let a = apply(
        &s,
        &gvk(),
        None,
        &w(json!({"n": 1, "set": ["a"], "items": [{"k": "x", "v": "1"}]})),
        "alice",
        false,
        "t1",
    )
    .unwrap();
    assert_eq!(
        managers(&a),
        vec![(
            "alice".to_string(),
            json!({"f:spec": {"f:n": {}, "f:set": {"v:\"a\"": {}}, "f:items": {"k:{\"k\":\"x\"}": {".": {}, "f:k": {}, "f:v": {}}}}})
        )]
    );
    // Same value: shared, no conflict.
    let b = apply(
        &s,
        &gvk(),
        Some(&a),
        &w(json!({"n": 1, "set": ["b"]})),
        "bob",
        false,
        "t2",
    )
    .unwrap();
    assert_eq!(b["spec"]["set"], json!(["a", "b"]));
    assert_eq!(managers(&b).len(), 2);
    // Another value: conflict naming the owner.
    let e = apply(
        &s,
        &gvk(),
        Some(&b),
        &w(json!({"n": 2})),
        "bob",
        false,
        "t3",
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Apply failed with 1 conflict: conflict with \"alice\": .spec.n"
    );
    assert_eq!(e.status_code(), 409);
    // Force takes it.
    let c = apply(&s, &gvk(), Some(&b), &w(json!({"n": 2})), "bob", true, "t3").unwrap();
    assert_eq!(c["spec"]["n"], 2);
    let alice = &managers(&c)[0];
    assert_eq!(alice.0, "alice");
    assert!(alice.1["f:spec"].get("f:n").is_none());
    // Alice stops applying her item and set value: removed; n is bob's: kept.
    let d = apply(
        &s,
        &gvk(),
        Some(&c),
        &w(json!({"atomic": ["z"]})),
        "alice",
        false,
        "t4",
    )
    .unwrap();
    assert_eq!(d["spec"], json!({"n": 2, "atomic": ["z"]}));
}

#[test]
fn apply_rejects_bad_input() {
    let s = schemas();
    let mut bad = w(json!({}));
    bad["metadata"]["managedFields"] = json!([]);
    assert!(matches!(
        apply(&s, &gvk(), None, &bad, "m", false, "t"),
        Err(ApplyError::BadRequest(_))
    ));
    let mut other = w(json!({}));
    other["apiVersion"] = json!("e.io/v2");
    assert!(matches!(
        apply(&s, &gvk(), None, &other, "m", false, "t"),
        Err(ApplyError::BadRequest(_))
    ));
    assert!(matches!(
        apply(&s, &gvk(), None, &w(json!({"nope": 1})), "m", false, "t"),
        Err(ApplyError::Invalid(_))
    ));
    assert!(apply(&s, &gvk(), None, &json!([1]), "m", false, "t").is_err());
    let mut live = w(json!({}));
    live["metadata"]["managedFields"] =
        json!([{"manager": "x", "fieldsType": "FieldsV1", "fieldsV1": {"bad": {}}}]);
    assert!(matches!(
        apply(&s, &gvk(), Some(&live), &w(json!({})), "m", false, "t"),
        Err(ApplyError::Internal(_))
    ));
}

#[test]
fn record_update_merges_one_managers_writes_and_resets() {
    let s = schemas();
    let mut a = w(json!({"n": 1}));
    record_update(&s, &gvk(), None, &mut a, "ed", "", "t1").unwrap();
    a["metadata"]["uid"] = json!("u");
    let mut b = a.clone();
    b["spec"]["m"] = json!({"k": "v"});
    record_update(&s, &gvk(), Some(&a), &mut b, "ed", "", "t2").unwrap();
    assert_eq!(
        managers(&b),
        vec![(
            "ed".to_string(),
            json!({"f:spec": {".": {}, "f:n": {}, "f:m": {".": {}, "f:k": {}}}})
        )]
    );
    assert_eq!(b["metadata"]["managedFields"][0]["operation"], "Update");
    let mut c = b.clone();
    c["metadata"]["managedFields"] = json!([]);
    c["spec"]["n"] = json!(5);
    record_update(&s, &gvk(), Some(&b), &mut c, "ed", "", "t3").unwrap();
    assert!(c["metadata"].get("managedFields").is_none());
    // An unchanged write adds nothing.
    let mut d = b.clone();
    record_update(&s, &gvk(), Some(&b), &mut d, "other", "", "t4").unwrap();
    assert_eq!(managers(&d), managers(&b));
}
