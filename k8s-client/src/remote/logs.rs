//! Container logs: read once as text, or followed as a stream of bytes or of lines.
//!
//! ```no_run
//! use futures::TryStreamExt;
//! use k8s_client::{Api, remote::LogParams};
//! use k8s_openapi::api::core::v1::Pod;
//!
//! # async fn run(client: k8s_client::Client) -> Result<(), k8s_client::Error> {
//! let pods: Api<Pod> = Api::namespaced(client, "default");
//! let last = pods.logs("my-pod", &LogParams::default().tail_lines(10)).await?;
//! let mut lines = pods.log_stream("my-pod", &LogParams::default()).await?.lines();
//! while let Some(line) = lines.try_next().await? {
//!     println!("{line}");
//! }
//! # Ok(())
//! # }
//! ```

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Pod;

use crate::error::Result;
use crate::rest::{Request, Verb};
use crate::Api;

/// Which logs to read (`PodLogOptions`); the default: the default container's current
/// logs, all of them, without timestamps.
///
/// ```
/// use k8s_client::remote::LogParams;
/// let params = LogParams::default().container("app").tail_lines(100).timestamps(true);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogParams {
    container: Option<String>,
    previous: bool,
    since_seconds: Option<i64>,
    since_time: Option<jiff::Timestamp>,
    tail_lines: Option<i64>,
    timestamps: bool,
    limit_bytes: Option<i64>,
}

impl LogParams {
    /// The container (needed when the pod has more than one and no default annotation).
    pub fn container(mut self, name: impl Into<String>) -> Self {
        self.container = Some(name.into());
        self
    }

    /// The logs of the previous, terminated instance of the container.
    pub fn previous(mut self, previous: bool) -> Self {
        self.previous = previous;
        self
    }

    /// Only lines from the last `seconds` seconds (replaces [`since_time`](Self::since_time)).
    pub fn since_seconds(mut self, seconds: i64) -> Self {
        self.since_seconds = Some(seconds);
        self.since_time = None;
        self
    }

    /// Only lines from `time` on (replaces [`since_seconds`](Self::since_seconds)).
    pub fn since_time(mut self, time: jiff::Timestamp) -> Self {
        self.since_time = Some(time);
        self.since_seconds = None;
        self
    }

    /// Only the last `lines` lines.
    pub fn tail_lines(mut self, lines: i64) -> Self {
        self.tail_lines = Some(lines);
        self
    }

    /// Start each line with its RFC 3339 timestamp.
    pub fn timestamps(mut self, timestamps: bool) -> Self {
        self.timestamps = timestamps;
        self
    }

    /// At most `bytes` bytes (the server cuts the output there, possibly mid-line).
    pub fn limit_bytes(mut self, bytes: i64) -> Self {
        self.limit_bytes = Some(bytes);
        self
    }
}

/// The path and query of a log request for pod `namespace/pod`.
pub(crate) fn log_uri(
    namespace: &str,
    pod: &str,
    params: &LogParams,
    follow: bool,
) -> Result<String> {
    let mut r = Request::new(Verb::Get)
        .namespace(namespace)
        .resource("pods")
        .name(pod)
        .subresource("log");
    for (what, value) in [
        ("sinceSeconds", params.since_seconds),
        ("tailLines", params.tail_lines),
        ("limitBytes", params.limit_bytes),
    ] {
        if let Some(v) = value {
            if v < 0 || (what == "sinceSeconds" && v == 0) {
                return Err(crate::Error::Request(crate::error::RequestError::new(
                    format!(
                        "logs of pod {namespace}/{pod}: {what} must be {}, not {v}",
                        if what == "sinceSeconds" {
                            "positive"
                        } else {
                            "0 or more"
                        }
                    ),
                )));
            }
        }
    }
    r = r.query_opt("container", params.container.as_deref());
    if follow {
        r = r.query("follow", "true");
    }
    if params.previous {
        r = r.query("previous", "true");
    }
    r = r.query_opt("sinceSeconds", params.since_seconds.map(|v| v.to_string()));
    if let Some(t) = params.since_time {
        r = r.query("sinceTime", t.to_string());
    }
    r = r.query_opt("tailLines", params.tail_lines.map(|v| v.to_string()));
    if params.timestamps {
        r = r.query("timestamps", "true");
    }
    r = r.query_opt("limitBytes", params.limit_bytes.map(|v| v.to_string()));
    r.uri()
}

fn get(uri: &str) -> Result<http::Request<Vec<u8>>> {
    http::Request::get(uri)
        .header(http::header::ACCEPT, "*/*")
        .body(Vec::new())
        .map_err(|e| {
            crate::Error::Request(crate::error::RequestError::with_source(
                format!("log request {uri}: {e}"),
                e,
            ))
        })
}

/// A followed log as a stream of byte chunks, as they arrive. It ends when the server ends
/// the log (the container stopped, `limit_bytes` reached); drop it to stop following.
pub struct LogStream {
    inner: Pin<Box<dyn Stream<Item = Result<Bytes>> + Send>>,
}

impl std::fmt::Debug for LogStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogStream").finish_non_exhaustive()
    }
}

impl Stream for LogStream {
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl LogStream {
    /// The same log as a stream of lines (without the line break; invalid UTF-8 replaced by
    /// U+FFFD). A last line without a line break is yielded when the log ends.
    pub fn lines(self) -> BoxStream<'static, Result<String>> {
        lines(self.inner).boxed()
    }
}

