//! The in-cluster config of a program running in a pod: the API server from
//! `KUBERNETES_SERVICE_HOST` / `KUBERNETES_SERVICE_PORT`, the service-account token (re-read
//! as it rotates), the cluster CA and the pod's namespace from the files Kubernetes mounts
//! in `/var/run/secrets/kubernetes.io/serviceaccount`; then the pods of that namespace.
//!
//! client-go: `rest.InClusterConfig()` and `clientset.CoreV1().Pods(namespace).List(...)`
//! (seed 004, the in-cluster list of pods; seed 002, "Inside the cluster").
//!
//! In a pod (its service account allowed to list pods):
//!
//! ```text
//! in_cluster_config
//! ```
//!
//! To try it on your machine, make a directory that stands in for the mounted one, with a
//! `token` file (a bearer token the server accepts), `ca.crt` (the cluster's CA, PEM) and
//! `namespace`, set the two variables, and name the directory (`InClusterPaths::in_dir`):
//!
//! ```text
//! mkdir -p /tmp/sa && kubectl create token default > /tmp/sa/token
//! kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority-data}' | base64 -d > /tmp/sa/ca.crt
//! echo default > /tmp/sa/namespace
//! KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=6443 \
//!   cargo run -p k8s-client --example in_cluster_config -- --service-account-dir /tmp/sa
//! ```
//!
//! (The server's certificate must be valid for the host given: for a local cluster,
//! `127.0.0.1` or `localhost`.) `-n NS` lists another namespace than the one in the file.

mod common;

use k8s_client::api::ListParams;
use k8s_client::config::{Config, InClusterPaths, KubeConfigOptions};
use k8s_client::{Api, Client};
use k8s_openapi::api::core::v1::Pod;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (options, mut args) = KubeConfigOptions::from_args(std::env::args().skip(1))?;
    let dir = common::take_flag(&mut args, "--service-account-dir");
    if let Some(extra) = args.first() {
        return Err(format!("unexpected argument {extra:?}").into());
    }

    // The standard paths and the environment, or the same files in another directory.
    let env = InClusterPaths::from_env();
    let paths = match dir {
        Some(dir) => {
            let mut paths = InClusterPaths::in_dir(dir);
            paths.service_host = env.service_host;
            paths.service_port = env.service_port;
            paths
        }
        None => env,
    };
    println!("token file: {}", paths.token_file.display());
    println!("CA file: {}", paths.ca_file.display());
    println!("namespace file: {}", paths.namespace_file.display());

    // client-go: rest.InClusterConfig()
    let mut config = Config::incluster_with(&paths)?;
    if let Some(ns) = options.namespace.as_deref().filter(|ns| !ns.is_empty()) {
        config.default_namespace = ns.to_string();
    }
    println!("server: {}", config.cluster_url);
    println!("namespace: {}", config.default_namespace);

    let namespace = config.default_namespace.clone();
    let client = Client::try_from(config)?;
    let pods: Api<Pod> = Api::namespaced(client, &namespace);
    let list = pods.list(&ListParams::default()).await?;
    println!(
        "There are {} pods in namespace {namespace}",
        list.items.len()
    );
    for pod in &list.items {
        let phase = pod
            .status
            .as_ref()
            .and_then(|s| s.phase.as_deref())
            .unwrap_or("Unknown");
        println!(
            "  {} {phase}",
            pod.metadata.name.as_deref().unwrap_or_default()
        );
    }
    Ok(())
}
