//! Options of the API verbs: [`ListParams`], [`WatchParams`], [`PostParams`],
//! [`PatchParams`] with [`Patch`], [`DeleteParams`], [`EvictParams`].
//!
//! Each has an `apply_to` method that adds its query parameters (and, for deletes, its
//! `DeleteOptions` body) to a [`Request`], so other clients (dynamic, metadata) share them.

use serde::Serialize;

use crate::rest::Request;

/// Which objects a `resourceVersion` in a list selects (`resourceVersionMatch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceVersionMatch {
    /// Data at least as new as the given resourceVersion (may be served from the cache).
    NotOlderThan,
    /// Data at exactly the given resourceVersion (served from etcd; may be `410 Gone`).
    Exact,
}

impl ResourceVersionMatch {
    /// The value sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceVersionMatch::NotOlderThan => "NotOlderThan",
            ResourceVersionMatch::Exact => "Exact",
        }
    }
}

/// How the server treats unknown or duplicate fields in a written object
/// (`fieldValidation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldValidation {
    /// Drop them silently.
    Ignore,
    /// Drop them and answer with a warning (the server's default).
    Warn,
    /// Reject the request.
    Strict,
}

impl FieldValidation {
    /// The value sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldValidation::Ignore => "Ignore",
            FieldValidation::Warn => "Warn",
            FieldValidation::Strict => "Strict",
        }
    }
}

/// Options of a list (and of the selection of a `delete_collection`).
///
/// ```
/// use k8s_client::api::{ListParams, ResourceVersionMatch};
/// let lp = ListParams::default().labels("app=demo").limit(3);
/// let exact = ListParams::default().at("12345").matching(ResourceVersionMatch::Exact);
/// # drop((lp, exact));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListParams {
    /// Only objects whose labels match (`app=demo,tier in (web)`).
    pub label_selector: Option<String>,
    /// Only objects whose fields match (`metadata.name=x`, `status.phase!=Running`).
    pub field_selector: Option<String>,
    /// At most this many objects per page; the answer's `continue` token gets the next page.
    pub limit: Option<u32>,
    /// The `continue` token of the previous page.
    pub continue_token: Option<String>,
    /// The resourceVersion to read at (see [`resource_version_match`](Self::resource_version_match)).
    pub resource_version: Option<String>,
    /// How `resource_version` is interpreted; requires `resource_version`.
    pub resource_version_match: Option<ResourceVersionMatch>,
    /// Ask the server to give up after this many seconds.
    pub timeout_seconds: Option<u32>,
}

impl ListParams {
    /// Sets the label selector.
    pub fn labels(mut self, selector: &str) -> Self {
        self.label_selector = Some(selector.to_string());
        self
    }

    /// Sets the field selector.
    pub fn fields(mut self, selector: &str) -> Self {
        self.field_selector = Some(selector.to_string());
        self
    }

    /// Sets the page size.
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Sets the continue token (of the previous page).
    pub fn continue_token(mut self, token: &str) -> Self {
        self.continue_token = Some(token.to_string());
        self
    }

    /// Sets the resourceVersion (`"0"`: any version, from the watch cache).
    pub fn at(mut self, resource_version: &str) -> Self {
        self.resource_version = Some(resource_version.to_string());
        self
    }

    /// Sets how the resourceVersion is matched.
    pub fn matching(mut self, version_match: ResourceVersionMatch) -> Self {
        self.resource_version_match = Some(version_match);
        self
    }

    /// Sets the server-side timeout, in seconds.
    pub fn timeout(mut self, seconds: u32) -> Self {
        self.timeout_seconds = Some(seconds);
        self
    }

    /// Adds these options' query parameters to `request`; a `resourceVersionMatch` without a
    /// `resourceVersion`, or with a `continue` token, becomes a build error.
    pub fn apply_to(&self, request: Request) -> Request {
        let mut req = request
            .query_opt("labelSelector", self.label_selector.as_deref())
            .query_opt("fieldSelector", self.field_selector.as_deref())
            .query_opt("limit", self.limit.map(|l| l.to_string()))
            .query_opt("continue", self.continue_token.as_deref())
            .query_opt("resourceVersion", self.resource_version.as_deref())
            .query_opt(
                "resourceVersionMatch",
                self.resource_version_match
                    .map(ResourceVersionMatch::as_str),
            )
            .query_opt(
                "timeoutSeconds",
                self.timeout_seconds.map(|t| t.to_string()),
            );
        if let Some(m) = self.resource_version_match {
            if self.resource_version.as_deref().unwrap_or("").is_empty() {
                req.fail(format!(
                    "resourceVersionMatch={} needs a resourceVersion",
                    m.as_str()
                ));
            }
            if self.continue_token.is_some() {
                req.fail("resourceVersionMatch cannot be combined with a continue token");
            }
        }
        req
    }
}

