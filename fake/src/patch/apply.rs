//! Server-side apply and the field ownership of every write (`managedFields`).

use std::collections::BTreeMap;

use k8s_client::api::GroupVersionKind;
use serde_json::{Map, Value};

use super::fieldpath::{
    compare, decode, display, encode, ensure_named, index_items, map_child, recursive_difference,
    remove_paths, server_order, shape, to_set, FieldSet, Shape,
};
use super::ApplyError;
use crate::schema::{Schemas, TypeId};

/// Who wrote: one entry of `managedFields`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Manager {
    manager: String,
    operation: String,
    api_version: String,
    subresource: String,
}

impl Manager {
    /// The manager as the server names it in a conflict.
    fn describe(&self) -> String {
        let mut s = format!("{:?}", self.manager);
        if !self.subresource.is_empty() {
            s = format!("{s} with subresource {:?}", self.subresource);
        }
        if self.operation == "Update" {
            s = format!("{s} using {}", self.api_version);
        }
        s
    }
}

struct Entry {
    set: FieldSet,
    time: Option<String>,
}

type Managed = BTreeMap<Manager, Entry>;

fn decode_managed(object: &Value) -> Result<Option<Managed>, String> {
    let Some(list) = object.pointer("/metadata/managedFields") else {
        return Ok(None);
    };
    if list.is_null() {
        return Ok(None);
    }
    let list = list
        .as_array()
        .ok_or_else(|| "metadata.managedFields is not a list".to_string())?;
    let mut out = Managed::new();
    for e in list {
        let e = e
            .as_object()
            .ok_or_else(|| "a managedFields entry is not an object".to_string())?;
        let text = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        if let Some(t) = e.get("fieldsType").and_then(Value::as_str) {
            if t != "FieldsV1" {
                return Err(format!("invalid fieldsType {t:?}"));
            }
        }
        let set = match e.get("fieldsV1") {
            Some(v) if !v.is_null() => decode(v)?,
            _ => FieldSet::new(),
        };
        let id = Manager {
            manager: text("manager"),
            operation: text("operation"),
            api_version: text("apiVersion"),
            subresource: text("subresource"),
        };
        let time = e.get("time").and_then(Value::as_str).map(str::to_string);
        if out.insert(id, Entry { set, time }).is_some() {
            return Err("duplicate entries for manager".to_string());
        }
    }
    Ok(Some(out))
}

fn encode_managed(object: &mut Value, managed: &Managed) {
    let mut entries: Vec<(&Manager, &Entry)> =
        managed.iter().filter(|(_, e)| !e.set.is_empty()).collect();
    entries.sort_by(|(a, ae), (b, be)| {
        a.operation
            .cmp(&b.operation)
            .then_with(|| seconds(ae.time.as_deref()).cmp(&seconds(be.time.as_deref())))
            .then_with(|| a.manager.cmp(&b.manager))
            .then_with(|| a.api_version.cmp(&b.api_version))
            .then_with(|| a.subresource.cmp(&b.subresource))
    });
    let list: Vec<Value> = entries
        .into_iter()
        .map(|(m, e)| {
            let mut o = Map::new();
            o.insert("manager".into(), Value::String(m.manager.clone()));
            o.insert("operation".into(), Value::String(m.operation.clone()));
            o.insert("apiVersion".into(), Value::String(m.api_version.clone()));
            if let Some(t) = &e.time {
                o.insert("time".into(), Value::String(t.clone()));
            }
            o.insert("fieldsType".into(), Value::String("FieldsV1".into()));
            o.insert("fieldsV1".into(), encode(&e.set));
            if !m.subresource.is_empty() {
                o.insert("subresource".into(), Value::String(m.subresource.clone()));
            }
            Value::Object(o)
        })
        .collect();
    if let Some(meta) = metadata(object) {
        if list.is_empty() {
            meta.remove("managedFields");
        } else {
            meta.insert("managedFields".into(), Value::Array(list));
        }
    }
}

