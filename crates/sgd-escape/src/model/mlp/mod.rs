//! A multilayer perceptron with mean-square loss summed over its K linear outputs (docs/theory.md
//! eq. 1, §8): `L(θ) = (1/2N) Σ_μ Σ_k (f_k(θ, x_μ) − y_μk)²`.
//!
//! Layer i maps `a ↦ σ(W_i a + b_i)` (no σ on the last layer); θ holds, layer after layer, W_i
//! (row-major, out × in) then b_i. Gradients are hand-written backpropagation, Hessian-vector
//! products Pearlmutter's R-operator ([`hessian`]), and per-sample gradient norms use |∇_W ℓ_μ|² = |δ_μ|²|a_μ|² layer by layer, so no P × N
//! matrix is ever formed. Sums over samples run over a fixed partition of the data into
//! [`groups`] contiguous groups, reduced in order: results do not depend on the thread count.

use super::{DataModel, Dataset, GaussNewtonProduct, GradientNoise, MinibatchGradient, Model};
use crate::error::{Error, Result};
use crate::linalg::gemm;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;

mod hessian;
pub use hessian::{HESSIAN_CACHE_BYTES, MlpHessianAt};

/// Samples per matrix-product block.
const CHUNK: usize = 256;
/// Samples per group of the parallel sums, at least; and the largest number of groups.
const GROUP_SAMPLES: usize = 512;
const MAX_GROUPS: usize = 16;

/// Number of groups the samples are split into for parallel sums: ⌈N/512⌉, at most 16. It
/// depends on N only, so results do not depend on the thread count; fewer groups for small N
/// keep the per-group gradient accumulators (P entries each) from dominating the cost.
fn groups(samples: usize) -> usize {
    samples.div_ceil(GROUP_SAMPLES).clamp(1, MAX_GROUPS)
}

/// How a network's sums over `n` samples (loss, gradient, Hessian-vector products) are cut:
/// ⌈n/512⌉ contiguous groups (at most 16), summed in parallel and then in order, each cut into
/// blocks of 256 samples, the rows of one matrix product; as `(start, end)` sample ranges per
/// group. It depends on n only, so results do not depend on the thread count.
pub fn sample_blocks(n: usize) -> Vec<Vec<(usize, usize)>> {
    let g_count = groups(n);
    let per_group = n.div_ceil(g_count);
    (0..g_count)
        .map(|g| {
            let (start, end) = ((g * per_group).min(n), ((g + 1) * per_group).min(n));
            (start..end).step_by(CHUNK).map(|s| (s, (s + CHUNK).min(end))).collect()
        })
        .collect()
}

/// One block of consecutive samples in a sum over the data.
struct Block<'d> {
    /// Position of the block in [`Mlp::blocks`] (group after group).
    index: usize,
    /// Its first sample.
    start: usize,
    /// Its number of samples.
    rows: usize,
    /// Its inputs, row-major `rows × m`.
    x: &'d [f64],
    /// Its targets, row-major `rows × K`.
    y: &'d [f64],
}

/// A per-block contribution to a sum over samples, added into the accumulator.
type BlockSum<'a> = dyn Fn(&Block, &mut [f64]) + Sync + 'a;

/// Hidden-layer nonlinearity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// max(0, z); its second derivative is taken as 0.
    #[default]
    Relu,
    /// tanh z.
    Tanh,
}

impl Activation {
    /// σ(z).
    #[inline(always)]
    pub(crate) fn apply(self, z: f64) -> f64 {
        match self {
            Activation::Relu => z.max(0.0),
            Activation::Tanh => z.tanh(),
        }
    }
    /// σ'(z), given a = σ(z) alone: 1 − a² for tanh, and for ReLU 1 where a > 0 (which holds
    /// exactly where z > 0, NaN included, since `max` returns 0 for a NaN z).
    #[inline(always)]
    pub(crate) fn slope(self, a: f64) -> f64 {
        match self {
            Activation::Relu => (a > 0.0) as u8 as f64,
            Activation::Tanh => 1.0 - a * a,
        }
    }
    /// σ''(z), given a = σ(z).
    fn second_derivative(self, a: f64) -> f64 {
        match self {
            Activation::Relu => 0.0,
            Activation::Tanh => -2.0 * a * (1.0 - a * a),
        }
    }
    /// The name used in configurations.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Tanh => "tanh",
        }
    }
}

