//! `mlctl features load|get|ls|join` on the feature store in the data dir.

use serde::Serialize;

use crate::cli::{FeaturesGetArgs, FeaturesJoinArgs, FeaturesLoadArgs, GlobalArgs};
use crate::error::{Error, Result};
use crate::features::join::{JoinReport, join};
use crate::features::online::Slot;
use crate::features::redis::RedisStore;
use crate::features::store::{FeatureStore, Latest, TableInfo, rfc3339_us};
use crate::features::{files, view};
use crate::output::{Grid, Report, fmt_num};
use rustc_hash::FxHashMap;

fn open(g: &GlobalArgs) -> Result<FeatureStore> {
    FeatureStore::open(&super::data_dir(g))
}

fn check_name(what: &str, s: &str) -> Result<()> {
    if crate::wire::valid_name(s) {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "{what} {s:?}: expected {}",
            crate::wire::NAME_RULE
        )))
    }
}

#[derive(Debug, Serialize)]
pub struct LoadReport {
    pub table: String,
    pub columns: Vec<String>,
    pub values: u64,
}

impl Report for LoadReport {
    fn grids(&self) -> Vec<Grid> {
        vec![Grid {
            title: Some(format!("loaded {} as a new snapshot", self.table)),
            headers: vec!["columns".into(), "values".into()],
            rows: vec![vec![self.columns.join(", "), self.values.to_string()]],
        }]
    }
}

fn redis(url: &str) -> Result<RedisStore> {
    RedisStore::new(url, std::time::Duration::from_secs(10))
}

/// Load a table file as a new snapshot: into the data dir's store (history, for joins and
/// the embedded online store) and, with `--feature-store`, the latest values into Redis.
pub async fn load(a: &FeaturesLoadArgs, g: &GlobalArgs) -> Result<LoadReport> {
    check_name("table", &a.table)?;
    let remote = a.feature_store.as_deref().map(redis).transpose()?;
    let now = chrono::Utc::now().timestamp_micros();
    let (columns, rows) = files::table_rows(&a.from, &a.key, a.ts_col.as_deref(), now)?;
    if columns.is_empty() {
        return Err(Error::input(
            format!("{}:1", a.from.display()),
            "no feature columns besides the key and time",
        ));
    }
    // The latest value per entity and column, by event time then file order (pit.rs).
    let mut latest: FxHashMap<String, Vec<Option<Slot>>> = FxHashMap::default();
    let width = columns.len();
    let rows = rows.inspect(|r| {
        if let Ok(row) = r {
            let slots = latest.entry(row.entity.clone()).or_insert_with(|| vec![None; width]);
            for (s, v) in slots.iter_mut().zip(&row.values) {
                if v.is_finite() && s.is_none_or(|s| row.ts_us >= s.ts_us) {
                    *s = Some(Slot {
                        ts_us: row.ts_us,
                        value: *v,
                    });
                }
            }
        }
    });
    let values = open(g)?.load_snapshot(&a.table, &a.key, &columns, rows)?;
    if let Some(r) = remote {
        r.load_snapshot(&a.table, &a.key, &columns, &latest)
            .await
            .map_err(|e| {
                Error::State(format!(
                    "{e} (the data dir's store has the new snapshot; the shared store does not: load again)"
                ))
            })?;
    }
    Ok(LoadReport {
        table: a.table.clone(),
        columns,
        values,
    })
}

#[derive(Debug, Serialize)]
pub struct GetReport {
    pub table: String,
    pub values: Vec<Latest>,
    /// Keys with no value at all.
    pub missing: Vec<String>,
}

impl Report for GetReport {
    fn grids(&self) -> Vec<Grid> {
        let mut rows: Vec<Vec<String>> = self
            .values
            .iter()
            .map(|l| vec![l.entity.clone(), l.column.clone(), fmt_num(l.value), l.ts.clone()])
            .collect();
        rows.extend(
            self.missing
                .iter()
                .map(|k| vec![k.clone(), "-".into(), "(unknown)".into(), "-".into()]),
        );
        vec![Grid {
            title: Some(format!("{} (latest values)", self.table)),
            headers: ["key", "column", "value", "event time"]
                .iter()
                .map(|h| h.to_string())
                .collect(),
            rows,
        }]
    }
}

pub async fn get(a: &FeaturesGetArgs, g: &GlobalArgs) -> Result<GetReport> {
    let mut values = Vec::new();
    let mut missing = Vec::new();
    if let Some(url) = &a.feature_store {
        let r = redis(url)?;
        for k in &a.keys {
            let v = r.latest(&a.table, k).await?;
            if v.is_empty() {
                missing.push(k.clone());
            }
            values.extend(v.into_iter().map(|(column, s)| Latest {
                entity: k.clone(),
                column,
                value: s.value,
                ts: rfc3339_us(s.ts_us),
            }));
        }
        return Ok(GetReport {
            table: a.table.clone(),
            values,
            missing,
        });
    }
    let store = open(g)?;
    for k in &a.keys {
        let v = store.latest(&a.table, k)?;
        if v.is_empty() {
            missing.push(k.clone());
        }
        values.extend(v);
    }
    Ok(GetReport {
        table: a.table.clone(),
        values,
        missing,
    })
}

#[derive(Debug, Serialize)]
pub struct LsReport {
    pub tables: Vec<TableInfo>,
}

impl Report for LsReport {
    fn grids(&self) -> Vec<Grid> {
        vec![Grid {
            title: Some("feature tables".into()),
            headers: [
                "table",
                "key",
                "columns",
                "entities",
                "values",
                "newest event",
                "loaded",
            ]
            .iter()
            .map(|h| h.to_string())
            .collect(),
            rows: self
                .tables
                .iter()
                .map(|t| {
                    vec![
                        t.name.clone(),
                        t.key.clone(),
                        t.columns.join(", "),
                        t.entities.to_string(),
                        t.values.to_string(),
                        t.newest.clone().unwrap_or_default(),
                        t.loaded_at.clone(),
                    ]
                })
                .collect(),
        }]
    }
}

pub fn ls(g: &GlobalArgs) -> Result<LsReport> {
    Ok(LsReport {
        tables: open(g)?.tables()?,
    })
}

impl Report for JoinReport {
    fn grids(&self) -> Vec<Grid> {
        vec![Grid {
            title: Some(format!("{} rows written to {}", self.rows, self.out)),
            headers: vec!["feature".into(), "found".into(), "default or empty".into()],
            rows: self
                .found
                .iter()
                .zip(&self.defaulted)
                .map(|((f, n), (_, d))| vec![f.clone(), n.to_string(), d.to_string()])
                .collect(),
        }]
    }
}

pub fn join_cmd(a: &FeaturesJoinArgs, g: &GlobalArgs) -> Result<JoinReport> {
    let v = view::parse_view(&a.view)?;
    join(&open(g)?, &v, &a.spine, a.key.as_deref(), &a.at, &a.out)
}
