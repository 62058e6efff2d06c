//! Models: a loss `L(θ)` over parameters `θ ∈ R^P`, and what else a model can do, one small
//! trait per capability, so that a model implements only what it can and each algorithm states
//! what it needs:
//!
//! | trait | capability | needed by |
//! |---|---|---|
//! | [`Model`] | `L(θ)`, `∇L(θ)` | every SDE, exits |
//! | [`HessianProduct`] | `∇²L(θ) v` (and the dense Hessian) | minimisation, saddle search, curvature operators |
//! | [`DataModel`] | per-sample residuals `r_μ` and output gradients `∇f_μ` | everything built from data |
//! | [`MinibatchGradient`] | `∇L_B(θ)` | SGD |
//! | [`GaussNewtonProduct`] | `G v`, `(1/N) Σ w_μ J_μᵀJ_μ v` | decoupling check, noise operators |
//! | [`GradientNoise`] | the per-sample gradient covariance `C(θ)` and draws from it | the exact-noise SDE |
//!
//!
//! - [`DoubleWell`]: the analytic landscape `L = ε + (θ₁² − 1)²/4 + (k/2) Σ_{i≥2} θ_i²`.
//! - [`FeatureModel`]: data-built mean-square models `f(θ, x) = xᵀφ(θ)`, linear in the data
//!   through a feature map `φ`: [`LinearMap`] (linear regression, paper Fig. 3) and
//!   [`CurveMap`] (a double well with a real barrier built from data, docs/theory.md §8).
//! - [`Mlp`]: multilayer perceptrons with K linear outputs on real data (docs/theory.md §8).

mod curve;
mod double_well;
mod feature;
mod linear;
mod mlp;

pub use crate::data::Dataset;
pub use curve::CurveMap;
pub use double_well::DoubleWell;
pub use feature::{FeatureMap, FeatureModel, quadratic_loss};
pub use linear::LinearMap;
pub use mlp::{Activation, HESSIAN_CACHE_BYTES, Mlp, MlpHessianAt, NoiseStrength, sample_blocks};

/// Every capability trait, for `use sgd_escape::model::prelude::*`.
pub mod prelude {
    pub use super::{DataModel, GaussNewtonProduct, GradientNoise, HessianAt, HessianProduct, MinibatchGradient, Model};
}

use crate::dynamics::rng::ReplicaRng;
use rand::RngExt;
use rand_distr::StandardNormal;

/// What every model can do: the loss `L(θ)` over parameters `θ ∈ R^P` and its gradient.
pub trait Model: Send + Sync {
    /// Number of parameters P.
    fn dim(&self) -> usize;
    /// The loss `L(θ)`.
    fn loss(&self, theta: &[f64]) -> f64;
    /// Writes `∇L(θ)` into `grad` and returns `L(θ)`.
    fn loss_and_gradient(&self, theta: &[f64], grad: &mut [f64]) -> f64;
}

/// Exact Hessian-vector products `∇²L(θ) v`: what minimisation, saddle search and every
/// curvature operator need.
pub trait HessianProduct: Model {
    /// `out = ∇²L(θ) v`.
    fn hvp(&self, theta: &[f64], v: &[f64], out: &mut [f64]);

    /// The Hessian at one θ for many products (Lanczos, MINRES, a dense Hessian), when the model
    /// can share work between them: an MLP keeps its forward and backward passes
    /// ([`MlpHessianAt`]). `None` (the default) means every product is computed by
    /// [`HessianProduct::hvp`] from scratch. The products are those of `hvp`, to the bit.
    fn hessian_at<'a>(&'a self, _theta: &[f64]) -> Option<Box<dyn HessianAt + 'a>> {
        None
    }

    /// Dense Hessian, row-major `P × P`, assembled from P Hessian-vector products and
    /// symmetrised.
    fn hessian(&self, theta: &[f64]) -> Vec<f64> {
        match self.hessian_at(theta) {
            Some(at) => crate::linalg::materialize_symmetric(self.dim(), |v, out| at.hvp(v, out)),
            None => crate::linalg::materialize_symmetric(self.dim(), |v, out| self.hvp(theta, v, out)),
        }
    }
}

/// Hessian-vector products `∇²L(θ) v` at a θ fixed in advance ([`HessianProduct::hessian_at`]).
pub trait HessianAt: Send + Sync {
    /// `out = ∇²L(θ) v`.
    fn hvp(&self, v: &[f64], out: &mut [f64]);
}

/// A mean-square model built from a data set `{(x_μ, y_μ)}`, μ = 1..N:
/// `L(θ) = (1/2N) Σ_μ |r_μ|²`, residual `r_μ = f(θ, x_μ) − y_μ ∈ R^K` (docs/theory.md, eq. 1):
/// the per-sample residuals and output gradients.
pub trait DataModel: Model {
    /// Number of samples N.
    fn samples(&self) -> usize;

    /// Number of outputs K of `f(θ, x) ∈ R^K` (the loss sums the squared residuals over them).
    fn outputs(&self) -> usize {
        1
    }

