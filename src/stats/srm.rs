//! Sample-ratio mismatch: Pearson's chi-square goodness of fit of the observed arm counts
//! against the expected split (as `scipy.stats.chisquare(obs, f_exp)`); a mismatch is
//! flagged at p < 0.001 (Fabijan et al. 2019).

use serde::Serialize;

use super::dist;

pub const SRM_ALPHA: f64 = 0.001;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SrmResult {
    pub chi2: f64,
    pub p_value: f64,
    pub mismatch: bool,
    pub expected_share: Vec<f64>,
}

/// `observed` counts per arm, `weights` (any positive scale) per arm.
pub fn check(observed: &[f64], weights: &[f64]) -> SrmResult {
    let total: f64 = observed.iter().sum();
    let wsum: f64 = weights.iter().sum();
    let shares: Vec<f64> = weights.iter().map(|w| w / wsum).collect();
    let chi2: f64 = observed
        .iter()
        .zip(&shares)
        .map(|(o, s)| (o - total * s).powi(2) / (total * s))
        .sum();
    let k = observed.len() as f64 - 1.0;
    let p_value = if k >= 1.0 && total > 0.0 {
        dist::chi2_sf(chi2, k)
    } else {
        1.0
    };
    SrmResult {
        chi2,
        p_value,
        mismatch: p_value < SRM_ALPHA,
        expected_share: shares,
    }
}
