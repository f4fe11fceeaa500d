//! Two-sample distribution comparisons for drift checks, each matching scipy:
//!
//! - `ks_2samp`: Kolmogorov–Smirnov D, two-sided p. Exact p (scipy's `method="auto"`
//!   picks it for max(n₁, n₂) ≤ 10 000): lattice-path counting of
//!   Hodges (1958) as in scipy's `_compute_prob_outside_square` (n₁ = n₂) and
//!   `_compute_outer_prob_inside_method`. Above 10 000 this returns the asymptotic
//!   Kolmogorov p, Q(√(n₁n₂/(n₁+n₂))·D) (scipy's `kstwobign`); scipy 1.17 instead uses
//!   the finite-n `kstwo.sf(D, round(n₁n₂/(n₁+n₂)))` there, which differs by O(1/√n).
//! - `wasserstein_1`: the L¹ distance between the two empirical CDFs, as
//!   `scipy.stats.wasserstein_distance(u, v)`.
//! - `chi_square`: Pearson's χ² of observed category counts against expected shares
//!   scaled to the observed total, as `scipy.stats.chisquare(obs, f_exp)`.
//! - `jensen_shannon`: √(JS divergence) with natural logarithms, as
//!   `scipy.spatial.distance.jensenshannon(p, q)` (inputs normalised to sum 1).

use super::dist;

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct KsResult {
    pub statistic: f64,
    pub p_value: f64,
    /// "exact" or "asymptotic".
    pub method: &'static str,
}

/// Largest sample size for which the exact p-value is computed (scipy's MAX_AUTO_N).
pub const KS_EXACT_MAX_N: usize = 10_000;

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Two-sample KS test. Inputs need not be sorted; NaNs are dropped. `None` when empty.
pub fn ks_2samp(a: &[f64], b: &[f64]) -> Option<KsResult> {
    let mut x: Vec<f64> = a.iter().copied().filter(|v| !v.is_nan()).collect();
    let mut y: Vec<f64> = b.iter().copied().filter(|v| !v.is_nan()).collect();
    if x.is_empty() || y.is_empty() {
        return None;
    }
    x.sort_by(f64::total_cmp);
    y.sort_by(f64::total_cmp);
    let (n1, n2) = (x.len(), y.len());
    // D = max |F1 - F2| evaluated at every data point (ECDFs are right-continuous).
    let (mut i, mut j) = (0usize, 0usize);
    let (mut d_plus, mut d_minus) = (0.0f64, 0.0f64);
    while i < n1 || j < n2 {
        let v = match (x.get(i), y.get(j)) {
            (Some(&p), Some(&q)) => p.min(q),
            (Some(&p), None) => p,
            (None, Some(&q)) => q,
            (None, None) => break,
        };
        while i < n1 && x[i] <= v {
            i += 1;
        }
        while j < n2 && y[j] <= v {
            j += 1;
        }
        let diff = i as f64 / n1 as f64 - j as f64 / n2 as f64;
        d_plus = d_plus.max(diff);
        d_minus = d_minus.max(-diff);
    }
    let d = d_plus.max(d_minus);
    let g = gcd(n1, n2);
    if n1.max(n2) <= KS_EXACT_MAX_N {
        let lcm = (n1 / g) * n2;
        let h = (d * lcm as f64).round() as usize;
        let d_exact = h as f64 / lcm as f64;
        if h == 0 {
            return Some(KsResult {
                statistic: d_exact,
                p_value: 1.0,
                method: "exact",
            });
        }
        let p = if n1 == n2 {
            prob_outside_square(n1, h)
        } else {
            prob_outside_lattice(n1, n2, g, h)
        };
        if p.is_finite() {
            return Some(KsResult {
                statistic: d_exact,
                p_value: p.clamp(0.0, 1.0),
                method: "exact",
            });
        }
    }
    let en = (n1 as f64 * n2 as f64) / (n1 + n2) as f64;
    Some(KsResult {
        statistic: d,
        p_value: kolmogorov_sf(en.sqrt() * d),
        method: "asymptotic",
    })
}

