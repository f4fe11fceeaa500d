//! The state store's suite, run on both backends: SQLite (a data dir) and a real
//! PostgreSQL server started for the test. On PostgreSQL every `open` is another replica
//! (its own data dir, so blobs must come through the database); on SQLite it is another
//! handle on the same file.

use crate::common;

use std::cell::Cell;

use mlctl::error::Error;
use mlctl::store::{Expected, Registered, RouteChange, StateUrl, Store, VersionSource};
use serde_json::json;

enum Kind {
    Sqlite,
    Postgres(common::pg::Postgres),
}

struct Backend {
    kind: Kind,
    n: Cell<u32>,
}

/// One fresh state (an empty SQLite dir or an empty PostgreSQL database).
struct Env {
    url: StateUrl,
    dirs: std::cell::RefCell<Vec<tempfile::TempDir>>,
}

impl Backend {
    fn fresh(&self) -> Env {
        self.n.set(self.n.get() + 1);
        let env = Env {
            url: match &self.kind {
                Kind::Sqlite => StateUrl::Sqlite,
                Kind::Postgres(pg) => StateUrl::Postgres(pg.database(&format!("suite{}", self.n.get()))),
            },
            dirs: Default::default(),
        };
        env.dirs.borrow_mut().push(tempfile::tempdir().unwrap());
        env
    }
}

impl Env {
    /// Another replica's store (PostgreSQL: a new data dir; SQLite: the same file).
    fn open(&self) -> Store {
        let mut dirs = self.dirs.borrow_mut();
        if self.url != StateUrl::Sqlite {
            dirs.push(tempfile::tempdir().unwrap());
        }
        let dir = dirs.last().unwrap().path().to_path_buf();
        Store::open_at(&dir, &self.url).unwrap()
    }
}

fn onnx(sha: &str) -> VersionSource {
    VersionSource::Onnx {
        blob_sha256: sha.to_string(),
    }
}

fn upstream() -> VersionSource {
    VersionSource::Upstream {
        url: "http://127.0.0.1:9".into(),
        timeout_ms: 5,
    }
}

fn change(model: &str, version: &str, actor: &str) -> RouteChange {
    RouteChange {
        model: model.into(),
        live_version: version.into(),
        strategy: "canary".into(),
        state: "progressing".into(),
        rollout: Some(json!({"step_id": 7, "phase": "progressing"}).to_string()),
        actor: actor.into(),
        kind: "step".into(),
        from: None,
        to: None,
        detail: json!({}),
    }
}

fn versions_routes_blobs_and_reopen(b: &Backend) {
    let env = b.fresh();
    let sha = {
        let mut a = env.open();
        let sha = a.put_blob(b"model bytes").unwrap();
        assert_eq!(
            a.register_version("m", "1", &onnx(&sha), None, "t").unwrap(),
            Registered::Created
        );
        assert_eq!(
            a.register_version("m", "1", &onnx(&sha), None, "t").unwrap(),
            Registered::Unchanged
        );
        assert!(a.register_version("m", "1", &upstream(), None, "t").is_err());
        a.register_version("m", "2", &upstream(), Some("[view]"), "t").unwrap();
        a.set_live("m", "1", "t", None).unwrap();
        assert!(
            a.set_live("m", "9", "t", None).is_err(),
            "an unknown version is refused"
        );
        sha
    };
    let b2 = env.open();
    let dep = b2.deployment("m").unwrap().unwrap();
    assert_eq!((dep.live_version.as_str(), dep.strategy.as_str()), ("1", "single"));
    assert_eq!(
        b2.read_blob(&sha).unwrap(),
        b"model bytes",
        "every replica reads every blob"
    );
    let vs = b2.versions(Some("m")).unwrap();
    assert_eq!(vs.len(), 2);
    assert_eq!(vs[1].features.as_deref(), Some("[view]"));
    assert_eq!(b2.versions(None).unwrap().len(), 2);
    let kinds: Vec<String> = b2.events("m").unwrap().into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds, ["register", "register", "route"]);
    assert_eq!(b2.deployments().unwrap().len(), 1);
}

