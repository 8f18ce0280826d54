//! The smoke suite of the compatibility matrix (`scripts/compat-matrix.sh`): one short test per
//! feature against the running control plane, on every supported Kubernetes minor.
//!
//! Each test prints exactly one machine-readable line on stdout,
//!
//! ```text
//! SMOKE <feature> <result> <detail>
//! ```
//!
//! where `<result>` is `ok` (the feature worked the preferred way), `fallback` (the server
//! lacks something and the feature worked through the client's fallback; `<detail>` says
//! what the server lacks and what the client did) or `fail` (the test also fails). A test
//! that panics or times out prints `fail` with the reason, then fails.
//!
//! Run: `cargo test -p k8s-client --features protobuf,compact,derive,metrics --test smoke --
//! --nocapture --test-threads=2` with `K8S_CLIENT_TEST_KUBECONFIG` set (the control plane
//! started with `--controller-manager --kwok`).

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{FutureExt, TryStreamExt};
use k8s_client::api::{
    ApiResource, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use k8s_client::cache::{Event, InformerFactory, InformerOptions, SharedInformer, WatchListMode};
use k8s_client::client::{Body, BoxService, ClientBuilder};
use k8s_client::discovery::{Discovery, DiscoveryFormat};
use k8s_client::dynamic::{DynamicApi, DynamicObject};
use k8s_client::metadata::MetadataApi;
use k8s_client::remote::{AttachParams, LogParams, Protocol};
use k8s_client::runtime::controller::{Action, Controller};
use k8s_client::runtime::crd;
use k8s_client::runtime::leader_election::CancellationToken;
use k8s_client::{Api, Client, CustomResource};
use k8s_client_testsupport as ts;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

/// How a feature fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Worked the preferred way.
    Ok,
    /// Worked through the client's fallback for something the server lacks.
    Fallback,
}

/// What a smoke body returns: the outcome and a one-line detail, or why it failed.
type Verdict = Result<(Outcome, String), String>;

/// The longest a smoke body may take.
const LIMIT: Duration = Duration::from_secs(90);

/// Runs `body`, prints its `SMOKE` line, and fails the test unless the feature worked
/// (directly or through a fallback). A panic or a timeout is a `fail` too.
async fn smoke<F>(feature: &str, body: F)
where
    F: Future<Output = Verdict>,
{
    let guarded = std::panic::AssertUnwindSafe(body).catch_unwind();
    let verdict = match tokio::time::timeout(LIMIT, guarded).await {
        Err(_) => Err(format!("did not finish within {LIMIT:?}")),
        Ok(Err(payload)) => {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "a panic without a message".to_string());
            Err(format!("panicked: {message}"))
        }
        Ok(Ok(verdict)) => verdict,
    };
    let (result, detail) = match &verdict {
        Ok((Outcome::Ok, d)) => ("ok", d.clone()),
        Ok((Outcome::Fallback, d)) => ("fallback", d.clone()),
        Err(e) => ("fail", e.clone()),
    };
    // One line, whatever the detail holds.
    let detail = detail.split_whitespace().collect::<Vec<_>>().join(" ");
    println!("SMOKE {feature} {result} {detail}");
    if let Err(e) = verdict {
        panic!("{feature}: {e}");
    }
}

/// Turns any error into the failure's text, naming what was being done.
fn ctx<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> String + '_ {
    move |e| format!("{what}: {e}")
}

/// Fails the smoke body with `message` unless `cond`.
fn check(cond: bool, message: impl FnOnce() -> String) -> Result<(), String> {
    if cond {
        Ok(())
    } else {
        Err(message())
    }
}

fn cm(name: &str, data: &str) -> ConfigMap {
    let mut c = ConfigMap::default();
    c.metadata.name = Some(name.into());
    c.data = Some([("k".to_string(), data.to_string())].into());
    c
}

fn data(c: &ConfigMap) -> Option<&str> {
    c.data.as_ref().and_then(|d| d.get("k")).map(String::as_str)
}

