//! What an event says: [`EventRecord`], its [`EventType`], and the errors for bad input.

use std::fmt;

use k8s_openapi::api::core::v1::ObjectReference;

/// The longest `reason`, `action`, `reportingController` and `reportingInstance` the API
/// server accepts.
pub const MAX_FIELD_LEN: usize = 128;

/// The longest note (message) the API server accepts for `events.k8s.io/v1` Events, in
/// bytes; longer notes are cut (at a character boundary) to fit.
pub const MAX_NOTE_LEN: usize = 1024;

/// Whether an event is routine or a sign of trouble.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum EventType {
    /// Nothing is wrong (`Normal`).
    #[default]
    Normal,
    /// Something may need attention (`Warning`).
    Warning,
}

impl EventType {
    /// The API's spelling: `Normal` or `Warning`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One event to record: what happened (`reason`, `action`, `note`) to which object
/// (`regarding`, optionally `related`).
///
/// ```
/// use k8s_client::runtime::events::{EventRecord, EventType};
/// use k8s_openapi::api::core::v1::ObjectReference;
///
/// let pod = ObjectReference {
///     api_version: Some("v1".into()),
///     kind: Some("Pod".into()),
///     namespace: Some("default".into()),
///     name: Some("web-0".into()),
///     ..Default::default()
/// };
/// let event = EventRecord::warning("BackOff", "Restart", pod).note("restarting failed container");
/// assert_eq!(event.type_, EventType::Warning);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct EventRecord {
    /// Normal or Warning.
    pub type_: EventType,
    /// Why, in UpperCamelCase (`FailedScheduling`, `ScalingReplicaSet`); at most
    /// [`MAX_FIELD_LEN`] characters.
    pub reason: String,
    /// What was done or failed (`Scale`, `Create`); at most [`MAX_FIELD_LEN`] characters.
    pub action: String,
    /// A human-readable description (the `note`, or `message` for core/v1 Events); cut to
    /// [`MAX_NOTE_LEN`] bytes.
    pub note: String,
    /// The object the event is about (see [`object_reference`](super::object_reference)).
    pub regarding: ObjectReference,
    /// A second object involved, if any.
    pub related: Option<ObjectReference>,
}

impl EventRecord {
    /// An event of `type_` about `regarding`, with an empty note.
    pub fn new(
        type_: EventType,
        reason: impl Into<String>,
        action: impl Into<String>,
        regarding: ObjectReference,
    ) -> Self {
        EventRecord {
            type_,
            reason: reason.into(),
            action: action.into(),
            note: String::new(),
            regarding,
            related: None,
        }
    }

    /// A `Normal` event.
    pub fn normal(
        reason: impl Into<String>,
        action: impl Into<String>,
        regarding: ObjectReference,
    ) -> Self {
        EventRecord::new(EventType::Normal, reason, action, regarding)
    }

    /// A `Warning` event.
    pub fn warning(
        reason: impl Into<String>,
        action: impl Into<String>,
        regarding: ObjectReference,
    ) -> Self {
        EventRecord::new(EventType::Warning, reason, action, regarding)
    }

    /// Sets the note (message).
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.note = note.into();
        self
    }

    /// Sets the related object.
    pub fn related(mut self, related: ObjectReference) -> Self {
        self.related = Some(related);
        self
    }

    /// Checks the fields the API server would reject, and cuts an over-long note.
    pub(crate) fn validate(mut self) -> Result<Self, EventError> {
        check_field("reason", &self.reason)?;
        check_field("action", &self.action)?;
        if self
            .regarding
            .name
            .as_deref()
            .unwrap_or_default()
            .is_empty()
        {
            return Err(EventError::Invalid {
                field: "regarding.name",
                message: "the object the event is about has no name".into(),
            });
        }
        if self
            .regarding
            .kind
            .as_deref()
            .unwrap_or_default()
            .is_empty()
        {
            return Err(EventError::Invalid {
                field: "regarding.kind",
                message: "the object the event is about has no kind".into(),
            });
        }
        truncate_at_char_boundary(&mut self.note, MAX_NOTE_LEN);
        Ok(self)
    }
}

/// Checks a required field of at most [`MAX_FIELD_LEN`] characters.
pub(crate) fn check_field(field: &'static str, value: &str) -> Result<(), EventError> {
    if value.is_empty() {
        return Err(EventError::Invalid {
            field,
            message: "must not be empty".into(),
        });
    }
    let len = value.chars().count();
    if len > MAX_FIELD_LEN {
        return Err(EventError::Invalid {
            field,
            message: format!("is {len} characters long, at most {MAX_FIELD_LEN} are allowed"),
        });
    }
    Ok(())
}

fn truncate_at_char_boundary(s: &mut String, max: usize) {
    if s.len() <= max {
        return;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
}

/// Why an event or a recorder was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// A field has a value the API server would reject.
    #[error("invalid event {field}: {message}")]
    Invalid {
        /// The field (`reason`, `action`, `regarding.name`, `reportingController`, ...).
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The recorder was built outside a Tokio runtime, so its background task cannot run.
    #[error("the event recorder must be built inside a Tokio runtime")]
    NoRuntime,
}

impl From<EventError> for crate::error::Error {
    /// Kept whole as [`Error::Other`](crate::Error::Other); `find::<EventError>()` gives it
    /// back.
    fn from(e: EventError) -> Self {
        crate::error::Error::other(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod() -> ObjectReference {
        ObjectReference {
            kind: Some("Pod".into()),
            name: Some("p".into()),
            ..Default::default()
        }
    }

    #[test]
    fn validation_names_the_field() {
        let err = EventRecord::normal("", "Create", pod())
            .validate()
            .unwrap_err();
        assert_eq!(err.to_string(), "invalid event reason: must not be empty");
        let err = EventRecord::normal("R", "a".repeat(129), pod())
            .validate()
            .unwrap_err();
        assert!(
            matches!(
                err,
                EventError::Invalid {
                    field: "action",
                    ..
                }
            ),
            "{err}"
        );
        let err = EventRecord::normal("R", "A", ObjectReference::default())
            .validate()
            .unwrap_err();
        assert!(matches!(
            err,
            EventError::Invalid {
                field: "regarding.name",
                ..
            }
        ));
        assert!(EventRecord::normal("R", "a".repeat(128), pod())
            .validate()
            .is_ok());
    }

    #[test]
    fn long_notes_are_cut_at_a_char_boundary() {
        let note = "é".repeat(600); // 1200 bytes
        let ok = EventRecord::normal("R", "A", pod())
            .note(note)
            .validate()
            .unwrap();
        assert_eq!(ok.note.len(), 1024);
        assert!(ok.note.chars().all(|c| c == 'é'));
    }
}
