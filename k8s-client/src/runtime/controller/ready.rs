//! [`Readiness`]: whether a controller's caches have synced, for readiness probes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A cheap, clonable view of whether a controller is ready: every informer it uses has
/// synced and its handlers have queued the cached objects. Serve it on a readiness probe.
/// It turns false again when the controller stops.
#[derive(Debug, Clone, Default)]
pub struct Readiness {
    ready: Arc<AtomicBool>,
}

impl Readiness {
    /// Whether the controller's caches are synced and it is running.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    pub(super) fn set(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }
}
