//! The service seam under `Client`: a client over an in-process service that answers canned
//! responses (no socket), layers of the program's own around the default stack and under it,
//! and the default layers seen working over such a service (credentials, retries, the
//! `Status` of error answers, decoding through typed, dynamic and metadata-only handles).

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::StreamExt;
use k8s_client::api::{Api, ApiResource, ListParams, WatchEvent, WatchParams};
use k8s_client::backoff::Backoff;
use k8s_client::client::{Body, BoxService, ClientBuilder};
use k8s_client::config::{RateLimit, Secret};
use k8s_client::dynamic::DynamicApi;
use k8s_client::metadata::MetadataApi;
use k8s_client::transport::TransportError;
use k8s_client::{Client, Config, Error};
use k8s_openapi::api::core::v1::ConfigMap;
use tower::{Layer, Service};

type Seen = Arc<Mutex<Vec<http::Request<Body>>>>;
type Answer = BoxFuture<'static, Result<http::Response<Body>, Infallible>>;

/// A service that records every request and answers with `answer(n, request)`.
fn canned(
    answer: impl Fn(usize, &http::Request<Body>) -> http::Response<Body> + Send + Sync + 'static,
) -> (
    impl Service<
            http::Request<Body>,
            Response = http::Response<Body>,
            Error = Infallible,
            Future = Answer,
        > + Clone
        + Send
        + Sync
        + 'static,
    Seen,
) {
    let seen: Seen = Arc::default();
    let log = seen.clone();
    let answer = Arc::new(answer);
    let service = tower::service_fn(move |request: http::Request<Body>| {
        let mut log = log.lock().unwrap();
        let response = answer(log.len(), &request);
        log.push(request);
        let future: Answer = Box::pin(async move { Ok(response) });
        future
    });
    (service, seen)
}

fn json(status: u16, body: &str) -> http::Response<Body> {
    http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn config() -> Config {
    let mut config = Config::new("https://in-memory.invalid:6443".parse().unwrap());
    config.auth.token = Some(Secret::new("t0ken".to_string()));
    config.rate_limit = None;
    config.retry = Backoff::new(Duration::from_millis(1))
        .cap(Duration::from_millis(5))
        .steps(4);
    config
}

const CM_LIST: &str = r#"{"kind":"ConfigMapList","apiVersion":"v1","metadata":{"resourceVersion":"7"},"items":[{"metadata":{"name":"a","namespace":"ns"},"data":{"k":"v"}},{"metadata":{"name":"b","namespace":"ns"}}]}"#;

#[tokio::test]
async fn a_client_runs_over_an_in_process_service() {
    let (service, seen) = canned(|_, request| match request.uri().path() {
        "/api/v1/namespaces/ns/configmaps" => json(200, CM_LIST),
        "/api/v1/namespaces/ns/configmaps/a" => json(
            200,
            r#"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"a","namespace":"ns"},"data":{"k":"v"}}"#,
        ),
        _ => json(
            404,
            r#"{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","message":"nothing here","code":404}"#,
        ),
    });
    let client = ClientBuilder::new(config())
        .service(service)
        .build()
        .unwrap();

    // Typed, dynamic and metadata-only handles all run over it.
    let typed: Api<ConfigMap> = Api::namespaced(client.clone(), "ns");
    let list = typed.list(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 2);
    assert_eq!(list.resource_version(), Some("7"));
    let a = typed.get("a").await.unwrap();
    assert_eq!(a.data.unwrap()["k"], "v");
    let dynamic =
        DynamicApi::namespaced_with(client.clone(), "ns", &ApiResource::of::<ConfigMap>());
    let items = dynamic.list(&ListParams::default()).await.unwrap().items;
    // List items get the apiVersion and kind the server leaves out.
    assert!(items
        .iter()
        .all(|o| o.kind == "ConfigMap" && o.api_version == "v1"));
    let metadata =
        MetadataApi::namespaced_with(client.clone(), "ns", &ApiResource::of::<ConfigMap>());
    let names: Vec<_> = metadata
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|o| o.metadata.name)
        .collect();
    assert_eq!(names, ["a", "b"]);

    // An error answer is the server's Status.
    let err = typed.get("missing").await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert_eq!(
        err.status().unwrap().message.as_deref(),
        Some("nothing here")
    );

    // The default layers did their work on every request: absolute URI of the config's
    // server, credentials, user agent, gzip asked for; the metadata handle asked for
    // metadata only.
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 5);
    for request in seen.iter() {
        assert_eq!(request.uri().authority().unwrap(), "in-memory.invalid:6443");
        assert_eq!(request.headers()["authorization"], "Bearer t0ken");
        assert!(request.headers()["authorization"].is_sensitive());
        assert!(request.headers()["user-agent"]
            .to_str()
            .unwrap()
            .starts_with("k8s-client/"));
        assert_eq!(request.headers()["accept-encoding"], "gzip");
    }
    assert!(seen[3].headers()["accept"]
        .to_str()
        .unwrap()
        .contains("as=PartialObjectMetadataList"));
}

