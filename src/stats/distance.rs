//! Distribution distances used by the rollout guards (and, later, `mlctl drift`).

/// Population Stability Index of `actual` against `expected`:
/// PSI = Σ_bins (a_i − e_i) · ln(a_i / e_i), bins = `bins` equal-frequency bins cut at
/// the expected sample's quantiles, empty-bin proportions floored at ε = 1e-4 (so a bin
/// seen on one side only contributes a large but finite term). Common reading: < 0.1
/// stable, 0.1–0.2 moderate shift, > 0.2 significant shift.
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
    let (e, a) = (count(&sorted), count(actual));
    const EPS: f64 = 1e-4;
    Some(
        e.iter()
            .zip(&a)
            .map(|(&e, &a)| (a.max(EPS) - e.max(EPS)) * (a.max(EPS) / e.max(EPS)).ln())
            .sum(),
    )
}

/// PSI of `actual` values against `expected` shares over fixed inner bin `edges`
/// (bin i = [edge[i-1], edge[i])), with the same ε floor as `psi`.
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
    const EPS: f64 = 1e-4;
    Some(
        expected
            .iter()
            .zip(&counts)
            .map(|(&e, &c)| {
                let a = c / n;
                (a.max(EPS) - e.max(EPS)) * (a.max(EPS) / e.max(EPS)).ln()
            })
            .sum(),
    )
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
