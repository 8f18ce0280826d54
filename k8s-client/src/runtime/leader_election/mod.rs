//! Lease-based leader election (client-go `tools/leaderelection`).
//!
//! Candidates compete for one `coordination.k8s.io/v1` Lease. The leader renews it every
//! `retry_period`; a candidate takes it over only after it has seen the Lease unchanged for a
//! whole lease duration *on its own clock* (never by comparing the holder's `renewTime` with
//! the local clock), and every write carries the resourceVersion it read, so of two
//! candidates racing for an expired lease exactly one wins. A leader that cannot renew within
//! `renew_deadline` of its last renewal stops leading.
//!
//! ```no_run
//! use k8s_client::runtime::leader_election::{
//!     CancellationToken, LeaderCallbacks, LeaderElectionConfig, LeaderElector, LeaseLock,
//! };
//!
//! # async fn run(client: k8s_client::Client) -> Result<(), Box<dyn std::error::Error>> {
//! let lock = LeaseLock::new("default", "my-controller", "pod-a");
//! let config = LeaderElectionConfig::default().release_on_cancel(true);
//! let elector = LeaderElector::new(client, lock, config)?;
//! let shutdown = CancellationToken::new();
//! let callbacks = LeaderCallbacks::new(|leading: CancellationToken| async move {
//!     // Work as the leader until `leading` is cancelled (leadership lost or shutdown).
//!     leading.cancelled().await;
//! })
//! .on_stopped_leading(|| println!("stopped leading"))
//! .on_new_leader(|id| println!("the leader is now {id}"));
//! let ended = elector.run(shutdown, callbacks).await;
//! println!("election ended: {ended:?}");
//! # Ok(())
//! # }
//! ```

mod config;
mod lock;
mod observed;

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use tokio::sync::watch;
use tokio::time::Instant;

pub use config::{LeaderElectionConfig, LeaderElectionConfigError, JITTER_FACTOR};
pub use lock::{LeaderElectionRecord, LeaseLock};
/// The token type of [`LeaderElector::run`] (re-exported from `tokio-util`).
pub use tokio_util::sync::CancellationToken;

use crate::api::{Api, PostParams};
use crate::client::Client;
use observed::Observed;

/// The `on_new_leader` callback, when set.
type NewLeaderFn = Option<Box<dyn FnMut(&str) + Send>>;

/// What [`LeaderElector::run`] is told about the election.
///
/// `on_started_leading` gets a [`CancellationToken`] that is cancelled when leadership ends
/// (lost, or the run cancelled); its future runs inside `run`, which waits for it to return
/// before releasing the lease or returning. `on_stopped_leading` is called once after
/// leading ends (not when the run ends without ever leading, unlike client-go).
/// `on_new_leader` is called whenever a different holder is observed, including this
/// candidate itself.
pub struct LeaderCallbacks<F> {
    on_started_leading: F,
    on_stopped_leading: Option<Box<dyn FnOnce() + Send>>,
    on_new_leader: NewLeaderFn,
}

impl<F> LeaderCallbacks<F> {
    /// Callbacks that run `on_started_leading` when this candidate becomes the leader.
    pub fn new(on_started_leading: F) -> Self {
        LeaderCallbacks {
            on_started_leading,
            on_stopped_leading: None,
            on_new_leader: None,
        }
    }

    /// Called once after leading ends (and the leading future returned).
    pub fn on_stopped_leading(mut self, f: impl FnOnce() + Send + 'static) -> Self {
        self.on_stopped_leading = Some(Box::new(f));
        self
    }

    /// Called with the holder's identity whenever a new holder is observed.
    pub fn on_new_leader(mut self, f: impl FnMut(&str) + Send + 'static) -> Self {
        self.on_new_leader = Some(Box::new(f));
        self
    }
}

impl<F> std::fmt::Debug for LeaderCallbacks<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaderCallbacks")
            .field("on_stopped_leading", &self.on_stopped_leading.is_some())
            .field("on_new_leader", &self.on_new_leader.is_some())
            .finish_non_exhaustive()
    }
}

/// How [`LeaderElector::run`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The cancellation token was cancelled (after leading, the lease was released when
    /// `release_on_cancel` is set).
    Cancelled,
    /// This candidate led, then could not renew within `renew_deadline` or saw another
    /// holder. Run again to compete again.
    LostLeadership,
}

