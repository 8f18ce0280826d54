//! Attaches to the main process of a running container, like `kubectl attach [-i] [-t]
//! POD`: what the process writes arrives on this program's stdout (and stderr), and with
//! `-i` what is typed here goes to the process's stdin. With `-t` the container's terminal
//! is used: keys are sent as they are typed (the local terminal stops echoing and
//! line-buffering; the remote terminal echoes), and the remote terminal is told this
//! terminal's size at the start and whenever the window is resized. Ctrl-C detaches
//! (the process keeps running); the program also ends when the process does.
//!
//! client-go: `remotecommand.NewWebSocketExecutor` on the `pods/attach` subresource,
//! `StreamWithContext` with `StreamOptions{Stdin, Stdout, Stderr, Tty,
//! TerminalSizeQueue}` (kubectl's `attach` fills the size queue from `SIGWINCH`).
//!
//! Run it by hand (kubectl's connection flags; without them, the current context of
//! `$KUBECONFIG` or `~/.kube/config`, or the in-cluster account):
//!
//! ```sh
//! kubectl -n Y run shell --image=busybox --restart=Never --stdin --tty --attach=false -- sh
//! cargo run -p k8s-client --example attach -- --context X -n Y -i -t shell
//! cargo run -p k8s-client --example attach -- --context X -n Y [-c CONTAINER] POD   # output only
//! ```

use std::io::IsTerminal;

use k8s_client::config::{InClusterPaths, KubeConfigOptions};
use k8s_client::remote::{AttachParams, TerminalResizer, TerminalSize};
use k8s_client::{Api, Client, Config};
use k8s_openapi::api::core::v1::Pod;

const USAGE: &str = "usage: attach [--kubeconfig FILE] [--context NAME] [-n NAMESPACE] \
                     [-c CONTAINER] [-i] [-t] POD";

#[tokio::main]
async fn main() {
    match run().await {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("attach: {e}");
            std::process::exit(1);
        }
    }
}

async fn run() -> Result<i32, Box<dyn std::error::Error>> {
    // kubectl's connection flags (--kubeconfig, --context, -n, ...); the rest is ours.
    let (options, rest) = KubeConfigOptions::from_args(std::env::args().skip(1))?;
    let mut args = rest.into_iter();
    let (mut container, mut stdin, mut tty, mut pod) = (None, false, false, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-c" | "--container" => {
                container = Some(args.next().ok_or("-c needs a container name")?)
            }
            "-i" | "--stdin" => stdin = true,
            "-t" | "--tty" => tty = true,
            "-it" | "-ti" => (stdin, tty) = (true, true),
            _ if pod.is_none() && !arg.starts_with('-') => pod = Some(arg),
            _ => return Err(format!("unexpected argument {arg:?}; {USAGE}").into()),
        }
    }
    let pod = pod.ok_or(USAGE)?;

    // Ctrl-C detaches: listen before attaching so an early one is not fatal.
    let interrupted = tokio::spawn(tokio::signal::ctrl_c());

    let config = Config::infer_with(&options, &InClusterPaths::from_env()).await?;
    let client = Client::try_from(config)?;
    let pods: Api<Pod> = Api::default_namespaced(client);
    let mut params = AttachParams::default().stdin(stdin).tty(tty);
    if let Some(c) = &container {
        params = params.container(c.as_str());
    }
    let mut process = pods.attach(&pod, &params).await?;
    eprintln!(
        "attached to pod {pod}{}; Ctrl-C to detach",
        container
            .map(|c| format!(", container {c}"))
            .unwrap_or_default()
    );

    // With a terminal on both sides: keys go out as typed, and sizes follow the window.
    let local_terminal = tty && std::io::stdin().is_terminal();
    let _mode = if local_terminal && stdin {
        TerminalMode::unbuffered()
    } else {
        None
    };
    if let (true, Some(resizer)) = (local_terminal, process.terminal_resizer()) {
        tokio::spawn(follow_window_size(resizer));
    }

    if let Some(mut remote_stdin) = process.stdin() {
        tokio::spawn(async move {
            let mut local = tokio::io::stdin();
            if tokio::io::copy(&mut local, &mut remote_stdin).await.is_ok() {
                let _ = tokio::io::AsyncWriteExt::shutdown(&mut remote_stdin).await;
            }
        });
    }
    let out = process.stdout().map(|mut stdout| {
        tokio::spawn(async move { tokio::io::copy(&mut stdout, &mut tokio::io::stdout()).await })
    });
    let err = process.stderr().map(|mut stderr| {
        tokio::spawn(async move { tokio::io::copy(&mut stderr, &mut tokio::io::stderr()).await })
    });
    let ended = async move {
        if let Some(out) = out {
            out.await??;
        }
        if let Some(err) = err {
            err.await??;
        }
        Ok::<_, Box<dyn std::error::Error>>(process.status().await?)
    };
    tokio::select! {
        status = ended => {
            let status = status?;
            eprintln!("the process ended with exit code {}", status.code());
            Ok(status.code())
        }
        Ok(Ok(())) = interrupted => {
            // Dropping the session closes the WebSocket; the process keeps running.
            eprintln!("detached from pod {pod}");
            Ok(0)
        }
    }
}

/// This terminal's size, as `stty size` reports it (`rows columns`).
fn local_size() -> Option<TerminalSize> {
    let out = std::process::Command::new("stty")
        .arg("size")
        .stdin(std::process::Stdio::inherit())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.split_whitespace().map(str::parse::<u16>);
    match (parts.next(), parts.next()) {
        (Some(Ok(rows)), Some(Ok(cols))) => Some(TerminalSize::new(cols, rows)),
        _ => None,
    }
}

/// Sends the terminal's size now and after every window change (`SIGWINCH`).
async fn follow_window_size(resizer: TerminalResizer) {
    if let Some(size) = local_size() {
        if resizer.resize(size).await.is_err() {
            return;
        }
    }
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut changes) = signal(SignalKind::window_change()) else {
            return;
        };
        while changes.recv().await.is_some() {
            if let Some(size) = local_size() {
                if resizer.resize(size).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// The local terminal without line buffering and echo (the container's terminal echoes),
/// put back as it was when dropped. Ctrl-C still reaches this program (to detach).
struct TerminalMode {
    saved: String,
}

impl TerminalMode {
    fn unbuffered() -> Option<TerminalMode> {
        let stty = |args: &[&str]| {
            std::process::Command::new("stty")
                .args(args)
                .stdin(std::process::Stdio::inherit())
                .output()
                .ok()
                .filter(|o| o.status.success())
        };
        let saved = String::from_utf8_lossy(&stty(&["-g"])?.stdout)
            .trim()
            .to_string();
        stty(&["-icanon", "-echo", "min", "1"])?;
        Some(TerminalMode { saved })
    }
}

impl Drop for TerminalMode {
    fn drop(&mut self) {
        let _ = std::process::Command::new("stty")
            .arg(&self.saved)
            .stdin(std::process::Stdio::inherit())
            .status();
    }
}
