//! Shared informers, the factory, indexers, listers and transforms against the real control
//! plane.

use k8s_client_testsupport::eventually;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_client::api::{DeleteParams, Object, Patch, PatchParams, PostParams};
use k8s_client::cache::{
    strip_managed_fields, DeletedObject, Event, InformerFactory, InformerOptions, SharedInformer,
};
use k8s_client::Api;
use k8s_client_testsupport as ts;
use k8s_openapi::api::core::v1::ConfigMap;

fn cm(name: &str, labels: &[(&str, &str)]) -> ConfigMap {
    let mut c = ConfigMap::default();
    c.metadata.name = Some(name.into());
    c.metadata.labels = Some(
        labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
    );
    c
}

fn name(o: &ConfigMap) -> String {
    o.name().unwrap_or_default().to_string()
}

fn app(o: &ConfigMap) -> Option<String> {
    o.meta().labels.as_ref().and_then(|l| l.get("app").cloned())
}

fn names(events: &Mutex<Vec<String>>) -> Vec<String> {
    events.lock().unwrap().clone()
}

#[tokio::test]
async fn handlers_late_handlers_deletes_indexers_and_listers() {
    handlers_late_handlers_deletes_indexers_and_listers_with(InformerOptions::default()).await;
}

/// The same with a compact store (every read decodes its packed copy), and managedFields
/// dropped by the informer option (skipped while decoding protobuf) instead of the transform.
#[tokio::test]
async fn compact_store_handlers_late_handlers_deletes_indexers_and_listers() {
    handlers_late_handlers_deletes_indexers_and_listers_with(
        InformerOptions::default()
            .compact()
            .without_managed_fields(),
    )
    .await;
}

async fn handlers_late_handlers_deletes_indexers_and_listers_with(
    options: InformerOptions<ConfigMap>,
) {
    let compact = options.packing.is_some();
    let options = match options.drop_managed_fields {
        true => options,
        false => options.transform(strip_managed_fields()),
    };
    let ns = ts::namespace("cache-informer").await;
    let client = ts::client().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &ns.name);
    for (name, app) in [("a", "web"), ("b", "web"), ("c", "db")] {
        api.create(&PostParams::default(), &cm(name, &[("app", app)]))
            .await
            .unwrap();
    }
    let informer = SharedInformer::new(api.clone(), options);
    assert_eq!(informer.store().is_compact(), compact);
    informer
        .add_indexer(
            "app",
            Arc::new(|c: &ConfigMap| app(c).into_iter().collect()),
        )
        .unwrap();
    let early: Arc<Mutex<Vec<String>>> = Arc::default();
    let e = early.clone();
    let early_reg = informer.add_handler(move |ev: Event<ConfigMap>| {
        let line = match &ev {
            Event::Added(o) => format!("add {}", name(o)),
            Event::Updated { old, new } => {
                // The old side too (decoded from its packed copy in a compact store).
                format!("update {} {:?}->{:?}", name(new), app(old), app(new))
            }
            Event::Deleted(DeletedObject::Known(o)) => {
                // The final state the server reported, labels included.
                format!("delete {} app={:?}", name(o), app(o))
            }
            Event::Deleted(other) => format!("tombstone {}", other.key()),
        };
        e.lock().unwrap().push(line);
    });
    informer.start();
    tokio::time::timeout(Duration::from_secs(30), informer.wait_for_sync())
        .await
        .expect("the informer did not sync within 30 s");
    tokio::time::timeout(Duration::from_secs(30), early_reg.wait_for_sync())
        .await
        .expect("the handler did not sync within 30 s");
    let mut initial = names(&early);
    initial.sort();
    initial.retain(|l| !l.contains("kube-root-ca.crt"));
    assert_eq!(initial, ["add a", "add b", "add c"]);

    // The transform ran before caching.
    let a = informer
        .store()
        .get_by_key(&format!("{}/a", ns.name))
        .unwrap();
    assert!(a.metadata.managed_fields.is_none());
    // What is cached is what the server has (less managedFields), whichever way it is kept.
    let mut from_server = api.get("a").await.unwrap();
    from_server.metadata.managed_fields = None;
    assert_eq!(*a, from_server);

    // Indexer and lister.
    let mut web: Vec<String> = informer
        .store()
        .by_index("app", "web")
        .unwrap()
        .iter()
        .map(|o| name(o))
        .collect();
    web.sort();
    assert_eq!(web, ["a", "b"]);
    let lister = informer.lister().by_namespace(&ns.name);
    assert_eq!(
        lister.list_selected("app in (db),!missing").unwrap().len(),
        1
    );
    // kube-controller-manager adds kube-root-ca.crt to every namespace, at a moment of its own.
    let not_web: Vec<String> = lister
        .list_selected("app!=web")
        .unwrap()
        .iter()
        .map(|o| name(o))
        .filter(|n| n != "kube-root-ca.crt")
        .collect();
    assert_eq!(not_web, ["c"]);
    assert!(lister.list_selected("app in (").is_err());
    assert!(lister.get("a").is_some());

    // A late handler first gets the cached objects as adds, then changes.
    let late: Arc<Mutex<Vec<String>>> = Arc::default();
    let l = late.clone();
    let late_reg = informer.add_handler(move |ev: Event<ConfigMap>| {
        l.lock().unwrap().push(format!("{ev:?}"));
    });
    tokio::time::timeout(Duration::from_secs(30), late_reg.wait_for_sync())
        .await
        .expect("the late handler did not sync");
    let cached = informer.store().len();
    assert!(names(&late).iter().all(|l| l.starts_with("Added(")));
    assert_eq!(names(&late).len(), cached);

    // A deletion carries the last state; a removed handler hears nothing more.
    late_reg.remove();
    api.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"metadata": {"labels": {"app": "gone"}}})),
    )
    .await
    .unwrap();
    api.delete("a", &DeleteParams::default()).await.unwrap();
    eventually("the delete of a", || {
        names(&early).contains(&"delete a app=Some(\"gone\")".to_string())
    })
    .await;
    assert!(names(&early).contains(&"update a Some(\"web\")->Some(\"gone\")".to_string()));
    assert_eq!(names(&late).len(), cached);
    assert!(informer.store().by_index("app", "gone").unwrap().is_empty());
}

