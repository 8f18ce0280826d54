//! Every context of the test control plane's kubeconfig works as documented: the admin
//! certificate user and the admin token users can write; the restricted user may read in its
//! namespace and is forbidden to write anywhere.

use k8s_client::api::{DeleteParams, ListParams, PostParams};
use k8s_client::Api;
use k8s_client_testsupport as ts;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

fn namespace(name: &str) -> Namespace {
    Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            ..Default::default()
        },
        ..Default::default()
    }
}

#[tokio::test]
async fn admin_contexts_can_create_and_delete_namespaces() {
    for context in ["admin", "admin-token", "admin-token-2"] {
        let client = ts::client_for(context).await;
        let api: Api<Namespace> = Api::all(client);
        let name = format!("ctx-{context}-{}", std::process::id());
        let created = api
            .create(&PostParams::default(), &namespace(&name))
            .await
            .unwrap_or_else(|e| panic!("context {context} could not create namespace {name}: {e}"));
        assert_eq!(created.metadata.name.as_deref(), Some(name.as_str()));
        api.delete(&name, &DeleteParams::default())
            .await
            .unwrap_or_else(|e| panic!("context {context} could not delete namespace {name}: {e}"));
    }
}

#[tokio::test]
async fn restricted_context_reads_its_namespace_and_cannot_write() {
    let client = ts::client_for("restricted").await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), ts::RESTRICTED_NAMESPACE);
    let list = cms
        .list(&ListParams::default())
        .await
        .expect("the restricted user may list in its namespace");
    assert!(list
        .items
        .iter()
        .any(|c| c.metadata.name.as_deref() == Some("kube-root-ca.crt")));

    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some("nope".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let err = cms
        .create(&PostParams::default(), &cm)
        .await
        .expect_err("the restricted user must not write");
    assert!(err.is_forbidden(), "expected 403 Forbidden, got {err}");
    assert_eq!(err.api().map(|e| e.code), Some(403));

    let elsewhere: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let err = elsewhere
        .list(&ListParams::default())
        .await
        .expect_err("no reads outside its namespace");
    assert!(err.is_forbidden(), "expected 403 Forbidden, got {err}");
    // The server's own message comes through.
    assert!(
        err.api().unwrap().message().contains("cannot list"),
        "{err}"
    );

    let err = Api::<Namespace>::all(client)
        .create(&PostParams::default(), &namespace("restricted-may-not"))
        .await
        .expect_err("the restricted user must not create namespaces");
    assert!(err.is_forbidden(), "expected 403 Forbidden, got {err}");
}

#[tokio::test]
async fn test_namespaces_are_created_and_removed() {
    let ns = ts::namespace("ctx-ns").await;
    let name = ns.name.clone();
    let api: Api<Namespace> = Api::all(ts::client().await);
    assert!(
        api.get(&name).await.is_ok(),
        "namespace {name} should exist while the test runs"
    );
    drop(ns);
    // Deletion is asynchronous on the server: the namespace is gone or terminating.
    match api.get(&name).await {
        Err(e) => assert!(e.is_not_found(), "unexpected error {e}"),
        Ok(n) => assert!(
            n.metadata.deletion_timestamp.is_some(),
            "namespace {name} was not deleted"
        ),
    }
}
