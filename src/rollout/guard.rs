//! Guard evaluation on a step's window. Error-rate, latency, agreement, drift and
//! outcome guards are checked on every controller tick once they have enough data (so
//! a crashing model is rolled back within seconds); `min_requests` is checked at step
//! end. Each value carries its threshold and whether it passed: that is the evidence
//! recorded with every transition.

use serde::Serialize;

use super::RolloutState;
use super::stats::{ArmWindow, ModelWindow};
use super::strategy::{Guard, Strategy};
use crate::stats::{distance, sequential};

/// Fewest candidate requests before error-rate and latency guards may trip.
pub const MIN_CONTINUOUS: u64 = 20;
/// Fewest compared (shadow) or scored requests before agreement and drift may trip.
pub const MIN_COMPARED: u64 = 50;

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct GuardValue {
    pub guard: String,
    pub arm: String,
    pub value: Option<f64>,
    pub threshold: f64,
    pub pass: bool,
    pub note: String,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, Default, PartialEq)]
pub struct Evaluation {
    pub values: Vec<GuardValue>,
    /// The first failed guard, as "expr on arm: value (threshold)".
    pub trip: Option<String>,
    /// Why a step cannot end yet (min_requests not met).
    pub inconclusive: Option<String>,
    pub requests: Vec<(String, u64)>,
}

fn empty() -> ArmWindow {
    ArmWindow::default()
}

/// Evaluate `state`'s guards on `window`. `at_step_end` adds `min_requests`.
pub fn evaluate(state: &RolloutState, window: &ModelWindow, at_step_end: bool) -> Evaluation {
    let mut ev = Evaluation::default();
    let blank = empty();
    let stable = window.arms.get(&state.stable).unwrap_or(&blank);
    let shadow = state.spec.strategy == Strategy::Shadow;
    ev.requests.push((state.stable.clone(), stable.requests));
    for cand_name in state.candidates() {
        let cand = window.arms.get(&cand_name).unwrap_or(&blank);
        ev.requests.push((cand_name.clone(), cand.requests));
        for g in &state.spec.guards {
            let mut gv = GuardValue {
                guard: g.expr(),
                arm: cand_name.clone(),
                value: None,
                threshold: 0.0,
                pass: true,
                note: String::new(),
            };
            match g {
                Guard::ErrorRate { max } => {
                    gv.threshold = *max;
                    if cand.requests >= MIN_CONTINUOUS || (at_step_end && cand.requests > 0) {
                        let v = cand.errors as f64 / cand.requests as f64;
                        gv.value = Some(v);
                        gv.pass = v < *max;
                    } else {
                        gv.note = format!("waiting for {MIN_CONTINUOUS} requests");
                    }
                }
                Guard::P99Ms { max } => {
                    gv.threshold = *max;
                    let ok_requests = cand.latency_us.len();
                    if ok_requests >= MIN_CONTINUOUS || (at_step_end && ok_requests > 0) {
                        let v = cand.p99_ms().unwrap_or(0.0);
                        gv.value = Some(v);
                        gv.pass = v < *max;
                    } else {
                        gv.note = format!("waiting for {MIN_CONTINUOUS} requests");
                    }
                }
                Guard::ShadowAgreement { min } => {
                    gv.threshold = *min;
                    if cand.compared >= MIN_COMPARED || (at_step_end && cand.compared > 0) {
                        let v = cand.agreed as f64 / cand.compared as f64;
                        gv.value = Some(v);
                        gv.pass = v > *min;
                    } else {
                        gv.note = format!("{} of {MIN_COMPARED} comparisons", cand.compared);
                    }
                }
                Guard::DriftPsi { max } => {
                    gv.threshold = *max;
                    let n_c = cand.scores.len() as u64;
                    match &state.spec.baseline {
                        Some(b) if n_c >= MIN_COMPARED => {
                            let v = distance::psi_against_bins(&b.edges, &b.proportions, &cand.scores).unwrap_or(0.0);
                            gv.value = Some(v);
                            gv.pass = v < *max;
                            gv.note = format!("PSI of the candidate's scores against baseline column \"{}\"", b.column);
                        }
                        None if n_c >= MIN_COMPARED && stable.scores.len() as u64 >= MIN_COMPARED => {
                            let v = distance::psi(&stable.scores, &cand.scores, 10).unwrap_or(0.0);
                            gv.value = Some(v);
                            gv.pass = v < *max;
                            gv.note = "PSI of the candidate's scores against the stable version's, same step".into();
                        }
                        _ => gv.note = format!("waiting for {MIN_COMPARED} scores"),
                    }
                }
                Guard::Outcome { metric } => {
                    gv.threshold = 0.0;
                    let (ns, nc) = (stable.requests as f64, cand.requests as f64);
                    let get = |a: &ArmWindow| a.outcomes.get(metric).copied().unwrap_or((0.0, 0.0));
                    let ((ss, sq_s), (sc, sq_c)) = (get(stable), get(cand));
                    if ns >= 30.0 && nc >= 30.0 {
                        let (ms, mc) = (ss / ns, sc / nc);
                        let vs = ((sq_s - ss * ss / ns) / (ns - 1.0)).max(0.0);
                        let vc = ((sq_c - sc * sc / nc) / (nc - 1.0)).max(0.0);
                        let var = vs / ns + vc / nc;
                        if var > 0.0 {
                            let r = sequential::confidence_sequence(
                                mc - ms,
                                var,
                                ns + nc,
                                state.spec.alpha,
                                state.spec.tune_n,
                            );
                            gv.value = Some(mc - ms);
                            gv.pass = r.ci[1] >= 0.0;
                            gv.note = format!(
                                "{metric}: candidate {mc:.4} vs control {ms:.4}, always-valid {:.0}% CI [{:.4}, {:.4}]",
                                (1.0 - state.spec.alpha) * 100.0,
                                r.ci[0],
                                r.ci[1]
                            );
                        } else {
                            gv.note = format!("{metric}: no variance yet");
                        }
                    } else {
                        gv.note = "waiting for 30 requests per arm".into();
                    }
                }
                Guard::MinRequests { n } => {
                    gv.threshold = *n as f64;
                    let have = if shadow {
                        cand.compared
                    } else if state.spec.strategy == Strategy::Single {
                        cand.requests
                    } else {
                        cand.requests.min(stable.requests)
                    };
                    gv.value = Some(have as f64);
                    if have < *n {
                        gv.note = "not enough data to decide".into();
                        if at_step_end && ev.inconclusive.is_none() {
                            ev.inconclusive = Some(format!("inconclusive: {} on {cand_name}: {have} < {n}", g.expr()));
                        }
                    }
                }
            }
            if !gv.pass && ev.trip.is_none() {
                ev.trip = Some(format!(
                    "{} on {}: {} (threshold {})",
                    gv.guard,
                    gv.arm,
                    gv.value.map(|v| format!("{v:.6}")).unwrap_or_else(|| "-".into()),
                    gv.threshold
                ));
            }
            ev.values.push(gv);
        }
    }
    ev
}
