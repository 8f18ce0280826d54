//! Version-skew checks: does this server serve the kinds a program uses, which of them are
//! deprecated, and what replaces the ones it no longer serves.
//!
//! Three sources are combined: discovery (what is served), a table of the API versions
//! Kubernetes removed and what replaced them (from the Kubernetes deprecation guide), and,
//! when asked for, the server's own `Warning` headers (the API server warns on every request
//! to a deprecated API: `v1 ComponentStatus is deprecated in v1.19+`).
//!
//! ```no_run
//! use k8s_client::api::GroupVersionKind;
//! use k8s_client::discovery::{Discovery, SkewCheck};
//! use k8s_openapi::api::apps::v1::Deployment;
//!
//! # async fn run(client: k8s_client::Client) -> Result<(), Box<dyn std::error::Error>> {
//! let discovery = Discovery::new(client);
//! let report = SkewCheck::new()
//!     .kind::<Deployment>()
//!     .gvk(GroupVersionKind::new("batch", "v1beta1", "CronJob"))
//!     .run(&discovery)
//!     .await?;
//! println!("{report}");
//! report.into_result()?; // fails at start-up: "... does not serve; use batch/v1"
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::sync::{Arc, Mutex};

use super::error::DiscoveryError;
use super::model::{ServerVersion, Snapshot};
use super::Discovery;
use crate::api::GroupVersionKind;
use crate::rest::WarningHandler;

/// One row of the removal table: kinds of `from` that moved to `to`.
struct Move {
    from: (&'static str, &'static str),
    kinds: &'static [&'static str],
    /// Group, version, and the new kind when it changed.
    to: Option<(&'static str, &'static str, Option<&'static str>)>,
    deprecated_in: &'static str,
    removed_in: Option<&'static str>,
}

const FLOWCONTROL: &[&str] = &["FlowSchema", "PriorityLevelConfiguration"];
const WORKLOADS: &[&str] = &[
    "Deployment",
    "DaemonSet",
    "ReplicaSet",
    "StatefulSet",
    "ControllerRevision",
];

