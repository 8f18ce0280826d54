//! Every example runs against the test control plane, as a user would run it: the binary
//! `cargo test` built, with its usual arguments and a deadline, and checks on its output and
//! on the cluster afterwards. The examples that take kubectl's flags get `--kubeconfig` (and
//! no `$KUBECONFIG`, and a `$HOME` without `.kube/config`, so the flag is what counts); the
//! older ones get `KUBECONFIG`. A non-zero exit (or a missing binary) fails the test with
//! the example's output, unless the test expects the failure.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use k8s_client::api::{ListParams, PostParams};
use k8s_client::Api;
use k8s_client_testsupport as ts;
use serde_json::json;

/// Runs example `name` with `args` and returns its standard output.
async fn run(name: &str, args: &[&str], limit: Duration) -> String {
    let mut command = tokio::process::Command::new(ts::example(name));
    command
        .args(args)
        .env("KUBECONFIG", ts::kubeconfig_path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = command
        .spawn()
        .unwrap_or_else(|e| panic!("starting example {name}: {e}"));
    let output = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("example {name} {args:?} did not end within {limit:?}"))
        .unwrap_or_else(|e| panic!("waiting for example {name}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "example {name} {args:?} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
    stdout
}

/// How an example ended.
struct Ran {
    /// The exit code (`None`: killed by a signal).
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl std::fmt::Display for Ran {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs example `name` with exactly `args` and `env` (on top of an environment without
/// `KUBECONFIG`, the in-cluster variables, and with an empty `$HOME`), whatever its exit.
async fn output(name: &str, args: &[&str], env: &[(&str, OsString)], limit: Duration) -> Ran {
    let home = tempfile::tempdir().expect("a temporary HOME");
    let mut command = tokio::process::Command::new(ts::example(name));
    command
        .args(args)
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBERNETES_SERVICE_PORT")
        .env("HOME", home.path())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = command
        .spawn()
        .unwrap_or_else(|e| panic!("starting example {name}: {e}"));
    let output = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("example {name} {args:?} did not end within {limit:?}"))
        .unwrap_or_else(|e| panic!("waiting for example {name}: {e}"));
    Ran {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs example `name` with `--kubeconfig <the test kubeconfig>` and `args`; it must
/// succeed. Returns its standard output.
async fn run_flags(name: &str, args: &[&str], limit: Duration) -> String {
    let kubeconfig = ts::kubeconfig_path();
    let mut all = vec!["--kubeconfig", kubeconfig.to_str().expect("a UTF-8 path")];
    all.extend_from_slice(args);
    let ran = output(name, &all, &[], limit).await;
    assert_eq!(ran.code, Some(0), "example {name} {args:?} failed: {ran}");
    ran.stdout
}

/// Like [`run_flags`], for an example expected to fail: returns how it ended.
async fn run_flags_failing(name: &str, args: &[&str], limit: Duration) -> Ran {
    let kubeconfig = ts::kubeconfig_path();
    let mut all = vec!["--kubeconfig", kubeconfig.to_str().expect("a UTF-8 path")];
    all.extend_from_slice(args);
    output(name, &all, &[], limit).await
}

/// The test kubeconfig, parsed.
async fn kubeconfig() -> k8s_client::config::Kubeconfig {
    let options = k8s_client::config::KubeConfigOptions::default().path(ts::kubeconfig_path());
    k8s_client::config::Kubeconfig::load(&options)
        .await
        .expect("reading the test kubeconfig")
}

/// The static token of the `admin-token` context's user.
async fn admin_token() -> String {
    let kc = kubeconfig().await;
    let context = kc
        .contexts
        .iter()
        .find(|c| c.name == "admin-token")
        .expect("an admin-token context");
    let user = context.context.user.clone().expect("a user");
    kc.auth_infos
        .iter()
        .find(|a| a.name == user)
        .and_then(|a| a.auth_info.token.as_ref())
        .map(|t| t.expose().clone())
        .expect("a static token")
}

/// Polls `check` until it returns `Some`, for at most `limit`.
async fn until<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    limit: Duration,
    mut check: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn demo() {
    let out = run("demo", &[], Duration::from_secs(120)).await;
    assert!(out.contains("get of a missing pod: not found"), "{out}");
    assert!(out.contains("applied replicas=3"), "{out}");
}

#[tokio::test]
async fn discovery() {
    // The core group by default, then one group-version from the command line.
    let out = run_flags("discovery", &[], Duration::from_secs(60)).await;
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines.contains(&"group (core): versions [v1], preferred v1"),
        "{out}"
    );
    assert!(lines.contains(&"resources of v1:"), "{out}");
    assert!(
        lines.contains(&"pods") && lines.contains(&"pods/log"),
        "{out}"
    );

    let out = run_flags("discovery", &["apps/v1"], Duration::from_secs(60)).await;
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines.contains(&"group apps: versions [apps/v1], preferred apps/v1"),
        "{out}"
    );
    assert!(lines.contains(&"resources of apps/v1:"), "{out}");
    for name in [
        "deployments",
        "deployments/scale",
        "statefulsets",
        "replicasets/status",
    ] {
        assert!(lines.contains(&name), "{name} missing:\n{out}");
    }
    assert!(!lines.contains(&"pods"), "only apps/v1 resources:\n{out}");

    let ran = run_flags_failing(
        "discovery",
        &["nope.example.com/v9"],
        Duration::from_secs(60),
    )
    .await;
    assert_ne!(ran.code, Some(0), "{ran}");
    assert!(
        ran.stderr.contains("does not serve nope.example.com/v9"),
        "{ran}"
    );
}

/// The dynamic walk-through, once with the client certificate of the current context and
/// once with `--context admin-token` (a bearer token): both create, update, list and
/// delete, and leave the Deployment deleted (or being deleted: foreground).
#[tokio::test]
async fn dynamic() {
    use k8s_openapi::api::apps::v1::Deployment;
    for context in ["admin", "admin-token"] {
        let ns = ts::namespace("ex-dynamic").await;
        let out = run_flags(
            "dynamic",
            &["--context", context, "-n", &ns.name],
            Duration::from_secs(60),
        )
        .await;
        for line in [
            "Created deployment \"demo-deployment\".",
            "Read it back: replicas 2, image \"nginx:1.12\"",
            "Updated deployment...",
            " * demo-deployment (1 replicas)",
            "Deleted deployment.",
        ] {
            assert!(
                out.lines().any(|l| l == line),
                "{line:?} missing ({context}):\n{out}"
            );
        }
        let deployments: Api<Deployment> = Api::namespaced(ts::client().await, &ns.name);
        let left = deployments.get_opt("demo-deployment").await.unwrap();
        assert!(
            left.is_none_or(|d| d.metadata.deletion_timestamp.is_some()),
            "the Deployment is still there ({context})"
        );
    }
}

/// The kubeconfig is found as kubectl finds it (`--kubeconfig`, then `$KUBECONFIG`, then
/// `~/.kube/config`), `--context` and `-n` choose, and the chosen context, cluster, user
/// and way of authenticating are printed, never the token.
#[tokio::test]
async fn out_of_cluster_config() {
    let path = ts::kubeconfig_path();
    let path_text = path.display().to_string();
    let token = admin_token().await;
    let limit = Duration::from_secs(60);
    let minor = ts::server_minor().await;
    let version = format!("server version: v1.{minor}.");
    let server = kubeconfig().await.clusters[0]
        .cluster
        .server
        .clone()
        .expect("a server");

    // --kubeconfig, its current context.
    let out = run_flags("out_of_cluster_config", &[], limit).await;
    let current = kubeconfig()
        .await
        .current_context
        .expect("a current context");
    assert!(
        out.contains(&format!("kubeconfig files: {path_text}\n")),
        "{out}"
    );
    assert!(out.contains(&format!("context: {current}\n")), "{out}");
    assert!(
        out.contains(&format!("server: {}", server.trim_end_matches('/'))),
        "{out}"
    );
    assert!(out.contains(&version), "{out}");

    // --context admin-token -n team-a: a bearer token, shown only as such.
    let out = run_flags(
        "out_of_cluster_config",
        &["--context", "admin-token", "-n", "team-a"],
        limit,
    )
    .await;
    assert!(out.contains("context: admin-token\n"), "{out}");
    assert!(out.contains("authentication: bearer token\n"), "{out}");
    assert!(out.contains("namespace: team-a\n"), "{out}");
    assert!(out.contains(&version), "{out}");
    assert!(!out.contains(&token), "the token was printed:\n{out}");

    // $KUBECONFIG, no flag.
    let ran = output(
        "out_of_cluster_config",
        &["--context=admin-token"],
        &[("KUBECONFIG", path.clone().into_os_string())],
        limit,
    )
    .await;
    assert_eq!(ran.code, Some(0), "{ran}");
    assert!(
        ran.stdout
            .contains(&format!("kubeconfig files: {path_text}\n")),
        "{ran}"
    );
    assert!(ran.stdout.contains(&version), "{ran}");
    assert!(
        !ran.stdout.contains(&token) && !ran.stderr.contains(&token),
        "{ran}"
    );

    // ~/.kube/config, neither flag nor variable.
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join(".kube")).unwrap();
    let home_config = home.path().join(".kube").join("config");
    std::fs::copy(&path, &home_config).unwrap();
    let ran = output(
        "out_of_cluster_config",
        &["--context", "admin-token"],
        &[("HOME", home.path().as_os_str().to_owned())],
        limit,
    )
    .await;
    assert_eq!(ran.code, Some(0), "{ran}");
    assert!(
        ran.stdout
            .contains(&format!("kubeconfig files: {}\n", home_config.display())),
        "{ran}"
    );
    assert!(ran.stdout.contains(&version), "{ran}");

    // Nothing at all: the error says what was tried.
    let ran = output("out_of_cluster_config", &[], &[], limit).await;
    assert_ne!(ran.code, Some(0), "{ran}");
    assert!(ran.stderr.contains("KUBERNETES_SERVICE_HOST"), "{ran}");
}

/// The in-cluster config, made real: a directory standing in for the service-account mount
/// (the `admin-token` user's token, the cluster CA from the kubeconfig, a namespace file)
/// and the two service variables pointing at the test control plane.
#[tokio::test]
async fn in_cluster_config() {
    use base64::Engine as _;
    let ns = ts::namespace("ex-incluster").await;
    let pod = ts::kwok::running_pod(&ns, "p").await;
    let kc = kubeconfig().await;
    let cluster = &kc.clusters[0].cluster;
    let ca = match (
        &cluster.certificate_authority_data,
        &cluster.certificate_authority,
    ) {
        (Some(data), _) => base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .expect("base64 CA data"),
        (None, Some(file)) => std::fs::read(file).expect("the CA file"),
        (None, None) => panic!("the test kubeconfig has no CA"),
    };
    let server: http::Uri = cluster.server.clone().unwrap().parse().unwrap();
    let host = server.host().unwrap().to_string();
    let port = server.port_u16().unwrap_or(443).to_string();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), admin_token().await).unwrap();
    std::fs::write(dir.path().join("ca.crt"), ca).unwrap();
    std::fs::write(dir.path().join("namespace"), &ns.name).unwrap();
    let dir_arg = dir.path().to_str().unwrap();
    let env = [
        ("KUBERNETES_SERVICE_HOST", OsString::from(&host)),
        ("KUBERNETES_SERVICE_PORT", OsString::from(&port)),
    ];
    let limit = Duration::from_secs(60);

    let ran = output(
        "in_cluster_config",
        &["--service-account-dir", dir_arg],
        &env,
        limit,
    )
    .await;
    assert_eq!(ran.code, Some(0), "{ran}");
    let out = &ran.stdout;
    assert!(out.contains(&format!("namespace: {}\n", ns.name)), "{ran}");
    assert!(
        out.contains(&format!("There are 1 pods in namespace {}\n", ns.name)),
        "{ran}"
    );
    assert!(out.contains(&format!("  {} Running\n", pod.name)), "{ran}");

    // -n overrides the namespace file.
    let ran = output(
        "in_cluster_config",
        &[
            "--service-account-dir",
            dir_arg,
            "-n",
            ts::RESTRICTED_NAMESPACE,
        ],
        &env,
        limit,
    )
    .await;
    assert_eq!(ran.code, Some(0), "{ran}");
    assert!(
        ran.stdout
            .contains(&format!("pods in namespace {}\n", ts::RESTRICTED_NAMESPACE)),
        "{ran}"
    );

    // Without the service variables it is not in a cluster, and says so.
    let ran = output(
        "in_cluster_config",
        &["--service-account-dir", dir_arg],
        &[],
        limit,
    )
    .await;
    assert_ne!(ran.code, Some(0), "{ran}");
    assert!(ran.stderr.contains("KUBERNETES_SERVICE_HOST"), "{ran}");
}

/// Pods of all namespaces, a missing pod told apart as NotFound, and the `restricted`
/// user's 403 Forbidden shown with its code and reason.
#[tokio::test]
async fn list_pods() {
    let ns = ts::namespace("ex-listpods").await;
    let pod = ts::kwok::running_pod(&ns, "p").await;
    let limit = Duration::from_secs(60);

    let out = run_flags("list_pods", &["-n", &ns.name], limit).await;
    assert!(out.contains("pods in the cluster"), "{out}");
    assert!(
        out.contains(&format!(
            "  {}/{} Running {}\n",
            ns.name, pod.name, pod.node.name
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "Pod example-xxxxx not found in namespace {}\n",
            ns.name
        )),
        "{out}"
    );
    // An existing pod is found.
    let out = run_flags("list_pods", &["-n", &ns.name, &pod.name], limit).await;
    assert!(
        out.contains(&format!("Found pod {} in namespace {}", pod.name, ns.name)),
        "{out}"
    );

    // The restricted user may read its namespace only.
    let out = run_flags(
        "list_pods",
        &["--context", "restricted", "-n", ts::RESTRICTED_NAMESPACE],
        limit,
    )
    .await;
    assert!(
        out.contains("Error listing pods in all namespaces: status 403 Forbidden:"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "There are 0 pods in namespace {}\n",
            ts::RESTRICTED_NAMESPACE
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "Pod example-xxxxx not found in namespace {}\n",
            ts::RESTRICTED_NAMESPACE
        )),
        "{out}"
    );
    // Elsewhere a get is Forbidden, not NotFound.
    let out = run_flags(
        "list_pods",
        &["--context", "restricted", "-n", &ns.name],
        limit,
    )
    .await;
    assert!(
        out.contains(&format!(
            "Error getting pod example-xxxxx in namespace {}: status 403 Forbidden:",
            ns.name
        )),
        "{out}"
    );
    assert!(!out.contains("not found"), "{out}");
}

