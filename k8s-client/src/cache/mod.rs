//! Reflectors, stores with indexers, shared informers and listers (client-go `tools/cache`).
//!
//! The pieces, from the server to your code:
//!
//! - a [`ListWatch`] source (the typed [`Api<K>`](crate::Api)) lists and watches objects;
//! - the [`reflector`] keeps a local copy in sync with the server: list then watch (or one
//!   streaming watch-list), resuming from the last resourceVersion, relisting on `410 Gone`,
//!   with backoff on errors; its state logic is the pure [`reflector::Machine`];
//! - a [`Store`] holds the objects (`Arc<K>`, keyed `namespace/name`) with indexes; a
//!   compact one (feature `compact`: `InformerOptions::compact`) keeps them packed, about a
//!   twentieth of the heap, and decodes them on read;
//! - a [`SharedInformer`] runs one reflector and tells every registered handler about
//!   changes ([`Event`]); an [`InformerFactory`] hands out one informer per resource;
//! - a [`Lister`] reads a store by namespace and [label selector](Selector).
//!
//! ```no_run
//! use k8s_client::cache::{Event, InformerFactory};
//! use k8s_openapi::api::core::v1::Pod;
//!
//! # async fn run(client: k8s_client::Client) -> Result<(), k8s_client::cache::CacheError> {
//! let factory = InformerFactory::new(client);
//! let pods = factory.informer::<Pod>();
//! pods.add_handler(|event: Event<Pod>| match event {
//!     Event::Added(obj) => println!("added {:?}", obj.metadata.name),
//!     Event::Updated { new, .. } => println!("updated {:?}", new.metadata.name),
//!     Event::Deleted(gone) => println!("deleted {}", gone.key()),
//! });
//! factory.start();
//! factory.wait_for_cache_sync().await;
//! let running = pods.lister().by_namespace("default").list_selected("app=web")?;
//! # drop(running);
//! # Ok(())
//! # }
//! ```

mod error;
mod factory;
mod handler;
mod informer;
mod lister;
mod packed;
mod panics;
pub mod reflector;
mod selector;
mod source;
mod store;
mod transform;

pub use error::CacheError;
pub use factory::InformerFactory;
pub use handler::{
    DeletedFinalStateUnknown, DeletedObject, Event, EventHandler, HandlerRegistration,
};
pub use informer::{InformerOptions, SharedInformer, WatchListMode};
pub use lister::{Lister, NamespaceLister};
pub use packed::Packing;
pub use reflector::ReflectorStats;
pub use selector::{Requirement, Selector};
pub use source::{BoxWatchStream, ListWatch};
pub use store::{Change, IndexFn, Store, StoreWriter, DEFAULT_RECENT_OBJECTS, NAMESPACE_INDEX};
pub use transform::{strip_managed_fields, Transform};