/// An MLP on a data set.
#[derive(Clone, Debug)]
pub struct Mlp {
    sizes: Vec<usize>,
    activation: Activation,
    data: Dataset,
    /// Offset of W_i in θ, per layer (b_i follows W_i).
    offsets: Vec<usize>,
    p: usize,
    /// λ ≥ 0 of the penalty (λ/2)|θ|² in the loss.
    weight_decay: f64,
}

/// Pre-activations and activations of a block of n samples.
struct Forward {
    /// z_i, n × sizes[i + 1], per layer.
    z: Vec<Vec<f64>>,
    /// a_{i+1} = σ(z_i), per hidden layer (the output is z of the last layer).
    a: Vec<Vec<f64>>,
}

/// Loss, gradient noise and their parts at θ (docs/theory.md eq. 9, paper Fig. 2).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct NoiseStrength {
    /// L(θ).
    pub loss: f64,
    /// |∇L|².
    pub gradient_norm_sq: f64,
    /// (1/N) Σ_μ |∇ℓ_μ|².
    pub mean_sample_gradient_norm_sq: f64,
    /// 𝒩 = (1/N) Σ_μ |∇ℓ_μ|² − |∇L|² = B · Tr Σ (with replacement).
    pub noise: f64,
}

impl Mlp {
    /// An MLP with hidden widths `hidden` (each ≥ 1) and K = `data.outputs` linear outputs on
    /// `data` (at least one sample); an error names the offending value.
    pub fn new(hidden: &[usize], activation: Activation, data: Dataset) -> Result<Self> {
        if let Some(w) = hidden.iter().find(|w| **w == 0) {
            return Err(Error::invalid("hidden", format!("{hidden:?}"), format!("widths must be ≥ 1 (found {w})")));
        }
        if data.is_empty() || data.features == 0 || data.outputs == 0 {
            return Err(Error::invalid(
                "data",
                format!("{} samples × {} inputs, {} outputs", data.len(), data.features, data.outputs),
                "an MLP needs at least one sample, one input and one output",
            ));
        }
        let mut sizes = vec![data.features];
        sizes.extend_from_slice(hidden);
        sizes.push(data.outputs);
        let mut offsets = Vec::new();
        let mut p: usize = 0;
        for w in sizes.windows(2) {
            offsets.push(p);
            // Checked: widths come from the configuration.
            p = w[0]
                .checked_mul(w[1])
                .and_then(|weights| p.checked_add(weights)?.checked_add(w[1]))
                .ok_or_else(|| Error::invalid("model.hidden", format!("{hidden:?}"), "the number of parameters overflows"))?;
        }
        let p = p;
        Ok(Mlp { sizes, activation, data, offsets, p, weight_decay: 0.0 })
    }

    /// The same network with weight decay λ ≥ 0 (finite): the loss becomes
    /// `L(θ) = (1/2N) Σ_μ |r_μ|² + (λ/2)|θ|²` over every parameter, weights and biases (the
    /// convention of PyTorch's `weight_decay`: the gradient gains λθ). Each sample's loss carries
    /// the penalty, `ℓ_μ = ½|r_μ|² + (λ/2)|θ|²`, so that L is still their mean, a minibatch
    /// gradient gains λθ, and the per-sample gradient covariance C(θ) does not change with λ:
    /// the penalty is deterministic and adds no noise. Residuals, output Jacobians and the
    /// Gauss–Newton products stay those of the data.
    pub fn with_weight_decay(self, weight_decay: f64) -> Result<Self> {
        if !(weight_decay.is_finite() && weight_decay >= 0.0) {
            return Err(Error::invalid("model.weight_decay", weight_decay, "must be a finite number ≥ 0"));
        }
        Ok(Mlp { weight_decay, ..self })
    }