fn compare_and_swap_and_fencing(b: &Backend) {
    let env = b.fresh();
    let (mut a, mut c) = (env.open(), env.open());
    a.register_version("m", "1", &upstream(), None, "t").unwrap();
    a.register_version("m", "2", &upstream(), None, "t").unwrap();
    a.set_live_if("m", "1", "t", None, Some(&Expected(None))).unwrap();
    // C saw "live 1, no rollout"; A moves on first; C's change is refused.
    let seen = Expected(Some(("1".into(), None)));
    a.commit_route_if(change("m", "2", "a"), Some(&seen), None).unwrap();
    let e = c.commit_route_if(change("m", "1", "c"), Some(&seen), None).unwrap_err();
    assert!(matches!(e, Error::Conflict(_)), "{e}");
    let now = Expected(Some(("2".into(), Some(json!({"step_id": 7, "phase": "progressing"})))));
    c.commit_route_if(change("m", "1", "c"), Some(&now), None).unwrap();
    // Leadership: a new epoch fences the old one's commits.
    let first = a.take_leadership("a").unwrap();
    a.commit_route_if(change("m", "2", "controller"), None, Some(first))
        .unwrap();
    let second = c.take_leadership("c").unwrap();
    assert_eq!(second, first + 1);
    let e = a
        .commit_route_if(change("m", "1", "controller"), None, Some(first))
        .unwrap_err();
    assert!(matches!(e, Error::Conflict(_)), "{e}");
    assert_eq!(a.leader().unwrap(), (second, Some("c".to_string())));
    let actors: Vec<String> = a.events("m").unwrap().into_iter().map(|e| e.actor).collect();
    assert_eq!(
        actors,
        ["t", "t", "t", "a", "c", "controller"],
        "refused changes left no event"
    );
}

fn outbox_cursors(b: &Backend) {
    let env = b.fresh();
    let mut s = env.open();
    for kind in ["rollout_start", "step", "promote", "step"] {
        s.record_event("m", "controller", kind, &json!({"k": kind})).unwrap();
    }
    assert_eq!(s.max_event_id().unwrap(), 4);
    assert!(
        s.rollout_start_before("m", 3)
            .unwrap()
            .is_some_and(|(e, ended)| e.id == 1 && !ended)
    );
    assert!(s.rollout_start_before("m", 4).unwrap().is_some_and(|(_, ended)| ended));
    assert!(s.rollout_start_before("other", 4).unwrap().is_none());
    let after: Vec<i64> = s.events_after(2, 10).unwrap().iter().map(|e| e.id).collect();
    assert_eq!(after, [3, 4]);
    let c = s.init_notify_cursor("t", 1).unwrap();
    assert_eq!((c.last_event_id, c.delivered), (1, 0));
    s.advance_notify_cursor("t", 2, None).unwrap();
    assert_eq!(
        s.init_notify_cursor("t", 0).unwrap().last_event_id,
        2,
        "init keeps a cursor"
    );
    s.note_notify_error("t", "connection refused").unwrap();
    s.advance_notify_cursor("t", 3, Some("gave up")).unwrap();
    let c = s.notify_cursor("t").unwrap().unwrap();
    assert_eq!((c.last_event_id, c.delivered, c.failed), (3, 1, 1));
    assert_eq!(c.last_error.as_deref(), Some("gave up"));
    assert_eq!(s.notify_cursors().unwrap().len(), 1);
}

fn monitors_and_windows(b: &Backend) {
    let env = b.fresh();
    let mut s = env.open();
    let id = s
        .add_monitor("m", &json!({"window_ms": 1000, "notify": []}), "admin")
        .unwrap();
    assert_eq!(s.monitors().unwrap()[0].id, id);
    let window = |end: &str, drift: bool| mlctl::store::monitors::WindowRecord {
        monitor_id: id,
        version: "1".into(),
        start: "2026-01-01T00:00:00Z".into(),
        end: end.into(),
        rows: 500,
        drift,
        result: json!({"psi": 0.3}),
    };
    s.finish_windows(
        id,
        &[
            window("2026-01-01T00:01:00Z", false),
            window("2026-01-01T00:02:00Z", true),
        ],
        &json!({"1": "alerting"}),
        &[("monitor_alert".into(), json!({"monitor_id": id}))],
        None,
    )
    .unwrap();
    s.finish_windows(
        id,
        &[window("2026-01-01T00:03:00Z", false)],
        &json!({}),
        &[],
        Some("2026-01-01T00:01:30Z"),
    )
    .unwrap();
    let ws = s.monitor_windows(id, 10).unwrap();
    let ends: Vec<&str> = ws.iter().map(|w| w.end.as_str()).collect();
    assert_eq!(
        ends,
        ["2026-01-01T00:02:00Z", "2026-01-01T00:03:00Z"],
        "oldest first, pruned"
    );
    assert!(ws[0].drift && !ws[1].drift && ws[0].rows == 500);
    assert_eq!(s.monitor_windows(id, 1).unwrap()[0].end, "2026-01-01T00:03:00Z");
    assert_eq!(s.recent_alerts(5).unwrap()[0].kind, "monitor_alert");
    assert!(s.remove_monitor(id, "admin").unwrap());
    assert!(!s.remove_monitor(id, "admin").unwrap());
    assert!(s.monitors().unwrap().is_empty());
}

