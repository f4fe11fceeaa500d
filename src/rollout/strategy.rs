//! Rollout specifications: strategies, weights, and guard expressions (`--guard`).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// 100% at once; guards watch for --watch-for and roll back on a trip.
    Single,
    /// 0% live: requests are mirrored to the candidate and compared (silent mode).
    Shadow,
    /// Stepped weights (--steps) with analysis at each step end.
    Canary,
    /// Fixed weights for N arms (--weights) until promote or rollback.
    Flight,
}

/// A guard: a condition the candidate must keep satisfying.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Guard {
    /// Candidate's error rate (non-2xx share) stays below `max`.
    ErrorRate { max: f64 },
    /// Candidate's p99 latency in milliseconds stays below `max`: trips when more than 1%
    /// of its requests are shown to take longer than `max`.
    P99Ms { max: f64 },
    /// Like `P99Ms` for the 95th percentile (more than 5% over `max`).
    P95Ms { max: f64 },
    /// Like `P99Ms` for the median (more than half over `max`).
    P50Ms { max: f64 },
    /// Candidate's error rate exceeds the control's (same step) by at most `margin`
    /// (absolute): trips when shown to exceed it by more.
    ErrorRateVsControl { margin: f64 },
    /// Candidate's `percentile` latency is at most `ratio` × the control's (same step):
    /// trips when shown to be more.
    LatencyVsControl { percentile: u8, ratio: f64 },
    /// Share of mirrored requests where the candidate agrees with stable stays above `min`.
    ShadowAgreement { min: f64 },
    /// PSI of the candidate's score vs the stable version's scores stays below `max`.
    DriftPsi { max: f64 },
    /// The candidate is not significantly worse than control on an outcome metric
    /// (always-valid sequential test at the rollout's alpha).
    Outcome { metric: String },
    /// A step does not end (promote/advance) before both arms have `n` requests.
    MinRequests { n: u64 },
    /// A Prometheus query's value must satisfy `cmp threshold` (`prom:QUERY<X`).
    Prom {
        query: String,
        cmp: super::prom::Cmp,
        threshold: f64,
    },
}

impl Guard {
    pub fn expr(&self) -> String {
        match self {
            Guard::ErrorRate { max } => format!("error_rate<{max}"),
            Guard::P99Ms { max } => format!("p99_ms<{max}"),
            Guard::P95Ms { max } => format!("p95_ms<{max}"),
            Guard::P50Ms { max } => format!("p50_ms<{max}"),
            Guard::ErrorRateVsControl { margin } => format!("error_rate<=control+{margin}"),
            Guard::LatencyVsControl { percentile, ratio } => format!("p{percentile}_ms<=control*{ratio}"),
            Guard::ShadowAgreement { min } => format!("shadow_agreement>{min}"),
            Guard::DriftPsi { max } => format!("drift_psi<{max}"),
            Guard::Outcome { metric } => format!("outcome:{metric}>=control"),
            Guard::MinRequests { n } => format!("min_requests={n}"),
            Guard::Prom { query, cmp, threshold } => format!("prom:{query}{}{threshold}", cmp.symbol()),
        }
    }
}

