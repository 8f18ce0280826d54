//! A staged rollout: a new image goes to a list of Deployments one at a time, and each
//! rollout must finish before the next starts (as `kubectl rollout status` judges it: the
//! controller has seen the new spec, every replica is updated and available, no old one is
//! left). The first failure stops the whole rollout with a non-zero exit naming the
//! Deployment: its `Progressing` condition says `ProgressDeadlineExceeded` (its pods could
//! not be scheduled, pulled or made ready within `spec.progressDeadlineSeconds`), or it did
//! not finish within `--timeout`. The Deployments after it are not touched.
//!
//! client-go: the "Staged rollout of deployments" demo of seed 002 (clientset `Get` +
//! `Update` of the pod template's image, then a watch of the Deployment until
//! `status.updatedReplicas` and `availableReplicas` match), with `kubectl rollout status`'s
//! rules for done and failed.
//!
//! ```text
//! cargo run -p k8s-client --example staged_rollout -- --context prod -n web --image nginx:1.28 canary eu us
//! ```
//!
//! Options: `--image IMAGE` (required), `--container NAME` (default: the first container of
//! each Deployment), `--timeout DURATION` per Deployment (`300s`, `5m`; default 5m).
//!
//! Exit code: 0 when every Deployment rolled out, 1 when one failed (the rest untouched), 2
//! for a usage error.

mod common;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use k8s_client::api::{Patch, PatchParams};
use k8s_client::runtime::wait::{conditions, wait_until};
use k8s_client::Api;
use k8s_openapi::api::apps::v1::Deployment;
use serde_json::json;

/// What was asked.
struct Plan {
    image: String,
    container: Option<String>,
    timeout: Duration,
    deployments: Vec<String>,
}

/// How one Deployment's rollout ended.
enum Outcome {
    Done,
    Failed(String),
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut setup = match common::setup().await {
        Ok(setup) => setup,
        Err(e) => {
            eprintln!("staged_rollout: {e}");
            return ExitCode::from(2);
        }
    };
    let plan = match plan(&mut setup.args) {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!(
                "staged_rollout: {e}\nusage: staged_rollout [kubectl flags] --image IMAGE \
                 [--container NAME] [--timeout 5m] DEPLOYMENT..."
            );
            return ExitCode::from(2);
        }
    };
    let ns = setup.namespace.clone();
    let api: Api<Deployment> = Api::namespaced(setup.client.clone(), &ns);
    println!(
        "rolling {} out to {} Deployment(s) in namespace {ns}, one at a time",
        plan.image,
        plan.deployments.len()
    );
    for (i, name) in plan.deployments.iter().enumerate() {
        let started = Instant::now();
        let outcome = match roll_one(&api, name, &plan).await {
            Ok(outcome) => outcome,
            Err(e) => Outcome::Failed(e.to_string()),
        };
        match outcome {
            Outcome::Done => println!(
                "{name}: rolled out in {:.1}s",
                started.elapsed().as_secs_f64()
            ),
            Outcome::Failed(why) => {
                eprintln!("staged_rollout: rollout of Deployment {ns}/{name} failed: {why}");
                let rest = &plan.deployments[i + 1..];
                if !rest.is_empty() {
                    println!("not touched: {}", rest.join(", "));
                }
                println!("FAILED at {name}");
                return ExitCode::from(1);
            }
        }
    }
    println!("all {} Deployment(s) rolled out", plan.deployments.len());
    ExitCode::SUCCESS
}

fn plan(args: &mut Vec<String>) -> Result<Plan, String> {
    let image = common::take_flag(args, "--image").ok_or("--image IMAGE is required")?;
    let container = common::take_flag(args, "--container");
    let timeout = match common::take_flag(args, "--timeout") {
        Some(t) => parse_duration(&t).ok_or(format!("--timeout {t:?}: use 300s or 5m"))?,
        None => Duration::from_secs(300),
    };
    if let Some(flag) = args.iter().find(|a| a.starts_with('-')) {
        return Err(format!("unknown option {flag}"));
    }
    if args.is_empty() {
        return Err("no Deployments given".to_string());
    }
    Ok(Plan {
        image,
        container,
        timeout,
        deployments: std::mem::take(args),
    })
}

/// `90`, `90s`, `5m`, `1h`.
fn parse_duration(text: &str) -> Option<Duration> {
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let n: u64 = number.parse().ok()?;
    let seconds = match unit {
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        _ => return None,
    };
    Some(Duration::from_secs(seconds))
}

