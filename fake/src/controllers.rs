//! What the control plane's controllers do, run soon after each write: CRD establishment and
//! cleanup, namespace termination, garbage collection by owner references, the end of pods'
//! grace periods.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::registry::{ResKey, ResourceInfo};
use crate::state::{Query, State};
use crate::store::{obj_key, ChangeType};

const CRD_CLEANUP: &str = "customresourcecleanup.apiextensions.k8s.io";

fn crd_key() -> ResKey {
    (
        "apiextensions.k8s.io".into(),
        "customresourcedefinitions".into(),
    )
}

fn finalizers(object: &Value) -> Vec<String> {
    object["metadata"]["finalizers"]
        .as_array()
        .map(|f| {
            f.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn terminating(object: &Value) -> bool {
    !object["metadata"]["deletionTimestamp"].is_null()
}

impl State {
    fn info_of(&self, key: &ResKey) -> Option<ResourceInfo> {
        self.registry.any_version(key).cloned()
    }

    /// Removes a finalizer (completing the deletion when it was the last one).
    fn drop_finalizer(&mut self, key: &ResKey, object: &Arc<Value>, finalizer: &str) {
        let Some(info) = self.info_of(key) else {
            return;
        };
        let mut new = (**object).clone();
        let rest: Vec<String> = finalizers(object)
            .into_iter()
            .filter(|f| f != finalizer)
            .collect();
        if rest.is_empty() {
            if let Some(m) = new["metadata"].as_object_mut() {
                m.remove("finalizers");
            }
        } else {
            new["metadata"]["finalizers"] = json!(rest);
        }
        let _ = self.commit_update(&info, object, new, false);
    }

    fn delete_object(&mut self, key: &ResKey, object: &Value) {
        let Some(info) = self.info_of(key) else {
            // The resource is no longer served (its CRD is gone): remove outright.
            let (ns, name) = obj_key(object);
            if self.store.get(key, &ns, &name).is_some() {
                self.store.commit(key, ChangeType::Deleted, object.clone());
            }
            return;
        };
        let (ns, name) = obj_key(object);
        let _ = self.delete(&info, &ns, &name, &json!({}), &Query::default());
    }

    /// One pass of every controller; true when it changed something.
    pub fn reconcile(&mut self) -> bool {
        let before = self.store.rv;
        self.reconcile_crds();
        self.reconcile_namespaces();
        self.reconcile_gc();
        self.reconcile_grace();
        self.store.rv != before
    }

    /// Runs the controllers until nothing changes (bounded).
    pub fn settle(&mut self) {
        for _ in 0..100 {
            if !self.reconcile() {
                break;
            }
        }
    }

    fn reconcile_crds(&mut self) {
        let crds: Vec<Arc<Value>> = self
            .store
            .objects
            .get(&crd_key())
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        for crd in crds {
            let group = crd["spec"]["group"].as_str().unwrap_or("").to_string();
            let plural = crd["spec"]["names"]["plural"]
                .as_str()
                .unwrap_or("")
                .to_string();
            let key: ResKey = (group.clone(), plural.clone());
            if terminating(&crd) {
                if finalizers(&crd).iter().any(|f| f == CRD_CLEANUP) {
                    let objects: Vec<Arc<Value>> = self
                        .store
                        .objects
                        .get(&key)
                        .map(|m| m.values().cloned().collect())
                        .unwrap_or_default();
                    for o in &objects {
                        if !terminating(o) {
                            self.delete_object(&key, o);
                        }
                    }
                    let left = self.store.objects.get(&key).is_some_and(|m| !m.is_empty());
                    if !left {
                        self.registry.remove_crd(&group, &plural);
                        self.drop_finalizer(&crd_key(), &crd, CRD_CLEANUP);
                    }
                }
                continue;
            }
            // Serve it (again: versions may have changed), and mark it established.
            self.registry.add_crd(&crd);
            if let Some(versions) = crd["spec"]["versions"].as_array() {
                let kind = crd["spec"]["names"]["kind"].as_str().unwrap_or("");
                for v in versions {
                    if let (Some(name), Some(schema)) =
                        (v["name"].as_str(), v["schema"].get("openAPIV3Schema"))
                    {
                        let _ = self.schemas.add_crd_version(&group, name, kind, schema);
                    }
                }
            }
            let established = crd["status"]["conditions"].as_array().is_some_and(|c| {
                c.iter()
                    .any(|c| c["type"] == "Established" && c["status"] == "True")
            });
            if !established {
                let now = self.now_str();
                let mut new = (*crd).clone();
                let names = {
                    let mut n = crd["spec"]["names"].clone();
                    if n["singular"].is_null() {
                        n["singular"] = json!(n["kind"].as_str().unwrap_or("").to_lowercase());
                    }
                    if n["listKind"].is_null() {
                        n["listKind"] = json!(format!("{}List", n["kind"].as_str().unwrap_or("")));
                    }
                    n
                };
                let stored: Vec<Value> = crd["spec"]["versions"]
                    .as_array()
                    .map(|v| {
                        v.iter()
                            .filter(|v| v["storage"] == true)
                            .map(|v| v["name"].clone())
                            .collect()
                    })
                    .unwrap_or_default();
                new["status"] = json!({
                    "conditions": [
                        {"type": "NamesAccepted", "status": "True", "lastTransitionTime": now, "reason": "NoConflicts", "message": "no conflicts found"},
                        {"type": "Established", "status": "True", "lastTransitionTime": now, "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"}
                    ],
                    "acceptedNames": names,
                    "storedVersions": stored,
                });
                let info = self.info_of(&crd_key());
                if let Some(info) = info {
                    let _ = self.commit_update(&info, &crd, new, false);
                }
            }
        }
    }

    fn reconcile_namespaces(&mut self) {
        let ns_key: ResKey = (String::new(), "namespaces".into());
        let namespaces: Vec<Arc<Value>> = self
            .store
            .objects
            .get(&ns_key)
            .map(|m| m.values().filter(|n| terminating(n)).cloned().collect())
            .unwrap_or_default();
        for ns in namespaces {
            let name = ns["metadata"]["name"].as_str().unwrap_or("").to_string();
            let mut remaining = 0;
            let keys: Vec<ResKey> = self.store.objects.keys().cloned().collect();
            for key in keys {
                let objects: Vec<Arc<Value>> = self
                    .store
                    .objects
                    .get(&key)
                    .map(|m| {
                        m.iter()
                            .filter(|((n, _), _)| *n == name)
                            .map(|(_, o)| o.clone())
                            .collect()
                    })
                    .unwrap_or_default();
                for o in objects {
                    remaining += 1;
                    if !terminating(&o) {
                        self.delete_object(&key, &o);
                    }
                }
            }
            let left = self
                .store
                .objects
                .iter()
                .any(|(_, m)| m.keys().any(|(n, _)| *n == name));
            let _ = remaining;
            if !left {
                let mut new = (*ns).clone();
                new["spec"]["finalizers"] = json!([]);
                if let Some(m) = new["spec"].as_object_mut() {
                    m.remove("finalizers");
                }
                if finalizers(&ns).is_empty() {
                    self.store.commit(&ns_key, ChangeType::Deleted, new);
                }
            }
        }
    }

    fn reconcile_gc(&mut self) {
        // Owners being deleted in the foreground or orphaning their dependents.
        let mut all: Vec<(ResKey, Arc<Value>)> = Vec::new();
        for (key, map) in &self.store.objects {
            for o in map.values() {
                all.push((key.clone(), o.clone()));
            }
        }
        let dependents_of =
            |uid: &str, all: &[(ResKey, Arc<Value>)]| -> Vec<(ResKey, Arc<Value>)> {
                all.iter()
                    .filter(|(_, o)| {
                        o["metadata"]["ownerReferences"]
                            .as_array()
                            .is_some_and(|r| r.iter().any(|r| r["uid"] == uid))
                    })
                    .cloned()
                    .collect()
            };
        for (key, owner) in &all {
            if !terminating(owner) {
                continue;
            }
            let fins = finalizers(owner);
            let uid = owner["metadata"]["uid"].as_str().unwrap_or("").to_string();
            if fins.iter().any(|f| f == "orphan") {
                for (dkey, dep) in dependents_of(&uid, &all) {
                    let Some(info) = self.info_of(&dkey) else {
                        continue;
                    };
                    let mut new = (*dep).clone();
                    if let Some(refs) = new["metadata"]["ownerReferences"].as_array_mut() {
                        refs.retain(|r| r["uid"] != uid.as_str());
                        if refs.is_empty() {
                            if let Some(m) = new["metadata"].as_object_mut() {
                                m.remove("ownerReferences");
                            }
                        }
                    }
                    let _ = self.commit_update(&info, &dep, new, false);
                }
                if let Some(cur) = self.store.get(key, &obj_key(owner).0, &obj_key(owner).1) {
                    self.drop_finalizer(key, &cur, "orphan");
                }
            } else if fins.iter().any(|f| f == "foregroundDeletion") {
                let deps = dependents_of(&uid, &all);
                for (dkey, dep) in &deps {
                    if !terminating(dep) {
                        // Dependents of a foreground deletion are deleted in the foreground too.
                        if let Some(info) = self.info_of(dkey) {
                            let (ns, name) = obj_key(dep);
                            let _ = self.delete(
                                &info,
                                &ns,
                                &name,
                                &json!({"propagationPolicy": "Foreground"}),
                                &Query::default(),
                            );
                        }
                    }
                }
                if deps.is_empty() {
                    if let Some(cur) = self.store.get(key, &obj_key(owner).0, &obj_key(owner).1) {
                        self.drop_finalizer(key, &cur, "foregroundDeletion");
                    }
                }
            }
        }
        // Dependents whose owners are all gone.
        for (key, o) in &all {
            let (ns, name) = obj_key(o);
            let Some(cur) = self.store.get(key, &ns, &name) else {
                continue;
            };
            let Some(refs) = cur["metadata"]["ownerReferences"].as_array() else {
                continue;
            };
            if refs.is_empty() || terminating(&cur) {
                continue;
            }
            let absent = refs.iter().all(|r| {
                let uid = r["uid"].as_str().unwrap_or("");
                !self.store.uids.contains_key(uid)
            });
            if absent {
                self.delete_object(key, &cur);
            }
        }
    }

    fn reconcile_grace(&mut self) {
        let pods_key: ResKey = (String::new(), "pods".into());
        let now = self.now();
        let due: Vec<Arc<Value>> = self
            .store
            .objects
            .get(&pods_key)
            .map(|m| {
                m.values()
                    .filter(|p| {
                        p["metadata"]["deletionTimestamp"]
                            .as_str()
                            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                            .is_some_and(|t| t <= now)
                            && finalizers(p).is_empty()
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        for pod in due {
            self.store
                .commit(&pods_key, ChangeType::Deleted, (*pod).clone());
        }
    }
}