/// What a candidate currently knows (see [`LeaderElector::subscribe`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaderStatus {
    /// The holder last observed (`None`: nobody, or nothing observed yet).
    pub leader: Option<String>,
    /// Whether this candidate is leading.
    pub is_leader: bool,
}

/// One candidate in a leader election. Cheap to clone; clones share the state, so one can
/// run the election while others ask [`is_leader`](Self::is_leader).
#[derive(Clone)]
pub struct LeaderElector {
    inner: Arc<Inner>,
}

struct Inner {
    api: Api<Lease>,
    lock: LeaseLock,
    config: LeaderElectionConfig,
    state: Mutex<State>,
    status: watch::Sender<LeaderStatus>,
    /// One run at a time per elector.
    running: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct State {
    observed: Observed,
    /// The Lease as last read or written (its resourceVersion is used by the release).
    lease: Option<Lease>,
    /// Set while `run` holds leadership.
    leading: bool,
    /// When the last successful write of ours was *sent* (its start bounds how long we may
    /// believe we lead).
    renewed_at: Option<Instant>,
    /// The holder last reported to `on_new_leader`.
    reported: Option<String>,
}

impl std::fmt::Debug for LeaderElector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaderElector")
            .field("lock", &self.inner.lock)
            .field("config", &self.inner.config)
            .field("is_leader", &self.is_leader())
            .finish()
    }
}

/// Clears `leading` when a run is dropped or ends while leading.
struct LeadingGuard<'a>(&'a LeaderElector);

impl Drop for LeadingGuard<'_> {
    fn drop(&mut self) {
        self.0.set_leading(false);
    }
}

