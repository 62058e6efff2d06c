//! Struct-of-arrays ensemble kernel for SGD on small networks ([`Mlp`]): the batched replica
//! engine for networks whose every matrix product in a step is tiny, such as the 13-2-3 network
//! of the `mlp-barrier` reproduction at B = 1 or 2.
//!
//! Replicas run in lanes of [`LANES`]: θ, its gradient and every intermediate array of the
//! forward and backward passes are stored as rows of `[f64; LANES]` (a P × LANES block for θ),
//! each lane carries its replica's xoshiro256++ state and draws its own minibatch, and one step
//! advances every lane with loops over lanes that the compiler vectorises (AVX-512 or AVX2,
//! chosen at run time). All buffers are allocated once per group of lanes; a lane whose replica
//! exits is refilled with the next pending replica, so exited replicas cost nothing.
//!
//! The kernel applies where [`crate::linalg::gemm`] computes every product of the per-replica
//! step by plain loops (B · in · out ≤ [`SMALL_GEMM`] for every layer, [`applies`]): then each
//! entry of a product is one dot product in order of its inner index, which the kernel repeats
//! lane by lane. Every lane draws from its replica's stream in the same order, and performs the
//! same floating-point operations in the same order, as the per-replica loop
//! ([`super::run_replica`] with [`crate::dynamics::Sgd`] and [`Mlp`]'s minibatch gradient): the
//! outcomes are bit-identical, only faster. Above that size a step's cost is its matrix
//! products, which the per-replica loop hands to faer's blocked kernels with each replica's
//! weights kept in cache from one step to the next.

// Loops over lanes index several arrays by lane on purpose: that is the form that vectorises.
#![allow(clippy::needless_range_loop)]

use super::ensemble::{ReplicaQueue, merge_outcomes, pending_replicas, run_lane_workers};
use super::lane_group::{LaneReplicas, SgdLanes, event_mask, run_sgd_lanes};
use super::lanes::{check_lane_inputs, index_from};
use super::{EnsembleSpec, Exit, ReplicaOutcome};
use crate::dynamics::rng::next_lane_u64 as next_u64;
use crate::dynamics::{Sampling, Sgd};
use crate::error::{Error, Result};
use crate::linalg::SMALL_GEMM;
use crate::model::{Activation, Mlp, Model};
use multiversion::multiversion;

/// Replicas stepped together.
pub const LANES: usize = 64;

/// One entry (a parameter, an activation, …) of every lane.
type Row = [f64; LANES];

/// Whether the kernel runs SGD on `model` with batches of `batch_size`: every layer's
/// B · in · out is at most [`SMALL_GEMM`], so that the per-replica loop computes each product of
/// a step by plain loops, whose order the kernel repeats.
pub fn applies(model: &Mlp, batch_size: usize) -> bool {
    model.sizes().windows(2).all(|w| batch_size.checked_mul(w[0] * w[1]).is_some_and(|macs| macs <= SMALL_GEMM))
}

/// One layer's place in θ and in the kernel's buffers.
#[derive(Clone, Copy)]
struct Layer {
    /// Inputs and outputs.
    inp: usize,
    out: usize,
    /// Offsets of W (out × in, row-major) and b in θ.
    w: usize,
    b: usize,
    /// Offset of its B × out pre-activations in `Lanes::z`, and of its activations in
    /// `Lanes::act` (hidden layers).
    z: usize,
    a: usize,
}

/// What a step needs besides the lanes.
struct Net<'a> {
    layers: Vec<Layer>,
    activation: Activation,
    /// The data: inputs row-major N × m, targets N × K.
    x: &'a [f64],
    y: &'a [f64],
    n: u32,
    batch: usize,
    lr: f64,
    weight_decay: f64,
    exit: LaneExit<'a>,
    max_steps: u64,
}

/// Exit tests evaluated for all lanes at once.
enum LaneExit<'a> {
    Never,
    Coordinate {
        axis: usize,
        threshold: f64,
    },
    Hyperplane {
        normal: &'a [f64],
        offset: f64,
    },
    /// Checked lane by lane through [`Exit::reached`] after every step.
    Other,
}

