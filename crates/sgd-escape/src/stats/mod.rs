//! Statistics of escape times: censored exponential rate fits with exact χ² intervals
//! ([`rate`]), Kaplan–Meier survival curves ([`survival`]), the summary of an ensemble
//! ([`EscapeStatistics`]), and the exponent of a stationary law P ∝ L^(−φ) ([`stationary`]).

pub mod rate;
pub mod stationary;
pub mod survival;

pub use rate::{RateEstimate, exponential_rate};
pub use stationary::fit_loss_power;
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
    /// Mean escape time t over escaped replicas. A lower bound on the true mean when any
    /// replica was censored; use `rate_per_time` then.
    pub mean_time: f64,
    /// Standard error of `mean_time`.
    pub mean_time_stderr: f64,
    /// Mean number of steps to escape over escaped replicas.
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
        let (mean_time, mean_time_stderr) = mean_and_stderr(&times);
        let (mean_steps, _) = mean_and_stderr(&steps);
        let exposure_time: f64 = outcomes.iter().map(|o| o.time).sum();
        let exposure_steps: f64 = outcomes.iter().map(|o| o.steps as f64).sum();
        EscapeStatistics {
            replicas: outcomes.len(),
            escaped: escaped.len(),
            censored: outcomes.iter().filter(|o| o.status == Status::Censored).count(),
            diverged: outcomes.iter().filter(|o| o.status == Status::Diverged).count(),
            mean_time,
            mean_time_stderr,
            mean_steps,
            rate_per_time: exponential_rate(escaped.len(), exposure_time, 0.95),
            rate_per_step: exponential_rate(escaped.len(), exposure_steps, 0.95),
        }
    }
}
