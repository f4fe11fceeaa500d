//! `mlctl deploy -f rollout.yaml`: a rollout written down, reviewed in a pull request and
//! run in CI. The file holds what `deploy`'s flags hold — one key per flag, under the
//! flag's name with `_` for `-` — and is turned into exactly those flags, so a file and a
//! command line mean the same thing and are validated by the same code. Errors name the
//! file and the line of the key at fault.
//!
//! ```yaml
//! model: churn
//! version: "4"
//! onnx: models/churn-v4.onnx        # relative to this file
//! strategy: canary
//! steps: [5, 25, 50, 100]
//! interval: 10m
//! guards:
//!   - error_rate<=control+0.005
//!   - p99_ms<=control*1.2
//! gates: [pre-rollout=https://ci.example.com/smoke, manual]
//! notify: [https://hooks.slack.com/services/T/B/X]
//! match: [header:x-tenant=internal]
//! ```

use std::path::Path;

use yaml_serde::Value;

use crate::error::{Error, Result};

/// How a key becomes flags.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// `--flag VALUE`
    Value,
    /// `--flag VALUE`, a path relative to the file
    Path,
    /// `--flag` when true
    Switch,
    /// `--flag V` per list item
    Repeat,
    /// a list (or a string) joined by commas: `steps: [5, 50, 100]`
    Joined,
    /// a map `version: percent` (or a string) → `a=50,b=50`
    Pairs,
}

/// Every key a rollout file may hold, its flag and its kind.
const KEYS: &[(&str, &str, Kind)] = &[
    ("version", "--version", Kind::Value),
    ("onnx", "--onnx", Kind::Path),
    ("features", "--features", Kind::Path),
    ("upstream", "--upstream", Kind::Value),
    ("timeout", "--timeout", Kind::Value),
    ("strategy", "--strategy", Kind::Value),
    ("steps", "--steps", Kind::Joined),
    ("interval", "--interval", Kind::Value),
    ("weights", "--weights", Kind::Pairs),
    ("guards", "--guard", Kind::Repeat),
    ("mirror_pct", "--mirror-pct", Kind::Value),
    ("tolerance", "--tolerance", Kind::Value),
    ("watch_for", "--watch-for", Kind::Value),
    ("alpha", "--alpha", Kind::Value),
    ("baseline", "--baseline", Kind::Path),
    ("baseline_column", "--baseline-column", Kind::Value),
    ("wait", "--wait", Kind::Switch),
    ("reason", "--reason", Kind::Value),
    ("allow_signature_change", "--allow-signature-change", Kind::Switch),
    ("on_trip", "--on-trip", Kind::Value),
    ("dry_run_guards", "--dry-run-guards", Kind::Switch),
    ("max_step_extensions", "--max-step-extensions", Kind::Value),
    ("notify", "--notify", Kind::Repeat),
    ("gates", "--gate", Kind::Repeat),
    ("gate_timeout", "--gate-timeout", Kind::Value),
    ("match", "--match", Kind::Repeat),
    ("guard_include_matched", "--guard-include-matched", Kind::Switch),
    ("prometheus", "--prometheus", Kind::Value),
    ("prom_interval", "--prom-interval", Kind::Value),
];