/// The Kubernetes deprecation guide's removals (and a few deprecations of served APIs).
const MOVES: &[Move] = &[
    Move {
        from: ("extensions", "v1beta1"),
        kinds: &["Deployment", "DaemonSet", "ReplicaSet"],
        to: Some(("apps", "v1", None)),
        deprecated_in: "1.9",
        removed_in: Some("1.16"),
    },
    Move {
        from: ("apps", "v1beta1"),
        kinds: WORKLOADS,
        to: Some(("apps", "v1", None)),
        deprecated_in: "1.9",
        removed_in: Some("1.16"),
    },
    Move {
        from: ("apps", "v1beta2"),
        kinds: WORKLOADS,
        to: Some(("apps", "v1", None)),
        deprecated_in: "1.9",
        removed_in: Some("1.16"),
    },
    Move {
        from: ("extensions", "v1beta1"),
        kinds: &["NetworkPolicy"],
        to: Some(("networking.k8s.io", "v1", None)),
        deprecated_in: "1.9",
        removed_in: Some("1.16"),
    },
    Move {
        from: ("extensions", "v1beta1"),
        kinds: &["PodSecurityPolicy"],
        to: None,
        deprecated_in: "1.10",
        removed_in: Some("1.16"),
    },
    Move {
        from: ("extensions", "v1beta1"),
        kinds: &["Ingress"],
        to: Some(("networking.k8s.io", "v1", None)),
        deprecated_in: "1.14",
        removed_in: Some("1.22"),
    },
    Move {
        from: ("networking.k8s.io", "v1beta1"),
        kinds: &["Ingress", "IngressClass"],
        to: Some(("networking.k8s.io", "v1", None)),
        deprecated_in: "1.19",
        removed_in: Some("1.22"),
    },
    Move {
        from: ("admissionregistration.k8s.io", "v1beta1"),
        kinds: &[
            "MutatingWebhookConfiguration",
            "ValidatingWebhookConfiguration",
        ],
        to: Some(("admissionregistration.k8s.io", "v1", None)),
        deprecated_in: "1.16",
        removed_in: Some("1.22"),
    },
    Move {
        from: ("apiextensions.k8s.io", "v1beta1"),
        kinds: &["CustomResourceDefinition"],
        to: Some(("apiextensions.k8s.io", "v1", None)),
        deprecated_in: "1.16",
        removed_in: Some("1.22"),
    },
    Move {
        from: ("apiregistration.k8s.io", "v1beta1"),
        kinds: &["APIService"],
        to: Some(("apiregistration.k8s.io", "v1", None)),
        deprecated_in: "1.19",
        removed_in: Some("1.22"),
    },
    Move {
        from: ("authentication.k8s.io", "v1beta1"),
        kinds: &["TokenReview"],
        to: Some(("authentication.k8s.io", "v1", None)),
        deprecated_in: "1.19",
        removed_in: Some("1.22"),
    },
    Move {
        from: ("authorization.k8s.io", "v1beta1"),
        kinds: &[
            "SubjectAccessReview",
            "LocalSubjectAccessReview",
            "SelfSubjectAccessReview",
            "SelfSubjectRulesReview",
        ],
        to: Some(("authorization.k8s.io", "v1", None)),
        deprecated_in: "1.19",
        removed_in: Some("1.22"),
    },
    Move {
        from: ("certificates.k8s.io", "v1beta1"),
        kinds: &["CertificateSigningRequest"],
        to: Some(("certificates.k8s.io", "v1", None)),
        deprecated_in: "1.19",
        removed_in: Some("1.22"),
    },
    Move {
        from: ("coordination.k8s.io", "v1beta1"),
        kinds: &["Lease"],
        to: Some(("coordination.k8s.io", "v1", None)),
        deprecated_in: "1.19",
        removed_in: Some("1.22"),
    },
    Move {
        from: ("rbac.authorization.k8s.io", "v1beta1"),
        kinds: &["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"],
        to: Some(("rbac.authorization.k8s.io", "v1", None)),
        deprecated_in: "1.17",
        removed_in: Some("1.22"),
    },
    Move {
        from: ("scheduling.k8s.io", "v1beta1"),
        kinds: &["PriorityClass"],
        to: Some(("scheduling.k8s.io", "v1", None)),
        deprecated_in: "1.14",
        removed_in: Some("1.22"),
    },
    Move {
        from: ("storage.k8s.io", "v1beta1"),
        kinds: &["CSIDriver", "CSINode", "StorageClass", "VolumeAttachment"],
        to: Some(("storage.k8s.io", "v1", None)),
        deprecated_in: "1.19",
        removed_in: Some("1.22"),
    },
    Move {
        from: ("batch", "v1beta1"),
        kinds: &["CronJob"],
        to: Some(("batch", "v1", None)),
        deprecated_in: "1.21",
        removed_in: Some("1.25"),
    },
    Move {
        from: ("discovery.k8s.io", "v1beta1"),
        kinds: &["EndpointSlice"],
        to: Some(("discovery.k8s.io", "v1", None)),
        deprecated_in: "1.21",
        removed_in: Some("1.25"),
    },
    Move {
        from: ("events.k8s.io", "v1beta1"),
        kinds: &["Event"],
        to: Some(("events.k8s.io", "v1", None)),
        deprecated_in: "1.19",
        removed_in: Some("1.25"),
    },
    Move {
        from: ("autoscaling", "v2beta1"),
        kinds: &["HorizontalPodAutoscaler"],
        to: Some(("autoscaling", "v2", None)),
        deprecated_in: "1.22",
        removed_in: Some("1.25"),
    },
    Move {
        from: ("policy", "v1beta1"),
        kinds: &["PodDisruptionBudget"],
        to: Some(("policy", "v1", None)),
        deprecated_in: "1.21",
        removed_in: Some("1.25"),
    },
    Move {
        from: ("policy", "v1beta1"),
        kinds: &["PodSecurityPolicy"],
        to: None,
        deprecated_in: "1.21",
        removed_in: Some("1.25"),
    },
    Move {
        from: ("node.k8s.io", "v1beta1"),
        kinds: &["RuntimeClass"],
        to: Some(("node.k8s.io", "v1", None)),
        deprecated_in: "1.20",
        removed_in: Some("1.25"),
    },
    Move {
        from: ("flowcontrol.apiserver.k8s.io", "v1beta1"),
        kinds: FLOWCONTROL,
        to: Some(("flowcontrol.apiserver.k8s.io", "v1", None)),
        deprecated_in: "1.23",
        removed_in: Some("1.26"),
    },
    Move {
        from: ("autoscaling", "v2beta2"),
        kinds: &["HorizontalPodAutoscaler"],
        to: Some(("autoscaling", "v2", None)),
        deprecated_in: "1.23",
        removed_in: Some("1.26"),
    },
    Move {
        from: ("storage.k8s.io", "v1beta1"),
        kinds: &["CSIStorageCapacity"],
        to: Some(("storage.k8s.io", "v1", None)),
        deprecated_in: "1.24",
        removed_in: Some("1.27"),
    },
    Move {
        from: ("flowcontrol.apiserver.k8s.io", "v1beta2"),
        kinds: FLOWCONTROL,
        to: Some(("flowcontrol.apiserver.k8s.io", "v1", None)),
        deprecated_in: "1.26",
        removed_in: Some("1.29"),
    },
    Move {
        from: ("flowcontrol.apiserver.k8s.io", "v1beta3"),
        kinds: FLOWCONTROL,
        to: Some(("flowcontrol.apiserver.k8s.io", "v1", None)),
        deprecated_in: "1.29",
        removed_in: Some("1.32"),
    },
    Move {
        from: ("", "v1"),
        kinds: &["ComponentStatus"],
        to: None,
        deprecated_in: "1.19",
        removed_in: None,
    },
    Move {
        from: ("", "v1"),
        kinds: &["Endpoints"],
        to: Some(("discovery.k8s.io", "v1", Some("EndpointSlice"))),
        deprecated_in: "1.33",
        removed_in: None,
    },
];

