//! Guard evaluation on a step's window, on every controller tick (so a crashing model is
//! rolled back within seconds). Each value carries its threshold, whether it tripped,
//! whether it is decided, and the bound behind that: the evidence recorded with every
//! transition and shown by `status`.
//!
//! Every guard but `outcome` and `min_requests` is a sequential test valid however often
//! it is checked (`stats::sequential`, `stats::distance::psi_bounds_*`), at the rollout's
//! `--alpha`:
//! - it **trips** only once the candidate is *shown* beyond its limit (an anytime-valid
//!   lower bound passes it), so a candidate no worse than the limit is rolled back by one
//!   guard with probability at most α (with k such guards, at most k·α);
//! - it **passes** only once the candidate is shown within its limit (the matching upper
//!   bound is below it). Until then it is *still deciding*, and a step whose time is up
//!   with a guard still deciding is extended (`--max-step-extensions`) and then paused as
//!   inconclusive: a step passes on evidence, never on the absence of data.
//!
//! `error_rate<X`: Bernoulli rate test on the candidate's non-2xx share. `pQQ_ms<X`: the
//! same test on the share of requests slower than X ms (a quantile below X ⇔ fewer than
//! 1 − QQ% above it). `error_rate<=control+D`: candidate's lower bound minus control's
//! upper bound (each at α/2) above D. `pQQ_ms<=control*R`: the candidate's share slower
//! than R × the control's anytime-valid upper bound on its QQth percentile is shown above
//! 1 − QQ% (each at α/2). `shadow_agreement>X`: the disagreement rate is shown above 1 − X.
//! `drift_psi<X`: the smallest PSI consistent with simultaneous bin-share bounds is above X.
//! `outcome:M>=control`: the always-valid confidence sequence of the difference excludes
//! 0 from above (decided once both arms have 30 requests).

use serde::Serialize;

use super::RolloutState;
pub use super::judge::GuardValue;
use super::judge::{
    judge_latency_vs_control, judge_outcome, judge_prom, judge_psi, judge_quantile, judge_rate, judge_rate_vs_control,
};
use super::stats::{ArmWindow, ModelWindow};
use super::strategy::{Guard, Strategy};

#[derive(Debug, Clone, Serialize, serde::Deserialize, Default, PartialEq)]
pub struct Evaluation {
    pub values: Vec<GuardValue>,
    /// The first failed guard, as "expr on arm: value (threshold)".
    pub trip: Option<String>,
    /// Why a step cannot pass yet: a guard still deciding (or min_requests not met).
    pub inconclusive: Option<String>,
    pub requests: Vec<(String, u64)>,
    /// The traffic split itself is broken (observed arm counts against the weights):
    /// no verdict of this step can be trusted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_ratio_mismatch: Option<String>,
    /// The step passed but waits at a gate (why).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<String>,
    /// A guard cannot be judged at all (its data source keeps failing): pause.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause: Option<String>,
}

impl Evaluation {
    /// Why the rollout must pause whatever the guards say: a broken split or a guard
    /// whose data source keeps failing.
    pub fn pause_reason(&self) -> Option<String> {
        self.sample_ratio_mismatch.clone().or_else(|| self.pause.clone())
    }
}

