//! Struct-of-arrays ensemble kernel: SGD with i.i.d. minibatch indices on every feature model
//! `f = xᵀφ(θ)` (linear regression, the setting of the paper's first-passage experiment,
//! Fig. 3b, and the curve model; any dimension, any batch size B, any exit).
//!
//! Replicas run in lanes of [`LANES`]: θ is stored as `[P][LANES]`, each lane carries its
//! replica's xoshiro256++ state, and one step advances all lanes with loops over lanes that
//! the compiler vectorises (AVX-512 or AVX2, chosen at run time). A lane whose replica exits is
//! refilled with the next pending replica. Every lane draws from its replica's own stream in the
//! same order, and performs the same floating-point operations in the same order, as the
//! generic loop ([`super::run_replica`] with [`crate::dynamics::Sgd`]): the outcomes are
//! bit-identical, only faster.

// Loops over lanes index several arrays by lane on purpose: that is the form that vectorises.
#![allow(clippy::needless_range_loop)]

use super::ensemble::{ReplicaQueue, merge_outcomes, pending_replicas, run_lane_workers};
use super::lane_group::{LaneReplicas, SgdLanes, event_mask, run_sgd_lanes};
use super::{EnsembleSpec, Exit, ReplicaOutcome};
use crate::dynamics::rng::next_lane_u64 as next_u64;
use crate::dynamics::{Sampling, Sgd};
use crate::error::{Error, Result};
use crate::model::{DataModel, FeatureMap, FeatureModel, Model, quadratic_loss};
use multiversion::multiversion;

/// Replicas stepped together: enough that the loops over lanes stay loops and vectorise
/// (with gathers for the minibatch's data) instead of being unrolled into scalar code.
pub const LANES: usize = 64;

/// Lane states of one task.
struct Lanes {
    /// θ, `[i * LANES + l]`.
    theta: Vec<f64>,
    /// Gradient buffer, same layout.
    grad: Vec<f64>,
    /// The features φ(θ), `[a * LANES + l]`.
    phi: Vec<f64>,
    replicas: LaneReplicas<LANES>,
}

/// The lanes with what their steps need, for the driver [`run_sgd_lanes`].
struct FeatureLanes<'a, F: FeatureMap> {
    lanes: Lanes,
    inputs: StepInputs<'a, F>,
}

impl<F: FeatureMap> SgdLanes<LANES> for FeatureLanes<'_, F> {
    fn replicas(&mut self) -> &mut LaneReplicas<LANES> {
        &mut self.lanes.replicas
    }
    fn set_theta(&mut self, l: usize, theta: &[f64]) {
        theta.iter().enumerate().for_each(|(a, t)| self.lanes.theta[a * LANES + l] = *t);
    }
    fn theta(&self, l: usize, theta: &mut [f64]) {
        theta.iter_mut().enumerate().for_each(|(a, t)| *t = self.lanes.theta[a * LANES + l]);
    }
    fn advance(&mut self, single_step: bool) -> u64 {
        step_lanes(&mut self.lanes, &self.inputs, single_step)
    }
}

/// Exit tests evaluated for all lanes at once.
enum LaneExit<'a> {
    Never,
    Coordinate {
        axis: usize,
        threshold: f64,
    },
    LossAbove {
        threshold: f64,
        sxx: &'a [f64],
        sxy: &'a [f64],
        syy: f64,
    },
    /// Checked lane by lane through [`Exit::reached`].
    Other,
}

/// `⌊u · n / 2⁶⁴⌋` from 32-bit halves (exact, as n < 2³²): the same index as
/// [`crate::dynamics::rng::uniform_index`], in a form that vectorises (n as 32 bits lets the
/// products be 32 × 32 → 64-bit multiplies).
#[inline(always)]
pub(crate) fn index_from(u: u64, n: u32) -> usize {
    let n = u64::from(n);
    let hi = (u >> 32) * n;
    let lo = ((u & 0xFFFF_FFFF) * n) >> 32;
    ((hi + lo) >> 32) as usize
}