/// An RFC 3339 time compared to the second (`None` first).
fn seconds(t: Option<&str>) -> String {
    t.map(|t| t.get(..19).unwrap_or(t).to_string())
        .unwrap_or_default()
}

fn metadata(object: &mut Value) -> Option<&mut Map<String, Value>> {
    let o = object.as_object_mut()?;
    o.entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
}

fn without_managed(object: &Value) -> Value {
    let mut o = object.clone();
    if let Some(m) = o.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("managedFields");
    }
    o
}

/// The fields no manager owns: identity and server-set metadata.
fn strip_set() -> FieldSet {
    let mut s = FieldSet::new();
    s.insert(vec!["f:apiVersion".to_string()]);
    s.insert(vec!["f:kind".to_string()]);
    s.insert(vec!["f:metadata".to_string()]);
    for f in [
        "name",
        "namespace",
        "creationTimestamp",
        "selfLink",
        "uid",
        "clusterName",
        "generation",
        "managedFields",
        "resourceVersion",
    ] {
        s.insert(vec!["f:metadata".to_string(), format!("f:{f}")]);
    }
    s
}

/// The fields a write through `subresource` does not own (the server resets them).
fn ignored(schemas: &Schemas, gvk: &GroupVersionKind, subresource: &str) -> FieldSet {
    let mut s = FieldSet::new();
    if schemas.has_status_subresource(gvk) {
        match subresource {
            "" => {
                s.insert(vec!["f:status".to_string()]);
            }
            "status" => {
                s.insert(vec!["f:spec".to_string()]);
            }
            _ => {}
        }
    }
    s
}

/// The value every object of the kind starts from: its always-present structs (fields with
/// `default: {}`), as the server's empty object of a built-in kind has them.
fn zero(schemas: &Schemas, ty: TypeId, custom: bool, depth: usize) -> Value {
    let mut m = Map::new();
    if custom || depth > 16 {
        return Value::Object(m);
    }
    if let crate::schema::Node::Map {
        fields, required, ..
    } = schemas.node(ty)
    {
        for (name, f) in fields {
            if f.default_empty && matches!(schemas.node(f.ty), crate::schema::Node::Map { .. }) {
                m.insert(name.clone(), zero(schemas, f.ty, custom, depth + 1));
            } else if required.contains(name) {
                // A required field is one the Go type always serializes: a pointer, list or
                // map is null in the empty object.
                m.insert(name.clone(), Value::Null);
            }
        }
    }
    Value::Object(m)
}