/// The typed walk-through: created, updated, listed, and deleted in the foreground: when
/// the example ends, neither the Deployment nor its ReplicaSets are left.
#[tokio::test]
async fn deployment() {
    use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
    let ns = ts::namespace("ex-deployment").await;
    let out = run_flags("deployment", &["-n", &ns.name], Duration::from_secs(150)).await;
    for line in [
        format!("Creating deployment {}/demo-deployment...", ns.name),
        " * demo-deployment (1 replicas, image nginx:1.13)".to_string(),
        format!("Deleted deployment {}/demo-deployment.", ns.name),
    ] {
        assert!(out.lines().any(|l| l == line), "{line:?} missing:\n{out}");
    }
    // The controller writes the status meanwhile, so the first update may well conflict
    // and be retried: any number of attempts, with the result of the last.
    let updated = out
        .lines()
        .find(|l| l.starts_with("Updated deployment (after "))
        .unwrap_or_else(|| panic!("no update:\n{out}"));
    assert!(
        updated.ends_with(" attempt(s)): replicas 1, image nginx:1.13"),
        "{updated}"
    );
    let client = ts::client().await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns.name);
    assert!(deployments
        .get_opt("demo-deployment")
        .await
        .unwrap()
        .is_none());
    let replica_sets: Api<ReplicaSet> = Api::namespaced(client, &ns.name);
    let left = replica_sets.list(&ListParams::default()).await.unwrap();
    assert!(
        left.items.is_empty(),
        "foreground deletion left ReplicaSets: {:?}",
        left.items
            .iter()
            .map(|r| &r.metadata.name)
            .collect::<Vec<_>>()
    );
}

