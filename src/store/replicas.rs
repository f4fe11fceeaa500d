//! What gateway replicas sharing one database tell each other through it: who is alive
//! (`replicas`, a heartbeat per tick), who drives rollouts (`leader`: the epoch is the
//! fencing token a controller's commits are checked against), each replica's statistics
//! of the current rollout step (`step_stats`, merged by the leader's guards) and outcomes
//! posted to one replica for requests another served (`outcome_relay`).

use serde::Serialize;

use super::db::{Dialect, Row, ps};
use super::{Store, lock_events, now_rfc3339};
use crate::error::Result;

/// One replica as it last reported itself.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ReplicaRecord {
    pub id: String,
    pub address: String,
    pub started_at: String,
    pub heartbeat_at: String,
    /// The newest audit event id whose routes it serves.
    pub route_version: i64,
    pub leader: bool,
}

/// An outcome relayed through the database.
#[derive(Debug, Clone, PartialEq)]
pub struct RelayedOutcome {
    pub id: i64,
    pub origin: String,
    pub request_id: String,
    pub metric: String,
    pub value: f64,
}

fn replica_row(r: &Row) -> Result<ReplicaRecord> {
    Ok(ReplicaRecord {
        id: r.t(0)?,
        address: r.t(1)?,
        started_at: r.t(2)?,
        heartbeat_at: r.t(3)?,
        route_version: r.i(4)?,
        leader: r.i(5)? != 0,
    })
}

impl Store {
    /// Record that replica `id` is alive, serves the routes of event `route_version` and
    /// is (or is not) the leader.
    pub fn heartbeat(
        &mut self,
        id: &str,
        address: &str,
        started_at: &str,
        route_version: i64,
        leader: bool,
    ) -> Result<()> {
        self.conn.tx(|db| {
            db.exec(
                "INSERT INTO replicas (id, address, started_at, heartbeat_at, route_version, leader)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (id) DO UPDATE SET address = ?2, started_at = ?3, heartbeat_at = ?4,
                   route_version = ?5, leader = ?6",
                ps![
                    id,
                    address,
                    started_at,
                    now_rfc3339().as_str(),
                    route_version,
                    i64::from(leader)
                ],
            )
        })?;
        Ok(())
    }

    /// Every replica that ever reported, by id.
    pub fn replicas(&self) -> Result<Vec<ReplicaRecord>> {
        self.conn.read(|db| {
            db.rows(
                "SELECT id, address, started_at, heartbeat_at, route_version, leader FROM replicas ORDER BY id",
                &[],
            )?
            .iter()
            .map(replica_row)
            .collect()
        })
    }

    /// Forget replicas silent since before `before` (RFC 3339).
    pub fn forget_replicas(&mut self, before: &str) -> Result<u64> {
        self.conn
            .tx(|db| db.exec("DELETE FROM replicas WHERE heartbeat_at < ?1", ps![before]))
    }

    /// Become the leader: a new epoch (the fencing token) under the audit-log lock, so no
    /// commit fenced by the previous epoch can land after this returns.
    pub fn take_leadership(&mut self, holder: &str) -> Result<i64> {
        self.conn.tx(|db| {
            lock_events(db)?;
            db.exec(
                "UPDATE leader SET epoch = epoch + 1, holder = ?1, since = ?2 WHERE id = 1",
                ps![holder, now_rfc3339().as_str()],
            )?;
            db.row("SELECT epoch FROM leader WHERE id = 1", &[])?
                .map_or(Ok(0), |r| r.i(0))
        })
    }

    /// The current leader epoch and its holder.
    pub fn leader(&self) -> Result<(i64, Option<String>)> {
        self.conn.read(|db| {
            Ok(match db.row("SELECT epoch, holder FROM leader WHERE id = 1", &[])? {
                Some(r) => (r.i(0)?, r.ot(1)?),
                None => (0, None),
            })
        })
    }

    /// Publish `replica`'s statistics of `model`'s step `step_id` (JSON, replacing the
    /// previous publication of the same step).
    pub fn publish_step_stats(&mut self, model: &str, replica: &str, step_id: u64, stats: &str) -> Result<()> {
        self.conn.tx(|db| {
            db.exec(
                "INSERT INTO step_stats (model, replica, step_id, stats, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (model, replica, step_id) DO UPDATE SET stats = ?4, updated_at = ?5",
                ps![model, replica, step_id as i64, stats, now_rfc3339().as_str()],
            )
        })?;
        Ok(())
    }

    /// Every replica's published statistics of `model`'s step `step_id` but `except`'s.
    pub fn step_stats(&self, model: &str, step_id: u64, except: &str) -> Result<Vec<(String, String)>> {
        self.conn.read(|db| {
            db.rows(
                "SELECT replica, stats FROM step_stats WHERE model = ?1 AND step_id = ?2 AND replica <> ?3 ORDER BY replica",
                ps![model, step_id as i64, except],
            )?
            .iter()
            .map(|r| Ok((r.t(0)?, r.t(1)?)))
            .collect()
        })
    }

    /// Drop statistics of steps before `step_id` of `model` (they are never judged again).
    pub fn prune_step_stats(&mut self, model: &str, step_id: u64) -> Result<u64> {
        self.conn.tx(|db| {
            db.exec(
                "DELETE FROM step_stats WHERE model = ?1 AND step_id < ?2",
                ps![model, step_id as i64],
            )
        })
    }

    /// Hand outcomes this replica could not join to the others (committed on return).
    /// Writers take turns so that ids commit in order and `relayed_after` never skips one.
    pub fn relay_outcomes(&mut self, origin: &str, outcomes: &[(&str, &str, f64)]) -> Result<()> {
        self.conn.tx(|db| {
            if db.dialect() == Dialect::Postgres {
                db.exec("LOCK TABLE outcome_relay IN EXCLUSIVE MODE", &[])?;
            }
            let ts = now_rfc3339();
            for (request_id, metric, value) in outcomes {
                db.exec(
                    "INSERT INTO outcome_relay (origin, request_id, metric, value, ts) VALUES (?1, ?2, ?3, ?4, ?5)",
                    ps![origin, *request_id, *metric, *value, ts.as_str()],
                )?;
            }
            Ok(())
        })
    }

    /// Relayed outcomes after id `after`, oldest first, at most `limit`.
    pub fn relayed_after(&self, after: i64, limit: u32) -> Result<Vec<RelayedOutcome>> {
        self.conn.read(|db| {
            db.rows(
                "SELECT id, origin, request_id, metric, value FROM outcome_relay WHERE id > ?1 ORDER BY id LIMIT ?2",
                ps![after, i64::from(limit)],
            )?
            .iter()
            .map(|r| {
                Ok(RelayedOutcome {
                    id: r.i(0)?,
                    origin: r.t(1)?,
                    request_id: r.t(2)?,
                    metric: r.t(3)?,
                    value: r.f(4)?,
                })
            })
            .collect()
        })
    }

    /// The newest relayed outcome's id (0 when none).
    pub fn max_relay_id(&self) -> Result<i64> {
        self.conn.read(|db| {
            db.row("SELECT COALESCE(MAX(id), 0) FROM outcome_relay", &[])?
                .map_or(Ok(0), |r| r.i(0))
        })
    }

    /// Drop relayed outcomes older than `before` (RFC 3339).
    pub fn prune_relay(&mut self, before: &str) -> Result<u64> {
        self.conn
            .tx(|db| db.exec("DELETE FROM outcome_relay WHERE ts < ?1", ps![before]))
    }
}
