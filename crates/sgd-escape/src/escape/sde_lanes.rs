//! Struct-of-arrays ensemble kernel for SDEs on the analytic double well
//! `L = ε + (θ₁² − 1)²/4 + (k/2) Σ_{i≥2} θ_i²` (any dimension) with the paper's, the frozen or
//! the isotropic noise, Euler–Maruyama or adaptive steps, and exits checked at the steps or
//! (coordinate exits) between them by the Brownian bridge.
//!
//! Replicas run in lanes of [`LANES`] as in [`super::lanes`]: θ is stored as `[P][LANES]`, each
//! lane carries its replica's xoshiro256++ state (and, with the bridge, the state 2¹²⁸ draws
//! ahead), and one step advances every lane with loops over lanes that vectorise. Normal draws
//! take the ziggurat's common case for all lanes at once and finish the rare cases lane by lane
//! ([`crate::dynamics::normal`]). Every lane draws from its streams in the same order, and
//! performs the same floating-point operations in the same order, as the generic loop
//! ([`super::run_replica`] with [`crate::dynamics::Sde`]): the outcomes are bit-identical.

// Loops over lanes index several arrays by lane on purpose: that is the form that vectorises.
#![allow(clippy::needless_range_loop)]

use super::ensemble::{final_status, merge_outcomes, pending_replicas};
use super::{EnsembleSpec, Exit, ReplicaOutcome};
use crate::dynamics::normal::{layer, signed_unit, slow_normal, ziggurat_tables};
use crate::dynamics::rng::{next_lane_u64 as next_u64, replica_rng, unit_uniform};
use crate::dynamics::{Noise, Solver};
use crate::model::{DoubleWell, Model};
use multiversion::multiversion;
use rayon::prelude::*;

/// Replicas stepped together (enough that the loops over lanes are vectorised, not unrolled).
pub const LANES: usize = 64;

