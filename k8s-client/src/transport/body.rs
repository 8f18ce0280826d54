//! [`Body`]: the body of every request and response that goes through a
//! [`Client`](crate::Client)'s service stack, whole bytes or a stream of chunks.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use http_body::{Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, StreamBody};

/// Any error, boxed: what services and bodies under a [`Client`](crate::Client) may fail with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The body of a request or response in a client's service stack: whole bytes (every request
/// the library sends, and answers that were read whole) or a stream of chunks (watches, logs,
/// large lists). It implements [`http_body::Body`], so any HTTP library can read or produce it.
///
/// ```
/// use http_body_util::BodyExt;
/// use k8s_client::client::Body;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let body = Body::from(r#"{"kind":"Status"}"#);
/// assert_eq!(body.as_bytes().map(|b| b.len()), Some(17));
/// let bytes = body.collect().await.unwrap().to_bytes();
/// assert!(bytes.starts_with(b"{"));
/// # }
/// ```
pub struct Body {
    kind: Kind,
}

enum Kind {
    /// Whole bytes; `None` once they were read.
    Full(Option<Bytes>),
    /// A stream of chunks.
    Stream(UnsyncBoxBody<Bytes, BoxError>),
}

impl Body {
    /// An empty body.
    pub fn empty() -> Self {
        Body {
            kind: Kind::Full(None),
        }
    }

    /// A body of other `http_body` type (a hyper body, a channel, a `StreamBody`).
    pub fn wrap<B>(body: B) -> Self
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        Body {
            kind: Kind::Stream(body.map_err(Into::into).boxed_unsync()),
        }
    }

    /// A body whose chunks come from `stream` (for example a watch served by an in-memory
    /// server).
    pub fn from_stream<S, E>(stream: S) -> Self
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<BoxError> + 'static,
    {
        use futures::TryStreamExt;
        Body::wrap(StreamBody::new(
            stream.map_ok(Frame::data).map_err(Into::into),
        ))
    }

    /// The bytes of a whole body that was not read yet; `None` for a streaming body.
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match &self.kind {
            Kind::Full(Some(bytes)) => Some(bytes),
            Kind::Full(None) => Some(empty_bytes()),
            Kind::Stream(_) => None,
        }
    }

    /// Whether the body is whole (not a stream), so a request with it can be sent again.
    pub fn is_whole(&self) -> bool {
        matches!(self.kind, Kind::Full(_))
    }

    /// Reads the whole body.
    pub async fn into_bytes(self) -> Result<Bytes, BoxError> {
        match self.kind {
            Kind::Full(bytes) => Ok(bytes.unwrap_or_default()),
            Kind::Stream(stream) => Ok(stream.collect().await?.to_bytes()),
        }
    }
}

fn empty_bytes() -> &'static Bytes {
    static EMPTY: Bytes = Bytes::from_static(b"");
    &EMPTY
}

impl Default for Body {
    fn default() -> Self {
        Body::empty()
    }
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Bodies may hold secrets: only the size is shown.
        match &self.kind {
            Kind::Full(bytes) => f
                .debug_struct("Body")
                .field("len", &bytes.as_ref().map_or(0, Bytes::len))
                .finish(),
            Kind::Stream(_) => f.debug_struct("Body").field("stream", &true).finish(),
        }
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Self {
        Body {
            kind: Kind::Full((!bytes.is_empty()).then_some(bytes)),
        }
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Self {
        Body::from(Bytes::from(bytes))
    }
}

impl From<String> for Body {
    fn from(text: String) -> Self {
        Body::from(Bytes::from(text))
    }
}

impl From<&'static str> for Body {
    fn from(text: &'static str) -> Self {
        Body::from(Bytes::from_static(text.as_bytes()))
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut self.kind {
            Kind::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Kind::Stream(stream) => Pin::new(stream).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Full(bytes) => bytes.is_none(),
            Kind::Stream(stream) => stream.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Full(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, Bytes::len) as u64),
            Kind::Stream(stream) => stream.size_hint(),
        }
    }
}

/// hyper's body as a [`Body`], with errors made [`TransportError::Body`](super::TransportError::Body).
pub(crate) fn plain(body: hyper::body::Incoming) -> Body {
    Body::wrap(body.map_err(super::TransportError::body))
}

/// An error and its causes, joined with `: `.
pub(crate) fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = s.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_joins_causes() {
        let inner = std::io::Error::other("reset by peer");
        let outer = std::io::Error::other(inner);
        assert_eq!(describe(&outer), "reset by peer");
    }

    #[tokio::test]
    async fn whole_and_streaming_bodies_read_the_same() {
        let whole = Body::from("abc");
        assert!(whole.is_whole());
        assert_eq!(whole.into_bytes().await.unwrap(), "abc");
        let chunks = futures::stream::iter([
            Ok::<_, std::io::Error>(Bytes::from_static(b"a")),
            Ok(Bytes::from_static(b"bc")),
        ]);
        let streamed = Body::from_stream(chunks);
        assert!(!streamed.is_whole() && streamed.as_bytes().is_none());
        assert_eq!(streamed.into_bytes().await.unwrap(), "abc");
        assert_eq!(Body::empty().as_bytes().map(Bytes::len), Some(0));
        assert_eq!(format!("{:?}", Body::from("secret")), "Body { len: 6 }");
    }
}
