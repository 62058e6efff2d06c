//! Struct-of-arrays ensemble kernel for SDEs on the analytic double well
//! `L = ε + (θ₁² − 1)²/4 + (k/2) Σ_{i≥2} θ_i²` (any dimension) with the paper's, the frozen or
//! the isotropic noise, Euler–Maruyama or adaptive steps, and exits checked at the steps or
//! (coordinate exits) between them by the Brownian bridge.
//!
//! Replicas run in lanes of [`LANES`] as in [`super::lanes`]: θ is stored as `[P][LANES]`, each
//! lane carries its replica's xoshiro256++ state (and, with the bridge, the state 2¹²⁸ draws
//! ahead), and one step advances every lane with loops over lanes that vectorise ([`step`]):
//! in one dimension a single loop does the whole step of each lane in registers, in more one
//! loop per operation. Normal draws take the ziggurat's common case for all lanes at once and
//! finish the rare cases lane by lane ([`crate::dynamics::normal`]); in one dimension such a
//! lane's step is then redone with the full draw, and where the exit is checked at the steps
//! (a coordinate or none, no bridge) the lane waits for that redo while the others run on, so
//! that rounds of several steps pass without a branch per step. Every lane draws from its
//! streams in the same order, and performs the same floating-point operations in the same
//! order, as the generic loop ([`super::run_replica`] with [`crate::dynamics::Sde`]): the outcomes are bit-identical.

// Loops over lanes index several arrays by lane on purpose: that is the form that vectorises.
#![allow(clippy::needless_range_loop)]

mod step;

use super::ensemble::{ReplicaQueue, final_status, merge_outcomes, pending_replicas, run_lane_workers};
use super::{EnsembleSpec, Exit, ReplicaOutcome};
use crate::dynamics::rng::replica_rng;
use crate::dynamics::{Noise, Solver};
use crate::model::{DoubleWell, Model};
use step::step_lanes;

/// Replicas stepped together (enough that the loops over lanes are vectorised, not unrolled).
pub const LANES: usize = 64;

/// The noise, reduced to what the kernel needs.
#[derive(Clone, Copy)]
enum LaneNoise<'a> {
    /// Σ = 2 L(θ) H*/B: D ∝ max(L, 0).
    Paper { lr: f64, batch: f64, sqrt_hessian: &'a [f64], trace_hessian: f64 },
    /// Σ = 2 L* H*/B.
    Frozen { lr: f64, batch: f64, loss_at_minimum: f64, sqrt_hessian: &'a [f64], trace_hessian: f64 },
    /// D = T.
    Isotropic { temperature: f64 },
}

/// The SDE this kernel runs: the model, the noise, the step rule and the step `dt`.
pub struct DoubleWellSde<'a> {
    model: &'a DoubleWell,
    noise: LaneNoise<'a>,
    dt: f64,
    solver: &'a Solver,
    bridge: bool,
}

impl<'a> DoubleWellSde<'a> {
    /// The kernel's form of `noise` with `solver` and `bridge`, or `None` where the generic
    /// loop must run it (time-changed or exact noise, noise in the outlier subspace, the
    /// Lamperti clock, the bridge on an exit other than a coordinate).
    pub fn new(model: &'a DoubleWell, dt: f64, noise: &'a Noise, solver: &'a Solver, bridge: bool, exit: &Exit) -> Option<Self> {
        let noise = match noise {
            Noise::Paper { lr, batch_size, sqrt_hessian } => LaneNoise::Paper {
                lr: *lr,
                batch: *batch_size as f64,
                sqrt_hessian: sqrt_hessian.as_dense()?,
                trace_hessian: sqrt_hessian.trace(),
            },
            Noise::Frozen { lr, batch_size, sqrt_hessian, loss_at_minimum } => LaneNoise::Frozen {
                lr: *lr,
                batch: *batch_size as f64,
                loss_at_minimum: *loss_at_minimum,
                sqrt_hessian: sqrt_hessian.as_dense()?,
                trace_hessian: sqrt_hessian.trace(),
            },
            Noise::Isotropic { temperature } => LaneNoise::Isotropic { temperature: *temperature },
            Noise::Exact { .. } | Noise::TimeChanged { .. } => return None,
        };
        if matches!(solver, Solver::Lamperti { .. })
            || matches!(exit, Exit::Basin { .. } | Exit::Distance { .. })
            || (bridge && !matches!(exit, Exit::Coordinate { .. } | Exit::Never))
        {
            return None;
        }
        (dt.is_finite() && dt > 0.0).then_some(DoubleWellSde { model, noise, dt, solver, bridge })
    }
}

