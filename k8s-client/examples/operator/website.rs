//! The `Website` custom resource: its Rust types and its CustomResourceDefinition.
//!
//! (Declared with `custom_resource!` and a hand-written schema for now; the derive macro
//! will generate both from the types.)

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde::{Deserialize, Serialize};

/// What the user asks for.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct WebsiteSpec {
    /// How many web servers.
    pub replicas: i32,
    /// The web server's image.
    pub image: String,
}

/// One status condition.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
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
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WebsiteStatus {
    /// The replicas the Deployment was given.
    pub replicas: i32,
    /// The conditions.
    #[serde(default)]
    pub conditions: Vec<WebsiteCondition>,
}

k8s_client::custom_resource! {
    #[resource(group = "example.com", version = "v1", kind = "Website",
               plural = "websites", scope = Namespaced)]
    /// A website: a Deployment of web servers and the ConfigMap of their content.
    #[derive(Clone, Debug, Default, PartialEq)]
    pub struct Website {
        pub spec: WebsiteSpec,
        pub status: Option<WebsiteStatus>,
    }
}

/// The schema of `status` (apart, to keep `json!` within its recursion limit).
fn status_schema() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "properties": {
            "replicas": {"type": "integer", "format": "int32"},
            "conditions": {
                "type": "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["type"],
                "items": {
                    "type": "object",
                    "required": ["type", "status"],
                    "properties": {
                        "type": {"type": "string"},
                        "status": {"type": "string"},
                        "reason": {"type": "string"},
                        "message": {"type": "string"},
                        "observedGeneration": {"type": "integer", "format": "int64"}
                    }
                }
            }
        }
    })
}

/// The CRD of `Website`.
pub fn crd() -> CustomResourceDefinition {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "websites.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "websites", "singular": "website", "kind": "Website", "shortNames": ["web"]},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "additionalPrinterColumns": [
                    {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
                    {"name": "Image", "type": "string", "jsonPath": ".spec.image"}
                ],
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": {
                            "type": "object",
                            "required": ["replicas", "image"],
                            "properties": {
                                "replicas": {"type": "integer", "format": "int32", "minimum": 0},
                                "image": {"type": "string", "minLength": 1}
                            }
                        },
                        "status": status_schema(),
                    }
                }}
            }]
        }
    }))
    .expect("the Website CRD is valid JSON for CustomResourceDefinition")
}
