//! Runs a command in a pod, like `kubectl exec POD -- COMMAND...`, with this program's stdin,
//! stdout and stderr connected to the command's.
//!
//! ```sh
//! cargo run -p k8s-client --example exec -- [-n NAMESPACE] [-c CONTAINER] POD -- COMMAND...
//! ```
//!
//! The kubeconfig comes from `$KUBECONFIG` or `~/.kube/config`. The program exits with the
//! command's exit code.

use k8s_client::remote::AttachParams;
use k8s_client::{Api, Client};
use k8s_openapi::api::core::v1::Pod;

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
    let mut args = std::env::args().skip(1);
    let mut namespace = None;
    let mut container = None;
    let mut pod = None;
    let mut command = Vec::new();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-n" | "--namespace" => namespace = Some(args.next().ok_or("-n needs a namespace")?),
            "-c" | "--container" => container = Some(args.next().ok_or("-c needs a container")?),
            "--" => {
                command.extend(args.by_ref());
            }
            _ if pod.is_none() => pod = Some(arg),
            _ => {
                return Err(
                    format!("unexpected argument {arg:?} (the command goes after --)").into(),
                )
            }
        }
    }
    let pod = pod.ok_or("usage: exec [-n NAMESPACE] [-c CONTAINER] POD -- COMMAND...")?;
    if command.is_empty() {
        return Err("no command: put it after --".into());
    }

    let client = Client::try_default().await?;
    let pods: Api<Pod> = match &namespace {
        Some(ns) => Api::namespaced(client, ns),
        None => Api::default_namespaced(client),
    };
    let mut params = AttachParams::default().stdin(true);
    if let Some(c) = container {
        params = params.container(c);
    }
    let mut process = pods.exec(&pod, command, &params).await?;

    let mut stdin = process.stdin().ok_or("no stdin")?;
    let mut stdout = process.stdout().ok_or("no stdout")?;
    let mut stderr = process.stderr().ok_or("no stderr")?;
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
