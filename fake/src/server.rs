//! [`FakeServer`]: the tower service, request routing, watches, hooks.

use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::StreamExt;
use k8s_client::client::{Body, ClientBuilder};
use k8s_client::{Client, Config};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::discovery::{self, Snapshot};
use crate::hooks::{matches, Action, AfterFn, BeforeFn, Outcome, Reaction, Reactor};
use crate::registry::ResourceInfo;
use crate::schema::Schemas;
use crate::selectors::Filter;
use crate::state::{Query, State, Written};
use crate::status::StatusError;
use crate::store::{bookmark, render, watch_event, Store, WatchMsg, Watcher};

/// Builds a [`FakeServer`].
#[derive(Debug, Clone)]
pub struct FakeServerBuilder {
    minor: String,
    history: usize,
    epoch: Option<jiff::Timestamp>,
}

impl FakeServerBuilder {
    /// How many changes the server remembers for watches from a resourceVersion, continue
    /// tokens and exact lists (default 10,000); older ones get `410 Gone`.
    pub fn history(mut self, changes: usize) -> Self {
        self.history = changes;
        self
    }

    /// Starts the server's clock at this time (RFC 3339) instead of the real time.
    pub fn start_time(mut self, rfc3339: &str) -> Result<Self, StatusError> {
        self.epoch =
            Some(rfc3339.parse().map_err(|e| {
                StatusError::bad_request(format!("invalid start time {rfc3339}: {e}"))
            })?);
        Ok(self)
    }

    /// The server.
    pub fn build(self) -> Result<FakeServer, StatusError> {
        let snapshot = Snapshot::load(&self.minor).ok_or_else(|| {
            StatusError::unsupported(format!(
                "Kubernetes minor {} (snapshots exist for {:?})",
                self.minor,
                discovery::minors()
            ))
        })?;
        let registry = snapshot.registry();
        let schemas = Schemas::from_openapi_v3(&snapshot.openapi_documents()).map_err(|e| {
            StatusError::internal(format!("the OpenAPI snapshot of {}: {e}", self.minor))
        })?;
        let mut state = State {
            store: Store::new(self.history),
            registry,
            schemas,
            snapshot,
            offset: Duration::ZERO,
            epoch: self.epoch,
        };
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let info = state
                .registry
                .get("", "v1", "namespaces")
                .cloned()
                .ok_or_else(|| StatusError::internal("no namespaces in the snapshot"))?;
            state.create(
                &info,
                "",
                json!({"metadata": {"name": ns}}),
                false,
                "kube-apiserver",
            )?;
        }
        Ok(FakeServer {
            inner: Arc::new(Inner {
                state: Mutex::new(state),
                before: RwLock::new(Vec::new()),
                after: RwLock::new(Vec::new()),
                actions: Mutex::new(Vec::new()),
            }),
        })
    }
}

struct Inner {
    state: Mutex<State>,
    before: RwLock<Vec<Reactor<BeforeFn>>>,
    after: RwLock<Vec<Reactor<AfterFn>>>,
    actions: Mutex<Vec<Action>>,
}

/// An in-memory API server: a `tower::Service` that a [`Client`] runs over (see
/// [`client`](FakeServer::client)). Clones share the same server.
#[derive(Clone)]
pub struct FakeServer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for FakeServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeServer").finish_non_exhaustive()
    }
}

/// The answer of a request before it becomes an HTTP response.
enum Answer {
    Json(u16, Value),
    Raw(u16, String, Bytes),
    Watch(mpsc::UnboundedReceiver<WatchMsg>, Option<Duration>),
}

fn error_answer(e: &StatusError) -> Answer {
    Answer::Json(e.code, e.to_status())
}

/// A parsed resource path.
#[derive(Debug, Clone, Default)]
struct Target {
    group: String,
    version: String,
    namespace: Option<String>,
    plural: String,
    name: Option<String>,
    sub: String,
}