/// What the deprecation guide says about one kind in one version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownMove {
    /// The kind in the version a program may use.
    pub from: GroupVersionKind,
    /// What replaces it, when something does.
    pub to: Option<GroupVersionKind>,
    /// The release that deprecated it (`"1.16"`).
    pub deprecated_in: String,
    /// The release that stopped serving it, when it is removed.
    pub removed_in: Option<String>,
}

/// The deprecation guide's entry for `gvk`, if any.
pub fn known_move(gvk: &GroupVersionKind) -> Option<KnownMove> {
    MOVES
        .iter()
        .find(|m| {
            m.from == (gvk.group.as_str(), gvk.version.as_str())
                && m.kinds.contains(&gvk.kind.as_str())
        })
        .map(|m| KnownMove {
            from: gvk.clone(),
            to: m
                .to
                .map(|(g, v, k)| GroupVersionKind::new(g, v, k.unwrap_or(&gvk.kind))),
            deprecated_in: m.deprecated_in.to_string(),
            removed_in: m.removed_in.map(str::to_string),
        })
}

/// Where a deprecation notice came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeprecationSource {
    /// The server's `Warning` header on a request to the API.
    ServerWarning,
    /// The Kubernetes deprecation guide (this crate's table).
    DeprecationGuide,
}

/// A served kind is deprecated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deprecation {
    /// In plain words (the server's own text for a warning).
    pub message: String,
    /// Where it came from.
    pub source: DeprecationSource,
}

/// What the server does with one kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KindStatus {
    /// Served; possibly deprecated.
    Served {
        /// Set when the kind is deprecated.
        deprecated: Option<Deprecation>,
        /// What to move to, when known.
        replacement: Option<GroupVersionKind>,
    },
    /// Not served.
    NotServed {
        /// A served kind to use instead, when there is one.
        replacement: Option<GroupVersionKind>,
        /// The release that removed it, when the deprecation guide says.
        removed_in: Option<String>,
    },
    /// The kind's group/version is listed but could not be discovered (its backend is down).
    Unknown {
        /// Why.
        reason: String,
    },
}

