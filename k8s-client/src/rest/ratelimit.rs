//! Client-side rate limiting (stub; being implemented).

/// A token bucket shared by every clone of a client.
#[derive(Debug)]
pub struct RateLimiter;
