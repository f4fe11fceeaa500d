//! The demo's features act: a delivery-time model whose input is assembled at the gateway
//! from the request (hour, distance) and a feature table (a restaurant's preparation
//! times), a near-real-time push, a point-in-time training set from the same view, and a
//! training/serving skew check on what was served.

use std::path::Path;

use serde::Serialize;
use serde_json::json;

use crate::client::GatewayClient;
use crate::error::{Error, Result};
use crate::features::store::{FeatureStore, Row};
use crate::output::Grid;

const VIEW: &str = r#"input = "input"
[[feature]]
name = "hour"
from = "request"
[[feature]]
name = "distance_km"
from = "request"
[[feature]]
name = "prep_7d"
from = "restaurant_stats.avg_prep_7d"
key = "restaurant_id"
default = 0.0
max_age = "7d"
[[feature]]
name = "prep_1h"
from = "restaurant_stats.avg_prep_1h"
key = "restaurant_id"
default = 0.0
"#;

/// One request of the act: what the client sent, what the gateway assembled.
#[derive(Debug, Serialize)]
pub struct FeatureCall {
    pub sent: String,
    pub assembled: String,
    /// The model's first output value, and the same model's on the hand-joined row.
    pub answer: f64,
    pub hand_joined: f64,
}

#[derive(Debug, Serialize)]
pub struct FeatureAct {
    pub calls: Vec<FeatureCall>,
    pub skew: String,
}

impl FeatureAct {
    pub fn grid(&self) -> Grid {
        Grid {
            title: Some(format!(
                "act 4: features joined at the gateway (model eta, view of 2 request fields + 2 lookups); {}",
                self.skew
            )),
            headers: [
                "request carries",
                "gateway assembled",
                "answer",
                "on the hand-joined row",
            ]
            .map(String::from)
            .to_vec(),
            rows: self
                .calls
                .iter()
                .map(|c| {
                    vec![
                        c.sent.clone(),
                        c.assembled.clone(),
                        format!("{:.6}", c.answer),
                        format!("{:.6}", c.hand_joined),
                    ]
                })
                .collect(),
        }
    }
}

fn first_value(reply: &crate::client::InferReply) -> f64 {
    reply
        .response
        .outputs
        .iter()
        .find(|t| t.name == "probabilities")
        .or(reply.response.outputs.first())
        .and_then(|t| t.data.get_f64(t.data.len().saturating_sub(1)))
        .unwrap_or(f64::NAN)
}