fn parse_path(path: &str) -> Option<Target> {
    let segs: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let (group, version, rest) = match segs.first().map(String::as_str) {
        Some("api") if segs.len() >= 3 => (String::new(), segs[1].clone(), &segs[2..]),
        Some("apis") if segs.len() >= 4 => (segs[1].clone(), segs[2].clone(), &segs[3..]),
        _ => return None,
    };
    let mut t = Target {
        group,
        version,
        ..Target::default()
    };
    let rest: Vec<String> = rest.to_vec();
    let rest = if rest[0] == "namespaces"
        && rest.len() >= 3
        && !(rest.len() == 3 && (rest[2] == "status" || rest[2] == "finalize"))
    {
        t.namespace = Some(rest[1].clone());
        rest[2..].to_vec()
    } else {
        rest
    };
    t.plural = rest.first()?.clone();
    t.name = rest.get(1).cloned();
    t.sub = rest.get(2).cloned().unwrap_or_default();
    if rest.len() > 3 {
        return None;
    }
    Some(t)
}

impl FakeServer {
    /// A server with the built-in kinds of Kubernetes `minor` (`"1.36"`; see [`minors`](crate::minors)).
    pub fn new(minor: &str) -> Result<FakeServer, StatusError> {
        Self::builder(minor).build()
    }

    /// A builder for a server of Kubernetes `minor`.
    pub fn builder(minor: &str) -> FakeServerBuilder {
        FakeServerBuilder {
            minor: minor.to_string(),
            history: 10_000,
            epoch: None,
        }
    }

