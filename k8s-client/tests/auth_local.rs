//! The Authenticator on its own (no server): headers, token file re-reads, exec plugin
//! caching, expiry, single flight, failures, the exec info it passes, client certificates.
//! The same features against the real control plane are in auth_controlplane.rs.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use k8s_client::auth::{AuthError, Authenticator};
use k8s_client::config::Secret;
use k8s_client::config::{ClientCertConfig, Config, ExecConfig, ExecEnvVar, ExecInteractiveMode};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/kubeconfig")
        .join(name)
}

fn config() -> Config {
    Config::new("https://127.0.0.1:6443".parse().unwrap())
}

/// A shell script in `dir`, run through /bin/sh (no exec of a file just written).
fn plugin(dir: &Path, name: &str, body: &str) -> ExecConfig {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    ExecConfig {
        api_version: Some("client.authentication.k8s.io/v1".into()),
        command: "/bin/sh".into(),
        args: vec![path.to_string_lossy().into_owned()],
        interactive_mode: Some(ExecInteractiveMode::Never),
        ..ExecConfig::default()
    }
}

/// A script body that counts its runs in `<dir>/runs` and prints a v1 credential.
fn counting_token_script(dir: &Path, token: &str, expiry: Option<&str>) -> String {
    let runs = dir.join("runs");
    let expiry = expiry
        .map(|e| format!(r#","expirationTimestamp":"{e}""#))
        .unwrap_or_default();
    format!(
        r#"echo run >> '{}'
cat <<EOF
{{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{{"token":"{token}"{expiry}}}}}
EOF"#,
        runs.display()
    )
}

fn runs(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("runs"))
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

fn exec_config(exec: ExecConfig) -> Config {
    let mut c = config();
    c.auth.exec = Some(exec);
    c
}

fn exec_error(e: AuthError) -> String {
    match e {
        AuthError::Exec { .. } => e.to_string(),
        other => panic!("expected an exec error, got {other:?}"),
    }
}

#[tokio::test]
async fn static_token_and_basic_auth() {
    let mut c = config();
    c.auth.token = Some(Secret::new("tok-abc".into()));
    let auth = Authenticator::new(&c).unwrap();
    let h = auth.prepare().await.unwrap().unwrap();
    assert_eq!(h, "Bearer tok-abc");
    assert!(h.is_sensitive());
    assert!(!auth.invalidate(), "a static token cannot change");
    assert!(auth.client_cert_resolver().is_none());
    assert!(!format!("{auth:?}").contains("tok-abc"));

    let mut c = config();
    c.auth.basic = Some(("alice".into(), Secret::new("pw:1".into())));
    let auth = Authenticator::new(&c).unwrap();
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("alice:pw:1")
    );
    assert_eq!(auth.prepare().await.unwrap().unwrap(), expected.as_str());
    assert!(!format!("{auth:?}").contains("pw:1"));

    c.auth.token = Some(Secret::new("t".into()));
    let err = Authenticator::new(&c).unwrap_err();
    assert!(err.to_string().contains("basic auth"), "{err}");

    let auth = Authenticator::new(&config()).unwrap();
    assert_eq!(auth.prepare().await.unwrap(), None);

    let mut c = config();
    c.auth.token = Some(Secret::new("bad\ntoken".into()));
    let err = Authenticator::new(&c).unwrap_err();
    assert!(!err.to_string().contains("bad\ntoken"), "{err}");
}

#[tokio::test]
async fn token_file_is_cached_and_reread_after_invalidate() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "first\n").unwrap();
    let mut c = config();
    c.auth.token_file = Some(file.clone());
    let auth = Authenticator::new(&c).unwrap();
    assert_eq!(auth.prepare().await.unwrap().unwrap(), "Bearer first");

    std::fs::write(&file, "second").unwrap();
    // Within the re-read period the cached token is used...
    assert_eq!(auth.prepare().await.unwrap().unwrap(), "Bearer first");
    // ...until a 401 says it is stale.
    assert!(auth.invalidate());
    assert_eq!(auth.prepare().await.unwrap().unwrap(), "Bearer second");

    // A failing re-read keeps the last good token.
    std::fs::remove_file(&file).unwrap();
    auth.invalidate();
    assert_eq!(auth.prepare().await.unwrap().unwrap(), "Bearer second");

    // With no good token yet, the error names the file.
    let auth = Authenticator::new(&c).unwrap();
    let err = auth.prepare().await.unwrap_err();
    assert!(err.to_string().contains(&*file.to_string_lossy()), "{err}");
    std::fs::write(&file, "  \n").unwrap();
    let err = auth.prepare().await.unwrap_err();
    assert!(err.to_string().contains("empty"), "{err}");
}

