//! Statistics of escape times: censored exponential rate fits with exact χ² intervals
//! ([`rate`]), Kaplan–Meier survival curves ([`survival`]), the summary of an ensemble
//! ([`EscapeStatistics`]), and the exponent of a stationary law P ∝ L^(−φ) ([`stationary`]).

pub mod fit;
pub mod rate;
pub mod stationary;
pub mod survival;

pub use fit::{LineFit, weighted_line};
pub use rate::{RateEstimate, exponential_rate};
pub use stationary::{fit_loss_power, loss_power_from_mean_log};
pub use survival::{SurvivalPoint, kaplan_meier};

use crate::escape::{ReplicaOutcome, Status};
use serde::Serialize;

/// Mean and its standard error.
pub fn mean_and_stderr(values: &[f64]) -> (f64, f64) {
    let n = values.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return (mean, f64::NAN);
    }
    let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1) as f64;
    (mean, (var / n as f64).sqrt())
}

/// Summary of an ensemble's escape times.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct EscapeStatistics {
    /// Number of replicas.
    pub replicas: usize,
    /// Replicas that escaped.
    pub escaped: usize,
    /// Replicas censored at `max_steps`.
    pub censored: usize,
    /// Replicas whose θ diverged (treated as censored at that time in the rate fit).
    pub diverged: usize,
    /// Mean escape time t: the sample mean when every replica escaped; with censored (or
    /// diverged) replicas, 1/κ̂ from the censored exponential fit, since the mean over the
    /// escaped replicas alone is biased low (docs/theory.md eq. 27).
    pub mean_time: f64,
    /// Standard error of `mean_time` (for 1/κ̂: (1/κ̂)/√k by the delta method, k escapes).
    pub mean_time_stderr: f64,
    /// `"sample mean"` or `"censored exponential fit"`.
    pub mean_time_method: String,
    /// The mean escape time over escaped replicas only: conditional on escape before
    /// `max_steps`, equal to `mean_time` when nothing was censored.
    pub mean_time_of_escaped: f64,
    /// Mean number of steps to escape, estimated like `mean_time`.
    pub mean_steps: f64,
    /// Censored exponential MLE of the escape rate per unit time t, with a 95% χ² interval.
    pub rate_per_time: RateEstimate,
    /// The same per step.
    pub rate_per_step: RateEstimate,
}

impl EscapeStatistics {
    /// Summarises outcomes.
    pub fn from_outcomes(outcomes: &[ReplicaOutcome]) -> Self {
        let escaped: Vec<&ReplicaOutcome> = outcomes.iter().filter(|o| o.status == Status::Escaped).collect();
        let times: Vec<f64> = escaped.iter().map(|o| o.time).collect();
        let steps: Vec<f64> = escaped.iter().map(|o| o.steps as f64).collect();
        let (mean_of_escaped, stderr_of_escaped) = mean_and_stderr(&times);
        let (mean_steps_of_escaped, _) = mean_and_stderr(&steps);
        let exposure_time: f64 = outcomes.iter().map(|o| o.time).sum();
        let exposure_steps: f64 = outcomes.iter().map(|o| o.steps as f64).sum();
        let rate_per_time = exponential_rate(escaped.len(), exposure_time, 0.95);
        let rate_per_step = exponential_rate(escaped.len(), exposure_steps, 0.95);
        let all_escaped = escaped.len() == outcomes.len();
        let k = escaped.len() as f64;
        let (mean_time, mean_time_stderr, mean_steps, method) = if all_escaped {
            (mean_of_escaped, stderr_of_escaped, mean_steps_of_escaped, "sample mean")
        } else {
            let t = 1.0 / rate_per_time.estimate;
            (t, t / k.sqrt(), 1.0 / rate_per_step.estimate, "censored exponential fit")
        };
        EscapeStatistics {
            replicas: outcomes.len(),
            escaped: escaped.len(),
            censored: outcomes.iter().filter(|o| o.status == Status::Censored).count(),
            diverged: outcomes.iter().filter(|o| o.status == Status::Diverged).count(),
            mean_time,
            mean_time_stderr,
            mean_time_method: method.into(),
            mean_time_of_escaped: mean_of_escaped,
            mean_steps,
            rate_per_time,
            rate_per_step,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With censoring, the mean time is 1/κ̂ (here k = 2 escapes over exposure 2 + 4 + 10 = 16:
    /// 8), not the mean of the escaped replicas (3), which is reported apart.
    #[test]
    fn censored_ensembles_report_the_fitted_mean() {
        let o = |time: f64, status| ReplicaOutcome { replica: 0, steps: (time * 10.0) as u64, time, status, final_theta: vec![] };
        let s = EscapeStatistics::from_outcomes(&[o(2.0, Status::Escaped), o(4.0, Status::Escaped), o(10.0, Status::Censored)]);
        assert_eq!((s.mean_time, s.mean_time_of_escaped, s.mean_time_method.as_str()), (8.0, 3.0, "censored exponential fit"));
        assert!((s.mean_time_stderr - 8.0 / 2f64.sqrt()).abs() < 1e-12);
        let all = EscapeStatistics::from_outcomes(&[o(2.0, Status::Escaped), o(4.0, Status::Escaped)]);
        assert_eq!((all.mean_time, all.mean_time_method.as_str()), (3.0, "sample mean"));
    }
}
