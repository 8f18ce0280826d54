//! Building a CustomResourceDefinition from what `#[derive(CustomResource)]` knows, and
//! merging the definitions of several versions into one ([`merge_crds`]).

use std::collections::BTreeMap;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceColumnDefinition, CustomResourceDefinition, CustomResourceDefinitionNames,
    CustomResourceDefinitionSpec, CustomResourceDefinitionVersion, CustomResourceSubresourceScale,
    CustomResourceSubresourceStatus, CustomResourceSubresources, CustomResourceValidation,
    JSONSchemaProps,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// What the derive passes to [`crd`]; not a public API.
#[doc(hidden)]
pub struct CrdInfo {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    pub served: bool,
    pub storage: bool,
    pub deprecated: bool,
    pub deprecation_warning: Option<&'static str>,
    pub columns: Vec<CustomResourceColumnDefinition>,
    /// Spec replicas path, status replicas path, label selector path.
    pub scale: Option<(&'static str, &'static str, Option<&'static str>)>,
}

/// A printer column; not a public API.
#[doc(hidden)]
pub fn column(
    name: &str,
    type_: &str,
    json_path: &str,
    description: Option<&str>,
    format: Option<&str>,
    priority: Option<i32>,
) -> CustomResourceColumnDefinition {
    CustomResourceColumnDefinition {
        name: name.to_string(),
        type_: type_.to_string(),
        json_path: json_path.to_string(),
        description: description.map(str::to_string),
        format: format.map(str::to_string),
        priority,
    }
}

fn typed(type_: &str) -> JSONSchemaProps {
    JSONSchemaProps {
        type_: Some(type_.to_string()),
        ..Default::default()
    }
}

fn strings(list: &[&str]) -> Option<Vec<String>> {
    (!list.is_empty()).then(|| list.iter().map(|s| s.to_string()).collect())
}

/// The CRD of one version; not a public API (the derive's `Kind::crd()` calls it).
#[doc(hidden)]
pub fn crd(
    info: CrdInfo,
    spec: JSONSchemaProps,
    status: Option<JSONSchemaProps>,
) -> CustomResourceDefinition {
    let mut properties = BTreeMap::new();
    properties.insert("apiVersion".to_string(), typed("string"));
    properties.insert("kind".to_string(), typed("string"));
    properties.insert("metadata".to_string(), typed("object"));
    properties.insert("spec".to_string(), spec);
    let has_status = status.is_some();
    if let Some(status) = status {
        properties.insert(
            "status".to_string(),
            JSONSchemaProps {
                nullable: Some(true),
                ..status
            },
        );
    }
    let root = JSONSchemaProps {
        type_: Some("object".into()),
        properties: Some(properties),
        required: Some(vec!["spec".into()]),
        ..Default::default()
    };
    let subresources = (has_status || info.scale.is_some()).then(|| CustomResourceSubresources {
        status: has_status.then(|| {
            CustomResourceSubresourceStatus(serde_json::Value::Object(Default::default()))
        }),
        scale: info
            .scale
            .map(|(spec, status, selector)| CustomResourceSubresourceScale {
                spec_replicas_path: spec.to_string(),
                status_replicas_path: status.to_string(),
                label_selector_path: selector.map(str::to_string),
            }),
    });
    CustomResourceDefinition {
        metadata: ObjectMeta {
            name: Some(format!("{}.{}", info.plural, info.group)),
            ..Default::default()
        },
        spec: CustomResourceDefinitionSpec {
            group: info.group.to_string(),
            names: CustomResourceDefinitionNames {
                kind: info.kind.to_string(),
                list_kind: Some(format!("{}List", info.kind)),
                plural: info.plural.to_string(),
                singular: Some(info.singular.to_string()),
                short_names: strings(info.short_names),
                categories: strings(info.categories),
            },
            scope: if info.namespaced {
                "Namespaced"
            } else {
                "Cluster"
            }
            .to_string(),
            versions: vec![CustomResourceDefinitionVersion {
                name: info.version.to_string(),
                served: info.served,
                storage: info.storage,
                deprecated: info.deprecated.then_some(true),
                deprecation_warning: info.deprecation_warning.map(str::to_string),
                additional_printer_columns: (!info.columns.is_empty()).then_some(info.columns),
                schema: Some(CustomResourceValidation {
                    open_api_v3_schema: Some(root),
                }),
                subresources,
                ..Default::default()
            }],
            ..Default::default()
        },
        status: None,
    }
}

/// Why [`merge_crds`] refused its definitions.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CrdMergeError {
    /// No definitions were given.
    #[error("merge_crds: no CustomResourceDefinitions to merge")]
    Empty,
    /// Two definitions differ in something every version shares (name, group, names,
    /// scope).
    #[error("merge_crds: {what} differs: {first:?} in the first definition, {other:?} in the one of version {version:?}")]
    Mismatch {
        /// What differs (`group`, `names`, `scope`, `metadata.name`).
        what: &'static str,
        /// Its value in the first definition.
        first: String,
        /// Its value in the other one.
        other: String,
        /// A version of the other definition.
        version: String,
    },
    /// A version is defined twice.
    #[error("merge_crds: version {0:?} is defined more than once")]
    DuplicateVersion(String),
    /// The storage version is not among the merged versions.
    #[error("merge_crds: storage version {storage:?} is not one of the versions {versions:?}")]
    NoSuchStorageVersion {
        /// The storage version asked for.
        storage: String,
        /// The versions given.
        versions: Vec<String>,
    },
}

