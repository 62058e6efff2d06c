//! Maximum-likelihood escape rate of right-censored exponential waiting times.

use serde::Serialize;
use statrs::distribution::{ChiSquared, ContinuousCDF};

/// A rate with a two-sided confidence interval.
#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
pub struct RateEstimate {
    /// Maximum-likelihood estimate `k / T`.
    pub estimate: f64,
    /// Lower end of the interval.
    pub ci_low: f64,
    /// Upper end of the interval.
    pub ci_high: f64,
}

/// Rate of exponential waiting times from `events` observed exits and total exposure
/// `exposure` (sum of all waiting times, censored ones included).
///
/// The MLE is `κ̂ = k / T`. The interval is the exact (Garwood) χ² interval of a Poisson count
/// over exposure T: `[χ²_{α/2}(2k) / 2T, χ²_{1−α/2}(2k + 2) / 2T]`, lower end 0 when k = 0.
/// It is exact for a Poisson process observed over fixed total exposure and close to nominal
/// (slightly conservative) for type-I censored replicas.
pub fn exponential_rate(events: usize, exposure: f64, confidence: f64) -> RateEstimate {
    assert!(confidence > 0.0 && confidence < 1.0);
    if exposure <= 0.0 || !exposure.is_finite() {
        return RateEstimate { estimate: f64::NAN, ci_low: f64::NAN, ci_high: f64::NAN };
    }
    let alpha = 1.0 - confidence;
    let k = events as f64;
    let ci_low = if events == 0 {
        0.0
    } else {
        ChiSquared::new(2.0 * k).expect("positive degrees of freedom").inverse_cdf(alpha / 2.0) / (2.0 * exposure)
    };
    let ci_high = ChiSquared::new(2.0 * k + 2.0).expect("positive degrees of freedom").inverse_cdf(1.0 - alpha / 2.0) / (2.0 * exposure);
    RateEstimate { estimate: k / exposure, ci_low, ci_high }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamics::rng::replica_rng;
    use rand::RngExt;

    #[test]
    fn interval_of_known_counts() {
        // k = 10, T = 10: χ²₀.₀₂₅(20) = 9.59078, χ²₀.₉₇₅(22) = 36.7807 (standard tables).
        let r = exponential_rate(10, 10.0, 0.95);
        assert!((r.estimate - 1.0).abs() < 1e-15);
        assert!((r.ci_low - 9.59078 / 20.0).abs() < 1e-6, "{}", r.ci_low);
        assert!((r.ci_high - 36.7807 / 20.0).abs() < 1e-5, "{}", r.ci_high);
    }

    /// The 95% interval covers the true rate in 93–97% of 1000 synthetic censored data sets
    /// (binomial standard error of the coverage: 0.7%).
    #[test]
    fn coverage_of_censored_data_sets() {
        let rate = 0.7;
        let censor_at = 2.0; // P(censored) = exp(−1.4) ≈ 25%
        let mut covered = 0;
        for set in 0..1000 {
            let mut rng = replica_rng(2024, set);
            let mut events = 0;
            let mut exposure = 0.0;
            for _ in 0..60 {
                let u: f64 = rng.random();
                let t = -(1.0 - u).ln() / rate;
                if t < censor_at {
                    events += 1;
                    exposure += t;
                } else {
                    exposure += censor_at;
                }
            }
            let r = exponential_rate(events, exposure, 0.95);
            if r.ci_low <= rate && rate <= r.ci_high {
                covered += 1;
            }
        }
        let coverage = covered as f64 / 1000.0;
        assert!((0.93..=0.97).contains(&coverage), "coverage {coverage}");
    }
}
