//! Watch events and the decoder that turns a watch response (newline-delimited JSON, arriving
//! in arbitrary chunks) into a stream of [`WatchEvent`]s.

use std::collections::BTreeMap;
use std::pin::Pin;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::error::{Error, Result, Status};

/// The annotation a bookmark carries at the end of a streaming list's initial events.
pub const INITIAL_EVENTS_END_ANNOTATION: &str = "k8s.io/initial-events-end";

/// One event of a watch.
// The lint sees `K` as zero-sized; real objects are as large as `Status` or larger.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", content = "object", rename_all = "UPPERCASE")]
#[serde(bound = "K: DeserializeOwned")]
pub enum WatchEvent<K> {
    /// An object appeared (or was there when a streaming list started).
    Added(K),
    /// An object changed.
    Modified(K),
    /// An object was deleted (its last state).
    Deleted(K),
    /// Nothing changed, but the collection reached this resourceVersion.
    Bookmark(Bookmark),
    /// The server ended the watch with an error (`410 Expired` when the resourceVersion is
    /// too old: list again).
    Error(Status),
}

impl<K> WatchEvent<K> {
    /// The object of an added, modified or deleted event.
    pub fn object(&self) -> Option<&K> {
        match self {
            WatchEvent::Added(k) | WatchEvent::Modified(k) | WatchEvent::Deleted(k) => Some(k),
            WatchEvent::Bookmark(_) | WatchEvent::Error(_) => None,
        }
    }

    /// The same event with its object (if it has one) turned into `f(object)`.
    ///
    /// ```
    /// use k8s_client::api::WatchEvent;
    /// let event = WatchEvent::Added(2).map_object(|n| n * 10);
    /// assert_eq!(event.object(), Some(&20));
    /// ```
    pub fn map_object<T>(self, f: impl FnOnce(K) -> T) -> WatchEvent<T> {
        match self {
            WatchEvent::Added(k) => WatchEvent::Added(f(k)),
            WatchEvent::Modified(k) => WatchEvent::Modified(f(k)),
            WatchEvent::Deleted(k) => WatchEvent::Deleted(f(k)),
            WatchEvent::Bookmark(b) => WatchEvent::Bookmark(b),
            WatchEvent::Error(s) => WatchEvent::Error(s),
        }
    }

    /// [`WatchEvent::map_object`] with a function that may fail.
    pub fn try_map_object<T, E>(
        self,
        f: impl FnOnce(K) -> Result<T, E>,
    ) -> Result<WatchEvent<T>, E> {
        Ok(match self {
            WatchEvent::Added(k) => WatchEvent::Added(f(k)?),
            WatchEvent::Modified(k) => WatchEvent::Modified(f(k)?),
            WatchEvent::Deleted(k) => WatchEvent::Deleted(f(k)?),
            WatchEvent::Bookmark(b) => WatchEvent::Bookmark(b),
            WatchEvent::Error(s) => WatchEvent::Error(s),
        })
    }

    /// The event type as the server names it (`ADDED`, `BOOKMARK`, ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            WatchEvent::Added(_) => "ADDED",
            WatchEvent::Modified(_) => "MODIFIED",
            WatchEvent::Deleted(_) => "DELETED",
            WatchEvent::Bookmark(_) => "BOOKMARK",
            WatchEvent::Error(_) => "ERROR",
        }
    }
}

/// A `BOOKMARK` event's content: only the resourceVersion (and annotations) are meaningful.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bookmark {
    /// The resourceVersion the watch has reached.
    pub resource_version: String,
    /// The object's annotations (`k8s.io/initial-events-end: "true"` ends a streaming
    /// list's initial events).
    pub annotations: BTreeMap<String, String>,
}

impl Bookmark {
    /// Whether this bookmark ends a streaming list's initial events.
    pub fn is_initial_events_end(&self) -> bool {
        self.annotations
            .get(INITIAL_EVENTS_END_ANNOTATION)
            .is_some_and(|v| v == "true")
    }
}

impl<'de> Deserialize<'de> for Bookmark {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Meta {
            #[serde(rename = "resourceVersion", default)]
            resource_version: String,
            #[serde(default)]
            annotations: Option<BTreeMap<String, String>>,
        }
        #[derive(Deserialize)]
        struct Obj {
            metadata: Meta,
        }
        let obj = Obj::deserialize(d)?;
        Ok(Bookmark {
            resource_version: obj.metadata.resource_version,
            annotations: obj.metadata.annotations.unwrap_or_default(),
        })
    }
}

