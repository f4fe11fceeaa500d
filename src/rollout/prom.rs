//! Guards on Prometheus queries (`--guard 'prom:QUERY<X'`, with `deploy --prometheus URL`):
//! Argo Rollouts' AnalysisTemplate / Flagger's metric templates for mlctl.
//!
//! Every `--prom-interval` the controller asks Prometheus's HTTP API (`/api/v1/query`) for
//! the query with `{{candidate}}`, `{{stable}}` and `{{model}}` substituted, beside its
//! tick (a slow Prometheus never delays another model's guards). The answer must be one
//! number (a scalar, or a vector of exactly one series). The guard:
//! - trips after `BREACHES` consecutive answers beyond the threshold (one outlier scrape is
//!   not a verdict; there is no sampling model behind an arbitrary query, so this is the
//!   only protection against noise — prefer the built-in sequential guards where they
//!   apply);
//! - has no data while the answer is empty or the query fails: never a pass, so a step
//!   ends inconclusive (extended, then paused);
//! - pauses the rollout after `ERRORS` consecutive failed queries (Prometheus is down or the
//!   query is wrong: the guard cannot be judged).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::RolloutState;
use crate::error::{Error, Result};

/// Consecutive breaching answers that trip a Prometheus guard.
pub const BREACHES: u32 = 2;
/// Consecutive failed queries that pause the rollout.
pub const ERRORS: u32 = 3;
const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Cmp {
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
}

impl Cmp {
    pub fn symbol(self) -> &'static str {
        match self {
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
        }
    }

    /// The guard's condition holds for `v`.
    pub fn holds(self, v: f64, threshold: f64) -> bool {
        match self {
            Cmp::Lt => v < threshold,
            Cmp::Le => v <= threshold,
            Cmp::Gt => v > threshold,
            Cmp::Ge => v >= threshold,
        }
    }
}

/// Split `QUERY<X` at its last comparison: the query may itself compare.
pub fn split_condition(s: &str) -> Option<(String, Cmp, f64)> {
    let s = s.trim_end();
    // The threshold: the longest numeric tail.
    let start = s
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-') || c.is_whitespace())
        .last()
        .map(|(i, _)| i)?;
    let (head, num) = s.split_at(start);
    let threshold: f64 = num.trim().parse().ok().filter(|x: &f64| x.is_finite())?;
    let head = head.trim_end();
    let (query, cmp) = if let Some(q) = head.strip_suffix("<=") {
        (q, Cmp::Le)
    } else if let Some(q) = head.strip_suffix(">=") {
        (q, Cmp::Ge)
    } else if let Some(q) = head.strip_suffix('<') {
        (q, Cmp::Lt)
    } else if let Some(q) = head.strip_suffix('>') {
        (q, Cmp::Gt)
    } else {
        return None;
    };
    let query = query.trim();
    (!query.is_empty()).then(|| (query.to_string(), cmp, threshold))
}

/// The query with the rollout's names in place of `{{candidate}}`, `{{stable}}`, `{{model}}`.
pub fn substitute(query: &str, model: &str, state: &RolloutState) -> String {
    query
        .replace("{{candidate}}", &state.spec.candidate)
        .replace("{{stable}}", &state.stable)
        .replace("{{model}}", model)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(TIMEOUT).build().unwrap_or_default()
}

/// Is Prometheus at `base` answering? (checked when a rollout with prom guards starts)
pub async fn check_reachable(base: &str) -> Result<()> {
    let url = format!("{}/api/v1/status/buildinfo", base.trim_end_matches('/'));
    match client().get(&url).send().await {
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) => Err(Error::Usage(format!(
            "--prometheus {base}: answered HTTP {}",
            r.status().as_u16()
        ))),
        Err(e) => Err(Error::Usage(format!(
            "--prometheus {base}: unreachable ({})",
            e.without_url()
        ))),
    }
}

/// One instant query: `Ok(Some(v))`, `Ok(None)` for an empty answer (no data), `Err` when
/// the query fails or does not reduce to one number.
pub async fn query(base: &str, q: &str) -> std::result::Result<Option<f64>, String> {
    let url = format!("{}/api/v1/query", base.trim_end_matches('/'));
    let resp = client()
        .get(&url)
        .query(&[("query", q)])
        .send()
        .await
        .map_err(|e| format!("Prometheus unreachable ({})", e.without_url()))?;
    let status = resp.status();
    let body: Value = resp
        .json()
        .await
        .map_err(|_| format!("Prometheus answered HTTP {status} without JSON"))?;
    if body["status"] != "success" {
        return Err(format!(
            "query failed: {}",
            body["error"].as_str().unwrap_or("unknown error")
        ));
    }
    let number = |v: &Value| -> std::result::Result<f64, String> {
        v.get(1)
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<f64>().ok())
            .ok_or_else(|| "unreadable sample".to_string())
    };
    let data = &body["data"];
    match data["resultType"].as_str() {
        Some("scalar") => number(&data["result"]).map(Some),
        Some("vector") => {
            let series = data["result"].as_array().cloned().unwrap_or_default();
            match series.len() {
                0 => Ok(None),
                1 => number(&series[0]["value"]).map(|v| (!v.is_nan()).then_some(v)),
                n => Err(format!(
                    "the query returned {n} series; aggregate it to one (sum, max, …)"
                )),
            }
        }
        other => Err(format!(
            "the query returned a {}; an instant number is needed",
            other.unwrap_or("?")
        )),
    }
}