    /// λ of the penalty (λ/2)|θ|².
    pub fn weight_decay(&self) -> f64 {
        self.weight_decay
    }

    /// (λ/2)|θ|².
    fn penalty(&self, theta: &[f64]) -> f64 {
        if self.weight_decay == 0.0 { 0.0 } else { 0.5 * self.weight_decay * crate::linalg::dot(theta, theta) }
    }

    /// `grad += λθ` (nothing when λ = 0, so that results without weight decay are unchanged to
    /// the bit).
    fn add_decay(&self, theta: &[f64], grad: &mut [f64]) {
        if self.weight_decay != 0.0 {
            crate::linalg::axpy(self.weight_decay, theta, grad);
        }
    }

    /// The data term of the loss, `(1/2N) Σ_μ |r_μ|²` (L without the weight-decay penalty).
    pub fn data_loss(&self, theta: &[f64]) -> f64 {
        let last = self.layers() - 1;
        let total = self.sum_over_data(1, &|b, acc| {
            let f = self.forward(theta, b.x, b.rows);
            acc[0] += f.z[last].iter().zip(b.y).map(|(a, b)| (a - b) * (a - b)).sum::<f64>();
        });
        0.5 * total[0] / self.data.len() as f64
    }

    /// Layer sizes `[m, h₁, …, K]`.
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }

    /// The offset in θ of each layer's W_i (row-major, out × in), which b_i follows.
    pub fn weight_offsets(&self) -> &[usize] {
        &self.offsets
    }

    /// The nonlinearity.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// The training data.
    pub fn data(&self) -> &Dataset {
        &self.data
    }

    /// The same network on other data (same input and output sizes), e.g. a test set.
    pub fn with_data(&self, data: Dataset) -> Result<Self> {
        if (data.features, data.outputs) != (self.data.features, self.data.outputs) || data.is_empty() {
            return Err(Error::invalid(
                "data",
                format!("{} samples × {} inputs, {} outputs", data.len(), data.features, data.outputs),
                format!("must have the network's {} inputs and {} outputs, and at least one sample", self.data.features, self.data.outputs),
            ));
        }
        Ok(Mlp { data, ..self.clone() })
    }

    /// Glorot (Xavier) uniform initialisation: W_i entries uniform in ±√(6/(in + out)), biases 0,
    /// drawn from a xoshiro256++ stream seeded by `seed`, layer by layer, row by row.
    pub fn glorot(&self, seed: u64) -> Vec<f64> {
        let mut rng = crate::dynamics::rng::ReplicaRng::seed_from_u64(seed);
        let mut theta = vec![0.0; self.p];
        for (i, w) in self.sizes.windows(2).enumerate() {
            let bound = (6.0 / (w[0] + w[1]) as f64).sqrt();
            for v in &mut theta[self.offsets[i]..self.offsets[i] + w[0] * w[1]] {
                *v = bound * (2.0 * rng.random::<f64>() - 1.0);
            }
        }
        theta
    }

    fn layers(&self) -> usize {
        self.sizes.len() - 1
    }

    fn weights<'t>(&self, theta: &'t [f64], i: usize) -> (&'t [f64], &'t [f64]) {
        let (inp, out) = (self.sizes[i], self.sizes[i + 1]);
        let o = self.offsets[i];
        (&theta[o..o + inp * out], &theta[o + inp * out..o + inp * out + out])
    }

    fn weights_mut<'t>(&self, theta: &'t mut [f64], i: usize) -> (&'t mut [f64], &'t mut [f64]) {
        let (inp, out) = (self.sizes[i], self.sizes[i + 1]);
        let o = self.offsets[i];
        theta[o..o + inp * out + out].split_at_mut(inp * out)
    }

    /// Forward pass of the n rows `x` (row-major n × m).
    fn forward(&self, theta: &[f64], x: &[f64], n: usize) -> Forward {
        let mut z = Vec::with_capacity(self.layers());
        let mut a: Vec<Vec<f64>> = Vec::with_capacity(self.layers() - 1);
        for i in 0..self.layers() {
            let out = self.sizes[i + 1];
            let mut zi = vec![0.0; n * out];
            let mut ai = if i + 1 < self.layers() { vec![0.0; n * out] } else { Vec::new() };
            let input = if i == 0 { x } else { &a[i - 1] };
            self.layer_forward(theta, i, input, n, &mut zi, &mut ai);
            if i + 1 < self.layers() {
                a.push(ai);
            }
            z.push(zi);
        }
        Forward { z, a }
    }

    /// Layer i for n rows: `z = input·W_iᵀ + b_i`, and for a hidden layer `a = σ(z)` (`a` is
    /// empty for the output layer).
    fn layer_forward(&self, theta: &[f64], i: usize, input: &[f64], n: usize, z: &mut [f64], a: &mut [f64]) {
        let (inp, out) = (self.sizes[i], self.sizes[i + 1]);
        let (w, b) = self.weights(theta, i);
        for row in z.chunks_exact_mut(out) {
            row.copy_from_slice(b);
        }
        gemm(z, input, w, n, inp, out, false, true, true);
        for (a, z) in a.iter_mut().zip(z.iter()) {
            *a = self.activation.apply(*z);
        }
    }

    /// Layer i's share of the gradient for n rows with output adjoint `delta`: δᵀ·input into
    /// ∇W_i and the column sums of δ into ∇b_i.
    fn add_layer_gradient(&self, i: usize, delta: &[f64], input: &[f64], n: usize, grad: &mut [f64]) {
        let (inp, out) = (self.sizes[i], self.sizes[i + 1]);
        let (gw, gb) = self.weights_mut(grad, i);
        gemm(gw, delta, input, out, n, inp, true, false, true);
        Self::add_column_sums(gb, delta, out);
    }

    /// The adjoint one layer down, `(δ_i W_i) ⊙ σ'(z_{i−1})` for n rows (i ≥ 1), written into
    /// `below`, from layer i − 1's activations `a`.
    fn adjoint_below(&self, theta: &[f64], i: usize, delta: &[f64], n: usize, a: &[f64], below: &mut [f64]) {
        let (inp, out) = (self.sizes[i], self.sizes[i + 1]);
        let (w, _) = self.weights(theta, i);
        gemm(below, delta, w, n, out, inp, false, false, false);
        for (p, a) in below.iter_mut().zip(a) {
            *p *= self.activation.slope(*a);
        }
    }

    /// The adjoint one layer down: `(δ_i W_i) ⊙ σ'(z_{i−1})` for a block of n rows (i ≥ 1).
    fn delta_below(&self, theta: &[f64], i: usize, delta: &[f64], n: usize, f: &Forward) -> Vec<f64> {
        let mut prev = vec![0.0; n * self.sizes[i]];
        self.adjoint_below(theta, i, delta, n, &f.a[i - 1], &mut prev);
        prev
    }

    /// Adds the column sums of `rows` (row-major, `width` columns) to `sums`.
    fn add_column_sums(sums: &mut [f64], rows: &[f64], width: usize) {
        for row in rows.chunks_exact(width) {
            for (g, d) in sums.iter_mut().zip(row) {
                *g += d;
            }
        }
    }

    /// Backpropagates the output adjoint `delta` (n × K) through `f`, adding the parameter
    /// gradient Σ_rows δᵀ ∂f/∂θ into `grad`.
    fn backward(&self, theta: &[f64], x: &[f64], n: usize, f: &Forward, mut delta: Vec<f64>, grad: &mut [f64]) {
        for i in (0..self.layers()).rev() {
            let input = if i == 0 { x } else { &f.a[i - 1] };
            self.add_layer_gradient(i, &delta, input, n, grad);
            if i > 0 {
                delta = self.delta_below(theta, i, &delta, n, f);
            }
        }
    }

    /// The blocks of the sums over the data ([`sample_blocks`] of N).
    fn blocks(&self) -> Vec<Vec<(usize, usize)>> {
        sample_blocks(self.data.len())
    }

    /// The [`Block`] of samples `start..end` at position `index`.
    fn block(&self, index: usize, (start, end): (usize, usize)) -> Block<'_> {
        let (m, k) = (self.data.features, self.data.outputs);
        Block { index, start, rows: end - start, x: &self.data.x[start * m..end * m], y: &self.data.y[start * k..end * k] }
    }

    /// Sums `block(b, acc)` over the [`Mlp::blocks`], each group into its own accumulator of
    /// length `len`, then adds the groups in order: deterministic for any thread count.
    fn sum_over_data(&self, len: usize, block: &BlockSum) -> Vec<f64> {
        let mut total = vec![0.0; len];
        self.sum_over_data_into(&mut Vec::new(), &mut total, block);
        total
    }

    /// [`Mlp::sum_over_data`] into `out`, with the groups' accumulators kept in `parts` between
    /// calls (a Hessian's many products at one θ then map no fresh memory). The same sums in the
    /// same order, so the same bits.
    fn sum_over_data_into(&self, parts: &mut Vec<Vec<f64>>, out: &mut [f64], block: &BlockSum) {
        let groups = self.blocks();
        let firsts: Vec<usize> = groups.iter().scan(0, |count, g| Some(std::mem::replace(count, *count + g.len()))).collect();
        parts.resize_with(groups.len(), Vec::new);
        parts.par_iter_mut().zip(groups.par_iter().zip(firsts)).for_each(|(acc, (ranges, first))| {
            acc.clear();
            acc.resize(out.len(), 0.0);
            for (j, range) in ranges.iter().enumerate() {
                block(&self.block(first + j, *range), acc);
            }
        });
        out.fill(0.0);
        for part in parts.iter() {
            for (t, p) in out.iter_mut().zip(part) {
                *t += p;
            }
        }
    }

    /// The network's outputs f(θ, x_μ) for every sample (row-major N × K).
    pub fn predict(&self, theta: &[f64]) -> Vec<f64> {
        let n = self.data.len();
        let k = self.data.outputs;
        let last = self.layers() - 1;
        let mut out = vec![0.0; n * k];
        for (block, o) in out.chunks_mut(CHUNK * k).enumerate() {
            let s = block * CHUNK;
            let rows = o.len() / k;
            let f = self.forward(theta, &self.data.x[s * self.data.features..(s + rows) * self.data.features], rows);
            o.copy_from_slice(&f.z[last]);
        }
        out
    }

    /// Classification accuracy: the fraction of samples whose largest output is at the index of
    /// their largest target (one-hot targets), or whose output has the sign of the target
    /// (K = 1, ±1 labels).
    pub fn accuracy(&self, theta: &[f64]) -> f64 {
        let k = self.data.outputs;
        let f = self.predict(theta);
        let argmax = |v: &[f64]| v.iter().enumerate().fold((0, f64::NEG_INFINITY), |b, (i, x)| if *x > b.1 { (i, *x) } else { b }).0;
        let correct = (0..self.data.len())
            .filter(|&mu| {
                let (fo, y) = (&f[mu * k..(mu + 1) * k], self.data.target(mu));
                if k == 1 { fo[0] * y[0] > 0.0 } else { argmax(fo) == argmax(y) }
            })
            .count();
        correct as f64 / self.data.len() as f64
    }

    /// Per-sample losses ½|r_μ|² and squared gradient norms |∇½|r_μ|²|² of the data term
    /// (without the weight-decay penalty), without forming the gradients: for layer i, |∇_{W_i} ℓ_μ|² + |∇_{b_i} ℓ_μ|² = |δ_iμ|² (|a_iμ|² + 1), with δ the
    /// backpropagated residual of sample μ alone. Computed for K = 1 and K > 1 alike.
    pub fn per_sample_losses_and_gradient_norms(&self, theta: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let n = self.data.len();
        let both = self.sum_over_data(2 * n, &|b, acc| {
            let (x, y, rows, start) = (b.x, b.y, b.rows, b.start);
            let f = self.forward(theta, x, rows);
            let last = self.layers() - 1;
            let mut delta: Vec<f64> = f.z[last].iter().zip(y).map(|(a, b)| a - b).collect();
            let k = self.sizes[last + 1];
            for r in 0..rows {
                acc[start + r] = 0.5 * delta[r * k..(r + 1) * k].iter().map(|d| d * d).sum::<f64>();
            }
            for i in (0..self.layers()).rev() {
                let (inp, out) = (self.sizes[i], self.sizes[i + 1]);
                let input = if i == 0 { x } else { &f.a[i - 1] };
                for r in 0..rows {
                    let d2: f64 = delta[r * out..(r + 1) * out].iter().map(|d| d * d).sum();
                    let a2: f64 = input[r * inp..(r + 1) * inp].iter().map(|a| a * a).sum();
                    acc[n + start + r] += d2 * (a2 + 1.0);
                }
                if i > 0 {
                    delta = self.delta_below(theta, i, &delta, rows, &f);
                }
            }
        });
        let (losses, norms) = both.split_at(n);
        (losses.to_vec(), norms.to_vec())
    }

    /// L, |∇L|², (1/N)Σ|∇ℓ_μ|² and 𝒩 at θ (paper Fig. 2). With weight decay, 𝒩 is computed
    /// from the data term, `(1/N)Σ|g_μ|² − |ḡ|²` with g_μ = ∇½|r_μ|² and ḡ = ∇L − λθ (the common
    /// shift λθ cancels), and (1/N)Σ|∇ℓ_μ|² as 𝒩 + |∇L|².
    pub fn noise_strength(&self, theta: &[f64]) -> NoiseStrength {
        let mut grad = vec![0.0; self.p];
        let loss = self.loss_and_gradient(theta, &mut grad);
        let (_, norms) = self.per_sample_losses_and_gradient_norms(theta);
        let gradient_norm_sq = crate::linalg::dot(&grad, &grad);
        let mean_data_norm_sq = norms.iter().sum::<f64>() / norms.len() as f64;
        if self.weight_decay == 0.0 {
            return NoiseStrength {
                loss,
                gradient_norm_sq,
                mean_sample_gradient_norm_sq: mean_data_norm_sq,
                noise: mean_data_norm_sq - gradient_norm_sq,
            };
        }
        let mut data_grad = grad;
        crate::linalg::axpy(-self.weight_decay, theta, &mut data_grad);
        let noise = mean_data_norm_sq - crate::linalg::dot(&data_grad, &data_grad);
        NoiseStrength { loss, gradient_norm_sq, mean_sample_gradient_norm_sq: noise + gradient_norm_sq, noise }
    }
}

