//! Binary metrics (conversion rates).
//!
//! p-value: two-proportion z test with pooled variance, as statsmodels
//! `proportions_ztest` (two-sided). Interval for the difference: Newcombe's hybrid
//! score interval from two Wilson intervals (Newcombe 1998, method 10), as statsmodels
//! `confint_proportions_2indep(method="newcomb", compare="diff")`. Relative lift: delta
//! method with per-arm variance p(1 − p) (GrowthBook's proportion statistic).

use super::{Comparison, dist, relative_lift};

/// Wilson score interval for x successes in n trials.
pub fn wilson(x: f64, n: f64, alpha: f64) -> [f64; 2] {
    let z = dist::norm_ppf(1.0 - alpha / 2.0);
    let p = x / n;
    let z2 = z * z;
    let centre = (x + z2 / 2.0) / (n + z2);
    let half = z * n.sqrt() / (n + z2) * (p * (1.0 - p) + z2 / (4.0 * n)).sqrt();
    [centre - half, centre + half]
}

/// Compare treatment (x_t of n_t) with control (x_c of n_c). Needs n ≥ 1 in both arms.
pub fn compare(x_c: f64, n_c: f64, x_t: f64, n_t: f64, alpha: f64) -> Comparison {
    let (p_c, p_t) = (x_c / n_c, x_t / n_t);
    let diff = p_t - p_c;
    let pooled = (x_c + x_t) / (n_c + n_t);
    let se_pooled = (pooled * (1.0 - pooled) * (1.0 / n_c + 1.0 / n_t)).sqrt();
    let (z, p_value) = if se_pooled > 0.0 {
        let z = diff / se_pooled;
        (z, 2.0 * dist::norm_sf(z.abs()))
    } else {
        (0.0, 1.0)
    };
    let [l_t, u_t] = wilson(x_t, n_t, alpha);
    let [l_c, u_c] = wilson(x_c, n_c, alpha);
    let lo = diff - ((p_t - l_t).powi(2) + (u_c - p_c).powi(2)).sqrt();
    let hi = diff + ((u_t - p_t).powi(2) + (p_c - l_c).powi(2)).sqrt();
    let se = (p_t * (1.0 - p_t) / n_t + p_c * (1.0 - p_c) / n_c).sqrt();
    let (rel, rel_ci) = relative_lift(p_c, p_c * (1.0 - p_c), n_c, p_t, p_t * (1.0 - p_t), n_t, alpha)
        .unwrap_or((f64::NAN, [f64::NAN, f64::NAN]));
    Comparison {
        diff,
        se,
        ci: [lo, hi],
        rel_lift: rel,
        rel_ci,
        p_value,
        statistic: z,
        df: None,
    }
}
