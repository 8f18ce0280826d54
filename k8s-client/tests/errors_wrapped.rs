//! Errors of the higher layers keep the server's answer and their causes, against the real
//! control plane: a 404 or 403 wrapped in a CRD, wait, watch or discovery error still answers
//! `is_not_found()` / `is_forbidden()` (on the typed error and on the `k8s_client::Error` it
//! converts into with `?`), `Error::find` gives the typed error back, and a TLS failure's
//! chain of `source()`s leads down to the rustls error.

use std::error::Error as _;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_client::api::{
    Api, ApiResource, GroupVersionKind, Patch, PatchParams, PostParams, WatchParams,
};
use k8s_client::config::Secret;
use k8s_client::discovery::{Discovery, DiscoveryError};
use k8s_client::dynamic::DynamicObject;
use k8s_client::error::ApiError;
use k8s_client::runtime::crd::{self, CrdError};
use k8s_client::runtime::wait::{conditions, wait_until, RetryWatcher, WaitError, WatchError};
use k8s_client::transport::TransportError;
use k8s_client::{Client, Error};
use k8s_client_testsupport as ts;
use k8s_client_testsupport::controlplane::PrivateControlPlane;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(20);

/// What a program's own function looks like: higher-layer errors go up with `?`.
async fn wait_for_crd(client: &Client, name: &str) -> Result<CustomResourceDefinition, Error> {
    Ok(crd::wait_established(client, name, TIMEOUT).await?)
}

async fn wait_for_deletion(api: &Api<ConfigMap>, name: &str) -> Result<(), Error> {
    wait_until(api, name, TIMEOUT, conditions::is_deleted).await?;
    Ok(())
}

fn definition(group: &str) -> CustomResourceDefinition {
    serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("gadgets.{group}")},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object"}}
            }]
        }
    }))
    .unwrap()
}

#[tokio::test]
async fn a_missing_crd_is_not_found_through_crd_error_and_error() {
    let client = ts::client().await;
    let name = format!("nothing.missing-{}.k8s-client.test", ts::unique_suffix());

    // The typed error answers itself.
    let typed = crd::wait_established(&client, &name, TIMEOUT)
        .await
        .unwrap_err();
    assert!(matches!(typed, CrdError::Api(_)), "{typed:?}");
    assert!(typed.is_not_found(), "{typed}");
    assert!(!typed.is_forbidden() && !typed.is_conflict(), "{typed}");
    assert_eq!(typed.api().map(|e| e.code), Some(404));
    // The request error is the source, not skipped over.
    let source = typed.source().expect("the request error is the source");
    assert!(source.is::<Error>(), "{source:?}");

    // Converted with `?` into the crate's error: the same answers, and the typed error back.
    let err = wait_for_crd(&client, &name).await.unwrap_err();
    assert!(matches!(err, Error::Other(_)), "{err:?}");
    assert!(err.is_not_found(), "{err}");
    assert_eq!(
        err.status().and_then(|s| s.reason.as_deref()),
        Some("NotFound")
    );
    assert!(
        matches!(err.find::<CrdError>(), Some(CrdError::Api(_))),
        "{err:?}"
    );
    assert_eq!(err.find::<ApiError>().map(|e| e.code), Some(404));
}

#[tokio::test]
async fn a_crd_the_user_may_not_create_is_forbidden_through_crd_error() {
    let restricted = ts::client_for("restricted").await;
    let group = format!("forbidden-{}.k8s-client.test", ts::unique_suffix());
    let typed = crd::create(&restricted, &definition(&group), TIMEOUT)
        .await
        .unwrap_err();
    assert!(typed.is_forbidden(), "{typed}");
    assert!(!typed.is_not_found(), "{typed}");
    let err = Error::from(typed);
    assert!(err.is_forbidden(), "{err}");
    assert!(err.find::<CrdError>().is_some(), "{err:?}");
    assert_eq!(err.api().map(|e| e.code), Some(403));
}

#[tokio::test]
async fn waiting_where_the_user_may_not_read_is_forbidden_through_wait_error() {
    let ns = ts::namespace("errwrap-wait").await;
    // The restricted user may read only in its own namespace.
    let restricted = ts::client_for("restricted").await;
    let api: Api<ConfigMap> = Api::namespaced(restricted, &ns.name);

    let typed = wait_until(&api, "anything", TIMEOUT, conditions::is_deleted)
        .await
        .unwrap_err();
    assert!(matches!(typed, WaitError::Api { .. }), "{typed:?}");
    assert!(typed.is_forbidden(), "{typed}");
    assert!(!typed.is_timeout());

    let err = wait_for_deletion(&api, "anything").await.unwrap_err();
    assert!(err.is_forbidden(), "{err}");
    assert!(!err.is_not_found(), "{err}");
    assert!(
        matches!(err.find::<WaitError>(), Some(WaitError::Api { .. })),
        "{err:?}"
    );
    assert_eq!(err.api().map(|e| e.code), Some(403));
}

