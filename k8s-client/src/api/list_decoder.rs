//! Decodes a JSON list body (`{"kind":"PodList","metadata":{..},"items":[{..},{..}]}`) as it
//! streams in, so a large list never sits in memory as one buffer next to its objects.
//!
//! A byte-level state machine follows the list object's own grammar (its keys, `:`, `,`, the
//! `items` array) and finds where each value ends by tracking strings, escapes and bracket
//! depth. Each complete value is handed to `serde_json`: an item decodes into `T` the moment
//! its closing byte arrives, `metadata` into `ListMeta`, and any other value is checked to be
//! valid JSON and dropped. Only the bytes of the one value in progress are kept between
//! chunks, and only when it spans a chunk boundary.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;
use serde::de::{DeserializeOwned, IgnoredAny};

use crate::api::ObjectList;
use crate::error::Error;

/// Decodes one JSON list body fed in arbitrary chunks into an [`ObjectList<T>`], decoding
/// each item as soon as its bytes are complete. For a valid body the result equals
/// `serde_json::from_slice::<ObjectList<T>>` of the whole body.
pub(crate) struct JsonListDecoder<T> {
    /// Names the list in errors (for example `v1/Pod list`).
    what: String,
    /// Where in the list object's grammar the decoder is.
    state: State,
    /// The value being scanned, when one has started and not yet ended.
    scan: Option<Scan>,
    /// The bytes of the value in progress that arrived in earlier chunks.
    pending: Vec<u8>,
    /// Body bytes received before the current chunk.
    offset: u64,
    seen_metadata: bool,
    seen_items: bool,
    metadata: Option<ListMeta>,
    items: Vec<T>,
}

/// A position in the grammar of the list object, between values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the opening `{`.
    Start,
    /// After `{`: a key or `}`.
    FirstKey,
    /// After `,`: a key.
    Key,
    /// After a key: `:`.
    Colon(Field),
    /// After `:`: the field's value.
    Value(Field),
    /// After a field's value: `,` or `}`.
    AfterField,
    /// After the `[` of `items`: an item or `]`.
    FirstItem,
    /// After `,` in `items`: an item.
    Item,
    /// After an item: `,` or `]`.
    AfterItem,
    /// After the closing `}`: only whitespace may follow.
    Done,
    /// An error was returned; the body is not decoded further.
    Failed,
}

/// The top-level keys the decoder cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Metadata,
    Items,
    Other,
}

/// What a scanned value is, which decides what happens to its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Key,
    Metadata,
    /// The value of `items` when it is not an array (it must be `null`).
    ItemsScalar,
    Other,
    Item,
}

/// Finds the end of one JSON value without interpreting it.
#[derive(Debug)]
struct Scan {
    purpose: Purpose,
    /// Body offset of the value's first byte.
    start: u64,
    /// Open `{`/`[` (0: a string or a scalar).
    depth: usize,
    in_string: bool,
    escape: bool,
}

/// What the byte just shown to a [`Scan`] means.
enum Step {
    /// The value goes on.
    More,
    /// The byte was the value's last.
    EndsHere,
    /// The value ended before the byte (a number or literal met a delimiter).
    EndedBefore,
}

impl Scan {
    /// Starts a value at its first byte; `None` when no JSON value starts with `b`.
    fn begin(purpose: Purpose, start: u64, b: u8) -> Option<Scan> {
        let (depth, in_string) = match b {
            b'"' => (0, true),
            b'{' | b'[' => (1, false),
            b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => (0, false),
            _ => return None,
        };
        Some(Scan {
            purpose,
            start,
            depth,
            in_string,
            escape: false,
        })
    }

    fn step(&mut self, b: u8) -> Step {
        if self.in_string {
            if self.escape {
                self.escape = false;
            } else if b == b'\\' {
                self.escape = true;
            } else if b == b'"' {
                self.in_string = false;
                if self.depth == 0 {
                    return Step::EndsHere;
                }
            }
            return Step::More;
        }
        if self.depth == 0 {
            // A number or literal runs to the next delimiter; serde_json checks its text.
            return if is_delimiter(b) {
                Step::EndedBefore
            } else {
                Step::More
            };
        }
        match b {
            b'"' => self.in_string = true,
            b'{' | b'[' => self.depth += 1,
            b'}' | b']' => {
                self.depth -= 1;
                if self.depth == 0 {
                    return Step::EndsHere;
                }
            }
            _ => {}
        }
        Step::More
    }
}

