//! [`Error`]: what a request can fail with, and the server's `Status` it carries.
//!
//! Every layer owns its error: [`ConfigError`] (configuration), [`AuthError`] (credentials),
//! [`TransportError`] (connections), this module's [`Error`] (a request: the layers below,
//! the server's answer, decoding), and above it discovery, caches and the runtime have
//! errors of their own that keep the [`Error`] that caused them as their
//! [`source`](std::error::Error::source). Each of those converts into [`Error`] (as
//! [`Error::Other`]), and the questions below see through the wrapping: `is_not_found()` is
//! true for a 404 wherever it sits in the chain.
//!
//! ```
//! # fn check(err: k8s_client::Error) {
//! if err.is_not_found() {
//!     println!("no such object");
//! }
//! # }
//! ```

use std::fmt;
use std::time::Duration;

pub use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;

use crate::auth::AuthError;
use crate::config::ConfigError;
pub use crate::transport::BoxError;
use crate::transport::TransportError;

/// Shorthand for `Result<T, k8s_client::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong with a request to a Kubernetes API server.
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
    #[error(transparent)]
    Api(Box<ApiError>),
    /// The server's answer could not be decoded.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The request could not be built (bad name, a body that does not serialize, ...).
    #[error(transparent)]
    Request(#[from] RequestError),
    /// The request did not complete within its timeout.
    #[error("request timed out after {0:?}")]
    Timeout(Duration),
    /// The service under the client (an in-memory server, a layer of the program's own)
    /// failed with an error of its own.
    #[error("the client's service failed: {0}")]
    Service(#[source] BoxError),
    /// An error of a layer above requests (discovery, caches, the runtime, remote sessions),
    /// kept whole: [`Error::find`] gives it back typed, and its causes stay reachable through
    /// [`source`](std::error::Error::source).
    #[error(transparent)]
    Other(BoxError),
}

/// The server's answer could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("decoding {what}: {source}")]
pub struct DecodeError {
    what: String,
    source: BoxError,
}

impl DecodeError {
    /// A decoding error of `what` (for example `v1/Pod list`), caused by `source` (a serde,
    /// protobuf or UTF-8 error).
    pub fn new(what: impl Into<String>, source: impl Into<BoxError>) -> Self {
        DecodeError {
            what: what.into(),
            source: source.into(),
        }
    }

    /// A decoding error of `what` that has no error underneath, only a description.
    pub fn msg(what: impl Into<String>, message: impl Into<String>) -> Self {
        DecodeError::new(what, Message(message.into()))
    }

    /// What was being decoded (for example `v1/Pod list`).
    pub fn what(&self) -> &str {
        &self.what
    }

    /// What was wrong with it (the cause's text).
    pub fn message(&self) -> String {
        self.source.to_string()
    }
}

/// The request could not be built.
#[derive(Debug, thiserror::Error)]
#[error("invalid request: {message}")]
pub struct RequestError {
    message: String,
    source: Option<BoxError>,
}

impl RequestError {
    /// A request error described by `message`.
    pub fn new(message: impl Into<String>) -> Self {
        RequestError {
            message: message.into(),
            source: None,
        }
    }

    /// A request error caused by `source` (a body that does not serialize, ...).
    pub fn with_source(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        RequestError {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// What is wrong with the request.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// A cause that is only a description.
#[derive(Debug)]
struct Message(String);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Message {}

/// An error answer from the API server.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The HTTP status code.
    pub code: u16,
    /// The server's `Status` object (synthesized from the body when the server sent none).
    pub status: Status,
}

impl std::error::Error for ApiError {}

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
    ///
    /// A protobuf `Status` body is decoded by the protobuf codec before it gets here
    /// ([`ApiError::from_status`]).
    pub fn from_response(code: u16, body: &[u8]) -> Self {
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

impl ApiError {
    /// An error made from a `Status` the server sent (its `code`, or 500 when it has none).
    pub fn from_status(status: Status) -> Self {
        let code = status
            .code
            .and_then(|c| u16::try_from(c).ok())
            .unwrap_or(500);
        ApiError { code, status }
    }

    fn reason_is(&self, reason: &str, code: u16) -> bool {
        if !self.reason().is_empty() && self.reason() != "Unknown" {
            self.reason() == reason
        } else {
            self.code == code
        }
    }

    /// The object does not exist (404 `NotFound`).
    pub fn is_not_found(&self) -> bool {
        self.reason_is("NotFound", 404)
    }
    /// The object already exists (409 `AlreadyExists`).
    pub fn is_already_exists(&self) -> bool {
        self.reason() == "AlreadyExists"
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
        self.code == 410 || self.reason() == "Expired" || self.reason() == "Gone"
    }
    /// The server asked us to slow down (429 `TooManyRequests`).
    pub fn is_too_many_requests(&self) -> bool {
        self.reason_is("TooManyRequests", 429)
    }
    /// The server timed out (`Timeout`, 504).
    pub fn is_timeout(&self) -> bool {
        self.reason() == "Timeout" || self.code == 504
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

impl From<ApiError> for Error {
    fn from(e: ApiError) -> Self {
        Error::Api(Box::new(e))
    }
}

/// The first [`ApiError`] in `error`'s chain of causes (itself included).
pub fn find_api_error<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a ApiError> {
    find(error)
}

/// The first error of type `T` in `error`'s chain of causes (itself included), looking
/// inside [`Error::Other`] as well.
fn find<'a, T: std::error::Error + 'static>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        next = match e.downcast_ref::<Error>() {
            // Most variants are transparent (their source is their inner error's source):
            // step into the inner error itself, so that it is found too.
            Some(error) => error.inner(),
            None => e.source(),
        };
    }
    None
}

impl Error {
    /// The error this one wraps.
    fn inner(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Config(e) => Some(e),
            Error::Auth(e) => Some(e),
            Error::Transport(e) => Some(e),
            Error::Api(e) => Some(e.as_ref()),
            Error::Decode(e) => Some(e),
            Error::Request(e) => Some(e),
            Error::Timeout(_) => None,
            Error::Service(e) | Error::Other(e) => Some(e.as_ref()),
        }
    }

    /// An error of a layer above requests (discovery, caches, the runtime), kept whole as
    /// [`Error::Other`]; an [`Error`] given here is returned as it is.
    pub fn other(error: impl Into<BoxError>) -> Self {
        let error = error.into();
        match error.downcast::<Error>() {
            Ok(error) => *error,
            Err(error) => Error::Other(error),
        }
    }

    /// The first error of type `T` in this error's chain of causes (for example the
    /// `DiscoveryError` inside an [`Error::Other`]).
    pub fn find<T: std::error::Error + 'static>(&self) -> Option<&T> {
        find(self)
    }

    /// The API error, when the server answered with one (wherever it is in the chain of
    /// causes).
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Error::Api(e) => Some(e),
            _ => find(self),
        }
    }

    /// The server's `Status`, when the server answered with an error.
    pub fn status(&self) -> Option<&Status> {
        self.api().map(|e| &e.status)
    }

    /// The object does not exist (404 `NotFound`).
    pub fn is_not_found(&self) -> bool {
        self.api().is_some_and(ApiError::is_not_found)
    }
    /// The object already exists (409 `AlreadyExists`).
    pub fn is_already_exists(&self) -> bool {
        self.api().is_some_and(ApiError::is_already_exists)
    }
    /// A write lost a race: the resourceVersion or a precondition did not match (409 `Conflict`).
    pub fn is_conflict(&self) -> bool {
        self.api().is_some_and(ApiError::is_conflict)
    }
    /// The caller may not do this (403 `Forbidden`).
    pub fn is_forbidden(&self) -> bool {
        self.api().is_some_and(ApiError::is_forbidden)
    }
    /// The server did not accept the credentials (401 `Unauthorized`).
    pub fn is_unauthorized(&self) -> bool {
        self.api().is_some_and(ApiError::is_unauthorized)
    }
    /// The object failed validation (422 `Invalid`).
    pub fn is_invalid(&self) -> bool {
        self.api().is_some_and(ApiError::is_invalid)
    }
    /// The requested resourceVersion is too old (410 `Expired` or `Gone`).
    pub fn is_gone(&self) -> bool {
        self.api().is_some_and(ApiError::is_gone)
    }
    /// The server asked us to slow down (429 `TooManyRequests`).
    pub fn is_too_many_requests(&self) -> bool {
        self.api().is_some_and(ApiError::is_too_many_requests)
    }
    /// The request timed out, on the server (`Timeout`, 504) or on our side.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout(_)) || self.api().is_some_and(ApiError::is_timeout)
    }
}

