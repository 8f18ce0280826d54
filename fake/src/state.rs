//! The server's state and the semantics of every verb on objects.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::discovery::Snapshot;
use crate::patch;
use crate::registry::{Registry, ResKey, ResourceInfo};
use crate::schema::Schemas;
use crate::selectors::Filter;
use crate::status::StatusError;
use crate::store::{obj_key, render, ChangeType, Store};
use crate::validation::{check_name, rule_for};

pub(crate) type Result<T> = std::result::Result<T, StatusError>;

/// The query parameters of a request.
#[derive(Debug, Default, Clone)]
pub(crate) struct Query {
    pub pairs: Vec<(String, String)>,
}

impl Query {
    pub fn parse(query: Option<&str>) -> Query {
        let mut pairs = Vec::new();
        for part in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            pairs.push((decode(k), decode(v)));
        }
        Query { pairs }
    }
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1"))
    }
    pub fn dry_run(&self) -> Result<bool> {
        match self.get("dryRun") {
            None | Some("") => Ok(false),
            Some("All") => Ok(true),
            Some(other) => Err(StatusError::bad_request(format!(
                "Invalid dry run value: {other}; supported values: All"
            ))),
        }
    }
}

pub(crate) struct State {
    pub store: Store,
    pub registry: Registry,
    pub schemas: Schemas,
    pub snapshot: Snapshot,
    /// How far the clock was moved by `advance_time`.
    pub offset: Duration,
    /// A fixed start time, if the test asked for one.
    pub epoch: Option<jiff::Timestamp>,
}

/// Kinds whose metadata.generation the server maintains (built-in strategies that set it).
fn has_generation(info: &ResourceInfo) -> bool {
    if info.custom {
        return true;
    }
    matches!(
        (info.group.as_str(), info.plural.as_str()),
        ("apps", _)
            | ("batch", _)
            | ("apiextensions.k8s.io", "customresourcedefinitions")
            | ("networking.k8s.io", "ingresses" | "networkpolicies")
            | ("policy", "poddisruptionbudgets")
            | ("autoscaling", "horizontalpodautoscalers")
            | ("", "replicationcontrollers" | "pods")
    )
}

pub(crate) fn random_uid() -> String {
    let b: [u8; 16] = rand::random();
    format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-4{:01x}{:02x}-{:01x}{:01x}{:02x}-{}",
        b[0],
        b[1],
        b[2],
        b[3],
        b[4],
        b[5],
        b[6] & 0xf,
        b[7],
        8 | (b[8] & 3),
        b[9] & 0xf,
        b[10],
        b[11..16]
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>()
            + "00"
    )
}

fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..5)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// The spec-ish part whose change bumps generation: everything but metadata and status.
fn spec_part(object: &Value, info: &ResourceInfo) -> Value {
    let mut v = object.clone();
    if let Some(map) = v.as_object_mut() {
        map.remove("metadata");
        map.remove("apiVersion");
        map.remove("kind");
        if info.status || !info.custom {
            map.remove("status");
        }
    }
    v
}

