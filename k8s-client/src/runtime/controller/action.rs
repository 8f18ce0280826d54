//! [`Action`]: what a reconcile (or the error policy) asks the controller to do next with
//! the key.

use std::time::Duration;

/// What happens to a key after its reconcile: nothing until the object changes, again after
/// a delay, or again after the queue's per-key backoff.
///
/// ```
/// use std::time::Duration;
/// use k8s_client::runtime::controller::Action;
///
/// assert_eq!(Action::requeue(Duration::from_secs(60)).requeue_after(), Some(Duration::from_secs(60)));
/// assert_eq!(Action::await_change().requeue_after(), None);
/// assert!(Action::backoff().is_backoff());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Action {
    kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    AwaitChange,
    RequeueAfter(Duration),
    Backoff,
}

impl Action {
    /// Reconcile the key again after `delay`, even if nothing changes (its failure count is
    /// reset).
    pub fn requeue(delay: Duration) -> Self {
        Action {
            kind: Kind::RequeueAfter(delay),
        }
    }

    /// Nothing more until the object (or something mapped to it) changes again.
    pub fn await_change() -> Self {
        Action {
            kind: Kind::AwaitChange,
        }
    }

    /// Reconcile the key again after the work queue's per-key backoff (exponential in the
    /// number of failures in a row): what the default error policy returns.
    pub fn backoff() -> Self {
        Action {
            kind: Kind::Backoff,
        }
    }

    /// The delay of [`requeue`](Self::requeue) (`None` for the other actions).
    pub fn requeue_after(&self) -> Option<Duration> {
        match self.kind {
            Kind::RequeueAfter(d) => Some(d),
            _ => None,
        }
    }

    /// Whether this is [`backoff`](Self::backoff).
    pub fn is_backoff(&self) -> bool {
        self.kind == Kind::Backoff
    }
}
