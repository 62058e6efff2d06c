//! The splitting estimator as the reproductions use it: one mean escape time by AMS (with
//! `[estimator]`'s defaults for the levels) and the diagnostics a page reports beside it.

use crate::dynamics::Stepper;
use crate::escape::Exit;
use crate::escape::ams::{AmsRun, LoopStatistics, ReactionCoordinate, run_splitting};
use crate::experiment::Prepared;
use crate::experiment::simulate::simulate_ams;
use crate::experiment::splitting::{AmsPlan, ams_statistics, default_plan};
use crate::model::Model;
use crate::stats::EscapeStatistics;
use serde::{Deserialize, Serialize};

/// What an AMS point's page row reports about its splitting.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct AmsDiagnostics {
    pub particles: usize,
    pub runs: usize,
    /// p̄ and its standard error.
    pub probability: (f64, f64),
    /// The median of the runs' p̂: far below p̄, the mean rests on a few runs.
    #[serde(default)]
    pub median_probability: f64,
    /// The runs' relative variance over the idealised ln(1/p)/N.
    pub variance_ratio: f64,
    pub extinctions: usize,
    /// Replica-steps simulated (loops and splitting).
    pub steps: u64,
}

impl AmsDiagnostics {
    /// The 95% interval of a mean time `t` ∝ 1/p from the runs' spread alone, on the log scale
    /// (eq. 34): t · exp(∓ t₀.₉₇₅,M−1 · r), r = SE(p̄)/p̄. It leaves out the loops' own small
    /// standard error.
    pub fn time_interval(&self, t: f64) -> (f64, f64) {
        use statrs::distribution::{ContinuousCDF, StudentsT};
        let quantile = StudentsT::new(0.0, 1.0, (self.runs.max(2) - 1) as f64).map(|d| d.inverse_cdf(0.975)).unwrap_or(1.96);
        let r = self.probability.1 / self.probability.0;
        (t * (-quantile * r).exp(), t * (quantile * r).exp())
    }
}

/// The escape statistics (mean time ± SE in t = η·steps or the SDE's time, eq. 33, and the
/// rates with their intervals) from `start` to `exit` by AMS on the coordinate `xi` (named
/// `xi_kind`), with its diagnostics; an error when no trajectory left the basin or the levels
/// cannot be set.
#[allow(clippy::too_many_arguments)]
pub(super) fn ams_mean_time<M, S>(
    model: &M,
    stepper: &S,
    exit: &Exit,
    start: &[f64],
    xi: ReactionCoordinate,
    xi_kind: &'static str,
    (particles, runs): (usize, usize),
    seed: u64,
) -> Result<(EscapeStatistics, AmsDiagnostics), String>
where
    M: Model + ?Sized,
    S: Stepper,
    S::Workspace: Sync,
{
    let plan = default_plan(xi, xi_kind, particles, runs, seed);
    let (runs_done, loops) = run_splitting(model, stepper, exit, &plan, start, &Default::default(), &|_| {})?;
    Ok(statistics(&plan, runs_done, loops))
}

/// [`ams_mean_time`] for a prepared run with `[estimator] kind = "ams"`.
pub(super) fn ams_of_prepared(prepared: &Prepared) -> crate::error::Result<(EscapeStatistics, AmsDiagnostics)> {
    let plan = prepared.ams.as_ref().expect("a configuration with [estimator] kind = \"ams\"");
    let (runs, loops) = simulate_ams(prepared, plan, &Default::default(), &|_| {})?;
    Ok(statistics(plan, runs, loops))
}

fn statistics(plan: &AmsPlan, runs: Vec<AmsRun>, loops: LoopStatistics) -> (EscapeStatistics, AmsDiagnostics) {
    let (particles, m) = (plan.spec.particles, plan.runs);
    let (stats, report, _) = ams_statistics(plan, runs, loops);
    let diagnostics = AmsDiagnostics {
        particles,
        runs: m,
        probability: (report.probability.estimate, report.probability.stderr),
        median_probability: report.median_probability,
        variance_ratio: report.relative_variance / report.idealised_relative_variance,
        extinctions: report.extinctions,
        steps: report.steps_simulated.0 + report.steps_simulated.1,
    };
    (stats, diagnostics)
}
