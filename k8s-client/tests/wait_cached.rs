//! `wait_until_cached` against the real control plane: waits on an informer's store for an
//! object to appear, reach a state, and be deleted; times out with a typed error.

use std::time::Duration;

use k8s_client::api::{DeleteParams, Patch, PatchParams, PostParams};
use k8s_client::cache::InformerFactory;
use k8s_client::runtime::wait::{conditions, wait_until_cached};
use k8s_client::{Api, Client};
use k8s_client_testsupport as ts;
use k8s_openapi::api::core::v1::ConfigMap;
use serde_json::json;

const LONG: Duration = Duration::from_secs(45);

async fn own_client() -> Client {
    let mut config = ts::config("admin").await;
    config.rate_limit = None;
    Client::try_from(config).unwrap()
}

#[tokio::test]
async fn cached_object_appears_changes_and_goes() {
    let ns = ts::namespace("wait-cached").await;
    let client = own_client().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &ns.name);
    let factory = InformerFactory::new(client);
    let informer = factory.namespaced_informer::<ConfigMap>(&ns.name);
    factory.start();
    let key = format!("{}/cm", ns.name);

    let waiter = {
        let (informer, key) = (informer.clone(), key.clone());
        tokio::spawn(
            async move { wait_until_cached(&informer, &key, LONG, conditions::exists).await },
        )
    };
    let cm: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "cm"}, "data": {"n": "0"}})).unwrap();
    cms.create(&PostParams::default(), &cm).await.unwrap();
    let cached = waiter.await.unwrap().unwrap().expect("the cached object");
    assert_eq!(cached.metadata.name.as_deref(), Some("cm"));

    let waiter = {
        let (informer, key) = (informer.clone(), key.clone());
        tokio::spawn(async move {
            wait_until_cached(&informer, &key, LONG, |cm: Option<&ConfigMap>| {
                cm.and_then(|c| c.data.as_ref())
                    .is_some_and(|d| d.get("n").is_some_and(|n| n == "3"))
            })
            .await
        })
    };
    let mut last_rv = String::new();
    for n in 1..=3 {
        let patch = json!({"data": {"n": n.to_string()}});
        let cm = cms
            .patch("cm", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap();
        last_rv = cm.metadata.resource_version.unwrap();
    }
    let cached = waiter.await.unwrap().unwrap().unwrap();
    assert_eq!(
        cached.metadata.resource_version.as_deref(),
        Some(last_rv.as_str())
    );

    let waiter = {
        let (informer, key) = (informer.clone(), key.clone());
        tokio::spawn(async move {
            wait_until_cached(&informer, &key, LONG, conditions::is_deleted).await
        })
    };
    cms.delete("cm", &DeleteParams::default()).await.unwrap();
    assert!(waiter.await.unwrap().unwrap().is_none());
    assert!(informer.store().get_by_key(&key).is_none());

    let missing = format!("{}/never", ns.name);
    let err = wait_until_cached(
        &informer,
        &missing,
        Duration::from_millis(500),
        conditions::exists,
    )
    .await
    .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(err.to_string().contains(&missing), "{err}");
}