impl Model for Mlp {
    fn dim(&self) -> usize {
        self.p
    }

    fn loss(&self, theta: &[f64]) -> f64 {
        self.data_loss(theta) + self.penalty(theta)
    }

    fn loss_and_gradient(&self, theta: &[f64], grad: &mut [f64]) -> f64 {
        let n = self.data.len() as f64;
        let last = self.layers() - 1;
        let p = self.p;
        let total = self.sum_over_data(p + 1, &|b, acc| {
            let (x, y, rows) = (b.x, b.y, b.rows);
            let f = self.forward(theta, x, rows);
            let delta: Vec<f64> = f.z[last].iter().zip(y).map(|(a, b)| (a - b) / n).collect();
            acc[p] += f.z[last].iter().zip(y).map(|(a, b)| (a - b) * (a - b)).sum::<f64>();
            self.backward(theta, x, rows, &f, delta, &mut acc[..p]);
        });
        grad.copy_from_slice(&total[..p]);
        self.add_decay(theta, grad);
        0.5 * total[p] / n + self.penalty(theta)
    }
}

impl DataModel for Mlp {
    fn samples(&self) -> usize {
        self.data.len()
    }

    fn outputs(&self) -> usize {
        self.data.outputs
    }

    fn residuals_and_output_gradients(&self, theta: &[f64], mu: usize, residuals: &mut [f64], grad_f: &mut [f64]) {
        let x = self.data.row(mu);
        let f = self.forward(theta, x, 1);
        let k = self.data.outputs;
        let last = self.layers() - 1;
        for (r, (a, t)) in residuals.iter_mut().zip(f.z[last].iter().zip(self.data.target(mu))) {
            *r = a - t;
        }
        grad_f.fill(0.0);
        for (j, row) in grad_f.chunks_exact_mut(self.p).enumerate() {
            let mut e = vec![0.0; k];
            e[j] = 1.0;
            self.backward(theta, x, 1, &f, e, row);
        }
    }