/// Evaluate `state`'s guards on `window`. `at_step_end` turns a guard still deciding into
/// the step's `inconclusive` reason.
pub fn evaluate(state: &RolloutState, window: &ModelWindow, at_step_end: bool) -> Evaluation {
    let mut ev = Evaluation::default();
    let blank = ArmWindow::default();
    let stable = window.arms.get(&state.stable).unwrap_or(&blank);
    let alpha = state.spec.alpha;
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
                decided: true,
                bound: None,
                note: String::new(),
            };
            match g {
                Guard::ErrorRate { max } => {
                    gv.threshold = *max;
                    judge_rate(&mut gv, "error rate", cand.errors, cand.requests, *max, alpha);
                }
                Guard::P99Ms { max } | Guard::P95Ms { max } | Guard::P50Ms { max } => {
                    gv.threshold = *max;
                    let q = match g {
                        Guard::P95Ms { .. } => 0.95,
                        Guard::P50Ms { .. } => 0.5,
                        _ => 0.99,
                    };
                    judge_quantile(&mut gv, cand, q, *max, alpha);
                }
                Guard::ErrorRateVsControl { margin } => {
                    gv.threshold = *margin;
                    judge_rate_vs_control(&mut gv, cand, stable, *margin, alpha);
                }
                Guard::LatencyVsControl { percentile, ratio } => {
                    gv.threshold = *ratio;
                    judge_latency_vs_control(&mut gv, cand, stable, *percentile, *ratio, alpha);
                }
                Guard::ShadowAgreement { min } => {
                    gv.threshold = *min;
                    let disagreed = cand.compared - cand.agreed.min(cand.compared);
                    judge_rate(&mut gv, "disagreement", disagreed, cand.compared, 1.0 - *min, alpha);
                    // Report agreement, the guarded quantity.
                    gv.value = gv.value.map(|d| 1.0 - d);
                    gv.bound = gv.bound.map(|d| 1.0 - d);
                }
                Guard::DriftPsi { max } => {
                    gv.threshold = *max;
                    judge_psi(&mut gv, state, cand, stable, *max);
                }
                Guard::Outcome { metric } => judge_outcome(&mut gv, cand, stable, metric, state),
                Guard::Prom { cmp, threshold, .. } => {
                    gv.threshold = *threshold;
                    let reading = window.prom.get(&gv.guard);
                    if reading.is_some_and(|r| r.errors >= super::prom::ERRORS) && ev.pause.is_none() {
                        ev.pause = Some(format!(
                            "{} cannot be judged: {} failed queries in a row ({})",
                            gv.guard,
                            super::prom::ERRORS,
                            reading.and_then(|r| r.error.clone()).unwrap_or_default()
                        ));
                    }
                    judge_prom(&mut gv, reading, *cmp, *threshold);
                }
                Guard::MinRequests { n } => {
                    gv.threshold = *n as f64;
                    let have = if state.spec.strategy == Strategy::Shadow {
                        cand.compared
                    } else if state.spec.strategy == Strategy::Single {
                        cand.requests
                    } else {
                        cand.requests.min(stable.requests)
                    };
                    gv.value = Some(have as f64);
                    gv.decided = have >= *n;
                    if !gv.decided {
                        gv.note = format!("{have} of {n} requests");
                    }
                }
            }
            if !gv.pass && ev.trip.is_none() {
                ev.trip = Some(format!(
                    "{} on {}: {} (threshold {}): {}",
                    gv.guard,
                    gv.arm,
                    gv.value.map(|v| format!("{v:.6}")).unwrap_or_else(|| "-".into()),
                    gv.threshold,
                    gv.note
                ));
            }
            if at_step_end && !gv.decided && ev.inconclusive.is_none() {
                ev.inconclusive = Some(format!("inconclusive: {} on {}: {}", gv.guard, gv.arm, gv.note));
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
        .map(|w| window.arms.get(&w.version).map_or(0, |a| a.requests - a.matched))
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
    use crate::stats::sequential;
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
        let state = RolloutState::begin(spec, "1".into(), "2026-11-28T00:00:00Z".into(), 1);
        let mut w = ModelWindow::default();
        for (v, n) in [("2", candidate_requests), ("1", stable_requests)] {
            let a = ArmWindow {
                requests: n,
                ..Default::default()
            };
            w.arms.insert(v.into(), a);
        }
        (state, w)
    }

    fn with_guards(mut state: RolloutState, guards: &[&str]) -> RolloutState {
        state.spec.guards = guards
            .iter()
            .map(|g| super::super::strategy::parse_guard(g).unwrap())
            .collect();
        state
    }

    /// One request on `a`: failed with probability `p_err`, Pareto latency ×`slow`.
    fn serve(a: &mut ArmWindow, rng: &mut impl rand::Rng, p_err: f64, slow: f64) {
        a.requests += 1;
        a.errors += u64::from(rng.random::<f64>() < p_err);
        a.latency_us
            .record((pareto_ms(rng, slow) * 1000.0).min(59e6) as u64)
            .unwrap();
    }

    /// The A/A calibration through the evaluator with the controller's schedule:
    /// 1000 canary steps at 50/50, one evaluation per 1-second tick at 100 requests per
    /// arm per second for 20 s; both arms fail 0.5% at random and have Pareto latencies
    /// (true p99 6.31 ms). Each guard alone falsely trips in at most α + 0.01 of steps.
    #[test]
    fn identical_arms_rarely_trip_any_guard_ticked_like_the_controller() {
        let guards = [
            "error_rate<0.01",
            "error_rate<=control+0.005",
            "p99_ms<8",
            "p99_ms<=control*1.2",
        ];
        let mut rng = rand::rngs::StdRng::seed_from_u64(31);
        let mut trips = [0u32; 4];
        for _ in 0..1000 {
            let (state, mut w) = canary(0, 0);
            let state = with_guards(state, &guards);
            let mut tripped = [false; 4];
            for _tick in 0..20 {
                for _ in 0..100 {
                    for v in ["1", "2"] {
                        serve(w.arms.get_mut(v).unwrap(), &mut rng, 0.005, 1.0);
                    }
                }
                let ev = evaluate(&state, &w, false);
                for (t, gv) in tripped.iter_mut().zip(&ev.values) {
                    *t |= !gv.pass;
                }
            }
            for (n, t) in trips.iter_mut().zip(tripped) {
                *n += t as u32;
            }
        }
        for (g, t) in guards.iter().zip(trips) {
            assert!(t <= 60, "{g}: {t} false trips in 1000 A/A steps");
        }
    }

    #[test]
    fn a_worse_candidate_trips_the_comparative_guards() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(32);
        let state = with_guards(canary(0, 0).0, &["error_rate<=control+0.005", "p99_ms<=control*1.2"]);
        let (mut err_by, mut lat_by) = (Vec::new(), Vec::new());
        for _ in 0..200 {
            // 3% errors vs 0.5%; three times as slow (p99 ratio 3 against a 1.2 limit).
            let mut w = canary(0, 0).1;
            let (mut e, mut l) = (None, None);
            for tick in 1..=40u64 {
                for _ in 0..100 {
                    serve(w.arms.get_mut("1").unwrap(), &mut rng, 0.005, 1.0);
                    serve(w.arms.get_mut("2").unwrap(), &mut rng, 0.03, 3.0);
                }
                let ev = evaluate(&state, &w, false);
                if e.is_none() && !ev.values[0].pass {
                    e = Some(tick * 100);
                }
                if l.is_none() && !ev.values[1].pass {
                    l = Some(tick * 100);
                }
            }
            err_by.push(e.unwrap_or(u64::MAX));
            lat_by.push(l.unwrap_or(u64::MAX));
        }
        err_by.sort_unstable();
        lat_by.sort_unstable();
        assert!(
            err_by[189] <= 4000,
            "3% vs 0.5%: 95th percentile {} requests per arm",
            err_by[189]
        );
        assert!(
            lat_by[189] <= 3000,
            "3× slower: 95th percentile {} requests per arm",
            lat_by[189]
        );
    }

    #[test]
    fn a_step_passes_only_on_evidence() {
        let (state, mut w) = canary(0, 0);
        let state = with_guards(state, &["error_rate<0.05"]);
        let mut rng = rand::rngs::StdRng::seed_from_u64(33);
        for _ in 0..20 {
            serve(w.arms.get_mut("2").unwrap(), &mut rng, 0.0, 1.0);
        }
        let ev = evaluate(&state, &w, true);
        let why = ev.inconclusive.expect("20 clean requests do not show < 5%");
        assert!(why.contains("still deciding") && why.contains("upper bound"), "{why}");
        assert_eq!(ev.values[0].verdict(), "deciding");
        for _ in 0..400 {
            serve(w.arms.get_mut("2").unwrap(), &mut rng, 0.0, 1.0);
        }
        let ev = evaluate(&state, &w, true);
        assert!(ev.inconclusive.is_none() && ev.trip.is_none(), "{ev:?}");
        assert_eq!(ev.values[0].verdict(), "ok");
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
