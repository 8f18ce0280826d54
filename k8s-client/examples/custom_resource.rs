//! A custom resource from a Rust type: `#[derive(CustomResource)]` on the spec makes the
//! `CronTab` type and its CustomResourceDefinition (with a structural, validating schema);
//! the CRD is installed by server-side apply and waited for until `Established`; then a
//! `CronTab` is created, one the schema refuses is tried, the CronTabs are listed, and the
//! one made is deleted. (The `operator` example is the full story: a controller for a
//! custom resource.)
//!
//! client-go: a CRD installed with the apiextensions clientset and waited for with
//! `wait.PollUntilContextTimeout` on the `Established` condition, and the typed client
//! that code generation makes for the type (the seed's typed CRUD of section 3, on a
//! custom kind; the dynamic way of section 4 is what client-go offers without generated
//! code).
//!
//! ```text
//! cargo run -p k8s-client --features derive --example custom_resource -- --context kind-dev -n default [--delete-crd]
//! ```
//!
//! The CRD (`crontabs.stable.example.com`) is left installed unless `--delete-crd`.

mod common;

use std::time::Duration;

use k8s_client::api::{DeleteParams, ListParams, PostParams};
use k8s_client::runtime::crd;
use k8s_client::runtime::wait::{conditions, wait_until};
use k8s_client::{Api, CustomResource};
use serde::{Deserialize, Serialize};

/// What a CronTab asks for: an image run on a cron schedule.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[resource(
    group = "stable.example.com",
    version = "v1",
    kind = "CronTab",
    namespaced,
    shortname = "ct",
    printcolumn(name = "Schedule", type = "string", json_path = ".spec.cronSpec"),
    printcolumn(name = "Replicas", type = "integer", json_path = ".spec.replicas")
)]
#[serde(rename_all = "camelCase")]
pub struct CronTabSpec {
    /// The schedule, in cron's five fields.
    #[schema(min_length = 9)]
    pub cron_spec: String,
    /// The image to run.
    #[schema(min_length = 1)]
    pub image: String,
    /// How many copies run at once (1 to 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 10)]
    pub replicas: Option<i32>,
}

const FIELD_MANAGER: &str = "custom-resource-example";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut setup = common::setup().await?;
    let delete_crd = common::take_switch(&mut setup.args, "--delete-crd");
    let client = setup.client.clone();
    let ns = &setup.namespace;

    // The CRD generated from the types above, installed idempotently.
    let definition = CronTab::crd();
    let crd_name = definition.metadata.name.clone().unwrap_or_default();
    println!("Installing CustomResourceDefinition {crd_name}...");
    crd::apply(&client, &definition, FIELD_MANAGER, Duration::from_secs(60)).await?;
    println!("CustomResourceDefinition {crd_name} is Established");

    let crontabs: Api<CronTab> = Api::namespaced(client.clone(), ns);
    let tab = CronTab::new(
        "my-new-cron-object",
        CronTabSpec {
            cron_spec: "* * * * */5".to_string(),
            image: "my-awesome-cron-image".to_string(),
            replicas: Some(1),
        },
    );
    let created = crontabs.create(&PostParams::default(), &tab).await?;
    println!(
        "Created CronTab {ns}/{} (uid {})",
        created.metadata.name.as_deref().unwrap_or_default(),
        created.metadata.uid.as_deref().unwrap_or_default()
    );

    // The schema is enforced by the server: 50 replicas is more than `maximum = 10`.
    let too_many = CronTab::new(
        "too-many-replicas",
        CronTabSpec {
            replicas: Some(50),
            ..tab.spec.clone()
        },
    );
    match crontabs.create(&PostParams::default(), &too_many).await {
        Err(e) if e.is_invalid() => {
            let message = e
                .status()
                .and_then(|s| s.message.clone())
                .unwrap_or_default();
            println!("Refused by the schema (422 Invalid): {message}");
        }
        Err(e) => return Err(e.into()),
        Ok(_) => return Err("the server accepted 50 replicas despite maximum = 10".into()),
    }

    println!("CronTabs in namespace {ns}:");
    for t in crontabs.list(&ListParams::default()).await?.items {
        println!(
            " * {} schedule {:?} image {}",
            t.metadata.name.as_deref().unwrap_or_default(),
            t.spec.cron_spec,
            t.spec.image
        );
    }

    crontabs
        .delete("my-new-cron-object", &DeleteParams::default())
        .await?;
    wait_until(
        &crontabs,
        "my-new-cron-object",
        Duration::from_secs(60),
        conditions::is_deleted,
    )
    .await?;
    println!("Deleted CronTab {ns}/my-new-cron-object");

    if delete_crd {
        crd::delete(&client, &crd_name).await?;
        println!("Deleted CustomResourceDefinition {crd_name}");
    }
    Ok(())
}
