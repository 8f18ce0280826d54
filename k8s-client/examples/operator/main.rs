//! An operator, end to end: the `Website` custom resource (replicas, image) is served by a
//! Deployment of web servers and a ConfigMap of their content. The controller
//!
//! - owns both (server-side apply, owner references: a change to either, or their
//!   deletion, reconciles the Website again; garbage collection removes them with it);
//! - writes a `Ready` status condition and records Events;
//! - keeps a file per Website in STATE_DIR (the "external" resource, outside the API), which
//!   a finalizer removes before the Website may go;
//! - exports metrics on `/metrics` (and readiness on `/readyz`) at METRICS_ADDR;
//! - reconciles only while it holds the `website-operator` Lease (run two: one waits).
//!
//! ```sh
//! cargo run -p k8s-client --features metrics --example operator -- default /tmp/websites 127.0.0.1:9090
//! kubectl apply -f - <<<'{"apiVersion":"example.com/v1","kind":"Website","metadata":{"name":"hello"},"spec":{"replicas":2,"image":"nginx:1.27"}}'
//! ```
//!
//! Arguments: `NAMESPACE STATE_DIR [METRICS_ADDR]` (default `127.0.0.1:0`: any free port;
//! the address is printed). Stops on Ctrl-C, finishing the reconciles in progress.

mod prometheus;
mod website;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use k8s_client::api::{Patch, PatchParams};
use k8s_client::cache::InformerFactory;
use k8s_client::runtime::controller::{Action, Controller};
use k8s_client::runtime::crd;
use k8s_client::runtime::events::{object_reference, EventRecord, EventRecorder};
use k8s_client::runtime::finalizer::{finalizer, Event, FinalizerError};
use k8s_client::runtime::leader_election::{
    CancellationToken, LeaderElectionConfig, LeaderElector, LeaseLock,
};
use k8s_client::{Api, Client, Object};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use serde_json::json;

use website::{Website, WebsiteCondition, WebsiteStatus};

const MANAGER: &str = "website-operator";
const FINALIZER: &str = "example.com/website-files";

/// What every reconcile shares.
struct Ctx {
    client: Client,
    namespace: String,
    state_dir: PathBuf,
    events: EventRecorder,
}

/// Errors of one reconcile.
#[derive(Debug, thiserror::Error)]
enum Error {
    #[error("{0}")]
    Api(#[from] k8s_client::Error),
    #[error("state file {path}: {source}")]
    State {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(namespace), Some(state_dir)) = (args.first(), args.get(1)) else {
        return Err("usage: operator NAMESPACE STATE_DIR [METRICS_ADDR]".into());
    };
    let metrics_addr = args.get(2).map_or("127.0.0.1:0", String::as_str);
    let recorder = prometheus::TextRecorder::default();
    metrics::set_global_recorder(recorder.clone())
        .map_err(|e| format!("installing the metrics recorder: {e}"))?;
    std::fs::create_dir_all(state_dir)?;

    let client = Client::try_default().await?;
    crd::apply(&client, &website::crd(), MANAGER, Duration::from_secs(30)).await?;
    println!("CRD websites.example.com established");

    let identity = format!("{MANAGER}-{}", std::process::id());
    let elector = LeaderElector::new(
        client.clone(),
        LeaseLock::new(namespace, MANAGER, &identity),
        LeaderElectionConfig::new(
            Duration::from_secs(6),
            Duration::from_secs(4),
            Duration::from_secs(1),
        )
        .release_on_cancel(true),
    )?;
    let events = EventRecorder::builder(client.clone(), MANAGER, &identity).build()?;
    let ctx = Arc::new(Ctx {
        client: client.clone(),
        namespace: namespace.clone(),
        state_dir: PathBuf::from(state_dir),
        events: events.clone(),
    });

    let shutdown = CancellationToken::new();
    let stopper = shutdown.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            println!("Ctrl-C: stopping");
            stopper.cancel();
        }
    });

    let factory = Arc::new(InformerFactory::new(client.clone()));
    let controller = Controller::new(
        &factory,
        Api::<Website>::namespaced(client.clone(), namespace),
    )
    .owns(Api::<Deployment>::namespaced(client.clone(), namespace))
    .owns(Api::<ConfigMap>::namespaced(client.clone(), namespace))
    .leader_election(elector)
    .shutdown_on(shutdown);

    let listener = tokio::net::TcpListener::bind(metrics_addr).await?;
    println!("metrics on http://{}/metrics", listener.local_addr()?);
    tokio::spawn(prometheus::serve(
        listener,
        recorder,
        controller.readiness(),
    ));

    controller.run(reconcile, error_policy, ctx).await;
    events.shut_down().await;
    println!("stopped");
    Ok(())
}

