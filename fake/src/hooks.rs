//! Testing hooks: the recorded actions and the reactors that run before or after a verb.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::status::StatusError;

/// One request the server received, as a test sees it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Action {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`.
    pub verb: String,
    /// The API group (`""` for the core group).
    pub group: String,
    /// The resource (plural: `configmaps`).
    pub resource: String,
    /// The subresource (`status`, `scale`), empty if none.
    pub subresource: String,
    /// The namespace, empty for cluster-scoped or all-namespace requests.
    pub namespace: String,
    /// The object's name, empty for collections.
    pub name: String,
    /// The request body (JSON or YAML-parsed), if any.
    pub body: Option<Value>,
    /// The query string.
    pub query: String,
}

/// What a reactor does with a request.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Reaction {
    /// Carry on as usual.
    Continue,
    /// Answer with this error instead (before: the request is not executed; after: it was,
    /// but the client gets the error).
    Fail(StatusError),
    /// Wait this long, then carry on.
    Delay(Duration),
    /// Answer `200` with this body instead.
    Respond(Value),
}

impl Reaction {
    /// A `409 Conflict` on the request's object, worded as the server's.
    pub fn conflict(action: &Action) -> Reaction {
        Reaction::Fail(StatusError::modified(
            &action.group,
            &action.resource,
            &action.name,
        ))
    }
}

/// The outcome of a request, as an after-reactor sees it.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The HTTP status code of the answer.
    pub code: u16,
    /// The answer's body (an object, a list, a `Status`; `Null` for watches).
    pub body: Value,
}

pub(crate) type BeforeFn = Arc<dyn Fn(&Action) -> Reaction + Send + Sync>;
pub(crate) type AfterFn = Arc<dyn Fn(&Action, &Outcome) -> Reaction + Send + Sync>;

pub(crate) struct Reactor<F> {
    pub verb: String,
    pub resource: String,
    pub f: F,
}

pub(crate) fn matches(verb: &str, resource: &str, action: &Action) -> bool {
    let full = if action.subresource.is_empty() {
        action.resource.clone()
    } else {
        format!("{}/{}", action.resource, action.subresource)
    };
    (verb == "*" || verb == action.verb) && (resource == "*" || resource == full)
}
