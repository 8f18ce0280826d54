//! [`Request`]: builds an API request without doing any I/O.
//!
//! The builder is fluent and never fails halfway: the first mistake (a bad name, a body that
//! does not serialize, a header that is not valid) is remembered and reported once by
//! [`Request::build`]. The built `http::Request` has a URI of path and query only (for example
//! `/api/v1/namespaces/default/pods?limit=5`); [`Client`](crate::Client) adds the server URL,
//! credentials and `Accept`.
//!
//! ```
//! use k8s_client::rest::{Request, Verb};
//!
//! let req = Request::new(Verb::List)
//!     .group_version("apps", "v1")
//!     .namespace("default")
//!     .resource("deployments")
//!     .query("labelSelector", "app=demo")
//!     .query("limit", "5")
//!     .build()?;
//! assert_eq!(
//!     req.uri(),
//!     "/apis/apps/v1/namespaces/default/deployments?labelSelector=app%3Ddemo&limit=5"
//! );
//! # Ok::<(), k8s_client::Error>(())
//! ```

use std::fmt;
use std::time::Duration;

use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS, NON_ALPHANUMERIC};
use serde::Serialize;

use std::sync::Arc;

use crate::error::{Error, RequestError, Result, Status};

/// Characters escaped in query keys and values: everything but RFC 3986's unreserved set,
/// as Go's `url.QueryEscape` does (except that a space becomes `%20`, not `+`).
const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Characters escaped in one path segment.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// What a request does, in Kubernetes' terms (which decides the HTTP method and which parts of
/// the path are required).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Verb {
    /// Read one object (`GET .../name`).
    Get,
    /// Read a collection (`GET .../resource`).
    List,
    /// Watch a collection (`GET .../resource?watch=true`).
    Watch,
    /// Create an object (`POST .../resource`, or `POST .../name/subresource`).
    Create,
    /// Replace an object (`PUT .../name`).
    Replace,
    /// Patch an object (`PATCH .../name`).
    Patch,
    /// Delete one object (`DELETE .../name`).
    Delete,
    /// Delete a collection (`DELETE .../resource`).
    DeleteCollection,
    /// Open a streaming subresource (`GET .../name/subresource`, as for logs or exec).
    Connect,
}

impl Verb {
    /// The HTTP method of this verb.
    pub fn method(self) -> http::Method {
        match self {
            Verb::Get | Verb::List | Verb::Watch | Verb::Connect => http::Method::GET,
            Verb::Create => http::Method::POST,
            Verb::Replace => http::Method::PUT,
            Verb::Patch => http::Method::PATCH,
            Verb::Delete | Verb::DeleteCollection => http::Method::DELETE,
        }
    }

