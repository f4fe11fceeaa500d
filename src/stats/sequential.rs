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

/// Alternatives of the rate test, as fractions of the way from `p0` to 1.
const ALTERNATIVES: [f64; 8] = [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 0.9];

/// An anytime-valid one-sided test on a rate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RateTest {
    /// Observed rate k / n (0 when n = 0).
    pub rate: f64,
    /// The e-value against H0: p ≤ p0 (≥ 1/α rejects).
    pub e_value: f64,
    /// Anytime-valid lower confidence bound on p at level α: the smallest p0 not rejected.
    pub lower: f64,
    /// H0 rejected: the rate is shown to exceed p0.
    pub reject: bool,
}

/// ln of the mixture likelihood ratio E_n(p0) = (1/J) Σ_j (q_j/p0)^k ((1−q_j)/(1−p0))^(n−k),
/// q_j = p0 + (1 − p0)·f_j over `ALTERNATIVES`.
fn ln_mixture(k: u64, n: u64, p0: f64) -> f64 {
    if p0 <= 0.0 {
        return if k > 0 { f64::INFINITY } else { 0.0 };
    }
    if p0 >= 1.0 {
        return f64::NEG_INFINITY;
    }
    let (k, m) = (k as f64, (n - k.min(n)) as f64);
    let terms: Vec<f64> = ALTERNATIVES
        .iter()
        .map(|f| {
            let q = p0 + (1.0 - p0) * f;
            k * (q / p0).ln() + m * ((1.0 - q) / (1.0 - p0)).ln()
        })
        .collect();
    let top = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    top + (terms.iter().map(|t| (t - top).exp()).sum::<f64>() / terms.len() as f64).ln()
}