/// Decodes one line of a watch response.
pub fn decode_event<K: DeserializeOwned>(line: &[u8], what: &str) -> Result<WatchEvent<K>> {
    serde_json::from_slice(line).map_err(|e| {
        let shown = String::from_utf8_lossy(&line[..line.len().min(200)]).into_owned();
        Error::Decode(crate::error::DecodeError::msg(
            format!("watch event for {what}"),
            format!("{e} (line starts {shown:?})"),
        ))
    })
}

struct State<S> {
    chunks: Pin<Box<S>>,
    /// The rest of a chunk whose start ended a long line.
    pending: Option<Bytes>,
    buf: Vec<u8>,
    /// Where to resume looking for a newline in `buf`.
    scanned: usize,
    ended: bool,
    what: String,
}

/// The longest JSON watch line (one event) [`decode_stream`] buffers: 128 MiB. The API
/// server refuses objects larger than its request limit (3 MiB by default; etcd stores at
/// most 1.5 MiB), so this leaves a wide margin for any real object while a server that
/// never ends its line (hostile or broken) cannot make the client buffer without limit:
/// the stream fails with a [`DecodeError`](crate::error::DecodeError) once a line passes
/// this length. The line buffer's heap stays at most this size.
pub const MAX_WATCH_LINE: usize = 128 << 20;

