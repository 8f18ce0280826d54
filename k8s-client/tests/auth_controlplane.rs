//! Credentials against the real control plane: static tokens, token file rotation, client
//! certificates from files and data, exec plugins (token, certificate, failures,
//! re-run after 401), and no credentials in Debug output. Each test checks who the server
//! thinks we are with a SelfSubjectReview.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_client::auth::Authenticator;
use k8s_client::client::{Body, BoxService, ClientBuilder};
use k8s_client::config::Secret;
use k8s_client::config::{
    AuthConfig, ClientCertConfig, Config, ExecConfig, ExecInteractiveMode, Kubeconfig,
};
use k8s_client::Client;
use k8s_client_testsupport as ts;
use tower::ServiceExt;

/// The test kubeconfig as a file model.
fn test_kubeconfig() -> Kubeconfig {
    Kubeconfig::read_from(ts::kubeconfig_path()).unwrap()
}

/// The bearer token of a user of the test kubeconfig.
fn token_of(user: &str) -> String {
    let kc = test_kubeconfig();
    let auth = &kc
        .auth_info(user)
        .unwrap_or_else(|| panic!("user {user} not in the test kubeconfig"))
        .auth_info;
    auth.token
        .as_ref()
        .unwrap_or_else(|| panic!("user {user} has no token"))
        .expose()
        .clone()
}

/// The client certificate and key files of the `admin` user.
fn admin_cert_files() -> (PathBuf, PathBuf) {
    let kc = test_kubeconfig();
    let auth = &kc.auth_info("admin").unwrap().auth_info;
    (
        auth.client_certificate.clone().unwrap(),
        auth.client_key.clone().unwrap(),
    )
}

/// The test cluster's config with no credentials at all.
async fn anonymous_config() -> Config {
    let mut config = ts::config("admin-token").await;
    config.auth = AuthConfig::default();
    config
}

/// Who the server says we are.
async fn whoami(client: &Client) -> Result<String, k8s_client::Error> {
    let body = serde_json::to_vec(&serde_json::json!({
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "SelfSubjectReview",
    }))
    .unwrap();
    let request = http::Request::post("/apis/authentication.k8s.io/v1/selfsubjectreviews")
        .header("content-type", "application/json")
        .body(body)
        .unwrap();
    let review: serde_json::Value = client.request(request).await?;
    Ok(review["status"]["userInfo"]["username"]
        .as_str()
        .unwrap_or_else(|| panic!("no username in {review}"))
        .to_string())
}

/// A shell script in `dir` run through /bin/sh, as an exec plugin.
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

/// Writes an ExecCredential to a file and returns a script body printing it.
fn print_credential(dir: &Path, name: &str, status: serde_json::Value) -> String {
    let file = dir.join(name);
    let cred = serde_json::json!({
        "apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "status": status,
    });
    std::fs::write(&file, cred.to_string()).unwrap();
    format!("cat '{}'", file.display())
}

async fn exec_client(exec: ExecConfig) -> Client {
    let mut config = anonymous_config().await;
    config.auth.exec = Some(exec);
    Client::try_from(config).unwrap()
}

#[tokio::test]
async fn token_from_kubeconfig() {
    let client = Client::try_from(ts::config("admin-token").await).unwrap();
    assert_eq!(whoami(&client).await.unwrap(), "admin-token");
    let client = Client::try_from(ts::config("restricted").await).unwrap();
    assert_eq!(whoami(&client).await.unwrap(), "restricted");

    // A token the server does not know: 401, and not retried (a static token cannot be
    // refreshed): one attempt.
    let mut config = anonymous_config().await;
    config.auth.token = Some(Secret::new("not-a-valid-token".into()));
    let (client, attempts) = recording_client(config);
    let err = whoami(&client).await.unwrap_err();
    assert!(err.is_unauthorized(), "{err:?}");
    assert_eq!(err.api().map(|e| e.code), Some(401));
    assert_eq!(
        *attempts.lock().unwrap(),
        [(bearer("not-a-valid-token"), 401)]
    );
}

/// Every attempt the transport sends: its `Authorization` header and the status it got.
type Attempts = Arc<Mutex<Vec<(String, u16)>>>;

