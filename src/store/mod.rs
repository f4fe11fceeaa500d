//! Durable state: SQLite (bundled, WAL, `synchronous=FULL`) in the data dir or PostgreSQL
//! (`connect`), and ONNX files stored content-addressed under `blobs/<sha256>` (`blobs`).
//!
//! Tables: `models`, `versions` (runtime kind, blob sha256 or upstream URL, created_at),
//! `deployments` (the live route of each model) and `events` (append-only: triggers
//! refuse UPDATE and DELETE). A state change is committed here before the gateway's
//! route table changes, so an acknowledged change survives `kill -9`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

mod blobs;
mod connect;
pub mod db;
pub mod monitors;
pub mod outbox;
pub mod replicas;
mod schema;

use db::{Conn, Dialect, Row, Sql, ps};
use schema::{MIGRATIONS, migrate};

pub use blobs::{is_sha256, read_blob_at};
pub use connect::{StateUrl, connect_postgres, open_sqlite, private_dir, private_file, redact_url};

/// How a registered version is served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "runtime", rename_all = "lowercase")]
pub enum VersionSource {
    Onnx { blob_sha256: String },
    Upstream { url: String, timeout_ms: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionRecord {
    pub model: String,
    pub version: String,
    #[serde(flatten)]
    pub source: VersionSource,
    /// The feature view (TOML text) that assembles the model's input, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentRecord {
    pub model: String,
    pub live_version: String,
    pub strategy: String,
    pub salt: String,
    pub state: String,
    pub updated_at: String,
    /// The rollout's persisted state (JSON of `rollout::RolloutState`), if any.
    pub rollout: Option<String>,
}

/// One audited route change, committed together with the deployment row.
#[derive(Debug, Clone)]
pub struct RouteChange {
    pub model: String,
    pub live_version: String,
    pub strategy: String,
    pub state: String,
    pub rollout: Option<String>,
    pub actor: String,
    pub kind: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub detail: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    pub id: i64,
    pub ts: String,
    pub model: String,
    pub actor: String,
    pub kind: String,
    pub from_state: Option<String>,
    pub to_state: Option<String>,
    pub detail: serde_json::Value,
}

/// What `register_version` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registered {
    Created,
    /// Same version with the same source was already there (idempotent retry).
    Unchanged,
}

pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub struct Store {
    conn: Conn,
    blobs: PathBuf,
}

impl Store {
    /// Open (creating if needed) the store in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self> {
        Self::open_at(data_dir, &StateUrl::Sqlite)
    }

    /// Open the store `state` names; `data_dir` holds the SQLite file and the blobs (on
    /// PostgreSQL, a cache of the blobs the database holds).
    pub fn open_at(data_dir: &Path, state: &StateUrl) -> Result<Self> {
        private_dir(data_dir).map_err(|e| Error::io(data_dir, e))?;
        let blobs = data_dir.join("blobs");
        private_dir(&blobs).map_err(|e| Error::io(&blobs, e))?;
        let conn = match state {
            StateUrl::Sqlite => {
                let path = data_dir.join("mlctl.db");
                let mut conn = open_sqlite(&path)?;
                conn.pragma_update(None, "foreign_keys", "ON")?;
                migrate(&mut conn, MIGRATIONS, &path)?;
                Conn::Sqlite(conn)
            }
            StateUrl::Postgres(url) => {
                let mut client = connect_postgres(url)?;
                schema::migrate_postgres(&mut client, &redact_url(url))?;
                Conn::Postgres(Box::new(std::cell::RefCell::new(client)))
            }
        };
        Ok(Store { conn, blobs })
    }

    /// Which database this store runs on.
    pub fn dialect(&self) -> Dialect {
        self.conn.dialect()
    }