/// Sequential test of H0: p ≤ `p0` for a Bernoulli rate seen as `k` events in `n` trials,
/// valid under continuous monitoring (check after every observation, stop any time).
///
/// Method: the mixture sequential probability ratio test (Robbins 1970; Ramdas, Grünwald,
/// Vovk & Shafer 2023, "Game-theoretic statistics and safe anytime-valid inference", §3):
/// E_n is the likelihood ratio of the data under an equal-weight mixture of eight
/// alternatives q_j = p0 + (1 − p0)·f_j, f ∈ {0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 0.9},
/// against p0. Under any p ≤ p0 each ratio is a nonnegative supermartingale starting at 1
/// (E_p[ratio of one draw] = 1 − (p0 − p)(q − p0)/(p0(1 − p0)) ≤ 1), hence so is their
/// mean, and Ville's inequality gives P(∃n: E_n ≥ 1/α) ≤ α: the probability of ever
/// rejecting a rate that is at or below the threshold is at most α, however often one looks.
/// The lower bound inverts the test (the smallest p0 with E_n(p0) < 1/α), so it is an
/// anytime-valid (1 − α) lower confidence bound. A single event never rejects
/// (`MIN_EVENTS`). Reference: simulated in the tests (≥ 1000
/// runs each) for its false-rejection rate and its power.
pub fn rate_exceeds(k: u64, n: u64, p0: f64, alpha: f64) -> RateTest {
    let t = rate_rejects(k, n, p0, alpha);
    let rate = if n > 0 { k as f64 / n as f64 } else { 0.0 };
    let bar = (1.0 / alpha.clamp(1e-12, 1.0)).ln();
    let ln_e = t.1;
    // E_n(p) decreases in p: bisect for the smallest p with E_n(p) < 1/α.
    let lower = if k < MIN_EVENTS || ln_mixture(k, n, 1e-12) < bar {
        0.0
    } else {
        let (mut lo, mut hi) = (1e-12, rate.max(1e-12));
        while ln_mixture(k, n, hi) >= bar && hi < 1.0 {
            hi = (hi * 2.0).min(1.0);
        }
        for _ in 0..60 {
            let mid = 0.5 * (lo + hi);
            if ln_mixture(k, n, mid) >= bar {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        hi
    };
    RateTest {
        rate,
        e_value: ln_e.exp(),
        lower,
        reject: t.0,
    }
}

/// Only the verdict of `rate_exceeds` (and ln E_n): no confidence bound, so it is cheap
/// enough to run after every request.
pub fn rate_rejects(k: u64, n: u64, p0: f64, alpha: f64) -> (bool, f64) {
    let ln_e = ln_mixture(k, n, p0);
    (k >= MIN_EVENTS && ln_e >= (1.0 / alpha.clamp(1e-12, 1.0)).ln(), ln_e)
}

/// A single event never rejects (one failed request is not evidence enough to act on,
/// whatever the mixture says); requiring two only makes the test more conservative.
pub const MIN_EVENTS: u64 = 2;

#[cfg(test)]
mod tests {
    //! Calibration and power of `rate_exceeds` under the way the controller uses it: a
    //! check after every request (stricter than once per tick), 1000 simulated steps each.
    use super::*;
    use rand::{RngExt, SeedableRng};

    /// Share of `runs` simulated streams of `steps` Bernoulli(p) draws in which the test
    /// rejects H0: p ≤ p0 at any point, and the median draws to the first rejection.
    fn simulate(p: f64, p0: f64, alpha: f64, steps: u64, runs: u64, seed: u64) -> (f64, u64) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut hits = Vec::new();
        for _ in 0..runs {
            let mut k = 0;
            for n in 1..=steps {
                k += u64::from(rng.random::<f64>() < p);
                // Rejection needs a fresh event; checking only then is exact and fast.
                if k > 0 && rate_rejects(k, n, p0, alpha).0 {
                    hits.push(n);
                    break;
                }
            }
        }
        hits.sort_unstable();
        let median = hits.get(hits.len() / 2).copied().unwrap_or(u64::MAX);
        (hits.len() as f64 / runs as f64, median)
    }

    #[test]
    fn identical_candidates_are_almost_never_tripped_however_often_we_look() {
        // The A/A case: true error rate 0.5%, threshold 1%, 5000 requests per step.
        let (false_trips, _) = simulate(0.005, 0.01, 0.05, 5000, 1000, 1);
        assert!(false_trips <= 0.05 + 0.01, "false trips {false_trips}");
        // The worst case allowed by H0: the true rate *at* the threshold.
        let (at_threshold, _) = simulate(0.01, 0.01, 0.05, 5000, 1000, 2);
        assert!(at_threshold <= 0.05 + 0.01, "at the threshold {at_threshold}");
        // The raw-ratio rule this replaces (ratio > threshold from the 20th request on).
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let mut raw = 0;
        for _ in 0..1000 {
            let mut k = 0u64;
            for n in 1..=5000u64 {
                k += u64::from(rng.random::<f64>() < 0.005);
                if n >= 20 && k as f64 / n as f64 >= 0.01 {
                    raw += 1;
                    break;
                }
            }
        }
        assert!(raw > 300, "the raw rule trips identical candidates often ({raw}/1000)");
    }

    #[test]
    fn a_bad_candidate_is_caught_fast_and_a_crashing_one_at_once() {
        // 3% errors against a 1% threshold: within 2000 requests in ≥ 95% of runs.
        let (power, median) = simulate(0.03, 0.01, 0.05, 2000, 1000, 4);
        assert!(power >= 0.95, "power {power}, median {median}");
        // Every request failing: a handful of requests (≤ 2 s at 50 req/s).
        let t = (1..=20).find(|&n| rate_exceeds(n, n, 0.01, 0.05).reject);
        assert!(t.is_some_and(|n| n <= 5), "{t:?}");
    }

    #[test]
    fn the_lower_bound_inverts_the_test() {
        let t = rate_exceeds(30, 1000, 0.01, 0.05);
        assert!(t.reject && t.lower > 0.01 && t.lower < 0.03, "{t:?}");
        let u = rate_exceeds(0, 1000, 0.01, 0.05);
        assert!(!u.reject && u.lower == 0.0);
        // Rejecting p0 is the same as the bound passing it.
        for (k, n) in [(5, 100), (12, 400), (40, 1000), (3, 3), (0, 50)] {
            for p0 in [0.005, 0.01, 0.05, 0.2] {
                let r = rate_exceeds(k, n, p0, 0.05);
                assert_eq!(r.reject, r.lower > p0 * (1.0 + 1e-9), "k={k} n={n} p0={p0} {r:?}");
            }
        }
    }
}
