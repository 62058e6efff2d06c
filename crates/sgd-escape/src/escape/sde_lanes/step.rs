//! One step of every lane of the SDE kernel: in one dimension a single loop over the lanes,
//! in more one pass over the lanes per operation; then the exit tests and the bridge.

// Loops over lanes index several arrays by lane on purpose: that is the form that vectorises.
#![allow(clippy::needless_range_loop)]

use super::{DoubleWellSde, LANES, LaneNoise, Lanes};
use crate::dynamics::Solver;
use crate::dynamics::normal::{layer, signed_unit, slow_normal, ziggurat_tables};
use crate::dynamics::rng::{next_lane_u64 as next_u64, unit_uniform, xoshiro256pp_next};
use crate::escape::Exit;
use crate::escape::exit::{bridge_exp, bridge_exp_may_be_positive};
use crate::model::DoubleWell;
use multiversion::multiversion;

/// Noise kinds, as constants of the monomorphised step.
const PAPER: u8 = 0;
const FROZEN: u8 = 1;
const ISOTROPIC: u8 = 2;

/// The numbers of a step that do not change between steps (unused ones are zero for the other
/// noise kinds and solvers).
#[derive(Clone, Copy)]
struct StepNumbers<'a> {
    epsilon: f64,
    stiffness: f64,
    dt: f64,
    lr: f64,
    batch: f64,
    /// `1/B` where multiplying by it rounds as dividing by B does ([`exact_inverse`]).
    inverse_batch: Option<f64>,
    loss_at_minimum: f64,
    temperature: f64,
    trace_hessian: f64,
    sqrt_hessian: &'a [f64],
    tolerance: f64,
    length: f64,
    origin: &'a [f64],
    /// `sqrt_hessian[0]` and `origin[0]` (zero where empty), for one dimension.
    sqrt_hessian_00: f64,
    origin_0: f64,
}

impl<'a> StepNumbers<'a> {
    fn new(sde: &DoubleWellSde<'a>) -> Self {
        let DoubleWell { epsilon, stiffness, .. } = *sde.model;
        let (lr, batch, loss_at_minimum, temperature, trace_hessian, sqrt_hessian): (f64, f64, f64, f64, f64, &[f64]) = match sde.noise {
            LaneNoise::Paper { lr, batch, sqrt_hessian, trace_hessian } => (lr, batch, 0.0, 0.0, trace_hessian, sqrt_hessian),
            LaneNoise::Frozen { lr, batch, loss_at_minimum, sqrt_hessian, trace_hessian } => {
                (lr, batch, loss_at_minimum, 0.0, trace_hessian, sqrt_hessian)
            }
            LaneNoise::Isotropic { temperature } => (0.0, 1.0, 0.0, temperature, 0.0, &[]),
        };
        let (tolerance, length, origin): (f64, f64, &[f64]) = match sde.solver {
            Solver::Adaptive { tolerance, length, origin } => (*tolerance, *length, origin),
            _ => (0.0, 0.0, &[]),
        };
        StepNumbers {
            epsilon,
            stiffness,
            dt: sde.dt,
            lr,
            batch,
            inverse_batch: exact_inverse(batch),
            loss_at_minimum,
            temperature,
            trace_hessian,
            sqrt_hessian,
            tolerance,
            length,
            origin,
            sqrt_hessian_00: sqrt_hessian.first().copied().unwrap_or(0.0),
            origin_0: origin.first().copied().unwrap_or(0.0),
        }
    }

    /// `x / B`, as a product where that rounds alike (`EXACT`, B a power of two).
    #[inline(always)]
    fn per_batch<const EXACT: bool>(&self, x: f64) -> f64 {
        if EXACT { x * self.inverse_batch.unwrap_or(f64::NAN) } else { x / self.batch }
    }

    /// Tr D(θ) for the adaptive step (`Sde::diffusion_trace`), from L(θ).
    #[inline(always)]
    fn diffusion_trace<const KIND: u8, const EXACT: bool>(&self, loss: f64, p: usize) -> f64 {
        match KIND {
            PAPER => self.per_batch::<EXACT>(self.lr * loss.max(0.0) * self.trace_hessian),
            FROZEN => self.per_batch::<EXACT>(self.lr * self.loss_at_minimum * self.trace_hessian),
            _ => self.temperature * p as f64,
        }
    }

