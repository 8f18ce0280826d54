//! Transforms: functions applied to every object before it is cached (client-go
//! `TransformFunc`), to drop what a program never reads and save memory.

use std::sync::Arc;

use crate::api::Object;

/// A function applied to each object (from lists and watch events) before it is stored and
/// handed to handlers.
pub type Transform<K> = Arc<dyn Fn(K) -> K + Send + Sync>;

/// A transform that drops `metadata.managedFields` (server-side apply bookkeeping, often the
/// largest part of small objects). For informers,
/// [`InformerOptions::without_managed_fields`](super::InformerOptions::without_managed_fields)
/// does the same and cheaper (a protobuf source never builds them).
///
/// ```
/// use k8s_client::cache::{strip_managed_fields, InformerOptions};
/// use k8s_openapi::api::core::v1::Pod;
/// let options = InformerOptions::<Pod>::default().transform(strip_managed_fields());
/// # drop(options);
/// ```
pub fn strip_managed_fields<K: Object>() -> Transform<K> {
    Arc::new(|mut obj: K| {
        obj.meta_mut().managed_fields = None;
        obj
    })
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::ConfigMap;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;

    use super::*;

    #[test]
    fn strips_managed_fields_only() {
        let mut cm = ConfigMap::default();
        cm.metadata.name = Some("x".into());
        cm.metadata.managed_fields = Some(vec![ManagedFieldsEntry::default()]);
        let cm = strip_managed_fields::<ConfigMap>()(cm);
        assert!(cm.metadata.managed_fields.is_none());
        assert_eq!(cm.metadata.name.as_deref(), Some("x"));
    }
}
