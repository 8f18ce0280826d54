//! Event recorders, as client-go's `tools/events` (writing `events.k8s.io/v1` Events) and
//! `tools/record` (core/v1 Events): tell users what a controller did to their objects,
//! without letting a hot loop flood the API server.
//!
//! - [`EventRecorder::record`] never blocks: events go through a bounded queue to a
//!   background task, and are dropped (and counted) when it is full.
//! - Repeats of the same event (same regarding and related objects, reason, action, type and
//!   note) within [`DEFAULT_SERIES_WINDOW`] become one Event whose `series.count` (core/v1:
//!   `count`) grows; the count is patched at most every
//!   [`series_update_interval`](EventRecorderBuilder::series_update_interval).
//! - A spam filter gives each object a token bucket for new Events (burst 25, one more every
//!   5 minutes, as client-go).
//! - [`EventRecorder::flush`] and [`EventRecorder::shut_down`] write the pending counts.
//!
//! ```no_run
//! use k8s_client::runtime::events::{reference_of, EventApi, EventRecord, EventRecorder};
//! use k8s_openapi::api::core::v1::Pod;
//!
//! # async fn run(client: k8s_client::Client, pod: Pod) -> Result<(), Box<dyn std::error::Error>> {
//! let recorder = EventRecorder::builder(client, "example.com/pod-checker", "checker-0").build()?;
//! for _ in 0..100 {
//!     // One Event with series.count = 100, not 100 Events.
//!     recorder.record(
//!         EventRecord::warning("Unhealthy", "Check", reference_of(&pod)).note("probe failed"),
//!     )?;
//! }
//! recorder.shut_down().await;
//! # Ok(())
//! # }
//! ```

mod record;
mod recorder;
mod reference;
mod series;
mod sink;
mod spam;

pub use record::{EventError, EventRecord, EventType, MAX_FIELD_LEN, MAX_NOTE_LEN};
pub use recorder::{
    EventRecorder, EventRecorderBuilder, EventStats, DEFAULT_QUEUE_CAPACITY,
    DEFAULT_SERIES_UPDATE_INTERVAL, DEFAULT_SERIES_WINDOW,
};
pub use reference::{object_reference, reference_of};
pub use sink::EventApi;
pub use spam::{DEFAULT_SPAM_BURST, DEFAULT_SPAM_REFILL};