    /// A [`Client`] over this server (server URL `http://fake.invalid`, no credentials, no
    /// rate limit).
    pub fn client(&self) -> Client {
        let mut config = Config::new(http::Uri::from_static("http://fake.invalid"));
        config.rate_limit = None;
        ClientBuilder::new(config)
            .service(self.clone())
            .build()
            .expect("a client over an in-process service needs no I/O to build")
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds objects (JSON, with `apiVersion` and `kind`) as if created by a client, creating
    /// their namespaces when missing. Controllers run afterwards.
    pub fn seed(&self, objects: impl IntoIterator<Item = Value>) -> Result<(), StatusError> {
        let mut state = self.state();
        for object in objects {
            let api_version = object["apiVersion"].as_str().unwrap_or("");
            let kind = object["kind"].as_str().unwrap_or("");
            let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
            let info = state
                .registry
                .by_kind(group, version, kind)
                .cloned()
                .ok_or_else(|| StatusError::not_found(group, kind, ""))?;
            let ns = object["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default")
                .to_string();
            if info.namespaced {
                let ns_info = state.registry.get("", "v1", "namespaces").cloned();
                if let Some(ns_info) = ns_info {
                    if state.store.get(&ns_info.key(), "", &ns).is_none() {
                        state.create(
                            &ns_info,
                            "",
                            json!({"metadata": {"name": ns}}),
                            false,
                            "seed",
                        )?;
                    }
                }
            }
            state.create(&info, &ns, object, false, "seed")?;
            state.settle();
        }
        Ok(())
    }

    /// Adds typed objects (k8s-openapi types or anything serializable with apiVersion/kind).
    pub fn seed_typed<K: serde::Serialize>(
        &self,
        objects: impl IntoIterator<Item = K>,
    ) -> Result<(), StatusError> {
        let values: Result<Vec<Value>, _> = objects.into_iter().map(serde_json::to_value).collect();
        self.seed(values.map_err(|e| StatusError::bad_request(e.to_string()))?)
    }

    /// Adds the objects of a multi-document YAML text.
    pub fn seed_yaml(&self, yaml: &str) -> Result<(), StatusError> {
        use serde::Deserialize;
        let mut objects = Vec::new();
        for doc in serde_yaml_ng::Deserializer::from_str(yaml) {
            let v = Value::deserialize(doc)
                .map_err(|e| StatusError::bad_request(format!("invalid YAML: {e}")))?;
            if !v.is_null() {
                objects.push(v);
            }
        }
        self.seed(objects)
    }

    /// Every request received so far, oldest first.
    pub fn actions(&self) -> Vec<Action> {
        self.inner
            .actions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Forgets the recorded actions.
    pub fn clear_actions(&self) {
        self.inner
            .actions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Runs `reactor` before every request with `verb` (`"*"`: any) on `resource`
    /// (`"configmaps"`, `"deployments/status"`, `"*"`); the latest added runs first, and the
    /// first that does not [`Continue`](Reaction::Continue) decides.
    pub fn prepend_reactor(
        &self,
        verb: &str,
        resource: &str,
        reactor: impl Fn(&Action) -> Reaction + Send + Sync + 'static,
    ) {
        let mut list = self.inner.before.write().unwrap_or_else(|p| p.into_inner());
        list.insert(
            0,
            Reactor {
                verb: verb.into(),
                resource: resource.into(),
                f: Arc::new(reactor),
            },
        );
    }

    /// Runs `reactor` after every request with `verb` on `resource`, with its outcome; it may
    /// replace the answer (the request was executed) or delay it.
    pub fn append_after_reactor(
        &self,
        verb: &str,
        resource: &str,
        reactor: impl Fn(&Action, &Outcome) -> Reaction + Send + Sync + 'static,
    ) {
        let mut list = self.inner.after.write().unwrap_or_else(|p| p.into_inner());
        list.push(Reactor {
            verb: verb.into(),
            resource: resource.into(),
            f: Arc::new(reactor),
        });
    }

    /// Removes every reactor.
    pub fn clear_reactors(&self) {
        self.inner
            .before
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.inner
            .after
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Moves the server's clock forward (deletion grace periods run out), then runs the
    /// controllers.
    pub fn advance_time(&self, by: Duration) {
        let mut state = self.state();
        state.offset += by;
        state.settle();
    }

    /// Sends a BOOKMARK at the current resourceVersion on every watch that allows them.
    pub fn send_bookmarks(&self) {
        self.state().store.send_bookmarks();
    }

    /// Ends every open watch of `resource` (plural, with its group: `("apps", "deployments")`),
    /// as a server does when it restarts or times a watch out.
    pub fn close_watches(&self, group: &str, resource: &str) {
        self.state()
            .store
            .close_watches(Some(&(group.to_string(), resource.to_string())));
    }

    /// Runs the controllers (CRDs, namespaces, garbage collection, grace periods) until they
    /// have nothing left to do. They also run on their own soon after each write.
    pub fn settle(&self) {
        self.state().settle();
    }

    /// The server's current resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.state().store.rv
    }

    /// An object as stored (`None` when absent), by group, plural, namespace, name.
    pub fn object(
        &self,
        group: &str,
        resource: &str,
        namespace: &str,
        name: &str,
    ) -> Option<Value> {
        self.state()
            .store
            .get(&(group.to_string(), resource.to_string()), namespace, name)
            .map(|o| (*o).clone())
    }

    fn schedule_controllers(&self) {
        let server = self.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move {
                    tokio::task::yield_now().await;
                    server.settle();
                });
            }
            Err(_) => self.settle(),
        }
    }