/// Merges the CRDs of several versions of one kind (each `Kind::crd()` of a derived type)
/// into one definition serving every version, with `storage` the only storage version.
/// They must agree on name, group, names and scope.
///
/// ```
/// use k8s_client::custom_resource::{merge_crds, CrdMergeError};
/// # use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::*;
/// # fn version(v: &str) -> CustomResourceDefinition {
/// #     let mut crd = CustomResourceDefinition::default();
/// #     crd.spec.group = "example.com".into();
/// #     crd.spec.versions.push(CustomResourceDefinitionVersion { name: v.into(), served: true, storage: true, ..Default::default() });
/// #     crd
/// # }
/// // In real code: merge_crds(vec![v1::Website::crd(), v1beta1::Website::crd()], "v1")
/// let merged = merge_crds(vec![version("v1"), version("v1beta1")], "v1")?;
/// let storage: Vec<_> = merged.spec.versions.iter().map(|v| (v.name.as_str(), v.storage)).collect();
/// assert_eq!(storage, [("v1", true), ("v1beta1", false)]);
/// assert!(matches!(merge_crds(vec![version("v1")], "v2"), Err(CrdMergeError::NoSuchStorageVersion { .. })));
/// # Ok::<(), CrdMergeError>(())
/// ```
pub fn merge_crds(
    crds: Vec<CustomResourceDefinition>,
    storage: &str,
) -> Result<CustomResourceDefinition, CrdMergeError> {
    let mut crds = crds.into_iter();
    let mut merged = crds.next().ok_or(CrdMergeError::Empty)?;
    for crd in crds {
        let version = crd
            .spec
            .versions
            .first()
            .map(|v| v.name.clone())
            .unwrap_or_default();
        let checks = [
            (
                "metadata.name",
                format!("{:?}", merged.metadata.name),
                format!("{:?}", crd.metadata.name),
            ),
            ("group", merged.spec.group.clone(), crd.spec.group.clone()),
            (
                "names",
                format!("{:?}", merged.spec.names),
                format!("{:?}", crd.spec.names),
            ),
            ("scope", merged.spec.scope.clone(), crd.spec.scope.clone()),
        ];
        for (what, first, other) in checks {
            if first != other {
                return Err(CrdMergeError::Mismatch {
                    what,
                    first,
                    other,
                    version,
                });
            }
        }
        for v in crd.spec.versions {
            if merged.spec.versions.iter().any(|m| m.name == v.name) {
                return Err(CrdMergeError::DuplicateVersion(v.name));
            }
            merged.spec.versions.push(v);
        }
    }
    let mut seen = Vec::new();
    for v in &merged.spec.versions {
        if seen.contains(&v.name) {
            return Err(CrdMergeError::DuplicateVersion(v.name.clone()));
        }
        seen.push(v.name.clone());
    }
    if !seen.iter().any(|v| v == storage) {
        return Err(CrdMergeError::NoSuchStorageVersion {
            storage: storage.to_string(),
            versions: seen,
        });
    }
    for v in &mut merged.spec.versions {
        v.storage = v.name == storage;
    }
    Ok(merged)
}
