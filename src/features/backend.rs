//! The online store behind the gateway's lookups and pushes: embedded (the data dir's
//! SQLite store with its in-memory index, the default) or a shared Redis
//! (`--feature-store redis://…`) that several gateways read.

use std::sync::Arc;

use super::online::{Embedded, Fetched, PushRow};
use super::redis::RedisStore;
use crate::error::{Error, Result};

#[derive(Clone)]
pub enum OnlineStore {
    Embedded(Arc<Embedded>),
    Redis(Arc<RedisStore>),
}

impl OnlineStore {
    /// Where lookups go, for logs and status (no credentials).
    pub fn describe(&self) -> String {
        match self {
            OnlineStore::Embedded(_) => "embedded (features.db in the data dir)".into(),
            OnlineStore::Redis(r) => r.shown.clone(),
        }
    }

    /// The rows `wanted` lists; tables that cannot be read are in `Fetched::failed`.
    pub async fn fetch(&self, wanted: &[(&str, Vec<&str>, Vec<String>)]) -> Fetched {
        match self {
            OnlineStore::Embedded(e) => e.fetch(wanted),
            OnlineStore::Redis(r) => r.fetch(wanted).await,
        }
    }

    /// Store pushed rows durably (all or none), then serve them.
    pub async fn push(&self, table: &str, rows: Vec<PushRow>) -> Result<usize> {
        match self {
            OnlineStore::Embedded(e) => {
                let idx = e.table(table).ok_or_else(|| {
                    Error::Usage(format!(
                        "no feature table {table:?} (load one with `mlctl features load`)"
                    ))
                })?;
                let mut mapped = Vec::with_capacity(rows.len());
                for (entity, ts, values) in rows {
                    let mut vs = Vec::with_capacity(values.len());
                    for (c, v) in values {
                        let i = idx.column(&c).ok_or_else(|| {
                            Error::Usage(format!(
                                "feature table {table:?} has no column {c:?} (columns: {})",
                                idx.columns.join(", ")
                            ))
                        })?;
                        vs.push((i, v));
                    }
                    mapped.push((entity, ts, vs));
                }
                let n = mapped.len();
                let (e, table) = (e.clone(), table.to_string());
                tokio::task::spawn_blocking(move || e.push(&table, &mapped))
                    .await
                    .map_err(|e| Error::State(format!("feature push task failed: {e}")))??;
                Ok(n)
            }
            OnlineStore::Redis(r) => r.push(table, &rows).await,
        }
    }

    /// Follow loads made by other processes (embedded: re-read changed snapshots).
    pub async fn refresh(&self) -> Result<()> {
        match self {
            OnlineStore::Embedded(e) => {
                let e = e.clone();
                tokio::task::spawn_blocking(move || e.refresh())
                    .await
                    .map_err(|e| Error::State(format!("feature refresh task failed: {e}")))?
            }
            OnlineStore::Redis(r) => r.refresh().await,
        }
    }

    /// Whether `table` exists (a view's tables are checked when it is registered).
    pub async fn has_table(&self, table: &str) -> Result<bool> {
        match self {
            OnlineStore::Embedded(e) => {
                if e.table(table).is_none() {
                    self.refresh().await?; // loaded since the last refresh?
                }
                Ok(e.table(table).is_some())
            }
            OnlineStore::Redis(r) => {
                r.refresh().await?;
                Ok(r.table(table).is_some())
            }
        }
    }
}
