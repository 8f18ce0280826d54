//! The test control plane's KWOK fake kubelet: a fake node becomes Ready, a pod bound to it
//! becomes Running, and its logs are served through the real kube-apiserver.

use std::time::Duration;

use k8s_client::api::{DeleteParams, PostParams};
use k8s_client::Api;
use k8s_client_testsupport as ts;
use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::json;

#[tokio::test]
async fn kwok_node_and_pod_run_and_serve_logs() {
    let ns = ts::namespace("kwok").await;
    let client = ts::client().await;
    let nodes: Api<Node> = Api::all(client.clone());
    let node_name = format!("kwok-{}", ns.name);
    let node: Node = serde_json::from_value(json!({
        "metadata": {"name": node_name, "annotations": {"kwok.x-k8s.io/node": "fake"}}
    }))
    .unwrap();
    nodes.create(&PostParams::default(), &node).await.unwrap();

    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns.name);
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "fake"},
        "spec": {"nodeName": node_name, "containers": [{"name": "c", "image": "fake"}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();

    let mut phase = String::new();
    for _ in 0..100 {
        let p = pods.get("fake").await.unwrap();
        phase = p.status.and_then(|s| s.phase).unwrap_or_default();
        if phase == "Running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(phase, "Running", "the KWOK pod never became Running");

    let path = format!("/api/v1/namespaces/{}/pods/fake/log?container=c", ns.name);
    let logs = client
        .request_text(http::Request::get(path).body(Vec::new()).unwrap())
        .await
        .expect("logs through the apiserver from KWOK's kubelet API");
    assert!(logs.contains("kwok pod log line 1"), "{logs:?}");

    nodes
        .delete(&node_name, &DeleteParams::default())
        .await
        .unwrap();
}
