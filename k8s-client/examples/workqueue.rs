//! client-go's "workqueue" example, in Rust: a controller that watches the Pods of a
//! namespace through a shared informer, puts the key of every changed Pod on a rate-limited
//! work queue, and has a worker "sync" each key by printing what the cache holds for it.
//! A failed sync is retried with backoff up to 5 times, then the key is forgotten.
//!
//! ```sh
//! cargo run -p k8s-client --features latest --example workqueue -- [NAMESPACE] [--for SECONDS]
//! ```
//!
//! The same loop is packaged as [`k8s_client::runtime::controller::Controller`].

use std::time::Duration;

use k8s_client::cache::{Event, InformerOptions, SharedInformer, Store};
use k8s_client::runtime::workqueue::WorkQueue;
use k8s_client::{Api, Client};
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
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut namespace = "default".to_string();
    let mut run_for = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--for" => {
                let secs = args.next().ok_or("--for needs a number of seconds")?;
                run_for = Some(Duration::from_secs(secs.parse()?));
            }
            ns => namespace = ns.to_string(),
        }
    }

    let client = Client::try_default().await?;
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
    match run_for {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending::<()>().await,
    }
    queue.shut_down();
    worker.await?;
    println!("stopping the Pod controller");
    Ok(())
}