/// P(D_{n,n} ≥ h/n), Horner-like evaluation of the alternating binomial sum.
fn prob_outside_square(n: usize, h: usize) -> f64 {
    let mut p = 0.0;
    let mut k = (n / h) as i64;
    while k >= 0 {
        let mut p1 = 1.0;
        for j in 0..h {
            let (ku, ju) = (k as f64 * h as f64, j as f64);
            p1 = (n as f64 - ku - ju) * p1 / (n as f64 + ku + ju + 1.0);
        }
        p = p1 * (1.0 - p);
        k -= 1;
    }
    2.0 * p
}

/// Share of lattice paths from (0,0) to (m,n) that leave the band |x/m − y/n| < h/lcm:
/// column by column on a sliding window, each entry the probability that a path to it
/// has already left the band (points outside the band are 1).
fn prob_outside_lattice(m0: usize, n0: usize, g: usize, h: usize) -> f64 {
    let (m, n) = if m0 < n0 { (n0, m0) } else { (m0, n0) };
    let (mg, ng) = ((m / g) as i64, (n / g) as i64);
    let h = h as i64;
    let (n_i, m_i) = (n as i64, m as i64);
    let ceil_div = |a: i64, b: i64| -> i64 { (a as f64 / b as f64).ceil() as i64 };
    let floor_div = |a: i64, b: i64| -> i64 { (a as f64 / b as f64).floor() as i64 };
    let mut minj: i64 = 0;
    let mut maxj: i64 = ceil_div(h, mg).min(n_i + 1);
    let mut curlen = maxj - minj;
    let len_a = (2 * maxj + 2).min(n_i + 1) as usize;
    let mut a = vec![1.0f64; len_a.max(1)];
    for v in a.iter_mut().take(maxj as usize).skip(minj as usize) {
        *v = 0.0;
    }
    for i in 1..=m_i {
        let (lastminj, lastlen) = (minj, curlen);
        minj = (floor_div(ng * i - h, mg) + 1).max(0).min(n_i);
        maxj = ceil_div(ng * i + h, mg).min(n_i + 1);
        if maxj <= minj {
            return 1.0;
        }
        let mut val = if minj == 0 { 0.0 } else { 1.0 };
        for jj in 0..(maxj - minj) {
            let j = jj + minj;
            let src = (jj + minj - lastminj) as usize;
            let prev = a.get(src).copied().unwrap_or(1.0);
            val = (prev * i as f64 + val * j as f64) / (i + j) as f64;
            if let Some(slot) = a.get_mut(jj as usize) {
                *slot = val;
            }
        }
        curlen = maxj - minj;
        if lastlen > curlen {
            let from = (maxj - minj) as usize;
            let to = (from + (lastlen - curlen) as usize).min(a.len());
            for v in a.iter_mut().take(to).skip(from) {
                *v = 1.0;
            }
        }
    }
    a.get((maxj - minj - 1).max(0) as usize).copied().unwrap_or(1.0)
}

/// Kolmogorov's limiting distribution, upper tail: Q(λ) = 2 Σ_{k≥1} (−1)^{k−1} e^{−2k²λ²}
/// (for small λ the equivalent √(2π)/λ Σ e^{−(2k−1)²π²/(8λ²)} form is used).
pub fn kolmogorov_sf(lambda: f64) -> f64 {
    if lambda <= 0.0 {
        return 1.0;
    }
    if lambda < 1.0 {
        let s: f64 = (1..=20)
            .map(|k| {
                let t = (2 * k - 1) as f64;
                (-t * t * std::f64::consts::PI.powi(2) / (8.0 * lambda * lambda)).exp()
            })
            .sum();
        return (1.0 - (2.0 * std::f64::consts::PI).sqrt() / lambda * s).clamp(0.0, 1.0);
    }
    let mut s = 0.0;
    for k in 1..=100 {
        let term = (-2.0 * (k * k) as f64 * lambda * lambda).exp();
        s += if k % 2 == 1 { term } else { -term };
        if term < 1e-300 {
            break;
        }
    }
    (2.0 * s).clamp(0.0, 1.0)
}

