//! Property test: random bytes and random V2-shaped JSON thrown at the infer handler of
//! a live in-process gateway never produce a 5xx (no runtime failures are injected here)
//! and never take the server down.

use std::sync::Arc;

use mlctl::client::GatewayClient;
use mlctl::serving::server;
use mlctl::serving::state::ServeConfig;
use proptest::prelude::*;
use serde_json::{Value, json};

struct Live {
    rt: tokio::runtime::Runtime,
    url: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

fn live() -> Arc<Live> {
    static LIVE: std::sync::OnceLock<Arc<Live>> = std::sync::OnceLock::new();
    LIVE.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cfg = ServeConfig {
            max_body: 64 << 10,
            max_blob: 8 << 20,
            default_upstream_timeout: std::time::Duration::from_secs(2),
            inference_threads: 2,
            ..ServeConfig::new("127.0.0.1:0", dir.path())
        };
        let (tx, rx) = std::sync::mpsc::channel();
        rt.spawn(server::serve(
            cfg,
            move |gw, _| {
                let _ = tx.send((gw.addr, gw.state.token.clone()));
            },
            std::future::pending(),
        ));
        let (addr, token) = rx.recv().unwrap();
        let url = format!("http://{addr}");
        rt.block_on(async {
            let c = GatewayClient::new(&url, Some(token)).unwrap();
            for (name, file) in [("churn", "churn_lr"), ("iris", "iris_gbt")] {
                let bytes =
                    std::fs::read(format!("{}/fixtures/models/{file}.onnx", env!("CARGO_MANIFEST_DIR"))).unwrap();
                let sha = c.upload_blob(bytes).await.unwrap();
                c.register_onnx(name, "1", &sha, None).await.unwrap();
                c.set_route(name, "1", None, false).await.unwrap();
            }
        });
        Arc::new(Live {
            rt,
            url,
            http: reqwest::Client::new(),
            _dir: dir,
        })
    })
    .clone()
}

fn post(body: Vec<u8>, header_len: Option<String>, model: &str) -> u16 {
    let l = live();
    l.rt.block_on(async {
        let mut req = l.http.post(format!("{}/v2/models/{model}/infer", l.url)).body(body);
        if let Some(h) = header_len {
            req = req.header("Inference-Header-Content-Length", h);
        }
        req.send().await.map(|r| r.status().as_u16()).unwrap_or(0)
    })
}

fn json_scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<f32>().prop_map(|f| serde_json::Number::from_f64(f as f64)
            .map(Value::Number)
            .unwrap_or(Value::Null)),
        any::<i64>().prop_map(|i| json!(i)),
        any::<bool>().prop_map(|b| json!(b)),
        "[a-zA-Z]{0,4}".prop_map(Value::String),
        Just(Value::Null),
    ]
}

fn data() -> impl Strategy<Value = Value> {
    json_scalar().prop_recursive(3, 64, 8, |inner| {
        prop::collection::vec(inner, 0..8).prop_map(Value::Array)
    })
}

fn v2_input() -> impl Strategy<Value = Value> {
    (
        prop_oneof![Just("input".to_string()), "[a-z]{0,3}"],
        prop::collection::vec(-2i64..9, 0..4),
        prop_oneof![
            Just("FP32".to_string()),
            Just("FP64".to_string()),
            Just("INT64".to_string()),
            Just("BYTES".to_string()),
            Just("BOOL".to_string()),
            Just("FP16".to_string()),
            "[A-Z0-9]{0,5}"
        ],
        data(),
        proptest::option::of(0u64..64),
    )
        .prop_map(|(name, shape, dt, data, bsize)| {
            let mut v = json!({"name": name, "shape": shape, "datatype": dt, "data": data});
            if let Some(b) = bsize {
                v["parameters"] = json!({"binary_data_size": b});
            }
            v
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, .. ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_yield_5xx(bytes in prop::collection::vec(any::<u8>(), 0..512), hl in proptest::option::of(0usize..600)) {
        let status = post(bytes, hl.map(|h| h.to_string()), "churn");
        prop_assert!((400..500).contains(&status), "status {status}");
    }

    #[test]
    fn random_v2_shaped_requests_never_yield_5xx(
        inputs in prop::collection::vec(v2_input(), 0..3),
        outputs in proptest::option::of(prop::collection::vec("[a-z]{0,12}", 0..3)),
        tail in prop::collection::vec(any::<u8>(), 0..64),
        binary in any::<bool>(),
        model in prop_oneof![Just("churn"), Just("iris")],
    ) {
        let mut req = json!({"inputs": inputs});
        if let Some(o) = outputs {
            req["outputs"] = Value::Array(o.into_iter().map(|n| json!({"name": n})).collect());
        }
        let mut body = serde_json::to_vec(&req).unwrap();
        let hl = binary.then(|| body.len().to_string());
        if binary {
            body.extend_from_slice(&tail);
        }
        let status = post(body, hl, model);
        prop_assert!(status != 0 && status < 500, "status {status} for {req}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, failure_persistence: None, .. ProptestConfig::default() })]

    /// Well-formed requests with any finite floats (extremes included) are answered 200.
    #[test]
    fn well_formed_requests_with_any_finite_values_are_answered(rows in prop::collection::vec(prop::array::uniform4(-3.0e38f32..3.0e38f32), 1..20), model in prop_oneof![Just("churn"), Just("iris")]) {
        let data: Vec<f32> = rows.iter().flatten().copied().collect();
        let req = json!({"inputs": [{"name": "input", "shape": [rows.len(), 4], "datatype": "FP32", "data": data}]});
        let status = post(serde_json::to_vec(&req).unwrap(), None, model);
        prop_assert_eq!(status, 200);
    }
}

#[test]
fn server_still_answers_after_the_fuzzing() {
    let status = post(
        br#"{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}"#.to_vec(),
        None,
        "churn",
    );
    assert_eq!(status, 200);
}
