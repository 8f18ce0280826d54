//! Label and field selectors of lists and watches.

use std::collections::BTreeMap;

use k8s_client::cache::Selector;
use serde_json::Value;

use crate::registry::ResourceInfo;
use crate::status::StatusError;

/// One `field=value` / `field!=value` term.
#[derive(Debug, Clone)]
pub(crate) struct FieldTerm {
    pub field: String,
    pub value: String,
    pub equal: bool,
}

/// What a list or watch selects.
#[derive(Debug, Clone, Default)]
pub(crate) struct Filter {
    pub labels: Option<Selector>,
    pub fields: Vec<FieldTerm>,
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Splits at unescaped `sep`.
fn split_unescaped(s: &str, sep: char) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut escaped = false;
    for c in s.chars() {
        if escaped {
            current.push('\\');
            current.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == sep {
            parts.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    parts.push(current);
    parts
}

/// Parses a field selector, refusing the fields the resource does not support (400, as the
/// server).
pub(crate) fn parse_fields(
    selector: &str,
    info: &ResourceInfo,
) -> Result<Vec<FieldTerm>, StatusError> {
    let mut terms = Vec::new();
    if selector.trim().is_empty() {
        return Ok(terms);
    }
    for part in split_unescaped(selector, ',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (field, value, equal) = if let Some((f, v)) = part.split_once("!=") {
            (f, v, false)
        } else if let Some((f, v)) = part.split_once("==") {
            (f, v, true)
        } else if let Some((f, v)) = part.split_once('=') {
            (f, v, true)
        } else {
            return Err(StatusError::bad_request(format!(
                "invalid field selector: '{part}': invalid selector: '{part}'; can't understand '{part}'"
            )));
        };
        let field = field.trim().to_string();
        let supported = field == "metadata.name"
            || field == "metadata.namespace"
            || info.selectable.contains(&field);
        if !supported {
            // Core kinds with field label conversion functions word it one way, the others
            // another (as the server does).
            return Err(StatusError::bad_request(
                if info.group.is_empty() && !info.selectable.is_empty() {
                    format!("field label not supported: {field}")
                } else {
                    format!("\"{field}\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"")
                },
            ));
        }
        terms.push(FieldTerm {
            field,
            value: unescape(value.trim()),
            equal,
        });
    }
    Ok(terms)
}

/// The value of a selectable field of an object, as the server's field set renders it.
fn field_value(object: &Value, field: &str, info: &ResourceInfo) -> String {
    let path: Vec<&str> = match (info.group.as_str(), info.plural.as_str(), field) {
        ("", "events", "source") => vec!["source", "component"],
        _ => field.split('.').collect(),
    };
    let mut v = object;
    for p in &path {
        v = &v[*p];
    }
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Null => match (info.plural.as_str(), field) {
            ("pods", "spec.hostNetwork") | ("nodes", "spec.unschedulable") => "false".into(),
            ("replicasets" | "replicationcontrollers", "status.replicas")
            | ("jobs", "status.successful") => "0".into(),
            _ => String::new(),
        },
        Value::Array(items) if field == "status.podIPs" => items
            .first()
            .and_then(|i| i["ip"].as_str())
            .unwrap_or("")
            .to_string(),
        other => other.to_string(),
    }
}

fn labels_of(object: &Value) -> BTreeMap<String, String> {
    object["metadata"]["labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default()
}

impl Filter {
    pub fn new(
        labels: Option<&str>,
        fields: Option<&str>,
        info: &ResourceInfo,
    ) -> Result<Filter, StatusError> {
        let labels = match labels {
            Some(s) if !s.trim().is_empty() => Some(Selector::parse(s).map_err(|e| {
                StatusError::bad_request(format!("unable to parse requirement: {e}"))
            })?),
            _ => None,
        };
        let fields = match fields {
            Some(s) => parse_fields(s, info)?,
            None => Vec::new(),
        };
        Ok(Filter { labels, fields })
    }

    pub fn matches(&self, object: &Value, info: &ResourceInfo) -> bool {
        if let Some(selector) = &self.labels {
            if !selector.matches(&labels_of(object)) {
                return false;
            }
        }
        self.fields.iter().all(|term| {
            let v = match term.field.as_str() {
                "metadata.name" => object["metadata"]["name"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                "metadata.namespace" => object["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                f => field_value(object, f, info),
            };
            (v == term.value) == term.equal
        })
    }
}
