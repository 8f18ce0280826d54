//! k8s-client: a Kubernetes API client for async Rust.
//!
//! A request flows through the modules in this order, each layer using only those before it:
//! [`backoff`] (the one backoff policy, used by every retry loop) -> [`config`] (where the server is and who we are) -> [`auth`] (credentials that can change
//! while the program runs) -> [`transport`] (one pooled HTTPS client, HTTP/2 by ALPN) ->
//! [`rest`] (request building without I/O) and [`client`] (the [`Client`] and its stack of
//! layers: retries, rate limiting, credentials, gzip, over the transport or any other
//! service) -> [`api`] (the one resource handle [`Api<K>`] for typed kinds, custom resources,
//! [`dynamic`] and [`metadata`]-only objects, with its wire formats) -> [`discovery`] (what
//! the server serves) -> [`cache`] (reflectors, stores, informers) -> [`runtime`] (work
//! queues, controllers, leader election, events, waiting), with [`remote`] (exec, attach,
//! port-forward, logs) beside the handles.
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
//!
//! # Features
//!
//! The optional parts are cargo features; a program that only makes requests (lists, gets,
//! watches, logs, discovery) needs none of them. Default: `gzip`, `remote`, `runtime`.
//!
//! | feature | adds |
//! |---|---|
//! | `gzip` | gzip-compressed answers (`client::layer::GzipLayer`) |
//! | `remote` | exec, attach and port-forward over WebSocket (in [`remote`]; logs need no feature) |
//! | `runtime` | `cache` (reflectors, informers) and `runtime` (work queues, controllers, leader election, events, waiting) |
//! | `compact` | compact informer caches, objects packed with LZ4 (turns on `runtime`) |
//! | `protobuf` | the Kubernetes protobuf encoding of the built-in types (`protobuf`) |
//! | `derive` | `#[derive(CustomResource)]` and `#[derive(JsonSchema)]`: custom resources and their CRDs from Rust types |
//! | `metrics` | client-go's metrics (requests, work queues, informers, reconciles) through the `metrics` facade |
//! | `latest`, `v1_33`, ... | the Kubernetes version of the k8s-openapi types (choose one) |
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

// In layer order (see the crate docs); `tests/layers.rs` checks that no module imports one
// that comes after it.
pub mod api;
pub mod auth;
pub mod backoff;
#[cfg(feature = "runtime")]
#[cfg_attr(docsrs, doc(cfg(feature = "runtime")))]
pub mod cache;
pub mod client;
pub mod config;
pub mod custom_resource;
pub mod discovery;
pub mod dynamic;
pub mod error;
// Rendered and doc-tested only (no items); its chapters use the default features.
#[cfg(all(any(doc, doctest), feature = "runtime", feature = "remote"))]
pub mod guide;
pub mod metadata;
pub mod remote;
pub mod rest;
pub mod retry;
#[cfg(feature = "runtime")]
#[cfg_attr(docsrs, doc(cfg(feature = "runtime")))]
pub mod runtime;
pub mod transport;

#[cfg(feature = "protobuf")]
#[cfg_attr(docsrs, doc(cfg(feature = "protobuf")))]
pub use api::protobuf;
pub use api::{Api, Object, Resource};
pub use client::Client;
pub use config::Config;
pub use error::{Error, Result};
/// Derives a custom resource and its CRD from a spec struct (see [`custom_resource`](mod@custom_resource)).
#[cfg(feature = "derive")]
#[cfg_attr(docsrs, doc(cfg(feature = "derive")))]
pub use k8s_client_derive::CustomResource;

#[cfg(test)]
mod test_chunks;
