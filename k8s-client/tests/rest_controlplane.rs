//! The request path against the real control plane: status errors, identities, warnings,
//! impersonation, watch timeouts.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_client::config::Impersonation;
use k8s_client::rest::WarningHandler;
use k8s_client::{Client, Error};
use k8s_client_testsupport as ts;

fn get(path: &str) -> http::Request<Vec<u8>> {
    http::Request::get(path).body(Vec::new()).unwrap()
}

fn configmap(name: &str) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": {"k": "v"},
    })
}

#[tokio::test]
async fn missing_object_is_not_found_with_the_servers_message() {
    let ns = ts::namespace("rest-404").await;
    let client = ts::client().await;
    let err = client
        .request::<serde_json::Value>(get(&format!(
            "/api/v1/namespaces/{}/configmaps/does-not-exist",
            ns.name
        )))
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    let api = err.api().unwrap();
    assert_eq!(api.code, 404);
    assert_eq!(api.message(), "configmaps \"does-not-exist\" not found");
}

// The restricted user's 403s are tested in controlplane_contexts.rs, a bad token's 401 in
// auth_controlplane.rs (token_from_kubeconfig).

#[tokio::test]
async fn impersonation_headers_are_honoured() {
    let ns = ts::namespace("rest-imp").await;
    let mut config = ts::config("admin").await;
    config.impersonate = Some(
        Impersonation::new("jane")
            .group("team-x")
            .extra("example.org/reason", ["test"]),
    );
    let client = Client::try_from(config).unwrap();
    let err = client
        .request_text(get(&format!("/api/v1/namespaces/{}/configmaps", ns.name)))
        .await
        .unwrap_err();
    assert!(err.is_forbidden(), "{err:?}");
    assert!(
        err.api().unwrap().message().contains("User \"jane\""),
        "{err}"
    );

    // Who the server thinks we are.
    let review = http::Request::post("/apis/authentication.k8s.io/v1/selfsubjectreviews")
        .body(
            serde_json::to_vec(&serde_json::json!({
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "SelfSubjectReview",
            }))
            .unwrap(),
        )
        .unwrap();
    let review: serde_json::Value = client.request(review).await.unwrap();
    let user = &review["status"]["userInfo"];
    assert_eq!(user["username"], "jane", "{review}");
    assert!(user["groups"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("team-x")));
    assert_eq!(
        user["extra"]["example.org/reason"],
        serde_json::json!(["test"])
    );
}

#[derive(Default)]
struct Collect(Mutex<Vec<String>>);

impl WarningHandler for Collect {
    fn handle_warning(&self, code: u16, _agent: &str, text: &str) {
        assert_eq!(code, 299);
        self.0.lock().unwrap().push(text.to_string());
    }
}

#[tokio::test]
async fn server_warnings_reach_the_handler() {
    let ns = ts::namespace("rest-warn").await;
    let collect = Arc::new(Collect::default());
    let client = ts::client().await.with_warning_handler(collect.clone());
    let mut body = configmap("warned");
    body["bogusField"] = serde_json::json!(1);
    let request = http::Request::post(format!(
        "/api/v1/namespaces/{}/configmaps?fieldValidation=Warn",
        ns.name
    ))
    .body(serde_json::to_vec(&body).unwrap())
    .unwrap();
    client.request::<serde_json::Value>(request).await.unwrap();
    let warnings = collect.0.lock().unwrap().clone();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("unknown field \"bogusField\"")),
        "{warnings:?}"
    );
}

#[tokio::test]
async fn watches_are_not_cut_by_the_client_timeout() {
    let ns = ts::namespace("rest-watch").await;
    let mut config = ts::config("admin").await;
    config.timeout = Some(Duration::from_millis(800));
    let client = Client::try_from(config).unwrap();
    let start = Instant::now();
    let mut stream = client
        .request_stream(get(&format!(
            "/api/v1/namespaces/{}/configmaps?watch=true&timeoutSeconds=3",
            ns.name
        )))
        .await
        .unwrap();
    // Create an object while watching: its event arrives on the stream.
    let creator = {
        let client = ts::client().await;
        let name = ns.name.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1200)).await;
            let request = http::Request::post(format!("/api/v1/namespaces/{name}/configmaps"))
                .body(serde_json::to_vec(&configmap("seen")).unwrap())
                .unwrap();
            client.request::<serde_json::Value>(request).await.unwrap();
        })
    };
    let mut received = Vec::new();
    while let Some(chunk) = stream.next().await {
        received.extend_from_slice(&chunk.unwrap());
    }
    creator.await.unwrap();
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(2500),
        "watch ended after {took:?}"
    );
    let text = String::from_utf8(received).unwrap();
    assert!(
        text.contains("\"ADDED\"") && text.contains("\"seen\""),
        "{text}"
    );

    // The client still works for ordinary requests under the same timeout.
    let v: serde_json::Value = client.request(get("/version")).await.unwrap();
    assert!(v.get("gitVersion").is_some());
}

#[tokio::test]
async fn request_text_and_decode_errors() {
    let client = ts::client().await;
    let text = client.request_text(get("/version")).await.unwrap();
    assert!(text.contains("gitVersion"));
    // The right JSON, the wrong type.
    let err = client
        .request::<Vec<String>>(get("/version"))
        .await
        .unwrap_err();
    match err {
        Error::Decode(e) => {
            assert!(
                e.what().contains("Vec<alloc::string::String>"),
                "{}",
                e.what()
            );
            assert!(
                e.message().contains("expected a sequence"),
                "{}",
                e.message()
            );
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
}
