//! Adaptive multilevel splitting (AMS): the probability p that a trajectory started on the
//! departure surface Σ reaches the exit B before it returns to the basin A, for escapes far
//! too rare for brute force (docs/theory.md §10).
//!
//! The generalised, unbiased algorithm of Bréhier, Gazeau, Goudenège, Lelièvre and Rousset
//! (Ann. Appl. Probab. 2016) for a discrete-time Markov chain — every stepper (SGD, each SDE
//! solver) is one. N particles run from Σ until A or B; a particle's level is the largest value
//! of the reaction coordinate ξ̃ it reached (∞ at B). Each iteration kills every particle whose
//! level is ≤ the k-th smallest level z (ties included), and restarts each killed one from a
//! uniformly chosen survivor's **first state strictly above z** — the state itself (θ, the
//! stepper's workspace, the elapsed time), never a point placed on the level — with a fresh
//! stream keyed by (seed, run, iteration, branch). p̂ = Π(1 − Kⱼ/N) · (particles at B)/N is
//! unbiased; if every particle is at or below z the run is extinct and p̂ = 0.
//!
//! The reaction coordinate is discretised, ξ̃ = ⌊ξ/δ⌋·δ (δ = `resolution`): a particle keeps its
//! state only where ξ̃ reaches a new maximum, at most 1/δ states, and these are exactly the
//! states a branch can start from. Discretising keeps the estimator unbiased (ties are killed
//! together) and bounds the memory.

use super::Exit;
use crate::dynamics::Stepper;
use crate::dynamics::rng::{ReplicaRng, keyed_rng, uniform_index, unit_uniform};
use crate::linalg::all_finite;
use crate::model::Model;
use rand::Rng;
use serde::Serialize;

/// The reaction coordinate ξ(θ), normalised to 0 at θ* and 1 on the exit boundary.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ReactionCoordinate {
    /// ξ = (u·θ − from)/(to − from): a coordinate (u = e_axis), the normal of a hyperplane, or
    /// the saddle's unstable direction.
    Projection {
        /// The direction u.
        direction: Vec<f64>,
        /// u·θ*.
        from: f64,
        /// u·θ on the exit boundary.
        to: f64,
    },
    /// ξ = ln(L/L*)/ln(L_exit/L*): the paper's log loss, normalised between the minimum and
    /// the exit level.
    LogLoss {
        /// ln L*.
        log_min: f64,
        /// ln L at the exit level.
        log_exit: f64,
    },
    /// ξ = s(θ)/s_exit: the arc length s of the point nearest to θ on the minimum-energy path
    /// from θ* over the saddle ([`crate::landscape::path`]), over the arc length where the path
    /// meets the exit (or its far end).
    Path {
        /// The path from θ*, prepared for nearest-point queries (not written to outputs).
        #[serde(skip)]
        projection: crate::landscape::path::PathProjection,
        /// s_exit.
        to: f64,
        /// The whole path's length.
        length: f64,
        /// Its vertex count.
        points: usize,
    },
}

impl ReactionCoordinate {
    /// ξ(θ).
    pub fn value<M: Model + ?Sized>(&self, model: &M, theta: &[f64]) -> f64 {
        match self {
            ReactionCoordinate::Projection { direction, from, to } => (crate::linalg::dot(direction, theta) - from) / (to - from),
            ReactionCoordinate::LogLoss { log_min, log_exit } => (model.loss(theta).ln() - log_min) / (log_exit - log_min),
            ReactionCoordinate::Path { projection, to, .. } => projection.arc_length_at(theta) / to,
        }
    }

    /// The `path` coordinate along `vertices` (θ* first): ξ = 1 where the path first meets
    /// `exit`, or at its far end when it never does.
    pub fn path<M: Model + ?Sized>(model: &M, vertices: Vec<Vec<f64>>, exit: &Exit) -> Self {
        let arc = crate::landscape::path::arc_lengths(&vertices);
        let length = *arc.last().expect("a path has vertices");
        let to = vertices.iter().zip(&arc).find(|(v, _)| exit.reached(model, v)).map(|(_, s)| *s).unwrap_or(length);
        ReactionCoordinate::Path { points: vertices.len(), projection: crate::landscape::path::PathProjection::new(&vertices), to, length }
    }
}

