//! [`SharedInformer`]: one reflector feeding one store, shared by any number of handlers.

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::api::Object;

use super::error::CacheError;
use super::handler::{
    DeletedFinalStateUnknown, DeletedObject, Event, EventHandler, HandlerRegistration, Progress,
};
use super::lister::Lister;
use super::packed::Packing;
use super::panics;
use super::reflector::{self, Counters, Output, ReflectorConfig, ReflectorStats};
use super::source::ListWatch;
use super::store::{Change, Held, IndexFn, Store, StoreWriter, DEFAULT_RECENT_OBJECTS};
use super::transform::strip_managed_fields;
use super::transform::Transform;

pub use super::reflector::WatchListMode;

/// Options of an informer: what to list and watch, and how.
///
/// ```
/// use std::time::Duration;
/// use k8s_client::cache::{strip_managed_fields, InformerOptions, WatchListMode};
/// use k8s_openapi::api::core::v1::Pod;
///
/// let options = InformerOptions::<Pod>::default()
///     .labels("app=web")
///     .resync(Duration::from_secs(600))
///     .watch_list(WatchListMode::Off)
///     .transform(strip_managed_fields());
/// # drop(options);
/// ```
#[non_exhaustive]
pub struct InformerOptions<K> {
    /// Only objects with matching labels.
    pub label_selector: Option<String>,
    /// Only objects with matching fields.
    pub field_selector: Option<String>,
    /// Page size of lists (default 500, as client-go).
    pub page_size: u32,
    /// Streaming watch-list where supported (default) or list+watch.
    pub watch_list: WatchListMode,
    /// Watches last a random time between this and twice this (default 5 minutes).
    pub min_watch_timeout: Duration,
    /// The resync period of handlers added without one (default: none).
    pub resync: Option<Duration>,
    /// Applied to every object before it is cached.
    pub transform: Option<Transform<K>>,
    /// Drop `metadata.managedFields` from every object before it is cached (see
    /// [`without_managed_fields`](Self::without_managed_fields)).
    pub drop_managed_fields: bool,
    /// How a compact store packs objects (default: none, objects are kept decoded and
    /// shared); set by `compact()` (feature `compact`).
    pub packing: Option<Packing<K>>,
    /// How many recently read objects a compact store keeps decoded (default
    /// [`DEFAULT_RECENT_OBJECTS`]; see [`recent_objects`](Self::recent_objects)).
    pub recent_objects: usize,
}

impl<K> Default for InformerOptions<K> {
    fn default() -> Self {
        let r = ReflectorConfig::default();
        InformerOptions {
            label_selector: None,
            field_selector: None,
            page_size: r.page_size,
            watch_list: r.watch_list,
            min_watch_timeout: r.min_watch_timeout,
            resync: None,
            transform: None,
            drop_managed_fields: false,
            packing: None,
            recent_objects: DEFAULT_RECENT_OBJECTS,
        }
    }
}

impl<K> Clone for InformerOptions<K> {
    fn clone(&self) -> Self {
        InformerOptions {
            label_selector: self.label_selector.clone(),
            field_selector: self.field_selector.clone(),
            page_size: self.page_size,
            watch_list: self.watch_list,
            min_watch_timeout: self.min_watch_timeout,
            resync: self.resync,
            transform: self.transform.clone(),
            drop_managed_fields: self.drop_managed_fields,
            packing: self.packing,
            recent_objects: self.recent_objects,
        }
    }
}

impl<K> fmt::Debug for InformerOptions<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InformerOptions")
            .field("label_selector", &self.label_selector)
            .field("field_selector", &self.field_selector)
            .field("page_size", &self.page_size)
            .field("watch_list", &self.watch_list)
            .field("min_watch_timeout", &self.min_watch_timeout)
            .field("resync", &self.resync)
            .field("transform", &self.transform.is_some())
            .field("drop_managed_fields", &self.drop_managed_fields)
            .field("compact", &self.packing.is_some())
            .field("recent_objects", &self.recent_objects)
            .finish()
    }
}

impl<K> InformerOptions<K> {
    /// Sets the label selector.
    pub fn labels(mut self, selector: &str) -> Self {
        self.label_selector = Some(selector.to_string());
        self
    }

    /// Sets the field selector.
    pub fn fields(mut self, selector: &str) -> Self {
        self.field_selector = Some(selector.to_string());
        self
    }

    /// Sets the list page size.
    pub fn page_size(mut self, size: u32) -> Self {
        self.page_size = size.max(1);
        self
    }

    /// Sets the streaming watch-list mode.
    pub fn watch_list(mut self, mode: WatchListMode) -> Self {
        self.watch_list = mode;
        self
    }

    /// Sets the minimum watch timeout (watches last between this and twice this).
    pub fn min_watch_timeout(mut self, timeout: Duration) -> Self {
        self.min_watch_timeout = timeout;
        self
    }

