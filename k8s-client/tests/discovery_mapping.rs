//! Kind/resource mapping against the real control plane: what people type (`deploy`, `po`,
//! `deployments.apps`, `deployment.v1.apps`, a CRD's short name) resolves to one resource;
//! a name two CRD groups serve is reported as ambiguous with both candidates.

use std::time::{Duration, Instant};

use k8s_client::api::{Api, PostParams};
use k8s_client::discovery::{DiscoveredResource, Discovery, DiscoveryMode, MappingError};
use k8s_client::Client;
use k8s_client_testsupport as ts;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::json;

/// Verbs and subresources sorted, for comparing two formats' answers.
fn sorted(r: &DiscoveredResource) -> DiscoveredResource {
    let mut r = r.clone();
    r.verbs.sort();
    r.subresources.sort_by(|a, b| a.name.cmp(&b.name));
    for s in &mut r.subresources {
        s.verbs.sort();
    }
    r
}

/// Creates a namespaced CRD with status and scale subresources and a category, and waits
/// until it is Established.
async fn create_crd(
    client: &Client,
    group: &str,
    kind: &str,
    short: &[&str],
    category: &str,
) -> String {
    let plural = format!("{}s", kind.to_lowercase());
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.{group}")},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {
                "plural": plural, "singular": kind.to_lowercase(), "kind": kind,
                "shortNames": short, "categories": [category]
            },
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {"replicas": {"type": "integer"}}},
                    "status": {"type": "object", "properties": {"replicas": {"type": "integer"}}}
                }}},
                "subresources": {
                    "status": {},
                    "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"}
                }
            }]
        }
    }))
    .unwrap();
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let name = api
        .create(&PostParams::default(), &crd)
        .await
        .unwrap()
        .metadata
        .name
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let crd = api.get(&name).await.unwrap();
        let established = crd
            .status
            .and_then(|s| s.conditions)
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True");
        if established {
            return name;
        }
        assert!(
            Instant::now() < deadline,
            "CRD {name} not Established after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn builtin_names_resolve() {
    let mut config = ts::config("admin").await;
    config.rate_limit = None;
    let discovery = Discovery::new(Client::try_from(config).unwrap());
    let gvr = |r: k8s_client::discovery::DiscoveredResource| r.api.gvr().to_string();
    for input in [
        "deploy",
        "deployments",
        "deployment",
        "Deployment",
        "deployments.apps",
        "deployment.v1.apps",
    ] {
        assert_eq!(
            gvr(discovery.resolve(input).await.unwrap()),
            "deployments.v1.apps",
            "{input}"
        );
    }
    let po = discovery.resolve("po").await.unwrap();
    assert_eq!(po.api.gvr().to_string(), "v1/pods");
    assert!(po.supports("watch") && po.subresource("log").is_some());
    assert_eq!(gvr(discovery.resolve("svc").await.unwrap()), "v1/services");
    assert_eq!(
        gvr(discovery.resolve("hpa").await.unwrap()),
        "horizontalpodautoscalers.v2.autoscaling"
    );
    // Served by core v1 and events.k8s.io/v1: the core group has priority, as in kubectl.
    assert_eq!(gvr(discovery.resolve("events").await.unwrap()), "v1/events");
    assert_eq!(
        gvr(discovery.resolve("events.events.k8s.io").await.unwrap()),
        "events.v1.events.k8s.io"
    );
    assert!(matches!(
        discovery.resolve("deployments.v1beta2.apps").await,
        Err(MappingError::NotFound { .. })
    ));
    assert!(matches!(
        discovery.resolve("apps/v1").await,
        Err(MappingError::Invalid { .. })
    ));
    let err = discovery.resolve("nosuchresource").await.unwrap_err();
    assert!(err.to_string().contains("nosuchresource"), "{err}");
}