#[tokio::test]
async fn exec_credential_is_cached_until_invalidated() {
    let dir = tempfile::tempdir().unwrap();
    let exec = plugin(
        dir.path(),
        "p.sh",
        &counting_token_script(dir.path(), "exec-tok", None),
    );
    let auth = Authenticator::new(&exec_config(exec)).unwrap();
    for _ in 0..3 {
        assert_eq!(auth.prepare().await.unwrap().unwrap(), "Bearer exec-tok");
    }
    assert_eq!(runs(dir.path()), 1);
    assert!(auth.invalidate());
    assert_eq!(auth.prepare().await.unwrap().unwrap(), "Bearer exec-tok");
    assert_eq!(runs(dir.path()), 2);
    assert!(!format!("{auth:?}").contains("exec-tok"));
}

#[tokio::test]
async fn exec_credential_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let past = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(60);
    let exec = plugin(
        dir.path(),
        "p.sh",
        &counting_token_script(dir.path(), "old", Some(&past.to_string())),
    );
    let auth = Authenticator::new(&exec_config(exec)).unwrap();
    auth.prepare().await.unwrap();
    auth.prepare().await.unwrap();
    assert_eq!(
        runs(dir.path()),
        2,
        "an expired credential is fetched again"
    );

    // Valid (an hour ahead): cached.
    let dir = tempfile::tempdir().unwrap();
    let later = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1);
    let exec = plugin(
        dir.path(),
        "p.sh",
        &counting_token_script(dir.path(), "lasting", Some(&later.to_string())),
    );
    let auth = Authenticator::new(&exec_config(exec)).unwrap();
    auth.prepare().await.unwrap();
    auth.prepare().await.unwrap();
    assert_eq!(runs(dir.path()), 1, "a valid credential is cached");

    // Valid for one second from the plugin's run (it writes the time it gave), then expired:
    // once that instant has passed, the next request runs the plugin again. No race: the
    // test waits for the very instant the plugin chose.
    let dir = tempfile::tempdir().unwrap();
    let expiry_file = dir.path().join("expiry");
    let body = format!(
        r#"echo run >> '{runs}'
exp=$(date -u -d '+1 second' +%Y-%m-%dT%H:%M:%S.%NZ)
echo "$exp" > '{expiry}'
cat <<EOF
{{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{{"token":"brief","expirationTimestamp":"$exp"}}}}
EOF"#,
        runs = dir.path().join("runs").display(),
        expiry = expiry_file.display()
    );
    let auth = Authenticator::new(&exec_config(plugin(dir.path(), "p.sh", &body))).unwrap();
    auth.prepare().await.unwrap();
    assert_eq!(runs(dir.path()), 1);
    let expiry: jiff::Timestamp = std::fs::read_to_string(&expiry_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let left = expiry.duration_since(jiff::Timestamp::now());
    if left.is_positive() {
        tokio::time::sleep(left.unsigned_abs() + Duration::from_millis(10)).await;
    }
    auth.prepare().await.unwrap();
    assert_eq!(
        runs(dir.path()),
        2,
        "an expired credential is fetched again"
    );

    let exec = plugin(
        dir.path(),
        "bad-time.sh",
        &counting_token_script(dir.path(), "x", Some("tomorrow")),
    );
    let err = Authenticator::new(&exec_config(exec))
        .unwrap()
        .prepare()
        .await
        .unwrap_err();
    assert!(exec_error(err).contains("expirationTimestamp"));
}

#[tokio::test]
async fn exec_runs_once_for_concurrent_callers() {
    let dir = tempfile::tempdir().unwrap();
    let body = format!(
        "sleep 0.5\n{}",
        counting_token_script(dir.path(), "shared", None)
    );
    let exec = plugin(dir.path(), "slow.sh", &body);
    let auth = Arc::new(Authenticator::new(&exec_config(exec)).unwrap());
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let auth = auth.clone();
            tokio::spawn(async move { auth.prepare().await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().unwrap(), "Bearer shared");
    }
    assert_eq!(runs(dir.path()), 1);
}

