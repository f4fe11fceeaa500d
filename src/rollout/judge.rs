//! One guard's judgement on one arm: the value, the verdict and the anytime-valid bound
//! behind it (see `guard` for what each guard tests).

use serde::Serialize;

use super::RolloutState;
use super::stats::ArmWindow;
use crate::stats::{distance, sequential};

/// Without a training baseline, `drift_psi` cuts its bins at the deciles of the stable
/// version's first this-many scores of the step and compares the scores after them.
pub const PSI_EDGE_SCORES: usize = 100;
/// Bins of the two-sample `drift_psi`.
const PSI_BINS: usize = 10;

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct GuardValue {
    pub guard: String,
    pub arm: String,
    pub value: Option<f64>,
    pub threshold: f64,
    /// Not tripped.
    pub pass: bool,
    /// The guard has judged: tripped, or shown within its limit.
    #[serde(default = "yes")]
    pub decided: bool,
    /// The anytime-valid bound behind the verdict (upper while passing or deciding, lower
    /// once tripped), in the unit of `value`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound: Option<f64>,
    pub note: String,
}

fn yes() -> bool {
    true
}

impl GuardValue {
    fn judge(&mut self, tripped: bool, within: bool) {
        self.pass = !tripped;
        self.decided = tripped || within;
    }

    /// "ok", "FAIL" or "deciding", for tables.
    pub fn verdict(&self) -> &'static str {
        match (self.pass, self.decided) {
            (false, _) => "FAIL",
            (true, true) => "ok",
            (true, false) => "deciding",
        }
    }
}

fn verdict_words(tripped: bool, within: bool) -> &'static str {
    if tripped {
        "shown beyond the limit"
    } else if within {
        "shown within the limit"
    } else {
        "still deciding"
    }
}

/// A share as a percentage with enough digits to tell 0.5% from 0.05%.
fn pct(x: f64) -> String {
    let p = x * 100.0;
    if p == 0.0 || p.abs() >= 10.0 {
        format!("{p:.0}%")
    } else if p.abs() >= 1.0 {
        format!("{p:.1}%")
    } else {
        format!("{p:.2}%")
    }
}

fn ms(us: u64) -> String {
    format!("{:.1} ms", us as f64 / 1000.0)
}

/// The latency histogram as ascending (µs, count) buckets.
fn buckets(a: &ArmWindow) -> Vec<(u64, u64)> {
    a.latency_us
        .iter_recorded()
        .map(|v| (v.value_iterated_to(), v.count_at_value()))
        .collect()
}

/// Requests of `a` slower than `limit_us`.
fn slower_than(a: &ArmWindow, limit_us: u64) -> u64 {
    let n = a.latency_us.len();
    n - a.latency_us.count_between(0, limit_us).min(n)
}

/// `error_rate<max`, `shadow_agreement>1−max` (on disagreements): a rate shown above or below `max`.
pub fn judge_rate(gv: &mut GuardValue, what: &str, k: u64, n: u64, max: f64, alpha: f64) {
    if n == 0 {
        gv.decided = false;
        gv.note = "no requests yet".into();
        return;
    }
    let tripped = sequential::rate_rejects(k, n, max, alpha).0;
    let within = sequential::rate_below(k, n, max, alpha);
    gv.judge(tripped, within);
    let (side, bound) = if tripped {
        ("lower", sequential::rate_lower(k, n, alpha))
    } else {
        ("upper", sequential::rate_upper(k, n, alpha))
    };
    gv.value = Some(k as f64 / n as f64);
    gv.bound = Some(bound);
    gv.note = format!(
        "{what} {} of {n} ({side} bound {}), threshold {}: {}",
        pct(k as f64 / n as f64),
        pct(bound),
        pct(max),
        verdict_words(tripped, within)
    );
}