fn replicas_stats_and_relay(b: &Backend) {
    let env = b.fresh();
    let (mut a, mut c) = (env.open(), env.open());
    a.heartbeat("a", "10.0.0.1:8080", "2026-01-01T00:00:00Z", 3, true)
        .unwrap();
    c.heartbeat("c", "10.0.0.3:8080", "2026-01-01T00:00:00Z", 2, false)
        .unwrap();
    a.heartbeat("a", "10.0.0.1:8080", "2026-01-01T00:00:00Z", 4, true)
        .unwrap();
    let rs = c.replicas().unwrap();
    assert_eq!(
        rs.iter()
            .map(|r| (r.id.as_str(), r.route_version, r.leader))
            .collect::<Vec<_>>(),
        [("a", 4, true), ("c", 2, false)]
    );
    a.publish_step_stats("m", "a", 5, "{\"n\":1}").unwrap();
    a.publish_step_stats("m", "a", 5, "{\"n\":2}").unwrap();
    c.publish_step_stats("m", "c", 5, "{\"n\":3}").unwrap();
    c.publish_step_stats("m", "c", 4, "{\"old\":1}").unwrap();
    assert_eq!(
        a.step_stats("m", 5, "a").unwrap(),
        [("c".to_string(), "{\"n\":3}".to_string())]
    );
    assert_eq!(
        c.step_stats("m", 5, "c").unwrap(),
        [("a".to_string(), "{\"n\":2}".to_string())]
    );
    assert_eq!(a.prune_step_stats("m", 5).unwrap(), 1);
    c.relay_outcomes("c", &[("r1", "revenue", 2.5), ("r2", "click", 1.0)])
        .unwrap();
    a.relay_outcomes("a", &[("r3", "revenue", -1.0)]).unwrap();
    let got = a.relayed_after(0, 10).unwrap();
    let ids: Vec<(&str, &str, f64)> = got
        .iter()
        .map(|o| (o.origin.as_str(), o.request_id.as_str(), o.value))
        .collect();
    assert_eq!(ids, [("c", "r1", 2.5), ("c", "r2", 1.0), ("a", "r3", -1.0)]);
    assert_eq!(a.relayed_after(got[1].id, 10).unwrap().len(), 1);
    assert_eq!(c.max_relay_id().unwrap(), got[2].id);
}

fn suite(b: &Backend) {
    versions_routes_blobs_and_reopen(b);
    compare_and_swap_and_fencing(b);
    outbox_cursors(b);
    monitors_and_windows(b);
    replicas_stats_and_relay(b);
}

#[test]
fn the_store_suite_on_sqlite() {
    suite(&Backend {
        kind: Kind::Sqlite,
        n: Cell::new(0),
    });
}

#[test]
#[ignore = "needs PostgreSQL (apt install postgresql)"]
fn the_store_suite_on_postgres() {
    let pg = common::pg::Postgres::start();
    suite(&Backend {
        kind: Kind::Postgres(pg),
        n: Cell::new(0),
    });
}

#[test]
#[ignore = "needs PostgreSQL (apt install postgresql)"]
fn postgres_events_are_append_only_and_replicas_migrate_together() {
    let pg = common::pg::Postgres::start();
    let url = pg.database("race");
    // Three replicas opening an empty database at once: one migrates, the others wait.
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let dir = tempfile::tempdir().unwrap();
                let mut s = Store::open_at(dir.path(), &StateUrl::Postgres(url)).unwrap();
                s.record_event("m", "t", "note", &json!({})).unwrap();
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let mut raw = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let n: i64 = raw.query_one("SELECT COUNT(*) FROM events", &[]).unwrap().get(0);
    assert_eq!(n, 3);
    let e = raw.execute("UPDATE events SET actor = 'x'", &[]).unwrap_err();
    assert!(format!("{e:?}").contains("append-only"), "{e:?}");
    assert!(raw.execute("DELETE FROM events", &[]).is_err());
    let v: i64 = raw.query_one("SELECT version FROM mlctl_schema", &[]).unwrap().get(0);
    assert!(v >= 6);
}

#[test]
fn state_urls_are_parsed_and_passwords_never_shown() {
    assert_eq!(StateUrl::parse("sqlite").unwrap(), StateUrl::Sqlite);
    let u = StateUrl::parse("postgres://ml:s3cret@db:5432/mlctl").unwrap();
    assert_eq!(u.redacted(), "postgres://ml:***@db:5432/mlctl");
    assert!(StateUrl::parse("mysql://x").unwrap_err().contains("postgres://"));
    assert_eq!(
        mlctl::store::redact_url("postgresql://db/mlctl"),
        "postgresql://db/mlctl"
    );
}
