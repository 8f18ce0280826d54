//! Prints a container's logs, like `kubectl logs POD`: all of them, the last `--tail N`
//! lines, those of the last `--since DURATION`, with `--timestamps`, from container
//! `-c NAME`, of the previous instance with `-p`; with `-f`/`--follow` it keeps printing
//! lines as the container writes them until the container ends or Ctrl-C.
//!
//! client-go: `clientset.CoreV1().Pods(ns).GetLogs(name, &corev1.PodLogOptions{Container,
//! Follow, TailLines, SinceSeconds, Timestamps, Previous})` then `.Stream(ctx)` (or
//! `.Do(ctx).Raw()` without follow), as the seed material's log example reads them.
//!
//! Run it by hand (kubectl's connection flags; without them, the current context of
//! `$KUBECONFIG` or `~/.kube/config`, or the in-cluster account):
//!
//! ```sh
//! cargo run -p k8s-client --example logs -- --context X -n Y POD
//! cargo run -p k8s-client --example logs -- --context X -n Y -c CONTAINER --tail 20 --timestamps POD
//! cargo run -p k8s-client --example logs -- --context X -n Y --follow --since 10m POD
//! ```
//!
//! Logs need no optional feature (no WebSocket): a followed log is a streamed HTTP answer.

use futures::TryStreamExt;
use k8s_client::config::{InClusterPaths, KubeConfigOptions};
use k8s_client::remote::LogParams;
use k8s_client::{Api, Client, Config};
use k8s_openapi::api::core::v1::Pod;

const USAGE: &str = "usage: logs [--kubeconfig FILE] [--context NAME] [-n NAMESPACE] \
                     [-c CONTAINER] [-f|--follow] [--tail N] [--since DURATION] \
                     [--timestamps] [-p|--previous] POD";

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("logs: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    // kubectl's connection flags (--kubeconfig, --context, -n, ...); the rest is ours.
    let (options, rest) = KubeConfigOptions::from_args(std::env::args().skip(1))?;
    let mut params = LogParams::default();
    let (mut follow, mut pod) = (false, None);
    let mut args = rest.into_iter();
    while let Some(arg) = args.next() {
        // `--flag value` and `--flag=value` alike.
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value; {USAGE}"))
        };
        match flag.as_str() {
            "-c" | "--container" => params = params.container(value()?),
            "-f" | "--follow" => follow = true,
            "--timestamps" => params = params.timestamps(true),
            "-p" | "--previous" => params = params.previous(true),
            "--tail" => {
                let v = value()?;
                let n: i64 = v
                    .parse()
                    .map_err(|e| format!("--tail {v:?} is not a number: {e}"))?;
                // kubectl: -1 (its default) means every line.
                if n >= 0 {
                    params = params.tail_lines(n);
                }
            }
            "--since" => {
                let v = value()?;
                params = params.since_seconds(parse_duration(&v)?);
            }
            _ if pod.is_none() && !arg.starts_with('-') => pod = Some(arg),
            _ => return Err(format!("unexpected argument {arg:?}; {USAGE}").into()),
        }
    }
    let pod = pod.ok_or(USAGE)?;

    let config = Config::infer_with(&options, &InClusterPaths::from_env()).await?;
    let client = Client::try_from(config)?;
    let pods: Api<Pod> = Api::default_namespaced(client);

    if !follow {
        // What the log holds now, in one answer.
        print!("{}", pods.logs(&pod, &params).await?);
        return Ok(());
    }
    // Following: lines as they are written, until the server ends the log (the container
    // stopped) or Ctrl-C. Dropping the stream ends the request.
    let mut lines = pods.log_stream(&pod, &params).await?.lines();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            line = lines.try_next() => match line? {
                Some(line) => println!("{line}"),
                None => {
                    eprintln!("the log ended (the container stopped)");
                    break;
                }
            },
            _ = &mut ctrl_c => {
                eprintln!("stopped following");
                break;
            }
        }
    }
    Ok(())
}

/// A duration as kubectl's `--since` takes it: `90s`, `5m`, `2h`, `1h30m` (or a bare number
/// of seconds), in whole seconds (at least 1, as the server requires).
fn parse_duration(text: &str) -> Result<i64, String> {
    let bad = || format!("--since {text:?}: expected a duration such as 30s, 5m, 2h or 1h30m");
    if let Ok(secs) = text.parse::<i64>() {
        return (secs > 0).then_some(secs).ok_or_else(bad);
    }
    let (mut total, mut number) = (0i64, String::new());
    for ch in text.chars() {
        if ch.is_ascii_digit() {
            number.push(ch);
            continue;
        }
        let unit = match ch {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return Err(bad()),
        };
        let n: i64 = number.parse().map_err(|_| bad())?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
        number.clear();
    }
    if !number.is_empty() || total <= 0 {
        return Err(bad());
    }
    Ok(total)
}
