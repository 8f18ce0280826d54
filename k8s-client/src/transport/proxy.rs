//! Proxies: `http://` proxies reached with `CONNECT` tunnels, `socks5://` (and `socks5h://`)
//! proxies, the `NO_PROXY` list, and [`proxy_from_env`] for programs that want the usual
//! environment variables honoured.

use std::net::IpAddr;

use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::TransportError;
use crate::config::Secret;

/// Reads the proxy settings that `curl` and Go programs use from the environment, through
/// `lookup` (pass `|name| std::env::var(name).ok()` for the process environment):
///
/// * the proxy: `HTTPS_PROXY`, else `https_proxy` (a value without a scheme means `http://`);
/// * the bypass list: `NO_PROXY`, else `no_proxy` (comma-separated), to which `localhost`,
///   `127.0.0.0/8` and `::1` are always added, as Go's `ProxyFromEnvironment` never proxies
///   loopback addresses.
///
/// Nothing reads these variables unless the program calls this function and puts the result
/// into [`Config::proxy_url`](crate::Config::proxy_url) and
/// [`Config::no_proxy`](crate::Config::no_proxy). A value that is not a URL is ignored with a
/// `tracing` warning.
///
/// ```
/// use std::collections::HashMap;
/// let env = HashMap::from([
///     ("HTTPS_PROXY", "proxy.corp:3128"),
///     ("no_proxy", "10.0.0.0/8,.svc"),
/// ]);
/// let (proxy, no_proxy) =
///     k8s_client::transport::proxy_from_env(|name| env.get(name).map(|v| v.to_string()));
/// assert_eq!(proxy.as_ref().unwrap().to_string(), "http://proxy.corp:3128/");
/// assert!(no_proxy.contains(&".svc".to_string()));
///
/// let mut config = k8s_client::Config::new("https://10.1.2.3:6443".parse().unwrap());
/// config.proxy_url = proxy;
/// config.no_proxy = no_proxy;
/// ```
pub fn proxy_from_env(lookup: impl Fn(&str) -> Option<String>) -> (Option<http::Uri>, Vec<String>) {
    let first = |names: [&str; 2]| {
        names
            .iter()
            .filter_map(|n| lookup(n))
            .map(|v| v.trim().to_string())
            .find(|v| !v.is_empty())
    };
    let proxy = first(["HTTPS_PROXY", "https_proxy"]).and_then(|raw| {
        let with_scheme = if raw.contains("://") {
            raw.clone()
        } else {
            format!("http://{raw}")
        };
        match with_scheme.parse::<http::Uri>() {
            Ok(uri) if uri.host().is_some() => Some(uri),
            _ => {
                tracing::warn!("ignoring HTTPS_PROXY: {raw:?} is not a proxy URL");
                None
            }
        }
    });
    let mut no_proxy: Vec<String> = first(["NO_PROXY", "no_proxy"])
        .map(|v| {
            v.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    for always in ["localhost", "127.0.0.0/8", "::1"] {
        if !no_proxy.iter().any(|e| e == always) {
            no_proxy.push(always.to_string());
        }
    }
    (proxy, no_proxy)
}

/// Why a proxy did not open a tunnel: what went wrong, and the I/O error underneath when
/// there is one.
#[derive(Debug)]
pub(crate) struct HandshakeError {
    pub(crate) message: String,
    pub(crate) source: Option<std::io::Error>,
}

impl HandshakeError {
    /// An I/O failure while doing `what`.
    fn io(what: &str, source: std::io::Error) -> Self {
        HandshakeError {
            message: format!("{what}: {source}"),
            source: Some(source),
        }
    }
}

impl From<String> for HandshakeError {
    fn from(message: String) -> Self {
        HandshakeError {
            message,
            source: None,
        }
    }
}

impl From<&str> for HandshakeError {
    fn from(message: &str) -> Self {
        HandshakeError::from(message.to_string())
    }
}

impl std::fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// How the proxy is spoken to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ProxyKind {
    /// An HTTP proxy: `CONNECT host:port` opens a tunnel.
    HttpConnect,
    /// A SOCKS5 proxy (RFC 1928), optionally with user name and password (RFC 1929).
    Socks5,
}

/// A configured proxy and the hosts that bypass it.
#[derive(Clone, Debug)]
pub(crate) struct Proxy {
    kind: ProxyKind,
    host: String,
    port: u16,
    /// User name and password from the proxy URL.
    credentials: Option<(String, Secret<String>)>,
    no_proxy: NoProxy,
    /// The proxy URL without credentials, for messages.
    display: String,
}

impl Proxy {
    /// Parses the proxy URL of a config.
    pub(crate) fn new(url: &http::Uri, no_proxy: &[String]) -> Result<Self, TransportError> {
        let scheme = url.scheme_str().unwrap_or("http").to_ascii_lowercase();
        let (kind, default_port) = match scheme.as_str() {
            "http" => (ProxyKind::HttpConnect, 80),
            "socks5" | "socks5h" => (ProxyKind::Socks5, 1080),
            "https" => {
                return Err(TransportError::Config(
                    "proxy URL scheme https:// (TLS to the proxy) is unsupported: use an \
                     http:// proxy (the tunnel to the API server is TLS either way) or socks5://"
                        .to_string(),
                ))
            }
            other => {
                return Err(TransportError::Config(format!(
                    "proxy URL scheme {other}:// is unsupported (use http:// or socks5://)"
                )))
            }
        };
        let authority = url
            .authority()
            .ok_or_else(|| TransportError::Config("the proxy URL has no host".to_string()))?;
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        if host.is_empty() {
            return Err(TransportError::Config(
                "the proxy URL has no host".to_string(),
            ));
        }
        let port = authority.port_u16().unwrap_or(default_port);
        let credentials = authority.as_str().rsplit_once('@').map(|(userinfo, _)| {
            let (user, pass) = userinfo.split_once(':').unwrap_or((userinfo, ""));
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (decode(user), Secret::new(decode(pass)))
        });
        Ok(Proxy {
            kind,
            host: host.to_string(),
            port,
            credentials,
            no_proxy: NoProxy::parse(no_proxy),
            display: format!(
                "{scheme}://{}",
                authority_without_userinfo(authority.as_str())
            ),
        })
    }

    /// The proxy URL without credentials.
    pub(crate) fn display(&self) -> &str {
        &self.display
    }

    /// True when requests to `host:port` go through this proxy.
    pub(crate) fn applies_to(&self, host: &str, port: u16) -> bool {
        !self.no_proxy.matches(host, port)
    }

    /// The proxy's address, to connect to.
    pub(crate) fn address(&self) -> (&str, u16) {
        (&self.host, self.port)
    }

    /// Asks the proxy, over `stream` (connected to it), for a tunnel to `host:port`.
    pub(crate) async fn handshake(
        &self,
        stream: &mut TcpStream,
        host: &str,
        port: u16,
    ) -> Result<(), HandshakeError> {
        match self.kind {
            ProxyKind::HttpConnect => self.http_connect(stream, host, port).await,
            ProxyKind::Socks5 => self.socks5(stream, host, port).await,
        }
    }

    async fn http_connect(
        &self,
        stream: &mut TcpStream,
        host: &str,
        port: u16,
    ) -> Result<(), HandshakeError> {
        let target = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let mut request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
        if let Some((user, pass)) = &self.credentials {
            let encoded = base64::engine::general_purpose::STANDARD
                .encode(format!("{user}:{}", pass.expose()));
            request.push_str(&format!("Proxy-Authorization: Basic {encoded}\r\n"));
        }
        request.push_str("\r\n");
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| HandshakeError::io("sending CONNECT", e))?;

        // Read the answer head; a proxy sends nothing after it until we speak.
        let mut head = Vec::with_capacity(256);
        let mut chunk = [0u8; 512];
        let end = loop {
            let n = stream
                .read(&mut chunk)
                .await
                .map_err(|e| HandshakeError::io("reading the CONNECT answer", e))?;
            if n == 0 {
                return Err("the proxy closed the connection during CONNECT".into());
            }
            head.extend_from_slice(&chunk[..n]);
            if let Some(pos) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                break pos + 4;
            }
            if head.len() > 16 * 1024 {
                return Err("the proxy's CONNECT answer head is longer than 16 KiB".into());
            }
        };
        if end != head.len() {
            return Err("the proxy sent data after its CONNECT answer".into());
        }
        let status_line = head
            .split(|b| *b == b'\n')
            .next()
            .map(|l| String::from_utf8_lossy(l).trim().to_string())
            .unwrap_or_default();
        let code = status_line.split_whitespace().nth(1).unwrap_or("");
        if !status_line.starts_with("HTTP/1.") || !code.starts_with('2') || code.len() != 3 {
            return Err(format!("the proxy refused CONNECT {target}: {status_line}").into());
        }
        Ok(())
    }

    async fn socks5(
        &self,
        stream: &mut TcpStream,
        host: &str,
        port: u16,
    ) -> Result<(), HandshakeError> {
        let io = |what: &'static str| {
            move |e: std::io::Error| HandshakeError::io(&format!("SOCKS5 {what}"), e)
        };
        // Greeting: offer "no authentication", and user/password when we have credentials.
        let greeting: &[u8] = if self.credentials.is_some() {
            &[5, 2, 0, 2]
        } else {
            &[5, 1, 0]
        };
        stream.write_all(greeting).await.map_err(io("greeting"))?;
        let mut reply = [0u8; 2];
        stream
            .read_exact(&mut reply)
            .await
            .map_err(io("greeting"))?;
        if reply[0] != 5 {
            return Err("the proxy does not speak SOCKS5".into());
        }
        match (reply[1], &self.credentials) {
            (0, _) => {}
            (2, Some((user, pass))) => {
                let (user, pass) = (user.as_bytes(), pass.expose().as_bytes());
                let (ulen, plen) = match (u8::try_from(user.len()), u8::try_from(pass.len())) {
                    (Ok(u), Ok(p)) => (u, p),
                    _ => return Err("SOCKS5 user name or password longer than 255 bytes".into()),
                };
                let mut msg = vec![1, ulen];
                msg.extend_from_slice(user);
                msg.push(plen);
                msg.extend_from_slice(pass);
                stream.write_all(&msg).await.map_err(io("authentication"))?;
                let mut answer = [0u8; 2];
                stream
                    .read_exact(&mut answer)
                    .await
                    .map_err(io("authentication"))?;
                if answer[1] != 0 {
                    return Err("the SOCKS5 proxy rejected the user name and password".into());
                }
            }
            (0xff, _) | (_, _) => {
                return Err("the SOCKS5 proxy accepts none of our authentication methods".into())
            }
        }
        // CONNECT request.
        let mut msg = vec![5, 1, 0];
        match host.parse::<IpAddr>() {
            Ok(IpAddr::V4(ip)) => {
                msg.push(1);
                msg.extend_from_slice(&ip.octets());
            }
            Ok(IpAddr::V6(ip)) => {
                msg.push(4);
                msg.extend_from_slice(&ip.octets());
            }
            Err(_) => {
                let len = u8::try_from(host.len())
                    .map_err(|_| HandshakeError::from("SOCKS5: host name longer than 255 bytes"))?;
                msg.push(3);
                msg.push(len);
                msg.extend_from_slice(host.as_bytes());
            }
        }
        msg.extend_from_slice(&port.to_be_bytes());
        stream
            .write_all(&msg)
            .await
            .map_err(io("connect request"))?;
        let mut head = [0u8; 4];
        stream
            .read_exact(&mut head)
            .await
            .map_err(io("connect answer"))?;
        if head[1] != 0 {
            let why = match head[1] {
                1 => "general failure",
                2 => "connection not allowed by ruleset",
                3 => "network unreachable",
                4 => "host unreachable",
                5 => "connection refused",
                6 => "TTL expired",
                7 => "command not supported",
                8 => "address type not supported",
                _ => "unknown error",
            };
            return Err(
                format!("the SOCKS5 proxy could not connect to {host}:{port}: {why}").into(),
            );
        }
        // Skip the bound address.
        let skip = match head[3] {
            1 => 4,
            4 => 16,
            3 => {
                let mut len = [0u8; 1];
                stream
                    .read_exact(&mut len)
                    .await
                    .map_err(io("connect answer"))?;
                usize::from(len[0])
            }
            other => return Err(format!("SOCKS5: unknown address type {other} in answer").into()),
        };
        let mut rest = vec![0u8; skip + 2];
        stream
            .read_exact(&mut rest)
            .await
            .map_err(io("connect answer"))?;
        Ok(())
    }
}

