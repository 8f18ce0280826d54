//! The metadata-only client against the real control plane: a list of Secrets carries their
//! names and labels but not their data (checked on the raw JSON the server sends), get,
//! pages, watch events of kind PartialObjectMetadata, patch and delete.

use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use k8s_client::api::{
    Api, ApiResource, DeleteParams, Deleted, ListParams, Object, Patch, PatchParams, PostParams,
    WatchEvent, WatchParams,
};
use k8s_client::metadata::{MetadataApi, PartialObjectMetadata};
use k8s_client::rest::Verb;
use k8s_client::{Client, Result};
use k8s_client_testsupport as ts;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use serde_json::{json, Value};

/// A value that must never appear in a metadata-only answer.
const SECRET_VALUE: &str = "do-not-send-me";

fn secret(name: &str, tier: &str) -> Secret {
    let mut s = Secret::default();
    s.metadata.name = Some(name.into());
    s.metadata.labels = Some([("tier".to_string(), tier.to_string())].into());
    s.string_data = Some([("password".to_string(), SECRET_VALUE.to_string())].into());
    s
}

async fn fast_client() -> Client {
    let mut config = ts::config("admin").await;
    config.rate_limit = None;
    Client::try_from(config).unwrap()
}

/// The base64 of the secret value, as it would appear in a Secret's `data`.
fn encoded_secret_value() -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(SECRET_VALUE)
}

#[tokio::test]
async fn list_and_get_secrets_without_their_data() {
    let ns = ts::namespace("meta-list").await;
    let client = fast_client().await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns.name);
    for (name, tier) in [("s1", "web"), ("s2", "web"), ("s3", "db")] {
        secrets
            .create(&PostParams::default(), &secret(name, tier))
            .await
            .unwrap();
    }
    // The typed client does see the data (so the check below means something).
    let full = secrets.get("s1").await.unwrap();
    assert_eq!(
        full.data.unwrap()["password"].0,
        SECRET_VALUE.as_bytes().to_vec()
    );

    let api = MetadataApi::namespaced_with(client.clone(), &ns.name, &ApiResource::of::<Secret>());
    let list = api
        .list(&ListParams::default().labels("tier"))
        .await
        .unwrap();
    let mut seen: Vec<(String, String)> = list
        .iter()
        .map(|m| {
            (
                m.name().unwrap().to_string(),
                m.metadata.labels.as_ref().unwrap()["tier"].clone(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("s1".to_string(), "web".to_string()),
            ("s2".into(), "web".into()),
            ("s3".into(), "db".into())
        ]
    );
    assert!(list
        .iter()
        .all(|m| m.uid().is_some() && m.resource_version().is_some()));
    assert!(list.resource_version().is_some());

    // The raw answer: kind PartialObjectMetadataList, items without data or type.
    let raw_req = ListParams::default()
        .labels("tier")
        .apply_to(api.request(Verb::List))
        .build()
        .unwrap();
    let raw: Value = client.request(raw_req).await.unwrap();
    assert_eq!(raw["kind"], "PartialObjectMetadataList", "{raw}");
    assert_eq!(raw["apiVersion"], "meta.k8s.io/v1");
    let items = raw["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    for item in items {
        let keys: Vec<&String> = item.as_object().unwrap().keys().collect();
        assert!(
            keys.iter()
                .all(|k| ["apiVersion", "kind", "metadata"].contains(&k.as_str())),
            "unexpected fields {keys:?}"
        );
        assert_eq!(item["kind"], "PartialObjectMetadata");
    }
    let text = raw.to_string();
    assert!(
        !text.contains(&encoded_secret_value()) && !text.contains(SECRET_VALUE),
        "secret data in a metadata-only list: {text}"
    );

    // Pages.
    let pages: Vec<_> = api
        .list_pages(&ListParams::default().labels("tier=web").limit(1))
        .try_collect()
        .await
        .unwrap();
    // With a selector, a page may end early and the last page may be empty: the server
    // filters what it reads from storage page by page.
    assert!(pages.len() >= 2, "{} pages", pages.len());
    assert!(pages.iter().all(|p| p.items.len() <= 1));
    assert_eq!(pages.iter().map(|p| p.items.len()).sum::<usize>(), 2);
    assert_eq!(
        api.list_all(&ListParams::default().labels("tier").limit(2))
            .await
            .unwrap()
            .items
            .len(),
        3
    );

    // Get.
    let one = api.get("s3").await.unwrap();
    assert_eq!(one.kind, PartialObjectMetadata::KIND);
    assert_eq!(one.api_version, PartialObjectMetadata::API_VERSION);
    assert_eq!(one.namespace(), Some(ns.name.as_str()));
    assert_eq!(one.metadata.labels.unwrap()["tier"], "db");
    let raw: Value = client
        .request(api.request(Verb::Get).name("s3").build().unwrap())
        .await
        .unwrap();
    assert_eq!(raw["kind"], "PartialObjectMetadata");
    assert!(
        raw.get("data").is_none() && raw.get("type").is_none(),
        "{raw}"
    );
    assert!(api.get_opt("missing").await.unwrap().is_none());
    assert!(api.get("missing").await.unwrap_err().is_not_found());

    // Patch the labels; delete.
    let patched = api
        .patch(
            "s3",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"tier": "cache"}}})),
        )
        .await
        .unwrap();
    assert_eq!(patched.kind, PartialObjectMetadata::KIND);
    assert_eq!(patched.metadata.labels.unwrap()["tier"], "cache");
    assert_eq!(
        secrets.get("s3").await.unwrap().metadata.labels.unwrap()["tier"],
        "cache"
    );
    match api.delete("s3", &DeleteParams::default()).await.unwrap() {
        Deleted::Object(o) => assert_eq!(o.name(), Some("s3")),
        Deleted::Status(s) => assert_eq!(s.status.as_deref(), Some("Success")),
    }
    assert!(secrets.get_opt("s3").await.unwrap().is_none());
    match api
        .delete_collection(
            &DeleteParams::default(),
            &ListParams::default().labels("tier=web"),
        )
        .await
        .unwrap()
    {
        Deleted::Object(list) => {
            let mut names: Vec<_> = list.iter().filter_map(|m| m.name()).collect();
            names.sort();
            assert_eq!(names, ["s1", "s2"]);
            assert!(list.iter().all(|m| m.metadata.labels.is_some()));
        }
        Deleted::Status(s) => panic!("expected the deleted objects, got {s:?}"),
    }
    assert!(secrets
        .list(&ListParams::default().labels("tier"))
        .await
        .unwrap()
        .items
        .is_empty());

    // Cluster-scoped resources work through `all`.
    let namespaces = MetadataApi::all_with(client, &ApiResource::of::<Namespace>());
    let mine = namespaces.get(&ns.name).await.unwrap();
    assert_eq!(mine.name(), Some(ns.name.as_str()));
    assert_eq!(mine.metadata.labels.unwrap()["k8s-client-test"], "true");
}