    /// The K residuals `r_μk = f_k(θ, x_μ) − y_μk` of sample `mu` written into `residuals`, and
    /// the output gradients `∇f_μk` into the rows of `grad_f` (row-major `K × P`).
    fn residuals_and_output_gradients(&self, theta: &[f64], mu: usize, residuals: &mut [f64], grad_f: &mut [f64]);

    /// The per-sample loss `ℓ_μ = ½ Σ_k r_μk²`, with its gradient `∇ℓ_μ = Σ_k r_μk ∇f_μk`
    /// written into `grad`. The default goes through
    /// [`DataModel::residuals_and_output_gradients`].
    fn sample_loss_gradient(&self, theta: &[f64], mu: usize, grad: &mut [f64]) -> f64 {
        let (p, k) = (self.dim(), self.outputs());
        let mut r = vec![0.0; k];
        let mut jac = vec![0.0; k * p];
        self.residuals_and_output_gradients(theta, mu, &mut r, &mut jac);
        grad.fill(0.0);
        for (rk, row) in r.iter().zip(jac.chunks_exact(p)) {
            crate::linalg::axpy(*rk, row, grad);
        }
        0.5 * crate::linalg::dot(&r, &r)
    }

    /// The per-sample losses `ℓ_μ = ½ Σ_k r_μk²`. The default goes through
    /// [`DataModel::residuals_and_output_gradients`], O(N·P).
    fn sample_losses(&self, theta: &[f64]) -> Vec<f64> {
        let (p, k) = (self.dim(), self.outputs());
        let mut r = vec![0.0; k];
        let mut jac = vec![0.0; k * p];
        (0..self.samples())
            .map(|mu| {
                self.residuals_and_output_gradients(theta, mu, &mut r, &mut jac);
                0.5 * crate::linalg::dot(&r, &r)
            })
            .collect()
    }
}

/// Minibatch gradients `∇L_B = (1/|B|) Σ_{μ∈B} ∇ℓ_μ`: what SGD needs.
pub trait MinibatchGradient: DataModel {
    /// `∇L_B(θ)` for the sample indices `batch`, written into `grad`.
    fn minibatch_gradient(&self, theta: &[f64], batch: &[usize], grad: &mut [f64]);

    /// The same with a reusable buffer: a model that needs intermediate arrays (a network's
    /// activations) keeps them in `scratch`, so that after the first call for a batch size it
    /// allocates nothing. The result equals [`MinibatchGradient::minibatch_gradient`] bit for
    /// bit. The default ignores `scratch`.
    fn minibatch_gradient_with(&self, theta: &[f64], batch: &[usize], grad: &mut [f64], scratch: &mut Vec<f64>) {
        let _ = scratch;
        self.minibatch_gradient(theta, batch, grad)
    }
}

/// Gauss–Newton products: what the decoupling check and the noise operators need.
pub trait GaussNewtonProduct: DataModel {
    /// Gauss–Newton matrix-vector product `out = G v`, `G = (1/N) Σ_μ J_μᵀ J_μ`
    /// (docs/theory.md, eq. 4). The default is the unweighted
    /// [`GaussNewtonProduct::weighted_gauss_newton_vector_product`].
    fn gauss_newton_vector_product(&self, theta: &[f64], v: &[f64], out: &mut [f64]) {
        self.weighted_gauss_newton_vector_product(theta, None, v, out)
    }

    /// `out = (1/N) Σ_μ w_μ J_μᵀ J_μ v` with J_μ the K × P output Jacobian of sample μ and
    /// weights `w_μ` (all 1 when `None`: the Gauss–Newton product). With w_μ = ℓ_μ this is the
    /// loss-weighted matrix `(1/N) Σ ℓ_μ ∇f_μ∇f_μᵀ` of the decoupling check (docs/theory.md,
    /// eq. 7). The default sums over samples, O(N·K·P).
    fn weighted_gauss_newton_vector_product(&self, theta: &[f64], weights: Option<&[f64]>, v: &[f64], out: &mut [f64]) {
        let (p, k, n) = (self.dim(), self.outputs(), self.samples());
        let mut r = vec![0.0; k];
        let mut jac = vec![0.0; k * p];
        out.fill(0.0);
        for mu in 0..n {
            self.residuals_and_output_gradients(theta, mu, &mut r, &mut jac);
            let w = weights.map_or(1.0, |w| w[mu]);
            for row in jac.chunks_exact(p) {
                let s = w * crate::linalg::dot(row, v) / n as f64;
                crate::linalg::axpy(s, row, out);
            }
        }
    }
}

