//! The errors of discovery and mapping.

use std::collections::BTreeMap;

/// What can go wrong discovering what a server serves.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// A discovery request failed (network, credentials, an error answer).
    #[error("discovery request GET {endpoint} failed: {source}")]
    Request {
        /// The endpoint (`/apis`, `/apis/apps/v1`).
        endpoint: String,
        /// What went wrong (its `is_not_found()` and friends, and this error's own, tell
        /// what the server answered).
        #[source]
        source: crate::Error,
    },
    /// An answer could not be decoded.
    #[error("the answer of GET {endpoint} is not valid discovery information: {message}")]
    Decode {
        /// The endpoint whose answer was malformed.
        endpoint: String,
        /// What was wrong with it.
        message: String,
        /// The JSON decoder's error (`serde_json::Error`), when the answer did not decode
        /// at all; `None` when it decoded but made no sense (an unknown scope, ...).
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// Some group/versions could not be discovered (client-go's `ErrGroupDiscoveryFailed`);
    /// the rest were. Made by [`Snapshot::check_complete`](super::Snapshot::check_complete).
    #[error("unable to retrieve the complete list of server APIs: {}", describe_failed(.failed))]
    GroupDiscoveryFailed {
        /// The group/versions (`metrics.k8s.io/v1beta1`) and why each failed.
        failed: BTreeMap<String, String>,
    },
    /// The disk cache could not be written (reading problems are treated as a cache miss).
    #[error("writing the discovery cache {path}: {message}")]
    Cache {
        /// The file or directory.
        path: String,
        /// What went wrong.
        message: String,
        /// The I/O error, or the JSON encoder's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

fn describe_failed(failed: &BTreeMap<String, String>) -> String {
    failed
        .iter()
        .map(|(gv, why)| format!("{gv}: {why}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe_undiscovered(undiscovered: &[String]) -> String {
    if undiscovered.is_empty() {
        String::new()
    } else {
        format!(
            " (these group/versions could not be discovered: {})",
            undiscovered.join(", ")
        )
    }
}

impl DiscoveryError {
    pub(crate) fn request(endpoint: &str, source: crate::Error) -> Self {
        DiscoveryError::Request {
            endpoint: endpoint.to_string(),
            source,
        }
    }

    /// An answer that decoded but makes no sense.
    pub(crate) fn decode(endpoint: &str, message: impl Into<String>) -> Self {
        DiscoveryError::Decode {
            endpoint: endpoint.to_string(),
            message: message.into(),
            source: None,
        }
    }

    /// An answer the JSON decoder refused.
    pub(crate) fn undecodable(endpoint: &str, source: serde_json::Error) -> Self {
        DiscoveryError::Decode {
            endpoint: endpoint.to_string(),
            message: source.to_string(),
            source: Some(Box::new(source)),
        }
    }

    /// The disk cache at `path` could not be written.
    pub(crate) fn cache(
        path: &std::path::Path,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        let source = source.into();
        DiscoveryError::Cache {
            path: path.display().to_string(),
            message: source.to_string(),
            source,
        }
    }
}

crate::__status_questions!(DiscoveryError);
crate::__status_questions!(MappingError);

/// What can go wrong mapping a name a person typed (or a kind) to a resource.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MappingError {
    /// The input is not a resource or kind name.
    #[error("{input:?} is not a valid resource name: {reason}")]
    Invalid {
        /// What was asked for.
        input: String,
        /// Why it is not usable.
        reason: String,
    },
    /// The server serves nothing by that name (after refreshing discovery once).
    #[error("the server does not serve a resource or kind named {input:?}{}", describe_undiscovered(.undiscovered))]
    NotFound {
        /// What was asked for.
        input: String,
        /// Group/versions that could not be discovered (the name may be one of theirs).
        undiscovered: Vec<String>,
    },
    /// More than one resource matches and no priority rule picks one.
    #[error("{input:?} is ambiguous: it matches {}; qualify it with the group (resource.group)", .candidates.join(", "))]
    Ambiguous {
        /// What was asked for.
        input: String,
        /// The matching resources, as `resource.version.group`.
        candidates: Vec<String>,
    },
    /// Discovery itself failed (the [`DiscoveryError`] is this error's source).
    #[error("{0}")]
    Discovery(#[from] DiscoveryError),
}

impl From<DiscoveryError> for crate::error::Error {
    /// Kept whole as [`Error::Other`](crate::error::Error::Other): `is_not_found()` and
    /// friends see the API error inside, and `find::<DiscoveryError>()` gives it back.
    fn from(e: DiscoveryError) -> Self {
        crate::error::Error::other(e)
    }
}

impl From<MappingError> for crate::error::Error {
    /// Kept whole as [`Error::Other`](crate::error::Error::Other): `is_not_found()` and
    /// friends see the API error inside, and `find::<MappingError>()` gives it back.
    fn from(e: MappingError) -> Self {
        crate::error::Error::other(e)
    }
}