/// Parse one `--guard` expression; the error says which forms exist.
pub fn parse_guard(s: &str) -> Result<Guard> {
    // A PromQL query keeps its spaces (`sum by (x) (…)`): parsed before they are dropped.
    if let Some(rest) = s.trim_start().strip_prefix("prom:") {
        let (query, cmp, threshold) = super::prom::split_condition(rest).ok_or_else(|| {
            Error::Usage(format!(
                "--guard {s:?}: a Prometheus guard reads prom:QUERY<X (or >, <=, >=) with a number X"
            ))
        })?;
        return Ok(Guard::Prom { query, cmp, threshold });
    }
    let t: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let bad = |why: &str| {
        Error::Usage(format!(
            "--guard {s:?}: {why} (forms: error_rate<0.01, error_rate<=control+0.005, p99_ms<50, p99_ms<=control*1.2 (also p95_ms, p50_ms), shadow_agreement>0.98, drift_psi<0.2, outcome:METRIC>=control, min_requests=500, prom:QUERY<X)"
        ))
    };
    let num = |v: &str| -> Result<f64> {
        v.parse::<f64>()
            .ok()
            .filter(|x| x.is_finite() && *x >= 0.0)
            .ok_or_else(|| bad(&format!("{v:?} is not a non-negative number")))
    };
    if let Some(rest) = t.strip_prefix("outcome:") {
        let metric = rest
            .strip_suffix(">=control")
            .ok_or_else(|| bad("an outcome guard reads outcome:METRIC>=control"))?;
        if metric.is_empty() {
            return Err(bad("missing metric name"));
        }
        return Ok(Guard::Outcome { metric: metric.into() });
    }
    if let Some(v) = t.strip_prefix("error_rate<=control+") {
        let margin = num(v)?;
        if margin >= 1.0 {
            return Err(bad("an error-rate margin is between 0 and 1"));
        }
        return Ok(Guard::ErrorRateVsControl { margin });
    }
    for percentile in [99u8, 95, 50] {
        if let Some(v) = t.strip_prefix(&format!("p{percentile}_ms<=control*")) {
            let ratio = num(v)?;
            if ratio < 1.0 {
                return Err(bad("a latency ratio to control is at least 1 (1.2 allows 20% slower)"));
            }
            return Ok(Guard::LatencyVsControl { percentile, ratio });
        }
    }
    if t.contains("control") {
        return Err(bad(
            "a comparison with control reads error_rate<=control+MARGIN or p99_ms<=control*RATIO",
        ));
    }
    if let Some(v) = t.strip_prefix("error_rate<") {
        let max = num(v)?;
        if max > 1.0 {
            return Err(bad("an error rate is between 0 and 1"));
        }
        return Ok(Guard::ErrorRate { max });
    }
    if let Some(v) = t.strip_prefix("p99_ms<") {
        return Ok(Guard::P99Ms { max: num(v)? });
    }
    if let Some(v) = t.strip_prefix("p95_ms<") {
        return Ok(Guard::P95Ms { max: num(v)? });
    }
    if let Some(v) = t.strip_prefix("p50_ms<") {
        return Ok(Guard::P50Ms { max: num(v)? });
    }
    if let Some(v) = t.strip_prefix("shadow_agreement>") {
        let min = num(v)?;
        if min > 1.0 {
            return Err(bad("agreement is between 0 and 1"));
        }
        return Ok(Guard::ShadowAgreement { min });
    }
    if let Some(v) = t.strip_prefix("drift_psi<") {
        return Ok(Guard::DriftPsi { max: num(v)? });
    }
    if let Some(v) = t.strip_prefix("min_requests=") {
        let n = v
            .parse::<u64>()
            .map_err(|_| bad(&format!("{v:?} is not a whole number")))?;
        return Ok(Guard::MinRequests { n });
    }
    Err(bad("unknown guard"))
}

/// What a tripped guard does to the rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum OnTrip {
    /// 100% back to the stable version at once.
    #[default]
    Rollback,
    /// Hold the current weights for an operator (`resume`, `promote` or `rollback`).
    Pause,
}

