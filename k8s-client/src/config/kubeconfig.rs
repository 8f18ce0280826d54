//! The kubeconfig file model: what `kubectl config view` shows, field for field
//! (`clientcmd/api/v1`). Secrets (tokens, passwords, private keys, exec environment values)
//! are held so that `Debug` never prints them.
//!
//! ```
//! use k8s_client::config::Kubeconfig;
//!
//! let kc = Kubeconfig::from_yaml(r#"
//! apiVersion: v1
//! kind: Config
//! clusters:
//! - name: dev
//!   cluster: {server: "https://127.0.0.1:6443"}
//! users:
//! - name: me
//!   user: {token: s3cr3t}
//! contexts:
//! - name: dev
//!   context: {cluster: dev, user: me}
//! current-context: dev
//! "#).unwrap();
//! assert_eq!(kc.current_context.as_deref(), Some("dev"));
//! assert!(!format!("{kc:?}").contains("s3cr3t"));
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::error::ConfigError;
use crate::config::Secret;

/// A kubeconfig file (or several merged into one).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Kubeconfig {
    /// `kind` (normally `Config`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// `apiVersion` (normally `v1`).
    #[serde(
        rename = "apiVersion",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub api_version: Option<String>,
    /// `preferences` (kept as read; not used by the client).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferences: Option<serde_json::Value>,
    /// `clusters`: where API servers are and how to trust them.
    #[serde(default, deserialize_with = "null_default")]
    pub clusters: Vec<NamedCluster>,
    /// `users`: credentials.
    #[serde(rename = "users", default, deserialize_with = "null_default")]
    pub auth_infos: Vec<NamedAuthInfo>,
    /// `contexts`: a cluster, a user and a namespace under one name.
    #[serde(default, deserialize_with = "null_default")]
    pub contexts: Vec<NamedContext>,
    /// `current-context`: the context used when none is chosen.
    #[serde(
        rename = "current-context",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub current_context: Option<String>,
    /// `extensions` (kept as read).
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub extensions: Vec<NamedExtension>,
    /// The files this value was read from, in merge order (not part of the file format).
    #[serde(skip)]
    pub files: Vec<PathBuf>,
}

/// A named entry of `clusters`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NamedCluster {
    /// The cluster's name, referenced by contexts.
    pub name: String,
    /// The cluster.
    #[serde(default, deserialize_with = "null_default")]
    pub cluster: Cluster,
    /// The file this entry was read from (not part of the file format; used in errors).
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

/// How to reach and trust one API server.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Cluster {
    /// `server`: the API server URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// `tls-server-name`: the name to check the server certificate against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_server_name: Option<String>,
    /// `insecure-skip-tls-verify`: do not check the server certificate.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_false"
    )]
    pub insecure_skip_tls_verify: bool,
    /// `certificate-authority`: a PEM file of trusted CAs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_authority: Option<PathBuf>,
    /// `certificate-authority-data`: base64 of PEM CAs (takes precedence over the file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_authority_data: Option<String>,
    /// `proxy-url`: `http`, `https` or `socks5` proxy for this cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_url: Option<String>,
    /// `disable-compression`: ask for uncompressed answers.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_false"
    )]
    pub disable_compression: bool,
    /// `extensions`; `client.authentication.k8s.io/exec` is handed to exec plugins.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub extensions: Vec<NamedExtension>,
}

/// A named entry of `users`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NamedAuthInfo {
    /// The user's name, referenced by contexts.
    pub name: String,
    /// The credentials.
    #[serde(rename = "user", default, deserialize_with = "null_default")]
    pub auth_info: AuthInfo,
    /// The file this entry was read from (not part of the file format; used in errors).
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

