//! The expiry decision: a candidate remembers the last record it saw and *when it saw it
//! change*, on its own monotonic clock, and only treats the lease as expired once that local
//! time plus the lease duration has passed. The holder's `renewTime` is never compared with
//! the local clock, so clock skew between machines cannot hand the lease to two holders.
//!
//! Every decision takes `now` as an argument: the clock is injected, and tests drive it.

use std::time::Duration;

use tokio::time::Instant;

use super::lock::LeaderElectionRecord;

/// The last record observed and when it was observed to change.
#[derive(Debug, Clone, Default)]
pub(crate) struct Observed {
    record: Option<LeaderElectionRecord>,
    at: Option<Instant>,
}

impl Observed {
    /// Notes the record just read; the observed time moves only when the record differs
    /// from the one seen before. Returns whether it changed.
    pub(crate) fn observe(&mut self, record: &LeaderElectionRecord, now: Instant) -> bool {
        if self.record.as_ref() == Some(record) {
            return false;
        }
        self.record = Some(record.clone());
        self.at = Some(now);
        true
    }

    /// The record observed last.
    pub(crate) fn record(&self) -> Option<&LeaderElectionRecord> {
        self.record.as_ref()
    }

    /// The holder of the record observed last (`None`: nobody or nothing seen).
    pub(crate) fn holder(&self) -> Option<&str> {
        self.record
            .as_ref()
            .map(|r| r.holder_identity.as_str())
            .filter(|h| !h.is_empty())
    }

    /// Whether the record observed last names `identity` as holder (client-go `IsLeader`).
    pub(crate) fn is_held_by(&self, identity: &str) -> bool {
        self.holder() == Some(identity)
    }

    /// When the observed lease expires on the local clock: observed time plus the record's
    /// `leaseDurationSeconds` (or `fallback` when the record has none).
    pub(crate) fn expires_at(&self, fallback: Duration) -> Option<Instant> {
        let (record, at) = (self.record.as_ref()?, self.at?);
        let secs = record.lease_duration_seconds;
        let duration = if secs > 0 {
            Duration::from_secs(secs.unsigned_abs().into())
        } else {
            fallback
        };
        Some(at + duration)
    }

    /// Whether `identity` must keep off the lease at `now`: somebody else holds it and the
    /// lease has not expired by the local clock.
    pub(crate) fn is_held_by_other(
        &self,
        identity: &str,
        now: Instant,
        fallback: Duration,
    ) -> bool {
        match self.holder() {
            None => false,
            Some(h) if h == identity => false,
            Some(_) => self.expires_at(fallback).is_some_and(|exp| now < exp),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::leader_election::lock::now_micro;

    fn rec(holder: &str, secs: i32, transitions: i32) -> LeaderElectionRecord {
        LeaderElectionRecord {
            holder_identity: holder.into(),
            lease_duration_seconds: secs,
            acquire_time: None,
            renew_time: Some(now_micro()),
            lease_transitions: transitions,
        }
    }

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn expiry_counts_from_local_observation_not_from_renew_time() {
        let t0 = Instant::now();
        let mut o = Observed::default();
        let mut r = rec("other", 3, 0);
        // The holder's clock is a day ahead: renewTime must not matter.
        r.renew_time = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(
            k8s_openapi::jiff::Timestamp::now() + k8s_openapi::jiff::SignedDuration::from_hours(24),
        ));
        assert!(o.observe(&r, t0));
        assert!(o.is_held_by_other("me", t0, S(15)));
        assert!(o.is_held_by_other("me", t0 + Duration::from_millis(2999), S(15)));
        assert!(!o.is_held_by_other("me", t0 + S(3), S(15)));
        // The same record seen again later does not move the observed time.
        assert!(!o.observe(&r, t0 + S(2)));
        assert!(!o.is_held_by_other("me", t0 + S(3), S(15)));
        // A renewal (changed record) does.
        let mut renewed = r.clone();
        renewed.renew_time = Some(now_micro());
        assert!(o.observe(&renewed, t0 + S(2)));
        assert!(o.is_held_by_other("me", t0 + S(4), S(15)));
        assert!(!o.is_held_by_other("me", t0 + S(5), S(15)));
        assert_eq!(o.expires_at(S(15)), Some(t0 + S(5)));
    }

    #[test]
    fn a_clock_far_behind_the_holder_still_waits_the_full_duration() {
        let t0 = Instant::now();
        let mut o = Observed::default();
        let mut r = rec("other", 10, 4);
        r.renew_time = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(
            k8s_openapi::jiff::Timestamp::now() - k8s_openapi::jiff::SignedDuration::from_hours(24),
        ));
        o.observe(&r, t0);
        assert!(o.is_held_by_other("me", t0 + S(9), S(1)));
        assert!(!o.is_held_by_other("me", t0 + S(10), S(1)));
    }

    #[test]
    fn released_or_own_or_unknown_leases_are_free() {
        let t0 = Instant::now();
        let mut o = Observed::default();
        assert!(!o.is_held_by_other("me", t0, S(15)));
        assert_eq!(o.holder(), None);
        o.observe(&rec("", 1, 2), t0);
        assert!(!o.is_held_by_other("me", t0, S(15)));
        assert_eq!(o.holder(), None);
        o.observe(&rec("me", 15, 2), t0);
        assert!(!o.is_held_by_other("me", t0, S(15)));
        assert!(o.is_held_by("me"));
        assert!(o.is_held_by_other("you", t0, S(15)));
    }

    #[test]
    fn missing_duration_falls_back_to_the_config() {
        let t0 = Instant::now();
        let mut o = Observed::default();
        o.observe(&rec("other", 0, 0), t0);
        assert!(o.is_held_by_other("me", t0 + S(6), S(7)));
        assert!(!o.is_held_by_other("me", t0 + S(7), S(7)));
    }
}