    /// The adaptive step (`Solver::step_size`) from |∇L|², |θ − origin|² (sums started at −0.0,
    /// as Rust's float `sum` does) and Tr D.
    #[inline(always)]
    fn adaptive_step(&self, gradient_squared: f64, distance_squared: f64, trace: f64) -> f64 {
        let drift = gradient_squared.sqrt() / 1.0;
        let reach = self.tolerance * (self.length + distance_squared.sqrt());
        let mut step = self.dt;
        if trace > 0.0 {
            step = step.min(reach * reach / (2.0 * trace));
        }
        if drift > 0.0 {
            step = step.min(reach / drift);
        }
        step
    }

    /// The noise amplitude √(2 D h) per unit of (H*)^{1/2} z.
    #[inline(always)]
    fn amplitude<const KIND: u8, const EXACT: bool>(&self, loss: f64, h: f64) -> f64 {
        match KIND {
            PAPER => self.per_batch::<EXACT>(2.0 * self.lr * loss.max(0.0) * h).sqrt(),
            FROZEN => self.per_batch::<EXACT>(2.0 * self.lr * self.loss_at_minimum * h).sqrt(),
            _ => (2.0 * self.temperature * h).sqrt(),
        }
    }

    /// One step in one dimension from θ = `t` with the normal draw `z`: θ after the step, the
    /// step h and L(θ) before it. The arithmetic of the passes of [`advance_lanes`] for P = 1,
    /// operation for operation.
    #[inline(always)]
    fn one_dimension<const KIND: u8, const ADAPTIVE: bool, const EXACT: bool>(&self, t: f64, z: f64) -> (f64, f64, f64) {
        let u = t * t - 1.0;
        let g = t * u;
        // The transverse sum is empty (0.0) in one dimension.
        let loss = self.epsilon + 0.25 * u * u + 0.5 * self.stiffness * 0.0;
        let h = if ADAPTIVE {
            let d = t - self.origin_0;
            self.adaptive_step(-0.0 + g * g, -0.0 + d * d, self.diffusion_trace::<KIND, EXACT>(loss, 1))
        } else {
            self.dt
        };
        let e = if KIND == ISOTROPIC { z } else { -0.0 + self.sqrt_hessian_00 * z };
        (t + (-h * g + self.amplitude::<KIND, EXACT>(loss, h) * e), h, loss)
    }
}