/// Polls `cond` every 50 ms until it holds, or fails after 45 s.
async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(45);
    while !cond() {
        if tokio::time::Instant::now() >= deadline {
            return Err(format!("timed out waiting for {what}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// A custom resource for the `crd` smoke test.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[resource(
    group = "smoke.k8s-client.test",
    version = "v1",
    kind = "Gizmo",
    namespaced
)]
#[schema(validation(rule = "self.low <= self.high", message = "low must not exceed high"))]
pub struct GizmoSpec {
    /// Lower bound.
    #[schema(minimum = 0)]
    pub low: i32,
    /// Upper bound.
    pub high: i32,
}

#[tokio::test]
async fn crd() {
    smoke("crd", async {
        let client = ts::client().await;
        let def = Gizmo::crd();
        let name = def.metadata.name.clone().unwrap_or_default();
        let mut cleanup = ts::DeleteOnDrop::<CustomResourceDefinition>::new(client.config());
        cleanup.add(&name);
        let installed = crd::apply(&client, &def, "smoke", Duration::from_secs(30))
            .await
            .map_err(ctx("installing the derived CRD"))?;
        check(crd::state(&installed) == crd::CrdState::Established, || {
            format!("not established: {}", crd::describe_conditions(&installed))
        })?;
        let ns = ts::namespace("smoke-crd").await;
        let gizmos: Api<Gizmo> = Api::namespaced(client, &ns.name);
        let created = gizmos
            .create(
                &PostParams::default(),
                &Gizmo::new("g", GizmoSpec { low: 1, high: 2 }),
            )
            .await
            .map_err(ctx("create"))?;
        check(created.spec == GizmoSpec { low: 1, high: 2 }, || {
            format!("{created:?}")
        })?;
        let err = match gizmos
            .create(
                &PostParams::default(),
                &Gizmo::new("bad", GizmoSpec { low: 3, high: 2 }),
            )
            .await
        {
            Ok(o) => return Err(format!("the CEL rule did not refuse {o:?}")),
            Err(e) => e,
        };
        check(err.to_string().contains("low must not exceed high"), || {
            format!("refused, but not by the rule: {err}")
        })?;
        Ok((
            Outcome::Ok,
            "CRD from #[derive(CustomResource)] applied and Established; typed create; CEL rule enforced"
                .into(),
        ))
    })
    .await;
}

#[tokio::test]
async fn typed_crud() {
    smoke("typed-crud", async {
        let ns = ts::namespace("smoke-crud").await;
        let api: Api<ConfigMap> = Api::namespaced(ts::client().await, &ns.name);
        let created = api
            .create(&PostParams::default(), &cm("a", "1"))
            .await
            .map_err(ctx("create"))?;
        check(created.metadata.uid.is_some(), || {
            "created without a uid".into()
        })?;
        let mut got = api.get("a").await.map_err(ctx("get"))?;
        got.data = Some([("k".to_string(), "2".to_string())].into());
        let replaced = api
            .replace("a", &PostParams::default(), &got)
            .await
            .map_err(ctx("replace"))?;
        check(data(&replaced) == Some("2"), || {
            format!("replace gave {replaced:?}")
        })?;
        let patched = api
            .patch(
                "a",
                &PatchParams::default(),
                &Patch::Merge(json!({"data": {"k": "3"}})),
            )
            .await
            .map_err(ctx("merge patch"))?;
        check(data(&patched) == Some("3"), || {
            format!("patch gave {patched:?}")
        })?;
        let list = api
            .list(&ListParams::default())
            .await
            .map_err(ctx("list"))?;
        check(
            list.items
                .iter()
                .any(|c| c.metadata.name.as_deref() == Some("a")),
            || "the list lacks the object".into(),
        )?;
        api.delete("a", &DeleteParams::default())
            .await
            .map_err(ctx("delete"))?;
        match api.get("a").await {
            Err(e) if e.is_not_found() => {}
            other => return Err(format!("get after delete: {other:?}")),
        }
        Ok((
            Outcome::Ok,
            "ConfigMap create, get, replace, merge patch, list, delete, 404 after".into(),
        ))
    })
    .await;
}

#[tokio::test]
async fn dynamic() {
    smoke("dynamic", async {
        let ns = ts::namespace("smoke-dyn").await;
        let resource = ApiResource::from_gvk(
            &k8s_client::api::GroupVersionKind::new("apps", "v1", "Deployment"),
            "deployments",
            true,
        );
        let api = DynamicApi::namespaced_with(ts::client().await, &ns.name, &resource);
        let object = DynamicObject::from_json(json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "d"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "d"}},
                "template": {
                    "metadata": {"labels": {"app": "d"}},
                    "spec": {"containers": [{"name": "c", "image": "fake"}]}
                }
            }
        }))
        .map_err(ctx("from_json"))?;
        let created = api
            .create(&PostParams::default(), &object)
            .await
            .map_err(ctx("create"))?;
        check(
            created.field(&["spec", "strategy", "type"]) == Some(&json!("RollingUpdate")),
            || "no server defaults in the answer".into(),
        )?;
        api.patch(
            "d",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 2}})),
        )
        .await
        .map_err(ctx("merge patch"))?;
        let got = api.get("d").await.map_err(ctx("get"))?;
        let typed: Deployment = got.try_parse().map_err(ctx("try_parse"))?;
        check(typed.spec.replicas == Some(2), || {
            "the patch did not take".into()
        })?;
        api.delete("d", &DeleteParams::default())
            .await
            .map_err(ctx("delete"))?;
        Ok((
            Outcome::Ok,
            "apps/v1 Deployment from untyped JSON: create, merge patch, get, parse to typed, delete"
                .into(),
        ))
    })
    .await;
}

