//! An in-memory API server that behaves like kube-apiserver.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod patch;
pub mod schema;
