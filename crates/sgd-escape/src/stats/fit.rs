//! Straight-line fits with honest uncertainties (docs/theory.md eq. 29).
//!
//! A weighted least-squares fit of y = a + b x with known standard errors σ_i reports
//! χ² = Σ ((y_i − a − b x_i)/σ_i)² over ν = n − 2 degrees of freedom. When χ²/ν exceeds 1 the
//! scatter is larger than the errors allow (the line is not the whole story, or the errors are
//! underestimated), and the standard errors of a and b are scaled by √(χ²/ν) (Birge ratio). The
//! p-value P(χ²_ν ≥ χ²) says whether a straight line is acceptable at all; results pages call
//! something a power law only where it is.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ChiSquared, ContinuousCDF};

/// A fitted line y = intercept + slope · x.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LineFit {
    /// b.
    pub slope: f64,
    /// Its standard error, scaled by √(χ²/ν) when that exceeds 1.
    pub slope_stderr: f64,
    /// a.
    pub intercept: f64,
    /// Its standard error (scaled likewise).
    pub intercept_stderr: f64,
    /// χ² of the residuals against the given errors (NaN for an unweighted fit).
    pub chi2: f64,
    /// ν = n − 2.
    pub dof: usize,
    /// P(χ²_ν ≥ χ²): the probability of a scatter at least this large if the line were right.
    pub p_value: f64,
}

impl LineFit {
    /// χ²/ν.
    pub fn chi2_per_dof(&self) -> f64 {
        self.chi2 / self.dof as f64
    }

    /// Whether a straight line is acceptable: p ≥ 0.01.
    pub fn acceptable(&self) -> bool {
        self.p_value >= 0.01
    }
}

/// Weighted least squares of y on x with standard errors `sigma` (all > 0); `None` with fewer
/// than three points (no degree of freedom left to judge the fit).
pub fn weighted_line(x: &[f64], y: &[f64], sigma: &[f64]) -> Option<LineFit> {
    let n = x.len();
    if n < 3 || y.len() != n || sigma.len() != n || sigma.iter().any(|s| !(*s > 0.0 && s.is_finite())) {
        return None;
    }
    let w: Vec<f64> = sigma.iter().map(|s| 1.0 / (s * s)).collect();
    let sw: f64 = w.iter().sum();
    let mx = w.iter().zip(x).map(|(w, x)| w * x).sum::<f64>() / sw;
    let my = w.iter().zip(y).map(|(w, y)| w * y).sum::<f64>() / sw;
    let sxx: f64 = w.iter().zip(x).map(|(w, x)| w * (x - mx).powi(2)).sum();
    let sxy: f64 = w.iter().zip(x).zip(y).map(|((w, x), y)| w * (x - mx) * (y - my)).sum();
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let chi2: f64 = w.iter().zip(x).zip(y).map(|((w, x), y)| w * (y - intercept - slope * x).powi(2)).sum();
    let dof = n - 2;
    let scale = (chi2 / dof as f64).max(1.0).sqrt();
    let p_value = 1.0 - ChiSquared::new(dof as f64).expect("dof ≥ 1").cdf(chi2);
    Some(LineFit {
        slope,
        slope_stderr: scale / sxx.sqrt(),
        intercept,
        intercept_stderr: scale * (1.0 / sw + mx * mx / sxx).sqrt(),
        chi2,
        dof,
        p_value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamics::rng::replica_rng;
    use rand::RngExt;
    use rand_distr::StandardNormal;

    /// Over many synthetic data sets on a true line with the stated errors, the slope is within
    /// its reported standard error with the probability the scaling implies: with ν = 6,
    /// E_χ²[P(|Z| ≤ max(1, √(χ²/ν)))] = 0.7204 (by quadrature), so 0.690–0.750 over 2000 sets
    /// (±3 binomial SE); χ²/ν averages 1 (±0.05, 4 SE of the mean of 2000 values of variance
    /// 2/ν); and the p-value is uniform (200 ± 40 of the sets below 0.1, ±3 SE). When the
    /// errors are understated by 3×, the reported slope error is scaled up.
    #[test]
    fn coverage_and_scaling() {
        let x: Vec<f64> = (0..8).map(|i| i as f64 * 0.3).collect();
        let sigma = vec![0.2; 8];
        let (mut covered, mut chi2_sum, mut small_p) = (0, 0.0, 0);
        for set in 0..2000 {
            let mut rng = replica_rng(77, set);
            let y: Vec<f64> = x.iter().map(|x| 1.0 + 2.0 * x + 0.2 * rng.sample::<f64, _>(StandardNormal)).collect();
            let fit = weighted_line(&x, &y, &sigma).unwrap();
            covered += ((fit.slope - 2.0).abs() <= fit.slope_stderr) as usize;
            chi2_sum += fit.chi2_per_dof();
            small_p += (fit.p_value < 0.1) as usize;
        }
        let coverage = covered as f64 / 2000.0;
        assert!((0.690..=0.750).contains(&coverage), "coverage {coverage}");
        assert!((chi2_sum / 2000.0 - 1.0).abs() < 0.05, "mean χ²/ν {}", chi2_sum / 2000.0);
        assert!((160..=240).contains(&small_p), "{small_p} sets with p < 0.1");
        // Errors understated 3×: χ²/ν ≈ 9 and the slope error grows to the true one.
        let mut rng = replica_rng(78, 0);
        let y: Vec<f64> = x.iter().map(|x| 1.0 + 2.0 * x + 0.6 * rng.sample::<f64, _>(StandardNormal)).collect();
        let fit = weighted_line(&x, &y, &sigma).unwrap();
        let unscaled = 0.2 / (x.iter().map(|v| (v - 1.05f64).powi(2)).sum::<f64>()).sqrt();
        assert!(fit.chi2_per_dof() > 3.0 && fit.slope_stderr > 1.5 * unscaled, "{fit:?}");
        assert!(!fit.acceptable());
    }
}
