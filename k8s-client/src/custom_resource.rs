//! Typed custom resources: Rust types for the objects of a CustomResourceDefinition, so the
//! typed [`Api<K>`](super::Api) (and everything built on `k8s_openapi::Resource`) works on
//! them unchanged, and the definition itself derived from the same types.
//!
//! # The derive (feature `derive`)
//!
//! The main way: `#[derive(CustomResource)]` on a spec struct generates the resource type
//! and its `CustomResourceDefinition`, with a *structural* OpenAPI v3 schema derived from
//! the Rust types through the [`JsonSchema`] trait (derive it on the types the spec and
//! status use). The schema follows serde's attributes, `Option` fields are not required, and
//! `#[schema(...)]` adds validation (bounds, patterns, CEL rules), list types and map keys
//! for server-side apply. Several versions of one kind are merged with [`merge_crds`]. The
//! key reference is in the docs of `k8s-client-derive`.
//!
//! Why a schema trait of our own rather than `schemars`: CRDs need structural schemas
//! (every node typed, no `$ref`, `nullable` instead of `null` types, junctors that only
//! constrain), and `x-kubernetes-*` extensions; building the k8s-openapi `JSONSchemaProps`
//! directly gives exactly that, with no second schema model to rewrite afterwards, and it
//! reads serde's attributes in the same pass as our own.
//!
//! ```
//! # #[cfg(feature = "derive")] {
//! use k8s_client::custom_resource::JsonSchema;
//! use k8s_client::CustomResource;
//! use k8s_openapi::Resource as _;
//! use serde::{Deserialize, Serialize};
//!
//! /// A static website served by a Deployment.
//! #[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq)]
//! #[resource(group = "example.com", version = "v1", kind = "Website", namespaced,
//!            status = "WebsiteStatus", shortname = "ws", category = "all",
//!            printcolumn(name = "Replicas", type = "integer", json_path = ".spec.replicas"),
//!            scale(spec_replicas_path = ".spec.replicas", status_replicas_path = ".status.replicas"),
//!            derive = "PartialEq")]
//! #[serde(rename_all = "camelCase")]
//! #[schema(validation(rule = "self.replicas <= 10", message = "at most 10 replicas"))]
//! pub struct WebsiteSpec {
//!     /// The container image serving the site.
//!     #[schema(min_length = 1)]
//!     pub image: String,
//!     #[schema(minimum = 0)]
//!     pub replicas: i32,
//!     /// Environment of the server, merged by name under server-side apply.
//!     #[serde(default, skip_serializing_if = "Vec::is_empty")]
//!     #[schema(list_type = "map", list_map_keys = "name")]
//!     pub env: Vec<EnvVar>,
//! }
//!
//! #[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
//! pub struct EnvVar {
//!     pub name: String,
//!     pub value: Option<String>,
//! }
//!
//! #[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
//! pub struct WebsiteStatus {
//!     pub replicas: i32,
//! }
//!
//! let crd = Website::crd(); // install it with `k8s_client::runtime::crd::apply`
//! assert_eq!(crd.metadata.name.as_deref(), Some("websites.example.com"));
//! let schema = crd.spec.versions[0].schema.as_ref().unwrap().open_api_v3_schema.as_ref().unwrap();
//! let spec = &schema.properties.as_ref().unwrap()["spec"];
//! assert_eq!(spec.required.as_deref(), Some(&["image".to_string(), "replicas".to_string()][..]));
//!
//! let site = Website::new("blog", WebsiteSpec { image: "nginx".into(), replicas: 2, env: vec![] });
//! assert_eq!(Website::API_VERSION, "example.com/v1");
//! assert_eq!(serde_json::to_value(&site).unwrap()["kind"], "Website");
//! // let sites: k8s_client::Api<Website> = k8s_client::Api::namespaced(client, "default");
//! # }
//! ```
//!
//! The generated code names this crate `::k8s_client`; through a facade crate that
//! re-exports it, say where with `#[resource(crate = "facade::k8s")]` (and
//! `#[schema(crate = "...")]` on `#[derive(JsonSchema)]` types).
//!
//! # The `custom_resource!` macro
//!
//! [`custom_resource!`](crate::custom_resource!) declares the resource type without a
//! proc-macro (nothing to build, nothing derived): it writes the struct and the same traits
//! as the derive, but no schema and no CRD. Use it when the CRD is written elsewhere (by
//! another project, or in YAML) and the derive feature is off.
//!
//! The macro declares the struct (`metadata`, your `spec`, and optionally an
//! `Option<status>`) and implements for it `k8s_openapi::Resource`, `Metadata`,
//! `ListableResource`, `serde::Serialize` (which writes `apiVersion` and `kind`, as the
//! server requires) and `serde::Deserialize` (which checks them when present), plus
//! `new(name, spec)`. Derive what else you need (`Clone` is required by `Api<K>`).
//!
//! ```no_run
//! use k8s_client::api::{Api, ListParams, Patch, PatchParams, PostParams};
//! use serde::{Deserialize, Serialize};
//! use serde_json::json;
//!
//! #[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
//! #[serde(rename_all = "camelCase")]
//! pub struct CronTabSpec {
//!     pub cron_spec: String,
//!     pub replicas: i32,
//! }
//!
//! #[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
//! pub struct CronTabStatus {
//!     pub ready: bool,
//! }
//!
//! k8s_client::custom_resource! {
//!     #[resource(group = "stable.example.com", version = "v1", kind = "CronTab",
//!                plural = "crontabs", scope = Namespaced)]
//!     /// A CronTab (the CRD must be installed: see `k8s_client::runtime::crd`).
//!     #[derive(Clone, Debug, Default, PartialEq)]
//!     pub struct CronTab {
//!         pub spec: CronTabSpec,
//!         pub status: Option<CronTabStatus>,
//!     }
//! }
//!
//! # async fn run(client: k8s_client::Client) -> Result<(), k8s_client::Error> {
//! let crontabs: Api<CronTab> = Api::namespaced(client, "default");
//! let tab = CronTab::new("nightly", CronTabSpec { cron_spec: "0 3 * * *".into(), replicas: 1 });
//! crontabs.create(&PostParams::default(), &tab).await?;
//! crontabs
//!     .patch_status("nightly", &PatchParams::default(), &Patch::Merge(json!({"status": {"ready": true}})))
//!     .await?;
//! for tab in crontabs.list(&ListParams::default()).await? {
//!     println!("{:?} ready: {:?}", tab.metadata.name, tab.status.map(|s| s.ready));
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Rules of the form: the `#[resource(...)]` line comes first, with its five keys in this
//! order (`scope` is `Namespaced` or `Cluster`); the struct has the field `spec` and, when
//! the resource has a status, `status: Option<YourStatus>` (written with `Option`). Do not
//! derive `Serialize`/`Deserialize` on the struct (or put `#[serde]` attributes on it): the
//! macro implements them, so that `apiVersion` and `kind` are always written. `spec` must be
//! present in the objects read (a missing `status`, or `null`, is `None`).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::de::{DeserializeOwned, Error as _};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

