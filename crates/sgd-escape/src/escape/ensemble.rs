//! Replica ensembles: many independent runs from the same start, each on its own RNG stream.

use super::Exit;
use crate::dynamics::Stepper;
use crate::dynamics::rng::{ReplicaRng, replica_rng, unit_uniform};
use crate::linalg::all_finite;
use crate::model::Model;
use rand::Rng;
use rayon::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};

/// What to run: replicas `0..replicas`, each for at most `max_steps` steps.
#[derive(Clone, Copy, Debug)]
pub struct EnsembleSpec {
    /// Run seed; replica i draws from the stream `(seed, i)`.
    pub seed: u64,
    /// Number of replicas.
    pub replicas: usize,
    /// Steps after which a replica that has not exited is censored.
    pub max_steps: u64,
}

/// How a replica ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// The exit criterion held after `steps` steps.
    Escaped,
    /// `max_steps` steps without exit (right-censored).
    Censored,
    /// θ stopped being finite after `steps` steps (divergence); censored there for rate fits.
    Diverged,
}

impl Status {
    /// The name written to outputs.
    pub fn name(self) -> &'static str {
        match self {
            Status::Escaped => "escaped",
            Status::Censored => "censored",
            Status::Diverged => "diverged",
        }
    }

    /// Parses [`Status::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "escaped" => Some(Status::Escaped),
            "censored" => Some(Status::Censored),
            "diverged" => Some(Status::Diverged),
            _ => None,
        }
    }
}

/// The result of one replica.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplicaOutcome {
    /// Replica index.
    pub replica: usize,
    /// Steps taken.
    pub steps: u64,
    /// Time t elapsed (η·steps for SGD, dt·steps for SDEs, ∫dτ/L when time-changed).
    pub time: f64,
    /// How it ended.
    pub status: Status,
    /// θ at the end.
    pub final_theta: Vec<f64>,
}

/// Runs replica `replica` from `start` until `exit` holds (at a step, or between two steps by
/// the Brownian bridge when the stepper asks for it), θ diverges, or `max_steps`.
pub fn run_replica<M, S>(model: &M, stepper: &S, exit: &Exit, start: &[f64], seed: u64, replica: usize, max_steps: u64) -> ReplicaOutcome
where
    M: Model + ?Sized,
    S: Stepper,
{
    let mut rng = replica_rng(seed, replica as u64);
    let mut ws = stepper.workspace();
    let mut theta = start.to_vec();
    let mut time = 0.0;
    let mut steps = 0;
    // Exits between steps: the state before each step, and the bridge's uniforms from the
    // replica's stream 2¹²⁸ draws ahead, so that the noise is the same with or without them.
    let bridge = stepper.bridge() && exit.has_boundary();
    let (mut before, mut direction) = if bridge { (start.to_vec(), vec![0.0; start.len()]) } else { (Vec::new(), Vec::new()) };
    let mut bridge_rng = bridge.then(|| rng.jumped());
    let mut bridged = false;
    if let Some(bridge_rng) = &mut bridge_rng {
        while steps < max_steps {
            before.copy_from_slice(&theta);
            time += stepper.step(&mut theta, &mut ws, &mut rng);
            steps += 1;
            if !(all_finite(&theta) && time.is_finite()) || exit.reached(model, &theta) {
                break;
            }
            let crossing = exit.bridge_crossing_probability(model, stepper, &mut ws, &before, &theta, &mut direction);
            if crossing > 0.0 && unit_uniform(bridge_rng.next_u64()) < crossing {
                bridged = true;
                break;
            }
        }
    } else {
        (steps, time) = step_until_exit(model, stepper, exit, &mut theta, &mut ws, &mut rng, steps, time, max_steps);
    }
    if let Some(h) = stepper.fixed_time_step() {
        time = h * steps as f64;
    }
    let status = final_status(model, exit, &theta, time, bridged);
    ReplicaOutcome { replica, steps, time, status, final_theta: theta }
}

/// Steps θ, at `steps` steps and time `time`, until `exit` holds after a step, θ or t stop
/// being finite, or `max_steps`: the loop of [`run_replica`] without the bridge, also where a
/// lane kernel hands a replica back mid-run (its θ, workspace and stream as they were).
/// Returns the steps and time reached.
#[allow(clippy::too_many_arguments)]
#[inline]
pub(crate) fn step_until_exit<M, S>(
    model: &M,
    stepper: &S,
    exit: &Exit,
    theta: &mut [f64],
    ws: &mut S::Workspace,
    rng: &mut ReplicaRng,
    mut steps: u64,
    mut time: f64,
    max_steps: u64,
) -> (u64, f64)
where
    M: Model + ?Sized,
    S: Stepper,
{
    while steps < max_steps {
        time += stepper.step(theta, ws, rng);
        steps += 1;
        if !(all_finite(theta) && time.is_finite()) || exit.reached(model, theta) {
            break;
        }
    }
    (steps, time)
}

