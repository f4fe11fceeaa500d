//! `mlctl demo`: the whole story on an embedded gateway (free 127.0.0.1 port, temporary
//! data dir, fixture models compiled into the binary):
//!
//! 1. deploy a good churn model (logistic regression) as the stable version;
//! 2. canary a bad one (trained on shuffled labels) while a seeded traffic generator sends
//!    requests and posts conversions drawn from whether the answering model got the row
//!    right — the outcome guard (an always-valid sequential test) rolls it back;
//! 3. canary a good candidate (random forest) through its steps to promotion;
//! 4. serve a delivery-time model whose input the gateway assembles from the request and a
//!    feature table (`demo_features`), push a fresh value, build the training set from the
//!    same view and check what was served against it for skew;
//! 5. watch the promoted model with a drift monitor (`demo_monitor`): ordinary traffic,
//!    then another population — one alert after two drifted windows;
//! 6. print the audit history, and what a webhook receiver (a small HTTP server inside the
//!    demo, as a team's chat or CI would run) heard: one signed message per transition
//!    and alert.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rand::{RngExt, SeedableRng};
use serde::Serialize;
use serde_json::{Value, json};

use crate::cli::{DemoArgs, GlobalArgs};
use crate::client::GatewayClient;
use crate::error::{Error, Result};
use crate::output::{Grid, Report};
use crate::rollout::strategy::{RolloutSpec, Strategy, parse_guard};
use crate::serving::server;
use crate::serving::state::ServeConfig;
use crate::store::EventRecord;

const GOOD: &[u8] = include_bytes!("../../fixtures/models/churn_lr.onnx");
const BAD: &[u8] = include_bytes!("../../fixtures/models/churn_lr_bad.onnx");
const CANDIDATE: &[u8] = include_bytes!("../../fixtures/models/churn_rf.onnx");
const TRAFFIC: &str = include_str!("../../fixtures/models/churn_traffic.json");

/// Conversion probability when the model was right / wrong about the row.
const P_CONVERT_RIGHT: f64 = 0.8;
const P_CONVERT_WRONG: f64 = 0.0;

#[derive(Debug, Serialize)]
pub struct ArmFigures {
    pub version: String,
    pub requests: u64,
    pub conversions: u64,
}

#[derive(Debug, Serialize)]
pub struct DemoAct {
    pub act: String,
    pub version: String,
    pub strategy: String,
    pub result: String,
    pub reason: Option<String>,
    pub seconds: f64,
    pub arms: Vec<ArmFigures>,
}