#[tokio::test]
async fn metadata_list() {
    smoke("metadata-list", async {
        let ns = ts::namespace("smoke-meta").await;
        let client = ts::client().await;
        let typed: Api<ConfigMap> = Api::namespaced(client.clone(), &ns.name);
        for name in ["m1", "m2"] {
            let mut c = cm(name, "secret-ish payload");
            c.metadata.labels = Some([("smoke".to_string(), "yes".to_string())].into());
            typed
                .create(&PostParams::default(), &c)
                .await
                .map_err(ctx("create"))?;
        }
        let api = MetadataApi::namespaced_with(client, &ns.name, &ApiResource::of::<ConfigMap>());
        let list = api
            .list(&ListParams::default().labels("smoke=yes"))
            .await
            .map_err(ctx("metadata list"))?;
        let mut names: Vec<String> = list
            .iter()
            .filter_map(|m| m.metadata.name.clone())
            .collect();
        names.sort();
        check(names == ["m1", "m2"], || format!("listed {names:?}"))?;
        check(
            list.iter().all(|m| m.kind == "PartialObjectMetadata"),
            || "the server did not answer PartialObjectMetadata".into(),
        )?;
        Ok((
            Outcome::Ok,
            "ConfigMaps listed as PartialObjectMetadata (meta.k8s.io/v1), label selector".into(),
        ))
    })
    .await;
}

#[tokio::test]
async fn discovery() {
    smoke("discovery", async {
        let discovery = Discovery::new(ts::client().await);
        let snapshot = discovery.refresh().await.map_err(ctx("discovery"))?;
        let deploy = snapshot
            .resolve_kind(&k8s_client::api::GroupVersionKind::of::<Deployment>())
            .ok_or_else(|| "discovery lacks apps/v1 Deployment".to_string())?;
        check(deploy.subresource("scale").is_some(), || {
            "deployments without scale".into()
        })?;
        let resources: usize = snapshot.resources.iter().map(|g| g.resources.len()).sum();
        let version = &snapshot.server_version.git_version;
        let detail = format!(
            "{} group-versions, {resources} resources, server {version}",
            snapshot.resources.len()
        );
        match snapshot.format {
            DiscoveryFormat::AggregatedV2 => Ok((
                Outcome::Ok,
                format!("aggregated apidiscovery.k8s.io/v2: {detail}"),
            )),
            DiscoveryFormat::AggregatedV2Beta1 => Ok((
                Outcome::Fallback,
                format!("server lacks apidiscovery.k8s.io/v2; the client used v2beta1: {detail}"),
            )),
            DiscoveryFormat::Legacy => Ok((
                Outcome::Fallback,
                format!(
                    "server lacks aggregated discovery; the client walked /api and /apis per \
                     group-version: {detail}"
                ),
            )),
        }
    })
    .await;
}

