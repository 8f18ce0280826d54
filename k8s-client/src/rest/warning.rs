//! Server warnings: the API server sends `Warning: 299 - "text"` headers (RFC 7234 §5.5) for
//! deprecated APIs, unknown fields and the like. Every response's warnings go to the
//! client's [`WarningHandler`]; by default each distinct message is logged once through
//! `tracing::warn!`.

use std::collections::HashSet;
use std::sync::Mutex;

use http::HeaderMap;

/// Receives the server's `Warning` headers, as client-go's `WarningHandler`.
///
/// Set one with [`Client::with_warning_handler`](crate::Client::with_warning_handler). The
/// default logs each distinct message once with `tracing::warn!`.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use k8s_client::rest::WarningHandler;
///
/// /// Collects warnings, for a program that shows them to its user.
/// #[derive(Default)]
/// struct Collect(Mutex<Vec<String>>);
///
/// impl WarningHandler for Collect {
///     fn handle_warning(&self, code: u16, _agent: &str, text: &str) {
///         if code == 299 {
///             self.0.lock().unwrap().push(text.to_string());
///         }
///     }
/// }
///
/// # fn make(client: k8s_client::Client) -> k8s_client::Client {
/// let client = client.with_warning_handler(Arc::new(Collect::default()));
/// # client }
/// ```
pub trait WarningHandler: Send + Sync {
    /// Called once per warning of a response: the warn-code (the API server uses 299,
    /// "miscellaneous persistent warning"), the warn-agent (`-` from the API server) and the
    /// text, unquoted.
    fn handle_warning(&self, code: u16, agent: &str, text: &str);
}

impl dyn WarningHandler {
    /// The default handler: each distinct 299 warning logged once.
    pub(crate) fn log_once() -> std::sync::Arc<dyn WarningHandler> {
        std::sync::Arc::new(LogOnce::default())
    }

    /// Hands every warning in `headers` to this handler.
    pub(crate) fn dispatch(&self, headers: &HeaderMap) {
        dispatch(headers, self)
    }
}

/// The default handler: logs each distinct warning text (of code 299) once per client with
/// `tracing::warn!`.
#[derive(Debug, Default)]
pub(crate) struct LogOnce {
    seen: Mutex<HashSet<String>>,
}

/// At most this many distinct texts are remembered; after that, repeats are logged again
/// rather than letting the set grow without bound.
const MAX_REMEMBERED: usize = 4096;

impl WarningHandler for LogOnce {
    fn handle_warning(&self, code: u16, _agent: &str, text: &str) {
        if code != 299 || text.is_empty() {
            return;
        }
        let first_time = {
            let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            if seen.len() >= MAX_REMEMBERED {
                seen.clear();
            }
            seen.insert(text.to_string())
        };
        if first_time {
            tracing::warn!(target: "k8s_client::warning", "server warning: {text}");
        }
    }
}

/// One parsed warning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Warning {
    pub(crate) code: u16,
    pub(crate) agent: String,
    pub(crate) text: String,
}

/// Hands every warning in `headers` to `handler`.
pub(crate) fn dispatch(headers: &HeaderMap, handler: &dyn WarningHandler) {
    for value in headers.get_all(http::header::WARNING) {
        // Warning texts are meant to be UTF-8 (the API server sends UTF-8).
        let text = String::from_utf8_lossy(value.as_bytes());
        match parse_warnings(&text) {
            Ok(warnings) => {
                for w in warnings {
                    handler.handle_warning(w.code, &w.agent, &w.text);
                }
            }
            Err(e) => tracing::debug!("ignoring malformed Warning header {text:?}: {e}"),
        }
    }
}