/// [`run_replica`] with the exit evaluated only every `check_every` steps (and at
/// `max_steps`), for criteria that cost more than a step (a `loss-above` exit reads the full
/// loss, O(N·P)). When the criterion holds at a check, the replica is replayed from the
/// previous check (its stream, workspace and θ were saved there, so the replay retraces the
/// same steps) evaluating it after every step, and the outcome is the first step after that
/// check at which it holds: the same step [`run_replica`] reports whenever the replica did
/// not cross and come back between two earlier checks. Such an excursion is not seen, so
/// escape times can only be later, never earlier, than with checks at every step. Finiteness
/// is checked at every step. Not for steppers with the bridge (it needs every step).
#[allow(clippy::too_many_arguments)]
pub fn run_replica_checked<M, S>(
    model: &M,
    stepper: &S,
    exit: &Exit,
    start: &[f64],
    seed: u64,
    replica: usize,
    max_steps: u64,
    check_every: u64,
) -> ReplicaOutcome
where
    M: Model + ?Sized,
    S: Stepper,
{
    debug_assert!(!stepper.bridge() || !exit.has_boundary(), "the bridge needs the exit at every step");
    let check_every = check_every.max(1);
    let mut rng = replica_rng(seed, replica as u64);
    let mut ws = stepper.workspace();
    let mut theta = start.to_vec();
    let (mut time, mut steps) = (0.0, 0u64);
    // The state at the last check.
    let (mut saved_theta, mut saved_ws, mut saved_rng, mut saved_time, mut saved_steps) =
        (theta.clone(), ws.clone(), rng.clone(), time, steps);
    while steps < max_steps {
        time += stepper.step(&mut theta, &mut ws, &mut rng);
        steps += 1;
        if !(all_finite(&theta) && time.is_finite()) {
            break;
        }
        if steps % check_every != 0 && steps != max_steps {
            continue;
        }
        if exit.reached(model, &theta) {
            // Replay from the last check, testing every step; it ends at the latest where the
            // check found the criterion holding.
            let last = steps;
            theta.copy_from_slice(&saved_theta);
            (ws, rng, time, steps) = (saved_ws, saved_rng, saved_time, saved_steps);
            while steps < last {
                time += stepper.step(&mut theta, &mut ws, &mut rng);
                steps += 1;
                if exit.reached(model, &theta) {
                    break;
                }
            }
            break;
        }
        saved_theta.copy_from_slice(&theta);
        saved_ws.clone_from(&ws);
        saved_rng.clone_from(&rng);
        (saved_time, saved_steps) = (time, steps);
    }
    if let Some(h) = stepper.fixed_time_step() {
        time = h * steps as f64;
    }
    let status = final_status(model, exit, &theta, time, false);
    ReplicaOutcome { replica, steps, time, status, final_theta: theta }
}

/// How a replica that stopped at θ at time t ended. Finiteness comes first, whatever the
/// exit: θ or t no longer finite is `Diverged`, and so is a loss-above exit where the loss
/// itself has overflowed (the quantity the criterion reads is not finite). Then the exit
/// criterion at θ (or a crossing between the last two steps, `bridged`) is `Escaped`;
/// otherwise the replica reached `max_steps` and is `Censored`. A finite θ beyond a
/// coordinate or hyperplane boundary is an exit even where L(θ) would overflow: the
/// criterion reads θ, and an exact chain of the same dynamics counts that step as an exit.
/// Every ensemble loop (generic and lanes) classifies with this one function.
pub fn final_status<M: Model + ?Sized>(model: &M, exit: &Exit, theta: &[f64], time: f64, bridged: bool) -> Status {
    if !(all_finite(theta) && time.is_finite()) {
        Status::Diverged
    } else if bridged || exit.reached(model, theta) {
        let loss_overflowed = matches!(exit, Exit::LossAbove { .. }) && !model.loss(theta).is_finite();
        if loss_overflowed { Status::Diverged } else { Status::Escaped }
    } else {
        Status::Censored
    }
}

