//! An in-memory API server that behaves like kube-apiserver.
#![deny(missing_docs)]

pub mod patch;
pub mod schema;