/// Options of a watch.
///
/// Bookmarks are asked for by default (`allowWatchBookmarks=true`), so a watcher learns new
/// resourceVersions even when nothing it watches changes.
///
/// ```
/// use k8s_client::api::WatchParams;
/// let wp = WatchParams::default().labels("app=demo").timeout(60);
/// let streaming = WatchParams::default().streaming_list();
/// # drop((wp, streaming));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WatchParams {
    /// Only objects whose labels match.
    pub label_selector: Option<String>,
    /// Only objects whose fields match (`metadata.name=x` watches one object).
    pub field_selector: Option<String>,
    /// The server ends the watch after this many seconds (server default: 30-60 minutes).
    pub timeout_seconds: Option<u32>,
    /// Ask for `BOOKMARK` events (`allowWatchBookmarks`); default `true`.
    pub bookmarks: bool,
    /// Streaming list: the server first sends the current objects as `ADDED` events, then a
    /// bookmark annotated `k8s.io/initial-events-end`, then changes (`sendInitialEvents`;
    /// also sets `resourceVersionMatch=NotOlderThan` and bookmarks).
    pub send_initial_events: bool,
}

impl Default for WatchParams {
    fn default() -> Self {
        WatchParams {
            label_selector: None,
            field_selector: None,
            timeout_seconds: None,
            bookmarks: true,
            send_initial_events: false,
        }
    }
}

impl WatchParams {
    /// Sets the label selector.
    pub fn labels(mut self, selector: &str) -> Self {
        self.label_selector = Some(selector.to_string());
        self
    }

    /// Sets the field selector.
    pub fn fields(mut self, selector: &str) -> Self {
        self.field_selector = Some(selector.to_string());
        self
    }

    /// Sets the server-side timeout, in seconds.
    pub fn timeout(mut self, seconds: u32) -> Self {
        self.timeout_seconds = Some(seconds);
        self
    }

    /// Turns bookmarks off.
    pub fn disable_bookmarks(mut self) -> Self {
        self.bookmarks = false;
        self
    }

    /// Asks for a streaming list (initial events, then the end-of-initial-events bookmark).
    pub fn streaming_list(mut self) -> Self {
        self.send_initial_events = true;
        self.bookmarks = true;
        self
    }

    /// Adds these options' query parameters (and `resourceVersion` when not empty) to a watch
    /// `request` (whose `watch=true` the [`Verb::Watch`](crate::rest::Verb::Watch) adds).
    pub fn apply_to(&self, request: Request, resource_version: &str) -> Request {
        let mut req = request
            .query_opt("labelSelector", self.label_selector.as_deref())
            .query_opt("fieldSelector", self.field_selector.as_deref())
            .query_opt(
                "timeoutSeconds",
                self.timeout_seconds.map(|t| t.to_string()),
            );
        if !resource_version.is_empty() {
            req = req.query("resourceVersion", resource_version);
        }
        if self.bookmarks || self.send_initial_events {
            req = req.query("allowWatchBookmarks", "true");
        }
        if self.send_initial_events {
            req = req
                .query("sendInitialEvents", "true")
                .query("resourceVersionMatch", "NotOlderThan");
        }
        req
    }
}

/// Options of a create or replace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PostParams {
    /// Validate and answer as if written, but persist nothing (`dryRun=All`).
    pub dry_run: bool,
    /// The name this writer's field ownership is recorded under.
    pub field_manager: Option<String>,
    /// How unknown or duplicate fields are treated.
    pub field_validation: Option<FieldValidation>,
}

impl PostParams {
    /// Sets `dry_run`.
    pub fn dry_run(mut self) -> Self {
        self.dry_run = true;
        self
    }

    /// Sets the field manager.
    pub fn field_manager(mut self, manager: &str) -> Self {
        self.field_manager = Some(manager.to_string());
        self
    }

    /// Sets the field validation.
    pub fn field_validation(mut self, validation: FieldValidation) -> Self {
        self.field_validation = Some(validation);
        self
    }

