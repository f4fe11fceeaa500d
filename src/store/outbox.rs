//! The events table is the webhook outbox: a notifier walks it in id order per target and
//! keeps, per target, the id of the last event it has dealt with. The cursor moves only
//! after a delivery (or its final failure) — so every transition is sent once, in order,
//! and a restart resumes where delivery stopped.

use serde::Serialize;

use super::db::{Row, ps};
use super::{EventRecord, Store, event_row, now_rfc3339};
use crate::error::Result;

/// Delivery state of one target (its key is the target's redacted display form plus a
/// hash of the full URL, so secrets in URLs never reach the database in clear).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NotifyCursor {
    pub target: String,
    pub last_event_id: i64,
    pub delivered: u64,
    pub failed: u64,
    pub last_error: Option<String>,
    pub updated_at: String,
}

const EVENT_COLUMNS: &str = "id, ts, model, actor, kind, from_state, to_state, detail";

impl Store {
    /// The newest event id (0 when there is none).
    pub fn max_event_id(&self) -> Result<i64> {
        self.conn.read(|db| {
            db.row("SELECT COALESCE(MAX(id), 0) FROM events", &[])?
                .map_or(Ok(0), |r| r.i(0))
        })
    }

    /// Up to `limit` events after `id`, oldest first.
    pub fn events_after(&self, id: i64, limit: u32) -> Result<Vec<EventRecord>> {
        self.conn.read(|db| {
            db.rows(
                &format!("SELECT {EVENT_COLUMNS} FROM events WHERE id > ?1 ORDER BY id LIMIT ?2"),
                ps![id, i64::from(limit)],
            )?
            .iter()
            .map(event_row)
            .collect()
        })
    }

    /// The last `rollout_start` of `model` at or before event `id`, and whether the rollout
    /// it started had already ended (promote, rollback or a plain route) before `id`.
    pub fn rollout_start_before(&self, model: &str, id: i64) -> Result<Option<(EventRecord, bool)>> {
        self.conn.read(|db| {
            let start = db
                .row(
                    &format!(
                        "SELECT {EVENT_COLUMNS} FROM events
                         WHERE model = ?1 AND kind = 'rollout_start' AND id <= ?2 ORDER BY id DESC LIMIT 1"
                    ),
                    ps![model, id],
                )?
                .as_ref()
                .map(event_row)
                .transpose()?;
            let Some(start) = start else { return Ok(None) };
            let ended = db
                .row(
                    "SELECT COUNT(*) FROM events WHERE model = ?1 AND id > ?2 AND id < ?3
                     AND kind IN ('promote', 'rollback', 'route')",
                    ps![model, start.id, id],
                )?
                .map_or(Ok(0), |r| r.i(0))?;
            Ok(Some((start, ended > 0)))
        })
    }

    pub fn notify_cursor(&self, target: &str) -> Result<Option<NotifyCursor>> {
        self.conn.read(|db| {
            db.row(
                "SELECT target, last_event_id, delivered, failed, last_error, updated_at FROM notify_cursors WHERE target = ?1",
                ps![target],
            )?
            .as_ref()
            .map(cursor_row)
            .transpose()
        })
    }

    pub fn notify_cursors(&self) -> Result<Vec<NotifyCursor>> {
        self.conn.read(|db| {
            db.rows(
                "SELECT target, last_event_id, delivered, failed, last_error, updated_at FROM notify_cursors ORDER BY target",
                &[],
            )?
            .iter()
            .map(cursor_row)
            .collect()
        })
    }

    /// Move `target`'s cursor to `event_id` after a delivery (`error` None) or a final
    /// failure; creates the cursor on first use. Durable on return.
    pub fn advance_notify_cursor(&mut self, target: &str, event_id: i64, error: Option<&str>) -> Result<()> {
        let (ok, failed): (i64, i64) = if error.is_some() { (0, 1) } else { (1, 0) };
        self.conn.tx(|db| {
            db.exec(
                "INSERT INTO notify_cursors (target, last_event_id, delivered, failed, last_error, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (target) DO UPDATE SET last_event_id = ?2, delivered = notify_cursors.delivered + ?3,
                   failed = notify_cursors.failed + ?4, last_error = COALESCE(?5, notify_cursors.last_error), updated_at = ?6",
                ps![target, event_id, ok, failed, error, now_rfc3339().as_str()],
            )
        })?;
        Ok(())
    }

    /// Start a target's cursor at `event_id` unless it has one (a target added to a
    /// server with history starts at the present, not at the first event ever).
    pub fn init_notify_cursor(&mut self, target: &str, event_id: i64) -> Result<NotifyCursor> {
        self.conn.tx(|db| {
            db.exec(
                "INSERT INTO notify_cursors (target, last_event_id, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (target) DO NOTHING",
                ps![target, event_id, now_rfc3339().as_str()],
            )
        })?;
        Ok(self
            .notify_cursor(target)?
            .unwrap_or_else(|| unreachable!("inserted just above")))
    }

    /// Record a failed attempt that will be retried (the cursor does not move).
    pub fn note_notify_error(&mut self, target: &str, error: &str) -> Result<()> {
        self.conn.tx(|db| {
            db.exec(
                "UPDATE notify_cursors SET last_error = ?2, updated_at = ?3 WHERE target = ?1",
                ps![target, error, now_rfc3339().as_str()],
            )
        })?;
        Ok(())
    }
}

fn cursor_row(r: &Row) -> Result<NotifyCursor> {
    Ok(NotifyCursor {
        target: r.t(0)?,
        last_event_id: r.i(1)?,
        delivered: r.i(2)? as u64,
        failed: r.i(3)? as u64,
        last_error: r.ot(4)?,
        updated_at: r.t(5)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_start_at_the_present_and_move_only_forward_with_counts() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        s.record_event("m", "admin", "note", &serde_json::json!({})).unwrap();
        let now = s.max_event_id().unwrap();
        assert_eq!(now, 1);
        let c = s.init_notify_cursor("t", now).unwrap();
        assert_eq!((c.last_event_id, c.delivered), (1, 0));
        // A second init keeps the cursor where it is.
        s.advance_notify_cursor("t", 2, None).unwrap();
        assert_eq!(s.init_notify_cursor("t", 0).unwrap().last_event_id, 2);
        s.note_notify_error("t", "connection refused").unwrap();
        s.advance_notify_cursor("t", 3, Some("gave up after 10m")).unwrap();
        let c = s.notify_cursor("t").unwrap().unwrap();
        assert_eq!((c.last_event_id, c.delivered, c.failed), (3, 1, 1));
        assert_eq!(c.last_error.as_deref(), Some("gave up after 10m"));
    }

    #[test]
    fn a_rollouts_events_are_found_from_any_of_its_events_until_it_ends() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        for kind in ["rollout_start", "step", "promote", "step"] {
            s.record_event("m", "controller", kind, &serde_json::json!({"k": kind}))
                .unwrap();
        }
        assert!(
            s.rollout_start_before("m", 1)
                .unwrap()
                .is_some_and(|(e, ended)| e.id == 1 && !ended)
        );
        assert!(
            s.rollout_start_before("m", 3).unwrap().is_some_and(|(_, ended)| !ended),
            "the end itself belongs"
        );
        assert!(s.rollout_start_before("m", 4).unwrap().is_some_and(|(_, ended)| ended));
        assert!(s.rollout_start_before("other", 4).unwrap().is_none());
        let after = s.events_after(2, 10).unwrap();
        assert_eq!(after.iter().map(|e| e.id).collect::<Vec<_>>(), vec![3, 4]);
    }
}
