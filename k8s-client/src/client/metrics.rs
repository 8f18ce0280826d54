//! [`MetricsLayer`] (feature `metrics`): client-go's request figures through the
//! [`metrics`](https://docs.rs/metrics) facade, for whatever recorder the program installs
//! (Prometheus, OpenTelemetry, statsd...). The library only records; without a recorder
//! the figures cost a relaxed atomic load each.
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `rest_client_requests_total` | counter | `verb`, `resource`, `code` (HTTP status, or `<error>`) |
//! | `rest_client_request_duration_seconds` | histogram | `verb`, `resource` |
//! | `rest_client_rate_limiter_duration_seconds` | histogram | `verb`, `resource` |
//! | `rest_client_request_retries_total` | counter | `verb`, `resource` |
//!
//! Each attempt counts as a request (as in client-go); attempts after the first also count
//! as retries. The layer sits under the rate limiter, so the duration is the server's (and
//! the network's) share; the rate limiter's wait is measured from the
//! [`TraceLayer`](super::trace::TraceLayer) above it.
//!
//! Why the `metrics` facade rather than `prometheus-client`: a library should not choose
//! the exporter or own a registry. The facade is to metrics what `tracing` is to logs: the
//! library records, the program installs one recorder (`metrics-exporter-prometheus`, an
//! OpenTelemetry bridge, or a scoped one in a test) and every library's figures go there,
//! with no registry handle threaded through `Client`'s constructors.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use tower::{Layer, Service};

use super::trace::{Attempt, AttemptStarted, RequestInfo};
use super::BoxService;
use crate::error::Error;
use crate::transport::Body;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Records client-go's request metrics (see the [module docs](self)).
#[derive(Debug, Clone, Copy, Default)]
pub struct MetricsLayer;

impl<S> Layer<S> for MetricsLayer {
    type Service = Metrics<S>;
    fn layer(&self, inner: S) -> Metrics<S> {
        Metrics { inner }
    }
}

/// The service of [`MetricsLayer`].
#[derive(Debug, Clone)]
pub struct Metrics<S> {
    inner: S,
}

impl<S> Service<http::Request<Body>> for Metrics<S>
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

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let now = Instant::now();
        let info = RequestInfo::of(request.method(), request.uri());
        let verb = info.verb;
        let resource = info.resource;
        if let Some(AttemptStarted(started)) = request.extensions().get::<AttemptStarted>() {
            metrics::histogram!("rest_client_rate_limiter_duration_seconds", "verb" => verb, "resource" => resource.clone())
                .record(now.duration_since(*started).as_secs_f64());
        }
        if request
            .extensions()
            .get::<Attempt>()
            .is_some_and(|a| a.0 > 1)
        {
            metrics::counter!("rest_client_request_retries_total", "verb" => verb, "resource" => resource.clone())
                .increment(1);
        }
        let future = self.inner.call(request);
        Box::pin(async move {
            let outcome = future.await;
            let code = match &outcome {
                Ok(response) => response.status().as_u16().to_string(),
                Err(_) => "<error>".to_string(),
            };
            metrics::histogram!("rest_client_request_duration_seconds", "verb" => verb, "resource" => resource.clone())
                .record(now.elapsed().as_secs_f64());
            metrics::counter!("rest_client_requests_total", "verb" => verb, "resource" => resource, "code" => code)
                .increment(1);
            outcome
        })
    }
}

/// [`MetricsLayer`] over `service`, boxed (for the client's stack).
pub(crate) fn measured(service: BoxService) -> BoxService {
    BoxService::new(MetricsLayer.layer(service))
}
