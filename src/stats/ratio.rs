//! Ratio metrics (e.g. clicks per session, revenue per order) where numerator and
//! denominator are measured per unit: R = Σnum / Σden. Variance of R by the delta method
//! (Deng, Knoblich & Lu 2018, "Applying the Delta Method in Metric Analytics"):
//! var(R̂) = [σ²_n/μ_d² − 2 μ_n σ_nd/μ_d³ + μ_n² σ²_d/μ_d⁴] / n, sample (co)variances.
//! The difference is tested with a z test; relative lift uses the same delta method.

use super::moments::CoMoments;
use super::{Comparison, dist};

/// Ratio estimate and the variance of one unit's contribution (var(R̂)·n).
/// `m` accumulates (x = denominator, y = numerator) per unit.
pub fn ratio_and_unit_var(m: &CoMoments) -> Option<(f64, f64)> {
    let (mu_n, mu_d) = (m.y.mean, m.x.mean);
    if mu_d == 0.0 || m.x.n < 2 {
        return None;
    }
    let r = mu_n / mu_d;
    let v = m.y.var() / mu_d.powi(2) - 2.0 * mu_n * m.cov() / mu_d.powi(3) + mu_n.powi(2) * m.x.var() / mu_d.powi(4);
    Some((r, v.max(0.0)))
}

/// Compare ratio metrics; `c` and `t` accumulate (x = denominator, y = numerator) per unit.
pub fn compare(c: &CoMoments, t: &CoMoments, alpha: f64) -> Option<Comparison> {
    let (rc, uvc) = ratio_and_unit_var(c)?;
    let (rt, uvt) = ratio_and_unit_var(t)?;
    let (nc, nt) = (c.x.n as f64, t.x.n as f64);
    let se = (uvc / nc + uvt / nt).sqrt();
    let diff = rt - rc;
    let z = dist::norm_ppf(1.0 - alpha / 2.0);
    let (stat, p) = if se > 0.0 {
        (diff / se, 2.0 * dist::norm_sf((diff / se).abs()))
    } else {
        (0.0, 1.0)
    };
    let (rel, rel_ci) = super::relative_lift(rc, uvc, nc, rt, uvt, nt, alpha).unwrap_or((f64::NAN, [f64::NAN; 2]));
    Some(Comparison {
        diff,
        se,
        ci: [diff - z * se, diff + z * se],
        rel_lift: rel,
        rel_ci,
        p_value: p,
        statistic: stat,
        df: None,
    })
}
