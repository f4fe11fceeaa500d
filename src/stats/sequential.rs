//! Always-valid (peeking-safe) inference for a difference of means: the asymptotic
//! normal-mixture confidence sequence of Waudby-Smith et al. (2023, arXiv:2103.06476v7,
//! eq. 9; Howard et al. 2021), with ρ tuned for a target sample size N* (eq. 161), and the
//! matching mixture e-value p-value (eq. 155) — i.e. an mSPRT-style always-valid p-value.
//! Same formulas as GrowthBook's `SequentialTwoSidedTTest` (N = n_C + n_T).

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SequentialResult {
    pub estimate: f64,
    pub ci: [f64; 2],
    pub p_value: f64,
}

/// ρ for tuning sample size `n_star` at level `alpha`.
pub fn rho(alpha: f64, n_star: f64) -> f64 {
    ((-2.0 * alpha.ln() + (-2.0 * alpha.ln() + 1.0).ln()) / n_star).sqrt()
}

/// `estimate` with variance `variance` (of the estimate itself) from `n` total units.
pub fn confidence_sequence(estimate: f64, variance: f64, n: f64, alpha: f64, n_star: f64) -> SequentialResult {
    let r = rho(alpha, n_star);
    let s2 = variance * n;
    let nr2 = n * r * r;
    let width = s2.sqrt() * ((2.0 * (nr2 + 1.0)) * ((nr2 + 1.0).sqrt() / alpha).ln() / (n * r).powi(2)).sqrt();
    let p_value = if variance > 0.0 {
        let st2 = estimate * estimate * n / variance;
        let e_value = (r * r * st2 / (2.0 * (nr2 + 1.0))).exp() / (nr2 + 1.0).sqrt();
        (1.0 / e_value).min(1.0)
    } else {
        1.0
    };
    SequentialResult {
        estimate,
        ci: [estimate - width, estimate + width],
        p_value,
    }
}
