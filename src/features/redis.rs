//! The shared online store: a Redis server (standalone or behind Sentinel, not Cluster)
//! that several gateways read (`--feature-store redis://host:port[/db]`).
//!
//! Layout (all under `mlctl:features:`):
//! - `tables` — a set of table names;
//! - `<table>` — a hash: `key`, `columns` (JSON), `snapshot`, `loaded_at`;
//! - `<table>:<snapshot>:<entity>` — a hash per entity: `<column>` → value and
//!   `<column>@ts` → event time (µs).
//!
//! A load writes a new snapshot's hashes first and then switches `snapshot` in one
//! MULTI/EXEC, so readers see the old table or the new one; a load that fails midway
//! leaves the old one active (its partial keys are removed by the next load). The
//! snapshot before the active one is kept until the next load, so a gateway that has not
//! yet seen the switch (it re-reads the table list every 500 ms) still reads whole values.
//! Pushes go through a Lua script that reads the active snapshot and keeps, per column, the
//! value with the latest event time — atomic against a switch. A lookup is one pipelined
//! round trip of HMGETs. Durability of acknowledged pushes is the Redis server's
//! (`appendonly yes`, `appendfsync always` for every write on disk).

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use rustc_hash::FxHashMap;

use super::online::{Fetched, PushRow, Slot};
use crate::error::{Error, Result};

const PREFIX: &str = "mlctl:features:";

const PUSH_SCRIPT: &str = r#"
local snap = redis.call('HGET', KEYS[1], 'snapshot')
if not snap then return redis.error_reply('no such feature table') end
local i = 3
for r = 1, tonumber(ARGV[2]) do
  local k = KEYS[1] .. ':' .. snap .. ':' .. ARGV[i]
  local ts = ARGV[i + 1]
  local nv = tonumber(ARGV[i + 2])
  i = i + 3
  for v = 1, nv do
    local col = ARGV[i]
    local old = redis.call('HGET', k, col .. '@ts')
    if (not old) or tonumber(old) <= tonumber(ts) then
      redis.call('HSET', k, col, ARGV[i + 1], col .. '@ts', ts)
    end
    i = i + 2
  end
end
return snap
"#;

/// A table as the gateway last read it.
#[derive(Debug, Clone, PartialEq)]
pub struct RedisTable {
    pub key: String,
    pub columns: Vec<String>,
    pub snapshot: i64,
    pub loaded_at: String,
}

pub struct RedisStore {
    client: redis::Client,
    conn: tokio::sync::Mutex<Option<ConnectionManager>>,
    tables: ArcSwap<FxHashMap<String, Arc<RedisTable>>>,
    /// Longest wait for one lookup or push round trip.
    timeout: Duration,
    /// The URL without credentials.
    pub shown: String,
}

fn redacted(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
            format!("{scheme}://{}", host.split('/').next().unwrap_or(host))
        }
        None => "redis".into(),
    }
}

fn err(shown: &str, e: impl std::fmt::Display) -> Error {
    Error::State(format!("feature store {shown}: {e}"))
}

impl RedisStore {
    /// Check `url` (redis:// or rediss:// is not built in: plain TCP) and prepare; the
    /// connection is made on first use and remade after failures.
    pub fn new(url: &str, timeout: Duration) -> Result<RedisStore> {
        let shown = redacted(url);
        let client = redis::Client::open(url).map_err(|e| {
            Error::Usage(format!(
                "--feature-store {shown}: {e} (expected redis://host:port[/db])"
            ))
        })?;
        Ok(RedisStore {
            client,
            conn: tokio::sync::Mutex::new(None),
            tables: ArcSwap::from_pointee(FxHashMap::default()),
            timeout,
            shown,
        })
    }

    async fn conn(&self) -> Result<ConnectionManager> {
        let mut slot = self.conn.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(self.timeout.max(Duration::from_millis(200)))
            .set_response_timeout(self.timeout)
            .set_number_of_retries(1)
            .set_max_delay(1000);
        let c = tokio::time::timeout(
            self.timeout.max(Duration::from_millis(200)) * 2,
            ConnectionManager::new_with_config(self.client.clone(), config),
        )
        .await
        .map_err(|_| err(&self.shown, "connect timed out"))?
        .map_err(|e| err(&self.shown, e))?;
        *slot = Some(c.clone());
        Ok(c)
    }