/// JSON's insignificant whitespace.
fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn is_delimiter(b: u8) -> bool {
    is_ws(b) || matches!(b, b',' | b'}' | b']')
}

/// A byte for an error message: the character when printable ASCII.
fn show(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("'{}'", b as char)
    } else {
        format!("byte 0x{b:02x}")
    }
}

impl<T: DeserializeOwned> JsonListDecoder<T> {
    /// A decoder for one list body; `what` names the list in errors (e.g. `v1/Pod list`).
    pub(crate) fn new(what: String) -> Self {
        JsonListDecoder {
            what,
            state: State::Start,
            scan: None,
            pending: Vec::new(),
            offset: 0,
            seen_metadata: false,
            seen_items: false,
            metadata: None,
            items: Vec::new(),
        }
    }

    /// Takes the next chunk of the body and decodes every item it completes. After an error
    /// the decoder refuses further input.
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Result<(), Error> {
        let result = self.scan_chunk(chunk);
        if result.is_err() {
            self.state = State::Failed;
            self.scan = None;
            self.pending = Vec::new();
        }
        result
    }

    /// The list, once the body has ended; errors when the body stopped short of the list
    /// object's closing `}`.
    pub(crate) fn finish(self) -> Result<ObjectList<T>, Error> {
        if let Some(scan) = &self.scan {
            let inside = match scan.purpose {
                Purpose::Key => "a key".to_string(),
                Purpose::Metadata => "metadata".to_string(),
                Purpose::ItemsScalar => "the value of items".to_string(),
                Purpose::Other => "a value".to_string(),
                Purpose::Item => format!("item {}", self.items.len()),
            };
            return Err(self.error(format!(
                "the body ended inside {inside} (which started at byte {}, {} bytes received)",
                scan.start, self.offset
            )));
        }
        let message = match self.state {
            State::Done => {
                return Ok(ObjectList {
                    metadata: self.metadata.unwrap_or_default(),
                    items: self.items,
                })
            }
            State::Failed => "an earlier chunk could not be decoded".to_string(),
            State::Start if self.offset == 0 => "the body is empty".to_string(),
            State::Start => "the body has no list object, only whitespace".to_string(),
            State::FirstItem | State::Item | State::AfterItem => format!(
                "the body ended inside items, after {} complete items ({} bytes received)",
                self.items.len(),
                self.offset
            ),
            _ => format!(
                "the body ended before the list object's closing '}}' ({} bytes received)",
                self.offset
            ),
        };
        Err(self.error(message))
    }

    /// A decode error naming the list.
    fn error(&self, message: String) -> Error {
        Error::Decode(crate::error::DecodeError::msg(self.what.clone(), message))
    }

    /// Walks the grammar over one chunk, handing each completed value to [`Self::value`].
    fn scan_chunk(&mut self, chunk: &[u8]) -> Result<(), Error> {
        if self.state == State::Failed {
            return Err(self.error("an earlier chunk could not be decoded".to_string()));
        }
        // Where the value in progress starts in this chunk (earlier bytes are in `pending`).
        let mut value_start = 0;
        let mut i = 0;
        while let Some(&b) = chunk.get(i) {
            if let Some(scan) = &mut self.scan {
                match scan.step(b) {
                    Step::More => i += 1,
                    Step::EndsHere => {
                        i += 1;
                        self.complete(&chunk[value_start..i])?;
                    }
                    Step::EndedBefore => self.complete(&chunk[value_start..i])?,
                }
                continue;
            }
            let at = self.offset + i as u64;
            i += 1;
            if is_ws(b) {
                continue;
            }
            self.state = match (self.state, b) {
                (State::Start, b'{') => State::FirstKey,
                (State::FirstKey | State::AfterField, b'}') => State::Done,
                (State::AfterField, b',') => State::Key,
                (State::Colon(field), b':') => State::Value(field),
                (State::Value(Field::Items), b'[') => State::FirstItem,
                (State::FirstItem | State::AfterItem, b']') => State::AfterField,
                (State::AfterItem, b',') => State::Item,
                (state, _) => {
                    let purpose = match state {
                        State::FirstKey | State::Key if b == b'"' => Some(Purpose::Key),
                        State::Value(Field::Metadata) => Some(Purpose::Metadata),
                        State::Value(Field::Items) => Some(Purpose::ItemsScalar),
                        State::Value(Field::Other) => Some(Purpose::Other),
                        State::FirstItem | State::Item => Some(Purpose::Item),
                        _ => None,
                    };
                    match purpose.and_then(|p| Scan::begin(p, at, b)) {
                        Some(scan) => {
                            self.scan = Some(scan);
                            value_start = i - 1;
                            state
                        }
                        None => return Err(self.unexpected(state, b, at)),
                    }
                }
            };
        }
        if self.scan.is_some() {
            self.hold(&chunk[value_start..]);
        }
        self.offset += chunk.len() as u64;
        Ok(())
    }