/// Lane states of one task.
/// Per-coordinate arrays are `[P][LANES]`: fixed-length rows, so that loops over lanes carry
/// no bounds checks and vectorise.
struct Lanes {
    theta: Vec<[f64; LANES]>,
    before: Vec<[f64; LANES]>,
    grad: Vec<[f64; LANES]>,
    z: Vec<[f64; LANES]>,
    s: [[u64; LANES]; 4],
    /// The bridge's stream (the replica's stream 2¹²⁸ draws ahead).
    b: [[u64; LANES]; 4],
    loss: [f64; LANES],
    h: [f64; LANES],
    time: [f64; LANES],
    steps: [u64; LANES],
    replica: [usize; LANES],
    active: [bool; LANES],
    /// `active` as a bit mask: events of idle lanes are ignored.
    active_bits: u64,
}

/// Runs the replicas of `spec` not in `completed`, as [`super::run_ensemble`] does for
/// [`crate::dynamics::Sde`] with the same noise, solver and bridge, with bit-identical outcomes.
pub fn run_double_well_sde(
    sde: &DoubleWellSde,
    exit: &Exit,
    start: &[f64],
    spec: EnsembleSpec,
    completed: Vec<ReplicaOutcome>,
    on_done: &(dyn Fn(&ReplicaOutcome) + Sync),
) -> Vec<ReplicaOutcome> {
    let pending = pending_replicas(spec, &completed);
    let fresh = run_lane_workers(&pending, LANES, |queue| run_task(sde, exit, start, spec, queue, on_done));
    merge_outcomes(spec, completed, fresh)
}

fn run_task(
    sde: &DoubleWellSde,
    exit: &Exit,
    start: &[f64],
    spec: EnsembleSpec,
    queue: &ReplicaQueue,
    on_done: &(dyn Fn(&ReplicaOutcome) + Sync),
) -> Vec<ReplicaOutcome> {
    let p = sde.model.dim();
    let mut lanes = Lanes {
        theta: vec![[0.0; LANES]; p],
        before: vec![[0.0; LANES]; p],
        grad: vec![[0.0; LANES]; p],
        z: vec![[0.0; LANES]; p],
        s: [[0; LANES]; 4],
        b: [[0; LANES]; 4],
        loss: [0.0; LANES],
        h: [0.0; LANES],
        time: [0.0; LANES],
        steps: [0; LANES],
        replica: [0; LANES],
        active: [false; LANES],
        active_bits: 0,
    };
    let fixed_step = matches!(sde.solver, Solver::EulerMaruyama);
    let load = |lanes: &mut Lanes, l: usize, replica: usize| {
        let rng = replica_rng(spec.seed, replica as u64);
        let (state, bridge) = (rng.state(), rng.jumped().state());
        for k in 0..4 {
            lanes.s[k][l] = state[k];
            lanes.b[k][l] = bridge[k];
        }
        for a in 0..p {
            lanes.theta[a][l] = start[a];
        }
        lanes.time[l] = 0.0;
        lanes.steps[l] = 0;
        lanes.replica[l] = replica;
        lanes.active[l] = true;
        lanes.active_bits |= 1 << l;
    };
    for l in 0..LANES {
        if let Some(replica) = queue.pop() {
            load(&mut lanes, l, replica);
        }
    }
    let mut outcomes = Vec::new();
    let mut theta_l = vec![0.0; p];
    let max_steps = spec.max_steps.min(1 << 62);
    while lanes.active.iter().any(|&a| a) {
        let mask = step_lanes(&mut lanes, sde, p, exit, max_steps);
        for l in 0..LANES {
            if mask & (1 << l) == 0 || !lanes.active[l] {
                continue;
            }
            for a in 0..p {
                theta_l[a] = lanes.theta[a][l];
            }
            let bridged = lanes.steps[l] >> 63 == 1;
            let steps = lanes.steps[l] & !(1 << 63);
            let time = if fixed_step { sde.dt * steps as f64 } else { lanes.time[l] };
            let status = final_status(sde.model, exit, &theta_l, time, bridged);
            let outcome = ReplicaOutcome { replica: lanes.replica[l], steps, time, status, final_theta: theta_l.clone() };
            on_done(&outcome);
            outcomes.push(outcome);
            lanes.active[l] = false;
            lanes.active_bits &= !(1 << l);
            if let Some(replica) = queue.pop() {
                load(&mut lanes, l, replica);
            }
        }
    }
    outcomes
}