/// What `deploy` asks for: everything the controller needs, persisted as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RolloutSpec {
    pub strategy: Strategy,
    /// The version being rolled out (canary/shadow/single), or for flight the first
    /// non-stable arm (see `weights`).
    pub candidate: String,
    /// Canary step weights in percent, ending at 100.
    #[serde(default)]
    pub steps: Vec<f64>,
    /// Step length (canary) in milliseconds.
    #[serde(default)]
    pub interval_ms: u64,
    /// Flight: (version, percent) for every arm, stable included, summing to 100.
    #[serde(default)]
    pub weights: Vec<(String, f64)>,
    #[serde(default)]
    pub guards: Vec<Guard>,
    /// Shadow: share of requests mirrored (0–100).
    #[serde(default = "hundred")]
    pub mirror_pct: f64,
    /// Shadow agreement for regression outputs: |Δ| ≤ tolerance counts as agreeing.
    #[serde(default = "default_tolerance")]
    pub tolerance: f64,
    /// Single: how long guards keep watching after the switch.
    #[serde(default)]
    pub watch_for_ms: u64,
    /// Significance level of the outcome guard.
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// Tuning N* of the outcome guard's confidence sequence.
    #[serde(default = "default_tune_n")]
    pub tune_n: f64,
    /// `drift_psi` reference: a training-baseline column's bins (from `drift baseline`);
    /// without it the candidate is compared with the stable version's scores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineBins>,
    /// Route to a candidate whose inputs or outputs differ from the stable version's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_signature_change: bool,
    /// What a tripped guard does.
    #[serde(default)]
    pub on_trip: OnTrip,
    /// Evaluate and record every guard verdict, never act on one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run_guards: bool,
    /// Times a step whose time is up with a guard still deciding is extended by one more
    /// interval before it pauses as inconclusive.
    #[serde(default = "default_extensions")]
    pub max_step_extensions: u32,
    /// Webhook targets of this rollout's transitions (`deploy --notify`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notify: Vec<String>,
    /// External checks the rollout waits for (`deploy --gate`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gates: Vec<super::gates::Gate>,
    /// How long a refusing pre-step gate holds a step before `on_trip` applies.
    #[serde(default = "default_gate_timeout")]
    pub gate_timeout_ms: u64,
    /// Requests matching any of these go to the candidate at any weight (`--match`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matches: Vec<super::matching::Match>,
    /// Count matched requests in the guards' windows too.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub guard_include_matched: bool,
    /// Prometheus base URL for `prom:` guards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<String>,
    /// How often `prom:` guards are queried.
    #[serde(default = "default_prom_interval")]
    pub prom_interval_ms: u64,
}

impl Default for RolloutSpec {
    /// A single deployment of nothing: every field at its serde default.
    fn default() -> Self {
        RolloutSpec {
            strategy: Strategy::Single,
            candidate: String::new(),
            steps: Vec::new(),
            interval_ms: 0,
            weights: Vec::new(),
            guards: Vec::new(),
            mirror_pct: hundred(),
            tolerance: default_tolerance(),
            watch_for_ms: 0,
            alpha: default_alpha(),
            tune_n: default_tune_n(),
            baseline: None,
            allow_signature_change: false,
            on_trip: OnTrip::default(),
            dry_run_guards: false,
            max_step_extensions: default_extensions(),
            notify: Vec::new(),
            gates: Vec::new(),
            gate_timeout_ms: default_gate_timeout(),
            matches: Vec::new(),
            guard_include_matched: false,
            prometheus: None,
            prom_interval_ms: default_prom_interval(),
        }
    }
}

impl RolloutSpec {
    /// Its `prom:` guards by expression.
    pub fn prom_guards(&self) -> Vec<(String, &Guard)> {
        self.guards
            .iter()
            .filter(|g| matches!(g, Guard::Prom { .. }))
            .map(|g| (g.expr(), g))
            .collect()
    }

    /// Its guards need the candidate's output scores (`drift_psi`).
    pub fn needs_scores(&self) -> bool {
        self.guards.iter().any(|g| matches!(g, Guard::DriftPsi { .. }))
    }

    /// Its guards need outcomes joined to requests by id (`outcome:…`).
    pub fn needs_outcomes(&self) -> bool {
        self.guards.iter().any(|g| matches!(g, Guard::Outcome { .. }))
    }
}

/// The quantile bins of one baseline-profile column, carried in the rollout spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineBins {
    pub column: String,
    pub edges: Vec<f64>,
    pub proportions: Vec<f64>,
}

fn hundred() -> f64 {
    100.0
}
fn default_tolerance() -> f64 {
    1e-6
}
fn default_alpha() -> f64 {
    0.05
}
fn default_prom_interval() -> u64 {
    30_000
}
fn default_gate_timeout() -> u64 {
    600_000
}
fn default_extensions() -> u32 {
    2
}
fn default_tune_n() -> f64 {
    5000.0
}