impl LeaderElector {
    /// A candidate for `lock` with `config`; fails when the config is invalid (see
    /// [`LeaderElectionConfig::validate`]) or the lock has an empty namespace, name or
    /// identity.
    pub fn new(
        client: Client,
        lock: LeaseLock,
        config: LeaderElectionConfig,
    ) -> Result<Self, LeaderElectionConfigError> {
        config.validate()?;
        for (field, value) in [
            ("namespace", lock.namespace()),
            ("name", lock.name()),
            ("identity", lock.identity()),
        ] {
            if value.is_empty() {
                return Err(LeaderElectionConfigError::EmptyLockField(field));
            }
        }
        let api = Api::namespaced(client, lock.namespace());
        Ok(LeaderElector {
            inner: Arc::new(Inner {
                api,
                lock,
                config,
                state: Mutex::new(State::default()),
                status: watch::Sender::new(LeaderStatus::default()),
                running: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// The lock this candidate competes for.
    pub fn lock(&self) -> &LeaseLock {
        &self.inner.lock
    }

    /// The configuration.
    pub fn config(&self) -> &LeaderElectionConfig {
        &self.inner.config
    }

    /// Whether this candidate leads now: it is running as leader, the Lease it last saw
    /// names it, and its last successful renewal was sent less than `renew_deadline` ago
    /// (so a stalled leader stops believing it leads before anyone else may take over).
    pub fn is_leader(&self) -> bool {
        let st = self.state();
        st.leading
            && st.observed.is_held_by(self.inner.lock.identity())
            && st
                .renewed_at
                .is_some_and(|t| Instant::now() < t + self.inner.config.renew_deadline)
    }

    /// The holder of the Lease as last observed (`None`: nobody, or not observed yet).
    pub fn leader(&self) -> Option<String> {
        self.state().observed.holder().map(str::to_string)
    }

    /// A receiver of status changes (leader observed, leading or not).
    pub fn subscribe(&self) -> watch::Receiver<LeaderStatus> {
        self.inner.status.subscribe()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave State inconsistent (plain fields).
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn set_leading(&self, leading: bool) {
        let leader = {
            let mut st = self.state();
            st.leading = leading;
            st.observed.holder().map(str::to_string)
        };
        self.publish(leader, leading);
    }

    fn publish(&self, leader: Option<String>, is_leader: bool) {
        self.inner.status.send_if_modified(|s| {
            let new = LeaderStatus { leader, is_leader };
            let changed = *s != new;
            *s = new;
            changed
        });
    }

    /// Competes for the lease until `cancel` is cancelled or, after leading, leadership is
    /// lost. While leading, the future of `callbacks`' `on_started_leading` runs inside this
    /// call; when leading ends its token is cancelled and this call waits for it to return,
    /// then (on cancel, with `release_on_cancel`) releases the Lease, then calls
    /// `on_stopped_leading`. Dropping the returned future stops the election at once without
    /// releasing (the lease then expires). Concurrent runs of one elector take turns.
    pub async fn run<F, Fut>(
        &self,
        cancel: CancellationToken,
        callbacks: LeaderCallbacks<F>,
    ) -> Ended
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = ()>,
    {
        let _turn = self.inner.running.lock().await;
        let LeaderCallbacks {
            on_started_leading,
            on_stopped_leading,
            mut on_new_leader,
        } = callbacks;
        let lock = &self.inner.lock;

        // Acquire.
        loop {
            let acquired = tokio::select! {
                biased;
                _ = cancel.cancelled() => return Ended::Cancelled,
                ok = self.try_acquire_or_renew() => ok,
            };
            self.report(&mut on_new_leader);
            if acquired {
                break;
            }
            let wait = self.acquire_wait();
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return Ended::Cancelled,
                _ = tokio::time::sleep(wait) => {}
            }
        }
        tracing::info!(lease = %lock.describe(), identity = lock.identity(), "acquired the lease");
        let guard = LeadingGuard(self);
        self.set_leading(true);

        // Lead.
        let leading = cancel.child_token();
        let _cancel_work_on_drop = leading.clone().drop_guard();
        let work = on_started_leading(leading.clone());
        tokio::pin!(work);
        let renew = self.renew_loop(&mut on_new_leader);
        tokio::pin!(renew);
        let mut work_done = false;
        let mut cancelling = false;
        let lost = loop {
            if work_done && cancelling {
                break false;
            }
            tokio::select! {
                () = &mut renew => break true,
                () = &mut work, if !work_done => work_done = true,
                // `leading` (a child token) is cancelled too: keep renewing while the work
                // winds down, so nobody else leads before it stopped.
                () = cancel.cancelled(), if !cancelling => cancelling = true,
            }
        };
        if lost {
            tracing::warn!(lease = %lock.describe(), identity = lock.identity(), "lost leadership");
            drop(guard);
            leading.cancel();
            if !work_done {
                work.await;
            }
        } else {
            drop(guard);
            if self.inner.config.release_on_cancel {
                self.release().await;
            }
        }
        if let Some(f) = on_stopped_leading {
            f();
        }
        if lost {
            Ended::LostLeadership
        } else {
            Ended::Cancelled
        }
    }

    /// Calls `on_new_leader` when the observed holder changed since the last report.
    fn report(&self, on_new_leader: &mut NewLeaderFn) {
        let (holder, leading) = {
            let mut st = self.state();
            let holder = st.observed.holder().map(str::to_string);
            if holder == st.reported {
                return;
            }
            st.reported = holder.clone();
            (holder, st.leading)
        };
        if let Some(h) = &holder {
            tracing::info!(lease = %self.inner.lock.describe(), leader = %h, "new leader observed");
            if let Some(f) = on_new_leader {
                f(h);
            }
        }
        self.publish(holder, leading);
    }

    /// How long a candidate waits before its next attempt: the retry period with client-go's
    /// jitter, but no longer than until the observed lease expires (plus a little jitter),
    /// so a takeover happens promptly after expiry.
    fn acquire_wait(&self) -> Duration {
        let retry = self.inner.config.retry_period;
        let jittered = retry.mul_f64(1.0 + JITTER_FACTOR * rand::random::<f64>());
        let expires = self
            .state()
            .observed
            .expires_at(self.inner.config.lease_duration);
        match expires {
            Some(at) => {
                let until = at.saturating_duration_since(Instant::now());
                let after = until + retry.mul_f64(0.1 * rand::random::<f64>());
                jittered.min(after)
            }
            None => jittered,
        }
    }

    /// Renews every retry period; returns when leadership is lost: no successful renewal
    /// within `renew_deadline` of the last one, or another holder observed.
    async fn renew_loop(&self, on_new_leader: &mut NewLeaderFn) {
        let config = &self.inner.config;
        let identity = self.inner.lock.identity();
        loop {
            tokio::time::sleep(config.retry_period).await;
            loop {
                let deadline = match self.state().renewed_at {
                    Some(t) => t + config.renew_deadline,
                    None => return,
                };
                let renewed = tokio::time::timeout_at(deadline, self.try_acquire_or_renew()).await;
                self.report(on_new_leader);
                match renewed {
                    Ok(true) => break,
                    Ok(false) => {
                        let st = self.state();
                        if st.observed.holder().is_some_and(|h| h != identity) {
                            return;
                        }
                    }
                    Err(_elapsed) => return,
                }
                let now = Instant::now();
                if now >= deadline {
                    return;
                }
                let pause = config.retry_period.min(deadline - now);
                tokio::time::sleep(pause).await;
            }
        }
    }

    /// One attempt to acquire or renew the lease (client-go `tryAcquireOrRenew`). Errors are
    /// logged and count as a failed attempt.
    async fn try_acquire_or_renew(&self) -> bool {
        let inner = &self.inner;
        let identity = inner.lock.identity();
        let started = Instant::now();
        let now = lock::now_micro();
        let mut record = LeaderElectionRecord {
            holder_identity: identity.to_string(),
            lease_duration_seconds: inner.config.lease_duration_seconds(),
            acquire_time: Some(now.clone()),
            renew_time: Some(now),
            lease_transitions: 0,
        };

        let current = match inner.api.get_opt(inner.lock.name()).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(lease = %inner.lock.describe(), error = %e, "reading the lease");
                return false;
            }
        };
        let Some(mut lease) = current else {
            return match inner
                .api
                .create(&PostParams::default(), &record.new_lease(&inner.lock))
                .await
            {
                Ok(created) => {
                    self.wrote(created, started);
                    true
                }
                Err(e) => {
                    if !e.is_already_exists() {
                        tracing::warn!(lease = %inner.lock.describe(), error = %e, "creating the lease");
                    }
                    false
                }
            };
        };

        let old = LeaderElectionRecord::from_lease(&lease);
        {
            let mut st = self.state();
            st.observed.observe(&old, Instant::now());
            st.lease = Some(lease.clone());
            if st
                .observed
                .is_held_by_other(identity, Instant::now(), inner.config.lease_duration)
            {
                return false;
            }
            if st.observed.is_held_by(identity) {
                record.acquire_time = old.acquire_time.clone();
                record.lease_transitions = old.lease_transitions;
            } else {
                record.lease_transitions = old.lease_transitions.saturating_add(1);
            }
        }
        record.apply_to(&mut lease);
        // `lease` keeps the resourceVersion read: a concurrent writer makes this a conflict.
        match inner
            .api
            .replace(inner.lock.name(), &PostParams::default(), &lease)
            .await
        {
            Ok(updated) => {
                self.wrote(updated, started);
                true
            }
            Err(e) => {
                if e.is_conflict() {
                    tracing::debug!(lease = %inner.lock.describe(), "lost a race for the lease");
                } else {
                    tracing::warn!(lease = %inner.lock.describe(), error = %e, "updating the lease");
                }
                false
            }
        }
    }

    /// Records a successful write of ours (the server's copy, so later reads compare equal).
    fn wrote(&self, lease: Lease, started: Instant) {
        let record = LeaderElectionRecord::from_lease(&lease);
        let mut st = self.state();
        st.observed.observe(&record, Instant::now());
        st.lease = Some(lease);
        st.renewed_at = Some(started);
    }

    /// Gives the lease up (client-go `release`): empty holder, 1 s lease, same transitions.
    async fn release(&self) {
        let inner = &self.inner;
        let lease = {
            let st = self.state();
            if !st.observed.is_held_by(inner.lock.identity()) {
                return;
            }
            let (Some(lease), Some(observed)) = (st.lease.clone(), st.observed.record()) else {
                return;
            };
            let now = lock::now_micro();
            let record = LeaderElectionRecord {
                holder_identity: String::new(),
                lease_duration_seconds: 1,
                acquire_time: Some(now.clone()),
                renew_time: Some(now),
                lease_transitions: observed.lease_transitions,
            };
            let mut lease = lease;
            record.apply_to(&mut lease);
            lease
        };
        match inner
            .api
            .replace(inner.lock.name(), &PostParams::default(), &lease)
            .await
        {
            Ok(updated) => {
                let record = LeaderElectionRecord::from_lease(&updated);
                let holder = {
                    let mut st = self.state();
                    st.observed.observe(&record, Instant::now());
                    st.lease = Some(updated);
                    st.renewed_at = None;
                    st.observed.holder().map(str::to_string)
                };
                self.publish(holder, false);
                tracing::info!(lease = %inner.lock.describe(), "released the lease");
            }
            Err(e) => {
                tracing::warn!(lease = %inner.lock.describe(), error = %e, "releasing the lease")
            }
        }
    }
}
