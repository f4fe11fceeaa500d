//! Readers of the gateway's own logs (`wire::log`): which files, and each record of one.
//! Shared by `abtest --from-gateway`, `drift check --from-gateway` and the rollout replay.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::wire::log::{LOGS_DIR, LogKind, OutcomeRecord, PredictionRecord};

/// The gateway's daily files of `kind` under a data dir (or its `logs/` directly), in
/// date order. `dir` may also name several replicas' dirs: a comma-separated list
/// (`gw1,gw2`) or a glob (`'replicas/*'`); their files are read together, day by day.
pub fn log_files(dir: &Path, kind: LogKind) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for source in sources(dir)? {
        let logs = if source.join(LOGS_DIR).is_dir() {
            source.join(LOGS_DIR)
        } else {
            source
        };
        let rd = std::fs::read_dir(&logs).map_err(|e| Error::io(&logs, e))?;
        files.extend(rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| kind.day_of_file(n).is_some())
        }));
    }
    let day = |p: &PathBuf| {
        p.file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| kind.day_of_file(n))
            .map(str::to_string)
    };
    files.sort_by_cached_key(|p| (day(p), p.clone()));
    Ok(files)
}

/// The directories `dir` names: itself when it exists, else each of its comma-separated
/// parts, globs expanded (a glob that matches nothing is an error naming it).
fn sources(dir: &Path) -> Result<Vec<PathBuf>> {
    let text = dir.to_string_lossy();
    let is_glob = |s: &str| s.contains(['*', '?', '[']);
    if dir.exists() || !(text.contains(',') || is_glob(&text)) {
        return Ok(vec![dir.to_path_buf()]);
    }
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if !is_glob(part) {
            out.push(PathBuf::from(part));
            continue;
        }
        let matches = glob::glob(part).map_err(|e| Error::input(part, format!("not a valid glob: {e}")))?;
        let before = out.len();
        out.extend(matches.flatten().filter(|p| p.is_dir()));
        if out.len() == before {
            return Err(Error::input(part, "matches no directory"));
        }
    }
    Ok(out)
}

/// Like `log_files`, but only the days from `first_day` (`YYYYMMDD`) on.
pub fn log_files_from(dir: &Path, kind: LogKind, first_day: &str) -> Result<Vec<PathBuf>> {
    let mut files = log_files(dir, kind)?;
    retain_days(&mut files, kind, first_day);
    Ok(files)
}

/// Keep the daily files of `kind` that can hold records from `since_us` (µs since the
/// epoch) on — all when `None`: a reader with a time cut-off need not open older days.
pub fn keep_from(files: &mut Vec<PathBuf>, kind: LogKind, since_us: Option<i64>) {
    if let Some(t) = since_us.and_then(chrono::DateTime::from_timestamp_micros) {
        retain_days(files, kind, &crate::wire::log::day_of(&t));
    }
}

fn retain_days(files: &mut Vec<PathBuf>, kind: LogKind, first_day: &str) {
    files.retain(|f| {
        f.file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| kind.day_of_file(n))
            .is_some_and(|day| day >= first_day)
    });
}

/// The prediction log files, or an error naming the dir when there are none.
pub fn prediction_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let files = log_files(dir, LogKind::Predictions)?;
    if files.is_empty() {
        return Err(Error::input(
            dir.display().to_string(),
            "no predictions-*.jsonl gateway logs here (several replicas: a comma-separated list or a glob of their data dirs)",
        ));
    }
    Ok(files)
}

