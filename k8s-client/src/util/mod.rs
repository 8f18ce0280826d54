//! Small helpers used across the crate and by users: secrets that never print, retry on
//! conflict.

pub mod retry;
pub mod secret;

pub use retry::{retry_on_conflict, Backoff};
pub use secret::Secret;
