//! The splitting estimator of a run (`[estimator] kind = "ams"`): its plan resolved from the
//! prepared run (reaction coordinate, basin, departure surface), and the escape statistics
//! from the AMS runs and the brute-force loops (docs/theory.md §10, eq. 32–34).

use super::analysis::LandscapeAnalysis;
use super::config::{AmsConfig, ReactionCoordinateKind};
use super::prepare::StartPoint;
use crate::error::{Error, Result};
use crate::escape::Exit;
pub use crate::escape::ams::AmsPlan;
use crate::escape::ams::{AmsRun, AmsSpec, LoopStatistics, ReactionCoordinate};
use crate::landscape::saddle::Saddle;
use crate::stats::EscapeStatistics;
use crate::stats::rate::RateEstimate;
use serde::Serialize;

/// Steps after which one excursion is stopped (a guard; counted and warned about).
const MAX_EXCURSION_STEPS: u64 = 10_000_000;

/// A plan with `[estimator]`'s defaults (levels from the pilot trajectory, resolution 0.002,
/// 10 cycles, k = 1) for a given coordinate, as the reproductions use it.
pub fn default_plan(coordinate: ReactionCoordinate, coordinate_kind: &'static str, particles: usize, runs: usize, seed: u64) -> AmsPlan {
    let cycles = 10;
    AmsPlan {
        spec: AmsSpec { particles, kill: 1, basin: 0.05, resolution: 0.002, seed, max_excursion_steps: MAX_EXCURSION_STEPS },
        runs,
        departure: 0.1,
        cycles,
        trajectories: (particles * runs).div_ceil(cycles),
        coordinate,
        coordinate_kind,
        levels_from_pilot: true,
    }
}

