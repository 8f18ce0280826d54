//! What `Api<K>` puts on the wire with the `protobuf` feature, checked on a scripted local
//! server (the real API server never refuses protobuf for a built-in kind, so the `415`
//! fallback of a write can only be provoked here): built-in kinds ask for protobuf and send
//! protobuf bodies; `json()` and custom resources use JSON; a `415` makes the handle repeat
//! the request in JSON and stay JSON.

mod rest_support;

use k8s_client::api::{Api, ListParams, PostParams};
use k8s_client::protobuf::envelope::{self, CONTENT_TYPE};
use k8s_client::protobuf::ACCEPT;
use k8s_client::Client;
use k8s_openapi::api::core::v1::ConfigMap;
use rest_support::{Reply, Seen, Server};

fn config_map(name: &str) -> ConfigMap {
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some(name.into());
    cm.metadata.namespace = Some("ns".into());
    cm.data = Some([("k".to_string(), "v".to_string())].into());
    cm
}

fn protobuf_reply(status: u16, body: Vec<u8>) -> Reply {
    Reply::Full(
        status,
        vec![("Content-Type".into(), CONTENT_TYPE.into())],
        body,
    )
}

#[tokio::test]
async fn built_in_kinds_speak_protobuf_and_json_opts_out() {
    let server = Server::start(|_, seen: &Seen| {
        if seen.header("accept") == Some(ACCEPT) {
            protobuf_reply(200, envelope::encode_object(&config_map("a")))
        } else {
            Reply::json(200, &serde_json::to_string(&config_map("a")).unwrap())
        }
    })
    .await;
    let client = Client::try_from(server.config()).unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client, "ns");
    assert!(api.uses_protobuf());
    assert_eq!(api.get("a").await.unwrap(), config_map("a"));
    let json = api.clone().json();
    assert!(!json.uses_protobuf());
    assert_eq!(json.get("a").await.unwrap(), config_map("a"));

    let seen = server.seen();
    assert_eq!(seen[0].header("accept"), Some(ACCEPT));
    assert_eq!(seen[1].header("accept"), Some("application/json"));
}

#[tokio::test]
async fn writes_send_protobuf_bodies() {
    let server = Server::start(|_, seen: &Seen| {
        // Echo the object back, as the server would.
        protobuf_reply(201, seen.body.clone())
    })
    .await;
    let client = Client::try_from(server.config()).unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client, "ns");
    let created = api
        .create(&PostParams::default(), &config_map("b"))
        .await
        .unwrap();
    assert_eq!(created, config_map("b"));
    let seen = server.seen();
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].header("content-type"), Some(CONTENT_TYPE));
    assert!(seen[0].body.starts_with(envelope::MAGIC));
}

#[tokio::test]
async fn unsupported_media_type_falls_back_to_json_for_good() {
    let server = Server::start(|_, seen: &Seen| {
        if seen.header("content-type") == Some(CONTENT_TYPE) {
            return Reply::json(
                415,
                r#"{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"UnsupportedMediaType","code":415,"message":"the body of the request was in an unknown format"}"#,
            );
        }
        if seen.method == "POST" {
            return Reply::json(201, std::str::from_utf8(&seen.body).unwrap());
        }
        Reply::json(
            200,
            r#"{"kind":"ConfigMapList","apiVersion":"v1","metadata":{"resourceVersion":"7"},"items":[]}"#,
        )
    })
    .await;
    let client = Client::try_from(server.config()).unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client, "ns");
    let created = api
        .create(&PostParams::default(), &config_map("c"))
        .await
        .unwrap();
    assert_eq!(created.metadata.name.as_deref(), Some("c"));
    assert!(!api.uses_protobuf(), "the 415 switched the handle to JSON");
    let list = api.list(&ListParams::default()).await.unwrap();
    assert_eq!(list.resource_version(), Some("7"));

    let seen = server.seen();
    assert_eq!(seen.len(), 3, "{seen:#?}");
    assert_eq!(seen[0].header("content-type"), Some(CONTENT_TYPE));
    assert_eq!(seen[1].header("content-type"), Some("application/json"));
    assert_eq!(
        serde_json::from_slice::<ConfigMap>(&seen[1].body).unwrap(),
        config_map("c")
    );
    assert_eq!(seen[2].header("accept"), Some("application/json"));
}

#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, Default, PartialEq)]
pub struct GizmoSpec {
    pub size: i32,
}

k8s_client::custom_resource! {
    #[resource(group = "example.com", version = "v1", kind = "Gizmo", plural = "gizmos", scope = Namespaced)]
    /// A custom resource for the test.
    #[derive(Clone, Debug, Default, PartialEq)]
    pub struct Gizmo {
        pub spec: GizmoSpec,
    }
}

#[tokio::test]
async fn custom_resources_use_json() {
    let server = Server::start(|_, _| {
        Reply::json(
            200,
            r#"{"apiVersion":"example.com/v1","kind":"Gizmo","metadata":{"name":"g"},"spec":{"size":1}}"#,
        )
    })
    .await;
    let client = Client::try_from(server.config()).unwrap();
    let api: Api<Gizmo> = Api::namespaced(client, "ns");
    assert!(!api.uses_protobuf());
    assert_eq!(api.get("g").await.unwrap().spec.size, 1);
    assert_eq!(server.seen()[0].header("accept"), Some("application/json"));
}
