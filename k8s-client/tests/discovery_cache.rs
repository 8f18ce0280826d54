//! The discovery caches against the real control plane: the disk cache survives a process
//! restart (a second `Discovery` over the same directory answers with an unreachable
//! server), is refreshed on a miss after a CRD is added, and concurrent writers never leave
//! a corrupt file.

use std::time::{Duration, Instant};

use k8s_client::api::{Api, PostParams};
use k8s_client::discovery::{Discovery, DiskCache, MappingError, Snapshot};
use k8s_client::{Client, Config};
use k8s_client_testsupport as ts;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::json;

async fn config() -> Config {
    let mut config = ts::config("admin").await;
    config.rate_limit = None;
    config
}

/// A client for a server that is not there: any request fails.
fn unreachable_client(config: &Config) -> Client {
    let mut config = config.clone();
    config.cluster_url = "https://127.0.0.1:1".parse().unwrap();
    config.retry.steps = Some(1); // no retries
    config.timeout = Some(Duration::from_secs(2));
    Client::try_from(config).unwrap()
}

/// Creates a namespaced CRD and waits until it is Established.
async fn create_crd(client: &Client, group: &str, kind: &str, short: &[&str]) -> String {
    let plural = format!("{}s", kind.to_lowercase());
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.{group}")},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": plural, "singular": kind.to_lowercase(), "kind": kind, "shortNames": short},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}
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
async fn disk_cache_survives_restart_and_refreshes_on_miss() {
    let config = config().await;
    let client = Client::try_from(config.clone()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = DiskCache::new(dir.path());

    // First "process": fetches from the server and writes the cache.
    let first = Discovery::new(client.clone()).disk_cache(cache.clone());
    let fetched = first.snapshot().await.unwrap();
    assert!(cache.file().is_file());

    // Second "process" whose server is unreachable: answers from disk.
    let offline = Discovery::new(unreachable_client(&config)).disk_cache(cache.clone());
    let from_disk = offline.snapshot().await.unwrap();
    assert_eq!(*from_disk, *fetched);
    assert_eq!(
        offline.resolve("deploy").await.unwrap().api.plural,
        "deployments"
    );
    // Proof that it is offline: a miss tries the server, which fails.
    match offline.resolve("nosuchthing").await {
        Err(MappingError::Discovery(e)) => assert!(
            e.to_string().contains("127.0.0.1:1") || e.to_string().contains("/version"),
            "{e}"
        ),
        other => panic!("expected the refresh to fail: {other:?}"),
    }
    // An expired cache is not used.
    let expired =
        Discovery::new(unreachable_client(&config)).disk_cache(cache.clone().ttl(Duration::ZERO));
    tokio::time::sleep(Duration::from_millis(5)).await; // older than 0 ms, whatever the clock
    assert!(expired.snapshot().await.is_err());

    // A CRD added after the cache was written: the lookup misses, refreshes, and finds it.
    let id = ts::unique_suffix();
    let group = format!("cache{id}.example.com");
    let kind = format!("Gizmo{id}");
    let short = format!("gz{id}");
    let mut crds = ts::DeleteOnDrop::<CustomResourceDefinition>::new(&config);
    crds.add(&create_crd(&client, &group, &kind, &[&short]).await);

    let restarted = Discovery::new(client.clone())
        .disk_cache(cache.clone())
        .refresh_on_miss_interval(Duration::from_millis(200));
    assert!(
        restarted.snapshot().await.unwrap().resolve(&short).is_err(),
        "the cached snapshot predates the CRD"
    );
    // Aggregated discovery may lag a moment behind Established: retry the lookup (each
    // miss refreshes at most every 200 ms).
    let deadline = Instant::now() + Duration::from_secs(30);
    let found = loop {
        match restarted.resolve(&short).await {
            Ok(r) => break r,
            Err(MappingError::NotFound { .. }) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(250)).await
            }
            Err(e) => panic!("resolving {short}: {e}"),
        }
    };
    assert_eq!(found.api.group, group);
    assert_eq!(found.api.kind, kind);
    assert!(found.api.namespaced);

    // The refresh was written back: a third, offline process knows the CRD.
    let offline = Discovery::new(unreachable_client(&config)).disk_cache(cache.clone());
    assert_eq!(offline.resolve(&short).await.unwrap().api.group, group);

    // invalidate() distrusts the disk: the offline process must now ask the (absent) server.
    offline.invalidate();
    assert!(offline.snapshot().await.is_err());
}

