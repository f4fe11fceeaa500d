//! Readers of the gateway's own logs (`predictions-*.jsonl`, `outcomes-*.jsonl`), shared by
//! `abtest --from-gateway` and `drift check --from-gateway`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

/// The gateway's daily log files with `prefix` under a data dir (or its `logs/`), in
/// date order.
pub fn log_files(dir: &Path, prefix: &str) -> Result<Vec<PathBuf>> {
    let logs = if dir.join("logs").is_dir() {
        dir.join("logs")
    } else {
        dir.to_path_buf()
    };
    let rd = std::fs::read_dir(&logs).map_err(|e| Error::io(&logs, e))?;
    let mut files: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix) && (n.ends_with(".jsonl") || n.ends_with(".jsonl.gz")))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Each record of a gateway JSONL log (gzip too). A torn last line — a machine crash
/// inside the fsync window — is skipped with a warning, anything else malformed is an
/// error naming file:line.
pub fn each_record<T: for<'de> Deserialize<'de>>(path: &Path, mut f: impl FnMut(T) -> Result<()>) -> Result<()> {
    // The gateway's own schema: scan rows as whole objects.
    use std::io::BufRead;
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let reader: Box<dyn std::io::Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    for (i, line) in std::io::BufReader::new(reader).lines().enumerate() {
        let line = line.map_err(|e| Error::input(format!("{}:{}", path.display(), i + 1), e.to_string()))?;
        if line.trim().is_empty() {
            continue;
        }
        // A torn last line (machine crash inside the fsync window) is skipped, not fatal.
        match serde_json::from_str::<T>(&line) {
            Ok(v) => f(v)?,
            Err(e) if !line.ends_with('}') => {
                tracing::warn!("{}:{}: skipping a torn record: {e}", path.display(), i + 1);
            }
            Err(e) => {
                return Err(Error::input(
                    format!("{}:{}", path.display(), i + 1),
                    format!("not a log record: {e}"),
                ));
            }
        }
    }
    Ok(())
}
