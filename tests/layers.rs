//! The declared layer order of `src/` (the numbered list at the top of `src/lib.rs`) holds:
//! a module imports only from layers below it, never from a layer above or from a peer in
//! its own layer; and inside each module its submodules import each other without cycles.
//!
//! Every `crate::…` / `super::…` path (and `mlctl::…` in `main.rs`) is read from the source
//! with comments and string literals removed, `use` groups (`crate::{a, b::c}`) expanded and
//! inline modules (`mod tests { … }`) followed, so `super::` resolves where it is written.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A reference from a file (at a line) to an absolute module path.
#[derive(Debug, Clone)]
struct Reference {
    file: String,
    line: usize,
    from: Vec<String>,
    to: Vec<String>,
}

/// Source text with comments, string and char literals blanked (newlines kept).
fn strip(src: &str) -> String {
    let b: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if b[i] == '\n' {
                        out.push('\n');
                    }
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !prev_is_ident(&b, i) {
            // raw string r"…" / r#"…"#
            let mut j = i + 1;
            let mut hashes = 0;
            while j < b.len() && b[j] == '#' {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= b.len() {
                    break;
                }
                if b[j] == '"' && (0..hashes).all(|h| b.get(j + 1 + h) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                if b[j] == '\n' {
                    out.push('\n');
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c == '"' {
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    i += 1;
                }
                if b.get(i) == Some(&'\n') {
                    out.push('\n');
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' {
            // char literal ('a', '\n', '\u{..}') or a lifetime ('a)
            if next == Some('\\') {
                let mut j = i + 2;
                while j < b.len() && b[j] != '\'' {
                    j += 1;
                }
                i = j + 1;
                out.push_str("' '");
            } else if b.get(i + 2) == Some(&'\'') {
                i += 3;
                out.push_str("' '");
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn prev_is_ident(b: &[char], i: usize) -> bool {
    i > 0 && (b[i - 1].is_alphanumeric() || b[i - 1] == '_')
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    PathSep,
    Open,
    Close,
    Comma,
    Other,
}

fn tokens(src: &str) -> Vec<(Tok, usize)> {
    let b: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    while i < b.len() {
        let c = b[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c.is_alphabetic() || c == '_' {
            let s = i;
            while i < b.len() && (b[i].is_alphanumeric() || b[i] == '_') {
                i += 1;
            }
            out.push((Tok::Ident(b[s..i].iter().collect()), line));
        } else if c == ':' && b.get(i + 1) == Some(&':') {
            out.push((Tok::PathSep, line));
            i += 2;
        } else {
            out.push((
                match c {
                    '{' => Tok::Open,
                    '}' => Tok::Close,
                    ',' => Tok::Comma,
                    _ => Tok::Other,
                },
                line,
            ));
            i += 1;
        }
    }
    out
}

/// Paths of a `use` tree or expression path starting at `toks[i]` (after its root
/// segment and `::`), each as a list of segments.
/// Each path comes with the line of its last segment.
fn path_tree(toks: &[(Tok, usize)], mut i: usize, prefix: Vec<String>, out: &mut Vec<(Vec<String>, usize)>) -> usize {
    let mut segs = prefix;
    let mut line = toks.get(i.saturating_sub(1)).map_or(0, |t| t.1);
    loop {
        match toks.get(i).map(|t| &t.0) {
            Some(Tok::Ident(s)) => {
                segs.push(s.clone());
                line = toks[i].1;
                i += 1;
                if toks.get(i).map(|t| &t.0) == Some(&Tok::PathSep) {
                    i += 1;
                    continue;
                }
                out.push((segs, line));
                return i;
            }
            Some(Tok::Open) => {
                i += 1;
                loop {
                    match toks.get(i).map(|t| &t.0) {
                        Some(Tok::Close) => return i + 1,
                        Some(Tok::Comma) => i += 1,
                        None => return i,
                        _ => {
                            let before = i;
                            i = path_tree(toks, i, segs.clone(), out);
                            if i == before {
                                i += 1;
                            }
                        }
                    }
                }
            }
            _ => {
                // `*` or the end of a path
                out.push((segs, line));
                return i;
            }
        }
    }
}

/// Module path of a file under `src/` (`serving/admin.rs` → [serving, admin]).
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap_or_default();
    let stem = last.trim_end_matches(".rs").to_string();
    if stem != "mod" && stem != "lib" {
        parts.push(stem);
    }
    parts
}

/// All `crate::`/`super::` references of one file, resolved to absolute paths.
fn references(file: &str, module: &[String], src: &str, crate_alias: Option<&str>) -> Vec<Reference> {
    let toks = tokens(&strip(src));
    let mut out = Vec::new();
    // inline modules: (name, brace depth at which it opened)
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < toks.len() {
        match &toks[i].0 {
            Tok::Open => depth += 1,
            Tok::Close => {
                depth = depth.saturating_sub(1);
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
            }
            Tok::Ident(kw) if kw == "mod" => {
                if let (Some((Tok::Ident(name), _)), Some((Tok::Open, _))) = (toks.get(i + 1), toks.get(i + 2)) {
                    inline.push((name.clone(), depth));
                }
            }
            Tok::Ident(root)
                if (root == "crate" || root == "super" || Some(root.as_str()) == crate_alias)
                    && toks.get(i + 1).map(|t| &t.0) == Some(&Tok::PathSep)
                    && !(i > 0 && toks[i - 1].0 == Tok::PathSep) =>
            {
                let here: Vec<String> = module
                    .iter()
                    .cloned()
                    .chain(inline.iter().map(|(n, _)| n.clone()))
                    .collect();
                let mut paths = Vec::new();
                let next = path_tree(&toks, i + 2, vec![root.clone()], &mut paths);
                for (p, line) in paths {
                    let mut abs: Vec<String> = if p[0] == "super" { here.clone() } else { Vec::new() };
                    let mut segs = p.into_iter().peekable();
                    if segs.peek().is_some_and(|s| s != "super") {
                        segs.next(); // crate / alias
                    }
                    for s in segs {
                        if s == "super" {
                            abs.pop();
                        } else {
                            abs.push(s);
                        }
                    }
                    out.push(Reference {
                        file: file.to_string(),
                        line,
                        from: here.clone(),
                        to: abs,
                    });
                }
                i = next;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// The numbered layer list in `lib.rs`: lines `//! N. `a` `b``.
fn declared_layers(lib: &str) -> Vec<Vec<String>> {
    let mut layers = Vec::new();
    for line in lib.lines() {
        let Some(rest) = line.strip_prefix("//! ") else {
            continue;
        };
        let Some((num, names)) = rest.split_once(". ") else {
            continue;
        };
        if num.trim().parse::<usize>().is_err() {
            continue;
        }
        let mods: Vec<String> = names
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .filter(|s| s.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
            .collect();
        if !mods.is_empty() {
            layers.push(mods);
        }
    }
    layers
}

/// Check a source tree given as (path under src/, text); returns one line per violation.
fn check(files: &[(PathBuf, String)]) -> Vec<String> {
    let mut problems = Vec::new();
    let lib = files
        .iter()
        .find(|(p, _)| p == Path::new("lib.rs"))
        .map(|(_, s)| s.as_str())
        .unwrap_or("");
    let layers = declared_layers(lib);
    let layer_of: BTreeMap<String, usize> = layers
        .iter()
        .enumerate()
        .flat_map(|(i, ms)| ms.iter().map(move |m| (m.clone(), i)))
        .collect();
    let modules: BTreeSet<Vec<String>> = files.iter().map(|(p, _)| module_of(p)).collect();
    let top: BTreeSet<String> = files
        .iter()
        .filter(|(p, _)| p != Path::new("lib.rs"))
        .filter_map(|(p, _)| {
            let m = module_of(p);
            m.first().cloned()
        })
        .collect();
    for t in &top {
        if !layer_of.contains_key(t) {
            problems.push(format!(
                "src/lib.rs: module `{t}` is missing from the declared layer order"
            ));
        }
    }
    let mut refs = Vec::new();
    for (p, text) in files {
        let module = module_of(p);
        let alias = (p == Path::new("main.rs")).then_some("mlctl");
        refs.extend(references(&format!("src/{}", p.display()), &module, text, alias));
    }
    // The longest known module prefix of a path.
    let resolve = |path: &[String]| -> Vec<String> {
        (1..=path.len())
            .rev()
            .map(|n| path[..n].to_vec())
            .find(|p| modules.contains(p))
            .unwrap_or_else(|| path.iter().take(1).cloned().collect())
    };
    // submodule edges per parent module: parent → (child → {child: (file, line)})
    type Edges = BTreeMap<String, BTreeMap<String, (String, usize)>>;
    let mut inner: BTreeMap<Vec<String>, Edges> = BTreeMap::new();
    for r in &refs {
        let to = resolve(&r.to);
        let from = if r.from.is_empty() {
            vec!["lib".to_string()]
        } else {
            r.from.clone()
        };
        let (Some(f0), Some(t0)) = (from.first(), to.first()) else {
            continue;
        };
        if f0 != t0 {
            let (Some(&lf), Some(&lt)) = (layer_of.get(f0), layer_of.get(t0)) else {
                if f0 != "lib" {
                    problems.push(format!(
                        "{}:{}: `{}` refers to `{}`, which is in no declared layer",
                        r.file,
                        r.line,
                        f0,
                        r.to.join("::")
                    ));
                }
                continue;
            };
            if lt >= lf {
                let why = if lt == lf {
                    "a peer in the same layer"
                } else {
                    "a higher layer"
                };
                problems.push(format!(
                    "{}:{}: `{}` (layer {}) imports `{}` from {} ({})",
                    r.file,
                    r.line,
                    f0,
                    lf + 1,
                    r.to.join("::"),
                    why,
                    lt + 1
                ));
            }
            continue;
        }
        // Same top-level module: an edge between the two children of their common parent.
        let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
        let (Some(fc), Some(tc)) = (from.get(common), to.get(common)) else {
            continue; // one of them is the parent itself (mod.rs declares and re-exports)
        };
        inner
            .entry(from[..common].to_vec())
            .or_default()
            .entry(fc.clone())
            .or_default()
            .entry(tc.clone())
            .or_insert((r.file.clone(), r.line));
    }
    for (parent, edges) in &inner {
        for cycle in cycles(edges) {
            let steps: Vec<String> = cycle
                .windows(2)
                .map(|w| {
                    let (file, line) = &edges[&w[0]][&w[1]];
                    format!("{}:{} ({} → {})", file, line, w[0], w[1])
                })
                .collect();
            problems.push(format!(
                "submodules of `{}` import each other in a cycle: {}",
                parent.join("::"),
                steps.join(", ")
            ));
        }
    }
    problems
}

/// One cycle (as a closed walk a → … → a) per strongly connected component with a loop.
fn cycles(edges: &BTreeMap<String, BTreeMap<String, (String, usize)>>) -> Vec<Vec<String>> {
    let mut found: Vec<Vec<String>> = Vec::new();
    let mut covered: BTreeSet<String> = BTreeSet::new();
    for start in edges.keys() {
        if covered.contains(start) {
            continue;
        }
        // BFS for the shortest path back to `start`.
        let mut prev: BTreeMap<String, String> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start.clone()]);
        let mut closed = None;
        while let Some(n) = queue.pop_front() {
            for next in edges.get(&n).into_iter().flat_map(|m| m.keys()) {
                if next == start {
                    closed = Some(n.clone());
                    break;
                }
                if !prev.contains_key(next) {
                    prev.insert(next.clone(), n.clone());
                    queue.push_back(next.clone());
                }
            }
            if closed.is_some() {
                break;
            }
        }
        if let Some(mut n) = closed {
            let mut walk = vec![start.clone()];
            let mut back = vec![n.clone()];
            while n != *start {
                n = prev[&n].clone();
                if n != *start {
                    back.push(n.clone());
                }
            }
            back.reverse();
            walk.extend(back);
            walk.push(start.clone());
            covered.extend(walk.iter().cloned());
            found.push(walk);
        }
    }
    found
}

fn source_tree(root: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src/") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("read source file");
                out.push((path.strip_prefix(root).expect("under src/").to_path_buf(), text));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn src_follows_the_declared_layer_order() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = source_tree(&root);
    let lib = &files.iter().find(|(p, _)| p == Path::new("lib.rs")).expect("lib.rs").1;
    assert!(
        declared_layers(lib).len() >= 5,
        "src/lib.rs declares no layer order (lines like '//! 1. `error`')"
    );
    let problems = check(&files);
    assert!(problems.is_empty(), "layering violations:\n{}", problems.join("\n"));
}

// The checker itself, on small synthetic trees.

fn tree(files: &[(&str, &str)]) -> Vec<(PathBuf, String)> {
    let lib = "//! 1. `error`\n//! 2. `stats` `wire`\n//! 3. `rollout`\n//! 4. `serving`\n";
    std::iter::once(("lib.rs", lib))
        .chain(files.iter().copied())
        .map(|(p, s)| (PathBuf::from(p), s.to_string()))
        .collect()
}

#[test]
fn an_upward_import_is_named_with_file_and_line() {
    let files = tree(&[
        ("error.rs", ""),
        ("rollout/mod.rs", "pub mod guard;"),
        (
            "rollout/guard.rs",
            "use crate::error::Result;\n\nfn f() { let s = crate::serving::state::AppState::new(); }\n",
        ),
        ("serving/mod.rs", "pub mod state;"),
        ("serving/state.rs", "use crate::rollout::guard;"),
    ]);
    let p = check(&files);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].starts_with("src/rollout/guard.rs:3: `rollout` (layer 3) imports `serving::state::AppState::new`"));
    assert!(p[0].contains("a higher layer"));
}

#[test]
fn a_peer_import_inside_a_use_group_is_caught() {
    let files = tree(&[
        (
            "stats.rs",
            "use crate::{error::Error,\n  wire::{v2::Tensor, HEADER}};\n",
        ),
        ("wire.rs", ""),
        ("error.rs", ""),
    ]);
    let p = check(&files);
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(p[0].starts_with("src/stats.rs:2: `stats` (layer 2) imports `wire::v2::Tensor` from a peer"));
    assert!(p[1].starts_with("src/stats.rs:2: `stats` (layer 2) imports `wire::HEADER` from a peer"));
}

#[test]
fn comments_strings_and_test_modules_resolve_correctly() {
    let files = tree(&[
        ("error.rs", ""),
        ("rollout/mod.rs", "pub mod guard; pub mod stats;"),
        (
            "rollout/guard.rs",
            "// crate::serving::x in a comment\nconst S: &str = \"crate::serving::y\";\nconst R: &str = r#\"crate::serving\"#;\nuse super::stats;\n#[cfg(test)]\nmod tests {\n    use super::*;\n    use super::super::stats::Window;\n}\n",
        ),
        ("rollout/stats.rs", "fn g() -> char { '\"' }\n"),
        ("serving.rs", ""),
    ]);
    assert_eq!(check(&files), Vec::<String>::new());
}

#[test]
fn a_cycle_between_submodules_is_reported() {
    let files = tree(&[
        ("error.rs", ""),
        ("rollout/mod.rs", "pub mod a; pub mod b; pub mod c;"),
        ("rollout/a.rs", "use super::b::X;"),
        ("rollout/b.rs", "use crate::rollout::c::Y;"),
        ("rollout/c.rs", "\n\nfn f() { super::a::z() }"),
    ]);
    let p = check(&files);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].contains("submodules of `rollout` import each other in a cycle"),
        "{}",
        p[0]
    );
    assert!(p[0].contains("src/rollout/c.rs:3 (c → a)"), "{}", p[0]);
}

#[test]
fn an_undeclared_module_is_reported() {
    let files = tree(&[("error.rs", ""), ("extra.rs", "")]);
    let p = check(&files);
    assert_eq!(
        p,
        vec!["src/lib.rs: module `extra` is missing from the declared layer order".to_string()]
    );
}