/// The lanes of one worker: their replicas' state and the step's buffers.
struct Lanes {
    /// θ and the minibatch gradient, one row per parameter.
    theta: Vec<Row>,
    grad: Vec<Row>,
    /// The batch's inputs (B × m rows) and targets (B × K).
    x: Vec<Row>,
    y: Vec<Row>,
    /// Pre-activations of every layer and activations of every hidden layer (B × width each).
    z: Vec<Row>,
    act: Vec<Row>,
    /// The adjoint of the current layer and the one below it (B × widest width).
    delta: Vec<Row>,
    below: Vec<Row>,
    /// The batch's sample indices.
    idx: Vec<[usize; LANES]>,
    replicas: LaneReplicas<LANES>,
}

/// The lanes with what their steps need, for the driver [`run_sgd_lanes`].
struct NetworkLanes<'a> {
    lanes: Lanes,
    net: Net<'a>,
}

impl SgdLanes<LANES> for NetworkLanes<'_> {
    fn replicas(&mut self) -> &mut LaneReplicas<LANES> {
        &mut self.lanes.replicas
    }
    fn set_theta(&mut self, l: usize, theta: &[f64]) {
        self.lanes.theta.iter_mut().zip(theta).for_each(|(row, t)| row[l] = *t);
    }
    fn theta(&self, l: usize, theta: &mut [f64]) {
        theta.iter_mut().zip(&self.lanes.theta).for_each(|(t, row)| *t = row[l]);
    }
    fn advance(&mut self, single_step: bool) -> u64 {
        step_lanes(&mut self.lanes, &self.net, single_step)
    }
}

/// Advances every lane by SGD steps until at least one lane hits an event (exit, divergence or
/// `max_steps`), or after one step when `single_step` (the exit is checked outside); returns
/// the lanes with an event as a bit mask.
#[multiversion(targets("x86_64+avx512f+avx512dq+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
fn step_lanes(lanes: &mut Lanes, net: &Net, single_step: bool) -> u64 {
    loop {
        let mask = step_lanes_once(lanes, net);
        if mask != 0 || single_step {
            return mask;
        }
    }
}

/// `Σ_t u_t v_t` lane by lane over the `terms` pairs `pair(t)`, summed from 0 in order of t:
/// one entry of a product as [`crate::linalg::gemm`] computes it by plain loops.
#[inline(always)]
fn lane_dot<'r>(terms: usize, pair: impl Fn(usize) -> (&'r Row, &'r Row)) -> Row {
    let mut sum = [0.0; LANES];
    for t in 0..terms {
        let (u, v) = pair(t);
        for l in 0..LANES {
            sum[l] += u[l] * v[l];
        }
    }
    sum
}

