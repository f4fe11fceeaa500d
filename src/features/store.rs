//! The embedded feature store: SQLite (`<data-dir>/features.db`, WAL, `synchronous=FULL`)
//! holding every update of every table with its event time, so the same data answers an
//! online lookup (the value as of now) and a training set (the value as of each event).
//!
//! A batch load is a new *snapshot* of a table: its rows are written under a new snapshot
//! id and the table's active snapshot switches in the same transaction, so readers see
//! the old snapshot or the new one, never a half-loaded table; a load that fails midway
//! leaves the old one in place. Pushed near-real-time values join the active snapshot.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::pit::History;
use crate::error::{Error, Result};

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS feature_tables (
    name       TEXT PRIMARY KEY,
    key        TEXT NOT NULL,
    columns    TEXT NOT NULL,
    snapshot   INTEGER NOT NULL,
    loaded_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS feature_values (
    tbl       TEXT NOT NULL,
    snapshot  INTEGER NOT NULL,
    entity    TEXT NOT NULL,
    col       TEXT NOT NULL,
    ts_us     INTEGER NOT NULL,
    value     REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS feature_values_lookup ON feature_values (tbl, snapshot, entity, col, ts_us);
"#;

/// A pushed row with columns by number: entity, event time (µs), (column, value) pairs.
pub type IndexedRow = (String, i64, Vec<(usize, f64)>);

/// One row of a batch: the entity id, the event time, and the column values (NaN: missing).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub entity: String,
    pub ts_us: i64,
    pub values: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableInfo {
    pub name: String,
    pub key: String,
    pub columns: Vec<String>,
    pub snapshot: i64,
    pub loaded_at: String,
    pub entities: u64,
    pub values: u64,
    /// Newest event time in the table (RFC 3339), if any.
    pub newest: Option<String>,
}

/// One entity's latest value of one column.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Latest {
    pub entity: String,
    pub column: String,
    pub value: f64,
    pub ts: String,
}

pub fn rfc3339_us(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .map(|t| crate::wire::log::timestamp(&t))
        .unwrap_or_else(|| us.to_string())
}

pub struct FeatureStore {
    conn: Connection,
}

impl FeatureStore {
    /// Open (creating) the store in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<FeatureStore> {
        crate::store::private_dir(data_dir).map_err(|e| Error::io(data_dir, e))?;
        let conn = crate::store::open_sqlite(&data_dir.join("features.db"))?;
        conn.execute_batch(SCHEMA)?;
        Ok(FeatureStore { conn })
    }

    /// Load `rows` as a new snapshot of `table` (key column `key`, value `columns`),
    /// switched in atomically; the previous snapshot's rows are dropped in the same
    /// transaction. Returns the number of values written.
    pub fn load_snapshot(
        &mut self,
        table: &str,
        key: &str,
        columns: &[String],
        rows: impl Iterator<Item = Result<Row>>,
    ) -> Result<u64> {
        let tx = self.conn.transaction()?;
        let previous: Option<i64> = tx
            .query_row(
                "SELECT snapshot FROM feature_tables WHERE name = ?1",
                params![table],
                |r| r.get(0),
            )
            .optional()?;
        let snapshot = previous.map_or(1, |p| p + 1);
        let mut written = 0u64;
        {
            let mut insert = tx.prepare(
                "INSERT INTO feature_values (tbl, snapshot, entity, col, ts_us, value) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for row in rows {
                let row = row?;
                for (c, v) in columns.iter().zip(&row.values) {
                    if v.is_finite() {
                        insert.execute(params![table, snapshot, row.entity, c, row.ts_us, v])?;
                        written += 1;
                    }
                }
            }
        }
        let cols = serde_json::to_string(columns).unwrap_or_default();
        tx.execute(
            "INSERT INTO feature_tables (name, key, columns, snapshot, loaded_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (name) DO UPDATE SET key = ?2, columns = ?3, snapshot = ?4, loaded_at = ?5",
            params![table, key, cols, snapshot, crate::store::now_rfc3339()],
        )?;
        tx.execute(
            "DELETE FROM feature_values WHERE tbl = ?1 AND snapshot <> ?2",
            params![table, snapshot],
        )?;
        tx.commit()?;
        Ok(written)
    }

    /// Append pushed (near-real-time) values to `table`'s active snapshot, durably, in
    /// one transaction: every row or none. Each row: entity, event time, and
    /// `(column index, value)` pairs (columns as `columns(table)` lists them).
    /// Returns the snapshot written to.
    pub fn push(&mut self, table: &str, rows: &[IndexedRow]) -> Result<i64> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let (snapshot, columns) = {
            let (s, c, _) = active_in(&tx, table)?;
            (s, c)
        };
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO feature_values (tbl, snapshot, entity, col, ts_us, value) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for (entity, ts, values) in rows {
                for (c, v) in values {
                    let Some(col) = columns.get(*c) else {
                        return Err(Error::Usage(format!(
                            "feature table {table:?} has no column number {c}"
                        )));
                    };
                    if v.is_finite() {
                        insert.execute(params![table, snapshot, entity, col, ts, v])?;
                    }
                }
            }
        }
        tx.commit()?;
        Ok(snapshot)
    }

    /// `table`'s key column and value columns.
    pub fn columns(&self, table: &str) -> Result<(String, Vec<String>)> {
        let (_, c, k) = self.active(table)?;
        Ok((k, c))
    }

    /// Every table's (name, active snapshot).
    pub fn snapshots(&self) -> Result<Vec<(String, i64)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name, snapshot FROM feature_tables ORDER BY name")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The values of `table`'s snapshot `snapshot` stored after row id `after`, in
    /// arrival order: (row id, entity, column, event time, value). For the online index:
    /// read once whole, then only what arrived since (a row-id range scan: the unary `+`
    /// keeps SQLite off the lookup index, which would read the whole snapshot each time).
    pub fn values_since(
        &self,
        table: &str,
        snapshot: i64,
        after: i64,
        mut each: impl FnMut(i64, &str, &str, i64, f64),
    ) -> Result<()> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT rowid, entity, col, ts_us, value FROM feature_values WHERE rowid > ?3 AND +tbl = ?1 AND +snapshot = ?2 ORDER BY rowid",
        )?;
        let mut rows = stmt.query(params![table, snapshot, after])?;
        while let Some(r) = rows.next()? {
            let entity: &str = r.get_ref(1)?.as_str().unwrap_or_default();
            let col: &str = r.get_ref(2)?.as_str().unwrap_or_default();
            each(r.get(0)?, entity, col, r.get(3)?, r.get(4)?);
        }
        Ok(())
    }

    fn active(&self, table: &str) -> Result<(i64, Vec<String>, String)> {
        active_in(&self.conn, table)
    }

    /// Every entity's history of `table.column` (for point-in-time joins).
    pub fn history(&self, table: &str, column: &str) -> Result<HashMap<String, History>> {
        let (snapshot, columns, _) = self.active(table)?;
        if !columns.iter().any(|c| c == column) {
            return Err(Error::Usage(format!(
                "feature table {table:?} has no column {column:?} (columns: {})",
                columns.join(", ")
            )));
        }
        let mut stmt = self
            .conn
            .prepare("SELECT entity, ts_us, value FROM feature_values WHERE tbl = ?1 AND snapshot = ?2 AND col = ?3 ORDER BY rowid")?;
        let mut out: HashMap<String, History> = HashMap::new();
        let rows = stmt.query_map(params![table, snapshot, column], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, f64>(2)?))
        })?;
        for row in rows {
            let (e, ts, v) = row?;
            out.entry(e).or_default().insert(ts, v);
        }
        Ok(out)
    }

    /// The latest value (by event time, then arrival) of every column of `entity`.
    pub fn latest(&self, table: &str, entity: &str) -> Result<Vec<Latest>> {
        let (snapshot, columns, _) = self.active(table)?;
        let mut stmt = self.conn.prepare(
            "SELECT ts_us, value FROM feature_values WHERE tbl = ?1 AND snapshot = ?2 AND entity = ?3 AND col = ?4
             ORDER BY ts_us DESC, rowid DESC LIMIT 1",
        )?;
        let mut out = Vec::new();
        for c in &columns {
            if let Some((ts, v)) = stmt
                .query_row(params![table, snapshot, entity, c], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, f64>(1)?))
                })
                .optional()?
            {
                out.push(Latest {
                    entity: entity.to_string(),
                    column: c.clone(),
                    value: v,
                    ts: rfc3339_us(ts),
                });
            }
        }
        Ok(out)
    }

    pub fn tables(&self) -> Result<Vec<TableInfo>> {
        let mut stmt = self.conn.prepare(
            "SELECT t.name, t.key, t.columns, t.snapshot, t.loaded_at,
                    (SELECT COUNT(DISTINCT entity) FROM feature_values v WHERE v.tbl = t.name AND v.snapshot = t.snapshot),
                    (SELECT COUNT(*) FROM feature_values v WHERE v.tbl = t.name AND v.snapshot = t.snapshot),
                    (SELECT MAX(ts_us) FROM feature_values v WHERE v.tbl = t.name AND v.snapshot = t.snapshot)
             FROM feature_tables t ORDER BY t.name",
        )?;
        let rows = stmt.query_map([], |r| {
            let cols: String = r.get(2)?;
            Ok(TableInfo {
                name: r.get(0)?,
                key: r.get(1)?,
                columns: serde_json::from_str(&cols).unwrap_or_default(),
                snapshot: r.get(3)?,
                loaded_at: r.get(4)?,
                entities: r.get::<_, i64>(5)? as u64,
                values: r.get::<_, i64>(6)? as u64,
                newest: r.get::<_, Option<i64>>(7)?.map(rfc3339_us),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

/// `table`'s active snapshot, value columns and key column.
fn active_in(conn: &Connection, table: &str) -> Result<(i64, Vec<String>, String)> {
    conn.query_row(
        "SELECT snapshot, columns, key FROM feature_tables WHERE name = ?1",
        params![table],
        |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)),
    )
    .optional()?
    .map(|(s, c, k)| (s, serde_json::from_str(&c).unwrap_or_default(), k))
    .ok_or_else(|| {
        Error::Usage(format!(
            "no feature table {table:?} (load one with `mlctl features load`)"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(e: &str, ts: i64, v: &[f64]) -> Result<Row> {
        Ok(Row {
            entity: e.into(),
            ts_us: ts,
            values: v.to_vec(),
        })
    }

    #[test]
    fn a_snapshot_swaps_whole_and_a_failed_load_keeps_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = FeatureStore::open(dir.path()).unwrap();
        let cols = vec!["a".to_string(), "b".to_string()];
        let n = s
            .load_snapshot(
                "t",
                "id",
                &cols,
                [row("r1", 10, &[1.0, 2.0]), row("r1", 20, &[3.0, f64::NAN])].into_iter(),
            )
            .unwrap();
        assert_eq!(n, 3, "NaN is a missing value, not written");
        let latest = s.latest("t", "r1").unwrap();
        assert_eq!((latest[0].value, latest[1].value), (3.0, 2.0));
        // A load that fails halfway: the old snapshot keeps serving, whole.
        let bad = [row("r1", 30, &[9.0, 9.0]), Err(Error::input("f.csv:3", "bad value"))];
        assert!(s.load_snapshot("t", "id", &cols, bad.into_iter()).is_err());
        assert_eq!(s.latest("t", "r1").unwrap()[0].value, 3.0);
        assert_eq!(s.tables().unwrap()[0].snapshot, 1);
        // A good one replaces it completely.
        s.load_snapshot("t", "id", &cols, [row("r2", 5, &[7.0, 8.0])].into_iter())
            .unwrap();
        assert!(s.latest("t", "r1").unwrap().is_empty());
        let info = &s.tables().unwrap()[0];
        assert_eq!((info.snapshot, info.entities, info.values), (2, 1, 2));
        assert_eq!(s.history("t", "a").unwrap()["r2"].as_of(5, None), Some(7.0));
        assert!(s.history("t", "zzz").is_err());
        assert!(
            s.latest("nope", "r1")
                .unwrap_err()
                .to_string()
                .contains("features load")
        );
    }
}
