//! In-cluster configuration with injected paths, and `Config::infer`'s order and combined
//! error. No server needed.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use k8s_client::config::{Config, ConfigError, InClusterPaths, KubeConfigOptions};

struct FakePod {
    dir: tempfile::TempDir,
}

impl FakePod {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "sa-token\n").unwrap();
        std::fs::write(dir.path().join("ca.crt"), b"-----BEGIN CERTIFICATE-----\n").unwrap();
        std::fs::write(dir.path().join("namespace"), "pod-namespace").unwrap();
        FakePod { dir }
    }

    fn paths(&self) -> InClusterPaths {
        InClusterPaths::in_dir(self.dir.path()).service("10.96.0.1", "443")
    }
}

fn no_kubeconfig(dir: &Path) -> KubeConfigOptions {
    KubeConfigOptions::default()
        .kubeconfig_env(OsString::new())
        .home_dir(dir.join("home"))
        .incluster_namespace_file(dir.join("no-namespace"))
}

#[test]
fn incluster_with_injected_paths() {
    let pod = FakePod::new();
    let config = Config::incluster_with(&pod.paths()).unwrap();
    assert_eq!(config.cluster_url, "https://10.96.0.1:443/");
    assert_eq!(config.default_namespace, "pod-namespace");
    assert_eq!(config.auth.token_file, Some(pod.dir.path().join("token")));
    assert_eq!(
        config.tls.root_certs_pem,
        vec![b"-----BEGIN CERTIFICATE-----\n".to_vec()]
    );
    assert!(config.origin.starts_with("in-cluster"), "{}", config.origin);

    // No namespace file: "default". No CA file: the platform roots (as client-go).
    std::fs::remove_file(pod.dir.path().join("namespace")).unwrap();
    std::fs::remove_file(pod.dir.path().join("ca.crt")).unwrap();
    let config = Config::incluster_with(&pod.paths()).unwrap();
    assert_eq!(config.default_namespace, "default");
    assert!(config.tls.root_certs_pem.is_empty());
}

#[test]
fn not_in_cluster() {
    let pod = FakePod::new();
    for (host, port) in [(None, Some("443")), (Some("10.0.0.1"), None), (None, None)] {
        let paths = {
            let mut paths = pod.paths();
            paths.service_host = host.map(String::from);
            paths.service_port = port.map(String::from);
            paths
        };
        let err = Config::incluster_with(&paths).unwrap_err();
        assert!(matches!(err, ConfigError::NotInCluster(_)), "{err:?}");
        assert!(err.to_string().contains("KUBERNETES_SERVICE_HOST"), "{err}");
    }
    // In a cluster by the environment, but the token is missing: that is named.
    let paths = {
        let mut paths = pod.paths();
        paths.token_file = PathBuf::from("/nonexistent/token");
        paths
    };
    let err = Config::incluster_with(&paths).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/token"), "{err}");
    // A bad port.
    let paths = {
        let mut paths = pod.paths();
        paths.service_port = Some("https".into());
        paths
    };
    let err = Config::incluster_with(&paths).unwrap_err();
    assert!(err.to_string().contains("KUBERNETES_SERVICE_PORT"), "{err}");
}

#[tokio::test]
async fn infer_prefers_kubeconfig_then_incluster() {
    let pod = FakePod::new();
    let tmp = tempfile::tempdir().unwrap();
    // No kubeconfig: in-cluster, with the overrides applied.
    let options = no_kubeconfig(tmp.path())
        .namespace("ns-override")
        .token("override");
    let config = Config::infer_with(&options, &pod.paths()).await.unwrap();
    assert_eq!(config.cluster_url, "https://10.96.0.1:443/");
    assert_eq!(config.default_namespace, "ns-override");
    assert_eq!(config.auth.token.unwrap().expose(), "override");
    assert!(config.auth.token_file.is_none());

    // A kubeconfig: it wins.
    let kc = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kubeconfig/a.yaml");
    let options = no_kubeconfig(tmp.path()).kubeconfig_env(kc.clone().into_os_string());
    let config = Config::infer_with(&options, &pod.paths()).await.unwrap();
    assert_eq!(config.cluster_url, "https://a.example:6443/");

    // A broken kubeconfig is an error, not a silent fall-back.
    let broken =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kubeconfig/bad-yaml.yaml");
    let options = no_kubeconfig(tmp.path()).kubeconfig_env(broken.into_os_string());
    let err = Config::infer_with(&options, &pod.paths())
        .await
        .unwrap_err();
    assert!(matches!(err, ConfigError::Parse { .. }), "{err:?}");
}

#[tokio::test]
async fn infer_says_what_each_attempt_found() {
    let tmp = tempfile::tempdir().unwrap();
    let err = Config::infer_with(&no_kubeconfig(tmp.path()), &InClusterPaths::default())
        .await
        .unwrap_err();
    let ConfigError::NoConfig {
        kubeconfig,
        incluster,
    } = &err
    else {
        panic!("expected NoConfig, got {err:?}");
    };
    assert!(kubeconfig.contains(".kube"), "{kubeconfig}");
    assert!(incluster.contains("KUBERNETES_SERVICE_HOST"), "{incluster}");
    let msg = err.to_string();
    assert!(
        msg.contains("kubeconfig") && msg.contains("in-cluster"),
        "{msg}"
    );
}
