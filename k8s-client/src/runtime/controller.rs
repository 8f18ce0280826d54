//! The controller of an operator: the informers of one primary kind and of the objects
//! related to it put [`ObjectRef`] keys on a [`WorkQueue`]; workers take keys off it and run
//! an async reconcile function with the cached object and a shared context.
//!
//! - **Relations**: [`owns`](Controller::owns) maps a child's events to its controlling
//!   owner (the `ownerReference` with `controller: true`); [`watches`](Controller::watches)
//!   maps any other kind's objects to keys with a function of yours.
//! - **Shared caches**: every informer comes from one [`InformerFactory`], so two
//!   controllers watching the same kind share one watch and one cache.
//! - **What next**: a reconcile returns an [`Action`] (requeue after a delay, or wait for a
//!   change); a failed one goes to the error policy, which decides (default: the queue's
//!   per-key exponential backoff). A reconcile that panics is caught, logged and counted, and
//!   its key is retried with backoff; the worker carries on.
//! - **Concurrency**: [`workers`](Controller::workers) reconciles at once, by default one
//!   per available CPU (at least 2, at most 16). The queue never hands one key to two
//!   workers.
//! - **Shutdown**: cancelling [`shutdown_on`](Controller::shutdown_on)'s token (or shutting
//!   down the [`queue`](Controller::queue)) stops taking keys; reconciles in progress finish
//!   before [`run`](Controller::run) returns.
//! - **Leader election**: with [`leader_election`](Controller::leader_election) the caches
//!   fill on every replica, and keys are reconciled only while this one leads.
//! - **Readiness**: [`readiness`](Controller::readiness) is a cheap handle whose
//!   `is_ready()` is true once every cache has synced.
//! - **Observability**: one `reconcile` span per reconcile (fields `controller`, `object`),
//!   and with the `metrics` feature controller-runtime's reconcile figures (see
//!   `runtime::workqueue::FacadeMetrics` for the queue's).
//!
//! Objects that are gone from the cache are not reconciled: clean up what they leave
//! behind with owner references (garbage collection) or a
//! [finalizer](crate::runtime::finalizer).
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//! use k8s_client::cache::InformerFactory;
//! use k8s_client::runtime::controller::{Action, Controller};
//! use k8s_client::Api;
//! use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
//!
//! struct Ctx { client: k8s_client::Client }
//!
//! # async fn run(client: k8s_client::Client) {
//! let factory = Arc::new(InformerFactory::new(client.clone()));
//! Controller::new(&factory, Api::<Deployment>::all(client.clone()))
//!     .owns(Api::<ReplicaSet>::all(client.clone()))
//!     .run(
//!         |d: Arc<Deployment>, ctx: Arc<Ctx>| async move {
//!             println!("sync {:?}", d.metadata.name);
//!             Ok::<_, k8s_client::Error>(Action::requeue(Duration::from_secs(300)))
//!         },
//!         |_d, _error, _ctx| Action::backoff(),
//!         Arc::new(Ctx { client }),
//!     )
//!     .await;
//! # }
//! ```

mod action;
mod metrics;
mod owners;
mod ready;

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::FutureExt;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

pub use action::Action;
pub use ready::Readiness;

use crate::api::{Api, GroupVersionKind, ObjectRef, Resource};
use crate::cache::{Event, HandlerRegistration, InformerFactory, SharedInformer, Store};
use crate::runtime::leader_election::{LeaderCallbacks, LeaderElector};
use crate::runtime::workqueue::WorkQueue;

use metrics::{InformerSample, Outcome};

/// The default number of workers: one per available CPU, at least 2, at most 16.
pub fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(2, 16)
}

/// An informer the controller listens to: its handler, and how to sample it.
/// Adds a handler feeding the queue to an informer.
type Relation = Box<dyn FnOnce(&WorkQueue<ObjectRef>) -> Source + Send>;

struct Source {
    registration: HandlerRegistration,
    synced: Box<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>,
    sample: Arc<dyn Fn() -> InformerSample + Send + Sync>,
}

fn source_of<C: Resource>(
    informer: &SharedInformer<C>,
    registration: HandlerRegistration,
) -> Source {
    let waiting = informer.clone();
    let sampled = informer.clone();
    Source {
        registration,
        synced: Box::new(move || {
            let informer = waiting.clone();
            Box::pin(async move { informer.wait_for_sync().await })
        }),
        sample: Arc::new(move || {
            let stats = sampled.stats();
            InformerSample {
                resource: sampled.describe().to_string(),
                lists: stats.lists,
                watches: stats.watches,
                store_size: sampled.store().len(),
                resource_version: stats.resource_version,
            }
        }),
    }
}

