//! `mlctl demo`: an embedded gateway on a free 127.0.0.1 port with a temporary data
//! dir and the fixture models compiled into the binary. It deploys the models, swaps
//! the churn model from a bad version to a good one (strategy `single`), runs each
//! fixture's sample batch through the gateway and checks every answer against the
//! onnxruntime outputs recorded by `fixtures/make_models.py`.

use std::time::Instant;

use serde::Serialize;
use serde_json::{Value, json};

use super::fmt_num;
use crate::cli::{DemoArgs, GlobalArgs};
use crate::client::GatewayClient;
use crate::error::{Error, Result};
use crate::output::{Grid, Report};
use crate::serving::log::LogPolicy;
use crate::serving::server;
use crate::serving::state::ServeConfig;

/// (model, version, onnx bytes, samples JSON)
const FIXTURES: &[(&str, &str, &[u8], &str)] = &[
    (
        "churn",
        "1",
        include_bytes!("../../fixtures/models/churn_lr_bad.onnx"),
        include_str!("../../fixtures/models/churn_lr_bad.samples.json"),
    ),
    (
        "iris",
        "1",
        include_bytes!("../../fixtures/models/iris_gbt.onnx"),
        include_str!("../../fixtures/models/iris_gbt.samples.json"),
    ),
    (
        "price",
        "1",
        include_bytes!("../../fixtures/models/price_rf.onnx"),
        include_str!("../../fixtures/models/price_rf.samples.json"),
    ),
    (
        "churn",
        "2",
        include_bytes!("../../fixtures/models/churn_lr.onnx"),
        include_str!("../../fixtures/models/churn_lr.samples.json"),
    ),
];

#[derive(Debug, Serialize)]
pub struct DemoStep {
    pub model: String,
    pub version: String,
    pub previous_version: Option<String>,
    pub route_change_ms: f64,
    pub rows: usize,
    pub served_by: String,
    pub latency_ms: f64,
    pub max_abs_diff_vs_onnxruntime: f64,
    pub matches_onnxruntime: bool,
}

#[derive(Debug, Serialize)]
pub struct DemoReport {
    pub endpoint: String,
    pub data_dir: String,
    pub steps: Vec<DemoStep>,
    pub audit_events: usize,
}