    /// The verb as Kubernetes RBAC names it (`get`, `list`, `deletecollection`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Watch => "watch",
            Verb::Create => "create",
            Verb::Replace => "update",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
            Verb::DeleteCollection => "deletecollection",
            Verb::Connect => "connect",
        }
    }

    /// Whether this verb addresses one named object.
    fn needs_name(self) -> bool {
        matches!(
            self,
            Verb::Get | Verb::Replace | Verb::Patch | Verb::Delete | Verb::Connect
        )
    }

    /// Whether this verb addresses a whole collection (so must not carry a name).
    fn is_collection(self) -> bool {
        matches!(self, Verb::List | Verb::Watch | Verb::DeleteCollection)
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request under construction; see the [module docs](crate::rest) for an example.
///
/// Path parts are assembled as
/// `/api/{version}` (core group) or `/apis/{group}/{version}`, then
/// `/namespaces/{namespace}` when a namespace is set, then `/{resource}`, `/{name}`,
/// `/{subresource}`. [`Request::at_path`] sets a raw path instead (for `/version`, discovery).
#[derive(Clone)]
pub struct Request {
    verb: Verb,
    group: String,
    version: String,
    raw_path: Option<String>,
    namespace: Option<String>,
    resource: Option<String>,
    name: Option<String>,
    subresource: Option<String>,
    query: Vec<(String, String)>,
    body: Vec<u8>,
    headers: Vec<(HeaderName, HeaderValue)>,
    timeout: Option<Duration>,
    status_decoder: Option<StatusDecoder>,
    error: Option<Failure>,
}

/// How to read an error answer whose body is not JSON (a protobuf `Status`): carried from a
/// [`Request`] to the built request's extensions, where the client looks for it.
#[derive(Clone, Copy)]
pub(crate) struct StatusDecoder(pub(crate) StatusDecodeFn);

/// Decodes a `Status` from an error answer's body in a wire format's own encoding.
pub type StatusDecodeFn = fn(&[u8]) -> Option<Status>;

/// The first mistake made while building, kept until [`Request::build`] reports it.
#[derive(Clone, Debug)]
struct Failure {
    message: String,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl Failure {
    fn to_error(&self) -> Error {
        let error = match &self.source {
            Some(source) => RequestError::with_source(self.message.clone(), source.clone()),
            None => RequestError::new(self.message.clone()),
        };
        Error::Request(error)
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Bodies and header values may carry secrets (Secret objects, tokens): only sizes and
        // header names are shown.
        let header_names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("Request")
            .field("verb", &self.verb)
            .field("path", &self.path_for_debug())
            .field("query", &self.query)
            .field("body_len", &self.body.len())
            .field("headers", &header_names)
            .field("timeout", &self.timeout)
            .field("error", &self.error)
            .finish()
    }
}

impl Request {
    /// A new request with `verb`, for the core group's `v1` until
    /// [`group_version`](Request::group_version) says otherwise.
    pub fn new(verb: Verb) -> Self {
        Request {
            verb,
            group: String::new(),
            version: "v1".to_string(),
            raw_path: None,
            namespace: None,
            resource: None,
            name: None,
            subresource: None,
            query: Vec::new(),
            body: Vec::new(),
            headers: Vec::new(),
            timeout: None,
            status_decoder: None,
            error: None,
        }
    }

    /// A request for a raw path such as `/version` or `/apis` (no group, namespace, resource
    /// or name is added). The path must start with `/` and must not contain `?` or `#`.
    pub fn at_path(verb: Verb, path: impl Into<String>) -> Self {
        let path = path.into();
        let mut req = Request::new(verb);
        if !path.starts_with('/') || path.contains(['?', '#']) {
            req.fail(format!(
                "raw path {path:?} must start with '/' and contain no '?' or '#'"
            ));
        }
        req.raw_path = Some(path);
        req
    }

    /// The verb of this request.
    pub fn verb(&self) -> Verb {
        self.verb
    }

    /// Sets the API group (`""` for the core group) and version.
    pub fn group_version(mut self, group: impl Into<String>, version: impl Into<String>) -> Self {
        self.group = group.into();
        self.version = version.into();
        self
    }

    /// Sets group and version from an `apiVersion` string: `v1` or `apps/v1`.
    pub fn api_version(self, api_version: &str) -> Self {
        match api_version.split_once('/') {
            Some((group, version)) => self.group_version(group, version),
            None => self.group_version("", api_version),
        }
    }

    /// Sets the namespace (never calling this: all namespaces, or a cluster-scoped
    /// resource).
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Sets the namespace, or clears it with `None` (all namespaces / cluster-scoped).
    pub fn namespace_opt<S: Into<String>>(mut self, namespace: Option<S>) -> Self {
        self.namespace = namespace.map(Into::into);
        self
    }

    /// Sets the resource (plural, lower case: `pods`, `deployments`).
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }

    /// Sets the object's name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the subresource (`status`, `scale`, `eviction`, `log`, ...).
    pub fn subresource(mut self, subresource: impl Into<String>) -> Self {
        self.subresource = Some(subresource.into());
        self
    }

    /// Appends one query parameter; keys may repeat (`dryRun=All&dryRun=All` is two entries).
    /// Keys and values are percent-encoded when built.
    pub fn query(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((key.into(), value.into()));
        self
    }

    /// Appends one query parameter when `value` is `Some`.
    pub fn query_opt<V: Into<String>>(self, key: &str, value: Option<V>) -> Self {
        match value {
            Some(v) => self.query(key, v),
            None => self,
        }
    }

    /// Sets the body to raw bytes (set a `Content-Type` with [`header`](Request::header)).
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets the body to `value` serialized as JSON, with `Content-Type: application/json`.
    pub fn json_body<T: Serialize + ?Sized>(self, value: &T) -> Self {
        self.json_body_as(value, "application/json")
    }

    /// Sets the body to `value` serialized as JSON, with the given `Content-Type` (for the
    /// patch types, whose bodies are JSON under other media types).
    pub fn json_body_as<T: Serialize + ?Sized>(mut self, value: &T, content_type: &str) -> Self {
        match serde_json::to_vec(value) {
            Ok(bytes) => {
                self.body = bytes;
                self.header(CONTENT_TYPE.as_str(), content_type)
            }
            Err(e) => {
                if self.error.is_none() {
                    self.error = Some(Failure {
                        message: format!("serializing the request body: {e}"),
                        source: Some(Arc::new(e)),
                    });
                }
                self
            }
        }
    }

    /// Adds a header (a header already set with the same name is kept: both are sent).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(n), Ok(mut v)) => {
                if is_sensitive_header(&n) {
                    v.set_sensitive(true);
                }
                self.headers.push((n, v));
            }
            (Err(_), _) => self.fail(format!("invalid header name {name:?}")),
            // The value is not shown: it may be a credential.
            (_, Err(_)) => self.fail(format!("invalid value for header {name:?}")),
        }
        self
    }

    /// Asks the server to give up after `timeout` (the `timeout` query parameter). Watches use
    /// `timeoutSeconds` instead (see [`WatchParams`](super::super::api::WatchParams)).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// How to read an error answer of this request whose body is not JSON: a wire format
    /// whose errors come in its own encoding (protobuf) gives its `Status` decoder here.
    /// Handles set it for the requests they make.
    pub fn status_decoder(mut self, decode: StatusDecodeFn) -> Self {
        self.status_decoder = Some(StatusDecoder(decode));
        self
    }

    /// Records a build failure, reported by [`build`](Request::build). Only the first one is
    /// kept.
    pub fn fail(&mut self, message: impl Into<String>) {
        if self.error.is_none() {
            self.error = Some(Failure {
                message: message.into(),
                source: None,
            });
        }
    }

    /// Like [`fail`](Request::fail), by value, for chains.
    pub fn with_error(mut self, message: impl Into<String>) -> Self {
        self.fail(message);
        self
    }

    /// The path (without query), checked: every name is validated and percent-encoded.
    pub fn path(&self) -> Result<String> {
        if let Some(failure) = &self.error {
            return Err(failure.to_error());
        }
        if let Some(raw) = &self.raw_path {
            return Ok(raw.clone());
        }
        let mut path = String::with_capacity(64);
        check_segment("API version", &self.version)?;
        if self.group.is_empty() {
            path.push_str("/api/");
        } else {
            check_segment("API group", &self.group)?;
            path.push_str("/apis/");
            push_encoded(&mut path, &self.group);
            path.push('/');
        }
        push_encoded(&mut path, &self.version);

        if let Some(ns) = &self.namespace {
            check_segment("namespace", ns)?;
            path.push_str("/namespaces/");
            push_encoded(&mut path, ns);
        }
        let resource = match &self.resource {
            Some(r) => r,
            None => {
                return Err(Error::Request(RequestError::new(format!(
                    "{} request without a resource (after {path})",
                    self.verb
                ))))
            }
        };
        check_segment("resource", resource)?;
        path.push('/');
        push_encoded(&mut path, resource);

        match (&self.name, self.verb) {
            (Some(name), verb) if verb.is_collection() => {
                return Err(Error::Request(RequestError::new(format!(
                    "{verb} request on {resource} must not name an object (got {name:?}; \
                     use a field selector on metadata.name)"
                ))))
            }
            (None, verb) if verb.needs_name() => {
                return Err(Error::Request(RequestError::new(format!(
                    "{verb} request on {resource} needs an object name"
                ))))
            }
            (Some(name), _) => {
                check_segment(&format!("{resource} name"), name)?;
                path.push('/');
                push_encoded(&mut path, name);
            }
            (None, _) => {}
        }
        if let Some(sub) = &self.subresource {
            if self.name.is_none() {
                return Err(Error::Request(RequestError::new(format!(
                    "subresource {sub:?} of {resource} needs an object name"
                ))));
            }
            check_segment("subresource", sub)?;
            path.push('/');
            push_encoded(&mut path, sub);
        }
        Ok(path)
    }

    /// The query string (without `?`), encoded, in the order the parameters were added
    /// (`watch=true` first for watches, `timeout` last).
    pub fn query_string(&self) -> String {
        let mut out = String::new();
        let mut push = |k: &str, v: &str| {
            if !out.is_empty() {
                out.push('&');
            }
            out.extend(utf8_percent_encode(k, QUERY));
            out.push('=');
            out.extend(utf8_percent_encode(v, QUERY));
        };
        if self.verb == Verb::Watch && !self.query.iter().any(|(k, _)| k == "watch") {
            push("watch", "true");
        }
        for (k, v) in &self.query {
            push(k, v);
        }
        if let Some(t) = self.timeout {
            push("timeout", &go_duration(t));
        }
        out
    }

    /// The path and query, as the built request's URI.
    pub fn uri(&self) -> Result<String> {
        let mut uri = self.path()?;
        let query = self.query_string();
        if !query.is_empty() {
            uri.push('?');
            uri.push_str(&query);
        }
        Ok(uri)
    }

    /// Builds the `http::Request`, or reports the first mistake made while building.
    pub fn build(self) -> Result<http::Request<Vec<u8>>> {
        let uri = self.uri()?;
        let mut builder = http::Request::builder()
            .method(self.verb.method())
            .uri(&uri);
        for (name, value) in self.headers {
            builder = builder.header(name, value);
        }
        if let Some(decoder) = self.status_decoder {
            builder = builder.extension(decoder);
        }
        builder.body(self.body).map_err(|e| {
            Error::Request(RequestError::with_source(
                format!("building {} {uri}: {e}", self.verb),
                e,
            ))
        })
    }

    fn path_for_debug(&self) -> String {
        self.path().unwrap_or_else(|_| "<invalid>".to_string())
    }
}

