//! Exec credential plugins (`client.authentication.k8s.io/v1` and `v1beta1`): run a command,
//! read an `ExecCredential` from its stdout, cache the token or certificate until it
//! expires or the server rejects it.

use std::io::IsTerminal as _;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use http::HeaderValue;
use serde::Deserialize;

use super::certs::{certified_key, CertSlot};
use super::error::AuthError;
use super::header_value;
use crate::config::{Config, ExecConfig, ExecInteractiveMode, EXEC_API_V1, EXEC_API_V1BETA1};

/// Longest piece of plugin stderr quoted in an error.
const MAX_STDERR: usize = 4096;

/// How long a plugin run may take when [`ExecConfig::timeout`] is not set.
pub(crate) const DEFAULT_EXEC_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The most a plugin may print on stdout (an `ExecCredential` is a few KiB; a certificate
/// chain a few more).
const MAX_STDOUT: usize = 1 << 20;

struct Cached {
    header: Option<HeaderValue>,
    expires: Option<jiff::Timestamp>,
}

impl Cached {
    fn valid(&self) -> bool {
        self.expires.is_none_or(|t| jiff::Timestamp::now() < t)
    }
}

pub(crate) struct ExecPlugin {
    config: ExecConfig,
    api_version: &'static str,
    /// `spec.cluster`, when the plugin asked for cluster info.
    cluster: Option<serde_json::Value>,
    cache: Mutex<Option<Cached>>,
    /// Held while the plugin runs: one run at a time, others wait for its result.
    running: tokio::sync::Mutex<()>,
    /// When the last run failed, and why.
    failed: Mutex<Option<(std::time::Instant, String)>>,
    /// Where a certificate the plugin returns goes.
    pub(crate) slot: Arc<CertSlot>,
}

/// Checks an exec config as the kubeconfig loader does (for configs built by hand) and
/// returns the canonical apiVersion.
fn check(config: &ExecConfig) -> Result<&'static str, AuthError> {
    let err = |message: String| AuthError::Exec {
        command: config.command.clone(),
        message,
        source: None,
    };
    if config.command.trim().is_empty() {
        return Err(err("the plugin command is empty".to_string()));
    }
    match config.api_version.as_deref() {
        Some(EXEC_API_V1) => {
            if config.interactive_mode.is_none() {
                return Err(err(format!(
                    "interactiveMode must be set (Never, IfAvailable or Always) for {EXEC_API_V1} plugins"
                )));
            }
            Ok(EXEC_API_V1)
        }
        Some(EXEC_API_V1BETA1) => Ok(EXEC_API_V1BETA1),
        other => Err(err(format!(
            "apiVersion {other:?} is not supported; use {EXEC_API_V1} or {EXEC_API_V1BETA1}"
        ))),
    }
}

/// `spec.cluster` of `KUBERNETES_EXEC_INFO`, from the config the plugin authenticates for.
fn cluster_info(config: &Config, exec: &ExecConfig) -> serde_json::Value {
    let mut server = config.cluster_url.to_string();
    if config.cluster_url.path() == "/" && server.ends_with('/') {
        server.pop();
    }
    let mut cluster = serde_json::Map::new();
    cluster.insert("server".into(), server.into());
    if let Some(name) = &config.tls.server_name {
        cluster.insert("tls-server-name".into(), name.clone().into());
    }
    if config.tls.insecure_skip_verify {
        cluster.insert("insecure-skip-tls-verify".into(), true.into());
    }
    if !config.tls.root_certs_pem.is_empty() {
        let mut pem = Vec::new();
        for ca in &config.tls.root_certs_pem {
            pem.extend_from_slice(ca);
            if !pem.ends_with(b"\n") {
                pem.push(b'\n');
            }
        }
        cluster.insert(
            "certificate-authority-data".into(),
            base64::engine::general_purpose::STANDARD.encode(pem).into(),
        );
    }
    if let Some(proxy) = &config.proxy_url {
        cluster.insert("proxy-url".into(), proxy.to_string().into());
    }
    if let Some(ext) = &exec.cluster_config {
        cluster.insert("config".into(), ext.clone());
    }
    serde_json::Value::Object(cluster)
}

#[derive(Deserialize)]
struct ExecCredential {
    #[serde(rename = "apiVersion", default)]
    api_version: Option<String>,
    #[serde(default)]
    status: Option<ExecCredentialStatus>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecCredentialStatus {
    #[serde(default)]
    expiration_timestamp: Option<String>,
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    client_certificate_data: Option<String>,
    #[serde(default)]
    client_key_data: Option<String>,
}

impl ExecPlugin {
    pub(crate) fn new(exec: &ExecConfig, config: &Config) -> Result<Self, AuthError> {
        let api_version = check(exec)?;
        Ok(ExecPlugin {
            config: exec.clone(),
            api_version,
            cluster: exec
                .provide_cluster_info
                .then(|| cluster_info(config, exec)),
            cache: Mutex::new(None),
            running: tokio::sync::Mutex::new(()),
            failed: Mutex::new(None),
            slot: Arc::new(CertSlot::default()),
        })
    }

