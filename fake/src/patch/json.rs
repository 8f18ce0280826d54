//! JSON patch (RFC 6902, with the behaviour of the JSON patch library kube-apiserver uses) and
//! JSON merge patch (RFC 7386).

use serde_json::Value;

use super::PatchError;

/// Applies a JSON patch (an array of operations) to `target`.
pub fn json_patch(target: &Value, patch: &Value) -> Result<Value, PatchError> {
    let ops = patch
        .as_array()
        .ok_or_else(|| {
            PatchError::BadRequest(format!(
                "error decoding patch: json: cannot unmarshal {} into Go value of type []handlers.jsonPatchOp",
                super::json_type(patch)
            ))
        })?;
    let mut doc = target.clone();
    for op in ops {
        let obj = op
            .as_object()
            .ok_or_else(|| PatchError::BadRequest(format!("invalid JSON patch operation: {op}")))?;
        let kind = obj.get("op").and_then(Value::as_str).unwrap_or("");
        let path = obj.get("path").and_then(Value::as_str);
        match kind {
            "add" | "remove" | "replace" | "move" | "copy" | "test" => {}
            other => {
                return Err(PatchError::Invalid(format!("Unexpected kind: {other}")));
            }
        }
        let path = path.ok_or_else(|| {
            PatchError::Invalid(format!("{kind} operation failed to decode path"))
        })?;
        let value = || {
            obj.get("value")
                .cloned()
                .ok_or_else(|| PatchError::Invalid(format!("{kind} operation missing value")))
        };
        match kind {
            "add" => add(&mut doc, path, value()?)?,
            "remove" => {
                remove(&mut doc, path, kind)?;
            }
            "replace" => replace(&mut doc, path, value()?)?,
            "move" => {
                let from = obj.get("from").and_then(Value::as_str).ok_or_else(|| {
                    PatchError::Invalid("move operation failed to decode from".to_string())
                })?;
                let v = remove(&mut doc, from, kind)?;
                add(&mut doc, path, v)?;
            }
            "copy" => {
                let from = obj.get("from").and_then(Value::as_str).ok_or_else(|| {
                    PatchError::Invalid("copy operation failed to decode from".to_string())
                })?;
                // The server's library copies a missing value as null.
                let v = get(&doc, from).cloned().unwrap_or(Value::Null);
                add(&mut doc, path, v)?;
            }
            _ => {
                let expected = obj.get("value").cloned().unwrap_or(Value::Null);
                let actual = get(&doc, path).cloned().unwrap_or(Value::Null);
                if expected != actual {
                    return Err(PatchError::TestFailed(format!(
                        "testing value {path} failed: test failed"
                    )));
                }
            }
        }
    }
    Ok(doc)
}

fn missing(kind: &str, path: &str) -> PatchError {
    PatchError::Invalid(format!(
        "{kind} operation does not apply: doc is missing path: \"{path}\": missing value"
    ))
}