/// Credentials of one user. At most one of token (or token file), basic auth may be set; a
/// client certificate and an exec plugin may accompany either.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct AuthInfo {
    /// `client-certificate`: PEM certificate file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_certificate: Option<PathBuf>,
    /// `client-certificate-data`: base64 of the PEM certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_certificate_data: Option<String>,
    /// `client-key`: PEM private key file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key: Option<PathBuf>,
    /// `client-key-data`: base64 of the PEM private key.
    #[serde(default, with = "opt_secret", skip_serializing_if = "Option::is_none")]
    pub client_key_data: Option<Secret<String>>,
    /// `token`: a bearer token.
    #[serde(default, with = "opt_secret", skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret<String>>,
    /// `tokenFile`: a file holding a bearer token (re-read while running).
    #[serde(rename = "tokenFile", default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
    /// `as`: the user to impersonate.
    #[serde(rename = "as", default, skip_serializing_if = "Option::is_none")]
    pub impersonate: Option<String>,
    /// `as-uid`: the UID to impersonate.
    #[serde(rename = "as-uid", default, skip_serializing_if = "Option::is_none")]
    pub impersonate_uid: Option<String>,
    /// `as-groups`: the groups to impersonate.
    #[serde(
        rename = "as-groups",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub impersonate_groups: Vec<String>,
    /// `as-user-extra`: extra fields of the impersonated user.
    #[serde(
        rename = "as-user-extra",
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub impersonate_user_extra: BTreeMap<String, Vec<String>>,
    /// `username` for basic authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// `password` for basic authentication.
    #[serde(default, with = "opt_secret", skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret<String>>,
    /// `auth-provider`: the legacy in-tree provider plugins (not supported: use `exec`).
    /// Kept redacted because it usually holds tokens.
    #[serde(default, with = "opt_secret", skip_serializing_if = "Option::is_none")]
    pub auth_provider: Option<Secret<serde_json::Value>>,
    /// `exec`: a credential plugin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecConfig>,
    /// `extensions` (kept as read).
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub extensions: Vec<NamedExtension>,
}

/// A named entry of `contexts`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NamedContext {
    /// The context's name.
    pub name: String,
    /// The context.
    #[serde(default, deserialize_with = "null_default")]
    pub context: Context,
    /// The file this entry was read from (not part of the file format; used in errors).
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

/// A cluster, a user and a default namespace under one name.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Context {
    /// The cluster's name.
    #[serde(default, deserialize_with = "null_default")]
    pub cluster: String,
    /// The user's name (none: no credentials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The default namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `extensions` (kept as read).
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub extensions: Vec<NamedExtension>,
}

/// A named extension: any object, kept as read.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NamedExtension {
    /// The extension's name.
    pub name: String,
    /// The extension's value.
    #[serde(default)]
    pub extension: serde_json::Value,
}

/// The cluster extension that is handed to exec plugins as `spec.cluster.config`.
pub const EXEC_CLUSTER_EXTENSION: &str = "client.authentication.k8s.io/exec";

/// An exec credential plugin (`users[].user.exec`): a command printing an `ExecCredential`.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecConfig {
    /// `apiVersion` of the `ExecCredential` exchanged: `client.authentication.k8s.io/v1`
    /// or `client.authentication.k8s.io/v1beta1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// The program to run (a relative path with a separator is resolved against the
    /// kubeconfig file's directory; a bare name is looked up in `PATH`).
    #[serde(default, deserialize_with = "null_default")]
    pub command: String,
    /// Its arguments.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub args: Vec<String>,
    /// Extra environment variables (added to this process's environment).
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub env: Vec<ExecEnvVar>,
    /// Shown to the user when the command is not found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_hint: Option<String>,
    /// Send the cluster's details in `KUBERNETES_EXEC_INFO` (`spec.cluster`).
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "is_false"
    )]
    pub provide_cluster_info: bool,
    /// Whether the plugin may talk to the user on stdin (required for `v1`; `v1beta1`
    /// defaults to `IfAvailable`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interactive_mode: Option<ExecInteractiveMode>,
    /// The cluster's `extensions[client.authentication.k8s.io/exec].extension`, filled in by
    /// the loader and sent as `spec.cluster.config` (not part of the user's entry).
    #[serde(skip)]
    pub cluster_config: Option<serde_json::Value>,
    /// How long one run of the plugin may take before it is stopped and the requests
    /// waiting for it fail with an error naming the command (`None`: 60 s). Not part of the
    /// kubeconfig; set it on the loaded [`Config`](super::Config)'s `auth.exec`.
    #[serde(skip)]
    pub timeout: Option<std::time::Duration>,
}

impl fmt::Debug for ExecConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecConfig")
            .field("api_version", &self.api_version)
            .field("command", &self.command)
            .field("args", &self.args)
            .field("env", &self.env)
            .field("install_hint", &self.install_hint)
            .field("provide_cluster_info", &self.provide_cluster_info)
            .field("interactive_mode", &self.interactive_mode)
            .field(
                "cluster_config",
                &self.cluster_config.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// One environment variable for an exec plugin. Its value never shows in `Debug` output.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecEnvVar {
    /// The variable's name.
    pub name: String,
    /// Its value.
    #[serde(default)]
    pub value: String,
}

impl fmt::Debug for ExecEnvVar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecEnvVar")
            .field("name", &self.name)
            .field("value", &"<redacted>")
            .finish()
    }
}

/// Whether an exec plugin may read from the user's terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ExecInteractiveMode {
    /// Never give the plugin stdin.
    Never,
    /// Give the plugin stdin when it is a terminal.
    IfAvailable,
    /// The plugin needs a terminal; fail when stdin is not one.
    Always,
}