/// Parses one `Warning` header value: comma-separated
/// `warn-code SP warn-agent SP warn-text [SP warn-date]` entries (RFC 7234 §5.5), where
/// warn-text and warn-date are quoted strings with `\`-escapes.
pub(crate) fn parse_warnings(value: &str) -> Result<Vec<Warning>, String> {
    let mut out = Vec::new();
    let mut rest = value.trim_start();
    while !rest.is_empty() {
        // warn-code: three digits
        let code_str = rest.get(..3).ok_or("missing warn-code")?;
        if !code_str.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("invalid warn-code {code_str:?}"));
        }
        let code: u16 = code_str
            .parse()
            .map_err(|_| format!("invalid warn-code {code_str:?}"))?;
        rest = rest[3..]
            .strip_prefix(' ')
            .ok_or("expected a space after warn-code")?;
        // warn-agent: up to the next space
        let end = rest.find(' ').ok_or("expected a space after warn-agent")?;
        let agent = &rest[..end];
        if agent.is_empty() {
            return Err("empty warn-agent".to_string());
        }
        rest = &rest[end + 1..];
        let (text, after) = quoted(rest)?;
        rest = after;
        // optional warn-date
        if let Some(after_space) = rest.strip_prefix(' ') {
            if after_space.starts_with('"') {
                let (_, after_date) = quoted(after_space)?;
                rest = after_date;
            }
        }
        out.push(Warning {
            code,
            agent: agent.to_string(),
            text,
        });
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        rest = rest
            .strip_prefix(',')
            .ok_or_else(|| format!("unexpected {rest:?} after a warning"))?
            .trim_start();
    }
    Ok(out)
}

/// Reads a quoted-string at the start of `s`; returns its unescaped content and the rest.
fn quoted(s: &str) -> Result<(String, &str), String> {
    let body = s.strip_prefix('"').ok_or("expected a quoted warn-text")?;
    let mut text = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((text, &body[i + 1..])),
            '\\' => match chars.next() {
                Some((_, escaped)) => text.push(escaped),
                None => break,
            },
            c => text.push(c),
        }
    }
    Err("unterminated quoted string".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn w(code: u16, agent: &str, text: &str) -> Warning {
        Warning {
            code,
            agent: agent.into(),
            text: text.into(),
        }
    }

    #[test]
    fn parses_single_and_joined_warnings() {
        assert_eq!(
            parse_warnings(r#"299 - "policy/v1beta1 PodSecurityPolicy is deprecated""#).unwrap(),
            vec![w(
                299,
                "-",
                "policy/v1beta1 PodSecurityPolicy is deprecated"
            )]
        );
        assert_eq!(
            parse_warnings(
                r#"299 - "first, with comma", 299 kube-apiserver "say \"hi\"" "Sat, 01 Jan 2022 00:00:00 GMT",199 - "third""#
            )
            .unwrap(),
            vec![
                w(299, "-", "first, with comma"),
                w(299, "kube-apiserver", r#"say "hi""#),
                w(199, "-", "third"),
            ]
        );
        assert_eq!(parse_warnings("").unwrap(), vec![]);
    }

    #[test]
    fn rejects_malformed_warnings() {
        for bad in [
            "299",
            "29x - \"a\"",
            "299 - unquoted",
            "299 - \"unterminated",
            "299 - \"a\" junk",
            "299  \"no agent\"",
            "299 - \"a\",",
        ] {
            let r = parse_warnings(bad);
            // A trailing comma yields the first warning and then nothing more: accept either
            // an error or exactly the well-formed prefix.
            if bad.ends_with(',') {
                assert_eq!(r.unwrap(), vec![w(299, "-", "a")]);
            } else {
                assert!(r.is_err(), "{bad:?} parsed as {r:?}");
            }
        }
    }

    #[derive(Default)]
    struct Record(Mutex<Vec<(u16, String)>>);
    impl WarningHandler for Record {
        fn handle_warning(&self, code: u16, _agent: &str, text: &str) {
            self.0.lock().unwrap().push((code, text.to_string()));
        }
    }

    #[test]
    fn dispatch_reads_every_header() {
        let mut headers = HeaderMap::new();
        headers.append("warning", HeaderValue::from_static(r#"299 - "one""#));
        headers.append(
            "warning",
            HeaderValue::from_static(r#"299 - "two", 299 - "three""#),
        );
        headers.append("warning", HeaderValue::from_static("garbage"));
        let rec = Record::default();
        dispatch(&headers, &rec);
        let got = rec.0.into_inner().unwrap();
        assert_eq!(
            got,
            vec![
                (299, "one".into()),
                (299, "two".into()),
                (299, "three".into())
            ]
        );
    }

    #[test]
    fn log_once_dedupes() {
        let h = LogOnce::default();
        h.handle_warning(299, "-", "a");
        h.handle_warning(299, "-", "a");
        h.handle_warning(299, "-", "b");
        h.handle_warning(199, "-", "c");
        assert_eq!(h.seen.lock().unwrap().len(), 2);
    }
}
