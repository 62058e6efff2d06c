//! Hessian-vector products of the MLP by Pearlmutter's R-operator (docs/theory.md §8): a forward
//! R-pass `R{z_i}`, then backpropagation of the adjoints δ_i together with their R-derivatives.
//!
//! Of that work, the forward activations and the adjoints δ_i do not depend on the direction v.
//! [`Linearisation`] holds them for one block of samples. A single product ([`Mlp::hvp`])
//! computes them block by block and discards them. [`MlpHessianAt`] keeps them for every block,
//! so that the many products of a Lanczos or MINRES run at one θ cost only the R-passes. For a
//! ReLU network that is about 0.7 of a full product, and the R-pass below also skips the
//! σ''-term, which is zero for ReLU. Both paths run the same per-block arithmetic over the same
//! blocks, so their products are equal to the bit.

use super::{Activation, Mlp};
use crate::linalg::gemm;
use crate::model::{HessianAt, HessianProduct};
use rayon::prelude::*;

/// The most memory [`Mlp::hessian_at`] keeps for the linearisation (the activations and adjoints
/// of every sample): 1 GiB. Above it, products at one θ are computed from scratch one by one.
pub const HESSIAN_CACHE_BYTES: usize = 1 << 30;

/// What every Hessian-vector product at θ needs from one block of n samples, whatever the
/// direction.
pub(super) struct Linearisation {
    /// a_i = σ(z_{i−1}), n × sizes[i], for each hidden layer i ≥ 1 (layer i's input).
    activations: Vec<Vec<f64>>,
    /// δ_i = ∂(scale·½|f − y|²)/∂z_i, n × sizes[i + 1], for every layer i (δ of the last layer
    /// is (f − y)·scale).
    adjoints: Vec<Vec<f64>>,
    /// σ''(z_{i−1}) ⊙ (δ_i W_i), n × sizes[i], for each hidden layer i ≥ 1: the term of R{δ_{i−1}}
    /// that the forward R-pass multiplies. Empty for ReLU, whose σ'' is zero.
    curvature: Vec<Vec<f64>>,
    /// The factor of the output adjoint, (f − y)·scale, and so of its R-derivative R{f}·scale.
    scale: f64,
}

