//! Embeds the discovery and OpenAPI snapshots (`snapshots/<minor>/...`): writes a table of
//! `(minor, file, include_bytes!(..))` for every file under `snapshots/`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"))
        .join("snapshots");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    walk(&root, &mut files);
    let mut code = String::from("&[\n");
    for file in files {
        println!("cargo:rerun-if-changed={}", file.display());
        let Ok(relative) = file.strip_prefix(&root) else {
            continue;
        };
        let mut parts = relative.components();
        let Some(minor) = parts.next() else { continue };
        let rest = parts.as_path();
        if rest.as_os_str().is_empty() {
            continue;
        }
        let _ = writeln!(
            code,
            "    ({:?}, {:?}, include_bytes!({:?}).as_slice()),",
            minor.as_os_str().to_string_lossy(),
            rest.to_string_lossy(),
            file.display().to_string()
        );
    }
    code.push(']');
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("snapshots.rs");
    std::fs::write(out, code).expect("write snapshots.rs");
}