mod crd;
mod schema;

pub use crd::{merge_crds, CrdMergeError};
/// Derives [`JsonSchema`](trait@JsonSchema) (see the [module docs](self)).
#[cfg(feature = "derive")]
#[cfg_attr(docsrs, doc(cfg(feature = "derive")))]
pub use k8s_client_derive::JsonSchema;
pub use schema::JsonSchema;

/// What [`custom_resource!`](crate::custom_resource!) and the derives expand to refer to;
/// not a public API.
#[doc(hidden)]
pub mod __private {
    pub use super::crd::{column, crd, CrdInfo};
    pub use super::schema::{
        describe, externally_tagged, flatten, internally_tagged, object, property, property_with,
        push_rule, string_enum,
    };
    pub use super::{deserialize, serialize, Parts};
    pub use k8s_openapi;
    pub use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
        CustomResourceDefinition, JSONSchemaProps, ValidationRule,
    };
    pub use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    pub use serde;
}

/// Serializes a custom resource: `apiVersion`, `kind`, `metadata`, `spec`, and `status`
/// when there is one. Used by [`custom_resource!`](crate::custom_resource).
#[doc(hidden)]
pub fn serialize<S, Spec, Status>(
    serializer: S,
    api_version: &str,
    kind: &str,
    metadata: &ObjectMeta,
    spec: &Spec,
    status: Option<&Status>,
) -> Result<S::Ok, S::Error>
where
    S: Serializer,
    Spec: Serialize,
    Status: Serialize,
{
    let mut map = serializer.serialize_map(None)?;
    map.serialize_entry("apiVersion", api_version)?;
    map.serialize_entry("kind", kind)?;
    map.serialize_entry("metadata", metadata)?;
    map.serialize_entry("spec", spec)?;
    if let Some(status) = status {
        map.serialize_entry("status", status)?;
    }
    map.end()
}