/// The next event that is not a bookmark, failing after 20 s.
async fn next_change<S>(events: &mut S) -> WatchEvent<PartialObjectMetadata>
where
    S: Stream<Item = Result<WatchEvent<PartialObjectMetadata>>> + Unpin,
{
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(20), events.next())
            .await
            .expect("no watch event within 20s")
            .expect("the watch ended early")
            .unwrap();
        if !matches!(ev, WatchEvent::Bookmark(_)) {
            return ev;
        }
    }
}

#[tokio::test]
async fn watch_secrets_metadata() {
    let ns = ts::namespace("meta-watch").await;
    let client = fast_client().await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns.name);
    let api = MetadataApi::namespaced_with(client.clone(), &ns.name, &ApiResource::of::<Secret>());
    let rv = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .resource_version()
        .unwrap()
        .to_string();

    // The raw watch stream too, to check what the server sends.
    let raw_req = WatchParams::default()
        .disable_bookmarks()
        .timeout(30)
        .apply_to(api.request(Verb::Watch), &rv)
        .build()
        .unwrap();
    let mut raw = Box::pin(client.request_stream(raw_req).await.unwrap());
    let wp = WatchParams::default().labels("tier").timeout(60);
    let mut events = Box::pin(api.watch(&wp, &rv).await.unwrap());

    secrets
        .create(&PostParams::default(), &secret("w", "web"))
        .await
        .unwrap();
    secrets
        .patch(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"tier": "db"}}})),
        )
        .await
        .unwrap();
    secrets.delete("w", &DeleteParams::default()).await.unwrap();

    match next_change(&mut events).await {
        WatchEvent::Added(m) => {
            assert_eq!(m.name(), Some("w"));
            assert_eq!(m.kind, PartialObjectMetadata::KIND);
            assert_eq!(m.metadata.labels.unwrap()["tier"], "web");
        }
        other => panic!("expected ADDED w, got {other:?}"),
    }
    match next_change(&mut events).await {
        WatchEvent::Modified(m) => assert_eq!(m.metadata.labels.unwrap()["tier"], "db"),
        other => panic!("expected MODIFIED w, got {other:?}"),
    }
    match next_change(&mut events).await {
        WatchEvent::Deleted(m) => assert_eq!(m.name(), Some("w")),
        other => panic!("expected DELETED w, got {other:?}"),
    }

    // The first raw event line: a PartialObjectMetadata without the data.
    let mut buf = Vec::new();
    let line = loop {
        if let Some(end) = buf.iter().position(|b| *b == b'\n') {
            break buf[..end].to_vec();
        }
        let chunk: Bytes = tokio::time::timeout(Duration::from_secs(20), raw.next())
            .await
            .expect("no raw watch data within 20s")
            .expect("the raw watch ended early")
            .unwrap();
        buf.extend_from_slice(&chunk);
    };
    let event: Value = serde_json::from_slice(&line).unwrap();
    assert_eq!(event["type"], "ADDED", "{event}");
    assert_eq!(event["object"]["kind"], "PartialObjectMetadata", "{event}");
    assert_eq!(event["object"]["metadata"]["name"], "w");
    assert!(event["object"].get("data").is_none(), "{event}");
    let text = String::from_utf8_lossy(&line);
    assert!(!text.contains(&encoded_secret_value()), "{text}");
}
