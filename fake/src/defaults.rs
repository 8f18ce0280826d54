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
        ("", "services") => service(object),
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

/// Defaults of a Service, and a cluster IP for a ClusterIP, NodePort or LoadBalancer one
/// (from 10.96.0.0/16, chosen at random).
fn service(object: &mut Value) {
    let spec = &mut object["spec"];
    if !spec.is_object() {
        return;
    }
    set(spec, "type", json!("ClusterIP"));
    set(spec, "sessionAffinity", json!("None"));
    if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports {
            set(p, "protocol", json!("TCP"));
            let port = p["port"].clone();
            set(p, "targetPort", port);
        }
    }
    if spec["type"] != "ExternalName" {
        set(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    set(object, "status", json!({"loadBalancer": {}}));
}

/// What the server's allocators fill in after the managed fields are recorded (so no
/// manager owns them): a Service's cluster IP (kept from `old`, else chosen at random in
/// 10.96.0.0/16) and IP families.
pub(crate) fn allocate(info: &ResourceInfo, old: Option<&Value>, object: &mut Value) {
    if info.custom || !info.group.is_empty() || info.plural != "services" {
        return;
    }
    let spec = &mut object["spec"];
    if !spec.is_object() || spec["type"] == "ExternalName" {
        return;
    }
    for key in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
        if let Some(v) = old.and_then(|o| o["spec"].get(key)) {
            set(spec, key, v.clone());
        }
    }
    if spec.get("clusterIP").is_none_or(Value::is_null) {
        let n: u16 = rand::random::<u16>().max(2);
        spec["clusterIP"] = json!(format!("10.96.{}.{}", n >> 8, n & 0xff));
    }
    let ip = spec["clusterIP"].clone();
    set(spec, "clusterIPs", json!([ip]));
    set(spec, "ipFamilies", json!(["IPv4"]));
    set(spec, "ipFamilyPolicy", json!("SingleStack"));
}