/// Splits a stream of chunks into lines.
pub(crate) fn lines<S>(chunks: S) -> impl Stream<Item = Result<String>> + Send + 'static
where
    S: Stream<Item = Result<Bytes>> + Send + Unpin + 'static,
{
    // `scanned`: how much of `buf` is known to hold no line break, so each byte is looked
    // at once however long a line grows.
    futures::stream::unfold(
        (chunks, BytesMut::new(), 0usize, false),
        |(mut chunks, mut buf, mut scanned, mut done)| async move {
            loop {
                if let Some(pos) = buf[scanned..].iter().position(|&b| b == b'\n') {
                    let pos = scanned + pos;
                    let line = buf.split_to(pos + 1);
                    let text = String::from_utf8_lossy(&line[..pos]).into_owned();
                    return Some((Ok(text), (chunks, buf, 0, done)));
                }
                scanned = buf.len();
                if done {
                    if buf.is_empty() {
                        return None;
                    }
                    let text = String::from_utf8_lossy(&buf).into_owned();
                    buf.clear();
                    return Some((Ok(text), (chunks, buf, 0, done)));
                }
                match chunks.next().await {
                    Some(Ok(chunk)) => buf.extend_from_slice(&chunk),
                    Some(Err(e)) => {
                        done = true;
                        buf.clear();
                        return Some((Err(e), (chunks, buf, 0, done)));
                    }
                    None => done = true,
                }
            }
        },
    )
}

impl Api<Pod> {
    /// The logs of pod `name` as text (`GET .../pods/name/log`), as they are now.
    pub async fn logs(&self, name: &str, params: &LogParams) -> Result<String> {
        let uri = log_uri(self.pod_namespace("logs")?, name, params, false)?;
        self.client().request_text(get(&uri)?).await
    }

    /// Follows the logs of pod `name` (`follow=true`): what is there, then what is written,
    /// as it is written. Not bounded by [`Config::timeout`](crate::Config::timeout).
    pub async fn log_stream(&self, name: &str, params: &LogParams) -> Result<LogStream> {
        let uri = log_uri(self.pod_namespace("logs")?, name, params, true)?;
        let stream = self.client().request_stream(get(&uri)?).await?;
        Ok(LogStream {
            inner: Box::pin(stream),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt;

    #[test]
    fn log_uri_has_every_option() {
        let p = LogParams::default()
            .container("c")
            .previous(true)
            .since_seconds(10)
            .tail_lines(5)
            .timestamps(true)
            .limit_bytes(100);
        assert_eq!(
            log_uri("ns", "p", &p, true).unwrap(),
            "/api/v1/namespaces/ns/pods/p/log?container=c&follow=true&previous=true&sinceSeconds=10&tailLines=5&timestamps=true&limitBytes=100"
        );
        let t: jiff::Timestamp = "2026-01-01T00:00:01Z".parse().unwrap();
        let p = LogParams::default().since_seconds(3).since_time(t);
        assert_eq!(
            log_uri("ns", "p", &p, false).unwrap(),
            "/api/v1/namespaces/ns/pods/p/log?sinceTime=2026-01-01T00%3A00%3A01Z"
        );
        assert_eq!(
            log_uri("ns", "p", &LogParams::default(), false).unwrap(),
            "/api/v1/namespaces/ns/pods/p/log"
        );
    }

    #[test]
    fn bad_numbers_are_refused() {
        assert!(log_uri("ns", "p", &LogParams::default().tail_lines(-1), false).is_err());
        assert!(log_uri("ns", "p", &LogParams::default().since_seconds(0), false).is_err());
        assert!(log_uri("ns", "", &LogParams::default(), false).is_err());
    }

    #[tokio::test]
    async fn lines_are_split_across_chunks() {
        let chunks: Vec<Result<Bytes>> = vec![
            Ok(Bytes::from_static(b"one\ntw")),
            Ok(Bytes::from_static(b"o\n")),
            Ok(Bytes::from_static(b"\nthr\xffee")),
        ];
        let got: Vec<String> = lines(futures::stream::iter(chunks))
            .try_collect()
            .await
            .unwrap();
        assert_eq!(got, vec!["one", "two", "", "thr\u{fffd}ee"]);
    }

    /// A 32 MiB line in 4 KiB chunks: each byte is scanned once (it took minutes
    /// when every chunk rescanned the whole buffer).
    #[tokio::test]
    async fn a_long_line_is_scanned_once() {
        let chunk = Bytes::from(vec![b'a'; 4096]);
        let chunks = futures::stream::iter(
            std::iter::repeat_n(chunk, 8 * 1024)
                .map(Ok)
                .chain(std::iter::once(Ok(Bytes::from_static(b"\n")))),
        );
        let start = std::time::Instant::now();
        let got: Vec<String> = lines(chunks).try_collect().await.unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].len(), 32 << 20);
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test]
    async fn an_error_ends_the_lines() {
        let chunks: Vec<Result<Bytes>> = vec![
            Ok(Bytes::from_static(b"a\npartial")),
            Err(crate::Error::Request(crate::error::RequestError::new(
                "broken",
            ))),
            Ok(Bytes::from_static(b"never\n")),
        ];
        let got: Vec<Result<String>> = lines(futures::stream::iter(chunks)).collect().await;
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].as_ref().unwrap(), "a");
        assert!(got[1].is_err());
    }
}