/// The verdict on one kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindReport {
    /// The kind the program uses.
    pub gvk: GroupVersionKind,
    /// What the server does with it.
    pub status: KindStatus,
}

impl KindReport {
    /// Whether the server serves it.
    pub fn is_served(&self) -> bool {
        matches!(self.status, KindStatus::Served { .. })
    }

    /// Whether it is served and deprecated.
    pub fn is_deprecated(&self) -> bool {
        matches!(
            self.status,
            KindStatus::Served {
                deprecated: Some(_),
                ..
            }
        )
    }
}

/// `apps/v1 Deployment`, `v1 Pod`.
fn name(gvk: &GroupVersionKind) -> String {
    format!("{} {}", gvk.api_version(), gvk.kind)
}

/// `apps/v1` when the kind is unchanged, `discovery.k8s.io/v1 EndpointSlice` otherwise.
fn use_instead(from: &GroupVersionKind, to: &GroupVersionKind) -> String {
    if from.kind == to.kind {
        to.api_version()
    } else {
        name(to)
    }
}

impl fmt::Display for KindReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", name(&self.gvk))?;
        match &self.status {
            KindStatus::Served {
                deprecated: None, ..
            } => write!(f, "served"),
            KindStatus::Served {
                deprecated: Some(d),
                replacement,
            } => {
                write!(f, "served, but deprecated ({})", d.message)?;
                if let Some(r) = replacement {
                    write!(f, "; use {}", use_instead(&self.gvk, r))?;
                }
                Ok(())
            }
            KindStatus::NotServed {
                replacement,
                removed_in,
            } => {
                write!(f, "not served")?;
                if let Some(r) = removed_in {
                    write!(f, " (removed in v{r})")?;
                }
                match replacement {
                    Some(r) => write!(f, "; use {}", use_instead(&self.gvk, r)),
                    None => write!(f, "; nothing this server serves replaces it"),
                }
            }
            KindStatus::Unknown { reason } => write!(f, "unknown ({reason})"),
        }
    }
}

/// The verdicts on all kinds a program uses, against one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkewReport {
    /// The server's version.
    pub server_version: ServerVersion,
    /// One verdict per kind, in the order they were given.
    pub kinds: Vec<KindReport>,
}

impl SkewReport {
    /// The verdict on `gvk`.
    pub fn get(&self, gvk: &GroupVersionKind) -> Option<&KindReport> {
        self.kinds.iter().find(|k| &k.gvk == gvk)
    }

    /// The kinds the server does not serve.
    pub fn not_served(&self) -> impl Iterator<Item = &KindReport> {
        self.kinds
            .iter()
            .filter(|k| matches!(k.status, KindStatus::NotServed { .. }))
    }

    /// The kinds that are served but deprecated.
    pub fn deprecated(&self) -> impl Iterator<Item = &KindReport> {
        self.kinds.iter().filter(|k| k.is_deprecated())
    }

    /// `Ok(self)` when every kind is served (deprecated ones included), else a
    /// [`SkewError`] naming each kind the server does not serve and what to use instead.
    pub fn into_result(self) -> Result<SkewReport, SkewError> {
        if self.not_served().next().is_none() {
            Ok(self)
        } else {
            Err(SkewError {
                report: Box::new(self),
            })
        }
    }
}

impl fmt::Display for SkewReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "server {}:", self.server_version)?;
        for k in &self.kinds {
            write!(f, "\n  {k}")?;
        }
        Ok(())
    }
}

/// The server does not serve some kinds a program uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkewError {
    /// The whole report.
    pub report: Box<SkewReport>,
}

impl fmt::Display for SkewError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let server = &self.report.server_version;
        let mut first = true;
        for k in self.report.not_served() {
            if !first {
                f.write_str("; and ")?;
            }
            first = false;
            write!(
                f,
                "this program uses {}, which this server ({server}) does not serve",
                name(&k.gvk)
            )?;
            if let KindStatus::NotServed {
                replacement,
                removed_in,
            } = &k.status
            {
                if let Some(r) = removed_in {
                    write!(f, " (removed in v{r})")?;
                }
                if let Some(r) = replacement {
                    write!(f, "; use {}", use_instead(&k.gvk, r))?;
                }
            }
        }
        Ok(())
    }
}

