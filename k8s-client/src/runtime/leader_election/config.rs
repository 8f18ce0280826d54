//! [`LeaderElectionConfig`]: how long a lease lasts, how long a leader keeps trying to renew
//! it, how often candidates retry; validated as client-go validates its config.

use std::time::Duration;

/// The jitter factor of client-go: candidates wait between `retry_period` and
/// `(1 + JITTER_FACTOR) * retry_period` between attempts, and `renew_deadline` must exceed
/// `JITTER_FACTOR * retry_period`.
pub const JITTER_FACTOR: f64 = 1.2;

/// Timing of a leader election (client-go `LeaderElectionConfig`).
///
/// ```
/// use std::time::Duration;
/// use k8s_client::runtime::leader_election::LeaderElectionConfig;
///
/// let config = LeaderElectionConfig::new(
///     Duration::from_secs(30),
///     Duration::from_secs(20),
///     Duration::from_secs(4),
/// )
/// .release_on_cancel(true);
/// assert!(config.validate().is_ok());
/// assert!(LeaderElectionConfig::default().validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LeaderElectionConfig {
    /// How long a candidate waits, after it last saw the lease change, before it takes the
    /// lease over from a holder that stopped renewing. Stored in the Lease as
    /// `leaseDurationSeconds`, so it must be a whole number of seconds. Default 15 s.
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew, counted from its last successful renewal,
    /// before it gives leadership up. Default 10 s.
    pub renew_deadline: Duration,
    /// How often the leader renews and candidates retry. Default 2 s.
    pub retry_period: Duration,
    /// When the election is cancelled while leading, clear the Lease's `holderIdentity`
    /// (with a 1 s lease) so another candidate takes over at once instead of waiting for the
    /// lease to expire. Only safe when the leader's work has stopped, which
    /// [`LeaderElector::run`](super::LeaderElector::run) guarantees by awaiting it first.
    /// Default `false`, as in client-go.
    pub release_on_cancel: bool,
}

impl Default for LeaderElectionConfig {
    /// client-go's recommended values: 15 s lease, 10 s renew deadline, 2 s retry period.
    fn default() -> Self {
        LeaderElectionConfig::new(
            Duration::from_secs(15),
            Duration::from_secs(10),
            Duration::from_secs(2),
        )
    }
}

/// A leader election that cannot work as configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LeaderElectionConfigError {
    /// A duration is zero.
    #[error("leader election config: {field} must be positive, got {value:?}")]
    NotPositive {
        /// `lease_duration`, `renew_deadline` or `retry_period`.
        field: &'static str,
        /// The value given.
        value: Duration,
    },
    /// The lease duration has a fractional second (the Lease stores whole seconds).
    #[error(
        "leader election config: lease_duration must be a whole number of seconds \
         (the Lease stores leaseDurationSeconds), got {0:?}"
    )]
    FractionalLeaseDuration(Duration),
    /// The lease would expire before the leader gives up renewing it.
    #[error(
        "leader election config: lease_duration ({lease_duration:?}) must be greater than \
         renew_deadline ({renew_deadline:?})"
    )]
    LeaseNotLongerThanRenewDeadline {
        /// The lease duration given.
        lease_duration: Duration,
        /// The renew deadline given.
        renew_deadline: Duration,
    },
    /// The leader could not retry even once within its renew deadline.
    #[error(
        "leader election config: renew_deadline ({renew_deadline:?}) must be greater than \
         1.2 x retry_period ({retry_period:?})"
    )]
    RenewDeadlineTooShort {
        /// The renew deadline given.
        renew_deadline: Duration,
        /// The retry period given.
        retry_period: Duration,
    },
    /// The lock lacks a name, namespace or identity.
    #[error("leader election lock: {0} must not be empty")]
    EmptyLockField(&'static str),
}

impl LeaderElectionConfig {
    /// A config with these timings (see the fields), not releasing the lease on cancel.
    /// Nothing is checked until [`validate`](Self::validate) (or the elector) does.
    pub fn new(lease_duration: Duration, renew_deadline: Duration, retry_period: Duration) -> Self {
        LeaderElectionConfig {
            lease_duration,
            renew_deadline,
            retry_period,
            release_on_cancel: false,
        }
    }

    /// Sets `lease_duration`.
    pub fn lease_duration(mut self, duration: Duration) -> Self {
        self.lease_duration = duration;
        self
    }

    /// Sets `renew_deadline`.
    pub fn renew_deadline(mut self, deadline: Duration) -> Self {
        self.renew_deadline = deadline;
        self
    }

    /// Sets `retry_period`.
    pub fn retry_period(mut self, period: Duration) -> Self {
        self.retry_period = period;
        self
    }

    /// Sets `release_on_cancel`.
    pub fn release_on_cancel(mut self, release: bool) -> Self {
        self.release_on_cancel = release;
        self
    }

