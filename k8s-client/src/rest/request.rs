//! The request builder (stub; being implemented).

/// A request under construction.
#[derive(Debug)]
pub struct Request;

/// The verb of a request.
#[derive(Debug)]
pub enum Verb {}