/// The RESTClient way: a typed list from a built path, `/version` and `/healthz`.
#[tokio::test]
async fn raw_request() {
    let ns = ts::namespace("ex-raw").await;
    let pod = ts::kwok::running_pod(&ns, "p").await;
    let out = run_flags(
        "raw_request",
        &["--context", "admin-token", "-n", &ns.name],
        Duration::from_secs(60),
    )
    .await;
    let minor = ts::server_minor().await;
    for line in [
        format!("GET /api/v1/namespaces/{}/pods?limit=100", ns.name),
        format!("1 pods in namespace {}", ns.name),
        format!("  {}", pod.name),
        "GET /version".to_string(),
        "GET /healthz".to_string(),
        "healthz: ok".to_string(),
    ] {
        assert!(out.lines().any(|l| l == line), "{line:?} missing:\n{out}");
    }
    assert!(
        out.contains(&format!("server gitVersion v1.{minor}.")),
        "{out}"
    );
}

/// Server-side apply: the conflict, the forced take-over, and the owners it leaves.
#[tokio::test]
async fn server_side_apply() {
    use k8s_openapi::api::core::v1::ConfigMap;
    let ns = ts::namespace("ex-ssa").await;
    let out = run_flags(
        "server_side_apply",
        &["-n", &ns.name, "shared", "--keep"],
        Duration::from_secs(60),
    )
    .await;
    for line in [
        "  data: color=blue, size=small",
        "  managedFields: ssa-example-first (Apply) owns .data.color .data.size",
        "  data: color=red, size=small",
        "  managedFields: ssa-example-second (Apply) owns .data.color",
        "  data: color=red, size=large",
    ] {
        assert!(out.lines().any(|l| l == line), "{line:?} missing:\n{out}");
    }
    let conflict = out
        .lines()
        .find(|l| l.starts_with("  conflict (409): "))
        .unwrap_or_else(|| panic!("no conflict reported:\n{out}"));
    assert!(
        conflict.contains("ssa-example-first") && conflict.contains(".data.color"),
        "{conflict}"
    );

    // On the server: the data, and who owns which field.
    let cm = Api::<ConfigMap>::namespaced(ts::client().await, &ns.name)
        .get("shared")
        .await
        .unwrap();
    let data = cm.data.clone().unwrap();
    assert_eq!(data["color"], "red");
    assert_eq!(data["size"], "large");
    let owns = |manager: &str| -> Vec<String> {
        let entry = cm
            .metadata
            .managed_fields
            .iter()
            .flatten()
            .find(|e| e.manager.as_deref() == Some(manager))
            .unwrap_or_else(|| panic!("no managedFields entry of {manager}"));
        let fields = &entry.fields_v1.as_ref().unwrap().0["f:data"];
        fields.as_object().unwrap().keys().cloned().collect()
    };
    assert_eq!(owns("ssa-example-first"), ["f:size"]);
    assert_eq!(owns("ssa-example-second"), ["f:color"]);

    // Without --keep it cleans up.
    let out = run_flags(
        "server_side_apply",
        &["-n", &ns.name, "gone"],
        Duration::from_secs(60),
    )
    .await;
    assert!(
        out.contains(&format!("deleted configmap {}/gone", ns.name)),
        "{out}"
    );
    assert!(Api::<ConfigMap>::namespaced(ts::client().await, &ns.name)
        .get_opt("gone")
        .await
        .unwrap()
        .is_none());
}