impl Kubeconfig {
    /// Parses a kubeconfig document. Relative paths stay as written (no file to resolve
    /// them against). An empty document is an empty kubeconfig.
    pub fn from_yaml(text: &str) -> Result<Kubeconfig, ConfigError> {
        parse(text, Path::new("<yaml>"))
    }

    /// Reads and parses one kubeconfig file; relative paths in it (certificate-authority,
    /// client-certificate, client-key, tokenFile, an exec command containing a path
    /// separator) are resolved against the file's directory.
    pub fn read_from(path: impl AsRef<Path>) -> Result<Kubeconfig, ConfigError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| ConfigError::ReadFile {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_file_bytes(path, &bytes)
    }

    /// Parses the bytes of the file `path` (see [`Kubeconfig::read_from`]).
    pub(crate) fn from_file_bytes(path: &Path, bytes: &[u8]) -> Result<Kubeconfig, ConfigError> {
        let text = std::str::from_utf8(bytes).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: format!("not UTF-8: {e}"),
            source: Box::new(e),
        })?;
        let mut kc = parse(text, path)?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        kc.resolve_relative_paths(&dir);
        for c in &mut kc.clusters {
            c.source = Some(path.to_path_buf());
        }
        for u in &mut kc.auth_infos {
            u.source = Some(path.to_path_buf());
        }
        for c in &mut kc.contexts {
            c.source = Some(path.to_path_buf());
        }
        kc.files = vec![path.to_path_buf()];
        Ok(kc)
    }

    /// Makes relative file references absolute against `dir`, as if the file were there.
    pub fn resolve_relative_paths(&mut self, dir: &Path) {
        fn fix(p: &mut Option<PathBuf>, dir: &Path) {
            if let Some(path) = p {
                if !path.as_os_str().is_empty() && path.is_relative() {
                    *path = dir.join(&*path);
                }
            }
        }
        for c in &mut self.clusters {
            fix(&mut c.cluster.certificate_authority, dir);
        }
        for u in &mut self.auth_infos {
            let a = &mut u.auth_info;
            fix(&mut a.client_certificate, dir);
            fix(&mut a.client_key, dir);
            fix(&mut a.token_file, dir);
            if let Some(exec) = &mut a.exec {
                let cmd = Path::new(&exec.command);
                let has_separator = exec.command.contains(std::path::MAIN_SEPARATOR)
                    || (cfg!(windows) && exec.command.contains('/'));
                if has_separator && cmd.is_relative() {
                    exec.command = dir.join(cmd).to_string_lossy().into_owned();
                }
            }
        }
    }

    /// Merges `other` into `self` with client-go's rules: for clusters, users and contexts
    /// the entry of the first file that defines a name wins whole; `current-context` comes
    /// from the first file that sets it.
    pub fn merge(mut self, other: Kubeconfig) -> Kubeconfig {
        for c in other.clusters {
            if !self.clusters.iter().any(|x| x.name == c.name) {
                self.clusters.push(c);
            }
        }
        for u in other.auth_infos {
            if !self.auth_infos.iter().any(|x| x.name == u.name) {
                self.auth_infos.push(u);
            }
        }
        for c in other.contexts {
            if !self.contexts.iter().any(|x| x.name == c.name) {
                self.contexts.push(c);
            }
        }
        for e in other.extensions {
            if !self.extensions.iter().any(|x| x.name == e.name) {
                self.extensions.push(e);
            }
        }
        if self.current_context.as_deref().unwrap_or("").is_empty() {
            self.current_context = other.current_context;
        }
        if self.preferences.is_none() {
            self.preferences = other.preferences;
        }
        if self.kind.is_none() {
            self.kind = other.kind;
        }
        if self.api_version.is_none() {
            self.api_version = other.api_version;
        }
        for f in other.files {
            if !self.files.contains(&f) {
                self.files.push(f);
            }
        }
        self
    }

    /// The context named `name`.
    pub fn context(&self, name: &str) -> Option<&NamedContext> {
        self.contexts.iter().find(|c| c.name == name)
    }

    /// The cluster named `name`.
    pub fn cluster(&self, name: &str) -> Option<&NamedCluster> {
        self.clusters.iter().find(|c| c.name == name)
    }

    /// The user named `name`.
    pub fn auth_info(&self, name: &str) -> Option<&NamedAuthInfo> {
        self.auth_infos.iter().find(|c| c.name == name)
    }
}

fn parse(text: &str, path: &Path) -> Result<Kubeconfig, ConfigError> {
    if text.trim().is_empty() {
        return Ok(Kubeconfig::default());
    }
    serde_yaml_ng::from_str::<Option<Kubeconfig>>(text)
        .map(Option::unwrap_or_default)
        .map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: yaml_message(&e),
            source: Box::new(e),
        })
}