    /// Within the timeout, or an error naming the store.
    async fn timed<T>(&self, f: impl std::future::Future<Output = redis::RedisResult<T>>) -> Result<T> {
        match tokio::time::timeout(self.timeout, f).await {
            Ok(r) => r.map_err(|e| err(&self.shown, e)),
            Err(_) => Err(err(
                &self.shown,
                format!("no answer within {} ms", self.timeout.as_millis()),
            )),
        }
    }

    pub fn table(&self, name: &str) -> Option<Arc<RedisTable>> {
        self.tables.load().get(name).cloned()
    }

    /// Re-read the table list and each table's active snapshot.
    pub async fn refresh(&self) -> Result<()> {
        let mut c = self.conn().await?;
        let names: Vec<String> = self.timed(c.smembers(format!("{PREFIX}tables"))).await?;
        let mut next = FxHashMap::default();
        for name in names {
            let meta: FxHashMap<String, String> = self.timed(c.hgetall(format!("{PREFIX}{name}"))).await?;
            let (Some(key), Some(cols), Some(snap)) = (meta.get("key"), meta.get("columns"), meta.get("snapshot"))
            else {
                continue;
            };
            let t = RedisTable {
                key: key.clone(),
                columns: serde_json::from_str(cols).unwrap_or_default(),
                snapshot: snap.parse().unwrap_or(0),
                loaded_at: meta.get("loaded_at").cloned().unwrap_or_default(),
            };
            let keep = self.table(&name).filter(|old| **old == t);
            next.insert(name, keep.unwrap_or_else(|| Arc::new(t)));
        }
        self.tables.store(Arc::new(next));
        Ok(())
    }

    /// One pipelined round trip for every (table, entity) in `wanted`.
    pub async fn fetch(&self, wanted: &[(&str, Vec<&str>, Vec<String>)]) -> Fetched {
        let mut out = Fetched::default();
        let mut pipe = redis::pipe();
        let mut asked: Vec<(&str, &String, usize)> = Vec::new();
        for (table, cols, entities) in wanted {
            let Some(t) = self.table(table) else {
                out.failed.insert(table.to_string(), "the table is not loaded".into());
                continue;
            };
            let fields: Vec<String> = cols.iter().flat_map(|c| [c.to_string(), format!("{c}@ts")]).collect();
            for e in entities {
                pipe.cmd("HMGET")
                    .arg(format!("{PREFIX}{table}:{}:{e}", t.snapshot))
                    .arg(&fields);
                asked.push((table, e, cols.len()));
            }
        }
        if asked.is_empty() {
            return out;
        }
        let answer: Result<Vec<Vec<Option<String>>>> = match self.conn().await {
            Ok(mut c) => self.timed(pipe.query_async(&mut c)).await,
            Err(e) => Err(e),
        };
        match answer {
            Ok(rows) => {
                for ((table, entity, ncols), row) in asked.into_iter().zip(rows) {
                    let slots: Vec<Option<Slot>> = (0..ncols)
                        .map(|i| {
                            let v = row.get(2 * i)?.as_deref()?.parse::<f64>().ok()?;
                            let ts = row.get(2 * i + 1)?.as_deref()?.parse::<i64>().ok()?;
                            Some(Slot { ts_us: ts, value: v })
                        })
                        .collect();
                    if slots.iter().any(Option::is_some) {
                        out.insert(table, entity, slots);
                    }
                }
            }
            Err(e) => {
                for (table, _, _) in wanted {
                    out.failed.entry(table.to_string()).or_insert_with(|| e.to_string());
                }
            }
        }
        out
    }

    /// Pushed values, atomically against a snapshot switch; the latest event time wins.
    pub async fn push(&self, table: &str, rows: &[PushRow]) -> Result<usize> {
        let t = match self.table(table) {
            Some(t) => t,
            None => {
                self.refresh().await?;
                self.table(table).ok_or_else(|| {
                    Error::Usage(format!(
                        "no feature table {table:?} in {} (load one with `mlctl features load`)",
                        self.shown
                    ))
                })?
            }
        };
        let mut args: Vec<String> = vec![table.to_string(), rows.len().to_string()];
        for (entity, ts, values) in rows {
            for (c, _) in values {
                if !t.columns.contains(c) {
                    return Err(Error::Usage(format!(
                        "feature table {table:?} has no column {c:?} (columns: {})",
                        t.columns.join(", ")
                    )));
                }
            }
            args.extend([entity.clone(), ts.to_string(), values.len().to_string()]);
            for (c, v) in values {
                args.extend([c.clone(), format!("{v}")]);
            }
        }
        let mut c = self.conn().await?;
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(PUSH_SCRIPT).arg(1).arg(format!("{PREFIX}{table}")).arg(&args);
        let _: String = self.timed(cmd.query_async(&mut c)).await?;
        Ok(rows.len())
    }

