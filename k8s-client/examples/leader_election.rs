//! Leader election between processes: start this example two or three times with different
//! identities against the same cluster; one leads, the others wait, and when the leader
//! stops (it steps down after RUN_SECONDS, releasing the lease) another takes over at once.
//!
//! ```sh
//! cargo run -p k8s-client --example leader_election -- alice 20 &
//! cargo run -p k8s-client --example leader_election -- bob 40
//! ```
//!
//! Arguments: `IDENTITY [RUN_SECONDS [NAMESPACE [LEASE_NAME]]]` (defaults: `pid-<pid>`, 30,
//! the kubeconfig context's namespace, `leader-election-example`). The cluster is the one of
//! `$KUBECONFIG` (or `~/.kube/config`, or in-cluster).

use std::time::Duration;

use k8s_client::runtime::leader_election::{
    CancellationToken, LeaderCallbacks, LeaderElectionConfig, LeaderElector, LeaseLock,
};
use k8s_client::Client;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let identity = args
        .first()
        .cloned()
        .unwrap_or_else(|| format!("pid-{}", std::process::id()));
    let run_for: u64 = match args.get(1) {
        Some(s) => s
            .parse()
            .map_err(|e| format!("RUN_SECONDS {s:?} is not a number of seconds: {e}"))?,
        None => 30,
    };
    let client = Client::try_default().await?;
    let namespace = args
        .get(2)
        .cloned()
        .unwrap_or_else(|| client.default_namespace().to_string());
    let name = args
        .get(3)
        .cloned()
        .unwrap_or_else(|| "leader-election-example".to_string());

    let config = LeaderElectionConfig::new(
        Duration::from_secs(6),
        Duration::from_secs(4),
        Duration::from_secs(1),
    )
    .release_on_cancel(true);
    let lock = LeaseLock::new(&namespace, &name, &identity);
    let elector = LeaderElector::new(client, lock, config)?;

    let shutdown = CancellationToken::new();
    let stopper = shutdown.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(run_for)).await;
        println!("{run_for}s are up: stepping down");
        stopper.cancel();
    });

    let me = identity.clone();
    let callbacks = LeaderCallbacks::new(move |leading: CancellationToken| async move {
        println!("{me}: I am the leader now");
        let mut tick = tokio::time::interval(Duration::from_secs(2));
        loop {
            tokio::select! {
                _ = leading.cancelled() => break,
                _ = tick.tick() => println!("{me}: doing the leader's work"),
            }
        }
        println!("{me}: leader's work stopped");
    })
    .on_stopped_leading(|| println!("stopped leading"))
    .on_new_leader(move |leader| println!("{identity}: the leader is {leader}"));

    let ended = elector.run(shutdown, callbacks).await;
    println!("election ended: {ended:?}");
    Ok(())
}
