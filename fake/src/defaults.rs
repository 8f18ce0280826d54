//! The server's defaulting of the most used built-in kinds (what `SetDefaults_*` fill in).

use serde_json::{json, Value};

use crate::registry::ResourceInfo;

fn set(v: &mut Value, key: &str, default: Value) {
    if v.is_object() && v.get(key).is_none_or(Value::is_null) {
        v[key] = default;
    }
}

fn image_pull_policy(image: &str) -> &'static str {
    let last = image.rsplit('/').next().unwrap_or(image);
    if image.contains('@') {
        return "IfNotPresent";
    }
    match last.split_once(':') {
        None | Some((_, "latest")) => "Always",
        Some(_) => "IfNotPresent",
    }
}

fn container(c: &mut Value) {
    set(c, "terminationMessagePath", json!("/dev/termination-log"));
    set(c, "terminationMessagePolicy", json!("File"));
    let policy = image_pull_policy(c["image"].as_str().unwrap_or(""));
    set(c, "imagePullPolicy", json!(policy));
    set(c, "resources", json!({}));
    if let Some(ports) = c.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports {
            set(p, "protocol", json!("TCP"));
        }
    }
}

/// Defaults of a PodSpec.
pub(crate) fn pod_spec(spec: &mut Value) {
    if !spec.is_object() {
        return;
    }
    set(spec, "restartPolicy", json!("Always"));
    set(spec, "terminationGracePeriodSeconds", json!(30));
    set(spec, "dnsPolicy", json!("ClusterFirst"));
    set(spec, "securityContext", json!({}));
    set(spec, "schedulerName", json!("default-scheduler"));
    for list in ["containers", "initContainers"] {
        if let Some(cs) = spec.get_mut(list).and_then(Value::as_array_mut) {
            cs.iter_mut().for_each(container);
        }
    }
}

/// Fills in what the server would for `info`'s kind.
pub(crate) fn apply(info: &ResourceInfo, object: &mut Value) {
    // Empty maps the server's types omit when written out.
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        for key in ["labels", "annotations"] {
            if meta
                .get(key)
                .is_some_and(|m| m.as_object().is_some_and(|m| m.is_empty()))
            {
                meta.remove(key);
            }
        }
    }
    if info.custom {
        return;
    }
    if info.group.is_empty() && matches!(info.plural.as_str(), "configmaps" | "secrets") {
        if let Some(o) = object.as_object_mut() {
            for key in ["data", "binaryData"] {
                if o.get(key)
                    .is_some_and(|m| m.as_object().is_some_and(|m| m.is_empty()))
                {
                    o.remove(key);
                }
            }
        }
    }
    match (info.group.as_str(), info.plural.as_str()) {
        ("", "pods") => {
            pod_spec(&mut object["spec"]);
            let spec = &mut object["spec"];
            set(spec, "enableServiceLinks", json!(true));
            set(spec, "preemptionPolicy", json!("PreemptLowerPriority"));
            set(spec, "priority", json!(0));
            set(
                spec,
                "tolerations",
                json!([
                    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
                ]),
            );
        }
        ("apps", "deployments") => {
            let spec = &mut object["spec"];
            set(spec, "replicas", json!(1));
            set(
                spec,
                "strategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}),
            );
            set(spec, "revisionHistoryLimit", json!(10));
            set(spec, "progressDeadlineSeconds", json!(600));
            pod_spec(&mut spec["template"]["spec"]);
        }
        ("", "secrets") => {
            // As the server's conversion: stringData is written into data, base64-encoded.
            use base64::Engine;
            if let Some(Value::Object(plain)) =
                object.as_object_mut().and_then(|o| o.remove("stringData"))
            {
                if !object["data"].is_object() {
                    object["data"] = json!({});
                }
                if let Some(data) = object["data"].as_object_mut() {
                    for (k, v) in plain {
                        let text = v.as_str().unwrap_or_default();
                        let encoded = base64::engine::general_purpose::STANDARD.encode(text);
                        data.insert(k, json!(encoded));
                    }
                }
            }
            set(object, "type", json!("Opaque"));
        }
        ("apps", "replicasets" | "statefulsets" | "daemonsets") | ("batch", "jobs") => {
            pod_spec(&mut object["spec"]["template"]["spec"]);
        }
        _ => {}
    }
}