#[tokio::test]
async fn server_side_apply() {
    smoke("ssa", async {
        let ns = ts::namespace("smoke-ssa").await;
        let api: Api<ConfigMap> = Api::namespaced(ts::client().await, &ns.name);
        let config = |value: &str| {
            Patch::Apply(json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "owned"}, "data": {"k": value}
            }))
        };
        let created = api
            .patch("owned", &PatchParams::apply("smoke-a"), &config("a"))
            .await
            .map_err(ctx("apply (create)"))?;
        check(data(&created) == Some("a"), || format!("{created:?}"))?;
        let err = match api
            .patch("owned", &PatchParams::apply("smoke-b"), &config("b"))
            .await
        {
            Ok(o) => return Err(format!("a second manager's apply did not conflict: {o:?}")),
            Err(e) => e,
        };
        check(err.is_conflict() && err.to_string().contains("smoke-a"), || {
            format!("expected a conflict naming smoke-a, got {err}")
        })?;
        let forced = api
            .patch(
                "owned",
                &PatchParams::apply("smoke-b").force(),
                &config("b"),
            )
            .await
            .map_err(ctx("forced apply"))?;
        check(data(&forced) == Some("b"), || format!("{forced:?}"))?;
        let owners: Vec<String> = forced
            .metadata
            .managed_fields
            .unwrap_or_default()
            .into_iter()
            .filter(|m| {
                m.fields_v1
                    .as_ref()
                    .is_some_and(|f| f.0.to_string().contains("f:k"))
            })
            .filter_map(|m| m.manager)
            .collect();
        check(owners == ["smoke-b"], || format!("data.k owned by {owners:?}"))?;
        Ok((
            Outcome::Ok,
            "apply creates; another manager conflicts (409 naming the owner); force takes the field over"
                .into(),
        ))
    })
    .await;
}

