//! k8s-client: a Kubernetes API client for async Rust.
//!
//! A request flows through the modules in this order:
//! [`config`] (where the server is and who we are) -> [`auth`] (credentials that can change
//! while the program runs) -> [`transport`] (one pooled HTTPS client, HTTP/2 by ALPN) ->
//! [`rest`] (request building without I/O, rate limiting, retries, decoding, typed errors) ->
//! the clients ([`api`]: the typed [`Api<K>`] over the k8s-openapi types; [`dynamic`]:
//! untyped objects by group/version/resource; [`metadata`]: metadata-only) and
//! [`discovery`] (what the server serves) -> [`cache`] (reflectors, stores, informers) ->
//! [`runtime`] (work queues, controllers, leader election, events) and [`remote`] (exec,
//! attach, port-forward, logs).
//!
//! ```no_run
//! use k8s_client::{Api, Client, api::ListParams};
//! use k8s_openapi::api::core::v1::Pod;
//!
//! # async fn run() -> Result<(), k8s_client::Error> {
//! let client = Client::try_default().await?;
//! let pods: Api<Pod> = Api::all(client);
//! for pod in pods.list(&ListParams::default()).await?.items {
//!     println!("{}", pod.metadata.name.unwrap_or_default());
//! }
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod api;
pub mod auth;
pub mod cache;
pub mod config;
pub mod discovery;
pub mod dynamic;
pub mod error;
pub mod metadata;
#[cfg(feature = "protobuf")]
pub mod protobuf;
pub mod remote;
pub mod rest;
pub mod runtime;
pub mod transport;
pub mod util;

mod client;

pub use api::Api;
pub use client::Client;
pub use config::Config;
pub use error::{Error, Result};

#[cfg(test)]
mod test_chunks;
