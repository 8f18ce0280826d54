//! KWOK helpers: fake nodes and pods whose exec/logs/attach/port-forward work.
//!
//! The test control plane runs KWOK, which manages nodes annotated
//! `kwok.x-k8s.io/node=fake`: such a node becomes Ready, a pod bound to it becomes Running,
//! and KWOK serves its kubelet API through the real kube-apiserver: exec runs the command on
//! this machine (in `/tmp`), logs and attach replay a two-line log file, and port-forward of
//! pod ports 18081-18083 dials the same port on 127.0.0.1.
//!
//! ```no_run
//! # async fn t() {
//! use k8s_client_testsupport as ts;
//! let ns = ts::namespace("exec").await;
//! let pod = ts::kwok::running_pod(&ns, "p").await;
//! // ... exec in `pod.name` in namespace `ns.name` ...
//! # drop(pod);
//! # }
//! ```

use std::time::{Duration, Instant};

use k8s_client::api::{DeleteParams, PostParams};
use k8s_client::Api;
use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::json;

use crate::TestNamespace;

/// The lines of the log file KWOK replays for every fake pod (without timestamps).
pub const LOG_LINES: [&str; 2] = ["kwok pod log line 1", "kwok pod log line 2"];

/// The pod ports KWOK forwards (each to the same port on 127.0.0.1).
pub const FORWARDED_PORTS: [u16; 3] = [18081, 18082, 18083];

/// The container name of pods made by [`running_pod`].
pub const CONTAINER: &str = "c";

/// How long a fake node or pod may take to become Ready/Running.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A fake node of its own for one test; deleted (in the background) when dropped.
#[derive(Debug)]
pub struct FakeNode {
    /// The node's name.
    pub name: String,
    config: k8s_client::Config,
}

/// A Running pod on a fake node; the node is deleted when this is dropped (the pod goes with
/// the test namespace).
#[derive(Debug)]
pub struct RunningPod {
    /// The pod's name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// The fake node it runs on.
    pub node: FakeNode,
}

/// Creates a fake node named after the namespace and waits until it is Ready.
pub async fn fake_node(ns: &TestNamespace) -> FakeNode {
    let client = crate::client().await;
    let nodes: Api<Node> = Api::all(client.clone());
    let name = format!("kwok-{}", ns.name);
    let node: Node = serde_json::from_value(json!({
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake"},
            "labels": {"k8s-client-test": "true"}
        }
    }))
    .expect("static node");
    nodes
        .create(&PostParams::default(), &node)
        .await
        .unwrap_or_else(|e| panic!("creating fake node {name}: {e}"));
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let n = nodes
            .get(&name)
            .await
            .unwrap_or_else(|e| panic!("reading fake node {name}: {e}"));
        let ready = n
            .status
            .and_then(|s| s.conditions)
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True");
        if ready {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "fake node {name} did not become Ready within {READY_TIMEOUT:?}: is KWOK running \
             with the test control plane?"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    FakeNode {
        name,
        config: client.config().clone(),
    }
}

/// Creates a fake node and pod `name` (one container, [`CONTAINER`]) on it in `ns`, and waits
/// until the pod is Running.
pub async fn running_pod(ns: &TestNamespace, name: &str) -> RunningPod {
    let node = fake_node(ns).await;
    let client = crate::client().await;
    let pods: Api<Pod> = Api::namespaced(client, &ns.name);
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "nodeName": node.name,
            "containers": [{"name": CONTAINER, "image": "fake"}]
        }
    }))
    .expect("static pod");
    pods.create(&PostParams::default(), &pod)
        .await
        .unwrap_or_else(|e| panic!("creating pod {}/{name}: {e}", ns.name));
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let p = pods
            .get(name)
            .await
            .unwrap_or_else(|e| panic!("reading pod {}/{name}: {e}", ns.name));
        let phase = p.status.and_then(|s| s.phase).unwrap_or_default();
        if phase == "Running" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "pod {}/{name} on fake node {} is {phase:?}, not Running, after {READY_TIMEOUT:?}",
            ns.name,
            node.name
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    RunningPod {
        name: name.to_string(),
        namespace: ns.name.clone(),
        node,
    }
}

impl Drop for FakeNode {
    fn drop(&mut self) {
        // As for namespaces: a thread and a runtime of its own, since Drop cannot await.
        let config = self.config.clone();
        let name = self.name.clone();
        let handle = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                eprintln!("testsupport: cannot delete fake node {name}");
                return;
            };
            rt.block_on(async move {
                let Ok(client) = k8s_client::Client::try_from(config) else {
                    eprintln!("testsupport: cannot delete fake node {name}");
                    return;
                };
                let nodes: Api<Node> = Api::all(client);
                if let Err(e) = nodes.delete(&name, &DeleteParams::default()).await {
                    if !e.is_not_found() {
                        eprintln!("testsupport: deleting fake node {name}: {e}");
                    }
                }
            });
        });
        let _ = handle.join();
    }
}