#[tokio::test]
async fn exec_failures_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let fail = plugin(
        dir.path(),
        "fail.sh",
        "echo 'login expired: run plugin login' >&2\nexit 3",
    );
    let err = Authenticator::new(&exec_config(fail))
        .unwrap()
        .prepare()
        .await
        .unwrap_err();
    let msg = exec_error(err);
    assert!(msg.contains("exit code 3"), "{msg}");
    assert!(msg.contains("login expired: run plugin login"), "{msg}");

    let garbage = plugin(dir.path(), "garbage.sh", "echo 'hello, I am not JSON'");
    let err = Authenticator::new(&exec_config(garbage))
        .unwrap()
        .prepare()
        .await
        .unwrap_err();
    // The JSON parser's error is the source (it names a position, never content).
    let source = std::error::Error::source(&err).expect("the serde error is kept");
    assert!(source.is::<serde_json::Error>(), "{source:?}");
    assert!(exec_error(err).contains("not an ExecCredential"));

    let other_kind = plugin(
        dir.path(),
        "kind.sh",
        r#"echo '{"apiVersion":"v1","kind":"Secret","data":{"token":"leak-me"}}'"#,
    );
    let err = Authenticator::new(&exec_config(other_kind))
        .unwrap()
        .prepare()
        .await
        .unwrap_err();
    let msg = exec_error(err);
    assert!(
        msg.contains("not an ExecCredential") && !msg.contains("leak-me"),
        "{msg}"
    );

    let wrong_type = plugin(
        dir.path(),
        "type.sh",
        r#"echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":12345678}}'"#,
    );
    let err = Authenticator::new(&exec_config(wrong_type))
        .unwrap()
        .prepare()
        .await
        .unwrap_err();
    // The type error could quote the token: it is not kept, in text or as a source.
    assert!(std::error::Error::source(&err).is_none(), "{err:?}");
    assert!(!format!("{err:?}").contains("12345678"));
    assert!(!exec_error(err).contains("12345678"));

    let version = plugin(
        dir.path(),
        "version.sh",
        r#"echo '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"t"}}'"#,
    );
    let err = Authenticator::new(&exec_config(version))
        .unwrap()
        .prepare()
        .await
        .unwrap_err();
    assert!(exec_error(err).contains("v1beta1"));

    let empty = plugin(
        dir.path(),
        "empty.sh",
        r#"echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{}}'"#,
    );
    let err = Authenticator::new(&exec_config(empty))
        .unwrap()
        .prepare()
        .await
        .unwrap_err();
    assert!(exec_error(err).contains("neither a token nor a client certificate"));

    let missing = ExecConfig {
        command: "k8s-client-test-no-such-plugin".into(),
        install_hint: Some("Install it with: pkg install no-such-plugin".into()),
        ..plugin(dir.path(), "unused.sh", "")
    };
    let err = Authenticator::new(&exec_config(missing))
        .unwrap()
        .prepare()
        .await
        .unwrap_err();
    let io = std::error::Error::source(&err)
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .expect("the I/O error of starting the plugin is kept");
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
    let msg = exec_error(err);
    assert!(msg.contains("not found"), "{msg}");
    assert!(msg.contains("pkg install no-such-plugin"), "{msg}");

    // Configs made by hand are checked too.
    let no_mode = ExecConfig {
        interactive_mode: None,
        ..plugin(dir.path(), "x.sh", "")
    };
    assert!(Authenticator::new(&exec_config(no_mode)).is_err());
}

