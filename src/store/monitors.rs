//! Drift monitors in the state DB: their specs and alert state (`monitors`), and the
//! results of their finished windows (`monitor_windows`, pruned past each monitor's
//! retention). Adding and removing a monitor, and each alert transition, are audited
//! events (so the webhook notifier, which walks the events, delivers alerts too).

use serde::Serialize;

use super::db::{Row, ps};
use super::{Store, append_event, lock_events, now_rfc3339};
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonitorRecord {
    pub id: i64,
    pub model: String,
    /// `drift::monitor::MonitorSpec` as JSON.
    pub spec: serde_json::Value,
    /// Alert state per version (JSON).
    pub state: serde_json::Value,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowRecord {
    pub monitor_id: i64,
    pub version: String,
    pub start: String,
    pub end: String,
    pub rows: u64,
    pub drift: bool,
    /// `drift::monitor::WindowResult` as JSON.
    pub result: serde_json::Value,
}

fn monitor_row(r: &Row) -> Result<MonitorRecord> {
    Ok(MonitorRecord {
        id: r.i(0)?,
        model: r.t(1)?,
        spec: serde_json::from_str(&r.t(2)?).unwrap_or_default(),
        state: serde_json::from_str(&r.t(3)?).unwrap_or_default(),
        created_at: r.t(4)?,
    })
}

impl Store {
    /// Store a monitor and audit it (`monitor_add`, with its notify targets so the
    /// notifier starts their workers); its id.
    pub fn add_monitor(&mut self, model: &str, spec: &serde_json::Value, actor: &str) -> Result<i64> {
        self.conn.tx(|db| {
            lock_events(db)?;
            let spec_text = spec.to_string();
            let id = db.insert_id(
                "INSERT INTO monitors (model, spec, created_at) VALUES (?1, ?2, ?3)",
                ps![model, spec_text.as_str(), now_rfc3339().as_str()],
            )?;
            let detail =
                serde_json::json!({"monitor_id": id, "notify": spec["notify"], "window_ms": spec["window_ms"]});
            append_event(db, model, actor, "monitor_add", None, None, &detail)?;
            Ok(id)
        })
    }

    /// Remove a monitor and its windows (audited); false when there was none.
    pub fn remove_monitor(&mut self, id: i64, actor: &str) -> Result<bool> {
        self.conn.tx(|db| {
            lock_events(db)?;
            let Some(row) = db.row("SELECT model FROM monitors WHERE id = ?1", ps![id])? else {
                return Ok(false);
            };
            let model = row.t(0)?;
            db.exec("DELETE FROM monitors WHERE id = ?1", ps![id])?;
            db.exec("DELETE FROM monitor_windows WHERE monitor_id = ?1", ps![id])?;
            let detail = serde_json::json!({"monitor_id": id});
            append_event(db, &model, actor, "monitor_remove", None, None, &detail)?;
            Ok(true)
        })
    }

    pub fn monitors(&self) -> Result<Vec<MonitorRecord>> {
        self.conn.read(|db| {
            db.rows(
                "SELECT id, model, spec, state, created_at FROM monitors ORDER BY id",
                &[],
            )?
            .iter()
            .map(monitor_row)
            .collect()
        })
    }

    /// Record finished windows, the monitor's new alert state and its alert transitions
    /// (events `monitor_alert` / `monitor_resolve`) in one transaction; prune windows that
    /// ended before `keep_after` (RFC 3339).
    pub fn finish_windows(
        &mut self,
        id: i64,
        windows: &[WindowRecord],
        state: &serde_json::Value,
        transitions: &[(String, serde_json::Value)],
        keep_after: Option<&str>,
    ) -> Result<()> {
        self.conn.tx(|db| {
            if !transitions.is_empty() {
                lock_events(db)?;
            }
            let model = db
                .row("SELECT model FROM monitors WHERE id = ?1", ps![id])?
                .ok_or_else(|| Error::Usage(format!("no monitor {id}")))?
                .t(0)?;
            for w in windows {
                let result = w.result.to_string();
                db.exec(
                    "INSERT INTO monitor_windows (monitor_id, version, start, \"end\", rows, drift, result) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    ps![id, &w.version, &w.start, &w.end, w.rows as i64, i64::from(w.drift), result.as_str()],
                )?;
            }
            let state = state.to_string();
            db.exec("UPDATE monitors SET state = ?2 WHERE id = ?1", ps![id, state.as_str()])?;
            for (kind, detail) in transitions {
                append_event(db, &model, "monitor", kind, None, None, detail)?;
            }
            if let Some(t) = keep_after {
                db.exec(
                    "DELETE FROM monitor_windows WHERE monitor_id = ?1 AND \"end\" < ?2",
                    ps![id, t],
                )?;
            }
            Ok(())
        })
    }

    /// A monitor's windows, oldest first (the last `limit`).
    pub fn monitor_windows(&self, id: i64, limit: u32) -> Result<Vec<WindowRecord>> {
        let mut rows = self.conn.read(|db| {
            db.rows(
                "SELECT monitor_id, version, start, \"end\", rows, drift, result FROM monitor_windows
                 WHERE monitor_id = ?1 ORDER BY \"end\" DESC, version DESC LIMIT ?2",
                ps![id, i64::from(limit)],
            )?
            .iter()
            .map(|r| {
                Ok(WindowRecord {
                    monitor_id: r.i(0)?,
                    version: r.t(1)?,
                    start: r.t(2)?,
                    end: r.t(3)?,
                    rows: r.i(4)? as u64,
                    drift: r.i(5)? != 0,
                    result: serde_json::from_str(&r.t(6)?).unwrap_or_default(),
                })
            })
            .collect::<Result<Vec<_>>>()
        })?;
        rows.reverse();
        Ok(rows)
    }
}

impl Store {
    /// The newest `limit` alert-worthy events (drift alerts and resolves, rollbacks,
    /// pauses), newest first.
    pub fn recent_alerts(&self, limit: u32) -> Result<Vec<super::EventRecord>> {
        self.conn.read(|db| {
            db.rows(
                "SELECT id, ts, model, actor, kind, from_state, to_state, detail FROM events
                 WHERE kind IN ('monitor_alert', 'monitor_resolve', 'rollback', 'pause') ORDER BY id DESC LIMIT ?1",
                ps![i64::from(limit)],
            )?
            .iter()
            .map(super::event_row)
            .collect()
        })
    }
}