    fn sample_loss_gradient(&self, theta: &[f64], mu: usize, grad: &mut [f64]) -> f64 {
        let x = self.data.row(mu);
        let f = self.forward(theta, x, 1);
        let last = self.layers() - 1;
        let delta: Vec<f64> = f.z[last].iter().zip(self.data.target(mu)).map(|(a, t)| a - t).collect();
        let loss = 0.5 * delta.iter().map(|d| d * d).sum::<f64>();
        grad.fill(0.0);
        self.backward(theta, x, 1, &f, delta, grad);
        self.add_decay(theta, grad);
        loss + self.penalty(theta)
    }

    fn sample_losses(&self, theta: &[f64]) -> Vec<f64> {
        let penalty = self.penalty(theta);
        let mut losses = self.per_sample_losses_and_gradient_norms(theta).0;
        losses.iter_mut().for_each(|l| *l += penalty);
        losses
    }
}

impl MinibatchGradient for Mlp {
    fn minibatch_gradient(&self, theta: &[f64], batch: &[usize], grad: &mut [f64]) {
        self.minibatch_gradient_with(theta, batch, grad, &mut Vec::new());
    }

    /// Forward and backward passes over the batch with every intermediate array in `scratch`:
    /// the gathered rows and targets, z_i and a_i per layer, and two adjoint buffers. The
    /// arithmetic is that of [`Mlp::forward`] and [`Mlp::backward`], in the same order.
    fn minibatch_gradient_with(&self, theta: &[f64], batch: &[usize], grad: &mut [f64], scratch: &mut Vec<f64>) {
        let (m, k) = (self.data.features, self.data.outputs);
        let b = batch.len();
        let layers = self.layers();
        let widest = self.sizes.iter().copied().max().unwrap_or(0);
        let activations: usize = self.sizes[1..layers].iter().sum();
        let needed = b * (m + k + self.sizes[1..].iter().sum::<usize>() + activations + 2 * widest);
        if scratch.len() < needed {
            scratch.resize(needed, 0.0);
        }
        let (x, rest) = scratch.split_at_mut(b * m);
        let (y, rest) = rest.split_at_mut(b * k);
        let (zs, rest) = rest.split_at_mut(b * self.sizes[1..].iter().sum::<usize>());
        let (acts, rest) = rest.split_at_mut(b * activations);
        let (mut delta, rest) = rest.split_at_mut(b * widest);
        let mut below = &mut rest[..b * widest];
        for (i, &mu) in batch.iter().enumerate() {
            x[i * m..(i + 1) * m].copy_from_slice(self.data.row(mu));
            y[i * k..(i + 1) * k].copy_from_slice(self.data.target(mu));
        }
        // Layer i's z (and, for a hidden layer, its a) starts after those of the layers below.
        let at = |i: usize| b * self.sizes[1..=i].iter().sum::<usize>();
        for i in 0..layers {
            let out = self.sizes[i + 1];
            let (below_i, from_i) = acts.split_at_mut(at(i));
            let input: &[f64] = if i == 0 { x } else { &below_i[at(i - 1)..] };
            let a = if i + 1 < layers { &mut from_i[..b * out] } else { &mut [][..] };
            self.layer_forward(theta, i, input, b, &mut zs[at(i)..at(i) + b * out], a);
        }
        let last = layers - 1;
        let z_last = &zs[at(last)..at(last) + b * k];
        for ((d, a), t) in delta[..b * k].iter_mut().zip(z_last).zip(y.iter()) {
            *d = (a - t) / b as f64;
        }
        grad.fill(0.0);
        for i in (0..layers).rev() {
            let (inp, out) = (self.sizes[i], self.sizes[i + 1]);
            let input: &[f64] = if i == 0 { x } else { &acts[at(i - 1)..at(i - 1) + b * inp] };
            self.add_layer_gradient(i, &delta[..b * out], input, b, grad);
            if i > 0 {
                let a = &acts[at(i - 1)..at(i - 1) + b * inp];
                self.adjoint_below(theta, i, &delta[..b * out], b, a, &mut below[..b * inp]);
                std::mem::swap(&mut delta, &mut below);
            }
        }
        self.add_decay(theta, grad);
    }
}