/// A chain's state: θ, the stepper's workspace, and the steps and time since it left Σ.
#[derive(Clone)]
pub struct State<W> {
    /// θ.
    pub theta: Vec<f64>,
    /// The stepper's workspace (e.g. SGD's epoch permutation).
    pub ws: W,
    /// Steps since the departure from Σ.
    pub steps: u64,
    /// Time t since the departure from Σ.
    pub time: f64,
}

/// The settings of the splitting runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AmsSpec {
    /// N, particles per run.
    pub particles: usize,
    /// k, particles killed (at least) per iteration.
    pub kill: usize,
    /// z_A: the basin is ξ ≤ z_A.
    pub basin: f64,
    /// δ, the resolution of the levels.
    pub resolution: f64,
    /// The run seed.
    pub seed: u64,
    /// Steps after which an excursion is stopped where it is (counted; never reached in sane
    /// dynamics, which return to the basin).
    pub max_excursion_steps: u64,
}

/// How an excursion ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Basin,
    Exit,
    Diverged,
    StepLimit,
}

struct Particle<W> {
    /// (level, state) where ξ̃ reached a new maximum, increasing; the exit state last (level ∞).
    records: Vec<(f64, State<W>)>,
    level: f64,
    end: End,
    time: f64,
    steps: u64,
}

/// The result of one AMS run.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct AmsRun {
    /// The run's index.
    pub run: u64,
    /// p̂ (0 when extinct).
    pub probability: f64,
    /// Iterations (killing rounds).
    pub iterations: u64,
    /// Whether every particle fell to the kill level at once (p̂ = 0).
    pub extinct: bool,
    /// The kill level of the last iteration (none without an iteration).
    pub last_level: Option<f64>,
    /// Particles at B at the end.
    pub reached: usize,
    /// Mean time from Σ to B of the particles at B (none without one).
    pub reactive_time: Option<f64>,
    /// Likewise in steps.
    pub reactive_steps: Option<f64>,
    /// Excursions that diverged (θ or t not finite), counted as returned.
    pub diverged: u64,
    /// Excursions stopped by the step limit, counted as returned.
    pub stopped: u64,
    /// Steps simulated by this run.
    pub steps_simulated: u64,
}

fn quantize(x: f64, resolution: f64) -> f64 {
    (x / resolution).floor() * resolution
}

/// Runs the chain from `start` (whose ξ̃ is `level`) until it returns to the basin or reaches
/// the exit, keeping the states where ξ̃ reaches a new maximum.
#[allow(clippy::too_many_arguments)]
fn excursion<M, S>(
    model: &M,
    stepper: &S,
    exit: &Exit,
    xi: &ReactionCoordinate,
    spec: &AmsSpec,
    start: State<S::Workspace>,
    level: f64,
    mut rng: ReplicaRng,
) -> (Particle<S::Workspace>, u64)
where
    M: Model + ?Sized,
    S: Stepper,
{
    let bridge = stepper.bridge() && !matches!(exit, Exit::Never);
    let mut bridge_rng = bridge.then(|| rng.jumped());
    let mut state = start.clone();
    let mut records = vec![(level, start)];
    let (mut before, mut direction) = if bridge { (state.theta.clone(), vec![0.0; state.theta.len()]) } else { (Vec::new(), Vec::new()) };
    let mut max = level;
    let mut simulated = 0;
    let end = loop {
        if simulated >= spec.max_excursion_steps {
            break End::StepLimit;
        }
        if bridge {
            before.copy_from_slice(&state.theta);
        }
        state.time += stepper.step(&mut state.theta, &mut state.ws, &mut rng);
        state.steps += 1;
        simulated += 1;
        if !(all_finite(&state.theta) && state.time.is_finite()) {
            break End::Diverged;
        }
        let crossed = exit.reached(model, &state.theta)
            || bridge_rng.as_mut().is_some_and(|b| {
                let p = exit.bridge_crossing_probability(model, stepper, &mut state.ws, &before, &state.theta, &mut direction);
                p > 0.0 && unit_uniform(b.next_u64()) < p
            });
        if crossed {
            if matches!(exit, Exit::LossAbove { .. }) && !model.loss(&state.theta).is_finite() {
                break End::Diverged;
            }
            break End::Exit;
        }
        let x = xi.value(model, &state.theta);
        if x <= spec.basin {
            break End::Basin;
        }
        let q = quantize(x, spec.resolution);
        if q > max {
            max = q;
            records.push((q, state.clone()));
        }
    };
    let (time, steps) = (state.time, state.steps);
    let level = if end == End::Exit {
        records.push((f64::INFINITY, state));
        f64::INFINITY
    } else {
        max
    };
    (Particle { records, level, end, time, steps }, simulated)
}

