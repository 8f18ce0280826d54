//! The discovery wire formats and their conversion into the [model](super::model): the
//! legacy `APIVersions` (`/api`), `APIGroupList` (`/apis`) and `APIResourceList`
//! (`/api/v1`, `/apis/<group>/<version>`), and aggregated discovery's
//! `APIGroupDiscoveryList` (`apidiscovery.k8s.io/v2` and `v2beta1`, same shape), served on
//! `/api` and `/apis` when asked for with
//! `Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList`.
//!
//! No I/O here: every parser takes the bytes and the endpoint they came from, and a
//! malformed answer is a [`DiscoveryError::Decode`] naming that endpoint.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::error::DiscoveryError;
use super::model::{
    ApiGroup, DiscoveredResource, GroupVersionResources, ServerVersion, Subresource,
};
use crate::api::{split_api_version, ApiResource, GroupVersionKind};

/// The media type of aggregated discovery v2.
pub const AGGREGATED_V2: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
/// The media type of aggregated discovery v2beta1 (servers before 1.30 and as a second choice).
pub const AGGREGATED_V2BETA1: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList";
/// The `Accept` header that asks for aggregated discovery (v2, then v2beta1) and lets the
/// server fall back to the legacy format.
pub const AGGREGATED_ACCEPT: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList;q=0.9,application/json;q=0.5";

fn decode<'a, T: Deserialize<'a>>(endpoint: &str, body: &'a [u8]) -> Result<T, DiscoveryError> {
    serde_json::from_slice(body).map_err(|e| DiscoveryError::undecodable(endpoint, e))
}

/// Which aggregated format a response's `Content-Type` announces, if any.
pub fn aggregated_format(content_type: &str) -> Option<super::DiscoveryFormat> {
    let params: Vec<(String, String)> = content_type
        .split(';')
        .skip(1)
        .filter_map(|p| {
            let (k, v) = p.split_once('=')?;
            Some((k.trim().to_ascii_lowercase(), v.trim().to_string()))
        })
        .collect();
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if get("g") != Some("apidiscovery.k8s.io") || get("as") != Some("APIGroupDiscoveryList") {
        return None;
    }
    match get("v") {
        Some("v2") => Some(super::DiscoveryFormat::AggregatedV2),
        Some("v2beta1") => Some(super::DiscoveryFormat::AggregatedV2Beta1),
        _ => None,
    }
}

/// Parses `/version`.
pub fn parse_version(endpoint: &str, body: &[u8]) -> Result<ServerVersion, DiscoveryError> {
    decode(endpoint, body)
}

#[derive(Deserialize)]
struct ApiVersionsWire {
    #[serde(default)]
    versions: Vec<String>,
}

