//! The setup every example shares: kubectl's connection flags (`--kubeconfig`, `--context`,
//! `-n`/`--namespace`, `--server`, `--token`, `--as`, ...) taken off the command line, the
//! config they choose (`--kubeconfig`, else `$KUBECONFIG`, else `~/.kube/config`, else the
//! pod's service account), and a client for it.
//!
//! Included by each example with `mod common;`; not part of the library.

#![allow(dead_code)] // each example uses the part it needs

use k8s_client::config::{InClusterPaths, KubeConfigOptions};
use k8s_client::{Client, Config};

/// What an example starts with.
pub struct Setup {
    /// The client for the chosen cluster and user.
    pub client: Client,
    /// `-n`/`--namespace`, else the context's namespace, else `default`.
    pub namespace: String,
    /// The kubectl flags that were given.
    pub options: KubeConfigOptions,
    /// The arguments left for the example itself, in order.
    pub args: Vec<String>,
}

/// Parses the program's arguments, loads the config as kubectl would (falling back to the
/// in-cluster service account when there is no kubeconfig) and makes a client.
pub async fn setup() -> Result<Setup, Box<dyn std::error::Error>> {
    let (options, args) = KubeConfigOptions::from_args(std::env::args().skip(1))?;
    let config = Config::infer_with(&options, &InClusterPaths::from_env()).await?;
    let client = Client::try_from(config)?;
    let namespace = client.default_namespace().to_string();
    Ok(Setup {
        client,
        namespace,
        options,
        args,
    })
}

/// The value of `--name VALUE` or `--name=VALUE` in `args`, removed from them.
pub fn take_flag(args: &mut Vec<String>, name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    let at = args
        .iter()
        .position(|a| a == name || a.starts_with(&prefix))?;
    let arg = args.remove(at);
    match arg.strip_prefix(&prefix) {
        Some(value) => Some(value.to_string()),
        None if at < args.len() => Some(args.remove(at)),
        None => None,
    }
}

/// Whether the switch `--name` is in `args` (removed from them).
pub fn take_switch(args: &mut Vec<String>, name: &str) -> bool {
    match args.iter().position(|a| a == name) {
        Some(at) => {
            args.remove(at);
            true
        }
        None => false,
    }
}