#[tokio::test]
async fn the_retry_layer_works_over_any_service() {
    // 503 twice, then the answer: three attempts of one GET.
    let (service, seen) = canned(|n, _| {
        if n < 2 {
            json(503, "")
        } else {
            json(200, r#"{"gitVersion":"v1.99.0"}"#)
        }
    });
    let client = ClientBuilder::new(config())
        .service(service)
        .build()
        .unwrap();
    let version: serde_json::Value = client
        .request(http::Request::get("/version").body(Vec::new()).unwrap())
        .await
        .unwrap();
    assert_eq!(version["gitVersion"], "v1.99.0");
    assert_eq!(seen.lock().unwrap().len(), 3);

    // A service's own transport error is retried like the real transport's for a GET...
    let calls = Arc::new(Mutex::new(0));
    let count = calls.clone();
    let failing = tower::service_fn(move |_request: http::Request<Body>| {
        *count.lock().unwrap() += 1;
        async move {
            Err::<http::Response<Body>, _>(TransportError::Connect {
                url: "in-memory".into(),
                message: "refused".into(),
                source: None,
            })
        }
    });
    let client = ClientBuilder::new(config())
        .service(failing)
        .build()
        .unwrap();
    let err = client
        .request_text(http::Request::get("/version").body(Vec::new()).unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Transport(TransportError::Connect { .. })),
        "{err:?}"
    );
    assert_eq!(*calls.lock().unwrap(), 4, "one attempt plus three retries");

    // ... and any other error is the service's, not retried.
    let broken = tower::service_fn(|_request: http::Request<Body>| async {
        Err::<http::Response<Body>, _>(std::io::Error::other("the fake broke"))
    });
    let client = ClientBuilder::new(config())
        .service(broken)
        .build()
        .unwrap();
    let err = client
        .request_text(http::Request::get("/version").body(Vec::new()).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Service(_)), "{err:?}");
    assert!(err.to_string().contains("the fake broke"), "{err}");
}

/// Counts what passes through it and tags every request with a header.
#[derive(Clone)]
struct Tag {
    name: &'static str,
    count: Arc<Mutex<usize>>,
}

impl<S> Layer<S> for Tag {
    type Service = Tagged<S>;
    fn layer(&self, inner: S) -> Tagged<S> {
        Tagged {
            inner,
            tag: self.clone(),
        }
    }
}

#[derive(Clone)]
struct Tagged<S> {
    inner: S,
    tag: Tag,
}

impl Service<http::Request<Body>> for Tagged<BoxService> {
    type Response = http::Response<Body>;
    type Error = Error;
    type Future = BoxFuture<'static, Result<http::Response<Body>, Error>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        *self.tag.count.lock().unwrap() += 1;
        request
            .headers_mut()
            .append("x-layers", http::HeaderValue::from_static(self.tag.name));
        self.inner.call(request)
    }
}