    async fn serve(self, request: http::Request<Body>) -> http::Response<Body> {
        let (parts, body) = request.into_parts();
        let body_bytes = match body.as_bytes() {
            Some(b) => b.clone(),
            None => {
                use http_body_util::BodyExt;
                match body.collect().await {
                    Ok(c) => c.to_bytes(),
                    Err(e) => {
                        return respond(error_answer(&StatusError::bad_request(format!(
                            "unreadable body: {e}"
                        ))))
                    }
                }
            }
        };
        let accept = parts
            .headers
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let content_type = parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let path = parts.uri.path().to_string();
        let mut query = Query::parse(parts.uri.query());
        // As kube-apiserver: without a fieldManager, writes other than apply are recorded
        // under the User-Agent up to its first '/' (apply requires an explicit one).
        if query.get("fieldManager").is_none() && !content_type.contains("apply-patch") {
            let agent = parts
                .headers
                .get(http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .and_then(|ua| ua.split('/').next())
                .filter(|p| !p.is_empty());
            if let Some(agent) = agent {
                let agent: String = agent.chars().take(128).collect();
                query.pairs.push(("fieldManager".to_string(), agent));
            }
        }

        if let Some(answer) = self.discovery(&path, &accept) {
            return respond(answer);
        }
        if !accept.is_empty() && !accepts_json(&accept) {
            let e = StatusError::new(406, "NotAcceptable", format!(
                "only the following media types are accepted: application/json, application/yaml (in-memory server; asked for {accept})"
            ));
            return respond(error_answer(&e));
        }
        let first_choice = accept.split(',').next().unwrap_or("");
        if first_choice.contains("as=Table") {
            return respond(error_answer(&StatusError::unsupported(
                "Table output (as=Table)",
            )));
        }
        let metadata_only = first_choice.contains("as=PartialObjectMetadata");
        if content_type.contains("protobuf") && !body_bytes.is_empty() {
            let e = StatusError::new(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (in-memory server)");
            return respond(error_answer(&e));
        }
        let Some(target) = parse_path(&path) else {
            let e = StatusError::new(
                404,
                "NotFound",
                "the server could not find the requested resource",
            );
            return respond(error_answer(&e));
        };
        let verb = match (parts.method.as_str(), &target.name) {
            ("GET", None) if query.flag("watch") => "watch",
            ("GET", None) => "list",
            ("GET", Some(_)) => "get",
            ("POST", None) => "create",
            ("POST", Some(_)) => "create",
            ("PUT", _) => "update",
            ("PATCH", _) => "patch",
            ("DELETE", None) => "deletecollection",
            ("DELETE", Some(_)) => "delete",
            _ => "unknown",
        };
        let body_value: Option<Value> = if body_bytes.is_empty() {
            None
        } else if content_type.contains("yaml") {
            serde_yaml_ng::from_slice(&body_bytes).ok()
        } else {
            serde_json::from_slice(&body_bytes).ok()
        };
        let action = Action {
            verb: verb.to_string(),
            group: target.group.clone(),
            resource: target.plural.clone(),
            subresource: target.sub.clone(),
            namespace: target.namespace.clone().unwrap_or_default(),
            name: target.name.clone().unwrap_or_default(),
            body: body_value.clone(),
            query: parts.uri.query().unwrap_or("").to_string(),
        };
        self.inner
            .actions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(action.clone());
        let before: Vec<BeforeFn> = self
            .inner
            .before
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|r| matches(&r.verb, &r.resource, &action))
            .map(|r| r.f.clone())
            .collect();
        for reactor in before {
            match reactor(&action) {
                Reaction::Continue => {}
                Reaction::Delay(d) => tokio::time::sleep(d).await,
                Reaction::Fail(e) => return respond(error_answer(&e)),
                Reaction::Respond(v) => return respond(Answer::Json(200, v)),
            }
        }
        let answer = self.execute(
            verb,
            &target,
            &query,
            &content_type,
            &body_bytes,
            body_value,
        );
        let writes = matches!(
            verb,
            "create" | "update" | "patch" | "delete" | "deletecollection"
        );
        if writes {
            self.schedule_controllers();
        }
        let after: Vec<AfterFn> = self
            .inner
            .after
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|r| matches(&r.verb, &r.resource, &action))
            .map(|r| r.f.clone())
            .collect();
        if !after.is_empty() {
            let outcome = match &answer {
                Answer::Json(code, v) => Outcome {
                    code: *code,
                    body: v.clone(),
                },
                Answer::Raw(code, _, _) => Outcome {
                    code: *code,
                    body: Value::Null,
                },
                Answer::Watch(..) => Outcome {
                    code: 200,
                    body: Value::Null,
                },
            };
            for reactor in after {
                match reactor(&action, &outcome) {
                    Reaction::Continue => {}
                    Reaction::Delay(d) => tokio::time::sleep(d).await,
                    Reaction::Fail(e) => return respond(error_answer(&e)),
                    Reaction::Respond(v) => return respond(Answer::Json(200, v)),
                }
            }
        }
        respond(if metadata_only {
            to_metadata(answer)
        } else {
            answer
        })
    }

