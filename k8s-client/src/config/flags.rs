//! kubectl's connection flags on a program's own command line: `--kubeconfig`, `--context`,
//! `--namespace` and the rest of kubectl's global options, parsed into
//! [`KubeConfigOptions`] (client-go's `clientcmd.BindOverrideFlags` and
//! `genericclioptions.ConfigFlags`, without a flag library).

use std::path::PathBuf;
use std::time::Duration;

use super::error::ConfigError;
use super::load::KubeConfigOptions;
use super::{Impersonation, Secret};

/// Where flag errors point.
const COMMAND_LINE: &str = "command line";

impl KubeConfigOptions {
    /// Takes kubectl's connection flags out of `args` (the program's arguments without
    /// its name) and returns the options they set with the arguments left over, in order.
    ///
    /// Understood, as `--flag value` or `--flag=value`: `--kubeconfig`, `--context`,
    /// `--cluster`, `--user`, `-n`/`--namespace`, `-s`/`--server`, `--token`, `--as`,
    /// `--as-group` (repeatable), `--as-uid`, `--request-timeout` (`30s`, `1m30s`, a bare
    /// number of seconds, `0` for none), `--tls-server-name` and
    /// `--insecure-skip-tls-verify[=true|false]`. Anything else is left for the program,
    /// and so is everything after `--` (the `--` itself stays too, so a program that runs
    /// a command, like `exec`, still sees where it starts).
    ///
    /// ```
    /// use k8s_client::config::KubeConfigOptions;
    /// let args = ["--context=staging", "-n", "team-a", "get", "pods", "--", "-n"];
    /// let (options, rest) = KubeConfigOptions::from_args(args)?;
    /// assert_eq!(options.context.as_deref(), Some("staging"));
    /// assert_eq!(options.namespace.as_deref(), Some("team-a"));
    /// assert_eq!(rest, ["get", "pods", "--", "-n"]);
    /// # Ok::<(), k8s_client::config::ConfigError>(())
    /// ```
    ///
    /// A flag without its value, an empty value where a name is needed, or a timeout that
    /// does not parse is a [`ConfigError::InvalidField`] naming the flag.
    pub fn from_args<I, S>(args: I) -> Result<(KubeConfigOptions, Vec<String>), ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut options = KubeConfigOptions::default();
        let mut rest = Vec::new();
        let mut groups: Vec<String> = Vec::new();
        let mut as_user: Option<String> = None;
        let mut as_uid: Option<String> = None;
        let mut args = args.into_iter().map(Into::into);
        while let Some(arg) = args.next() {
            if arg == "--" {
                rest.push(arg);
                rest.extend(args.by_ref());
                break;
            }
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) if flag.starts_with('-') => (flag.to_string(), Some(value)),
                _ => (arg.clone(), None),
            };
            let known = matches!(
                flag.as_str(),
                "--kubeconfig"
                    | "--context"
                    | "--cluster"
                    | "--user"
                    | "-n"
                    | "--namespace"
                    | "-s"
                    | "--server"
                    | "--token"
                    | "--as"
                    | "--as-group"
                    | "--as-uid"
                    | "--request-timeout"
                    | "--tls-server-name"
                    | "--insecure-skip-tls-verify"
            );
            if !known {
                rest.push(arg);
                continue;
            }
            if flag == "--insecure-skip-tls-verify" {
                let value = match inline {
                    None => true,
                    Some("true") => true,
                    Some("false") => false,
                    Some(other) => {
                        return Err(flag_error(
                            &flag,
                            format!("expected true or false, got {other:?}"),
                        ))
                    }
                };
                options.insecure_skip_tls_verify = Some(value);
                continue;
            }
            let value = match inline {
                Some(value) => value.to_string(),
                None => args
                    .next()
                    .ok_or_else(|| flag_error(&flag, "needs a value"))?,
            };
            if value.is_empty() && flag != "--token" {
                return Err(flag_error(&flag, "needs a non-empty value"));
            }
            match flag.as_str() {
                "--kubeconfig" => options.path = Some(PathBuf::from(value)),
                "--context" => options.context = Some(value),
                "--cluster" => options.cluster = Some(value),
                "--user" => options.user = Some(value),
                "-n" | "--namespace" => options.namespace = Some(value),
                "-s" | "--server" => options.server = Some(value),
                "--token" => options.token = Some(Secret::new(value)),
                "--as" => as_user = Some(value),
                "--as-group" => groups.push(value),
                "--as-uid" => as_uid = Some(value),
                "--request-timeout" => {
                    options.timeout = Some(parse_timeout(&value).map_err(|m| flag_error(&flag, m))?)
                }
                "--tls-server-name" => options.tls_server_name = Some(value),
                _ => unreachable!("every known flag is handled above"),
            }
        }
        match as_user {
            Some(user) => {
                let mut impersonation = Impersonation::new(user);
                impersonation.uid = as_uid;
                impersonation.groups = groups;
                options.impersonate = Some(impersonation);
            }
            None if !groups.is_empty() || as_uid.is_some() => {
                return Err(flag_error(
                    "--as-group",
                    "--as-group and --as-uid need --as (the user to impersonate)",
                ))
            }
            None => {}
        }
        Ok((options, rest))
    }
}

