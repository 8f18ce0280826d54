//! What discovery found, independent of the wire format it came in: the server's version,
//! its groups with their versions, and the resources of each group/version with their
//! capabilities (verbs, short names, categories, subresources).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::api::{join_api_version, ApiResource, GroupVersionKind};

/// The server's `/version` answer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerVersion {
    /// Major version, as the server wrote it (`"1"`).
    #[serde(default)]
    pub major: String,
    /// Minor version, as the server wrote it (`"36"`, or `"36+"` on some distributions).
    #[serde(default)]
    pub minor: String,
    /// The full version (`"v1.36.3"`).
    #[serde(default)]
    pub git_version: String,
    /// The commit the server was built from.
    #[serde(default)]
    pub git_commit: String,
    /// When the server was built.
    #[serde(default)]
    pub build_date: String,
    /// The Go version the server was built with.
    #[serde(default)]
    pub go_version: String,
    /// `os/arch`.
    #[serde(default)]
    pub platform: String,
}

impl ServerVersion {
    /// `(major, minor)` as numbers, ignoring a trailing `+` or other suffix (`"36+"` -> 36).
    /// Falls back to parsing [`git_version`](Self::git_version) (`v1.36.3`). `None` when
    /// neither can be read.
    pub fn major_minor(&self) -> Option<(u32, u32)> {
        let leading = |s: &str| -> Option<u32> {
            let digits: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
            digits.parse().ok()
        };
        if let (Some(major), Some(minor)) = (leading(&self.major), leading(&self.minor)) {
            return Some((major, minor));
        }
        let v = self.git_version.strip_prefix('v')?;
        let mut parts = v.split('.');
        let major = leading(parts.next()?)?;
        let minor = leading(parts.next()?)?;
        Some((major, minor))
    }
}

impl fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.git_version.is_empty() {
            f.write_str(&self.git_version)
        } else {
            write!(f, "v{}.{}", self.major, self.minor)
        }
    }
}

/// One API group and the versions the server serves of it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ApiGroup {
    /// The group name (`""` for the core group).
    pub name: String,
    /// The served versions, most preferred first.
    pub versions: Vec<String>,
    /// The version the server prefers (normally the first of `versions`).
    pub preferred_version: Option<String>,
}

impl ApiGroup {
    /// The preferred version, or the first listed one when the server named none.
    pub fn preferred(&self) -> Option<&str> {
        self.preferred_version
            .as_deref()
            .or_else(|| self.versions.first().map(String::as_str))
    }
}

/// A subresource of a resource (`pods/log`, `deployments/scale`, `*/status`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Subresource {
    /// The subresource's name (`log`, `scale`, `status`).
    pub name: String,
    /// The kind of its answers (`autoscaling/v1 Scale` for `deployments/scale`), with the
    /// group and version filled in; `None` when the server did not say.
    #[serde(with = "gvk_serde")]
    pub kind: Option<GroupVersionKind>,
    /// The verbs it supports.
    pub verbs: Vec<String>,
}

/// One resource the server serves, with everything discovery says about it.
///
/// [`api`](Self::api) is what the clients need to address it; the rest are its
/// capabilities.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DiscoveredResource {
    /// Group, version, kind, plural name and scope.
    #[serde(with = "api_resource_serde")]
    pub api: ApiResource,
    /// The singular name (`deployment`); may be empty on old servers.
    pub singular: String,
    /// The verbs it supports (`get`, `list`, `watch`, `create`, ...).
    pub verbs: Vec<String>,
    /// Short names (`deploy`).
    pub short_names: Vec<String>,
    /// Categories it belongs to (`all`).
    pub categories: Vec<String>,
    /// Its subresources, by name.
    pub subresources: Vec<Subresource>,
}

impl DiscoveredResource {
    /// Whether it supports `verb` (`"list"`, `"watch"`, `"patch"`, ...).
    pub fn supports(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == verb)
    }

    /// Its subresource `name` (`"status"`, `"scale"`, `"log"`), if served.
    pub fn subresource(&self, name: &str) -> Option<&Subresource> {
        self.subresources.iter().find(|s| s.name == name)
    }
}

/// The outcome of discovering one group/version.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GroupVersionResources {
    /// The group (`""` for core).
    pub group: String,
    /// The version.
    pub version: String,
    /// Its resources, in the order the server listed them.
    pub resources: Vec<DiscoveredResource>,
}

impl GroupVersionResources {
    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        join_api_version(&self.group, &self.version)
    }
}

/// How the resources were discovered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum DiscoveryFormat {
    /// Aggregated discovery, `apidiscovery.k8s.io/v2` (two requests: `/api`, `/apis`).
    #[default]
    AggregatedV2,
    /// Aggregated discovery, `apidiscovery.k8s.io/v2beta1`.
    AggregatedV2Beta1,
    /// The per-group/version endpoints (`/api/v1`, `/apis/<group>/<version>`).
    Legacy,
}

