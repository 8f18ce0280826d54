//! The one error type of the crate, and the server's `Status` it carries.
//!
//! Every layer has its own error ([`ConfigError`], [`AuthError`], [`TransportError`])
//! and converts into [`Error`]. An API error keeps the server's `Status` so callers can match
//! on its reason:
//!
//! ```
//! # fn check(err: k8s_client::Error) {
//! if err.is_not_found() {
//!     println!("no such object");
//! }
//! # }
//! ```

use std::fmt;

pub use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;

use crate::auth::AuthError;
use crate::config::ConfigError;
use crate::transport::TransportError;

/// Shorthand for `Result<T, k8s_client::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong talking to a Kubernetes API server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration (kubeconfig, in-cluster files, overrides) is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Credentials could not be obtained (token file, exec plugin, client certificate).
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The request never got an HTTP answer: connection, TLS, proxy, I/O.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The server answered with an error status; its `Status` object is kept.
    #[error("{0}")]
    Api(Box<ApiError>),
    /// The server's answer could not be decoded.
    #[error("decoding {what}: {message}")]
    Decode {
        /// What was being decoded (for example `v1/Pod list`).
        what: String,
        /// What was wrong with it.
        message: String,
    },
    /// The request could not be built (bad name, body that does not serialize, ...).
    #[error("invalid request: {0}")]
    Request(String),
    /// An exec, attach or port-forward session failed after the upgrade.
    #[error(transparent)]
    Remote(#[from] crate::remote::RemoteError),
    /// Discovery failed (see [`DiscoveryError`](crate::discovery::DiscoveryError)).
    #[error(transparent)]
    Discovery(Box<crate::discovery::DiscoveryError>),
    /// A kind or resource name could not be mapped (see [`MappingError`](crate::discovery::MappingError)).
    #[error(transparent)]
    Mapping(Box<crate::discovery::MappingError>),
    /// The server does not serve kinds this program uses (see [`SkewError`](crate::discovery::SkewError)).
    #[error(transparent)]
    Skew(Box<crate::discovery::SkewError>),
    /// A CustomResourceDefinition could not be made ready (see [`CrdError`](crate::dynamic::crd::CrdError)).
    #[error(transparent)]
    Crd(Box<crate::dynamic::crd::CrdError>),
    /// A cache (store, index, selector) was used wrongly (see [`CacheError`](crate::cache::CacheError)).
    #[error(transparent)]
    Cache(Box<crate::cache::CacheError>),
    /// Waiting for a condition failed (see [`WaitError`](crate::runtime::wait::WaitError)).
    #[error(transparent)]
    Wait(Box<crate::runtime::wait::WaitError>),
    /// A retrying watch ended (see [`WatchError`](crate::runtime::wait::WatchError)).
    #[error(transparent)]
    Watch(Box<crate::runtime::wait::WatchError>),
    /// An event could not be recorded (see [`EventError`](crate::runtime::events::EventError)).
    #[error(transparent)]
    Event(Box<crate::runtime::events::EventError>),
    /// A leader election configuration is invalid (see [`LeaderElectionConfigError`](crate::runtime::leader_election::LeaderElectionConfigError)).
    #[error(transparent)]
    LeaderElection(Box<crate::runtime::leader_election::LeaderElectionConfigError>),
    /// The request did not complete within its timeout.
    #[error("request timed out after {0:?}")]
    Timeout(std::time::Duration),
}

/// An error answer from the API server.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The HTTP status code.
    pub code: u16,
    /// The server's `Status` object (synthesized from the body when the server sent none).
    pub status: Status,
}

impl ApiError {
    /// `Status.reason`, such as `NotFound` or `Conflict` (empty when absent).
    pub fn reason(&self) -> &str {
        self.status.reason.as_deref().unwrap_or("")
    }

    /// `Status.message` (empty when absent).
    pub fn message(&self) -> &str {
        self.status.message.as_deref().unwrap_or("")
    }

    /// Builds an error from a response code and body: the body's `Status` when it is one,
    /// otherwise a `Status` whose message is the body text and whose reason follows the code.
    pub fn from_response(code: u16, body: &[u8]) -> Self {
        #[cfg(feature = "protobuf")]
        if let Some(status) = crate::protobuf::envelope::decode_status(body) {
            return ApiError { code, status };
        }
        if let Ok(status) = serde_json::from_slice::<Status>(body) {
            if status.reason.is_some() || status.message.is_some() {
                return ApiError { code, status };
            }
        }
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        let reason = reason_for_code(code);
        ApiError {
            code,
            status: Status {
                code: Some(i32::from(code)),
                message: Some(if text.is_empty() {
                    format!("the server answered HTTP {code} with no body")
                } else {
                    text.chars().take(1024).collect()
                }),
                reason: Some(reason.to_string()),
                status: Some("Failure".to_string()),
                ..Status::default()
            },
        }
    }
}

/// The `Status.reason` client-go assumes for an HTTP code when the server gave none.
fn reason_for_code(code: u16) -> &'static str {
    match code {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        406 => "NotAcceptable",
        409 => "Conflict",
        410 => "Expired",
        413 => "RequestEntityTooLarge",
        415 => "UnsupportedMediaType",
        422 => "Invalid",
        429 => "TooManyRequests",
        500 => "InternalError",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "Unknown",
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (HTTP {}", self.message(), self.code)?;
        if !self.reason().is_empty() {
            write!(f, ", reason {}", self.reason())?;
        }
        write!(f, ")")
    }
}

