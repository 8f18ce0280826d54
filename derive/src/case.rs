//! serde's `rename_all` rules, applied to field names (written in snake_case) and variant
//! names (written in PascalCase) the way serde applies them.

/// One `rename_all` rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RenameRule {
    Lower,
    Upper,
    Pascal,
    Camel,
    Snake,
    ScreamingSnake,
    Kebab,
    ScreamingKebab,
}

impl RenameRule {
    /// The rule named `name` as serde spells it.
    pub fn parse(name: &str) -> Option<RenameRule> {
        Some(match name {
            "lowercase" => RenameRule::Lower,
            "UPPERCASE" => RenameRule::Upper,
            "PascalCase" => RenameRule::Pascal,
            "camelCase" => RenameRule::Camel,
            "snake_case" => RenameRule::Snake,
            "SCREAMING_SNAKE_CASE" => RenameRule::ScreamingSnake,
            "kebab-case" => RenameRule::Kebab,
            "SCREAMING-KEBAB-CASE" => RenameRule::ScreamingKebab,
            _ => return None,
        })
    }

    /// A field name (snake_case in Rust) under this rule.
    pub fn field(self, name: &str) -> String {
        match self {
            RenameRule::Lower | RenameRule::Snake => name.to_string(),
            RenameRule::Upper | RenameRule::ScreamingSnake => name.to_ascii_uppercase(),
            RenameRule::Pascal | RenameRule::Camel => {
                let mut out = String::new();
                let mut upper = self == RenameRule::Pascal;
                for c in name.chars() {
                    if c == '_' {
                        upper = true;
                    } else if upper {
                        out.extend(c.to_uppercase());
                        upper = false;
                    } else {
                        out.push(c);
                    }
                }
                out
            }
            RenameRule::Kebab => name.replace('_', "-"),
            RenameRule::ScreamingKebab => name.replace('_', "-").to_ascii_uppercase(),
        }
    }

    /// A variant name (PascalCase in Rust) under this rule.
    pub fn variant(self, name: &str) -> String {
        match self {
            RenameRule::Pascal => name.to_string(),
            RenameRule::Lower => name.to_ascii_lowercase(),
            RenameRule::Upper => name.to_ascii_uppercase(),
            RenameRule::Camel => {
                let mut chars = name.chars();
                match chars.next() {
                    Some(first) => first.to_lowercase().chain(chars).collect(),
                    None => String::new(),
                }
            }
            RenameRule::Snake => {
                let mut out = String::new();
                for (i, c) in name.char_indices() {
                    if c.is_uppercase() && i > 0 {
                        out.push('_');
                    }
                    out.extend(c.to_lowercase());
                }
                out
            }
            RenameRule::ScreamingSnake => RenameRule::Snake.variant(name).to_ascii_uppercase(),
            RenameRule::Kebab => RenameRule::Snake.variant(name).replace('_', "-"),
            RenameRule::ScreamingKebab => {
                RenameRule::ScreamingSnake.variant(name).replace('_', "-")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RenameRule::*;

    #[test]
    fn fields_and_variants_follow_serde() {
        assert_eq!(Camel.field("spec_replicas_path"), "specReplicasPath");
        assert_eq!(Pascal.field("max_surge"), "MaxSurge");
        assert_eq!(Kebab.field("max_surge"), "max-surge");
        assert_eq!(ScreamingSnake.field("max_surge"), "MAX_SURGE");
        assert_eq!(Camel.variant("RollingUpdate"), "rollingUpdate");
        assert_eq!(Snake.variant("RollingUpdate"), "rolling_update");
        assert_eq!(ScreamingKebab.variant("RollingUpdate"), "ROLLING-UPDATE");
        assert_eq!(Lower.variant("RollingUpdate"), "rollingupdate");
    }
}
