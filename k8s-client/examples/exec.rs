//! Runs a command in a pod, like `kubectl exec -i POD -- COMMAND...`: this program's stdin,
//! stdout and stderr are connected to the command's, and it exits with the command's exit
//! code.
//!
//! client-go: `remotecommand.NewWebSocketExecutor` (or the SPDY executor) on the
//! `pods/exec` subresource, then `StreamWithContext` with `StreamOptions{Stdin, Stdout,
//! Stderr}`; the exit code comes from the `exec.CodeExitError` it returns.
//!
//! Run it by hand (kubectl's connection flags; without them, the current context of
//! `$KUBECONFIG` or `~/.kube/config`, or the in-cluster account):
//!
//! ```sh
//! cargo run -p k8s-client --example exec -- --context X -n Y [-c CONTAINER] POD -- ls -l /
//! echo hello | cargo run -p k8s-client --example exec -- -n Y POD -- cat
//! ```

use k8s_client::config::{InClusterPaths, KubeConfigOptions};
use k8s_client::remote::AttachParams;
use k8s_client::{Api, Client, Config};
use k8s_openapi::api::core::v1::Pod;

const USAGE: &str = "usage: exec [--kubeconfig FILE] [--context NAME] [-n NAMESPACE] \
                     [-c CONTAINER] POD -- COMMAND...";

#[tokio::main]
async fn main() {
    match run().await {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("exec: {e}");
            std::process::exit(1);
        }
    }
}

async fn run() -> Result<i32, Box<dyn std::error::Error>> {
    // kubectl's connection flags (--kubeconfig, --context, -n, ...); everything after `--`
    // is left alone (it is the command's).
    let (options, rest) = KubeConfigOptions::from_args(std::env::args().skip(1))?;
    let mut args = rest.into_iter();
    let mut container = None;
    let mut pod = None;
    let mut command = Vec::new();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-c" | "--container" => {
                container = Some(args.next().ok_or("-c needs a container name")?)
            }
            _ if arg.starts_with("--container=") => {
                container = Some(arg["--container=".len()..].to_string())
            }
            "--" => command.extend(args.by_ref()),
            _ if pod.is_none() && !arg.starts_with('-') => pod = Some(arg),
            _ => return Err(format!("unexpected argument {arg:?}; {USAGE}").into()),
        }
    }
    let pod = pod.ok_or(USAGE)?;
    if command.is_empty() {
        return Err(format!("no command: put it after --; {USAGE}").into());
    }

    let config = Config::infer_with(&options, &InClusterPaths::from_env()).await?;
    let client = Client::try_from(config)?;
    let pods: Api<Pod> = Api::default_namespaced(client);
    let mut params = AttachParams::default().stdin(true);
    if let Some(c) = container {
        params = params.container(c);
    }
    let mut process = pods.exec(&pod, command, &params).await?;

    let mut stdin = process.stdin().ok_or("the session has no stdin")?;
    let mut stdout = process.stdout().ok_or("the session has no stdout")?;
    let mut stderr = process.stderr().ok_or("the session has no stderr")?;
    // Our stdin goes to the command until it ends (then the command sees end-of-file).
    tokio::spawn(async move {
        let mut local = tokio::io::stdin();
        if tokio::io::copy(&mut local, &mut stdin).await.is_ok() {
            let _ = tokio::io::AsyncWriteExt::shutdown(&mut stdin).await;
        }
    });
    let out =
        tokio::spawn(async move { tokio::io::copy(&mut stdout, &mut tokio::io::stdout()).await });
    let err =
        tokio::spawn(async move { tokio::io::copy(&mut stderr, &mut tokio::io::stderr()).await });
    out.await??;
    err.await??;
    let status = process.status().await?;
    Ok(status.code())
}
