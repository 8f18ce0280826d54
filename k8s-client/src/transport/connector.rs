//! Opens connections for the pool: TCP (directly or through a proxy tunnel), then TLS with
//! ALPN. Tells hyper when the server chose HTTP/2.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::proxy::Proxy;
use super::{BoxError, TransportError};

/// Why a connection could not be opened; carried through hyper's error and turned back into
/// a [`TransportError`] by the transport.
#[derive(Debug)]
pub(crate) enum ConnectError {
    /// TCP (or the proxy) failed: nothing was sent to the server.
    Connect {
        url: String,
        message: String,
        source: Option<Cause>,
    },
    /// The TLS handshake failed.
    Tls {
        url: String,
        message: String,
        source: Option<Cause>,
    },
}

/// The error underneath a [`ConnectError`]. hyper keeps the connector's error behind a
/// shared reference, so the transport copies it out: a rustls error is cloned, an I/O error
/// is rebuilt with its kind and text (or OS error code).
#[derive(Debug)]
pub(crate) enum Cause {
    Io(io::Error),
    Tls(rustls::Error),
}

impl Cause {
    /// The TLS handshake's error: the rustls error inside the I/O error when there is one
    /// (a certificate the CA did not sign, a name it is not valid for, ...).
    fn handshake(e: io::Error) -> Self {
        let tls = e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            .cloned();
        match tls {
            Some(tls) => Cause::Tls(tls),
            None => Cause::Io(e),
        }
    }

    fn as_error(&self) -> &(dyn std::error::Error + 'static) {
        match self {
            Cause::Io(e) => e,
            Cause::Tls(e) => e,
        }
    }

    fn copy(&self) -> BoxError {
        match self {
            Cause::Io(e) => Box::new(match e.raw_os_error() {
                Some(code) => io::Error::from_raw_os_error(code),
                None => io::Error::new(e.kind(), e.to_string()),
            }),
            Cause::Tls(e) => Box::new(e.clone()),
        }
    }

    fn into_box(self) -> BoxError {
        match self {
            Cause::Io(e) => Box::new(e),
            Cause::Tls(e) => Box::new(e),
        }
    }
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectError::Connect { url, message, .. } => {
                write!(f, "connecting to {url}: {message}")
            }
            ConnectError::Tls { url, message, .. } => write!(f, "TLS with {url}: {message}"),
        }
    }
}

impl std::error::Error for ConnectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConnectError::Connect { source, .. } | ConnectError::Tls { source, .. } => {
                source.as_ref().map(Cause::as_error)
            }
        }
    }
}

impl ConnectError {
    /// The transport's error for this one, found behind a shared reference in hyper's error
    /// (the cause is copied).
    pub(crate) fn to_transport_error(&self) -> TransportError {
        match self {
            ConnectError::Connect {
                url,
                message,
                source,
            } => TransportError::Connect {
                url: url.clone(),
                message: message.clone(),
                source: source.as_ref().map(Cause::copy),
            },
            ConnectError::Tls {
                url,
                message,
                source,
            } => TransportError::Tls {
                message: format!("{url}: {message}"),
                source: source.as_ref().map(Cause::copy),
            },
        }
    }

    /// The transport's error for this one, keeping the cause itself.
    pub(crate) fn into_transport_error(self) -> TransportError {
        match self {
            ConnectError::Connect {
                url,
                message,
                source,
            } => TransportError::Connect {
                url,
                message,
                source: source.map(Cause::into_box),
            },
            ConnectError::Tls {
                url,
                message,
                source,
            } => TransportError::Tls {
                message: format!("{url}: {message}"),
                source: source.map(Cause::into_box),
            },
        }
    }
}

/// The connector the pool uses.
#[derive(Clone)]
pub(crate) struct Connector {
    inner: Arc<ConnectorInner>,
}

struct ConnectorInner {
    /// `None` for a plain-HTTP server.
    tls: Option<TlsConnector>,
    /// The name to send in SNI and to verify the certificate against, when not the URL's host.
    server_name: Option<ServerName<'static>>,
    proxy: Option<Proxy>,
    connect_timeout: Duration,
}