/// A particle that is at B in `state` (level ∞, no steps simulated).
fn at_exit<W>(state: State<W>) -> Particle<W> {
    let (time, steps) = (state.time, state.steps);
    Particle { records: vec![(f64::INFINITY, state)], level: f64::INFINITY, end: End::Exit, time, steps }
}

/// Stream domains: AMS branches, survivor choices, and the departures of [`departures`].
const BRANCH: u64 = 0xA175_0001;
const CHOICE: u64 = 0xA175_0002;
const DEPARTURE: u64 = 0xA175_0003;

/// One AMS run (index `run`) from the particles' start states `starts` (on Σ, time 0).
pub fn ams_run<M, S>(
    model: &M,
    stepper: &S,
    exit: &Exit,
    xi: &ReactionCoordinate,
    spec: &AmsSpec,
    starts: Vec<State<S::Workspace>>,
    run: u64,
) -> AmsRun
where
    M: Model + ?Sized,
    S: Stepper,
{
    let n = starts.len();
    let mut simulated = 0;
    let (mut diverged, mut stopped) = (0, 0);
    let mut count = |p: &Particle<S::Workspace>, steps: u64| {
        simulated += steps;
        diverged += (p.end == End::Diverged) as u64;
        stopped += (p.end == End::StepLimit) as u64;
    };
    let mut particles: Vec<Particle<S::Workspace>> = Vec::with_capacity(n);
    for (i, s) in starts.into_iter().enumerate() {
        let (p, steps) = if exit.reached(model, &s.theta) {
            // A departure that jumped from the basin past Σ straight into B is at B already.
            (at_exit(s), 0)
        } else {
            let level = quantize(xi.value(model, &s.theta), spec.resolution);
            excursion(model, stepper, exit, xi, spec, s, level, keyed_rng(spec.seed, &[BRANCH, run, 0, i as u64]))
        };
        count(&p, steps);
        particles.push(p);
    }
    let (mut log_p, mut iterations, mut extinct, mut last_level) = (0.0, 0u64, false, None);
    loop {
        let mut levels: Vec<f64> = particles.iter().map(|p| p.level).collect();
        levels.sort_by(f64::total_cmp);
        let z = levels[spec.kill.min(n) - 1];
        if z == f64::INFINITY {
            break;
        }
        last_level = Some(z);
        let killed: Vec<usize> = (0..n).filter(|&i| particles[i].level <= z).collect();
        let survivors: Vec<usize> = (0..n).filter(|&i| particles[i].level > z).collect();
        if survivors.is_empty() {
            extinct = true;
            break;
        }
        iterations += 1;
        log_p += (1.0 - killed.len() as f64 / n as f64).ln();
        let mut choice = keyed_rng(spec.seed, &[CHOICE, run, iterations]);
        let parents: Vec<usize> = killed.iter().map(|_| survivors[uniform_index(&mut choice, survivors.len())]).collect();
        for (branch, (&i, &parent)) in killed.iter().zip(&parents).enumerate() {
            let (level, state) =
                particles[parent].records.iter().find(|(l, _)| *l > z).cloned().expect("a survivor has a state above the level");
            let rng = keyed_rng(spec.seed, &[BRANCH, run, iterations, branch as u64]);
            let (p, steps) = if level == f64::INFINITY {
                // The survivor's first state above z is its exit state: the branch is at B.
                (at_exit(state), 0)
            } else {
                excursion(model, stepper, exit, xi, spec, state, level, rng)
            };
            count(&p, steps);
            particles[i] = p;
        }
        // States at or below z can never be branched from again (levels only rise).
        for p in &mut particles {
            p.records.retain(|(l, _)| *l > z);
        }
    }
    let at_exit: Vec<&Particle<S::Workspace>> = particles.iter().filter(|p| p.level == f64::INFINITY).collect();
    let reached = if extinct { 0 } else { at_exit.len() };
    let mean = |f: &dyn Fn(&Particle<S::Workspace>) -> f64| {
        (!at_exit.is_empty()).then(|| at_exit.iter().map(|p| f(p)).sum::<f64>() / at_exit.len() as f64)
    };
    AmsRun {
        run,
        probability: if extinct { 0.0 } else { log_p.exp() * reached as f64 / n as f64 },
        iterations,
        extinct,
        last_level,
        reached,
        reactive_time: mean(&|p| p.time),
        reactive_steps: mean(&|p| p.steps as f64),
        diverged,
        stopped,
        steps_simulated: simulated,
    }
}