    /// Checks the timing as client-go does: all durations positive,
    /// `lease_duration > renew_deadline > JITTER_FACTOR * retry_period`, and (because the
    /// Lease stores seconds) a whole-second lease duration.
    pub fn validate(&self) -> Result<(), LeaderElectionConfigError> {
        for (field, value) in [
            ("lease_duration", self.lease_duration),
            ("renew_deadline", self.renew_deadline),
            ("retry_period", self.retry_period),
        ] {
            if value.is_zero() {
                return Err(LeaderElectionConfigError::NotPositive { field, value });
            }
        }
        if self.lease_duration.subsec_nanos() != 0 {
            return Err(LeaderElectionConfigError::FractionalLeaseDuration(
                self.lease_duration,
            ));
        }
        if self.lease_duration <= self.renew_deadline {
            return Err(LeaderElectionConfigError::LeaseNotLongerThanRenewDeadline {
                lease_duration: self.lease_duration,
                renew_deadline: self.renew_deadline,
            });
        }
        if self.renew_deadline.as_secs_f64() <= JITTER_FACTOR * self.retry_period.as_secs_f64() {
            return Err(LeaderElectionConfigError::RenewDeadlineTooShort {
                renew_deadline: self.renew_deadline,
                retry_period: self.retry_period,
            });
        }
        Ok(())
    }

    /// `lease_duration` in whole seconds, as stored in the Lease (saturating).
    pub(crate) fn lease_duration_seconds(&self) -> i32 {
        i32::try_from(self.lease_duration.as_secs()).unwrap_or(i32::MAX)
    }
}

impl From<LeaderElectionConfigError> for crate::error::Error {
    /// Kept whole as [`Error::Other`](crate::error::Error::Other): `is_not_found()` and
    /// friends see the API error inside, and `find::<LeaderElectionConfigError>()` gives it back.
    fn from(e: LeaderElectionConfigError) -> Self {
        crate::error::Error::other(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(lease: f64, renew: f64, retry: f64) -> LeaderElectionConfig {
        LeaderElectionConfig {
            lease_duration: Duration::from_secs_f64(lease),
            renew_deadline: Duration::from_secs_f64(renew),
            retry_period: Duration::from_secs_f64(retry),
            release_on_cancel: false,
        }
    }

    #[test]
    fn defaults_are_client_gos_and_valid() {
        let c = LeaderElectionConfig::default();
        assert_eq!(c.lease_duration, Duration::from_secs(15));
        assert_eq!(c.renew_deadline, Duration::from_secs(10));
        assert_eq!(c.retry_period, Duration::from_secs(2));
        assert!(!c.release_on_cancel);
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(c.lease_duration_seconds(), 15);
    }

    #[test]
    fn short_test_timings_are_valid() {
        assert_eq!(config(3.0, 2.0, 0.5).validate(), Ok(()));
    }

    #[test]
    fn zero_durations_are_rejected_naming_the_field() {
        for (c, field) in [
            (config(0.0, 2.0, 0.5), "lease_duration"),
            (config(3.0, 0.0, 0.5), "renew_deadline"),
            (config(3.0, 2.0, 0.0), "retry_period"),
        ] {
            match c.validate() {
                Err(LeaderElectionConfigError::NotPositive { field: f, .. }) => {
                    assert_eq!(f, field)
                }
                other => panic!("{field}: {other:?}"),
            }
        }
        let msg = config(3.0, 2.0, 0.0).validate().unwrap_err().to_string();
        assert!(msg.contains("retry_period must be positive"), "{msg}");
    }

    #[test]
    fn ordering_is_enforced() {
        assert!(matches!(
            config(10.0, 10.0, 2.0).validate(),
            Err(LeaderElectionConfigError::LeaseNotLongerThanRenewDeadline { .. })
        ));
        assert!(matches!(
            config(10.0, 12.0, 2.0).validate(),
            Err(LeaderElectionConfigError::LeaseNotLongerThanRenewDeadline { .. })
        ));
        // 2.4 = 1.2 * 2: not strictly greater.
        assert!(matches!(
            config(10.0, 2.4, 2.0).validate(),
            Err(LeaderElectionConfigError::RenewDeadlineTooShort { .. })
        ));
        assert_eq!(config(10.0, 2.5, 2.0).validate(), Ok(()));
        let msg = config(10.0, 2.0, 2.0).validate().unwrap_err().to_string();
        assert!(msg.contains("renew_deadline (2s)"), "{msg}");
        assert!(msg.contains("1.2 x retry_period (2s)"), "{msg}");
    }

    #[test]
    fn lease_duration_must_be_whole_seconds() {
        assert_eq!(
            config(3.5, 2.0, 0.5).validate(),
            Err(LeaderElectionConfigError::FractionalLeaseDuration(
                Duration::from_millis(3500)
            ))
        );
    }
}
