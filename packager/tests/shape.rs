//! The library's shape, checked from its source: each layer imports only layers below
//! it, no two files import each other, and no function runs past [`MAX_FN_LINES`].
//! The layers are written down in `docs/architecture.md`; this table is their check.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Bottom to top. A module path (`mp4::header`) names a unit below its parent (`mp4`).
const LAYERS: &[&[&str]] = &[
    &["error", "limits", "lang"],
    &["layout", "source", "sink", "mp4::header"],
    &["codec", "subtitles"],
    &["crypt", "ladder"],
    &["mp4"],
    &["carriage"],
    &["described", "options", "presentation"],
    &["segment", "transcode"],
    &["mpd", "hls"],
    &["package"],
];

/// The crate root and the benchmark hooks, above every layer and imported by none.
const OUTSIDE: &[&str] = &["lib", "bench"];

/// About a screen and a half: longer than that, a function does more than one thing.
const MAX_FN_LINES: usize = 100;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read src") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `mp4/moov/trak.rs` -> `["mp4", "moov", "trak"]`; `codec/mod.rs` -> `["codec"]`.
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .with_extension("")
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

/// The source without comments and without the unit tests at the end of a file.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or("");
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn ident(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// Every path a `crate::` (or `super::`) use names, braces expanded, as module segments.
fn paths_from(s: &str, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let s = s.trim_start();
    if let Some(inner) = s.strip_prefix('{') {
        let mut depth = 0;
        let mut item = String::new();
        for c in inner.chars() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    paths_from(&item, prefix.clone(), out);
                    item.clear();
                    continue;
                }
                _ => {}
            }
            item.push(c);
        }
        paths_from(&item, prefix, out);
        return;
    }
    let name = ident(s);
    if name.is_empty() {
        // After a group's trailing comma, or a glob.
        return;
    }
    let mut next = prefix;
    if name != "self" {
        next.push(name.to_string());
    }
    match s[name.len()..].strip_prefix("::") {
        Some(rest) => paths_from(rest, next, out),
        None => out.push(next),
    }
}

fn imports(code: &str, module: &[String], is_mod_file: bool) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        paths_from(&code[at + 7..], Vec::new(), &mut out);
    }
    // `super::` from `a/b.rs` is `a`; from `a/b/mod.rs` it is `a` too.
    let parent = &module[..module.len().saturating_sub(1)];
    for (at, _) in code.match_indices("super::") {
        if code[..at].ends_with("pub(") {
            continue;
        }
        paths_from(&code[at + 7..], parent.to_vec(), &mut out);
    }
    if is_mod_file {
        // A parent naming its child module's items (`pcm::PcmFormat`).
        for line in code.lines() {
            let l = line.trim_start();
            let decl = l
                .strip_prefix("pub(crate) mod ")
                .or_else(|| l.strip_prefix("pub mod "))
                .or_else(|| l.strip_prefix("mod "));
            if let Some(kid) = decl.map(ident).filter(|k| !k.is_empty())
                && code.contains(&format!("{kid}::"))
            {
                let mut p = module.to_vec();
                p.push(kid.to_string());
                out.push(p);
            }
        }
    }
    out
}

/// The file a module path lives in: the longest prefix that is a file.
fn file_of(root: &Path, path: &[String]) -> Option<PathBuf> {
    (1..=path.len()).rev().find_map(|n| {
        let base = root.join(path[..n].join("/"));
        [base.with_extension("rs"), base.join("mod.rs")]
            .into_iter()
            .find(|f| f.is_file())
    })
}

/// The layer unit a module path belongs to: the longest listed prefix.
fn unit_of(path: &[String]) -> Option<(usize, String)> {
    (1..=path.len()).rev().find_map(|n| {
        let name = path[..n].join("::");
        LAYERS
            .iter()
            .position(|l| l.contains(&name.as_str()))
            .map(|layer| (layer, name))
    })
}

/// Names the crate root re-exports, as the module each comes from (`Error` -> `error`).
fn root_reexports(root: &Path) -> BTreeMap<String, Vec<String>> {
    let lib = code(&std::fs::read_to_string(root.join("lib.rs")).expect("lib.rs"));
    let mut map = BTreeMap::new();
    for stmt in lib.split(';') {
        let Some(rest) = stmt.trim().strip_prefix("pub use ") else {
            continue;
        };
        let mut paths = Vec::new();
        paths_from(rest, Vec::new(), &mut paths);
        for p in paths {
            if let Some(last) = p.last() {
                map.insert(last.clone(), p[..p.len() - 1].to_vec());
            }
        }
    }
    map
}

