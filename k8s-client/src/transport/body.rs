//! Response bodies: hyper's body as a [`ResponseBody`], un-gzipped on the fly when the server
//! compressed it.

use async_compression::tokio::bufread::GzipDecoder;
use futures::TryStreamExt;
use http_body_util::{BodyDataStream, BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use tokio_util::io::{ReaderStream, StreamReader};

use super::{ResponseBody, TransportError};

/// The body as it came, with errors made [`TransportError::Body`].
pub(crate) fn plain(body: Incoming) -> ResponseBody {
    body.map_err(|e| TransportError::Body(describe(&e))).boxed()
}

/// The body decompressed as it arrives (a watch stream stays a stream).
pub(crate) fn gunzip(body: Incoming) -> ResponseBody {
    let compressed = BodyDataStream::new(body).map_err(std::io::Error::other);
    let mut decoder = GzipDecoder::new(StreamReader::new(compressed));
    decoder.multiple_members(true);
    let frames = ReaderStream::new(decoder)
        .map_ok(Frame::data)
        .map_err(|e| TransportError::Body(format!("gzip-compressed body: {e}")));
    BodyExt::boxed(StreamBody::new(frames))
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
        let e = TransportError::Body("x".into());
        assert_eq!(describe(&e), "reading response body: x");
    }
}
