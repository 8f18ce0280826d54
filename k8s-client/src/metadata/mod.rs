//! Metadata-only access to any resource: [`MetadataApi`] lists, reads, watches, patches and
//! deletes objects as [`PartialObjectMetadata`] (`apiVersion`, `kind`, `metadata`), as
//! client-go's `metadata` package does. The server sends only the metadata, so a list of
//! big objects (or of Secrets, whose data should not travel) stays small.
//!
//! ```no_run
//! use futures::TryStreamExt;
//! use k8s_client::api::{ApiResource, WatchParams};
//! use k8s_client::metadata::MetadataApi;
//! use k8s_openapi::api::apps::v1::Deployment;
//!
//! # async fn run(client: k8s_client::Client) -> Result<(), k8s_client::Error> {
//! let api = MetadataApi::all(client, &ApiResource::of::<Deployment>());
//! let mut events = Box::pin(api.watch(&WatchParams::default(), "").await?);
//! while let Some(event) = events.try_next().await? {
//!     if let Some(obj) = event.object() {
//!         println!("{} {:?}", event.type_name(), obj.metadata.name);
//!     }
//! }
//! # Ok(())
//! # }
//! ```

mod api;
mod object;

pub use api::{MetadataApi, ACCEPT_LIST, ACCEPT_OBJECT};
pub use object::PartialObjectMetadata;
