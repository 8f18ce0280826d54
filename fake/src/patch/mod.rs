//! The patch engine: JSON patch, merge patch, strategic merge patch and server-side apply,
//! with the results kube-apiserver gives.

mod apply;
pub mod fieldpath;
mod json;
mod strategic;

use k8s_client::api::GroupVersionKind;
use serde_json::Value;

use crate::schema::Schemas;

pub use apply::{apply, record_update};
pub use json::{json_patch, merge_patch};

/// An error applying a JSON, merge or strategic merge patch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PatchError {
    /// The patch is malformed (the server answers 400 BadRequest).
    #[error("{0}")]
    BadRequest(String),
    /// A JSON patch does not apply to the object (422 Invalid), e.g. a path that is missing.
    /// The server's message is generic; the field holds what failed.
    #[error("the server rejected our request due to an error in our request")]
    Invalid(String),
    /// A JSON patch `test` operation failed (422 Invalid). The server's message is generic;
    /// the field holds which test failed.
    #[error("the server rejected our request due to an error in our request")]
    TestFailed(String),
    /// The patch cannot be merged (the server answers 500), e.g. a list item without its
    /// merge key.
    #[error("{0}")]
    Internal(String),
    /// Strategic merge patch on a kind without patch strategies (custom resources): the
    /// server answers 415 UnsupportedMediaType.
    #[error("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")]
    UnsupportedMediaType,
}

impl PatchError {
    /// The HTTP status the server answers with.
    pub fn status_code(&self) -> u16 {
        match self {
            PatchError::BadRequest(_) => 400,
            PatchError::Invalid(_) | PatchError::TestFailed(_) => 422,
            PatchError::UnsupportedMediaType => 415,
            PatchError::Internal(_) => 500,
        }
    }
}

/// An error of server-side apply or of recording field ownership.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// Fields the manager applies are owned by other managers with other values (409).
    /// Each conflict is the other manager as the server prints it (`"kubectl" using
    /// apps/v1`, or `"other"` for an apply manager) and the field path (`.spec.replicas`).
    #[error("{}", conflict_message(conflicts))]
    Conflict {
        /// The conflicts: (manager, field path).
        conflicts: Vec<(String, String)>,
    },
    /// The request is malformed (400).
    #[error("{0}")]
    BadRequest(String),
    /// The applied configuration does not fit the schema (the server answers 500 for a
    /// typed object it cannot build; 16a may map it to 422).
    #[error("{0}")]
    Invalid(String),
    /// The live object's managed fields cannot be read (500).
    #[error("{0}")]
    Internal(String),
}

impl ApplyError {
    /// The HTTP status the server answers with.
    pub fn status_code(&self) -> u16 {
        match self {
            ApplyError::Conflict { .. } => 409,
            ApplyError::BadRequest(_) => 400,
            ApplyError::Invalid(_) => 500,
            ApplyError::Internal(_) => 500,
        }
    }
}

/// The message of a 409 for apply conflicts, as the server writes it.
fn conflict_message(conflicts: &[(String, String)]) -> String {
    if let [(manager, path)] = conflicts {
        return format!("Apply failed with 1 conflict: conflict with {manager}: {path}");
    }
    let mut lines: Vec<String> = Vec::new();
    let mut current: Option<&str> = None;
    for (manager, path) in conflicts {
        if current != Some(manager.as_str()) {
            lines.push(format!("conflicts with {manager}:"));
            current = Some(manager);
        }
        lines.push(format!("- {path}"));
    }
    format!(
        "Apply failed with {} conflicts: {}",
        conflicts.len(),
        lines.join("\n")
    )
}

/// Applies a strategic merge patch to `target`, with the patch strategies and merge keys of
/// the kind's schema. Custom resources have none: that is
/// [`PatchError::UnsupportedMediaType`], as on the server.
pub fn strategic_merge_patch(
    schemas: &Schemas,
    gvk: &GroupVersionKind,
    target: &Value,
    patch: &Value,
) -> Result<Value, PatchError> {
    if schemas.is_custom(gvk) {
        return Err(PatchError::UnsupportedMediaType);
    }
    let p = patch.as_object().ok_or_else(|| {
        PatchError::BadRequest(format!(
            "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            json_type(patch)
        ))
    })?;
    let t = target.as_object().cloned().unwrap_or_default();
    let ty = schemas.root(gvk);
    Ok(Value::Object(strategic::merge_map(schemas, ty, &t, p)?))
}

#[cfg(test)]
mod tests;

/// The JSON type of a value as Go's decoder names it in errors.
pub(crate) fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Object(_) => "object",
        Value::Array(_) => "array",
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        Value::Null => "null",
    }
}