/// The derived CRD installed and Established, an instance created, one refused by the
/// schema, and the instance deleted; `--delete-crd` removes the CRD.
#[tokio::test]
async fn custom_resource() {
    use k8s_client::dynamic::DynamicObject;
    use k8s_client::runtime::crd;
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    const CRD: &str = "crontabs.stable.example.com";
    let client = ts::client().await;
    let mut cleanup = ts::DeleteOnDrop::<CustomResourceDefinition>::new(client.config());
    cleanup.add(CRD);
    let ns = ts::namespace("ex-crd").await;

    let out = run_flags(
        "custom_resource",
        &["--context", "admin-token", "-n", &ns.name],
        Duration::from_secs(120),
    )
    .await;
    for line in [
        format!("CustomResourceDefinition {CRD} is Established"),
        format!("Created CronTab {}/my-new-cron-object", ns.name),
        " * my-new-cron-object schedule \"* * * * */5\" image my-awesome-cron-image".to_string(),
        format!("Deleted CronTab {}/my-new-cron-object", ns.name),
    ] {
        assert!(
            out.lines().any(|l| l.starts_with(line.as_str())),
            "{line:?} missing:\n{out}"
        );
    }
    let refused = out
        .lines()
        .find(|l| l.starts_with("Refused by the schema (422 Invalid): "))
        .unwrap_or_else(|| panic!("no refusal:\n{out}"));
    assert!(refused.contains("spec.replicas"), "{refused}");

    // The CRD is served; no CronTab is left.
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let installed = crds.get(CRD).await.unwrap();
    assert_eq!(crd::state(&installed), crd::CrdState::Established);
    let resource = crd::api_resource(&installed, "v1").unwrap();
    let tabs: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns.name, &resource);
    assert!(tabs
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .is_empty());

    // Again, installing idempotently over the existing CRD, and removing it at the end.
    let out = run_flags(
        "custom_resource",
        &["-n", &ns.name, "--delete-crd"],
        Duration::from_secs(120),
    )
    .await;
    assert!(
        out.contains(&format!("Deleted CustomResourceDefinition {CRD}")),
        "{out}"
    );
    until("the CRD gone", Duration::from_secs(60), || async {
        crds.get_opt(CRD).await.unwrap().is_none().then_some(())
    })
    .await;
}