    fn discovery(&self, path: &str, accept: &str) -> Option<Answer> {
        let state = self.state();
        let aggregated = if accept.contains("g=apidiscovery.k8s.io")
            && accept.contains("as=APIGroupDiscoveryList")
        {
            // The first of the client's choices we serve.
            accept.split(',').find_map(|choice| {
                if choice.contains("v=v2;")
                    || choice.contains("v=v2 ")
                    || choice.ends_with("v=v2")
                    || choice.contains("v=v2,")
                {
                    Some((
                        "apidiscovery.k8s.io/v2",
                        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
                    ))
                } else if choice.contains("v=v2beta1") {
                    Some((
                        "apidiscovery.k8s.io/v2beta1",
                        "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList",
                    ))
                } else {
                    None
                }
            })
        } else {
            None
        };
        match path {
            "/api" | "/apis" | "/api/" | "/apis/" => {
                let p = path.trim_end_matches('/');
                if let Some((api_version, ct)) = aggregated {
                    let doc =
                        discovery::aggregated(&state.snapshot, &state.registry, p, api_version)?;
                    return Some(Answer::Raw(
                        200,
                        ct.to_string(),
                        Bytes::from(doc.to_string()),
                    ));
                }
                if p == "/apis" {
                    return discovery::apis(&state.snapshot, &state.registry)
                        .map(|d| Answer::Json(200, d));
                }
                let (ct, b) = state.snapshot.paths.get(p)?;
                Some(Answer::Raw(200, ct.clone(), b.clone()))
            }
            "/version" => {
                let (ct, b) = state.snapshot.paths.get(path)?;
                Some(Answer::Raw(200, ct.clone(), b.clone()))
            }
            p if p.starts_with("/openapi/") => match state.snapshot.paths.get(p) {
                Some((ct, b)) => Some(Answer::Raw(200, ct.clone(), b.clone())),
                None => Some(error_answer(&StatusError::new(
                    404,
                    "NotFound",
                    "the server could not find the requested resource",
                ))),
            },
            p => {
                let segs: Vec<&str> = p.trim_matches('/').split('/').collect();
                let gv = match segs.as_slice() {
                    ["api", v] => Some(("", *v)),
                    ["apis", g, v] => Some((*g, *v)),
                    ["apis", g] => {
                        let apis = discovery::apis(&state.snapshot, &state.registry)?;
                        let group = apis["groups"]
                            .as_array()?
                            .iter()
                            .find(|x| x["name"] == *g)?
                            .clone();
                        let mut group = group;
                        group["kind"] = json!("APIGroup");
                        group["apiVersion"] = json!("v1");
                        return Some(Answer::Json(200, group));
                    }
                    _ => None,
                }?;
                if let Some((ct, b)) = state.snapshot.paths.get(p) {
                    return Some(Answer::Raw(200, ct.clone(), b.clone()));
                }
                discovery::custom_group_version(&state.registry, gv.0, gv.1)
                    .map(|d| Answer::Json(200, d))
            }
        }
    }

    fn execute(
        &self,
        verb: &str,
        t: &Target,
        q: &Query,
        content_type: &str,
        raw: &[u8],
        body: Option<Value>,
    ) -> Answer {
        match self.execute_inner(verb, t, q, content_type, raw, body) {
            Ok(a) => a,
            Err(e) => error_answer(&e),
        }
    }

