//! The online side of the feature store: each table's latest value per entity and
//! column, in memory, for lookups on the request path (a hash lookup under a read lock:
//! well under a microsecond), kept in step with the SQLite store (`store::FeatureStore`).
//!
//! The index is only ever filled *from the database*, by row id: a table is read whole
//! when its snapshot changes (a `features load` committed, by this process or another)
//! and then only the rows stored since. A push is committed to SQLite first and then read
//! back the same way, so an acknowledged push is durable and an index can never hold a
//! value the database lost. One mutex orders pushes and refreshes: a snapshot swap never
//! drops a push that was acknowledged before it.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use arc_swap::ArcSwap;
use rustc_hash::FxHashMap;

use super::store::{FeatureStore, IndexedRow};
use crate::error::Result;

/// One stored value: its event time and the value (NaN: none).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slot {
    pub ts_us: i64,
    pub value: f64,
}

const EMPTY: Slot = Slot {
    ts_us: i64::MIN,
    value: f64::NAN,
};

/// The fetched rows: table → entity → the table's slots for the wanted columns, in the
/// order `Rows::wanted` listed them; a table in `failed` could not be read.
#[derive(Debug, Default)]
pub struct Fetched {
    pub values: FxHashMap<String, FxHashMap<String, Vec<Option<Slot>>>>,
    pub failed: FxHashMap<String, String>,
}

impl Fetched {
    pub fn insert(&mut self, table: &str, entity: &str, slots: Vec<Option<Slot>>) {
        match self.values.get_mut(table) {
            Some(t) => {
                t.insert(entity.to_string(), slots);
            }
            None => {
                let mut t = FxHashMap::default();
                t.insert(entity.to_string(), slots);
                self.values.insert(table.to_string(), t);
            }
        }
    }

    /// `entity`'s slots in `table` (no allocation).
    pub fn get(&self, table: &str, entity: &str) -> Option<&[Option<Slot>]> {
        self.values.get(table)?.get(entity).map(Vec::as_slice)
    }
}

/// Pushed values: entity, event time (µs), (column name, value) pairs.
pub type PushRow = (String, i64, Vec<(String, f64)>);

/// One table's latest values, by entity.
pub struct TableIndex {
    pub name: String,
    pub key: String,
    pub columns: Vec<String>,
    pub snapshot: i64,
    col_index: FxHashMap<String, usize>,
    rows: RwLock<FxHashMap<Box<str>, Box<[Slot]>>>,
    /// The last database row folded in (guarded by `Embedded::db`).
    last_rowid: Mutex<i64>,
}

impl TableIndex {
    fn new(name: &str, key: String, columns: Vec<String>, snapshot: i64) -> TableIndex {
        TableIndex {
            name: name.to_string(),
            key,
            col_index: columns.iter().enumerate().map(|(i, c)| (c.clone(), i)).collect(),
            columns,
            snapshot,
            rows: RwLock::new(FxHashMap::default()),
            last_rowid: Mutex::new(0),
        }
    }

    pub fn column(&self, name: &str) -> Option<usize> {
        self.col_index.get(name).copied()
    }

    /// `entity`'s latest value of column number `col`.
    pub fn get(&self, entity: &str, col: usize) -> Option<Slot> {
        let rows = self.rows.read().unwrap_or_else(PoisonError::into_inner);
        rows.get(entity)
            .and_then(|r| r.get(col).copied())
            .filter(|s| !s.value.is_nan())
    }

    pub fn entities(&self) -> usize {
        self.rows.read().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Fold in the rows the database stored since the last call.
    fn catch_up(&self, db: &FeatureStore) -> Result<u64> {
        let mut last = self.last_rowid.lock().unwrap_or_else(PoisonError::into_inner);
        let mut fresh: Vec<(i64, Box<str>, usize, i64, f64)> = Vec::new();
        db.values_since(&self.name, self.snapshot, *last, |rowid, entity, col, ts, v| {
            if let Some(c) = self.column(col) {
                fresh.push((rowid, entity.into(), c, ts, v));
            }
        })?;
        let n = fresh.len() as u64;
        let width = self.columns.len();
        let mut rows = self.rows.write().unwrap_or_else(PoisonError::into_inner);
        for (rowid, entity, c, ts, v) in fresh {
            *last = rowid;
            let slots = rows
                .entry(entity)
                .or_insert_with(|| vec![EMPTY; width].into_boxed_slice());
            // The latest by event time; equal times: the one stored last (pit.rs).
            if ts >= slots[c].ts_us {
                slots[c] = Slot { ts_us: ts, value: v };
            }
        }
        Ok(n)
    }
}

/// The embedded online store: `<data-dir>/features.db` and its in-memory index.
pub struct Embedded {
    db: Mutex<FeatureStore>,
    tables: ArcSwap<FxHashMap<String, Arc<TableIndex>>>,
}

impl Embedded {
    /// Open the data dir's feature store and index every table.
    pub fn open(data_dir: &Path) -> Result<Embedded> {
        let e = Embedded {
            db: Mutex::new(FeatureStore::open(data_dir)?),
            tables: ArcSwap::from_pointee(FxHashMap::default()),
        };
        e.refresh()?;
        Ok(e)
    }

    pub fn table(&self, name: &str) -> Option<Arc<TableIndex>> {
        self.tables.load().get(name).cloned()
    }

