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
    if expected.is_empty() || actual.is_empty() || bins < 2 {
        return None;
    }
    let mut sorted: Vec<f64> = expected.iter().copied().filter(|x| x.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        return None;
    }
    let mut edges: Vec<f64> = (1..bins)
        .map(|i| sorted[(i * sorted.len() / bins).min(sorted.len() - 1)])
        .collect();
    edges.dedup();
    let bin_of = |x: f64| edges.partition_point(|e| *e <= x);
    let count = |xs: &[f64]| {
        let mut c = vec![0.0f64; edges.len() + 1];
        let mut n = 0.0f64;
        for &x in xs.iter().filter(|x| x.is_finite()) {
            c[bin_of(x)] += 1.0;
            n += 1.0;
        }
        c.iter_mut().for_each(|v| *v /= n.max(1.0));
        c
    };
    Some(psi_shares(&count(&sorted), &count(actual)))
}

/// PSI of `actual` values against `expected` shares over fixed inner bin `edges`
/// (bin i = [edge[i-1], edge[i])).
pub fn psi_against_bins(edges: &[f64], expected: &[f64], actual: &[f64]) -> Option<f64> {
    if expected.len() != edges.len() + 1 || actual.is_empty() {
        return None;
    }
    let mut counts = vec![0.0f64; expected.len()];
    let mut n = 0.0f64;
    for &x in actual.iter().filter(|x| x.is_finite()) {
        counts[edges.partition_point(|e| *e <= x)] += 1.0;
        n += 1.0;
    }
    if n == 0.0 {
        return None;
    }
    let actual: Vec<f64> = counts.iter().map(|c| c / n).collect();
    Some(psi_shares(expected, &actual))
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
}