fn authority_without_userinfo(authority: &str) -> &str {
    authority.rsplit_once('@').map_or(authority, |(_, hp)| hp)
}

/// The `NO_PROXY` list, parsed.
#[derive(Clone, Debug, Default)]
struct NoProxy {
    all: bool,
    entries: Vec<NoProxyEntry>,
}

#[derive(Clone, Debug)]
enum NoProxyEntry {
    /// An address block (`10.0.0.0/8`).
    Cidr(IpAddr, u8),
    /// One address.
    Ip(IpAddr),
    /// A domain (`example.com` or `.example.com`): the name itself and every name under it.
    Domain { name: String, port: Option<u16> },
}

impl NoProxy {
    /// Parses entries in the `NO_PROXY` syntax: `*`, IPs, CIDRs, names (`example.com`,
    /// `.example.com`, `*.example.com`), each optionally with `:port`.
    fn parse(entries: &[String]) -> Self {
        let mut out = NoProxy::default();
        for raw in entries.iter().flat_map(|e| e.split(',')) {
            let entry = raw.trim().to_ascii_lowercase();
            if entry.is_empty() {
                continue;
            }
            if entry == "*" {
                out.all = true;
                continue;
            }
            if let Some((ip, bits)) = entry.split_once('/') {
                match (ip.parse::<IpAddr>(), bits.parse::<u8>()) {
                    (Ok(ip), Ok(bits)) => out.entries.push(NoProxyEntry::Cidr(ip, bits)),
                    _ => tracing::warn!("ignoring NO_PROXY entry {entry:?}: not a CIDR block"),
                }
                continue;
            }
            let unbracketed = entry.trim_start_matches('[').trim_end_matches(']');
            if let Ok(ip) = unbracketed.parse::<IpAddr>() {
                out.entries.push(NoProxyEntry::Ip(ip));
                continue;
            }
            // host:port or [v6]:port
            let (host, port) = match entry.rsplit_once(':') {
                Some((h, p)) if !h.contains(':') || h.ends_with(']') => match p.parse::<u16>() {
                    Ok(p) => (h.trim_start_matches('[').trim_end_matches(']'), Some(p)),
                    Err(_) => (entry.as_str(), None),
                },
                _ => (entry.as_str(), None),
            };
            if let Ok(ip) = host.parse::<IpAddr>() {
                // An address with a port: treat as the address (ports rarely matter here).
                let _ = port;
                out.entries.push(NoProxyEntry::Ip(ip));
                continue;
            }
            let name = host.trim_start_matches('*').trim_start_matches('.');
            if name.is_empty() {
                continue;
            }
            out.entries.push(NoProxyEntry::Domain {
                name: name.to_string(),
                port,
            });
        }
        out
    }