/// Guards that need what a strategy cannot give are refused: agreement needs shadow
/// traffic; outcome guards need a concurrent control (canary or flight), and so does drift
/// unless a `--baseline` profile is the reference.
pub fn check_guards(strategy: Strategy, guards: &[Guard], has_baseline: bool) -> Result<()> {
    for g in guards {
        let ok = match g {
            Guard::ShadowAgreement { .. } => strategy == Strategy::Shadow,
            Guard::DriftPsi { .. } if has_baseline => true,
            Guard::Outcome { .. } | Guard::DriftPsi { .. } => matches!(strategy, Strategy::Canary | Strategy::Flight),
            Guard::ErrorRateVsControl { .. } | Guard::LatencyVsControl { .. } => strategy != Strategy::Single,
            _ => true,
        };
        if !ok {
            let name = serde_json::to_value(strategy)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            return Err(Error::Usage(format!(
                "--guard {} does not apply to strategy {name} (agreement needs shadow; outcome and drift need a concurrent control: canary or flight; comparisons with control need any strategy but single)",
                g.expr()
            )));
        }
    }
    Ok(())
}

/// `5,25,50,100` → steps; each in (0, 100], increasing, ending at 100.
pub fn parse_steps(s: &str) -> Result<Vec<f64>> {
    let steps: Vec<f64> = s
        .split(',')
        .map(|p| p.trim().trim_end_matches('%').parse::<f64>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| Error::Usage(format!("--steps {s:?}: expected percentages like 5,25,50,100")))?;
    if steps.is_empty() || steps.iter().any(|w| !(*w > 0.0 && *w <= 100.0)) {
        return Err(Error::Usage(format!("--steps {s:?}: every step is in (0, 100]")));
    }
    if steps.windows(2).any(|w| w[1] <= w[0]) {
        return Err(Error::Usage(format!("--steps {s:?}: steps must increase")));
    }
    if steps.last() != Some(&100.0) {
        return Err(Error::Usage(format!("--steps {s:?}: the last step must be 100")));
    }
    Ok(steps)
}

/// `stable=50,b=25,c=25` → weights summing to 100 (names are versions; `stable` means the
/// current stable version).
pub fn parse_weights(s: &str) -> Result<Vec<(String, f64)>> {
    let out = crate::parse::parse_pairs("--weights", s)?;
    let total: f64 = out.iter().map(|(_, w)| w).sum();
    if (total - 100.0).abs() > 1e-9 || out.len() < 2 {
        return Err(Error::Usage(format!(
            "--weights {s:?}: need at least two arms summing to 100 (got {total})"
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_parse_and_print_back() {
        for s in [
            "error_rate<0.01",
            "p99_ms<50",
            "shadow_agreement>0.98",
            "drift_psi<0.2",
            "outcome:converted>=control",
            "min_requests=500",
            "error_rate<=control+0.005",
            "p99_ms<=control*1.2",
            "p50_ms<=control*1",
        ] {
            assert_eq!(parse_guard(s).unwrap().expr(), s);
        }
        assert_eq!(
            parse_guard("p95_ms <= control * 1.5").unwrap(),
            Guard::LatencyVsControl {
                percentile: 95,
                ratio: 1.5
            }
        );
        assert_eq!(
            parse_guard(" error_rate < 0.5 ").unwrap(),
            Guard::ErrorRate { max: 0.5 }
        );
        for bad in [
            "error_rate>0.1",
            "error_rate<2",
            "p99<5",
            "outcome:>=control",
            "outcome:x<=control",
            "min_requests=1.5",
            "latency<3",
            "error_rate<=control-0.01",
            "error_rate<=control+1",
            "p99_ms<=control*0.5",
            "p98_ms<=control*1.2",
            "p99_ms<=control+5",
        ] {
            assert!(parse_guard(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn steps_and_weights_are_validated() {
        assert_eq!(parse_steps("5,25,50,100").unwrap(), vec![5.0, 25.0, 50.0, 100.0]);
        for bad in ["", "5,4,100", "5,50", "0,100", "5,x,100"] {
            assert!(parse_steps(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_weights("stable=50,b=25,c=25").unwrap().len(), 3);
        for bad in ["a=50", "a=50,b=40", "a=50,a=50", "a=x,b=100"] {
            assert!(parse_weights(bad).is_err(), "{bad}");
        }
    }
}
