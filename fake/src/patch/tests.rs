use serde_json::json;

use super::*;

#[test]
fn placeholder() {
    assert!(merge_patch(&json!({}), &json!({})).is_ok());
}