    /// The error for byte `b` at body offset `at`, which `state` does not allow.
    fn unexpected(&self, state: State, b: u8, at: u64) -> Error {
        let expected = match state {
            State::Start => "'{' (a list body is a JSON object)".to_string(),
            State::FirstKey => "a key or '}'".to_string(),
            State::Key => "a key".to_string(),
            State::Colon(_) => "':'".to_string(),
            State::Value(_) => "a value".to_string(),
            State::AfterField => "',' or '}' after a value".to_string(),
            State::FirstItem => "an item or ']'".to_string(),
            State::Item => "an item".to_string(),
            State::AfterItem => format!(
                "',' or ']' after item {}",
                self.items.len().saturating_sub(1)
            ),
            State::Done => {
                return self.error(format!(
                    "trailing data after the list object's closing '}}': {} at byte {at}",
                    show(b)
                ))
            }
            State::Failed => "nothing".to_string(),
        };
        self.error(format!(
            "malformed JSON: expected {expected}, found {} at byte {at}",
            show(b)
        ))
    }

    /// Handles a complete value whose last bytes are `tail` (the rest is in `pending`).
    fn complete(&mut self, tail: &[u8]) -> Result<(), Error> {
        let Some(scan) = self.scan.take() else {
            return Ok(());
        };
        if self.pending.is_empty() {
            return self.value(&scan, tail);
        }
        self.hold(tail);
        // Keep the buffer's allocation for the next value that spans chunks.
        let bytes = std::mem::take(&mut self.pending);
        let result = self.value(&scan, &bytes);
        self.pending = bytes;
        self.pending.clear();
        result
    }

    /// Appends to `pending`, growing it by a quarter or by the piece, whichever is more (not
    /// doubling): its allocation stays within 1.25 times the value plus one chunk.
    fn hold(&mut self, piece: &[u8]) {
        let need = self.pending.len() + piece.len();
        if need > self.pending.capacity() {
            let extra = piece.len().max(need / 4);
            self.pending.reserve_exact(piece.len() + extra);
        }
        self.pending.extend_from_slice(piece);
    }

