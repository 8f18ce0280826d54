//! Kind/resource mapping (client-go's RESTMapper) over a [`Snapshot`]: what a person types
//! (`deploy`, `deployments`, `deployment`, `Deployment`, `deployments.apps`,
//! `deployment.v1.apps`, a CRD's short name) to one served resource.
//!
//! The rules, following kubectl where it has them:
//! - `name.version.group` is tried first for names with two or more dots, then
//!   `name.group` (as kubectl's `ParseResourceArg`).
//! - An exact plural, singular or kind (case-insensitive) beats a short name (kubectl
//!   expands a short name only when no resource has that full name).
//! - Without a version, the group's preferred version is used when it serves the resource,
//!   else the most preferred version that does.
//! - When several groups match, the core group beats every other group, and built-in
//!   groups (no dot, or ending in `.k8s.io`) beat the rest, as kubectl's group order does
//!   (`events` is core `v1` events, not `events.k8s.io`). Anything still tied is
//!   [`MappingError::Ambiguous`], listing the candidates, where kubectl would silently pick
//!   one by discovery order.

use super::error::MappingError;
use super::model::{DiscoveredResource, Snapshot};
use crate::api::{GroupVersionKind, GroupVersionResource};

/// The priority class of a group: lower wins.
fn group_class(group: &str) -> u8 {
    if group.is_empty() {
        0
    } else if !group.contains('.') || group.ends_with(".k8s.io") {
        1
    } else {
        2
    }
}

/// A parsed name: the resource (or kind) part, and the optional version and group.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Query {
    name: String,
    version: Option<String>,
    group: Option<String>,
}

fn parse_input(input: &str) -> Result<Vec<Query>, MappingError> {
    let invalid = |reason: &str| MappingError::Invalid {
        input: input.to_string(),
        reason: reason.to_string(),
    };
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(invalid("it is empty"));
    }
    if trimmed.contains('/') || trimmed.chars().any(char::is_whitespace) {
        return Err(invalid("use name, name.group or name.version.group"));
    }
    let parts: Vec<&str> = trimmed.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(invalid("it has an empty part between dots"));
    }
    let name = parts[0].to_string();
    let mut out = Vec::new();
    if parts.len() >= 3 {
        out.push(Query {
            name: name.clone(),
            version: Some(parts[1].to_string()),
            group: Some(parts[2..].join(".")),
        });
    }
    if parts.len() >= 2 {
        out.push(Query {
            name: name.clone(),
            version: None,
            group: Some(parts[1..].join(".")),
        });
    }
    if parts.len() == 1 {
        out.push(Query {
            name,
            version: None,
            group: None,
        });
    }
    Ok(out)
}

impl Snapshot {
    /// The resource a person means by `input`, by these rules (kubectl's, where it has them):
    /// - `name.version.group` is tried first for names with two or more dots, then
    ///   `name.group` (as kubectl's `ParseResourceArg`).
    /// - An exact plural, singular or kind (case-insensitive) beats a short name (kubectl
    ///   expands a short name only when no resource has that full name).
    /// - Without a version, the group's preferred version is used when it serves the
    ///   resource, else the most preferred version that does.
    /// - When several groups match, the core group beats every other group, and built-in
    ///   groups (no dot, or ending in `.k8s.io`) beat the rest (`events` is core `v1`
    ///   events, not `events.k8s.io`, as in kubectl). Anything still tied is
    ///   [`MappingError::Ambiguous`], listing the candidates, where kubectl would silently
    ///   pick one by discovery order.
    ///
    /// A name nothing matches is [`MappingError::NotFound`], which also names the
    /// group/versions that could not be discovered.
    ///
    /// ```
    /// # use k8s_client::discovery::Snapshot;
    /// # fn run(snapshot: &Snapshot) -> Result<(), k8s_client::discovery::MappingError> {
    /// let deploy = snapshot.resolve("deploy")?;
    /// assert_eq!(deploy.api.api_version(), "apps/v1");
    /// assert!(deploy.subresource("scale").is_some());
    /// # Ok(())
    /// # }
    /// ```
    pub fn resolve(&self, input: &str) -> Result<&DiscoveredResource, MappingError> {
        for query in parse_input(input)? {
            if let Some(found) = self.resolve_query(input, &query)? {
                return Ok(found);
            }
        }
        Err(MappingError::NotFound {
            input: input.to_string(),
            undiscovered: self.failed.keys().cloned().collect(),
        })
    }