    /// Load a table's latest values as a new snapshot and switch to it (see the module doc).
    pub async fn load_snapshot(
        &self,
        table: &str,
        key: &str,
        columns: &[String],
        latest: &FxHashMap<String, Vec<Option<Slot>>>,
    ) -> Result<i64> {
        let mut c = self.conn().await?;
        let meta = format!("{PREFIX}{table}");
        let snapshot: i64 = self.timed(c.incr(format!("{meta}:seq"), 1)).await?;
        let mut pipe = redis::pipe();
        let mut queued = 0;
        for (entity, slots) in latest {
            let mut fields: Vec<(String, String)> = Vec::new();
            for (col, s) in columns.iter().zip(slots) {
                if let Some(s) = s {
                    fields.push((col.clone(), format!("{}", s.value)));
                    fields.push((format!("{col}@ts"), s.ts_us.to_string()));
                }
            }
            if fields.is_empty() {
                continue;
            }
            pipe.hset_multiple(format!("{meta}:{snapshot}:{entity}"), &fields)
                .ignore();
            queued += 1;
            if queued == 1000 {
                self.timed(pipe.query_async::<()>(&mut c)).await?;
                pipe = redis::pipe();
                queued = 0;
            }
        }
        if queued > 0 {
            self.timed(pipe.query_async::<()>(&mut c)).await?;
        }
        let cols = serde_json::to_string(columns).unwrap_or_default();
        let now = crate::store::now_rfc3339();
        let mut switch = redis::pipe();
        switch
            .atomic()
            .hset_multiple(
                &meta,
                &[
                    ("key", key.to_string()),
                    ("columns", cols),
                    ("snapshot", snapshot.to_string()),
                    ("loaded_at", now),
                ],
            )
            .ignore()
            .sadd(format!("{PREFIX}tables"), table)
            .ignore();
        self.timed(switch.query_async::<()>(&mut c)).await?;
        // Drop every other snapshot but the previous one (and partial failed loads).
        let pattern = format!("{meta}:*:*");
        let mut stale: Vec<String> = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let mut scan = redis::cmd("SCAN");
            scan.arg(cursor).arg("MATCH").arg(&pattern).arg("COUNT").arg(1000);
            let (next, keys): (u64, Vec<String>) = self.timed(scan.query_async(&mut c)).await?;
            for k in keys {
                let snap = k[meta.len() + 1..]
                    .split(':')
                    .next()
                    .and_then(|s| s.parse::<i64>().ok());
                if snap.is_some_and(|s| s != snapshot && s != snapshot - 1) {
                    stale.push(k);
                }
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        for chunk in stale.chunks(1000) {
            self.timed(c.unlink::<_, ()>(chunk)).await?;
        }
        self.refresh().await?;
        Ok(snapshot)
    }

    /// Every column's latest value of `entity` (for `features get`).
    pub async fn latest(&self, table: &str, entity: &str) -> Result<Vec<(String, Slot)>> {
        self.refresh().await?;
        let t = self
            .table(table)
            .ok_or_else(|| Error::Usage(format!("no feature table {table:?} in {}", self.shown)))?;
        let cols: Vec<&str> = t.columns.iter().map(String::as_str).collect();
        let f = self.fetch(&[(table, cols, vec![entity.to_string()])]).await;
        if let Some(e) = f.failed.get(table) {
            return Err(Error::State(e.clone()));
        }
        Ok(match f.get(table, entity) {
            Some(slots) => t
                .columns
                .iter()
                .zip(slots)
                .filter_map(|(c, s)| s.map(|s| (c.clone(), s)))
                .collect(),
            None => Vec::new(),
        })
    }
}
