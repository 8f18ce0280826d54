//! Child processes of a control plane: one process group, logs in files, a watchdog.

use std::fs::OpenOptions;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::Error;

/// One running process of the control plane, logging into a file of its own.
#[derive(Debug)]
pub(crate) struct Proc {
    pub(crate) name: String,
    pub(crate) child: Child,
    pub(crate) log: PathBuf,
}

impl Proc {
    /// Starts `program args`, stdout and stderr appended to `log`, in the process group
    /// `group` (`None`: a new group led by this process).
    pub(crate) fn spawn(
        name: &str,
        program: &Path,
        args: &[String],
        log: PathBuf,
        group: Option<u32>,
    ) -> Result<Proc, Error> {
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(Error::io("opening the log", &log))?;
        let err = out
            .try_clone()
            .map_err(Error::io("opening the log", &log))?;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(group.map_or(0, |g| g as i32));
        let child = cmd.spawn().map_err(Error::io("starting", program))?;
        Ok(Proc {
            name: name.to_string(),
            child,
            log,
        })
    }

    /// `Err(Exited)` with the end of the log when the process has exited.
    pub(crate) fn check_alive(&mut self) -> Result<(), Error> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(self.exited(status.to_string())),
            Err(e) => Err(self.exited(format!("cannot wait for it: {e}"))),
        }
    }

    fn exited(&self, status: String) -> Error {
        Error::Exited {
            process: self.name.clone(),
            status,
            log: self.log.clone(),
            tail: tail(&self.log),
        }
    }
}

/// The process group of a control plane: stopped with SIGTERM, then SIGKILL.
#[derive(Debug)]
pub(crate) struct Group {
    pub(crate) procs: Vec<Proc>,
    watchdog: Option<Child>,
}

impl Group {
    pub(crate) fn new(procs: Vec<Proc>, dir: &Path) -> Group {
        let watchdog = procs
            .first()
            .and_then(|leader| start_watchdog(leader.child.id(), dir));
        Group { procs, watchdog }
    }

    /// The group id (the leader's pid).
    pub(crate) fn id(&self) -> Option<u32> {
        self.procs.first().map(|p| p.child.id())
    }

    /// `Err(Exited)` when any process of the group has exited.
    pub(crate) fn check_alive(&mut self) -> Result<(), Error> {
        self.procs.iter_mut().try_for_each(Proc::check_alive)
    }

    /// Stops every process: SIGTERM to the group, SIGKILL after `grace`; waits for them.
    pub(crate) fn stop(&mut self, grace: Duration) {
        if let Some(pgid) = self.id() {
            signal_group("-TERM", pgid);
            let deadline = Instant::now() + grace;
            while Instant::now() < deadline
                && self
                    .procs
                    .iter_mut()
                    .any(|p| matches!(p.child.try_wait(), Ok(None)))
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            signal_group("-KILL", pgid);
        }
        for p in &mut self.procs {
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
        self.procs.clear();
        if let Some(mut w) = self.watchdog.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(10));
    }
}

/// Sends a signal to a whole process group (`kill SIG -- -PGID`).
fn signal_group(signal: &str, pgid: u32) {
    let _ = Command::new("kill")
        .arg(signal)
        .arg("--")
        .arg(format!("-{pgid}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// A shell process outside the group that stops the group and removes `dir` once this test
/// process is gone, so that nothing outlives a test binary that was killed (or that kept its
/// environment in a `static`, which is never dropped).
/// `env kill`: the external kill(1), because dash's builtin refuses `--` before a negative
/// (process group) id.
fn start_watchdog(pgid: u32, dir: &Path) -> Option<Child> {
    const SCRIPT: &str = r#"parent=$1 pgid=$2 dir=$3
while kill -0 "$parent" 2>/dev/null; do sleep 1; done
env kill -TERM -- "-$pgid" 2>/dev/null
i=0
while env kill -0 -- "-$pgid" 2>/dev/null && [ $i -lt 40 ]; do sleep 0.25; i=$((i + 1)); done
env kill -KILL -- "-$pgid" 2>/dev/null
rm -rf "$dir""#;
    Command::new("/bin/sh")
        .arg("-c")
        .arg(SCRIPT)
        .arg("k8s-client-testenv-watchdog")
        .arg(std::process::id().to_string())
        .arg(pgid.to_string())
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .ok()
}

/// The last 40 lines of a log file.
pub(crate) fn tail(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// A free TCP port on 127.0.0.1 (bound and released; a small race is accepted).
pub(crate) fn free_port() -> Result<u16, Error> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(Error::io("finding a free port on", "127.0.0.1"))?;
    let port = listener
        .local_addr()
        .map_err(Error::io("finding a free port on", "127.0.0.1"))?
        .port();
    Ok(port)
}
