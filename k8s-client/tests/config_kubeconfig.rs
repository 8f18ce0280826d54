//! Kubeconfig loading without a server: which files, how they merge, relative paths,
//! overrides, the namespace chain and malformed input. Fixtures are in
//! tests/fixtures/kubeconfig/.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_client::config::Secret;
use k8s_client::config::{
    Config, ConfigError, DataSource, ExecInteractiveMode, Impersonation, KubeConfigOptions,
    Kubeconfig,
};
use k8s_client::Error;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kubeconfig")
}

fn fixture(name: &str) -> PathBuf {
    fixtures().join(name)
}

/// A KUBECONFIG value from paths, joined with the platform separator.
fn env_list(paths: &[PathBuf]) -> OsString {
    std::env::join_paths(paths).unwrap()
}

/// Options that read nothing from this machine: no home directory, no in-cluster
/// namespace file.
fn isolated() -> KubeConfigOptions {
    KubeConfigOptions::default()
        .home_dir(fixture("no-such-home"))
        .incluster_namespace_file(fixture("no-such-namespace-file"))
        .kubeconfig_env(OsString::new())
}

fn with_files(files: &[&str]) -> KubeConfigOptions {
    let paths: Vec<PathBuf> = files.iter().map(|f| fixture(f)).collect();
    isolated().kubeconfig_env(env_list(&paths))
}