/// One SGD step of every lane; the event mask. The arithmetic of
/// [`crate::model::MinibatchGradient::minibatch_gradient_with`] for [`Mlp`] with the plain-loop
/// products of [`crate::linalg::gemm`], lane by lane.
#[inline(always)]
fn step_lanes_once(lanes: &mut Lanes, net: &Net) -> u64 {
    let Net { ref layers, activation, x: data_x, y: data_y, n, batch, lr, weight_decay, ref exit, max_steps } = *net;
    let Lanes { theta, grad, x, y, z, act, delta, below, idx, replicas: LaneReplicas { s, steps, .. } } = lanes;
    let (m, k) = (layers[0].inp, layers[layers.len() - 1].out);
    // Indices are below N by construction: `get` keeps the loads free of a panic branch, so
    // that they vectorise as gathers (the fallback is never taken).
    let load = |data: &[f64], at: usize| data.get(at).copied().unwrap_or(0.0);
    // Rows are taken out of their buffers before each loop over lanes, so that the loops
    // carry no bounds checks and vectorise.
    for (r, ir) in idx.iter_mut().enumerate() {
        for l in 0..LANES {
            ir[l] = index_from(next_u64(s, l), n);
        }
        for (c, xr) in x[r * m..(r + 1) * m].iter_mut().enumerate() {
            for l in 0..LANES {
                xr[l] = load(data_x, ir[l] * m + c);
            }
        }
        for (c, yr) in y[r * k..(r + 1) * k].iter_mut().enumerate() {
            for l in 0..LANES {
                yr[l] = load(data_y, ir[l] * k + c);
            }
        }
    }
    // Forward: z = b + Σ_p input_p W_jp (the sum from 0 in order of p), a = σ(z).
    for (i, layer) in layers.iter().enumerate() {
        let Layer { inp, out, w, b, z: zo, a: ao } = *layer;
        let input: &[Row] = if i == 0 { x } else { &act[layers[i - 1].a..] };
        for r in 0..batch {
            for j in 0..out {
                let sum = lane_dot(inp, |p| (&input[r * inp + p], &theta[w + j * inp + p]));
                let bias = &theta[b + j];
                let zr = &mut z[zo + r * out + j];
                for l in 0..LANES {
                    zr[l] = bias[l] + sum[l];
                }
            }
        }
        if i + 1 < layers.len() {
            for q in 0..batch * out {
                let (zr, ar) = (&z[zo + q], &mut act[ao + q]);
                for l in 0..LANES {
                    ar[l] = activation.apply(zr[l]);
                }
            }
        }
    }
    let out_z = layers[layers.len() - 1].z;
    let batch_f = batch as f64;
    for ((d, zr), yr) in delta.iter_mut().zip(&z[out_z..out_z + batch * k]).zip(y.iter()) {
        for l in 0..LANES {
            d[l] = (zr[l] - yr[l]) / batch_f;
        }
    }
    // Backward, layer by layer from the top: ∇W_jq += Σ_r δ_rj input_rq, ∇b_j += Σ_r δ_rj,
    // then the adjoint below, (δ W) ⊙ σ'.
    for i in (0..layers.len()).rev() {
        let Layer { inp, out, w, b, .. } = layers[i];
        let input: &[Row] = if i == 0 { x } else { &act[layers[i - 1].a..] };
        for j in 0..out {
            for q in 0..inp {
                let sum = lane_dot(batch, |r| (&delta[r * out + j], &input[r * inp + q]));
                // The per-replica loop adds the sum to a gradient it zeroed first: 0 + sum.
                let g = &mut grad[w + j * inp + q];
                for l in 0..LANES {
                    g[l] = 0.0 + sum[l];
                }
            }
        }
        for j in 0..out {
            let g = &mut grad[b + j];
            *g = [0.0; LANES];
            for r in 0..batch {
                let d = &delta[r * out + j];
                for l in 0..LANES {
                    g[l] += d[l];
                }
            }
        }
        if i > 0 {
            for r in 0..batch {
                for q in 0..inp {
                    let sum = lane_dot(out, |j| (&delta[r * out + j], &theta[w + j * inp + q]));
                    let (a, o) = (&input[r * inp + q], &mut below[r * inp + q]);
                    for l in 0..LANES {
                        o[l] = sum[l] * activation.slope(a[l]);
                    }
                }
            }
            std::mem::swap(delta, below);
        }
    }
    // One pass over θ: the weight decay (grad += λθ, when λ ≠ 0), the update, finiteness and
    // the hyperplane's linalg::dot(normal, θ) in its order.
    let mut hit = [false; LANES];
    let mut dot = [0.0; LANES];
    let normal = match exit {
        LaneExit::Hyperplane { normal, .. } => *normal,
        _ => &[],
    };
    for (a, (t, g)) in theta.iter_mut().zip(grad.iter_mut()).enumerate() {
        if weight_decay != 0.0 {
            for l in 0..LANES {
                g[l] += weight_decay * t[l];
            }
        }
        for l in 0..LANES {
            t[l] -= lr * g[l];
            hit[l] |= !t[l].is_finite();
        }
        if let Some(c) = normal.get(a) {
            for l in 0..LANES {
                dot[l] += c * t[l];
            }
        }
    }
    for l in 0..LANES {
        steps[l] += 1;
        hit[l] |= steps[l] >= max_steps;
    }
    match exit {
        LaneExit::Never | LaneExit::Other => {}
        LaneExit::Coordinate { axis, threshold } => {
            let t = &theta[*axis];
            for l in 0..LANES {
                hit[l] |= t[l] >= *threshold;
            }
        }
        LaneExit::Hyperplane { offset, .. } => {
            for l in 0..LANES {
                hit[l] |= dot[l] > *offset;
            }
        }
    }
    event_mask(&hit)
}

