//! What a 10-feature lookup costs inside the gateway, without HTTP and its noise: read
//! the request's fields, fetch the rows from the embedded online index, assemble the
//! [1, 10] tensor, build the logged vector — the request path of `serving::features`
//! minus the metrics. Prints the p50/p99 of 100 000 assemblies (one row, a random one of
//! 10 000 entities each time). Used by bench/features_latency.sh.
//!
//! Usage: cargo run --release --example feature_assembly [iterations]

use std::time::Instant;

use mlctl::features::assemble::read_request;
use mlctl::features::online::Embedded;
use mlctl::features::store::{FeatureStore, Row};
use mlctl::features::view::parse_view_text;
use mlctl::wire::v2::InferRequest;

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let columns: Vec<String> = (0..10).map(|i| format!("f{i}")).collect();
    let rows = (0..10_000).map(|e| {
        Ok(Row {
            entity: format!("r{e}"),
            ts_us: 1_700_000_000_000_000,
            values: (0..10).map(|i| f64::from(e * 10 + i) / 7.0).collect(),
        })
    });
    FeatureStore::open(dir.path())
        .and_then(|mut s| s.load_snapshot("restaurant_stats", "restaurant_id", &columns, rows))
        .expect("load");
    let online = Embedded::open(dir.path()).expect("index");
    let mut text = String::from("input = \"input\"\n");
    for i in 0..10 {
        text += &format!(
            "[[feature]]\nname = \"f{i}\"\nfrom = \"restaurant_stats.f{i}\"\nkey = \"restaurant_id\"\ndefault = 0.0\n"
        );
    }
    let view = parse_view_text("view.toml", &text).expect("view");
    let mut times = Vec::with_capacity(n);
    let now = 1_700_000_000_000_000 + 1;
    for i in 0..n {
        let mut parameters = serde_json::Map::new();
        parameters.insert("restaurant_id".into(), format!("r{}", (i * 7919) % 10_000).into());
        let req = InferRequest {
            id: None,
            parameters,
            inputs: Vec::new(),
            outputs: Vec::new(),
            binary_output_default: false,
        };
        let t = Instant::now();
        let rows = read_request(&view, &req).expect("fields");
        let fetched = online.fetch(&rows.wanted(&view));
        let done = rows.finish(&view, &fetched, now).expect("assembled");
        let logged = serde_json::to_vec(&done.logged).expect("log");
        std::hint::black_box((&done.tensor, logged));
        times.push(t.elapsed().as_nanos() as f64 / 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let q = |p: f64| times[((times.len() - 1) as f64 * p) as usize];
    println!("{:.2} {:.2}", q(0.5), q(0.99));
}