/// Manifests with served and removed apiVersions: exit 1 naming each removed kind and its
/// replacement; exit 0 on the current ones; exit 2 on a missing file.
#[tokio::test]
async fn skew_check() {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/skew");
    let current = fixtures.join("current.yaml");
    let legacy = fixtures.join("legacy.yaml");
    let limit = Duration::from_secs(60);

    let out = run_flags("skew_check", &[current.to_str().unwrap()], limit).await;
    for line in [
        "5 kind(s) in 1 file(s)",
        "ok   apps/v1 Deployment: served",
        "ok   v1 ConfigMap: served",
        "ok   v1 Service: served",
        "ok   batch/v1 CronJob: served",
        "ok   autoscaling/v2 HorizontalPodAutoscaler: served",
        "every kind is served",
    ] {
        assert!(out.lines().any(|l| l == line), "{line:?} missing:\n{out}");
    }
    assert!(
        out.contains("current.yaml document 2 items[0] (web-content)"),
        "a List's items are checked:\n{out}"
    );

    let ran = run_flags_failing(
        "skew_check",
        &[current.to_str().unwrap(), legacy.to_str().unwrap()],
        limit,
    )
    .await;
    assert_eq!(ran.code, Some(1), "{ran}");
    for line in [
        "FAIL batch/v1beta1 CronJob: not served (removed in v1.25); use batch/v1",
        "FAIL autoscaling/v2beta2 HorizontalPodAutoscaler: not served (removed in v1.26); use autoscaling/v2",
        "FAIL policy/v1beta1 PodSecurityPolicy: not served (removed in v1.25); nothing this server serves replaces it",
        "FAIL extensions/v1beta1 Ingress: not served (removed in v1.22); use networking.k8s.io/v1",
        "ok   v1 ConfigMap: served",
        "4 kind(s) not served by this cluster",
    ] {
        assert!(ran.stdout.lines().any(|l| l == line), "{line:?} missing:\n{ran}");
    }
    assert!(
        ran.stdout.contains("legacy.yaml document 1 (nightly-old)"),
        "{ran}"
    );

    let ran = run_flags_failing("skew_check", &["/no/such/file.yaml"], limit).await;
    assert_eq!(ran.code, Some(2), "{ran}");
    assert!(ran.stderr.contains("reading /no/such/file.yaml"), "{ran}");
}