    fn execute_inner(
        &self,
        verb: &str,
        t: &Target,
        q: &Query,
        content_type: &str,
        raw: &[u8],
        body: Option<Value>,
    ) -> Result<Answer, StatusError> {
        let mut state = self.state();
        let info = state
            .registry
            .get(&t.group, &t.version, &t.plural)
            .cloned()
            .ok_or_else(|| {
                StatusError::new(
                    404,
                    "NotFound",
                    "the server could not find the requested resource",
                )
            })?;
        let ns = if info.namespaced {
            t.namespace.clone()
        } else {
            None
        };
        if info.namespaced && t.namespace.is_none() && t.name.is_some() {
            return Err(StatusError::new(
                404,
                "NotFound",
                "the server could not find the requested resource",
            ));
        }
        if !info.verbs.iter().any(|v| v == verb) && t.sub.is_empty() {
            return Err(StatusError::method_not_allowed(
                "the server does not allow this method on the requested resource",
            ));
        }
        let name = t.name.clone().unwrap_or_default();
        let ns_str = ns.clone().unwrap_or_default();
        match t.sub.as_str() {
            "" => {}
            "status" if info.status || (info.group.is_empty() && info.plural == "namespaces") => {}
            "finalize" if info.group.is_empty() && info.plural == "namespaces" => {}
            "scale" if info.scale.is_some() => {
                return match verb {
                    "get" => Ok(Answer::Json(200, state.get_scale(&info, &ns_str, &name)?)),
                    "update" => {
                        let body = body
                            .ok_or_else(|| StatusError::bad_request("a Scale body is required"))?;
                        let w = state.update_scale(&info, &ns_str, &name, &body, q.dry_run()?)?;
                        Ok(Answer::Json(w.code, w.body))
                    }
                    "patch" => {
                        let current = state.get_scale(&info, &ns_str, &name)?;
                        let patch: Value = serde_json::from_slice(raw).map_err(|e| {
                            StatusError::bad_request(format!("error decoding patch: {e}"))
                        })?;
                        let ct = content_type.split(';').next().unwrap_or("").trim();
                        let patched = match ct {
                            "application/json-patch+json" => {
                                crate::patch::json_patch(&current, &patch)
                            }
                            "application/merge-patch+json"
                            | "application/strategic-merge-patch+json" => {
                                crate::patch::merge_patch(&current, &patch)
                            }
                            other => {
                                return Err(StatusError::unsupported(format!(
                                    "{other} patches of /scale"
                                )))
                            }
                        }
                        .map_err(|e| StatusError::new(422, "Invalid", e.to_string()))?;
                        let w =
                            state.update_scale(&info, &ns_str, &name, &patched, q.dry_run()?)?;
                        Ok(Answer::Json(w.code, w.body))
                    }
                    _ => Err(StatusError::method_not_allowed(
                        "the server does not allow this method on the requested resource",
                    )),
                };
            }
            other => {
                return Err(StatusError::unsupported(format!(
                    "the subresource {}/{other}",
                    info.plural
                )));
            }
        }
        let manager = q.get("fieldManager").unwrap_or("").to_string();
        let written = |w: Written| Ok(Answer::Json(w.code, w.body));
        match verb {
            "get" => Ok(Answer::Json(
                200,
                state.get(&info, &ns_str, &name, q.get("resourceVersion"))?,
            )),
            "list" => Ok(Answer::Json(200, state.list(&info, ns.as_deref(), q)?)),
            "watch" => {
                let timeout = q
                    .get("timeoutSeconds")
                    .and_then(|s| s.parse::<u64>().ok())
                    .map(Duration::from_secs);
                let rx = open_watch(&mut state, &info, ns.as_deref(), q)?;
                Ok(Answer::Watch(rx, timeout))
            }
            "create" => {
                if t.name.is_some() {
                    return Err(StatusError::unsupported(format!(
                        "POST to {}/{}{}",
                        info.plural,
                        name,
                        if t.sub.is_empty() {
                            String::new()
                        } else {
                            format!("/{}", t.sub)
                        }
                    )));
                }
                let body = body.ok_or_else(|| {
                    StatusError::bad_request("the body of the request was empty or not JSON")
                })?;
                let m = if manager.is_empty() {
                    "unknown".to_string()
                } else {
                    manager
                };
                written(state.create(&info, &ns_str, body, q.dry_run()?, &m)?)
            }
            "update" => {
                let body = body.ok_or_else(|| {
                    StatusError::bad_request("the body of the request was empty or not JSON")
                })?;
                let m = if manager.is_empty() {
                    "unknown".to_string()
                } else {
                    manager
                };
                if t.sub.is_empty() {
                    written(state.update(&info, &ns_str, &name, body, "", q.dry_run()?, &m)?)
                } else {
                    written(state.update(&info, &ns_str, &name, body, &t.sub, q.dry_run()?, &m)?)
                }
            }
            "patch" => written(state.patch(&info, &ns_str, &name, content_type, raw, &t.sub, q)?),
            "delete" => {
                written(state.delete(&info, &ns_str, &name, &body.unwrap_or(Value::Null), q)?)
            }
            "deletecollection" => Ok(Answer::Json(
                200,
                state.delete_collection(&info, ns.as_deref(), &body.unwrap_or(Value::Null), q)?,
            )),
            other => Err(StatusError::method_not_allowed(format!(
                "the server does not allow the method for {other}"
            ))),
        }
    }
}

