//! Label selectors: parsing the string form (`a=b,c!=d,e in (x,y),!f`) and matching labels.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::api::Object;

use super::error::CacheError;

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// `key=value` (or `key==value`): the label is present with this value.
    Equals(String, String),
    /// `key!=value`: the label is absent or has another value.
    NotEquals(String, String),
    /// `key in (v1,v2)`: the label is present with one of the values.
    In(String, Vec<String>),
    /// `key notin (v1,v2)`: the label is absent or has none of the values.
    NotIn(String, Vec<String>),
    /// `key`: the label is present.
    Exists(String),
    /// `!key`: the label is absent.
    DoesNotExist(String),
    /// `key>n`: the label is an integer greater than `n`.
    GreaterThan(String, i64),
    /// `key<n`: the label is an integer less than `n`.
    LessThan(String, i64),
}

impl Requirement {
    /// Whether `labels` meet this requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        match self {
            Requirement::Equals(k, v) => labels.get(k) == Some(v),
            Requirement::NotEquals(k, v) => labels.get(k) != Some(v),
            Requirement::In(k, vs) => labels.get(k).is_some_and(|l| vs.contains(l)),
            Requirement::NotIn(k, vs) => !labels.get(k).is_some_and(|l| vs.contains(l)),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::DoesNotExist(k) => !labels.contains_key(k),
            Requirement::GreaterThan(k, n) => int_label(labels, k).is_some_and(|l| l > *n),
            Requirement::LessThan(k, n) => int_label(labels, k).is_some_and(|l| l < *n),
        }
    }
}

fn int_label(labels: &BTreeMap<String, String>, key: &str) -> Option<i64> {
    labels.get(key).and_then(|v| v.parse().ok())
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Requirement::Equals(k, v) => write!(f, "{k}={v}"),
            Requirement::NotEquals(k, v) => write!(f, "{k}!={v}"),
            Requirement::In(k, vs) => write!(f, "{k} in ({})", vs.join(",")),
            Requirement::NotIn(k, vs) => write!(f, "{k} notin ({})", vs.join(",")),
            Requirement::Exists(k) => write!(f, "{k}"),
            Requirement::DoesNotExist(k) => write!(f, "!{k}"),
            Requirement::GreaterThan(k, n) => write!(f, "{k}>{n}"),
            Requirement::LessThan(k, n) => write!(f, "{k}<{n}"),
        }
    }
}

/// A parsed label selector: every requirement must hold. The empty selector matches
/// everything.
///
/// ```
/// use std::collections::BTreeMap;
/// use k8s_client::cache::Selector;
///
/// let sel: Selector = "app=web,tier!=db,env in (prod,staging),!canary".parse().unwrap();
/// let labels: BTreeMap<String, String> =
///     [("app".into(), "web".into()), ("env".into(), "prod".into())].into();
/// assert!(sel.matches(&labels));
/// assert!("app in (web".parse::<Selector>().is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    requirements: Vec<Requirement>,
}

impl Selector {
    /// The selector that matches everything.
    pub fn everything() -> Self {
        Selector::default()
    }

    /// Parses the string form of a label selector.
    pub fn parse(selector: &str) -> Result<Self, CacheError> {
        Parser {
            src: selector,
            pos: 0,
        }
        .selector()
    }

    /// A selector from requirements.
    pub fn from_requirements(requirements: Vec<Requirement>) -> Self {
        Selector { requirements }
    }

    /// The requirements.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// Whether this selector matches everything.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether `labels` meet every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }

    /// Whether `obj`'s labels meet every requirement.
    pub fn matches_object<K: Object>(&self, obj: &K) -> bool {
        static EMPTY: BTreeMap<String, String> = BTreeMap::new();
        self.matches(obj.meta().labels.as_ref().unwrap_or(&EMPTY))
    }
}

impl FromStr for Selector {
    type Err = CacheError;
    fn from_str(s: &str) -> Result<Self, CacheError> {
        Selector::parse(s)
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/')
}

impl Parser<'_> {
    fn err(&self, message: impl Into<String>) -> CacheError {
        CacheError::Selector {
            selector: self.src.to_string(),
            position: self.pos,
            message: message.into(),
        }
    }

    fn rest(&self) -> &str {
        &self.src[self.pos..]
    }

    fn skip_space(&mut self) {
        let trimmed = self.rest().trim_start();
        self.pos = self.src.len() - trimmed.len();
    }

    fn eat(&mut self, token: &str) -> bool {
        self.skip_space();
        if self.rest().starts_with(token) {
            self.pos += token.len();
            true
        } else {
            false
        }
    }

    fn word(&mut self) -> &str {
        self.skip_space();
        let start = self.pos;
        let len = self
            .rest()
            .find(|c: char| !is_word_char(c))
            .unwrap_or(self.rest().len());
        self.pos += len;
        &self.src[start..self.pos]
    }

    fn key(&mut self) -> Result<String, CacheError> {
        let key = self.word().to_string();
        if key.is_empty() {
            return Err(self.err("expected a label key"));
        }
        Ok(key)
    }

    fn at_end_of_requirement(&mut self) -> bool {
        self.skip_space();
        self.rest().is_empty() || self.rest().starts_with(',')
    }