impl Mlp {
    /// Forward R-pass for the direction `v` on n rows `x` with hidden activations `a` (one per
    /// hidden layer): `R{z_i}` for every layer, and `R{a_i} = σ'(z_{i−1}) ⊙ R{z_{i−1}}` for
    /// each hidden layer, from `R{z_i} = V_i a_i + W_i R{a_i} + R{b_i}`.
    pub(super) fn r_forward(&self, theta: &[f64], v: &[f64], x: &[f64], n: usize, a: &[Vec<f64>]) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
        let (mut rz, mut ra) = (Vec::new(), Vec::new());
        self.r_forward_into(theta, v, x, n, a, &mut rz, &mut ra);
        (rz, ra)
    }

    /// [`Mlp::r_forward`] into buffers kept between calls.
    #[allow(clippy::too_many_arguments)]
    fn r_forward_into(
        &self,
        theta: &[f64],
        v: &[f64],
        x: &[f64],
        n: usize,
        a: &[Vec<f64>],
        rz: &mut Vec<Vec<f64>>,
        ra: &mut Vec<Vec<f64>>,
    ) {
        let layers = self.layers();
        rz.resize_with(layers, Vec::new);
        ra.resize_with(layers - 1, Vec::new);
        for i in 0..layers {
            let (inp, out) = (self.sizes[i], self.sizes[i + 1]);
            let (w, _) = self.weights(theta, i);
            let (vw, vb) = self.weights(v, i);
            let input = if i == 0 { x } else { &a[i - 1] };
            let r = &mut rz[i];
            r.clear();
            for _ in 0..n {
                r.extend_from_slice(vb);
            }
            gemm(r, input, vw, n, inp, out, false, true, true);
            if i > 0 {
                gemm(r, &ra[i - 1], w, n, inp, out, false, true, true);
            }
            if i + 1 < layers {
                let next = &mut ra[i];
                next.clear();
                next.extend(r.iter().zip(&a[i]).map(|(r, a)| r * self.activation.slope(*a)));
            }
        }
    }

    /// The [`Linearisation`] of n rows `x`, `y` at θ: a forward pass, then backpropagation of
    /// the output adjoint (f − y)·scale.
    fn linearise_block(&self, theta: &[f64], x: &[f64], y: &[f64], n: usize, scale: f64) -> Linearisation {
        let f = self.forward(theta, x, n);
        let layers = self.layers();
        let mut adjoints = vec![Vec::new(); layers];
        let mut curvature = vec![Vec::new(); layers - 1];
        adjoints[layers - 1] = f.z[layers - 1].iter().zip(y).map(|(fk, yk)| (fk - yk) * scale).collect();
        for i in (1..layers).rev() {
            let (inp, out) = (self.sizes[i], self.sizes[i + 1]);
            let (w, _) = self.weights(theta, i);
            let mut p = vec![0.0; n * inp];
            gemm(&mut p, &adjoints[i], w, n, out, inp, false, false, false);
            let a = &f.a[i - 1];
            if self.activation != Activation::Relu {
                curvature[i - 1] = p.iter().zip(a).map(|(p, a)| p * self.activation.second_derivative(*a)).collect();
            }
            adjoints[i - 1] = p.iter().zip(a).map(|(p, a)| p * self.activation.slope(*a)).collect();
        }
        Linearisation { activations: f.a, adjoints, curvature, scale }
    }

    /// Adds a block's share of `H v` into `out`: the forward R-pass, then for each layer from the
    /// top `∇_{W_i} += R{δ_i}ᵀ a_i + δ_iᵀ R{a_i}`, `∇_{b_i} += Σ_rows R{δ_i}`, and one layer down
    /// `R{δ_{i−1}} = (R{δ_i} W_i + δ_i V_i) ⊙ σ'(z_{i−1}) + σ''(z_{i−1}) ⊙ (δ_i W_i) ⊙ R{z_{i−1}}`.
    fn add_block_product(&self, theta: &[f64], v: &[f64], x: &[f64], n: usize, lin: &Linearisation, out: &mut [f64]) {
        BLOCK_BUFFERS.with(|cell| match cell.try_borrow_mut() {
            Ok(mut buffers) => self.add_block_product_with(theta, v, x, n, lin, out, &mut buffers),
            Err(_) => self.add_block_product_with(theta, v, x, n, lin, out, &mut BlockBuffers::default()),
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn add_block_product_with(
        &self,
        theta: &[f64],
        v: &[f64],
        x: &[f64],
        n: usize,
        lin: &Linearisation,
        out: &mut [f64],
        buffers: &mut BlockBuffers,
    ) {
        let BlockBuffers { rz, ra, rdelta, rp } = buffers;
        self.r_forward_into(theta, v, x, n, &lin.activations, rz, ra);
        let last = self.layers() - 1;
        rdelta.clear();
        rdelta.extend(rz[last].iter().map(|r| r * lin.scale));
        for i in (0..=last).rev() {
            let (inp, outw) = (self.sizes[i], self.sizes[i + 1]);
            let input = if i == 0 { x } else { &lin.activations[i - 1] };
            let (gw, gb) = self.weights_mut(out, i);
            gemm(gw, rdelta, input, outw, n, inp, true, false, true);
            if i > 0 {
                gemm(gw, &lin.adjoints[i], &ra[i - 1], outw, n, inp, true, false, true);
            }
            Self::add_column_sums(gb, rdelta, outw);
            if i > 0 {
                let (w, _) = self.weights(theta, i);
                let (vw, _) = self.weights(v, i);
                // The first product replaces every entry: the old contents need no zeroing.
                rp.resize(n * inp, 0.0);
                gemm(rp, rdelta, w, n, outw, inp, false, false, false);
                gemm(rp, &lin.adjoints[i], vw, n, outw, inp, false, false, true);
                let a = &lin.activations[i - 1];
                let curvature = &lin.curvature[i - 1];
                rdelta.clear();
                if curvature.is_empty() {
                    rdelta.extend(rp.iter().zip(a).map(|(rp, a)| rp * self.activation.slope(*a)));
                } else {
                    rdelta.extend(
                        rp.iter()
                            .zip(a)
                            .zip(curvature.iter().zip(&rz[i - 1]))
                            .map(|((rp, a), (c, r))| rp * self.activation.slope(*a) + c * r),
                    );
                }
            }
        }
    }
}

/// The buffers of one block's R-passes ([`Mlp::add_block_product`]): R{z_i}, R{a_i}, R{δ} and
/// the adjoint product, kept on each worker thread between blocks and products so that a
/// product maps no fresh memory.
#[derive(Default)]
struct BlockBuffers {
    rz: Vec<Vec<f64>>,
    ra: Vec<Vec<f64>>,
    rdelta: Vec<f64>,
    rp: Vec<f64>,
}

thread_local! {
    static BLOCK_BUFFERS: std::cell::RefCell<BlockBuffers> = std::cell::RefCell::new(BlockBuffers::default());
}

impl HessianProduct for Mlp {
    fn hvp(&self, theta: &[f64], v: &[f64], out: &mut [f64]) {
        let scale = 1.0 / self.data.len() as f64;
        let total = self.sum_over_data(self.p, &|b, acc| {
            let lin = self.linearise_block(theta, b.x, b.y, b.rows, scale);
            self.add_block_product(theta, v, b.x, b.rows, &lin, acc);
        });
        out.copy_from_slice(&total);
        self.add_decay(v, out);
    }

    /// The linearisation of every block at θ, when it fits in [`HESSIAN_CACHE_BYTES`].
    fn hessian_at<'a>(&'a self, theta: &[f64]) -> Option<Box<dyn HessianAt + 'a>> {
        MlpHessianAt::new(self, theta).map(|h| Box::new(h) as Box<dyn HessianAt>)
    }
}