#[tokio::test]
async fn layers_go_around_the_stack_and_under_it() {
    // The first answer is a 503: the outer layer sees one request, the transport layer two
    // attempts (retries are inside the outer layer, outside the transport layer).
    let (service, seen) = canned(|n, _| {
        if n == 0 {
            json(503, "")
        } else {
            json(200, "{}")
        }
    });
    let outer = Tag {
        name: "outer",
        count: Arc::default(),
    };
    let under = Tag {
        name: "under",
        count: Arc::default(),
    };
    let client = ClientBuilder::new(config())
        .service(service)
        .layer(outer.clone())
        .transport_layer(under.clone())
        .build()
        .unwrap();
    let _: serde_json::Value = client
        .request(http::Request::get("/x").body(Vec::new()).unwrap())
        .await
        .unwrap();
    assert_eq!(*outer.count.lock().unwrap(), 1);
    assert_eq!(*under.count.lock().unwrap(), 2);
    {
        let seen = seen.lock().unwrap();
        let tags: Vec<Vec<&str>> = seen
            .iter()
            .map(|r| {
                r.headers()
                    .get_all("x-layers")
                    .iter()
                    .map(|v| v.to_str().unwrap())
                    .collect()
            })
            .collect();
        assert_eq!(tags, [["outer", "under"], ["outer", "under"]]);
        // The transport layer runs after credentials were added.
        assert!(seen
            .iter()
            .all(|r| r.headers().contains_key("authorization")));
    }

    // Clients made from this one (another rate limiter) keep the program's layers.
    let limited = client.with_rate_limiter(Some(Arc::new(k8s_client::rest::RateLimiter::new(
        100.0, 10,
    ))));
    let _: serde_json::Value = limited
        .request(http::Request::get("/x").body(Vec::new()).unwrap())
        .await
        .unwrap();
    assert_eq!(*outer.count.lock().unwrap(), 2);
}

#[tokio::test]
async fn watches_stream_through_the_stack() {
    let events = [
        r#"{"type":"ADDED","object":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"a","resourceVersion":"8"}}}"#,
        r#"{"type":"BOOKMARK","object":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"resourceVersion":"9"}}}"#,
    ];
    let (service, seen) = canned(move |_, _| {
        let chunks = events
            .iter()
            .map(|e| Ok::<_, Infallible>(bytes::Bytes::from(format!("{e}\n"))))
            .collect::<Vec<_>>();
        http::Response::builder()
            .header("content-type", "application/json")
            .body(Body::from_stream(futures::stream::iter(chunks)))
            .unwrap()
    });
    let client = ClientBuilder::new(config())
        .service(service)
        .build()
        .unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client, "ns");
    let events: Vec<_> = api
        .watch(&WatchParams::default(), "7")
        .await
        .unwrap()
        .collect()
        .await;
    assert!(
        matches!(&events[0], Ok(WatchEvent::Added(cm)) if cm.metadata.name.as_deref() == Some("a"))
    );
    assert!(matches!(&events[1], Ok(WatchEvent::Bookmark(b)) if b.resource_version == "9"));
    assert_eq!(
        seen.lock().unwrap()[0].uri().query(),
        Some("watch=true&resourceVersion=7&allowWatchBookmarks=true")
    );
}

#[tokio::test(start_paused = true)]
async fn the_default_rate_limiter_is_a_layer_too() {
    let (service, seen) = canned(|_, _| json(200, "{}"));
    let mut config = config();
    config.rate_limit = Some(RateLimit::new(20.0, 1));
    let client: Client = ClientBuilder::new(config).service(service).build().unwrap();
    let start = tokio::time::Instant::now();
    for _ in 0..3 {
        let _: serde_json::Value = client
            .request(http::Request::get("/x").body(Vec::new()).unwrap())
            .await
            .unwrap();
    }
    // Burst 1 at 20 QPS: the second and third wait about 50 ms each.
    assert!(
        start.elapsed() >= Duration::from_millis(90),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(seen.lock().unwrap().len(), 3);
}