    fn matches(&self, host: &str, port: u16) -> bool {
        if self.all {
            return true;
        }
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .trim_end_matches('.')
            .to_ascii_lowercase();
        let ip = host.parse::<IpAddr>().ok();
        self.entries.iter().any(|entry| match (entry, ip) {
            (NoProxyEntry::Ip(e), Some(ip)) => *e == ip,
            (NoProxyEntry::Cidr(net, bits), Some(ip)) => in_cidr(ip, *net, *bits),
            (NoProxyEntry::Domain { name, port: p }, None) => {
                p.is_none_or(|p| p == port)
                    && (host == *name
                        || (host.len() > name.len()
                            && host.ends_with(name.as_str())
                            && host.as_bytes()[host.len() - name.len() - 1] == b'.'))
            }
            _ => false,
        })
    }
}

fn in_cidr(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let bits = u32::from(bits.min(32));
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            (u32::from(ip) & mask) == (u32::from(net) & mask)
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let bits = u32::from(bits.min(128));
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            (u128::from(ip) & mask) == (u128::from(net) & mask)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn list(entries: &[&str]) -> NoProxy {
        NoProxy::parse(&entries.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn no_proxy_matching() {
        let np = list(&[
            "example.com",
            ".svc",
            "*.corp.local",
            "10.0.0.0/8",
            "192.168.1.7",
            "fd00::/8",
            "only-port.io:8443",
        ]);
        assert!(np.matches("example.com", 443));
        assert!(np.matches("api.example.com", 443));
        assert!(!np.matches("badexample.com", 443));
        assert!(np.matches("kubernetes.default.svc", 443));
        assert!(np.matches("a.corp.local", 443));
        assert!(np.matches("10.200.3.4", 6443));
        assert!(!np.matches("11.0.0.1", 6443));
        assert!(np.matches("192.168.1.7", 1));
        assert!(np.matches("[fd00::1]", 1));
        assert!(!np.matches("fe80::1", 1));
        assert!(np.matches("only-port.io", 8443));
        assert!(!np.matches("only-port.io", 443));
        assert!(list(&["*"]).matches("anything", 1));
        assert!(!list(&[]).matches("anything", 1));
        assert!(list(&["a.com, b.com"]).matches("b.com", 1));
    }

    #[test]
    fn proxy_url_parsing() {
        let p = Proxy::new(&"http://user:p%40ss@proxy:3128".parse().unwrap(), &[]).unwrap();
        assert_eq!(p.address(), ("proxy", 3128));
        assert_eq!(p.display(), "http://proxy:3128");
        let (u, pw) = p.credentials.as_ref().unwrap();
        assert_eq!((u.as_str(), pw.expose().as_str()), ("user", "p@ss"));
        assert!(!format!("{p:?}").contains("p@ss"));
        let p = Proxy::new(&"socks5://[::1]".parse().unwrap(), &[]).unwrap();
        assert_eq!(p.address(), ("::1", 1080));
        assert!(matches!(
            Proxy::new(&"https://proxy:3128".parse().unwrap(), &[]),
            Err(TransportError::Config(m)) if m.contains("unsupported")
        ));
        assert!(matches!(
            Proxy::new(&"ftp://proxy".parse().unwrap(), &[]),
            Err(TransportError::Config(_))
        ));
    }

    #[test]
    fn env_lookup() {
        let env = HashMap::from([
            ("https_proxy", "http://p:8080"),
            ("NO_PROXY", " a.com , ,10.0.0.0/8"),
            ("no_proxy", "ignored.com"),
        ]);
        let (proxy, no) = proxy_from_env(|n| env.get(n).map(|v| v.to_string()));
        assert_eq!(proxy.unwrap().to_string(), "http://p:8080/");
        assert_eq!(
            no,
            vec!["a.com", "10.0.0.0/8", "localhost", "127.0.0.0/8", "::1"]
        );
        let (proxy, no) = proxy_from_env(|_| None);
        assert!(proxy.is_none());
        assert_eq!(no.len(), 3);
        let env = HashMap::from([("HTTPS_PROXY", "::not a url::")]);
        assert!(proxy_from_env(|n| env.get(n).map(|v| v.to_string()))
            .0
            .is_none());
    }

    #[tokio::test]
    async fn connect_handshake_against_fake_proxy() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 1024];
            let n = s.read(&mut buf).await.unwrap();
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            s.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                .await
                .unwrap();
            req
        });
        let proxy = Proxy::new(&format!("http://u:pw@{addr}").parse().unwrap(), &[]).unwrap();
        let mut stream = TcpStream::connect(addr).await.unwrap();
        proxy
            .handshake(&mut stream, "api.example", 6443)
            .await
            .unwrap();
        let req = server.await.unwrap();
        assert!(
            req.starts_with("CONNECT api.example:6443 HTTP/1.1\r\n"),
            "{req}"
        );
        assert!(
            req.contains("Proxy-Authorization: Basic dTpwdw==\r\n"),
            "{req}"
        );
    }

    #[tokio::test]
    async fn connect_refused_by_proxy() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 1024];
            let _ = s.read(&mut buf).await.unwrap();
            s.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                .await
                .unwrap();
        });
        let proxy = Proxy::new(&format!("http://{addr}").parse().unwrap(), &[]).unwrap();
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let err = proxy.handshake(&mut stream, "h", 1).await.unwrap_err();
        assert!(err.message.contains("403 Forbidden"), "{err}");
        assert!(err.source.is_none(), "{err:?}");
    }

    #[tokio::test]
    async fn socks5_handshake_against_fake_proxy() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut greet = [0u8; 3];
            s.read_exact(&mut greet).await.unwrap();
            assert_eq!(greet, [5, 1, 0]);
            s.write_all(&[5, 0]).await.unwrap();
            let mut head = [0u8; 5];
            s.read_exact(&mut head).await.unwrap();
            assert_eq!(&head[..4], &[5, 1, 0, 3]);
            let mut name = vec![0u8; usize::from(head[4]) + 2];
            s.read_exact(&mut name).await.unwrap();
            s.write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0x19, 0x2b])
                .await
                .unwrap();
            name
        });
        let proxy = Proxy::new(&format!("socks5://{addr}").parse().unwrap(), &[]).unwrap();
        let mut stream = TcpStream::connect(addr).await.unwrap();
        proxy
            .handshake(&mut stream, "k8s.local", 6443)
            .await
            .unwrap();
        let name = server.await.unwrap();
        assert_eq!(&name[..9], b"k8s.local");
        assert_eq!(&name[9..], &6443u16.to_be_bytes());
    }
}