    /// Adds these options' query parameters to `request`.
    pub fn apply_to(&self, request: Request) -> Request {
        let req = if self.dry_run {
            request.query("dryRun", "All")
        } else {
            request
        };
        req.query_opt("fieldManager", self.field_manager.as_deref())
            .query_opt(
                "fieldValidation",
                self.field_validation.map(FieldValidation::as_str),
            )
    }
}

/// Options of a patch. Server-side apply wants [`PatchParams::apply`].
///
/// ```
/// use k8s_client::api::PatchParams;
/// let ssa = PatchParams::apply("my-controller").force();
/// # drop(ssa);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PatchParams {
    /// Validate and answer as if written, but persist nothing (`dryRun=All`).
    pub dry_run: bool,
    /// Server-side apply only: take ownership of fields other managers own instead of
    /// failing with a conflict.
    pub force: bool,
    /// The name this writer's field ownership is recorded under (required for apply).
    pub field_manager: Option<String>,
    /// How unknown or duplicate fields are treated.
    pub field_validation: Option<FieldValidation>,
}

impl PatchParams {
    /// Options for a server-side apply as `manager`.
    pub fn apply(manager: &str) -> Self {
        PatchParams {
            field_manager: Some(manager.to_string()),
            ..PatchParams::default()
        }
    }

    /// Sets the field manager.
    pub fn field_manager(mut self, manager: &str) -> Self {
        self.field_manager = Some(manager.to_string());
        self
    }

    /// Sets `force` (server-side apply only).
    pub fn force(mut self) -> Self {
        self.force = true;
        self
    }

    /// Sets `dry_run`.
    pub fn dry_run(mut self) -> Self {
        self.dry_run = true;
        self
    }

    /// Sets the field validation.
    pub fn field_validation(mut self, validation: FieldValidation) -> Self {
        self.field_validation = Some(validation);
        self
    }

    /// Adds these options' query parameters and `patch` (body and `Content-Type`) to
    /// `request`. An apply without a field manager, or `force` on another patch type,
    /// becomes a build error.
    pub fn apply_to<P: Serialize>(&self, request: Request, patch: &Patch<P>) -> Request {
        let mut req = if self.dry_run {
            request.query("dryRun", "All")
        } else {
            request
        };
        if self.force {
            req = req.query("force", "true");
        }
        req = req
            .query_opt("fieldManager", self.field_manager.as_deref())
            .query_opt(
                "fieldValidation",
                self.field_validation.map(FieldValidation::as_str),
            );
        let is_apply = matches!(patch, Patch::Apply(_));
        if is_apply && self.field_manager.as_deref().unwrap_or("").is_empty() {
            req.fail("a server-side apply needs a field manager (PatchParams::apply(manager))");
        }
        if self.force && !is_apply {
            req.fail(format!(
                "force is only allowed for server-side apply, not for a {} patch",
                patch.kind_name()
            ));
        }
        patch.apply_to(req)
    }
}

/// A patch, by type; the payload is anything that serializes to JSON.
///
/// ```
/// use k8s_client::api::Patch;
/// use serde_json::json;
///
/// let merge = Patch::Merge(json!({"data": {"k": "v"}}));
/// let json_patch = Patch::Json(json!([{"op": "replace", "path": "/data/k", "value": "w"}]));
/// # drop((merge, json_patch));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Patch<T: Serialize> {
    /// An RFC 6902 JSON patch: `T` must serialize to an array of operations
    /// (`application/json-patch+json`).
    Json(T),
    /// An RFC 7386 JSON merge patch (`application/merge-patch+json`).
    Merge(T),
    /// A strategic merge patch, which merges lists by key for built-in types
    /// (`application/strategic-merge-patch+json`).
    Strategic(T),
    /// A server-side apply configuration: the fields this manager wants to own, with
    /// `apiVersion`, `kind` and `metadata.name` (`application/apply-patch+yaml`; JSON is
    /// valid YAML).
    Apply(T),
}