/// The parts of a decoded custom resource.
#[doc(hidden)]
#[derive(Deserialize)]
#[serde(bound(deserialize = "Spec: DeserializeOwned, Status: DeserializeOwned"))]
pub struct Parts<Spec, Status> {
    #[serde(rename = "apiVersion", default)]
    api_version: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    /// `metadata`.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// `spec`.
    pub spec: Spec,
    /// `status`, when present and not null.
    #[serde(default = "Option::default")]
    pub status: Option<Status>,
}

/// Deserializes a custom resource of `api_version` and `kind` (which the JSON must match
/// when it has them). Used by [`custom_resource!`](crate::custom_resource).
#[doc(hidden)]
pub fn deserialize<'de, D, Spec, Status>(
    deserializer: D,
    api_version: &str,
    kind: &str,
) -> Result<Parts<Spec, Status>, D::Error>
where
    D: Deserializer<'de>,
    Spec: DeserializeOwned,
    Status: DeserializeOwned,
{
    let parts = Parts::<Spec, Status>::deserialize(deserializer)?;
    let check = |field: &str, found: &Option<String>, expected: &str| match found {
        Some(found) if found != expected => Err(D::Error::custom(format!(
            "{field} is {found:?}, expected {expected:?}"
        ))),
        _ => Ok(()),
    };
    check("apiVersion", &parts.api_version, api_version)?;
    check("kind", &parts.kind, kind)?;
    Ok(parts)
}

