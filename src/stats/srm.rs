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

/// Dirichlet concentration of the sequential test's prior (prior mean = the expected split).
pub const SEQUENTIAL_CONCENTRATION: f64 = 100.0;

/// A live, repeatedly checked sample-ratio test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SequentialSrm {
    /// ln of the Bayes factor (an e-value) against the expected split.
    pub ln_bayes_factor: f64,
    /// The split is shown to differ from the weights (Bayes factor ≥ 1/α).
    pub mismatch: bool,
}

/// Sample-ratio mismatch under continuous monitoring: the Dirichlet–multinomial Bayes
/// factor of Lindon & Malek (2022, "Anytime-valid inference for multinomial count data",
/// NeurIPS; the method of Optimizely's `ssrm` package),
/// BF_n = Γ(Σα)/Γ(Σα + n) · Π Γ(α_i + x_i)/Γ(α_i) / Π p_i^{x_i}, with α = c·p
/// (`SEQUENTIAL_CONCENTRATION`). Under the expected split BF_n is a nonnegative martingale
/// with mean 1, so by Ville's inequality the chance it *ever* reaches 1/α is at most α,
/// however often it is checked — unlike a chi-square test repeated every second, whose
/// false alarms add up over the looks. With c = 100 and α = 0.001 a 60/40 split of a
/// 50/50 route is caught after about 470 requests, 55/45 after about 1 800.
pub fn sequential(observed: &[u64], weights: &[f64], alpha: f64) -> SequentialSrm {
    use statrs::function::gamma::ln_gamma;
    let wsum: f64 = weights.iter().sum();
    let mut ln_bf = 0.0;
    if wsum > 0.0 && observed.len() == weights.len() && observed.len() >= 2 {
        let n: f64 = observed.iter().map(|&x| x as f64).sum();
        let c = SEQUENTIAL_CONCENTRATION;
        ln_bf = ln_gamma(c) - ln_gamma(c + n);
        for (&x, w) in observed.iter().zip(weights) {
            let (p, x) = (w / wsum, x as f64);
            if p <= 0.0 {
                if x > 0.0 {
                    // Traffic on an arm routed 0%: impossible under the weights.
                    ln_bf = f64::INFINITY;
                    break;
                }
                continue;
            }
            ln_bf += ln_gamma(c * p + x) - ln_gamma(c * p) - x * p.ln();
        }
    }
    SequentialSrm {
        ln_bayes_factor: ln_bf,
        mismatch: ln_bf >= (1.0 / alpha.clamp(1e-12, 1.0)).ln(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    #[test]
    fn bayes_factor_matches_the_closed_form() {
        // Computed independently with Python's math.lgamma (c = 100).
        let s = sequential(&[300, 100], &[50.0, 50.0], SRM_ALPHA);
        assert!((s.ln_bayes_factor - 40.42202401480398).abs() < 1e-9, "{s:?}");
        assert!(s.mismatch);
        let s = sequential(&[190, 131], &[50.0, 50.0], SRM_ALPHA);
        assert!((s.ln_bayes_factor - 3.4371403756168775).abs() < 1e-9, "{s:?}");
        assert!(
            !s.mismatch,
            "p = 0.001 by chi-square once is not enough evidence for a live check"
        );
        assert!(sequential(&[0, 5], &[100.0, 0.0], SRM_ALPHA).mismatch);
    }

    /// 1000 healthy 25/75 steps of 3000 requests, checked after every 10 requests
    /// (300 looks): the live test must raise a false alarm in at most α + 0.5% of them,
    /// where the chi-square test at p < 0.001 on the same looks raises several times more.
    #[test]
    fn a_healthy_split_checked_after_every_ten_requests_rarely_alarms() {
        let alpha = 0.01;
        let mut rng = rand::rngs::StdRng::seed_from_u64(2022);
        let (mut seq_alarms, mut chi_alarms) = (0, 0);
        for _ in 0..1000 {
            let mut x = [0u64; 2];
            let (mut seq, mut chi) = (false, false);
            for i in 1..=3000 {
                x[(rng.random::<f64>() >= 0.25) as usize] += 1;
                if i % 10 == 0 {
                    seq |= sequential(&x, &[25.0, 75.0], alpha).mismatch;
                    chi |= check(&[x[0] as f64, x[1] as f64], &[25.0, 75.0]).p_value < alpha;
                }
            }
            seq_alarms += seq as u32;
            chi_alarms += chi as u32;
        }
        assert!(
            seq_alarms as f64 / 1000.0 <= alpha + 0.005,
            "{seq_alarms} sequential alarms in 1000"
        );
        assert!(chi_alarms > 2 * seq_alarms.max(10), "repeated chi-square: {chi_alarms}");
    }

    #[test]
    fn a_broken_split_is_caught() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut caught_by = Vec::new();
        for _ in 0..1000 {
            let mut x = [0u64; 2];
            let at = (1..=5000).find(|_| {
                x[(rng.random::<f64>() >= 0.6) as usize] += 1;
                sequential(&x, &[50.0, 50.0], SRM_ALPHA).mismatch
            });
            caught_by.push(at.unwrap_or(u32::MAX));
        }
        caught_by.sort();
        assert!(
            caught_by[949] <= 2000,
            "60/40 of a 50/50 route: 95th percentile {}",
            caught_by[949]
        );
    }
}
