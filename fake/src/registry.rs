//! The resources the server serves: the built-in ones from the aggregated discovery snapshot,
//! custom resources from established CRDs.

use std::collections::BTreeMap;

use serde_json::Value;

/// How `/scale` maps onto an object (the CRD's `subresources.scale`, or the built-in paths).
#[derive(Debug, Clone)]
pub(crate) struct ScalePaths {
    pub spec_replicas: String,
    pub status_replicas: String,
    pub label_selector: Option<String>,
}

/// One resource of one group-version.
#[derive(Debug, Clone)]
pub(crate) struct ResourceInfo {
    pub group: String,
    pub version: String,
    pub plural: String,
    pub kind: String,
    pub namespaced: bool,
    pub verbs: Vec<String>,
    pub status: bool,
    pub scale: Option<ScalePaths>,
    /// A custom resource (items of lists carry apiVersion and kind; merge keys unknown).
    pub custom: bool,
    /// Field paths usable in field selectors besides metadata.name / metadata.namespace.
    pub selectable: Vec<String>,
    /// CRDs: `spec.names` (singular, shortNames, categories).
    pub names: serde_json::Value,
}

impl ResourceInfo {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The storage key: objects are shared by every version of a group-resource.
    pub fn key(&self) -> ResKey {
        (self.group.clone(), self.plural.clone())
    }
}

/// `(group, plural)`.
pub(crate) type ResKey = (String, String);

/// Every resource served, by `(group, version, plural)`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Registry {
    pub resources: BTreeMap<(String, String, String), ResourceInfo>,
}

fn builtin_scale(group: &str, plural: &str) -> Option<ScalePaths> {
    match (group, plural) {
        ("apps", "deployments" | "replicasets" | "statefulsets")
        | ("", "replicationcontrollers") => Some(ScalePaths {
            spec_replicas: ".spec.replicas".into(),
            status_replicas: ".status.replicas".into(),
            label_selector: Some(".spec.selector".into()),
        }),
        _ => None,
    }
}

/// The per-kind field selectors of the built-in kinds (besides metadata.name and
/// metadata.namespace), as the server's field label conversion functions accept them.
pub(crate) fn builtin_selectable(group: &str, plural: &str) -> Vec<String> {
    let fields: &[&str] = match (group, plural) {
        ("", "pods") => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.podIPs",
            "status.nominatedNodeName",
        ],
        ("", "events") => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        ("events.k8s.io", "events") => &[
            "regarding.kind",
            "regarding.namespace",
            "regarding.name",
            "regarding.uid",
            "regarding.apiVersion",
            "regarding.resourceVersion",
            "regarding.fieldPath",
            "reason",
            "reportingController",
            "type",
        ],
        ("", "secrets") => &["type"],
        ("", "namespaces") => &["status.phase"],
        ("", "nodes") => &["spec.unschedulable"],
        ("", "replicationcontrollers") => &["status.replicas"],
        ("apps", "replicasets") => &["status.replicas"],
        ("batch", "jobs") => &["status.successful"],
        ("", "services") => &["spec.clusterIP", "spec.type"],
        ("certificates.k8s.io", "certificatesigningrequests") => &["spec.signerName"],
        _ => &[],
    };
    fields.iter().map(|s| s.to_string()).collect()
}

