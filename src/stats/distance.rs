//! The Population Stability Index, used by the rollout guards and by `mlctl drift`: one
//! formula (`psi_shares`), binned three ways.

/// Floor of a bin's share, so a bin seen on one side only adds a large but finite term.
pub const PSI_EPS: f64 = 1e-4;

/// PSI = Σ_bins (a_i − e_i) · ln(a_i / e_i) over bin shares, each floored at `PSI_EPS`
/// (Siddiqi 2006; the ε floor as Evidently's `psi` stattest). Common reading: < 0.1
/// stable, 0.1–0.2 moderate shift, > 0.2 significant shift.
pub fn psi_shares(expected: &[f64], actual: &[f64]) -> f64 {
    expected
        .iter()
        .zip(actual)
        .map(|(&e, &a)| {
            let (e, a) = (e.max(PSI_EPS), a.max(PSI_EPS));
            (a - e) * (a / e).ln()
        })
        .sum()
}

/// PSI of the sample `actual` against the sample `expected`, over `bins` equal-frequency
/// bins cut at the expected sample's quantiles.
pub fn psi(expected: &[f64], actual: &[f64], bins: usize) -> Option<f64> {
    psi_binned(expected, actual, bins).map(|(p, _, _)| p)
}

/// `psi`, with the expected and actual shares per bin it was computed from (for charts).
pub fn psi_binned(expected: &[f64], actual: &[f64], bins: usize) -> Option<(f64, Vec<f64>, Vec<f64>)> {
    if expected.is_empty() || actual.is_empty() || bins < 2 {
        return None;
    }
    if !expected.iter().any(|x| x.is_finite()) {
        return None;
    }
    let edges = quantile_edges(expected, bins);
    let shares = |xs: &[f64]| {
        let c = bin_counts(&edges, xs);
        let n = c.iter().sum::<u64>().max(1) as f64;
        c.into_iter().map(|k| k as f64 / n).collect::<Vec<_>>()
    };
    let (e, a) = (shares(expected), shares(actual));
    Some((psi_shares(&e, &a), e, a))
}

/// PSI of `actual` values against `expected` shares over fixed inner bin `edges`
/// (bin i = [edge[i-1], edge[i])).
pub fn psi_against_bins(edges: &[f64], expected: &[f64], actual: &[f64]) -> Option<f64> {
    if expected.len() != edges.len() + 1 || actual.is_empty() {
        return None;
    }
    let counts = bin_counts(edges, actual);
    let n = counts.iter().sum::<u64>() as f64;
    if n == 0.0 {
        return None;
    }
    let actual: Vec<f64> = counts.iter().map(|&c| c as f64 / n).collect();
    Some(psi_shares(expected, &actual))
}

/// PSI with anytime-valid bounds, for the `drift_psi` guard.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct PsiBounds {
    pub estimate: f64,
    /// The population PSI is at least this (with probability ≥ 1 − α, at every look).
    pub lower: f64,
    /// … and at most this.
    pub upper: f64,
}

/// One bin's PSI term over the box a ∈ [a_lo, a_hi], e ∈ [e_lo, e_hi] (shares floored at
/// `PSI_EPS` like `psi_shares`): (min, max). The term is convex, zero on a = e, grows away
/// from it, so its minimum is 0 when the intervals overlap and otherwise at the nearest
/// corners; its maximum is at a corner.
fn term_range(a: (f64, f64), e: (f64, f64)) -> (f64, f64) {
    let f = |a: f64, e: f64| {
        let (a, e) = (a.max(PSI_EPS), e.max(PSI_EPS));
        (a - e) * (a / e).ln()
    };
    let min = if a.1 < e.0 {
        f(a.1, e.0)
    } else if e.1 < a.0 {
        f(a.0, e.1)
    } else {
        0.0
    };
    let max = [f(a.0, e.0), f(a.0, e.1), f(a.1, e.0), f(a.1, e.1)]
        .into_iter()
        .fold(0.0, f64::max);
    (min, max)
}

/// Simultaneous anytime-valid intervals for every bin's share: `rate_lower`/`rate_upper`
/// at α/(2·bins) each (Bonferroni over the 2·bins one-sided bounds).
fn share_intervals(counts: &[u64], alpha: f64) -> Vec<(f64, f64)> {
    let n: u64 = counts.iter().sum();
    let a = alpha / (2.0 * counts.len().max(1) as f64);
    counts
        .iter()
        .map(|&k| {
            (
                super::sequential::rate_lower(k, n, a),
                super::sequential::rate_upper(k, n, a),
            )
        })
        .collect()
}