/// `pQQ_ms<max`: the share of requests slower than `max` ms shown above 1 − q (trip) or
/// the quantile's upper bound at or below `max` (pass).
pub fn judge_quantile(gv: &mut GuardValue, cand: &ArmWindow, q: f64, max_ms: f64, alpha: f64) {
    let n = cand.latency_us.len();
    if n == 0 {
        gv.decided = false;
        gv.note = "no requests yet".into();
        return;
    }
    let max_us = (max_ms * 1000.0).max(0.0) as u64;
    let tripped = sequential::rate_rejects(slower_than(cand, max_us), n, 1.0 - q, alpha).0;
    let (lower, upper) = sequential::quantile_bounds(&buckets(cand), q, alpha);
    let within = upper.is_some_and(|u| u <= max_us);
    gv.judge(tripped, within);
    gv.value = Some(cand.latency_us.value_at_quantile(q) as f64 / 1000.0);
    let (side, bound) = if tripped { ("lower", lower) } else { ("upper", upper) };
    gv.bound = bound.map(|b| b as f64 / 1000.0);
    gv.note = format!(
        "p{:.0} {} of {n} ({side} bound {}), threshold {max_ms} ms: {}",
        q * 100.0,
        ms(cand.latency_us.value_at_quantile(q)),
        bound.map_or("not yet known".into(), ms),
        verdict_words(tripped, within)
    );
}

/// `error_rate<=control+margin`.
pub fn judge_rate_vs_control(gv: &mut GuardValue, cand: &ArmWindow, control: &ArmWindow, margin: f64, alpha: f64) {
    if cand.requests == 0 || control.requests == 0 {
        gv.decided = false;
        gv.note = "waiting for requests on both arms".into();
        return;
    }
    let d = sequential::rate_difference(cand.errors, cand.requests, control.errors, control.requests, alpha);
    let (tripped, within) = (d.lower > margin, d.upper <= margin);
    gv.judge(tripped, within);
    gv.value = Some(d.diff);
    let (side, bound) = if tripped {
        ("lower", d.lower)
    } else {
        ("upper", d.upper)
    };
    gv.bound = Some(bound);
    gv.note = format!(
        "error rate {} of {} vs control {} of {} (difference {}, {side} bound {}), margin {}: {}",
        pct(cand.errors as f64 / cand.requests as f64),
        cand.requests,
        pct(control.errors as f64 / control.requests as f64),
        control.requests,
        pct(d.diff),
        pct(bound),
        pct(margin),
        verdict_words(tripped, within)
    );
}

/// `pQQ_ms<=control*ratio`.
pub fn judge_latency_vs_control(
    gv: &mut GuardValue,
    cand: &ArmWindow,
    control: &ArmWindow,
    percentile: u8,
    ratio: f64,
    alpha: f64,
) {
    let (nc, ns) = (cand.latency_us.len(), control.latency_us.len());
    if nc == 0 || ns == 0 {
        gv.decided = false;
        gv.note = "waiting for requests on both arms".into();
        return;
    }
    let q = f64::from(percentile) / 100.0;
    let a = alpha / 2.0;
    let (control_lower, control_upper) = sequential::quantile_bounds(&buckets(control), q, a);
    let (_, cand_upper) = sequential::quantile_bounds(&buckets(cand), q, a);
    let limit = control_upper.map(|u| (u as f64 * ratio) as u64);
    let tripped = limit.is_some_and(|l| sequential::rate_rejects(slower_than(cand, l), nc, 1.0 - q, a).0);
    let within = matches!((cand_upper, control_lower), (Some(c), Some(s)) if c as f64 <= s as f64 * ratio);
    gv.judge(tripped, within);
    let (qc, qs) = (
        cand.latency_us.value_at_quantile(q),
        control.latency_us.value_at_quantile(q),
    );
    gv.value = Some(qc as f64 / qs.max(1) as f64);
    let limit_text = match (control_upper, limit) {
        (Some(u), Some(l)) => format!("limit {ratio} × control's upper bound {} = {}", ms(u), ms(l)),
        _ => format!("limit {ratio} × control's p{percentile}, whose upper bound needs more requests"),
    };
    gv.note = format!(
        "p{percentile} {} of {nc} vs control {} of {ns} (ratio {:.2}; {limit_text}): {}",
        ms(qc),
        ms(qs),
        qc as f64 / qs.max(1) as f64,
        verdict_words(tripped, within)
    );
}

