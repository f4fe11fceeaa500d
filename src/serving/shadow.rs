//! Shadow traffic: after the stable version has answered, the request is queued (bounded;
//! when full the copy is dropped and counted, the live path never waits) for a worker that
//! runs it on the shadow version, compares the two answers and logs the shadow's.
//! Agreement and scores are judged by `rollout::scores`.

use std::sync::Arc;
use std::time::Instant;

use super::infer::{Answer, run_version};
use super::state::{AppState, ShadowJob};
use crate::rollout::scores::{compare, scores};
use crate::wire::log::{LogTensors, PredictionRecord, day_of, timestamp};

/// Consume the mirror queue until the gateway stops.
pub async fn worker(st: Arc<AppState>, mut rx: tokio::sync::mpsc::Receiver<ShadowJob>) {
    while let Some(job) = rx.recv().await {
        let started = Instant::now();
        let ts = chrono::Utc::now();
        // The shadow version's own feature view (if any) assembles its input.
        let (mut request, mut raw, mut header_len) = (job.request, job.raw, job.header_len);
        let assembled = super::features::assemble(&st, &job.version, &mut request, &mut raw, &mut header_len).await;
        let answer = match assembled {
            Err((s, m)) => Err((s.as_u16(), m)),
            Ok(_) => match run_version(&st.infer_permits, &job.version, request, raw, header_len.as_deref()).await {
                Answer::Ok(r) => Ok(r.outputs),
                Answer::Failed(s, m) => Err((s.as_u16(), m)),
            },
        };
        let latency_us = started.elapsed().as_micros() as u64;
        let (status, outputs, err) = match &answer {
            Ok(outs) => (200u16, LogTensors::of(outs), None),
            Err((s, m)) => (*s, Some(LogTensors::Null), Some(m.clone())),
        };
        let (agreed, delta, shadow_scores) = match &answer {
            Ok(outs) => {
                let (ok, d) = compare(&job.primary, outs, job.tolerance);
                (Some(ok), d, scores(outs))
            }
            Err(_) => (None, f64::INFINITY, Vec::new()),
        };
        st.rollouts.stats.record_shadow(
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
            ts: timestamp(&ts).into(),
            request_id: job.request_id.as_str().into(),
            model: job.model.as_str().into(),
            version: job.version.version.as_str().into(),
            role: "shadow".into(),
            key: None,
            bucket: job.bucket,
            latency_us,
            status,
            outputs_omitted: outputs.is_none(),
            outputs: outputs.unwrap_or_default(),
            inputs: None,
            error: err.as_deref().map(Into::into),
            features: None,
            feature_flags: Vec::new(),
        };
        st.predictions.append(day_of(&ts), &record).await;
    }
}
