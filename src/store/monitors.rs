//! Drift monitors in the state DB: their specs and alert state (`monitors`), and the
//! results of their finished windows (`monitor_windows`, pruned past each monitor's
//! retention). Adding and removing a monitor, and each alert transition, are audited
//! events (so the webhook notifier, which walks the events, delivers alerts too).

use rusqlite::params;
use serde::Serialize;

use super::{Store, append_event, now_rfc3339};
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

fn monitor_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<MonitorRecord> {
    let spec: String = r.get(2)?;
    let state: String = r.get(3)?;
    Ok(MonitorRecord {
        id: r.get(0)?,
        model: r.get(1)?,
        spec: serde_json::from_str(&spec).unwrap_or_default(),
        state: serde_json::from_str(&state).unwrap_or_default(),
        created_at: r.get(4)?,
    })
}

impl Store {
    /// Store a monitor and audit it (`monitor_add`, with its notify targets so the
    /// notifier starts their workers); its id.
    pub fn add_monitor(&mut self, model: &str, spec: &serde_json::Value, actor: &str) -> Result<i64> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO monitors (model, spec, created_at) VALUES (?1, ?2, ?3)",
            params![model, spec.to_string(), now_rfc3339()],
        )?;
        let id = tx.last_insert_rowid();
        let detail = serde_json::json!({"monitor_id": id, "notify": spec["notify"], "window_ms": spec["window_ms"]});
        append_event(&tx, model, actor, "monitor_add", None, None, &detail)?;
        tx.commit()?;
        Ok(id)
    }

    /// Remove a monitor and its windows (audited); false when there was none.
    pub fn remove_monitor(&mut self, id: i64, actor: &str) -> Result<bool> {
        let tx = self.conn.transaction()?;
        let model: Option<String> = tx
            .query_row("SELECT model FROM monitors WHERE id = ?1", params![id], |r| r.get(0))
            .ok();
        let Some(model) = model else { return Ok(false) };
        tx.execute("DELETE FROM monitors WHERE id = ?1", params![id])?;
        tx.execute("DELETE FROM monitor_windows WHERE monitor_id = ?1", params![id])?;
        append_event(
            &tx,
            &model,
            actor,
            "monitor_remove",
            None,
            None,
            &serde_json::json!({"monitor_id": id}),
        )?;
        tx.commit()?;
        Ok(true)
    }

    pub fn monitors(&self) -> Result<Vec<MonitorRecord>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, model, spec, state, created_at FROM monitors ORDER BY id")?;
        let rows = stmt.query_map([], monitor_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
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
        let tx = self.conn.transaction()?;
        let model: String = tx
            .query_row("SELECT model FROM monitors WHERE id = ?1", params![id], |r| r.get(0))
            .map_err(|_| Error::Usage(format!("no monitor {id}")))?;
        for w in windows {
            tx.execute(
                "INSERT INTO monitor_windows (monitor_id, version, start, end, rows, drift, result) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![id, w.version, w.start, w.end, w.rows as i64, w.drift, w.result.to_string()],
            )?;
        }
        tx.execute(
            "UPDATE monitors SET state = ?2 WHERE id = ?1",
            params![id, state.to_string()],
        )?;
        for (kind, detail) in transitions {
            append_event(&tx, &model, "monitor", kind, None, None, detail)?;
        }
        if let Some(t) = keep_after {
            tx.execute(
                "DELETE FROM monitor_windows WHERE monitor_id = ?1 AND end < ?2",
                params![id, t],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// A monitor's windows, oldest first (the last `limit`).
    pub fn monitor_windows(&self, id: i64, limit: u32) -> Result<Vec<WindowRecord>> {
        let mut stmt = self.conn.prepare(
            "SELECT monitor_id, version, start, end, rows, drift, result FROM
               (SELECT rowid AS r, * FROM monitor_windows WHERE monitor_id = ?1 ORDER BY rowid DESC LIMIT ?2)
             ORDER BY r",
        )?;
        let rows = stmt.query_map(params![id, limit], |r| {
            let result: String = r.get(6)?;
            Ok(WindowRecord {
                monitor_id: r.get(0)?,
                version: r.get(1)?,
                start: r.get(2)?,
                end: r.get(3)?,
                rows: r.get::<_, i64>(4)? as u64,
                drift: r.get(5)?,
                result: serde_json::from_str(&result).unwrap_or_default(),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

impl Store {
    /// The newest `limit` alert-worthy events (drift alerts and resolves, rollbacks,
    /// pauses), newest first.
    pub fn recent_alerts(&self, limit: u32) -> Result<Vec<super::EventRecord>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, ts, model, actor, kind, from_state, to_state, detail FROM events
             WHERE kind IN ('monitor_alert', 'monitor_resolve', 'rollback', 'pause') ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map(params![limit], super::event_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