    /// Sets the default resync period of handlers.
    pub fn resync(mut self, period: Duration) -> Self {
        self.resync = Some(period);
        self
    }

    /// Sets the transform applied before objects are cached.
    pub fn transform(mut self, transform: Transform<K>) -> Self {
        self.transform = Some(transform);
        self
    }

    /// Drops `metadata.managedFields` (server-side apply bookkeeping, most of the bytes of a
    /// typical object) from every object before it is cached or handed to handlers, like the
    /// [`strip_managed_fields`](super::strip_managed_fields) transform, and cheaper: a
    /// protobuf source skips them while decoding instead of building and then dropping them
    /// (a Pod decodes about 2.5x faster). Runs before [`transform`](Self::transform).
    ///
    /// ```
    /// use k8s_client::cache::InformerOptions;
    /// use k8s_openapi::api::core::v1::Pod;
    ///
    /// let options = InformerOptions::<Pod>::default().without_managed_fields();
    /// assert!(options.drop_managed_fields);
    /// ```
    pub fn without_managed_fields(mut self) -> Self {
        self.drop_managed_fields = true;
        self
    }

    /// Keeps the cache compact: each object is stored packed (JSON compressed with LZ4) and
    /// decoded again whenever it is read from the store or a lister, or handed to a handler
    /// as the old side of an update.
    ///
    /// For Pods with managedFields this takes the cache from about 55 KB to about 3 KB per
    /// object (about 2 KB with [`without_managed_fields`](Self::without_managed_fields)); the
    /// price is a decode per read (tens of microseconds per Pod) and a new `Arc<K>` for each
    /// read instead of a shared one. Objects of a list are packed as they arrive, so a large
    /// list is never held decoded (they are decoded once more for handlers, if any are
    /// registered); changes seen while watching reach handlers as decoded from the server.
    ///
    /// ```no_run
    /// use k8s_client::{Api, cache::{InformerOptions, SharedInformer}};
    /// use k8s_openapi::api::core::v1::Pod;
    ///
    /// # async fn run(client: k8s_client::Client) {
    /// let pods = SharedInformer::new(
    ///     Api::<Pod>::all(client),
    ///     InformerOptions::default().compact(),
    /// );
    /// pods.start();
    /// pods.wait_for_sync().await;
    /// assert!(pods.store().is_compact());
    /// # }
    /// ```
    #[cfg(feature = "compact")]
    #[cfg_attr(docsrs, doc(cfg(feature = "compact")))]
    pub fn compact(mut self) -> Self
    where
        K: serde::Serialize + serde::de::DeserializeOwned,
    {
        self.packing = Some(Packing::json());
        self
    }

    /// How many recently read objects a compact store keeps decoded (default
    /// [`DEFAULT_RECENT_OBJECTS`]; `0`: none, every read decodes). Reading one of them again
    /// (`get`, `get_by_key`, a lister's `get`, an index lookup) returns the same `Arc<K>`
    /// without decoding; each costs the decoded size of the object (about 55 KB for a Pod
    /// with managedFields). Has no effect without [`compact`](Self::compact).
    ///
    /// ```
    /// use k8s_client::cache::InformerOptions;
    /// use k8s_openapi::api::core::v1::Pod;
    ///
    /// let options = InformerOptions::<Pod>::default().recent_objects(1000);
    /// assert_eq!(options.recent_objects, 1000);
    /// ```
    pub fn recent_objects(mut self, n: usize) -> Self {
        self.recent_objects = n;
        self
    }

    fn reflector_config(&self) -> ReflectorConfig {
        ReflectorConfig {
            label_selector: self.label_selector.clone(),
            field_selector: self.field_selector.clone(),
            page_size: self.page_size,
            watch_list: self.watch_list,
            min_watch_timeout: self.min_watch_timeout,
        }
    }
}

/// `t(obj)`; `None` when the transform panicked (logged and counted: the object is left
/// out, see [`ReflectorStats::transform_panics`]).
fn transformed<K: Object>(t: &Transform<K>, obj: K, counters: &Counters) -> Option<K> {
    let key = obj.key();
    match panics::call(|| t(obj)) {
        Ok(obj) => Some(obj),
        Err(panic) => {
            Counters::bump(&counters.transform_panics);
            tracing::error!(
                %key,
                %panic,
                "the informer's transform panicked; the object's change is not cached"
            );
            None
        }
    }
}

struct Listener<K> {
    id: u64,
    tx: mpsc::UnboundedSender<Event<K>>,
    progress: Arc<Progress>,
    resync_task: Option<JoinHandle<()>>,
}

