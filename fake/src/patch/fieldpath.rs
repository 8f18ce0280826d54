//! Field paths and sets as server-side apply tracks them, and their `FieldsV1` encoding.
//!
//! A path element is kept in its `FieldsV1` spelling: `f:name` (a field or map key),
//! `k:{"name":"x"}` (a list item by its map keys), `v:"a"` (a set item), `i:0` (an item of a
//! list without keys). A path is a list of elements; a set is a sorted set of paths.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::schema::{ListType, Node, Schemas, TypeId, UNTYPED};

/// A field path.
pub type Path = Vec<String>;
/// A set of field paths.
pub type FieldSet = BTreeSet<Path>;

/// How a value is walked.
pub(crate) enum Shape<'a> {
    /// One value (scalar, atomic list or map, or a value of an unexpected type).
    Leaf,
    /// A map whose keys are tracked one by one.
    Map(&'a Map<String, Value>),
    /// A list whose items are tracked one by one.
    List(&'a [Value], TypeId, &'a ListType),
}

pub(crate) fn shape<'a>(schemas: &'a Schemas, ty: TypeId, v: &'a Value) -> Shape<'a> {
    match (schemas.node(ty), v) {
        (Node::Untyped, Value::Object(m)) => Shape::Map(m),
        (Node::Map { atomic: false, .. }, Value::Object(m)) => Shape::Map(m),
        (Node::List { items, list_type }, Value::Array(a)) if *list_type != ListType::Atomic => {
            Shape::List(a, *items, list_type)
        }
        _ => Shape::Leaf,
    }
}

/// The type of a map key, `None` when the schema does not allow it.
pub(crate) fn map_child(schemas: &Schemas, ty: TypeId, key: &str) -> Option<TypeId> {
    match schemas.node(ty) {
        Node::Untyped => Some(UNTYPED),
        _ => schemas.child(ty, key),
    }
}

fn is_declared(schemas: &Schemas, ty: TypeId, key: &str) -> bool {
    schemas.field(ty, key).is_some()
}

/// The path element of a list item.
pub(crate) fn item_element(list_type: &ListType, index: usize, item: &Value) -> String {
    match list_type {
        ListType::Map(keys) => {
            let mut fields: BTreeMap<&str, &Value> = BTreeMap::new();
            for k in keys {
                if let Some(v) = item.get(k.as_str()) {
                    fields.insert(k, v);
                }
            }
            let mut s = String::from("k:{");
            for (i, (k, v)) in fields.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                s.push_str(&Value::String((*k).to_string()).to_string());
                s.push(':');
                s.push_str(&v.to_string());
            }
            s.push('}');
            s
        }
        ListType::Set => format!("v:{item}"),
        ListType::Atomic => format!("i:{index}"),
    }
}

/// An error building a field set: a field the schema does not declare.
#[derive(Debug)]
pub(crate) struct NotDeclared(pub String);

/// The fields a value sets, as server-side apply counts them: leaves, list items, map
/// entries, and empty or null fields.
pub(crate) fn to_set(schemas: &Schemas, ty: TypeId, v: &Value) -> Result<FieldSet, NotDeclared> {
    let mut out = FieldSet::new();
    let mut prefix = Vec::new();
    walk_set(schemas, ty, v, &mut prefix, &mut out, true)?;
    Ok(out)
}

fn walk_set(
    schemas: &Schemas,
    ty: TypeId,
    v: &Value,
    prefix: &mut Path,
    out: &mut FieldSet,
    root: bool,
) -> Result<(), NotDeclared> {
    match shape(schemas, ty, v) {
        Shape::Leaf => {
            if !root {
                out.insert(prefix.clone());
            }
        }
        Shape::Map(m) => {
            for (k, child) in m {
                let Some(cty) = map_child(schemas, ty, k) else {
                    prefix.push(format!("f:{k}"));
                    let p = display(prefix);
                    prefix.pop();
                    return Err(NotDeclared(p));
                };
                prefix.push(format!("f:{k}"));
                walk_set(schemas, cty, child, prefix, out, false)?;
                let empty = child.is_null() || child.as_object().is_some_and(Map::is_empty);
                if empty || !is_declared(schemas, ty, k) {
                    out.insert(prefix.clone());
                }
                prefix.pop();
            }
        }
        Shape::List(items, ity, lt) => {
            for (i, item) in items.iter().enumerate() {
                prefix.push(item_element(lt, i, item));
                walk_set(schemas, ity, item, prefix, out, false)?;
                out.insert(prefix.clone());
                prefix.pop();
            }
        }
    }
    Ok(())
}