    pub(crate) fn command(&self) -> &str {
        &self.config.command
    }

    fn error(&self, message: impl Into<String>) -> AuthError {
        AuthError::Exec {
            command: self.config.command.clone(),
            message: message.into(),
            source: None,
        }
    }

    /// An error of the plugin run caused by `source` (whose text `message` includes).
    fn caused(
        &self,
        message: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> AuthError {
        AuthError::Exec {
            command: self.config.command.clone(),
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// The failure of a run that ended after `asked`: those who waited for that run share
    /// its outcome instead of running the plugin again one after another.
    fn failed_since(&self, asked: std::time::Instant) -> Option<String> {
        let failed = self.failed.lock().ok()?;
        let (at, message) = failed.as_ref()?;
        (*at >= asked).then(|| message.clone())
    }

    fn cached(&self) -> Option<Option<HeaderValue>> {
        let guard = self.cache.lock().ok()?;
        let c = guard.as_ref()?;
        c.valid().then(|| c.header.clone())
    }

    /// Drops the cached credential: the next [`header`](Self::header) runs the plugin.
    pub(crate) fn invalidate(&self) {
        if let Ok(mut guard) = self.cache.lock() {
            *guard = None;
        }
    }

    /// The `Authorization` header from the plugin's current credential (none when it gave
    /// only a certificate), running the plugin when there is no valid credential.
    pub(crate) async fn header(&self) -> Result<Option<HeaderValue>, AuthError> {
        if let Some(h) = self.cached() {
            return Ok(h);
        }
        let asked = std::time::Instant::now();
        // One run at a time; it is bounded by the timeout, so the lock is never held longer.
        let _running = self.running.lock().await;
        // Whoever ran the plugin while we waited left its result, or its failure.
        if let Some(h) = self.cached() {
            return Ok(h);
        }
        if let Some(message) = self.failed_since(asked) {
            return Err(self.error(message));
        }
        let timeout = self.config.timeout.unwrap_or(DEFAULT_EXEC_TIMEOUT);
        let outcome = match tokio::time::timeout(timeout, self.run()).await {
            Ok(outcome) => outcome,
            // Dropping the run kills the plugin (kill_on_drop).
            Err(_) => Err(self.error(format!(
                "did not finish within {timeout:?} (ExecConfig::timeout): stopped"
            ))),
        };
        let cached = match outcome {
            Ok(cached) => cached,
            Err(e) => {
                let message = match &e {
                    AuthError::Exec { message, .. } => message.clone(),
                    other => other.to_string(),
                };
                if let Ok(mut failed) = self.failed.lock() {
                    *failed = Some((std::time::Instant::now(), message));
                }
                return Err(e);
            }
        };
        let header = cached.header.clone();
        if let Ok(mut guard) = self.cache.lock() {
            *guard = Some(cached);
        }
        Ok(header)
    }

    fn exec_info(&self, interactive: bool) -> String {
        let mut spec = serde_json::Map::new();
        spec.insert("interactive".into(), interactive.into());
        if let Some(cluster) = &self.cluster {
            spec.insert("cluster".into(), cluster.clone());
        }
        serde_json::json!({
            "apiVersion": self.api_version,
            "kind": "ExecCredential",
            "spec": spec,
        })
        .to_string()
    }

    async fn run(&self) -> Result<Cached, AuthError> {
        let stdin_is_terminal = std::io::stdin().is_terminal();
        let interactive = match self
            .config
            .interactive_mode
            .unwrap_or(ExecInteractiveMode::IfAvailable)
        {
            ExecInteractiveMode::Never => false,
            ExecInteractiveMode::IfAvailable => stdin_is_terminal,
            ExecInteractiveMode::Always => {
                if !stdin_is_terminal {
                    return Err(self
                        .error("interactiveMode is Always but standard input is not a terminal"));
                }
                true
            }
        };

        let mut cmd = tokio::process::Command::new(&self.config.command);
        cmd.args(&self.config.args)
            .envs(self.config.env.iter().map(|e| (&e.name, &e.value)))
            .env("KUBERNETES_EXEC_INFO", self.exec_info(interactive))
            .stdout(Stdio::piped())
            .kill_on_drop(true);
        if interactive {
            // The plugin talks to the user: give it the terminal.
            cmd.stdin(Stdio::inherit()).stderr(Stdio::inherit());
        } else {
            cmd.stdin(Stdio::null()).stderr(Stdio::piped());
        }
        tracing::debug!(command = %self.config.command, "running exec credential plugin");
        let child = cmd.spawn().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                let mut message = format!("executable {} not found", self.config.command);
                if let Some(hint) = self
                    .config
                    .install_hint
                    .as_deref()
                    .filter(|h| !h.is_empty())
                {
                    message.push_str("\n\n");
                    message.push_str(&clean_hint(hint));
                }
                self.caused(message, e)
            } else {
                self.caused(format!("cannot start it: {e}"), e)
            }
        })?;
        let mut child = child;
        let (stdout, stderr) = tokio::join!(
            read_at_most(child.stdout.take(), MAX_STDOUT),
            read_at_most(child.stderr.take(), MAX_STDERR)
        );
        let stdout = stdout.map_err(|e| self.caused(format!("reading its output: {e}"), e))?;
        if stdout.len() > MAX_STDOUT {
            let _ = child.start_kill();
            return Err(self.error(format!(
                "it printed more than {MAX_STDOUT} bytes: not an ExecCredential"
            )));
        }
        let stderr = stderr.unwrap_or_default();
        let status = child
            .wait()
            .await
            .map_err(|e| self.caused(format!("waiting for it: {e}"), e))?;
        let output = std::process::Output {
            status,
            stdout,
            stderr,
        };

        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let stderr = stderr.trim();
            let stderr: String = if stderr.len() > MAX_STDERR {
                let mut end = MAX_STDERR;
                while !stderr.is_char_boundary(end) {
                    end -= 1;
                }
                format!("{}...", &stderr[..end])
            } else {
                stderr.to_string()
            };
            let how = match output.status.code() {
                Some(code) => format!("exited with exit code {code}"),
                None => format!("was stopped ({})", output.status),
            };
            return Err(self.error(if stderr.is_empty() {
                how
            } else {
                format!("{how}; stderr: {stderr}")
            }));
        }
        self.parse(&output.stdout)
    }

