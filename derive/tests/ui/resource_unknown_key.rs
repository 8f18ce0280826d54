use k8s_client_derive::CustomResource;

#[derive(CustomResource)]
#[resource(group = "example.com", version = "v1", kind = "Website", namespace)]
pub struct WebsiteSpec {
    pub image: String,
}

fn main() {}