/// How one leg of a brute-force cycle ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Leg {
    /// ξ reached the leg's target (Σ, or back into the basin).
    Arrived,
    /// The exit was reached first.
    Exit,
    /// θ or t stopped being finite, or the leg exceeded `limit` steps.
    Failed,
}

/// Steps the chain until `arrived(ξ)`, the exit, divergence or `limit` steps.
#[allow(clippy::too_many_arguments)]
fn run_leg<M, S>(
    model: &M,
    stepper: &S,
    exit: &Exit,
    limit: u64,
    state: &mut State<S::Workspace>,
    rng: &mut ReplicaRng,
    arrived: impl Fn(f64) -> bool,
    xi: &ReactionCoordinate,
) -> Leg
where
    M: Model + ?Sized,
    S: Stepper,
{
    let start = state.steps;
    loop {
        state.time += stepper.step(&mut state.theta, &mut state.ws, rng);
        state.steps += 1;
        if !(all_finite(&state.theta) && state.time.is_finite()) || state.steps - start > limit {
            return Leg::Failed;
        }
        if exit.reached(model, &state.theta) {
            return Leg::Exit;
        }
        if arrived(xi.value(model, &state.theta)) {
            return Leg::Arrived;
        }
    }
}

/// What the brute-force cycles between the basin and Σ measured.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LoopStatistics {
    /// z_A, the basin's level (from the pilot trajectory when not given).
    pub basin: f64,
    /// z_Σ, the departure surface's level (likewise).
    pub departure: f64,
    /// Cycles observed after the first (loops: basin entry → Σ → basin entry).
    pub loops: u64,
    /// Mean time of a loop, E[T_loop], and its standard error.
    pub loop_time: (f64, f64),
    /// Mean steps of a loop.
    pub loop_steps: f64,
    /// Mean time and steps from a basin entry to Σ (the first leg of a reactive path).
    pub to_departure: (f64, f64),
    /// Mean time and steps from θ* to the first departure.
    pub first_departure: (f64, f64),
    /// Cycles that reached the exit instead of returning (brute force would do here).
    pub reached_exit: u64,
    /// Cycles stopped by divergence or the step limit.
    pub failed: u64,
    /// Steps simulated.
    pub steps_simulated: u64,
}