    fn parse(&self, stdout: &[u8]) -> Result<Cached, AuthError> {
        const NOT_CREDENTIAL: &str = "the plugin's output is not an ExecCredential";
        if stdout.iter().all(u8::is_ascii_whitespace) {
            return Err(self.error(format!("{NOT_CREDENTIAL}: it printed nothing")));
        }
        // Syntax errors name a position only, never content.
        let value: serde_json::Value = serde_json::from_slice(stdout)
            .map_err(|e| self.caused(format!("{NOT_CREDENTIAL}: not JSON ({e})"), e))?;
        let kind = value.get("kind").and_then(|k| k.as_str()).unwrap_or("");
        if kind != "ExecCredential" {
            let shown: String = kind.chars().take(64).collect();
            return Err(self.error(format!("{NOT_CREDENTIAL} (kind {shown:?})")));
        }
        // Type errors could quote values (tokens): say what is expected instead.
        let cred: ExecCredential = serde_json::from_value(value).map_err(|_| {
            self.error(format!(
                "{NOT_CREDENTIAL}: its fields have the wrong types (status.token, \
                 status.clientCertificateData, status.clientKeyData and \
                 status.expirationTimestamp must be strings)"
            ))
        })?;
        let returned = cred.api_version.unwrap_or_default();
        if returned != self.api_version {
            return Err(self.error(format!(
                "the plugin is configured for apiVersion {} but returned {returned:?}",
                self.api_version
            )));
        }
        let status = cred
            .status
            .ok_or_else(|| self.error("the plugin's ExecCredential has no status"))?;
        let token = status.token.filter(|t| !t.is_empty());
        let cert = status.client_certificate_data.filter(|c| !c.is_empty());
        let key = status.client_key_data.filter(|k| !k.is_empty());
        if token.is_none() && cert.is_none() && key.is_none() {
            return Err(self.error(
                "the plugin's ExecCredential has neither a token nor a client certificate",
            ));
        }
        let expires = match status.expiration_timestamp.filter(|t| !t.is_empty()) {
            Some(t) => Some(t.parse::<jiff::Timestamp>().map_err(|e| {
                self.caused(
                    format!("status.expirationTimestamp {t:?} is not an RFC 3339 time: {e}"),
                    e,
                )
            })?),
            None => None,
        };
        match (cert, key) {
            (Some(cert), Some(key)) => {
                let what = format!(
                    "client certificate from exec plugin {}",
                    self.config.command
                );
                let ck = certified_key(cert.as_bytes(), key.as_bytes(), &what)?;
                self.slot.set(Some(Arc::new(ck)));
            }
            (None, None) => self.slot.set(None),
            _ => {
                return Err(self.error(
                    "the plugin returned only one of clientCertificateData and clientKeyData",
                ))
            }
        }
        let header = match token {
            Some(t) => Some(header_value(
                &format!("Bearer {t}"),
                "the token returned by the exec plugin",
            )?),
            None => None,
        };
        Ok(Cached { header, expires })
    }
}

/// An install hint without terminal control sequences.
fn clean_hint(hint: &str) -> String {
    hint.chars()
        .map(|c| {
            if c.is_control() && !matches!(c, '\n' | '\t' | '\r') {
                '?'
            } else {
                c
            }
        })
        .collect()
}

/// Reads `pipe` to its end, or to `cap + 1` bytes when it has more (then stops reading).
async fn read_at_most<R: tokio::io::AsyncRead + Unpin>(
    pipe: Option<R>,
    cap: usize,
) -> std::io::Result<Vec<u8>> {
    use tokio::io::AsyncReadExt as _;
    let mut out = Vec::new();
    if let Some(pipe) = pipe {
        pipe.take(cap as u64 + 1).read_to_end(&mut out).await?;
    }
    Ok(out)
}
