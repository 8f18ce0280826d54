//! [`PartialObjectMetadata`]: an object's `apiVersion`, `kind` and `metadata`, nothing else.

use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

use crate::api::{GroupVersionKind, Object};

/// The annotation in which `kubectl apply` keeps the whole last applied object (for a
/// Secret: its data), hidden by [`Debug`].
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The metadata of an object, without its spec, status or data: what the server answers a
/// request that accepts `as=PartialObjectMetadata` (`apiVersion` `meta.k8s.io/v1`, `kind`
/// `PartialObjectMetadata`).
///
/// ```
/// use k8s_client::api::Object;
/// use k8s_client::metadata::PartialObjectMetadata;
///
/// let meta: PartialObjectMetadata = serde_json::from_str(
///     r#"{"apiVersion":"meta.k8s.io/v1","kind":"PartialObjectMetadata",
///         "metadata":{"name":"web","namespace":"default","labels":{"app":"demo"}}}"#,
/// )?;
/// assert_eq!(meta.key(), "default/web");
/// assert_eq!(meta.metadata.labels.unwrap()["app"], "demo");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PartialObjectMetadata {
    /// `apiVersion`: `meta.k8s.io/v1` in the server's answers.
    #[serde(
        rename = "apiVersion",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub api_version: String,
    /// `kind`: `PartialObjectMetadata` in the server's answers.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// The object's metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
}

impl PartialObjectMetadata {
    /// The kind the server gives metadata-only objects.
    pub const KIND: &'static str = "PartialObjectMetadata";
    /// The `apiVersion` the server gives metadata-only objects.
    pub const API_VERSION: &'static str = "meta.k8s.io/v1";

    /// The group, version and kind of this object as decoded (`meta.k8s.io/v1`
    /// `PartialObjectMetadata` for the server's metadata-only answers).
    pub fn gvk(&self) -> GroupVersionKind {
        GroupVersionKind::from_api_version(&self.api_version, &self.kind)
    }

    /// Whether the metadata looks like an object's: client-go's test for answers that are
    /// not of kind `PartialObjectMetadata` (a name, generateName, uid or creation time).
    pub(crate) fn is_likely_object_metadata(&self) -> bool {
        let m = &self.metadata;
        m.name.as_deref().is_some_and(|n| !n.is_empty())
            || m.generate_name.as_deref().is_some_and(|n| !n.is_empty())
            || m.uid.as_deref().is_some_and(|n| !n.is_empty())
            || m.creation_timestamp.is_some()
    }
}

impl Object for PartialObjectMetadata {
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

impl fmt::Debug for PartialObjectMetadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden;
        let mut metadata = &self.metadata;
        if self
            .metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key(LAST_APPLIED))
        {
            let mut m = self.metadata.clone();
            if let Some(a) = m.annotations.as_mut() {
                a.insert(LAST_APPLIED.to_string(), "<hidden>".to_string());
            }
            hidden = m;
            metadata = &hidden;
        }
        f.debug_struct("PartialObjectMetadata")
            .field("api_version", &self.api_version)
            .field("kind", &self.kind)
            .field("metadata", metadata)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_server_answers_and_full_objects() {
        let answer = r#"{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1",
            "metadata":{"name":"s","namespace":"ns","uid":"u1","resourceVersion":"7",
            "creationTimestamp":"2024-01-01T00:00:00Z","labels":{"a":"b"}}}"#;
        let m: PartialObjectMetadata = serde_json::from_str(answer).unwrap();
        assert_eq!(
            m.gvk(),
            GroupVersionKind::new("meta.k8s.io", "v1", "PartialObjectMetadata")
        );
        assert_eq!(
            (m.name(), m.uid(), m.resource_version()),
            (Some("s"), Some("u1"), Some("7"))
        );
        assert!(m.is_likely_object_metadata());
        // A full object decodes to its metadata: the rest is dropped.
        let full = r#"{"kind":"Secret","apiVersion":"v1","metadata":{"name":"s"},"data":{"k":"c2VjcmV0"}}"#;
        let m: PartialObjectMetadata = serde_json::from_str(full).unwrap();
        assert_eq!(m.kind, "Secret");
        assert!(!serde_json::to_string(&m).unwrap().contains("c2VjcmV0"));
        let empty: PartialObjectMetadata = serde_json::from_str("{}").unwrap();
        assert!(!empty.is_likely_object_metadata());
        assert_eq!(serde_json::to_string(&empty).unwrap(), r#"{"metadata":{}}"#);
        assert!(serde_json::from_str::<PartialObjectMetadata>(r#"{"metadata":[]}"#).is_err());
    }

    #[test]
    fn debug_hides_the_last_applied_configuration() {
        let mut m = PartialObjectMetadata::default();
        m.metadata.name = Some("creds".into());
        m.metadata.annotations = Some(
            [
                (
                    LAST_APPLIED.to_string(),
                    r#"{"stringData":{"password":"hunter2"}}"#.to_string(),
                ),
                ("team".to_string(), "blue".to_string()),
            ]
            .into(),
        );
        let shown = format!("{m:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("blue") && shown.contains("<hidden>"),
            "{shown}"
        );
    }
}
