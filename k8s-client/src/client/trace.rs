//! [`TraceLayer`]: one `tracing` span per request attempt, named `k8s.request`, with the
//! fields an operator needs to tell requests apart and that an OpenTelemetry subscriber
//! (`tracing-opentelemetry`) exports as a client span:
//!
//! | field | value |
//! |---|---|
//! | `verb` | Kubernetes verb: `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection` |
//! | `resource` | the resource, with its subresource (`pods`, `pods/log`), `group/resource` outside the core group |
//! | `namespace`, `name` | from the path (empty when the request has none) |
//! | `attempt` | 1 for the first attempt, 2 for the first retry, ... |
//! | `status` | the HTTP status code of the answer (unset when none came) |
//! | `otel.kind`, `otel.name`, `otel.status_code` | `client`, `verb resource`, `ERROR` on a failure |
//!
//! The layer sits under the retry loop (each attempt is a span; the retry loop's log lines
//! fall between them in the caller's span), so a request made inside a reconcile span is
//! that span's child.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use tower::{Layer, Service};
use tracing::Instrument;

use super::BoxService;
use crate::error::Error;
use crate::transport::Body;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// What a request addresses, read from its method and path.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct RequestInfo {
    pub(crate) verb: &'static str,
    pub(crate) resource: String,
    pub(crate) namespace: String,
    pub(crate) name: String,
}

impl RequestInfo {
    /// Reads `/api/v1/...` and `/apis/group/version/...` paths; anything else (discovery,
    /// `/version`, `/healthz`) gets its first path segment as the resource.
    pub(crate) fn of(method: &http::Method, uri: &http::Uri) -> Self {
        let segments: Vec<&str> = uri.path().split('/').filter(|s| !s.is_empty()).collect();
        let (group, rest): (&str, &[&str]) = match segments.as_slice() {
            ["api", _version, rest @ ..] => ("", rest),
            ["apis", group, _version, rest @ ..] => (group, rest),
            [first, ..] => {
                return RequestInfo {
                    verb: verb(method, false, uri),
                    resource: (*first).to_string(),
                    ..RequestInfo::default()
                }
            }
            [] => return RequestInfo::default(),
        };
        let (namespace, rest) = match rest {
            ["namespaces", ns, rest @ ..] if !rest.is_empty() => (*ns, rest),
            other => ("", other),
        };
        let (resource, name, subresource) = match rest {
            [resource] => (*resource, "", None),
            [resource, name] => (*resource, *name, None),
            [resource, name, sub, ..] => (*resource, *name, Some(*sub)),
            [] => ("", "", None),
        };
        // `/api/v1/namespaces/x` is the namespace x itself.
        let (resource, name) = if resource.is_empty() && !namespace.is_empty() {
            ("namespaces", namespace)
        } else {
            (resource, name)
        };
        let mut full = if group.is_empty() {
            resource.to_string()
        } else {
            format!("{group}/{resource}")
        };
        if let Some(sub) = subresource {
            full.push('/');
            full.push_str(sub);
        }
        RequestInfo {
            verb: verb(method, !name.is_empty(), uri),
            resource: full,
            namespace: if resource == "namespaces" && namespace == name {
                String::new()
            } else {
                namespace.to_string()
            },
            name: name.to_string(),
        }
    }
}

fn verb(method: &http::Method, named: bool, uri: &http::Uri) -> &'static str {
    match *method {
        http::Method::GET if super::layer::is_streaming(uri) && !named => "watch",
        http::Method::GET if uri.query().is_some_and(|q| q.contains("watch=")) => "watch",
        http::Method::GET if named => "get",
        http::Method::GET => "list",
        http::Method::POST => "create",
        http::Method::PUT => "update",
        http::Method::PATCH => "patch",
        http::Method::DELETE if named => "delete",
        http::Method::DELETE => "deletecollection",
        http::Method::HEAD => "head",
        _ => "other",
    }
}

/// Which attempt of a request this is (1 = the first), as set by [`TraceLayer`] in the
/// request's extensions for the layers below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt(pub u32);

/// When the attempt entered the layers under [`TraceLayer`] (before the rate limiter).
#[derive(Debug, Clone, Copy)]
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) struct AttemptStarted(pub(crate) Instant);