/// Run the act against the demo's gateway (data dir `data_dir`, churn model bytes `onnx`).
pub async fn act(client: &GatewayClient, data_dir: &Path, onnx: &[u8]) -> Result<FeatureAct> {
    let now = chrono::Utc::now().timestamp_micros();
    let hour_us = 3_600_000_000i64;
    let columns = vec!["avg_prep_7d".to_string(), "avg_prep_1h".to_string()];
    let rows = [("r7", 14.0, 18.0), ("r8", 25.0, 22.5), ("r9", 9.5, 11.0)].map(|(e, a, b)| {
        Ok(Row {
            entity: e.into(),
            ts_us: now - hour_us,
            values: vec![a, b],
        })
    });
    FeatureStore::open(data_dir)?.load_snapshot("restaurant_stats", "restaurant_id", &columns, rows.into_iter())?;
    let view_path = data_dir.join("eta-view.toml");
    std::fs::write(&view_path, VIEW).map_err(|e| Error::io(&view_path, e))?;
    let sha = client.upload_blob(onnx.to_vec()).await?;
    client.register_onnx("eta", "1", &sha, Some(VIEW)).await?;
    client.set_route("eta", "1", Some("demo: features"), false).await?;

    let mut calls = Vec::new();
    let call =
        |calls: &mut Vec<FeatureCall>, reply: &crate::client::InferReply, direct: f64, sent: String, row: [f64; 4]| {
            calls.push(FeatureCall {
                sent,
                assembled: format!("[{}, {}, {}, {}]", row[0], row[1], row[2], row[3]),
                answer: first_value(reply),
                hand_joined: direct,
            })
        };
    let direct = |row: [f64; 4]| {
        serde_json::to_vec(&json!({"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 4], "data": row}]}))
            .unwrap_or_default()
    };
    let mut spine = String::from("request_id,restaurant_id,hour,distance_km,ts\n");
    let requests: [(&str, &str, f64, f64, [f64; 4]); 3] = [
        ("d1", "r7", 12.0, 2.5, [12.0, 2.5, 14.0, 18.0]),
        ("d2", "r8", 19.0, 4.0, [19.0, 4.0, 25.0, 22.5]),
        ("d3", "r42", 20.0, 1.0, [20.0, 1.0, 0.0, 0.0]),
    ];
    for (id, r, hour, km, row) in requests {
        let body = json!({"id": id, "parameters": {"restaurant_id": r, "hour": hour, "distance_km": km}, "inputs": []});
        let reply = client
            .infer("eta", None, None, serde_json::to_vec(&body).unwrap_or_default())
            .await?;
        let hand = client.infer("eta", Some("1"), None, direct(row)).await?;
        let sent = format!("restaurant_id={r} hour={hour} distance_km={km}");
        let note = if r == "r42" { " (unknown: defaults)" } else { "" };
        call(&mut calls, &reply, first_value(&hand), sent + note, row);
        spine += &format!("{id},{r},{hour},{km},{}\n", chrono::Utc::now().to_rfc3339());
    }
    // A near-real-time value: r7's last hour got slower.
    client
        .push_features(
            "restaurant_stats",
            &json!({"rows": [{"entity": "r7", "values": {"avg_prep_1h": 31.0}}]}),
        )
        .await?;
    let row = [12.0, 2.5, 14.0, 31.0];
    let body = json!({"id": "d4", "parameters": {"restaurant_id": "r7", "hour": 12, "distance_km": 2.5}, "inputs": []});
    let reply = client
        .infer("eta", None, None, serde_json::to_vec(&body).unwrap_or_default())
        .await?;
    let hand = client.infer("eta", Some("1"), None, direct(row)).await?;
    call(
        &mut calls,
        &reply,
        first_value(&hand),
        "after a push of r7 avg_prep_1h=31".into(),
        row,
    );
    spine += &format!("d4,r7,12,2.5,{}\n", chrono::Utc::now().to_rfc3339());
    training_set(data_dir, &view_path, &spine)?;
    // The verdict comes once the gateway has stopped and its log is flushed (`skew_verdict`).
    Ok(FeatureAct {
        calls,
        skew: String::new(),
    })
}

/// A training set for the same requests from the same view (`features join`).
fn training_set(data_dir: &Path, view_path: &Path, spine: &str) -> Result<()> {
    let spine_path = data_dir.join("eta-spine.csv");
    std::fs::write(&spine_path, spine).map_err(|e| Error::io(&spine_path, e))?;
    let view = crate::features::view::parse_view(view_path)?;
    let store = FeatureStore::open(data_dir)?;
    crate::features::join::join(&store, &view, &spine_path, None, "ts", &data_dir.join("eta-train.csv"))?;
    Ok(())
}

/// After the gateway stopped (logs flushed): the skew verdict on what it served.
pub fn skew_verdict(data_dir: &Path) -> Result<String> {
    let view = crate::features::view::parse_view(&data_dir.join("eta-view.toml"))?;
    let report = crate::features::skew::check(
        &view,
        &data_dir.join("eta-train.csv"),
        data_dir,
        &crate::features::skew::SkewOptions {
            model: "eta",
            key: "request_id",
            since_us: None,
            tolerance: 0.0,
            max_mismatch: 0.01,
        },
    )?;
    let verdict = if report.skewed.is_empty() {
        "no training/serving skew".to_string()
    } else {
        format!("skew in {}", report.skewed.join(", "))
    };
    Ok(format!(
        "skew check: {} of {} served rows match the point-in-time training set on all {} features: {verdict}",
        report.features.iter().map(|f| f.matched).min().unwrap_or(0),
        report.paired,
        report.features.len()
    ))
}