/// `drift_psi<max`: against the baseline's bins when given, else against the stable
/// version's scores of this step (bins cut at the deciles of its first `PSI_EDGE_SCORES`).
pub fn judge_psi(gv: &mut GuardValue, state: &RolloutState, cand: &ArmWindow, stable: &ArmWindow, max: f64) {
    let alpha = state.spec.alpha;
    let (b, what) = match &state.spec.baseline {
        Some(base) => {
            if cand.scores.is_empty() {
                gv.decided = false;
                gv.note = "waiting for scores".into();
                return;
            }
            let counts = distance::bin_counts(&base.edges, &cand.scores);
            (
                distance::psi_bounds_vs_shares(&base.proportions, &counts, alpha),
                format!(
                    "PSI of {} candidate scores against baseline column \"{}\"",
                    cand.scores.len(),
                    base.column
                ),
            )
        }
        None => {
            if stable.scores.len() <= PSI_EDGE_SCORES || cand.scores.is_empty() {
                gv.decided = false;
                gv.note = format!(
                    "waiting for {} stable scores and one candidate score",
                    PSI_EDGE_SCORES + 1
                );
                return;
            }
            let edges = distance::quantile_edges(&stable.scores[..PSI_EDGE_SCORES], PSI_BINS);
            let control = distance::bin_counts(&edges, &stable.scores[PSI_EDGE_SCORES..]);
            let counts = distance::bin_counts(&edges, &cand.scores);
            (
                distance::psi_bounds_two_sample(&control, &counts, alpha),
                format!(
                    "PSI of {} candidate scores against {} stable scores, same step",
                    cand.scores.len(),
                    stable.scores.len() - PSI_EDGE_SCORES
                ),
            )
        }
    };
    let (tripped, within) = (b.lower > max, b.upper < max);
    gv.judge(tripped, within);
    gv.value = Some(b.estimate);
    gv.bound = Some(if tripped { b.lower } else { b.upper });
    gv.note = format!(
        "{what}: {:.3} (bounds {:.3}–{:.3}), threshold {max}: {}",
        b.estimate,
        b.lower,
        b.upper,
        verdict_words(tripped, within)
    );
}

/// `outcome:metric>=control`: always-valid CI of candidate − control on the metric per request.
pub fn judge_outcome(gv: &mut GuardValue, cand: &ArmWindow, stable: &ArmWindow, metric: &str, state: &RolloutState) {
    let (ns, nc) = (stable.requests as f64, cand.requests as f64);
    let get = |a: &ArmWindow| a.outcomes.get(metric).copied().unwrap_or((0.0, 0.0));
    let ((ss, sq_s), (sc, sq_c)) = (get(stable), get(cand));
    gv.decided = false;
    if ns < 30.0 || nc < 30.0 {
        gv.note = "waiting for 30 requests per arm".into();
        return;
    }
    let (ms, mc) = (ss / ns, sc / nc);
    let vs = ((sq_s - ss * ss / ns) / (ns - 1.0)).max(0.0);
    let vc = ((sq_c - sc * sc / nc) / (nc - 1.0)).max(0.0);
    let var = vs / ns + vc / nc;
    if var <= 0.0 {
        gv.note = format!("{metric}: no variance yet");
        return;
    }
    let alpha = state.spec.alpha;
    let r = sequential::confidence_sequence(mc - ms, var, ns + nc, alpha, state.spec.tune_n);
    gv.value = Some(mc - ms);
    gv.bound = Some(r.ci[1]);
    gv.pass = r.ci[1] >= 0.0;
    gv.decided = true;
    gv.note = format!(
        "{metric}: candidate {mc:.4} vs control {ms:.4}, always-valid {:.0}% CI [{:.4}, {:.4}]",
        (1.0 - alpha) * 100.0,
        r.ci[0],
        r.ci[1]
    );
}

/// `prom:QUERY<X`: the latest reading of the query (see `prom`).
pub fn judge_prom(gv: &mut GuardValue, reading: Option<&super::prom::Reading>, cmp: super::prom::Cmp, threshold: f64) {
    let Some(r) = reading.filter(|r| r.answers > 0 || r.errors > 0) else {
        gv.decided = false;
        gv.note = "waiting for the first Prometheus answer".into();
        return;
    };
    if let Some(err) = &r.error {
        gv.decided = false;
        gv.note = format!("no data: {err} ({} in a row)", r.errors);
        return;
    }
    let Some(v) = r.value else {
        gv.decided = false;
        gv.note = "no data: the query returned nothing".into();
        return;
    };
    gv.value = Some(v);
    let tripped = r.breaches >= super::prom::BREACHES;
    gv.judge(tripped, cmp.holds(v, threshold));
    gv.note = format!(
        "{v} (must be {} {threshold}; {} breach(es) in a row, {} trip)",
        cmp.symbol(),
        r.breaches,
        super::prom::BREACHES
    );
}