/// Replicas handed to one task (refilling its lanes as replicas exit).
const REPLICAS_PER_TASK: usize = 1024;

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
    /// loop must run it (time-changed or exact noise, the Lamperti clock, the bridge on an exit
    /// other than a coordinate).
    pub fn new(model: &'a DoubleWell, dt: f64, noise: &'a Noise, solver: &'a Solver, bridge: bool, exit: &Exit) -> Option<Self> {
        let trace = |s: &[f64]| s.iter().map(|v| v * v).sum::<f64>();
        let noise = match noise {
            Noise::Paper { lr, batch_size, sqrt_hessian } => {
                LaneNoise::Paper { lr: *lr, batch: *batch_size as f64, sqrt_hessian, trace_hessian: trace(sqrt_hessian) }
            }
            Noise::Frozen { lr, batch_size, sqrt_hessian, loss_at_minimum } => LaneNoise::Frozen {
                lr: *lr,
                batch: *batch_size as f64,
                loss_at_minimum: *loss_at_minimum,
                sqrt_hessian,
                trace_hessian: trace(sqrt_hessian),
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

/// Noise kinds, as constants of the monomorphised step.
const PAPER: u8 = 0;
const FROZEN: u8 = 1;
const ISOTROPIC: u8 = 2;

/// Advances every lane until at least one has an event (exit, divergence, `max_steps`) and
/// returns the lanes with an event as a bit mask.
#[multiversion(targets("x86_64+avx512f+avx512dq+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
fn step_lanes(lanes: &mut Lanes, sde: &DoubleWellSde, p: usize, exit: &Exit, max_steps: u64) -> u64 {
    let kind = match sde.noise {
        LaneNoise::Paper { .. } => PAPER,
        LaneNoise::Frozen { .. } => FROZEN,
        LaneNoise::Isotropic { .. } => ISOTROPIC,
    };
    let adaptive = matches!(sde.solver, Solver::Adaptive { .. });
    // Constant arguments let each variant of the step compile without branches on them.
    macro_rules! run {
        ($kind:expr, $adaptive:expr) => {
            loop {
                let mask = if p == 1 {
                    step_lanes_once::<{ $kind }, { $adaptive }>(lanes, sde, 1, exit, max_steps)
                } else {
                    step_lanes_once::<{ $kind }, { $adaptive }>(lanes, sde, p, exit, max_steps)
                };
                if mask != 0 {
                    return mask;
                }
            }
        };
    }
    match (kind, adaptive) {
        (PAPER, false) => run!(PAPER, false),
        (PAPER, true) => run!(PAPER, true),
        (FROZEN, false) => run!(FROZEN, false),
        (FROZEN, true) => run!(FROZEN, true),
        (_, false) => run!(ISOTROPIC, false),
        (_, true) => run!(ISOTROPIC, true),
    }
}

/// One step of every lane: the operations of `Sde::step` and `run_replica`, lane-wise.
#[inline(always)]
fn step_lanes_once<const KIND: u8, const ADAPTIVE: bool>(
    lanes: &mut Lanes,
    sde: &DoubleWellSde,
    p: usize,
    exit: &Exit,
    max_steps: u64,
) -> u64 {
    let DoubleWell { epsilon, stiffness: k, .. } = *sde.model;
    // The noise's numbers (unused ones are zero for the other kinds).
    let (lr, batch, loss_at_minimum, temperature, trace_hessian, sqrt_hessian): (f64, f64, f64, f64, f64, &[f64]) = match sde.noise {
        LaneNoise::Paper { lr, batch, sqrt_hessian, trace_hessian } => (lr, batch, 0.0, 0.0, trace_hessian, sqrt_hessian),
        LaneNoise::Frozen { lr, batch, loss_at_minimum, sqrt_hessian, trace_hessian } => {
            (lr, batch, loss_at_minimum, 0.0, trace_hessian, sqrt_hessian)
        }
        LaneNoise::Isotropic { temperature } => (0.0, 1.0, 0.0, temperature, 0.0, &[]),
    };
    let (x_table, ratio_table) = ziggurat_tables();
    let Lanes { theta, before, grad, z, s, b, loss, h, time, steps, active_bits, .. } = lanes;
    if sde.bridge {
        before.copy_from_slice(theta);
    }
    // L and ∇L (DoubleWell::loss_and_gradient). Rows are taken before each loop over lanes,
    // so that the loop carries no bounds check and vectorises.
    let mut transverse = [0.0; LANES];
    for a in 1..p {
        let (t, g) = (&theta[a], &mut grad[a]);
        for l in 0..LANES {
            g[l] = k * t[l];
            transverse[l] += t[l] * t[l];
        }
    }
    {
        let (t, g) = (&theta[0], &mut grad[0]);
        for l in 0..LANES {
            let u = t[l] * t[l] - 1.0;
            g[l] = t[l] * u;
            loss[l] = epsilon + 0.25 * u * u + 0.5 * k * transverse[l];
        }
    }
    // The step h (Solver::step_size with Sde::diffusion_trace).
    if ADAPTIVE {
        let Solver::Adaptive { tolerance, length, origin } = sde.solver else { unreachable!("adaptive") };
        let (tolerance, length) = (*tolerance, *length);
        // Sums start at −0.0, as Rust's float `sum` does.
        let (mut g2, mut r2) = ([-0.0; LANES], [-0.0; LANES]);
        for a in 0..p {
            let (t, g, o) = (&theta[a], &grad[a], origin[a]);
            for l in 0..LANES {
                g2[l] += g[l] * g[l];
                let d = t[l] - o;
                r2[l] += d * d;
            }
        }
        for l in 0..LANES {
            let drift = g2[l].sqrt() / 1.0;
            let trace = match KIND {
                PAPER => lr * loss[l].max(0.0) * trace_hessian / batch,
                FROZEN => lr * loss_at_minimum * trace_hessian / batch,
                _ => temperature * p as f64,
            };
            let reach = tolerance * (length + r2[l].sqrt());
            let mut step = sde.dt;
            if trace > 0.0 {
                step = step.min(reach * reach / (2.0 * trace));
            }
            if drift > 0.0 {
                step = step.min(reach / drift);
            }
            h[l] = step;
        }
    } else {
        h.fill(sde.dt);
    }
    // Normals, coordinate by coordinate, each lane in its own stream's order: the ziggurat's
    // common case for every lane, then the rare rest lane by lane.
    for a in 0..p {
        let za = &mut z[a];
        let mut words = [0u64; LANES];
        for l in 0..LANES {
            words[l] = next_u64(s, l);
        }
        let mut rejected = [0u8; LANES];
        for l in 0..LANES {
            let w = words[l];
            let u = signed_unit(w);
            let i = layer(w);
            za[l] = u * x_table[i];
            rejected[l] = u8::from(u.abs() >= ratio_table[i]);
        }
        // The rare rest, eight lanes at a time; idle lanes (never loaded: their generator
        // state is zero) need no value.
        for (c, chunk) in rejected.chunks_exact(8).enumerate() {
            let mut bytes = u64::from_le_bytes(chunk.try_into().expect("8 lanes"));
            while bytes != 0 {
                let l = c * 8 + (bytes.trailing_zeros() / 8) as usize;
                bytes &= bytes - 1;
                if *active_bits >> l & 1 == 1 {
                    za[l] = slow_normal(words[l], &mut || next_u64(s, l));
                }
            }
        }
    }
    // θ ← θ − h∇L + amplitude · S z (or + amplitude · z).
    let mut amplitude = [0.0; LANES];
    for l in 0..LANES {
        amplitude[l] = match KIND {
            PAPER => (2.0 * lr * loss[l].max(0.0) * h[l] / batch).sqrt(),
            FROZEN => (2.0 * lr * loss_at_minimum * h[l] / batch).sqrt(),
            _ => (2.0 * temperature * h[l]).sqrt(),
        };
    }
    for i in 0..p {
        let e = if KIND == ISOTROPIC {
            z[i]
        } else {
            let mut e = [-0.0; LANES];
            for j in 0..p {
                let (sij, zj) = (sqrt_hessian[i * p + j], &z[j]);
                for l in 0..LANES {
                    e[l] += sij * zj[l];
                }
            }
            e
        };
        let (t, g) = (&mut theta[i], &grad[i]);
        for l in 0..LANES {
            t[l] += -h[l] * g[l] + amplitude[l] * e[l];
        }
    }
    let mut hit = [false; LANES];
    for l in 0..LANES {
        time[l] += h[l];
        steps[l] += 1;
        hit[l] = steps[l] >= max_steps;
    }
    let mut finite = [true; LANES];
    for l in 0..LANES {
        finite[l] = time[l].is_finite();
    }
    for a in 0..p {
        let t = &theta[a];
        for l in 0..LANES {
            finite[l] &= t[l].is_finite();
        }
    }
    match exit {
        // DoubleWellSde::new refuses basin and distance exits.
        Exit::Never | Exit::Basin { .. } | Exit::Distance { .. } => {}
        Exit::Coordinate { axis, threshold } => {
            let t = &theta[*axis];
            for l in 0..LANES {
                hit[l] |= t[l] >= *threshold;
            }
        }
        Exit::LossAbove { threshold } => {
            let mut transverse = [0.0; LANES];
            for a in 1..p {
                let t = &theta[a];
                for l in 0..LANES {
                    transverse[l] += t[l] * t[l];
                }
            }
            let t = &theta[0];
            for l in 0..LANES {
                let u = t[l] * t[l] - 1.0;
                hit[l] |= epsilon + 0.25 * u * u + 0.5 * k * transverse[l] > *threshold;
            }
        }
        Exit::Hyperplane { normal, offset } => {
            let mut dot = [0.0; LANES];
            for a in 0..p {
                let (t, n) = (&theta[a], normal[a]);
                for l in 0..LANES {
                    dot[l] += n * t[l];
                }
            }
            for l in 0..LANES {
                hit[l] |= dot[l] > *offset;
            }
        }
    }
    for l in 0..LANES {
        hit[l] |= !finite[l];
    }
    // The Brownian bridge (Exit::bridge_crossing_probability for a coordinate exit), where
    // the step neither exited nor diverged.
    if sde.bridge
        && let Exit::Coordinate { axis, threshold } = exit
    {
        for l in 0..LANES {
            if hit[l] && (theta[*axis][l] >= *threshold || !finite[l]) {
                continue;
            }
            let (d0, d1) = (threshold - before[*axis][l], threshold - theta[*axis][l]);
            if d0 <= 0.0 || d1 <= 0.0 {
                continue;
            }
            let along = || (0..p).map(|i| sqrt_hessian[i * p + axis] * sqrt_hessian[i * p + axis]).sum::<f64>();
            let variance = match KIND {
                PAPER => 2.0 * lr * loss[l].max(0.0) / batch * along(),
                FROZEN => 2.0 * lr * loss_at_minimum / batch * along(),
                _ => 2.0 * temperature,
            } * h[l];
            let crossing = if variance > 0.0 { (-2.0 * d0 * d1 / variance).exp() } else { 0.0 };
            if crossing > 0.0 {
                let w = next_u64(b, l);
                if unit_uniform(w) < crossing {
                    hit[l] = true;
                    // Marks the exit for the caller: the lane's θ is not past the threshold.
                    steps[l] |= 1 << 63;
                }
            }
        }
    }
    let mut mask = 0u64;
    for (l, hl) in hit.iter().enumerate() {
        mask |= (*hl as u64) << l;
    }
    mask & *active_bits
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
    let fresh: Vec<ReplicaOutcome> = pending
        .par_chunks(REPLICAS_PER_TASK)
        .with_max_len(1)
        .flat_map_iter(|chunk| run_task(sde, exit, start, spec, chunk, on_done))
        .collect();
    merge_outcomes(spec, completed, fresh)
}

fn run_task(
    sde: &DoubleWellSde,
    exit: &Exit,
    start: &[f64],
    spec: EnsembleSpec,
    queue: &[usize],
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
    let mut next = 0;
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
        if next < queue.len() && !crate::cancel::requested() {
            load(&mut lanes, l, queue[next]);
            next += 1;
        }
    }
    let mut outcomes = Vec::with_capacity(queue.len());
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
            if next < queue.len() && !crate::cancel::requested() {
                load(&mut lanes, l, queue[next]);
                next += 1;
            }
        }
    }
    outcomes
}