/// Resolves `[estimator]` for a prepared run.
/// `path` builds the `path` coordinate from the saddle (the model's minimum-energy path); it
/// is called only for that kind.
pub fn resolve_ams(
    config: &AmsConfig,
    seed: u64,
    start: &StartPoint,
    exit: &Exit,
    landscape: &LandscapeAnalysis,
    path: impl FnOnce(&Saddle) -> ReactionCoordinate,
) -> Result<AmsPlan> {
    let key = "estimator.reaction_coordinate";
    let theta = &start.theta;
    let kind = match (config.reaction_coordinate, exit) {
        (_, Exit::Never) => {
            return Err(Error::invalid("estimator.kind", "\"ams\"", "splitting estimates the time to an exit: give an [exit]"));
        }
        (ReactionCoordinateKind::Auto, Exit::LossAbove { .. }) => ReactionCoordinateKind::LogLoss,
        (ReactionCoordinateKind::Auto, _) => ReactionCoordinateKind::Coordinate,
        (k, _) => k,
    };
    let saddle = || {
        landscape.saddle.as_ref().ok_or_else(|| {
            Error::invalid(
                key,
                format!("{kind:?}"),
                "needs the saddle, which was not found (see landscape.saddle); choose another coordinate",
            )
        })
    };
    let (coordinate, name) = match kind {
        ReactionCoordinateKind::Coordinate => match exit {
            Exit::Coordinate { axis, threshold } => {
                let mut direction = vec![0.0; theta.len()];
                direction[*axis] = 1.0;
                (ReactionCoordinate::Projection { direction, from: theta[*axis], to: *threshold }, "coordinate")
            }
            Exit::Hyperplane { normal, offset } => (
                ReactionCoordinate::Projection { direction: normal.clone(), from: crate::linalg::dot(normal, theta), to: *offset },
                "coordinate",
            ),
            _ => {
                return Err(Error::invalid(
                    key,
                    "\"coordinate\"",
                    "a loss-above exit has no coordinate: use \"log-loss\" or \"escape-direction\"",
                ));
            }
        },
        ReactionCoordinateKind::LogLoss => {
            let exit_loss = match exit {
                Exit::LossAbove { threshold } => *threshold,
                _ => saddle()?.loss,
            };
            if !(start.loss > 0.0 && exit_loss > start.loss) {
                return Err(Error::invalid(
                    key,
                    "\"log-loss\"",
                    format!("needs 0 < L* < L_exit; here L* = {:e}, L_exit = {exit_loss:e}", start.loss),
                ));
            }
            (ReactionCoordinate::LogLoss { log_min: start.loss.ln(), log_exit: exit_loss.ln() }, "log-loss")
        }
        ReactionCoordinateKind::EscapeDirection => {
            let s = saddle()?;
            let towards: f64 = s.escape_direction.iter().zip(s.theta.iter().zip(theta)).map(|(u, (a, b))| u * (a - b)).sum();
            let direction: Vec<f64> = s.escape_direction.iter().map(|u| u * towards.signum()).collect();
            let (from, to) = (crate::linalg::dot(&direction, theta), crate::linalg::dot(&direction, &s.theta));
            (ReactionCoordinate::Projection { direction, from, to }, "escape-direction")
        }
        ReactionCoordinateKind::Path => {
            let coordinate = path(saddle()?);
            if let ReactionCoordinate::Path { to, .. } = &coordinate
                && (*to <= 0.0 || to.is_nan())
            {
                return Err(Error::invalid(key, "\"path\"", "the minimum-energy path from θ* has zero length: choose another coordinate"));
            }
            (coordinate, "path")
        }
        ReactionCoordinateKind::Auto => unreachable!("resolved above"),
    };
    if let ReactionCoordinate::Projection { from, to, .. } = &coordinate
        && (to - from <= 0.0 || !(to - from).is_finite())
    {
        return Err(Error::invalid(key, format!("\"{name}\""), "the exit (or saddle) is not beyond θ* along this coordinate"));
    }
    // Without both levels, they come from a pilot trajectory (escape::ams::AmsPlan).
    let levels_from_pilot = config.basin.is_none() || config.departure.is_none();
    let (basin, departure) = match (config.basin, config.departure) {
        (Some(b), Some(d)) => (b.get(), d.get()),
        (None, None) => (0.0, 0.0),
        (Some(b), None) => {
            return Err(Error::invalid("estimator.departure", "(missing)", format!("give it with estimator.basin = {b}, or neither")));
        }
        (None, Some(d)) => {
            return Err(Error::invalid("estimator.basin", "(missing)", format!("give it with estimator.departure = {d}, or neither")));
        }
    };
    if !levels_from_pilot && departure <= basin {
        return Err(Error::invalid("estimator.departure", departure, format!("must lie between estimator.basin = {basin} and 1")));
    }
    let (particles, runs, kill, cycles) = (config.particles.get(), config.runs.get(), config.kill.get(), config.cycles.get());
    if kill >= particles {
        return Err(Error::invalid("estimator.kill", kill, format!("must be below estimator.particles = {particles}")));
    }
    let needed = crate::limits::product(&[particles, runs])
        .ok_or_else(|| Error::invalid("estimator.particles", particles, "particles × runs overflows"))?;
    // Each particle keeps at most 1/δ states of P values (and its workspace).
    let states = (1.0 / config.resolution.get()).ceil() as usize + 2;
    let bytes = crate::limits::product(&[particles, runs.min(rayon::current_num_threads().max(1)), states, theta.len() * 8 + 256]);
    crate::limits::require_memory("estimator.particles", particles, "the particles' states", bytes.map(|b| b as u128))?;
    Ok(AmsPlan {
        spec: AmsSpec { particles, kill, basin, resolution: config.resolution.get(), seed, max_excursion_steps: MAX_EXCURSION_STEPS },
        runs,
        departure,
        cycles,
        trajectories: needed.div_ceil(cycles),
        coordinate,
        coordinate_kind: name,
        levels_from_pilot,
    })
}

/// A quantity with its standard error and 95% interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Interval {
    /// The estimate.
    pub estimate: f64,
    /// Its standard error.
    pub stderr: f64,
    /// 95% interval, from the M runs on the log scale (Student t with M − 1 degrees of freedom).
    pub ci_low: f64,
    /// Upper end.
    pub ci_high: f64,
}