    /// Register `model`/`version`; re-registering the same source is a no-op, a
    /// different source under an existing version is refused.
    pub fn register_version(
        &mut self,
        model: &str,
        version: &str,
        source: &VersionSource,
        features: Option<&str>,
        actor: &str,
    ) -> Result<Registered> {
        self.conn.tx(|db| {
            lock_events(db)?;
            if let Some(existing) = get_version(db, model, version)? {
                if &existing.source == source && existing.features.as_deref() == features {
                    return Ok(Registered::Unchanged);
                }
                return Err(Error::Usage(format!(
                    "{model} version {version} already exists with a different source or feature view; versions are immutable, use a new version"
                )));
            }
            let now = now_rfc3339();
            db.exec(
                "INSERT INTO models (name, created_at) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
                ps![model, now.as_str()],
            )?;
            let (runtime, blob, url, timeout) = match source {
                VersionSource::Onnx { blob_sha256 } => ("onnx", Some(blob_sha256.as_str()), None, None),
                VersionSource::Upstream { url, timeout_ms } => {
                    ("upstream", None, Some(url.as_str()), Some(*timeout_ms as i64))
                }
            };
            db.exec(
                "INSERT INTO versions (model, version, runtime, blob_sha256, upstream_url, timeout_ms, created_at, features) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                ps![model, version, runtime, blob, url, timeout, now.as_str(), features],
            )?;
            append_event(
                db,
                model,
                actor,
                "register",
                None,
                None,
                &serde_json::json!({"version": version, "source": source, "features": features.is_some()}),
            )?;
            Ok(Registered::Created)
        })
    }

    /// Route 100% of `model` to `version` (strategy `single`), recording the event;
    /// committed (fsync'd) when this returns. `expect`: see `commit_route_if`.
    pub fn set_live(
        &mut self,
        model: &str,
        version: &str,
        actor: &str,
        reason: Option<&str>,
    ) -> Result<DeploymentRecord> {
        self.set_live_if(model, version, actor, reason, None)
    }

    /// `set_live`, refused when the deployment is no longer what the caller saw.
    pub fn set_live_if(
        &mut self,
        model: &str,
        version: &str,
        actor: &str,
        reason: Option<&str>,
        expect: Option<&Expected>,
    ) -> Result<DeploymentRecord> {
        self.conn.tx(|db| {
            lock_events(db)?;
            let prev = get_deployment(db, model)?;
            check_expected(model, prev.as_ref(), expect)?;
            let change = RouteChange {
                model: model.to_string(),
                live_version: version.to_string(),
                strategy: "single".into(),
                state: "promoted".into(),
                rollout: None,
                actor: actor.to_string(),
                kind: "route".into(),
                from: prev.as_ref().map(|d| format!("live:{}", d.live_version)),
                to: Some(format!("live:{version}")),
                detail: serde_json::json!({
                    "strategy": "single",
                    "weights": {version: 100},
                    "previous_version": prev.as_ref().map(|d| d.live_version.clone()),
                    "reason": reason,
                }),
            };
            write_route(db, &change)
        })
    }

    /// Commit a deployment row and its audit event in one transaction (fsync'd on
    /// return): the route change is durable before anyone is told, or routes by it.
    pub fn commit_route(&mut self, c: RouteChange) -> Result<DeploymentRecord> {
        self.commit_route_if(c, None, None)
    }

    /// `commit_route` for replicas sharing the database: refused with `Error::Conflict`
    /// when the deployment row is no longer `expect` (another replica changed it since
    /// this one looked: compare-and-swap), or when `fence` is not the current leader
    /// epoch (a controller that lost its leadership must not write).
    pub fn commit_route_if(
        &mut self,
        c: RouteChange,
        expect: Option<&Expected>,
        fence: Option<i64>,
    ) -> Result<DeploymentRecord> {
        self.conn.tx(|db| {
            lock_events(db)?;
            if let Some(epoch) = fence {
                check_fence(db, epoch)?;
            }
            let prev = get_deployment(db, &c.model)?;
            check_expected(&c.model, prev.as_ref(), expect)?;
            write_route(db, &c)
        })
    }