fn config_err(e: impl Into<Error>) -> ConfigError {
    match e.into() {
        Error::Config(c) => c,
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[tokio::test]
async fn merge_first_file_wins_whole_entries() {
    let kc = Kubeconfig::load(&with_files(&["a.yaml", "b.yaml", "sub/c.yaml"]))
        .await
        .unwrap();
    assert_eq!(
        kc.files,
        vec![fixture("a.yaml"), fixture("b.yaml"), fixture("sub/c.yaml")]
    );
    // clusters: `shared` from a.yaml whole (b's insecure flag does not leak in).
    let shared = &kc.cluster("shared").unwrap().cluster;
    assert_eq!(shared.server.as_deref(), Some("https://a.example:6443"));
    assert!(!shared.insecure_skip_tls_verify);
    assert_eq!(
        kc.cluster("shared").unwrap().source,
        Some(fixture("a.yaml"))
    );
    for name in ["only-a", "only-b", "only-c"] {
        assert!(kc.cluster(name).is_some(), "cluster {name} missing");
    }
    // users: `shared-user` from a.yaml whole (b's username does not leak in).
    let user = &kc.auth_info("shared-user").unwrap().auth_info;
    assert_eq!(user.token.as_ref().unwrap().expose(), "token-from-a");
    assert_eq!(user.username, None);
    // contexts: `shared-ctx` from a.yaml.
    assert_eq!(
        kc.context("shared-ctx")
            .unwrap()
            .context
            .namespace
            .as_deref(),
        Some("from-a")
    );
    // current-context: the first file that sets it.
    assert_eq!(kc.current_context.as_deref(), Some("ctx-a"));

    // The other order: b.yaml wins.
    let kc = Kubeconfig::load(&with_files(&["sub/c.yaml", "b.yaml", "a.yaml"]))
        .await
        .unwrap();
    assert_eq!(
        kc.cluster("shared").unwrap().cluster.server.as_deref(),
        Some("https://b.example:6443")
    );
    // c.yaml sets current-context to "": that does not count as setting it.
    assert_eq!(kc.current_context.as_deref(), Some("ctx-b"));
    let config = Config::from_custom_kubeconfig(kc, &isolated())
        .await
        .unwrap();
    assert_eq!(config.cluster_url, "https://only-b.example:6443/");
}

#[tokio::test]
async fn kubeconfig_list_drops_duplicates_and_skips_missing_files() {
    let paths = vec![
        fixture("a.yaml"),
        fixture("missing-1.yaml"),
        fixture("a.yaml"),
        fixture("b.yaml"),
        fixture("missing-2.yaml"),
    ];
    let options = isolated().kubeconfig_env(env_list(&paths));
    let kc = Kubeconfig::load(&options).await.unwrap();
    assert_eq!(kc.files, vec![fixture("a.yaml"), fixture("b.yaml")]);
    let config = Config::from_kubeconfig(&options).await.unwrap();
    assert_eq!(
        config.origin,
        format!(
            "kubeconfig {}, {}, context ctx-a",
            fixture("a.yaml").display(),
            fixture("b.yaml").display()
        )
    );

    // Only missing files: "no kubeconfig", naming them.
    let options = isolated().kubeconfig_env(env_list(&[
        fixture("missing-1.yaml"),
        fixture("missing-2.yaml"),
    ]));
    let err = config_err(Config::from_kubeconfig(&options).await.unwrap_err());
    assert!(matches!(err, ConfigError::NoKubeconfig(_)), "{err:?}");
    assert!(err.to_string().contains("missing-2.yaml"), "{err}");
}

#[tokio::test]
async fn explicit_path_must_exist_and_beats_the_list() {
    let options = with_files(&["a.yaml"]).path(fixture("b.yaml"));
    let config = Config::from_kubeconfig(&options).await.unwrap();
    assert!(config.origin.contains("b.yaml") && !config.origin.contains("a.yaml"));

    let options = isolated().path(fixture("nope.yaml"));
    let err = config_err(Config::from_kubeconfig(&options).await.unwrap_err());
    assert!(matches!(err, ConfigError::ReadFile { .. }), "{err:?}");
    assert!(err.to_string().contains("nope.yaml"), "{err}");
}

#[tokio::test]
async fn home_kube_config_is_the_default() {
    let home = tempfile::tempdir().unwrap();
    let options = isolated().home_dir(home.path().to_path_buf());
    let err = config_err(Config::from_kubeconfig(&options).await.unwrap_err());
    assert!(matches!(err, ConfigError::NoKubeconfig(_)), "{err:?}");
    assert!(err.to_string().contains(".kube"), "{err}");

    std::fs::create_dir(home.path().join(".kube")).unwrap();
    std::fs::copy(fixture("b.yaml"), home.path().join(".kube/config")).unwrap();
    std::fs::write(home.path().join(".kube/token.txt"), "t\n").unwrap();
    let config = Config::from_kubeconfig(&options).await.unwrap();
    assert_eq!(config.cluster_url, "https://only-b.example:6443/");
    // tokenFile resolved next to the copied file.
    assert_eq!(
        config.auth.token_file,
        Some(home.path().join(".kube/token.txt"))
    );
}

#[tokio::test]
async fn relative_paths_resolve_against_their_file() {
    let kc = Kubeconfig::load(&with_files(&["a.yaml", "b.yaml", "sub/c.yaml"]))
        .await
        .unwrap();
    assert_eq!(
        kc.cluster("shared").unwrap().cluster.certificate_authority,
        Some(fixture("certs/ca.pem"))
    );
    let a = &kc.auth_info("user-a").unwrap().auth_info;
    assert_eq!(a.client_certificate, Some(fixture("certs/client.crt")));
    assert_eq!(a.client_key, Some(fixture("certs/client.key")));
    let b = &kc.auth_info("user-b").unwrap().auth_info;
    assert_eq!(b.token_file, Some(fixture("token.txt")));
    let c = kc
        .auth_info("user-c")
        .unwrap()
        .auth_info
        .exec
        .clone()
        .unwrap();
    assert_eq!(Path::new(&c.command), fixture("sub/./bin/plugin"));
    // A bare command is looked up in PATH: untouched.
    let p = kc
        .auth_info("user-path-plugin")
        .unwrap()
        .auth_info
        .exec
        .clone()
        .unwrap();
    assert_eq!(p.command, "some-plugin-on-path");

    // The resolved paths reach the Config.
    let config = Config::from_kubeconfig(&with_files(&["a.yaml", "b.yaml"]).context("shared-ctx"))
        .await
        .unwrap();
    let cert = config.auth.client_cert.unwrap();
    assert_eq!(cert.cert, DataSource::File(fixture("certs/client.crt")));
    assert_eq!(cert.key, DataSource::File(fixture("certs/client.key")));
}

#[tokio::test]
async fn context_cluster_user_and_their_fields() {
    let files = with_files(&["a.yaml", "b.yaml", "sub/c.yaml"]);
    // Current context ctx-a: cluster `shared` with a CA file, user with a token.
    let config = Config::from_kubeconfig(&files).await.unwrap();
    assert_eq!(config.cluster_url, "https://a.example:6443/");
    assert_eq!(
        config.tls.root_certs_pem,
        vec![std::fs::read(fixture("certs/ca.pem")).unwrap()]
    );
    assert_eq!(config.auth.token.as_ref().unwrap().expose(), "token-from-a");
    assert_eq!(config.default_namespace, "ns-a");
    assert!(config.impersonate.is_none());

    // shared-ctx: proxy, tls-server-name, impersonation, client certificate.
    let config = Config::from_kubeconfig(&files.clone().context("shared-ctx"))
        .await
        .unwrap();
    assert_eq!(config.proxy_url.unwrap(), "http://proxy.example:3128/");
    assert_eq!(
        config.tls.server_name.as_deref(),
        Some("api.only-a.example")
    );
    let imp = config.impersonate.unwrap();
    assert_eq!(imp.user, "someone");
    assert_eq!(imp.uid.as_deref(), Some("1234"));
    assert_eq!(imp.groups, vec!["team-a", "team-b"]);
    assert_eq!(imp.extra["scopes"], vec!["read", "write"]);

    // ctx-b: insecure, token file.
    let config = Config::from_kubeconfig(&files.clone().context("ctx-b"))
        .await
        .unwrap();
    assert!(config.tls.insecure_skip_verify);
    assert_eq!(config.auth.token_file, Some(fixture("token.txt")));
    assert!(config.auth.token.is_none());

    // ctx-c: CA data, exec plugin with the cluster's exec extension absent.
    let config = Config::from_kubeconfig(&files.clone().context("ctx-c"))
        .await
        .unwrap();
    assert_eq!(
        config.tls.root_certs_pem,
        vec![std::fs::read(fixture("certs/ca.pem")).unwrap()]
    );
    let exec = config.auth.exec.unwrap();
    assert_eq!(exec.args, vec!["get-token", "--fast"]);
    assert_eq!(exec.interactive_mode, Some(ExecInteractiveMode::Never));
    assert!(exec.provide_cluster_info);
    assert_eq!(exec.cluster_config, None);

    // v1beta1 plugins default to IfAvailable.
    let config = Config::from_kubeconfig(&files.clone().context("ctx-path-plugin"))
        .await
        .unwrap();
    assert_eq!(
        config.auth.exec.unwrap().interactive_mode,
        Some(ExecInteractiveMode::IfAvailable)
    );

    // Basic auth; client certificate data.
    let config = Config::from_kubeconfig(&files.clone().context("ctx-basic"))
        .await
        .unwrap();
    let (user, password) = config.auth.basic.clone().unwrap();
    assert_eq!(
        (user.as_str(), password.expose().as_str()),
        ("alice", "basic-password")
    );
    let config = Config::from_kubeconfig(&files.clone().context("ctx-data"))
        .await
        .unwrap();
    let cert = config.auth.client_cert.unwrap();
    assert_eq!(
        cert.cert,
        DataSource::Data(Secret::new(
            std::fs::read(fixture("certs/client.crt")).unwrap()
        ))
    );
    assert_eq!(
        cert.key,
        DataSource::Data(Secret::new(
            std::fs::read(fixture("certs/client.key")).unwrap()
        ))
    );
}

#[tokio::test]
async fn exec_gets_the_clusters_exec_extension() {
    // user-c's plugin against cluster only-a, which has the extension.
    let config = Config::from_kubeconfig(
        &with_files(&["a.yaml", "sub/c.yaml"])
            .context("ctx-c")
            .cluster("only-a"),
    )
    .await
    .unwrap();
    let exec = config.auth.exec.unwrap();
    assert_eq!(
        exec.cluster_config,
        Some(serde_json::json!({"audience": "only-a"}))
    );
}

#[tokio::test]
async fn every_override() {
    let files = with_files(&["a.yaml", "b.yaml", "sub/c.yaml"]);
    let options = files
        .clone()
        .context("shared-ctx")
        .cluster("shared")
        .user("user-b")
        .namespace("override-ns");
    let config = Config::from_kubeconfig(&options).await.unwrap();
    assert_eq!(config.cluster_url, "https://a.example:6443/");
    assert_eq!(config.auth.token_file, Some(fixture("token.txt")));
    assert_eq!(config.default_namespace, "override-ns");
    assert!(
        config.origin.ends_with("context shared-ctx"),
        "{}",
        config.origin
    );

    // server: replaces the cluster's and drops its tls-server-name.
    let config = Config::from_kubeconfig(
        &files
            .clone()
            .context("shared-ctx")
            .server("https://10.1.2.3:7443"),
    )
    .await
    .unwrap();
    assert_eq!(config.cluster_url, "https://10.1.2.3:7443/");
    assert_eq!(config.tls.server_name, None);
    // ...unless given too.
    let config = Config::from_kubeconfig(
        &files
            .clone()
            .context("shared-ctx")
            .server("10.1.2.3:7443")
            .tls_server_name("kubernetes"),
    )
    .await
    .unwrap();
    assert_eq!(config.cluster_url, "https://10.1.2.3:7443/");
    assert_eq!(config.tls.server_name.as_deref(), Some("kubernetes"));

    // token: replaces the token file, keeps the client certificate.
    let config = Config::from_kubeconfig(
        &files
            .clone()
            .context("shared-ctx")
            .user("user-a")
            .token("override-token"),
    )
    .await
    .unwrap();
    assert_eq!(
        config.auth.token.as_ref().unwrap().expose(),
        "override-token"
    );
    assert!(config.auth.token_file.is_none() && config.auth.client_cert.is_some());
    let config = Config::from_kubeconfig(&files.clone().context("ctx-b").token("override-token"))
        .await
        .unwrap();
    assert!(config.auth.token_file.is_none());

    // impersonate: replaces the kubeconfig's `as`.
    let imp = Impersonation::new("other").group("g");
    let config =
        Config::from_kubeconfig(&files.clone().context("shared-ctx").impersonate(imp.clone()))
            .await
            .unwrap();
    assert_eq!(config.impersonate, Some(imp));

    // timeout, proxy, insecure (which drops the CA).
    let config = Config::from_kubeconfig(
        &files
            .clone()
            .timeout(Duration::from_secs(7))
            .proxy_url("socks5://127.0.0.1:1080")
            .insecure_skip_tls_verify(true),
    )
    .await
    .unwrap();
    assert_eq!(config.timeout, Some(Duration::from_secs(7)));
    assert_eq!(config.proxy_url.unwrap(), "socks5://127.0.0.1:1080/");
    assert!(config.tls.insecure_skip_verify);
    assert!(config.tls.root_certs_pem.is_empty());
    let config = Config::from_kubeconfig(
        &files
            .clone()
            .timeout(Duration::ZERO)
            .context("ctx-b")
            .insecure_skip_tls_verify(false),
    )
    .await
    .unwrap();
    assert_eq!(config.timeout, None);
    assert!(!config.tls.insecure_skip_verify);

    // Overridden names must exist.
    let err = config_err(
        Config::from_kubeconfig(&files.clone().cluster("no-such-cluster"))
            .await
            .unwrap_err(),
    );
    assert!(
        matches!(&err, ConfigError::NotFound { what: "cluster", name, .. } if name == "no-such-cluster"),
        "{err:?}"
    );
    let err = config_err(
        Config::from_kubeconfig(&files.clone().user("no-such-user"))
            .await
            .unwrap_err(),
    );
    assert!(err.to_string().contains("no-such-user"), "{err}");
    // Bad override values name the override.
    let err = config_err(
        Config::from_kubeconfig(&files.clone().proxy_url("ftp://proxy"))
            .await
            .unwrap_err(),
    );
    assert!(err.to_string().contains("proxy-url"), "{err}");
    // A proxy URL that does not parse keeps the URL parser's error as the source.
    let err = config_err(
        Config::from_kubeconfig(&files.clone().proxy_url("http://[not-closed:3128"))
            .await
            .unwrap_err(),
    );
    assert!(
        matches!(&err, ConfigError::InvalidField { field, .. } if field == "proxy-url"),
        "{err:?}"
    );
    let source = std::error::Error::source(&err).expect("the URL error is kept");
    assert!(source.is::<http::uri::InvalidUri>(), "{source:?}");
}

#[tokio::test]
async fn server_override_works_without_any_context() {
    let kc = Kubeconfig::from_yaml("apiVersion: v1\nkind: Config\n").unwrap();
    let err = config_err(
        Config::from_custom_kubeconfig(kc.clone(), &isolated())
            .await
            .unwrap_err(),
    );
    assert!(matches!(err, ConfigError::NoKubeconfig(_)), "{err:?}");
    let config =
        Config::from_custom_kubeconfig(kc, &isolated().server("https://127.0.0.1:6443").token("t"))
            .await
            .unwrap();
    assert_eq!(config.cluster_url, "https://127.0.0.1:6443/");
    assert_eq!(config.auth.token.unwrap().expose(), "t");
}

#[tokio::test]
async fn namespace_chain() {
    let files = with_files(&["a.yaml", "b.yaml"]);
    // 1. override
    let c = Config::from_kubeconfig(&files.clone().namespace("o"))
        .await
        .unwrap();
    assert_eq!(c.default_namespace, "o");
    // 2. context
    let c = Config::from_kubeconfig(&files).await.unwrap();
    assert_eq!(c.default_namespace, "ns-a");
    // 3. in-cluster namespace file (ctx-b sets no namespace)
    let dir = tempfile::tempdir().unwrap();
    let ns_file = dir.path().join("namespace");
    std::fs::write(&ns_file, "pod-ns\n").unwrap();
    let c = Config::from_kubeconfig(
        &files
            .clone()
            .context("ctx-b")
            .incluster_namespace_file(ns_file.clone()),
    )
    .await
    .unwrap();
    assert_eq!(c.default_namespace, "pod-ns");
    // 4. "default"
    let c = Config::from_kubeconfig(&files.clone().context("ctx-b"))
        .await
        .unwrap();
    assert_eq!(c.default_namespace, "default");
}

#[tokio::test]
async fn unknown_context_is_named() {
    let err = config_err(
        Config::from_kubeconfig(&with_files(&["a.yaml", "b.yaml"]).context("no-such-context"))
            .await
            .unwrap_err(),
    );
    assert!(
        matches!(&err, ConfigError::NotFound { what: "context", name, .. } if name == "no-such-context"),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("no-such-context") && msg.contains("a.yaml"),
        "{msg}"
    );
}

#[tokio::test]
async fn bad_yaml_names_file_and_line() {
    let err = config_err(
        Config::from_kubeconfig(&with_files(&["a.yaml", "bad-yaml.yaml"]))
            .await
            .unwrap_err(),
    );
    assert!(matches!(err, ConfigError::Parse { .. }), "{err:?}");
    let source = std::error::Error::source(&err).expect("the YAML error is kept");
    assert!(source.is::<serde_yaml_ng::Error>(), "{source:?}");
    let msg = err.to_string();
    assert!(msg.contains("bad-yaml.yaml"), "{msg}");
    assert!(msg.contains("line 7"), "{msg}");

    // Valid YAML of the wrong shape.
    let err = Kubeconfig::from_yaml("clusters:\n  name: not-a-list\n").unwrap_err();
    assert!(err.to_string().contains("line 2"), "{err}");
}

#[tokio::test]
async fn bad_base64_names_file_and_field() {
    let files = isolated().path(fixture("bad-base64.yaml"));
    let err = config_err(Config::from_kubeconfig(&files).await.unwrap_err());
    match &err {
        ConfigError::InvalidField { path, field, .. } => {
            assert_eq!(path, &fixture("bad-base64.yaml"));
            assert_eq!(field, "clusters[c].certificate-authority-data");
        }
        other => panic!("{other:?}"),
    }
    let source = std::error::Error::source(&err).expect("the base64 error is kept");
    assert!(source.is::<base64::DecodeError>(), "{source:?}");
    assert!(err.to_string().contains("base64"), "{err}");

    let err = config_err(
        Config::from_kubeconfig(&files.context("bad-cert").insecure_skip_tls_verify(true))
            .await
            .unwrap_err(),
    );
    let msg = err.to_string();
    assert!(
        msg.contains("bad-base64.yaml") && msg.contains("users[u].client-certificate-data"),
        "{msg}"
    );
}

#[tokio::test]
async fn missing_referenced_files_name_file_and_field() {
    let options = |context: &str| {
        isolated()
            .path(fixture("missing-files.yaml"))
            .context(context)
    };
    for (context, field, file) in [
        (
            "missing-ca",
            "clusters[c].certificate-authority",
            "does-not-exist/ca.pem",
        ),
        (
            "missing-cert",
            "users[u-cert].client-certificate",
            "nowhere/client.crt",
        ),
        (
            "missing-token-file",
            "users[u-token-file].tokenFile",
            "nowhere/token",
        ),
    ] {
        let err = config_err(
            Config::from_kubeconfig(&options(context))
                .await
                .unwrap_err(),
        );
        let msg = err.to_string();
        assert!(
            matches!(&err, ConfigError::InvalidField { field: f, .. } if f == field),
            "{context}: {err:?}"
        );
        assert!(msg.contains("missing-files.yaml"), "{msg}");
        assert!(msg.contains(file), "{msg}");
        let io = std::error::Error::source(&err)
            .and_then(|s| s.downcast_ref::<std::io::Error>())
            .unwrap_or_else(|| panic!("{context}: the I/O error is kept: {err:?}"));
        assert_eq!(io.kind(), std::io::ErrorKind::NotFound, "{context}");
    }
}

#[tokio::test]
async fn contradictions_and_unsupported_fields() {
    let cases = [
        (
            "users: [{name: u, user: {token: t, username: x, password: y}}]",
            "users[u].username",
            "more than one authentication method",
        ),
        (
            "users: [{name: u, user: {auth-provider: {name: gcp}}}]",
            "users[u].auth-provider",
            "not supported",
        ),
        (
            "users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: x}}}]",
            "users[u].exec.interactiveMode",
            "must be set",
        ),
        (
            "users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1alpha1, command: x}}}]",
            "users[u].exec.apiVersion",
            "not supported",
        ),
        (
            "users: [{name: u, user: {client-certificate-data: QQ==}}]",
            "users[u].client-key",
            "no client-key",
        ),
    ];
    for (users, field, text) in cases {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(
            &path,
            format!(
                "clusters: [{{name: c, cluster: {{server: 'https://x'}}}}]\n{users}\n\
                 contexts: [{{name: x, context: {{cluster: c, user: u}}}}]\ncurrent-context: x\n"
            ),
        )
        .unwrap();
        let err = config_err(
            Config::from_kubeconfig(&isolated().path(path.clone()))
                .await
                .unwrap_err(),
        );
        let msg = err.to_string();
        assert!(
            msg.contains(field) && msg.contains(text) && msg.contains(&*path.to_string_lossy()),
            "{field}: {msg}"
        );
    }
}

#[tokio::test]
async fn plain_http_servers_get_no_credentials() {
    let kc = Kubeconfig::from_yaml(
        "clusters: [{name: c, cluster: {server: 'http://127.0.0.1:8080'}}]\n\
         users: [{name: u, user: {token: t}}]\n\
         contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n",
    )
    .unwrap();
    let config = Config::from_custom_kubeconfig(kc, &isolated())
        .await
        .unwrap();
    assert_eq!(config.cluster_url, "http://127.0.0.1:8080/");
    assert!(config.auth.token.is_none());
}

#[tokio::test]
async fn credentials_stay_out_of_debug_output() {
    let files = with_files(&["a.yaml", "b.yaml", "sub/c.yaml"]);
    let kc = Kubeconfig::load(&files).await.unwrap();
    let mut shown = format!("{kc:?}");
    for context in ["ctx-a", "ctx-c", "ctx-basic", "ctx-data"] {
        let config = Config::from_kubeconfig(&files.clone().context(context))
            .await
            .unwrap();
        shown.push_str(&format!("{config:?} {:?}", config.auth));
    }
    let key_b64 = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .encode(std::fs::read(fixture("certs/client.key")).unwrap())
    };
    let key_pem = std::fs::read_to_string(fixture("certs/client.key")).unwrap();
    let key_body = key_pem.lines().nth(1).unwrap();
    for secret in [
        "token-from-a",
        "basic-password",
        "env-secret-value",
        &key_b64[..40],
        key_body,
    ] {
        assert!(!shown.contains(secret), "{secret} shows in Debug output");
    }
    // ... while the non-secret parts do show.
    assert!(shown.contains("alice") && shown.contains("a.example"));
}
