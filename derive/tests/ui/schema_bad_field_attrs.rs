use k8s_client_derive::JsonSchema;

#[derive(JsonSchema)]
pub struct A {
    #[schema(list_type = "ordered")]
    pub items: Vec<String>,
}

#[derive(JsonSchema)]
pub struct B {
    #[schema(validation(message = "too big"))]
    pub size: i32,
}

#[derive(JsonSchema)]
pub struct C {
    #[schema(minimum = "one")]
    pub size: i32,
}

#[derive(JsonSchema)]
pub struct D {
    #[schema(max_lenght = 3)]
    pub name: String,
}

#[derive(JsonSchema)]
pub struct E {
    #[schema(validation(rule = "self > 0", reason = "TooBig"))]
    pub size: i32,
}

fn main() {}
