//! The `Website` custom resource: its Rust types, from which `#[derive(CustomResource)]`
//! generates the resource type and its CustomResourceDefinition (with the OpenAPI schema).

use k8s_client::custom_resource::JsonSchema;
use k8s_client::CustomResource;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde::{Deserialize, Serialize};

/// What the user asks for: a website, a Deployment of web servers and the ConfigMap of
/// their content.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[resource(
    group = "example.com",
    version = "v1",
    kind = "Website",
    namespaced,
    status = "WebsiteStatus",
    shortname = "web",
    printcolumn(name = "Replicas", type = "integer", json_path = ".spec.replicas"),
    printcolumn(name = "Image", type = "string", json_path = ".spec.image"),
    derive = "PartialEq"
)]
pub struct WebsiteSpec {
    /// How many web servers.
    #[schema(minimum = 0)]
    pub replicas: i32,
    /// The web server's image.
    #[schema(min_length = 1)]
    pub image: String,
}

/// One status condition.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WebsiteCondition {
    /// `Ready`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// A CamelCase reason.
    pub reason: String,
    /// For humans.
    pub message: String,
    /// The generation the condition describes.
    pub observed_generation: i64,
}

/// What the operator reports.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WebsiteStatus {
    /// The replicas the Deployment was given.
    pub replicas: i32,
    /// The conditions, merged by type under server-side apply.
    #[serde(default)]
    #[schema(list_type = "map", list_map_keys = "type")]
    pub conditions: Vec<WebsiteCondition>,
}

/// The CRD of `Website`, generated from the types above.
pub fn crd() -> CustomResourceDefinition {
    Website::crd()
}
