//! An informer + work queue controller: client-go's "workqueue" example
//! (`k8s.io/client-go/examples/workqueue`), in Rust. A shared informer lists and watches
//! the Pods of a namespace into a local cache; every change it sees puts the Pod's key
//! (`namespace/name`) on a rate-limited work queue; a worker takes keys off the queue one
//! at a time and reconciles each by reading the Pod from the cache (the "business logic"
//! here just prints what it finds). A failed sync is retried with backoff up to 5 times,
//! then the key is dropped. Several changes to one Pod before the worker gets to it are
//! reconciled once, and one key is never worked on by two workers at a time.
//!
//! client-go: `cache.NewIndexerInformer` + `workqueue.NewTypedRateLimitingQueue`, the
//! `Controller` with `processNextItem`, `syncToStdout` and `handleErr` of that example.
//! The same loop, packaged with typed keys and requeue policies, is
//! [`k8s_client::runtime::controller::Controller`].
//!
//! Run it by hand against any cluster (kubectl's connection flags; without them, the
//! current context of `$KUBECONFIG` or `~/.kube/config`, or the in-cluster account):
//!
//! ```sh
//! cargo run -p k8s-client --example workqueue -- --context X -n Y [--for SECONDS]
//! ```
//!
//! then create, change and delete Pods in namespace Y (`kubectl run p --image=nginx -n Y`)
//! and watch the controller sync them. It runs until Ctrl-C, or for `--for` seconds.

use std::time::Duration;

use k8s_client::cache::{Event, InformerOptions, SharedInformer, Store};
use k8s_client::config::{InClusterPaths, KubeConfigOptions};
use k8s_client::runtime::workqueue::WorkQueue;
use k8s_client::{Api, Client, Config};
use k8s_openapi::api::core::v1::Pod;

/// How often a key may fail before it is dropped.
const MAX_RETRIES: u32 = 5;

/// The business logic: print what the cache knows about `key`.
fn sync_to_stdout(store: &Store<Pod>, key: &str) -> Result<(), String> {
    match store.get_by_key(key) {
        // The informer has seen the Pod deleted (the key was queued by the delete event).
        None => println!("Pod {key} does not exist anymore"),
        Some(pod) => println!(
            "Sync/Add/Update for Pod {}",
            pod.metadata.name.as_deref().unwrap_or_default()
        ),
    }
    Ok(())
}

/// Decides what happens to a key after a sync: forget it on success, retry it (rate
/// limited) up to `MAX_RETRIES` times, then give up.
fn handle_err(queue: &WorkQueue<String>, key: &str, result: Result<(), String>) {
    match result {
        Ok(()) => queue.forget(key),
        Err(e) if queue.num_requeues(key) < MAX_RETRIES => {
            eprintln!("error syncing pod {key}: {e}");
            queue.add_rate_limited(key);
        }
        Err(e) => {
            queue.forget(key);
            eprintln!("dropping pod {key} out of the queue: {e}");
        }
    }
}

/// One worker: takes keys until the queue shuts down.
async fn run_worker(queue: WorkQueue<String>, store: Store<Pod>) {
    while let Some(key) = queue.get().await {
        let result = sync_to_stdout(&store, &key);
        handle_err(&queue, &key, result);
        queue.done(&key);
    }
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("workqueue: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    // kubectl's connection flags (--kubeconfig, --context, -n, ...); the rest is ours.
    let (options, rest) = KubeConfigOptions::from_args(std::env::args().skip(1))?;
    let mut run_for = None;
    let mut rest = rest.into_iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--for" => {
                let secs = rest.next().ok_or("--for needs a number of seconds")?;
                let secs: u64 = secs
                    .parse()
                    .map_err(|e| format!("--for {secs:?}: not a number of seconds: {e}"))?;
                run_for = Some(Duration::from_secs(secs));
            }
            other => {
                return Err(format!(
                    "unexpected argument {other:?}; usage: workqueue [--kubeconfig FILE] \
                     [--context NAME] [-n NAMESPACE] [--for SECONDS]"
                )
                .into())
            }
        }
    }
    // Ctrl-C stops the controller (listening from the start, so an early one is not fatal).
    let interrupted = tokio::spawn(tokio::signal::ctrl_c());

    let config = Config::infer_with(&options, &InClusterPaths::from_env()).await?;
    let client = Client::try_from(config)?;
    let namespace = client.default_namespace().to_string();

    let informer = SharedInformer::new(
        Api::<Pod>::namespaced(client, &namespace),
        InformerOptions::default(),
    );
    let queue: WorkQueue<String> = WorkQueue::new();

    // Every change puts the Pod's key on the queue; a key queued several times before a
    // worker takes it is synced once.
    let q = queue.clone();
    let _registration = informer.add_handler(move |event: Event<Pod>| q.add(&event.key()));

    informer.start();
    println!("waiting for the Pod cache of namespace {namespace} to sync");
    informer.wait_for_sync().await;
    println!("starting the Pod controller");

    let worker = tokio::spawn(run_worker(queue.clone(), informer.store()));
    let run_for = async move {
        match run_for {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = run_for => {}
        interrupted = interrupted => interrupted??,
    }
    // Workers finish the key they hold, then see the queue closed.
    queue.shut_down();
    worker.await?;
    println!("stopping the Pod controller");
    Ok(())
}