/// Rejects names that would change the path's meaning: empty, `.`, `..`, or containing `/`.
/// (`%` and other characters that are legal in some object names are percent-encoded.)
fn check_segment(what: &str, value: &str) -> Result<()> {
    let problem = if value.is_empty() {
        "must not be empty"
    } else if value == "." || value == ".." {
        "must not be \".\" or \"..\""
    } else if value.contains('/') {
        "must not contain '/'"
    } else {
        return Ok(());
    };
    Err(Error::Request(RequestError::new(format!(
        "{what} {value:?} {problem}"
    ))))
}

fn push_encoded(path: &mut String, segment: &str) {
    path.extend(utf8_percent_encode(segment, SEGMENT));
}

fn is_sensitive_header(name: &HeaderName) -> bool {
    name == http::header::AUTHORIZATION
        || name == http::header::PROXY_AUTHORIZATION
        || name == http::header::COOKIE
}

/// A duration as Go's `time.ParseDuration` reads it: `30s`, or `1500ms` with a fraction.
fn go_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else if d.subsec_nanos().is_multiple_of(1_000_000) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}ns", d.as_nanos())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(req: Request) -> String {
        req.build().unwrap().uri().to_string()
    }

    fn err(req: Request) -> String {
        match req.build() {
            Err(Error::Request(e)) => e.message().to_string(),
            other => panic!("expected a request error, got {other:?}"),
        }
    }

    #[test]
    fn core_group_paths() {
        assert_eq!(
            uri(Request::new(Verb::List).resource("pods")),
            "/api/v1/pods"
        );
        assert_eq!(
            uri(Request::new(Verb::List).namespace("ns1").resource("pods")),
            "/api/v1/namespaces/ns1/pods"
        );
        assert_eq!(
            uri(Request::new(Verb::Get)
                .namespace("ns1")
                .resource("pods")
                .name("p1")),
            "/api/v1/namespaces/ns1/pods/p1"
        );
        assert_eq!(
            uri(Request::new(Verb::Get)
                .resource("namespaces")
                .name("kube-system")),
            "/api/v1/namespaces/kube-system"
        );
        assert_eq!(
            uri(Request::new(Verb::Get)
                .namespace("ns1")
                .resource("pods")
                .name("p1")
                .subresource("log")),
            "/api/v1/namespaces/ns1/pods/p1/log"
        );
    }

    #[test]
    fn named_group_paths() {
        let base = || {
            Request::new(Verb::Get)
                .group_version("apps", "v1")
                .namespace("default")
                .resource("deployments")
                .name("web")
        };
        assert_eq!(
            uri(base()),
            "/apis/apps/v1/namespaces/default/deployments/web"
        );
        assert_eq!(
            uri(base().subresource("scale")),
            "/apis/apps/v1/namespaces/default/deployments/web/scale"
        );
        assert_eq!(
            uri(Request::new(Verb::List)
                .api_version("rbac.authorization.k8s.io/v1")
                .resource("clusterroles")),
            "/apis/rbac.authorization.k8s.io/v1/clusterroles"
        );
        assert_eq!(
            uri(Request::new(Verb::Get)
                .api_version("rbac.authorization.k8s.io/v1")
                .resource("clusterroles")
                .name("system:controller:job-controller")),
            "/apis/rbac.authorization.k8s.io/v1/clusterroles/system:controller:job-controller"
        );
        assert_eq!(
            uri(Request::new(Verb::List).api_version("v1").resource("nodes")),
            "/api/v1/nodes"
        );
        assert_eq!(
            uri(Request::new(Verb::List)
                .namespace_opt(None::<String>)
                .resource("pods")),
            "/api/v1/pods"
        );
    }

    #[test]
    fn methods_follow_verbs() {
        let cases = [
            (Verb::Get, "GET"),
            (Verb::List, "GET"),
            (Verb::Watch, "GET"),
            (Verb::Connect, "GET"),
            (Verb::Create, "POST"),
            (Verb::Replace, "PUT"),
            (Verb::Patch, "PATCH"),
            (Verb::Delete, "DELETE"),
            (Verb::DeleteCollection, "DELETE"),
        ];
        for (verb, method) in cases {
            assert_eq!(verb.method().as_str(), method, "{verb:?}");
        }
        assert_eq!(Verb::Replace.to_string(), "update");
        assert_eq!(Verb::DeleteCollection.as_str(), "deletecollection");
    }

    #[test]
    fn query_is_encoded_and_ordered() {
        let req = Request::new(Verb::List)
            .namespace("ns")
            .resource("pods")
            .query("labelSelector", "app=demo,tier in (web, db),!legacy")
            .query("fieldSelector", "metadata.name!=a&b")
            .query("limit", "3")
            .query("continue", "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MTJ9+/=");
        assert_eq!(
            uri(req),
            "/api/v1/namespaces/ns/pods?labelSelector=app%3Ddemo%2Ctier%20in%20%28web%2C%20db%29%2C%21legacy\
             &fieldSelector=metadata.name%21%3Da%26b&limit=3\
             &continue=eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MTJ9%2B%2F%3D"
        );
    }

    #[test]
    fn repeated_keys_and_unicode() {
        let req = Request::new(Verb::Create)
            .resource("namespaces")
            .query("dryRun", "All")
            .query("dryRun", "All")
            .query("fieldManager", "mgr ünï_-.~");
        assert_eq!(
            uri(req),
            "/api/v1/namespaces?dryRun=All&dryRun=All&fieldManager=mgr%20%C3%BCn%C3%AF_-.~"
        );
        let req = Request::new(Verb::List)
            .resource("pods")
            .query_opt("limit", Some("1"))
            .query_opt("continue", None::<String>);
        assert_eq!(uri(req), "/api/v1/pods?limit=1");
    }

    #[test]
    fn watch_adds_watch_true_once() {
        let req = Request::new(Verb::Watch)
            .namespace("ns")
            .resource("configmaps")
            .query("resourceVersion", "10")
            .query("allowWatchBookmarks", "true");
        assert_eq!(
            uri(req),
            "/api/v1/namespaces/ns/configmaps?watch=true&resourceVersion=10&allowWatchBookmarks=true"
        );
        let req = Request::new(Verb::Watch)
            .resource("configmaps")
            .query("watch", "1");
        assert_eq!(uri(req), "/api/v1/configmaps?watch=1");
    }

    #[test]
    fn timeout_becomes_a_go_duration() {
        let base = || {
            Request::new(Verb::List)
                .resource("pods")
                .query("limit", "1")
        };
        assert_eq!(
            uri(base().timeout(Duration::from_secs(30))),
            "/api/v1/pods?limit=1&timeout=30s"
        );
        assert_eq!(
            uri(base().timeout(Duration::from_millis(1500))),
            "/api/v1/pods?limit=1&timeout=1500ms"
        );
        assert_eq!(
            uri(base().timeout(Duration::from_nanos(1_000_001))),
            "/api/v1/pods?limit=1&timeout=1000001ns"
        );
    }

    #[test]
    fn names_are_validated() {
        let get = || Request::new(Verb::Get).namespace("ns").resource("pods");
        assert!(err(get().name("")).contains("must not be empty"));
        assert!(err(get().name(".")).contains("\".\" or \"..\""));
        assert!(err(get().name("..")).contains("\".\" or \"..\""));
        assert!(err(get().name("a/b")).contains("must not contain '/'"));
        assert!(err(get()).contains("needs an object name"));
        assert!(err(Request::new(Verb::Get)
            .namespace("")
            .resource("pods")
            .name("x"))
        .contains("namespace"));
        assert!(err(Request::new(Verb::Get)
            .namespace("../x")
            .resource("pods")
            .name("x"))
        .contains("namespace"));
        assert!(err(Request::new(Verb::List).resource("")).contains("resource"));
        assert!(err(Request::new(Verb::List)).contains("without a resource"));
        assert!(err(Request::new(Verb::List).group_version("apps", "")).contains("API version"));
        assert!(err(Request::new(Verb::List)
            .group_version("a/b", "v1")
            .resource("x"))
        .contains("API group"));
        for verb in [Verb::Replace, Verb::Patch, Verb::Delete, Verb::Connect] {
            assert!(
                err(Request::new(verb).resource("pods")).contains("needs an object name"),
                "{verb:?}"
            );
        }
        for verb in [Verb::List, Verb::Watch, Verb::DeleteCollection] {
            assert!(
                err(Request::new(verb).resource("pods").name("p")).contains("must not name"),
                "{verb:?}"
            );
        }
        assert!(err(Request::new(Verb::Create)
            .resource("pods")
            .subresource("eviction"))
        .contains("needs an object name"));
        assert!(err(get().name("p").subresource("a/b")).contains("subresource"));
    }

    #[test]
    fn odd_but_legal_names_are_escaped() {
        assert_eq!(
            uri(Request::new(Verb::Get).resource("things").name("a b%c?d#e")),
            "/api/v1/things/a%20b%25c%3Fd%23e"
        );
        // Create on a subresource of a named object (eviction, token requests).
        assert_eq!(
            uri(Request::new(Verb::Create)
                .namespace("ns")
                .resource("pods")
                .name("p")
                .subresource("eviction")),
            "/api/v1/namespaces/ns/pods/p/eviction"
        );
    }

    #[test]
    fn raw_paths() {
        assert_eq!(uri(Request::at_path(Verb::Get, "/version")), "/version");
        assert_eq!(
            uri(Request::at_path(Verb::Get, "/apis").query("a", "b c")),
            "/apis?a=b%20c"
        );
        assert!(err(Request::at_path(Verb::Get, "version")).contains("must start with '/'"));
        assert!(err(Request::at_path(Verb::Get, "/version?x=1")).contains("'?'"));
    }

    #[test]
    fn bodies_and_headers() {
        let req = Request::new(Verb::Create)
            .namespace("ns")
            .resource("configmaps")
            .json_body(&serde_json::json!({"kind": "ConfigMap"}))
            .header("X-Extra", "1")
            .build()
            .unwrap();
        assert_eq!(req.method(), http::Method::POST);
        assert_eq!(req.headers()["content-type"], "application/json");
        assert_eq!(req.headers()["x-extra"], "1");
        assert_eq!(req.body(), br#"{"kind":"ConfigMap"}"#);

        let req = Request::new(Verb::Patch)
            .resource("nodes")
            .name("n1")
            .json_body_as(&serde_json::json!([]), "application/json-patch+json")
            .build()
            .unwrap();
        assert_eq!(req.headers()["content-type"], "application/json-patch+json");
        assert_eq!(req.body(), b"[]");

        let req = Request::new(Verb::Create)
            .resource("x")
            .body(b"raw".to_vec())
            .header("content-type", "text/plain")
            .build()
            .unwrap();
        assert_eq!(req.body(), b"raw");
        assert_eq!(req.headers()["content-type"], "text/plain");
    }

    #[test]
    fn bad_headers_and_bodies_fail_at_build() {
        assert!(err(Request::new(Verb::List)
            .resource("x")
            .header("bad name", "v"))
        .contains("invalid header name"));
        let e = err(Request::new(Verb::List)
            .resource("x")
            .header("Authorization", "Bearer secret\nvalue"));
        assert!(e.contains("invalid value for header"));
        assert!(!e.contains("secret"), "the value must not leak: {e}");

        struct Unserializable;
        impl Serialize for Unserializable {
            fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
                Err(serde::ser::Error::custom("nope"))
            }
        }
        let e = err(Request::new(Verb::Create)
            .resource("x")
            .json_body(&Unserializable));
        assert!(e.contains("serializing the request body: nope"), "{e}");
        // Only the first error is kept.
        let e = err(Request::new(Verb::Get)
            .resource("x")
            .with_error("first")
            .with_error("second"));
        assert_eq!(e, "first");
    }

    #[test]
    fn debug_hides_bodies_and_header_values() {
        let req = Request::new(Verb::Create)
            .resource("secrets")
            .body(b"top-secret".to_vec())
            .header("Authorization", "Bearer hunter2");
        let shown = format!("{req:?}");
        assert!(
            !shown.contains("top-secret") && !shown.contains("hunter2"),
            "{shown}"
        );
        assert!(shown.contains("authorization") && shown.contains("/api/v1/secrets"));
        let built = req.build().unwrap();
        assert!(built.headers()["authorization"].is_sensitive());
    }
}
