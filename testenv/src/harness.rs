//! A control plane from the project's harness binary (`testcluster up`: etcd,
//! kube-apiserver and optionally kube-controller-manager in one process).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::process::{tail, Group, Proc};

/// The harness binary that `scripts/build-testcluster.sh` builds, when this crate is built
/// from the k8s-client repository (a path dependency); `None` for a published copy.
pub(crate) fn build_script() -> Option<PathBuf> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("scripts")
        .join("build-testcluster.sh");
    script.is_file().then_some(script)
}

/// Runs the build script (instant when its cache holds the binary) and returns the binary.
pub(crate) async fn build(script: &Path) -> Result<PathBuf, Error> {
    let out = tokio::process::Command::new(script)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(Error::io("running", script))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let path = stdout.lines().last().unwrap_or("").trim();
    if !out.status.success() || path.is_empty() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        return Err(Error::Build {
            script: script.to_path_buf(),
            message: format!(
                "{}:\n{}",
                out.status,
                lines[lines.len().saturating_sub(20)..].join("\n")
            ),
        });
    }
    Ok(PathBuf::from(path))
}

/// Starts `bin up --dir DIR --keep-data [--controller-manager] -- FLAGS` and waits for
/// `DIR/ready` (written once `/readyz` answers).
pub(crate) async fn start(
    bin: &Path,
    dir: &Path,
    controller_manager: bool,
    apiserver_flags: &[String],
    timeout: Duration,
) -> Result<Group, Error> {
    let ready = dir.join("ready");
    let _ = std::fs::remove_file(&ready);
    let mut args = vec![
        "up".to_string(),
        "--dir".into(),
        dir.display().to_string(),
        "--keep-data".into(),
    ];
    if controller_manager {
        args.push("--controller-manager".into());
    }
    args.push("--".into());
    args.extend(apiserver_flags.iter().cloned());
    let log = dir.join("testcluster.log");
    let proc = Proc::spawn("testcluster", bin, &args, log.clone(), None)?;
    let mut group = Group::new(vec![proc], dir);
    let started = Instant::now();
    while !ready.is_file() {
        group.check_alive()?;
        if started.elapsed() > timeout {
            return Err(Error::NotReady {
                timeout,
                waiting_for: format!("{}", ready.display()),
                tail: tail(&log),
                log,
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(group)
}