/// Wasserstein-1 distance between two samples (L¹ distance of their ECDFs).
pub fn wasserstein_1(a: &[f64], b: &[f64]) -> Option<f64> {
    let mut x: Vec<f64> = a.iter().copied().filter(|v| v.is_finite()).collect();
    let mut y: Vec<f64> = b.iter().copied().filter(|v| v.is_finite()).collect();
    if x.is_empty() || y.is_empty() {
        return None;
    }
    x.sort_by(f64::total_cmp);
    y.sort_by(f64::total_cmp);
    let mut all: Vec<f64> = x.iter().chain(&y).copied().collect();
    all.sort_by(f64::total_cmp);
    let (n1, n2) = (x.len() as f64, y.len() as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let mut total = 0.0;
    for w in all.windows(2) {
        while i < x.len() && x[i] <= w[0] {
            i += 1;
        }
        while j < y.len() && y[j] <= w[0] {
            j += 1;
        }
        total += (i as f64 / n1 - j as f64 / n2).abs() * (w[1] - w[0]);
    }
    Some(total)
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct ChiSquareResult {
    pub statistic: f64,
    pub p_value: f64,
    pub df: f64,
}

/// Pearson χ² of `observed` counts against `expected_share` (scaled to the observed
/// total), as `scipy.stats.chisquare(obs, f_exp)`. A cell that is empty on both sides (no
/// count, no expected share — e.g. an "other" bucket neither side has) is not a category
/// and is dropped, so statistic and df match scipy on the categories that exist. Other
/// shares of 0 are floored at 1e-4 so a new category cannot divide by zero.
pub fn chi_square(observed: &[f64], expected_share: &[f64]) -> Option<ChiSquareResult> {
    if observed.len() != expected_share.len() {
        return None;
    }
    let cells: Vec<(f64, f64)> = observed
        .iter()
        .zip(expected_share)
        .filter(|(o, s)| **o > 0.0 || **s > 0.0)
        .map(|(o, s)| (*o, s.max(1e-4)))
        .collect();
    let total: f64 = cells.iter().map(|c| c.0).sum();
    let share_total: f64 = cells.iter().map(|c| c.1).sum();
    if total <= 0.0 || cells.len() < 2 {
        return None;
    }
    let stat: f64 = cells
        .iter()
        .map(|(o, s)| {
            let e = total * s / share_total;
            (o - e).powi(2) / e
        })
        .sum();
    let df = (cells.len() - 1) as f64;
    Some(ChiSquareResult {
        statistic: stat,
        p_value: dist::chi2_sf(stat, df),
        df,
    })
}

/// Jensen–Shannon distance (natural log) between two histograms over the same bins.
pub fn jensen_shannon(p: &[f64], q: &[f64]) -> Option<f64> {
    let (sp, sq): (f64, f64) = (p.iter().sum(), q.iter().sum());
    if p.len() != q.len() || sp <= 0.0 || sq <= 0.0 {
        return None;
    }
    let kl = |a: &[f64], sa: f64, m: &[f64]| -> f64 {
        a.iter()
            .zip(m)
            .map(|(x, mm)| {
                let x = x / sa;
                if x > 0.0 { x * (x / mm).ln() } else { 0.0 }
            })
            .sum()
    };
    let m: Vec<f64> = p.iter().zip(q).map(|(a, b)| 0.5 * (a / sp + b / sq)).collect();
    let js = 0.5 * kl(p, sp, &m) + 0.5 * kl(q, sq, &m);
    Some(js.max(0.0).sqrt())
}