    /// Append an audit event that changes no deployment (fsync'd on return).
    pub fn record_event(&mut self, model: &str, actor: &str, kind: &str, detail: &serde_json::Value) -> Result<()> {
        self.conn.tx(|db| {
            lock_events(db)?;
            append_event(db, model, actor, kind, None, None, detail)
        })
    }

    pub fn versions(&self, model: Option<&str>) -> Result<Vec<VersionRecord>> {
        self.conn.read(|db| {
            db.rows(
                "SELECT model, version, runtime, blob_sha256, upstream_url, timeout_ms, created_at, features FROM versions
                 WHERE CAST(?1 AS TEXT) IS NULL OR model = ?1 ORDER BY model, created_at, version",
                ps![model],
            )?
            .iter()
            .map(version_row)
            .collect()
        })
    }

    pub fn deployments(&self) -> Result<Vec<DeploymentRecord>> {
        self.conn.read(|db| {
            db.rows(
                "SELECT model, live_version, strategy, salt, state, updated_at, rollout FROM deployments ORDER BY model",
                &[],
            )?
            .iter()
            .map(deployment_row)
            .collect()
        })
    }

    pub fn deployment(&self, model: &str) -> Result<Option<DeploymentRecord>> {
        self.conn.read(|db| get_deployment(db, model))
    }

    pub fn events(&self, model: &str) -> Result<Vec<EventRecord>> {
        self.conn.read(|db| {
            db.rows(
                "SELECT id, ts, model, actor, kind, from_state, to_state, detail FROM events WHERE model = ?1 ORDER BY id",
                ps![model],
            )?
            .iter()
            .map(event_row)
            .collect()
        })
    }
}

/// The deployment row a caller based a change on: its live version and rollout state
/// (JSON), `None` when the model had no deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct Expected(pub Option<(String, Option<serde_json::Value>)>);

fn check_expected(model: &str, current: Option<&DeploymentRecord>, expect: Option<&Expected>) -> Result<()> {
    let Some(Expected(want)) = expect else { return Ok(()) };
    let have = current.map(|d| {
        (
            d.live_version.clone(),
            d.rollout
                .as_deref()
                .and_then(|j| serde_json::from_str::<serde_json::Value>(j).ok()),
        )
    });
    if &have == want {
        return Ok(());
    }
    Err(Error::Conflict(format!(
        "{model}: the deployment was changed by another replica a moment ago; look again (mlctl status) and retry"
    )))
}

fn check_fence(db: &mut dyn Sql, epoch: i64) -> Result<()> {
    let current = db
        .row("SELECT epoch FROM leader WHERE id = 1", &[])?
        .map(|r| r.i(0))
        .transpose()?
        .unwrap_or(0);
    if current != epoch {
        return Err(Error::Conflict(format!(
            "this replica is no longer the controller (its leader epoch {epoch}, the database's {current})"
        )));
    }
    Ok(())
}

/// Serialise writers of the audit log (PostgreSQL): ids then commit in id order, so a
/// reader walking `id > cursor` (the webhook outbox, route-change polling) never skips
/// an event committed late with a smaller id. SQLite has one writer at a time anyway.
pub(crate) fn lock_events(db: &mut dyn Sql) -> Result<()> {
    if db.dialect() == Dialect::Postgres {
        db.exec("LOCK TABLE events IN EXCLUSIVE MODE", &[])?;
    }
    Ok(())
}

pub(crate) fn event_row(r: &Row) -> Result<EventRecord> {
    let detail = r.t(7)?;
    Ok(EventRecord {
        id: r.i(0)?,
        ts: r.t(1)?,
        model: r.t(2)?,
        actor: r.t(3)?,
        kind: r.t(4)?,
        from_state: r.ot(5)?,
        to_state: r.ot(6)?,
        detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::String(detail)),
    })
}

