//! Mean metrics: Welch's unequal-variance t test (Welch 1947), degrees of freedom by
//! Welch–Satterthwaite, as `scipy.stats.ttest_ind(t, c, equal_var=False)` and its
//! `confidence_interval()`. Relative lift by the delta method (see `relative_lift`).

use super::{Comparison, dist, relative_lift};

/// Summary of one arm: n, mean, sample variance (n − 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArmSummary {
    pub n: f64,
    pub mean: f64,
    pub var: f64,
}

/// Welch t test of T − C. Needs n ≥ 2 per arm and a positive pooled standard error.
pub fn welch(c: ArmSummary, t: ArmSummary, alpha: f64) -> Comparison {
    let (vc, vt) = (c.var / c.n, t.var / t.n);
    let se = (vc + vt).sqrt();
    let diff = t.mean - c.mean;
    let df = (vc + vt).powi(2) / (vc.powi(2) / (c.n - 1.0) + vt.powi(2) / (t.n - 1.0));
    let (stat, p_value, half) = if se > 0.0 {
        let stat = diff / se;
        (
            stat,
            2.0 * dist::t_sf(stat.abs(), df),
            dist::t_ppf(1.0 - alpha / 2.0, df) * se,
        )
    } else {
        (0.0, 1.0, 0.0)
    };
    let (rel, rel_ci) =
        relative_lift(c.mean, c.var, c.n, t.mean, t.var, t.n, alpha).unwrap_or((f64::NAN, [f64::NAN, f64::NAN]));
    Comparison {
        diff,
        se,
        ci: [diff - half, diff + half],
        rel_lift: rel,
        rel_ci,
        p_value,
        statistic: stat,
        df: Some(df),
    }
}