    fn selector(mut self) -> Result<Selector, CacheError> {
        let mut requirements = Vec::new();
        self.skip_space();
        if self.rest().is_empty() {
            return Ok(Selector { requirements });
        }
        loop {
            requirements.push(self.requirement()?);
            self.skip_space();
            if self.rest().is_empty() {
                return Ok(Selector { requirements });
            }
            if !self.eat(",") {
                return Err(self.err("expected ',' between requirements"));
            }
        }
    }

    fn requirement(&mut self) -> Result<Requirement, CacheError> {
        if self.eat("!") {
            let key = self.key()?;
            if !self.at_end_of_requirement() {
                return Err(self.err("'!key' takes no operator"));
            }
            return Ok(Requirement::DoesNotExist(key));
        }
        let key = self.key()?;
        if self.at_end_of_requirement() {
            return Ok(Requirement::Exists(key));
        }
        if self.eat("!=") {
            return Ok(Requirement::NotEquals(key, self.value()?));
        }
        if self.eat("==") || self.eat("=") {
            return Ok(Requirement::Equals(key, self.value()?));
        }
        if self.eat(">") {
            return Ok(Requirement::GreaterThan(key, self.integer()?));
        }
        if self.eat("<") {
            return Ok(Requirement::LessThan(key, self.integer()?));
        }
        let op_pos = self.pos;
        match self.word() {
            "in" => Ok(Requirement::In(key, self.set()?)),
            "notin" => Ok(Requirement::NotIn(key, self.set()?)),
            _ => {
                self.pos = op_pos;
                Err(self.err("expected an operator (=, ==, !=, in, notin, >, <), ',' or the end"))
            }
        }
    }

    fn value(&mut self) -> Result<String, CacheError> {
        let value = self.word().to_string();
        if !self.at_end_of_requirement() {
            return Err(self.err("unexpected character in a label value"));
        }
        Ok(value)
    }

    fn integer(&mut self) -> Result<i64, CacheError> {
        let start = self.pos;
        let word = self.word().to_string();
        word.parse().map_err(|_| {
            self.pos = start;
            self.err(format!("{word:?} is not an integer"))
        })
    }

    fn set(&mut self) -> Result<Vec<String>, CacheError> {
        if !self.eat("(") {
            return Err(self.err("expected '(' to start a set of values"));
        }
        let mut values = Vec::new();
        loop {
            values.push(self.word().to_string());
            if self.eat(")") {
                break;
            }
            if !self.eat(",") {
                return Err(self.err("expected ',' or ')' in a set of values"));
            }
        }
        if values.iter().all(String::is_empty) {
            return Err(self.err("a set of values must not be empty"));
        }
        Ok(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_equality_and_set_based_requirements() {
        let s = Selector::parse("a=b,c!=d, e in (x, y),!f,g,h==i,j notin (z),k>3,l<10").unwrap();
        assert_eq!(
            s.requirements(),
            [
                Requirement::Equals("a".into(), "b".into()),
                Requirement::NotEquals("c".into(), "d".into()),
                Requirement::In("e".into(), vec!["x".into(), "y".into()]),
                Requirement::DoesNotExist("f".into()),
                Requirement::Exists("g".into()),
                Requirement::Equals("h".into(), "i".into()),
                Requirement::NotIn("j".into(), vec!["z".into()]),
                Requirement::GreaterThan("k".into(), 3),
                Requirement::LessThan("l".into(), 10),
            ]
        );
        assert_eq!(
            s.to_string(),
            "a=b,c!=d,e in (x,y),!f,g,h=i,j notin (z),k>3,l<10"
        );
        assert_eq!(Selector::parse(&s.to_string()).unwrap(), s);
    }

    #[test]
    fn keys_with_prefixes_and_empty_values() {
        let s = Selector::parse("app.kubernetes.io/name=web,empty=").unwrap();
        assert!(s.matches(&labels(&[("app.kubernetes.io/name", "web"), ("empty", "")])));
    }

    #[test]
    fn matching_follows_kubernetes_semantics() {
        let s = Selector::parse("a=b,c!=d,e in (x,y),!f").unwrap();
        assert!(s.matches(&labels(&[("a", "b"), ("e", "x")])));
        assert!(s.matches(&labels(&[("a", "b"), ("e", "y"), ("c", "other")])));
        assert!(!s.matches(&labels(&[("a", "b"), ("e", "x"), ("c", "d")])));
        assert!(!s.matches(&labels(&[("a", "b"), ("e", "x"), ("f", "")])));
        assert!(!s.matches(&labels(&[("a", "b")])));
        let notin = Selector::parse("e notin (x)").unwrap();
        assert!(notin.matches(&labels(&[])));
        assert!(!notin.matches(&labels(&[("e", "x")])));
        let gt = Selector::parse("n>3").unwrap();
        assert!(gt.matches(&labels(&[("n", "4")])));
        assert!(!gt.matches(&labels(&[("n", "three")])));
        assert!(Selector::parse("  ").unwrap().matches(&labels(&[])));
    }

    #[test]
    fn errors_say_where() {
        for (bad, at) in [
            ("a in (x", 7),
            ("a in x", 5),
            ("a=b c", 4),
            ("=b", 0),
            ("a=b,", 4),
            ("a ~ b", 2),
            ("!a=b", 2),
            ("n>x", 2),
            ("a in ()", 7),
        ] {
            match Selector::parse(bad) {
                Err(CacheError::Selector {
                    selector,
                    position,
                    message,
                }) => {
                    assert_eq!(selector, bad);
                    assert_eq!(position, at, "{bad:?}: {message}");
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }
}
