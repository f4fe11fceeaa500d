//! Distribution functions (statrs): normal, Student t, chi-square.

use statrs::distribution::{ChiSquared, ContinuousCDF, Normal, StudentsT};

fn std_normal() -> Normal {
    // Parameters are constants: cannot fail.
    Normal::new(0.0, 1.0).unwrap_or_else(|_| unreachable!())
}

pub fn norm_cdf(x: f64) -> f64 {
    std_normal().cdf(x)
}

/// Upper tail P(Z > x), accurate far into the tail.
pub fn norm_sf(x: f64) -> f64 {
    std_normal().sf(x)
}

pub fn norm_ppf(p: f64) -> f64 {
    std_normal().inverse_cdf(p)
}

/// Upper tail of Student's t with `df` degrees of freedom (NaN for df ≤ 0).
pub fn t_sf(t: f64, df: f64) -> f64 {
    match StudentsT::new(0.0, 1.0, df) {
        Ok(d) => d.sf(t),
        Err(_) => f64::NAN,
    }
}

pub fn t_ppf(p: f64, df: f64) -> f64 {
    match StudentsT::new(0.0, 1.0, df) {
        Ok(d) => d.inverse_cdf(p),
        Err(_) => f64::NAN,
    }
}

/// Upper tail of chi-square with `k` degrees of freedom.
pub fn chi2_sf(x: f64, k: f64) -> f64 {
    match ChiSquared::new(k) {
        Ok(d) => d.sf(x),
        Err(_) => f64::NAN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_quantiles() {
        // scipy.stats.norm.ppf(0.975), t.ppf(0.975, 10), chi2.sf(3.841458820694124, 1)
        assert!((norm_ppf(0.975) - 1.959963984540054).abs() < 1e-12);
        assert!((t_ppf(0.975, 10.0) - 2.2281388519649385).abs() < 1e-9);
        assert!((chi2_sf(3.841458820694124, 1.0) - 0.05).abs() < 1e-12);
        assert!((t_sf(2.0, 5.0) - 0.05096973941492914).abs() < 1e-12);
    }
}
