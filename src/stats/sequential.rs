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
    // (1 − q)/(1 − p0) = 1 − f: no division, no allocation (this runs in tight loops).
    let terms = ALTERNATIVES.map(|f| k * (1.0 + (1.0 - p0) * f / p0).ln() + m * (1.0 - f).ln());
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
    RateTest {
        rate: if n > 0 { k as f64 / n as f64 } else { 0.0 },
        e_value: t.1.exp(),
        lower: rate_lower(k, n, alpha),
        reject: t.0,
    }
}

/// Anytime-valid (1 − α) lower confidence bound on a Bernoulli rate from `k` events in
/// `n` trials: the smallest p0 that `rate_rejects` does not reject (0 below `MIN_EVENTS`).
pub fn rate_lower(k: u64, n: u64, alpha: f64) -> f64 {
    let bar = (1.0 / alpha.clamp(1e-12, 1.0)).ln();
    let rate = if n > 0 { k as f64 / n as f64 } else { 0.0 };
    if k < MIN_EVENTS || ln_mixture(k, n, 1e-12) < bar {
        return 0.0;
    }
    // E_n(p) decreases in p: bisect for the smallest p with E_n(p) < 1/α (to ~1e-13).
    let (mut lo, mut hi) = (1e-12, rate.max(1e-12));
    while ln_mixture(k, n, hi) >= bar && hi < 1.0 {
        hi = (hi * 2.0).min(1.0);
    }
    for _ in 0..45 {
        let mid = 0.5 * (lo + hi);
        if ln_mixture(k, n, mid) >= bar {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

/// Anytime-valid (1 − α) upper confidence bound on a Bernoulli rate: one minus the lower
/// bound of the complementary rate (the same mixture test, alternatives now 0.5%–90% of
/// the way from p0 down to 0). 1 when nothing is known.
pub fn rate_upper(k: u64, n: u64, alpha: f64) -> f64 {
    if n == 0 {
        return 1.0;
    }
    1.0 - rate_lower(n - k.min(n), n, alpha)
}

/// The rate is shown below `p0` (the upper bound is under it): the test of the
/// complementary rate, one mixture evaluation.
pub fn rate_below(k: u64, n: u64, p0: f64, alpha: f64) -> bool {
    n > 0 && rate_rejects(n - k.min(n), n, 1.0 - p0, alpha).0
}

/// Candidate rate minus control rate, with anytime-valid bounds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RateDifference {
    /// Observed k_c/n_c − k_s/n_s.
    pub diff: f64,
    /// lower(candidate) − upper(control): the difference is at least this.
    pub lower: f64,
    /// upper(candidate) − lower(control): the difference is at most this.
    pub upper: f64,
}

/// Two-sample version of the rate test for `error_rate<=control+D`: the candidate's
/// anytime-valid lower bound minus the control's upper bound, each at α/2. If the true
/// difference is at most D, `lower > D` happens (ever, however often one looks) with
/// probability at most α by the union bound: both one-sample bounds hold with probability
/// ≥ 1 − α and then lower ≤ p_c − p_s ≤ D. Likewise `upper` is a (1 − α) upper bound.
/// Conservative (a union of two one-sample bounds) but exact, not asymptotic: the error
/// rates guarded are small, where normal approximations fail.
pub fn rate_difference(kc: u64, nc: u64, ks: u64, ns: u64, alpha: f64) -> RateDifference {
    let rate = |k: u64, n: u64| if n > 0 { k as f64 / n as f64 } else { 0.0 };
    let a = alpha / 2.0;
    RateDifference {
        diff: rate(kc, nc) - rate(ks, ns),
        lower: rate_lower(kc, nc, a) - rate_upper(ks, ns, a),
        upper: rate_upper(kc, nc, a) - rate_lower(ks, ns, a),
    }
}

/// Anytime-valid (1 − α) bounds on the `q`-quantile of a distribution seen as ascending
/// `(value, count)` buckets: `upper` is the smallest value v at which P(X ≤ v) ≥ q is
/// shown (`rate_lower` of the share at or below v reaches q), `lower` the largest v at
/// which P(X > v) > 1 − q is shown. Each inverts the rate test on the indicator of one
/// event, and the count of {X ≤ v} only grows with v, so the bound is valid for all v at
/// once. None when nothing is shown yet (upper: the quantile could still be beyond every
/// value seen; lower: it could be below every one).
pub fn quantile_bounds(buckets: &[(u64, u64)], q: f64, alpha: f64) -> (Option<u64>, Option<u64>) {
    let mut cum = Vec::with_capacity(buckets.len());
    let mut at_or_below = 0u64;
    for &(_, c) in buckets {
        at_or_below += c;
        cum.push(at_or_below);
    }
    let n = at_or_below;
    // Both conditions are monotone along the buckets (the count at or below only grows):
    // binary searches, so a tick costs O(log buckets) bound computations.
    // `rate_rejects` is the bound's own test (lower bound > p0 ⇔ rejects p0): one mixture
    // evaluation per probe instead of a bisection.
    let above_shown = cum.partition_point(|&c| rate_rejects(n - c, n, 1.0 - q, alpha).0);
    let below_shown = cum.partition_point(|&c| !rate_rejects(c, n, q, alpha).0);
    let lower = above_shown.checked_sub(1).map(|i| buckets[i].0);
    let upper = buckets.get(below_shown).map(|b| b.0);
    (lower, upper)
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
    fn upper_bounds_hold_for_every_look() {
        // 1000 streams at p = 0.5%, 5000 draws, the upper bound checked at every draw:
        // it falls below the true rate in at most α of them.
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let mut misses = 0;
        for _ in 0..1000 {
            let mut k = 0;
            for n in 1..=5000u64 {
                k += u64::from(rng.random::<f64>() < 0.005);
                // The bound is lowest right before an event; checking every 50 draws suffices
                // for the count, every draw for the first 100.
                if (n <= 100 || n % 50 == 0) && rate_upper(k, n, 0.05) < 0.005 {
                    misses += 1;
                    break;
                }
            }
        }
        assert!(
            misses <= 60,
            "{misses} of 1000 streams saw the upper bound below the rate"
        );
        assert!(rate_upper(0, 0, 0.05) == 1.0);
        for (k, n) in [(0, 600), (5, 1000), (20, 4000), (3, 3)] {
            for p0 in [0.005, 0.01, 0.05] {
                let u = rate_upper(k, n, 0.05);
                assert_eq!(
                    rate_below(k, n, p0, 0.05),
                    u < p0 * (1.0 - 1e-9),
                    "k={k} n={n} p0={p0} upper {u}"
                );
            }
        }
        let u = rate_upper(5, 1000, 0.05);
        assert!(u > 0.005 && u < 0.03, "{u}");
    }

    #[test]
    fn a_rate_difference_is_bounded_both_ways_and_calibrated() {
        let d = rate_difference(30, 1000, 5, 1000, 0.05);
        assert!((d.diff - 0.025).abs() < 1e-12);
        assert!(d.lower < d.diff && d.diff < d.upper, "{d:?}");
        let d = rate_difference(60, 2000, 10, 2000, 0.05);
        assert!(
            d.lower > 0.005,
            "3% vs 0.5% on 2000 each is shown beyond a 0.5% margin: {d:?}"
        );
        // A/A at 0.5%, margin 0.005, checked every 200 requests of 10 000: trips ≤ α.
        let mut rng = rand::rngs::StdRng::seed_from_u64(12);
        let mut trips = 0;
        for _ in 0..1000 {
            let (mut kc, mut ks) = (0, 0);
            for n in 1..=10_000u64 {
                kc += u64::from(rng.random::<f64>() < 0.005);
                ks += u64::from(rng.random::<f64>() < 0.005);
                if n % 200 == 0 && rate_difference(kc, n, ks, n, 0.05).lower > 0.005 {
                    trips += 1;
                    break;
                }
            }
        }
        assert!(trips <= 60, "{trips} false trips in 1000 A/A runs");
    }

    #[test]
    fn quantile_bounds_bracket_the_quantile() {
        // 1..=1000 once each: the median is 500.
        let b: Vec<(u64, u64)> = (1..=1000).map(|v| (v, 1)).collect();
        let (lo, hi) = quantile_bounds(&b, 0.5, 0.05);
        let (lo, hi) = (lo.unwrap(), hi.unwrap());
        assert!(lo < 500 && hi > 500 && hi - lo < 250, "[{lo}, {hi}]");
        // Too few values to bound a p99 from above.
        let few: Vec<(u64, u64)> = (1..=50).map(|v| (v, 1)).collect();
        assert_eq!(quantile_bounds(&few, 0.99, 0.05).1, None);
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
