//! Discovery against the real control plane: aggregated and legacy discovery agree field by
//! field; preferred resources; the seed's discovery example; version-skew checks.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use k8s_client::api::GroupVersionKind;
use k8s_client::discovery::{
    DeprecationSource, Discovery, DiscoveryFormat, DiscoveryMode, KindStatus, SkewCheck, Snapshot,
};
use k8s_client::Client;
use k8s_client_testsupport as ts;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;

#[allow(dead_code)]
#[path = "../examples/discovery.rs"]
mod example;

async fn client() -> Client {
    let mut config = ts::config("admin").await;
    config.rate_limit = None;
    Client::try_from(config).unwrap()
}

/// Everything discovery says, normalized for comparison (sorted verbs, subresources by name).
fn normalized(s: &Snapshot) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for g in &s.groups {
        out.insert(
            format!("group {}", g.name),
            format!("{:?} preferred {:?}", g.versions, g.preferred()),
        );
    }
    for gv in &s.resources {
        for r in &gv.resources {
            let mut verbs = r.verbs.clone();
            verbs.sort();
            let mut subs: Vec<String> = r
                .subresources
                .iter()
                .map(|s| {
                    let mut v = s.verbs.clone();
                    v.sort();
                    format!(
                        "{} kind={:?} verbs={v:?}",
                        s.name,
                        s.kind.as_ref().map(|k| k.to_string())
                    )
                })
                .collect();
            subs.sort();
            out.insert(
                r.api.gvr().to_string(),
                format!(
                    "kind={} namespaced={} singular={} verbs={verbs:?} short={:?} categories={:?} subresources={subs:?}",
                    r.api.kind, r.api.namespaced, r.singular, r.short_names, r.categories
                ),
            );
        }
    }
    out
}

#[tokio::test]
async fn aggregated_and_legacy_agree() {
    let client = client().await;
    // Other tests create and delete CRDs on the same server at the same time: a difference
    // that goes away on a second look is such a race; a real one stays.
    let mut last_diff = Vec::new();
    for _attempt in 0..5 {
        let aggregated = Discovery::new(client.clone()).refresh().await.unwrap();
        let legacy = Discovery::new(client.clone())
            .mode(DiscoveryMode::Legacy)
            .refresh()
            .await
            .unwrap();
        assert_eq!(
            aggregated.format,
            DiscoveryFormat::AggregatedV2,
            "1.30+ serves aggregated v2"
        );
        assert_eq!(legacy.format, DiscoveryFormat::Legacy);
        // Other tests may have an aggregated API down at this moment: both formats must
        // report the same failed group/versions (compared below), and discover the rest.
        let failed = |s: &Snapshot| s.failed.keys().cloned().collect::<Vec<_>>();
        assert!(
            aggregated.resources.len() > 15,
            "{} group/versions",
            aggregated.resources.len()
        );
        if failed(&aggregated) != failed(&legacy) {
            last_diff = vec![format!(
                "failed: aggregated {:?}, legacy {:?}",
                aggregated.failed, legacy.failed
            )];
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        }
        let group_order =
            |s: &Snapshot| s.groups.iter().map(|g| g.name.clone()).collect::<Vec<_>>();
        let (a, l) = (normalized(&aggregated), normalized(&legacy));
        last_diff = a
            .iter()
            .filter(|(k, v)| l.get(*k) != Some(*v))
            .map(|(k, v)| format!("aggregated {k}: {v}\n    legacy: {:?}", l.get(k)))
            .chain(
                l.iter()
                    .filter(|(k, _)| !a.contains_key(*k))
                    .map(|(k, v)| format!("legacy only {k}: {v}")),
            )
            .collect();
        if last_diff.is_empty() && group_order(&aggregated) == group_order(&legacy) {
            assert_eq!(aggregated.groups[0].name, "", "core first");
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!(
        "aggregated and legacy discovery differ:\n{}",
        last_diff.join("\n")
    );
}

#[tokio::test]
async fn what_a_server_serves() {
    let discovery = Discovery::new(client().await);
    let snapshot = discovery.snapshot().await.unwrap();
    let (major, minor) = snapshot.server_version.major_minor().unwrap();
    assert_eq!(major, 1);
    assert!(minor >= 33, "{}", snapshot.server_version);

    let deploy = snapshot
        .resolve_kind(&GroupVersionKind::of::<Deployment>())
        .unwrap();
    assert_eq!(deploy.short_names, ["deploy"]);
    assert!(deploy.categories.contains(&"all".to_string()));
    let scale = deploy.subresource("scale").unwrap();
    assert_eq!(
        scale.kind,
        Some(GroupVersionKind::new("autoscaling", "v1", "Scale"))
    );
    assert!(deploy.subresource("status").is_some());
    let pods = snapshot
        .resolve_kind(&GroupVersionKind::of::<Pod>())
        .unwrap();
    for sub in ["log", "status", "exec", "eviction", "binding"] {
        assert!(pods.subresource(sub).is_some(), "pods/{sub}");
    }
    assert_eq!(
        pods.subresource("eviction").unwrap().kind,
        Some(GroupVersionKind::new("policy", "v1", "Eviction"))
    );

    // One entry per group/resource at the preferred version.
    let preferred = discovery.preferred_resources().await.unwrap();
    let hpas: Vec<_> = preferred
        .iter()
        .filter(|r| r.api.plural == "horizontalpodautoscalers")
        .collect();
    assert_eq!(hpas.len(), 1);
    assert_eq!(hpas[0].api.version, "v2");
    let mut keys: Vec<_> = preferred
        .iter()
        .map(|r| (r.api.group.clone(), r.api.plural.clone()))
        .collect();
    let n = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), n, "one entry per group/resource");

    let all = discovery.category("all").await.unwrap();
    assert!(
        all.iter().any(|r| r.api.plural == "pods")
            && all.iter().any(|r| r.api.plural == "deployments")
    );
    assert!(all.iter().all(|r| r.api.plural != "secrets"));

    // Served from memory: the same Arc.
    let again = discovery.snapshot().await.unwrap();
    assert!(std::sync::Arc::ptr_eq(&snapshot, &again));
    discovery.invalidate();
    let fresh = discovery.snapshot().await.unwrap();
    assert!(!std::sync::Arc::ptr_eq(&snapshot, &fresh));
}

