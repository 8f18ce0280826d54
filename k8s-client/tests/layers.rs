//! The crate's modules form layers (see the crate docs): a request flows backoff -> config -> auth ->
//! transport -> error/rest/retry/client -> api -> the object kinds and remote sessions ->
//! discovery -> cache -> runtime, and no module may use one that comes later (nor, within a
//! layer, a sibling). This test reads the sources and fails on any such import, naming the
//! file and line, and on any cycle between top-level modules. Comments and test code are not
//! imports and are skipped.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, lowest first. Modules of one layer may not use each other.
const LAYERS: &[&[&str]] = &[
    &["backoff"],
    &["config"],
    &["auth"],
    &["transport"],
    &["error"],
    &["rest"],
    &["retry"],
    &["client"],
    &["api"],
    &["dynamic", "metadata", "custom_resource", "remote"],
    &["discovery"],
    &["cache"],
    &["runtime"],
    // Documentation only (`cfg(doc)`): the guide's chapters, which import nothing.
    &["guide"],
];

/// The crate root's re-exports, by the module they come from.
const ROOT_REEXPORTS: &[(&str, &str)] = &[
    ("Api", "api"),
    ("Object", "api"),
    ("Resource", "api"),
    ("protobuf", "api"),
    ("Client", "client"),
    ("Config", "config"),
    ("Error", "error"),
    ("Result", "error"),
];

fn module_of(name: &str) -> String {
    ROOT_REEXPORTS
        .iter()
        .find(|(item, _)| *item == name)
        .map_or(name, |(_, module)| module)
        .to_string()
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// One use of another top-level module.
#[derive(Debug)]
struct Edge {
    from: String,
    to: String,
    file: PathBuf,
    line: usize,
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "generated") {
                continue;
            }
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Whether a file holds only tests (declared under `#[cfg(test)]`).
fn is_test_file(path: &Path) -> bool {
    let name = path.file_stem().and_then(|n| n.to_str()).unwrap_or("");
    name == "tests" || name.ends_with("_tests") || name.starts_with("test_")
}

/// The source with comments blanked out (line numbers kept) and cut at the first
/// `#[cfg(test)]` (the crate keeps its unit tests at the end of each file).
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]") {
        Some(cut) => &text[..cut],
        None => text,
    };
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut in_string = false;
    while i < bytes.len() {
        let c = bytes[i];
        if in_string {
            if c == b'\\' && i + 1 < bytes.len() {
                out.push_str("  ");
                i += 2;
                continue;
            }
            if c == b'"' {
                in_string = false;
            }
            out.push(if c == b'\n' { '\n' } else { ' ' });
            i += 1;
            continue;
        }
        if c == b'"' {
            in_string = true;
            out.push(' ');
            i += 1;
        } else if text[i..].starts_with("//") {
            while i < bytes.len() && bytes[i] != b'\n' {
                out.push(' ');
                i += 1;
            }
        } else if text[i..].starts_with("/*") {
            while i < bytes.len() && !text[i..].starts_with("*/") {
                out.push(if bytes[i] == b'\n' { '\n' } else { ' ' });
                i += 1;
            }
            out.push_str("  ");
            i += 2;
        } else if c == b'\'' && i + 2 < bytes.len() && bytes[i + 2] == b'\'' {
            // A char literal such as '"'.
            out.push_str("   ");
            i += 3;
        } else {
            out.push(char::from(c));
            i += 1;
        }
    }
    out
}