/// Inside a transaction: check the version exists, upsert the deployment row (keeping
/// its salt), append the event, and read the row back.
fn write_route(db: &mut dyn Sql, c: &RouteChange) -> Result<DeploymentRecord> {
    if get_version(db, &c.model, &c.live_version)?.is_none() {
        return Err(Error::Usage(format!("{} has no version {}", c.model, c.live_version)));
    }
    let salt = get_deployment(db, &c.model)?
        .map(|d| d.salt)
        .unwrap_or_else(|| hex::encode(rand::random::<[u8; 8]>()));
    db.exec(
        "INSERT INTO deployments (model, live_version, strategy, salt, state, updated_at, rollout) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT(model) DO UPDATE SET live_version = excluded.live_version, strategy = excluded.strategy,
           state = excluded.state, updated_at = excluded.updated_at, rollout = excluded.rollout",
        ps![
            c.model.as_str(),
            c.live_version.as_str(),
            c.strategy.as_str(),
            salt.as_str(),
            c.state.as_str(),
            now_rfc3339().as_str(),
            c.rollout.as_deref()
        ],
    )?;
    append_event(
        db,
        &c.model,
        &c.actor,
        &c.kind,
        c.from.as_deref(),
        c.to.as_deref(),
        &c.detail,
    )?;
    get_deployment(db, &c.model)?.ok_or_else(|| Error::State("deployment vanished inside its transaction".into()))
}

fn version_row(r: &Row) -> Result<VersionRecord> {
    let runtime = r.t(2)?;
    let source = if runtime == "onnx" {
        VersionSource::Onnx { blob_sha256: r.t(3)? }
    } else {
        VersionSource::Upstream {
            url: r.t(4)?,
            timeout_ms: r.oi(5)?.unwrap_or(0) as u64,
        }
    };
    Ok(VersionRecord {
        model: r.t(0)?,
        version: r.t(1)?,
        source,
        created_at: r.t(6)?,
        features: r.ot(7)?,
    })
}

fn deployment_row(r: &Row) -> Result<DeploymentRecord> {
    Ok(DeploymentRecord {
        model: r.t(0)?,
        live_version: r.t(1)?,
        strategy: r.t(2)?,
        salt: r.t(3)?,
        state: r.t(4)?,
        updated_at: r.t(5)?,
        rollout: r.ot(6)?,
    })
}

fn get_version(db: &mut dyn Sql, model: &str, version: &str) -> Result<Option<VersionRecord>> {
    db.row(
        "SELECT model, version, runtime, blob_sha256, upstream_url, timeout_ms, created_at, features FROM versions WHERE model = ?1 AND version = ?2",
        ps![model, version],
    )?
    .as_ref()
    .map(version_row)
    .transpose()
}

fn get_deployment(db: &mut dyn Sql, model: &str) -> Result<Option<DeploymentRecord>> {
    db.row(
        "SELECT model, live_version, strategy, salt, state, updated_at, rollout FROM deployments WHERE model = ?1",
        ps![model],
    )?
    .as_ref()
    .map(deployment_row)
    .transpose()
}

/// Append one audit event (inside the caller's transaction, after `lock_events`). On
/// PostgreSQL every replica is told (`NOTIFY mlctl`, delivered when the transaction
/// commits) so it reloads its routes at once.
fn append_event(
    db: &mut dyn Sql,
    model: &str,
    actor: &str,
    kind: &str,
    from: Option<&str>,
    to: Option<&str>,
    detail: &serde_json::Value,
) -> Result<()> {
    let detail = detail.to_string();
    let id = db.insert_id(
        "INSERT INTO events (ts, model, actor, kind, from_state, to_state, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        ps![now_rfc3339().as_str(), model, actor, kind, from, to, detail.as_str()],
    )?;
    if db.dialect() == Dialect::Postgres {
        let payload = id.to_string();
        db.exec("SELECT pg_notify(?1, ?2)", ps![NOTIFY_CHANNEL, payload.as_str()])?;
    }
    Ok(())
}

