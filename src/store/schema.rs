//! The state database's schema and its migrations (`PRAGMA user_version`).

use std::path::Path;

use rusqlite::Connection;

use crate::error::{Error, Result};

/// The schema version this build writes (`PRAGMA user_version`).
pub(super) const SCHEMA_VERSION: i64 = 5;

/// One schema migration: applies to databases at version `from`, leaves them at `to`.
pub(super) struct Migration {
    pub(super) from: i64,
    pub(super) to: i64,
    /// Run in order, in the migration's transaction.
    pub(super) sql: &'static [&'static str],
}

/// Every way to reach `SCHEMA_VERSION`. A new database gets the whole current schema at
/// once; older ones step forward.
pub(super) const MIGRATIONS: &[Migration] = &[
    Migration {
        from: 0,
        to: SCHEMA_VERSION,
        sql: &[SCHEMA, V4_VERSION_FEATURES, V5_MONITORS],
    },
    // v1 → v2: deployments gained the persisted rollout state.
    Migration {
        from: 1,
        to: 2,
        sql: &[SCHEMA, "ALTER TABLE deployments ADD COLUMN rollout TEXT"],
    },
    // v2 → v3: webhook delivery cursors (`outbox`).
    Migration {
        from: 2,
        to: 3,
        sql: &[SCHEMA],
    },
    // v3 → v4: a version's feature view.
    Migration {
        from: 3,
        to: 4,
        sql: &[V4_VERSION_FEATURES],
    },
    // v4 → v5: drift monitors and their window history.
    Migration {
        from: 4,
        to: 5,
        sql: &[V5_MONITORS],
    },
];

/// Bring `conn` to the newest version `migrations` reach, inside one transaction (schema
/// changes and the version bump commit together or not at all), so a crash mid-migration
/// leaves the database at its old version, which this code opens and migrates again.
pub(super) fn migrate(conn: &mut Connection, migrations: &[Migration], path: &Path) -> Result<()> {
    let fail = |e: String| Error::State(format!("{}: {e}", path.display()));
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(|e| fail(e.to_string()))?;
    let mut version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let newest = migrations.iter().map(|m| m.to).max().unwrap_or(0);
    if version > newest {
        return Err(fail(format!(
            "schema version {version} is newer than this mlctl understands ({newest}); upgrade mlctl"
        )));
    }
    while version < newest {
        let Some(m) = migrations.iter().find(|m| m.from == version) else {
            return Err(fail(format!("no migration from schema version {version}")));
        };
        for sql in m.sql {
            tx.execute_batch(sql)
                .map_err(|e| fail(format!("migration {} → {}: {e}", m.from, m.to)))?;
        }
        version = m.to;
    }
    tx.pragma_update(None, "user_version", version)?;
    tx.commit().map_err(|e| fail(e.to_string()))?;
    Ok(())
}

/// v4: a version's feature view. Kept out of `SCHEMA` (which older migrations re-run with
/// `IF NOT EXISTS`) so that every path adds the column exactly once.
const V4_VERSION_FEATURES: &str = "ALTER TABLE versions ADD COLUMN features TEXT";

/// v5: drift monitors (spec and alert state) and their finished windows.
const V5_MONITORS: &str = r#"
CREATE TABLE IF NOT EXISTS monitors (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    model       TEXT NOT NULL,
    spec        TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT '{}',
    created_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS monitor_windows (
    monitor_id  INTEGER NOT NULL,
    version     TEXT NOT NULL,
    start       TEXT NOT NULL,
    end         TEXT NOT NULL,
    rows        INTEGER NOT NULL,
    drift       INTEGER NOT NULL,
    result      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS monitor_windows_by_monitor ON monitor_windows (monitor_id, end);
"#;

/// The tables as of v3 (later versions add columns with ALTER).
const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS models (
    name        TEXT PRIMARY KEY,
    created_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS versions (
    model        TEXT NOT NULL REFERENCES models(name),
    version      TEXT NOT NULL,
    runtime      TEXT NOT NULL CHECK (runtime IN ('onnx', 'upstream')),
    blob_sha256  TEXT,
    upstream_url TEXT,
    timeout_ms   INTEGER,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (model, version),
    CHECK ((runtime = 'onnx' AND blob_sha256 IS NOT NULL) OR (runtime = 'upstream' AND upstream_url IS NOT NULL))
);
CREATE TABLE IF NOT EXISTS deployments (
    model        TEXT PRIMARY KEY REFERENCES models(name),
    live_version TEXT NOT NULL,
    strategy     TEXT NOT NULL,
    salt         TEXT NOT NULL,
    state        TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    rollout      TEXT,
    FOREIGN KEY (model, live_version) REFERENCES versions(model, version)
);
CREATE TABLE IF NOT EXISTS events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    ts          TEXT NOT NULL,
    model       TEXT NOT NULL,
    actor       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    from_state  TEXT,
    to_state    TEXT,
    detail      TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TABLE IF NOT EXISTS notify_cursors (
    target        TEXT PRIMARY KEY,
    last_event_id INTEGER NOT NULL,
    delivered     INTEGER NOT NULL DEFAULT 0,
    failed        INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    updated_at    TEXT NOT NULL
);
"#;
