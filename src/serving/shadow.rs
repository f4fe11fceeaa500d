//! Shadow traffic: after the stable version has answered, the request is queued (bounded;
//! when full the copy is dropped and counted, the live path never waits) for a worker that
//! runs it on the shadow version, compares the two answers and logs the shadow's.
//!
//! Agreement: for classifiers (an output with ≥ 2 columns, e.g. probabilities) the argmax
//! of each row must match; otherwise (scores, regressions) |Δ| ≤ tolerance per value.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use super::log::{PredictionRecord, day_of};
use super::protocol::{InferRequest, Tensor, output_json};
use super::runtime::LoadedVersion;
use super::state::AppState;

pub const QUEUE: usize = 1024;

pub struct ShadowJob {
    pub model: String,
    pub version: Arc<LoadedVersion>,
    pub step_id: u64,
    pub request: InferRequest,
    pub raw: Bytes,
    pub header_len: Option<String>,
    pub request_id: String,
    pub bucket: u16,
    pub primary: Vec<Tensor>,
    pub tolerance: f64,
}

/// The per-row score used for drift and agreement: the last column of the first
/// multi-column floating output (a binary classifier's positive-class probability), else
/// the first floating output's values.
pub fn scores(outputs: &[Tensor]) -> Vec<f64> {
    let float = |t: &&Tensor| t.datatype().name().starts_with("FP");
    if let Some(t) = outputs
        .iter()
        .filter(float)
        .find(|t| t.shape.len() == 2 && t.shape[1] >= 2)
    {
        let cols = t.shape[1];
        return (0..t.shape[0])
            .filter_map(|r| t.data.get_f64(r * cols + cols - 1))
            .collect();
    }
    outputs
        .iter()
        .find(float)
        .map(|t| (0..t.data.len()).filter_map(|i| t.data.get_f64(i)).collect())
        .unwrap_or_default()
}

/// (agree, largest |Δ|) between two answers to the same request.
pub fn compare(a: &[Tensor], b: &[Tensor], tolerance: f64) -> (bool, f64) {
    let float = |t: &&Tensor| t.datatype().name().starts_with("FP");
    let multi = |ts: &[Tensor]| {
        ts.iter()
            .filter(float)
            .find(|t| t.shape.len() == 2 && t.shape[1] >= 2)
            .cloned()
    };
    if let (Some(x), Some(y)) = (multi(a), multi(b))
        && x.shape == y.shape
    {
        let cols = x.shape[1];
        let mut agree = true;
        let mut worst: f64 = 0.0;
        for r in 0..x.shape[0] {
            let row = |t: &Tensor| {
                (0..cols)
                    .map(|c| t.data.get_f64(r * cols + c).unwrap_or(f64::NAN))
                    .collect::<Vec<_>>()
            };
            let (rx, ry) = (row(&x), row(&y));
            let argmax = |v: &[f64]| v.iter().enumerate().max_by(|p, q| p.1.total_cmp(q.1)).map(|(i, _)| i);
            agree &= argmax(&rx) == argmax(&ry);
            worst = rx.iter().zip(&ry).map(|(p, q)| (p - q).abs()).fold(worst, f64::max);
        }
        return (agree, worst);
    }
    let (sa, sb) = (scores(a), scores(b));
    if sa.len() != sb.len() || sa.is_empty() {
        return (false, f64::INFINITY);
    }
    let worst = sa.iter().zip(&sb).map(|(p, q)| (p - q).abs()).fold(0.0, f64::max);
    (worst <= tolerance, worst)
}

/// Consume the mirror queue until the gateway stops.
pub async fn worker(st: Arc<AppState>, mut rx: tokio::sync::mpsc::Receiver<ShadowJob>) {
    while let Some(job) = rx.recv().await {
        let started = Instant::now();
        let ts = chrono::Utc::now();
        let answer =
            super::dataplane::run_for_shadow(&st, &job.version, job.request, job.raw, job.header_len.as_deref()).await;
        let latency_us = started.elapsed().as_micros() as u64;
        let (status, outputs, err) = match &answer {
            Ok(outs) => (
                200u16,
                serde_json::Value::Array(outs.iter().map(output_json).collect()),
                None,
            ),
            Err((s, m)) => (*s, serde_json::Value::Null, Some(m.clone())),
        };
        let (agreed, delta, shadow_scores) = match &answer {
            Ok(outs) => {
                let (ok, d) = compare(&job.primary, outs, job.tolerance);
                (Some(ok), d, scores(outs))
            }
            Err(_) => (None, f64::INFINITY, Vec::new()),
        };
        st.rollout_stats.record_shadow(
            &job.model,
            job.step_id,
            &job.version.version,
            answer.is_ok(),
            latency_us,
            agreed,
            delta,
            &job.request_id,
            &shadow_scores,
        );
        let record = PredictionRecord {
            ts: ts.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            request_id: &job.request_id,
            model: &job.model,
            version: &job.version.version,
            role: "shadow",
            key: None,
            bucket: job.bucket,
            latency_us,
            status,
            outputs,
            inputs: None,
            error: err.as_deref(),
        };
        st.predictions.append(day_of(&ts), &record).await;
    }
}