/// Merges an applied configuration into a live object (the applied values win; list items
/// are matched by their keys).
fn merge(schemas: &Schemas, ty: TypeId, lhs: &Value, rhs: &Value) -> Value {
    match (shape(schemas, ty, lhs), shape(schemas, ty, rhs)) {
        (Shape::Map(l), Shape::Map(r)) => {
            let mut out = l.clone();
            for (k, rv) in r {
                let merged = match (l.get(k), map_child(schemas, ty, k)) {
                    (Some(lv), Some(cty)) => merge(schemas, cty, lv, rv),
                    _ => rv.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        (Shape::List(l, ity, lt), Shape::List(r, _, _)) => {
            let lhs_items = index_items(lt, l);
            let rhs_items = index_items(lt, r);
            let find = |items: &[(String, &Value)], pe: &str| {
                items
                    .iter()
                    .find(|(p, _)| p == pe)
                    .map(|(_, v)| (*v).clone())
            };
            let in_rhs = |pe: &str| rhs_items.iter().any(|(p, _)| p == pe);
            let in_lhs = |pe: &str| lhs_items.iter().any(|(p, _)| p == pe);
            let mut shared: std::collections::VecDeque<String> = rhs_items
                .iter()
                .filter(|(p, _)| in_lhs(p))
                .map(|(p, _)| p.clone())
                .collect();
            let mut next = shared.pop_front();
            let mut merged_rhs: Vec<String> = Vec::new();
            let mut out = Vec::new();
            let merge_item = |pe: &str| -> Value {
                match (find(&lhs_items, pe), find(&rhs_items, pe)) {
                    (Some(lv), Some(rv)) => merge(schemas, ity, &lv, &rv),
                    (None, Some(rv)) => rv,
                    (Some(lv), None) => lv,
                    (None, None) => Value::Null,
                }
            };
            let (ll, rl) = (lhs_items.len(), rhs_items.len());
            let (mut li, mut ri) = (0, 0);
            while li < ll || ri < rl {
                if li < ll && ri < rl {
                    let pe = &lhs_items[li].0;
                    if *pe == rhs_items[ri].0 {
                        merged_rhs.push(pe.clone());
                        out.push(merge_item(pe));
                        li += 1;
                        ri += 1;
                        next = shared.pop_front();
                        continue;
                    }
                    if in_rhs(pe) && next.as_ref().is_some_and(|n| n != pe) {
                        li += 1;
                        continue;
                    }
                }
                if li < ll {
                    let pe = &lhs_items[li].0;
                    if !in_rhs(pe) {
                        out.push(lhs_items[li].1.clone());
                        li += 1;
                        continue;
                    } else if merged_rhs.contains(pe) {
                        li += 1;
                        continue;
                    }
                }
                if ri < rl {
                    let pe = rhs_items[ri].0.clone();
                    merged_rhs.push(pe.clone());
                    out.push(merge_item(&pe));
                    ri += 1;
                    if next.as_ref() == Some(&pe) {
                        next = shared.pop_front();
                    }
                }
            }
            Value::Array(out)
        }
        _ => rhs.clone(),
    }
}

/// Compares the old and the new object and takes the changed and removed fields from the
/// other managers (a conflict unless `force`).
#[allow(clippy::too_many_arguments)]
fn update_managers(
    schemas: &Schemas,
    ty: TypeId,
    live: &Value,
    new: &Value,
    managed: &mut Managed,
    me: &Manager,
    ignore: &FieldSet,
    force: bool,
) -> Result<super::fieldpath::Comparison, ApplyError> {
    let mut c = compare(schemas, ty, live, new);
    c.added = recursive_difference(&c.added, ignore);
    c.modified = recursive_difference(&c.modified, ignore);
    c.removed = recursive_difference(&c.removed, ignore);
    let changed: FieldSet = c.added.union(&c.modified).cloned().collect();
    let mut conflicts: Vec<(Manager, FieldSet)> = Vec::new();
    for (m, e) in managed.iter() {
        if m == me {
            continue;
        }
        let set: FieldSet = e.set.intersection(&changed).cloned().collect();
        if !set.is_empty() {
            conflicts.push((m.clone(), set));
        }
    }
    if !force && !conflicts.is_empty() {
        let mut list: Vec<(String, Vec<String>)> = Vec::new();
        for (m, set) in &conflicts {
            let mut paths: Vec<&Vec<String>> = set.iter().collect();
            paths.sort_by(|a, b| server_order(a, b));
            list.push((
                m.describe(),
                paths.into_iter().map(|p| display(p)).collect(),
            ));
        }
        list.sort();
        let conflicts = list
            .into_iter()
            .flat_map(|(m, paths)| paths.into_iter().map(move |p| (m.clone(), p)))
            .collect();
        return Err(ApplyError::Conflict { conflicts });
    }
    for (m, set) in conflicts {
        if let Some(e) = managed.get_mut(&m) {
            e.set = e.set.difference(&set).cloned().collect();
        }
    }
    for (m, e) in managed.iter_mut() {
        if m != me {
            e.set = e.set.difference(&c.removed).cloned().collect();
        }
    }
    managed.retain(|_, e| !e.set.is_empty());
    Ok(c)
}

/// Server-side apply: merges `applied` (the configuration a manager sends) into `live` (or
/// creates the object when `live` is `None`), and records the manager's ownership in
/// `metadata.managedFields` with the time `now` (RFC 3339). Fields the manager applied before
/// and no longer applies are removed unless another manager owns them; fields another manager
/// owns with a different value are a conflict unless `force`, which takes them over.
pub fn apply(
    schemas: &Schemas,
    gvk: &GroupVersionKind,
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    now: &str,
) -> Result<Value, ApplyError> {
    let config = applied.as_object().ok_or_else(|| {
        ApplyError::BadRequest("the applied configuration is not an object".into())
    })?;
    if manager.is_empty() {
        return Err(ApplyError::BadRequest(
            "PATCH, application/apply-patch+yaml requests require a fieldManager".into(),
        ));
    }
    if config
        .get("metadata")
        .and_then(|m| m.get("managedFields"))
        .is_some_and(|m| !m.is_null())
    {
        return Err(ApplyError::BadRequest(
            "metadata.managedFields must be nil".into(),
        ));
    }
    let version = gvk.api_version();
    if let Some(av) = config.get("apiVersion").and_then(Value::as_str) {
        if av != version {
            return Err(ApplyError::BadRequest(format!(
                "Incorrect version specified in apply patch. Specified patch version: {av}, expected: {version}"
            )));
        }
    }
    let ty = schemas.root(gvk);
    let live_value = live
        .map(without_managed)
        .unwrap_or_else(|| Value::Object(Map::new()));
    let mut managed = match live {
        Some(l) => decode_managed(l)
            .map_err(|e| ApplyError::Internal(format!("failed to decode managed fields: {e}")))?
            .unwrap_or_default(),
        None => Managed::new(),
    };
    let ignore = ignored(schemas, gvk, "");
    if live.is_some() && managed.is_empty() {
        // The first apply to an object nobody tracks: its fields so far belong to
        // `before-first-apply`, as on the server.
        let empty = zero(schemas, ty, schemas.is_custom(gvk), 0);
        let c = compare(schemas, ty, &empty, &live_value);
        let existing: FieldSet = c.added.union(&c.modified).cloned().collect();
        let existing = recursive_difference(&existing, &ignore);
        let existing: FieldSet = existing.difference(&strip_set()).cloned().collect();
        if !existing.is_empty() {
            managed.insert(
                Manager {
                    manager: "before-first-apply".to_string(),
                    operation: "Update".to_string(),
                    api_version: version.clone(),
                    subresource: String::new(),
                },
                Entry {
                    set: existing,
                    time: Some(now.to_string()),
                },
            );
        }
    }
    let me = Manager {
        manager: manager.to_string(),
        operation: "Apply".to_string(),
        api_version: version,
        subresource: String::new(),
    };
    let set = to_set(schemas, ty, applied).map_err(|e| {
        ApplyError::Invalid(format!(
            "failed to create typed patch object ({}; {}): {}: field not declared in schema",
            gvk.api_version(),
            gvk.kind,
            e.0
        ))
    })?;
    let set = recursive_difference(&set, &ignore);
    let mut merged = merge(schemas, ty, &live_value, applied);
    let last = managed.get(&me).map(|e| e.set.clone());
    let time = managed.get(&me).and_then(|e| e.time.clone());
    managed.insert(
        me.clone(),
        Entry {
            set: set.clone(),
            time,
        },
    );
    if let Some(last) = last.filter(|l| !l.is_empty()) {
        let owned: FieldSet = managed
            .values()
            .flat_map(|e| e.set.iter().cloned())
            .collect();
        let owned = ensure_named(schemas, ty, &owned);
        let present = ensure_named(
            schemas,
            ty,
            &to_set(schemas, ty, &merged).unwrap_or_default(),
        );
        let remove: FieldSet = ensure_named(schemas, ty, &last)
            .intersection(&present)
            .filter(|p| !owned.contains(*p))
            .cloned()
            .collect();
        // Remove the outermost paths only.
        let remove: FieldSet = remove
            .iter()
            .filter(|p| !remove.iter().any(|q| q.len() < p.len() && p.starts_with(q)))
            .cloned()
            .collect();
        remove_paths(schemas, ty, &mut merged, &remove);
    }
    update_managers(
        schemas,
        ty,
        &live_value,
        &merged,
        &mut managed,
        &me,
        &ignore,
        force,
    )?;
    let strip = strip_set();
    if let Some(e) = managed.get_mut(&me) {
        e.set = e.set.difference(&strip).cloned().collect();
        if merged != live_value || live.is_none() {
            e.time = Some(now.to_string());
        }
    }
    encode_managed(&mut merged, &managed);
    Ok(merged)
}

/// Records the ownership of a write that is not an apply (create, update, patch) by
/// `manager` (the `fieldManager` parameter, or the user agent's first segment): the fields
/// `new` changes from `old` (`None` for a create) become the manager's, with operation
/// `Update`. A request that sends its own `managedFields` replaces them; one that sends an
/// empty list, or a list of one empty entry, resets them; one that sends none keeps the live
/// ones. As on the server, an existing object (with a `metadata.uid`) that has no managed
/// fields is written without any: only an apply starts tracking it again.
/// `subresource` is `""` for the main resource, or `status`, `scale`, ...
pub fn record_update(
    schemas: &Schemas,
    gvk: &GroupVersionKind,
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    subresource: &str,
    now: &str,
) -> Result<(), ApplyError> {
    if !new.is_object() {
        return Err(ApplyError::BadRequest(
            "the object is not a JSON object".into(),
        ));
    }
    let ty = schemas.root(gvk);
    // An empty list, or a list of one empty entry, resets the managed fields: the object is
    // written without any.
    let reset = match new.pointer("/metadata/managedFields") {
        Some(Value::Array(a)) => {
            a.is_empty() || (a.len() == 1 && a[0].as_object().is_some_and(Map::is_empty))
        }
        _ => false,
    };
    let sent = decode_managed(new).ok().flatten().filter(|m| !m.is_empty());
    let mut managed = match sent {
        _ if reset => Managed::new(),
        Some(m) if subresource.is_empty() => m,
        _ => match old.map(decode_managed) {
            Some(Ok(m)) => m.unwrap_or_default(),
            Some(Err(_)) => {
                // The server keeps a write whose live managed fields it cannot read, without them.
                if let Some(meta) = metadata(new) {
                    meta.remove("managedFields");
                }
                return Ok(());
            }
            None => Managed::new(),
        },
    };
    // An existing object without managed fields is not tracked by updates (only an apply
    // starts tracking it again), as the server does.
    let existing = old.is_some_and(|o| {
        o.pointer("/metadata/uid")
            .and_then(Value::as_str)
            .is_some_and(|u| !u.is_empty())
    });
    if managed.is_empty() && existing {
        if let Some(meta) = metadata(new) {
            meta.remove("managedFields");
        }
        return Ok(());
    }
    let old_value = match old {
        Some(o) => without_managed(o),
        None => zero(schemas, ty, schemas.is_custom(gvk), 0),
    };
    let new_value = without_managed(new);
    let current = Manager {
        manager: String::new(),
        operation: "current-operation".to_string(),
        api_version: String::new(),
        subresource: String::new(),
    };
    let ignore = ignored(schemas, gvk, subresource);
    let c = update_managers(
        schemas,
        ty,
        &old_value,
        &new_value,
        &mut managed,
        &current,
        &ignore,
        true,
    )?;
    let mut set: FieldSet = c.added.union(&c.modified).cloned().collect();
    set = recursive_difference(&set, &ignore);
    set = set.difference(&strip_set()).cloned().collect();
    let me = Manager {
        manager: manager.to_string(),
        operation: "Update".to_string(),
        api_version: gvk.api_version(),
        subresource: subresource.to_string(),
    };
    if !set.is_empty() {
        let entry = managed.entry(me).or_insert(Entry {
            set: FieldSet::new(),
            time: None,
        });
        entry.set = entry.set.union(&set).cloned().collect();
        entry.time = Some(now.to_string());
    }
    encode_managed(new, &managed);
    Ok(())
}
