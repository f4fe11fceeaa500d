//! Multiple-comparison adjustments of p-values, as statsmodels `multipletests`:
//! Holm (1979) step-down family-wise control and Benjamini–Hochberg (1995) FDR control.

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Correction {
    Holm,
    Bh,
    None,
}

pub fn adjust(p: &[f64], method: Correction) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut out = vec![0.0; m];
    match method {
        Correction::None => out.copy_from_slice(p),
        Correction::Holm => {
            let mut running: f64 = 0.0;
            for (rank, &i) in order.iter().enumerate() {
                running = running.max(((m - rank) as f64 * p[i]).min(1.0));
                out[i] = running;
            }
        }
        Correction::Bh => {
            let mut running: f64 = 1.0;
            for (rank, &i) in order.iter().enumerate().rev() {
                running = running.min((m as f64 / (rank + 1) as f64 * p[i]).min(1.0));
                out[i] = running;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_statsmodels_multipletests() {
        // statsmodels.stats.multitest.multipletests([0.01, 0.04, 0.03, 0.2], method=...)[1]
        let p = [0.01, 0.04, 0.03, 0.2];
        let holm = adjust(&p, Correction::Holm);
        let bh = adjust(&p, Correction::Bh);
        for (g, w) in holm.iter().zip([0.04, 0.09, 0.09, 0.2]) {
            assert!((g - w).abs() < 1e-12, "{holm:?}");
        }
        for (g, w) in bh.iter().zip([0.04, 0.05333333333333334, 0.05333333333333334, 0.2]) {
            assert!((g - w).abs() < 1e-12, "{bh:?}");
        }
    }
}