impl Connector {
    pub(crate) fn new(
        tls: Option<Arc<rustls::ClientConfig>>,
        server_name: Option<ServerName<'static>>,
        proxy: Option<Proxy>,
        connect_timeout: Duration,
    ) -> Self {
        Connector {
            inner: Arc::new(ConnectorInner {
                tls: tls.map(TlsConnector::from),
                server_name,
                proxy,
                connect_timeout,
            }),
        }
    }
}

impl tower_service::Service<http::Uri> for Connector {
    type Response = Stream;
    type Error = ConnectError;
    type Future = Pin<Box<dyn Future<Output = Result<Stream, ConnectError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let inner = self.inner.clone();
        Box::pin(async move { inner.connect(uri).await })
    }
}

impl ConnectorInner {
    async fn connect(&self, uri: http::Uri) -> Result<Stream, ConnectError> {
        let url = format!(
            "{}://{}",
            uri.scheme_str().unwrap_or("https"),
            uri.authority().map(|a| a.as_str()).unwrap_or("")
        );
        let connect_err = |message: String| ConnectError::Connect {
            url: url.clone(),
            message,
            source: None,
        };
        let connect_io = |message: String, e: io::Error| ConnectError::Connect {
            url: url.clone(),
            message,
            source: Some(Cause::Io(e)),
        };
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            other => return Err(connect_err(format!("unsupported URL scheme {other:?}"))),
        };
        let host = uri
            .host()
            .ok_or_else(|| connect_err("the URL has no host".to_string()))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });

        let tcp = async {
            match &self.proxy {
                Some(proxy) if proxy.applies_to(&host, port) => {
                    let (phost, pport) = proxy.address();
                    let mut stream = tcp_connect(phost, pport).await.map_err(|e| {
                        let message = format!("connecting to proxy {}: {e}", proxy.display());
                        connect_io(message, e)
                    })?;
                    proxy
                        .handshake(&mut stream, &host, port)
                        .await
                        .map_err(|e| ConnectError::Connect {
                            url: url.clone(),
                            message: format!("proxy {}: {}", proxy.display(), e.message),
                            source: e.source.map(Cause::Io),
                        })?;
                    Ok(stream)
                }
                _ => tcp_connect(&host, port)
                    .await
                    .map_err(|e| connect_io(e.to_string(), e)),
            }
        };
        let tcp = tokio::time::timeout(self.connect_timeout, tcp)
            .await
            .map_err(|_| {
                connect_err(format!("no connection within {:?}", self.connect_timeout))
            })??;

        if !https {
            return Ok(Stream::Plain(TokioIo::new(tcp)));
        }
        let tls_err = |message: String| ConnectError::Tls {
            url: url.clone(),
            message,
            source: None,
        };
        let connector = self
            .tls
            .as_ref()
            .ok_or_else(|| tls_err("TLS is not configured for this transport".to_string()))?;
        let name = match &self.server_name {
            Some(name) => name.clone(),
            None => ServerName::try_from(host.clone())
                .map_err(|e| tls_err(format!("{host:?} is not a valid TLS server name: {e}")))?,
        };
        let tls = tokio::time::timeout(self.connect_timeout, connector.connect(name, tcp))
            .await
            .map_err(|_| {
                tls_err(format!(
                    "no TLS handshake within {:?}",
                    self.connect_timeout
                ))
            })?
            .map_err(|e| {
                let message = format!("handshake failed: {e}");
                match Cause::handshake(e) {
                    // The connection broke before TLS was up (reset, closed): nothing was
                    // sent, so this is a connect error, retried for any verb.
                    Cause::Io(io) => ConnectError::Connect {
                        url: url.clone(),
                        message: format!("TLS {message}"),
                        source: Some(Cause::Io(io)),
                    },
                    tls => ConnectError::Tls {
                        url: url.clone(),
                        message,
                        source: Some(tls),
                    },
                }
            })?;
        Ok(Stream::Tls(Box::new(TokioIo::new(tls))))
    }
}