impl<K> Listener<K> {
    fn send(&self, event: Event<K>) {
        if self.tx.send(event).is_ok() {
            self.progress.enqueued.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// The handlers and whether the first list is in: changed together with the store, under
/// one lock, so a handler added at any moment sees every object exactly once.
struct Dispatch<K> {
    listeners: Vec<Listener<K>>,
    synced: bool,
}

type Starter<K> = Box<dyn FnOnce(Arc<Inner<K>>) -> BoxFuture<'static, ()> + Send>;

struct Inner<K> {
    what: String,
    writer: StoreWriter<K>,
    dispatch: Mutex<Dispatch<K>>,
    synced: tokio::sync::watch::Sender<bool>,
    counters: Arc<Counters>,
    next_id: AtomicU64,
    default_resync: Option<Duration>,
    starter: Mutex<Option<Starter<K>>>,
    task: Mutex<Option<JoinHandle<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<K: Object + Send + Sync + 'static> Inner<K> {
    /// Applies one reflector output to the store and tells every handler.
    fn apply(&self, out: Output<Held<K>>) {
        let mut dispatch = lock(&self.dispatch);
        let is_list = matches!(out, Output::Replace { .. });
        let changes = match out {
            Output::Replace { items, .. } => self
                .writer
                .replace_held(items, !dispatch.listeners.is_empty()),
            Output::Apply(obj) => self.writer.apply_held(obj).into_iter().collect(),
            Output::Delete(obj) => self.writer.delete_held(obj).into_iter().collect(),
        };
        for change in changes {
            let event = match change {
                Change::Added(o) => Event::Added(o),
                Change::Updated { old, new } => Event::Updated { old, new },
                Change::Deleted(o) => Event::Deleted(DeletedObject::Known(o)),
                Change::Vanished { key, last } => {
                    Event::Deleted(DeletedObject::FinalStateUnknown(DeletedFinalStateUnknown {
                        key,
                        obj: last,
                    }))
                }
            };
            if let Some((last, rest)) = dispatch.listeners.split_last() {
                for l in rest {
                    l.send(event.clone());
                }
                last.send(event);
            }
        }
        if is_list && !dispatch.synced {
            dispatch.synced = true;
            for l in &dispatch.listeners {
                l.progress.mark_synced_at_current();
            }
            self.synced.send_replace(true);
        }
    }

    fn remove_listener(&self, id: u64) {
        let mut dispatch = lock(&self.dispatch);
        if let Some(pos) = dispatch.listeners.iter().position(|l| l.id == id) {
            let l = dispatch.listeners.remove(pos);
            if let Some(t) = l.resync_task {
                t.abort();
            }
        }
    }

    /// Queues every cached object as an unchanged update for listener `id` (a resync).
    fn resync(&self, id: u64) {
        let dispatch = lock(&self.dispatch);
        if !dispatch.synced {
            return;
        }
        if let Some(l) = dispatch.listeners.iter().find(|l| l.id == id) {
            for obj in self.writer.store().list() {
                l.send(Event::Updated {
                    old: obj.clone(),
                    new: obj,
                });
            }
        }
    }
}

/// Aborts the reflector when the last handle is dropped.
struct Guard<K: Object + Send + Sync + 'static>(Arc<Inner<K>>);

impl<K: Object + Send + Sync + 'static> Drop for Guard<K> {
    fn drop(&mut self) {
        if let Some(task) = lock(&self.0.task).take() {
            task.abort();
        }
        let mut dispatch = lock(&self.0.dispatch);
        for l in dispatch.listeners.drain(..) {
            if let Some(t) = l.resync_task {
                t.abort();
            }
        }
    }
}

/// An informer: a reflector keeping a [`Store`] current, and handlers told about every
/// change. Cheap to clone; clones share everything. The reflector stops when the last
/// clone is dropped (or on [`stop`](Self::stop)).
///
/// Handlers can be added and removed at any time; one added after the first list first
/// receives every cached object as [`Event::Added`]. Each handler runs on a task of its
/// own with an unbounded queue, so a slow handler never holds up the others.
///
/// ```no_run
/// use k8s_client::{Api, cache::{Event, InformerOptions, SharedInformer}};
/// use k8s_openapi::api::core::v1::ConfigMap;
///
/// # async fn run(client: k8s_client::Client) {
/// let informer = SharedInformer::new(
///     Api::<ConfigMap>::namespaced(client, "default"),
///     InformerOptions::default(),
/// );
/// let reg = informer.add_handler(|ev: Event<ConfigMap>| println!("{ev:?}"));
/// informer.start();
/// informer.wait_for_sync().await;
/// reg.wait_for_sync().await;
/// println!("{} config maps", informer.store().len());
/// # }
/// ```
pub struct SharedInformer<K: Object + Send + Sync + 'static> {
    inner: Arc<Inner<K>>,
    guard: Arc<Guard<K>>,
}

impl<K: Object + Send + Sync + 'static> Clone for SharedInformer<K> {
    fn clone(&self) -> Self {
        SharedInformer {
            inner: self.inner.clone(),
            guard: self.guard.clone(),
        }
    }
}