/// The set with every named field (a field the schema declares) on the way to its paths
/// added as a member; map keys and list items on the way are not added.
pub(crate) fn ensure_named(schemas: &Schemas, ty: TypeId, set: &FieldSet) -> FieldSet {
    let mut out = set.clone();
    for p in set {
        let mut cur = ty;
        for n in 0..p.len() {
            let pe = &p[n];
            if let Some(name) = pe.strip_prefix("f:") {
                if is_declared(schemas, cur, name) {
                    out.insert(p[..=n].to_vec());
                }
                cur = map_child(schemas, cur, name).unwrap_or(UNTYPED);
            } else {
                cur = match schemas.node(cur) {
                    Node::List { items, .. } => *items,
                    _ => UNTYPED,
                };
            }
        }
    }
    out
}

/// Removes the paths of `set` and everything under them.
pub(crate) fn recursive_difference(set: &FieldSet, remove: &FieldSet) -> FieldSet {
    set.iter()
        .filter(|p| !remove.iter().any(|r| p.starts_with(r)))
        .cloned()
        .collect()
}

/// The differences between two values.
#[derive(Default, Debug)]
pub(crate) struct Comparison {
    pub added: FieldSet,
    pub removed: FieldSet,
    pub modified: FieldSet,
}

/// Compares two values of the same type.
pub(crate) fn compare(schemas: &Schemas, ty: TypeId, lhs: &Value, rhs: &Value) -> Comparison {
    let mut c = Comparison::default();
    let mut prefix = Vec::new();
    walk_compare(schemas, ty, Some(lhs), Some(rhs), &mut prefix, &mut c);
    c
}

fn walk_compare(
    schemas: &Schemas,
    ty: TypeId,
    lhs: Option<&Value>,
    rhs: Option<&Value>,
    prefix: &mut Path,
    c: &mut Comparison,
) {
    let mut ls = lhs.map(|l| shape(schemas, ty, l));
    let mut rs = rhs.map(|r| shape(schemas, ty, r));
    let (mut lhs, mut rhs) = (lhs, rhs);
    // A null list or map (a Go nil) compares as an empty one: its items are added or
    // removed, the field itself is not.
    let granular = |s: &Option<Shape>| matches!(s, Some(Shape::Map(_) | Shape::List(..)));
    let mut was_null = false;
    if lhs.is_some_and(Value::is_null) && granular(&rs) {
        (lhs, ls, was_null) = (None, None, true);
    } else if rhs.is_some_and(Value::is_null) && granular(&ls) {
        (rhs, rs, was_null) = (None, None, true);
    }
    // A null scalar beside an absent one is the same Go zero value (1.33 and older serialize
    // an unset `metav1.Time` as null): not a change.
    if (lhs.is_none() && rhs.is_some_and(Value::is_null))
        || (rhs.is_none() && lhs.is_some_and(Value::is_null))
    {
        return;
    }
    let root = prefix.is_empty();
    let node = |c: &mut Comparison, prefix: &Path| {
        if root || was_null {
            return;
        }
        if lhs.is_none() {
            c.added.insert(prefix.clone());
        } else if rhs.is_none() {
            c.removed.insert(prefix.clone());
        }
    };
    match (ls, rs) {
        (Some(Shape::Map(l)), Some(Shape::Map(r))) => {
            let keys: BTreeSet<&String> = l.keys().chain(r.keys()).collect();
            for k in keys {
                let Some(cty) = map_child(schemas, ty, k) else {
                    continue;
                };
                prefix.push(format!("f:{k}"));
                walk_compare(schemas, cty, l.get(k), r.get(k), prefix, c);
                prefix.pop();
            }
        }
        (Some(Shape::Map(m)), None) | (None, Some(Shape::Map(m))) => {
            for (k, child) in m {
                let Some(cty) = map_child(schemas, ty, k) else {
                    continue;
                };
                prefix.push(format!("f:{k}"));
                let (l, r) = if lhs.is_some() {
                    (Some(child), None)
                } else {
                    (None, Some(child))
                };
                walk_compare(schemas, cty, l, r, prefix, c);
                prefix.pop();
            }
            node(c, prefix);
        }
        (Some(Shape::List(l, ity, lt)), Some(Shape::List(r, _, _))) => {
            let li = index_items(lt, l);
            let ri = index_items(lt, r);
            let mut seen = BTreeSet::new();
            for (pe, _) in li.iter().chain(ri.iter()) {
                if !seen.insert(pe.clone()) {
                    continue;
                }
                let lv = li.iter().find(|(p, _)| p == pe).map(|(_, v)| *v);
                let rv = ri.iter().find(|(p, _)| p == pe).map(|(_, v)| *v);
                prefix.push(pe.clone());
                walk_compare(schemas, ity, lv, rv, prefix, c);
                prefix.pop();
            }
        }
        (Some(Shape::List(items, ity, lt)), None) | (None, Some(Shape::List(items, ity, lt))) => {
            for (pe, item) in index_items(lt, items) {
                prefix.push(pe);
                let (l, r) = if lhs.is_some() {
                    (Some(item), None)
                } else {
                    (None, Some(item))
                };
                walk_compare(schemas, ity, l, r, prefix, c);
                prefix.pop();
            }
            node(c, prefix);
        }
        _ => {
            // Leaves, and values whose shapes differ.
            if root {
                return;
            }
            match (lhs, rhs) {
                (None, Some(_)) => {
                    c.added.insert(prefix.clone());
                }
                (Some(_), None) => {
                    c.removed.insert(prefix.clone());
                }
                (Some(l), Some(r)) if l != r => {
                    c.modified.insert(prefix.clone());
                }
                _ => {}
            }
        }
    }
}

