//! The documented way to use the test environment: one control plane for the whole test
//! binary (started by the first test that needs it), a namespace and a client per test.
//!
//! Runs against a real control plane from `TestEnv::start()`'s lookup: `KUBEBUILDER_ASSETS`,
//! else `K8S_CLIENT_TESTCLUSTER_BIN` (scripts/test.sh exports it), else the repository's
//! `scripts/build-testcluster.sh`.

use k8s_client::api::{ListParams, PostParams};
use k8s_client::Api;
use k8s_client_testenv::{TestEnv, NAMESPACE_LABEL};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use tokio::sync::OnceCell;

static ENV: OnceCell<TestEnv> = OnceCell::const_new();

async fn env() -> &'static TestEnv {
    ENV.get_or_init(|| async {
        TestEnv::start()
            .await
            .unwrap_or_else(|e| panic!("starting the test environment: {e}"))
    })
    .await
}

fn config_map(name: &str, value: &str) -> ConfigMap {
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some(name.to_string());
    cm.data = Some([("value".to_string(), value.to_string())].into());
    cm
}

#[tokio::test]
async fn creates_and_reads_back_a_config_map() {
    let env = env().await;
    let ns = env.namespace("example").await.expect("namespace");
    let api = Api::<ConfigMap>::namespaced(env.new_client().expect("client"), ns.name());
    let created = api
        .create(&PostParams::default(), &config_map("settings", "1"))
        .await
        .expect("create");
    assert!(created.metadata.uid.is_some());
    let read = api.get("settings").await.expect("get");
    assert_eq!(read.data, created.data);
    assert_eq!(read.metadata.namespace.as_deref(), Some(ns.name()));
}

#[tokio::test]
async fn parallel_tests_are_isolated_by_namespace() {
    let env = env().await;
    let client = env.new_client().expect("client");
    let (a, b) = tokio::join!(env.namespace("iso"), env.namespace("iso"));
    let (a, b) = (a.expect("namespace a"), b.expect("namespace b"));
    assert_ne!(a.name(), b.name());
    let api_a = Api::<ConfigMap>::namespaced(client.clone(), a.name());
    let api_b = Api::<ConfigMap>::namespaced(client.clone(), b.name());
    api_a
        .create(&PostParams::default(), &config_map("only-in-a", "a"))
        .await
        .expect("create in a");
    let in_b = api_b.list(&ListParams::default()).await.expect("list b");
    assert!(
        in_b.items
            .iter()
            .all(|cm| cm.metadata.name.as_deref() != Some("only-in-a")),
        "namespace b sees a's object: {:?}",
        in_b.items
    );
    // The namespaces carry the label, and are deleted when their guards are dropped.
    let namespaces = Api::<Namespace>::all(client.clone());
    let ns_a = namespaces.get(a.name()).await.expect("get namespace a");
    assert_eq!(
        ns_a.metadata
            .labels
            .unwrap_or_default()
            .get(NAMESPACE_LABEL)
            .map(String::as_str),
        Some("true")
    );
    let name_a = a.name().to_string();
    drop(a);
    match namespaces.get(&name_a).await {
        Ok(ns) => assert!(
            ns.metadata.deletion_timestamp.is_some(),
            "namespace {name_a} is not being deleted after its guard was dropped"
        ),
        Err(e) => assert!(e.is_not_found(), "reading namespace {name_a}: {e}"),
    }
}