/// The PostgreSQL channel on which committed audit events (route changes among them)
/// are announced; the payload is the event id.
pub const NOTIFY_CHANNEL: &str = "mlctl_events";

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    #[test]
    fn register_route_and_reopen_keeps_everything() {
        let dir = tempfile::tempdir().unwrap();
        let sha = {
            let mut s = Store::open(dir.path()).unwrap();
            let sha = s.put_blob(b"model bytes").unwrap();
            let src = VersionSource::Onnx {
                blob_sha256: sha.clone(),
            };
            assert_eq!(
                s.register_version("m", "1", &src, None, "t").unwrap(),
                Registered::Created
            );
            assert_eq!(
                s.register_version("m", "1", &src, None, "t").unwrap(),
                Registered::Unchanged
            );
            let other = VersionSource::Upstream {
                url: "http://x".into(),
                timeout_ms: 5,
            };
            assert!(s.register_version("m", "1", &other, None, "t").is_err());
            s.set_live("m", "1", "t", None).unwrap();
            assert!(s.set_live("m", "9", "t", None).is_err());
            sha
        };
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.deployment("m").unwrap().unwrap().live_version, "1");
        assert_eq!(s.read_blob(&sha).unwrap(), b"model bytes");
        let kinds: Vec<String> = s.events("m").unwrap().into_iter().map(|e| e.kind).collect();
        assert_eq!(kinds, ["register", "route"]);
    }

    #[test]
    fn events_cannot_be_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        let src = VersionSource::Upstream {
            url: "http://x".into(),
            timeout_ms: 5,
        };
        s.register_version("m", "1", &src, None, "t").unwrap();
        assert!(s.conn.tx(|db| db.exec("UPDATE events SET actor = 'x'", &[])).is_err());
        assert!(s.conn.tx(|db| db.exec("DELETE FROM events", &[])).is_err());
    }

    /// A v1 database (before the rollout column) as the first releases wrote it.
    fn v1_database(path: &Path) {
        let conn = Connection::open(path).unwrap();
        conn.execute_batch(
            "CREATE TABLE models (name TEXT PRIMARY KEY, created_at TEXT NOT NULL);
             CREATE TABLE deployments (model TEXT PRIMARY KEY, live_version TEXT NOT NULL, strategy TEXT NOT NULL,
                 salt TEXT NOT NULL, state TEXT NOT NULL, updated_at TEXT NOT NULL);
             INSERT INTO models VALUES ('churn', '2026-01-01T00:00:00Z');
             PRAGMA user_version = 1;",
        )
        .unwrap();
    }

    #[test]
    fn a_v1_database_is_migrated_in_place() {
        let dir = tempfile::tempdir().unwrap();
        v1_database(&dir.path().join("mlctl.db"));
        let s = Store::open(dir.path()).unwrap();
        let v = s
            .conn
            .read(|db| db.row("PRAGMA user_version", &[])?.unwrap().i(0))
            .unwrap();
        assert_eq!(v, super::schema::SCHEMA_VERSION);
        assert!(s.deployments().unwrap().is_empty());
    }

    #[test]
    fn a_failing_migration_leaves_the_old_version_that_still_opens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mlctl.db");
        v1_database(&path);
        // A migration whose first statement succeeds and whose second fails, as a crash
        // between them would leave it without the transaction.
        let broken = [super::schema::Migration {
            from: 1,
            to: 2,
            sql: &["ALTER TABLE deployments ADD COLUMN rollout TEXT", "THIS IS NOT SQL"],
        }];
        let mut conn = Connection::open(&path).unwrap();
        let e = migrate(&mut conn, &broken, &path).unwrap_err().to_string();
        assert!(e.contains("migration 1 → 2"), "{e}");
        let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(v, 1, "the version bump rolled back with the schema change");
        drop(conn);
        // The column was rolled back too: the real migration applies cleanly.
        let s = Store::open(dir.path()).unwrap();
        assert!(s.deployments().unwrap().is_empty());
    }

    #[test]
    fn a_newer_schema_is_refused_with_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mlctl.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch("PRAGMA user_version = 99;")
            .unwrap();
        let e = Store::open(dir.path()).err().unwrap().to_string();
        assert!(
            e.contains("mlctl.db") && e.contains("schema version 99 is newer"),
            "{e}"
        );
    }
}