#[tokio::test]
async fn exec_info_env_and_interactive_modes() {
    let dir = tempfile::tempdir().unwrap();
    let info_file = dir.path().join("info.json");
    let body = format!(
        r#"printf '%s' "$KUBERNETES_EXEC_INFO" > '{}'
echo "{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"$PLUGIN_SECRET\"}}}}""#,
        info_file.display()
    );
    let mut exec = plugin(dir.path(), "info.sh", &body);
    exec.provide_cluster_info = true;
    exec.env = vec![ExecEnvVar {
        name: "PLUGIN_SECRET".into(),
        value: "from-env".into(),
    }];
    exec.cluster_config = Some(serde_json::json!({"audience": "test"}));
    let mut c = exec_config(exec.clone());
    c.tls.root_certs_pem = vec![b"CA-PEM".to_vec()];
    c.tls.server_name = Some("kubernetes".into());
    c.proxy_url = Some("http://proxy:3128".parse().unwrap());
    let auth = Authenticator::new(&c).unwrap();
    assert_eq!(auth.prepare().await.unwrap().unwrap(), "Bearer from-env");
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&info_file).unwrap()).unwrap();
    assert_eq!(info["apiVersion"], "client.authentication.k8s.io/v1");
    assert_eq!(info["kind"], "ExecCredential");
    assert_eq!(info["spec"]["interactive"], false);
    let cluster = &info["spec"]["cluster"];
    assert_eq!(cluster["server"], "https://127.0.0.1:6443");
    assert_eq!(cluster["tls-server-name"], "kubernetes");
    assert_eq!(cluster["proxy-url"], "http://proxy:3128/");
    assert_eq!(cluster["config"]["audience"], "test");
    let ca = base64::engine::general_purpose::STANDARD
        .decode(cluster["certificate-authority-data"].as_str().unwrap())
        .unwrap();
    assert_eq!(ca, b"CA-PEM\n");

    // Without provideClusterInfo: no spec.cluster. v1beta1 works the same.
    exec.provide_cluster_info = false;
    exec.api_version = Some("client.authentication.k8s.io/v1beta1".into());
    let body = body.replace("/v1\\\"", "/v1beta1\\\"");
    std::fs::write(Path::new(&exec.args[0]), format!("#!/bin/sh\n{body}\n")).unwrap();
    let auth = Authenticator::new(&exec_config(exec.clone())).unwrap();
    assert_eq!(auth.prepare().await.unwrap().unwrap(), "Bearer from-env");
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&info_file).unwrap()).unwrap();
    assert_eq!(info["apiVersion"], "client.authentication.k8s.io/v1beta1");
    assert!(info["spec"].get("cluster").is_none(), "{info}");

    // Always needs a terminal on stdin.
    exec.interactive_mode = Some(ExecInteractiveMode::Always);
    let result = Authenticator::new(&exec_config(exec))
        .unwrap()
        .prepare()
        .await;
    if std::io::stdin().is_terminal() {
        assert!(result.is_ok(), "{result:?}");
    } else {
        let msg = exec_error(result.unwrap_err());
        assert!(msg.contains("not a terminal"), "{msg}");
    }
}

#[tokio::test]
async fn exec_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let cert = std::fs::read_to_string(fixture("certs/client.crt")).unwrap();
    let key = std::fs::read_to_string(fixture("certs/client.key")).unwrap();
    let status = serde_json::json!({
        "apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "status": {"clientCertificateData": cert, "clientKeyData": key},
    });
    std::fs::write(dir.path().join("cred.json"), status.to_string()).unwrap();
    let exec = plugin(
        dir.path(),
        "cert.sh",
        &format!("cat '{}'", dir.path().join("cred.json").display()),
    );
    let auth = Authenticator::new(&exec_config(exec)).unwrap();
    let resolver = auth.client_cert_resolver().unwrap();
    assert!(
        resolver.resolve(&[], &[]).is_none(),
        "nothing before the plugin ran"
    );
    assert_eq!(
        auth.prepare().await.unwrap(),
        None,
        "no token, so no header"
    );
    let ck = resolver.resolve(&[], &[]).unwrap();
    assert_eq!(
        ck.cert[0].as_ref(),
        first_cert_der(&fixture("certs/client.crt"))
    );
    assert!(!format!("{auth:?} {resolver:?}").contains(key.lines().nth(1).unwrap()));
}

fn first_cert_der(path: &Path) -> Vec<u8> {
    let pem = std::fs::read(path).unwrap();
    let der = rustls_pemfile::certs(&mut &pem[..])
        .next()
        .unwrap()
        .unwrap()
        .to_vec();
    der
}