/// Runs the replicas of `spec` not in `completed`, as [`super::run_ensemble`] does for
/// [`crate::dynamics::Sgd`] with [`crate::dynamics::Sampling::WithReplacement`] on this
/// network, with bit-identical outcomes. An error where the kernel does not apply
/// ([`applies`]) or an input is invalid.
#[allow(clippy::too_many_arguments)]
pub fn run_mlp_sgd(
    model: &Mlp,
    lr: f64,
    batch_size: usize,
    exit: &Exit,
    start: &[f64],
    spec: EnsembleSpec,
    completed: Vec<ReplicaOutcome>,
    on_done: &(dyn Fn(&ReplicaOutcome) + Sync),
) -> Result<Vec<ReplicaOutcome>> {
    let sgd = Sgd::new(model, lr, batch_size, Sampling::WithReplacement)?;
    check_lane_inputs(model, start)?;
    if !applies(model, batch_size) {
        return Err(Error::invalid(
            "batch_size",
            batch_size,
            format!("the network lane kernel needs B · in · out ≤ {SMALL_GEMM} for every layer of {:?}", model.sizes()),
        ));
    }
    let pending = pending_replicas(spec, &completed);
    let fresh = run_lane_workers(&pending, LANES, |queue| run_task(model, &sgd, exit, start, spec, queue, on_done));
    Ok(merge_outcomes(spec, completed, fresh))
}

/// The layers of `model` with their offsets in θ and in the buffers of B-sample batches.
fn layers(model: &Mlp, batch: usize) -> Vec<Layer> {
    let sizes = model.sizes();
    let (mut z, mut a) = (0, 0);
    let mut layers = Vec::with_capacity(sizes.len() - 1);
    for (i, (pair, &w)) in sizes.windows(2).zip(model.weight_offsets()).enumerate() {
        let (inp, out) = (pair[0], pair[1]);
        layers.push(Layer { inp, out, w, b: w + inp * out, z, a });
        z += batch * out;
        if i + 2 < sizes.len() {
            a += batch * out;
        }
    }
    layers
}

#[allow(clippy::too_many_arguments)]
fn run_task(
    model: &Mlp,
    sgd: &Sgd<Mlp>,
    exit: &Exit,
    start: &[f64],
    spec: EnsembleSpec,
    queue: &ReplicaQueue,
    on_done: &(dyn Fn(&ReplicaOutcome) + Sync),
) -> Vec<ReplicaOutcome> {
    let (p, sizes, data, batch) = (model.dim(), model.sizes(), model.data(), sgd.batch_size());
    let layers = layers(model, batch);
    let hidden: usize = sizes[1..sizes.len() - 1].iter().sum();
    let widest = sizes.iter().copied().max().unwrap_or(0);
    let rows = |count: usize| vec![[0.0; LANES]; count];
    let lanes = Lanes {
        theta: rows(p),
        grad: rows(p),
        x: rows(batch * data.features),
        y: rows(batch * data.outputs),
        z: rows(batch * sizes[1..].iter().sum::<usize>()),
        act: rows(batch * hidden),
        delta: rows(batch * widest),
        below: rows(batch * widest),
        idx: vec![[0; LANES]; batch],
        replicas: LaneReplicas::new(),
    };
    let net = Net {
        layers,
        activation: model.activation(),
        x: &data.x,
        y: &data.y,
        // run_mlp_sgd refuses data sets of 2³² samples or more.
        n: u32::try_from(data.len()).unwrap_or(u32::MAX),
        batch,
        lr: sgd.lr(),
        weight_decay: model.weight_decay(),
        exit: match exit {
            Exit::Never => LaneExit::Never,
            Exit::Coordinate { axis, threshold } => LaneExit::Coordinate { axis: *axis, threshold: *threshold },
            Exit::Hyperplane { normal, offset } => LaneExit::Hyperplane { normal, offset: *offset },
            Exit::LossAbove { .. } | Exit::Basin { .. } | Exit::Distance { .. } => LaneExit::Other,
        },
        max_steps: spec.max_steps,
    };
    let exit_in_kernel = !matches!(net.exit, LaneExit::Other);
    run_sgd_lanes(&mut NetworkLanes { lanes, net }, model, sgd, exit, exit_in_kernel, start, spec, queue, on_done)
}
