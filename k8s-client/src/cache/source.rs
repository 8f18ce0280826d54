//! [`ListWatch`]: anything that can list and watch objects, which is what a reflector needs.

use std::fmt;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::StreamExt;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::api::{
    Api, ApiResource, ListParams, Object, ObjectList, Resource, WatchEvent, WatchParams,
};
use crate::error::Result;

/// The events of one watch, boxed.
pub type BoxWatchStream<K> = BoxStream<'static, Result<WatchEvent<K>>>;

/// A source of objects a reflector can list and watch: the resource handle [`Api<K>`] on any
/// kind (typed, dynamic or metadata-only), or a source of the program's own.
///
/// Implementations only translate the two calls; selectors, paging and resourceVersions are
/// chosen by the reflector through the parameters.
pub trait ListWatch: Clone + Send + Sync + 'static {
    /// The objects listed and watched.
    type Object: Object + Clone + Serialize + DeserializeOwned + Send + Sync + 'static;

    /// Lists one page.
    fn list<'a>(
        &'a self,
        params: &'a ListParams,
    ) -> BoxFuture<'a, Result<ObjectList<Self::Object>>>;

    /// Starts a watch from `resource_version` (see [`Api::watch`]).
    fn watch<'a>(
        &'a self,
        params: &'a WatchParams,
        resource_version: &'a str,
    ) -> BoxFuture<'a, Result<BoxWatchStream<Self::Object>>>;

    /// What is listed, for logs and for telling informers apart: the resource and the
    /// namespace (`v1/configmaps in ns`, `apps/v1/deployments in all namespaces`).
    fn describe(&self) -> String;

    /// Whether decoded objects come without spare capacity in their lists, so an informer
    /// can cache them as they are instead of a trimmed copy. The generated protobuf codecs
    /// size every list exactly; serde grows lists by doubling as it reads them. Default:
    /// `false` (the informer caches a trimmed copy).
    fn decodes_exactly(&self) -> bool {
        false
    }

    /// This source, for a caller that drops `metadata.managedFields` from every object
    /// (an informer with [`InformerOptions::without_managed_fields`]): a source may then
    /// leave them out while decoding, which is much cheaper than building them. Objects may
    /// still carry them (JSON answers do); the caller removes them. Default: the source as it
    /// is.
    ///
    /// [`InformerOptions::without_managed_fields`]: super::InformerOptions::without_managed_fields
    fn without_managed_fields(self) -> Self
    where
        Self: Sized,
    {
        self
    }
}

impl<K: Resource> ListWatch for Api<K> {
    type Object = K;

    fn list<'a>(&'a self, params: &'a ListParams) -> BoxFuture<'a, Result<ObjectList<K>>> {
        Box::pin(Api::list(self, params))
    }

    fn watch<'a>(
        &'a self,
        params: &'a WatchParams,
        resource_version: &'a str,
    ) -> BoxFuture<'a, Result<BoxWatchStream<K>>> {
        Box::pin(async move {
            let events = Api::watch(self, params, resource_version).await?;
            Ok(events.boxed())
        })
    }

    fn describe(&self) -> String {
        describe_api_resource(self.resource(), self.namespace())
    }

    fn decodes_exactly(&self) -> bool {
        Api::decodes_exactly(self)
    }

    fn without_managed_fields(self) -> Self {
        Api::without_managed_fields(self)
    }
}

fn describe_api_resource(resource: &ApiResource, namespace: Option<&str>) -> String {
    let api_version = if resource.group.is_empty() {
        resource.version.clone()
    } else {
        format!("{}/{}", resource.group, resource.version)
    };
    describe_resource(&api_version, &resource.plural, namespace)
}

/// `api_version/resource in namespace` (or `in all namespaces`).
pub(crate) fn describe_resource(
    api_version: &str,
    resource: &str,
    namespace: Option<&str>,
) -> String {
    struct Scope<'a>(Option<&'a str>);
    impl fmt::Display for Scope<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self.0 {
                Some(ns) => write!(f, "in {ns}"),
                None => write!(f, "in all namespaces"),
            }
        }
    }
    format!("{api_version}/{resource} {}", Scope(namespace))
}