#[tokio::test]
async fn seed_discovery_example() {
    let mut out = Vec::new();
    example::run(client().await, &mut out).await.unwrap();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines.contains(&"group (core): versions [v1], preferred v1"),
        "{text}"
    );
    assert!(
        lines.contains(&"group apps: versions [apps/v1], preferred apps/v1"),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("group events.k8s.io: versions [events.k8s.io/v1")),
        "{text}"
    );
    for name in [
        "pods",
        "pods/status",
        "pods/log",
        "podtemplates",
        "replicationcontrollers/scale",
        "secrets",
        "serviceaccounts",
    ] {
        assert!(lines.contains(&name), "{name} missing from:\n{text}");
    }
}

#[tokio::test]
async fn skew_check() {
    let started = Instant::now();
    let discovery = Discovery::new(client().await);
    let v1beta2 = GroupVersionKind::new("apps", "v1beta2", "Deployment");
    let component_status = GroupVersionKind::new("", "v1", "ComponentStatus");
    let report = SkewCheck::new()
        .kind::<Deployment>()
        .gvk(v1beta2.clone())
        .gvk(GroupVersionKind::new("batch", "v1beta1", "CronJob"))
        .gvk(component_status.clone())
        .probe_warnings(true)
        .run(&discovery)
        .await
        .unwrap();
    println!("{report}");
    let deploy = report.get(&GroupVersionKind::of::<Deployment>()).unwrap();
    assert_eq!(
        deploy.status,
        KindStatus::Served {
            deprecated: None,
            replacement: None
        },
        "{deploy}"
    );
    let old = report.get(&v1beta2).unwrap();
    assert_eq!(
        old.status,
        KindStatus::NotServed {
            replacement: Some(GroupVersionKind::new("apps", "v1", "Deployment")),
            removed_in: Some("1.16".into())
        }
    );
    // The deprecation comes from the server itself (its Warning header).
    match &report.get(&component_status).unwrap().status {
        KindStatus::Served {
            deprecated: Some(d),
            ..
        } => {
            assert_eq!(d.source, DeprecationSource::ServerWarning, "{d:?}");
            assert!(d.message.contains("ComponentStatus is deprecated"), "{d:?}");
        }
        other => panic!("{other:?}"),
    }
    let version = report.server_version.to_string();
    let err = report.into_result().unwrap_err().to_string();
    assert!(
        err.contains(&format!(
            "this program uses apps/v1beta2 Deployment, which this server ({version}) does not serve (removed in v1.16); use apps/v1"
        )),
        "{err}"
    );
    assert!(
        err.contains("batch/v1beta1 CronJob") && err.contains("use batch/v1"),
        "{err}"
    );
    let ok = SkewCheck::new()
        .kind::<Deployment>()
        .kind::<Pod>()
        .run(&discovery)
        .await
        .unwrap();
    assert!(ok.into_result().is_ok());
    assert!(started.elapsed() < Duration::from_secs(30));
}