/// What the demo's webhook receiver heard.
#[derive(Debug, Serialize)]
pub struct WebhookFigures {
    pub received: usize,
    /// Messages whose `X-Mlctl-Signature` matched the gateway's notify secret.
    pub verified: usize,
    /// Their `text`, in arrival order.
    pub messages: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct DemoReport {
    pub endpoint: String,
    pub seed: u64,
    pub acts: Vec<DemoAct>,
    pub live_version: String,
    pub history: Vec<EventRecord>,
    pub features: super::demo_features::FeatureAct,
    pub drift: super::demo_monitor::DriftAct,
    pub webhook: WebhookFigures,
}

impl Report for DemoReport {
    fn grids(&self) -> Vec<Grid> {
        let rows = self
            .acts
            .iter()
            .map(|a| {
                let arms = a
                    .arms
                    .iter()
                    .map(|f| {
                        let rate = if f.requests > 0 {
                            f.conversions as f64 / f.requests as f64
                        } else {
                            0.0
                        };
                        format!("v{}: {} req, {:.1}% converted", f.version, f.requests, rate * 100.0)
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                vec![
                    a.act.clone(),
                    format!("{} ({})", a.version, a.strategy),
                    a.result.clone(),
                    format!("{:.1}", a.seconds),
                    arms,
                    a.reason.clone().unwrap_or_default(),
                ]
            })
            .collect();
        let mut grids = vec![Grid {
            title: Some(format!(
                "mlctl demo on {} (seed {}), live version now {}",
                self.endpoint, self.seed, self.live_version
            )),
            headers: ["act", "version", "result", "seconds", "traffic", "why"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            rows,
        }];
        grids.push(self.features.grid());
        grids.push(self.drift.grid());
        grids.extend(
            super::rollout::HistoryReport {
                model: "churn".into(),
                events: self.history.clone(),
            }
            .grids(),
        );
        grids.push(Grid {
            title: Some(format!(
                "webhook receiver: {} messages, {} with a valid signature",
                self.webhook.received, self.webhook.verified
            )),
            headers: vec!["#".into(), "text".into()],
            rows: self
                .webhook
                .messages
                .iter()
                .enumerate()
                .map(|(i, m)| vec![(i + 1).to_string(), m.clone()])
                .collect(),
        });
        grids
    }
}

/// Received (signature header, body) pairs.
type Inbox = Arc<std::sync::Mutex<Vec<(String, Vec<u8>)>>>;

/// A webhook receiver on a free 127.0.0.1 port: its URL and what it receives.
async fn start_receiver() -> Result<(String, Inbox)> {
    let inbox: Inbox = Default::default();
    let sink = inbox.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let sink = sink.clone();
            async move {
                let sig = headers
                    .get("x-mlctl-signature")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                sink.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push((sig, body.to_vec()));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| Error::State(format!("demo webhook receiver: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::State(format!("demo webhook receiver: {e}")))?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((format!("http://{addr}/hook"), inbox))
}

/// Wait (≤ 3 s) until the receiver has `expected` messages, then check their signatures.
async fn webhook_figures(inbox: &Inbox, expected: usize, secret: &[u8]) -> WebhookFigures {
    let deadline = Instant::now() + Duration::from_secs(3);
    let got = loop {
        let got = inbox.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        if got.len() >= expected || Instant::now() > deadline {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    WebhookFigures {
        received: got.len(),
        verified: got
            .iter()
            .filter(|(sig, body)| *sig == crate::serving::notify::signature(secret, body))
            .count(),
        messages: got
            .iter()
            .map(|(_, body)| {
                serde_json::from_slice::<Value>(body)
                    .ok()
                    .and_then(|m| m["text"].as_str().map(str::to_string))
                    .unwrap_or_default()
            })
            .collect(),
    }
}

struct Traffic {
    features: Vec<Vec<f32>>,
    labels: Vec<i64>,
}

/// Send requests until `stop`; post a conversion outcome per request (seeded draw).
async fn generate(
    client: Arc<GatewayClient>,
    data: Arc<Traffic>,
    seed: u64,
    stop: Arc<AtomicBool>,
) -> Result<Vec<(String, bool)>> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut served = Vec::new();
    let mut outcomes = Vec::new();
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let row = rng.random_range(0..data.features.len());
        let key = format!("user-{}", rng.random_range(0..5000u32));
        let body =
            json!({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": data.features[row]}]});
        let reply = client
            .infer("churn", None, Some(&key), body.to_string().into_bytes())
            .await?;
        let label = reply
            .response
            .outputs
            .iter()
            .find(|t| t.name == "label")
            .and_then(|t| t.data.get_f64(0));
        let right = label.map(|l| l as i64) == Some(data.labels[row]);
        let converted = rng.random::<f64>() < if right { P_CONVERT_RIGHT } else { P_CONVERT_WRONG };
        if converted && let Some(rid) = &reply.request_id {
            outcomes.push(json!({"request_id": rid, "metric": "converted", "value": 1}));
        }
        served.push((reply.variant.unwrap_or_default(), converted));
        i += 1;
        if i.is_multiple_of(25) && !outcomes.is_empty() {
            client
                .post_outcomes(&Value::Array(std::mem::take(&mut outcomes)))
                .await?;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    if !outcomes.is_empty() {
        client.post_outcomes(&Value::Array(outcomes)).await?;
    }
    Ok(served)
}

fn figures(served: &[(String, bool)]) -> Vec<ArmFigures> {
    let mut out: Vec<ArmFigures> = Vec::new();
    for (v, c) in served {
        match out.iter_mut().find(|f| &f.version == v) {
            Some(f) => {
                f.requests += 1;
                f.conversions += *c as u64;
            }
            None => out.push(ArmFigures {
                version: v.clone(),
                requests: 1,
                conversions: *c as u64,
            }),
        }
    }
    out.sort_by(|a, b| a.version.cmp(&b.version));
    out
}

async fn act(
    client: &Arc<GatewayClient>,
    data: &Arc<Traffic>,
    seed: u64,
    name: &str,
    version: &str,
    onnx: &[u8],
    steps: Vec<f64>,
) -> Result<DemoAct> {
    let sha = client.upload_blob(onnx.to_vec()).await?;
    client.register_onnx("churn", version, &sha, None).await?;
    let spec = RolloutSpec {
        strategy: Strategy::Canary,
        candidate: version.into(),
        steps,
        interval_ms: 5000,
        guards: vec![
            parse_guard("error_rate<0.05")?,
            parse_guard("outcome:converted>=control")?,
            parse_guard("min_requests=100")?,
        ],
        tune_n: 1000.0,
        ..RolloutSpec::default()
    };
    eprintln!(
        "demo: {name}: canary of version {version} (steps {:?}, 5s each; guards error_rate<0.05, outcome:converted>=control, min_requests=100)",
        spec.steps
    );
    client.start_rollout("churn", &spec).await?;
    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let generator = tokio::spawn(generate(client.clone(), data.clone(), seed, stop.clone()));
    let (phase, reason) = loop {
        let r = client.rollout("churn").await?.rollout;
        let phase = r.as_ref().map(|s| s.phase.name()).unwrap_or("").to_string();
        if phase != "progressing" || started.elapsed() > Duration::from_secs(45) {
            break (phase, r.and_then(|s| s.reason));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    stop.store(true, Ordering::Relaxed);
    let served = generator
        .await
        .map_err(|e| Error::State(format!("traffic generator: {e}")))??;
    eprintln!(
        "demo: {name}: version {version} {phase}{}",
        reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default()
    );
    Ok(DemoAct {
        act: name.into(),
        version: version.into(),
        strategy: "canary".into(),
        result: phase,
        reason,
        seconds: started.elapsed().as_secs_f64(),
        arms: figures(&served),
    })
}

pub async fn run(args: DemoArgs, _g: &GlobalArgs) -> Result<DemoReport> {
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
    let traffic: Value =
        serde_json::from_str(TRAFFIC).map_err(|e| Error::State(format!("demo traffic fixture: {e}")))?;
    let data = Arc::new(Traffic {
        features: traffic["features"]
            .as_array()
            .map(|rows| {
                rows.iter()
                    .map(|r| {
                        r.as_array()
                            .map(|v| v.iter().filter_map(Value::as_f64).map(|x| x as f32).collect())
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .unwrap_or_default(),
        labels: traffic["labels"]
            .as_array()
            .map(|l| l.iter().filter_map(Value::as_i64).collect())
            .unwrap_or_default(),
    });
    let (hook, inbox) = start_receiver().await?;
    let cfg = ServeConfig {
        max_blob: 64 << 20,
        notify: vec![hook],
        default_upstream_timeout: Duration::from_secs(10),
        controller_tick: Duration::from_millis(100),
        ..ServeConfig::new("127.0.0.1:0", data_dir.clone())
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
    let Ok((addr, token)) = addr_rx.await else {
        return Err(match gateway.await {
            Ok(Err(e)) => e,
            _ => Error::State("embedded gateway failed to start".into()),
        });
    };
    let endpoint = format!("http://{addr}");
    eprintln!("demo: embedded gateway on {endpoint}, data dir {}", data_dir.display());
    let client = Arc::new(GatewayClient::new(&endpoint, Some(token))?);
    let sha = client.upload_blob(GOOD.to_vec()).await?;
    client.register_onnx("churn", "1", &sha, None).await?;
    client
        .set_route("churn", "1", Some("demo: first version"), false)
        .await?;
    eprintln!("demo: act 1: version 1 (logistic regression) is stable");
    let bad = act(
        &client,
        &data,
        args.seed,
        "act 2: a bad model",
        "2",
        BAD,
        vec![25.0, 50.0, 75.0, 100.0],
    )
    .await?;
    let good = act(
        &client,
        &data,
        args.seed + 1,
        "act 3: a good model",
        "3",
        CANDIDATE,
        vec![25.0, 50.0, 100.0],
    )
    .await?;
    eprintln!("demo: act 4: a model whose input the gateway assembles from a feature table");
    let mut features = super::demo_features::act(&client, &data_dir, GOOD).await?;
    eprintln!("demo: act 5: a drift monitor on churn sees another population arrive");
    let drift = super::demo_monitor::act(&client, &data_dir, &data.features).await?;
    if let Some(a) = &drift.alert {
        eprintln!("demo: drift alert: {a}");
    }
    let history = client.events("churn").await?.events;
    let live = client.rollout("churn").await?.live_version.unwrap_or_default();
    // The receiver hears every model's transitions: churn's and the features act's eta.
    let eta = client.events("eta").await?.events;
    let transitions = history
        .iter()
        .chain(&eta)
        .filter(|e| crate::serving::notify::NOTIFIED_KINDS.contains(&e.kind.as_str()))
        .count();
    let secret = std::fs::read_to_string(data_dir.join(crate::wire::NOTIFY_SECRET_FILE)).unwrap_or_default();
    let webhook = webhook_figures(&inbox, transitions, secret.trim().as_bytes()).await;
    eprintln!(
        "demo: webhook receiver heard {} of {transitions} transitions, {} signed correctly",
        webhook.received, webhook.verified
    );
    let _ = stop_tx.send(());
    match gateway.await {
        Ok(r) => r?,
        Err(e) => return Err(Error::State(format!("embedded gateway task failed: {e}"))),
    }
    features.skew = super::demo_features::skew_verdict(&data_dir)?;
    eprintln!("demo: {}", features.skew);
    let report = DemoReport {
        endpoint,
        seed: args.seed,
        acts: vec![bad, good],
        live_version: live,
        history,
        features,
        drift,
        webhook,
    };
    Ok(report)
}