fn ident_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The top-level modules `code` (of the file whose module path is `path`) refers to, with
/// their lines.
fn uses(code: &str, path: &[String]) -> Vec<(String, usize)> {
    let mut found = Vec::new();
    let line_of = |at: usize| code[..at].matches('\n').count() + 1;
    // `crate::x`, `crate::{x, y::z}`
    for (at, _) in code.match_indices("crate::") {
        // `$crate::` inside a macro is the crate itself, the same rule.
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if c.is_whitespace() => {}
                    _ if start && depth == 0 => {
                        start = false;
                        found.push((ident_at(&group[i..]).to_string(), line_of(at)));
                    }
                    _ => {}
                }
            }
        } else {
            found.push((ident_at(rest).to_string(), line_of(at)));
        }
    }
    // `super::super::x` climbs the file's module path.
    let mut search = 0;
    while let Some(found_at) = code[search..].find("super::") {
        let at = search + found_at;
        let before = code[..at].chars().next_back();
        search = at + 1;
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let mut rest = &code[at..];
        let mut depth = path.len();
        while let Some(r) = rest.strip_prefix("super::") {
            rest = r;
            depth = depth.saturating_sub(1);
        }
        if depth == 0 {
            found.push((ident_at(rest).to_string(), line_of(at)));
        }
    }
    found
}

fn edges() -> Vec<Edge> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut edges = Vec::new();
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        let mut path: Vec<String> = rel
            .iter()
            .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
            .collect();
        if path.last().is_some_and(|p| p == "mod") {
            path.pop();
        }
        if path == ["lib"] || is_test_file(&file) {
            continue;
        }
        let from = path[0].clone();
        let text = std::fs::read_to_string(&file).unwrap();
        for (to, line) in uses(&code_of(&text), &path) {
            let to = module_of(&to);
            if to != from && layer_of(&to).is_some() {
                edges.push(Edge {
                    from: from.clone(),
                    to,
                    file: rel.to_path_buf(),
                    line,
                });
            }
        }
    }
    edges
}

#[test]
fn every_module_is_in_a_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let mut missing = Vec::new();
    for line in code_of(&lib).lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("pub mod ").or(line.strip_prefix("mod ")) {
            let name = rest.trim_end_matches(';');
            if layer_of(name).is_none() && name != "test_chunks" {
                missing.push(name.to_string());
            }
        }
    }
    assert!(
        missing.is_empty(),
        "modules not placed in a layer in tests/layers.rs: {missing:?}"
    );
}

#[test]
fn no_module_uses_a_later_layer() {
    let bad: Vec<String> = edges()
        .into_iter()
        .filter(|e| layer_of(&e.to) >= layer_of(&e.from))
        .map(|e| {
            format!(
                "src/{}:{}: `{}` uses `{}`, which is not in an earlier layer",
                e.file.display(),
                e.line,
                e.from,
                e.to
            )
        })
        .collect();
    assert!(
        bad.is_empty(),
        "upward or sideways imports:\n{}",
        bad.join("\n")
    );
}

#[test]
fn modules_form_no_cycle() {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for e in edges() {
        graph.entry(e.from).or_default().insert(e.to);
    }
    // Depth-first search for a back edge.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if !done.insert(node.to_string()) {
            return None;
        }
        stack.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, stack, done) {
                return Some(cycle);
            }
        }
        stack.pop();
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        let cycle = visit(node, &graph, &mut Vec::new(), &mut done);
        assert!(
            cycle.is_none(),
            "module cycle: {}",
            cycle.unwrap().join(" -> ")
        );
    }
}

/// The checker itself finds what it must: an upward import in a `use` group, through
/// `super::`, and not in comments or tests.
#[test]
fn the_checker_sees_imports_and_skips_comments() {
    let code = code_of(
        "use crate::{config::Config, error::Error};\n\
         // use crate::runtime::x;\n\
         /// [link](crate::cache::Store)\n\
         fn f() { let _ = \"crate::discovery\"; super::super::api::Api::<()>::all; }\n\
         #[cfg(test)]\nmod tests { use crate::runtime::y; }\n",
    );
    let path = vec!["client".to_string(), "layer".to_string()];
    let found: Vec<String> = uses(&code, &path).into_iter().map(|(m, _)| m).collect();
    assert_eq!(found, ["config", "error", "api"]);
}