/// Sets the image of one Deployment and waits until its rollout is done or has failed.
async fn roll_one(
    api: &Api<Deployment>,
    name: &str,
    plan: &Plan,
) -> Result<Outcome, Box<dyn std::error::Error>> {
    let current = api.get(name).await?;
    let containers = spec(&current)
        .and_then(|s| s.template.spec.as_ref())
        .map(|p| p.containers.as_slice())
        .unwrap_or_default();
    let container = match &plan.container {
        Some(c) if containers.iter().any(|x| &x.name == c) => c.clone(),
        Some(c) => return Ok(Outcome::Failed(format!("it has no container {c:?}"))),
        None => match containers.first() {
            Some(first) => first.name.clone(),
            None => return Ok(Outcome::Failed("it has no containers".to_string())),
        },
    };

    // A strategic-merge patch: containers are merged by name, the others stay as they are.
    let patch = json!({"spec": {"template": {"spec": {"containers": [
        {"name": container, "image": plan.image}
    ]}}}});
    let patched = api
        .patch(name, &PatchParams::default(), &Patch::Strategic(&patch))
        .await?;
    let generation = patched.metadata.generation.unwrap_or(0);
    println!(
        "{name}: container {container} set to {} (generation {generation}); waiting for the rollout",
        plan.image
    );

    let mut last_progress = String::new();
    let ended = wait_until(api, name, plan.timeout, |d: Option<&Deployment>| {
        let Some(d) = d else {
            return true; // deleted: judged below
        };
        if d.metadata.generation.unwrap_or(0) < generation {
            return false;
        }
        let progress = progress(d);
        if progress != last_progress {
            println!("{name}: {progress}");
            last_progress = progress;
        }
        conditions::deployment_rolled_out(Some(d)) || deadline_exceeded(d).is_some()
    })
    .await;
    let d = match ended {
        Ok(Some(d)) => d,
        Ok(None) => return Ok(Outcome::Failed("it was deleted during the rollout".into())),
        Err(e) if e.is_timeout() => {
            return Ok(Outcome::Failed(format!(
                "not rolled out within {:?} ({last_progress})",
                plan.timeout
            )))
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(message) = deadline_exceeded(&d) {
        return Ok(Outcome::Failed(format!(
            "ProgressDeadlineExceeded: {message}"
        )));
    }
    Ok(Outcome::Done)
}

/// The message of `Progressing=False, reason ProgressDeadlineExceeded`, once the controller
/// has seen the current spec (as `kubectl rollout status` checks it).
fn deadline_exceeded(d: &Deployment) -> Option<String> {
    let status = d.status.as_ref()?;
    if status.observed_generation.unwrap_or(0) < d.metadata.generation.unwrap_or(0) {
        return None;
    }
    // Read as JSON: the condition's field types differ between Kubernetes versions.
    let conditions = serde_json::to_value(status.conditions.as_ref()?).ok()?;
    conditions
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Progressing" && c["reason"] == "ProgressDeadlineExceeded")
        .map(|c| c["message"].as_str().unwrap_or_default().to_string())
}

/// `2 of 3 updated replicas are available` and the like, as `kubectl rollout status` says.
fn progress(d: &Deployment) -> String {
    let wanted = spec(d).and_then(|s| s.replicas).unwrap_or(1);
    let Some(status) = d.status.as_ref() else {
        return "waiting for the controller".to_string();
    };
    if status.observed_generation.unwrap_or(0) < d.metadata.generation.unwrap_or(0) {
        return "waiting for the controller to see the new spec".to_string();
    }
    let updated = status.updated_replicas.unwrap_or(0);
    let total = status.replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    if updated < wanted {
        format!("{updated} of {wanted} new replicas updated")
    } else if total > updated {
        format!("{} old replica(s) pending termination", total - updated)
    } else if available < updated {
        format!("{available} of {updated} updated replicas available")
    } else {
        format!("{updated} of {wanted} replicas updated and available")
    }
}

k8s_openapi::k8s_if_ge_1_37! {
    fn spec(d: &Deployment) -> Option<&k8s_openapi::api::apps::v1::DeploymentSpec> {
        Some(&d.spec)
    }
}
k8s_openapi::k8s_if_le_1_36! {
    fn spec(d: &Deployment) -> Option<&k8s_openapi::api::apps::v1::DeploymentSpec> {
        d.spec.as_ref()
    }
}
