//! The structure of the kinds, from OpenAPI v3 documents (placeholder: the real model lands
//! with the patch engine).

use k8s_client::api::GroupVersionKind;

/// Why OpenAPI documents or a CRD schema could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// The document is not what was expected.
    #[error("invalid schema: {0}")]
    Invalid(String),
}

/// The schemas of the kinds a server serves.
#[derive(Debug, Clone, Default)]
pub struct Schemas {}

impl Schemas {
    /// Built from the OpenAPI v3 documents (`/openapi/v3/...` JSON, one per group-version).
    pub fn from_openapi_v3(documents: &[serde_json::Value]) -> Result<Schemas, SchemaError> {
        let _ = documents;
        Ok(Schemas {})
    }

    /// Adds (or replaces) the schema of a custom resource version from its CRD's
    /// openAPIV3Schema.
    pub fn add_crd_version(
        &mut self,
        group: &str,
        version: &str,
        kind: &str,
        schema: &serde_json::Value,
    ) -> Result<(), SchemaError> {
        let _ = (group, version, kind, schema);
        Ok(())
    }

    /// The required fields missing from `object` (paths like `spec.selector`), empty when
    /// valid.
    pub fn missing_required(
        &self,
        gvk: &GroupVersionKind,
        object: &serde_json::Value,
    ) -> Vec<String> {
        let _ = (gvk, object);
        Vec::new()
    }
}