/// Reconciles the objects of one kind `K`. See the [module docs](self).
pub struct Controller<K: Resource> {
    name: String,
    factory: Arc<InformerFactory>,
    dyntype: K::DynamicType,
    gvk: GroupVersionKind,
    namespaced: bool,
    informer: SharedInformer<K>,
    queue: WorkQueue<ObjectRef>,
    /// The relations, connected to the queue when the controller runs.
    relations: Vec<Relation>,
    workers: usize,
    max_retries: Option<u32>,
    shutdown: CancellationToken,
    elector: Option<LeaderElector>,
    readiness: Readiness,
}

impl<K: Resource> fmt::Debug for Controller<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Controller")
            .field("name", &self.name)
            .field("informer", &self.informer)
            .field("relations", &self.relations.len())
            .field("workers", &self.workers)
            .field("max_retries", &self.max_retries)
            .field("leader_election", &self.elector.is_some())
            .finish()
    }
}

impl<K: Resource> Controller<K> {
    /// A controller of the objects `api` lists (all namespaces or one), with the shared
    /// informer of `factory`. Its name (for logs, metrics and the queue) is the kind in
    /// lower case; it runs [`default_workers`] workers and retries failures forever.
    pub fn new(factory: &Arc<InformerFactory>, api: Api<K>) -> Self {
        let dyntype = api.dynamic_type().clone();
        let resource = K::api_resource(&dyntype);
        let informer = factory.informer_for(api);
        let name = resource.kind.to_lowercase();
        Controller {
            queue: default_queue(&name),
            name,
            factory: factory.clone(),
            gvk: resource.gvk(),
            namespaced: resource.namespaced,
            dyntype,
            informer,
            relations: Vec::new(),
            workers: default_workers(),
            max_retries: None,
            shutdown: CancellationToken::new(),
            elector: None,
            readiness: Readiness::default(),
        }
    }