fn finalizers(object: &Value) -> Vec<String> {
    object["metadata"]["finalizers"]
        .as_array()
        .map(|f| {
            f.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn meta<'a>(object: &'a Value, field: &str) -> &'a str {
    object["metadata"][field].as_str().unwrap_or("")
}

/// What a write answers.
pub(crate) struct Written {
    pub code: u16,
    pub body: Value,
}

impl State {
    pub fn now(&self) -> jiff::Timestamp {
        let base = self.epoch.unwrap_or_else(jiff::Timestamp::now);
        let offset = jiff::SignedDuration::try_from(self.offset).unwrap_or_default();
        base.checked_add(offset).unwrap_or(base)
    }

    pub fn now_str(&self) -> String {
        format_ts(self.now())
    }

    fn ns_check(&self, info: &ResourceInfo, ns: &str, name: &str) -> Result<()> {
        if !info.namespaced {
            return Ok(());
        }
        let key: ResKey = (String::new(), "namespaces".into());
        match self.store.get(&key, "", ns) {
            None => Err(StatusError::not_found("", "namespaces", ns)),
            Some(n) if !n["metadata"]["deletionTimestamp"].is_null() => Err(StatusError::forbidden(
                &info.group,
                &info.plural,
                name,
                &format!("unable to create new content in namespace {ns} because it is being terminated"),
            )
            .with_cause(json!({"reason": "NamespaceTerminating", "message": format!("namespace {ns} is being terminated"), "field": "metadata.namespace"}))),
            Some(_) => Ok(()),
        }
    }

    /// Checks the body's apiVersion, kind and namespace against the request, fills them in.
    fn check_body(&self, info: &ResourceInfo, ns: &str, body: &mut Value) -> Result<()> {
        if !body.is_object() {
            return Err(StatusError::bad_request(
                "the body of the request was not a JSON object",
            ));
        }
        let expected = info.api_version();
        match body["apiVersion"].as_str() {
            Some(v) if v != expected => {
                return Err(StatusError::bad_request(format!(
                    "the API version in the data ({v}) does not match the expected API version ({expected})"
                )))
            }
            _ => body["apiVersion"] = json!(expected),
        }
        match body["kind"].as_str() {
            Some(k) if k != info.kind => {
                return Err(StatusError::bad_request(format!(
                    "the kind in the data ({k}) does not match the expected kind ({})",
                    info.kind
                )))
            }
            _ => body["kind"] = json!(info.kind),
        }
        if !body["metadata"].is_object() {
            body["metadata"] = json!({});
        }
        if info.namespaced {
            match body["metadata"]["namespace"].as_str() {
                Some(n) if !n.is_empty() && n != ns => {
                    return Err(StatusError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ))
                }
                _ => body["metadata"]["namespace"] = json!(ns),
            }
        } else if let Some(m) = body["metadata"].as_object_mut() {
            m.remove("namespace");
        }
        Ok(())
    }

    fn validate(&self, info: &ResourceInfo, object: &Value) -> Result<()> {
        let name = meta(object, "name");
        let mut causes = Vec::new();
        if name.is_empty() {
            causes.push((
                "metadata.name".to_string(),
                "FieldValueRequired",
                "Required value: name or generateName is required".to_string(),
            ));
        } else {
            for message in check_name(rule_for(&info.group, &info.plural), name) {
                causes.push((
                    "metadata.name".to_string(),
                    "FieldValueInvalid",
                    format!("Invalid value: \"{name}\": {message}"),
                ));
            }
        }
        if info.group.is_empty() && matches!(info.plural.as_str(), "configmaps" | "secrets") {
            for field in ["data", "binaryData", "stringData"] {
                for key in object[field].as_object().into_iter().flat_map(|m| m.keys()) {
                    let valid = !key.is_empty()
                        && key.len() <= 253
                        && key
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
                    if !valid {
                        causes.push((
                            format!("{field}[{key}]"),
                            "FieldValueInvalid",
                            format!("Invalid value: \"{key}\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (regex used for validation is '[-._a-zA-Z0-9]+')"),
                        ));
                    }
                }
            }
        }
        if info.group == "apps"
            && matches!(
                info.plural.as_str(),
                "deployments" | "replicasets" | "statefulsets" | "daemonsets"
            )
        {
            // The selector's matchLabels must select the template (matchExpressions are
            // not checked).
            let template = &object["spec"]["template"]["metadata"]["labels"];
            let selects = object["spec"]["selector"]["matchLabels"]
                .as_object()
                .is_none_or(|m| m.iter().all(|(k, v)| template.get(k) == Some(v)));
            if !selects {
                causes.push((
                    "spec.template.metadata.labels".to_string(),
                    "FieldValueInvalid",
                    format!(
                        "Invalid value: {}: `selector` does not match template `labels`",
                        template
                    ),
                ));
            }
        }
        let gvk = k8s_client::api::GroupVersionKind::new(&info.group, &info.version, &info.kind);
        for field in self.schemas.missing_required(&gvk, object) {
            causes.push((field, "FieldValueRequired", "Required value".to_string()));
        }
        if causes.is_empty() {
            Ok(())
        } else {
            Err(StatusError::invalid(&info.group, &info.kind, name, &causes))
        }
    }

    fn gvk(info: &ResourceInfo) -> k8s_client::api::GroupVersionKind {
        k8s_client::api::GroupVersionKind::new(&info.group, &info.version, &info.kind)
    }

    /// create
    pub fn create(
        &mut self,
        info: &ResourceInfo,
        ns: &str,
        mut body: Value,
        dry_run: bool,
        manager: &str,
    ) -> Result<Written> {
        self.check_body(info, ns, &mut body)?;
        let now = self.now_str();
        if meta(&body, "name").is_empty() {
            let prefix = meta(&body, "generateName").to_string();
            if !prefix.is_empty() {
                body["metadata"]["name"] = json!(format!("{prefix}{}", random_suffix()));
            }
        }
        self.validate(info, &body)?;
        let name = meta(&body, "name").to_string();
        self.ns_check(info, ns, &name)?;
        if self
            .store
            .get(&info.key(), if info.namespaced { ns } else { "" }, &name)
            .is_some()
        {
            return Err(StatusError::already_exists(
                &info.group,
                &info.plural,
                &name,
            ));
        }
        let m = body["metadata"]
            .as_object_mut()
            .ok_or_else(|| StatusError::internal("metadata"))?;
        m.insert("uid".into(), json!(random_uid()));
        m.insert("creationTimestamp".into(), json!(now));
        for f in [
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
        ] {
            m.remove(f);
        }
        if has_generation(info) {
            m.insert("generation".into(), json!(1));
        } else {
            m.remove("generation");
        }
        self.prepare_create(info, &mut body, &now);
        crate::defaults::apply(info, &mut body);
        let gvk = Self::gvk(info);
        patch::record_update(&self.schemas, &gvk, None, &mut body, manager, "", &now)
            .map_err(|e| StatusError::internal(e.to_string()))?;
        crate::defaults::allocate(info, None, &mut body);
        if dry_run {
            body["metadata"]["resourceVersion"] = json!("");
            if let Some(m) = body["metadata"].as_object_mut() {
                m.remove("resourceVersion");
            }
            return Ok(Written {
                code: 201,
                body: render(&body, info),
            });
        }
        let stored = self.store.commit(&info.key(), ChangeType::Added, body);
        Ok(Written {
            code: 201,
            body: render(&stored, info),
        })
    }

    /// Per-kind preparation of a new object (what the real strategies do on create).
    fn prepare_create(&self, info: &ResourceInfo, body: &mut Value, _now: &str) {
        if info.custom && info.status {
            if let Some(m) = body.as_object_mut() {
                m.remove("status");
            }
        }
        match (info.group.as_str(), info.plural.as_str()) {
            ("", "namespaces") => {
                body["spec"] = json!({"finalizers": ["kubernetes"]});
                body["status"] = json!({"phase": "Active"});
                let name = meta(body, "name").to_string();
                if body["metadata"]["labels"].is_null() {
                    body["metadata"]["labels"] = json!({});
                }
                body["metadata"]["labels"]["kubernetes.io/metadata.name"] = json!(name);
            }
            ("", "pods") => {
                body["status"] = json!({"phase": "Pending", "qosClass": qos_class(&body["spec"])});
            }
            ("apps", _) | ("batch", _) => {
                body["status"] = json!({});
            }
            _ => {}
        }
    }

    pub fn get(
        &self,
        info: &ResourceInfo,
        ns: &str,
        name: &str,
        rv: Option<&str>,
    ) -> Result<Value> {
        if let Some(rv) = rv.filter(|r| !r.is_empty() && *r != "0") {
            let asked: u64 = rv.parse().map_err(|_| invalid_rv(rv))?;
            if asked > self.store.rv {
                return Err(StatusError::too_large_rv(asked, self.store.rv));
            }
        }
        self.store
            .get(&info.key(), ns, name)
            .map(|o| render(&o, info))
            .ok_or_else(|| StatusError::not_found(&info.group, &info.plural, name))
    }

    /// list (also the initial state of watches).
    pub fn list(&self, info: &ResourceInfo, ns: Option<&str>, q: &Query) -> Result<Value> {
        let filter = Filter::new(q.get("labelSelector"), q.get("fieldSelector"), info)?;
        let limit: usize = match q.get("limit") {
            Some(l) if !l.is_empty() => l
                .parse()
                .map_err(|_| StatusError::bad_request(format!("invalid limit {l}")))?,
            _ => 0,
        };
        let rv_param = q.get("resourceVersion").filter(|s| !s.is_empty());
        let rv_match = q.get("resourceVersionMatch").filter(|s| !s.is_empty());
        let (at, start) = if let Some(token) = q.get("continue").filter(|s| !s.is_empty()) {
            if rv_param.is_some() {
                return Err(StatusError::invalid_query(
                    "resourceVersion",
                    "specifying resource version is not allowed when using continue",
                ));
            }
            let (rv, start) = decode_continue(token)?;
            (rv, Some(start))
        } else {
            let at = match (rv_param, rv_match) {
                (None, Some(_)) => {
                    return Err(StatusError::invalid_query(
                        "resourceVersionMatch",
                        "resourceVersionMatch is forbidden unless resourceVersion is provided",
                    ))
                }
                (None, None) | (Some("0"), None) => self.store.rv,
                (Some(r), m) => {
                    let asked: u64 = r.parse().map_err(|_| invalid_rv(r))?;
                    match m {
                        Some("Exact") => {
                            if asked == 0 {
                                return Err(StatusError::invalid_query("resourceVersionMatch", "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\""));
                            }
                            if asked > self.store.rv {
                                return Err(StatusError::too_large_rv(asked, self.store.rv));
                            }
                            asked
                        }
                        None | Some("NotOlderThan") => {
                            if asked > self.store.rv {
                                return Err(StatusError::too_large_rv(asked, self.store.rv));
                            }
                            self.store.rv
                        }
                        Some(other) => {
                            return Err(StatusError::invalid_query("resourceVersionMatch", &format!("Unsupported value: \"{other}\": supported values: \"Exact\", \"NotOlderThan\"")))
                        }
                    }
                }
            };
            (at, None)
        };
        let snapshot = self.store.snapshot(&info.key(), at).ok_or_else(|| {
            if start.is_some() {
                StatusError::expired("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.")
            } else {
                StatusError::expired("The resourceVersion for the provided list is too old.")
            }
        })?;
        let mut items = Vec::new();
        let mut remaining = 0usize;
        let mut next: Option<(String, String)> = None;
        for ((ons, oname), object) in snapshot.iter() {
            if let Some(ns) = ns {
                if ons != ns {
                    continue;
                }
            }
            if let Some(start) = &start {
                if (ons, oname) <= (&start.0, &start.1) {
                    continue;
                }
            }
            if !filter.matches(object, info) {
                continue;
            }
            if limit > 0 && items.len() >= limit {
                remaining += 1;
                continue;
            }
            if limit > 0 && items.len() + 1 == limit {
                next = Some((ons.clone(), oname.clone()));
            }
            let mut item = render(object, info);
            if !info.custom {
                if let Some(m) = item.as_object_mut() {
                    m.remove("apiVersion");
                    m.remove("kind");
                }
            }
            items.push(item);
        }
        let mut metadata = json!({"resourceVersion": at.to_string()});
        if remaining > 0 {
            if let Some(next) = next {
                metadata["continue"] = json!(encode_continue(at, &next));
                if filter.labels.is_none() && filter.fields.is_empty() {
                    metadata["remainingItemCount"] = json!(remaining);
                }
            }
        }
        Ok(json!({
            "kind": format!("{}List", info.kind),
            "apiVersion": info.api_version(),
            "metadata": metadata,
            "items": items,
        }))
    }

    /// update (PUT) of the object or of a subresource (`status`).
    #[allow(clippy::too_many_arguments)]
    pub fn update(
        &mut self,
        info: &ResourceInfo,
        ns: &str,
        name: &str,
        mut body: Value,
        sub: &str,
        dry_run: bool,
        manager: &str,
    ) -> Result<Written> {
        self.check_body(info, ns, &mut body)?;
        let body_name = meta(&body, "name");
        if !body_name.is_empty() && body_name != name {
            return Err(StatusError::bad_request(
                "the name of the object (".to_string()
                    + body_name
                    + ") does not match the name on the URL ("
                    + name
                    + ")",
            ));
        }
        body["metadata"]["name"] = json!(name);
        let old = self
            .store
            .get(&info.key(), ns, name)
            .ok_or_else(|| StatusError::not_found(&info.group, &info.plural, name))?;
        let given = meta(&body, "resourceVersion");
        if !given.is_empty() && given != meta(&old, "resourceVersion") {
            return Err(StatusError::modified(&info.group, &info.plural, name));
        }
        if given.is_empty() && info.custom {
            return Err(StatusError::invalid(
                &info.group,
                &info.kind,
                name,
                &[(
                    "metadata.resourceVersion".into(),
                    "FieldValueInvalid",
                    "Invalid value: 0x0: must be specified for an update".into(),
                )],
            ));
        }
        self.write_update(info, &old, body, sub, dry_run, manager)
    }

    /// The common part of update and patch: carries over what the client may not change,
    /// bumps generation, skips no-op writes, completes deletion when the last finalizer goes.
    pub fn write_update(
        &mut self,
        info: &ResourceInfo,
        old: &Arc<Value>,
        mut new: Value,
        sub: &str,
        dry_run: bool,
        manager: &str,
    ) -> Result<Written> {
        let name = meta(old, "name").to_string();
        // What the client may not change.
        if sub == "status" {
            let mut merged = (**old).clone();
            merged["status"] = new["status"].take();
            if merged["status"].is_null() {
                if let Some(m) = merged.as_object_mut() {
                    m.remove("status");
                }
            }
            new = merged;
        } else if info.status {
            match old.get("status") {
                Some(s) => new["status"] = s.clone(),
                None => {
                    if let Some(m) = new.as_object_mut() {
                        m.remove("status");
                    }
                }
            }
        }
        for f in [
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ] {
            match old["metadata"].get(f) {
                Some(v) => new["metadata"][f] = v.clone(),
                None => {
                    if let Some(m) = new["metadata"].as_object_mut() {
                        m.remove(f);
                    }
                }
            }
        }
        if let Some(m) = new["metadata"].as_object_mut() {
            m.remove("selfLink");
        }
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"].clone();
        if info.namespaced {
            new["metadata"]["namespace"] = old["metadata"]["namespace"].clone();
        }
        if info.plural == "namespaces" && info.group.is_empty() && sub != "finalize" {
            new["spec"] = old["spec"].clone();
        }
        // A terminating object cannot gain finalizers? (the server allows removing only).
        if !old["metadata"]["deletionTimestamp"].is_null() {
            let old_f = finalizers(old);
            let added: Vec<String> = finalizers(&new)
                .into_iter()
                .filter(|f| !old_f.contains(f))
                .collect();
            if !added.is_empty() {
                return Err(StatusError::invalid(
                    &info.group,
                    &info.kind,
                    &name,
                    &[("metadata.finalizers".into(), "FieldValueForbidden", format!("Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}", added.iter().map(|f| format!("\"{f}\"")).collect::<Vec<_>>().join(", ")))],
                ));
            }
        }
        crate::defaults::apply(info, &mut new);
        self.validate(info, &new)?;
        immutable_fields(info, old, &new)?;
        if has_generation(info) && spec_part(old, info) != spec_part(&new, info) {
            let g = old["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
            new["metadata"]["generation"] = json!(g);
        }
        let now = self.now_str();
        let gvk = Self::gvk(info);
        patch::record_update(&self.schemas, &gvk, Some(old), &mut new, manager, sub, &now)
            .map_err(|e| StatusError::internal(e.to_string()))?;
        crate::defaults::allocate(info, Some(old), &mut new);
        self.commit_update(info, old, new, dry_run)
    }

    /// Stores an updated object (unless nothing changed), deleting it when it is
    /// terminating and has no finalizers left.
    pub fn commit_update(
        &mut self,
        info: &ResourceInfo,
        old: &Arc<Value>,
        new: Value,
        dry_run: bool,
    ) -> Result<Written> {
        if new == **old {
            return Ok(Written {
                code: 200,
                body: render(old, info),
            });
        }
        if dry_run {
            return Ok(Written {
                code: 200,
                body: render(&new, info),
            });
        }
        let spec_finalizers = new["spec"]["finalizers"]
            .as_array()
            .is_some_and(|f| !f.is_empty())
            && info.group.is_empty()
            && info.plural == "namespaces";
        if !new["metadata"]["deletionTimestamp"].is_null()
            && finalizers(&new).is_empty()
            && !spec_finalizers
            && !self.graceful_pending(&new)
        {
            // As the server: the answer carries the last stored resourceVersion (the
            // DELETED event carries the deletion's).
            let answer = render(&new, info);
            self.store.commit(&info.key(), ChangeType::Deleted, new);
            return Ok(Written {
                code: 200,
                body: answer,
            });
        }
        let stored = self.store.commit(&info.key(), ChangeType::Modified, new);
        Ok(Written {
            code: 200,
            body: render(&stored, info),
        })
    }

    /// A pod whose grace period has not run out yet.
    fn graceful_pending(&self, object: &Value) -> bool {
        let Some(ts) = object["metadata"]["deletionTimestamp"].as_str() else {
            return false;
        };
        match ts.parse::<jiff::Timestamp>() {
            Ok(t) => t > self.now(),
            Err(_) => false,
        }
    }

    /// PATCH of any type, on the object or a subresource.
    #[allow(clippy::too_many_arguments)]
    pub fn patch(
        &mut self,
        info: &ResourceInfo,
        ns: &str,
        name: &str,
        content_type: &str,
        patch_body: &[u8],
        sub: &str,
        q: &Query,
    ) -> Result<Written> {
        let dry_run = q.dry_run()?;
        let manager = q.get("fieldManager").unwrap_or("").to_string();
        let ct = content_type.split(';').next().unwrap_or("").trim();
        let gvk = Self::gvk(info);
        let old = self.store.get(&info.key(), ns, name);
        if ct == "application/apply-patch+yaml" || ct == "application/apply-patch+cbor" {
            if manager.is_empty() {
                return Err(StatusError::invalid(
                    "meta.k8s.io",
                    "PatchOptions",
                    "",
                    &[(
                        "fieldManager".into(),
                        "FieldValueRequired",
                        "Required value: is required for apply patch".into(),
                    )],
                ));
            }
            let applied: Value = serde_yaml_ng::from_slice(patch_body)
                .map_err(|e| StatusError::bad_request(format!("error decoding YAML: {e}")))?;
            let mut applied = applied;
            self.check_body(info, ns, &mut applied)?;
            let applied_name = meta(&applied, "name");
            if !applied_name.is_empty() && applied_name != name {
                return Err(StatusError::bad_request(format!(
                    "the name of the object ({applied_name}) does not match the name on the URL ({name})"
                )));
            }
            applied["metadata"]["name"] = json!(name);
            let force = q.flag("force");
            let now = self.now_str();
            let live = old.as_deref();
            let merged = patch::apply(&self.schemas, &gvk, live, &applied, &manager, force, &now)
                .map_err(|e| apply_error(e, info, name))?;
            return match old {
                None => {
                    if !sub.is_empty() {
                        return Err(StatusError::not_found(&info.group, &info.plural, name));
                    }
                    self.create_applied(info, ns, merged, dry_run)
                }
                Some(old) => {
                    let given = meta(&applied, "resourceVersion");
                    if !given.is_empty() && given != meta(&old, "resourceVersion") {
                        return Err(StatusError::modified(&info.group, &info.plural, name));
                    }
                    self.write_update_raw(info, &old, merged, sub, dry_run)
                }
            };
        }
        let old = old.ok_or_else(|| StatusError::not_found(&info.group, &info.plural, name))?;
        let patch_value: Value = serde_json::from_slice(patch_body)
            .map_err(|e| StatusError::bad_request(format!("error decoding patch: {e}")))?;
        let current = render(&old, info);
        let patched = match ct {
            "application/json-patch+json" => patch::json_patch(&current, &patch_value),
            "application/merge-patch+json" => patch::merge_patch(&current, &patch_value),
            "application/strategic-merge-patch+json" => {
                if info.custom {
                    return Err(StatusError::new(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"));
                }
                patch::strategic_merge_patch(&self.schemas, &gvk, &current, &patch_value)
            }
            other => {
                return Err(StatusError::new(415, "UnsupportedMediaType", format!(
                    "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {other})"
                )))
            }
        }
        .map_err(|e| StatusError::new(e.status_code(), reason_of(e.status_code()), e.to_string()))?;
        let mut patched = patched;
        let given = meta(&patched, "resourceVersion").to_string();
        if !given.is_empty() && given != meta(&old, "resourceVersion") {
            return Err(StatusError::modified(&info.group, &info.plural, name));
        }
        if meta(&patched, "name") != name {
            return Err(StatusError::bad_request(
                "metadata.name cannot be changed by a patch",
            ));
        }
        self.check_body(info, ns, &mut patched)?;
        self.write_update(
            info,
            &old,
            patched,
            sub,
            dry_run,
            if manager.is_empty() {
                "unknown"
            } else {
                &manager
            },
        )
    }

    /// write_update without recording managed fields (apply did).
    fn write_update_raw(
        &mut self,
        info: &ResourceInfo,
        old: &Arc<Value>,
        mut new: Value,
        sub: &str,
        dry_run: bool,
    ) -> Result<Written> {
        if sub == "status" {
            let mut merged = (**old).clone();
            merged["status"] = new["status"].take();
            merged["metadata"]["managedFields"] = new["metadata"]["managedFields"].take();
            new = merged;
        } else if info.status {
            match old.get("status") {
                Some(s) => new["status"] = s.clone(),
                None => {
                    if let Some(m) = new.as_object_mut() {
                        m.remove("status");
                    }
                }
            }
        }
        for f in [
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "resourceVersion",
        ] {
            match old["metadata"].get(f) {
                Some(v) => new["metadata"][f] = v.clone(),
                None => {
                    if let Some(m) = new["metadata"].as_object_mut() {
                        m.remove(f);
                    }
                }
            }
        }
        crate::defaults::apply(info, &mut new);
        self.validate(info, &new)?;
        immutable_fields(info, old, &new)?;
        if has_generation(info) && spec_part(old, info) != spec_part(&new, info) {
            let g = old["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
            new["metadata"]["generation"] = json!(g);
        }
        self.commit_update(info, old, new, dry_run)
    }

    fn create_applied(
        &mut self,
        info: &ResourceInfo,
        ns: &str,
        mut body: Value,
        dry_run: bool,
    ) -> Result<Written> {
        let now = self.now_str();
        self.validate(info, &body)?;
        let name = meta(&body, "name").to_string();
        self.ns_check(info, ns, &name)?;
        let m = body["metadata"]
            .as_object_mut()
            .ok_or_else(|| StatusError::internal("metadata"))?;
        m.insert("uid".into(), json!(random_uid()));
        m.insert("creationTimestamp".into(), json!(now));
        if has_generation(info) {
            m.insert("generation".into(), json!(1));
        }
        self.prepare_create(info, &mut body, &now);
        crate::defaults::apply(info, &mut body);
        if dry_run {
            return Ok(Written {
                code: 201,
                body: render(&body, info),
            });
        }
        let stored = self.store.commit(&info.key(), ChangeType::Added, body);
        Ok(Written {
            code: 201,
            body: render(&stored, info),
        })
    }

    /// DELETE of one object.
    pub fn delete(
        &mut self,
        info: &ResourceInfo,
        ns: &str,
        name: &str,
        options: &Value,
        q: &Query,
    ) -> Result<Written> {
        let dry_run = q.dry_run()?
            || options["dryRun"]
                .as_array()
                .is_some_and(|d| d.iter().any(|v| v == "All"));
        let old = self
            .store
            .get(&info.key(), ns, name)
            .ok_or_else(|| StatusError::not_found(&info.group, &info.plural, name))?;
        if let Some(uid) = options["preconditions"]["uid"].as_str() {
            if uid != meta(&old, "uid") {
                return Err(StatusError::conflict(
                    &info.group,
                    &info.plural,
                    name,
                    &format!(
                        "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                        meta(&old, "uid")
                    ),
                ));
            }
        }
        if let Some(rv) = options["preconditions"]["resourceVersion"].as_str() {
            if rv != meta(&old, "resourceVersion") {
                return Err(StatusError::conflict(&info.group, &info.plural, name, &format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}", meta(&old, "resourceVersion")
                )));
            }
        }
        let policy = options["propagationPolicy"]
            .as_str()
            .map(String::from)
            .or_else(|| q.get("propagationPolicy").map(String::from))
            .or_else(|| {
                match options["orphanDependents"]
                    .as_bool()
                    .or_else(|| q.get("orphanDependents").map(|v| v == "true"))
                {
                    Some(true) => Some("Orphan".into()),
                    Some(false) => Some("Background".into()),
                    None => None,
                }
            });
        let grace: Option<i64> = options["gracePeriodSeconds"]
            .as_i64()
            .or_else(|| q.get("gracePeriodSeconds").and_then(|g| g.parse().ok()));
        let mut new = (*old).clone();
        let mut fins = finalizers(&old);
        match policy.as_deref() {
            Some("Orphan") if !fins.iter().any(|f| f == "orphan") => fins.push("orphan".into()),
            Some("Foreground") if !fins.iter().any(|f| f == "foregroundDeletion") => {
                fins.push("foregroundDeletion".into())
            }
            None | Some("Background") | Some("Orphan") | Some("Foreground") => {}
            Some(other) => {
                return Err(StatusError::invalid("meta.k8s.io", "DeleteOptions", "", &[(
                    "propagationPolicy".into(),
                    "FieldValueNotSupported",
                    format!("Unsupported value: \"{other}\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""),
                )]));
            }
        }
        if info.group == "apiextensions.k8s.io"
            && info.plural == "customresourcedefinitions"
            && !fins
                .iter()
                .any(|f| f == "customresourcecleanup.apiextensions.k8s.io")
        {
            fins.push("customresourcecleanup.apiextensions.k8s.io".into());
        }
        if info.group.is_empty() && info.plural == "namespaces" {
            // The namespace controller empties it, then it goes away.
            if new["metadata"]["deletionTimestamp"].is_null() {
                new["metadata"]["deletionTimestamp"] = json!(self.now_str());
                new["metadata"]["deletionGracePeriodSeconds"] = json!(0);
                new["status"]["phase"] = json!("Terminating");
                if !fins.is_empty() {
                    new["metadata"]["finalizers"] = json!(fins);
                }
            }
            return self.commit_update(info, &old, new, dry_run);
        }
        // Graceful deletion of pods bound to a node.
        let pod_grace =
            if info.group.is_empty() && info.plural == "pods" && !old["spec"]["nodeName"].is_null()
            {
                let g = grace
                    .or_else(|| old["spec"]["terminationGracePeriodSeconds"].as_i64())
                    .unwrap_or(30);
                (g > 0).then_some(g)
            } else {
                None
            };
        if !fins.is_empty() || pod_grace.is_some() {
            if new["metadata"]["deletionTimestamp"].is_null() {
                let g = pod_grace.unwrap_or(0);
                let at = self
                    .now()
                    .checked_add(jiff::SignedDuration::from_secs(g))
                    .unwrap_or(self.now());
                new["metadata"]["deletionTimestamp"] = json!(format_ts(at));
                new["metadata"]["deletionGracePeriodSeconds"] = json!(g);
            }
            if fins.is_empty() {
                if let Some(m) = new["metadata"].as_object_mut() {
                    m.remove("finalizers");
                }
            } else {
                new["metadata"]["finalizers"] = json!(fins);
            }
            if new == *old {
                return Ok(Written {
                    code: 200,
                    body: render(&old, info),
                });
            }
            if dry_run {
                return Ok(Written {
                    code: 200,
                    body: render(&new, info),
                });
            }
            let stored = self.store.commit(&info.key(), ChangeType::Modified, new);
            return Ok(Written {
                code: 200,
                body: render(&stored, info),
            });
        }
        if dry_run {
            return Ok(Written {
                code: 200,
                body: self.deleted_answer(info, &old),
            });
        }
        let stored = self.store.commit(&info.key(), ChangeType::Deleted, new);
        Ok(Written {
            code: 200,
            body: self.deleted_answer(info, &stored),
        })
    }

    /// What DELETE answers once the object is gone: the object for the kinds whose storage
    /// returns it, else a Success status.
    fn deleted_answer(&self, info: &ResourceInfo, object: &Value) -> Value {
        let returns_object = info.custom
            || matches!(
                (info.group.as_str(), info.plural.as_str()),
                (
                    "",
                    "pods"
                        | "services"
                        | "namespaces"
                        | "persistentvolumes"
                        | "persistentvolumeclaims"
                ) | ("apiextensions.k8s.io", "customresourcedefinitions")
            );
        if returns_object {
            return render(object, info);
        }
        let mut details =
            json!({"name": meta(object, "name"), "kind": info.plural, "uid": meta(object, "uid")});
        if !info.group.is_empty() {
            details["group"] = json!(info.group);
        }
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details})
    }

    /// DELETE of a collection.
    pub fn delete_collection(
        &mut self,
        info: &ResourceInfo,
        ns: Option<&str>,
        options: &Value,
        q: &Query,
    ) -> Result<Value> {
        let mut list_q = q.clone();
        list_q
            .pairs
            .retain(|(k, _)| k == "labelSelector" || k == "fieldSelector");
        let list = self.list(info, ns, &list_q)?;
        let mut items = Vec::new();
        for item in list["items"].as_array().cloned().unwrap_or_default() {
            let (ons, oname) = obj_key(&item);
            if let Ok(w) = self.delete(info, &ons, &oname, options, q) {
                items.push(w.body);
            }
        }
        let mut out = json!({"kind": format!("{}List", info.kind), "apiVersion": info.api_version(), "metadata": {"resourceVersion": self.store.rv.to_string()}, "items": []});
        let _ = items;
        if !info.custom && !matches!(info.plural.as_str(), "pods" | "services") {
            out =
                json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"});
        }
        Ok(out)
    }

    /// GET of `/scale`.
    pub fn get_scale(&self, info: &ResourceInfo, ns: &str, name: &str) -> Result<Value> {
        let paths = info.scale.clone().ok_or_else(|| {
            StatusError::not_found(&info.group, &format!("{}/scale", info.plural), name)
        })?;
        let object = self
            .store
            .get(&info.key(), ns, name)
            .ok_or_else(|| StatusError::not_found(&info.group, &info.plural, name))?;
        let at = |path: &str| -> Value {
            let mut v: &Value = &object;
            for p in path.trim_start_matches('.').split('.') {
                v = &v[p];
            }
            v.clone()
        };
        let spec = at(&paths.spec_replicas);
        let status = at(&paths.status_replicas);
        let mut scale = json!({
            "kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {"name": name, "namespace": ns, "uid": object["metadata"]["uid"], "resourceVersion": object["metadata"]["resourceVersion"], "creationTimestamp": object["metadata"]["creationTimestamp"]},
            "spec": {"replicas": if spec.is_null() { json!(0) } else { spec }},
            "status": {"replicas": if status.is_null() { json!(0) } else { status }},
        });
        if let Some(sel) = &paths.label_selector {
            let s = at(sel);
            let text = match &s {
                Value::String(t) => t.clone(),
                Value::Object(_) => selector_string(&s),
                _ => String::new(),
            };
            if !text.is_empty() {
                scale["status"]["selector"] = json!(text);
            }
        }
        if !info.namespaced {
            if let Some(m) = scale["metadata"].as_object_mut() {
                m.remove("namespace");
            }
        }
        Ok(scale)
    }

    /// PUT of `/scale` (a Scale object): sets the replicas.
    pub fn update_scale(
        &mut self,
        info: &ResourceInfo,
        ns: &str,
        name: &str,
        scale: &Value,
        dry_run: bool,
    ) -> Result<Written> {
        let paths = info.scale.clone().ok_or_else(|| {
            StatusError::not_found(&info.group, &format!("{}/scale", info.plural), name)
        })?;
        let old = self
            .store
            .get(&info.key(), ns, name)
            .ok_or_else(|| StatusError::not_found(&info.group, &info.plural, name))?;
        let given = scale["metadata"]["resourceVersion"].as_str().unwrap_or("");
        if !given.is_empty() && given != meta(&old, "resourceVersion") {
            return Err(StatusError::modified(&info.group, &info.plural, name));
        }
        let replicas = scale["spec"]["replicas"].clone();
        let replicas = if replicas.is_null() {
            json!(0)
        } else {
            replicas
        };
        let mut new = (*old).clone();
        let parts: Vec<&str> = paths
            .spec_replicas
            .trim_start_matches('.')
            .split('.')
            .collect();
        let mut target = &mut new;
        for p in &parts[..parts.len().saturating_sub(1)] {
            if !target[*p].is_object() {
                target[*p] = json!({});
            }
            target = &mut target[*p];
        }
        if let Some(last) = parts.last() {
            target[*last] = replicas;
        }
        if has_generation(info) && spec_part(&old, info) != spec_part(&new, info) {
            let g = old["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
            new["metadata"]["generation"] = json!(g);
        }
        self.commit_update(info, &old, new, dry_run)?;
        Ok(Written {
            code: 200,
            body: if dry_run {
                scale.clone()
            } else {
                self.get_scale(info, ns, name)?
            },
        })
    }
}

fn selector_string(selector: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(m) = selector["matchLabels"].as_object() {
        for (k, v) in m {
            parts.push(format!("{k}={}", v.as_str().unwrap_or("")));
        }
    }
    if let Some(exprs) = selector["matchExpressions"].as_array() {
        for e in exprs {
            let key = e["key"].as_str().unwrap_or("");
            let values: Vec<&str> = e["values"]
                .as_array()
                .map(|v| v.iter().filter_map(|s| s.as_str()).collect())
                .unwrap_or_default();
            match e["operator"].as_str().unwrap_or("") {
                "In" => parts.push(format!("{key} in ({})", values.join(","))),
                "NotIn" => parts.push(format!("{key} notin ({})", values.join(","))),
                "Exists" => parts.push(key.to_string()),
                "DoesNotExist" => parts.push(format!("!{key}")),
                _ => {}
            }
        }
    }
    parts.join(",")
}

fn qos_class(spec: &Value) -> &'static str {
    let containers: Vec<&Value> = spec["containers"]
        .as_array()
        .map(|c| c.iter().collect())
        .unwrap_or_default();
    let mut any = false;
    let mut guaranteed = !containers.is_empty();
    for c in &containers {
        let req = c["resources"]["requests"].as_object();
        let lim = c["resources"]["limits"].as_object();
        if req.is_some_and(|r| !r.is_empty()) || lim.is_some_and(|l| !l.is_empty()) {
            any = true;
        }
        let lim_ok = lim.is_some_and(|l| l.contains_key("cpu") && l.contains_key("memory"));
        let req_eq = match (req, lim) {
            (Some(r), Some(l)) => r.iter().all(|(k, v)| l.get(k) == Some(v)),
            (None, Some(_)) => true,
            _ => false,
        };
        if !(lim_ok && req_eq) {
            guaranteed = false;
        }
    }
    if !any {
        "BestEffort"
    } else if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

pub(crate) fn format_ts(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn invalid_rv(rv: &str) -> StatusError {
    StatusError::bad_request(format!("invalid resource version: {rv}"))
}

fn apply_error(e: patch::ApplyError, info: &ResourceInfo, name: &str) -> StatusError {
    match e {
        patch::ApplyError::Conflict { conflicts } => {
            let causes: Vec<Value> = conflicts
                .iter()
                .map(|(m, f)| json!({"reason": "FieldManagerConflict", "message": format!("conflict with \"{m}\""), "field": f}))
                .collect();
            let lines: Vec<String> = conflicts
                .iter()
                .map(|(m, f)| format!("- {m}: {f}"))
                .collect();
            let message = if conflicts.len() == 1 {
                format!(
                    "Apply failed with 1 conflict: conflict with \"{}\": {}",
                    conflicts[0].0, conflicts[0].1
                )
            } else {
                format!(
                    "Apply failed with {} conflicts: {}",
                    conflicts.len(),
                    lines.join("\n")
                )
            };
            let mut d = crate::status::details(&info.group, &info.plural, name);
            d["causes"] = json!(causes);
            StatusError::new(409, "Conflict", message).with_details(d)
        }
        other => StatusError::new(
            other.status_code(),
            reason_of(other.status_code()),
            other.to_string(),
        ),
    }
}

fn encode_continue(rv: u64, last: &(String, String)) -> String {
    use base64::Engine;
    let start = if last.0.is_empty() {
        format!("{}\u{0}", last.1)
    } else {
        format!("{}/{}\u{0}", last.0, last.1)
    };
    let token = json!({"v": "meta.k8s.io/v1", "rv": rv, "start": start});
    base64::engine::general_purpose::URL_SAFE.encode(token.to_string())
}

fn decode_continue(token: &str) -> Result<(u64, (String, String))> {
    use base64::Engine;
    let bad = || {
        // As the server's storage: a token that does not decode is a bad request.
        StatusError::bad_request("invalid continue token: continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
    };
    let raw = base64::engine::general_purpose::URL_SAFE
        .decode(token)
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    let rv = v["rv"].as_u64().ok_or_else(bad)?;
    let start = v["start"]
        .as_str()
        .ok_or_else(bad)?
        .trim_end_matches('\u{0}');
    let key = match start.split_once('/') {
        Some((ns, name)) => (ns.to_string(), name.to_string()),
        None => (String::new(), start.to_string()),
    };
    Ok((rv, key))
}

impl StatusError {
    pub(crate) fn with_cause(mut self, cause: Value) -> Self {
        let mut d = self.details.take().unwrap_or_else(|| json!({}));
        d["causes"] = json!([cause]);
        self.details = Some(d);
        self
    }

    /// An invalid list/watch option.
    pub(crate) fn invalid_query(field: &str, message: &str) -> Self {
        let message = format!("Forbidden: {message}");
        StatusError::new(422, "Invalid", format!("ListOptions.meta.k8s.io \"\" is invalid: {field}: {message}"))
            .with_details(json!({"group": "meta.k8s.io", "kind": "ListOptions", "causes": [{"reason": "FieldValueForbidden", "message": message, "field": field}]}))
    }
}

/// The Status reason the server gives with a patch or apply error's code.
fn reason_of(code: u16) -> &'static str {
    match code {
        400 => "BadRequest",
        409 => "Conflict",
        415 => "UnsupportedMediaType",
        422 => "Invalid",
        _ => "InternalError",
    }
}

/// The fields of ConfigMaps and Secrets that cannot change: their content once
/// `immutable` is true, and a Secret's `type`.
fn immutable_fields(info: &ResourceInfo, old: &Value, new: &Value) -> Result<()> {
    if !info.group.is_empty() || !matches!(info.plural.as_str(), "configmaps" | "secrets") {
        return Ok(());
    }
    let name = meta(old, "name");
    let mut causes = Vec::new();
    if old["immutable"] == json!(true) {
        for field in ["data", "binaryData"] {
            if old.get(field) != new.get(field) {
                causes.push((
                    field.to_string(),
                    "FieldValueForbidden",
                    "Forbidden: field is immutable when `immutable` is set".to_string(),
                ));
            }
        }
        if new["immutable"] != json!(true) {
            causes.push((
                "immutable".to_string(),
                "FieldValueForbidden",
                "Forbidden: field is immutable when `immutable` is set".to_string(),
            ));
        }
    }
    if info.plural == "secrets" && old.get("type") != new.get("type") {
        causes.push((
            "type".to_string(),
            "FieldValueInvalid",
            "Invalid value: field is immutable".to_string(),
        ));
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(StatusError::invalid(&info.group, &info.kind, name, &causes))
    }
}