/// Line (1-based) of a top-level `key:` in `text`.
fn line_of(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            l.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
        .map(|i| i + 1)
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// For each flag a file gave, the position of its key (`path:line`).
pub type Blame = Vec<(String, String)>;

/// The flags `path` stands for: `["<model>", "--version", "<v>", …]` (after `deploy`), and
/// for each flag the file position to blame.
pub fn flags(path: &Path) -> Result<(Vec<String>, Blame)> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let doc: Value = yaml_serde::from_str(&text).map_err(|e| {
        let at = match e.location() {
            Some(l) => format!("{shown}:{}:{}", l.line(), l.column()),
            None => shown.clone(),
        };
        Error::input(at, format!("not valid YAML: {e}"))
    })?;
    let Value::Mapping(map) = doc else {
        return Err(Error::input(
            shown,
            "expected a mapping of deploy settings (model: …, version: …)",
        ));
    };
    let base = path.parent().unwrap_or(Path::new("."));
    let at = |key: &str| match line_of(&text, key) {
        Some(n) => format!("{shown}:{n}"),
        None => shown.clone(),
    };
    let mut model = None;
    let mut out = Vec::new();
    let mut blame = Vec::new();
    for (k, v) in &map {
        let Some(key) = k.as_str() else {
            return Err(Error::input(shown.clone(), "keys are names like strategy or guards"));
        };
        if key == "model" {
            model = Some(scalar(v).ok_or_else(|| Error::input(at(key), "model: expected a name"))?);
            continue;
        }
        let Some(&(_, flag, kind)) = KEYS.iter().find(|(name, _, _)| *name == key) else {
            let known: Vec<&str> = std::iter::once("model").chain(KEYS.iter().map(|k| k.0)).collect();
            return Err(Error::input(
                at(key),
                format!("unknown key {key:?} (known: {})", known.join(", ")),
            ));
        };
        let bad = |what: &str| Error::input(at(key), format!("{key}: expected {what}"));
        blame.push((flag.to_string(), at(key)));
        match kind {
            Kind::Value | Kind::Path => {
                let s = scalar(v).ok_or_else(|| bad("a single value"))?;
                out.push(flag.to_string());
                out.push(if kind == Kind::Path && !Path::new(&s).is_absolute() {
                    base.join(&s).display().to_string()
                } else {
                    s
                });
            }
            Kind::Switch => match v {
                Value::Bool(true) => out.push(flag.to_string()),
                Value::Bool(false) => {}
                _ => return Err(bad("true or false")),
            },
            Kind::Repeat => {
                let items: Vec<String> = match v {
                    Value::Sequence(seq) => seq
                        .iter()
                        .map(scalar)
                        .collect::<Option<_>>()
                        .ok_or_else(|| bad("a list of strings"))?,
                    other => vec![scalar(other).ok_or_else(|| bad("a string or a list of strings"))?],
                };
                for item in items {
                    out.push(flag.to_string());
                    out.push(item);
                }
            }
            Kind::Joined => {
                let s = match v {
                    Value::Sequence(seq) => seq
                        .iter()
                        .map(scalar)
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| bad("a list of numbers"))?
                        .join(","),
                    other => scalar(other).ok_or_else(|| bad("a list of numbers"))?,
                };
                out.push(flag.to_string());
                out.push(s);
            }
            Kind::Pairs => {
                let s = match v {
                    Value::Mapping(m) => m
                        .iter()
                        .map(|(k, v)| Some(format!("{}={}", scalar(k)?, scalar(v)?)))
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| bad("a map of version: percent"))?
                        .join(","),
                    other => scalar(other).ok_or_else(|| bad("a map of version: percent"))?,
                };
                out.push(flag.to_string());
                out.push(s);
            }
        }
    }
    let model = model.ok_or_else(|| Error::input(shown.clone(), "missing key model"))?;
    if !map.contains_key("version") {
        return Err(Error::input(shown, "missing key version"));
    }
    let mut args = vec![model];
    args.extend(out);
    Ok((args, blame))
}

/// Re-point an error about a flag at the file line its key is on.
pub fn blame(e: Error, blame: &[(String, String)]) -> Error {
    let text = e.to_string();
    // The longest flag named in the message (so --guard-include-matched beats --guard).
    let hit = blame
        .iter()
        .filter(|(flag, _)| text.contains(flag.as_str()))
        .max_by_key(|(flag, _)| flag.len());
    match (hit, &e) {
        (Some((_, at)), Error::Usage(_) | Error::Input { .. }) => Error::input(at.clone(), text),
        _ => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("rollout.yaml");
        std::fs::write(&p, text).unwrap();
        (dir, p)
    }

    #[test]
    fn a_file_becomes_the_same_flags() {
        let (dir, p) = write(
            "model: churn\nversion: 4\nonnx: v4.onnx\nstrategy: canary\nsteps: [5, 50, 100]\ninterval: 10m\n\
             guards:\n  - error_rate<0.01\n  - p99_ms<=control*1.2\nwait: true\ndry_run_guards: false\n\
             weights: {stable: 50, '4': 50}\ngates: manual\n",
        );
        let (args, _) = flags(&p).unwrap();
        let onnx = dir.path().join("v4.onnx").display().to_string();
        let want: Vec<String> = [
            "churn",
            "--version",
            "4",
            "--onnx",
            &onnx,
            "--strategy",
            "canary",
            "--steps",
            "5,50,100",
            "--interval",
            "10m",
            "--guard",
            "error_rate<0.01",
            "--guard",
            "p99_ms<=control*1.2",
            "--wait",
            "--weights",
            "stable=50,4=50",
            "--gate",
            "manual",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(args, want);
    }

    #[test]
    fn bad_files_name_the_file_and_line() {
        for (text, want) in [
            (
                "model: m\nversion: 1\nstrateggy: canary\n",
                "rollout.yaml:3: unknown key \"strateggy\"",
            ),
            (
                "model: m\nversion: 1\nguards: {a: 1}\n",
                "rollout.yaml:3: guards: expected a string or a list",
            ),
            (
                "model: m\nversion: 1\nwait: yes please\n",
                "rollout.yaml:3: wait: expected true or false",
            ),
            ("model: m\nversion: [1\n", "rollout.yaml:3:1: not valid YAML"),
            ("version: 1\n", "missing key model"),
            ("- a\n- b\n", "expected a mapping"),
        ] {
            let (_d, p) = write(text);
            let e = flags(&p).unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
        }
        let e = blame(
            Error::Usage("--guard \"x\": unknown guard".into()),
            &[
                ("--guard".into(), "f.yaml:7".into()),
                ("--gate".into(), "f.yaml:9".into()),
            ],
        );
        assert_eq!(e.to_string(), "f.yaml:7: --guard \"x\": unknown guard");
        assert_eq!(e.exit_code(), 2);
    }
}