impl Registry {
    /// From the aggregated discovery documents (`/api` and `/apis`, v2).
    pub fn from_aggregated(documents: &[&Value]) -> Registry {
        let mut registry = Registry::default();
        for doc in documents {
            let Some(items) = doc["items"].as_array() else {
                continue;
            };
            for group in items {
                let group_name = group["metadata"]["name"].as_str().unwrap_or("").to_string();
                let Some(versions) = group["versions"].as_array() else {
                    continue;
                };
                for version in versions {
                    let version_name = version["version"].as_str().unwrap_or("").to_string();
                    let Some(resources) = version["resources"].as_array() else {
                        continue;
                    };
                    for r in resources {
                        let plural = r["resource"].as_str().unwrap_or("").to_string();
                        let subresources: Vec<&str> = r["subresources"]
                            .as_array()
                            .map(|s| s.iter().filter_map(|s| s["subresource"].as_str()).collect())
                            .unwrap_or_default();
                        let info = ResourceInfo {
                            group: group_name.clone(),
                            version: version_name.clone(),
                            kind: r["responseKind"]["kind"].as_str().unwrap_or("").to_string(),
                            namespaced: r["scope"] == "Namespaced",
                            verbs: r["verbs"]
                                .as_array()
                                .map(|v| {
                                    v.iter()
                                        .filter_map(|v| v.as_str().map(String::from))
                                        .collect()
                                })
                                .unwrap_or_default(),
                            status: subresources.contains(&"status"),
                            scale: if subresources.contains(&"scale") {
                                builtin_scale(&group_name, &plural)
                            } else {
                                None
                            },
                            custom: false,
                            selectable: builtin_selectable(&group_name, &plural),
                            names: Value::Null,
                            plural: plural.clone(),
                        };
                        registry
                            .resources
                            .insert((group_name.clone(), version_name.clone(), plural), info);
                    }
                }
            }
        }
        registry
    }

    pub fn get(&self, group: &str, version: &str, plural: &str) -> Option<&ResourceInfo> {
        self.resources
            .get(&(group.to_string(), version.to_string(), plural.to_string()))
    }

    /// The resource of a kind in a group-version.
    pub fn by_kind(&self, group: &str, version: &str, kind: &str) -> Option<&ResourceInfo> {
        self.resources
            .values()
            .find(|r| r.group == group && r.version == version && r.kind == kind)
    }

    /// Any version's resource of a `(group, plural)` storage key.
    pub fn any_version(&self, key: &ResKey) -> Option<&ResourceInfo> {
        self.resources
            .values()
            .find(|r| r.group == key.0 && r.plural == key.1)
    }

    /// Removes the resources of a CRD.
    pub fn remove_crd(&mut self, group: &str, plural: &str) {
        self.resources
            .retain(|_, r| !(r.custom && r.group == group && r.plural == plural));
    }

    /// Adds the served versions of an established CRD.
    pub fn add_crd(&mut self, crd: &Value) {
        let spec = &crd["spec"];
        let group = spec["group"].as_str().unwrap_or("").to_string();
        let plural = spec["names"]["plural"].as_str().unwrap_or("").to_string();
        let kind = spec["names"]["kind"].as_str().unwrap_or("").to_string();
        let namespaced = spec["scope"] == "Namespaced";
        self.remove_crd(&group, &plural);
        let Some(versions) = spec["versions"].as_array() else {
            return;
        };
        for v in versions {
            if v["served"] != Value::Bool(true) {
                continue;
            }
            let version = v["name"].as_str().unwrap_or("").to_string();
            let sub = &v["subresources"];
            let scale = sub.get("scale").map(|s| ScalePaths {
                spec_replicas: s["specReplicasPath"]
                    .as_str()
                    .unwrap_or(".spec.replicas")
                    .into(),
                status_replicas: s["statusReplicasPath"]
                    .as_str()
                    .unwrap_or(".status.replicas")
                    .into(),
                label_selector: s["labelSelectorPath"].as_str().map(String::from),
            });
            let selectable = v["selectableFields"]
                .as_array()
                .map(|f| {
                    f.iter()
                        .filter_map(|f| f["jsonPath"].as_str())
                        .map(|p| p.trim_start_matches('.').to_string())
                        .collect()
                })
                .unwrap_or_default();
            let info = ResourceInfo {
                group: group.clone(),
                version: version.clone(),
                plural: plural.clone(),
                kind: kind.clone(),
                namespaced,
                verbs: [
                    "create",
                    "delete",
                    "deletecollection",
                    "get",
                    "list",
                    "patch",
                    "update",
                    "watch",
                ]
                .iter()
                .map(|s| s.to_string())
                .collect(),
                status: sub.get("status").is_some(),
                scale,
                custom: true,
                selectable,
                names: spec["names"].clone(),
            };
            self.resources
                .insert((group.clone(), version, plural.clone()), info);
        }
    }
}