    fn resolve_query(
        &self,
        input: &str,
        q: &Query,
    ) -> Result<Option<&DiscoveredResource>, MappingError> {
        let lower = q.name.to_ascii_lowercase();
        let in_scope = |r: &&DiscoveredResource| {
            q.group.as_deref().is_none_or(|g| r.api.group == g)
                && q.version.as_deref().is_none_or(|v| r.api.version == v)
        };
        let exact: Vec<&DiscoveredResource> = self
            .all_resources()
            .filter(in_scope)
            .filter(|r| {
                r.api.plural == lower
                    || r.singular == lower
                    || r.api.kind.to_ascii_lowercase() == lower
            })
            .collect();
        let matches = if exact.is_empty() {
            self.all_resources()
                .filter(in_scope)
                .filter(|r| {
                    r.short_names
                        .iter()
                        .any(|s| s.to_ascii_lowercase() == lower)
                })
                .collect()
        } else {
            exact
        };
        self.pick(input, matches)
    }

    /// Among matches (possibly in several versions and groups), the one to use.
    fn pick<'a>(
        &'a self,
        input: &str,
        matches: Vec<&'a DiscoveredResource>,
    ) -> Result<Option<&'a DiscoveredResource>, MappingError> {
        // One entry per group and resource, at the most preferred version.
        let mut per_resource: Vec<&DiscoveredResource> = Vec::new();
        for r in &matches {
            if per_resource
                .iter()
                .any(|p| p.api.group == r.api.group && p.api.plural == r.api.plural)
            {
                continue;
            }
            let best = matches
                .iter()
                .filter(|o| o.api.group == r.api.group && o.api.plural == r.api.plural)
                .min_by_key(|o| self.version_rank(&o.api.group, &o.api.version))
                .copied()
                .unwrap_or(r);
            per_resource.push(best);
        }
        let Some(top) = per_resource.iter().map(|r| group_class(&r.api.group)).min() else {
            return Ok(None);
        };
        let best: Vec<&DiscoveredResource> = per_resource
            .into_iter()
            .filter(|r| group_class(&r.api.group) == top)
            .collect();
        match best.as_slice() {
            [one] => Ok(Some(one)),
            _ => Err(MappingError::Ambiguous {
                input: input.to_string(),
                candidates: best.iter().map(|r| r.api.gvr().to_string()).collect(),
            }),
        }
    }

    /// 0 for the group's preferred version, then the position in the group's version list.
    fn version_rank(&self, group: &str, version: &str) -> usize {
        match self.group(group) {
            Some(g) if g.preferred() == Some(version) => 0,
            Some(g) => g
                .versions
                .iter()
                .position(|v| v == version)
                .map_or(usize::MAX, |p| p + 1),
            None => usize::MAX,
        }
    }

    /// The resource serving `gvk`. An empty version means the group's most preferred
    /// version that serves the kind.
    pub fn resolve_kind(&self, gvk: &GroupVersionKind) -> Option<&DiscoveredResource> {
        self.all_resources()
            .filter(|r| {
                r.api.group == gvk.group
                    && r.api.kind == gvk.kind
                    && (gvk.version.is_empty() || r.api.version == gvk.version)
            })
            .min_by_key(|r| self.version_rank(&r.api.group, &r.api.version))
    }

    /// The resource `gvr` names, when served.
    pub fn resolve_resource(&self, gvr: &GroupVersionResource) -> Option<&DiscoveredResource> {
        self.all_resources().find(|r| {
            r.api.group == gvr.group && r.api.version == gvr.version && r.api.plural == gvr.resource
        })
    }

    /// The resources in a category (`all`), one per group and resource at its preferred
    /// version, in group priority order.
    pub fn category(&self, category: &str) -> Vec<&DiscoveredResource> {
        self.preferred_resources()
            .into_iter()
            .filter(|r| r.categories.iter().any(|c| c == category))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ApiResource;
    use crate::discovery::model::{ApiGroup, GroupVersionResources};

    fn res(
        group: &str,
        version: &str,
        kind: &str,
        plural: &str,
        short: &[&str],
    ) -> DiscoveredResource {
        DiscoveredResource {
            api: ApiResource {
                group: group.into(),
                version: version.into(),
                kind: kind.into(),
                plural: plural.into(),
                namespaced: true,
            },
            singular: kind.to_ascii_lowercase(),
            short_names: short.iter().map(|s| s.to_string()).collect(),
            categories: if plural == "pods" || plural == "deployments" {
                vec!["all".into()]
            } else {
                vec![]
            },
            ..Default::default()
        }
    }

    fn snapshot() -> Snapshot {
        let gv = |g: &str, v: &str, resources: Vec<DiscoveredResource>| GroupVersionResources {
            group: g.into(),
            version: v.into(),
            resources,
        };
        let group = |n: &str, vs: &[&str]| ApiGroup {
            name: n.into(),
            versions: vs.iter().map(|v| v.to_string()).collect(),
            preferred_version: vs.first().map(|v| v.to_string()),
        };
        Snapshot {
            groups: vec![
                group("", &["v1"]),
                group("apps", &["v1"]),
                group("events.k8s.io", &["v1"]),
                group("autoscaling", &["v2", "v1"]),
                group("a.example.com", &["v1"]),
                group("b.example.com", &["v2", "v1"]),
            ],
            resources: vec![
                gv(
                    "",
                    "v1",
                    vec![
                        res("", "v1", "Pod", "pods", &["po"]),
                        res("", "v1", "Event", "events", &["ev"]),
                    ],
                ),
                gv(
                    "apps",
                    "v1",
                    vec![res("apps", "v1", "Deployment", "deployments", &["deploy"])],
                ),
                gv(
                    "events.k8s.io",
                    "v1",
                    vec![res("events.k8s.io", "v1", "Event", "events", &["ev"])],
                ),
                gv(
                    "autoscaling",
                    "v2",
                    vec![res(
                        "autoscaling",
                        "v2",
                        "HorizontalPodAutoscaler",
                        "horizontalpodautoscalers",
                        &["hpa"],
                    )],
                ),
                gv(
                    "autoscaling",
                    "v1",
                    vec![res(
                        "autoscaling",
                        "v1",
                        "HorizontalPodAutoscaler",
                        "horizontalpodautoscalers",
                        &["hpa"],
                    )],
                ),
                gv(
                    "a.example.com",
                    "v1",
                    vec![res(
                        "a.example.com",
                        "v1",
                        "Widget",
                        "widgets",
                        &["wd", "deploy"],
                    )],
                ),
                gv(
                    "b.example.com",
                    "v1",
                    vec![res("b.example.com", "v1", "Widget", "widgets", &[])],
                ),
                gv(
                    "b.example.com",
                    "v2",
                    vec![res("b.example.com", "v2", "Widget", "widgets", &[])],
                ),
            ],
            ..Snapshot::default()
        }
    }

    #[test]
    fn what_people_type() {
        let s = snapshot();
        let gvr = |input: &str| {
            s.resolve(input)
                .map(|r| r.api.gvr().to_string())
                .map_err(|e| e.to_string())
        };
        for input in [
            "deploy",
            "deployments",
            "deployment",
            "Deployment",
            "deployments.apps",
            "deployment.v1.apps",
            "DEPLOY",
        ] {
            assert_eq!(gvr(input).as_deref(), Ok("deployments.v1.apps"), "{input}");
        }
        assert_eq!(gvr("po").as_deref(), Ok("v1/pods"));
        assert_eq!(
            gvr("hpa").as_deref(),
            Ok("horizontalpodautoscalers.v2.autoscaling"),
            "preferred version"
        );
        assert_eq!(
            gvr("hpa.v1.autoscaling").as_deref(),
            Ok("horizontalpodautoscalers.v1.autoscaling")
        );
        assert_eq!(gvr("events").as_deref(), Ok("v1/events"), "core wins");
        assert_eq!(
            gvr("events.events.k8s.io").as_deref(),
            Ok("events.v1.events.k8s.io")
        );
        assert_eq!(gvr("wd").as_deref(), Ok("widgets.v1.a.example.com"));
        assert_eq!(
            gvr("widgets.b.example.com").as_deref(),
            Ok("widgets.v2.b.example.com")
        );
        assert_eq!(
            gvr("widgets.v1.b.example.com").as_deref(),
            Ok("widgets.v1.b.example.com")
        );
        match s.resolve("widgets") {
            Err(MappingError::Ambiguous { candidates, .. }) => {
                assert_eq!(
                    candidates,
                    ["widgets.v1.a.example.com", "widgets.v2.b.example.com"]
                )
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            s.resolve("nothing"),
            Err(MappingError::NotFound { .. })
        ));
        assert!(matches!(
            s.resolve("deployments.v9.apps"),
            Err(MappingError::NotFound { .. })
        ));
        for bad in ["", "  ", "a..b", "apps/v1", "a b"] {
            assert!(
                matches!(s.resolve(bad), Err(MappingError::Invalid { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn kinds_and_categories() {
        let s = snapshot();
        let hpa = s
            .resolve_kind(&GroupVersionKind::new(
                "autoscaling",
                "",
                "HorizontalPodAutoscaler",
            ))
            .unwrap();
        assert_eq!(hpa.api.version, "v2");
        assert!(s
            .resolve_kind(&GroupVersionKind::new("apps", "v1beta2", "Deployment"))
            .is_none());
        let all: Vec<String> = s
            .category("all")
            .iter()
            .map(|r| r.api.plural.clone())
            .collect();
        assert_eq!(all, ["pods", "deployments"]);
        assert!(s
            .resolve_resource(&GroupVersionResource::new("apps", "v1", "deployments"))
            .is_some());
    }
}