/// The reference tokens of a JSON pointer.
fn tokens(path: &str) -> Result<Vec<String>, PatchError> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    if !path.starts_with('/') {
        return Err(PatchError::Invalid(format!(
            "JSON pointer must be empty or start with a \"/\": {path}"
        )));
    }
    Ok(path[1..]
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn get<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    let toks = tokens(path).ok()?;
    let mut cur = doc;
    for t in &toks {
        cur = match cur {
            Value::Object(m) => m.get(t)?,
            Value::Array(a) => a.get(index(t, a.len())?)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn index(t: &str, len: usize) -> Option<usize> {
    if t.is_empty() || (t.len() > 1 && t.starts_with('0')) || !t.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let i: usize = t.parse().ok()?;
    (i < len).then_some(i)
}

/// The parent container of `path` and the last token.
fn parent<'a>(
    doc: &'a mut Value,
    path: &str,
    kind: &str,
) -> Result<(&'a mut Value, String), PatchError> {
    let mut toks = tokens(path)?;
    let last = toks.pop().ok_or_else(|| missing(kind, path))?;
    let mut cur = doc;
    for t in &toks {
        cur = match cur {
            Value::Object(m) => m.get_mut(t),
            Value::Array(a) => {
                let len = a.len();
                index(t, len).and_then(move |i| a.get_mut(i))
            }
            _ => None,
        }
        .ok_or_else(|| missing(kind, path))?;
    }
    Ok((cur, last))
}

fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), PatchError> {
    if path.is_empty() {
        *doc = value;
        return Ok(());
    }
    let (p, last) = parent(doc, path, "add")?;
    match p {
        Value::Object(m) => {
            m.insert(last, value);
            Ok(())
        }
        Value::Array(a) => {
            let i = if last == "-" {
                a.len()
            } else {
                let i: i64 = last.parse().map_err(|_| missing("add", path))?;
                if i < 0 || i as usize > a.len() {
                    return Err(PatchError::Invalid(format!(
                        "add operation does not apply: doc is missing path: \"{path}\": Unable to access invalid index: {i}: invalid index referenced"
                    )));
                }
                i as usize
            };
            a.insert(i, value);
            Ok(())
        }
        _ => Err(missing("add", path)),
    }
}

fn remove(doc: &mut Value, path: &str, kind: &str) -> Result<Value, PatchError> {
    let (p, last) = parent(doc, path, kind)?;
    match p {
        Value::Object(m) => m.remove(&last).ok_or_else(|| missing(kind, path)),
        Value::Array(a) => {
            let len = a.len();
            let i = index(&last, len).ok_or_else(|| missing(kind, path))?;
            Ok(a.remove(i))
        }
        _ => Err(missing(kind, path)),
    }
}

fn replace(doc: &mut Value, path: &str, value: Value) -> Result<(), PatchError> {
    if path.is_empty() {
        *doc = value;
        return Ok(());
    }
    let (p, last) = parent(doc, path, "replace")?;
    let slot = match p {
        Value::Object(m) => {
            // The server's library replaces a missing key of an object by adding it.
            m.insert(last, value);
            return Ok(());
        }
        Value::Array(a) => {
            let len = a.len();
            index(&last, len).and_then(move |i| a.get_mut(i))
        }
        _ => None,
    };
    match slot {
        Some(s) => {
            *s = value;
            Ok(())
        }
        None => Err(PatchError::Invalid(format!(
            "replace operation does not apply: doc is missing key: {path}: missing value"
        ))),
    }
}

/// Applies a JSON merge patch (RFC 7386) to `target`.
pub fn merge_patch(target: &Value, patch: &Value) -> Result<Value, PatchError> {
    if !patch.is_object() {
        return Err(PatchError::BadRequest(format!(
            "error decoding patch: json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            super::json_type(patch)
        )));
    }
    Ok(merge(target, patch))
}

fn merge(target: &Value, patch: &Value) -> Value {
    match patch {
        Value::Object(p) => {
            let mut out = match target {
                Value::Object(t) => t.clone(),
                _ => serde_json::Map::new(),
            };
            for (k, v) in p {
                if v.is_null() {
                    out.remove(k);
                } else {
                    let merged = merge(out.get(k).unwrap_or(&Value::Null), v);
                    out.insert(k.clone(), merged);
                }
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_patch_operations() {
        let doc = json!({"a": {"b": [1, 2]}, "c": "x"});
        let p = json!([
            {"op": "add", "path": "/a/b/-", "value": 3},
            {"op": "add", "path": "/a/b/0", "value": 0},
            {"op": "remove", "path": "/c"},
            {"op": "copy", "from": "/a/b", "path": "/d"},
            {"op": "move", "from": "/d", "path": "/e"},
            {"op": "replace", "path": "/a/b/1", "value": 9},
            {"op": "test", "path": "/e", "value": [0, 1, 2, 3]},
            {"op": "add", "path": "/f~1g", "value": true}
        ]);
        assert_eq!(
            json_patch(&doc, &p).unwrap(),
            json!({"a": {"b": [0, 9, 2, 3]}, "e": [0, 1, 2, 3], "f/g": true})
        );
    }

    #[test]
    fn json_patch_errors() {
        let doc = json!({"a": 1});
        let e = json_patch(&doc, &json!([{"op": "test", "path": "/a", "value": 2}])).unwrap_err();
        assert!(matches!(e, PatchError::TestFailed(_)), "{e}");
        assert_eq!(
            e,
            PatchError::TestFailed("testing value /a failed: test failed".into())
        );
        assert_eq!(
            json_patch(&doc, &json!([{"op": "replace", "path": "/b", "value": 2}])).unwrap(),
            json!({"a": 1, "b": 2})
        );
        assert!(json_patch(
            &json!([1]),
            &json!([{"op": "replace", "path": "/3", "value": 2}])
        )
        .is_err());
        assert!(json_patch(&doc, &json!([{"op": "remove", "path": "/b"}])).is_err());
        assert!(json_patch(&doc, &json!([{"op": "add", "path": "/x/y", "value": 1}])).is_err());
        assert!(json_patch(&doc, &json!([{"op": "frob", "path": "/a"}])).is_err());
        assert!(json_patch(&doc, &json!({"op": "add"})).is_err());
        // A test of a missing path against null passes, as in the server's library.
        assert!(json_patch(&doc, &json!([{"op": "test", "path": "/zz", "value": null}])).is_ok());
    }

    #[test]
    fn merge_patch_rfc7386() {
        let doc = json!({"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]});
        let p = json!({"a": "z", "c": {"f": null, "h": 1}, "l": [3]});
        assert_eq!(
            merge_patch(&doc, &p).unwrap(),
            json!({"a": "z", "c": {"d": "e", "h": 1}, "l": [3]})
        );
        assert!(merge_patch(&doc, &json!([1])).is_err());
    }
}
