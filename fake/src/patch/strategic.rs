//! Strategic merge patch, with the patch strategies and merge keys of the schema.

use serde_json::{Map, Value};

use super::PatchError;
use crate::schema::{Node, Schemas, TypeId, UNTYPED};

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ORDER: &str = "$setElementOrder/";
const DELETE_PRIMITIVE: &str = "$deleteFromPrimitiveList/";

/// The patch metadata of one field.
#[derive(Clone, Default)]
struct Meta {
    ty: TypeId,
    merge: bool,
    merge_key: Option<String>,
}

fn meta(schemas: &Schemas, parent: TypeId, key: &str) -> Meta {
    match schemas.field(parent, key) {
        Some(f) => Meta {
            ty: f.ty,
            merge: f
                .patch_strategy
                .as_deref()
                .is_some_and(|s| s.split(',').any(|p| p == "merge")),
            merge_key: f.merge_key.clone(),
        },
        None => Meta {
            ty: schemas.child(parent, key).unwrap_or(UNTYPED),
            ..Meta::default()
        },
    }
}

/// Merges a patch map into an original map of type `ty`.
pub(super) fn merge_map(
    schemas: &Schemas,
    ty: TypeId,
    original: &Map<String, Value>,
    patch: &Map<String, Value>,
) -> Result<Map<String, Value>, PatchError> {
    if let Some(d) = patch.get(DIRECTIVE) {
        return match d.as_str() {
            Some("replace") => {
                let mut p = patch.clone();
                p.remove(DIRECTIVE);
                Ok(p)
            }
            Some("delete") => Ok(Map::new()),
            _ => Err(PatchError::BadRequest(format!(
                "unknown patch type: {d} in map: {}",
                Value::Object(patch.clone())
            ))),
        };
    }
    let mut out = original.clone();
    if let Some(retain) = patch.get(RETAIN_KEYS) {
        let keys = retain
            .as_array()
            .ok_or_else(|| PatchError::BadRequest(format!("invalid $retainKeys: {retain}")))?;
        let keys: Vec<&str> = keys.iter().filter_map(Value::as_str).collect();
        for k in patch.keys() {
            if !k.starts_with('$') && !keys.contains(&k.as_str()) {
                return Err(PatchError::BadRequest(format!(
                    "all fields of the patch must be in $retainKeys, but {k} is not"
                )));
            }
        }
        out.retain(|k, _| keys.contains(&k.as_str()));
    }
    // Lists with an element order.
    let mut done: Vec<String> = Vec::new();
    for (k, order) in patch {
        let Some(field) = k.strip_prefix(SET_ORDER) else {
            continue;
        };
        let order = order
            .as_array()
            .ok_or_else(|| PatchError::BadRequest(format!("invalid {k}: not a list")))?;
        let m = meta(schemas, ty, field);
        let orig = out
            .get(field)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let patch_list = match patch.get(field) {
            Some(Value::Array(a)) => a.clone(),
            Some(Value::Null) | None => Vec::new(),
            Some(_) => continue,
        };
        let merged = merge_list(schemas, &m, &orig, &patch_list, Some(order))?;
        if merged.is_empty() && !out.contains_key(field) && patch.get(field).is_none() {
            continue;
        }
        out.insert(field.to_string(), Value::Array(merged));
        done.push(field.to_string());
    }
    for (k, pv) in patch {
        if k == RETAIN_KEYS || k.starts_with(SET_ORDER) || done.contains(k) {
            continue;
        }
        if let Some(field) = k.strip_prefix(DELETE_PRIMITIVE) {
            let del = pv
                .as_array()
                .ok_or_else(|| PatchError::BadRequest(format!("invalid {k}: not a list")))?;
            if let Some(Value::Array(a)) = out.get_mut(field) {
                a.retain(|v| !del.contains(v));
            }
            continue;
        }
        if pv.is_null() {
            out.remove(k);
            continue;
        }
        let m = meta(schemas, ty, k);
        let merged = match (out.get(k), pv) {
            (Some(Value::Object(o)), Value::Object(p)) => {
                Value::Object(merge_map(schemas, m.ty, o, p)?)
            }
            (None, Value::Object(p)) => Value::Object(merge_map(schemas, m.ty, &Map::new(), p)?),
            (Some(Value::Array(o)), Value::Array(p)) => {
                Value::Array(merge_list(schemas, &m, o, p, None)?)
            }
            (None, Value::Array(p)) => Value::Array(merge_list(schemas, &m, &[], p, None)?),
            (_, v) => v.clone(),
        };
        out.insert(k.clone(), merged);
    }
    Ok(out)
}

fn item_type(schemas: &Schemas, list: TypeId) -> TypeId {
    match schemas.node(list) {
        Node::List { items, .. } => *items,
        _ => UNTYPED,
    }
}

fn key_of<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.as_object().and_then(|m| m.get(key))
}