/// Each record of a prediction log file (gzip too).
pub fn each_prediction(path: &Path, mut f: impl FnMut(PredictionRecord<'_>) -> Result<()>) -> Result<()> {
    each_line(path, |line| {
        serde_json::from_str::<PredictionRecord<'_>>(line).map(&mut f)
    })
}

/// Each record of an outcome log file (gzip too).
pub fn each_outcome(path: &Path, mut f: impl FnMut(OutcomeRecord) -> Result<()>) -> Result<()> {
    each_line(path, |line| serde_json::from_str::<OutcomeRecord>(line).map(&mut f))
}

/// Hand each non-empty line to `visit`, which parses it and calls back. A torn last line —
/// a machine crash inside the fsync window — is skipped with a warning; any other line that
/// does not parse is an error naming file:line.
fn each_line(path: &Path, mut visit: impl FnMut(&str) -> serde_json::Result<Result<()>>) -> Result<()> {
    let (mut reader, _) = crate::data::open(path)?;
    let mut line = String::new();
    let mut no = 0u64;
    loop {
        line.clear();
        let n = reader
            .read_line(&mut line)
            .map_err(|e| Error::input(format!("{}:{}", path.display(), no + 1), e.to_string()))?;
        if n == 0 {
            return Ok(());
        }
        no += 1;
        let text = line.trim_end();
        if text.trim().is_empty() {
            continue;
        }
        match visit(text) {
            Ok(done) => done?,
            Err(e) if !text.ends_with('}') => {
                tracing::warn!("{}:{no}: skipping a torn record: {e}", path.display());
            }
            Err(e) => {
                return Err(Error::input(
                    format!("{}:{no}", path.display()),
                    format!("not a log record: {e}"),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_read_and_a_torn_last_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join(LOGS_DIR);
        std::fs::create_dir_all(&logs).unwrap();
        let ok = r#"{"ts":"2026-11-27T10:00:00Z","request_id":"r1","model":"m","version":"1","role":"stable","bucket":3,"latency_us":9,"status":200,"outputs":null}"#;
        std::fs::write(
            logs.join("predictions-20261127.jsonl"),
            format!("{ok}\n\n{ok}\n{{\"ts\":\"20"),
        )
        .unwrap();
        std::fs::write(logs.join("predictions-20261126.jsonl"), "").unwrap();
        std::fs::write(logs.join("outcomes-20261127.jsonl"), "").unwrap();
        std::fs::write(logs.join("predictions-notes.txt"), "").unwrap();
        let files = prediction_files(dir.path()).unwrap();
        assert_eq!(files.len(), 2);
        assert!(files[0].ends_with("predictions-20261126.jsonl"));
        assert_eq!(
            log_files_from(dir.path(), LogKind::Predictions, "20261127")
                .unwrap()
                .len(),
            1
        );
        // A cut-off late on the 26th keeps that day's file; one on the 27th drops it.
        let at = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp_micros();
        let mut kept = files.clone();
        keep_from(&mut kept, LogKind::Predictions, Some(at("2026-11-26T23:59:00Z")));
        assert_eq!(kept.len(), 2);
        keep_from(&mut kept, LogKind::Predictions, Some(at("2026-11-27T00:00:00Z")));
        assert_eq!(kept, files[1..]);
        keep_from(&mut kept, LogKind::Predictions, None);
        assert_eq!(kept.len(), 1);
        let mut ids = Vec::new();
        each_prediction(&files[1], |p| {
            ids.push(p.request_id.into_owned());
            Ok(())
        })
        .unwrap();
        assert_eq!(ids, ["r1", "r1"]);
    }

    #[test]
    fn a_malformed_middle_line_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("outcomes-20261127.jsonl");
        std::fs::write(&f, "{\"ts\":\"x\",\"metric\":\"m\",\"value\":1}\n{\"metric\":3}\n").unwrap();
        let e = each_outcome(&f, |_| Ok(())).unwrap_err().to_string();
        assert!(
            e.contains("outcomes-20261127.jsonl:2") && e.contains("not a log record"),
            "{e}"
        );
        assert!(
            prediction_files(dir.path())
                .unwrap_err()
                .to_string()
                .contains("no predictions")
        );
    }

    #[test]
    fn several_replicas_dirs_are_read_day_by_day() {
        let root = tempfile::tempdir().unwrap();
        for (r, days) in [("gw1", ["20261127", "20261128"]), ("gw2", ["20261126", "20261128"])] {
            let logs = root.path().join(r).join(LOGS_DIR);
            std::fs::create_dir_all(&logs).unwrap();
            for d in days {
                let name = LogKind::Predictions.file_name_of(d, Some(r));
                std::fs::write(logs.join(name), "").unwrap();
            }
        }
        let names = |p: &Path| -> Vec<String> {
            log_files(p, LogKind::Predictions)
                .unwrap()
                .iter()
                .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
                .collect()
        };
        let all = [
            "predictions-20261126.gw2.jsonl",
            "predictions-20261127.gw1.jsonl",
            "predictions-20261128.gw1.jsonl",
            "predictions-20261128.gw2.jsonl",
        ];
        assert_eq!(names(&root.path().join("gw*")), all);
        let list = format!(
            "{},{}",
            root.path().join("gw1").display(),
            root.path().join("gw2").display()
        );
        assert_eq!(names(Path::new(&list)), all);
        assert_eq!(names(&root.path().join("gw1")).len(), 2);
        let e = log_files(&root.path().join("nope*"), LogKind::Predictions).unwrap_err();
        assert!(e.to_string().contains("matches no directory"), "{e}");
    }
}