#[tokio::test]
async fn informer() {
    smoke("informer", async {
        let ns = ts::namespace("smoke-informer").await;
        let api: Api<ConfigMap> = Api::namespaced(ts::client().await, &ns.name);
        api.create(&PostParams::default(), &cm("i", "1"))
            .await
            .map_err(ctx("create"))?;
        let informer = SharedInformer::new(api.clone(), InformerOptions::default());
        let updates: Arc<Mutex<Vec<String>>> = Arc::default();
        let u = updates.clone();
        let _reg = informer.add_handler(move |ev: Event<ConfigMap>| {
            if let Event::Updated { new, .. } = ev {
                if let Ok(mut u) = u.lock() {
                    u.push(data(&new).unwrap_or("").to_string());
                }
            }
        });
        informer.start();
        tokio::time::timeout(Duration::from_secs(30), informer.wait_for_sync())
            .await
            .map_err(|_| "the informer did not sync within 30 s".to_string())?;
        let key = format!("{}/i", ns.name);
        check(informer.store().get_by_key(&key).is_some(), || {
            "the synced store lacks the object".into()
        })?;
        api.patch(
            "i",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"k": "2"}})),
        )
        .await
        .map_err(ctx("patch"))?;
        let store = informer.store();
        wait_for("the update in the store", || {
            store
                .get_by_key(&key)
                .is_some_and(|c| data(&c) == Some("2"))
        })
        .await?;
        wait_for("the update event", || {
            updates.lock().is_ok_and(|u| u.iter().any(|d| d == "2"))
        })
        .await?;
        let stats = informer.stats();
        informer.stop();
        Ok((
            Outcome::Ok,
            format!(
                "synced, saw the update in store and handler (lists {}, watches {})",
                stats.lists, stats.watches
            ),
        ))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controller() {
    smoke("controller", async {
        let ns = ts::namespace("smoke-controller").await;
        let client = ts::client().await;
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), &ns.name);
        api.create(&PostParams::default(), &cm("c", "1"))
            .await
            .map_err(ctx("create"))?;
        let factory = Arc::new(InformerFactory::new(client));
        let stop = CancellationToken::new();
        let controller = Controller::new(&factory, api.clone())
            .workers(2)
            .shutdown_on(stop.clone());
        let calls = Arc::new(AtomicU32::new(0));
        let run = tokio::spawn(controller.run(
            |obj: Arc<ConfigMap>, ctx: Arc<(Api<ConfigMap>, Arc<AtomicU32>)>| async move {
                let name = obj.metadata.name.clone().unwrap_or_default();
                if name != "c" {
                    return Ok(Action::await_change());
                }
                ctx.1.fetch_add(1, Ordering::SeqCst);
                let done = obj
                    .metadata
                    .annotations
                    .as_ref()
                    .is_some_and(|a| a.contains_key("reconciled"));
                if !done {
                    let patch = Patch::Merge(json!({
                        "metadata": {"annotations": {"reconciled": "yes"}}
                    }));
                    ctx.0
                        .patch(&name, &PatchParams::default(), &patch)
                        .await
                        .map_err(|e| e.to_string())?;
                }
                Ok::<_, String>(Action::await_change())
            },
            |_obj: Arc<ConfigMap>, _e: &String, _ctx| Action::backoff(),
            Arc::new((api.clone(), calls.clone())),
        ));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(45);
        loop {
            let c = api.get("c").await.map_err(ctx("get"))?;
            if c.metadata
                .annotations
                .is_some_and(|a| a.get("reconciled").map(String::as_str) == Some("yes"))
            {
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err("the controller did not reconcile the object within 45 s".into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        stop.cancel();
        tokio::time::timeout(Duration::from_secs(20), run)
            .await
            .map_err(|_| "the controller did not shut down within 20 s".to_string())?
            .map_err(ctx("the controller task"))?;
        Ok((
            Outcome::Ok,
            format!(
                "reconciled and wrote back ({} reconciles), shut down on cancel",
                calls.load(Ordering::SeqCst)
            ),
        ))
    })
    .await;
}

#[tokio::test]
async fn exec() {
    smoke("exec", async {
        let ns = ts::namespace("smoke-exec").await;
        let pod = ts::kwok::running_pod(&ns, "p").await;
        let pods: Api<Pod> = Api::namespaced(ts::client().await, &ns.name);
        let mut process = pods
            .exec(
                &pod.name,
                ["sh", "-c", "echo smoke-out"],
                &AttachParams::default(),
            )
            .await
            .map_err(ctx("exec"))?;
        let protocol = process.protocol();
        let mut stdout = process
            .stdout()
            .ok_or_else(|| "no stdout stream".to_string())?;
        let mut out = Vec::new();
        stdout
            .read_to_end(&mut out)
            .await
            .map_err(ctx("reading stdout"))?;
        let status = process.status().await.map_err(ctx("exit status"))?;
        check(status.success(), || format!("exit {status:?}"))?;
        check(out == b"smoke-out\n", || {
            format!("stdout {:?}", String::from_utf8_lossy(&out))
        })?;
        match protocol {
            Protocol::V5 => Ok((
                Outcome::Ok,
                "WebSocket v5.channel.k8s.io to a KWOK pod: stdout and exit status".into(),
            )),
            Protocol::V4 => Ok((
                Outcome::Fallback,
                "server lacks v5.channel.k8s.io; the client spoke v4 (stdin cannot be closed alone)"
                    .into(),
            )),
            other => Ok((
                Outcome::Fallback,
                format!("the client spoke {other:?} (not v5.channel.k8s.io)"),
            )),
        }
    })
    .await;
}

#[tokio::test]
async fn logs() {
    smoke("logs", async {
        let ns = ts::namespace("smoke-logs").await;
        let pod = ts::kwok::running_pod(&ns, "p").await;
        let pods: Api<Pod> = Api::namespaced(ts::client().await, &ns.name);
        let all = pods
            .logs(&pod.name, &LogParams::default())
            .await
            .map_err(ctx("logs"))?;
        let want = format!("{}\n{}\n", ts::kwok::LOG_LINES[0], ts::kwok::LOG_LINES[1]);
        check(all == want, || format!("logs {all:?}, expected {want:?}"))?;
        let tail = pods
            .logs(&pod.name, &LogParams::default().tail_lines(1))
            .await
            .map_err(ctx("logs --tail=1"))?;
        check(tail == format!("{}\n", ts::kwok::LOG_LINES[1]), || {
            format!("tail {tail:?}")
        })?;
        Ok((Outcome::Ok, "a KWOK pod's log, whole and --tail=1".into()))
    })
    .await;
}

#[tokio::test]
async fn port_forward() {
    smoke("port-forward", async {
        // KWOK forwards pod port 18083 to 127.0.0.1:18083, where this test runs an echo
        // server. Other test runs on this machine may hold the port for a moment: wait for it.
        let port = ts::kwok::FORWARDED_PORTS[2];
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let listener = loop {
            match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
                Ok(l) => break l,
                Err(e)
                    if e.kind() == std::io::ErrorKind::AddrInUse
                        && tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => return Err(format!("binding the echo server on port {port}: {e}")),
            }
        };
        let echo = tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = conn.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                    let _ = w.shutdown().await;
                });
            }
        });
        let ns = ts::namespace("smoke-pf").await;
        let pod = ts::kwok::running_pod(&ns, "p").await;
        let pods: Api<Pod> = Api::namespaced(ts::client().await, &ns.name);
        let result = async {
            let mut forward = pods
                .port_forward(&pod.name, &[port])
                .await
                .map_err(ctx("port-forward"))?;
            let stream = forward
                .take_stream(port)
                .ok_or_else(|| format!("no stream for port {port}"))?;
            let (mut reader, mut writer) = stream.into_split();
            let sent = b"smoke through port-forward";
            writer.write_all(sent).await.map_err(ctx("writing"))?;
            let mut echoed = vec![0u8; sent.len()];
            reader
                .read_exact(&mut echoed)
                .await
                .map_err(ctx("reading the echo"))?;
            check(echoed == sent, || {
                format!("echoed {:?}", String::from_utf8_lossy(&echoed))
            })?;
            Ok::<_, String>(())
        }
        .await;
        echo.abort();
        result?;
        Ok((
            Outcome::Ok,
            "WebSocket port-forward to a KWOK pod's port, bytes echoed back".into(),
        ))
    })
    .await;
}