    /// Decodes one complete value and moves on in the grammar.
    fn value(&mut self, scan: &Scan, bytes: &[u8]) -> Result<(), Error> {
        let (start, end) = (scan.start, scan.start + bytes.len() as u64);
        match scan.purpose {
            Purpose::Key => {
                let key: String = serde_json::from_slice(bytes).map_err(|e| {
                    self.error(format!("malformed key at bytes {start}..{end}: {e}"))
                })?;
                let (field, seen) = match key.as_str() {
                    "metadata" => (Field::Metadata, &mut self.seen_metadata),
                    "items" => (Field::Items, &mut self.seen_items),
                    _ => {
                        self.state = State::Colon(Field::Other);
                        return Ok(());
                    }
                };
                if std::mem::replace(seen, true) {
                    return Err(self.error(format!("duplicate key {key:?} at byte {start}")));
                }
                self.state = State::Colon(field);
            }
            Purpose::Metadata => {
                let meta = serde_json::from_slice::<ListMeta>(bytes)
                    .map_err(|e| self.error(format!("metadata at bytes {start}..{end}: {e}")))?;
                self.metadata = Some(meta);
                self.state = State::AfterField;
            }
            Purpose::ItemsScalar => {
                if bytes != b"null" {
                    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(40)]);
                    return Err(self.error(format!(
                        "items at byte {start} is neither an array nor null: {text}"
                    )));
                }
                self.state = State::AfterField;
            }
            Purpose::Other => {
                serde_json::from_slice::<IgnoredAny>(bytes).map_err(|e| {
                    self.error(format!("malformed JSON value at bytes {start}..{end}: {e}"))
                })?;
                self.state = State::AfterField;
            }
            Purpose::Item => {
                let item = serde_json::from_slice::<T>(bytes).map_err(|e| {
                    self.error(format!(
                        "item {} at bytes {start}..{end}: {e}",
                        self.items.len()
                    ))
                })?;
                self.items.push(item);
                self.state = State::AfterItem;
            }
        }
        Ok(())
    }

    /// Bytes held for the value in progress (its allocation, which is kept for reuse).
    #[cfg(test)]
    fn buffered(&self) -> usize {
        self.pending.capacity()
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{ConfigMap, Pod};
    use serde_json::json;

    use super::*;

    const LIST_JSON: &[u8] = include_bytes!("protobuf/testdata/configmap-list.json");

    use crate::test_chunks::{chunkings, Rng};

    fn decode<T: DeserializeOwned>(chunks: &[&[u8]]) -> Result<ObjectList<T>, Error> {
        let mut d = JsonListDecoder::new("v1/Test list".to_string());
        for chunk in chunks {
            d.push(chunk)?;
        }
        d.finish()
    }

    fn whole<T: DeserializeOwned>(body: &[u8]) -> Option<ObjectList<T>> {
        serde_json::from_slice(body).ok()
    }

    fn message(result: Result<ObjectList<ConfigMap>, Error>) -> String {
        match result {
            Err(Error::Decode(e)) => {
                assert_eq!(e.what(), "v1/Test list");
                e.message()
            }
            other => panic!("expected a decode error, got {other:?}"),
        }
    }

    /// Feeds `body` split at every point, byte by byte and in random pieces; every way gives
    /// what serde_json gives for the whole body.
    fn check_all_splits<T: DeserializeOwned + PartialEq + std::fmt::Debug>(body: &[u8]) {
        let expected = whole::<T>(body).expect("test body decodes whole");
        for (how, chunks) in chunkings(body) {
            let got = decode::<T>(&chunks).unwrap_or_else(|e| panic!("{how}: {e}"));
            assert_eq!(got, expected, "{how}");
        }
    }

    fn configmaps() -> ObjectList<ConfigMap> {
        serde_json::from_value(json!({
            "metadata": {"resourceVersion": "42", "continue": "tok\"en", "remainingItemCount": 7},
            "items": [
                {"metadata": {"name": "a", "labels": {"app": "x"}},
                 "data": {"quote": "say \"hi\"", "slash": "C:\\dir\\", "tab": "a\tb\nc",
                          "utf8": "café ünïcødé 日本語 🎉", "brackets": "{[}]]}\"{",
                          "ctl": "\u{1}\u{1f}"}},
                {"metadata": {"name": "b"}, "binaryData": {"bin": "AAEC"}},
                {"metadata": {"name": "c"}, "immutable": true, "data": {}},
            ]
        }))
        .unwrap()
    }

    #[test]
    fn whole_body_decodes_under_every_split() {
        check_all_splits::<ConfigMap>(LIST_JSON);
        let list = configmaps();
        check_all_splits::<ConfigMap>(&serde_json::to_vec(&list).unwrap());
        check_all_splits::<ConfigMap>(&serde_json::to_vec_pretty(&list).unwrap());
    }

    #[test]
    fn pods_with_containers() {
        let pods: ObjectList<Pod> = serde_json::from_value(json!({
            "metadata": {"resourceVersion": "9"},
            "items": [
                {"metadata": {"name": "p1", "namespace": "ns", "annotations": {"k": "[{\"x\":1}]"}},
                 "spec": {"containers": [
                     {"name": "c1", "image": "nginx:1", "args": ["-c", "echo \"}\""],
                      "ports": [{"containerPort": 80, "protocol": "TCP"}],
                      "resources": {"limits": {"cpu": "500m", "memory": "1Gi"}}},
                     {"name": "c2", "image": "busybox", "env": [{"name": "E", "value": "é\\"}]}],
                  "terminationGracePeriodSeconds": -1}},
                {"metadata": {"name": "p2"}, "spec": {"containers": []},
                 "status": {"phase": "Running", "podIP": "10.0.0.1"}},
            ]
        }))
        .unwrap();
        check_all_splits::<Pod>(&serde_json::to_vec(&pods).unwrap());
    }

    #[test]
    fn hand_written_bodies() {
        let bodies: &[&str] = &[
            // Escapes serde_json never writes, keys in unusual order, unknown keys of every shape.
            r#"{"items":[{"metadata":{"name":"caf\u00e9 \ud83c\udf89 \/ \" \\"},"data":{"k\u0041":"v"}}],
               "extra":{"a":[1,-2.5e3,{"b":"]}\"["}],"c":"{\"[","d":[[],{},"\\",true,false,null]},
               "metadata":{"resourceVersion":"1"},"kind":"ConfigMapList","apiVersion":"v1","n":-0.0,
               "t":true,"f":false,"z":null,"e":[],"o":{}}"#,
            "{}",
            r#"{"items":null}"#,
            r#"{"items":[]}"#,
            r#"{"metadata":{}}"#,
            r#"{"kind":"ConfigMapList","apiVersion":"v1","metadata":{},"items":[]}"#,
            "\r\n\t { \"items\" :\n[ { } ,\t{\"metadata\" : {\"name\":\"x\"} }\n] , \"metadata\" : { } } \n",
            // A key spelt with escapes is the same key.
            r#"{"it\u0065ms":[{"metadata":{"name":"escaped-key"}}],"m\u0065tadata":{"continue":"c"}}"#,
            r#"{"items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b"}}],"items2":[1,2]}"#,
        ];
        for body in bodies {
            check_all_splits::<ConfigMap>(body.as_bytes());
        }
        let got = decode::<ConfigMap>(&[bodies[0].as_bytes()]).unwrap();
        assert_eq!(
            got.items[0].metadata.name.as_deref(),
            Some("café 🎉 / \" \\")
        );
        assert!(decode::<ConfigMap>(&[b"{\"items\":null}"])
            .unwrap()
            .items
            .is_empty());
    }

    /// Every prefix of a body, and random mutations of it, decode exactly when serde_json
    /// decodes them whole, and to the same list; nothing panics.
    #[test]
    fn prefixes_and_mutations_agree_with_serde_json() {
        let bodies = [
            LIST_JSON.to_vec(),
            serde_json::to_vec(&configmaps()).unwrap(),
            br#"{"x":[1,{"y":"]"}],"items":[{"metadata":{"name":"a"}},{}],"metadata":{}}"#.to_vec(),
        ];
        for body in &bodies {
            for len in 0..body.len() {
                let prefix = &body[..len];
                let got = decode::<ConfigMap>(&[prefix]);
                assert!(got.is_err(), "prefix of {len} bytes decoded");
                let split = decode::<ConfigMap>(&[&prefix[..len / 2], &prefix[len / 2..]]);
                assert!(split.is_err(), "prefix of {len} bytes decoded");
            }
        }
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let alphabet = b"{}[],:\" \\nulltrue0-1.e\xc3\xa9\xff\x01a";
        for _ in 0..3000 {
            let mut body = bodies[rng.below(bodies.len())].clone();
            for _ in 0..1 + rng.below(3) {
                let at = rng.below(body.len());
                match rng.below(3) {
                    0 => body[at] = alphabet[rng.below(alphabet.len())],
                    1 => {
                        body.remove(at);
                    }
                    _ => body.insert(at, alphabet[rng.below(alphabet.len())]),
                }
            }
            let expected = whole::<ConfigMap>(&body);
            let at = rng.below(body.len() + 1);
            let got = decode::<ConfigMap>(&[&body[..at], &body[at..]]);
            match (&expected, &got) {
                (Some(e), Ok(g)) => assert_eq!(e, g),
                (None, Err(_)) => {}
                _ => panic!(
                    "serde_json {:?} but streaming {:?} for {}",
                    expected.is_some(),
                    got.map(|_| ()),
                    String::from_utf8_lossy(&body)
                ),
            }
        }
    }

    #[test]
    fn malformed_bodies_are_named() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "the body is empty"),
            (b"  \n", "no list object"),
            (
                b"[]",
                "expected '{' (a list body is a JSON object), found '[' at byte 0",
            ),
            (b"\"items\"", "a list body is a JSON object"),
            (
                br#"{"items":[{}] x}"#,
                "expected ',' or '}' after a value, found 'x' at byte 14",
            ),
            (
                br#"{"items":[{},{} {}]}"#,
                "expected ',' or ']' after item 1, found '{' at byte 16",
            ),
            (
                br#"{"items":[{}]}}"#,
                "trailing data after the list object's closing '}': '}' at byte 14",
            ),
            (br#"{"items":[{}]} x"#, "trailing data"),
            (
                br#"{"items":[{}}]}"#,
                "expected ',' or ']' after item 0, found '}' at byte 12",
            ),
            (
                br#"{"items":[{},]}"#,
                "expected an item, found ']' at byte 13",
            ),
            (
                br#"{"items":[1]}"#,
                "item 0 at bytes 10..11: invalid type: integer `1`",
            ),
            (
                br#"{"items":[{"data":[]}]}"#,
                "item 0 at bytes 10..21: invalid type: sequence",
            ),
            (
                br#"{"items":{}}"#,
                "items at byte 9 is neither an array nor null",
            ),
            (br#"{"items":"x"}"#, "neither an array nor null"),
            (
                br#"{"metadata":null}"#,
                "metadata at bytes 12..16: invalid type: null",
            ),
            (
                br#"{"metadata":{},"metadata":{}}"#,
                "duplicate key \"metadata\" at byte 15",
            ),
            (br#"{"items":[],"items":[]}"#, "duplicate key \"items\""),
            (
                br#"{"kind":bogus}"#,
                "expected a value, found 'b' at byte 8",
            ),
            (br#"{"kind":tru}"#, "malformed JSON value at bytes 8..11"),
            (
                br#"{"kind":"a"b}"#,
                "expected ',' or '}' after a value, found 'b' at byte 11",
            ),
            (br#"{"kind":"x",}"#, "expected a key, found '}' at byte 12"),
            (br#"{"kind" "x"}"#, "expected ':', found '\"' at byte 8"),
            (br#"{kind:1}"#, "expected a key or '}', found 'k' at byte 1"),
            (b"{\"k\xffy\":1}", "malformed key at bytes 1..6"),
            (
                b"{\"items\":[{\"metadata\":{\"name\":\"\xff\"}}]}",
                "item 0 at bytes 10..35: invalid unicode code point",
            ),
            (
                br#"{"items":[{"metadata":{"name":"a"}},{"meta"#,
                "the body ended inside item 1 (which started at byte 36, 42 bytes received)",
            ),
            (
                br#"{"items":[{"metadata":{"name":"a"}},"#,
                "the body ended inside items, after 1 complete items",
            ),
            (
                br#"{"metadata":{"resourceVersion":"#,
                "the body ended inside metadata",
            ),
            (br#"{"items":[],"kin"#, "the body ended inside a key"),
            (br#"{"items":[],"kind":tr"#, "the body ended inside a value"),
            (
                br#"{"items":[]"#,
                "the body ended before the list object's closing '}'",
            ),
        ];
        for (body, want) in cases {
            let text = message(decode(&[body]));
            assert!(
                text.contains(want),
                "{}: {text:?} lacks {want:?}",
                String::from_utf8_lossy(body)
            );
            // The same error, whatever the chunking.
            let bytes: Vec<&[u8]> = body.chunks(1).collect();
            assert_eq!(message(decode(&bytes)), text);
        }
    }

    #[test]
    fn no_input_after_an_error() {
        let mut d = JsonListDecoder::<ConfigMap>::new("v1/Test list".to_string());
        assert!(d.push(b"[").is_err());
        assert!(d.push(b"{}").is_err());
        assert!(d.finish().is_err());
    }

    /// Only the item in progress is held: 2,000 items of up to 20 KB fed in 16 KiB chunks
    /// never make the decoder hold more than the largest item (plus its growth slack) and
    /// one chunk.
    #[test]
    fn memory_is_bounded_by_one_item_and_one_chunk() {
        let items: Vec<ConfigMap> = (0..2000)
            .map(|i| {
                let mut cm = ConfigMap::default();
                cm.metadata.name = Some(format!("cm-{i}"));
                cm.data = Some([("v".to_string(), "é\"x".repeat((i * 37) % 4000))].into());
                cm
            })
            .collect();
        let largest = items
            .iter()
            .map(|cm| serde_json::to_vec(cm).unwrap().len())
            .max()
            .unwrap();
        let list = ObjectList {
            metadata: ListMeta::default(),
            items,
        };
        let body = serde_json::to_vec(&list).unwrap();
        const CHUNK: usize = 16 << 10;
        assert!(body.len() > 100 * CHUNK);
        let mut d = JsonListDecoder::<ConfigMap>::new("v1/ConfigMap list".to_string());
        let mut most = 0;
        for chunk in body.chunks(CHUNK) {
            d.push(chunk).unwrap();
            most = most.max(d.buffered());
        }
        assert!(most > 0, "some items span chunks");
        assert!(
            most <= largest + largest / 4 + CHUNK,
            "held {most} bytes; largest item {largest}"
        );
        assert_eq!(d.finish().unwrap(), list);
    }
}
