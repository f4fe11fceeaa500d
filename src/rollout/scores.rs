//! What the guards compare between two versions' answers: a per-row score (drift, PSI)
//! and agreement between two answers to the same request (shadow).
//!
//! Agreement: for classifiers (an output with ≥ 2 columns, e.g. probabilities) the argmax
//! of each row must match; otherwise (scores, regressions) |Δ| ≤ tolerance per value.

use crate::wire::v2::Tensor;

/// The per-row score used for drift and agreement: the last column of the first
/// multi-column floating output (a binary classifier's positive-class probability), else
/// the first floating output's values.
pub fn scores(outputs: &[Tensor]) -> Vec<f64> {
    let float = |t: &&Tensor| t.datatype().name().starts_with("FP");
    if let Some(t) = outputs
        .iter()
        .filter(float)
        .find(|t| t.shape.len() == 2 && t.shape[1] >= 2)
    {
        let cols = t.shape[1];
        return (0..t.shape[0])
            .filter_map(|r| t.data.get_f64(r * cols + cols - 1))
            .collect();
    }
    outputs
        .iter()
        .find(float)
        .map(|t| (0..t.data.len()).filter_map(|i| t.data.get_f64(i)).collect())
        .unwrap_or_default()
}

/// (agree, largest |Δ|) between two answers to the same request.
pub fn compare(a: &[Tensor], b: &[Tensor], tolerance: f64) -> (bool, f64) {
    let float = |t: &&Tensor| t.datatype().name().starts_with("FP");
    let multi = |ts: &[Tensor]| {
        ts.iter()
            .filter(float)
            .find(|t| t.shape.len() == 2 && t.shape[1] >= 2)
            .cloned()
    };
    if let (Some(x), Some(y)) = (multi(a), multi(b))
        && x.shape == y.shape
    {
        let cols = x.shape[1];
        let mut agree = true;
        let mut worst: f64 = 0.0;
        for r in 0..x.shape[0] {
            let row = |t: &Tensor| {
                (0..cols)
                    .map(|c| t.data.get_f64(r * cols + c).unwrap_or(f64::NAN))
                    .collect::<Vec<_>>()
            };
            let (rx, ry) = (row(&x), row(&y));
            let argmax = |v: &[f64]| v.iter().enumerate().max_by(|p, q| p.1.total_cmp(q.1)).map(|(i, _)| i);
            agree &= argmax(&rx) == argmax(&ry);
            worst = rx.iter().zip(&ry).map(|(p, q)| (p - q).abs()).fold(worst, f64::max);
        }
        return (agree, worst);
    }
    let (sa, sb) = (scores(a), scores(b));
    if sa.len() != sb.len() || sa.is_empty() {
        return (false, f64::INFINITY);
    }
    let worst = sa.iter().zip(&sb).map(|(p, q)| (p - q).abs()).fold(0.0, f64::max);
    (worst <= tolerance, worst)
}
