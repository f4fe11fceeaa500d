//! The state database's schema and its migrations (`PRAGMA user_version`).

use std::path::Path;

use rusqlite::Connection;

use crate::error::{Error, Result};

/// The schema version this build writes (`PRAGMA user_version`).
pub(super) const SCHEMA_VERSION: i64 = 6;

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
        sql: &[SCHEMA, V4_VERSION_FEATURES, V5_MONITORS, V6_REPLICAS],
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
    // v5 → v6: replicas sharing the state (leader, heartbeats, merged step statistics,
    // relayed outcomes, blobs in the database).
    Migration {
        from: 5,
        to: 6,
        sql: &[V6_REPLICAS],
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

/// v6: what replicas sharing one database need (on SQLite the tables exist so that the
/// schema is the same on both; one gateway is its own leader).
const V6_REPLICAS: &str = r#"
CREATE TABLE IF NOT EXISTS replicas (
    id            TEXT PRIMARY KEY,
    address       TEXT NOT NULL,
    started_at    TEXT NOT NULL,
    heartbeat_at  TEXT NOT NULL,
    route_version INTEGER NOT NULL DEFAULT 0,
    leader        INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS leader (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    epoch   INTEGER NOT NULL,
    holder  TEXT,
    since   TEXT
);
INSERT INTO leader (id, epoch) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
CREATE TABLE IF NOT EXISTS step_stats (
    model       TEXT NOT NULL,
    replica     TEXT NOT NULL,
    step_id     INTEGER NOT NULL,
    stats       TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (model, replica, step_id)
);
CREATE TABLE IF NOT EXISTS outcome_relay (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    origin      TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    metric      TEXT NOT NULL,
    value       REAL NOT NULL,
    ts          TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS blobs (
    sha256  TEXT PRIMARY KEY,
    bytes   BLOB NOT NULL
);
"#;

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

/// The whole schema at `SCHEMA_VERSION` in PostgreSQL's dialect: the same tables,
/// columns and constraints as SQLite's (integers are BIGINT, ids identity columns, bytes
/// BYTEA, the append-only rule a trigger function).
const POSTGRES_SCHEMA: &str = r#"
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
    timeout_ms   BIGINT,
    created_at   TEXT NOT NULL,
    features     TEXT,
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
    id          BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    ts          TEXT NOT NULL,
    model       TEXT NOT NULL,
    actor       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    from_state  TEXT,
    to_state    TEXT,
    detail      TEXT NOT NULL
);
CREATE OR REPLACE FUNCTION mlctl_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
    RAISE EXCEPTION 'events are append-only';
END
$f$;
DROP TRIGGER IF EXISTS events_append_only ON events;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION mlctl_events_append_only();
CREATE TABLE IF NOT EXISTS notify_cursors (
    target        TEXT PRIMARY KEY,
    last_event_id BIGINT NOT NULL,
    delivered     BIGINT NOT NULL DEFAULT 0,
    failed        BIGINT NOT NULL DEFAULT 0,
    last_error    TEXT,
    updated_at    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS monitors (
    id          BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    model       TEXT NOT NULL,
    spec        TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT '{}',
    created_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS monitor_windows (
    monitor_id  BIGINT NOT NULL,
    version     TEXT NOT NULL,
    start       TEXT NOT NULL,
    "end"       TEXT NOT NULL,
    rows        BIGINT NOT NULL,
    drift       BIGINT NOT NULL,
    result      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS monitor_windows_by_monitor ON monitor_windows (monitor_id, "end");
CREATE TABLE IF NOT EXISTS replicas (
    id            TEXT PRIMARY KEY,
    address       TEXT NOT NULL,
    started_at    TEXT NOT NULL,
    heartbeat_at  TEXT NOT NULL,
    route_version BIGINT NOT NULL DEFAULT 0,
    leader        BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS leader (
    id      BIGINT PRIMARY KEY CHECK (id = 1),
    epoch   BIGINT NOT NULL,
    holder  TEXT,
    since   TEXT
);
INSERT INTO leader (id, epoch) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
CREATE TABLE IF NOT EXISTS step_stats (
    model       TEXT NOT NULL,
    replica     TEXT NOT NULL,
    step_id     BIGINT NOT NULL,
    stats       TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (model, replica, step_id)
);
CREATE TABLE IF NOT EXISTS outcome_relay (
    id          BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    origin      TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    metric      TEXT NOT NULL,
    value       DOUBLE PRECISION NOT NULL,
    ts          TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS blobs (
    sha256  TEXT PRIMARY KEY,
    bytes   BYTEA NOT NULL
);
"#;

/// The advisory lock key that serialises schema migrations of replicas starting at once.
const MIGRATION_LOCK: i64 = 0x6d6c_6374_6c00_0001;

/// PostgreSQL's migrations: its version lives in `mlctl_schema`. Replicas that start
/// together take turns (a transaction-scoped advisory lock); the schema change and the
/// version row commit together. PostgreSQL support starts at `SCHEMA_VERSION`, so its
/// only step is the whole schema; later versions add steps here as SQLite's list does.
pub(super) fn migrate_postgres(client: &mut postgres::Client, what: &str) -> Result<()> {
    let fail = |e: String| Error::State(format!("{what}: {e}"));
    let pg = |e: postgres::Error| {
        fail(match e.as_db_error() {
            Some(db) => db.message().to_string(),
            None => e.to_string(),
        })
    };
    let mut tx = client.transaction().map_err(pg)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(pg)?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS mlctl_schema (version BIGINT NOT NULL)")
        .map_err(pg)?;
    let version: i64 = tx
        .query_opt("SELECT version FROM mlctl_schema", &[])
        .map_err(pg)?
        .map(|r| r.get(0))
        .unwrap_or(0);
    if version > SCHEMA_VERSION {
        return Err(fail(format!(
            "schema version {version} is newer than this mlctl understands ({SCHEMA_VERSION}); upgrade mlctl"
        )));
    }
    if version < SCHEMA_VERSION {
        if version != 0 {
            return Err(fail(format!("no migration from schema version {version}")));
        }
        tx.batch_execute(POSTGRES_SCHEMA)
            .map_err(|e| fail(format!("migration 0 → {SCHEMA_VERSION}: {e}")))?;
        tx.execute("DELETE FROM mlctl_schema", &[]).map_err(pg)?;
        tx.execute("INSERT INTO mlctl_schema (version) VALUES ($1)", &[&SCHEMA_VERSION])
            .map_err(pg)?;
    }
    tx.commit().map_err(pg)?;
    Ok(())
}