#[tokio::test]
async fn crd_short_names_and_ambiguity() {
    let mut config = ts::config("admin").await;
    config.rate_limit = None;
    let client = Client::try_from(config.clone()).unwrap();
    let discovery =
        Discovery::new(client.clone()).refresh_on_miss_interval(Duration::from_millis(200));
    // Taken before the CRDs exist: the lookups below must refresh on their miss.
    let before = discovery.snapshot().await.unwrap();

    let id = ts::unique_suffix();
    let (group_a, group_b) = (format!("a{id}.example.com"), format!("b{id}.example.com"));
    let kind = format!("Gadget{id}");
    let plural = format!("gadget{id}s");
    let short = format!("gd{id}");
    let category = format!("cat{id}");
    let mut crds = ts::DeleteOnDrop::<CustomResourceDefinition>::new(&config);
    crds.add(&create_crd(&client, &group_a, &kind, &[&short], &category).await);
    crds.add(&create_crd(&client, &group_b, &kind, &[], &category).await);
    assert!(before.resolve(&short).is_err());

    // Discovery may lag a moment behind Established: retry until both groups are served.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let a = discovery.resolve(&format!("{plural}.{group_a}")).await;
        let b = discovery.resolve(&format!("{plural}.v1.{group_b}")).await;
        match (a, b) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a.api.group, group_a);
                assert_eq!(b.api.group, group_b);
                assert_eq!(
                    a.subresource("scale").unwrap().kind.as_ref().unwrap().kind,
                    "Scale"
                );
                assert!(a.subresource("status").is_some());
                break;
            }
            (a, b) if Instant::now() < deadline => {
                assert!(
                    matches!(a, Ok(_) | Err(MappingError::NotFound { .. })),
                    "{a:?}"
                );
                assert!(
                    matches!(b, Ok(_) | Err(MappingError::NotFound { .. })),
                    "{b:?}"
                );
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            (a, b) => panic!("the CRDs never appeared in discovery: {a:?} {b:?}"),
        }
    }

    let by_short = discovery.resolve(&short).await.unwrap();
    assert_eq!(
        (by_short.api.group.as_str(), by_short.api.kind.as_str()),
        (group_a.as_str(), kind.as_str())
    );
    assert_eq!(by_short.short_names, std::slice::from_ref(&short));
    assert!(by_short.categories.contains(&category));

    // The plural, singular and kind are served by both groups, with no priority between them.
    for input in [plural.clone(), kind.clone(), kind.to_lowercase()] {
        match discovery.resolve(&input).await {
            Err(MappingError::Ambiguous { candidates, .. }) => {
                let mut candidates = candidates;
                candidates.sort();
                assert_eq!(
                    candidates,
                    [
                        format!("{plural}.v1.{group_a}"),
                        format!("{plural}.v1.{group_b}")
                    ]
                );
            }
            other => panic!("{input}: expected ambiguity, got {other:?}"),
        }
    }
    let err = discovery.resolve(&plural).await.unwrap_err().to_string();
    assert!(
        err.contains("ambiguous") && err.contains(&group_a) && err.contains(&group_b),
        "{err}"
    );

    // The legacy endpoints describe the CRD exactly as aggregated discovery does.
    let qualified = format!("{plural}.{group_a}");
    let aggregated = sorted(&discovery.resolve(&qualified).await.unwrap());
    let legacy = Discovery::new(client.clone()).mode(DiscoveryMode::Legacy);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match legacy.refresh().await.unwrap().resolve(&qualified) {
            Ok(r) => {
                assert_eq!(sorted(r), aggregated);
                break;
            }
            Err(e) if Instant::now() < deadline => {
                assert!(matches!(e, MappingError::NotFound { .. }), "{e}");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => panic!("legacy discovery never showed {qualified}: {e}"),
        }
    }
    assert_eq!(aggregated.categories, std::slice::from_ref(&category));
    assert_eq!(
        aggregated
            .subresource("scale")
            .unwrap()
            .kind
            .as_ref()
            .unwrap()
            .to_string(),
        "autoscaling/v1/Scale"
    );

    let in_category = discovery.category(&category).await.unwrap();
    assert_eq!(in_category.len(), 2, "{in_category:?}");
    drop(crds);
}
