//! `mlctl features` on a real data dir: loading snapshots, lookups, and point-in-time
//! training sets — equal to pandas `merge_asof` on the committed fixture.

use crate::common;

use std::path::Path;
use std::process::Output;

fn mlctl(data: &Path, args: &[&str]) -> Output {
    common::mlctl_in(data, args)
}

fn json(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

const VIEW: &str = r#"
input = "x"
[[feature]]
name = "hour"
from = "request"
[[feature]]
name = "prep_7d"
from = "restaurant_stats.avg_prep_7d"
key = "restaurant_id"
default = -1.0
max_age = "7d"
"#;

/// A feature table written by pandas + pyarrow (`fixtures/features/make_parquet.py`:
/// microsecond UTC timestamps, a null) loads like the same rows in CSV.
#[test]
fn a_parquet_feature_table_loads_like_its_csv() {
    let data = tempfile::tempdir().unwrap();
    let stats = common::fixture("features/stats.parquet");
    let out = common::load_restaurant_stats(data.path(), stats.to_str().unwrap());
    assert_eq!(json(&out)["values"], 5, "the null is missing, not a value");
    let ls = json(&mlctl(data.path(), &["features", "ls", "-o", "json"]));
    assert_eq!(ls["tables"][0]["entities"], 2);
    assert_eq!(ls["tables"][0]["newest"], "2026-11-20T00:00:00.000000Z");
    let get = json(&mlctl(
        data.path(),
        &["features", "get", "restaurant_stats", "r1", "-o", "json"],
    ));
    assert_eq!(get["values"][0]["value"], 20.0);
    assert_eq!(get["values"][1]["value"], 21.0);
}

#[test]
fn load_get_ls_and_a_point_in_time_join() {
    let data = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let f = |name: &str, text: &str| {
        let p = files.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    // Updates out of order; r1's value changes on day 10 and day 20.
    let stats = f(
        "stats.csv",
        "restaurant_id,event_ts,avg_prep_7d,avg_prep_1h\n\
         r1,2026-11-20T00:00:00Z,20.0,21\n\
         r1,2026-11-10T00:00:00Z,10.0,\n\
         r2,2026-11-01T00:00:00Z,5.0,6\n",
    );
    let out = common::load_restaurant_stats(data.path(), &stats);
    assert_eq!(json(&out)["values"], 5, "the empty cell is missing, not a value");
    let ls = json(&mlctl(data.path(), &["features", "ls", "-o", "json"]));
    assert_eq!(ls["tables"][0]["entities"], 2);
    assert_eq!(ls["tables"][0]["newest"], "2026-11-20T00:00:00.000000Z");
    let get = json(&mlctl(
        data.path(),
        &["features", "get", "restaurant_stats", "r1", "r9", "-o", "json"],
    ));
    assert_eq!(get["values"][0]["value"], 20.0);
    assert_eq!(get["values"][1]["value"], 21.0);
    assert_eq!(get["missing"][0], "r9");

    let view = f("view.toml", VIEW);
    let spine = f(
        "events.csv",
        "order,restaurant_id,ts,hour\n\
         a,r1,2026-11-09T00:00:00Z,9\n\
         b,r1,2026-11-15T00:00:00Z,10\n\
         c,r1,2026-11-20T00:00:00Z,11\n\
         d,r2,2026-11-09T00:00:00Z,12\n\
         e,r3,2026-11-25T00:00:00Z,13\n",
    );
    let train = files.path().join("train.csv");
    let rep = json(&mlctl(
        data.path(),
        &[
            "features",
            "join",
            "--spine",
            &spine,
            "--at",
            "ts",
            "--view",
            &view,
            "--out",
            train.to_str().unwrap(),
            "-o",
            "json",
        ],
    ));
    assert_eq!(rep["rows"], 5);
    let got = std::fs::read_to_string(&train).unwrap();
    assert_eq!(
        got,
        "order,restaurant_id,ts,hour,prep_7d\n\
         a,r1,2026-11-09T00:00:00Z,9,-1\n\
         b,r1,2026-11-15T00:00:00Z,10,10\n\
         c,r1,2026-11-20T00:00:00Z,11,20\n\
         d,r2,2026-11-09T00:00:00Z,12,-1\n\
         e,r3,2026-11-25T00:00:00Z,13,-1\n",
        "a: before any update; b: the day-10 value, not the day-20 one; c: exactly at the update; \
         d: 8 days old > max_age 7d; e: unknown entity"
    );

    // A load that fails on line 3 exits 2 naming it, and the old snapshot keeps serving.
    let bad = f(
        "bad.csv",
        "restaurant_id,event_ts,avg_prep_7d\nr1,2026-11-21T00:00:00Z,30\nr2,2026-11-21T00:00:00Z,slow\n",
    );
    let out = mlctl(
        data.path(),
        &[
            "features",
            "load",
            "restaurant_stats",
            "--from",
            &bad,
            "--key",
            "restaurant_id",
            "--ts-col",
            "event_ts",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("bad.csv:3: column avg_prep_7d: expected a number, found \"slow\""),
        "{err}"
    );
    let get = json(&mlctl(
        data.path(),
        &["features", "get", "restaurant_stats", "r1", "-o", "json"],
    ));
    assert_eq!(get["values"][0]["value"], 20.0, "the failed load changed nothing");
}

#[test]
fn the_join_equals_pandas_merge_asof() {
    let fixture: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(common::fixture("features/pit.json")).unwrap()).unwrap();
    let data = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let mut table = String::from("entity,ts,value\n");
    for u in fixture["updates"].as_array().unwrap() {
        table += &format!(
            "{},{},{}\n",
            u[0].as_str().unwrap(),
            u[1].as_i64().unwrap() / 1_000_000,
            u[2]
        );
    }
    let mut spine = String::from("entity,ts\n");
    for e in fixture["events"].as_array().unwrap() {
        spine += &format!("{},{}\n", e[0].as_str().unwrap(), e[1].as_i64().unwrap() / 1_000_000);
    }
    let tp = files.path().join("t.csv");
    let sp = files.path().join("spine.csv");
    let vp = files.path().join("view.toml");
    std::fs::write(&tp, table).unwrap();
    std::fs::write(&sp, spine).unwrap();
    let tol_s = fixture["tolerance_us"].as_i64().unwrap() / 1_000_000;
    std::fs::write(
        &vp,
        format!(
            "input = \"x\"\n[[feature]]\nname = \"v\"\nfrom = \"t.value\"\nkey = \"entity\"\nmax_age = \"{tol_s}s\"\n"
        ),
    )
    .unwrap();
    json(&mlctl(
        data.path(),
        &[
            "features",
            "load",
            "t",
            "--from",
            tp.to_str().unwrap(),
            "--key",
            "entity",
            "--ts-col",
            "ts",
            "-o",
            "json",
        ],
    ));
    let out = files.path().join("train.csv");
    json(&mlctl(
        data.path(),
        &[
            "features",
            "join",
            "--spine",
            sp.to_str().unwrap(),
            "--at",
            "ts",
            "--view",
            vp.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "-o",
            "json",
        ],
    ));
    let text = std::fs::read_to_string(&out).unwrap();
    let want = fixture["expected_with_tolerance"].as_array().unwrap();
    let got: Vec<Option<f64>> = text
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap().parse().ok())
        .collect();
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(*g, w.as_f64(), "event {i}");
    }
}

#[test]
fn bad_views_exit_2_naming_the_line() {
    let data = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let view = files.path().join("view.toml");
    std::fs::write(&view, VIEW.replace("max_age = \"7d\"", "max_age = \"a week\"")).unwrap();
    let spine = files.path().join("s.csv");
    std::fs::write(&spine, "restaurant_id,ts,hour\nr1,1,2\n").unwrap();
    let out = mlctl(
        data.path(),
        &[
            "features",
            "join",
            "--spine",
            spine.to_str().unwrap(),
            "--at",
            "ts",
            "--view",
            view.to_str().unwrap(),
            "--out",
            "/dev/null",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("view.toml:11: feature 2 (prep_7d): max_age"), "{err}");
}
