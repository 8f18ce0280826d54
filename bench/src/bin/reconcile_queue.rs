//! Keys per second through k8s-client's work queue with an idle reconcile, the loop of
//! `runtime::controller`'s workers: N distinct `ObjectRef` keys are added, W workers take
//! each, run an async reconcile that does nothing, `forget` and `done` it. Prints one JSON
//! line. `bench/go/cmd/workqueue` runs the same loop over client-go's queue.
//!
//!     reconcile_queue [KEYS [WORKERS]]   (defaults 200000, 2)

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use k8s_client::api::ObjectRef;
use k8s_client::runtime::workqueue::WorkQueue;
use k8s_openapi::api::core::v1::ConfigMap;

async fn idle(_key: &ObjectRef) -> Result<(), std::convert::Infallible> {
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let keys: usize = args.first().and_then(|s| s.parse().ok()).unwrap_or(200_000);
    let workers: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(2);
    let refs: Vec<ObjectRef> = (0..keys)
        .map(|i| ObjectRef::new::<ConfigMap>(&format!("obj-{i}")).within(&format!("ns-{}", i % 100)))
        .collect();
    let queue: WorkQueue<ObjectRef> = WorkQueue::new();
    let processed = Arc::new(AtomicUsize::new(0));
    let all_done = Arc::new(tokio::sync::Notify::new());
    let start = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..workers {
        let (queue, processed, all_done) = (queue.clone(), processed.clone(), all_done.clone());
        handles.push(tokio::spawn(async move {
            while let Some(key) = queue.get().await {
                let _ = idle(&key).await;
                queue.forget(&key);
                queue.done(&key);
                if processed.fetch_add(1, Ordering::Relaxed) + 1 == keys {
                    all_done.notify_one();
                }
            }
        }));
    }
    for r in &refs {
        queue.add(r);
    }
    all_done.notified().await;
    let elapsed = start.elapsed().as_secs_f64();
    queue.shut_down();
    for h in handles {
        let _ = h.await;
    }
    println!(
        "{{\"client\":\"k8s-client\",\"keys\":{keys},\"workers\":{workers},\"seconds\":{elapsed:.4},\"keys_per_second\":{:.0}}}",
        keys as f64 / elapsed
    );
}
