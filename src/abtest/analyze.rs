//! Turn accumulated arms into comparisons, corrections, SRM check and verdicts.

use serde::Serialize;

use super::spec::{Accumulator, MetricKind, MetricSpec};
use crate::output::{Grid, Report};
use crate::stats::correction::{Correction, adjust};
use crate::stats::means::{ArmSummary, welch};
use crate::stats::{Comparison, cuped, proportions, ratio, sequential, srm};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Fixed-horizon tests (z for proportions, Welch t for means, delta method for ratios).
    Fixed,
    /// Always-valid normal-mixture confidence sequences (safe under continuous peeking).
    Sequential,
}

#[derive(Debug, Clone)]
pub struct AnalyzeOptions {
    pub control: Option<String>,
    pub alpha: f64,
    pub method: Method,
    pub tune_n: f64,
    pub cuped: bool,
    pub correction: Correction,
    pub expected_split: Option<Vec<(String, f64)>>,
    pub min_n: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ArmStats {
    pub arm: String,
    pub n: u64,
    pub missing: u64,
    pub mean: f64,
    pub variance: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct FixedResult {
    pub diff_ci: [f64; 2],
    pub p_value: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ComparisonReport {
    pub arm: String,
    pub control: String,
    pub diff: Option<f64>,
    pub diff_ci: Option<[f64; 2]>,
    pub rel_lift: Option<f64>,
    pub rel_ci: Option<[f64; 2]>,
    pub p_value: Option<f64>,
    pub p_adjusted: Option<f64>,
    pub statistic: Option<f64>,
    pub df: Option<f64>,
    /// `better`, `worse`, `inconclusive` or `insufficient data`.
    pub verdict: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// With `--method sequential`: the fixed-horizon result, for comparison.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed: Option<FixedResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cuped_theta: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variance_reduction: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MetricReport {
    pub metric: String,
    pub kind: MetricKind,
    pub arms: Vec<ArmStats>,
    pub comparisons: Vec<ComparisonReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SrmReport {
    pub arms: Vec<String>,
    pub observed: Vec<u64>,
    pub expected_share: Vec<f64>,
    pub chi2: f64,
    pub p_value: f64,
    pub mismatch: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct AbReport {
    pub control: String,
    pub method: Method,
    pub alpha: f64,
    pub correction: Correction,
    pub units: u64,
    pub srm: SrmReport,
    pub metrics: Vec<MetricReport>,
}

impl AbReport {
    /// (metric, arm) pairs judged significantly worse than control.
    pub fn regressions(&self) -> Vec<String> {
        self.metrics
            .iter()
            .flat_map(|m| {
                m.comparisons
                    .iter()
                    .filter(|c| c.verdict == "worse")
                    .map(move |c| format!("{} ({})", m.metric, c.arm))
            })
            .collect()
    }
}

fn pick_control(acc: &Accumulator, wanted: Option<&str>) -> crate::error::Result<usize> {
    let arms = &acc.arms;
    match wanted {
        Some(c) => arms.iter().position(|a| a == c).ok_or_else(|| {
            crate::error::Error::Usage(format!("--control {c:?} is not an arm (arms: {})", arms.join(", ")))
        }),
        None => Ok(arms.iter().position(|a| a == "control" || a == "stable").unwrap_or(0)),
    }
}

fn summary(acc: &super::spec::MetricAcc, kind: MetricKind) -> (f64, f64, f64) {
    match kind {
        MetricKind::Ratio => match ratio::ratio_and_unit_var(&acc.pair) {
            Some((r, v)) => (acc.pair.x.n as f64, r, v),
            None => (acc.pair.x.n as f64, f64::NAN, f64::NAN),
        },
        // Binary and mean metrics report the sample variance (n − 1).
        _ => (acc.y.n as f64, acc.y.mean, acc.y.var()),
    }
}

/// Analyse every metric: each non-control arm against control.
pub fn analyze(acc: &Accumulator, specs: &[MetricSpec], opts: &AnalyzeOptions) -> crate::error::Result<AbReport> {
    if acc.arms.len() < 2 {
        return Err(crate::error::Error::Usage(format!(
            "only one arm found ({}); an experiment needs a control and at least one treatment",
            acc.arms.first().map(String::as_str).unwrap_or("none")
        )));
    }
    let ci = pick_control(acc, opts.control.as_deref())?;
    let control = acc.arms[ci].clone();
    let mut metrics = Vec::new();
    let mut family: Vec<(usize, usize, f64)> = Vec::new(); // (metric, comparison, p)
    for (mi, spec) in specs.iter().enumerate() {
        // Control first, then the other arms in first-seen order.
        let order: Vec<usize> = std::iter::once(ci)
            .chain((0..acc.arms.len()).filter(|&i| i != ci))
            .collect();
        let arms: Vec<ArmStats> = order
            .iter()
            .map(|&i| (&acc.arms[i], &acc.per_arm[i]))
            .map(|(name, a)| {
                let m = &a.metrics[mi];
                let (n, mean, variance) = summary(m, spec.kind);
                ArmStats {
                    arm: name.clone(),
                    n: n as u64,
                    missing: m.missing,
                    mean,
                    variance,
                }
            })
            .collect();
        let mut comparisons = Vec::new();
        for &ai in order.iter().skip(1) {
            let arm = &acc.arms[ai];
            let (c, t) = (&acc.per_arm[ci].metrics[mi], &acc.per_arm[ai].metrics[mi]);
            let mut rep = ComparisonReport {
                arm: arm.clone(),
                control: control.clone(),
                diff: None,
                diff_ci: None,
                rel_lift: None,
                rel_ci: None,
                p_value: None,
                p_adjusted: None,
                statistic: None,
                df: None,
                verdict: "insufficient data".into(),
                note: None,
                fixed: None,
                cuped_theta: None,
                variance_reduction: None,
            };
            let (nc, nt) = (c.y.n, t.y.n);
            if nc < opts.min_n.max(2) || nt < opts.min_n.max(2) {
                rep.note = Some(format!(
                    "n = {nc} (control) and {nt} ({arm}); --min-n is {}",
                    opts.min_n
                ));
                comparisons.push(rep);
                continue;
            }
            let mut theta = None;
            let mut reduction = None;
            let cmp: Option<Comparison> = match spec.kind {
                MetricKind::Binary => Some(proportions::compare(
                    c.y.sum(),
                    nc as f64,
                    t.y.sum(),
                    nt as f64,
                    opts.alpha,
                )),
                MetricKind::Mean if opts.cuped => cuped::compare(&c.pair, &t.pair, opts.alpha).map(|r| {
                    theta = Some(r.theta);
                    reduction = Some(r.variance_reduction);
                    r.comparison
                }),
                MetricKind::Mean => Some(welch(
                    ArmSummary {
                        n: nc as f64,
                        mean: c.y.mean,
                        var: c.y.var(),
                    },
                    ArmSummary {
                        n: nt as f64,
                        mean: t.y.mean,
                        var: t.y.var(),
                    },
                    opts.alpha,
                )),
                MetricKind::Ratio => ratio::compare(&c.pair, &t.pair, opts.alpha),
            };
            let Some(cmp) = cmp.filter(|c| c.se > 0.0 && c.se.is_finite()) else {
                rep.note = Some("no variance in either arm (or a zero denominator): nothing to test".into());
                comparisons.push(rep);
                continue;
            };
            rep.diff = Some(cmp.diff);
            rep.rel_lift = cmp.rel_lift.is_finite().then_some(cmp.rel_lift);
            rep.rel_ci = cmp.rel_lift.is_finite().then_some(cmp.rel_ci);
            rep.statistic = Some(cmp.statistic);
            rep.df = cmp.df;
            rep.cuped_theta = theta;
            rep.variance_reduction = reduction;
            match opts.method {
                Method::Fixed => {
                    rep.diff_ci = Some(cmp.ci);
                    rep.p_value = Some(cmp.p_value);
                }
                Method::Sequential => {
                    let s = sequential::confidence_sequence(
                        cmp.diff,
                        cmp.se.powi(2),
                        (nc + nt) as f64,
                        opts.alpha,
                        opts.tune_n,
                    );
                    rep.diff_ci = Some(s.ci);
                    rep.p_value = Some(s.p_value);
                    rep.fixed = Some(FixedResult {
                        diff_ci: cmp.ci,
                        p_value: cmp.p_value,
                    });
                }
            }
            family.push((mi, comparisons.len(), rep.p_value.unwrap_or(1.0)));
            comparisons.push(rep);
        }
        metrics.push(MetricReport {
            metric: spec.name.clone(),
            kind: spec.kind,
            arms,
            comparisons,
        });
    }
    let raw: Vec<f64> = family.iter().map(|f| f.2).collect();
    let adjusted = adjust(&raw, opts.correction);
    for ((mi, ci_, _), p_adj) in family.iter().zip(adjusted) {
        let rep = &mut metrics[*mi].comparisons[*ci_];
        rep.p_adjusted = Some(p_adj);
        let diff = rep.diff.unwrap_or(0.0);
        rep.verdict = if p_adj < opts.alpha {
            if diff > 0.0 { "better" } else { "worse" }
        } else {
            "inconclusive"
        }
        .into();
    }
    // Sample-ratio mismatch on units per arm.
    let observed: Vec<u64> = acc.per_arm.iter().map(|a| a.units).collect();
    let weights: Vec<f64> = match &opts.expected_split {
        Some(split) => {
            acc.arms
                .iter()
                .map(|a| {
                    split.iter().find(|(n, _)| n == a).map(|(_, w)| *w).ok_or_else(|| {
                        crate::error::Error::Usage(format!("--expected-split has no weight for arm {a:?}"))
                    })
                })
                .collect::<crate::error::Result<_>>()?
        }
        None => vec![1.0; acc.arms.len()],
    };
    let obs_f: Vec<f64> = observed.iter().map(|&o| o as f64).collect();
    let s = srm::check(&obs_f, &weights);
    Ok(AbReport {
        control,
        method: opts.method,
        alpha: opts.alpha,
        correction: opts.correction,
        units: observed.iter().sum(),
        srm: SrmReport {
            arms: acc.arms.clone(),
            observed,
            expected_share: s.expected_share,
            chi2: s.chi2,
            p_value: s.p_value,
            mismatch: s.mismatch,
        },
        metrics,
    })
}

fn num(x: f64) -> String {
    crate::output::fmt_num(x)
}

fn pct(x: f64) -> String {
    format!("{:+.2}%", x * 100.0)
}

impl Report for AbReport {
    fn grids(&self) -> Vec<Grid> {
        let mut grids = Vec::new();
        for m in &self.metrics {
            let headers = [
                "arm", "n", "mean", "diff", "diff CI", "lift", "lift CI", "p", "p adj", "verdict",
            ];
            let mut rows = Vec::new();
            for a in &m.arms {
                let cmp = m.comparisons.iter().find(|c| c.arm == a.arm);
                let opt = |v: Option<f64>, f: fn(f64) -> String| v.map(f).unwrap_or_else(|| "-".into());
                let ci = |v: Option<[f64; 2]>, f: fn(f64) -> String| {
                    v.map(|[l, h]| format!("[{}, {}]", f(l), f(h)))
                        .unwrap_or_else(|| "-".into())
                };
                rows.push(match cmp {
                    None => vec![
                        format!("{} (control)", a.arm),
                        a.n.to_string(),
                        num(a.mean),
                        "".into(),
                        "".into(),
                        "".into(),
                        "".into(),
                        "".into(),
                        "".into(),
                        "".into(),
                    ],
                    Some(c) => vec![
                        a.arm.clone(),
                        a.n.to_string(),
                        num(a.mean),
                        opt(c.diff, num),
                        ci(c.diff_ci, num),
                        opt(c.rel_lift, pct),
                        ci(c.rel_ci, pct),
                        opt(c.p_value, |p| format!("{p:.4}")),
                        opt(c.p_adjusted, |p| format!("{p:.4}")),
                        match &c.note {
                            Some(n) if c.verdict == "insufficient data" => format!("insufficient data: {n}"),
                            _ => c.verdict.clone(),
                        },
                    ],
                });
            }
            let extra = m
                .comparisons
                .iter()
                .find_map(|c| {
                    c.variance_reduction
                        .map(|r| format!(", CUPED variance reduction {:.1}%", r * 100.0))
                })
                .unwrap_or_default();
            grids.push(Grid {
                title: Some(
                    format!(
                        "{} ({:?}, {:?} test, alpha {}, {:?} correction{extra})",
                        m.metric, m.kind, self.method, self.alpha, self.correction
                    )
                    .to_lowercase(),
                ),
                headers: headers.iter().map(|h| h.to_string()).collect(),
                rows,
            });
        }
        let srm_rows = self
            .srm
            .arms
            .iter()
            .zip(&self.srm.observed)
            .zip(&self.srm.expected_share)
            .map(|((a, o), e)| vec![a.clone(), o.to_string(), format!("{:.2}%", e * 100.0)])
            .collect();
        grids.push(Grid {
            title: Some(format!(
                "sample ratio: chi2 {:.3}, p {:.4} → {}",
                self.srm.chi2,
                self.srm.p_value,
                if self.srm.mismatch {
                    "MISMATCH (p < 0.001): the assignment is broken, results are not trustworthy"
                } else {
                    "ok"
                }
            )),
            headers: vec!["arm".into(), "units".into(), "expected".into()],
            rows: srm_rows,
        });
        grids
    }
}
