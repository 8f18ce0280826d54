//! The seed walkthrough, end to end, against the cluster of $KUBECONFIG (or ~/.kube/config):
//! list pods in all namespaces; create, update (a strategic-merge patch guarded by the
//! resourceVersion it read, retried on conflict), list and delete a Deployment; the same with
//! untyped JSON (dynamic client) and server-side apply; discovery of API groups and core/v1
//! resources.
//!
//! Run it with `scripts/demo.sh` (which starts a local control plane) or
//! `cargo run -p k8s-client --example demo` against your own cluster.

use k8s_client::api::{
    ApiResource, DeleteParams, ListParams, Patch, PatchParams, PostParams, PropagationPolicy,
};
use k8s_client::discovery::Discovery;
use k8s_client::dynamic::{DynamicApi, DynamicObject};
use k8s_client::retry::{retry_on_conflict, Backoff};
use k8s_client::{Api, Client};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use serde_json::{json, Value};

fn deployment_json(name: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "demo"}},
            "template": {
                "metadata": {"labels": {"app": "demo"}},
                "spec": {"containers": [{
                    "name": "web",
                    "image": "nginx:1.12",
                    "ports": [{"name": "http", "protocol": "TCP", "containerPort": 80}]
                }]}
            }
        }
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let client = Client::try_default().await?;
    println!(
        "== connected to {} as configured by {}",
        client.config().cluster_url,
        client.config().origin
    );
    let namespace = client.default_namespace().to_string();

    // 1. List pods in all namespaces.
    let pods: Api<Pod> = Api::all(client.clone());
    let list = pods.list(&ListParams::default()).await?;
    println!("== there are {} pods in the cluster", list.items.len());
    for p in &list.items {
        println!(
            "   {}/{}",
            p.metadata.namespace.as_deref().unwrap_or(""),
            p.metadata.name.as_deref().unwrap_or("")
        );
    }

    // 2. A Deployment: create, update with retry on conflict, list, delete.
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &namespace);
    let name = "demo-deployment";
    let desired: Deployment = serde_json::from_value(deployment_json(name))?;
    println!("== creating deployment {namespace}/{name} (2 replicas, nginx:1.12)");
    let created = deployments.create(&PostParams::default(), &desired).await?;
    println!(
        "   created, resourceVersion {}",
        created.metadata.resource_version.unwrap_or_default()
    );

    println!("== updating it to 1 replica and nginx:1.13, retrying on conflict");
    retry_on_conflict(Backoff::default_retry(), || async {
        // The patch carries the resourceVersion it was based on, so a concurrent change
        // makes it fail with 409 Conflict, and retry_on_conflict reads and patches again.
        let current = deployments.get(name).await?;
        let patch = json!({
            "metadata": {"resourceVersion": current.metadata.resource_version},
            "spec": {
                "replicas": 1,
                "template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.13"}]}}
            }
        });
        deployments
            .patch(name, &PatchParams::default(), &Patch::Strategic(patch))
            .await
    })
    .await?;

    println!("== deployments in {namespace}:");
    for d in deployments.list(&ListParams::default()).await?.items {
        let spec = d.spec;
        let image = spec
            .template
            .spec
            .and_then(|pod| pod.containers.into_iter().next())
            .and_then(|c| c.image)
            .unwrap_or_default();
        println!(
            "   {} replicas={} image={image}",
            d.metadata.name.unwrap_or_default(),
            spec.replicas.unwrap_or(1),
        );
    }

    println!("== deleting it with foreground propagation");
    let dp = DeleteParams::default().propagation(PropagationPolicy::Foreground);
    deployments.delete(name, &dp).await?;
    println!("   deleted");

    // 3. The same with untyped JSON, through the dynamic client (no Rust type for the object).
    let untyped = "demo-deployment-untyped";
    let resource = ApiResource::of::<Deployment>();
    let dynamic = DynamicApi::namespaced_with(client.clone(), &namespace, &resource);
    println!("== creating {namespace}/{untyped} from untyped JSON");
    let obj = DynamicObject::from_json(deployment_json(untyped))?;
    // A run that stopped halfway may have left it behind: then carry on with that one.
    let created = match dynamic.create(&PostParams::default(), &obj).await {
        Err(e) if e.is_already_exists() => dynamic.get(untyped).await?,
        other => other?,
    };
    println!(
        "   created uid {}",
        created.metadata.uid.unwrap_or_default()
    );
    // Server-side apply: send only the fields this program owns (force: the create above
    // made another field manager the owner of .spec.replicas).
    let apply = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": untyped},
        "spec": {"replicas": 3}
    });
    let applied = dynamic
        .patch(
            untyped,
            &PatchParams::apply("k8s-client-demo").force(),
            &Patch::Apply(apply),
        )
        .await?;
    println!(
        "   applied replicas={} as field manager k8s-client-demo",
        applied.data["spec"]["replicas"]
    );
    let names: Vec<String> = dynamic
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter_map(|d| d.metadata.name)
        .collect();
    println!("   deployments now: {names:?}");
    dynamic.delete(untyped, &DeleteParams::default()).await?;
    println!("   deleted {untyped}");

    // 4. Discovery: API groups and the core/v1 resources.
    let discovery = Discovery::new(client.clone());
    println!("== API groups:");
    for g in discovery.groups().await? {
        println!(
            "   {} (preferred {})",
            g.name,
            g.preferred_version.unwrap_or_default()
        );
    }
    println!("== core/v1 resources:");
    for r in discovery
        .resources_for("v1")
        .await?
        .map(|gv| gv.resources)
        .unwrap_or_default()
    {
        println!(
            "   {:<36} {:<28} namespaced={}",
            r.api.plural, r.api.kind, r.api.namespaced
        );
    }

    // 5. A missing object is a typed error.
    match pods_in(&client, &namespace).get("no-such-pod").await {
        Err(e) if e.is_not_found() => println!("== get of a missing pod: not found ({e})"),
        Err(e) => return Err(e.into()),
        Ok(_) => println!("== unexpectedly found no-such-pod"),
    }
    Ok(())
}

fn pods_in(client: &Client, ns: &str) -> Api<Pod> {
    Api::namespaced(client.clone(), ns)
}