/// Declares a typed struct for a custom resource and implements what
/// [`Api<K>`](crate::Api) needs; see the [`custom_resource`](mod@crate::custom_resource)
/// module for a full example.
///
/// ```
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
/// pub struct BackupSpec {
///     pub schedule: String,
/// }
///
/// k8s_client::custom_resource! {
///     #[resource(group = "example.com", version = "v1alpha1", kind = "Backup",
///                plural = "backups", scope = Cluster)]
///     /// A cluster-wide backup plan.
///     #[derive(Clone, Debug, Default, PartialEq)]
///     pub struct Backup {
///         pub spec: BackupSpec,
///     }
/// }
///
/// use k8s_openapi::Resource;
/// assert_eq!(Backup::API_VERSION, "example.com/v1alpha1");
/// let b = Backup::new("daily", BackupSpec { schedule: "@daily".into() });
/// let json = serde_json::to_value(&b).unwrap();
/// assert_eq!(json["kind"], "Backup");
/// assert_eq!(serde_json::from_value::<Backup>(json).unwrap(), b);
/// ```
#[macro_export]
macro_rules! custom_resource {
    (@scope Namespaced) => { $crate::custom_resource::__private::k8s_openapi::NamespaceResourceScope };
    (@scope Cluster) => { $crate::custom_resource::__private::k8s_openapi::ClusterResourceScope };

    (@traits $name:ident, $group:literal, $version:literal, $kind:literal, $plural:literal, $scope:ident) => {
        impl $crate::custom_resource::__private::k8s_openapi::Resource for $name {
            const API_VERSION: &'static str = ::core::concat!($group, "/", $version);
            const GROUP: &'static str = $group;
            const KIND: &'static str = $kind;
            const VERSION: &'static str = $version;
            const URL_PATH_SEGMENT: &'static str = $plural;
            type Scope = $crate::custom_resource!(@scope $scope);
        }

        impl $crate::custom_resource::__private::k8s_openapi::ListableResource for $name {
            const LIST_KIND: &'static str = ::core::concat!($kind, "List");
        }

        impl $crate::custom_resource::__private::k8s_openapi::Metadata for $name {
            type Ty = $crate::custom_resource::__private::ObjectMeta;
            fn metadata(&self) -> &Self::Ty {
                &self.metadata
            }
            fn metadata_mut(&mut self) -> &mut Self::Ty {
                &mut self.metadata
            }
        }
    };

    (
        #[resource(group = $group:literal, version = $version:literal, kind = $kind:literal,
                   plural = $plural:literal, scope = $scope:ident $(,)?)]
        $(#[$attr:meta])*
        $vis:vis struct $name:ident {
            $(#[$spec_attr:meta])*
            $spec_vis:vis spec: $spec:ty,
            $(#[$status_attr:meta])*
            $status_vis:vis status: Option<$status:ty> $(,)?
        }
    ) => {
        $(#[$attr])*
        $vis struct $name {
            /// Standard object metadata.
            pub metadata: $crate::custom_resource::__private::ObjectMeta,
            $(#[$spec_attr])*
            $spec_vis spec: $spec,
            $(#[$status_attr])*
            $status_vis status: ::core::option::Option<$status>,
        }

        $crate::custom_resource!(@traits $name, $group, $version, $kind, $plural, $scope);

        impl $name {
            /// A new object named `name` with `spec` and no status.
            pub fn new(name: &str, spec: $spec) -> Self {
                $name {
                    metadata: $crate::custom_resource::__private::ObjectMeta {
                        name: ::core::option::Option::Some(::std::string::ToString::to_string(name)),
                        ..::core::default::Default::default()
                    },
                    spec,
                    status: ::core::option::Option::None,
                }
            }
        }

        impl $crate::custom_resource::__private::serde::Serialize for $name {
            fn serialize<S: $crate::custom_resource::__private::serde::Serializer>(
                &self,
                serializer: S,
            ) -> ::core::result::Result<S::Ok, S::Error> {
                $crate::custom_resource::__private::serialize(
                    serializer,
                    <Self as $crate::custom_resource::__private::k8s_openapi::Resource>::API_VERSION,
                    $kind,
                    &self.metadata,
                    &self.spec,
                    self.status.as_ref(),
                )
            }
        }

        impl<'de> $crate::custom_resource::__private::serde::Deserialize<'de> for $name {
            fn deserialize<D: $crate::custom_resource::__private::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::core::result::Result<Self, D::Error> {
                let parts = $crate::custom_resource::__private::deserialize::<D, $spec, $status>(
                    deserializer,
                    <Self as $crate::custom_resource::__private::k8s_openapi::Resource>::API_VERSION,
                    $kind,
                )?;
                ::core::result::Result::Ok($name {
                    metadata: parts.metadata,
                    spec: parts.spec,
                    status: parts.status,
                })
            }
        }
    };

    (
        #[resource(group = $group:literal, version = $version:literal, kind = $kind:literal,
                   plural = $plural:literal, scope = $scope:ident $(,)?)]
        $(#[$attr:meta])*
        $vis:vis struct $name:ident {
            $(#[$spec_attr:meta])*
            $spec_vis:vis spec: $spec:ty $(,)?
        }
    ) => {
        $(#[$attr])*
        $vis struct $name {
            /// Standard object metadata.
            pub metadata: $crate::custom_resource::__private::ObjectMeta,
            $(#[$spec_attr])*
            $spec_vis spec: $spec,
        }

        $crate::custom_resource!(@traits $name, $group, $version, $kind, $plural, $scope);

        impl $name {
            /// A new object named `name` with `spec`.
            pub fn new(name: &str, spec: $spec) -> Self {
                $name {
                    metadata: $crate::custom_resource::__private::ObjectMeta {
                        name: ::core::option::Option::Some(::std::string::ToString::to_string(name)),
                        ..::core::default::Default::default()
                    },
                    spec,
                }
            }
        }

        impl $crate::custom_resource::__private::serde::Serialize for $name {
            fn serialize<S: $crate::custom_resource::__private::serde::Serializer>(
                &self,
                serializer: S,
            ) -> ::core::result::Result<S::Ok, S::Error> {
                $crate::custom_resource::__private::serialize::<S, $spec, ()>(
                    serializer,
                    <Self as $crate::custom_resource::__private::k8s_openapi::Resource>::API_VERSION,
                    $kind,
                    &self.metadata,
                    &self.spec,
                    ::core::option::Option::None,
                )
            }
        }

        impl<'de> $crate::custom_resource::__private::serde::Deserialize<'de> for $name {
            fn deserialize<D: $crate::custom_resource::__private::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::core::result::Result<Self, D::Error> {
                let parts = $crate::custom_resource::__private::deserialize::<
                    D,
                    $spec,
                    $crate::custom_resource::__private::serde::de::IgnoredAny,
                >(
                    deserializer,
                    <Self as $crate::custom_resource::__private::k8s_openapi::Resource>::API_VERSION,
                    $kind,
                )?;
                ::core::result::Result::Ok($name {
                    metadata: parts.metadata,
                    spec: parts.spec,
                })
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use k8s_openapi::{ListableResource, Metadata, Resource};
    use serde_json::json;

    use crate::api::{ApiResource, Object};
    use crate::dynamic::{ConvertError, DynamicObject};

    #[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
    #[serde(rename_all = "camelCase")]
    pub(crate) struct WidgetSpec {
        size: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        color: Option<String>,
    }

    #[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
    struct WidgetStatus {
        ready: bool,
    }

    use serde::{Deserialize, Serialize};

    crate::custom_resource! {
        #[resource(group = "widgets.example.com", version = "v1", kind = "Widget",
                   plural = "widgets", scope = Namespaced)]
        /// A widget.
        #[derive(Clone, Debug, Default, PartialEq)]
        struct Widget {
            /// What the widget should be.
            spec: WidgetSpec,
            /// What it is.
            status: Option<WidgetStatus>,
        }
    }

    crate::custom_resource! {
        #[resource(group = "widgets.example.com", version = "v2", kind = "Gadget",
                   plural = "gadgets", scope = Cluster,)]
        #[derive(Clone, Debug, PartialEq)]
        pub(crate) struct Gadget {
            pub spec: WidgetSpec
        }
    }

    #[test]
    fn traits_follow_the_resource_line() {
        assert_eq!(Widget::API_VERSION, "widgets.example.com/v1");
        assert_eq!(Widget::GROUP, "widgets.example.com");
        assert_eq!(Widget::VERSION, "v1");
        assert_eq!(Widget::KIND, "Widget");
        assert_eq!(Widget::URL_PATH_SEGMENT, "widgets");
        assert_eq!(Widget::LIST_KIND, "WidgetList");
        let r = ApiResource::of::<Widget>();
        assert!(r.namespaced);
        assert!(!ApiResource::of::<Gadget>().namespaced);
        assert_eq!(Gadget::API_VERSION, "widgets.example.com/v2");

        let mut w = Widget::new("w1", WidgetSpec::default());
        w.metadata_mut().namespace = Some("ns".into());
        assert_eq!(w.key(), "ns/w1");
        assert_eq!(Metadata::metadata(&w).name.as_deref(), Some("w1"));
    }

    #[test]
    fn serde_writes_and_checks_type_fields() {
        let mut w = Widget::new(
            "w1",
            WidgetSpec {
                size: 3,
                color: None,
            },
        );
        assert_eq!(
            serde_json::to_value(&w).unwrap(),
            json!({"apiVersion": "widgets.example.com/v1", "kind": "Widget",
                   "metadata": {"name": "w1"}, "spec": {"size": 3}})
        );
        w.status = Some(WidgetStatus { ready: true });
        let json = serde_json::to_value(&w).unwrap();
        assert_eq!(json["status"], json!({"ready": true}));
        assert_eq!(serde_json::from_value::<Widget>(json).unwrap(), w);

        // Without apiVersion/kind (list items), with a null status, with unknown fields.
        let w: Widget = serde_json::from_value(json!({
            "metadata": {"name": "x"}, "spec": {"size": 1, "extra": 1}, "status": null
        }))
        .unwrap();
        assert_eq!(w.status, None);

        for (bad, needle) in [
            (
                json!({"apiVersion": "widgets.example.com/v2", "kind": "Widget", "spec": {"size": 1}}),
                "apiVersion",
            ),
            (
                json!({"apiVersion": "widgets.example.com/v1", "kind": "Gadget", "spec": {"size": 1}}),
                "kind",
            ),
            (json!({"metadata": {}}), "missing field `spec`"),
            (json!({"spec": {"size": "big"}}), "invalid type"),
        ] {
            let err = serde_json::from_value::<Widget>(bad.clone())
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{bad}: {err}");
        }

        let g = Gadget::new(
            "g",
            WidgetSpec {
                size: 2,
                color: Some("red".into()),
            },
        );
        let json = serde_json::to_value(&g).unwrap();
        assert_eq!(json["kind"], "Gadget");
        assert!(json.get("status").is_none());
        let with_status =
            json!({"kind": "Gadget", "spec": {"size": 2, "color": "red"}, "status": {"any": 1}});
        assert_eq!(
            serde_json::from_value::<Gadget>(with_status)
                .unwrap()
                .metadata
                .name,
            None
        );
    }

    #[test]
    fn dynamic_round_trip() {
        let mut w = Widget::new(
            "w1",
            WidgetSpec {
                size: 5,
                color: Some("blue".into()),
            },
        );
        w.status = Some(WidgetStatus { ready: false });
        let d = DynamicObject::from_typed(&w).unwrap();
        assert_eq!(d.kind, "Widget");
        assert_eq!(d.field(&["spec", "color"]), Some(&json!("blue")));
        assert_eq!(d.try_parse::<Widget>().unwrap(), w);
        assert!(matches!(
            d.try_parse::<Gadget>(),
            Err(ConvertError::WrongKind { .. })
        ));
    }
}