impl<K: Object + Send + Sync + 'static> fmt::Debug for SharedInformer<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedInformer")
            .field("what", &self.inner.what)
            .field("synced", &self.has_synced())
            .field("objects", &self.inner.writer.store().len())
            .finish()
    }
}

impl<K: Object + Clone + Send + Sync + 'static> SharedInformer<K> {
    /// An informer over `source` (not started yet: see [`start`](Self::start)).
    pub fn new<S>(source: S, options: InformerOptions<K>) -> Self
    where
        S: ListWatch<Object = K>,
    {
        let what = source.describe();
        let counters = Arc::new(Counters::default());
        let config = options.reflector_config();
        let source = match options.drop_managed_fields {
            true => source.without_managed_fields(),
            false => source,
        };
        let user_transform = match (options.drop_managed_fields, options.transform.clone()) {
            (false, t) => t,
            (true, None) => Some(strip_managed_fields()),
            (true, Some(t)) => {
                let strip = strip_managed_fields();
                Some(Arc::new(move |obj: K| t(strip(obj))) as Transform<K>)
            }
        };
        // JSON decoding leaves spare capacity in every list inside an object (serde pushes
        // items one by one, and `Vec` grows by doubling); a clone allocates each exactly. So
        // what is cached from JSON is a clone of what was decoded (and transformed): one copy
        // per write, never one on read, and about 6% less memory for typical Pods. Objects
        // from the protobuf decoder are exact already, and a compact store keeps a packed
        // copy: neither needs the clone.
        let exact = source.decodes_exactly();
        let transform: Option<Transform<K>> = if exact || options.packing.is_some() {
            user_transform
        } else {
            Some(Arc::new(move |obj: K| match &user_transform {
                Some(f) => f(obj).clone(),
                None => obj.clone(),
            }))
        };
        let run_counters = counters.clone();
        let hold_counters = counters.clone();
        let starter: Starter<K> = Box::new(move |inner: Arc<Inner<K>>| {
            // The task holds the informer weakly: dropping every handle ends it.
            let weak: Weak<Inner<K>> = Arc::downgrade(&inner);
            let store = inner.writer.store();
            drop(inner);
            let hold = move |obj: K, collecting: bool| {
                let obj = match &transform {
                    Some(t) => transformed(t, obj, &hold_counters)?,
                    None => obj,
                };
                Some(store.hold(obj, collecting))
            };
            Box::pin(reflector::run(
                source,
                config,
                hold,
                run_counters,
                move |out| {
                    if let Some(inner) = weak.upgrade() {
                        inner.apply(out);
                    }
                },
            ))
        });
        let inner = Arc::new(Inner {
            what,
            writer: StoreWriter::with_packing(options.packing, options.recent_objects),
            dispatch: Mutex::new(Dispatch {
                listeners: Vec::new(),
                synced: false,
            }),
            synced: tokio::sync::watch::channel(false).0,
            counters,
            next_id: AtomicU64::new(0),
            default_resync: options.resync,
            starter: Mutex::new(Some(starter)),
            task: Mutex::new(None),
        });
        SharedInformer {
            guard: Arc::new(Guard(inner.clone())),
            inner,
        }
    }
}

