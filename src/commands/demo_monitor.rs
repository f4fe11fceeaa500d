//! The demo's monitoring act: a drift monitor on the promoted churn model's scores (the
//! baseline: its answers on the training rows), a few seconds of ordinary traffic (clean
//! windows), then inputs from another population — two drifted windows in a row fire one
//! alert, which the demo's webhook receiver hears with the rollout messages.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;

use crate::client::GatewayClient;
use crate::drift::check::Method;
use crate::drift::monitor::MonitorSpec;
use crate::error::{Error, Result};
use crate::output::{Grid, fmt_num};

#[derive(Debug, Serialize)]
pub struct DriftWindow {
    pub end: String,
    pub rows: u64,
    pub p_value: Option<f64>,
    pub drift: bool,
    pub traffic: String,
}

#[derive(Debug, Serialize)]
pub struct DriftAct {
    pub monitor: i64,
    pub windows: Vec<DriftWindow>,
    pub alert: Option<String>,
}

impl DriftAct {
    pub fn grid(&self) -> Grid {
        Grid {
            title: Some(format!(
                "act 5: drift monitor {} on churn's probabilities[1] (KS against the training answers, 1 s windows, alert after 2): {}",
                self.monitor,
                self.alert.as_deref().unwrap_or("no alert")
            )),
            headers: ["window end", "traffic", "rows", "KS p-value", "verdict"]
                .map(String::from)
                .to_vec(),
            rows: self
                .windows
                .iter()
                .map(|w| {
                    vec![
                        w.end.clone(),
                        w.traffic.clone(),
                        w.rows.to_string(),
                        w.p_value.map(fmt_num).unwrap_or_else(|| "-".into()),
                        if w.drift { "DRIFT".into() } else { "ok".into() },
                    ]
                })
                .collect(),
        }
    }
}

fn body(row: &[f32]) -> Vec<u8> {
    json!({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": row}]})
        .to_string()
        .into_bytes()
}

/// Send rows (shifted or not) for `secs`.
async fn send(client: &GatewayClient, rows: &[Vec<f32>], shifted: bool, secs: f64) -> Result<()> {
    let until = Instant::now() + Duration::from_secs_f64(secs);
    let mut i = 7;
    while Instant::now() < until {
        let mut row = rows[i % rows.len()].clone();
        if shifted {
            row[0] += 3.0;
            row[3] *= 2.5;
        }
        client.infer("churn", None, None, body(&row)).await?;
        i += 13;
        tokio::time::sleep(Duration::from_millis(8)).await;
    }
    Ok(())
}

pub async fn act(client: &GatewayClient, data_dir: &Path, rows: &[Vec<f32>]) -> Result<DriftAct> {
    // The baseline: the live model's scores on the training rows.
    let mut csv = String::from("probabilities[1]\n");
    for row in rows.iter().take(600) {
        let reply = client.infer("churn", None, None, body(row)).await?;
        let p = reply
            .response
            .outputs
            .iter()
            .find(|t| t.name == "probabilities")
            .and_then(|t| t.data.get_f64(1))
            .unwrap_or(f64::NAN);
        csv += &format!("{p}\n");
    }
    let train = data_dir.join("churn-train-scores.csv");
    std::fs::write(&train, csv).map_err(|e| Error::io(&train, e))?;
    let baseline = crate::drift::baseline(&[train], &crate::drift::BaselineOptions::default())?;
    let spec = MonitorSpec {
        model: "churn".into(),
        baseline,
        columns: vec!["probabilities[1]".into()],
        window_ms: 1000,
        method: Method::Ks,
        thresholds: BTreeMap::from([("probabilities[1]".to_string(), 0.001)]),
        consecutive: 2,
        retention_ms: 0,
        notify: vec![],
        quality: vec![],
        quality_metric: None,
        quality_window_ms: None,
        quality_min_pairs: 30,
    };
    let added = client.add_monitor(&spec).await?;
    let switch = chrono::Utc::now() + chrono::Duration::milliseconds(2500);
    send(client, rows, false, 2.5).await?;
    send(client, rows, true, 3.5).await?;
    // The alert is an audited event (and a webhook message).
    let deadline = Instant::now() + Duration::from_secs(5);
    let alert = loop {
        let events = client.events("churn").await?.events;
        if let Some(e) = events.iter().find(|e| e.kind == "monitor_alert") {
            break e.detail["reason"].as_str().map(str::to_string);
        }
        if Instant::now() > deadline {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let windows = client
        .monitor_windows(added.id, 20)
        .await?
        .windows
        .into_iter()
        .map(|w| {
            let c = w.columns.first();
            let shifted = crate::wire::log::parse_ts(&w.end).is_some_and(|t| t > switch);
            DriftWindow {
                traffic: if shifted { "another population" } else { "training-like" }.into(),
                end: w.end.clone(),
                rows: w.rows,
                p_value: c.and_then(|c| c.p_value),
                drift: w.drift,
            }
        })
        .collect();
    Ok(DriftAct {
        monitor: added.id,
        windows,
        alert,
    })
}