use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService;

/// An aggregated API whose backend is missing: aggregated discovery marks it `Stale`, its
/// legacy endpoint answers 503. Neither fails discovery: the rest is reported, and the
/// failed group/version is named.
#[tokio::test]
async fn a_failing_group_version_is_reported_not_fatal() {
    let mut config = ts::config("admin").await;
    config.rate_limit = None;
    let client = Client::try_from(config.clone()).unwrap();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let group = format!(
        "down{:x}{:x}.example.com",
        std::process::id() % 0xffff,
        nanos % 0xfffff
    );
    let gv = format!("{group}/v1alpha1");
    let service: APIService = serde_json::from_value(serde_json::json!({
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": format!("v1alpha1.{group}")},
        "spec": {
            "group": group, "version": "v1alpha1",
            "groupPriorityMinimum": 1000, "versionPriority": 15,
            "insecureSkipTLSVerify": true,
            "service": {"namespace": "default", "name": "no-such-service", "port": 443}
        }
    }))
    .unwrap();
    let api: k8s_client::Api<APIService> = k8s_client::Api::all(client.clone());
    let created = api
        .create(&k8s_client::api::PostParams::default(), &service)
        .await
        .unwrap();
    let mut guard = ts::DeleteOnDrop::<APIService>::new(&config);
    guard.add(&created.metadata.name.unwrap());

    for mode in [DiscoveryMode::Aggregated, DiscoveryMode::Legacy] {
        let discovery = Discovery::new(client.clone()).mode(mode);
        let deadline = Instant::now() + Duration::from_secs(30);
        let snapshot = loop {
            let s = discovery
                .refresh()
                .await
                .unwrap_or_else(|e| panic!("{mode:?}: {e}"));
            if s.failed.contains_key(&gv) {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "{mode:?}: {gv} never reported as failed: {:?}",
                s.failed
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert!(
            snapshot.serves_api_version(&gv),
            "{mode:?}: the group is listed"
        );
        assert!(snapshot.resources_for(&gv).is_none());
        // Everything else was discovered.
        assert_eq!(
            snapshot.resolve("deploy").unwrap().api.plural,
            "deployments",
            "{mode:?}"
        );
        assert!(snapshot.resources_for("v1").is_some());
        match snapshot.check_complete() {
            Err(k8s_client::discovery::DiscoveryError::GroupDiscoveryFailed { failed }) => {
                assert!(failed.contains_key(&gv), "{failed:?}")
            }
            other => panic!("{mode:?}: {other:?}"),
        }
        match mode {
            DiscoveryMode::Aggregated => assert!(
                snapshot.failed[&gv].contains("Stale"),
                "{}",
                snapshot.failed[&gv]
            ),
            DiscoveryMode::Legacy => assert!(
                snapshot.failed[&gv].contains("503"),
                "{}",
                snapshot.failed[&gv]
            ),
        }
        // Lookups say what could not be discovered.
        let err = discovery
            .resolve("nosuchthing")
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(&gv), "{err}");
        match discovery.resources_for(&gv).await {
            Err(k8s_client::discovery::DiscoveryError::GroupDiscoveryFailed { failed }) => {
                assert!(failed.contains_key(&gv))
            }
            other => panic!("{other:?}"),
        }
        let report = SkewCheck::new()
            .gvk(GroupVersionKind::new(&group, "v1alpha1", "Thing"))
            .run(&discovery)
            .await
            .unwrap();
        assert!(
            matches!(report.kinds[0].status, KindStatus::Unknown { .. }),
            "{report}"
        );
    }
}