/// `H(θ)` of an MLP at one θ for many directions: the forward activations and adjoints of every
/// sample are computed once (one forward and one backward pass over the data), and each product
/// runs only the R-passes. Products are equal to the bit to [`Mlp::hvp`]'s at the same θ.
pub struct MlpHessianAt<'a> {
    model: &'a Mlp,
    theta: Vec<f64>,
    /// One per block of [`Mlp::blocks`], in order.
    blocks: Vec<Linearisation>,
    /// The groups' accumulators, kept between products (so products on one `MlpHessianAt` run
    /// one at a time; each uses every worker thread).
    parts: std::sync::Mutex<Vec<Vec<f64>>>,
}

impl<'a> MlpHessianAt<'a> {
    /// The linearisation at θ, or `None` when it would take more than [`HESSIAN_CACHE_BYTES`].
    pub fn new(model: &'a Mlp, theta: &[f64]) -> Option<Self> {
        if model.linearisation_bytes() > HESSIAN_CACHE_BYTES {
            return None;
        }
        let scale = 1.0 / model.data.len() as f64;
        let ranges: Vec<(usize, usize)> = model.blocks().into_iter().flatten().collect();
        let blocks = ranges
            .par_iter()
            .enumerate()
            .map(|(index, range)| {
                let b = model.block(index, *range);
                model.linearise_block(theta, b.x, b.y, b.rows, scale)
            })
            .collect();
        Some(MlpHessianAt { model, theta: theta.to_vec(), blocks, parts: Default::default() })
    }
}

impl HessianAt for MlpHessianAt<'_> {
    fn hvp(&self, v: &[f64], out: &mut [f64]) {
        let model = self.model;
        let mut parts = self.parts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        model.sum_over_data_into(&mut parts, out, &|b, acc| {
            model.add_block_product(&self.theta, v, b.x, b.rows, &self.blocks[b.index], acc)
        });
        model.add_decay(v, out);
    }
}

impl Mlp {
    /// Bytes of the [`Linearisation`] of the whole data set: per sample, the hidden activations,
    /// every layer's adjoint and, unless σ'' = 0, the curvature terms.
    fn linearisation_bytes(&self) -> usize {
        let hidden: usize = self.sizes[1..self.layers()].iter().sum();
        let adjoints: usize = self.sizes[1..].iter().sum();
        let curvature = if self.activation == Activation::Relu { 0 } else { hidden };
        (hidden + adjoints + curvature).saturating_mul(self.data.len()).saturating_mul(std::mem::size_of::<f64>())
    }
}