impl GradientNoise for Mlp {
    /// Tr C(θ) = 𝒩 from the per-sample gradient norms, layer by layer.
    fn gradient_covariance_trace(&self, theta: &[f64]) -> f64 {
        self.noise_strength(theta).noise
    }
}

impl GaussNewtonProduct for Mlp {
    /// `out = (1/N) Σ_μ w_μ J_μᵀ J_μ v`, with J_μ the K × P output Jacobian of sample μ and
    /// per-sample weights `weights` (1 gives the Gauss–Newton G; ℓ_μ gives the loss-weighted
    /// matrix of the decoupling check, paper Fig. 1). Matrix-free: an R-pass and a backward pass.
    fn weighted_gauss_newton_vector_product(&self, theta: &[f64], weights: Option<&[f64]>, v: &[f64], out: &mut [f64]) {
        let n = self.data.len();
        let inv_n = 1.0 / n as f64;
        let total = self.sum_over_data(self.p, &|b, acc| {
            let (x, rows, start) = (b.x, b.rows, b.start);
            let f = self.forward(theta, x, rows);
            let (rz, _) = self.r_forward(theta, v, x, rows, &f.a);
            let last = self.layers() - 1;
            let k = self.sizes[last + 1];
            let delta: Vec<f64> =
                rz[last].iter().enumerate().map(|(j, jv)| jv * inv_n * weights.map_or(1.0, |w| w[start + j / k])).collect();
            self.backward(theta, x, rows, &f, delta, acc);
        });
        out.copy_from_slice(&total);
    }
}