/// The items of a list with their path elements (the first of duplicates wins).
pub(crate) fn index_items<'a>(lt: &ListType, items: &'a [Value]) -> Vec<(String, &'a Value)> {
    let mut out: Vec<(String, &Value)> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let pe = item_element(lt, i, item);
        if !out.iter().any(|(p, _)| *p == pe) {
            out.push((pe, item));
        }
    }
    out
}

/// Removes the items at `paths` (and everything under them) from a value.
pub(crate) fn remove_paths(schemas: &Schemas, ty: TypeId, v: &mut Value, paths: &FieldSet) {
    for p in paths {
        remove_path(schemas, ty, v, p);
    }
    // The top level stays an object.
    if v.is_null() {
        *v = Value::Object(Map::new());
    }
}

/// Removes one path; a map or list left empty by the removal becomes null, as on the
/// server. Returns whether something was removed.
fn remove_path(schemas: &Schemas, ty: TypeId, v: &mut Value, path: &[String]) -> bool {
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let (child, cty) = match v {
        Value::Object(m) => {
            let Some(k) = first.strip_prefix("f:") else {
                return false;
            };
            if rest.is_empty() {
                return m.remove(k).is_some();
            }
            match (m.get_mut(k), map_child(schemas, ty, k)) {
                (Some(child), Some(cty)) => (child, cty),
                _ => return false,
            }
        }
        Value::Array(a) => {
            let Node::List { items, list_type } = schemas.node(ty) else {
                return false;
            };
            let Some(pos) = a
                .iter()
                .enumerate()
                .position(|(i, item)| item_element(list_type, i, item) == *first)
            else {
                return false;
            };
            if rest.is_empty() {
                a.remove(pos);
                return true;
            }
            (&mut a[pos], *items)
        }
        _ => return false,
    };
    let removed = remove_path(schemas, cty, child, rest);
    let empty = match child {
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    };
    if removed && empty {
        *child = Value::Null;
    }
    removed
}

