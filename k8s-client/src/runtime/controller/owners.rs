//! Mapping a child object to the object that controls it through its `ownerReferences`.

use crate::api::{GroupVersionKind, Object, ObjectRef};

/// The object controlling `child` (its owner reference with `controller: true`) when that
/// owner is of kind `owner`; `namespaced` says whether owners of that kind live in the
/// child's namespace.
pub(crate) fn controller_of<C: Object>(
    child: &C,
    owner: &GroupVersionKind,
    namespaced: bool,
) -> Option<ObjectRef> {
    let reference = child
        .owner_references()
        .iter()
        .find(|r| r.controller == Some(true))?;
    let group = match reference.api_version.split_once('/') {
        Some((group, _version)) => group,
        None => "",
    };
    if reference.kind != owner.kind || group != owner.group {
        return None;
    }
    Some(ObjectRef {
        gvk: owner.clone(),
        namespace: if namespaced {
            child
                .namespace()
                .filter(|ns| !ns.is_empty())
                .map(str::to_string)
        } else {
            None
        },
        name: reference.name.clone(),
    })
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::ConfigMap;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    use super::*;

    fn child(refs: Vec<OwnerReference>) -> ConfigMap {
        let mut cm = ConfigMap::default();
        cm.metadata.name = Some("child".into());
        cm.metadata.namespace = Some("ns".into());
        cm.metadata.owner_references = Some(refs);
        cm
    }

    fn reference(api_version: &str, kind: &str, controller: Option<bool>) -> OwnerReference {
        OwnerReference {
            api_version: api_version.into(),
            kind: kind.into(),
            name: "parent".into(),
            uid: "u".into(),
            controller,
            ..OwnerReference::default()
        }
    }

    fn gvk(group: &str, kind: &str) -> GroupVersionKind {
        GroupVersionKind {
            group: group.into(),
            version: "v1".into(),
            kind: kind.into(),
        }
    }

    #[test]
    fn only_the_controlling_owner_of_the_kind_counts() {
        let deploy = gvk("apps", "Deployment");
        let c = child(vec![reference("apps/v1", "Deployment", Some(true))]);
        let r = controller_of(&c, &deploy, true).expect("owner");
        assert_eq!(r.key(), "ns/parent");
        assert_eq!(r.gvk, deploy);
        // Not the controller.
        let c = child(vec![reference("apps/v1", "Deployment", None)]);
        assert_eq!(controller_of(&c, &deploy, true), None);
        // Another kind, or the same kind in another group.
        let c = child(vec![reference("apps/v1", "ReplicaSet", Some(true))]);
        assert_eq!(controller_of(&c, &deploy, true), None);
        let c = child(vec![reference("example.com/v1", "Deployment", Some(true))]);
        assert_eq!(controller_of(&c, &deploy, true), None);
        // Core group; another version of the group still matches; cluster-scoped owner.
        let c = child(vec![reference("v1", "Namespace", Some(true))]);
        let r = controller_of(&c, &gvk("", "Namespace"), false).expect("owner");
        assert_eq!(r.key(), "parent");
        let c = child(vec![reference("apps/v1beta2", "Deployment", Some(true))]);
        assert!(controller_of(&c, &deploy, true).is_some());
    }
}
