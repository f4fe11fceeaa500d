//! Sample size and minimum detectable effect for a two-sided two-sample test with equal
//! arms, as statsmodels `NormalIndPower().solve_power(..., ratio=1)`:
//! power(n) = Φ(d√(n/2) − z₁₋α/₂) + Φ(−d√(n/2) − z₁₋α/₂), with effect size d =
//! Cohen's h = 2·asin√p₂ − 2·asin√p₁ for proportions (`proportion_effectsize`) or
//! d = Δ/σ for means. Solved by bisection to 1e-10 relative.

use super::dist;

/// Power of the two-sided test with `n` units per arm and standardised effect `d`.
pub fn power(d: f64, n: f64, alpha: f64) -> f64 {
    let crit = dist::norm_ppf(1.0 - alpha / 2.0);
    let shift = d.abs() * (n / 2.0).sqrt();
    dist::norm_cdf(shift - crit) + dist::norm_cdf(-shift - crit)
}

fn bisect(mut lo: f64, mut hi: f64, f: impl Fn(f64) -> f64) -> f64 {
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if f(mid) > 0.0 {
            hi = mid
        } else {
            lo = mid
        }
        if (hi - lo) <= 1e-12 * hi.abs().max(1e-300) {
            break;
        }
    }
    0.5 * (lo + hi)
}

/// Units per arm to reach `target` power (continuous; round up to use).
pub fn sample_size(d: f64, alpha: f64, target: f64) -> Option<f64> {
    if d == 0.0 || !d.is_finite() || !(0.0..1.0).contains(&target) {
        return None;
    }
    let mut hi = 2.0;
    while power(d, hi, alpha) < target {
        hi *= 2.0;
        if hi > 1e15 {
            return None;
        }
    }
    Some(bisect(1e-9, hi, |n| power(d, n, alpha) - target))
}

/// Smallest standardised effect detectable with `n` per arm at `target` power.
pub fn detectable_effect(n: f64, alpha: f64, target: f64) -> Option<f64> {
    if n <= 0.0 {
        return None;
    }
    Some(bisect(0.0, 100.0, |d| power(d, n, alpha) - target))
}

/// Cohen's h between proportions p2 and p1.
pub fn cohens_h(p1: f64, p2: f64) -> f64 {
    2.0 * p2.sqrt().asin() - 2.0 * p1.sqrt().asin()
}

/// The proportion p2 > p1 that is `h` away from p1 (inverse of Cohen's h).
pub fn proportion_at(p1: f64, h: f64) -> f64 {
    (p1.sqrt().asin() + h / 2.0)
        .min(std::f64::consts::FRAC_PI_2)
        .sin()
        .powi(2)
}