impl std::error::Error for SkewError {}

/// The kinds a program uses, to check against a server with [`SkewCheck::run`].
///
/// Three sources are combined: discovery (what is served), the Kubernetes deprecation
/// guide's table of removed API versions and their replacements ([`known_move`]), and, with
/// [`probe_warnings`](SkewCheck::probe_warnings), the server's own `Warning` headers.
///
/// ```no_run
/// use k8s_client::api::GroupVersionKind;
/// use k8s_client::discovery::{Discovery, SkewCheck};
/// use k8s_openapi::api::apps::v1::Deployment;
///
/// # async fn run(client: k8s_client::Client) -> Result<(), Box<dyn std::error::Error>> {
/// let discovery = Discovery::new(client);
/// let report = SkewCheck::new()
///     .kind::<Deployment>()
///     .gvk(GroupVersionKind::new("batch", "v1beta1", "CronJob"))
///     .run(&discovery)
///     .await?;
/// println!("{report}");
/// report.into_result()?; // "this program uses batch/v1beta1 CronJob, ...; use batch/v1"
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct SkewCheck {
    kinds: Vec<GroupVersionKind>,
    probe_warnings: bool,
}

impl SkewCheck {
    /// An empty check.
    pub fn new() -> Self {
        SkewCheck::default()
    }

    /// Adds the kind of a k8s-openapi type.
    pub fn kind<K: k8s_openapi::Resource>(mut self) -> Self {
        self.kinds.push(GroupVersionKind::of::<K>());
        self
    }

    /// Adds any kind.
    pub fn gvk(mut self, gvk: GroupVersionKind) -> Self {
        self.kinds.push(gvk);
        self
    }

    /// Also asks the server about each served kind (one `list` with `limit=1` each) and
    /// records the deprecation warnings it answers with. Off by default: it costs a
    /// request per kind and needs permission to list.
    pub fn probe_warnings(mut self, probe: bool) -> Self {
        self.probe_warnings = probe;
        self
    }

    /// Checks every kind against what `discovery` says the server serves (refreshing its
    /// cache once when a kind is missing, in case it is stale).
    pub async fn run(&self, discovery: &Discovery) -> Result<SkewReport, DiscoveryError> {
        let mut snapshot = discovery.snapshot().await?;
        let missing = self
            .kinds
            .iter()
            .any(|k| snapshot.resolve_kind(k).is_none() && !is_undiscovered(&snapshot, k));
        if missing {
            if let Some(fresh) = discovery.refresh_after_miss().await? {
                snapshot = fresh;
            }
        }
        let mut report = evaluate(&snapshot, &self.kinds);
        if self.probe_warnings {
            for k in &mut report.kinds {
                if let KindStatus::Served { deprecated, .. } = &mut k.status {
                    if let Some(message) = probe(discovery, &snapshot, &k.gvk).await {
                        *deprecated = Some(Deprecation {
                            message,
                            source: DeprecationSource::ServerWarning,
                        });
                    }
                }
            }
        }
        Ok(report)
    }
}

fn is_undiscovered(snapshot: &Snapshot, gvk: &GroupVersionKind) -> bool {
    snapshot.failed.contains_key(&gvk.api_version())
}

