//! The controller loop: an informer's handler puts the key of every changed object on a
//! [`WorkQueue`]; N workers take keys off it and run an async reconcile function, which
//! can ask to run again later ([`Action::RequeueAfter`]); a failed key is retried with
//! per-key exponential backoff (the queue's rate limiter), up to
//! [`max_retries`](Controller::max_retries) times.
//!
//! The queue guarantees that one key is never reconciled by two workers at once, and that a
//! key changed several times while waiting is reconciled once.
//!
//! ```no_run
//! use std::time::Duration;
//! use k8s_client::cache::SharedInformer;
//! use k8s_client::runtime::controller::{Action, Controller, ReconcileRequest};
//! use k8s_client::Api;
//! use k8s_openapi::api::core::v1::ConfigMap;
//!
//! # async fn run(client: k8s_client::Client) {
//! let informer = SharedInformer::new(Api::<ConfigMap>::all(client), Default::default());
//! let controller = Controller::new(informer).workers(4).max_retries(5);
//! let queue = controller.queue(); // queue.shut_down() stops the controller
//! controller
//!     .run(|req: ReconcileRequest<ConfigMap>| async move {
//!         match &req.object {
//!             Some(cm) => println!("sync {}: {} keys", req.key, cm.data.as_ref().map_or(0, |d| d.len())),
//!             None => println!("{} is gone", req.key),
//!         }
//!         Ok::<_, std::convert::Infallible>(Action::RequeueAfter(Duration::from_secs(300)))
//!     })
//!     .await;
//! # drop(queue);
//! # }
//! ```

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::api::Object;
use crate::cache::{Event, SharedInformer, Store};
use crate::runtime::workqueue::WorkQueue;

/// What a reconcile asks for after it succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Nothing more until the object changes again.
    Done,
    /// Reconcile this key again after this delay (even if nothing changes).
    RequeueAfter(Duration),
}

/// One unit of work: the key of an object that changed, and its current state in the
/// cache (`None` when it has been deleted).
pub struct ReconcileRequest<K> {
    /// `namespace/name` (or `name`).
    pub key: String,
    /// The object as cached now; `None` when it no longer exists.
    pub object: Option<Arc<K>>,
    /// How many times this key has failed in a row before this attempt.
    pub retries: u32,
}

impl<K> fmt::Debug for ReconcileRequest<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReconcileRequest")
            .field("key", &self.key)
            .field("exists", &self.object.is_some())
            .field("retries", &self.retries)
            .finish()
    }
}

/// Runs reconcile functions for the objects of one informer. See the [module docs](self).
pub struct Controller<K: Object + Send + Sync + 'static> {
    informer: SharedInformer<K>,
    queue: WorkQueue<String>,
    workers: usize,
    max_retries: Option<u32>,
}

impl<K: Object + Send + Sync + 'static> fmt::Debug for Controller<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Controller")
            .field("informer", &self.informer)
            .field("workers", &self.workers)
            .field("max_retries", &self.max_retries)
            .finish()
    }
}

impl<K: Object + Send + Sync + 'static> Controller<K> {
    /// A controller over `informer`, with a queue using client-go's default controller
    /// rate limiter, one worker and unlimited retries.
    pub fn new(informer: SharedInformer<K>) -> Self {
        Controller {
            informer,
            queue: WorkQueue::new(),
            workers: 1,
            max_retries: None,
        }
    }

    /// Uses `queue` (for example one built with another rate limiter or with metrics).
    pub fn with_queue(mut self, queue: WorkQueue<String>) -> Self {
        self.queue = queue;
        self
    }

    /// Runs `n` workers (at least one).
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n.max(1);
        self
    }

    /// Gives up on a key after it failed `n` times in a row (it is retried again when the
    /// object changes); the default is to retry forever.
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = Some(n);
        self
    }

    /// The work queue: add keys to it from other informers' handlers (objects this one
    /// owns, say), and [`shut_down`](WorkQueue::shut_down) it to stop the controller.
    pub fn queue(&self) -> WorkQueue<String> {
        self.queue.clone()
    }

    /// Starts the informer (if it is not running), waits for its cache, and runs the
    /// workers until the queue is shut down; then waits for the keys in progress.
    ///
    /// # Panics
    /// Outside a Tokio runtime.
    pub async fn run<F, Fut, E>(self, reconcile: F)
    where
        F: Fn(ReconcileRequest<K>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Action, E>> + Send + 'static,
        E: fmt::Display + Send + 'static,
    {
        let queue = self.queue.clone();
        let registration = self.informer.add_handler(move |event: Event<K>| {
            queue.add(&event.key());
        });
        self.informer.start();
        self.informer.wait_for_sync().await;
        // Every cached object's key is on the queue before the workers start.
        registration.wait_for_sync().await;
        let reconcile = Arc::new(reconcile);
        let workers: Vec<_> = (0..self.workers)
            .map(|_| {
                tokio::spawn(worker(
                    self.queue.clone(),
                    self.informer.store(),
                    reconcile.clone(),
                    self.max_retries,
                ))
            })
            .collect();
        for w in workers {
            if let Err(e) = w.await {
                tracing::error!(error = %e, "a controller worker panicked");
            }
        }
        registration.remove();
    }
}

async fn worker<K, F, Fut, E>(
    queue: WorkQueue<String>,
    store: Store<K>,
    reconcile: Arc<F>,
    max_retries: Option<u32>,
) where
    K: Object + Send + Sync + 'static,
    F: Fn(ReconcileRequest<K>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Action, E>> + Send + 'static,
    E: fmt::Display + Send + 'static,
{
    while let Some(key) = queue.get().await {
        let retries = queue.num_requeues(&key);
        let request = ReconcileRequest {
            object: store.get_by_key(&key),
            key: key.clone(),
            retries,
        };
        match reconcile(request).await {
            Ok(Action::Done) => queue.forget(&key),
            Ok(Action::RequeueAfter(delay)) => {
                queue.forget(&key);
                queue.add_after(&key, delay);
            }
            Err(e) if max_retries.is_some_and(|max| retries >= max) => {
                tracing::warn!(%key, error = %e, retries, "reconcile failed; giving up on this key");
                queue.forget(&key);
            }
            Err(e) => {
                tracing::debug!(%key, error = %e, retries, "reconcile failed; retrying after a backoff");
                queue.add_rate_limited(&key);
            }
        }
        queue.done(&key);
    }
}
