//! Derive macros of [k8s-client](https://docs.rs/k8s-client): custom resources and their
//! structural OpenAPI v3 schemas from Rust types. Use them through k8s-client's `derive`
//! feature (`k8s_client::CustomResource`, `k8s_client::custom_resource::JsonSchema`), not
//! from this crate directly.
//!
//! # `#[derive(CustomResource)]`
//!
//! Goes on the *spec* struct and generates, from `#[resource(...)]`:
//! - the resource struct named after the kind, with `metadata: ObjectMeta`, `spec`, and
//!   `status: Option<Status>` when `status = "..."` is given; it derives `Clone` and `Debug`
//!   (and whatever `derive = "PartialEq"` adds), so the spec and status types need them;
//! - `k8s_openapi::Resource`, `Metadata` and `ListableResource` (so `Api<Kind>` works), and
//!   `Serialize`/`Deserialize` that write `apiVersion` and `kind` and check them when read;
//! - `Kind::new(name, spec)` and `Kind::crd()`, the `CustomResourceDefinition` of this version;
//! - the spec's `JsonSchema` impl (do not also derive `JsonSchema` on the spec).
//!
//! | key | meaning |
//! |---|---|
//! | `group = "example.com"`, `version = "v1"`, `kind = "Website"` | required |
//! | `namespaced` | namespaced (default: cluster-scoped) |
//! | `plural = "..."`, `singular = "..."` | names (default: the kind in lower case, and its plural) |
//! | `status = "WebsiteStatus"` | adds `status` and the status subresource |
//! | `shortname = "ws"`, `category = "all"` | repeatable |
//! | `printcolumn(name = "...", type = "integer", json_path = ".spec.x", description, format, priority)` | repeatable |
//! | `scale(spec_replicas_path = "...", status_replicas_path = "...", label_selector_path = "...")` | the scale subresource |
//! | `served = false`, `storage = false`, `deprecated`, `deprecation_warning = "..."` | this version's flags (defaults: served, storage) |
//! | `derive = "PartialEq"` | repeatable: more derives on the resource struct |
//! | `crate = "my_facade::k8s"` | the path the generated code names k8s-client by (default `::k8s_client`) |
//!
//! # `#[derive(JsonSchema)]`
//!
//! For the types used inside a spec or status (structs, enums). The schema honours serde:
//! `rename`, `rename_all`, `rename_all_fields`, `default` (field not required), `skip`,
//! `skip_serializing` (not in the schema), `skip_serializing_if` (not required), `flatten`,
//! `transparent` and newtypes, unit-only enums (`enum` of strings), externally tagged enums
//! with data (one property per variant, exactly one present), and internally tagged enums
//! (`#[serde(tag = "type")]`). `Option` fields are not required (and `nullable`). Untagged and
//! adjacently tagged enums have no structural schema and are refused at compile time.
//! Doc comments become `description`s.
//!
//! `#[schema(...)]` on a field or a type edits its schema: `minimum`, `maximum`,
//! `exclusive_minimum`, `exclusive_maximum`, `multiple_of`, `pattern`, `format`,
//! `min_length`, `max_length`, `min_items`, `max_items`, `min_properties`, `max_properties`,
//! `list_type = "atomic" | "set" | "map"`, `list_map_keys = "name, protocol"`,
//! `map_type = "atomic" | "granular"`, `preserve_unknown_fields`, `embedded_resource`,
//! `int_or_string`, `nullable`, `crate = "..."` (on a type: the path to k8s-client), `validation(rule = "<CEL>", message = "...",
//! message_expression, reason, field_path, optional_old_self)` (repeatable: the
//! `x-kubernetes-validations`), and `with = "path::to::fn"` (a `fn() -> JSONSchemaProps`
//! giving the whole schema, for types without a `JsonSchema` impl).
//!
//! # Example
//!
//! (Compiled and run as a doc test of `k8s_client::custom_resource`.)
//!
//! ```ignore
//! use k8s_client::custom_resource::JsonSchema;
//! use k8s_client::CustomResource;
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
//! let crd = Website::crd(); // install with k8s_client::runtime::crd::apply
//! let site = Website::new("blog", WebsiteSpec { image: "nginx".into(), replicas: 2, env: vec![] });
//! ```

#![deny(missing_docs)]
#![forbid(unsafe_code)]

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

mod attrs;
mod case;
mod resource;
mod schema;

/// Generates a custom resource from its spec struct; see the [crate docs](crate).
#[proc_macro_derive(CustomResource, attributes(resource, schema))]
pub fn derive_custom_resource(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    resource::derive(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Implements `JsonSchema` (a structural OpenAPI v3 schema) for a struct or enum; see the
/// [crate docs](crate). The generated code names k8s-client `::k8s_client`, or the path
/// given by `#[schema(crate = "my_facade::k8s")]` on the type.
#[proc_macro_derive(JsonSchema, attributes(schema))]
pub fn derive_json_schema(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    schema::crate_path(&input)
        .and_then(|krate| schema::derive(&input, &krate))
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