async fn reconcile(website: Arc<Website>, ctx: Arc<Ctx>) -> Result<Action, FinalizerError<Error>> {
    let api: Api<Website> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    finalizer(&api, FINALIZER, website, |event| async {
        match event {
            Event::Apply(w) => apply(&w, &ctx).await,
            Event::Cleanup(w) => cleanup(&w, &ctx).await,
        }
    })
    .await
}

fn error_policy(website: Arc<Website>, error: &FinalizerError<Error>, ctx: Arc<Ctx>) -> Action {
    let _ = ctx.events.record(
        EventRecord::warning("ReconcileFailed", "Reconcile", reference(&website))
            .note(error.to_string()),
    );
    Action::backoff()
}

fn reference(w: &Website) -> k8s_openapi::api::core::v1::ObjectReference {
    object_reference(w, &k8s_client::api::GroupVersionKind::of::<Website>())
}

fn state_file(ctx: &Ctx, w: &Website) -> PathBuf {
    ctx.state_dir.join(format!(
        "{}_{}",
        ctx.namespace,
        w.name().unwrap_or_default()
    ))
}

/// Makes the Deployment, the ConfigMap and the state file match the Website.
async fn apply(w: &Website, ctx: &Ctx) -> Result<Action, Error> {
    let name = w.name().unwrap_or_default();
    let owner = json!([{
        "apiVersion": "example.com/v1", "kind": "Website", "name": name,
        "uid": w.uid().unwrap_or_default(), "controller": true, "blockOwnerDeletion": true,
    }]);
    let labels = json!({"app.kubernetes.io/name": name, "app.kubernetes.io/managed-by": MANAGER});
    let params = PatchParams::apply(MANAGER).force();

    let cms: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    cms.patch(
        name,
        &params,
        &Patch::Apply(json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "labels": labels, "ownerReferences": owner},
            "data": {"index.html": format!("<h1>{name}</h1>\n")},
        })),
    )
    .await?;

    let deployments: Api<Deployment> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    deployments.patch(name, &params, &Patch::Apply(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": labels, "ownerReferences": owner},
        "spec": {
            "replicas": w.spec.replicas,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [{
                        "name": "web", "image": w.spec.image,
                        "volumeMounts": [{"name": "content", "mountPath": "/usr/share/nginx/html"}],
                    }],
                    "volumes": [{"name": "content", "configMap": {"name": name}}],
                },
            },
        },
    })))
    .await?;

    // The "external" resource: a file naming the image.
    let path = state_file(ctx, w);
    tokio::fs::write(&path, format!("{}\n", w.spec.image))
        .await
        .map_err(|source| Error::State { path, source })?;

    let generation = w.generation().unwrap_or_default();
    let status = WebsiteStatus {
        replicas: w.spec.replicas,
        conditions: vec![WebsiteCondition {
            type_: "Ready".into(),
            status: "True".into(),
            reason: "Applied".into(),
            message: format!("{} replicas of {}", w.spec.replicas, w.spec.image),
            observed_generation: generation,
        }],
    };
    if w.status.as_ref() != Some(&status) {
        let api: Api<Website> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
        api.patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": status})),
        )
        .await?;
        let _ = ctx.events.record(
            EventRecord::normal("Applied", "Reconcile", reference(w))
                .note(format!("{} replicas of {}", w.spec.replicas, w.spec.image)),
        );
        println!(
            "applied {name}: replicas={} image={}",
            w.spec.replicas, w.spec.image
        );
    }
    Ok(Action::requeue(Duration::from_secs(300)))
}

/// Removes what the API's garbage collector cannot: the state file.
async fn cleanup(w: &Website, ctx: &Ctx) -> Result<Action, Error> {
    let path = state_file(ctx, w);
    match tokio::fs::remove_file(&path).await {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(Error::State { path, source }),
    }
    let _ = ctx
        .events
        .record(EventRecord::normal("CleanedUp", "Cleanup", reference(w)));
    println!("cleaned up {}", w.name().unwrap_or_default());
    Ok(Action::await_change())
}