    /// Names the controller (logs, spans, metrics labels, and the default queue's name).
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.to_string();
        self.queue = default_queue(name);
        self
    }

    /// Uses `queue` (another rate limiter, other metrics).
    pub fn with_queue(mut self, queue: WorkQueue<ObjectRef>) -> Self {
        self.queue = queue;
        self
    }

    /// Runs `n` reconciles at once at most (at least one).
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n.max(1);
        self
    }

    /// Gives up on a key (until its object changes again) after it failed `n` times in a row
    /// and the error policy asked for [`Action::backoff`]; the default is never to give up.
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = Some(n);
        self
    }

    /// Reconciles the owner of every object of `api` whose controlling `ownerReference`
    /// (`controller: true`) points at this controller's kind: a changed or deleted child
    /// queues its owner.
    pub fn owns<C: Resource>(self, api: Api<C>) -> Self {
        let gvk = self.gvk.clone();
        let namespaced = self.namespaced;
        self.watches(api, move |child: &C| {
            owners::controller_of(child, &gvk, namespaced)
                .into_iter()
                .collect()
        })
    }

    /// Reconciles the objects `mapper` names for every changed or deleted object of `api`
    /// (both the old and the new state of an update). References to other kinds than this
    /// controller's are ignored.
    pub fn watches<W, F>(mut self, api: Api<W>, mapper: F) -> Self
    where
        W: Resource,
        F: Fn(&W) -> Vec<ObjectRef> + Send + Sync + 'static,
    {
        let informer = self.factory.informer_for(api);
        let gvk = self.gvk.clone();
        self.relations
            .push(Box::new(move |queue: &WorkQueue<ObjectRef>| {
                let queue = queue.clone();
                let registration = informer.add_handler(move |event: Event<W>| {
                    let mut keys = mapper(event.object().as_ref());
                    if let Event::Updated { old, .. } = &event {
                        keys.extend(mapper(old.as_ref()));
                    }
                    for key in keys {
                        if key.gvk.group == gvk.group && key.gvk.kind == gvk.kind {
                            queue.add(&key);
                        }
                    }
                });
                source_of(&informer, registration)
            }));
        self
    }

    /// Stops the controller when `token` is cancelled: no new keys are taken, reconciles in
    /// progress finish, then [`run`](Self::run) returns.
    pub fn shutdown_on(mut self, token: CancellationToken) -> Self {
        self.shutdown = token;
        self
    }

    /// Reconciles only while `elector` leads (the caches fill either way, so a new leader
    /// starts at once). `run` competes for the lease until shutdown, again after losing it.
    pub fn leader_election(mut self, elector: LeaderElector) -> Self {
        self.elector = Some(elector);
        self
    }

    /// The work queue: add keys to it by hand, or [`shut_down`](WorkQueue::shut_down) it to
    /// stop the controller.
    pub fn queue(&self) -> WorkQueue<ObjectRef> {
        self.queue.clone()
    }

    /// The readiness of this controller, for probes.
    pub fn readiness(&self) -> Readiness {
        self.readiness.clone()
    }

    /// The shared informer of the primary kind.
    pub fn informer(&self) -> &SharedInformer<K> {
        &self.informer
    }

    /// Starts the factory's informers, waits for every cache this controller uses, then
    /// reconciles keys until shutdown (see the [module docs](self)).
    ///
    /// `reconcile` gets the cached object and the context; `error_policy` gets the object,
    /// the error and the context when it failed and decides what happens to the key.
    ///
    /// # Panics
    /// Outside a Tokio runtime.
    pub async fn run<Ctx, R, Fut, E, P>(mut self, reconcile: R, error_policy: P, context: Arc<Ctx>)
    where
        Ctx: Send + Sync + 'static,
        R: Fn(Arc<K>, Arc<Ctx>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Action, E>> + Send + 'static,
        E: fmt::Display + Send + 'static,
        P: Fn(Arc<K>, &E, Arc<Ctx>) -> Action + Send + Sync + 'static,
    {
        let shutdown = self.shutdown.clone();
        let sources = self.connect();
        self.factory.start();
        let synced = async {
            for source in &sources {
                (source.synced)().await;
                source.registration.wait_for_sync().await;
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => {
                self.stop(&sources);
                return;
            }
            _ = synced => {}
        }
        self.readiness.set(true);
        tracing::info!(controller = %self.name, workers = self.workers, "caches synced; starting workers");
        let sampler = start_sampler(&sources);
        let work = Arc::new(Work {
            name: self.name.clone(),
            queue: self.queue.clone(),
            store: self.informer.store(),
            reconcile,
            error_policy,
            context,
            max_retries: self.max_retries,
        });
        match &self.elector {
            None => work.workers(self.workers, shutdown.clone()).await,
            Some(elector) => loop {
                let work = work.clone();
                let workers = self.workers;
                let name = self.name.clone();
                let callbacks =
                    LeaderCallbacks::new(move |leading: CancellationToken| async move {
                        tracing::info!(controller = %name, "leading: reconciling");
                        work.workers(workers, leading).await;
                    });
                let ended = elector.run(shutdown.clone(), callbacks).await;
                if shutdown.is_cancelled() || self.queue.is_shutting_down() {
                    break;
                }
                tracing::info!(controller = %self.name, ?ended, "not leading: waiting to lead again");
            },
        }
        sampler.abort();
        self.stop(&sources);
    }

    /// Adds the handlers that feed the queue: the primary kind's, then the relations'.
    fn connect(&mut self) -> Vec<Source> {
        let queue = self.queue.clone();
        let dyntype = self.dyntype.clone();
        let registration = self.informer.add_handler(move |event: Event<K>| {
            if let Event::Deleted(_) = event {
                // Gone objects are not reconciled (see the module docs).
                return;
            }
            queue.add(&ObjectRef::from_object(event.object().as_ref(), &dyntype));
        });
        let mut sources = vec![source_of(&self.informer, registration)];
        for relation in self.relations.drain(..) {
            sources.push(relation(&self.queue));
        }
        sources
    }

    fn stop(&self, sources: &[Source]) {
        self.readiness.set(false);
        self.queue.shut_down();
        for source in sources {
            source.registration.remove();
        }
    }
}

/// Samples the informers' figures every few seconds (to the `metrics` facade when the
/// feature is on).
fn start_sampler(sources: &[Source]) -> tokio::task::AbortHandle {
    let samplers: Vec<_> = sources.iter().map(|s| s.sample.clone()).collect();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            for sample in &samplers {
                metrics::informer(&sample());
            }
        }
    })
    .abort_handle()
}

fn default_queue(name: &str) -> WorkQueue<ObjectRef> {
    let builder = WorkQueue::builder().name(name);
    #[cfg(feature = "metrics")]
    let builder = builder.metrics(Arc::new(crate::runtime::workqueue::FacadeMetrics));
    builder.build()
}