fn accepts_json(accept: &str) -> bool {
    accept.split(',').any(|c| {
        let mt = c.split(';').next().unwrap_or("").trim();
        matches!(
            mt,
            "application/json" | "*/*" | "application/*" | "application/yaml"
        )
    })
}

/// Registers a watch and queues its first events (under the state lock, so nothing is lost).
fn open_watch(
    state: &mut State,
    info: &ResourceInfo,
    ns: Option<&str>,
    q: &Query,
) -> Result<mpsc::UnboundedReceiver<WatchMsg>, StatusError> {
    let filter = Filter::new(q.get("labelSelector"), q.get("fieldSelector"), info)?;
    let bookmarks = q.flag("allowWatchBookmarks");
    let send_initial = q.get("sendInitialEvents").map(|v| v == "true");
    let rv = q.get("resourceVersion").filter(|s| !s.is_empty());
    if send_initial.is_some() {
        if q.get("resourceVersionMatch") != Some("NotOlderThan") {
            return Err(StatusError::invalid_query("sendInitialEvents", "sendInitialEvents is forbidden for watch unless resourceVersionMatch is set to NotOlderThan"));
        }
        if send_initial == Some(true) && !bookmarks {
            return Err(StatusError::invalid_query(
                "allowWatchBookmarks",
                "allowWatchBookmarks must be set to true when sendInitialEvents is set to true",
            ));
        }
    } else if q.get("resourceVersionMatch").is_some_and(|m| !m.is_empty()) {
        return Err(StatusError::invalid_query(
            "resourceVersionMatch",
            "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
        ));
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let watcher = Watcher {
        info: info.clone(),
        namespace: ns.map(String::from),
        filter,
        bookmarks,
        tx,
    };
    let initial = match (send_initial, rv) {
        (Some(true), _) => true,
        (Some(false), _) => false,
        (None, None) | (None, Some("0")) => true,
        (None, Some(_)) => false,
    };
    let current = state.store.rv;
    if initial {
        let mut list_q = Query::default();
        for k in ["labelSelector", "fieldSelector"] {
            if let Some(v) = q.get(k) {
                list_q.pairs.push((k.into(), v.into()));
            }
        }
        let list = state.list(info, ns, &list_q)?;
        for item in list["items"].as_array().cloned().unwrap_or_default() {
            let _ = watcher
                .tx
                .send(WatchMsg::Event("ADDED", render(&item, info)));
        }
        if send_initial == Some(true) {
            let _ = watcher
                .tx
                .send(WatchMsg::Event("BOOKMARK", bookmark(info, current, true)));
        }
    } else if let Some(rv) = rv.filter(|r| *r != "0") {
        let from: u64 = rv
            .parse()
            .map_err(|_| StatusError::bad_request(format!("invalid resource version: {rv}")))?;
        if from < state.store.compacted {
            let status = StatusError::expired(format!(
                "too old resource version: {from} ({})",
                state.store.compacted
            ))
            .to_status();
            let _ = watcher.tx.send(WatchMsg::Error(status));
            return Ok(rx);
        }
        for change in state.store.history.iter().filter(|c| c.rv > from) {
            if let Some((t, v)) = watch_event(&watcher, change) {
                let _ = watcher.tx.send(WatchMsg::Event(t, v));
            }
        }
    }
    state.store.watchers.push(watcher);
    Ok(rx)
}

/// An object or list as `PartialObjectMetadata(List)`.
fn partial(v: Value) -> Value {
    match v["kind"].as_str() {
        Some("Status") => v,
        _ if v.get("items").is_some() => {
            let items: Vec<Value> = v["items"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(partial)
                .collect();
            json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": v["metadata"], "items": items})
        }
        _ => {
            json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": v["metadata"]})
        }
    }
}

/// Answers metadata-only (the client asked for `as=PartialObjectMetadata[List]`).
fn to_metadata(answer: Answer) -> Answer {
    match answer {
        Answer::Json(code, v) if code < 300 => Answer::Json(code, partial(v)),
        Answer::Watch(mut rx, timeout) => {
            let (tx, out) = mpsc::unbounded_channel();
            tokio::spawn(async move {
                while let Some(msg) = rx.recv().await {
                    let msg = match msg {
                        WatchMsg::Event(t, v) => WatchMsg::Event(t, partial(v)),
                        other => other,
                    };
                    if tx.send(msg).is_err() {
                        break;
                    }
                }
            });
            Answer::Watch(out, timeout)
        }
        other => other,
    }
}

fn respond(answer: Answer) -> http::Response<Body> {
    let json_ct = "application/json";
    match answer {
        Answer::Json(code, v) => http::Response::builder()
            .status(code)
            .header(http::header::CONTENT_TYPE, json_ct)
            .body(Body::from(v.to_string()))
            .unwrap_or_default(),
        Answer::Raw(code, ct, b) => http::Response::builder()
            .status(code)
            .header(http::header::CONTENT_TYPE, ct)
            .body(Body::from(b))
            .unwrap_or_default(),
        Answer::Watch(rx, timeout) => {
            let events = futures::stream::unfold((rx, false), |(mut rx, done)| async move {
                if done {
                    return None;
                }
                match rx.recv().await {
                    Some(WatchMsg::Event(t, object)) => {
                        let line = json!({"type": t, "object": object}).to_string() + "\n";
                        Some((
                            Ok::<Bytes, std::convert::Infallible>(Bytes::from(line)),
                            (rx, false),
                        ))
                    }
                    Some(WatchMsg::Error(status)) => {
                        let line = json!({"type": "ERROR", "object": status}).to_string() + "\n";
                        Some((Ok(Bytes::from(line)), (rx, true)))
                    }
                    None => None,
                }
            });
            let body = match timeout {
                Some(t) => Body::from_stream(events.take_until(tokio::time::sleep(t))),
                None => Body::from_stream(events),
            };
            http::Response::builder()
                .status(200)
                .header(http::header::CONTENT_TYPE, json_ct)
                .header(http::header::TRANSFER_ENCODING, "chunked")
                .body(body)
                .unwrap_or_default()
        }
    }
}

impl tower::Service<http::Request<Body>> for FakeServer {
    type Response = http::Response<Body>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<'static, Result<http::Response<Body>, std::convert::Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let server = self.clone();
        Box::pin(async move { Ok(server.serve(request).await) })
    }
}