/// The `ams` block of `summary.json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AmsReport {
    /// ξ's name and definition.
    pub reaction_coordinate: ReactionCoordinate,
    /// Its name (`coordinate`, `log-loss`, `escape-direction`).
    pub reaction_coordinate_kind: String,
    /// z_A, z_Σ, δ.
    pub basin: f64,
    /// z_Σ.
    pub departure: f64,
    /// δ.
    pub resolution: f64,
    /// N, M, k.
    pub particles: usize,
    /// M.
    pub runs: usize,
    /// k.
    pub kill: usize,
    /// p: the mean over runs, its standard error and interval.
    pub probability: Interval,
    /// The median of the runs' p̂ (far below the mean when the coordinate is poor).
    pub median_probability: f64,
    /// Var(p̂)/p² of one run, measured over the M runs.
    pub relative_variance: f64,
    /// The idealised ln(1/p)/N of a perfect reaction coordinate (k = 1).
    pub idealised_relative_variance: f64,
    /// Iterations per run: mean, smallest, largest.
    pub iterations: (f64, u64, u64),
    /// Runs that went extinct (p̂ = 0).
    pub extinctions: usize,
    /// The last kill level of each run (how far the levels got; 1 is the exit for `coordinate`).
    pub levels_reached: Vec<Option<f64>>,
    /// The brute-force loops between the basin and Σ.
    pub loops: LoopStatistics,
    /// E[T_reac]: mean time from Σ to the exit of the particles at the exit.
    pub reactive_time: f64,
    /// Steps simulated: (brute-force loops, splitting).
    pub steps_simulated: (u64, u64),
    /// Every run.
    pub run_results: Vec<AmsRun>,
}

