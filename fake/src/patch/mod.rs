//! The patch engine: JSON patch, merge patch, strategic merge patch and server-side apply
//! (placeholder: the real engine replaces this file).

use k8s_client::api::GroupVersionKind;
use serde_json::Value;

use crate::schema::Schemas;

/// Why a patch could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    /// The patch document is malformed or cannot be applied.
    #[error("{0}")]
    Invalid(String),
    /// Not implemented yet.
    #[error("not supported by the in-memory server: {0}")]
    Unsupported(String),
}

/// Why a server-side apply failed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// Fields owned by other managers would change.
    #[error("apply conflicts: {conflicts:?}")]
    Conflict {
        /// (manager, field path) of each conflict.
        conflicts: Vec<(String, String)>,
    },
    /// The applied configuration is malformed.
    #[error("{0}")]
    Invalid(String),
    /// Not implemented yet.
    #[error("not supported by the in-memory server: {0}")]
    Unsupported(String),
}

/// Applies an RFC 6902 JSON patch.
pub fn json_patch(target: &Value, patch: &Value) -> Result<Value, PatchError> {
    let _ = (target, patch);
    Err(PatchError::Unsupported("JSON patch".into()))
}

/// Applies an RFC 7386 JSON merge patch.
pub fn merge_patch(target: &Value, patch: &Value) -> Result<Value, PatchError> {
    if !patch.is_object() {
        return Ok(patch.clone());
    }
    let mut out = if target.is_object() {
        target.clone()
    } else {
        Value::Object(Default::default())
    };
    if let (Some(map), Some(patch)) = (out.as_object_mut(), patch.as_object()) {
        for (k, v) in patch {
            if v.is_null() {
                map.remove(k);
            } else {
                let merged = merge_patch(map.get(k).unwrap_or(&Value::Null), v)?;
                map.insert(k.clone(), merged);
            }
        }
    }
    Ok(out)
}

/// Applies a strategic merge patch.
pub fn strategic_merge_patch(
    schemas: &Schemas,
    gvk: &GroupVersionKind,
    target: &Value,
    patch: &Value,
) -> Result<Value, PatchError> {
    let _ = (schemas, gvk, target, patch);
    Err(PatchError::Unsupported("strategic merge patch".into()))
}

/// Server-side apply: merges `applied` (the manager's full intent) into `live`, updates
/// `live`'s `metadata.managedFields`, and reports conflicts unless `force`.
pub fn apply(
    schemas: &Schemas,
    gvk: &GroupVersionKind,
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    now: &str,
) -> Result<Value, ApplyError> {
    let _ = (schemas, gvk, live, applied, manager, force, now);
    Err(ApplyError::Unsupported("server-side apply".into()))
}

/// Records an update (create, replace, patch other than apply) by `manager` in
/// `managedFields` as the real server does (operation Update).
pub fn record_update(
    schemas: &Schemas,
    gvk: &GroupVersionKind,
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    subresource: &str,
    now: &str,
) -> Result<(), ApplyError> {
    let _ = (schemas, gvk, old, new, manager, subresource, now);
    Ok(())
}