/// The brute-force phase: `trajectories` independent chains from θ*, each run for `cycles`
/// departures from the basin ({ξ ≤ z_A}) to Σ ({ξ ≥ departure}). Returns every departure but
/// each chain's first (which started from θ*, not from a basin entry), with its state reset to
/// time 0, and the loop statistics.
#[allow(clippy::too_many_arguments)]
pub fn departures<M, S>(
    model: &M,
    stepper: &S,
    exit: &Exit,
    xi: &ReactionCoordinate,
    spec: &AmsSpec,
    departure: f64,
    start: &[f64],
    trajectories: usize,
    cycles: usize,
) -> (Vec<State<S::Workspace>>, LoopStatistics)
where
    M: Model + ?Sized,
    S: Stepper,
{
    use rayon::prelude::*;
    struct Chain<W> {
        states: Vec<State<W>>,
        loops: Vec<(f64, u64)>,
        legs: Vec<(f64, u64)>,
        first: Option<(f64, u64)>,
        reached: u64,
        failed: u64,
        steps: u64,
    }
    let chains: Vec<Chain<S::Workspace>> = (0..trajectories)
        .into_par_iter()
        .with_max_len(1)
        .map(|t| {
            let mut rng = keyed_rng(spec.seed, &[DEPARTURE, t as u64]);
            let mut state = State { theta: start.to_vec(), ws: stepper.workspace(), steps: 0, time: 0.0 };
            let mut chain = Chain { states: Vec::new(), loops: Vec::new(), legs: Vec::new(), first: None, reached: 0, failed: 0, steps: 0 };
            let mut entry = (0.0, 0u64);
            'cycles: for c in 0..=cycles {
                if crate::cancel::requested() {
                    break 'cycles;
                }
                // Out to Σ.
                // A leg that jumps from below Σ straight into B ends in a departure too (one
                // already at B): a chain with jumps (SGD's single samples) can skip Σ, and
                // discarding those paths would leave them out of p.
                let out = run_leg(model, stepper, exit, spec.max_excursion_steps, &mut state, &mut rng, |x| x >= departure, xi);
                if out == Leg::Failed {
                    chain.failed += 1;
                    break 'cycles;
                }
                let leg = (state.time - entry.0, state.steps - entry.1);
                if c == 0 {
                    chain.first = Some(leg);
                } else {
                    chain.legs.push(leg);
                    chain.states.push(State { steps: 0, time: 0.0, ..state.clone() });
                }
                if out == Leg::Exit {
                    chain.reached += 1;
                    break 'cycles;
                }
                if c == cycles {
                    break;
                }
                // Back to the basin.
                let back = run_leg(model, stepper, exit, spec.max_excursion_steps, &mut state, &mut rng, |x| x <= spec.basin, xi);
                match back {
                    Leg::Arrived => {}
                    Leg::Exit => chain.reached += 1,
                    Leg::Failed => chain.failed += 1,
                }
                if back != Leg::Arrived {
                    break 'cycles;
                }
                if c > 0 {
                    chain.loops.push((state.time - entry.0, state.steps - entry.1));
                }
                entry = (state.time, state.steps);
            }
            chain.steps = state.steps;
            chain
        })
        .collect();
    let mut stats = LoopStatistics::default();
    let mut states = Vec::new();
    let (mut loop_times, mut loop_steps, mut legs, mut firsts) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for c in chains {
        states.extend(c.states);
        loop_times.extend(c.loops.iter().map(|l| l.0));
        loop_steps.extend(c.loops.iter().map(|l| l.1 as f64));
        legs.extend(c.legs);
        firsts.extend(c.first);
        stats.reached_exit += c.reached;
        stats.failed += c.failed;
        stats.steps_simulated += c.steps;
    }
    let mean = |v: &[f64]| if v.is_empty() { f64::NAN } else { v.iter().sum::<f64>() / v.len() as f64 };
    let (m, se) = crate::stats::mean_and_stderr(&loop_times);
    stats.loops = loop_times.len() as u64;
    stats.loop_time = (m, se);
    stats.loop_steps = mean(&loop_steps);
    stats.to_departure = (mean(&legs.iter().map(|l| l.0).collect::<Vec<_>>()), mean(&legs.iter().map(|l| l.1 as f64).collect::<Vec<_>>()));
    stats.first_departure =
        (mean(&firsts.iter().map(|l| l.0).collect::<Vec<_>>()), mean(&firsts.iter().map(|l| l.1 as f64).collect::<Vec<_>>()));
    (states, stats)
}

/// The resolved splitting estimator.
#[derive(Clone, Debug, PartialEq)]
pub struct AmsPlan {
    /// The splitting settings.
    pub spec: AmsSpec,
    /// M.
    pub runs: usize,
    /// z_Σ.
    pub departure: f64,
    /// Departures per brute-force trajectory.
    pub cycles: usize,
    /// Brute-force trajectories: ⌈N·M/cycles⌉.
    pub trajectories: usize,
    /// ξ.
    pub coordinate: ReactionCoordinate,
    /// Its name.
    pub coordinate_kind: &'static str,
    /// Whether `spec.basin` and `departure` are to be set from a pilot trajectory (the median
    /// and the 90th percentile of ξ along it), so that departures are frequent whatever the
    /// noise's scale.
    pub levels_from_pilot: bool,
}

/// Steps of the pilot trajectory from θ* that sets the levels (the first tenth is burn-in).
const PILOT_STEPS: u64 = 100_000;
const PILOT: u64 = 0xA175_0004;

