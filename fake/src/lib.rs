//! An in-memory API server that behaves like kube-apiserver, for tests of programs built on
//! k8s-client.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod controllers;
mod discovery;
mod hooks;
pub mod patch;
mod registry;
pub mod schema;
mod selectors;
mod server;
mod state;
mod status;
mod store;
mod validation;

pub use discovery::minors;
pub use hooks::{Action, Outcome, Reaction};
pub use server::{FakeServer, FakeServerBuilder};
pub use status::StatusError;
