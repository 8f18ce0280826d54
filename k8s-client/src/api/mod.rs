//! The one resource handle [`Api<K>`] and what it needs: resource names, request
//! parameters, watch events, lists and wire formats (JSON; protobuf with the `protobuf`
//! feature). The same handle serves typed k8s-openapi kinds, custom resources, dynamic
//! objects ([`DynamicObject`](super::dynamic::DynamicObject)) and metadata-only objects
//! ([`PartialObjectMetadata`](super::metadata::PartialObjectMetadata)).
//!
//! ```no_run
//! use k8s_client::api::{Api, ListParams, Patch, PatchParams, PostParams};
//! use k8s_openapi::api::core::v1::ConfigMap;
//! use serde_json::json;
//!
//! # async fn run(client: k8s_client::Client) -> Result<(), k8s_client::Error> {
//! let cms: Api<ConfigMap> = Api::namespaced(client, "default");
//! let mut cm = ConfigMap::default();
//! cm.metadata.name = Some("settings".into());
//! cms.create(&PostParams::default(), &cm).await?;
//! cms.patch("settings", &PatchParams::default(), &Patch::Merge(json!({"data": {"k": "v"}})))
//!     .await?;
//! for cm in cms.list(&ListParams::default().labels("app=demo")).await? {
//!     println!("{:?}", cm.metadata.name);
//! }
//! # Ok(())
//! # }
//! ```

pub(crate) mod collection;
pub mod format;
mod handle;
mod list;
pub(crate) mod list_decoder;
mod object;
mod params;
#[cfg(feature = "protobuf")]
#[cfg_attr(docsrs, doc(cfg(feature = "protobuf")))]
pub mod protobuf;
mod resource;
mod watch;

pub use handle::Api;
pub use list::{Deleted, ObjectList};
pub use object::{Object, ObjectRef};
pub use params::{
    DeleteParams, EvictParams, FieldValidation, ListParams, Patch, PatchParams, PostParams,
    Preconditions, PropagationPolicy, ResourceVersionMatch, WatchParams,
};
pub use resource::{
    join_api_version, split_api_version, ApiResource, DynamicScope, GroupVersionKind,
    GroupVersionResource, Resource,
};
pub use watch::{decode_stream, Bookmark, WatchEvent, INITIAL_EVENTS_END_ANNOTATION};

#[cfg(test)]
mod tests {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::{ConfigMap, Namespace};

    use super::*;
    use crate::rest::{Request, Verb};
    use k8s_openapi::api::core::v1::Pod;

    #[test]
    fn object_list_decodes_pages() {
        let page = r#"{"kind":"ConfigMapList","apiVersion":"v1","metadata":{"resourceVersion":"10","continue":"abc","remainingItemCount":4},"items":[{"metadata":{"name":"a"}}]}"#;
        let l: ObjectList<ConfigMap> = serde_json::from_str(page).unwrap();
        assert_eq!(l.continue_token(), Some("abc"));
        assert_eq!(l.iter().count(), 1);
        let last = r#"{"metadata":{"resourceVersion":"10","continue":""},"items":null}"#;
        let l: ObjectList<ConfigMap> = serde_json::from_str(last).unwrap();
        assert_eq!(l.continue_token(), None);
        assert!(l.items.is_empty());
        let names: Vec<String> = serde_json::from_str::<ObjectList<ConfigMap>>(page)
            .unwrap()
            .into_iter()
            .filter_map(|c| c.metadata.name)
            .collect();
        assert_eq!(names, ["a"]);
    }

    fn req<K: k8s_openapi::Resource + 'static>(namespace: Option<&str>, verb: Verb) -> Request {
        collection::resource_request(&ApiResource::of::<K>(), namespace, verb)
    }

    #[test]
    fn resource_paths_come_from_the_type() {
        let uri = |r: Request| r.build().unwrap().uri().to_string();
        assert_eq!(
            uri(req::<Deployment>(Some("ns"), Verb::Get)
                .name("d")
                .subresource("scale")),
            "/apis/apps/v1/namespaces/ns/deployments/d/scale"
        );
        assert_eq!(uri(req::<Pod>(None, Verb::List)), "/api/v1/pods");
        assert_eq!(
            uri(req::<Namespace>(None, Verb::Get).name("x")),
            "/api/v1/namespaces/x"
        );
        assert_eq!(
            uri(req::<ConfigMap>(Some("ns"), Verb::Watch)),
            "/api/v1/namespaces/ns/configmaps?watch=true"
        );
    }
}
