//! Name rules, as the server applies them per kind.

const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1035_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

fn is_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn is_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_label)
}

/// The rule a kind's names follow.
#[derive(Debug, Clone, Copy)]
pub(crate) enum NameRule {
    Subdomain,
    Label,
    Dns1035,
    PathSegment,
}

pub(crate) fn rule_for(group: &str, plural: &str) -> NameRule {
    match (group, plural) {
        ("", "namespaces") => NameRule::Label,
        ("", "services") => NameRule::Dns1035,
        ("rbac.authorization.k8s.io", _) => NameRule::PathSegment,
        _ => NameRule::Subdomain,
    }
}

/// The messages for an invalid name (empty when valid). `prefix` is true when checking a
/// generateName (the server checks the prefix with a trailing character allowed).
pub(crate) fn check_name(rule: NameRule, name: &str) -> Vec<String> {
    let mut errors = Vec::new();
    match rule {
        NameRule::Subdomain => {
            if name.len() > 253 {
                errors.push("must be no more than 253 characters".to_string());
            }
            if !is_subdomain(name) {
                errors.push(SUBDOMAIN_MSG.to_string());
            }
        }
        NameRule::Label => {
            if name.len() > 63 {
                errors.push("must be no more than 63 characters".to_string());
            }
            if !is_label_chars(name) {
                errors.push(LABEL_MSG.to_string());
            }
        }
        NameRule::Dns1035 => {
            if name.len() > 63 {
                errors.push("must be no more than 63 characters".to_string());
            }
            if !is_label_chars(name) || !name.starts_with(|c: char| c.is_ascii_lowercase()) {
                errors.push(DNS1035_MSG.to_string());
            }
        }
        NameRule::PathSegment => {
            if name == "." || name == ".." {
                errors.push(format!("may not be '{name}'"));
            }
            for bad in ["/", "%"] {
                if name.contains(bad) {
                    errors.push(format!("may not contain '{bad}'"));
                }
            }
        }
    }
    errors
}

fn is_label_chars(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_name(NameRule::Subdomain, "a.b-c").is_empty());
        assert!(!check_name(NameRule::Subdomain, "Bad_Name").is_empty());
        assert!(!check_name(NameRule::Label, "a.b").is_empty());
        assert!(!check_name(NameRule::Dns1035, "1abc").is_empty());
        assert!(check_name(NameRule::PathSegment, "system:admin").is_empty());
        assert!(!check_name(NameRule::PathSegment, "a/b").is_empty());
    }
}