impl<K: Object + Send + Sync + 'static> SharedInformer<K> {
    /// Starts the reflector on the current Tokio runtime (once; later calls do nothing).
    ///
    /// # Panics
    /// Outside a Tokio runtime, as `tokio::spawn`.
    pub fn start(&self) {
        let Some(starter) = lock(&self.inner.starter).take() else {
            return;
        };
        let fut = starter(self.inner.clone());
        *lock(&self.inner.task) = Some(tokio::spawn(fut));
    }

    /// Stops the reflector (handlers stay registered; the store keeps its content).
    pub fn stop(&self) {
        if let Some(task) = lock(&self.inner.task).take() {
            task.abort();
        }
    }

    /// Whether the first complete list is in the store.
    pub fn has_synced(&self) -> bool {
        *self.inner.synced.borrow()
    }

    /// Waits until [`has_synced`](Self::has_synced).
    pub async fn wait_for_sync(&self) {
        let mut rx = self.inner.synced.subscribe();
        // The sender lives as long as `self`: this cannot fail.
        let _ = rx.wait_for(|synced| *synced).await;
    }

    /// The store (shared; reads hand out `Arc<K>`).
    pub fn store(&self) -> Store<K> {
        self.inner.writer.store()
    }

    /// A lister over the store.
    pub fn lister(&self) -> Lister<K> {
        Lister::new(self.store())
    }

    /// Adds an index to the store (see [`Store::add_indexer`]).
    pub fn add_indexer(&self, name: &str, f: IndexFn<K>) -> Result<(), CacheError> {
        self.inner.writer.store().add_indexer(name, f)
    }

    /// What the reflector has done so far (lists, watches, expirations, ...).
    pub fn stats(&self) -> ReflectorStats {
        let mut stats = self.inner.counters.snapshot();
        stats.index_panics = self.inner.writer.store().index_panics();
        stats
    }

    /// The last resourceVersion the reflector has seen.
    pub fn last_sync_resource_version(&self) -> String {
        self.stats().resource_version
    }

    /// Whether `other` is a handle on the same informer.
    pub fn ptr_eq(&self, other: &SharedInformer<K>) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// What the informer lists and watches (`v1/pods in all namespaces`).
    pub fn describe(&self) -> &str {
        &self.inner.what
    }

    /// Adds a handler with the informer's default resync period.
    ///
    /// A handler that panics is not lost: the panic is caught, logged at error level and
    /// counted ([`ReflectorStats::handler_panics`], [`HandlerRegistration::panics`]), and the
    /// handler goes on with the next event (the event it panicked on counts as handled, so
    /// [`HandlerRegistration::wait_for_sync`] still returns).
    ///
    /// # Panics
    /// Outside a Tokio runtime (the handler runs on a task of its own).
    pub fn add_handler(&self, handler: impl EventHandler<K>) -> HandlerRegistration {
        self.add_handler_with_resync(handler, self.inner.default_resync)
    }

    /// Adds a handler that, every `resync` period, also receives every cached object as an
    /// [`Event::Updated`] whose old and new state are the same.
    ///
    /// # Panics
    /// Outside a Tokio runtime (the handler runs on a task of its own).
    pub fn add_handler_with_resync(
        &self,
        mut handler: impl EventHandler<K>,
        resync: Option<Duration>,
    ) -> HandlerRegistration {
        self.add_listener(
            move |event| {
                handler.on_event(event);
                std::future::ready(())
            },
            resync,
        )
    }

    /// Adds an async handler (with the informer's default resync period): `handler` is
    /// called with each event and the future it returns is awaited before the next event,
    /// so events are handled one at a time and in order, on a task of the handler's own.
    /// Panics are caught as for [`add_handler`](Self::add_handler), in the call and in the
    /// future.
    ///
    /// ```no_run
    /// use k8s_client::{Api, cache::{Event, InformerOptions, SharedInformer}};
    /// use k8s_openapi::api::core::v1::ConfigMap;
    ///
    /// # async fn run(client: k8s_client::Client) {
    /// let informer = SharedInformer::new(
    ///     Api::<ConfigMap>::namespaced(client.clone(), "default"),
    ///     InformerOptions::default(),
    /// );
    /// let reg = informer.add_async_handler(move |event: Event<ConfigMap>| {
    ///     let client = client.clone();
    ///     async move {
    ///         // Await anything here: the next event waits for this one.
    ///         let _ = (client, event.key());
    ///     }
    /// });
    /// informer.start();
    /// reg.wait_for_sync().await;
    /// # }
    /// ```
    ///
    /// # Panics
    /// Outside a Tokio runtime (the handler runs on a task of its own).
    pub fn add_async_handler<F, Fut>(&self, handler: F) -> HandlerRegistration
    where
        F: FnMut(Event<K>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.add_listener(handler, self.inner.default_resync)
    }

    /// [`add_async_handler`](Self::add_async_handler) with a resync period of its own (see
    /// [`add_handler_with_resync`](Self::add_handler_with_resync)).
    ///
    /// # Panics
    /// Outside a Tokio runtime (the handler runs on a task of its own).
    pub fn add_async_handler_with_resync<F, Fut>(
        &self,
        handler: F,
        resync: Option<Duration>,
    ) -> HandlerRegistration
    where
        F: FnMut(Event<K>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.add_listener(handler, resync)
    }

    fn add_listener<F, Fut>(&self, mut handler: F, resync: Option<Duration>) -> HandlerRegistration
    where
        F: FnMut(Event<K>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let progress = Arc::new(Progress::default());
        let (tx, mut rx) = mpsc::unbounded_channel::<Event<K>>();
        let task_progress = progress.clone();
        let counters = self.inner.counters.clone();
        let what = self.inner.what.clone();
        tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                if task_progress.removed.load(Ordering::SeqCst) {
                    break;
                }
                let key = event.key();
                let outcome = match panics::call(|| handler(event)) {
                    Ok(fut) => AssertUnwindSafe(fut)
                        .catch_unwind()
                        .await
                        .map_err(|p| panics::message(p.as_ref()).to_string()),
                    Err(panic) => Err(panic),
                };
                if let Err(panic) = outcome {
                    Counters::bump(&counters.handler_panics);
                    task_progress.panics.fetch_add(1, Ordering::SeqCst);
                    tracing::error!(
                        informer = %what,
                        handler = id,
                        %key,
                        %panic,
                        "an event handler panicked; it goes on with the next event"
                    );
                }
                task_progress.processed_one();
            }
        });
        let resync_task = resync.filter(|p| !p.is_zero()).map(|period| {
            let weak = Arc::downgrade(&self.inner);
            tokio::spawn(async move {
                let mut ticks =
                    tokio::time::interval_at(tokio::time::Instant::now() + period, period);
                loop {
                    ticks.tick().await;
                    match weak.upgrade() {
                        Some(inner) => inner.resync(id),
                        None => return,
                    }
                }
            })
        });
        let listener = Listener {
            id,
            tx,
            progress: progress.clone(),
            resync_task,
        };
        {
            let mut dispatch = lock(&self.inner.dispatch);
            if dispatch.synced {
                for obj in self.inner.writer.store().list() {
                    listener.send(Event::Added(obj));
                }
                listener.progress.mark_synced_at_current();
            }
            dispatch.listeners.push(listener);
        }
        let weak = Arc::downgrade(&self.inner);
        HandlerRegistration {
            id,
            progress,
            remover: Box::new(move |id| {
                if let Some(inner) = weak.upgrade() {
                    inner.remove_listener(id);
                }
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use futures::StreamExt;
    use k8s_openapi::api::core::v1::ConfigMap;

    use super::*;
    use crate::api::{ListParams, ObjectList, WatchEvent, WatchParams};
    use crate::cache::source::BoxWatchStream;
    use crate::error::{Result, Status};

    /// A source that plays canned lists and watches, then waits forever.
    #[derive(Clone, Default)]
    struct Scripted {
        lists: Arc<Mutex<VecDeque<ObjectList<ConfigMap>>>>,
        watches: Arc<Mutex<VecDeque<Vec<WatchEvent<ConfigMap>>>>>,
    }

    impl ListWatch for Scripted {
        type Object = ConfigMap;
        fn list<'a>(&'a self, _: &'a ListParams) -> BoxFuture<'a, Result<ObjectList<ConfigMap>>> {
            let next = lock(&self.lists).pop_front();
            Box::pin(async move {
                match next {
                    Some(page) => Ok(page),
                    None => futures::future::pending().await,
                }
            })
        }
        fn watch<'a>(
            &'a self,
            _: &'a WatchParams,
            _: &'a str,
        ) -> BoxFuture<'a, Result<BoxWatchStream<ConfigMap>>> {
            let next = lock(&self.watches).pop_front();
            Box::pin(async move {
                Ok(match next {
                    Some(events) => futures::stream::iter(events.into_iter().map(Ok)).boxed(),
                    None => futures::stream::pending().boxed(),
                })
            })
        }
        fn describe(&self) -> String {
            "scripted".into()
        }
    }

    fn cm(name: &str, rv: &str) -> ConfigMap {
        let mut c = ConfigMap::default();
        c.metadata.name = Some(name.into());
        c.metadata.namespace = Some("ns".into());
        c.metadata.resource_version = Some(rv.into());
        c
    }

    fn list(items: Vec<ConfigMap>, rv: &str) -> ObjectList<ConfigMap> {
        let mut l = ObjectList {
            items,
            ..ObjectList::default()
        };
        l.metadata.resource_version = Some(rv.into());
        l
    }

    fn describe(ev: &Event<ConfigMap>) -> String {
        match ev {
            Event::Added(o) => format!("add {}@{}", o.key(), o.resource_version().unwrap_or("")),
            Event::Updated { old, new } => format!(
                "update {}@{}->{}",
                new.key(),
                old.resource_version().unwrap_or(""),
                new.resource_version().unwrap_or("")
            ),
            Event::Deleted(DeletedObject::Known(o)) => format!("delete {}", o.key()),
            Event::Deleted(DeletedObject::FinalStateUnknown(t)) => {
                format!(
                    "tombstone {}@{}",
                    t.key,
                    t.obj.resource_version().unwrap_or("")
                )
            }
        }
    }

    fn recorder() -> (Arc<Mutex<Vec<String>>>, impl EventHandler<ConfigMap>) {
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let s = seen.clone();
        (seen, move |ev: Event<ConfigMap>| {
            lock(&s).push(describe(&ev))
        })
    }

    /// The first `n` events, once there are that many.
    async fn wait_for(seen_all: &Arc<Mutex<Vec<String>>>, n: usize) -> Vec<String> {
        for _ in 0..500 {
            {
                let seen = lock(seen_all);
                if seen.len() >= n {
                    return seen[..n].to_vec();
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("expected {n} events, got {:?}", lock(seen_all));
    }

    fn expired() -> WatchEvent<ConfigMap> {
        WatchEvent::Error(Status {
            code: Some(410),
            reason: Some("Expired".into()),
            ..Status::default()
        })
    }

    #[tokio::test]
    async fn relist_after_expiry_delivers_tombstones_and_late_handlers_get_adds() {
        let source = Scripted::default();
        lock(&source.lists).extend([
            list(vec![cm("a", "1"), cm("b", "2")], "10"),
            list(vec![cm("b", "11"), cm("c", "12")], "20"),
        ]);
        lock(&source.watches).push_back(vec![WatchEvent::Modified(cm("b", "11")), expired()]);
        let informer = SharedInformer::new(
            source,
            InformerOptions::default().watch_list(WatchListMode::Off),
        );
        let (early, handler) = recorder();
        let early_reg = informer.add_handler(handler);
        assert!(!early_reg.has_synced());
        informer.start();
        informer.wait_for_sync().await;
        let mut events = wait_for(&early, 6).await;
        events[3..].sort();
        assert_eq!(
            events,
            [
                "add ns/a@1",
                "add ns/b@2",
                "update ns/b@2->11",
                "add ns/c@12",
                "tombstone ns/a@1",
                "update ns/b@11->11",
            ]
        );
        early_reg.wait_for_sync().await;
        assert_eq!(informer.stats().expired, 1);
        assert_eq!(informer.stats().lists, 2);

        let (late, handler) = recorder();
        let late_reg = informer.add_handler(handler);
        late_reg.wait_for_sync().await;
        let mut got = wait_for(&late, 2).await;
        got.sort();
        assert_eq!(got, ["add ns/b@11", "add ns/c@12"]);
        assert_eq!(informer.store().len(), 2);
    }

    #[tokio::test]
    async fn removed_handlers_stop_and_resync_redelivers_the_same_objects() {
        let source = Scripted::default();
        lock(&source.lists).push_back(list(vec![cm("a", "1")], "10"));
        lock(&source.watches).push_back(vec![
            WatchEvent::Added(cm("b", "11")),
            WatchEvent::Deleted(cm("a", "12")),
        ]);
        let informer = SharedInformer::new(
            source,
            InformerOptions::default().watch_list(WatchListMode::Off),
        );
        let (removed, handler) = recorder();
        let removed_reg = informer.add_handler(handler);
        removed_reg.remove();
        let (plain, handler) = recorder();
        let _plain_reg = informer.add_handler(handler);
        informer.start();
        let events = wait_for(&plain, 3).await;
        assert_eq!(events, ["add ns/a@1", "add ns/b@11", "delete ns/a"]);
        // Added now, with a resync: first the cached object as an add, then resyncs.
        let (resynced, handler) = recorder();
        let _reg = informer.add_handler_with_resync(handler, Some(Duration::from_millis(50)));
        let events = wait_for(&resynced, 3).await;
        assert_eq!(
            events,
            ["add ns/b@11", "update ns/b@11->11", "update ns/b@11->11"]
        );
        assert!(lock(&removed).is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stuck_handler_does_not_hold_up_the_others() {
        let source = Scripted::default();
        lock(&source.lists).push_back(list(vec![cm("a", "1")], "10"));
        lock(&source.watches).push_back(vec![
            WatchEvent::Added(cm("b", "11")),
            WatchEvent::Added(cm("c", "12")),
        ]);
        let informer = SharedInformer::new(
            source,
            InformerOptions::default().watch_list(WatchListMode::Off),
        );
        let (release, blocked) = std::sync::mpsc::channel::<()>();
        let (stuck, record) = recorder();
        let mut record = Some(record);
        let blocked = Mutex::new(blocked);
        let _stuck_reg = informer.add_handler(move |ev: Event<ConfigMap>| {
            // Blocks its own task (and thread) until the test releases it.
            let _ = lock(&blocked).recv();
            if let Some(r) = record.as_mut() {
                r.on_event(ev);
            }
        });
        let (free, handler) = recorder();
        let _free_reg = informer.add_handler(handler);
        informer.start();
        let events = wait_for(&free, 3).await;
        assert_eq!(events, ["add ns/a@1", "add ns/b@11", "add ns/c@12"]);
        assert!(lock(&stuck).is_empty());
        for _ in 0..3 {
            release.send(()).unwrap();
        }
        assert_eq!(wait_for(&stuck, 3).await, events);
    }

    /// A source with a list of `a`, `bad`, `b`, then a watch adding `c` and `bad2`,
    /// deleting `a`.
    fn panicky_source() -> Scripted {
        let source = Scripted::default();
        lock(&source.lists).push_back(list(vec![cm("a", "1"), cm("bad", "2"), cm("b", "3")], "10"));
        lock(&source.watches).push_back(vec![
            WatchEvent::Added(cm("c", "11")),
            WatchEvent::Added(cm("bad2", "12")),
            WatchEvent::Deleted(cm("a", "13")),
        ]);
        source
    }

    async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
        for _ in 0..500 {
            if cond() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("timed out waiting for {what}");
    }

    fn sorted_keys(informer: &SharedInformer<ConfigMap>) -> Vec<String> {
        let mut keys = informer.store().list_keys();
        keys.sort();
        keys
    }

    #[tokio::test]
    async fn a_panicking_handler_is_caught_counted_and_goes_on() {
        let informer = SharedInformer::new(
            panicky_source(),
            InformerOptions::default().watch_list(WatchListMode::Off),
        );
        let (seen, mut record) = recorder();
        let reg = informer.add_handler(move |ev: Event<ConfigMap>| {
            if ev.key().contains("bad") {
                panic!("handler fails on {}", ev.key());
            }
            record.on_event(ev);
        });
        informer.start();
        tokio::time::timeout(Duration::from_secs(5), reg.wait_for_sync())
            .await
            .expect("the handler's registration synced although it panicked");
        let events = wait_for(&seen, 4).await;
        assert_eq!(
            events,
            ["add ns/a@1", "add ns/b@3", "add ns/c@11", "delete ns/a"]
        );
        assert_eq!(reg.panics(), 2);
        assert_eq!(informer.stats().handler_panics, 2);
    }

    #[tokio::test]
    async fn async_handlers_run_in_order_and_their_panics_are_caught() {
        let informer = SharedInformer::new(
            panicky_source(),
            InformerOptions::default().watch_list(WatchListMode::Off),
        );
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let s = seen.clone();
        let reg = informer.add_async_handler(move |ev: Event<ConfigMap>| {
            let s = s.clone();
            async move {
                // A later event must wait for this one.
                tokio::time::sleep(Duration::from_millis(5)).await;
                if ev.key() == "ns/bad" {
                    panic!("async handler fails on {}", ev.key());
                }
                lock(&s).push(describe(&ev));
            }
        });
        // A handler whose call itself panics (before any future exists).
        let early = informer.add_async_handler(|ev: Event<ConfigMap>| {
            if ev.key() == "ns/bad2" {
                panic!("fails before the future");
            }
            std::future::ready(())
        });
        informer.start();
        tokio::time::timeout(Duration::from_secs(5), reg.wait_for_sync())
            .await
            .expect("synced");
        let events = wait_for(&seen, 5).await;
        assert_eq!(
            events,
            [
                "add ns/a@1",
                "add ns/b@3",
                "add ns/c@11",
                "add ns/bad2@12",
                "delete ns/a"
            ]
        );
        eventually("the second handler's panic", || early.panics() == 1).await;
        assert_eq!(reg.panics(), 1);
        assert_eq!(informer.stats().handler_panics, 2);
    }

    #[tokio::test]
    async fn a_panicking_transform_leaves_out_the_object_and_the_informer_goes_on() {
        let transform: Transform<ConfigMap> = Arc::new(|obj: ConfigMap| {
            if obj.key().contains("bad") {
                panic!("transform fails on {}", obj.key());
            }
            obj
        });
        let informer = SharedInformer::new(
            panicky_source(),
            InformerOptions::default()
                .watch_list(WatchListMode::Off)
                .transform(transform),
        );
        let (seen, handler) = recorder();
        let _reg = informer.add_handler(handler);
        informer.start();
        informer.wait_for_sync().await;
        // The watch events after the panics are still applied.
        eventually("the watch's changes", || {
            sorted_keys(&informer) == ["ns/b", "ns/c"]
        })
        .await;
        assert_eq!(
            wait_for(&seen, 4).await,
            ["add ns/a@1", "add ns/b@3", "add ns/c@11", "delete ns/a"]
        );
        assert_eq!(informer.stats().transform_panics, 2);
        assert!(informer.has_synced());
    }

    #[tokio::test]
    async fn a_panicking_index_function_leaves_the_object_out_of_its_index() {
        let informer = SharedInformer::new(
            panicky_source(),
            InformerOptions::default().watch_list(WatchListMode::Off),
        );
        informer
            .add_indexer(
                "name",
                Arc::new(|obj: &ConfigMap| {
                    let name = obj.name().unwrap_or_default().to_string();
                    if name.contains("bad") {
                        panic!("index fails on {name}");
                    }
                    vec![name]
                }),
            )
            .unwrap();
        informer.start();
        informer.wait_for_sync().await;
        eventually("the watch's changes", || {
            sorted_keys(&informer) == ["ns/b", "ns/bad", "ns/bad2", "ns/c"]
        })
        .await;
        let store = informer.store();
        let mut values = store.index_values("name").unwrap();
        values.sort();
        assert_eq!(values, ["b", "c"]);
        assert_eq!(store.by_index("namespace", "ns").unwrap().len(), 4);
        // Each panic is counted: `bad` and `bad2` added.
        assert_eq!(informer.stats().index_panics, 2);
    }
}