#[tokio::test]
async fn waiting_for_a_resource_the_server_does_not_serve_is_not_found() {
    let ns = ts::namespace("errwrap-unserved").await;
    let client = ts::client().await;
    let resource = ApiResource::from_gvk(
        &GroupVersionKind::new("unserved.k8s-client.test", "v1", "Gizmo"),
        "gizmos",
        true,
    );
    let api: Api<DynamicObject> = Api::namespaced_with(client, &ns.name, &resource);
    let typed = wait_until(&api, "g", TIMEOUT, |o: Option<&DynamicObject>| o.is_some())
        .await
        .unwrap_err();
    assert!(typed.is_not_found(), "{typed}");
    let err = Error::from(typed);
    assert!(err.is_not_found(), "{err}");
    assert!(err.find::<WaitError>().is_some(), "{err:?}");
}

#[tokio::test]
async fn a_watch_from_a_compacted_resource_version_is_gone_through_watch_error() {
    // Without the watch cache, watches are served by etcd, which answers a compacted
    // revision with 410 Expired; compaction runs every second.
    let cp =
        PrivateControlPlane::start(&["--watch-cache=false", "--etcd-compaction-interval=1s"]).await;
    let cms: Api<ConfigMap> = Api::namespaced(cp.client().await, "default");
    let created = cms
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "old"}})).unwrap(),
        )
        .await
        .unwrap();
    let old = created.metadata.resource_version.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let typed = loop {
        assert!(
            Instant::now() < deadline,
            "resourceVersion {old} never expired"
        );
        // A newer revision, so that compaction removes the old one.
        let patch = Patch::Merge(json!({"data": {"at": format!("{:?}", Instant::now())}}));
        cms.patch("old", &PatchParams::default(), &patch)
            .await
            .unwrap();
        let mut watcher = RetryWatcher::new(cms.clone(), WatchParams::default(), &old).unwrap();
        match tokio::time::timeout(Duration::from_secs(5), watcher.next()).await {
            Ok(Some(Err(e))) => break e,
            // Not compacted yet: the watch still delivers the changes since.
            _ => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    };
    assert!(matches!(typed, WatchError::Gone { .. }), "{typed:?}");
    assert!(typed.is_gone(), "{typed}");
    assert!(!typed.is_not_found(), "{typed}");
    assert_eq!(typed.api().map(|e| e.code), Some(410));
    let err = Error::from(typed);
    assert!(err.is_gone(), "{err}");
    assert!(
        matches!(err.find::<WatchError>(), Some(WatchError::Gone { .. })),
        "{err:?}"
    );
}

#[tokio::test]
async fn discovery_with_a_rejected_token_is_unauthorized_through_discovery_error() {
    let mut config = ts::config("admin-token").await;
    config.auth.token = Some(Secret::new("not-a-token-the-server-knows".to_string()));
    let client = Client::try_from(config).unwrap();
    let typed = Discovery::new(client).groups().await.unwrap_err();
    assert!(matches!(typed, DiscoveryError::Request { .. }), "{typed:?}");
    assert_eq!(typed.api().map(|e| e.code), Some(401));
    let err = Error::from(typed);
    assert!(err.is_unauthorized(), "{err}");
    assert!(err.find::<DiscoveryError>().is_some(), "{err:?}");
}

#[tokio::test]
async fn a_wrong_ca_leads_down_to_the_rustls_error() {
    let mut config = ts::config("admin").await;
    // A certificate that did not sign the server's: the admin client certificate.
    let pem = std::fs::read(ts::cluster_dir().join("pki/admin.crt")).unwrap();
    config.tls.root_certs_pem = vec![pem];
    let client = Client::try_from(config).unwrap();
    let err = client
        .request_text(http::Request::get("/version").body(Vec::new()).unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Transport(TransportError::Tls { .. })),
        "{err:?}"
    );

    // Walk the chain as an error reporter would.
    let mut chain = Vec::new();
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(&err);
    let mut rustls_error = None;
    while let Some(e) = next {
        chain.push(e.to_string());
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            rustls_error = Some(tls.clone());
        }
        next = e.source();
    }
    match rustls_error {
        Some(rustls::Error::InvalidCertificate(cause)) => {
            assert!(
                matches!(cause, rustls::CertificateError::UnknownIssuer),
                "{cause:?}"
            );
        }
        other => panic!("no rustls certificate error in the chain {chain:?}: {other:?}"),
    }
    assert!(err.find::<rustls::Error>().is_some());
}
