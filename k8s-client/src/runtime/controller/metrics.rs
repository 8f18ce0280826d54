//! The controller's own figures, as controller-runtime names them, through the `metrics`
//! facade (feature `metrics`; without it these are no-ops):
//!
//! - `controller_runtime_reconcile_total{controller, result}` (result: `success`,
//!   `requeue_after`, `error`, `panic`);
//! - `controller_runtime_reconcile_errors_total{controller}`;
//! - `controller_runtime_reconcile_panics_total{controller}`;
//! - `controller_runtime_reconcile_time_seconds{controller}` (histogram);
//! - `controller_runtime_active_workers{controller}` (gauge);
//! - per informer the controller uses (`resource` label): `informer_lists_total`,
//!   `informer_watches_total`, `informer_store_size`, `informer_last_resource_version`.

use std::time::Duration;

/// How a reconcile ended, for the `result` label.
#[derive(Debug, Clone, Copy)]
pub(super) enum Outcome {
    Success,
    RequeueAfter,
    Error,
    Panic,
}

impl Outcome {
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    fn label(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::RequeueAfter => "requeue_after",
            Outcome::Error => "error",
            Outcome::Panic => "panic",
        }
    }
}

#[cfg(feature = "metrics")]
pub(super) fn reconciled(controller: &str, outcome: Outcome, took: Duration) {
    let name = controller.to_string();
    metrics::counter!("controller_runtime_reconcile_total", "controller" => name.clone(), "result" => outcome.label()).increment(1);
    match outcome {
        Outcome::Error => {
            metrics::counter!("controller_runtime_reconcile_errors_total", "controller" => name.clone()).increment(1)
        }
        Outcome::Panic => {
            metrics::counter!("controller_runtime_reconcile_panics_total", "controller" => name.clone()).increment(1)
        }
        _ => {}
    }
    metrics::histogram!("controller_runtime_reconcile_time_seconds", "controller" => name)
        .record(took.as_secs_f64());
}

#[cfg(not(feature = "metrics"))]
pub(super) fn reconciled(controller: &str, outcome: Outcome, took: Duration) {
    let _ = (controller, outcome, took);
}

#[cfg(feature = "metrics")]
pub(super) fn active_workers(controller: &str, delta: f64) {
    metrics::gauge!("controller_runtime_active_workers", "controller" => controller.to_string())
        .increment(delta);
}

#[cfg(not(feature = "metrics"))]
pub(super) fn active_workers(controller: &str, delta: f64) {
    let _ = (controller, delta);
}

/// One informer's figures, as sampled now.
#[derive(Debug)]
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(super) struct InformerSample {
    pub(super) resource: String,
    pub(super) lists: u64,
    pub(super) watches: u64,
    pub(super) store_size: usize,
    pub(super) resource_version: String,
}

#[cfg(feature = "metrics")]
pub(super) fn informer(sample: &InformerSample) {
    let r = sample.resource.clone();
    metrics::counter!("informer_lists_total", "resource" => r.clone()).absolute(sample.lists);
    metrics::counter!("informer_watches_total", "resource" => r.clone()).absolute(sample.watches);
    metrics::gauge!("informer_store_size", "resource" => r.clone()).set(sample.store_size as f64);
    // resourceVersions are opaque strings; etcd's are integers, the figure client-go exports.
    if let Ok(rv) = sample.resource_version.parse::<u64>() {
        metrics::gauge!("informer_last_resource_version", "resource" => r).set(rv as f64);
    }
}

#[cfg(not(feature = "metrics"))]
pub(super) fn informer(sample: &InformerSample) {
    let _ = sample;
}