#[tokio::test]
async fn client_certificate_files_are_reread_when_they_change() {
    // Files are checked at most once a minute: the test moves the clock.
    tokio::time::pause();
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("tls.crt");
    let key = dir.path().join("tls.key");
    std::fs::copy(fixture("certs/client.crt"), &cert).unwrap();
    std::fs::copy(fixture("certs/client.key"), &key).unwrap();
    let mut c = config();
    c.auth.client_cert = Some(ClientCertConfig::from_files(cert.clone(), key.clone()));
    let auth = Authenticator::new(&c).unwrap();
    let resolver = auth.client_cert_resolver().unwrap();
    // A handshake before any prepare still finds the certificate.
    let ck = resolver.resolve(&[], &[]).unwrap();
    assert_eq!(
        ck.cert[0].as_ref(),
        first_cert_der(&fixture("certs/client.crt"))
    );
    assert_eq!(auth.prepare().await.unwrap(), None);
    let generation = auth.client_cert_generation();
    auth.prepare().await.unwrap();
    assert_eq!(
        auth.client_cert_generation(),
        generation,
        "unchanged files are not re-read"
    );

    // Rotate: the other pair (ca.pem is other.key's certificate), with a new mtime.
    std::fs::copy(fixture("certs/ca.pem"), &cert).unwrap();
    std::fs::copy(fixture("certs/other.key"), &key).unwrap();
    let later = SystemTime::now() + Duration::from_secs(5);
    for f in [&cert, &key] {
        std::fs::File::options()
            .write(true)
            .open(f)
            .unwrap()
            .set_modified(later)
            .unwrap();
    }
    auth.prepare().await.unwrap();
    assert_eq!(
        auth.client_cert_generation(),
        generation,
        "files are not checked again within a minute"
    );
    tokio::time::advance(Duration::from_secs(61)).await;
    auth.prepare().await.unwrap();
    assert_ne!(auth.client_cert_generation(), generation);
    let ck = resolver.resolve(&[], &[]).unwrap();
    assert_eq!(
        ck.cert[0].as_ref(),
        first_cert_der(&fixture("certs/ca.pem"))
    );

    // A key that does not belong to the certificate is refused, naming the source.
    std::fs::copy(fixture("certs/client.key"), &key).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&key)
        .unwrap()
        .set_modified(later + Duration::from_secs(5))
        .unwrap();
    // A 401 makes the next request check the files at once.
    auth.invalidate();
    let err = auth.prepare().await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("does not belong") && msg.contains("tls.crt"),
        "{msg}"
    );
}

#[tokio::test]
async fn client_certificate_data_is_checked_at_once() {
    let mut c = config();
    c.auth.client_cert = Some(ClientCertConfig::from_pem(
        std::fs::read(fixture("certs/client.crt")).unwrap(),
        std::fs::read(fixture("certs/client.key")).unwrap(),
    ));
    let auth = Authenticator::new(&c).unwrap();
    assert!(auth
        .client_cert_resolver()
        .unwrap()
        .resolve(&[], &[])
        .is_some());

    c.auth.client_cert = Some(ClientCertConfig::from_pem(
        b"not pem".to_vec(),
        b"secret-key-bytes".to_vec(),
    ));
    let err = Authenticator::new(&c).unwrap_err();
    assert!(matches!(err, AuthError::BadPem { .. }), "{err:?}");
    assert!(!err.to_string().contains("secret-key-bytes"));
    assert!(!format!("{err:?}").contains("secret-key-bytes"));

    // A key block rustls cannot use: rustls' error is the source, and no key bytes leak.
    let bad_key =
        b"-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END PRIVATE KEY-----\n";
    c.auth.client_cert = Some(ClientCertConfig::from_pem(
        std::fs::read(fixture("certs/client.crt")).unwrap(),
        bad_key.to_vec(),
    ));
    let err = Authenticator::new(&c).unwrap_err();
    assert!(matches!(err, AuthError::BadPem { .. }), "{err:?}");
    let source = std::error::Error::source(&err).expect("rustls' error is kept");
    assert!(source.is::<rustls::Error>(), "{source:?}");
    for shown in [err.to_string(), format!("{err:?}")] {
        assert!(
            !shown.contains("c2VjcmV0") && !shown.contains("secret-key-bytes"),
            "{shown}"
        );
    }
}