#[tokio::test]
async fn watch_list() {
    smoke("watch-list", async {
        let ns = ts::namespace("smoke-watchlist").await;
        let api: Api<ConfigMap> = Api::namespaced(ts::client().await, &ns.name);
        for i in 0..3 {
            api.create(&PostParams::default(), &cm(&format!("w{i}"), "1"))
                .await
                .map_err(ctx("create"))?;
        }
        let informer = SharedInformer::new(
            api.clone(),
            InformerOptions::default().watch_list(WatchListMode::Auto),
        );
        informer.start();
        tokio::time::timeout(Duration::from_secs(30), informer.wait_for_sync())
            .await
            .map_err(|_| "the informer did not sync within 30 s".to_string())?;
        let store = informer.store();
        for i in 0..3 {
            let key = format!("{}/w{i}", ns.name);
            check(store.get_by_key(&key).is_some(), || {
                format!("the synced store lacks {key}")
            })?;
        }
        // And it keeps watching after the initial list.
        api.create(&PostParams::default(), &cm("late", "1"))
            .await
            .map_err(ctx("create late"))?;
        let late = format!("{}/late", ns.name);
        wait_for("the object made after the sync", || {
            store.get_by_key(&late).is_some()
        })
        .await?;
        let stats = informer.stats();
        informer.stop();
        if stats.streaming_lists >= 1 && stats.streaming_refused == 0 {
            return Ok((
                Outcome::Ok,
                format!(
                    "streaming watch-list (sendInitialEvents=true): {} streaming list(s), no paged LIST",
                    stats.streaming_lists
                ),
            ));
        }
        check(stats.streaming_refused >= 1 && stats.list_pages >= 1, || {
            format!("neither a streaming list nor a refused one then a paged list: {stats:?}")
        })?;
        // Ask the server once more, directly, for what it says to a streaming list.
        let refusal = match api
            .watch(&WatchParams::default().streaming_list().timeout(5), "")
            .await
        {
            Err(e) => match e.status() {
                Some(status) => format!(
                    "{} {}: {}",
                    status.code.unwrap_or_default(),
                    status.reason.clone().unwrap_or_default(),
                    status.message.clone().unwrap_or_default()
                ),
                None => e.to_string(),
            },
            Ok(stream) => {
                let first = Box::pin(stream).try_next().await;
                match first {
                    Ok(Some(WatchEvent::Error(status))) => status.message.unwrap_or_default(),
                    other => format!("the streaming watch now opened ({other:?})"),
                }
            }
        };
        let refusal: String = refusal.chars().take(200).collect();
        Ok((
            Outcome::Fallback,
            format!(
                "server refused a streaming watch-list (sendInitialEvents=true): {refusal}; \
                 the reflector fell back to a paged LIST then a WATCH ({} list page(s), {} \
                 watch(es)), synced and kept watching",
                stats.list_pages, stats.watches
            ),
        ))
    })
    .await;
}

