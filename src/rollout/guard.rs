//! Guard evaluation on a step's window. Error-rate, latency, agreement, drift and
//! outcome guards are checked on every controller tick (so a crashing model is rolled
//! back within seconds); `min_requests` is checked at step end. Each value carries its
//! threshold and whether it passed: that is the evidence recorded with every transition.
//!
//! Error-rate and latency guards are sequential tests (`stats::sequential::rate_exceeds`):
//! `error_rate<X` trips only once the candidate's error rate is *shown* to exceed X, and
//! `pQQ_ms<X` once the share of its requests slower than X ms is shown to exceed 1 − QQ%,
//! each at the rollout's `--alpha`, valid however often they are checked: a candidate no
//! worse than the threshold is rolled back by one guard with probability at most α
//! (with k such guards, at most k·α).

use serde::Serialize;

use super::RolloutState;
use super::stats::{ArmWindow, ModelWindow};
use super::strategy::{Guard, Strategy};
use crate::stats::{distance, sequential};

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
    /// The traffic split itself is broken (observed arm counts against the weights,
    /// chi-square p < 0.001): no verdict of this step can be trusted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_ratio_mismatch: Option<String>,
}

/// What a sequential rate guard has shown so far, for status and the audit log.
fn rate_note(what: &str, t: &sequential::RateTest, n: u64, limit: f64, alpha: f64) -> String {
    let verdict = if t.reject {
        "shown above the limit"
    } else if t.lower > 0.0 {
        "still deciding"
    } else {
        "not shown above the limit"
    };
    format!(
        "{what} {:.4} of {n} (anytime-valid {:.0}% lower bound {:.4}), limit {limit}: {verdict}",
        t.rate,
        (1.0 - alpha) * 100.0,
        t.lower
    )
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
                    if cand.requests > 0 {
                        let t = sequential::rate_exceeds(cand.errors, cand.requests, *max, state.spec.alpha);
                        gv.value = Some(t.rate);
                        gv.pass = !t.reject;
                        gv.note = rate_note("error rate", &t, cand.requests, *max, state.spec.alpha);
                    } else {
                        gv.note = "no requests yet".into();
                    }
                }
                Guard::P99Ms { max } | Guard::P95Ms { max } | Guard::P50Ms { max } => {
                    gv.threshold = *max;
                    let q = match g {
                        Guard::P95Ms { .. } => 0.95,
                        Guard::P50Ms { .. } => 0.5,
                        _ => 0.99,
                    };
                    let n = cand.latency_us.len();
                    if n > 0 {
                        // A quantile below `max` ⇔ fewer than (1 − q) of requests above it.
                        let max_us = (*max * 1000.0).max(0.0) as u64;
                        let over = n - cand.latency_us.count_between(0, max_us).min(n);
                        let t = sequential::rate_exceeds(over, n, 1.0 - q, state.spec.alpha);
                        gv.value = Some(cand.latency_us.value_at_quantile(q) as f64 / 1000.0);
                        gv.pass = !t.reject;
                        gv.note = rate_note(&format!("share over {max} ms"), &t, n, 1.0 - q, state.spec.alpha);
                    } else {
                        gv.note = "no requests yet".into();
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
    ev.sample_ratio_mismatch = sample_ratio(state, window);
    ev
}

/// Canary and flight steps: the observed requests per arm against the routed weights, by
/// the anytime-valid Dirichlet–multinomial test (`stats::srm::sequential`) at α = 0.001:
/// it is checked on every tick, and a healthy split raises a false alarm in at most 0.1%
/// of steps however many ticks a step lasts (a chi-square test repeated every tick would
/// not keep that promise). Counts are requests, so a handful of very heavy routing keys
/// can still look like a mismatch: sticky routing assigns keys, not requests.
fn sample_ratio(state: &RolloutState, window: &ModelWindow) -> Option<String> {
    if !matches!(state.spec.strategy, Strategy::Canary | Strategy::Flight) {
        return None;
    }
    let weights = state.weights();
    if weights.len() < 2 {
        return None;
    }
    let observed: Vec<u64> = weights
        .iter()
        .map(|w| window.arms.get(&w.version).map_or(0, |a| a.requests))
        .collect();
    let shares: Vec<f64> = weights.iter().map(|w| w.percent).collect();
    let r = crate::stats::srm::sequential(&observed, &shares, crate::stats::srm::SRM_ALPHA);
    r.mismatch.then(|| {
        let arms: Vec<String> = weights
            .iter()
            .zip(&observed)
            .map(|(w, o)| format!("{} {o} requests for {}%", w.version, w.percent))
            .collect();
        format!(
            "sample ratio mismatch: {} (sequential Bayes factor {:.3e} ≥ 1/0.001)",
            arms.join(", "),
            r.ln_bayes_factor.exp()
        )
    })
}

#[cfg(test)]
mod tests {
    //! The latency guards' decision rule, simulated: a quantile below the threshold means
    //! few requests above it, so the guard is the rate test on exceedances.
    use super::*;
    use rand::{RngExt, SeedableRng};

    /// Pareto(1 ms, shape 2.5) latencies: heavy-tailed, p99 = 6.31 ms.
    fn pareto_ms(rng: &mut impl rand::Rng, scale: f64) -> f64 {
        let u: f64 = rng.random::<f64>().max(1e-12);
        scale * u.powf(-1.0 / 2.5)
    }

    /// Share of 1000 runs whose p99 guard at `max_ms` trips within `steps` requests.
    fn trips(scale: f64, max_ms: f64, steps: u64, seed: u64) -> f64 {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut tripped = 0;
        for _ in 0..1000 {
            let mut over = 0;
            for n in 1..=steps {
                if pareto_ms(&mut rng, scale) > max_ms {
                    over += 1;
                    if sequential::rate_rejects(over, n, 0.01, 0.05).0 {
                        tripped += 1;
                        break;
                    }
                }
            }
        }
        tripped as f64 / 1000.0
    }

    #[test]
    fn a_heavy_tailed_candidate_within_its_p99_threshold_is_rarely_tripped() {
        // True p99 6.31 ms, threshold 8 ms: P(latency > 8 ms) = 0.55%.
        let rate = trips(1.0, 8.0, 3000, 11);
        assert!(rate <= 0.05 + 0.01, "false trips {rate}");
    }

    #[test]
    fn a_candidate_whose_p99_is_three_times_the_threshold_trips_within_1000_requests() {
        // Threshold 6.31/3 = 2.1 ms: 15.6% of requests are over it.
        let rate = trips(1.0, 6.31 / 3.0, 1000, 12);
        assert!(rate >= 0.95, "power {rate}");
    }

    #[test]
    fn exceedances_are_counted_from_the_latency_histogram() {
        let mut a = ArmWindow::default();
        for us in [500u64, 900, 1_000, 1_001, 2_500, 10_000, 80_000] {
            a.latency_us.record(us).unwrap();
        }
        let n = a.latency_us.len();
        let over_1ms = n - a.latency_us.count_between(0, 1_000);
        assert_eq!((n, over_1ms), (7, 4));
    }

    fn canary(candidate_requests: u64, stable_requests: u64) -> (RolloutState, ModelWindow) {
        let spec: super::super::strategy::RolloutSpec = serde_json::from_value(serde_json::json!({
            "strategy": "canary", "candidate": "2", "steps": [50.0, 100.0], "interval_ms": 60000
        }))
        .unwrap();
        let state = RolloutState {
            spec,
            stable: "1".into(),
            phase: super::super::Phase::Progressing,
            step: 0,
            step_started_at: "2026-11-28T00:00:00Z".into(),
            started_at: "2026-11-28T00:00:00Z".into(),
            reason: None,
            step_id: 1,
        };
        let mut w = ModelWindow::default();
        for (v, n) in [("2", candidate_requests), ("1", stable_requests)] {
            let mut a = ArmWindow::default();
            a.requests = n;
            w.arms.insert(v.into(), a);
        }
        (state, w)
    }

    #[test]
    fn a_broken_split_is_a_sample_ratio_mismatch_and_a_healthy_one_is_not() {
        let (state, w) = canary(300, 100);
        let ev = evaluate(&state, &w, false);
        let why = ev.sample_ratio_mismatch.expect("300 vs 100 for 50/50");
        assert!(
            why.contains("sample ratio mismatch") && why.contains("Bayes factor"),
            "{why}"
        );
        let (state, w) = canary(205, 195);
        assert!(evaluate(&state, &w, false).sample_ratio_mismatch.is_none());
        let (state, w) = canary(8, 2);
        assert!(
            evaluate(&state, &w, false).sample_ratio_mismatch.is_none(),
            "too few requests to judge"
        );
        let (state, w) = canary(90, 10);
        assert!(
            evaluate(&state, &w, false).sample_ratio_mismatch.is_some(),
            "90/10 of 50/50 is no accident"
        );
        // Healthy 50/50 splits of 400 requests: false alarms at most the stated 0.1%.
        let mut rng = rand::rngs::StdRng::seed_from_u64(13);
        let alarms = (0..2000)
            .filter(|_| {
                let c = (0..400).filter(|_| rng.random::<bool>()).count() as u64;
                let (state, w) = canary(c, 400 - c);
                evaluate(&state, &w, false).sample_ratio_mismatch.is_some()
            })
            .count();
        assert!(alarms <= 10, "{alarms} false alarms in 2000 healthy steps");
    }
}
