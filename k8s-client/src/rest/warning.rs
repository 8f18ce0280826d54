//! Server warnings (stub; being implemented).

/// Receives the server's `Warning` headers.
pub trait WarningHandler: Send + Sync {}
