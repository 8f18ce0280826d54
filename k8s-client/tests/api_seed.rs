//! The seed walkthrough (client-go's typed clientset examples), with `Api<K>`, against the
//! real control plane: list pods in all namespaces; create "demo-deployment" (2 replicas,
//! nginx:1.12, app=demo, port 80); update it to 1 replica and nginx:1.13 with
//! retry_on_conflict (get, modify, replace); list deployments; delete it with Foreground
//! propagation; get a missing pod and tell NotFound from other errors.

use std::collections::BTreeMap;

use k8s_client::api::{Api, DeleteParams, Deleted, ListParams, PostParams, PropagationPolicy};
use k8s_client::retry::{retry_on_conflict, Backoff};
use k8s_client_testsupport as ts;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{Container, ContainerPort, Pod, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

fn demo_labels() -> BTreeMap<String, String> {
    [("app".to_string(), "demo".to_string())].into()
}

fn demo_deployment() -> Deployment {
    Deployment {
        metadata: ObjectMeta {
            name: Some("demo-deployment".into()),
            ..Default::default()
        },
        spec: DeploymentSpec {
            replicas: Some(2),
            selector: LabelSelector {
                match_labels: Some(demo_labels()),
                ..Default::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(demo_labels()),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![Container {
                        name: "web".into(),
                        image: Some("nginx:1.12".into()),
                        ports: Some(vec![ContainerPort {
                            name: Some("http".into()),
                            protocol: Some("TCP".into()),
                            container_port: 80,
                            ..Default::default()
                        }]),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
            },
            ..Default::default()
        },
        ..Default::default()
    }
}

#[tokio::test]
async fn seed_walkthrough() {
    let ns = ts::namespace("api-seed").await;
    let client = ts::client().await;

    // 1. Pods in all namespaces (one of ours, so there is at least one).
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns.name);
    let mut pod = Pod::default();
    pod.metadata.name = Some("seed-pod".into());
    pod.spec = Some(PodSpec {
        containers: vec![Container {
            name: "c".into(),
            image: Some("busybox:1".into()),
            ..Default::default()
        }],
        ..Default::default()
    });
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let all_pods: Api<Pod> = Api::all(client.clone());
    let list = all_pods.list(&ListParams::default()).await.unwrap();
    println!("There are {} pods in the cluster", list.items.len());
    assert!(list
        .iter()
        .any(|p| p.metadata.namespace.as_deref() == Some(ns.name.as_str())));

    // 2. Create the Deployment.
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns.name);
    let created = deployments
        .create(&PostParams::default(), &demo_deployment())
        .await
        .unwrap();
    println!("Created deployment {:?}.", created.metadata.name);
    assert_eq!(created.spec.replicas, Some(2));
    let container = &created.spec.template.spec.as_ref().unwrap().containers[0];
    assert_eq!(container.image.as_deref(), Some("nginx:1.12"));
    assert_eq!(container.ports.as_ref().unwrap()[0].container_port, 80);

    // 3. Update: get the latest version, modify, replace; retried on conflict (a
    //    controller may be updating the same object).
    retry_on_conflict(Backoff::default_retry(), || async {
        let mut result = deployments.get("demo-deployment").await?;
        result.spec.replicas = Some(1);
        if let Some(spec) = result.spec.template.spec.as_mut() {
            spec.containers[0].image = Some("nginx:1.13".into());
        }
        deployments
            .replace("demo-deployment", &PostParams::default(), &result)
            .await
    })
    .await
    .unwrap();
    println!("Updated deployment...");
    let updated = deployments.get("demo-deployment").await.unwrap();
    assert_eq!(updated.spec.replicas, Some(1));
    assert_eq!(
        updated.spec.template.spec.as_ref().unwrap().containers[0]
            .image
            .as_deref(),
        Some("nginx:1.13")
    );

    // 4. List deployments.
    let list = deployments.list(&ListParams::default()).await.unwrap();
    for d in &list {
        println!(
            " * {} ({} replicas)",
            d.metadata.name.as_deref().unwrap_or(""),
            d.spec.replicas.unwrap_or(1)
        );
    }
    let names: Vec<&str> = list
        .iter()
        .filter_map(|d| d.metadata.name.as_deref())
        .collect();
    assert_eq!(names, ["demo-deployment"]);

    // 5. Delete with Foreground propagation.
    let answer = deployments
        .delete(
            "demo-deployment",
            &DeleteParams::default().propagation(PropagationPolicy::Foreground),
        )
        .await
        .unwrap();
    println!("Deleted deployment.");
    match answer {
        Deleted::Object(d) => assert!(d.metadata.deletion_timestamp.is_some()),
        Deleted::Status(s) => assert_eq!(s.status.as_deref(), Some("Success")),
    }
    // It is gone, or going (its dependents are deleted first).
    if let Some(d) = deployments.get_opt("demo-deployment").await.unwrap() {
        assert!(d.metadata.deletion_timestamp.is_some());
    }

    // 6. A missing pod: NotFound, told apart from other API errors.
    match pods.get("example-xxxxx").await {
        Err(e) if e.is_not_found() => {
            println!("Pod example-xxxxx not found in namespace {}", ns.name)
        }
        Err(e) => match e.status() {
            Some(status) => panic!("Error getting pod {:?}", status.message),
            None => panic!("{e}"),
        },
        Ok(_) => panic!("found a pod that does not exist"),
    }
}