fn flag_error(flag: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::invalid_field(COMMAND_LINE, flag, message)
}

/// kubectl's `--request-timeout`: a bare number of seconds or a Go duration made of
/// `<number><unit>` parts (`h`, `m`, `s`, `ms`, `us`, `ns`); `0` means no timeout
/// (`Duration::ZERO`, as [`KubeConfigOptions::timeout`] reads it).
fn parse_timeout(value: &str) -> Result<Duration, String> {
    if let Ok(seconds) = value.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    let bad = || format!("{value:?} is not a duration (examples: 30s, 1m30s, 0)");
    let mut total = Duration::ZERO;
    let mut rest = value;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        if digits == 0 {
            return Err(bad());
        }
        let number: f64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total += Duration::try_from_secs_f64(number * scale).map_err(|_| bad())?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<(KubeConfigOptions, Vec<String>), ConfigError> {
        KubeConfigOptions::from_args(args.iter().copied())
    }

    #[test]
    fn both_forms_and_leftovers() {
        let (o, rest) = parse(&[
            "--kubeconfig",
            "/tmp/kc",
            "--context=dev",
            "pods",
            "-n=team",
            "--watch",
            "--server",
            "https://x:6443",
        ])
        .unwrap();
        assert_eq!(o.path, Some(PathBuf::from("/tmp/kc")));
        assert_eq!(o.context.as_deref(), Some("dev"));
        assert_eq!(o.namespace.as_deref(), Some("team"));
        assert_eq!(o.server.as_deref(), Some("https://x:6443"));
        assert_eq!(rest, ["pods", "--watch"]);
    }

    #[test]
    fn double_dash_ends_flags() {
        let (o, rest) = parse(&["-n", "a", "--", "--context", "b"]).unwrap();
        assert_eq!(o.namespace.as_deref(), Some("a"));
        assert_eq!(o.context, None);
        assert_eq!(rest, ["--", "--context", "b"]);
    }

    #[test]
    fn impersonation_and_tls() {
        let (o, _) = parse(&[
            "--as",
            "jane",
            "--as-group",
            "a",
            "--as-group=b",
            "--insecure-skip-tls-verify",
            "--tls-server-name",
            "api",
        ])
        .unwrap();
        let i = o.impersonate.unwrap();
        assert_eq!(
            (i.user.as_str(), i.groups),
            ("jane", vec!["a".into(), "b".into()])
        );
        assert_eq!(o.insecure_skip_tls_verify, Some(true));
        assert_eq!(o.tls_server_name.as_deref(), Some("api"));
        let (o, _) = parse(&["--insecure-skip-tls-verify=false"]).unwrap();
        assert_eq!(o.insecure_skip_tls_verify, Some(false));
        let err = parse(&["--as-group", "a"]).unwrap_err().to_string();
        assert!(err.contains("--as"), "{err}");
    }

    #[test]
    fn timeouts() {
        assert_eq!(parse_timeout("0"), Ok(Duration::ZERO));
        assert_eq!(parse_timeout("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_timeout("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_timeout("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_timeout("1.5h"), Ok(Duration::from_secs(5400)));
        for bad in ["", "s", "10x", "1m-", "abc"] {
            assert!(parse_timeout(bad).is_err(), "{bad}");
        }
        let err = parse(&["--request-timeout", "soon"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("command line") && err.contains("--request-timeout"),
            "{err}"
        );
    }

    #[test]
    fn missing_values_are_named() {
        for args in [
            &["--context"][..],
            &["-n"],
            &["--kubeconfig="],
            &["--server", ""],
        ] {
            let err = parse(args).unwrap_err().to_string();
            assert!(err.contains(args[0].split('=').next().unwrap()), "{err}");
        }
        let err = parse(&["--insecure-skip-tls-verify=maybe"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("true or false"), "{err}");
    }

    #[test]
    fn token_is_a_secret() {
        let (o, _) = parse(&["--token", "s3cr3t"]).unwrap();
        assert!(!format!("{o:?}").contains("s3cr3t"));
    }
}
