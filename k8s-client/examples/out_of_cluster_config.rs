//! Loading a kubeconfig from outside the cluster, as kubectl does, and saying what was
//! chosen: the file(s), the context, the cluster's server, the user and how it
//! authenticates (never the credential itself), the namespace; then the server's version.
//!
//! client-go: `clientcmd.BuildConfigFromFlags("", *kubeconfig)` and
//! `kubernetes.NewForConfig` (seed 001, section 3.1 "初始化"; seed 002, "Setup a client" /
//! "Outside the cluster"), then `discoveryClient.ServerVersion()`.
//!
//! The kubeconfig is `--kubeconfig FILE`, else the files of `$KUBECONFIG` (merged), else
//! `~/.kube/config`; `--context`, `--cluster`, `--user`, `-n`, `--server` ... override it.
//!
//! ```text
//! cargo run -p k8s-client --example out_of_cluster_config -- --kubeconfig ~/.kube/config --context kind-dev -n team-a
//! ```

mod common;

use k8s_client::config::{Config, InClusterPaths, KubeConfigOptions, Kubeconfig};
use k8s_client::discovery::Discovery;
use k8s_client::Client;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (options, rest) = KubeConfigOptions::from_args(std::env::args().skip(1))?;
    if let Some(extra) = rest.first() {
        return Err(format!(
            "unexpected argument {extra:?} (this example takes only kubectl's flags)"
        )
        .into());
    }

    // Which files, which context, which user: read from the kubeconfig itself.
    match Kubeconfig::load(&options).await {
        Ok(kubeconfig) => describe(&kubeconfig, &options),
        Err(e) => println!("no kubeconfig ({e}); trying the in-cluster service account"),
    }

    // The config the client uses (the same search, plus the in-cluster fallback).
    let config = Config::infer_with(&options, &InClusterPaths::from_env()).await?;
    println!("config from: {}", config.origin);
    println!("server: {}", config.cluster_url);
    println!("namespace: {}", config.default_namespace);
    println!("authentication: {}", auth_kind(&config));

    let client = Client::try_from(config)?;
    let version = Discovery::new(client).server_version().await?;
    println!("server version: {version}");
    Ok(())
}

/// Prints the files read and the context, cluster and user chosen.
fn describe(kubeconfig: &Kubeconfig, options: &KubeConfigOptions) {
    let files: Vec<String> = kubeconfig
        .files
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    println!("kubeconfig files: {}", files.join(", "));
    let name = options
        .context
        .clone()
        .or_else(|| kubeconfig.current_context.clone())
        .unwrap_or_default();
    println!("context: {name}");
    let Some(context) = kubeconfig.contexts.iter().find(|c| c.name == name) else {
        println!("  (no context of that name; the overrides alone must say where to go)");
        return;
    };
    let cluster = options
        .cluster
        .clone()
        .unwrap_or_else(|| context.context.cluster.clone());
    let user = options
        .user
        .clone()
        .or_else(|| context.context.user.clone())
        .unwrap_or_else(|| "(none)".to_string());
    println!("cluster: {cluster}");
    println!("user: {user}");
}

/// How the config authenticates, without the secret.
fn auth_kind(config: &Config) -> String {
    let auth = &config.auth;
    let mut kinds = Vec::new();
    if auth.token.is_some() {
        kinds.push("bearer token".to_string());
    }
    if let Some(file) = &auth.token_file {
        kinds.push(format!("bearer token file {}", file.display()));
    }
    if let Some((user, _)) = &auth.basic {
        kinds.push(format!("basic auth as {user}"));
    }
    if auth.client_cert.is_some() {
        kinds.push("client certificate".to_string());
    }
    if let Some(exec) = &auth.exec {
        kinds.push(format!("exec plugin {}", exec.command));
    }
    if kinds.is_empty() {
        "none".to_string()
    } else {
        kinds.join(", ")
    }
}
