//! The event recorder: what a controller tells users about their objects. This example
//! creates a ConfigMap (or reuses it), records a `Normal` event about it, then the same
//! `Warning` five times in a row, as a controller in a retry loop would; the recorder
//! aggregates the repeats into one Event whose `series.count` grows instead of writing five
//! Events. Then it lists the Events about the ConfigMap back from the server, as
//! `kubectl events --for configmap/NAME` does.
//!
//! client-go: `tools/events` (`events.NewEventBroadcasterAdapter`, `NewRecorder`,
//! `recorder.Eventf(obj, related, type, reason, action, note)`, `broadcaster.Shutdown()`),
//! which writes `events.k8s.io/v1` Events and turns repeats into an `EventSeries`. The older
//! `tools/record` (core/v1 Events with `count`) is `EventApi::CoreV1` here.
//!
//! Run it by hand (kubectl's connection flags; without them, the current context of
//! `$KUBECONFIG` or `~/.kube/config`, or the in-cluster account):
//!
//! ```sh
//! cargo run -p k8s-client --example events -- --context X -n Y [--name CONFIGMAP] [--repeat N]
//! kubectl -n Y events --for configmap/events-example
//! ```
//!
//! The ConfigMap (default `events-example`) is left in place so its Events can be looked
//! at; `kubectl -n Y delete configmap events-example` removes it.

use k8s_client::api::{ListParams, PostParams};
use k8s_client::config::{InClusterPaths, KubeConfigOptions};
use k8s_client::runtime::events::{reference_of, EventRecord, EventRecorder};
use k8s_client::{Api, Client, Config};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::events::v1::Event;

const USAGE: &str = "usage: events [--kubeconfig FILE] [--context NAME] [-n NAMESPACE] \
                     [--name CONFIGMAP] [--repeat N]";

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("events: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    // kubectl's connection flags (--kubeconfig, --context, -n, ...); the rest is ours.
    let (options, rest) = KubeConfigOptions::from_args(std::env::args().skip(1))?;
    let mut name = "events-example".to_string();
    let mut repeat: u32 = 5;
    let mut rest = rest.into_iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--name" => name = rest.next().ok_or("--name needs a ConfigMap name")?,
            "--repeat" => {
                let v = rest.next().ok_or("--repeat needs a number")?;
                repeat = v
                    .parse()
                    .map_err(|e| format!("--repeat {v:?} is not a number: {e}"))?;
            }
            _ => return Err(format!("unexpected argument {arg:?}; {USAGE}").into()),
        }
    }
    let config = Config::infer_with(&options, &InClusterPaths::from_env()).await?;
    let client = Client::try_from(config)?;
    let namespace = client.default_namespace().to_string();

    // The object the events are about.
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), &namespace);
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some(name.clone());
    cm.data = Some([("greeting".to_string(), "hello".to_string())].into());
    let cm = match configmaps.create(&PostParams::default(), &cm).await {
        Ok(created) => {
            println!("created ConfigMap {namespace}/{name}");
            created
        }
        Err(e) if e.is_already_exists() => {
            println!("using the existing ConfigMap {namespace}/{name}");
            configmaps.get(&name).await?
        }
        Err(e) => return Err(e.into()),
    };
    let uid = cm.metadata.uid.clone().unwrap_or_default();

    // One recorder per controller instance: who reports (a qualified controller name) and
    // which replica (here the host name, as a pod name would be in a cluster).
    let instance = std::env::var("HOSTNAME").unwrap_or_else(|_| "events-example-0".to_string());
    let recorder =
        EventRecorder::builder(client.clone(), "example.com/events-example", instance).build()?;
    recorder.record(
        EventRecord::normal("Configured", "Reconcile", reference_of(&cm))
            .note("the greeting is set"),
    )?;
    for _ in 0..repeat {
        // The same event again and again: one Event on the server, its series counting up.
        recorder.record(
            EventRecord::warning("ProbeFailed", "Check", reference_of(&cm))
                .note("the greeting is not loud enough"),
        )?;
    }
    // Writes what is pending (the last series count) and stops the recorder's task.
    recorder.shut_down().await;
    let stats = recorder.stats();
    println!(
        "recorded {} events: {} Events created, {} series updates",
        stats.recorded, stats.created, stats.patched
    );

    // Read them back: the Events of the namespace whose `regarding` is this ConfigMap.
    let events: Api<Event> = Api::namespaced(client, &namespace);
    let mut found: Vec<Event> = events
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.uid.as_deref()) == Some(uid.as_str()))
        .collect();
    found.sort_by(|a, b| a.event_time.cmp(&b.event_time));
    println!("Events about configmap/{name}:");
    println!(
        "{:<8} {:<12} {:<10} {:>5}  NOTE",
        "TYPE", "REASON", "ACTION", "COUNT"
    );
    for e in &found {
        // A single Event has no series; a repeated one counts its occurrences there.
        let count = e.series.as_ref().map_or(1, |s| s.count);
        println!(
            "{:<8} {:<12} {:<10} {:>5}  {}",
            e.type_.as_deref().unwrap_or(""),
            e.reason.as_deref().unwrap_or(""),
            e.action.as_deref().unwrap_or(""),
            count,
            e.note.as_deref().unwrap_or("")
        );
    }
    Ok(())
}