/// PSI of binned `counts` against fixed `expected` shares (a training baseline), with
/// bounds that hold at every look: each bin's share lies in its anytime-valid interval
/// (all at once with probability ≥ 1 − α), and the bounds are the smallest and largest
/// PSI over that box, minimised and maximised bin by bin (the sum-to-one constraint is
/// dropped, which only widens them). Sampling noise alone puts an observed PSI above a
/// threshold often on small samples; `lower` does not move above it unless the shift is real.
pub fn psi_bounds_vs_shares(expected: &[f64], counts: &[u64], alpha: f64) -> PsiBounds {
    let n: u64 = counts.iter().sum();
    let actual: Vec<f64> = counts.iter().map(|&c| c as f64 / n.max(1) as f64).collect();
    let (mut lower, mut upper) = (0.0, 0.0);
    for (a, &e) in share_intervals(counts, alpha).into_iter().zip(expected) {
        let (lo, hi) = term_range(a, (e, e));
        lower += lo;
        upper += hi;
    }
    PsiBounds {
        estimate: psi_shares(expected, &actual),
        lower,
        upper,
    }
}

/// PSI between two binned samples (control `expected_counts`, candidate `counts`), each
/// bin's two shares in anytime-valid intervals at α/2 per sample; as `psi_bounds_vs_shares`.
pub fn psi_bounds_two_sample(expected_counts: &[u64], counts: &[u64], alpha: f64) -> PsiBounds {
    let share = |c: &[u64]| {
        let n: u64 = c.iter().sum();
        c.iter().map(|&k| k as f64 / n.max(1) as f64).collect::<Vec<_>>()
    };
    let (mut lower, mut upper) = (0.0, 0.0);
    let e = share_intervals(expected_counts, alpha / 2.0);
    for (a, e) in share_intervals(counts, alpha / 2.0).into_iter().zip(e) {
        let (lo, hi) = term_range(a, e);
        lower += lo;
        upper += hi;
    }
    PsiBounds {
        estimate: psi_shares(&share(expected_counts), &share(counts)),
        lower,
        upper,
    }
}

/// Bin `values` by inner `edges` (bin i = [edge[i-1], edge[i])); non-finite values skipped.
pub fn bin_counts(edges: &[f64], values: &[f64]) -> Vec<u64> {
    let mut counts = vec![0u64; edges.len() + 1];
    for &x in values.iter().filter(|x| x.is_finite()) {
        counts[edges.partition_point(|e| *e <= x)] += 1;
    }
    counts
}

/// `bins` equal-frequency inner edges of `sample` (its quantiles), deduplicated.
pub fn quantile_edges(sample: &[f64], bins: usize) -> Vec<f64> {
    let mut sorted: Vec<f64> = sample.iter().copied().filter(|x| x.is_finite()).collect();
    if sorted.is_empty() || bins < 2 {
        return Vec::new();
    }
    sorted.sort_by(f64::total_cmp);
    let mut edges: Vec<f64> = (1..bins)
        .map(|i| sorted[(i * sorted.len() / bins).min(sorted.len() - 1)])
        .collect();
    edges.dedup();
    edges
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psi_is_zero_for_identical_and_large_for_shifted_samples() {
        let a: Vec<f64> = (0..1000).map(|i| i as f64 / 1000.0).collect();
        assert!(psi(&a, &a, 10).unwrap().abs() < 1e-12);
        let shifted: Vec<f64> = a.iter().map(|x| x + 0.5).collect();
        assert!(psi(&a, &shifted, 10).unwrap() > 1.0);
        // hand-checked: two bins, expected 50/50, actual 80/20
        let e = [0.0, 0.0, 1.0, 1.0];
        let act = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0];
        let want = (0.8 - 0.5) * (0.8f64 / 0.5).ln() + (0.2 - 0.5) * (0.2f64 / 0.5).ln();
        assert!((psi(&e, &act, 2).unwrap() - want).abs() < 1e-12);
    }

    /// 1000 candidates drawn from the baseline itself (10 equal bins), PSI bounds checked
    /// every 50 scores up to 2000: the lower bound passes 0.1 in at most α of them; a real
    /// shift (half the bins emptied) is caught.
    #[test]
    fn psi_bounds_are_calibrated_and_catch_a_shift() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let expected = vec![0.1; 10];
        let mut false_trips = 0;
        for _ in 0..1000 {
            let mut counts = vec![0u64; 10];
            for n in 1..=2000 {
                counts[rng.random_range(0..10usize)] += 1;
                if n % 50 == 0 && psi_bounds_vs_shares(&expected, &counts, 0.05).lower > 0.1 {
                    false_trips += 1;
                    break;
                }
            }
        }
        assert!(false_trips <= 60, "{false_trips} false trips in 1000");
        // All mass in half the bins (PSI ≈ 4.6 with the ε floor), 500 scores: shown.
        let shifted: Vec<u64> = (0..10).map(|i| if i < 5 { 100 } else { 0 }).collect();
        let b = psi_bounds_vs_shares(&expected, &shifted, 0.05);
        assert!(b.lower > 0.2 && b.lower <= b.estimate && b.estimate <= b.upper, "{b:?}");
        let same = psi_bounds_two_sample(&[100; 10], &[100; 10], 0.05);
        assert!(
            same.estimate.abs() < 1e-12 && same.lower == 0.0 && same.upper > 0.0,
            "{same:?}"
        );
    }
}