/// What the guard evaluator sees of one Prometheus guard.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reading {
    pub value: Option<f64>,
    /// Consecutive answers beyond the threshold.
    pub breaches: u32,
    /// Consecutive failed queries, and the last error.
    pub errors: u32,
    pub error: Option<String>,
    /// Answers so far this step.
    pub answers: u32,
}

#[derive(Debug, Default)]
struct Entry {
    reading: Reading,
    asked_at: Option<Instant>,
    in_flight: bool,
}

/// One model's readings: the step they belong to, and one entry per guard expression.
type StepReadings = (u64, HashMap<String, Entry>);

/// The controller's Prometheus readings per model and step.
#[derive(Default)]
pub struct PromTracker {
    models: Mutex<HashMap<String, StepReadings>>,
}

impl PromTracker {
    /// The guard expressions due for a query now (marked in flight).
    pub fn due(&self, model: &str, step_id: u64, exprs: &[String], every: Duration) -> Vec<String> {
        let mut all = self.models.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let slot = all
            .entry(model.to_string())
            .or_insert_with(|| (step_id, HashMap::new()));
        if slot.0 != step_id {
            *slot = (step_id, HashMap::new());
        }
        let mut due = Vec::new();
        for e in exprs {
            let entry = slot.1.entry(e.clone()).or_default();
            if !entry.in_flight && entry.asked_at.is_none_or(|t| t.elapsed() >= every) {
                entry.in_flight = true;
                entry.asked_at = Some(Instant::now());
                due.push(e.clone());
            }
        }
        due
    }

    /// A query's answer; `holds` says whether the guard's condition held for a value.
    pub fn answer(
        &self,
        model: &str,
        step_id: u64,
        expr: &str,
        answer: std::result::Result<Option<f64>, String>,
        holds: impl Fn(f64) -> bool,
    ) {
        let mut all = self.models.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some((id, entries)) = all.get_mut(model) else {
            return;
        };
        if *id != step_id {
            return;
        }
        let e = entries.entry(expr.to_string()).or_default();
        e.in_flight = false;
        let r = &mut e.reading;
        match answer {
            Ok(v) => {
                r.errors = 0;
                r.error = None;
                r.value = v;
                r.answers += 1;
                r.breaches = match v {
                    Some(x) if !holds(x) => r.breaches + 1,
                    _ => 0,
                };
            }
            Err(why) => {
                r.errors += 1;
                r.error = Some(why);
                r.value = None;
                r.breaches = 0;
            }
        }
    }

    /// Every reading of `model`'s step `step_id`, by guard expression.
    pub fn readings(&self, model: &str, step_id: u64) -> HashMap<String, Reading> {
        let all = self.models.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match all.get(model) {
            Some((id, entries)) if *id == step_id => {
                entries.iter().map(|(k, e)| (k.clone(), e.reading.clone())).collect()
            }
            _ => HashMap::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_split_at_the_last_comparison() {
        let (q, c, x) = split_condition("sum(rate(a[1m])) / sum(rate(b[1m])) < 0.01").unwrap();
        assert_eq!(
            (q.as_str(), c, x),
            ("sum(rate(a[1m])) / sum(rate(b[1m]))", Cmp::Lt, 0.01)
        );
        let (q, c, x) = split_condition("count(up > 0)>=3").unwrap();
        assert_eq!((q.as_str(), c, x), ("count(up > 0)", Cmp::Ge, 3.0));
        assert_eq!(
            split_condition("histogram_quantile(0.99, x) <= 2.5e-1").unwrap().2,
            0.25
        );
        for bad in ["up", "up < ", "< 3", "up = 3"] {
            assert!(split_condition(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn two_breaches_in_a_row_are_needed_and_an_answer_resets_errors() {
        let t = PromTracker::default();
        let e = vec!["q<1".to_string()];
        assert_eq!(t.due("m", 1, &e, Duration::ZERO), e);
        assert!(t.due("m", 1, &e, Duration::ZERO).is_empty(), "in flight");
        let lt1 = |v: f64| v < 1.0;
        t.answer("m", 1, "q<1", Ok(Some(2.0)), lt1);
        assert_eq!(t.readings("m", 1)["q<1"].breaches, 1);
        t.due("m", 1, &e, Duration::ZERO);
        t.answer("m", 1, "q<1", Ok(Some(3.0)), lt1);
        assert_eq!(t.readings("m", 1)["q<1"].breaches, 2);
        t.due("m", 1, &e, Duration::ZERO);
        t.answer("m", 1, "q<1", Err("down".into()), lt1);
        let r = &t.readings("m", 1)["q<1"];
        assert_eq!((r.breaches, r.errors, r.value), (0, 1, None));
        assert!(t.readings("m", 2).is_empty(), "a new step starts afresh");
    }
}
