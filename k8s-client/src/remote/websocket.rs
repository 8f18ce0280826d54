//! Opening a WebSocket to a streaming subresource: the upgrade request (with the client's
//! credentials, over HTTP/1.1), the checks of the server's answer, and the WebSocket on
//! top of the upgraded connection (our own TLS stream: tungstenite does no I/O setup).

use http::header::{
    CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_PROTOCOL,
    SEC_WEBSOCKET_VERSION, UPGRADE,
};
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::WebSocketStream;

use super::RemoteError;
use crate::error::{Error, Result};
use crate::transport::Upgraded;
use crate::Client;

/// The WebSocket type of every remote session.
pub(crate) type Ws = WebSocketStream<Upgraded>;

/// An open WebSocket and what was negotiated.
pub(crate) struct Connected {
    pub(crate) ws: Ws,
    /// The subprotocol the server chose (one of those offered).
    pub(crate) protocol: String,
    /// The HTTP version the upgrade used (always HTTP/1.1).
    pub(crate) http_version: http::Version,
}

/// The headers of a WebSocket upgrade offering `protocols` (most preferred first).
pub(crate) fn upgrade_request(
    path_and_query: &str,
    protocols: &[&str],
    key: &str,
) -> Result<http::Request<Vec<u8>>> {
    http::Request::get(path_and_query)
        .header(CONNECTION, "Upgrade")
        .header(UPGRADE, "websocket")
        .header(SEC_WEBSOCKET_VERSION, "13")
        .header(SEC_WEBSOCKET_KEY, key)
        .header(SEC_WEBSOCKET_PROTOCOL, protocols.join(", "))
        .body(Vec::new())
        .map_err(|e| {
            Error::Request(crate::error::RequestError::with_source(
                format!("WebSocket request for {path_and_query}: {e}"),
                e,
            ))
        })
}

/// Checks the `101` answer: the accept key matches, the upgrade is to WebSocket, and the
/// chosen subprotocol is one of `protocols`. Returns the chosen subprotocol.
pub(crate) fn check_answer(
    headers: &http::HeaderMap,
    key: &str,
    protocols: &[&str],
) -> Result<String, RemoteError> {
    let upgrade = headers
        .get(UPGRADE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !upgrade.eq_ignore_ascii_case("websocket") {
        return Err(RemoteError::Protocol(format!(
            "the server switched to {upgrade:?}, not to websocket"
        )));
    }
    let expected = derive_accept_key(key.as_bytes());
    let accept = headers
        .get(SEC_WEBSOCKET_ACCEPT)
        .and_then(|v| v.to_str().ok());
    if accept != Some(expected.as_str()) {
        return Err(RemoteError::Protocol(
            "the server's Sec-WebSocket-Accept does not match the key sent".to_string(),
        ));
    }
    let chosen = headers
        .get(SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or("");
    if !protocols.contains(&chosen) {
        return Err(RemoteError::Protocol(format!(
            "the server chose the subprotocol {chosen:?}; this client speaks {}",
            protocols.join(", ")
        )));
    }
    Ok(chosen.to_string())
}

/// Opens a WebSocket to `path_and_query` (relative to the server URL) offering `protocols`.
///
/// A refusal (4xx/5xx) is [`Error::Api`] with the server's `Status`.
pub(crate) async fn connect(
    client: &Client,
    path_and_query: &str,
    protocols: &[&str],
) -> Result<Connected> {
    let key = generate_key();
    let request = upgrade_request(path_and_query, protocols, &key)?;
    let response = client.upgrade(request).await?;
    let protocol = check_answer(response.headers(), &key, protocols)?;
    let http_version = response.version();
    let io = response.into_body();
    let ws = WebSocketStream::from_raw_socket(io, Role::Client, None).await;
    tracing::debug!(path = path_and_query, %protocol, "WebSocket open");
    Ok(Connected {
        ws,
        protocol,
        http_version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn request_offers_protocols_in_order() {
        let r = upgrade_request(
            "/x?y=1",
            &["v5.channel.k8s.io", "v4.channel.k8s.io"],
            "a2V5",
        )
        .unwrap();
        assert_eq!(r.method(), http::Method::GET);
        assert_eq!(r.uri(), "/x?y=1");
        assert_eq!(
            r.headers()[SEC_WEBSOCKET_PROTOCOL],
            "v5.channel.k8s.io, v4.channel.k8s.io"
        );
        assert_eq!(r.headers()[UPGRADE], "websocket");
        assert_eq!(r.headers()[SEC_WEBSOCKET_VERSION], "13");
    }

    #[test]
    fn answer_checks() {
        // The RFC 6455 example key and answer.
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let mut h = http::HeaderMap::new();
        h.insert(UPGRADE, HeaderValue::from_static("WebSocket"));
        h.insert(
            SEC_WEBSOCKET_ACCEPT,
            HeaderValue::from_static("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        );
        h.insert(
            SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("v4.channel.k8s.io"),
        );
        let offered = ["v5.channel.k8s.io", "v4.channel.k8s.io"];
        assert_eq!(
            check_answer(&h, key, &offered).unwrap(),
            "v4.channel.k8s.io"
        );

        assert!(check_answer(&h, key, &["v5.channel.k8s.io"]).is_err());
        let mut bad = h.clone();
        bad.insert(SEC_WEBSOCKET_ACCEPT, HeaderValue::from_static("nope"));
        assert!(matches!(
            check_answer(&bad, key, &offered),
            Err(RemoteError::Protocol(_))
        ));
        let mut none = h.clone();
        none.remove(SEC_WEBSOCKET_PROTOCOL);
        assert!(check_answer(&none, key, &offered).is_err());
        let mut spdy = h;
        spdy.insert(UPGRADE, HeaderValue::from_static("SPDY/3.1"));
        assert!(check_answer(&spdy, key, &offered).is_err());
    }
}
