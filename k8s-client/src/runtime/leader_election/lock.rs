//! The lock: a `coordination.k8s.io/v1` Lease, and the [`LeaderElectionRecord`] kept in its
//! spec.

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};

/// Which Lease the candidates compete for, and who this candidate is.
///
/// ```
/// use k8s_client::runtime::leader_election::LeaseLock;
/// let lock = LeaseLock::new("kube-system", "my-controller", "pod-abc");
/// assert_eq!(lock.identity(), "pod-abc");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseLock {
    namespace: String,
    name: String,
    identity: String,
}

impl LeaseLock {
    /// The Lease `namespace/name`, held as `identity` (unique per candidate, for example the
    /// pod name).
    pub fn new(namespace: &str, name: &str, identity: &str) -> Self {
        LeaseLock {
            namespace: namespace.to_string(),
            name: name.to_string(),
            identity: identity.to_string(),
        }
    }

    /// The Lease's namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The Lease's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// This candidate's identity (written to `holderIdentity` when it leads).
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// `namespace/name`, for messages.
    pub fn describe(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// What a Lease says about its holder (client-go `LeaderElectionRecord`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LeaderElectionRecord {
    /// Who holds the lease; empty when nobody does (released).
    pub holder_identity: String,
    /// How long candidates must wait, after seeing the record last change, before taking the
    /// lease over (`leaseDurationSeconds`).
    pub lease_duration_seconds: i32,
    /// When the holder acquired the lease (holder's clock; informational only).
    pub acquire_time: Option<MicroTime>,
    /// When the holder last renewed the lease (holder's clock; informational only: expiry is
    /// judged by when a candidate saw the record change, never by this time).
    pub renew_time: Option<MicroTime>,
    /// How many times the lease changed holders.
    pub lease_transitions: i32,
}

impl LeaderElectionRecord {
    /// The record in a Lease's spec (missing fields are empty / zero).
    pub fn from_lease(lease: &Lease) -> Self {
        let spec = lease.spec.clone().unwrap_or_default();
        LeaderElectionRecord {
            holder_identity: spec.holder_identity.unwrap_or_default(),
            lease_duration_seconds: spec.lease_duration_seconds.unwrap_or(0),
            acquire_time: spec.acquire_time,
            renew_time: spec.renew_time,
            lease_transitions: spec.lease_transitions.unwrap_or(0),
        }
    }

    /// Writes this record into `lease`'s spec, keeping the spec's other fields.
    pub fn apply_to(&self, lease: &mut Lease) {
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        spec.holder_identity = Some(self.holder_identity.clone());
        spec.lease_duration_seconds = Some(self.lease_duration_seconds);
        spec.acquire_time = self.acquire_time.clone();
        spec.renew_time = self.renew_time.clone();
        spec.lease_transitions = Some(self.lease_transitions);
    }

    /// A new Lease for `lock` holding this record.
    pub(crate) fn new_lease(&self, lock: &LeaseLock) -> Lease {
        let mut lease = Lease {
            metadata: ObjectMeta {
                name: Some(lock.name.clone()),
                namespace: Some(lock.namespace.clone()),
                ..ObjectMeta::default()
            },
            spec: None,
        };
        self.apply_to(&mut lease);
        lease
    }
}

/// The current time as a `MicroTime` (for `acquireTime` / `renewTime`).
pub(crate) fn now_micro() -> MicroTime {
    MicroTime(k8s_openapi::jiff::Timestamp::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trips_through_a_lease() {
        let lock = LeaseLock::new("ns", "l", "me");
        let rec = LeaderElectionRecord {
            holder_identity: "me".into(),
            lease_duration_seconds: 15,
            acquire_time: Some(now_micro()),
            renew_time: Some(now_micro()),
            lease_transitions: 3,
        };
        let lease = rec.new_lease(&lock);
        assert_eq!(lease.metadata.name.as_deref(), Some("l"));
        assert_eq!(lease.metadata.namespace.as_deref(), Some("ns"));
        assert_eq!(LeaderElectionRecord::from_lease(&lease), rec);
        assert_eq!(
            LeaderElectionRecord::from_lease(&Lease::default()),
            LeaderElectionRecord::default()
        );
    }

    #[test]
    fn lease_json_decodes_into_a_record() {
        let lease: Lease = serde_json::from_str(
            r#"{"metadata":{"name":"l","resourceVersion":"7"},"spec":{"holderIdentity":"a",
            "leaseDurationSeconds":3,"acquireTime":"2026-01-01T00:00:00.000000Z",
            "renewTime":"2026-01-01T00:00:02.500000Z","leaseTransitions":2}}"#,
        )
        .unwrap();
        let rec = LeaderElectionRecord::from_lease(&lease);
        assert_eq!(rec.holder_identity, "a");
        assert_eq!(rec.lease_duration_seconds, 3);
        assert_eq!(rec.lease_transitions, 2);
        assert!(rec.renew_time > rec.acquire_time);
    }
}