/// The parser's message, making sure it names the line.
fn yaml_message(e: &serde_yaml_ng::Error) -> String {
    let msg = e.to_string();
    match e.location() {
        Some(loc) if !msg.contains("line") => {
            format!("line {} column {}: {msg}", loc.line(), loc.column())
        }
        _ => msg,
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// `null` (as `kubectl config view` writes for empty lists) reads as the default value.
fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Serde for `Option<Secret<T>>`: the plain value in the file, redacted in memory.
mod opt_secret {
    use super::*;

    pub fn serialize<S: Serializer, T: Serialize>(
        v: &Option<Secret<T>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(secret) => s.serialize_some(secret.expose()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Option<Secret<T>>, D::Error> {
        Ok(Option::<T>::deserialize(d)?.map(Secret::new))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nulls_and_empty_documents() {
        let kc = Kubeconfig::from_yaml(
            "apiVersion: v1\nkind: Config\nclusters: null\nusers: null\ncontexts: null\npreferences: {}\n",
        )
        .unwrap();
        assert!(kc.clusters.is_empty() && kc.auth_infos.is_empty() && kc.contexts.is_empty());
        assert_eq!(Kubeconfig::from_yaml("").unwrap(), Kubeconfig::default());
        assert_eq!(
            Kubeconfig::from_yaml("---\n").unwrap(),
            Kubeconfig::default()
        );
    }

    #[test]
    fn secrets_are_redacted_but_round_trip() {
        let yaml = r#"
users:
- name: u
  user:
    token: tok-123
    password: pw-456
    username: bob
    client-key-data: a2V5LTc4OQ==
    auth-provider: {name: oidc, config: {id-token: idt-000}}
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: plugin
      env: [{name: SECRET, value: env-999}]
      interactiveMode: Never
"#;
        let kc = Kubeconfig::from_yaml(yaml).unwrap();
        let debug = format!("{kc:?}");
        for s in ["tok-123", "pw-456", "a2V5LTc4OQ", "idt-000", "env-999"] {
            assert!(!debug.contains(s), "{s} leaked: {debug}");
        }
        assert!(debug.contains("bob"));
        let back = serde_yaml_ng::to_string(&kc).unwrap();
        assert!(back.contains("tok-123") && back.contains("env-999"));
        assert_eq!(Kubeconfig::from_yaml(&back).unwrap(), kc);
        let exec = kc.auth_infos[0].auth_info.exec.as_ref().unwrap();
        assert_eq!(exec.interactive_mode, Some(ExecInteractiveMode::Never));
    }

    #[test]
    fn bad_yaml_names_the_line() {
        let err = Kubeconfig::from_yaml("clusters:\n- name: a\n  cluster: [\n").unwrap_err();
        assert!(err.to_string().contains("line"), "{err}");
        let err = Kubeconfig::from_yaml("clusters: 5\n").unwrap_err();
        assert!(err.to_string().contains("line"), "{err}");
    }

    #[test]
    fn parse_errors_keep_the_parser_error_as_source() {
        use std::error::Error as _;
        let err = Kubeconfig::from_yaml("clusters:\n- name: a\n  cluster: [\n").unwrap_err();
        assert!(matches!(err, ConfigError::Parse { .. }), "{err:?}");
        let yaml = err
            .source()
            .and_then(|s| s.downcast_ref::<serde_yaml_ng::Error>())
            .expect("the serde_yaml_ng error is the source");
        assert!(yaml.location().is_some(), "{yaml}");

        let err = Kubeconfig::from_file_bytes(Path::new("/k/config"), b"kind: \xff\n").unwrap_err();
        assert!(err.to_string().contains("not UTF-8"), "{err}");
        assert!(
            err.source().is_some_and(|s| s.is::<std::str::Utf8Error>()),
            "{err:?}"
        );
    }

    #[test]
    fn merge_first_wins() {
        let a = Kubeconfig::from_yaml(
            "clusters: [{name: c, cluster: {server: 'https://a'}}]\ncurrent-context: ''\n",
        )
        .unwrap();
        let b = Kubeconfig::from_yaml(
            "clusters: [{name: c, cluster: {server: 'https://b'}}, {name: d, cluster: {}}]\ncurrent-context: x\n",
        )
        .unwrap();
        let m = a.merge(b);
        assert_eq!(m.clusters.len(), 2);
        assert_eq!(
            m.cluster("c").unwrap().cluster.server.as_deref(),
            Some("https://a")
        );
        assert_eq!(m.current_context.as_deref(), Some("x"));
    }
}