impl Report for DemoReport {
    fn grids(&self) -> Vec<Grid> {
        let rows = self
            .steps
            .iter()
            .map(|s| {
                vec![
                    s.model.clone(),
                    s.version.clone(),
                    s.previous_version.clone().unwrap_or_else(|| "-".into()),
                    format!("{:.2}", s.route_change_ms),
                    s.rows.to_string(),
                    s.served_by.clone(),
                    format!("{:.2}", s.latency_ms),
                    format!(
                        "{} ({})",
                        if s.matches_onnxruntime { "yes" } else { "NO" },
                        fmt_num(s.max_abs_diff_vs_onnxruntime)
                    ),
                ]
            })
            .collect();
        vec![Grid {
            title: Some(format!(
                "mlctl demo on {} ({} audit events in {})",
                self.endpoint, self.audit_events, self.data_dir
            )),
            headers: [
                "model",
                "deployed",
                "replaced",
                "route ms",
                "rows",
                "served by",
                "latency ms",
                "= onnxruntime (max |Δ|)",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            rows,
        }]
    }
}

fn max_abs_diff(expected: &Value, got: &[crate::serving::protocol::Tensor]) -> Result<f64> {
    let mut worst: f64 = 0.0;
    let exp = expected
        .as_object()
        .ok_or_else(|| Error::State("fixture has no outputs".into()))?;
    for t in got {
        let want = exp
            .get(&t.name)
            .and_then(super::predict::tensor_from_json)
            .ok_or_else(|| Error::State(format!("fixture has no output '{}'", t.name)))?;
        if want.data.len() != t.data.len() {
            return Ok(f64::INFINITY);
        }
        for i in 0..t.data.len() {
            let (a, b) = (
                t.data.get_f64(i).unwrap_or(f64::NAN),
                want.data.get_f64(i).unwrap_or(f64::NAN),
            );
            worst = worst.max((a - b).abs());
        }
    }
    Ok(worst)
}

pub async fn run(args: DemoArgs, _g: &GlobalArgs) -> Result<DemoReport> {
    let _ = args.seed;
    let tmp;
    let data_dir = match &args.keep {
        Some(d) => d.clone(),
        None => {
            tmp = tempfile::Builder::new()
                .prefix("mlctl-demo-")
                .tempdir()
                .map_err(|e| Error::io(std::env::temp_dir(), e))?;
            tmp.path().to_path_buf()
        }
    };
    let cfg = ServeConfig {
        listen: "127.0.0.1:0".into(),
        data_dir: data_dir.clone(),
        max_body: 8 << 20,
        max_blob: 64 << 20,
        require_token_for_inference: false,
        log_inputs: 0.0,
        log_policy: LogPolicy::default(),
        default_upstream_timeout: std::time::Duration::from_secs(10),
        inference_threads: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
        controller_tick: std::time::Duration::from_secs(1),
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
    let gateway = tokio::spawn(server::serve(
        cfg,
        move |gw, _| {
            let _ = addr_tx.send((gw.addr, gw.state.token.clone()));
        },
        async move {
            let _ = stop_rx.await;
        },
    ));
    let (addr, token) = match addr_rx.await {
        Ok(x) => x,
        Err(_) => {
            return Err(match gateway.await {
                Ok(Err(e)) => e,
                _ => Error::State("embedded gateway failed to start".into()),
            });
        }
    };
    let endpoint = format!("http://{addr}");
    eprintln!("demo: embedded gateway on {endpoint}, data dir {}", data_dir.display());
    let client = GatewayClient::new(&endpoint, Some(token))?;
    let mut steps = Vec::new();
    for (model, version, onnx, samples) in FIXTURES {
        let samples: Value =
            serde_json::from_str(samples).map_err(|e| Error::State(format!("fixture samples: {e}")))?;
        eprintln!(
            "demo: deploy {model} version {version} (ONNX, {} bytes, strategy single)",
            onnx.len()
        );
        let sha = client.upload_blob(onnx.to_vec()).await?;
        client.register_onnx(model, version, &sha).await?;
        let routed = client.set_route(model, version, Some("demo")).await?;
        let body = json!({"id": format!("demo-{model}-{version}"), "inputs": [samples["input"]]});
        let started = Instant::now();
        let reply = client
            .infer(model, None, Some("demo-user"), body.to_string().into_bytes())
            .await?;
        let latency_ms = started.elapsed().as_secs_f64() * 1e3;
        let diff = max_abs_diff(&samples["outputs"], &reply.response.outputs)?;
        let rows = samples["input"]["shape"][0].as_u64().unwrap_or(0) as usize;
        eprintln!(
            "demo: {rows} rows answered by {model} version {} in {latency_ms:.2} ms; max |Δ| vs onnxruntime {}",
            reply.response.model_version,
            fmt_num(diff)
        );
        steps.push(DemoStep {
            model: model.to_string(),
            version: version.to_string(),
            previous_version: routed["previous_version"].as_str().map(str::to_string),
            route_change_ms: routed["swap_us"].as_u64().unwrap_or(0) as f64 / 1e3,
            rows,
            served_by: reply.response.model_version.clone(),
            latency_ms,
            max_abs_diff_vs_onnxruntime: diff,
            matches_onnxruntime: diff <= 1e-5,
        });
    }
    let mut audit_events = 0;
    for model in ["churn", "iris", "price"] {
        audit_events += client.events(model).await?["events"].as_array().map_or(0, Vec::len);
    }
    let _ = stop_tx.send(());
    match gateway.await {
        Ok(r) => r?,
        Err(e) => return Err(Error::State(format!("embedded gateway task failed: {e}"))),
    }
    if steps.iter().any(|s| !s.matches_onnxruntime) {
        return Err(Error::GateFailed(
            "demo: a model's answers differ from onnxruntime's".into(),
        ));
    }
    Ok(DemoReport {
        endpoint,
        data_dir: data_dir.display().to_string(),
        steps,
        audit_events,
    })
}