/// The verdicts for `kinds` from a snapshot and the removal table (no I/O).
pub fn evaluate(snapshot: &Snapshot, kinds: &[GroupVersionKind]) -> SkewReport {
    let kinds = kinds
        .iter()
        .map(|gvk| {
            let known = known_move(gvk);
            let served_replacement = |to: &GroupVersionKind| {
                snapshot.resolve_kind(to).map(|r| r.api.gvk()).or_else(|| {
                    snapshot
                        .resolve_kind(&GroupVersionKind::new(&to.group, "", &to.kind))
                        .map(|r| r.api.gvk())
                })
            };
            let status = if snapshot.resolve_kind(gvk).is_some() {
                KindStatus::Served {
                    deprecated: known.as_ref().map(|m| Deprecation {
                        message: match &m.removed_in {
                            Some(r) => {
                                format!("deprecated in v{}, removed in v{r}", m.deprecated_in)
                            }
                            None => format!("deprecated in v{}", m.deprecated_in),
                        },
                        source: DeprecationSource::DeprecationGuide,
                    }),
                    replacement: known
                        .as_ref()
                        .and_then(|m| m.to.as_ref())
                        .and_then(served_replacement),
                }
            } else if let Some(reason) = snapshot.failed.get(&gvk.api_version()) {
                KindStatus::Unknown {
                    reason: format!("{} could not be discovered: {reason}", gvk.api_version()),
                }
            } else {
                let replacement = known
                    .as_ref()
                    .and_then(|m| m.to.as_ref())
                    .and_then(served_replacement)
                    // The same kind in another version of the same group.
                    .or_else(|| {
                        snapshot
                            .resolve_kind(&GroupVersionKind::new(&gvk.group, "", &gvk.kind))
                            .map(|r| r.api.gvk())
                    });
                KindStatus::NotServed {
                    replacement,
                    removed_in: known.and_then(|m| m.removed_in),
                }
            };
            KindReport {
                gvk: gvk.clone(),
                status,
            }
        })
        .collect();
    SkewReport {
        server_version: snapshot.server_version.clone(),
        kinds,
    }
}

/// Collects the texts of 299 warnings.
#[derive(Default)]
struct Collect(Mutex<Vec<String>>);

impl WarningHandler for Collect {
    fn handle_warning(&self, code: u16, _agent: &str, text: &str) {
        if code == 299 {
            self.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(text.to_string());
        }
    }
}

/// Lists one object of `gvk` and returns the deprecation warning the server sent, if any.
async fn probe(
    discovery: &Discovery,
    snapshot: &Snapshot,
    gvk: &GroupVersionKind,
) -> Option<String> {
    let resource = snapshot.resolve_kind(gvk)?;
    if !resource.supports("list") {
        return None;
    }
    let collect = Arc::new(Collect::default());
    let client = discovery
        .client()
        .clone()
        .with_warning_handler(collect.clone());
    let request = crate::rest::Request::new(crate::rest::Verb::List)
        .group_version(gvk.group.clone(), gvk.version.clone())
        .resource(resource.api.plural.clone())
        .query("limit", "1")
        .build()
        .ok()?;
    if let Err(e) = client.request_text(request).await {
        tracing::debug!("probing {gvk} for deprecation warnings: {e}");
    }
    let texts = collect.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
    texts
        .into_iter()
        .find(|t| t.contains("deprecated") || t.contains("unavailable"))
}