impl<T: Serialize> Patch<T> {
    /// The `Content-Type` of this patch type.
    pub fn content_type(&self) -> &'static str {
        match self {
            Patch::Json(_) => "application/json-patch+json",
            Patch::Merge(_) => "application/merge-patch+json",
            Patch::Strategic(_) => "application/strategic-merge-patch+json",
            Patch::Apply(_) => "application/apply-patch+yaml",
        }
    }

    fn kind_name(&self) -> &'static str {
        match self {
            Patch::Json(_) => "JSON",
            Patch::Merge(_) => "merge",
            Patch::Strategic(_) => "strategic merge",
            Patch::Apply(_) => "apply",
        }
    }

    fn payload(&self) -> &T {
        match self {
            Patch::Json(p) | Patch::Merge(p) | Patch::Strategic(p) | Patch::Apply(p) => p,
        }
    }

    /// Sets the body and `Content-Type` of `request` to this patch. A JSON patch that does
    /// not serialize to an array becomes a build error.
    pub fn apply_to(&self, request: Request) -> Request {
        let req = request.json_body_as(self.payload(), self.content_type());
        if let Patch::Json(p) = self {
            let is_array = matches!(serde_json::to_value(p), Ok(serde_json::Value::Array(_)));
            if !is_array {
                return req.with_error("a JSON patch must be an array of operations");
            }
        }
        req
    }
}

/// What happens to the objects a deleted object owns (`propagationPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PropagationPolicy {
    /// Leave them, without their owner reference.
    Orphan,
    /// Delete the object now and its dependents in the background.
    Background,
    /// Keep the object (with a `foregroundDeletion` finalizer) until its dependents are gone.
    Foreground,
}

impl PropagationPolicy {
    /// The value sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            PropagationPolicy::Orphan => "Orphan",
            PropagationPolicy::Background => "Background",
            PropagationPolicy::Foreground => "Foreground",
        }
    }
}

/// Conditions the object must meet for a delete to happen (else `409 Conflict`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Preconditions {
    /// The object's UID must be this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// The object's resourceVersion must be this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
}

/// Options of a delete, sent as a `DeleteOptions` body.
///
/// ```
/// use k8s_client::api::{DeleteParams, PropagationPolicy};
/// let dp = DeleteParams::default().propagation(PropagationPolicy::Foreground).grace_period(0);
/// # drop(dp);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeleteParams {
    /// Answer as if deleted, but delete nothing (`dryRun: ["All"]`).
    pub dry_run: bool,
    /// Seconds the object gets to shut down (`0`: at once); server default when `None`.
    pub grace_period_seconds: Option<u32>,
    /// What happens to dependents; the resource's default when `None`.
    pub propagation_policy: Option<PropagationPolicy>,
    /// Conditions the object must meet.
    pub preconditions: Option<Preconditions>,
}

impl DeleteParams {
    /// Sets `dry_run`.
    pub fn dry_run(mut self) -> Self {
        self.dry_run = true;
        self
    }

    /// Sets the grace period.
    pub fn grace_period(mut self, seconds: u32) -> Self {
        self.grace_period_seconds = Some(seconds);
        self
    }

    /// Sets the propagation policy.
    pub fn propagation(mut self, policy: PropagationPolicy) -> Self {
        self.propagation_policy = Some(policy);
        self
    }

    /// Requires the object's resourceVersion to be `resource_version`.
    pub fn precondition_resource_version(mut self, resource_version: &str) -> Self {
        self.preconditions
            .get_or_insert_with(Default::default)
            .resource_version = Some(resource_version.to_string());
        self
    }

    /// Requires the object's UID to be `uid`.
    pub fn precondition_uid(mut self, uid: &str) -> Self {
        self.preconditions.get_or_insert_with(Default::default).uid = Some(uid.to_string());
        self
    }

    /// The `DeleteOptions` object these options make.
    pub fn to_delete_options(&self) -> serde_json::Value {
        let mut opts = serde_json::Map::new();
        opts.insert("apiVersion".into(), "v1".into());
        opts.insert("kind".into(), "DeleteOptions".into());
        if self.dry_run {
            opts.insert("dryRun".into(), serde_json::json!(["All"]));
        }
        if let Some(g) = self.grace_period_seconds {
            opts.insert("gracePeriodSeconds".into(), g.into());
        }
        if let Some(p) = self.propagation_policy {
            opts.insert("propagationPolicy".into(), p.as_str().into());
        }
        if let Some(pre) = &self.preconditions {
            opts.insert(
                "preconditions".into(),
                serde_json::to_value(pre).unwrap_or_default(),
            );
        }
        serde_json::Value::Object(opts)
    }

