//! Ready-made conditions for [`wait_until`](super::wait_until): each is a function of the
//! object (`None` when it does not exist), usable as is or inside a closure.
//!
//! ```
//! use k8s_client::runtime::wait::conditions;
//! use k8s_openapi::api::core::v1::Pod;
//!
//! let mut pod = Pod::default();
//! assert!(conditions::exists(Some(&pod)));
//! assert!(!conditions::pod_running(Some(&pod)));
//! pod.status = Some(Default::default());
//! pod.status.as_mut().unwrap().phase = Some("Succeeded".into());
//! assert!(conditions::pod_phase("Succeeded")(Some(&pod)));
//! assert!(conditions::is_deleted::<Pod>(None));
//! ```

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;

use crate::runtime::crd::{self, CrdState};

/// The object exists.
pub fn exists<K>(object: Option<&K>) -> bool {
    object.is_some()
}

/// The object does not exist (never created, or deleted).
pub fn is_deleted<K>(object: Option<&K>) -> bool {
    object.is_none()
}

/// The CustomResourceDefinition is served: `Established` and `NamesAccepted` are `True` and
/// the accepted names are the spec's (the judgement of [`crd::state`](super::super::crd::state())).
pub fn crd_established(crd: Option<&CustomResourceDefinition>) -> bool {
    crd.is_some_and(|c| crd::state(c) == CrdState::Established)
}

/// The Deployment's rollout is complete, as `kubectl rollout status` judges it: the
/// controller has seen the newest spec (`status.observedGeneration >= metadata.generation`),
/// all `spec.replicas` (default 1) are updated, no old replicas are left, and all updated
/// replicas are available.
pub fn deployment_rolled_out(deployment: Option<&Deployment>) -> bool {
    let Some(d) = deployment else {
        return false;
    };
    let Some(status) = d.status.as_ref() else {
        return false;
    };
    let generation = d.metadata.generation.unwrap_or(0);
    if status.observed_generation.unwrap_or(0) < generation {
        return false;
    }
    let wanted = spec_replicas(d).unwrap_or(1);
    let updated = status.updated_replicas.unwrap_or(0);
    let total = status.replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    updated >= wanted && total <= updated && available >= updated
}

// `spec` became required in the 1.37 types.
k8s_openapi::k8s_if_ge_1_37! {
    fn spec_replicas(d: &Deployment) -> Option<i32> {
        d.spec.replicas
    }
}
k8s_openapi::k8s_if_le_1_36! {
    fn spec_replicas(d: &Deployment) -> Option<i32> {
        d.spec.as_ref().and_then(|s| s.replicas)
    }
}

/// The Pod's `status.phase` is `Running`.
pub fn pod_running(pod: Option<&Pod>) -> bool {
    pod_phase("Running")(pod)
}

/// The Pod's `status.phase` is `phase` (`Pending`, `Running`, `Succeeded`, `Failed`).
pub fn pod_phase(phase: &str) -> impl Fn(Option<&Pod>) -> bool + Send + Sync + Clone + '_ {
    move |pod: Option<&Pod>| {
        pod.and_then(|p| p.status.as_ref())
            .and_then(|s| s.phase.as_deref())
            == Some(phase)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(json: serde_json::Value) -> Deployment {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn rollout_needs_observed_generation_and_updated_available_replicas() {
        let d = |gen: i64, observed: i64, replicas: i32, updated: i32, total: i32, avail: i32| {
            deployment(serde_json::json!({
                "metadata": {"name": "d", "generation": gen},
                "spec": {"replicas": replicas, "selector": {}, "template": {}},
                "status": {"observedGeneration": observed, "updatedReplicas": updated,
                           "replicas": total, "availableReplicas": avail}
            }))
        };
        assert!(deployment_rolled_out(Some(&d(2, 2, 2, 2, 2, 2))));
        assert!(
            !deployment_rolled_out(Some(&d(3, 2, 2, 2, 2, 2))),
            "old generation"
        );
        assert!(
            !deployment_rolled_out(Some(&d(2, 2, 2, 1, 2, 2))),
            "not all updated"
        );
        assert!(
            !deployment_rolled_out(Some(&d(2, 2, 2, 2, 3, 2))),
            "old replica left"
        );
        assert!(
            !deployment_rolled_out(Some(&d(2, 2, 2, 2, 2, 1))),
            "not available"
        );
        assert!(
            deployment_rolled_out(Some(&d(1, 1, 0, 0, 0, 0))),
            "zero replicas"
        );
        assert!(!deployment_rolled_out(None));
        let no_status = deployment(serde_json::json!({"metadata": {"generation": 1}}));
        assert!(!deployment_rolled_out(Some(&no_status)));
    }

    #[test]
    fn crd_established_reads_the_condition() {
        let crd = |status: &str| -> CustomResourceDefinition {
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": "xs.example.com"},
                "spec": {"group": "example.com", "names": {"plural": "xs", "kind": "X"},
                         "scope": "Namespaced", "versions": []},
                "status": {"acceptedNames": {"plural": "xs", "kind": "X"}, "conditions": [
                    {"type": "NamesAccepted", "status": "True"},
                    {"type": "Established", "status": status}
                ]}
            }))
            .unwrap()
        };
        assert!(crd_established(Some(&crd("True"))));
        assert!(!crd_established(Some(&crd("False"))));
        assert!(!crd_established(None));
    }

    #[test]
    fn existence() {
        assert!(exists(Some(&1)));
        assert!(!exists::<i32>(None));
        assert!(is_deleted::<i32>(None));
        assert!(!is_deleted(Some(&1)));
    }
}