/// Turns the chunks of a watch response into events. Events may be split across chunks or
/// share one; a line that is not a valid event yields an `Err` item and decoding goes on with
/// the next line; a transport error yields an `Err` item and ends the stream, as does a line
/// longer than 128 MiB (`MAX_WATCH_LINE`).
pub fn decode_stream<K, S>(chunks: S, what: String) -> impl Stream<Item = Result<WatchEvent<K>>>
where
    K: DeserializeOwned,
    S: Stream<Item = Result<Bytes>>,
{
    let state = State {
        chunks: Box::pin(chunks),
        pending: None,
        buf: Vec::new(),
        scanned: 0,
        ended: false,
        what,
    };
    futures::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(pos) = st.buf[st.scanned..].iter().position(|b| *b == b'\n') {
                let end = st.scanned + pos;
                let line: Vec<u8> = st.buf.drain(..=end).collect();
                st.scanned = 0;
                let line = line.trim_ascii();
                if line.is_empty() {
                    continue;
                }
                let event = decode_event(line, &st.what);
                return Some((event, st));
            }
            st.scanned = st.buf.len();
            if st.ended {
                let rest = std::mem::take(&mut st.buf);
                st.scanned = 0;
                let rest = rest.trim_ascii();
                if rest.is_empty() {
                    return None;
                }
                let event = decode_event(rest, &st.what);
                return Some((event, st));
            }
            let next = match st.pending.take() {
                Some(chunk) => Some(Ok(chunk)),
                None => st.chunks.next().await,
            };
            match next {
                Some(Ok(chunk)) if st.buf.len() + chunk.len() > MAX_WATCH_LINE => {
                    // Newlines in the new chunk end the line in time: keep what fits.
                    match chunk.iter().position(|b| *b == b'\n') {
                        Some(pos) if st.buf.len() + pos < MAX_WATCH_LINE => {
                            st.buf.extend_from_slice(&chunk[..=pos]);
                            st.pending = Some(chunk.slice(pos + 1..));
                        }
                        _ => {
                            st.ended = true;
                            st.buf = Vec::new();
                            st.scanned = 0;
                            let e = Error::Decode(crate::error::DecodeError::msg(
                                format!("watch event for {}", st.what),
                                format!(
                                    "a line passed {MAX_WATCH_LINE} bytes without ending \
                                     (the watch decoder's MAX_WATCH_LINE): the stream is given up"
                                ),
                            ));
                            return Some((Err(e), st));
                        }
                    }
                }
                Some(Ok(chunk)) => st.buf.extend_from_slice(&chunk),
                Some(Err(e)) => {
                    // What was buffered is an incomplete line of a broken stream: dropped.
                    st.ended = true;
                    st.buf.clear();
                    st.scanned = 0;
                    return Some((Err(e), st));
                }
                None => st.ended = true,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;
    use k8s_openapi::api::core::v1::ConfigMap;

    use super::*;

    fn chunks(parts: &[&[u8]]) -> impl Stream<Item = Result<Bytes>> {
        let owned: Vec<Result<Bytes>> = parts
            .iter()
            .map(|p| Ok(Bytes::copy_from_slice(p)))
            .collect();
        futures::stream::iter(owned)
    }

    fn collect(parts: &[&[u8]]) -> Vec<Result<WatchEvent<ConfigMap>>> {
        block_on(decode_stream::<ConfigMap, _>(chunks(parts), "v1/ConfigMap".into()).collect())
    }

    const ADDED: &[u8] = br#"{"type":"ADDED","object":{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","resourceVersion":"5"},"data":{"k":"v"}}}"#;
    const BOOKMARK: &[u8] = br#"{"type":"BOOKMARK","object":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"resourceVersion":"9","annotations":{"k8s.io/initial-events-end":"true"}}}}"#;
    const ERROR: &[u8] = br#"{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","status":"Failure","message":"too old resource version: 1 (5)","reason":"Expired","code":410}}"#;

    fn name(ev: &WatchEvent<ConfigMap>) -> &str {
        ev.object()
            .and_then(|o| o.metadata.name.as_deref())
            .unwrap_or("")
    }

    #[test]
    fn a_line_longer_than_the_bound_ends_the_stream() {
        let big = vec![b'a'; 1 << 20];
        let head: &[u8] = b"{\"type\":\"ADDED\",\"object\":{\"data\":\"";
        let stream = futures::stream::iter(
            std::iter::once(Ok(Bytes::from_static(head)))
                .chain(std::iter::repeat_with(move || Ok(Bytes::from(big.clone())))),
        );
        let events: Vec<Result<WatchEvent<ConfigMap>>> =
            block_on(decode_stream(stream, "configmaps".into()).collect());
        assert_eq!(events.len(), 1);
        let err = events[0].as_ref().unwrap_err().to_string();
        assert!(err.contains("MAX_WATCH_LINE"), "{err}");
    }

    #[test]
    fn events_in_one_chunk() {
        let mut all = Vec::new();
        for part in [ADDED, b"\n", BOOKMARK, b"\n", ERROR, b"\n"] {
            all.extend_from_slice(part);
        }
        let events = collect(&[&all]);
        assert_eq!(events.len(), 3);
        let ev = events[0].as_ref().unwrap();
        assert_eq!((ev.type_name(), name(ev)), ("ADDED", "a"));
        match events[1].as_ref().unwrap() {
            WatchEvent::Bookmark(b) => {
                assert_eq!(b.resource_version, "9");
                assert!(b.is_initial_events_end());
            }
            other => panic!("{other:?}"),
        }
        match events[2].as_ref().unwrap() {
            WatchEvent::Error(s) => {
                assert_eq!(s.code, Some(410));
                assert_eq!(s.reason.as_deref(), Some("Expired"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn event_split_across_chunks_byte_by_byte() {
        let mut all = Vec::new();
        all.extend_from_slice(ADDED);
        all.extend_from_slice(b"\r\n\n");
        all.extend_from_slice(ADDED);
        // No trailing newline on the last event: it is decoded at the end of the stream.
        let parts: Vec<&[u8]> = all.chunks(1).collect();
        let events = collect(&parts);
        assert_eq!(events.len(), 2);
        for ev in events {
            assert_eq!(name(&ev.unwrap()), "a");
        }
        let half = ADDED.len() / 2;
        let events = collect(&[&ADDED[..half], &ADDED[half..], b"\n"]);
        assert_eq!(events.len(), 1);
        assert!(matches!(events[0], Ok(WatchEvent::Added(_))));
    }

    #[test]
    fn garbage_lines_yield_errors_and_decoding_goes_on() {
        let events = collect(&[
            b"not json at all\n",
            br#"{"type":"EXPLODED","object":{}}"#,
            b"\n",
            br#"{"type":"ADDED","object":{"apiVersion":"v2","kind":"ConfigMap"}}"#,
            b"\n",
            ADDED,
            b"\n{\"type\":\"MODIFIED\",\"obj",
        ]);
        assert_eq!(events.len(), 5);
        for i in [0, 1, 2, 4] {
            match &events[i] {
                Err(Error::Decode(e)) => assert_eq!(e.what(), "watch event for v1/ConfigMap"),
                other => panic!("event {i}: {other:?}"),
            }
        }
        assert!(matches!(events[3], Ok(WatchEvent::Added(_))));
    }

    #[test]
    fn transport_error_ends_the_stream() {
        let parts: Vec<Result<Bytes>> = vec![
            Ok(Bytes::from_static(ADDED)),
            Ok(Bytes::from_static(b"\n{\"type\"")),
            Err(Error::Request(crate::error::RequestError::new(
                "connection reset",
            ))),
            Ok(Bytes::from_static(ADDED)),
        ];
        let events: Vec<_> = block_on(
            decode_stream::<ConfigMap, _>(futures::stream::iter(parts), "x".into()).collect(),
        );
        assert_eq!(events.len(), 2);
        assert!(events[0].is_ok());
        assert!(matches!(events[1], Err(Error::Request(_))));
    }

    #[test]
    fn empty_stream_is_empty() {
        assert!(collect(&[]).is_empty());
        assert!(collect(&[b"\n\n  \n"]).is_empty());
    }
}