impl From<crate::discovery::DiscoveryError> for Error {
    fn from(e: crate::discovery::DiscoveryError) -> Self {
        Error::Discovery(Box::new(e))
    }
}

impl From<crate::discovery::MappingError> for Error {
    fn from(e: crate::discovery::MappingError) -> Self {
        Error::Mapping(Box::new(e))
    }
}

impl From<crate::discovery::SkewError> for Error {
    fn from(e: crate::discovery::SkewError) -> Self {
        Error::Skew(Box::new(e))
    }
}

impl From<crate::dynamic::crd::CrdError> for Error {
    fn from(e: crate::dynamic::crd::CrdError) -> Self {
        Error::Crd(Box::new(e))
    }
}

impl From<crate::cache::CacheError> for Error {
    fn from(e: crate::cache::CacheError) -> Self {
        Error::Cache(Box::new(e))
    }
}

impl From<crate::runtime::wait::WaitError> for Error {
    fn from(e: crate::runtime::wait::WaitError) -> Self {
        Error::Wait(Box::new(e))
    }
}

impl From<crate::runtime::wait::WatchError> for Error {
    fn from(e: crate::runtime::wait::WatchError) -> Self {
        Error::Watch(Box::new(e))
    }
}

impl From<crate::runtime::events::EventError> for Error {
    fn from(e: crate::runtime::events::EventError) -> Self {
        Error::Event(Box::new(e))
    }
}

impl From<crate::runtime::leader_election::LeaderElectionConfigError> for Error {
    fn from(e: crate::runtime::leader_election::LeaderElectionConfigError) -> Self {
        Error::LeaderElection(Box::new(e))
    }
}

impl From<ApiError> for Error {
    fn from(e: ApiError) -> Self {
        Error::Api(Box::new(e))
    }
}

impl Error {
    /// The API error, when the server answered with one.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Error::Api(e) => Some(e),
            _ => None,
        }
    }

    /// The server's `Status`, when the server answered with an error.
    pub fn status(&self) -> Option<&Status> {
        self.api().map(|e| &e.status)
    }

    fn reason_is(&self, reason: &str, code: u16) -> bool {
        match self.api() {
            Some(e) if !e.reason().is_empty() && e.reason() != "Unknown" => e.reason() == reason,
            Some(e) => e.code == code,
            None => false,
        }
    }

    /// The object does not exist (404 `NotFound`).
    pub fn is_not_found(&self) -> bool {
        self.reason_is("NotFound", 404)
    }
    /// The object already exists (409 `AlreadyExists`).
    pub fn is_already_exists(&self) -> bool {
        matches!(self.api(), Some(e) if e.reason() == "AlreadyExists")
    }
    /// A write lost a race: the resourceVersion or a precondition did not match (409 `Conflict`).
    pub fn is_conflict(&self) -> bool {
        self.reason_is("Conflict", 409)
    }
    /// The caller may not do this (403 `Forbidden`).
    pub fn is_forbidden(&self) -> bool {
        self.reason_is("Forbidden", 403)
    }
    /// The server did not accept the credentials (401 `Unauthorized`).
    pub fn is_unauthorized(&self) -> bool {
        self.reason_is("Unauthorized", 401)
    }
    /// The object failed validation (422 `Invalid`).
    pub fn is_invalid(&self) -> bool {
        self.reason_is("Invalid", 422)
    }
    /// The requested resourceVersion is too old (410 `Expired` or `Gone`).
    pub fn is_gone(&self) -> bool {
        match self.api() {
            Some(e) => e.code == 410 || e.reason() == "Expired" || e.reason() == "Gone",
            None => false,
        }
    }
    /// The server asked us to slow down (429 `TooManyRequests`).
    pub fn is_too_many_requests(&self) -> bool {
        self.reason_is("TooManyRequests", 429)
    }
    /// The request timed out, on the server (`Timeout`, 504) or on our side.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout(_))
            || matches!(self.api(), Some(e) if e.reason() == "Timeout" || e.code == 504)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_body_is_decoded() {
        let body = br#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"pods \"x\" not found","reason":"NotFound","details":{"name":"x","kind":"pods"},"code":404}"#;
        let err: Error = ApiError::from_response(404, body).into();
        assert!(err.is_not_found());
        assert!(!err.is_conflict());
        assert_eq!(
            err.to_string(),
            "pods \"x\" not found (HTTP 404, reason NotFound)"
        );
    }

    #[test]
    fn errors_of_other_layers_convert_with_question_mark() {
        fn selector() -> Result<()> {
            crate::cache::Selector::parse("app in (")?;
            Ok(())
        }
        fn config() -> Result<()> {
            crate::runtime::leader_election::LeaderElectionConfig {
                lease_duration: std::time::Duration::from_secs(1),
                ..Default::default()
            }
            .validate()?;
            Ok(())
        }
        assert!(
            matches!(selector(), Err(Error::Cache(_))),
            "{:?}",
            selector()
        );
        assert!(
            matches!(config(), Err(Error::LeaderElection(_))),
            "{:?}",
            config()
        );
        assert!(!selector().unwrap_err().to_string().is_empty());
    }

    #[test]
    fn non_status_body_falls_back_to_code() {
        let err: Error = ApiError::from_response(403, b"forbidden by proxy").into();
        assert!(err.is_forbidden());
        assert_eq!(
            err.status().unwrap().message.as_deref(),
            Some("forbidden by proxy")
        );
        let err: Error = ApiError::from_response(410, b"").into();
        assert!(err.is_gone());
        assert!(ApiError::from_response(502, b"").message().contains("502"));
    }
}