/// What a lane step needs besides the lanes: the feature map, the data (`x` row-major N × m,
/// `y`), `p` parameters, `m` features, the batch size, η, the exit and `max_steps`.
struct StepInputs<'a, F> {
    map: &'a F,
    x: &'a [f64],
    y: &'a [f64],
    p: usize,
    m: usize,
    batch: usize,
    lr: f64,
    exit: &'a LaneExit<'a>,
    max_steps: u64,
}

/// Advances every lane by SGD steps until at least one lane hits an event (exit, divergence or
/// `max_steps`), or after one step when `single_step`; returns the lanes with an event as a bit
/// mask.
#[multiversion(targets("x86_64+avx512f+avx512dq+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
fn step_lanes<F: FeatureMap>(lanes: &mut Lanes, inputs: &StepInputs<F>, single_step: bool) -> u64 {
    // Constant sizes let the inlined step specialise for linear regression in one dimension
    // with B = 1 (W1). A second specialisation, (1, 2, 1) for the 1-D curve model, made this
    // one 17% slower and is left out.
    let w1 = StepInputs { p: 1, m: 1, batch: 1, ..*inputs };
    loop {
        let mask = match (inputs.p, inputs.m, inputs.batch) {
            (1, 1, 1) => step_lanes_once(lanes, &w1),
            _ => step_lanes_once(lanes, inputs),
        };
        if mask != 0 || single_step {
            return mask;
        }
    }
}

/// One SGD step of every lane; the event mask. The arithmetic of
/// [`FeatureModel::minibatch_gradient`] lane by lane: r = −y + Σ_a x_a φ_a(θ), then
/// ∇L_B += φ_a'(θ) · (r/B) x_a feature by feature.
#[inline(always)]
fn step_lanes_once<F: FeatureMap>(lanes: &mut Lanes, inputs: &StepInputs<F>) -> u64 {
    let StepInputs { map, x, y, p, m, batch, lr, exit, max_steps } = *inputs;
    // run_feature_model_sgd refuses data sets of 2³² samples or more.
    let n = u32::try_from(y.len()).unwrap_or(u32::MAX);
    let inv_b = 1.0 / batch as f64;
    let Lanes { theta, grad, phi, replicas: LaneReplicas { s, steps, .. } } = lanes;
    for g in grad.iter_mut() {
        *g = 0.0;
    }
    let (features, _) = map.features_by_lane::<LANES>(theta, phi).as_chunks::<LANES>();
    // Indices are below N by construction: `get` instead of indexing keeps the data loads free
    // of a panic branch, so that they vectorise as gathers (the fallback is never taken).
    let load = |data: &[f64], k: usize| data.get(k).copied().unwrap_or(0.0);
    let mut idx = [0usize; LANES];
    for _ in 0..batch {
        for (l, i) in idx.iter_mut().enumerate() {
            *i = index_from(next_u64(s, l), n);
        }
        let mut r = [0.0; LANES];
        for l in 0..LANES {
            r[l] = -load(y, idx[l]);
        }
        if m == 1 {
            // One feature (W1): the sample's x is gathered once for the residual and the
            // gradient, with the arithmetic of the general loops below.
            let mut x0 = [0.0; LANES];
            for l in 0..LANES {
                x0[l] = load(x, idx[l]);
                r[l] += x0[l] * features[0][l];
            }
            let mut scale = [0.0; LANES];
            for l in 0..LANES {
                scale[l] = r[l] * inv_b * x0[l];
            }
            map.add_feature_gradient_by_lane::<LANES>(theta, 0, &scale, grad);
            continue;
        }
        for a in 0..m {
            let fa = &features[a];
            for l in 0..LANES {
                r[l] += load(x, idx[l] * m + a) * fa[l];
            }
        }
        for a in 0..m {
            let mut scale = [0.0; LANES];
            for l in 0..LANES {
                scale[l] = r[l] * inv_b * load(x, idx[l] * m + a);
            }
            map.add_feature_gradient_by_lane::<LANES>(theta, a, &scale, grad);
        }
    }
    for (t, g) in theta.iter_mut().zip(grad.iter()) {
        *t -= lr * g;
    }
    let mut hit = [false; LANES];
    for l in 0..LANES {
        steps[l] += 1;
        hit[l] = steps[l] >= max_steps;
    }
    let (rows, _) = theta.as_chunks::<LANES>();
    for t in &rows[..p] {
        for l in 0..LANES {
            hit[l] |= !t[l].is_finite();
        }
    }
    match exit {
        LaneExit::Never | LaneExit::Other => {}
        LaneExit::Coordinate { axis, threshold } => {
            let t = &rows[*axis];
            for l in 0..LANES {
                hit[l] |= t[l] >= *threshold;
            }
        }
        LaneExit::LossAbove { threshold, sxx, sxy, syy } => {
            // The model's own loss formula, for every lane at once, at the features of the new θ.
            let (features, _) = map.features_by_lane::<LANES>(theta, phi).as_chunks::<LANES>();
            let loss = quadratic_loss::<LANES>(sxx, sxy, *syy, m, |a, l| features[a][l]);
            for l in 0..LANES {
                hit[l] |= loss[l] > *threshold;
            }
        }
    }
    event_mask(&hit)
}

