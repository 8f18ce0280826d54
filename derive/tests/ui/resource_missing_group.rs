use k8s_client_derive::CustomResource;

#[derive(CustomResource)]
#[resource(version = "v1", kind = "Website")]
pub struct WebsiteSpec {
    pub image: String,
}

fn main() {}
