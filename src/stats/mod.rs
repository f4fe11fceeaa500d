//! Statistics: pure functions, no I/O. Each function names its method and source and
//! returns a struct (estimate, standard error, interval, p-value), not a bare number.
//! Accumulators are single-pass and mergeable (Welford / Chan et al.), so files of any
//! size stream in O(arms × metrics) memory.

pub mod correction;
pub mod cuped;
pub mod dist;
pub mod distance;
pub mod drift;
pub mod means;
pub mod moments;
pub mod power;
pub mod proportions;
pub mod quality;
pub mod ratio;
pub mod sequential;
pub mod srm;

use serde::Serialize;

/// A two-sample comparison of treatment (T) against control (C).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Comparison {
    /// T − C.
    pub diff: f64,
    pub se: f64,
    pub ci: [f64; 2],
    /// (T − C) / C, with its delta-method interval.
    pub rel_lift: f64,
    pub rel_ci: [f64; 2],
    pub p_value: f64,
    /// Test statistic (z or t).
    pub statistic: f64,
    /// Degrees of freedom (Welch–Satterthwaite) where the test is a t test.
    pub df: Option<f64>,
}

/// Relative lift (T − C)/C and its delta-method variance
/// var = s²_T/(n_T ȳ_C²) + s²_C ȳ_T²/(n_C ȳ_C⁴) (GrowthBook `frequentist_variance`),
/// with a normal interval at `alpha`. `None` when the control mean is 0.
pub fn relative_lift(
    mean_c: f64,
    var_c: f64,
    n_c: f64,
    mean_t: f64,
    var_t: f64,
    n_t: f64,
    alpha: f64,
) -> Option<(f64, [f64; 2])> {
    if mean_c == 0.0 || !mean_c.is_finite() {
        return None;
    }
    let rel = (mean_t - mean_c) / mean_c;
    let var = var_t / (n_t * mean_c.powi(2)) + var_c * mean_t.powi(2) / (n_c * mean_c.powi(4));
    let z = dist::norm_ppf(1.0 - alpha / 2.0);
    let half = z * var.sqrt();
    Some((rel, [rel - half, rel + half]))
}
