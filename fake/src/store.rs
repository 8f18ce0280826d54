//! Objects, the history of changes (for watches, consistent pages and exact lists) and the
//! open watches.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::registry::{ResKey, ResourceInfo};
use crate::selectors::Filter;

/// The type of a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChangeType {
    Added,
    Modified,
    Deleted,
}

/// One committed change.
#[derive(Debug)]
pub(crate) struct Change {
    pub rv: u64,
    pub key: ResKey,
    pub ns: String,
    pub name: String,
    pub kind: ChangeType,
    pub object: Arc<Value>,
    pub prev: Option<Arc<Value>>,
}

/// What a watch stream gets.
#[derive(Debug)]
pub(crate) enum WatchMsg {
    Event(&'static str, Value),
    /// A terminal error event, then the end of the stream.
    Error(Value),
}

/// An open watch.
pub(crate) struct Watcher {
    pub info: ResourceInfo,
    pub namespace: Option<String>,
    pub filter: Filter,
    pub bookmarks: bool,
    pub tx: mpsc::UnboundedSender<WatchMsg>,
}

/// `(namespace, name)`; the namespace is empty for cluster-scoped objects.
pub(crate) type ObjKey = (String, String);

pub(crate) struct Store {
    pub rv: u64,
    pub objects: HashMap<ResKey, BTreeMap<ObjKey, Arc<Value>>>,
    pub history: VecDeque<Arc<Change>>,
    pub history_limit: usize,
    /// Every change after this resourceVersion is in `history`.
    pub compacted: u64,
    pub watchers: Vec<Watcher>,
    /// uid -> where the object lives.
    pub uids: HashMap<String, (ResKey, ObjKey)>,
}

/// The object as one version renders it (apiVersion rewritten).
pub(crate) fn render(object: &Value, info: &ResourceInfo) -> Value {
    let mut out = object.clone();
    out["apiVersion"] = json!(info.api_version());
    out["kind"] = json!(info.kind);
    out
}

pub(crate) fn obj_key(object: &Value) -> ObjKey {
    (
        object["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string(),
        object["metadata"]["name"]
            .as_str()
            .unwrap_or("")
            .to_string(),
    )
}

impl Store {
    pub fn new(history_limit: usize) -> Store {
        Store {
            rv: 1,
            objects: HashMap::new(),
            history: VecDeque::new(),
            history_limit: history_limit.max(1),
            compacted: 1,
            watchers: Vec::new(),
            uids: HashMap::new(),
        }
    }

    pub fn get(&self, key: &ResKey, ns: &str, name: &str) -> Option<Arc<Value>> {
        self.objects
            .get(key)
            .and_then(|m| m.get(&(ns.to_string(), name.to_string())))
            .cloned()
    }

    /// Commits a change of `object` (ADDED/MODIFIED give the new object; DELETED the last
    /// state): gives it the next resourceVersion, records it, tells the watches.
    pub fn commit(&mut self, key: &ResKey, kind: ChangeType, mut object: Value) -> Arc<Value> {
        self.rv += 1;
        let rv = self.rv;
        object["metadata"]["resourceVersion"] = json!(rv.to_string());
        let object = Arc::new(object);
        let okey = obj_key(&object);
        let map = self.objects.entry(key.clone()).or_default();
        let prev = match kind {
            ChangeType::Deleted => map.remove(&okey),
            _ => map.insert(okey.clone(), object.clone()),
        };
        if let Some(uid) = object["metadata"]["uid"].as_str() {
            if kind == ChangeType::Deleted {
                self.uids.remove(uid);
            } else {
                self.uids
                    .insert(uid.to_string(), (key.clone(), okey.clone()));
            }
        }
        let change = Arc::new(Change {
            rv,
            key: key.clone(),
            ns: okey.0,
            name: okey.1,
            kind,
            object: object.clone(),
            prev,
        });
        self.history.push_back(change.clone());
        while self.history.len() > self.history_limit {
            if let Some(old) = self.history.pop_front() {
                self.compacted = old.rv;
            }
        }
        self.notify(&change);
        object
    }

    fn notify(&mut self, change: &Change) {
        self.watchers.retain(|w| match watch_event(w, change) {
            Some((t, v)) => w.tx.send(WatchMsg::Event(t, v)).is_ok(),
            None => !w.tx.is_closed(),
        });
    }

    /// The objects of `key` as they were at `rv` (`None` when that is older than the
    /// history), in key order.
    pub fn snapshot(&self, key: &ResKey, rv: u64) -> Option<BTreeMap<ObjKey, Arc<Value>>> {
        if rv < self.compacted {
            return None;
        }
        let mut map = self.objects.get(key).cloned().unwrap_or_default();
        for change in self.history.iter().rev() {
            if change.rv <= rv {
                break;
            }
            if change.key != *key {
                continue;
            }
            let okey = (change.ns.clone(), change.name.clone());
            match (change.kind, &change.prev) {
                (ChangeType::Added, _) => {
                    map.remove(&okey);
                }
                (_, Some(prev)) => {
                    map.insert(okey, prev.clone());
                }
                (_, None) => {}
            }
        }
        Some(map)
    }

    /// Sends a bookmark at the current resourceVersion to every watch that asked for them.
    pub fn send_bookmarks(&mut self) {
        let rv = self.rv;
        self.watchers.retain(|w| {
            if w.bookmarks {
                w.tx.send(WatchMsg::Event("BOOKMARK", bookmark(&w.info, rv, false)))
                    .is_ok()
            } else {
                !w.tx.is_closed()
            }
        });
    }

    /// Ends the watches of a resource (all of them when `None`).
    pub fn close_watches(&mut self, key: Option<&ResKey>) {
        self.watchers
            .retain(|w| key.is_some_and(|k| w.info.key() != *k));
    }
}

/// A BOOKMARK event's object.
pub(crate) fn bookmark(info: &ResourceInfo, rv: u64, initial_end: bool) -> Value {
    let mut metadata = json!({"resourceVersion": rv.to_string(), "creationTimestamp": null});
    if initial_end {
        metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    json!({"kind": info.kind, "apiVersion": info.api_version(), "metadata": metadata})
}

fn in_scope(w: &Watcher, object: &Value) -> bool {
    match &w.namespace {
        Some(ns) => object["metadata"]["namespace"].as_str() == Some(ns.as_str()),
        None => true,
    }
}

/// The event a watch gets for a change, if any (an object that leaves the selection is
/// DELETED for it, one that enters it ADDED).
pub(crate) fn watch_event(w: &Watcher, change: &Change) -> Option<(&'static str, Value)> {
    if change.key != w.info.key() {
        return None;
    }
    let now = in_scope(w, &change.object) && w.filter.matches(&change.object, &w.info);
    let before = change
        .prev
        .as_ref()
        .is_some_and(|p| in_scope(w, p) && w.filter.matches(p, &w.info));
    let t = match change.kind {
        ChangeType::Added if now => "ADDED",
        ChangeType::Modified if now && before => "MODIFIED",
        ChangeType::Modified if now => "ADDED",
        ChangeType::Modified if before => "DELETED",
        ChangeType::Deleted if before || now => "DELETED",
        _ => return None,
    };
    Some((t, render(&change.object, &w.info)))
}