/// Implements the questions of [`Error`] (`is_not_found()`, ...) for an error type of a
/// higher layer that keeps an [`Error`] among its causes.
#[macro_export]
#[doc(hidden)]
macro_rules! __status_questions {
    ($ty:ty) => {
        impl $ty {
            /// The API error among this error's causes, when the server answered with one.
            pub fn api(&self) -> Option<&$crate::error::ApiError> {
                $crate::error::find_api_error(self)
            }
            /// An API error among the causes says the object does not exist (404).
            pub fn is_not_found(&self) -> bool {
                self.api()
                    .is_some_and($crate::error::ApiError::is_not_found)
            }
            /// An API error among the causes is a `409 Conflict`.
            pub fn is_conflict(&self) -> bool {
                self.api().is_some_and($crate::error::ApiError::is_conflict)
            }
            /// An API error among the causes is a `403 Forbidden`.
            pub fn is_forbidden(&self) -> bool {
                self.api()
                    .is_some_and($crate::error::ApiError::is_forbidden)
            }
            /// An API error among the causes is a `410 Gone`.
            pub fn is_gone(&self) -> bool {
                self.api().is_some_and($crate::error::ApiError::is_gone)
            }
        }
    };
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
    fn wrapped_errors_are_seen_through() {
        #[derive(Debug, thiserror::Error)]
        #[error("waiting for it: {source}")]
        struct Higher {
            source: Error,
        }
        let not_found: Error = ApiError::from_response(404, b"").into();
        let wrapped = Error::other(Higher { source: not_found });
        assert!(wrapped.is_not_found(), "{wrapped}");
        assert!(wrapped.find::<Higher>().is_some());
        assert_eq!(wrapped.api().map(|e| e.code), Some(404));
        let twice = Error::other(Higher { source: wrapped });
        assert!(twice.is_not_found());
        // An Error given to `other` is not wrapped again.
        let plain = Error::other(Error::Timeout(Duration::from_secs(1)));
        assert!(matches!(plain, Error::Timeout(_)));
        let config = Error::from(ConfigError::NoKubeconfig("none".into()));
        assert!(config.find::<ConfigError>().is_some());
        let decode = Error::from(DecodeError::new(
            "v1/Pod",
            serde_json::from_str::<u8>("x").unwrap_err(),
        ));
        assert!(std::error::Error::source(&decode).is_some());
        assert!(
            decode.to_string().starts_with("decoding v1/Pod: "),
            "{decode}"
        );
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
