//! Model quality from (prediction, true label) pairs, as scikit-learn computes it
//! (`sklearn.metrics`, checked to 1e-9 on `fixtures/monitor/quality.json`):
//! accuracy, precision and recall of the positive class 1 (`zero_division=0`), ROC AUC
//! (the Mann–Whitney U with tied scores counted half, equal to the trapezoidal area
//! under the ROC curve `roc_auc_score` computes), log loss (probabilities clipped to
//! [ε, 1 − ε] with ε the float64 machine epsilon, as `log_loss` does since 1.3), mean
//! absolute error and root mean squared error.

/// Share of `pred == y`.
pub fn accuracy(y: &[f64], pred: &[f64]) -> Option<f64> {
    if y.is_empty() {
        return None;
    }
    let hits = y.iter().zip(pred).filter(|(a, b)| a == b).count();
    Some(hits as f64 / y.len() as f64)
}

fn confusion(y: &[f64], pred: &[f64]) -> (f64, f64, f64) {
    let (mut tp, mut fp, mut fn_) = (0.0, 0.0, 0.0);
    for (a, b) in y.iter().zip(pred) {
        match (*a == 1.0, *b == 1.0) {
            (true, true) => tp += 1.0,
            (false, true) => fp += 1.0,
            (true, false) => fn_ += 1.0,
            _ => {}
        }
    }
    (tp, fp, fn_)
}

/// tp / (tp + fp); 0 without positive predictions.
pub fn precision(y: &[f64], pred: &[f64]) -> f64 {
    let (tp, fp, _) = confusion(y, pred);
    if tp + fp == 0.0 { 0.0 } else { tp / (tp + fp) }
}

/// tp / (tp + fn); 0 without positives.
pub fn recall(y: &[f64], pred: &[f64]) -> f64 {
    let (tp, _, fn_) = confusion(y, pred);
    if tp + fn_ == 0.0 { 0.0 } else { tp / (tp + fn_) }
}

/// Area under the ROC curve of `score` for labels `y` (1 positive); None without both
/// classes.
pub fn roc_auc(y: &[f64], score: &[f64]) -> Option<f64> {
    let mut idx: Vec<usize> = (0..y.len()).collect();
    idx.sort_by(|&a, &b| score[a].total_cmp(&score[b]));
    // Average ranks (1-based) over ties.
    let mut rank_sum_pos = 0.0;
    let (mut n_pos, mut n_neg) = (0.0f64, 0.0f64);
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && score[idx[j + 1]] == score[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            if y[k] == 1.0 {
                rank_sum_pos += avg;
                n_pos += 1.0;
            } else {
                n_neg += 1.0;
            }
        }
        i = j + 1;
    }
    if n_pos == 0.0 || n_neg == 0.0 {
        return None;
    }
    Some((rank_sum_pos - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg))
}

/// Mean binary cross-entropy of probability `p` (of class 1) for labels `y`.
pub fn log_loss(y: &[f64], p: &[f64]) -> Option<f64> {
    if y.is_empty() {
        return None;
    }
    let eps = f64::EPSILON;
    let sum: f64 = y
        .iter()
        .zip(p)
        .map(|(t, q)| {
            let q = q.clamp(eps, 1.0 - eps);
            -(t * q.ln() + (1.0 - t) * (1.0 - q).ln())
        })
        .sum();
    Some(sum / y.len() as f64)
}

pub fn mae(y: &[f64], est: &[f64]) -> Option<f64> {
    (!y.is_empty()).then(|| y.iter().zip(est).map(|(a, b)| (a - b).abs()).sum::<f64>() / y.len() as f64)
}

pub fn rmse(y: &[f64], est: &[f64]) -> Option<f64> {
    (!y.is_empty()).then(|| (y.iter().zip(est).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / y.len() as f64).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_scikit_learn() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/monitor/quality.json");
        let f: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let v = |c: &serde_json::Value, k: &str| -> Vec<f64> {
            c[k].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
        };
        for c in f["cases"].as_array().unwrap() {
            let (y, score, pred) = (v(c, "y"), v(c, "score"), v(c, "pred"));
            let (target, est) = (v(c, "target"), v(c, "estimate"));
            let close = |got: f64, key: &str| {
                let want = c[key].as_f64().unwrap();
                assert!((got - want).abs() <= 1e-9, "{key}: {got} vs sklearn {want}");
            };
            close(accuracy(&y, &pred).unwrap(), "accuracy");
            close(precision(&y, &pred), "precision");
            close(recall(&y, &pred), "recall");
            close(roc_auc(&y, &score).unwrap(), "roc_auc");
            close(log_loss(&y, &score).unwrap(), "log_loss");
            close(mae(&target, &est).unwrap(), "mae");
            close(rmse(&target, &est).unwrap(), "rmse");
        }
        assert_eq!(roc_auc(&[1.0, 1.0], &[0.2, 0.3]), None, "one class only");
    }
}