/// A client for `config` that records each attempt under its layers (after credentials
/// were added, before the 401 handling sees the answer).
fn recording_client(config: Config) -> (Client, Attempts) {
    let attempts: Attempts = Arc::default();
    let log = attempts.clone();
    let layer = tower::layer::layer_fn(move |inner: BoxService| {
        let log = log.clone();
        tower::service_fn(move |request: http::Request<Body>| {
            let (log, inner) = (log.clone(), inner.clone());
            async move {
                let auth = request
                    .headers()
                    .get(http::header::AUTHORIZATION)
                    .map(|v| v.to_str().unwrap_or("<not text>").to_string())
                    .unwrap_or_default();
                let response = inner.oneshot(request).await?;
                log.lock().unwrap().push((auth, response.status().as_u16()));
                Ok::<_, k8s_client::Error>(response)
            }
        })
    });
    let client = ClientBuilder::new(config)
        .transport_layer(layer)
        .build()
        .unwrap();
    (client, attempts)
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

// The clock is paused only around `advance`: the re-read period is measured on tokio's clock,
// so the test skips the minute instead of sleeping through it.
#[tokio::test(flavor = "current_thread")]
async fn token_file_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, format!("{}\n", token_of("admin-token"))).unwrap();
    let mut config = anonymous_config().await;
    config.auth.token_file = Some(file.clone());
    let (client, attempts) = recording_client(config);
    assert_eq!(whoami(&client).await.unwrap(), "admin-token");

    // Rotate. The old token stays valid, so no 401 forces a re-read: the file is read
    // again once the re-read period (one minute, as client-go) has passed.
    std::fs::write(&file, token_of("admin-token-2")).unwrap();
    assert_eq!(
        whoami(&client).await.unwrap(),
        "admin-token",
        "cached within the period"
    );
    tokio::time::pause();
    tokio::time::advance(k8s_client::auth::TOKEN_FILE_REFRESH - Duration::from_secs(1)).await;
    tokio::time::resume();
    assert_eq!(
        whoami(&client).await.unwrap(),
        "admin-token",
        "cached until the period has passed"
    );
    tokio::time::pause();
    tokio::time::advance(Duration::from_secs(2)).await;
    tokio::time::resume();
    assert_eq!(whoami(&client).await.unwrap(), "admin-token-2");
    let old = bearer(&token_of("admin-token"));
    let new = bearer(&token_of("admin-token-2"));
    assert_eq!(
        *attempts.lock().unwrap(),
        [
            (old.clone(), 201),
            (old.clone(), 201),
            (old, 201),
            (new, 201)
        ]
    );
}

#[tokio::test]
async fn token_file_is_reread_after_401() {
    // The file holds the right token, but the client starts with a wrong one given beside
    // it: the first attempt carries the stale token and gets 401, the file is re-read at
    // once, and the retry carries the file's token. Two attempts, in that order.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, token_of("admin-token")).unwrap();
    let mut config = anonymous_config().await;
    config.auth.token = Some(Secret::new("stale-token".into()));
    config.auth.token_file = Some(file);
    let (client, attempts) = recording_client(config);
    assert_eq!(whoami(&client).await.unwrap(), "admin-token");
    assert_eq!(
        *attempts.lock().unwrap(),
        [
            (bearer("stale-token"), 401),
            (bearer(&token_of("admin-token")), 201)
        ]
    );
}

#[tokio::test]
async fn client_certificate_from_files() {
    let (cert, key) = admin_cert_files();
    let mut config = anonymous_config().await;
    config.auth.client_cert = Some(ClientCertConfig::from_files(cert, key));
    let client = Client::try_from(config).unwrap();
    assert_eq!(whoami(&client).await.unwrap(), "admin");
    // The `admin` context of the kubeconfig is the same thing.
    let client = Client::try_from(ts::config("admin").await).unwrap();
    assert_eq!(whoami(&client).await.unwrap(), "admin");
}

#[tokio::test]
async fn client_certificate_from_data() {
    let (cert, key) = admin_cert_files();
    let mut config = anonymous_config().await;
    config.auth.client_cert = Some(ClientCertConfig::from_pem(
        std::fs::read(cert).unwrap(),
        std::fs::read(key).unwrap(),
    ));
    let client = Client::try_from(config).unwrap();
    assert_eq!(whoami(&client).await.unwrap(), "admin");
}