    /// Sets `request`'s body to the `DeleteOptions` of these options.
    pub fn apply_to(&self, request: Request) -> Request {
        request.json_body(&self.to_delete_options())
    }
}

/// Options of a pod eviction (`policy/v1` `Eviction`).
///
/// ```
/// use k8s_client::api::{DeleteParams, EvictParams, PostParams};
/// let now = EvictParams::default().delete_options(DeleteParams::default().grace_period(0));
/// let dry = EvictParams::default().post_options(PostParams::default().dry_run());
/// # drop((now, dry));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EvictParams {
    /// How the pod is deleted once the eviction is allowed.
    pub delete_options: Option<DeleteParams>,
    /// Query options of the eviction request itself (dry run, field manager).
    pub post_options: PostParams,
}

impl EvictParams {
    /// Sets how the pod is deleted once the eviction is allowed.
    pub fn delete_options(mut self, options: DeleteParams) -> Self {
        self.delete_options = Some(options);
        self
    }

    /// Sets the query options of the eviction request.
    pub fn post_options(mut self, options: PostParams) -> Self {
        self.post_options = options;
        self
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::rest::Verb;
    use crate::Error;

    fn list() -> Request {
        Request::new(Verb::List).namespace("ns").resource("pods")
    }

    fn uri(req: Request) -> String {
        req.build().unwrap().uri().to_string()
    }

    fn build_err(req: Request) -> String {
        match req.build() {
            Err(Error::Request(e)) => e.message().to_string(),
            other => panic!("expected a request error, got {other:?}"),
        }
    }

    #[test]
    fn list_params_query() {
        assert_eq!(
            uri(ListParams::default().apply_to(list())),
            "/api/v1/namespaces/ns/pods"
        );
        let lp = ListParams::default()
            .labels("app=demo,env!=prod")
            .fields("metadata.name=a")
            .limit(3)
            .continue_token("tok=")
            .timeout(10);
        assert_eq!(
            uri(lp.apply_to(list())),
            "/api/v1/namespaces/ns/pods?labelSelector=app%3Ddemo%2Cenv%21%3Dprod\
             &fieldSelector=metadata.name%3Da&limit=3&continue=tok%3D&timeoutSeconds=10"
        );
        let lp = ListParams::default()
            .at("42")
            .matching(ResourceVersionMatch::NotOlderThan);
        assert_eq!(
            uri(lp.apply_to(list())),
            "/api/v1/namespaces/ns/pods?resourceVersion=42&resourceVersionMatch=NotOlderThan"
        );
        let lp = ListParams::default()
            .at("42")
            .matching(ResourceVersionMatch::Exact);
        assert!(uri(lp.apply_to(list())).ends_with("resourceVersionMatch=Exact"));
    }

    #[test]
    fn list_params_validation() {
        let lp = ListParams::default().matching(ResourceVersionMatch::Exact);
        assert!(build_err(lp.apply_to(list())).contains("needs a resourceVersion"));
        let lp = ListParams::default()
            .at("1")
            .continue_token("t")
            .matching(ResourceVersionMatch::NotOlderThan);
        assert!(build_err(lp.apply_to(list())).contains("continue"));
    }

    #[test]
    fn watch_params_query() {
        let watch = || Request::new(Verb::Watch).namespace("ns").resource("pods");
        assert_eq!(
            uri(WatchParams::default().apply_to(watch(), "")),
            "/api/v1/namespaces/ns/pods?watch=true&allowWatchBookmarks=true"
        );
        assert_eq!(
            uri(WatchParams::default()
                .disable_bookmarks()
                .labels("a=b")
                .fields("metadata.name=x")
                .timeout(30)
                .apply_to(watch(), "100")),
            "/api/v1/namespaces/ns/pods?watch=true&labelSelector=a%3Db\
             &fieldSelector=metadata.name%3Dx&timeoutSeconds=30&resourceVersion=100"
        );
        assert_eq!(
            uri(WatchParams::default()
                .disable_bookmarks()
                .streaming_list()
                .apply_to(watch(), "")),
            "/api/v1/namespaces/ns/pods?watch=true&allowWatchBookmarks=true\
             &sendInitialEvents=true&resourceVersionMatch=NotOlderThan"
        );
        let wp = WatchParams {
            bookmarks: false,
            send_initial_events: true,
            ..WatchParams::default()
        };
        assert!(uri(wp.apply_to(watch(), "")).contains("allowWatchBookmarks=true"));
    }

    #[test]
    fn post_params_query() {
        let create = || Request::new(Verb::Create).namespace("ns").resource("pods");
        assert_eq!(
            uri(PostParams::default().apply_to(create())),
            "/api/v1/namespaces/ns/pods"
        );
        assert_eq!(
            uri(PostParams::default()
                .dry_run()
                .field_manager("me")
                .field_validation(FieldValidation::Strict)
                .apply_to(create())),
            "/api/v1/namespaces/ns/pods?dryRun=All&fieldManager=me&fieldValidation=Strict"
        );
    }

    #[test]
    fn patch_types_and_params() {
        let patch = || {
            Request::new(Verb::Patch)
                .namespace("ns")
                .resource("pods")
                .name("p")
        };
        let cases = [
            (
                Patch::Json(json!([{"op": "add", "path": "/a", "value": 1}])),
                "application/json-patch+json",
            ),
            (
                Patch::Merge(json!({"a": 1})),
                "application/merge-patch+json",
            ),
            (
                Patch::Strategic(json!({"a": 1})),
                "application/strategic-merge-patch+json",
            ),
            (
                Patch::Apply(json!({"a": 1})),
                "application/apply-patch+yaml",
            ),
        ];
        for (p, ct) in cases {
            let req = PatchParams::apply("mgr")
                .apply_to(patch(), &p)
                .build()
                .unwrap();
            assert_eq!(req.headers()["content-type"], ct);
            assert_eq!(req.method(), http::Method::PATCH);
            let body: serde_json::Value = serde_json::from_slice(req.body()).unwrap();
            assert_eq!(
                &body,
                match &p {
                    Patch::Json(v) | Patch::Merge(v) | Patch::Strategic(v) | Patch::Apply(v) => v,
                }
            );
        }
        let req = PatchParams::apply("mgr")
            .force()
            .dry_run()
            .field_validation(FieldValidation::Warn)
            .apply_to(patch(), &Patch::Apply(json!({})))
            .build()
            .unwrap();
        assert_eq!(
            req.uri(),
            "/api/v1/namespaces/ns/pods/p?dryRun=All&force=true&fieldManager=mgr&fieldValidation=Warn"
        );
        let req = PatchParams::default()
            .apply_to(patch(), &Patch::Merge(json!({})))
            .build()
            .unwrap();
        assert_eq!(req.uri(), "/api/v1/namespaces/ns/pods/p");
    }

    #[test]
    fn patch_validation() {
        let patch = || Request::new(Verb::Patch).resource("nodes").name("n");
        assert!(
            build_err(PatchParams::default().apply_to(patch(), &Patch::Apply(json!({}))))
                .contains("field manager")
        );
        assert!(build_err(
            PatchParams::default()
                .force()
                .apply_to(patch(), &Patch::Merge(json!({})))
        )
        .contains("only allowed for server-side apply"));
        assert!(build_err(
            PatchParams::default().apply_to(patch(), &Patch::Json(json!({"op": "x"})))
        )
        .contains("array"));
    }

    #[test]
    fn delete_options_body() {
        assert_eq!(
            DeleteParams::default().to_delete_options(),
            json!({"apiVersion": "v1", "kind": "DeleteOptions"})
        );
        let dp = DeleteParams::default()
            .dry_run()
            .grace_period(0)
            .propagation(PropagationPolicy::Foreground)
            .precondition_resource_version("7")
            .precondition_uid("u-1");
        assert_eq!(
            dp.to_delete_options(),
            json!({
                "apiVersion": "v1", "kind": "DeleteOptions", "dryRun": ["All"],
                "gracePeriodSeconds": 0, "propagationPolicy": "Foreground",
                "preconditions": {"uid": "u-1", "resourceVersion": "7"}
            })
        );
        let req = dp
            .apply_to(Request::new(Verb::Delete).resource("namespaces").name("x"))
            .build()
            .unwrap();
        assert_eq!(req.method(), http::Method::DELETE);
        assert_eq!(req.headers()["content-type"], "application/json");
        let body: serde_json::Value = serde_json::from_slice(req.body()).unwrap();
        assert_eq!(body["propagationPolicy"], "Foreground");
        for (p, s) in [
            (PropagationPolicy::Orphan, "Orphan"),
            (PropagationPolicy::Background, "Background"),
        ] {
            assert_eq!(p.as_str(), s);
        }
    }
}