#[tokio::test]
async fn concurrent_writers_never_leave_a_corrupt_file() {
    let client = Client::try_from(config().await).unwrap();
    let snapshot = Discovery::new(client).refresh().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = DiskCache::new(dir.path().join("127.0.0.1_6443"));
    cache.store(&snapshot).unwrap();

    // Each writer stores a variant of its own, so readers can tell whole files apart.
    let variants: Vec<Snapshot> = (0..6)
        .map(|i| {
            let mut s = (*snapshot).clone();
            s.failed
                .insert(format!("writer.example.com/v{i}"), "marker".into());
            s
        })
        .collect();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    std::thread::scope(|scope| {
        let writers: Vec<_> = variants
            .iter()
            .map(|v| {
                let cache = cache.clone();
                scope.spawn(move || {
                    for _ in 0..15 {
                        cache.store(v).unwrap();
                    }
                })
            })
            .collect();
        let readers: Vec<_> = (0..3)
            .map(|_| {
                let cache = cache.clone();
                let stop = stop.clone();
                let variants = &variants;
                let original = &*snapshot;
                scope.spawn(move || {
                    let mut reads = 0;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let loaded = cache
                            .load()
                            .expect("a reader saw a missing or corrupt file");
                        assert!(
                            &loaded == original || variants.contains(&loaded),
                            "a reader saw a mixed file"
                        );
                        reads += 1;
                    }
                    reads
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for r in readers {
            assert!(r.join().unwrap() > 0);
        }
    });
    let files: Vec<_> = std::fs::read_dir(cache.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(files.len(), 1, "temporary files left behind: {files:?}");
    assert!(variants.contains(&cache.load().unwrap()));

    // Async tasks writing through Discovery at the same time as well.
    let client = Client::try_from(config().await).unwrap();
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let d = Discovery::new(client.clone()).disk_cache(cache.clone());
            tokio::spawn(async move { d.refresh().await.map(|_| ()) })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let final_snapshot = cache
        .load()
        .expect("a whole file after concurrent refreshes");
    assert!(final_snapshot.resolve("po").is_ok());
}

#[tokio::test]
async fn misses_refresh_at_most_once_per_interval() {
    let client = Client::try_from(config().await).unwrap();
    // A refresh replaces the snapshot in memory (a new Arc): that is what is observed here.
    let throttled =
        Discovery::new(client.clone()).refresh_on_miss_interval(Duration::from_secs(3600));
    let first = throttled.refresh().await.unwrap();
    assert!(matches!(
        throttled.resolve("nosuchthing").await,
        Err(MappingError::NotFound { .. })
    ));
    assert!(throttled
        .resolve_kind(&k8s_client::api::GroupVersionKind::new(
            "apps",
            "v1beta2",
            "Deployment"
        ))
        .await
        .unwrap()
        .is_none());
    assert!(
        std::sync::Arc::ptr_eq(&first, &throttled.snapshot().await.unwrap()),
        "a miss within the interval must not refetch"
    );

    let eager = Discovery::new(client).refresh_on_miss_interval(Duration::ZERO);
    let first = eager.refresh().await.unwrap();
    assert!(matches!(
        eager.resolve("nosuchthing").await,
        Err(MappingError::NotFound { .. })
    ));
    let second = eager.snapshot().await.unwrap();
    assert!(
        !std::sync::Arc::ptr_eq(&first, &second),
        "a miss after the interval refetches"
    );
    // A hit never refetches.
    eager.resolve("deploy").await.unwrap();
    assert!(std::sync::Arc::ptr_eq(
        &second,
        &eager.snapshot().await.unwrap()
    ));
}