/// Connects to each address of `host` in turn, with TCP keep-alive and no Nagle delay.
async fn tcp_connect(host: &str, port: u16) -> io::Result<TcpStream> {
    let addrs = tokio::net::lookup_host((host, port)).await?;
    let mut last = None;
    for addr in addrs {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        socket.set_keepalive(true)?;
        match socket.connect(addr).await {
            Ok(stream) => {
                stream.set_nodelay(true)?;
                return Ok(stream);
            }
            Err(e) => last = Some(io::Error::new(e.kind(), format!("{addr}: {e}"))),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("{host} resolves to no address"),
        )
    }))
}

/// A pooled connection: plain TCP or TLS over TCP.
pub(crate) enum Stream {
    Plain(TokioIo<TcpStream>),
    Tls(Box<TokioIo<TlsStream<TcpStream>>>),
}

impl Connection for Stream {
    fn connected(&self) -> Connected {
        match self {
            Stream::Plain(_) => Connected::new(),
            Stream::Tls(tls) => {
                let (_, session) = tls.inner().get_ref();
                if session.alpn_protocol() == Some(b"h2") {
                    Connected::new().negotiated_h2()
                } else {
                    Connected::new()
                }
            }
        }
    }
}

impl Read for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl Write for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    fn connector(proxy: Option<Proxy>) -> Connector {
        Connector::new(None, None, proxy, Duration::from_secs(5))
    }

    /// A local address nothing listens on.
    async fn closed_port() -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    }

    #[tokio::test]
    async fn a_refused_connection_keeps_the_io_error() {
        let addr = closed_port().await;
        let uri: http::Uri = format!("http://{addr}").parse().unwrap();
        let err = match connector(None).inner.connect(uri).await {
            Err(e) => e,
            Ok(_) => panic!("{addr} accepted a connection"),
        };
        let io = err
            .source()
            .and_then(|s| s.downcast_ref::<io::Error>())
            .expect("the I/O error is the source");
        assert_eq!(io.kind(), io::ErrorKind::ConnectionRefused);

        // Copied out of hyper's error (by reference) and moved (upgrades): both keep it.
        for transport in [err.to_transport_error(), err.into_transport_error()] {
            assert!(transport.is_connect(), "{transport:?}");
            let io = transport
                .source()
                .and_then(|s| s.downcast_ref::<io::Error>())
                .expect("the I/O error is the transport error's source");
            assert_eq!(io.kind(), io::ErrorKind::ConnectionRefused);
        }
    }

    #[tokio::test]
    async fn a_proxy_that_hangs_up_keeps_the_io_error() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            // Accepts and closes at once: the SOCKS5 greeting's answer never comes.
            let (s, _) = listener.accept().await.unwrap();
            drop(s);
        });
        let proxy = Proxy::new(&format!("socks5://{addr}").parse().unwrap(), &[]).unwrap();
        let uri: http::Uri = "http://api.example:6443".parse().unwrap();
        let err = match connector(Some(proxy)).inner.connect(uri).await {
            Err(e) => e,
            Ok(_) => panic!("the proxy opened a tunnel"),
        };
        assert!(err.to_string().contains("SOCKS5 greeting"), "{err}");
        let transport = err.into_transport_error();
        assert!(transport.is_connect(), "{transport:?}");
        assert!(
            transport.source().is_some_and(|s| s.is::<io::Error>()),
            "{transport:?}"
        );
    }

    #[test]
    fn a_handshake_error_is_the_rustls_error_inside_the_io_error() {
        let rustls_error =
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let cause = Cause::handshake(io::Error::new(
            io::ErrorKind::InvalidData,
            rustls_error.clone(),
        ));
        assert!(
            matches!(&cause, Cause::Tls(e) if *e == rustls_error),
            "{cause:?}"
        );
        let copied = cause.copy();
        assert_eq!(copied.downcast_ref::<rustls::Error>(), Some(&rustls_error));

        // Anything else stays the I/O error (kind and text kept by the copy).
        let cause = Cause::handshake(io::Error::new(io::ErrorKind::ConnectionReset, "reset"));
        let copied = cause.copy();
        let io = copied.downcast_ref::<io::Error>().unwrap();
        assert_eq!(io.kind(), io::ErrorKind::ConnectionReset);
        assert_eq!(io.to_string(), "reset");
    }
}