/// Everything discovery found at one moment: the server version, the groups (in the
/// server's priority order, core first) and every group/version's resources, plus the
/// group/versions that could not be discovered.
///
/// A failing group/version (an aggregated API whose backend is down, marked `Stale` by the
/// server) does not fail the whole discovery: it is listed in [`failed`](Self::failed), and
/// [`check_complete`](Self::check_complete) turns that into an error for callers that need
/// everything.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Snapshot {
    /// The server's version.
    pub server_version: ServerVersion,
    /// How the resources were discovered.
    pub format: DiscoveryFormat,
    /// The groups, in the server's priority order (the core group `""` first).
    pub groups: Vec<ApiGroup>,
    /// The resources of every group/version that was discovered, in group order.
    pub resources: Vec<GroupVersionResources>,
    /// Group/versions (`apps/v1`, `v1`) that could not be discovered, and why.
    pub failed: BTreeMap<String, String>,
}

impl Snapshot {
    /// The group `name` (`""` for core).
    pub fn group(&self, name: &str) -> Option<&ApiGroup> {
        self.groups.iter().find(|g| g.name == name)
    }

    /// The resources of one group/version (`"v1"`, `"apps/v1"`), when it was discovered.
    pub fn resources_for(&self, api_version: &str) -> Option<&GroupVersionResources> {
        let (group, version) = crate::api::split_api_version(api_version);
        self.resources
            .iter()
            .find(|gv| gv.group == group && gv.version == version)
    }

    /// Every discovered resource of every group/version (top-level resources only; their
    /// subresources are in [`DiscoveredResource::subresources`]).
    pub fn all_resources(&self) -> impl Iterator<Item = &DiscoveredResource> {
        self.resources.iter().flat_map(|gv| gv.resources.iter())
    }

    /// One entry per group and resource, at the group's most preferred version that serves
    /// it (client-go's `ServerPreferredResources`), in group priority order.
    pub fn preferred_resources(&self) -> Vec<&DiscoveredResource> {
        let mut out = Vec::new();
        for group in &self.groups {
            let mut seen = std::collections::HashSet::new();
            let preferred = group.preferred();
            let ordered = preferred.into_iter().chain(
                group
                    .versions
                    .iter()
                    .map(String::as_str)
                    .filter(|v| Some(*v) != preferred),
            );
            for version in ordered {
                let Some(gv) = self
                    .resources
                    .iter()
                    .find(|r| r.group == group.name && r.version == version)
                else {
                    continue;
                };
                for r in &gv.resources {
                    if seen.insert(r.api.plural.as_str()) {
                        out.push(r);
                    }
                }
            }
        }
        out
    }

    /// Whether `api_version` (`"apps/v1"`, `"v1"`) is served (listed by the server), whether
    /// or not its resources could be discovered.
    pub fn serves_api_version(&self, api_version: &str) -> bool {
        let (group, version) = crate::api::split_api_version(api_version);
        self.group(group)
            .is_some_and(|g| g.versions.iter().any(|v| v == version))
    }

    /// `Ok` when every group/version was discovered, else
    /// [`DiscoveryError::GroupDiscoveryFailed`](super::DiscoveryError::GroupDiscoveryFailed)
    /// naming the ones that failed (client-go's `ErrGroupDiscoveryFailed`).
    pub fn check_complete(&self) -> Result<(), super::DiscoveryError> {
        if self.failed.is_empty() {
            Ok(())
        } else {
            Err(super::DiscoveryError::GroupDiscoveryFailed {
                failed: self.failed.clone(),
            })
        }
    }
}

/// `ApiResource` lives in `api` and is not serde-able; the disk cache stores it through
/// this mirror.
mod api_resource_serde {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::api::ApiResource;

    #[derive(Serialize, Deserialize)]
    struct Mirror {
        group: String,
        version: String,
        kind: String,
        plural: String,
        namespaced: bool,
    }

    pub(super) fn serialize<S: Serializer>(r: &ApiResource, s: S) -> Result<S::Ok, S::Error> {
        Mirror {
            group: r.group.clone(),
            version: r.version.clone(),
            kind: r.kind.clone(),
            plural: r.plural.clone(),
            namespaced: r.namespaced,
        }
        .serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ApiResource, D::Error> {
        let m = Mirror::deserialize(d)?;
        Ok(ApiResource {
            group: m.group,
            version: m.version,
            kind: m.kind,
            plural: m.plural,
            namespaced: m.namespaced,
        })
    }
}

/// `GroupVersionKind` lives in `api` and is not serde-able either.
mod gvk_serde {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::api::GroupVersionKind;

    #[derive(Serialize, Deserialize)]
    struct Mirror {
        group: String,
        version: String,
        kind: String,
    }

    pub(super) fn serialize<S: Serializer>(
        gvk: &Option<GroupVersionKind>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        gvk.as_ref()
            .map(|g| Mirror {
                group: g.group.clone(),
                version: g.version.clone(),
                kind: g.kind.clone(),
            })
            .serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<GroupVersionKind>, D::Error> {
        Ok(Option::<Mirror>::deserialize(d)?.map(|m| GroupVersionKind {
            group: m.group,
            version: m.version,
            kind: m.kind,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_numbers() {
        let v = ServerVersion {
            major: "1".into(),
            minor: "36+".into(),
            git_version: "v1.36.3".into(),
            ..Default::default()
        };
        assert_eq!(v.major_minor(), Some((1, 36)));
        assert_eq!(v.to_string(), "v1.36.3");
        let v = ServerVersion {
            git_version: "v1.33.0-gke.1".into(),
            ..Default::default()
        };
        assert_eq!(v.major_minor(), Some((1, 33)));
        assert_eq!(ServerVersion::default().major_minor(), None);
    }
}