#[tokio::test]
async fn exec_plugin_token() {
    let dir = tempfile::tempdir().unwrap();
    let body = print_credential(
        dir.path(),
        "cred.json",
        serde_json::json!({"token": token_of("admin-token")}),
    );
    let client = exec_client(plugin(dir.path(), "token.sh", &body)).await;
    assert_eq!(whoami(&client).await.unwrap(), "admin-token");
}

#[tokio::test]
async fn exec_plugin_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = admin_cert_files();
    let body = print_credential(
        dir.path(),
        "cred.json",
        serde_json::json!({
            "clientCertificateData": std::fs::read_to_string(cert).unwrap(),
            "clientKeyData": std::fs::read_to_string(key).unwrap(),
        }),
    );
    let client = exec_client(plugin(dir.path(), "cert.sh", &body)).await;
    assert_eq!(whoami(&client).await.unwrap(), "admin");
}

/// A failing plugin (exit code, garbage output) fails the request with `Error::Auth` before
/// anything is sent. (What the error says is tested in auth_local.rs.)
#[tokio::test]
async fn exec_plugin_failures_send_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for (name, body) in [
        ("fail.sh", "echo 'session expired' >&2\nexit 3"),
        ("garbage.sh", "echo '<html>oops</html>'"),
    ] {
        let mut config = anonymous_config().await;
        config.auth.exec = Some(plugin(dir.path(), name, body));
        let (client, attempts) = recording_client(config);
        let err = whoami(&client).await.unwrap_err();
        assert!(matches!(err, k8s_client::Error::Auth(_)), "{name}: {err:?}");
        assert!(attempts.lock().unwrap().is_empty(), "{name}: sent anyway");
    }
}

#[tokio::test]
async fn exec_plugin_rerun_after_401() {
    // First run: a token the server rejects (as an expired one would be); later runs: a
    // good one. The client sees 401, drops the credential, runs the plugin again, retries.
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let bad = print_credential(
        dir.path(),
        "bad.json",
        serde_json::json!({"token": "expired-token"}),
    );
    let good = print_credential(
        dir.path(),
        "good.json",
        serde_json::json!({"token": token_of("admin-token-2")}),
    );
    let body = format!(
        "echo run >> '{runs}'\nif [ \"$(wc -l < '{runs}')\" -le 1 ]; then {bad}; else {good}; fi",
        runs = runs.display()
    );
    let client = exec_client(plugin(dir.path(), "rotating.sh", &body)).await;
    assert_eq!(whoami(&client).await.unwrap(), "admin-token-2");
    let count = std::fs::read_to_string(&runs).unwrap().lines().count();
    assert_eq!(count, 2, "the plugin ran once more after the 401");
    // The good credential is cached now.
    assert_eq!(whoami(&client).await.unwrap(), "admin-token-2");
    assert_eq!(std::fs::read_to_string(&runs).unwrap().lines().count(), 2);
}

#[tokio::test]
async fn credentials_stay_out_of_debug_output() {
    let (_, key_file) = admin_cert_files();
    let key_pem = std::fs::read_to_string(&key_file).unwrap();
    let key_line = key_pem.lines().nth(1).unwrap().to_string();
    let secrets = [token_of("admin-token"), token_of("admin-token-2"), key_line];

    let mut shown = String::new();
    for context in ["admin", "admin-token", "admin-token-2"] {
        let config = ts::config(context).await;
        let auth = Authenticator::new(&config).unwrap();
        auth.prepare().await.unwrap();
        let client = Client::try_from(config.clone()).unwrap();
        whoami(&client).await.unwrap();
        shown.push_str(&format!(
            "{config:?}\n{:?}\n{auth:?}\n{client:?}\n{:#?}\n",
            config.auth, config
        ));
    }
    let (cert, key) = admin_cert_files();
    let mut config = anonymous_config().await;
    config.auth.client_cert = Some(ClientCertConfig::from_pem(
        std::fs::read(cert).unwrap(),
        std::fs::read(key).unwrap(),
    ));
    let client = Client::try_from(config.clone()).unwrap();
    shown.push_str(&format!("{config:?} {client:?}"));
    for secret in &secrets {
        assert!(
            !shown.contains(secret.as_str()),
            "a credential shows in Debug output"
        );
    }
    assert!(
        shown.contains("127.0.0.1"),
        "the Debug output is not empty: {shown}"
    );
}