/// Encodes a set as `FieldsV1`.
pub fn encode(set: &FieldSet) -> Value {
    #[derive(Default)]
    struct Tree {
        member: bool,
        children: BTreeMap<String, Tree>,
    }
    let mut root = Tree::default();
    for p in set {
        let mut cur = &mut root;
        for pe in p {
            cur = cur.children.entry(pe.clone()).or_default();
        }
        cur.member = true;
    }
    fn to_value(t: &Tree) -> Value {
        let mut m = Map::new();
        if t.member && !t.children.is_empty() {
            m.insert(".".to_string(), Value::Object(Map::new()));
        }
        for (k, c) in &t.children {
            m.insert(k.clone(), to_value(c));
        }
        Value::Object(m)
    }
    to_value(&root)
}

/// Decodes `FieldsV1`.
pub fn decode(v: &Value) -> Result<FieldSet, String> {
    let mut out = FieldSet::new();
    let mut prefix = Vec::new();
    decode_into(v, &mut prefix, &mut out)?;
    Ok(out)
}

fn decode_into(v: &Value, prefix: &mut Path, out: &mut FieldSet) -> Result<(), String> {
    let m = v
        .as_object()
        .ok_or_else(|| format!("expected an object in FieldsV1, found {v}"))?;
    if m.is_empty() && !prefix.is_empty() {
        out.insert(prefix.clone());
    }
    for (k, child) in m {
        if k == "." {
            if !prefix.is_empty() {
                out.insert(prefix.clone());
            }
            continue;
        }
        let valid = match k.split_once(':') {
            Some(("f", _)) | Some(("i", _)) => true,
            Some(("k", j)) => serde_json::from_str::<Map<String, Value>>(j).is_ok(),
            Some(("v", j)) => serde_json::from_str::<Value>(j).is_ok(),
            _ => false,
        };
        if !valid {
            return Err(format!("invalid path element {k:?} in FieldsV1"));
        }
        prefix.push(k.clone());
        decode_into(child, prefix, out)?;
        prefix.pop();
    }
    Ok(())
}

/// A path as the server prints it: `.spec.containers[name="app"].image`.
pub fn display(path: &[String]) -> String {
    let mut s = String::new();
    for pe in path {
        match pe.split_once(':') {
            Some(("f", name)) => {
                s.push('.');
                s.push_str(name);
            }
            Some(("k", json)) => {
                s.push('[');
                if let Ok(m) = serde_json::from_str::<Map<String, Value>>(json) {
                    let mut first = true;
                    for (k, v) in m {
                        if !first {
                            s.push(',');
                        }
                        first = false;
                        s.push_str(&format!("{k}={v}"));
                    }
                }
                s.push(']');
            }
            Some(("v", json)) => s.push_str(&format!("[={json}]")),
            Some(("i", i)) => s.push_str(&format!("[{i}]")),
            _ => s.push_str(pe),
        }
    }
    s
}

/// Orders paths as the server iterates a set: at each level, the members before the paths
/// that go deeper.
pub(crate) fn server_order(a: &Path, b: &Path) -> Ordering {
    for i in 0..a.len().min(b.len()) {
        let a_leaf = i + 1 == a.len();
        let b_leaf = i + 1 == b.len();
        if a_leaf != b_leaf {
            return if a_leaf {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        match a[i].cmp(&b[i]) {
            Ordering::Equal => {}
            o => return o,
        }
    }
    a.len().cmp(&b.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn encode_decode_round_trip() {
        let v = json!({"f:metadata": {"f:labels": {".": {}, "f:app": {}}}, "f:spec": {"f:c": {"k:{\"name\":\"a\"}": {".": {}, "f:image": {}}}, "f:s": {"v:\"x\"": {}}}});
        let set = decode(&v).unwrap();
        assert!(set.contains(&vec!["f:metadata".to_string(), "f:labels".to_string()]));
        assert!(!set.contains(&vec!["f:metadata".to_string()]));
        assert_eq!(encode(&set), v);
        assert!(decode(&json!({"x:y": {}})).is_err());
        assert!(decode(&json!({"f:a": 1})).is_err());
    }

    #[test]
    fn display_paths() {
        let p: Path = vec![
            "f:spec".into(),
            "f:ports".into(),
            "k:{\"port\":80,\"protocol\":\"TCP\"}".into(),
            "f:name".into(),
        ];
        assert_eq!(display(&p), ".spec.ports[port=80,protocol=\"TCP\"].name");
        assert_eq!(display(&["f:a".into(), "v:\"x\"".into()]), ".a[=\"x\"]");
    }
}
