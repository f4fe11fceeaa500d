//! Single-pass, mergeable moment accumulators: Welford (1962) updates and the pairwise
//! merge of Chan, Golub & LeVeque (1979), for one variable and for a pair (covariance).

use serde::{Deserialize, Serialize};

/// Count, mean and sum of squared deviations of one variable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Moments {
    pub n: u64,
    pub mean: f64,
    pub m2: f64,
}

impl Moments {
    pub fn push(&mut self, x: f64) {
        self.n += 1;
        let d = x - self.mean;
        self.mean += d / self.n as f64;
        self.m2 += d * (x - self.mean);
    }

    pub fn merge(&mut self, o: &Moments) {
        if o.n == 0 {
            return;
        }
        if self.n == 0 {
            *self = *o;
            return;
        }
        let n = self.n + o.n;
        let d = o.mean - self.mean;
        self.mean += d * o.n as f64 / n as f64;
        self.m2 += o.m2 + d * d * self.n as f64 * o.n as f64 / n as f64;
        self.n = n;
    }

    /// Sample variance (n − 1 denominator); 0 for n < 2.
    pub fn var(&self) -> f64 {
        if self.n < 2 { 0.0 } else { self.m2 / (self.n - 1) as f64 }
    }

    pub fn sum(&self) -> f64 {
        self.mean * self.n as f64
    }
}

/// Moments of a pair (x, y) with their co-moment, for covariance, CUPED and ratios.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct CoMoments {
    pub x: Moments,
    pub y: Moments,
    /// Σ (x − x̄)(y − ȳ)
    pub cxy: f64,
}

impl CoMoments {
    pub fn push(&mut self, x: f64, y: f64) {
        let n = self.x.n + 1;
        let dx = x - self.x.mean;
        self.x.push(x);
        self.y.push(y);
        // Welford co-moment: uses the old x mean and the new y mean.
        self.cxy += dx * (y - self.y.mean);
        debug_assert_eq!(self.x.n, n);
    }

    pub fn merge(&mut self, o: &CoMoments) {
        if o.x.n == 0 {
            return;
        }
        if self.x.n == 0 {
            *self = *o;
            return;
        }
        let (na, nb) = (self.x.n as f64, o.x.n as f64);
        let dx = o.x.mean - self.x.mean;
        let dy = o.y.mean - self.y.mean;
        self.cxy += o.cxy + dx * dy * na * nb / (na + nb);
        self.x.merge(&o.x);
        self.y.merge(&o.y);
    }

    /// Sample covariance (n − 1 denominator).
    pub fn cov(&self) -> f64 {
        if self.x.n < 2 {
            0.0
        } else {
            self.cxy / (self.x.n - 1) as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn welford_and_merge_agree_with_two_pass() {
        let xs: Vec<f64> = (0..1000).map(|i| ((i * 7919) % 1000) as f64 / 7.0 + 1e6).collect();
        let ys: Vec<f64> = xs.iter().map(|x| 2.0 * x + ((*x as i64 % 13) as f64)).collect();
        let n = xs.len() as f64;
        let mx = xs.iter().sum::<f64>() / n;
        let my = ys.iter().sum::<f64>() / n;
        let vx = xs.iter().map(|x| (x - mx).powi(2)).sum::<f64>() / (n - 1.0);
        let cov = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum::<f64>() / (n - 1.0);
        let mut whole = CoMoments::default();
        let (mut a, mut b) = (CoMoments::default(), CoMoments::default());
        for (i, (x, y)) in xs.iter().zip(&ys).enumerate() {
            whole.push(*x, *y);
            if i < 333 { a.push(*x, *y) } else { b.push(*x, *y) }
        }
        a.merge(&b);
        for m in [whole, a] {
            assert!((m.x.mean - mx).abs() < 1e-6);
            assert!((m.x.var() - vx).abs() / vx < 1e-9);
            assert!((m.cov() - cov).abs() / cov.abs() < 1e-9);
        }
    }
}