/// What the workers share.
struct Work<K: Resource, Ctx, R, P> {
    name: String,
    queue: WorkQueue<ObjectRef>,
    store: Store<K>,
    reconcile: R,
    error_policy: P,
    context: Arc<Ctx>,
    max_retries: Option<u32>,
}

impl<K, Ctx, R, Fut, E, P> Work<K, Ctx, R, P>
where
    K: Resource,
    Ctx: Send + Sync + 'static,
    R: Fn(Arc<K>, Arc<Ctx>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Action, E>> + Send + 'static,
    E: fmt::Display + Send + 'static,
    P: Fn(Arc<K>, &E, Arc<Ctx>) -> Action + Send + Sync + 'static,
{
    /// Runs `n` workers until `stop` is cancelled or the queue shuts down, and waits for
    /// the reconciles in progress.
    async fn workers(self: Arc<Self>, n: usize, stop: CancellationToken) {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..n {
            let work = self.clone();
            let stop = stop.clone();
            set.spawn(async move {
                loop {
                    let key = tokio::select! {
                        biased;
                        _ = stop.cancelled() => break,
                        key = work.queue.get() => key,
                    };
                    let Some(key) = key else { break };
                    work.process(key).await;
                }
            });
        }
        while let Some(joined) = set.join_next().await {
            if let Err(e) = joined {
                tracing::error!(controller = %self.name, error = %e, "a controller worker ended abnormally");
            }
        }
    }

    /// Reconciles one key and decides what happens to it; always marks it done.
    async fn process(&self, key: ObjectRef) {
        let Some(object) = self.store.get_by_key(&key.key()) else {
            tracing::debug!(controller = %self.name, object = %key, "not in the cache: nothing to reconcile");
            self.queue.forget(&key);
            self.queue.done(&key);
            return;
        };
        let span = tracing::info_span!(
            "reconcile",
            controller = %self.name,
            object = %key,
            object.namespace = key.namespace.as_deref().unwrap_or_default(),
            object.name = %key.name,
            retries = self.queue.num_requeues(&key),
        );
        metrics::active_workers(&self.name, 1.0);
        let started = Instant::now();
        let context = self.context.clone();
        let called = std::panic::catch_unwind(AssertUnwindSafe(|| {
            (self.reconcile)(object.clone(), context)
        }));
        let outcome = match called {
            Ok(future) => {
                AssertUnwindSafe(future)
                    .catch_unwind()
                    .instrument(span.clone())
                    .await
            }
            Err(panic) => Err(panic),
        };
        let took = started.elapsed();
        metrics::active_workers(&self.name, -1.0);
        let _entered = span.enter();
        match outcome {
            Ok(Ok(action)) => {
                let result = if action.requeue_after().is_some() {
                    Outcome::RequeueAfter
                } else {
                    Outcome::Success
                };
                metrics::reconciled(&self.name, result, took);
                self.apply(&key, action);
            }
            Ok(Err(error)) => {
                metrics::reconciled(&self.name, Outcome::Error, took);
                tracing::debug!(error = %error, "reconcile failed");
                let decided = std::panic::catch_unwind(AssertUnwindSafe(|| {
                    (self.error_policy)(object, &error, self.context.clone())
                }));
                match decided {
                    Ok(action) => self.apply(&key, action),
                    Err(panic) => {
                        tracing::error!(
                            panic = panic_message(&panic),
                            "the error policy panicked; backing off"
                        );
                        self.apply(&key, Action::backoff());
                    }
                }
            }
            Err(panic) => {
                metrics::reconciled(&self.name, Outcome::Panic, took);
                tracing::error!(
                    panic = panic_message(&panic),
                    "reconcile panicked; retrying the key after a backoff"
                );
                // A panic is not a decision: back off, whatever max_retries says.
                self.queue.add_rate_limited(&key);
            }
        }
        self.queue.done(&key);
    }

    fn apply(&self, key: &ObjectRef, action: Action) {
        if let Some(delay) = action.requeue_after() {
            self.queue.forget(key);
            self.queue.add_after(key, delay);
        } else if action.is_backoff() {
            let retries = self.queue.num_requeues(key);
            if self.max_retries.is_some_and(|max| retries >= max) {
                tracing::warn!(retries, "giving up on this key until its object changes");
                self.queue.forget(key);
            } else {
                self.queue.add_rate_limited(key);
            }
        } else {
            self.queue.forget(key);
        }
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> &str {
    if let Some(s) = panic.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s
    } else {
        "(not a string)"
    }
}