/// Parses the legacy `/api` answer (`APIVersions`) into the core group.
pub fn parse_api_versions(endpoint: &str, body: &[u8]) -> Result<ApiGroup, DiscoveryError> {
    let wire: ApiVersionsWire = decode(endpoint, body)?;
    Ok(ApiGroup {
        name: String::new(),
        preferred_version: wire.versions.first().cloned(),
        versions: wire.versions,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupVersionForDiscovery {
    #[serde(default)]
    version: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiGroupWire {
    name: String,
    #[serde(default)]
    versions: Vec<GroupVersionForDiscovery>,
    #[serde(default)]
    preferred_version: Option<GroupVersionForDiscovery>,
}

#[derive(Deserialize)]
struct ApiGroupListWire {
    #[serde(default)]
    groups: Vec<ApiGroupWire>,
}

/// Parses the legacy `/apis` answer (`APIGroupList`).
pub fn parse_api_group_list(endpoint: &str, body: &[u8]) -> Result<Vec<ApiGroup>, DiscoveryError> {
    let wire: ApiGroupListWire = decode(endpoint, body)?;
    Ok(wire
        .groups
        .into_iter()
        .map(|g| ApiGroup {
            name: g.name,
            versions: g.versions.into_iter().map(|v| v.version).collect(),
            preferred_version: g
                .preferred_version
                .map(|v| v.version)
                .filter(|v| !v.is_empty()),
        })
        .collect())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiResourceWire {
    name: String,
    #[serde(default)]
    singular_name: String,
    #[serde(default)]
    namespaced: bool,
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    verbs: Option<Vec<String>>,
    #[serde(default)]
    short_names: Option<Vec<String>>,
    #[serde(default)]
    categories: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiResourceListWire {
    #[serde(default)]
    group_version: String,
    #[serde(default)]
    resources: Option<Vec<ApiResourceWire>>,
}

/// The kind of a subresource's answers, with an empty group/version meaning the parent's.
fn response_kind(
    parent_group: &str,
    parent_version: &str,
    group: &str,
    version: &str,
    kind: &str,
) -> Option<GroupVersionKind> {
    if kind.is_empty() {
        return None;
    }
    Some(if version.is_empty() {
        GroupVersionKind::new(parent_group, parent_version, kind)
    } else {
        GroupVersionKind::new(group, version, kind)
    })
}

/// Parses a legacy `APIResourceList` (`/api/v1`, `/apis/<group>/<version>`); `group` and
/// `version` are the group/version that was asked for. Entries named `parent/sub` become
/// subresources of `parent`.
pub fn parse_api_resource_list(
    endpoint: &str,
    group: &str,
    version: &str,
    body: &[u8],
) -> Result<GroupVersionResources, DiscoveryError> {
    let wire: ApiResourceListWire = decode(endpoint, body)?;
    if !wire.group_version.is_empty() {
        let (g, v) = split_api_version(&wire.group_version);
        if g != group || v != version {
            return Err(DiscoveryError::decode(
                endpoint,
                format!(
                    "asked for {}, the answer is for {}",
                    crate::api::join_api_version(group, version),
                    wire.group_version
                ),
            ));
        }
    }
    let mut resources: Vec<DiscoveredResource> = Vec::new();
    let mut subresources: Vec<(String, Subresource)> = Vec::new();
    for r in wire.resources.unwrap_or_default() {
        if r.name.is_empty() {
            return Err(DiscoveryError::decode(endpoint, "a resource has no name"));
        }
        if let Some((parent, sub)) = r.name.split_once('/') {
            let kind = response_kind(
                group,
                version,
                r.group.as_deref().unwrap_or(""),
                r.version.as_deref().unwrap_or(""),
                &r.kind,
            );
            subresources.push((
                parent.to_string(),
                Subresource {
                    name: sub.to_string(),
                    kind,
                    verbs: r.verbs.unwrap_or_default(),
                },
            ));
            continue;
        }
        resources.push(DiscoveredResource {
            api: ApiResource {
                group: group.to_string(),
                version: version.to_string(),
                kind: r.kind,
                plural: r.name,
                namespaced: r.namespaced,
            },
            singular: r.singular_name,
            verbs: r.verbs.unwrap_or_default(),
            short_names: r.short_names.unwrap_or_default(),
            categories: r.categories.unwrap_or_default(),
            subresources: Vec::new(),
        });
    }
    for (parent, sub) in subresources {
        match resources.iter_mut().find(|r| r.api.plural == parent) {
            Some(r) => r.subresources.push(sub),
            None => tracing::debug!(
                "{endpoint}: subresource {parent}/{} of an unlisted resource ignored",
                sub.name
            ),
        }
    }
    Ok(GroupVersionResources {
        group: group.to_string(),
        version: version.to_string(),
        resources,
    })
}

#[derive(Deserialize, Default)]
struct GvkWire {
    #[serde(default)]
    group: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    kind: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubresourceDiscoveryWire {
    subresource: String,
    #[serde(default)]
    response_kind: Option<GvkWire>,
    #[serde(default)]
    verbs: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResourceDiscoveryWire {
    resource: String,
    #[serde(default)]
    response_kind: Option<GvkWire>,
    scope: String,
    #[serde(default)]
    singular_resource: String,
    #[serde(default)]
    verbs: Option<Vec<String>>,
    #[serde(default)]
    short_names: Option<Vec<String>>,
    #[serde(default)]
    categories: Option<Vec<String>>,
    #[serde(default)]
    subresources: Option<Vec<SubresourceDiscoveryWire>>,
}

#[derive(Deserialize)]
struct VersionDiscoveryWire {
    version: String,
    #[serde(default)]
    resources: Option<Vec<ResourceDiscoveryWire>>,
    #[serde(default)]
    freshness: Option<String>,
}

#[derive(Deserialize, Default)]
struct NameOnly {
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct GroupDiscoveryWire {
    #[serde(default)]
    metadata: NameOnly,
    #[serde(default)]
    versions: Option<Vec<VersionDiscoveryWire>>,
}

#[derive(Deserialize)]
struct GroupDiscoveryListWire {
    #[serde(default)]
    kind: String,
    items: Option<Vec<GroupDiscoveryWire>>,
}

/// What one aggregated discovery document says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Aggregated {
    /// The groups, in the server's priority order, versions most preferred first.
    pub groups: Vec<ApiGroup>,
    /// The resources of every version that is current.
    pub resources: Vec<GroupVersionResources>,
    /// Versions the server marked `Stale` (their backend did not answer), and why.
    pub failed: BTreeMap<String, String>,
}

/// Parses an aggregated discovery answer (`APIGroupDiscoveryList`, v2 or v2beta1).
pub fn parse_aggregated(endpoint: &str, body: &[u8]) -> Result<Aggregated, DiscoveryError> {
    let wire: GroupDiscoveryListWire = decode(endpoint, body)?;
    if !wire.kind.is_empty() && wire.kind != "APIGroupDiscoveryList" {
        return Err(DiscoveryError::decode(
            endpoint,
            format!("expected an APIGroupDiscoveryList, got a {}", wire.kind),
        ));
    }
    let Some(items) = wire.items else {
        return Err(DiscoveryError::decode(endpoint, "missing field `items`"));
    };
    let mut out = Aggregated::default();
    for g in items {
        let group = g.metadata.name;
        let versions = g.versions.unwrap_or_default();
        out.groups.push(ApiGroup {
            name: group.clone(),
            versions: versions.iter().map(|v| v.version.clone()).collect(),
            preferred_version: versions.first().map(|v| v.version.clone()),
        });
        for v in versions {
            let gv = crate::api::join_api_version(&group, &v.version);
            if v.freshness.as_deref() == Some("Stale") {
                out.failed.insert(
                    gv,
                    "the server marked its discovery information Stale (its backend did not answer)"
                        .to_string(),
                );
                continue;
            }
            let mut resources = Vec::new();
            for r in v.resources.unwrap_or_default() {
                let namespaced = match r.scope.as_str() {
                    "Namespaced" => true,
                    "Cluster" => false,
                    other => {
                        return Err(DiscoveryError::decode(
                            endpoint,
                            format!(
                                "resource {} of {gv} has an unknown scope {other:?}",
                                r.resource
                            ),
                        ))
                    }
                };
                let kind = r.response_kind.map(|k| k.kind).unwrap_or_default();
                let subresources = r
                    .subresources
                    .unwrap_or_default()
                    .into_iter()
                    .map(|s| {
                        let k = s.response_kind.unwrap_or_default();
                        Subresource {
                            name: s.subresource,
                            kind: response_kind(&group, &v.version, &k.group, &k.version, &k.kind),
                            verbs: s.verbs.unwrap_or_default(),
                        }
                    })
                    .collect();
                resources.push(DiscoveredResource {
                    api: ApiResource {
                        group: group.clone(),
                        version: v.version.clone(),
                        kind,
                        plural: r.resource,
                        namespaced,
                    },
                    singular: r.singular_resource,
                    verbs: r.verbs.unwrap_or_default(),
                    short_names: r.short_names.unwrap_or_default(),
                    categories: r.categories.unwrap_or_default(),
                    subresources,
                });
            }
            out.resources.push(GroupVersionResources {
                group: group.clone(),
                version: v.version,
                resources,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::DiscoveryFormat;

    const AGGREGATED: &str = r#"{
      "kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {},
      "items": [
        {"metadata": {"name": "apps", "creationTimestamp": null}, "versions": [
          {"version": "v1", "freshness": "Current", "resources": [
            {"resource": "deployments", "responseKind": {"group": "", "version": "", "kind": "Deployment"},
             "scope": "Namespaced", "singularResource": "deployment",
             "verbs": ["create","delete","deletecollection","get","list","patch","update","watch"],
             "shortNames": ["deploy"], "categories": ["all"],
             "subresources": [
               {"subresource": "scale", "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"}, "verbs": ["get","patch","update"]},
               {"subresource": "status", "responseKind": {"group": "", "version": "", "kind": "Deployment"}, "verbs": ["get","patch","update"]}
             ]}
          ]}
        ]},
        {"metadata": {"name": "metrics.example.com"}, "versions": [
          {"version": "v1beta1", "freshness": "Stale"}
        ]}
      ]
    }"#;

    #[test]
    fn aggregated_document() {
        let a = parse_aggregated("/apis", AGGREGATED.as_bytes()).unwrap();
        assert_eq!(a.groups.len(), 2);
        assert_eq!(a.groups[0].preferred(), Some("v1"));
        assert_eq!(a.resources.len(), 1, "the stale version has no resources");
        let d = &a.resources[0].resources[0];
        assert_eq!(
            d.api,
            ApiResource {
                group: "apps".into(),
                version: "v1".into(),
                kind: "Deployment".into(),
                plural: "deployments".into(),
                namespaced: true,
            }
        );
        assert_eq!(d.singular, "deployment");
        assert_eq!(d.short_names, ["deploy"]);
        assert_eq!(d.categories, ["all"]);
        assert!(d.supports("watch"));
        let scale = d.subresource("scale").unwrap();
        assert_eq!(
            scale.kind,
            Some(GroupVersionKind::new("autoscaling", "v1", "Scale"))
        );
        let status = d.subresource("status").unwrap();
        assert_eq!(
            status.kind,
            Some(GroupVersionKind::new("apps", "v1", "Deployment"))
        );
        assert!(a.failed["metrics.example.com/v1beta1"].contains("Stale"));
        assert!(
            a.groups[1].versions == ["v1beta1"],
            "a stale version is still listed"
        );
    }

    #[test]
    fn legacy_documents() {
        let core = parse_api_versions(
            "/api",
            br#"{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[]}"#,
        )
        .unwrap();
        assert_eq!((core.name.as_str(), core.preferred()), ("", Some("v1")));

        let groups = parse_api_group_list(
            "/apis",
            br#"{"kind":"APIGroupList","apiVersion":"v1","groups":[
              {"name":"autoscaling","versions":[{"groupVersion":"autoscaling/v2","version":"v2"},{"groupVersion":"autoscaling/v1","version":"v1"}],
               "preferredVersion":{"groupVersion":"autoscaling/v2","version":"v2"}}]}"#,
        )
        .unwrap();
        assert_eq!(groups[0].versions, ["v2", "v1"]);
        assert_eq!(groups[0].preferred(), Some("v2"));

        let list = parse_api_resource_list(
            "/api/v1",
            "",
            "v1",
            br#"{"kind":"APIResourceList","groupVersion":"v1","resources":[
              {"name":"pods","singularName":"pod","namespaced":true,"kind":"Pod","verbs":["get","list"],"shortNames":["po"],"categories":["all"]},
              {"name":"pods/log","singularName":"","namespaced":true,"kind":"Pod","verbs":["get"]},
              {"name":"pods/eviction","singularName":"","namespaced":true,"group":"policy","version":"v1","kind":"Eviction","verbs":["create"]},
              {"name":"bindings","singularName":"binding","namespaced":true,"kind":"Binding","verbs":["create"]}
            ]}"#,
        )
        .unwrap();
        assert_eq!(list.resources.len(), 2);
        let pods = &list.resources[0];
        assert_eq!(pods.api.api_version(), "v1");
        assert_eq!(pods.short_names, ["po"]);
        assert_eq!(
            pods.subresource("log").unwrap().kind,
            Some(GroupVersionKind::new("", "v1", "Pod"))
        );
        assert_eq!(
            pods.subresource("eviction").unwrap().kind,
            Some(GroupVersionKind::new("policy", "v1", "Eviction"))
        );
        assert!(list.resources[1].short_names.is_empty());
    }

    #[test]
    fn malformed_answers_name_the_endpoint() {
        let err = parse_aggregated("/apis", b"{\"items\": 3}").unwrap_err();
        assert!(
            matches!(&err, DiscoveryError::Decode { endpoint, .. } if endpoint == "/apis"),
            "{err:?}"
        );
        assert!(err.to_string().contains("/apis"), "{err}");

        let err = parse_aggregated("/api", br#"{"kind":"APIGroupDiscoveryList","items":[{"metadata":{"name":""},"versions":[{"version":"v1","resources":[{"resource":"pods","scope":"Galaxy"}]}]}]}"#).unwrap_err();
        assert!(
            err.to_string().contains("Galaxy") && err.to_string().contains("/api"),
            "{err}"
        );

        let err = parse_aggregated("/apis", br#"{"kind":"APIGroupList","groups":[]}"#).unwrap_err();
        assert!(err.to_string().contains("APIGroupList"), "{err}");

        let err = parse_api_resource_list("/apis/apps/v1", "apps", "v1", b"<html>").unwrap_err();
        assert!(
            matches!(&err, DiscoveryError::Decode { endpoint, .. } if endpoint == "/apis/apps/v1")
        );
        // The JSON decoder's error is kept as the source, not only as text.
        let source = std::error::Error::source(&err).expect("the serde error is the source");
        let json = source
            .downcast_ref::<serde_json::Error>()
            .expect("a serde_json::Error");
        assert!(json.is_syntax(), "{json}");
        assert!(crate::Error::from(err)
            .find::<serde_json::Error>()
            .is_some());
        // An answer that decodes but makes no sense has no error underneath.
        let err = parse_aggregated("/apis", br#"{"kind":"APIGroupList","groups":[]}"#).unwrap_err();
        assert!(std::error::Error::source(&err).is_none(), "{err:?}");

        let err = parse_api_resource_list(
            "/apis/apps/v1",
            "apps",
            "v1",
            br#"{"groupVersion":"batch/v1","resources":[]}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("batch/v1"), "{err}");

        let err = parse_api_group_list("/apis", br#"{"groups":[{"versions":[]}]}"#).unwrap_err();
        assert!(err.to_string().contains("name"), "{err}");

        let err = parse_version("/version", br#""v1.36""#).unwrap_err();
        assert!(err.to_string().contains("/version"), "{err}");
    }

    #[test]
    fn content_types() {
        assert_eq!(
            aggregated_format(AGGREGATED_V2),
            Some(DiscoveryFormat::AggregatedV2)
        );
        assert_eq!(
            aggregated_format(AGGREGATED_V2BETA1),
            Some(DiscoveryFormat::AggregatedV2Beta1)
        );
        assert_eq!(
            aggregated_format(
                "application/json; g=apidiscovery.k8s.io; v=v2; as=APIGroupDiscoveryList"
            ),
            Some(DiscoveryFormat::AggregatedV2)
        );
        assert_eq!(aggregated_format("application/json"), None);
        assert_eq!(
            aggregated_format(
                "application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList"
            ),
            None
        );
    }
}