/// Runs the replicas of `spec` not already in `completed` on the current rayon pool and
/// returns all outcomes (completed ones included) sorted by replica index. `on_done` is called
/// from worker threads as each new replica finishes (progress, journaling). Results do not
/// depend on the number of threads.
pub fn run_ensemble<M, S>(
    model: &M,
    stepper: &S,
    exit: &Exit,
    start: &[f64],
    spec: EnsembleSpec,
    completed: Vec<ReplicaOutcome>,
    on_done: &(dyn Fn(&ReplicaOutcome) + Sync),
) -> Vec<ReplicaOutcome>
where
    M: Model + ?Sized,
    S: Stepper,
{
    run_ensemble_checked(model, stepper, exit, start, spec, 1, completed, on_done)
}

/// [`run_ensemble`] with the exit evaluated every `check_every` steps, each replica by
/// [`run_replica_checked`] (by [`run_replica`] when `check_every` is 1).
#[allow(clippy::too_many_arguments)]
pub fn run_ensemble_checked<M, S>(
    model: &M,
    stepper: &S,
    exit: &Exit,
    start: &[f64],
    spec: EnsembleSpec,
    check_every: u64,
    completed: Vec<ReplicaOutcome>,
    on_done: &(dyn Fn(&ReplicaOutcome) + Sync),
) -> Vec<ReplicaOutcome>
where
    M: Model + ?Sized,
    S: Stepper,
{
    let pending = pending_replicas(spec, &completed);
    let fresh: Vec<ReplicaOutcome> = pending
        .into_par_iter()
        .with_max_len(1)
        .filter_map(|i| {
            // No new replica once a stop is requested (crate::cancel).
            if crate::cancel::requested() {
                return None;
            }
            let outcome = if check_every <= 1 {
                run_replica(model, stepper, exit, start, spec.seed, i, spec.max_steps)
            } else {
                run_replica_checked(model, stepper, exit, start, spec.seed, i, spec.max_steps, check_every)
            };
            on_done(&outcome);
            Some(outcome)
        })
        .collect();
    merge_outcomes(spec, completed, fresh)
}

/// The replicas of `spec` that `completed` does not hold, in increasing order.
pub(crate) fn pending_replicas(spec: EnsembleSpec, completed: &[ReplicaOutcome]) -> Vec<usize> {
    let mut done = vec![false; spec.replicas];
    for o in completed {
        if o.replica < spec.replicas {
            done[o.replica] = true;
        }
    }
    (0..spec.replicas).filter(|&i| !done[i]).collect()
}

/// Pending replicas handed out one at a time to the lane groups of every worker of a lane
/// kernel: a lane whose replica exits takes the next pending replica, so lanes idle only once
/// the queue is empty. Which lane or worker runs a replica does not change its outcome (each
/// replica draws from its own stream).
pub(crate) struct ReplicaQueue<'a> {
    pending: &'a [usize],
    next: AtomicUsize,
}

impl ReplicaQueue<'_> {
    /// The next pending replica, or `None` when none is left or cancellation was requested.
    pub(crate) fn pop(&self) -> Option<usize> {
        if crate::cancel::requested() {
            return None;
        }
        self.pending.get(self.next.fetch_add(1, Ordering::Relaxed)).copied()
    }
}

/// Runs `worker` once per thread (fewer when `pending` fills fewer groups of `lanes`), every
/// worker drawing replicas from one [`ReplicaQueue`] over `pending`, and collects their outcomes.
/// Compared with fixed chunks of replicas per task, the lanes of a group idle only at the very
/// end of the run, not at the end of every chunk.
pub(crate) fn run_lane_workers<T: Send>(pending: &[usize], lanes: usize, worker: impl Fn(&ReplicaQueue) -> Vec<T> + Sync) -> Vec<T> {
    let queue = ReplicaQueue { pending, next: AtomicUsize::new(0) };
    let workers = rayon::current_num_threads().min(pending.len().div_ceil(lanes.max(1)));
    (0..workers).into_par_iter().with_max_len(1).flat_map_iter(|_| worker(&queue)).collect()
}

/// Completed and fresh outcomes of the replicas of `spec`, sorted by replica index.
pub(crate) fn merge_outcomes(spec: EnsembleSpec, completed: Vec<ReplicaOutcome>, fresh: Vec<ReplicaOutcome>) -> Vec<ReplicaOutcome> {
    let mut all: Vec<ReplicaOutcome> = completed.into_iter().filter(|o| o.replica < spec.replicas).chain(fresh).collect();
    all.sort_by_key(|o| o.replica);
    all
}