#[tokio::test]
async fn protobuf() {
    smoke("protobuf", async {
        let ns = ts::namespace("smoke-protobuf").await;
        let types: Arc<Mutex<Vec<String>>> = Arc::default();
        let seen = types.clone();
        // Records the Content-Type of every answer.
        let layer = tower::layer::layer_fn(move |inner: BoxService| {
            let seen = seen.clone();
            tower::service_fn(move |request: http::Request<Body>| {
                let (seen, inner) = (seen.clone(), inner.clone());
                async move {
                    let response = inner.oneshot(request).await?;
                    let ct = response
                        .headers()
                        .get(http::header::CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string();
                    if let Ok(mut s) = seen.lock() {
                        s.push(ct);
                    }
                    Ok::<_, k8s_client::Error>(response)
                }
            })
        });
        let client: Client = ClientBuilder::new(ts::config("admin").await)
            .transport_layer(layer)
            .build()
            .map_err(ctx("client"))?;
        let api: Api<ConfigMap> = Api::namespaced(client, &ns.name);
        check(api.uses_protobuf(), || {
            "the handle does not ask for protobuf (feature off?)".into()
        })?;
        let created = api
            .create(&PostParams::default(), &cm("pb", "protobuf body"))
            .await
            .map_err(ctx("create"))?;
        let got = api.get("pb").await.map_err(ctx("get"))?;
        check(data(&got) == Some("protobuf body"), || format!("{got:?}"))?;
        check(got.metadata.uid == created.metadata.uid, || "uid differs".into())?;
        let list = api
            .list(&ListParams::default())
            .await
            .map_err(ctx("list"))?;
        check(list.items.iter().any(|c| data(c) == Some("protobuf body")), || {
            "the list lacks the object".into()
        })?;
        let types = types.lock().map(|t| t.clone()).unwrap_or_default();
        let pb = types
            .iter()
            .filter(|t| t.starts_with("application/vnd.kubernetes.protobuf"))
            .count();
        if api.uses_protobuf() && pb >= 3 {
            Ok((
                Outcome::Ok,
                format!(
                    "create, get, list of ConfigMaps as application/vnd.kubernetes.protobuf ({pb} of {} answers)",
                    types.len()
                ),
            ))
        } else if !api.uses_protobuf() {
            Ok((
                Outcome::Fallback,
                format!("server refused protobuf; the handle switched to JSON (answers: {types:?})"),
            ))
        } else {
            Err(format!(
                "the handle uses protobuf but only {pb} answers were protobuf: {types:?}"
            ))
        }
    })
    .await;
}
