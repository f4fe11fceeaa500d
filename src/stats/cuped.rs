//! CUPED (Deng, Xu, Kohavi & Walker 2013): Y' = Y − θ(X − x̄) with a pre-period covariate
//! X and θ = cov(Y, X)/var(X) pooled over both arms (as GrowthBook). Per arm the adjusted
//! variance is var(Y) + θ² var(X) − 2θ cov(X, Y), and the arms are compared with Welch's
//! t test on the adjusted means (identical to `ttest_ind(y', equal_var=False)`).

use super::means::{ArmSummary, welch};
use super::moments::CoMoments;
use super::{Comparison, dist};

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct CupedResult {
    pub theta: f64,
    pub comparison: Comparison,
    /// 1 − var(adjusted diff)/var(unadjusted diff): the share of variance removed.
    pub variance_reduction: f64,
}

/// `c`, `t` accumulate (x = covariate, y = metric) per unit.
pub fn compare(c: &CoMoments, t: &CoMoments, alpha: f64) -> Option<CupedResult> {
    let mut pooled = *c;
    pooled.merge(t);
    let var_x = pooled.x.var();
    if var_x <= 0.0 || c.x.n < 2 || t.x.n < 2 {
        return None;
    }
    let theta = pooled.cov() / var_x;
    let adj = |m: &CoMoments| ArmSummary {
        n: m.x.n as f64,
        mean: m.y.mean - theta * (m.x.mean - pooled.x.mean),
        var: (m.y.var() + theta * theta * m.x.var() - 2.0 * theta * m.cov()).max(0.0),
    };
    let (ac, at) = (adj(c), adj(t));
    let mut comparison = welch(ac, at, alpha);
    // Relative lift against the unadjusted control mean (GrowthBook convention).
    let mean_c = c.y.mean;
    if mean_c != 0.0 {
        let rel = comparison.diff / mean_c;
        let var =
            at.var / (at.n * mean_c.powi(2)) + ac.var * (mean_c + comparison.diff).powi(2) / (ac.n * mean_c.powi(4));
        let half = dist::norm_ppf(1.0 - alpha / 2.0) * var.sqrt();
        comparison.rel_lift = rel;
        comparison.rel_ci = [rel - half, rel + half];
    }
    let raw = c.y.var() / c.y.n as f64 + t.y.var() / t.y.n as f64;
    let variance_reduction = if raw > 0.0 {
        1.0 - comparison.se.powi(2) / raw
    } else {
        0.0
    };
    Some(CupedResult {
        theta,
        comparison,
        variance_reduction,
    })
}
