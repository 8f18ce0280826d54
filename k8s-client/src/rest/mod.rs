//! The REST layer: [`Request`] builds requests without any I/O (so URLs are unit-tested);
//! [`RateLimiter`] is the client-side token bucket and [`WarningHandler`] receives the
//! server's warnings. The layers that use them, and the one retry loop, are in the
//! client's service stack (`k8s_client::client::layer`).

mod ratelimit;
mod request;
mod warning;

pub use ratelimit::RateLimiter;
pub(crate) use request::StatusDecoder;
pub use request::{Request, StatusDecodeFn, Verb};
pub use warning::WarningHandler;