    pub fn tables(&self) -> Vec<Arc<TableIndex>> {
        let mut t: Vec<_> = self.tables.load().values().cloned().collect();
        t.sort_by(|a, b| a.name.cmp(&b.name));
        t
    }

    /// Bring the index up to the database: tables whose snapshot changed are read whole
    /// and swapped in (lookups see the old snapshot until then); the others fold in what
    /// was stored since. Blocking (SQLite): call it off the async workers.
    pub fn refresh(&self) -> Result<()> {
        let db = self.db.lock().unwrap_or_else(PoisonError::into_inner);
        self.refresh_locked(&db)
    }

    fn refresh_locked(&self, db: &FeatureStore) -> Result<()> {
        let current = self.tables.load_full();
        let mut next: FxHashMap<String, Arc<TableIndex>> = FxHashMap::default();
        let mut changed = false;
        for (name, snapshot) in db.snapshots()? {
            let idx = match current.get(&name) {
                Some(idx) if idx.snapshot == snapshot => idx.clone(),
                _ => {
                    let (key, columns) = db.columns(&name)?;
                    changed = true;
                    Arc::new(TableIndex::new(&name, key, columns, snapshot))
                }
            };
            idx.catch_up(db)?;
            next.insert(name, idx);
        }
        if changed || next.len() != current.len() {
            self.tables.store(Arc::new(next));
        }
        Ok(())
    }

    /// The rows `wanted` lists (see `assemble::Rows::wanted`); a table not loaded counts
    /// as one that cannot be read.
    pub fn fetch(&self, wanted: &[(&str, Vec<&str>, Vec<String>)]) -> Fetched {
        let tables = self.tables.load();
        let mut out = Fetched::default();
        for (table, cols, entities) in wanted {
            let Some(idx) = tables.get(*table) else {
                out.failed.insert(table.to_string(), "the table is not loaded".into());
                continue;
            };
            let cols: Vec<Option<usize>> = cols.iter().map(|c| idx.column(c)).collect();
            let rows = idx.rows.read().unwrap_or_else(PoisonError::into_inner);
            for e in entities {
                if let Some(slots) = rows.get(e.as_str()) {
                    let picked = cols
                        .iter()
                        .map(|c| c.and_then(|c| slots.get(c).copied()).filter(|s| !s.value.is_nan()))
                        .collect();
                    out.insert(table, e, picked);
                }
            }
        }
        out
    }

    /// Store pushed values durably, then show them to lookups. Blocking (SQLite).
    pub fn push(&self, table: &str, rows: &[IndexedRow]) -> Result<()> {
        let mut db = self.db.lock().unwrap_or_else(PoisonError::into_inner);
        let snapshot = db.push(table, rows)?;
        match self.table(table) {
            Some(idx) if idx.snapshot == snapshot => {
                idx.catch_up(&db)?;
                Ok(())
            }
            _ => self.refresh_locked(&db),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::store::Row;
    use super::*;

    #[test]
    fn the_index_follows_loads_and_pushes_from_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let cols = vec!["a".to_string(), "b".to_string()];
        let mut loader = FeatureStore::open(dir.path()).unwrap();
        let rows = |v: Vec<(&str, i64, f64, f64)>| {
            v.into_iter()
                .map(|(e, ts, a, b)| {
                    Ok(Row {
                        entity: e.into(),
                        ts_us: ts,
                        values: vec![a, b],
                    })
                })
                .collect::<Vec<_>>()
                .into_iter()
        };
        loader
            .load_snapshot(
                "t",
                "id",
                &cols,
                rows(vec![("r1", 20, 1.0, 2.0), ("r1", 10, 9.0, f64::NAN)]),
            )
            .unwrap();
        let online = Embedded::open(dir.path()).unwrap();
        let t = online.table("t").unwrap();
        assert_eq!(
            t.get("r1", 0).unwrap().value,
            1.0,
            "the latest by event time, not by arrival"
        );
        assert_eq!(t.get("r1", 1).unwrap().value, 2.0);
        assert!(t.get("r2", 0).is_none());
        // A push: durable, then visible; an older event time does not replace a newer value.
        online.push("t", &[("r2".into(), 30, vec![(1, 5.0)])]).unwrap();
        online.push("t", &[("r1".into(), 5, vec![(0, 7.0)])]).unwrap();
        assert_eq!(t.get("r2", 1).unwrap().value, 5.0);
        assert!(t.get("r2", 0).is_none());
        assert_eq!(t.get("r1", 0).unwrap().value, 1.0);
        assert_eq!(
            FeatureStore::open(dir.path()).unwrap().latest("t", "r2").unwrap()[0].value,
            5.0
        );
        // A load by another process: the old snapshot serves until refresh swaps it whole.
        loader
            .load_snapshot("t", "id", &cols, rows(vec![("r3", 1, 3.0, 3.0)]))
            .unwrap();
        assert_eq!(online.table("t").unwrap().get("r1", 0).unwrap().value, 1.0);
        online.refresh().unwrap();
        let t2 = online.table("t").unwrap();
        assert!(t2.get("r1", 0).is_none() && t2.get("r2", 1).is_none());
        assert_eq!(t2.get("r3", 0).unwrap().value, 3.0);
        // Unknown table: an error naming it.
        assert!(online.push("nope", &[]).unwrap_err().to_string().contains("nope"));
    }
}
