use k8s_client_derive::CustomResource;

#[derive(CustomResource)]
#[resource(group = "example", version = "v1", kind = "Website")]
pub struct ASpec {
    pub image: String,
}

#[derive(CustomResource)]
#[resource(group = "example.com", version = "V1", kind = "Website")]
pub struct BSpec {
    pub image: String,
}

#[derive(CustomResource)]
#[resource(group = "example.com", version = "v1", kind = "website")]
pub struct CSpec {
    pub image: String,
}

#[derive(CustomResource)]
#[resource(group = "example.com", version = "v1", kind = "Website", status = "WebsiteStatus",
           printcolumn(name = "Image", type = "text", json_path = ".spec.image"))]
pub struct DSpec {
    pub image: String,
}

#[derive(CustomResource)]
#[resource(group = "example.com", version = "v1", kind = "Website",
           scale(spec_replicas_path = ".spec.replicas", status_replicas_path = ".status.replicas"))]
pub struct ESpec {
    pub replicas: i32,
}

#[derive(CustomResource)]
#[resource(group = "example.com", version = "v1", kind = "Website",
           printcolumn(name = "Image", type = "string", json_path = "spec.image"))]
pub struct FSpec {
    pub image: String,
}

#[derive(CustomResource)]
#[resource(group = "example.com", version = "v1", kind = "Website")]
pub struct Website {
    pub image: String,
}

fn main() {}