/// Advances every lane until at least one has an event (exit, divergence, `max_steps`) and
/// returns the lanes with an event as a bit mask.
#[multiversion(targets("x86_64+avx512f+avx512dq+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
pub(super) fn step_lanes(lanes: &mut Lanes, sde: &DoubleWellSde, p: usize, exit: &Exit, max_steps: u64) -> u64 {
    let kind = match sde.noise {
        LaneNoise::Paper { .. } => PAPER,
        LaneNoise::Frozen { .. } => FROZEN,
        LaneNoise::Isotropic { .. } => ISOTROPIC,
    };
    let adaptive = matches!(sde.solver, Solver::Adaptive { .. });
    let numbers = StepNumbers::new(sde);
    let exact = numbers.inverse_batch.is_some();
    // Constant arguments let each variant of the step compile without branches on them. One
    // dimension takes a single pass over the lanes; more take one pass per operation. One
    // dimension with the exit checked at the steps (a coordinate or none, no bridge) runs rounds
    // without a branch per step (`advance_one_dimension_held`).
    let threshold = match exit {
        Exit::Never => Some(f64::INFINITY),
        Exit::Coordinate { threshold, .. } => Some(*threshold),
        _ => None,
    };
    let held = p == 1 && !sde.bridge && threshold.is_some();
    let threshold = threshold.unwrap_or(f64::INFINITY);
    macro_rules! run {
        ($kind:expr, $adaptive:expr) => {
            loop {
                if held {
                    let mask = if exact {
                        advance_one_dimension_held::<{ $kind }, { $adaptive }, true>(lanes, &numbers, threshold, max_steps)
                    } else {
                        advance_one_dimension_held::<{ $kind }, { $adaptive }, false>(lanes, &numbers, threshold, max_steps)
                    };
                    if mask != 0 {
                        return mask;
                    }
                    continue;
                }
                let (hit, finite) = match (p, exact) {
                    (1, true) => advance_one_dimension::<{ $kind }, { $adaptive }, true>(lanes, &numbers, max_steps),
                    (1, false) => advance_one_dimension::<{ $kind }, { $adaptive }, false>(lanes, &numbers, max_steps),
                    _ => advance_lanes::<{ $kind }, { $adaptive }>(lanes, &numbers, sde.bridge, p, max_steps),
                };
                let mask = events::<{ $kind }>(lanes, sde, &numbers, p, exit, hit, finite);
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

/// One step of every lane in one dimension, in a single loop over lanes: the ziggurat's common
/// case and the whole step of each lane in registers. A lane whose draw the common case
/// rejects is then redone from its θ before the step with the full draw (the same stream
/// order as the scalar sampler). Returns `steps ≥ max_steps` and the finiteness of t and θ.
#[inline(always)]
fn advance_one_dimension<const KIND: u8, const ADAPTIVE: bool, const EXACT: bool>(
    lanes: &mut Lanes,
    numbers: &StepNumbers,
    max_steps: u64,
) -> ([bool; LANES], [bool; LANES]) {
    // Local copies of the numbers and of θ: the loop's stores cannot alias them (θ's row is on
    // the heap), so that the loop vectorises.
    let numbers = *numbers;
    let (x_table, ratio_table) = ziggurat_tables();
    let Lanes { theta, before, s, loss, h, time, steps, active_bits, .. } = lanes;
    let mut t = theta[0];
    let mut b = [0.0; LANES];
    let mut words = [0u64; LANES];
    let mut rejected = [0u8; LANES];
    let (mut hit, mut finite) = ([false; LANES], [true; LANES]);
    for l in 0..LANES {
        let w = next_u64(s, l);
        let u = signed_unit(w);
        let i = layer(w);
        words[l] = w;
        rejected[l] = u8::from(u.abs() >= ratio_table[i]);
        b[l] = t[l];
        let (next, step, loss_l) = numbers.one_dimension::<KIND, ADAPTIVE, EXACT>(t[l], u * x_table[i]);
        t[l] = next;
        h[l] = step;
        loss[l] = loss_l;
        time[l] += step;
        steps[l] += 1;
        hit[l] = steps[l] >= max_steps;
        finite[l] = time[l].is_finite() & next.is_finite();
    }
    for_each_set_byte(&rejected, |l| {
        // Idle lanes (never loaded: their generator state is zero) need no value.
        if *active_bits >> l & 1 == 1 {
            let z = slow_normal(words[l], &mut || next_u64(s, l));
            t[l] = numbers.one_dimension::<KIND, ADAPTIVE, EXACT>(b[l], z).0;
            finite[l] = time[l].is_finite() & t[l].is_finite();
        }
    });
    (theta[0], before[0]) = (t, b);
    (hit, finite)
}

/// Steps taken by every lane between two passes over the rare draws (a lane whose draw the
/// ziggurat's common case rejects waits for that pass, on average half a round).
const ROUND: usize = 4;

/// Rounds of [`ROUND`] steps of every lane in one dimension with the exit `θ ≥ threshold`
/// checked at the steps, until a lane has an event (exit, divergence, `max_steps`); returns
/// the lanes with an event as a bit mask.
///
/// A lane whose draw the common case rejects is held (θ before that step, stream after its
/// first word) until the end of the round, where its step is redone with the full draw (the
/// same stream order as the scalar sampler); a lane with an event is held until the caller
/// takes it. Every lane thus performs the operations of [`advance_one_dimension`] and the exit
/// test of [`events`] in the same order, with no branch per step. Measured on W2 (bench/README):
/// about 1.2× the step-by-step loop, which branched on the rare draws after every step.
#[inline(always)]
fn advance_one_dimension_held<const KIND: u8, const ADAPTIVE: bool, const EXACT: bool>(
    lanes: &mut Lanes,
    numbers: &StepNumbers,
    threshold: f64,
    max_steps: u64,
) -> u64 {
    let numbers = *numbers;
    let (x_table, ratio_table) = ziggurat_tables();
    let Lanes { theta, s, time, steps, active_bits, .. } = lanes;
    let active_bits = *active_bits;
    let mut t = theta[0];
    let mut words = [0u64; LANES];
    let mut held = [false; LANES];
    let mut pending = [false; LANES];
    let mut event = [false; LANES];
    for l in 0..LANES {
        held[l] = active_bits >> l & 1 == 0;
    }
    let ends = |t: f64, time: f64, steps: u64| steps >= max_steps || !((!ADAPTIVE || time.is_finite()) & t.is_finite()) || t >= threshold;
    loop {
        for _ in 0..ROUND {
            for l in 0..LANES {
                let (mut s0, mut s1, mut s2, mut s3) = (s[0][l], s[1][l], s[2][l], s[3][l]);
                let w = xoshiro256pp_next(&mut s0, &mut s1, &mut s2, &mut s3);
                let u = signed_unit(w);
                let i = layer(w);
                let rejected = u.abs() >= ratio_table[i];
                let (next, step, _) = numbers.one_dimension::<KIND, ADAPTIVE, EXACT>(t[l], u * x_table[i]);
                let go = !held[l];
                let accepted = go & !rejected;
                // Selects, not conditional stores: masked stores do not forward to the next
                // step's loads. The stream moves with `go`, not with acceptance, which would
                // put the table lookup into the stream's chain from step to step; the word of
                // a rejected draw is kept for the rare pass instead.
                s[0][l] = if go { s0 } else { s[0][l] };
                s[1][l] = if go { s1 } else { s[1][l] };
                s[2][l] = if go { s2 } else { s[2][l] };
                s[3][l] = if go { s3 } else { s[3][l] };
                words[l] = if go { w } else { words[l] };
                t[l] = if accepted { next } else { t[l] };
                // Fixed steps report t = dt · steps (`run_task`): no sum of steps is kept.
                if ADAPTIVE {
                    time[l] = if go { time[l] + step } else { time[l] };
                }
                steps[l] += u64::from(go);
                let ended = accepted & ends(next, time[l], steps[l]);
                pending[l] |= go & rejected;
                event[l] |= ended;
                held[l] |= (go & rejected) | ended;
            }
        }
        let mut rare = 0u64;
        for l in 0..LANES {
            rare |= (pending[l] as u64) << l;
        }
        while rare != 0 {
            let l = rare.trailing_zeros() as usize;
            rare &= rare - 1;
            let z = slow_normal(words[l], &mut || next_u64(s, l));
            t[l] = numbers.one_dimension::<KIND, ADAPTIVE, EXACT>(t[l], z).0;
            pending[l] = false;
            event[l] = ends(t[l], time[l], steps[l]);
            held[l] = event[l];
        }
        let mut mask = 0u64;
        for l in 0..LANES {
            mask |= (event[l] as u64) << l;
        }
        if mask != 0 {
            theta[0] = t;
            return mask & active_bits;
        }
    }
}

/// Calls `f(l)` for every lane `l` whose byte is nonzero, eight lanes at a time (the bytes are
/// rarely set).
#[inline(always)]
fn for_each_set_byte(bytes: &[u8; LANES], mut f: impl FnMut(usize)) {
    for (c, chunk) in bytes.chunks_exact(8).enumerate() {
        let mut set = u64::from_le_bytes(chunk.try_into().expect("8 lanes"));
        while set != 0 {
            f(c * 8 + (set.trailing_zeros() / 8) as usize);
            set &= set - 1;
        }
    }
}

/// One step of every lane, one pass over the lanes per operation: the operations of
/// `Sde::step` and `run_replica`, lane-wise. Returns `steps ≥ max_steps` and the finiteness of
/// t and θ.
#[inline(always)]
fn advance_lanes<const KIND: u8, const ADAPTIVE: bool>(
    lanes: &mut Lanes,
    numbers: &StepNumbers,
    bridge: bool,
    p: usize,
    max_steps: u64,
) -> ([bool; LANES], [bool; LANES]) {
    let StepNumbers { epsilon, stiffness: k, sqrt_hessian, origin, .. } = *numbers;
    let (x_table, ratio_table) = ziggurat_tables();
    let Lanes { theta, before, grad, z, s, loss, h, time, steps, active_bits, .. } = lanes;
    if bridge {
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
            h[l] = numbers.adaptive_step(g2[l], r2[l], numbers.diffusion_trace::<KIND, false>(loss[l], p));
        }
    } else {
        h.fill(numbers.dt);
    }
    // Normals, coordinate by coordinate, each lane in its own stream's order: the ziggurat's
    // common case for every lane, then the rare rest lane by lane.
    for a in 0..p {
        let za = &mut z[a];
        let mut words = [0u64; LANES];
        for l in 0..LANES {
            words[l] = next_u64(s, l);
        }
        // Into local arrays first: the tables cannot alias them, so the loop vectorises
        // (with gathers for the table lookups).
        let mut rejected = [0u8; LANES];
        let mut value = [0.0; LANES];
        for l in 0..LANES {
            let w = words[l];
            let u = signed_unit(w);
            let i = layer(w);
            value[l] = u * x_table[i];
            rejected[l] = u8::from(u.abs() >= ratio_table[i]);
        }
        *za = value;
        // Idle lanes (never loaded: their generator state is zero) need no value.
        for_each_set_byte(&rejected, |l| {
            if *active_bits >> l & 1 == 1 {
                za[l] = slow_normal(words[l], &mut || next_u64(s, l));
            }
        });
    }
    // θ ← θ − h∇L + amplitude · S z (or + amplitude · z).
    let mut amplitude = [0.0; LANES];
    if numbers.inverse_batch.is_some() {
        for l in 0..LANES {
            amplitude[l] = numbers.amplitude::<KIND, true>(loss[l], h[l]);
        }
    } else {
        for l in 0..LANES {
            amplitude[l] = numbers.amplitude::<KIND, false>(loss[l], h[l]);
        }
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
    (hit, finite)
}

/// The exit tests after a step, the Brownian bridge for coordinate exits, and the mask of the
/// active lanes with an event.
#[inline(always)]
fn events<const KIND: u8>(
    lanes: &mut Lanes,
    sde: &DoubleWellSde,
    numbers: &StepNumbers,
    p: usize,
    exit: &Exit,
    mut hit: [bool; LANES],
    finite: [bool; LANES],
) -> u64 {
    let StepNumbers { epsilon, stiffness: k, lr, batch, loss_at_minimum, temperature, sqrt_hessian, .. } = *numbers;
    let Lanes { theta, before, b, loss, h, steps, active_bits, .. } = lanes;
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
        let (axis, threshold) = (*axis, *threshold);
        // (H*)_aa, the noise along the axis per unit of 2·lr·L/B (no H* for isotropic noise).
        let along =
            if KIND == ISOTROPIC { 0.0 } else { (0..p).map(|i| sqrt_hessian[i * p + axis] * sqrt_hessian[i * p + axis]).sum::<f64>() };
        // The exponent for every lane at once; `exp` and the draw only where the step stayed
        // short of the boundary (neither exited nor diverged) and the probability does not
        // underflow, which far from the boundary is rare.
        let mut near = 0u64;
        let mut exponent = [0.0; LANES];
        for l in 0..LANES {
            let (d0, d1) = (threshold - before[axis][l], threshold - theta[axis][l]);
            let variance = match KIND {
                PAPER => 2.0 * lr * loss[l].max(0.0) / batch * along,
                FROZEN => 2.0 * lr * loss_at_minimum / batch * along,
                _ => 2.0 * temperature,
            } * h[l];
            exponent[l] = -2.0 * d0 * d1 / variance;
            let stayed = !(hit[l] && (theta[axis][l] >= threshold || !finite[l]));
            let candidate = stayed && d0 > 0.0 && d1 > 0.0 && variance > 0.0 && bridge_exp_may_be_positive(exponent[l]);
            near |= u64::from(candidate) << l;
        }
        while near != 0 {
            let l = near.trailing_zeros() as usize;
            near &= near - 1;
            let crossing = bridge_exp(exponent[l]);
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

/// `1/b` where dividing by `b` and multiplying by `1/b` round alike for every `x` (`b` a
/// power of two, so that `1/b` is exact and `x/b` and `x·(1/b)` are the same real number).
fn exact_inverse(b: f64) -> Option<f64> {
    let inverse = 1.0 / b;
    (b.is_finite() && b > 0.0 && b.to_bits() & ((1 << 52) - 1) == 0 && inverse.is_normal()).then_some(inverse)
}

#[cfg(test)]
mod tests {
    use super::exact_inverse;

    /// Only powers of two (with a normal inverse) are multiplied instead of divided, and for
    /// them the two round alike.
    #[test]
    fn exact_inverses_are_those_of_powers_of_two() {
        for b in [1.0, 2.0, 4.0, 64.0, 0.5, 2f64.powi(1000)] {
            let inverse = exact_inverse(b).expect("a power of two");
            for x in [0.3, 1.0 / 3.0, 7.1e-310, 1e300, 5e-324] {
                assert_eq!((x / b).to_bits(), (x * inverse).to_bits(), "{x} / {b}");
            }
        }
        for b in [3.0, 10.0, 0.0, -2.0, f64::INFINITY, f64::NAN, 2f64.powi(1023), 5e-324] {
            assert_eq!(exact_inverse(b), None, "{b}");
        }
    }
}
