//! `mlctl features join`: a point-in-time training set. Each spine row (an event with its
//! entity ids and its time) gets the view's features as they were at that time — request
//! features from the spine's columns of the same name, lookups from the feature store's
//! history through `pit::History::as_of` (the definition the online lookup uses), else the
//! view's default, else empty. Nothing stamped after the event leaks into it.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use serde::Serialize;

use super::files::{parse_time, spine, spine_column};
use super::pit::History;
use super::store::FeatureStore;
use super::view::{Source, View};
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JoinReport {
    pub rows: u64,
    /// Per lookup feature: rows that found a value, and rows that fell back to the default
    /// (or stayed empty).
    pub found: Vec<(String, u64)>,
    pub defaulted: Vec<(String, u64)>,
    pub out: String,
}

/// Join `spine_path` (entity column `key`, or each lookup's own key column; time column
/// `at`) with `view` from `store`, writing CSV to `out`.
pub fn join(
    store: &FeatureStore,
    view: &View,
    spine_path: &Path,
    key: Option<&str>,
    at: &str,
    out: &Path,
) -> Result<JoinReport> {
    let (headers, records) = spine(spine_path)?;
    let at_i = spine_column(spine_path, &headers, at, "--at")?;
    // Where each feature comes from: the spine itself (copied as is), or (entity column,
    // history, max age, default).
    enum Plan {
        Spine,
        Lookup {
            entity: usize,
            history: HashMap<String, History>,
            max_age_us: Option<i64>,
            default: Option<f64>,
        },
    }
    let mut plans = Vec::with_capacity(view.features.len());
    let mut cache: HashMap<(String, String), HashMap<String, History>> = HashMap::new();
    for f in &view.features {
        if headers.contains(&f.name) && !matches!(f.source, Source::Request) {
            return Err(Error::Usage(format!(
                "{}: the spine already has a column {:?}, the name of a lookup feature of the view",
                spine_path.display(),
                f.name
            )));
        }
        plans.push(match &f.source {
            Source::Request => {
                spine_column(spine_path, &headers, &f.name, "request feature")?;
                Plan::Spine
            }
            Source::Lookup {
                table,
                column,
                key: own_key,
                default,
                max_age,
            } => {
                let entity_col = key.unwrap_or(own_key);
                let entity = spine_column(spine_path, &headers, entity_col, "--key")?;
                let k = (table.clone(), column.clone());
                let history = match cache.get(&k) {
                    Some(h) => h.clone(),
                    None => {
                        let h = store.history(table, column)?;
                        cache.insert(k, h.clone());
                        h
                    }
                };
                Plan::Lookup {
                    entity,
                    history,
                    max_age_us: max_age.map(|d| d.as_micros().min(i64::MAX as u128) as i64),
                    default: *default,
                }
            }
        });
    }
    let file = std::fs::File::create(out).map_err(|e| Error::io(out, e))?;
    let mut w = csv::Writer::from_writer(std::io::BufWriter::new(file));
    let lookups: Vec<String> = view
        .features
        .iter()
        .filter(|f| !matches!(f.source, Source::Request))
        .map(|f| f.name.clone())
        .collect();
    let mut header = headers.clone();
    header.extend(lookups.iter().cloned());
    w.write_record(&header).map_err(|e| Error::io(out, e.into()))?;
    let mut found = vec![0u64; lookups.len()];
    let mut defaulted = vec![0u64; lookups.len()];
    let mut rows = 0u64;
    for (n, rec) in records.enumerate() {
        let line = n + 2;
        let shown = || format!("{}:{line}", spine_path.display());
        let rec = rec.map_err(|e| Error::input(shown(), format!("unreadable CSV row: {e}")))?;
        let t = parse_time(rec.get(at_i).unwrap_or("")).ok_or_else(|| {
            Error::input(
                format!("{}: column {at}", shown()),
                "expected a time (RFC 3339 or Unix seconds)",
            )
        })?;
        let mut row: Vec<String> = rec.iter().map(str::to_string).collect();
        let mut li = 0;
        for p in &plans {
            if let Plan::Lookup {
                entity,
                history,
                max_age_us,
                default,
            } = p
            {
                let id = rec.get(*entity).unwrap_or("").trim();
                match history.get(id).and_then(|h| h.as_of(t, *max_age_us)) {
                    Some(v) => {
                        found[li] += 1;
                        row.push(v.to_string());
                    }
                    None => {
                        defaulted[li] += 1;
                        row.push(default.map(|d| d.to_string()).unwrap_or_default());
                    }
                }
                li += 1;
            }
        }
        w.write_record(&row).map_err(|e| Error::io(out, e.into()))?;
        rows += 1;
    }
    let mut inner = w.into_inner().map_err(|e| Error::io(out, e.into_error()))?;
    inner.flush().map_err(|e| Error::io(out, e))?;
    Ok(JoinReport {
        rows,
        found: lookups.iter().cloned().zip(found).collect(),
        defaulted: lookups.into_iter().zip(defaulted).collect(),
        out: out.display().to_string(),
    })
}