#[tokio::test]
async fn factory_shares_informers_and_waits_for_all() {
    let ns = ts::namespace("cache-factory").await;
    let client = ts::client().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &ns.name);
    api.create(&PostParams::default(), &cm("x", &[("app", "web")]))
        .await
        .unwrap();
    let factory = InformerFactory::new(client.clone());
    let one = factory.namespaced_informer::<ConfigMap>(&ns.name);
    let two = factory.namespaced_informer::<ConfigMap>(&ns.name);
    assert!(one.ptr_eq(&two));
    let labelled =
        factory.informer_with_options(api.clone(), InformerOptions::default().labels("app=web"));
    assert!(!labelled.ptr_eq(&one));
    // Compact and without-managedFields informers are informers of their own.
    let compact = factory.informer_with_options(api.clone(), InformerOptions::default().compact());
    let lean = factory.informer_with_options(
        api.clone(),
        InformerOptions::default().without_managed_fields(),
    );
    assert!(!compact.ptr_eq(&one) && !lean.ptr_eq(&one) && !lean.ptr_eq(&compact));
    assert!(compact.store().is_compact() && !one.store().is_compact());
    let compact_factory = InformerFactory::new(client.clone()).compact(true);
    assert!(compact_factory
        .namespaced_informer::<ConfigMap>(&ns.name)
        .store()
        .is_compact());
    assert!(!factory.has_synced());
    factory.start();
    tokio::time::timeout(Duration::from_secs(30), factory.wait_for_cache_sync())
        .await
        .expect("the factory's informers did not sync within 30 s");
    assert!(factory.has_synced());
    assert!(one.store().get_by_key(&format!("{}/x", ns.name)).is_some());
    // kube-root-ca.crt has no app label.
    assert_eq!(labelled.store().len(), 1);
    assert_eq!(one.stats().lists, 1);
    let x = compact
        .store()
        .get_by_key(&format!("{}/x", ns.name))
        .unwrap();
    assert_eq!(
        x.metadata.labels,
        cm("x", &[("app", "web")]).metadata.labels
    );
    let x = lean.store().get_by_key(&format!("{}/x", ns.name)).unwrap();
    assert!(x.metadata.managed_fields.is_none());
}

#[tokio::test]
async fn factory_serves_dynamic_and_metadata_informers() {
    use k8s_client::api::ApiResource;
    use k8s_client::dynamic::DynamicApi;
    use k8s_client::metadata::MetadataApi;

    let ns = ts::namespace("cache-dynamic").await;
    let client = ts::client().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &ns.name);
    let mut c = cm("d", &[("app", "web")]);
    c.data = Some([("k".to_string(), "v".to_string())].into());
    api.create(&PostParams::default(), &c).await.unwrap();

    let resource = ApiResource::of::<ConfigMap>();
    let factory = InformerFactory::new(client.clone());
    let dynamic = factory.informer_for(DynamicApi::namespaced_with(
        client.clone(),
        &ns.name,
        &resource,
    ));
    let again = factory.informer_for(DynamicApi::namespaced_with(
        client.clone(),
        &ns.name,
        &resource,
    ));
    assert!(dynamic.ptr_eq(&again));
    let metadata = factory.informer_for(MetadataApi::namespaced_with(
        client.clone(),
        &ns.name,
        &resource,
    ));
    let handled: Arc<Mutex<Vec<String>>> = Arc::default();
    let h = handled.clone();
    let _reg = metadata.add_handler(
        move |ev: Event<k8s_client::metadata::PartialObjectMetadata>| {
            h.lock().unwrap().push(ev.key());
        },
    );
    factory.start();
    tokio::time::timeout(Duration::from_secs(30), factory.wait_for_cache_sync())
        .await
        .expect("no sync within 30 s");
    let key = format!("{}/d", ns.name);
    let d = dynamic.store().get_by_key(&key).unwrap();
    assert_eq!(d.field(&["data", "k"]), Some(&serde_json::json!("v")));
    let m = metadata.store().get_by_key(&key).unwrap();
    assert_eq!(m.name(), Some("d"));
    assert_eq!(
        metadata
            .lister()
            .by_namespace(&ns.name)
            .list_selected("app=web")
            .unwrap()
            .len(),
        1
    );
    // Changes arrive through the metadata watch too.
    api.delete("d", &DeleteParams::default()).await.unwrap();
    eventually("the metadata informer to drop d", || {
        metadata.store().get_by_key(&key).is_none() && dynamic.store().get_by_key(&key).is_none()
    })
    .await;
    assert!(handled.lock().unwrap().contains(&key));
}