impl From<SkewError> for crate::error::Error {
    /// Kept whole as [`Error::Other`](crate::error::Error::Other); `find::<SkewError>()` gives it
    /// back.
    fn from(e: SkewError) -> Self {
        crate::error::Error::other(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ApiResource;
    use crate::discovery::model::{ApiGroup, DiscoveredResource, GroupVersionResources};

    fn snapshot() -> Snapshot {
        let r = |g: &str, v: &str, k: &str, p: &str| DiscoveredResource {
            api: ApiResource {
                group: g.into(),
                version: v.into(),
                kind: k.into(),
                plural: p.into(),
                namespaced: true,
            },
            ..Default::default()
        };
        Snapshot {
            server_version: ServerVersion {
                git_version: "v1.36.3".into(),
                ..Default::default()
            },
            groups: vec![
                ApiGroup {
                    name: "".into(),
                    versions: vec!["v1".into()],
                    preferred_version: Some("v1".into()),
                },
                ApiGroup {
                    name: "apps".into(),
                    versions: vec!["v1".into()],
                    preferred_version: Some("v1".into()),
                },
                ApiGroup {
                    name: "batch".into(),
                    versions: vec!["v1".into()],
                    preferred_version: Some("v1".into()),
                },
                ApiGroup {
                    name: "example.com".into(),
                    versions: vec!["v2".into(), "v1".into()],
                    preferred_version: Some("v2".into()),
                },
            ],
            resources: vec![
                GroupVersionResources {
                    group: "".into(),
                    version: "v1".into(),
                    resources: vec![r("", "v1", "Endpoints", "endpoints")],
                },
                GroupVersionResources {
                    group: "apps".into(),
                    version: "v1".into(),
                    resources: vec![r("apps", "v1", "Deployment", "deployments")],
                },
                GroupVersionResources {
                    group: "batch".into(),
                    version: "v1".into(),
                    resources: vec![r("batch", "v1", "CronJob", "cronjobs")],
                },
                GroupVersionResources {
                    group: "example.com".into(),
                    version: "v2".into(),
                    resources: vec![r("example.com", "v2", "Widget", "widgets")],
                },
            ],
            failed: [("metrics.k8s.io/v1beta1".to_string(), "Stale".to_string())].into(),
            ..Default::default()
        }
    }

    #[test]
    fn verdicts_and_words() {
        let kinds = [
            GroupVersionKind::new("apps", "v1", "Deployment"),
            GroupVersionKind::new("apps", "v1beta2", "Deployment"),
            GroupVersionKind::new("batch", "v1beta1", "CronJob"),
            GroupVersionKind::new("example.com", "v1", "Widget"),
            GroupVersionKind::new("policy", "v1beta1", "PodSecurityPolicy"),
            GroupVersionKind::new("metrics.k8s.io", "v1beta1", "PodMetrics"),
            GroupVersionKind::new("", "v1", "Endpoints"),
        ];
        let report = evaluate(&snapshot(), &kinds);
        assert!(report.kinds[0].is_served() && !report.kinds[0].is_deprecated());
        assert_eq!(
            report.kinds[1].status,
            KindStatus::NotServed {
                replacement: Some(GroupVersionKind::new("apps", "v1", "Deployment")),
                removed_in: Some("1.16".into())
            }
        );
        assert_eq!(
            report.kinds[1].to_string(),
            "apps/v1beta2 Deployment: not served (removed in v1.16); use apps/v1"
        );
        assert_eq!(
            report.kinds[2].to_string(),
            "batch/v1beta1 CronJob: not served (removed in v1.25); use batch/v1"
        );
        assert_eq!(
            report.kinds[3].to_string(),
            "example.com/v1 Widget: not served; use example.com/v2",
            "same kind, other version"
        );
        assert!(report.kinds[4]
            .to_string()
            .contains("nothing this server serves replaces it"));
        assert!(matches!(report.kinds[5].status, KindStatus::Unknown { .. }));
        assert_eq!(
            report.kinds[6].to_string(),
            "v1 Endpoints: served, but deprecated (deprecated in v1.33)",
            "no replacement named: EndpointSlice is not served by this snapshot"
        );
        let err = report.into_result().unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("this program uses apps/v1beta2 Deployment, which this server (v1.36.3) does not serve (removed in v1.16); use apps/v1"),
            "{text}"
        );
        assert!(text.contains("batch/v1beta1 CronJob"), "{text}");
        assert!(evaluate(&snapshot(), &kinds[..1]).into_result().is_ok());
    }

    #[test]
    fn table_lookups() {
        let m = known_move(&GroupVersionKind::new("extensions", "v1beta1", "Ingress")).unwrap();
        assert_eq!(
            m.to,
            Some(GroupVersionKind::new("networking.k8s.io", "v1", "Ingress"))
        );
        assert_eq!(m.removed_in.as_deref(), Some("1.22"));
        let m = known_move(&GroupVersionKind::new(
            "flowcontrol.apiserver.k8s.io",
            "v1beta3",
            "FlowSchema",
        ))
        .unwrap();
        assert_eq!(m.removed_in.as_deref(), Some("1.32"));
        assert!(known_move(&GroupVersionKind::new("apps", "v1", "Deployment")).is_none());
    }
}
