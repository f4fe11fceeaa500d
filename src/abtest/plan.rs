//! `mlctl abtest plan`: sample size per arm (and days of traffic) to detect an effect,
//! or the smallest effect detectable with a given n. Two-sided, equal arms, normal
//! approximation as statsmodels `NormalIndPower`; with k arms the significance level is
//! Bonferroni-split over the k − 1 comparisons (conservative for Holm).

use serde::Serialize;

use crate::error::{Error, Result};
use crate::output::{Grid, Report};
use crate::stats::power;

#[derive(Debug, Clone)]
pub enum Baseline {
    Rate(f64),
    Mean { mean: f64, sd: f64 },
}

/// `2%` (relative) or `0.01` (absolute).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mde {
    Relative(f64),
    Absolute(f64),
}

pub fn parse_mde(s: &str) -> Result<Mde> {
    let bad = || {
        Error::Usage(format!(
            "--mde {s:?}: expected a relative effect like 2% or an absolute one like 0.01"
        ))
    };
    if let Some(p) = s.trim().strip_suffix('%') {
        let v: f64 = p.trim().parse().map_err(|_| bad())?;
        if v == 0.0 || !v.is_finite() {
            return Err(bad());
        }
        Ok(Mde::Relative(v / 100.0))
    } else {
        let v: f64 = s.trim().parse().map_err(|_| bad())?;
        if v == 0.0 || !v.is_finite() {
            return Err(bad());
        }
        Ok(Mde::Absolute(v))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PlanReport {
    pub baseline: String,
    pub alpha: f64,
    /// Per-comparison level after the Bonferroni split over arms − 1 comparisons.
    pub alpha_per_comparison: f64,
    pub power: f64,
    pub arms: u32,
    /// Standardised effect size (Cohen's h or d).
    pub effect_size: f64,
    pub mde_absolute: f64,
    pub mde_relative: Option<f64>,
    pub n_per_arm: u64,
    pub n_total: u64,
    pub days: Option<f64>,
}

impl Report for PlanReport {
    fn grids(&self) -> Vec<Grid> {
        let mut rows = vec![
            vec!["baseline".into(), self.baseline.clone()],
            vec![
                "effect".into(),
                format!(
                    "{} absolute{} (standardised {:.5})",
                    crate::output::fmt_num(self.mde_absolute),
                    self.mde_relative
                        .map(|r| format!(", {:+.2}% relative", r * 100.0))
                        .unwrap_or_default(),
                    self.effect_size
                ),
            ],
            vec![
                "alpha".into(),
                format!(
                    "{} ({} per comparison over {} arms)",
                    self.alpha,
                    crate::output::fmt_num(self.alpha_per_comparison),
                    self.arms
                ),
            ],
            vec!["power".into(), format!("{}", self.power)],
            vec!["units per arm".into(), self.n_per_arm.to_string()],
            vec!["units in total".into(), self.n_total.to_string()],
        ];
        if let Some(d) = self.days {
            rows.push(vec!["days at --daily-traffic".into(), format!("{d:.1}")]);
        }
        vec![Grid {
            title: None,
            headers: vec!["plan".into(), String::new()],
            rows,
        }]
    }
}

pub struct PlanInput {
    pub baseline: Baseline,
    pub mde: Option<Mde>,
    pub n: Option<u64>,
    pub alpha: f64,
    pub power: f64,
    pub arms: u32,
    pub daily_traffic: Option<f64>,
}

pub fn plan(p: &PlanInput) -> Result<PlanReport> {
    if p.arms < 2 {
        return Err(Error::Usage("--arms must be at least 2".into()));
    }
    if !(0.0 < p.alpha && p.alpha < 1.0 && 0.0 < p.power && p.power < 1.0) {
        return Err(Error::Usage("--alpha and --power must be between 0 and 1".into()));
    }
    let a = p.alpha / (p.arms - 1) as f64;
    let (baseline_text, base_mean) = match p.baseline {
        Baseline::Rate(r) if r > 0.0 && r < 1.0 => (format!("rate {r}"), r),
        Baseline::Rate(r) => return Err(Error::Usage(format!("--baseline-rate {r}: must be between 0 and 1"))),
        Baseline::Mean { mean, sd } if sd > 0.0 => (format!("mean {mean}, sd {sd}"), mean),
        Baseline::Mean { .. } => return Err(Error::Usage("--sd must be positive".into())),
    };
    let (effect, mde_abs, n) = match (p.mde, p.n) {
        (Some(mde), None) => {
            let delta = match mde {
                Mde::Relative(r) => base_mean * r,
                Mde::Absolute(d) => d,
            };
            let d = match p.baseline {
                Baseline::Rate(r) => {
                    let p2 = r + delta;
                    if !(0.0..=1.0).contains(&p2) {
                        return Err(Error::Usage(format!("baseline {r} + effect {delta} leaves [0, 1]")));
                    }
                    power::cohens_h(r, p2)
                }
                Baseline::Mean { sd, .. } => delta / sd,
            };
            let n = power::sample_size(d, a, p.power)
                .ok_or_else(|| Error::Usage("that effect cannot be detected (zero effect)".into()))?;
            (d, delta, n)
        }
        (None, Some(n)) => {
            let d = power::detectable_effect(n as f64, a, p.power)
                .ok_or_else(|| Error::Usage("--n must be positive".into()))?;
            let delta = match p.baseline {
                Baseline::Rate(r) => power::proportion_at(r, d) - r,
                Baseline::Mean { sd, .. } => d * sd,
            };
            (d, delta, n as f64)
        }
        _ => {
            return Err(Error::Usage(
                "give exactly one of --mde (sample size) and --n (detectable effect)".into(),
            ));
        }
    };
    let n_per_arm = n.ceil() as u64;
    let n_total = n_per_arm * p.arms as u64;
    Ok(PlanReport {
        baseline: baseline_text,
        alpha: p.alpha,
        alpha_per_comparison: a,
        power: p.power,
        arms: p.arms,
        effect_size: effect,
        mde_absolute: mde_abs,
        mde_relative: (base_mean != 0.0).then(|| mde_abs / base_mean),
        n_per_arm,
        n_total,
        days: p.daily_traffic.filter(|t| *t > 0.0).map(|t| n_total as f64 / t),
    })
}