/// The basin and departure levels from a pilot trajectory: the median and the 90th
/// percentile of ξ after a burn-in, kept below the exit (z_Σ ≤ 1/2) and at least one
/// resolution apart.
fn pilot_levels<M, S>(
    model: &M,
    stepper: &S,
    exit: &Exit,
    xi: &ReactionCoordinate,
    spec: &AmsSpec,
    start: &[f64],
) -> Result<(f64, f64), String>
where
    M: Model + ?Sized,
    S: Stepper,
{
    let mut rng = keyed_rng(spec.seed, &[PILOT]);
    let mut theta = start.to_vec();
    let mut ws = stepper.workspace();
    let mut values = Vec::with_capacity(PILOT_STEPS as usize);
    for step in 0..PILOT_STEPS {
        stepper.step(&mut theta, &mut ws, &mut rng);
        if !all_finite(&theta) || exit.reached(model, &theta) {
            break;
        }
        if step >= PILOT_STEPS / 10 {
            values.push(xi.value(model, &theta));
        }
    }
    if values.len() < 100 {
        return Ok((0.05, 0.1));
    }
    values.sort_by(f64::total_cmp);
    let quantile = |q: f64| values[((values.len() - 1) as f64 * q) as usize];
    let (median, upper) = (quantile(0.5), quantile(0.9));
    if upper - median < spec.resolution || upper.is_nan() || median.is_nan() {
        return Err(format!(
            "the pilot trajectory from θ* moves the reaction coordinate by less than the resolution δ = {} (median {median:.3e}, 90th percentile {upper:.3e} of ξ, which is 0 at θ* and 1 at the exit): the exit lies far beyond the basin's fluctuations, or the noise does not move the chain; lower estimator.resolution, give estimator.basin and estimator.departure, or check the exit and the noise",
            spec.resolution
        ));
    }
    let departure = upper.min(0.5);
    let basin = median.min(departure - spec.resolution);
    Ok((basin, departure))
}

/// The whole splitting estimate for `plan`: the brute-force loops from `start`, then the M
/// runs from their departures (run r takes departures rN … rN + N − 1, reused cyclically if
/// fewer were observed), in parallel over runs; runs in `completed` are not rerun and `on_run`
/// sees each new one. Deterministic for any thread count. An error when no trajectory left the
/// basin.
pub fn run_splitting<M, S>(
    model: &M,
    stepper: &S,
    exit: &Exit,
    plan: &AmsPlan,
    start: &[f64],
    completed: &std::collections::BTreeMap<u64, AmsRun>,
    on_run: &(dyn Fn(&AmsRun) + Sync),
) -> Result<(Vec<AmsRun>, LoopStatistics), String>
where
    M: Model + ?Sized,
    S: Stepper,
    S::Workspace: Sync,
{
    use rayon::prelude::*;
    let xi = &plan.coordinate;
    let mut plan = plan.clone();
    if plan.levels_from_pilot {
        (plan.spec.basin, plan.departure) = pilot_levels(model, stepper, exit, xi, &plan.spec, start)?;
    }
    let plan = &plan;
    let (states, mut loops) = departures(model, stepper, exit, xi, &plan.spec, plan.departure, start, plan.trajectories, plan.cycles);
    (loops.basin, loops.departure) = (plan.spec.basin, plan.departure);
    if states.is_empty() {
        return Err(format!(
            "no brute-force trajectory left the basin (ξ ≤ {}) for the departure surface ξ = {}: lower estimator.departure",
            plan.spec.basin, plan.departure
        ));
    }
    let n = plan.spec.particles;
    let runs: Vec<AmsRun> = (0..plan.runs)
        .into_par_iter()
        .with_max_len(1)
        .filter_map(|r| {
            if let Some(done) = completed.get(&(r as u64)) {
                return Some(done.clone());
            }
            // No new run once a stop is requested (crate::cancel).
            if crate::cancel::requested() {
                return None;
            }
            let starts = (0..n).map(|i| states[(r * n + i) % states.len()].clone()).collect();
            let run = ams_run(model, stepper, exit, xi, &plan.spec, starts, r as u64);
            on_run(&run);
            Some(run)
        })
        .collect();
    Ok((runs, loops))
}
