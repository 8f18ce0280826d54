//! Leader election between processes, as client-go's `examples/leader-election`
//! (`tools/leaderelection` with a `LeaseLock`): start this example two or three times with
//! different identities against the same cluster and namespace; one leads (and does the
//! "leader's work"), the others wait and report who leads. When the leader stops (after
//! `--for` seconds, or on Ctrl-C) it steps down and releases the Lease, so another candidate
//! takes over at once instead of waiting for the lease to expire.
//!
//! client-go: `leaderelection.RunOrDie` with `LeaseDuration`, `RenewDeadline`,
//! `RetryPeriod`, `ReleaseOnCancel: true` and the `OnStartedLeading` / `OnStoppedLeading` /
//! `OnNewLeader` callbacks.
//!
//! Run it by hand (kubectl's connection flags; without them, the current context of
//! `$KUBECONFIG` or `~/.kube/config`, or the in-cluster account):
//!
//! ```sh
//! cargo run -p k8s-client --example leader_election -- --context X -n Y --identity alice --for 20 &
//! cargo run -p k8s-client --example leader_election -- --context X -n Y --identity bob --for 40
//! kubectl -n Y get lease leader-election-example -o yaml   # spec.holderIdentity
//! ```
//!
//! Flags: `--identity ID` (default `pid-<pid>`), `--lease NAME` (default
//! `leader-election-example`), `--for SECONDS` (default 30; Ctrl-C steps down earlier);
//! the Lease is in the namespace of `-n` (default: the context's namespace).

use std::time::Duration;

use k8s_client::config::{InClusterPaths, KubeConfigOptions};
use k8s_client::runtime::leader_election::{
    CancellationToken, LeaderCallbacks, LeaderElectionConfig, LeaderElector, LeaseLock,
};
use k8s_client::{Client, Config};

const USAGE: &str = "usage: leader_election [--kubeconfig FILE] [--context NAME] [-n NAMESPACE] \
                     [--identity ID] [--lease NAME] [--for SECONDS]";

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("leader_election: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    // kubectl's connection flags (--kubeconfig, --context, -n, ...); the rest is ours.
    let (options, rest) = KubeConfigOptions::from_args(std::env::args().skip(1))?;
    let mut identity = format!("pid-{}", std::process::id());
    let mut name = "leader-election-example".to_string();
    let mut run_for: u64 = 30;
    let mut rest = rest.into_iter();
    while let Some(arg) = rest.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) => (f.to_string(), Some(v.to_string())),
            None => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| rest.next())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| format!("{flag} needs a value; {USAGE}"))
        };
        match flag.as_str() {
            "--identity" => identity = value()?,
            "--lease" => name = value()?,
            "--for" => {
                let v = value()?;
                run_for = v
                    .parse()
                    .map_err(|e| format!("--for {v:?} is not a number of seconds: {e}"))?;
            }
            _ => return Err(format!("unexpected argument {arg:?}; {USAGE}").into()),
        }
    }
    let config = Config::infer_with(&options, &InClusterPaths::from_env()).await?;
    let client = Client::try_from(config)?;
    let namespace = client.default_namespace().to_string();

    // Lease duration 6s, renew deadline 4s, retry every 1s (client-go's example uses
    // 60s/15s/5s; shorter here so a takeover is quick to watch).
    let config = LeaderElectionConfig::new(
        Duration::from_secs(6),
        Duration::from_secs(4),
        Duration::from_secs(1),
    )
    .release_on_cancel(true);
    let lock = LeaseLock::new(&namespace, &name, &identity);
    let elector = LeaderElector::new(client, lock, config)?;
    println!("{identity}: competing for lease {namespace}/{name}");

    let shutdown = CancellationToken::new();
    let stopper = shutdown.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(run_for)) => {
                println!("{run_for}s are up: stepping down");
            }
            _ = tokio::signal::ctrl_c() => println!("interrupted: stepping down"),
        }
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
