//! The REST layer: [`Request`] builds requests without any I/O (so URLs are unit-tested), and
//! the execution path around [`Client::send`](crate::Client::send) adds client-side rate
//! limiting ([`RateLimiter`]), retries ([`RetryPolicy`](crate::config::RetryPolicy)) and
//! server warnings ([`WarningHandler`]).

mod ratelimit;
mod request;
mod warning;

pub use ratelimit::RateLimiter;
pub use request::{Request, Verb};
pub use warning::WarningHandler;