/// A staged rollout through Deployments on a KWOK node: all rolled out in order; then one
/// whose pods cannot be placed stops the rollout (ProgressDeadlineExceeded), and the
/// Deployment after it is not touched.
#[tokio::test]
async fn staged_rollout() {
    use k8s_openapi::api::apps::v1::Deployment;
    let ns = ts::namespace("ex-rollout").await;
    let node = ts::kwok::fake_node(&ns).await;
    let client = ts::client().await;
    let deployments: Api<Deployment> = Api::namespaced(client, &ns.name);
    // A short progress deadline only for the one that cannot progress, so a slow machine
    // does not fail the healthy ones.
    let make = |name: &str, placement: serde_json::Value, deadline: i32| -> Deployment {
        let mut pod_spec = json!({"containers": [{"name": "web", "image": "nginx:1.27"}]});
        for (k, v) in placement.as_object().unwrap() {
            pod_spec[k] = v.clone();
        }
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {
                "replicas": 2,
                "progressDeadlineSeconds": deadline,
                "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec}
            }
        }))
        .unwrap()
    };
    let on_node = json!({"nodeName": node.name});
    for name in ["dep-a", "dep-b", "dep-c"] {
        deployments
            .create(&PostParams::default(), &make(name, on_node.clone(), 600))
            .await
            .unwrap();
    }
    // No node has this label (and this cluster has no scheduler: nothing places it).
    let nowhere = json!({"nodeSelector": {"example.com/no-such-node": "true"}});
    deployments
        .create(&PostParams::default(), &make("dep-stuck", nowhere, 5))
        .await
        .unwrap();
    let image = |d: &Deployment| -> String {
        d.spec.template.spec.as_ref().unwrap().containers[0]
            .image
            .clone()
            .unwrap()
    };

    let started = Instant::now();
    let out = run_flags(
        "staged_rollout",
        &[
            "-n",
            &ns.name,
            "--image",
            "nginx:1.28",
            "dep-a",
            "dep-b",
            "dep-c",
        ],
        Duration::from_secs(180),
    )
    .await;
    println!("{out}3 rollouts in {:.1}s", started.elapsed().as_secs_f64());
    let done: Vec<usize> = ["dep-a", "dep-b", "dep-c"]
        .iter()
        .map(|n| {
            out.find(&format!("{n}: rolled out in "))
                .unwrap_or_else(|| panic!("{n} not rolled out:\n{out}"))
        })
        .collect();
    assert!(done.windows(2).all(|w| w[0] < w[1]), "out of order:\n{out}");
    assert!(out.contains("all 3 Deployment(s) rolled out"), "{out}");
    for name in ["dep-a", "dep-b", "dep-c"] {
        let d = deployments.get(name).await.unwrap();
        assert_eq!(image(&d), "nginx:1.28", "{name}");
        let status = d.status.unwrap();
        assert_eq!(status.updated_replicas, Some(2), "{name}");
        assert_eq!(status.available_replicas, Some(2), "{name}");
        assert!(
            status.observed_generation >= d.metadata.generation,
            "{name}"
        );
    }

    // The stuck one stops the rollout: dep-a gets the image, dep-c does not.
    let before_c = deployments.get("dep-c").await.unwrap();
    let ran = run_flags_failing(
        "staged_rollout",
        &[
            "-n",
            &ns.name,
            "--image",
            "nginx:1.29",
            "--timeout",
            "120s",
            "dep-a",
            "dep-stuck",
            "dep-c",
        ],
        Duration::from_secs(180),
    )
    .await;
    println!("{ran}");
    assert_eq!(ran.code, Some(1), "{ran}");
    assert!(ran.stdout.contains("dep-a: rolled out in "), "{ran}");
    assert!(
        ran.stderr.contains(&format!(
            "rollout of Deployment {}/dep-stuck failed: ProgressDeadlineExceeded",
            ns.name
        )),
        "{ran}"
    );
    assert!(ran.stdout.contains("not touched: dep-c"), "{ran}");
    assert!(ran.stdout.contains("FAILED at dep-stuck"), "{ran}");
    assert_eq!(
        image(&deployments.get("dep-a").await.unwrap()),
        "nginx:1.29"
    );
    assert_eq!(
        image(&deployments.get("dep-stuck").await.unwrap()),
        "nginx:1.29"
    );
    let after_c = deployments.get("dep-c").await.unwrap();
    assert_eq!(image(&after_c), "nginx:1.28");
    assert_eq!(after_c.metadata.generation, before_c.metadata.generation);

    // A timeout is a failure too, naming the Deployment.
    let ran = run_flags_failing(
        "staged_rollout",
        &[
            "-n",
            &ns.name,
            "--image",
            "nginx:1.30",
            "--timeout",
            "1s",
            "dep-stuck",
            "dep-a",
        ],
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(ran.code, Some(1), "{ran}");
    assert!(ran.stderr.contains("dep-stuck failed"), "{ran}");
    assert!(ran.stdout.contains("not touched: dep-a"), "{ran}");

    // Usage errors are exit 2.
    let ran = run_flags_failing(
        "staged_rollout",
        &["-n", &ns.name, "dep-a"],
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(ran.code, Some(2), "{ran}");
    assert!(ran.stderr.contains("--image IMAGE is required"), "{ran}");
}

/// The operator example, driven as a user would: create a Website, scale it, change its
/// image, delete it, and check the owned objects, the status, the finalizer's cleanup of
/// the state file, and the metrics it serves.
#[tokio::test]
async fn operator() {
    use k8s_client::api::{ApiResource, PostParams};
    use k8s_client::api::{Patch, PatchParams};
    use k8s_client::dynamic::DynamicObject;
    use k8s_client::Api;
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::ConfigMap;
    use tokio::io::AsyncBufReadExt;

    let ns = ts::namespace("ex-operator").await;
    let state = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(ts::example("operator"))
        .args([&ns.name, state.path().to_str().unwrap(), "127.0.0.1:0"])
        .env("KUBECONFIG", ts::kubeconfig_path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("starting the operator example");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let metrics_url = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(url) = line.strip_prefix("metrics on ") {
                return url.to_string();
            }
        }
        panic!("the operator ended before serving metrics")
    })
    .await
    .expect("the operator did not start");
    // Keep its output flowing (and visible in a failure).
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            println!("operator: {line}");
        }
    });

    let client = ts::client().await;
    let resource = ApiResource {
        group: "example.com".into(),
        version: "v1".into(),
        kind: "Website".into(),
        plural: "websites".into(),
        namespaced: true,
    };
    let websites: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns.name, &resource);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns.name);
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &ns.name);
    let site: DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "example.com/v1", "kind": "Website",
        "metadata": {"name": "hello"},
        "spec": {"replicas": 2, "image": "nginx:1.27"},
    }))
    .unwrap();
    websites
        .create(&PostParams::default(), &site)
        .await
        .unwrap();

    async fn until<T, F: std::future::Future<Output = Option<T>>>(
        what: &str,
        mut f: impl FnMut() -> F,
    ) -> T {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(v) = f().await {
                return v;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let deployment_is = |replicas: i32, image: &'static str| {
        let deployments = deployments.clone();
        move || {
            let deployments = deployments.clone();
            async move {
                let d = deployments.get_opt("hello").await.unwrap()?;
                let spec = &d.spec;
                let img = spec.template.spec.as_ref()?.containers[0].image.clone()?;
                (spec.replicas == Some(replicas) && img == image).then_some(d)
            }
        }
    };
    let d = until("the Deployment", deployment_is(2, "nginx:1.27")).await;
    let owner = &d.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.controller),
        ("Website", Some(true))
    );
    let cm = cms.get("hello").await.unwrap();
    assert!(cm.data.unwrap()["index.html"].contains("hello"));
    let state_file = state.path().join(format!("{}_hello", ns.name));
    until("the state file", || async {
        state_file.exists().then_some(())
    })
    .await;
    until("the Ready condition", || async {
        let w = websites.get("hello").await.unwrap();
        let c = &w.data["status"]["conditions"][0];
        (c["type"] == "Ready" && c["status"] == "True").then_some(())
    })
    .await;

    // Scale, then change the image.
    let patch = Patch::Merge(serde_json::json!({"spec": {"replicas": 3}}));
    websites
        .patch("hello", &PatchParams::default(), &patch)
        .await
        .unwrap();
    until("scaled to 3", deployment_is(3, "nginx:1.27")).await;
    let patch = Patch::Merge(serde_json::json!({"spec": {"image": "nginx:1.28"}}));
    websites
        .patch("hello", &PatchParams::default(), &patch)
        .await
        .unwrap();
    until("the new image", deployment_is(3, "nginx:1.28")).await;
    // A hand edit of an owned object is put back.
    let patch = Patch::Merge(serde_json::json!({"spec": {"replicas": 1}}));
    deployments
        .patch("hello", &PatchParams::default(), &patch)
        .await
        .unwrap();
    until("the hand edit undone", deployment_is(3, "nginx:1.28")).await;

    // The metrics the example serves.
    let body = http_get(&metrics_url).await;
    assert!(
        body.contains("controller_runtime_reconcile_total{controller=\"website\""),
        "{body}"
    );
    assert!(
        body.contains("workqueue_adds_total{name=\"website\"}"),
        "{body}"
    );
    assert!(
        body.contains("rest_client_requests_total{verb=\"patch\""),
        "{body}"
    );
    assert!(
        body.contains("informer_store_size")
            || body.contains("rest_client_request_duration_seconds_count"),
        "{body}"
    );
    let ready = http_get(&metrics_url.replace("/metrics", "/readyz")).await;
    assert_eq!(ready.trim(), "ok");

    // Delete: the finalizer's cleanup removes the state file, then the Website goes.
    websites.delete("hello", &Default::default()).await.unwrap();
    until("the Website deleted", || async {
        websites
            .get_opt("hello")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    assert!(
        !state_file.exists(),
        "the cleanup did not remove the state file"
    );
    let _ = child.start_kill();
}

/// GET over plain HTTP/1.1 to the example's local metrics server.
async fn http_get(url: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").expect("http url");
    let (host, path) = rest.split_once('/').expect("path");
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    let request = format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or(response)
}
