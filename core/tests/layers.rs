//! Fitness test over `core/src`: imports run one way through the layers listed
//! in `core/src/lib.rs`, components never import each other, `config` never
//! imports `registry`, and no component type name is spelled in `config` or
//! `service` code. It reads the source as text: every `crate::a::b` path,
//! including those inside grouped `use crate::{…}` items.

#![allow(clippy::unwrap_used)] // a test: a panic is the failure report

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Rank of a module path (first two segments below `crate`); lower ranks sit
/// higher. A file may import modules of its own rank or greater.
fn rank(first: &str, second: Option<&str>) -> Option<u8> {
    Some(match (first, second) {
        ("startup", _) => 0,
        ("service", _) => 1,
        ("config", Some("id" | "issue" | "duration" | "tls" | "expand" | "telemetry")) => 7,
        ("config" | "registry", _) => 2,
        ("receiver" | "processor" | "exporter" | "extension", _) => 3,
        ("component", _) => 4,
        ("pipeline", _) => 5,
        ("telemetry" | "net" | "aws" | "http", _) => 6,
        ("otlp" | "ottl" | "compression" | "BoxFuture", _) => 7,
        _ => return None,
    })
}

const COMPONENT_KINDS: &[&str] = &["receiver", "processor", "exporter", "extension"];

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// Module path segments of a file: `exporter/otlp/mod.rs` → [exporter, otlp].
fn module_of(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src_dir()).unwrap();
    let mut segs: Vec<String> = rel
        .iter()
        .map(|s| s.to_string_lossy().into_owned())
        .collect();
    let last = segs.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        segs.push(stem.to_string());
    }
    segs
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Strips `//` comments (doc comments name other layers in prose).
fn code_only(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The code before the file's test module.
fn non_test(text: &str) -> String {
    match text.find("#[cfg(test)]\nmod ") {
        Some(i) => text[..i].to_string(),
        None => text.to_string(),
    }
}

/// Every `crate::` path in `code`, as its first two segments.
fn crate_paths(code: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().last();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(is_ident) {
            continue; // e.g. `tern_crate::`
        }
        collect_tree(rest, &mut Vec::new(), &mut out);
    }
    out
}

/// Reads one path or `{…}` group at the start of `s`, with `prefix` segments
/// already read, and records the first two segments of every leaf path.
fn collect_tree(s: &str, prefix: &mut Vec<String>, out: &mut Vec<(String, Option<String>)>) {
    let s = s.trim_start();
    if let Some(inner) = s.strip_prefix('{') {
        // Split the group at top-level commas.
        let mut depth = 0;
        let mut start = 0;
        let mut items = Vec::new();
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    items.push(&inner[start..i]);
                    break;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    items.push(&inner[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        for item in items {
            if !item.trim().is_empty() {
                collect_tree(item, &mut prefix.clone(), out);
            }
        }
        return;
    }
    let ident: String = s.chars().take_while(|c| is_ident(*c)).collect();
    if ident.is_empty() || ident == "self" {
        record(prefix, out);
        return;
    }
    prefix.push(ident.clone());
    let after = &s[ident.len()..];
    match after.strip_prefix("::") {
        Some(more) if prefix.len() < 2 => collect_tree(more, prefix, out),
        _ => record(prefix, out),
    }
}

fn record(prefix: &[String], out: &mut Vec<(String, Option<String>)>) {
    if let Some(first) = prefix.first() {
        out.push((first.clone(), prefix.get(1).cloned()));
    }
}

/// Component folders of a kind: subfolders holding a factory.
fn component_folders(kind: &str) -> BTreeSet<String> {
    let dir = src_dir().join(kind);
    let mut out = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let p = entry.unwrap().path();
        let Ok(text) = std::fs::read_to_string(p.join("mod.rs")) else {
            continue;
        };
        if text.contains("Factory for ") {
            out.insert(p.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    out
}

fn violations() -> Vec<String> {
    let mut files = Vec::new();
    rust_files(&src_dir(), &mut files);
    files.sort();
    let mut bad = Vec::new();
    for file in &files {
        let module = module_of(file);
        let Some(first) = module.first() else {
            continue; // lib.rs
        };
        let here = rank(first, module.get(1).map(String::as_str))
            .unwrap_or_else(|| panic!("{}: module not in the layer list", file.display()));
        let name = file.strip_prefix(src_dir()).unwrap().display().to_string();
        if name.ends_with("tests.rs") {
            continue; // tests may wire from the top (a registry, a whole config)
        }
        let text = non_test(&std::fs::read_to_string(file).unwrap());
        for (a, b) in crate_paths(&code_only(&text)) {
            let Some(there) = rank(&a, b.as_deref()) else {
                bad.push(format!("{name}: imports crate::{a}, which is in no layer"));
                continue;
            };
            let target = match &b {
                Some(b) => format!("crate::{a}::{b}"),
                None => format!("crate::{a}"),
            };
            if there < here {
                bad.push(format!("{name}: imports {target}, a higher layer"));
            }
            if first == "config" && a == "registry" {
                bad.push(format!("{name}: config imports the registry"));
            }
            if COMPONENT_KINDS.contains(&first.as_str()) && COMPONENT_KINDS.contains(&a.as_str()) {
                let own = module
                    .get(1)
                    .filter(|c| component_folders(first).contains(*c));
                if a != *first {
                    bad.push(format!(
                        "{name}: a component imports another kind ({target})"
                    ));
                } else if let Some(b) = &b {
                    let other = component_folders(&a).contains(b);
                    if other && own != Some(b) {
                        bad.push(format!("{name}: imports another component ({target})"));
                    }
                }
            }
        }
    }
    bad
}

#[test]
fn imports_follow_the_layers() {
    let bad = violations();
    assert!(bad.is_empty(), "layer violations:\n{}", bad.join("\n"));
}

#[test]
fn config_and_service_never_name_a_component_type() {
    let reg = tern_core::registry::Registry::builtin();
    let names: Vec<&str> = ["receivers", "processors", "exporters", "extensions"]
        .iter()
        .flat_map(|k| reg.names(k))
        .collect();
    assert!(names.contains(&"batch") && names.contains(&"file_storage"));
    // The document-level config code and the service (the config vocabulary
    // below them speaks of log levels such as "debug", not of components).
    let mut files = vec![
        src_dir().join("config/mod.rs"),
        src_dir().join("config/validate.rs"),
    ];
    rust_files(&src_dir().join("service"), &mut files);
    let mut bad = Vec::new();
    for f in files {
        let fname = f.file_name().unwrap().to_string_lossy().into_owned();
        if fname.contains("tests") {
            continue; // tests write configs, which name components
        }
        let code = code_only(&non_test(&std::fs::read_to_string(&f).unwrap()));
        for n in &names {
            if code.contains(&format!("\"{n}\"")) {
                bad.push(format!("{}: names {n:?}", f.display()));
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// The checker itself: it finds what it is meant to find.
#[test]
fn checker_reads_grouped_and_nested_paths() {
    let code = "use crate::{a::b, c::{d, e::f}, g};\nlet x = crate::h::i::j();\nmy_crate::k::l;";
    let got = crate_paths(code);
    let want: Vec<(String, Option<String>)> = [
        ("a", Some("b")),
        ("c", Some("d")),
        ("c", Some("e")),
        ("g", None),
        ("h", Some("i")),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.map(str::to_string)))
    .collect();
    assert_eq!(got, want);
    assert_eq!(rank("config", Some("validate")), Some(2));
    assert_eq!(rank("config", Some("duration")), Some(7));
    assert!(rank("service", None) < rank("pipeline", None));
}
