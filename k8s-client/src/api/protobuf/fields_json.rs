//! A quick parser for the JSON that protobuf carries in `FieldsV1.raw`, producing the same
//! `serde_json::Value` that `serde_json::from_slice` produces.
//!
//! Every object's `managedFields` hold a few kilobytes of this JSON: objects within objects,
//! keyed by field paths such as `f:metadata` or `k:{"type":"Ready"}`, with `{}` leaves. In a
//! protobuf list decode it is most of the work, and serde_json's general `Value` visitor
//! spends much of it on generality. [`parse`] handles that shape (objects, strings, whitespace)
//! directly and answers `None` for anything else: other value kinds (numbers, arrays,
//! literals), `\u` escapes of surrogates, nesting deeper than serde_json allows, or any
//! malformed input. The caller then parses with serde_json, so the result, and the error for
//! bad input, are exactly serde_json's.

use serde_json::{Map, Value};

/// serde_json's own nesting limit (127 levels): deeper input goes to serde_json, which names
/// the error.
const MAX_DEPTH: usize = 127;

/// Parses `bytes` as one JSON object of objects and strings, or `None` when serde_json must
/// decide (see the module docs).
pub(crate) fn parse(bytes: &[u8]) -> Option<Value> {
    // Validating the whole text once makes every slice between two ASCII delimiters valid
    // UTF-8 as well, so keys need no check of their own.
    let text = std::str::from_utf8(bytes).ok()?;
    let mut parser = Parser { text, pos: 0 };
    parser.skip_space();
    let value = parser.value(0)?;
    parser.skip_space();
    (parser.pos == bytes.len()).then_some(value)
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_space(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// One value at `depth` objects deep; the cursor is on its first byte.
    fn value(&mut self, depth: usize) -> Option<Value> {
        match self.peek()? {
            b'{' => self.object(depth + 1).map(Value::Object),
            b'"' => self.string().map(Value::String),
            _ => None,
        }
    }

    fn object(&mut self, depth: usize) -> Option<Map<String, Value>> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.pos += 1; // '{'
        let mut map = Map::new();
        self.skip_space();
        if self.peek()? == b'}' {
            self.pos += 1;
            return Some(map);
        }
        loop {
            if self.peek()? != b'"' {
                return None;
            }
            let key = self.string()?;
            self.skip_space();
            if self.peek()? != b':' {
                return None;
            }
            self.pos += 1;
            self.skip_space();
            let value = self.value(depth)?;
            // A repeated key keeps its last value, as serde_json's does.
            map.insert(key, value);
            self.skip_space();
            match self.peek()? {
                b',' => {
                    self.pos += 1;
                    self.skip_space();
                }
                b'}' => {
                    self.pos += 1;
                    return Some(map);
                }
                _ => return None,
            }
        }
    }

    /// A string; the cursor is on its opening quote.
    fn string(&mut self) -> Option<String> {
        let bytes = self.text.as_bytes();
        let start = self.pos + 1;
        let mut end = start;
        loop {
            match *bytes.get(end)? {
                b'"' => {
                    self.pos = end + 1;
                    return Some(self.text[start..end].to_owned());
                }
                b'\\' => break,
                // serde_json refuses raw control characters in strings.
                0..=0x1f => return None,
                _ => end += 1,
            }
        }
        // Escapes: the plain run so far, then byte by byte.
        let mut out = String::with_capacity(end - start + 16);
        out.push_str(&self.text[start..end]);
        let mut pos = end;
        loop {
            let run = pos;
            while let Some(&b) = bytes.get(pos) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                pos += 1;
            }
            out.push_str(&self.text[run..pos]);
            match *bytes.get(pos)? {
                b'"' => {
                    self.pos = pos + 1;
                    return Some(out);
                }
                b'\\' => {
                    let escaped = match *bytes.get(pos + 1)? {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hex = self.text.get(pos + 2..pos + 6)?;
                            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                                return None;
                            }
                            let code = u32::from_str_radix(hex, 16).ok()?;
                            pos += 4;
                            // Surrogates (pairs or lone) are no `char`: serde_json decides.
                            char::from_u32(code)?
                        }
                        _ => return None,
                    };
                    out.push(escaped);
                    pos += 2;
                }
                _ => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `parse` agrees with serde_json wherever it answers, and answers for the usual shape.
    fn same(input: &str) -> Option<Value> {
        let ours = parse(input.as_bytes());
        if let Some(ours) = &ours {
            let theirs: Value = serde_json::from_str(input).expect("serde_json accepts it");
            assert_eq!(ours, &theirs, "{input}");
        }
        ours
    }

    #[test]
    fn managed_fields_shapes_parse_as_serde_json_does() {
        let inputs = [
            r#"{}"#,
            r#"{"f:metadata":{"f:labels":{".":{},"f:app":{}}}}"#,
            r#"{"f:status":{"f:conditions":{"k:{\"type\":\"Ready\"}":{".":{},"f:status":{}}}}}"#,
            r#"{"f:spec":{"f:containers":{"k:{\"name\":\"app\"}":{"f:ports":{"k:{\"containerPort\":8080,\"protocol\":\"TCP\"}":{}}}}}}"#,
            " { \"a\" : { } ,\n\t\"b\" : \"x\" } ",
            r#"{"v:\"a\u003cb\u0026c\"":{},"esc":"\\ \/ \b \f \n \r \t é ü 日本"}"#,
            r#"{"dup":{"a":{}},"dup":{"b":{}}}"#,
            r#""just a string""#,
        ];
        for input in inputs {
            assert!(same(input).is_some(), "{input}");
        }
    }

    #[test]
    fn anything_else_is_left_to_serde_json() {
        let inputs = [
            "",
            "   ",
            "{",
            r#"{"a":1}"#,
            r#"{"a":[{}]}"#,
            r#"{"a":null}"#,
            r#"{"a":true}"#,
            r#"{"a" {}}"#,
            r#"{"a":{},}"#,
            r#"{"a":{}} x"#,
            r#"{"a":{}}{}"#,
            r#"{a:{}}"#,
            "{\"a\nb\":{}}",
            r#"{"\ud83d\ude00":{}}"#,
            r#"{"\ud800":{}}"#,
            r#"{"\u+041":{}}"#,
            r#"{"\u00":{}}"#,
            r#"{"\x":{}}"#,
            r#"{"a":"unterminated}"#,
            r#"{"a":"tail\"#,
        ];
        for input in inputs {
            assert_eq!(parse(input.as_bytes()), None, "{input}");
        }
        assert_eq!(parse(b"{\"\xff\":{}}"), None, "invalid UTF-8");
    }

    #[test]
    fn nesting_stops_where_serde_json_stops() {
        let nested = |n: usize| format!("{}{}", "{\"a\":".repeat(n - 1) + "{", "}".repeat(n));
        let ok = nested(MAX_DEPTH);
        assert!(same(&ok).is_some());
        let deep = nested(MAX_DEPTH + 1);
        assert!(serde_json::from_str::<Value>(&deep).is_err());
        assert_eq!(parse(deep.as_bytes()), None);
        // Far deeper input neither overflows the stack nor is accepted.
        assert_eq!(parse(nested(100_000).as_bytes()), None);
    }

    /// Mutated managedFields JSON: wherever `parse` answers, serde_json agrees.
    #[test]
    fn mutations_never_disagree_with_serde_json() {
        let seed = br#"{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:status":{"f:conditions":{"k:{\"type\":\"Ready\"}":{".":{},"f:status":{}}}},"v:\"a\u00e9\"":{}}"#;
        assert!(same(std::str::from_utf8(seed).unwrap()).is_some());
        let alphabet = b"{}\":,\\u0aZ \n\x01\xc3\xa9\xff[]1";
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut answered = 0;
        for _ in 0..20_000 {
            let mut input = seed.to_vec();
            for _ in 0..1 + next() % 3 {
                let at = (next() % input.len() as u64) as usize;
                let byte = alphabet[(next() % alphabet.len() as u64) as usize];
                match next() % 4 {
                    0 => input[at] = byte,
                    1 => input.insert(at, byte),
                    2 => drop(input.remove(at)),
                    _ => input.truncate(at),
                }
                if input.is_empty() {
                    input.push(byte);
                }
            }
            if let Some(ours) = parse(&input) {
                let theirs: Value = serde_json::from_slice(&input).unwrap_or_else(|e| {
                    panic!(
                        "{:?}: ours parsed, serde_json: {e}",
                        String::from_utf8_lossy(&input)
                    )
                });
                assert_eq!(ours, theirs, "{:?}", String::from_utf8_lossy(&input));
                answered += 1;
            }
        }
        // Many mutations keep the input valid (a changed key, added space): those must parse.
        assert!(answered > 1_000, "only {answered} mutations parsed");
    }
}
