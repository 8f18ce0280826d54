use k8s_client_derive::JsonSchema;
use serde::Serialize;

#[derive(JsonSchema, Serialize)]
#[serde(untagged)]
pub enum Untagged {
    A(String),
    B(i32),
}

#[derive(JsonSchema, Serialize)]
#[serde(tag = "t", content = "c")]
pub enum Adjacent {
    A(String),
}

#[derive(JsonSchema, Serialize)]
pub enum Mixed {
    Unit,
    Data(String),
}

#[derive(JsonSchema, Serialize)]
pub struct Pair(String, i32);

fn main() {}