/// Opens a `k8s.request` span per attempt (see the [module docs](self)).
#[derive(Debug, Clone, Copy, Default)]
pub struct TraceLayer;

impl<S> Layer<S> for TraceLayer {
    type Service = Trace<S>;
    fn layer(&self, inner: S) -> Trace<S> {
        Trace { inner, attempt: 0 }
    }
}

/// The service of [`TraceLayer`]. The retry loop takes one clone of it per request and
/// calls it once per attempt: the clone counts the attempts.
#[derive(Debug)]
pub struct Trace<S> {
    inner: S,
    attempt: u32,
}

impl<S: Clone> Clone for Trace<S> {
    fn clone(&self) -> Self {
        Trace {
            inner: self.inner.clone(),
            attempt: 0,
        }
    }
}

impl<S> Service<http::Request<Body>> for Trace<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Error>,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Error;
    type Future = BoxFuture<Result<http::Response<Body>, Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        self.attempt += 1;
        let info = RequestInfo::of(request.method(), request.uri());
        let span = tracing::debug_span!(
            "k8s.request",
            verb = info.verb,
            resource = %info.resource,
            namespace = %info.namespace,
            name = %info.name,
            attempt = self.attempt,
            status = tracing::field::Empty,
            otel.kind = "client",
            otel.name = %format_args!("{} {}", info.verb, info.resource),
            otel.status_code = tracing::field::Empty,
        );
        request.extensions_mut().insert(Attempt(self.attempt));
        request
            .extensions_mut()
            .insert(AttemptStarted(Instant::now()));
        let future = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        let recorded = span.clone();
        Box::pin(
            async move {
                let outcome = future.await;
                match &outcome {
                    Ok(response) => {
                        recorded.record("status", response.status().as_u16());
                        if super::layer::is_failure(response.status()) {
                            recorded.record("otel.status_code", "ERROR");
                        }
                    }
                    Err(e) => {
                        recorded.record("otel.status_code", "ERROR");
                        tracing::debug!(error = %e, "request failed");
                    }
                }
                outcome
            }
            .instrument(span),
        )
    }
}

/// [`TraceLayer`] over `service`, boxed (for the client's stack).
pub(crate) fn traced(service: BoxService) -> BoxService {
    BoxService::new(TraceLayer.layer(service))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(method: http::Method, uri: &str) -> RequestInfo {
        RequestInfo::of(&method, &uri.parse().expect("uri"))
    }

    #[test]
    fn paths_name_what_they_address() {
        let i = info(
            http::Method::GET,
            "https://h/api/v1/namespaces/ns/pods/p1/log?follow=true",
        );
        assert_eq!(
            (
                i.verb,
                i.resource.as_str(),
                i.namespace.as_str(),
                i.name.as_str()
            ),
            ("get", "pods/log", "ns", "p1")
        );
        let i = info(
            http::Method::GET,
            "https://h/apis/apps/v1/deployments?watch=true",
        );
        assert_eq!((i.verb, i.resource.as_str()), ("watch", "apps/deployments"));
        let i = info(
            http::Method::GET,
            "https://h/apis/apps/v1/namespaces/x/deployments",
        );
        assert_eq!((i.verb, i.namespace.as_str()), ("list", "x"));
        let i = info(http::Method::DELETE, "https://h/api/v1/namespaces/x");
        assert_eq!(
            (
                i.verb,
                i.resource.as_str(),
                i.namespace.as_str(),
                i.name.as_str()
            ),
            ("delete", "namespaces", "", "x")
        );
        let i = info(
            http::Method::POST,
            "https://h/api/v1/namespaces/x/configmaps",
        );
        assert_eq!((i.verb, i.resource.as_str()), ("create", "configmaps"));
        let i = info(
            http::Method::PATCH,
            "https://h/apis/example.com/v1/namespaces/x/websites/w/status",
        );
        assert_eq!(
            (i.verb, i.resource.as_str(), i.name.as_str()),
            ("patch", "example.com/websites/status", "w")
        );
        let i = info(http::Method::GET, "https://h/version");
        assert_eq!((i.verb, i.resource.as_str()), ("list", "version"));
        let i = info(http::Method::DELETE, "https://h/api/v1/namespaces/x/pods");
        assert_eq!(i.verb, "deletecollection");
    }
}