#[cfg(test)]
mod tests {
    /// The partition of the samples depends on N only: ⌈N/512⌉ groups, at most 16 (digits,
    /// N = 1797, makes the 4 groups that `tests/mlp.rs` checks thread independence with).
    #[test]
    fn groups_depend_on_the_sample_count_only() {
        assert_eq!([1, 512, 513, 1797, 8192, 8193, 60_000].map(super::groups), [1, 1, 2, 4, 16, 16, 16]);
    }

    /// The blocks tile 0..n in order, each of 1 to 256 samples, within ⌈n/512⌉ groups (≤ 16).
    #[test]
    fn sample_blocks_tile_the_data_in_order() {
        for n in [1, 255, 256, 257, 1797, 10_000, 60_000] {
            let groups = super::sample_blocks(n);
            assert_eq!(groups.len(), super::groups(n));
            let blocks: Vec<(usize, usize)> = groups.into_iter().flatten().collect();
            assert_eq!(blocks.first().map(|b| b.0), Some(0));
            assert_eq!(blocks.last().map(|b| b.1), Some(n));
            assert!(blocks.windows(2).all(|w| w[0].1 == w[1].0), "n = {n}: contiguous");
            assert!(blocks.iter().all(|(s, e)| e > s && e - s <= super::CHUNK), "n = {n}: 1 to 256 samples");
        }
    }
}