/// The escape statistics from the AMS runs and the loops: p̄ over the runs, then
/// E[T] = E[τ_first] + (1/p̄ − 1)·E[T_loop] + E[T_reac] (eq. 33), in time and in steps, with
/// intervals from the spread of the runs combined with the loops' standard error on the log
/// scale (eq. 34). Returns the statistics, the report and any warnings.
pub fn ams_statistics(plan: &AmsPlan, runs: Vec<AmsRun>, loops: LoopStatistics) -> (EscapeStatistics, AmsReport, Vec<String>) {
    use statrs::distribution::{ContinuousCDF, StudentsT};
    let m = runs.len();
    let p: Vec<f64> = runs.iter().map(|r| r.probability).collect();
    let (p_mean, p_se) = crate::stats::mean_and_stderr(&p);
    let p_sd = p_se * (m as f64).sqrt();
    let t = StudentsT::new(0.0, 1.0, (m - 1) as f64).map(|d| d.inverse_cdf(0.975)).unwrap_or(1.96);
    let rel_p = p_se / p_mean;
    let probability = Interval { estimate: p_mean, stderr: p_se, ci_low: p_mean * (-t * rel_p).exp(), ci_high: p_mean * (t * rel_p).exp() };
    let reached: Vec<&AmsRun> = runs.iter().filter(|r| r.reached > 0).collect();
    let weighted = |f: &dyn Fn(&AmsRun) -> f64| {
        let total: f64 = reached.iter().map(|r| r.reached as f64).sum();
        reached.iter().map(|r| f(r) * r.reached as f64).sum::<f64>() / total
    };
    let (reactive_time, reactive_steps) = (weighted(&|r| r.reactive_time.unwrap_or(0.0)), weighted(&|r| r.reactive_steps.unwrap_or(0.0)));
    let failures = 1.0 / p_mean - 1.0;
    let mean_time = loops.first_departure.0 + failures * loops.loop_time.0 + reactive_time;
    let mean_steps = loops.first_departure.1 + failures * loops.loop_steps + reactive_steps;
    // Relative standard error of E[T]: p̄ enters through (1/p̄ − 1)·E[T_loop].
    let rel_time =
        ((rel_p * (failures + 1.0) * loops.loop_time.0 / mean_time).powi(2) + (failures * loops.loop_time.1 / mean_time).powi(2)).sqrt();
    let interval = |x: f64| RateEstimate { estimate: 1.0 / x, ci_low: (-t * rel_time).exp() / x, ci_high: (t * rel_time).exp() / x };
    let iterations: Vec<u64> = runs.iter().map(|r| r.iterations).collect();
    let extinctions = runs.iter().filter(|r| r.extinct).count();
    let relative_variance = (p_sd / p_mean).powi(2);
    let idealised = -p_mean.ln() / plan.spec.particles as f64;
    let mut warnings = Vec::new();
    if extinctions > 0 {
        warnings.push(format!(
            "{extinctions} of {m} AMS runs went extinct (every particle at or below the kill level): the reaction coordinate \"{}\" separates the particles poorly; raise estimator.particles or choose another estimator.reaction_coordinate",
            plan.coordinate_kind
        ));
    }
    let median_probability = {
        let mut sorted = p.clone();
        sorted.sort_by(f64::total_cmp);
        sorted[m / 2]
    };
    if relative_variance > 10.0 * idealised {
        warnings.push(format!(
            "the AMS runs vary {:.1}× more than the idealised ln(1/p)/N of a perfect reaction coordinate (their median p is {:.1e}, their mean {p_mean:.1e}): \"{}\" may be poor, or the escape goes by rare large single steps (SGD's large per-sample gradients), which splitting on the state cannot sample; the mean rests on a few runs and the interval may be too narrow: raise estimator.runs, choose another estimator.reaction_coordinate, or check against brute force at a smaller scale",
            relative_variance / idealised,
            median_probability,
            plan.coordinate_kind
        ));
    }
    if p_mean > 0.1 {
        warnings.push(format!("p = {p_mean:.3} is not small: brute force (estimator.kind = \"brute-force\") estimates this rate directly"));
    }
    let diverged: u64 = runs.iter().map(|r| r.diverged).sum();
    let stopped: u64 = runs.iter().map(|r| r.stopped).sum();
    if diverged + stopped + loops.failed > 0 {
        warnings.push(format!(
            "{} excursion(s) diverged and {stopped} reached the step guard of {MAX_EXCURSION_STEPS} steps; they count as returned to the basin",
            diverged + loops.failed
        ));
    }
    if loops.reached_exit > 0 {
        warnings.push(format!("{} brute-force loop(s) reached the exit: the basin-to-exit probability is not small", loops.reached_exit));
    }
    let escaped: usize = runs.iter().map(|r| r.reached).sum();
    let statistics = EscapeStatistics {
        replicas: plan.spec.particles * m,
        escaped,
        censored: 0,
        diverged: diverged as usize,
        mean_time,
        mean_time_stderr: mean_time * rel_time,
        mean_time_method: "ams: E[T] = E[tau_first] + (1/p - 1) E[T_loop] + E[T_reac] (docs/theory.md eq. 33)".into(),
        mean_time_of_escaped: reactive_time,
        mean_steps,
        rate_per_time: interval(mean_time),
        rate_per_step: interval(mean_steps),
    };
    let report = AmsReport {
        reaction_coordinate: plan.coordinate.clone(),
        reaction_coordinate_kind: plan.coordinate_kind.into(),
        basin: loops.basin,
        departure: loops.departure,
        resolution: plan.spec.resolution,
        particles: plan.spec.particles,
        runs: m,
        kill: plan.spec.kill,
        probability,
        median_probability,
        relative_variance,
        idealised_relative_variance: idealised,
        iterations: (
            iterations.iter().sum::<u64>() as f64 / m as f64,
            iterations.iter().copied().min().unwrap_or(0),
            iterations.iter().copied().max().unwrap_or(0),
        ),
        extinctions,
        levels_reached: runs.iter().map(|r| r.last_level).collect(),
        reactive_time,
        steps_simulated: (loops.steps_simulated, runs.iter().map(|r| r.steps_simulated).sum()),
        loops,
        run_results: runs,
    };
    (statistics, report, warnings)
}