/// The covariance of per-sample gradients and draws from it: what the exact minibatch noise
/// needs (docs/theory.md, eq. 5).
pub trait GradientNoise: DataModel {
    /// Draws a vector `ζ` with covariance equal to the per-sample gradient covariance
    /// `C(θ) = (1/N) Σ_μ ∇ℓ_μ ∇ℓ_μᵀ − ∇L ∇Lᵀ` (the minibatch noise covariance with replacement
    /// is `Σ = C / B`). `scratch` is a reusable buffer.
    ///
    /// The default costs O(N·P): `ζ = N^{-1/2} Σ_μ z_μ (∇ℓ_μ − ∇L)` with i.i.d. standard normal
    /// `z_μ`, which has exactly covariance `C`. Models with sufficient statistics override it.
    fn sample_gradient_noise(&self, theta: &[f64], rng: &mut ReplicaRng, scratch: &mut Vec<f64>, out: &mut [f64]) {
        per_sample_gradient_noise(self, theta, rng, scratch, out)
    }

    /// The per-sample gradient covariance `C(θ) = (1/N) Σ_μ ∇ℓ_μ∇ℓ_μᵀ − ∇L∇Lᵀ` as a dense
    /// row-major P × P matrix. The default sums over samples, O(N·P²).
    fn gradient_covariance(&self, theta: &[f64]) -> Vec<f64> {
        per_sample_gradient_covariance(self, theta)
    }

    /// Tr C(θ) = (1/N) Σ_μ |∇ℓ_μ|² − |∇L|² (𝒩 of docs/theory.md eq. 9). The default sums over
    /// samples, O(N·P).
    fn gradient_covariance_trace(&self, theta: &[f64]) -> f64 {
        per_sample_variance_along(self, theta, None)
    }

    /// uᵀC(θ)u = (1/N) Σ_μ (u·∇ℓ_μ)² − (u·∇L)²: the per-sample gradient variance along u. The
    /// default sums over samples, O(N·P).
    fn gradient_covariance_along(&self, theta: &[f64], u: &[f64]) -> f64 {
        per_sample_variance_along(self, theta, Some(u))
    }
}

/// Draws `ζ = N^{-1/2} Σ_μ z_μ (∇ℓ_μ − ∇L)` with i.i.d. standard normal `z_μ`: covariance
/// exactly `C(θ) = (1/N) Σ ∇ℓ_μ∇ℓ_μᵀ − ∇L∇Lᵀ`, at O(N·P) a draw. The default of
/// [`GradientNoise::sample_gradient_noise`].
pub fn per_sample_gradient_noise<M: DataModel + ?Sized>(
    model: &M,
    theta: &[f64],
    rng: &mut ReplicaRng,
    scratch: &mut Vec<f64>,
    out: &mut [f64],
) {
    let p = model.dim();
    let n = model.samples();
    scratch.clear();
    scratch.resize(2 * p, 0.0);
    let (grad, grad_mu) = scratch.split_at_mut(p);
    model.loss_and_gradient(theta, grad);
    out.fill(0.0);
    let mut z_sum = 0.0;
    for mu in 0..n {
        let z: f64 = rng.sample(StandardNormal);
        z_sum += z;
        model.sample_loss_gradient(theta, mu, grad_mu);
        crate::linalg::axpy(z, grad_mu, out);
    }
    crate::linalg::axpy(-z_sum, grad, out);
    let scale = 1.0 / (n as f64).sqrt();
    out.iter_mut().for_each(|o| *o *= scale);
}

/// `C(θ) = (1/N) Σ_μ ∇ℓ_μ∇ℓ_μᵀ − ∇L∇Lᵀ` summed over samples, O(N·P²): the default of
/// [`GradientNoise::gradient_covariance`] and the reference its overrides are tested against.
pub fn per_sample_gradient_covariance<M: DataModel + ?Sized>(model: &M, theta: &[f64]) -> Vec<f64> {
    let p = model.dim();
    let n = model.samples();
    let mut grad = vec![0.0; p];
    model.loss_and_gradient(theta, &mut grad);
    let mut g = vec![0.0; p];
    let mut c = vec![0.0; p * p];
    for mu in 0..n {
        model.sample_loss_gradient(theta, mu, &mut g);
        for i in 0..p {
            for j in 0..p {
                c[i * p + j] += g[i] * g[j];
            }
        }
    }
    for i in 0..p {
        for j in 0..p {
            c[i * p + j] = c[i * p + j] / n as f64 - grad[i] * grad[j];
        }
    }
    c
}

/// (1/N) Σ_μ (u·∇ℓ_μ)² − (u·∇L)² over the samples, or with `u = None` the trace
/// (1/N) Σ_μ |∇ℓ_μ|² − |∇L|²; O(N·P).
fn per_sample_variance_along<M: DataModel + ?Sized>(model: &M, theta: &[f64], u: Option<&[f64]>) -> f64 {
    let p = model.dim();
    let (mut g, mut grad) = (vec![0.0; p], vec![0.0; p]);
    model.loss_and_gradient(theta, &mut grad);
    let square = |v: &[f64]| match u {
        Some(u) => crate::linalg::dot(u, v).powi(2),
        None => crate::linalg::dot(v, v),
    };
    let n = model.samples();
    let mean = (0..n)
        .map(|mu| {
            model.sample_loss_gradient(theta, mu, &mut g);
            square(&g)
        })
        .sum::<f64>()
        / n as f64;
    mean - square(&grad)
}