/// Merges a patch list into an original list.
fn merge_list(
    schemas: &Schemas,
    m: &Meta,
    original: &[Value],
    patch: &[Value],
    order: Option<&Vec<Value>>,
) -> Result<Vec<Value>, PatchError> {
    if !m.merge {
        // Replace: the patch list is the new value (with directives of its maps applied).
        let items = item_type(schemas, m.ty);
        return patch
            .iter()
            .map(|p| match p {
                Value::Object(o) => Ok(Value::Object(merge_map(schemas, items, &Map::new(), o)?)),
                v => Ok(v.clone()),
            })
            .collect();
    }
    if original.is_empty() && patch.is_empty() {
        return Ok(Vec::new());
    }
    let maps = original.iter().chain(patch).any(Value::is_object);
    let merged: Vec<Value>;
    let key = m.merge_key.clone().unwrap_or_default();
    if !maps {
        let mut all: Vec<Value> = Vec::new();
        for v in original.iter().chain(patch) {
            if !all.contains(v) {
                all.push(v.clone());
            }
        }
        merged = all;
    } else {
        if key.is_empty() {
            return Err(PatchError::BadRequest(
                "cannot merge lists without merge key".to_string(),
            ));
        }
        let items = item_type(schemas, m.ty);
        let mut orig: Vec<Value> = original.to_vec();
        let mut plain: Vec<&Map<String, Value>> = Vec::new();
        let mut replace = false;
        for p in patch {
            let Some(pm) = p.as_object() else {
                return Err(PatchError::BadRequest(format!(
                    "invalid list item in patch: {p}"
                )));
            };
            match pm.get(DIRECTIVE).and_then(Value::as_str) {
                Some("replace") => replace = true,
                Some("delete") => {
                    let kv = pm.get(&key).ok_or_else(|| {
                        PatchError::BadRequest(
                            "delete patch type with no merge key defined".to_string(),
                        )
                    })?;
                    orig.retain(|o| key_of(o, &key) != Some(kv));
                }
                Some("merge") | None => plain.push(pm),
                Some(other) => {
                    return Err(PatchError::BadRequest(format!(
                        "unknown patch type: {other} in map: {p}"
                    )))
                }
            }
        }
        if replace {
            return plain
                .into_iter()
                .map(|p| Ok(Value::Object(merge_map(schemas, items, &Map::new(), p)?)))
                .collect();
        }
        for p in plain {
            let kv = p.get(&key).ok_or_else(|| {
                PatchError::Internal(format!(
                    "map: {} does not contain declared merge key: {key}",
                    go_format(&Value::Object(p.clone()))
                ))
            })?;
            match orig.iter_mut().find(|o| key_of(o, &key) == Some(kv)) {
                Some(slot) => {
                    let om = slot.as_object().cloned().unwrap_or_default();
                    *slot = Value::Object(merge_map(schemas, items, &om, p)?);
                }
                None => orig.push(Value::Object(merge_map(schemas, items, &Map::new(), p)?)),
            }
        }
        merged = orig;
    }
    // Order: the patch's items in the patch's (or $setElementOrder's) order, the others in the
    // original's order, interleaved by their place in the original.
    let ident = |v: &Value| -> Value {
        if maps {
            key_of(v, &key).cloned().unwrap_or(Value::Null)
        } else {
            v.clone()
        }
    };
    let patch_order: Vec<Value> = match order {
        Some(o) => o
            .iter()
            .map(|v| if maps { ident(v) } else { v.clone() })
            .collect(),
        None => patch
            .iter()
            .filter(|p| key_of(p, DIRECTIVE).is_none())
            .map(ident)
            .collect(),
    };
    let server_order: Vec<Value> = original.iter().map(ident).collect();
    let (mut in_patch, mut server_only): (Vec<Value>, Vec<Value>) = merged
        .into_iter()
        .partition(|v| patch_order.contains(&ident(v)));
    let pos = |list: &[Value], v: &Value| list.iter().position(|x| *x == ident(v));
    in_patch.sort_by_key(|v| pos(&patch_order, v));
    server_only.sort_by_key(|v| pos(&server_order, v));
    let mut out = Vec::with_capacity(in_patch.len() + server_only.len());
    let (mut i, mut j) = (0, 0);
    while i < server_only.len() || j < in_patch.len() {
        if i >= server_only.len() {
            out.push(in_patch[j].clone());
            j += 1;
        } else if j >= in_patch.len() {
            out.push(server_only[i].clone());
            i += 1;
        } else {
            let l = pos(&server_order, &server_only[i]);
            let r = pos(&server_order, &in_patch[j]);
            match (l, r) {
                (Some(l), Some(r)) if l < r => {
                    out.push(server_only[i].clone());
                    i += 1;
                }
                _ => {
                    out.push(in_patch[j].clone());
                    j += 1;
                }
            }
        }
    }
    Ok(out)
}

/// A value as Go's `%v` prints the decoded JSON (`map[a:1 b:[x y]]`), for the server's
/// messages.
fn go_format(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{k}:{}", go_format(&m[k])))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
        Value::Array(a) => {
            let parts: Vec<String> = a.iter().map(go_format).collect();
            format!("[{}]", parts.join(" "))
        }
        Value::String(s) => s.clone(),
        Value::Null => "<nil>".to_string(),
        other => other.to_string(),
    }
}