/// Runs the replicas of `spec` not in `completed`, as [`super::run_ensemble`] does for
/// [`crate::dynamics::Sgd`] with [`crate::dynamics::Sampling::WithReplacement`] on this model,
/// with bit-identical outcomes.
#[allow(clippy::too_many_arguments)]
pub fn run_feature_model_sgd<F: FeatureMap>(
    model: &FeatureModel<F>,
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
    let pending = pending_replicas(spec, &completed);
    let fresh = run_lane_workers(&pending, LANES, |queue| run_task(model, &sgd, exit, start, spec, queue, on_done));
    Ok(merge_outcomes(spec, completed, fresh))
}

/// What an SGD lane kernel needs beyond valid SGD settings ([`Sgd::new`] checks η and B):
/// fewer than 2³² samples (lanes index the data with 32-bit multiplies) and a start of P
/// entries; an error names the offending value.
pub(crate) fn check_lane_inputs<M: DataModel + ?Sized>(model: &M, start: &[f64]) -> Result<()> {
    let (n, p) = (model.samples(), model.dim());
    if n >= 1 << 32 {
        return Err(Error::invalid("data", format!("{n} samples"), "the lane kernel indexes data sets of fewer than 2³² samples"));
    }
    if start.len() != p {
        return Err(Error::invalid("start", format!("{} entries", start.len()), format!("must have P = {p} entries")));
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn run_task<F: FeatureMap>(
    model: &FeatureModel<F>,
    sgd: &Sgd<FeatureModel<F>>,
    exit: &Exit,
    start: &[f64],
    spec: EnsembleSpec,
    queue: &ReplicaQueue,
    on_done: &(dyn Fn(&ReplicaOutcome) + Sync),
) -> Vec<ReplicaOutcome> {
    let (d, m) = (model.dim(), model.map().feature_dim());
    let data = model.data();
    let (sxx, sxy, syy) = model.sufficient_statistics();
    let lane_exit = match exit {
        Exit::Never => LaneExit::Never,
        Exit::Coordinate { axis, threshold } => LaneExit::Coordinate { axis: *axis, threshold: *threshold },
        Exit::LossAbove { threshold } => LaneExit::LossAbove { threshold: *threshold, sxx, sxy, syy },
        Exit::Hyperplane { .. } | Exit::Basin { .. } | Exit::Distance { .. } => LaneExit::Other,
    };
    let lanes = Lanes { theta: vec![0.0; d * LANES], grad: vec![0.0; d * LANES], phi: vec![0.0; m * LANES], replicas: LaneReplicas::new() };
    let inputs = StepInputs {
        map: model.map(),
        x: &data.x,
        y: &data.y,
        p: d,
        m,
        batch: sgd.batch_size(),
        lr: sgd.lr(),
        exit: &lane_exit,
        max_steps: spec.max_steps,
    };
    // Exits checked outside the kernel need control back after every step.
    let exit_in_kernel = !matches!(lane_exit, LaneExit::Other);
    run_sgd_lanes(&mut FeatureLanes { lanes, inputs }, model, sgd, exit, exit_in_kernel, start, spec, queue, on_done)
}
