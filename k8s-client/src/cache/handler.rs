//! What informers tell handlers: [`Event`]s, delivered to an [`EventHandler`].

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::api::Object;

/// A change an informer reports to its handlers.
pub enum Event<K> {
    /// An object appeared (or was there when the handler was added).
    Added(Arc<K>),
    /// An object changed. On a resync or a relist `old` and `new` may be the same state
    /// (the same `Arc` for a resync): compare resourceVersions to tell.
    Updated {
        /// The state before.
        old: Arc<K>,
        /// The state now.
        new: Arc<K>,
    },
    /// An object was deleted.
    Deleted(DeletedObject<K>),
}

impl<K> Clone for Event<K> {
    fn clone(&self) -> Self {
        match self {
            Event::Added(o) => Event::Added(o.clone()),
            Event::Updated { old, new } => Event::Updated {
                old: old.clone(),
                new: new.clone(),
            },
            Event::Deleted(d) => Event::Deleted(d.clone()),
        }
    }
}

impl<K: Object> fmt::Debug for Event<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rv = |o: &K| o.resource_version().unwrap_or_default().to_string();
        match self {
            Event::Added(o) => write!(f, "Added({} @{})", o.key(), rv(o)),
            Event::Updated { old, new } => {
                write!(f, "Updated({} @{} -> @{})", new.key(), rv(old), rv(new))
            }
            Event::Deleted(d) => write!(f, "Deleted({d:?})"),
        }
    }
}

impl<K: Object> Event<K> {
    /// The object the event is about (the new state of an update, the last known state of a
    /// deletion).
    pub fn object(&self) -> &Arc<K> {
        match self {
            Event::Added(o) => o,
            Event::Updated { new, .. } => new,
            Event::Deleted(d) => d.object(),
        }
    }

    /// The key (`namespace/name`) of the object the event is about.
    pub fn key(&self) -> String {
        match self {
            Event::Deleted(d) => d.key(),
            other => other.object().key(),
        }
    }
}

/// A deleted object: its final state as the server reported it, or, when the deletion
/// happened while the watch was down, the last state the cache had.
pub enum DeletedObject<K> {
    /// The object's final state, from the watch.
    Known(Arc<K>),
    /// A relist no longer had the object; its final state is unknown.
    FinalStateUnknown(DeletedFinalStateUnknown<K>),
}

impl<K> Clone for DeletedObject<K> {
    fn clone(&self) -> Self {
        match self {
            DeletedObject::Known(o) => DeletedObject::Known(o.clone()),
            DeletedObject::FinalStateUnknown(t) => DeletedObject::FinalStateUnknown(t.clone()),
        }
    }
}

impl<K: Object> fmt::Debug for DeletedObject<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeletedObject::Known(o) => write!(
                f,
                "{} @{}",
                o.key(),
                o.resource_version().unwrap_or_default()
            ),
            DeletedObject::FinalStateUnknown(t) => write!(f, "{} (final state unknown)", t.key),
        }
    }
}

impl<K: Object> DeletedObject<K> {
    /// The final state, or the last known one.
    pub fn object(&self) -> &Arc<K> {
        match self {
            DeletedObject::Known(o) => o,
            DeletedObject::FinalStateUnknown(t) => &t.obj,
        }
    }

    /// The object's key.
    pub fn key(&self) -> String {
        match self {
            DeletedObject::Known(o) => o.key(),
            DeletedObject::FinalStateUnknown(t) => t.key.clone(),
        }
    }

    /// Whether the final state is unknown (a tombstone).
    pub fn is_final_state_unknown(&self) -> bool {
        matches!(self, DeletedObject::FinalStateUnknown(_))
    }
}

/// A tombstone (client-go `DeletedFinalStateUnknown`): the object was deleted while the
/// watch was down, so its final state is unknown; `obj` is the last state the cache had.
pub struct DeletedFinalStateUnknown<K> {
    /// The object's key.
    pub key: String,
    /// The last state the cache had.
    pub obj: Arc<K>,
}

impl<K> Clone for DeletedFinalStateUnknown<K> {
    fn clone(&self) -> Self {
        DeletedFinalStateUnknown {
            key: self.key.clone(),
            obj: self.obj.clone(),
        }
    }
}

/// Receives an informer's events, one at a time, in order, on a task of its own (a slow
/// handler delays only itself). Implemented for every `FnMut(Event<K>) + Send`.
///
/// Handlers should be quick and must not block the thread (hand work to a work queue).
pub trait EventHandler<K>: Send + 'static {
    /// Handles one event.
    fn on_event(&mut self, event: Event<K>);
}

impl<K, F> EventHandler<K> for F
where
    F: FnMut(Event<K>) + Send + 'static,
{
    fn on_event(&mut self, event: Event<K>) {
        self(event)
    }
}

/// How far one handler has got; shared by the informer and the registration.
#[derive(Debug)]
pub(crate) struct Progress {
    pub(crate) enqueued: AtomicU64,
    pub(crate) processed: AtomicU64,
    /// The number of events that make the handler synced (`u64::MAX`: not known yet).
    pub(crate) sync_target: AtomicU64,
    pub(crate) removed: AtomicBool,
    /// Events the handler panicked on.
    pub(crate) panics: AtomicU64,
    /// Woken when the handler may have become synced.
    pub(crate) notify: tokio::sync::Notify,
}

impl Default for Progress {
    fn default() -> Self {
        Progress {
            enqueued: AtomicU64::new(0),
            processed: AtomicU64::new(0),
            sync_target: AtomicU64::new(u64::MAX),
            removed: AtomicBool::new(false),
            panics: AtomicU64::new(0),
            notify: tokio::sync::Notify::new(),
        }
    }
}

impl Progress {
    pub(crate) fn mark_synced_at_current(&self) {
        let n = self.enqueued.load(Ordering::SeqCst);
        self.sync_target.store(n, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    /// Counts one processed event.
    pub(crate) fn processed_one(&self) {
        let done = self.processed.fetch_add(1, Ordering::SeqCst) + 1;
        if done == self.sync_target.load(Ordering::SeqCst) {
            self.notify.notify_waiters();
        }
    }

    fn has_synced(&self) -> bool {
        let target = self.sync_target.load(Ordering::SeqCst);
        target != u64::MAX && self.processed.load(Ordering::SeqCst) >= target
    }
}

/// A handler added to an informer; [`remove`](Self::remove) it to stop its events.
pub struct HandlerRegistration {
    pub(crate) id: u64,
    pub(crate) progress: Arc<Progress>,
    pub(crate) remover: Box<dyn Fn(u64) + Send + Sync>,
}

impl fmt::Debug for HandlerRegistration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlerRegistration")
            .field("id", &self.id)
            .field("has_synced", &self.has_synced())
            .finish()
    }
}

impl HandlerRegistration {
    /// Whether the handler has processed the informer's initial list (for a handler added
    /// later: the adds of the objects cached when it was added).
    pub fn has_synced(&self) -> bool {
        self.progress.has_synced()
    }

    /// How many events the handler panicked on (each caught, logged and counted as
    /// handled; the handler went on with the next event).
    pub fn panics(&self) -> u64 {
        self.progress.panics.load(Ordering::SeqCst)
    }

    /// Waits until [`has_synced`](Self::has_synced).
    pub async fn wait_for_sync(&self) {
        loop {
            let notified = self.progress.notify.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            if self.has_synced() {
                return;
            }
            notified.await;
        }
    }

    /// Stops delivering events to the handler (events already queued are dropped).
    pub fn remove(&self) {
        self.progress.removed.store(true, Ordering::SeqCst);
        (self.remover)(self.id);
    }
}
