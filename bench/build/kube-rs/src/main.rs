//! Lists the Pods of a namespace (first argument, default "default") and prints their names.

use k8s_openapi::api::core::v1::Pod;
use kube::api::ListParams;
use kube::{Api, Client};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let ns = std::env::args().nth(1).unwrap_or_else(|| "default".into());
    let client = Client::try_default().await?;
    let pods: Api<Pod> = Api::namespaced(client, &ns);
    for pod in pods.list(&ListParams::default()).await?.items {
        println!("{}", pod.metadata.name.unwrap_or_default());
    }
    Ok(())
}