struct File {
    rel: PathBuf,
    module: Vec<String>,
    imports: Vec<Vec<String>>,
}

fn files() -> Vec<File> {
    let root = src();
    let reexports = root_reexports(&root);
    let mut paths = Vec::new();
    rust_files(&root, &mut paths);
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(&root).expect("under src").to_path_buf();
            let module = module_of(&rel);
            let text = std::fs::read_to_string(&p).expect("read");
            let is_mod = rel.file_name().is_some_and(|n| n == "mod.rs");
            let imports = imports(&code(&text), &module, is_mod)
                .into_iter()
                .filter(|i| !i.is_empty())
                .map(|i| match reexports.get(&i[0]) {
                    Some(real) if i.len() == 1 => real.clone(),
                    _ => i,
                })
                .filter(|i| !i.is_empty())
                .collect();
            File {
                rel,
                module,
                imports,
            }
        })
        .collect()
}

#[test]
fn every_module_is_in_a_layer_or_outside() {
    let mut loose = Vec::new();
    for f in files() {
        let top = f.module.first().map_or("lib", String::as_str);
        if unit_of(&f.module).is_none() && !OUTSIDE.contains(&top) {
            loose.push(f.rel.display().to_string());
        }
    }
    assert!(loose.is_empty(), "not in any layer: {loose:?}");
}

#[test]
fn layers_import_only_layers_below() {
    let mut wrong = Vec::new();
    let mut checked = 0;
    for f in files() {
        let Some((layer, unit)) = unit_of(&f.module) else {
            continue;
        };
        for i in &f.imports {
            let Some((to_layer, to_unit)) = unit_of(i) else {
                if OUTSIDE.contains(&i[0].as_str()) {
                    wrong.push(format!(
                        "{} imports {} (outside)",
                        f.rel.display(),
                        i.join("::")
                    ));
                }
                continue;
            };
            checked += 1;
            let inside = to_unit == unit
                || to_unit.starts_with(&format!("{unit}::"))
                || unit.starts_with(&format!("{to_unit}::")) && to_layer < layer;
            if !inside && to_layer >= layer {
                wrong.push(format!(
                    "{} (layer {layer}, {unit}) imports {} (layer {to_layer}, {to_unit})",
                    f.rel.display(),
                    i.join("::")
                ));
            }
        }
    }
    assert!(
        checked > 200,
        "only {checked} imports found: is the parser blind?"
    );
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_two_files_import_each_other() {
    let root = src();
    let mut edges: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
    for f in files() {
        let to: BTreeSet<PathBuf> = f
            .imports
            .iter()
            .filter_map(|i| file_of(&root, i))
            .map(|p| p.strip_prefix(&root).expect("under src").to_path_buf())
            .filter(|p| *p != f.rel)
            .collect();
        edges.insert(f.rel, to);
    }
    let mut pairs = Vec::new();
    for (a, tos) in &edges {
        for b in tos {
            if a < b && edges.get(b).is_some_and(|t| t.contains(a)) {
                pairs.push(format!("{} <-> {}", a.display(), b.display()));
            }
        }
    }
    assert!(pairs.is_empty(), "files importing each other: {pairs:?}");
}

#[test]
fn no_function_is_longer_than_the_limit() {
    let mut long = Vec::new();
    let mut seen = 0;
    for f in files() {
        let text = std::fs::read_to_string(src().join(&f.rel)).expect("read");
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let t = line.trim_start();
            let indent = &line[..line.len() - t.len()];
            let signature = ["fn ", "pub fn ", "pub(crate) fn ", "pub(super) fn "]
                .iter()
                .any(|p| t.starts_with(p));
            if !signature || t.ends_with(';') {
                continue;
            }
            seen += 1;
            let close = format!("{indent}}}");
            let Some(end) = lines[i..].iter().position(|l| *l == close) else {
                continue;
            };
            if end + 1 > MAX_FN_LINES {
                long.push(format!("{}:{} {} lines", f.rel.display(), i + 1, end + 1));
            }
        }
    }
    assert!(
        seen > 300,
        "only {seen} functions found: is the scan blind?"
    );
    assert!(
        long.is_empty(),
        "functions over {MAX_FN_LINES} lines:\n{}",
        long.join("\n")
    );
}

#[test]
fn the_import_parser_expands_groups() {
    let mut out = Vec::new();
    paths_from(
        "{error::Error as _E, package as _x, mp4::{self, moov::Kind,},};",
        Vec::new(),
        &mut out,
    );
    let got: Vec<String> = out.iter().map(|p| p.join("::")).collect();
    assert_eq!(got, ["error::Error", "package", "mp4", "mp4::moov::Kind"]);
}
