//! Curvature as linear operators: anything that can apply a symmetric P × P matrix to a vector.
//! Every spectral method in [`super::spectrum`] takes an [`Operator`], so the Hessian, the
//! Gauss–Newton matrix and the SGD noise covariances share the same tools.

use crate::model::{DataModel, Model};

/// A symmetric linear operator on R^P.
pub trait Operator: Sync {
    /// P.
    fn dim(&self) -> usize;
    /// `out = A v`.
    fn apply(&self, v: &[f64], out: &mut [f64]);
}

/// The Hessian `H(θ)` through exact Hessian-vector products.
pub struct Hessian<'a, M: Model + ?Sized> {
    /// The model.
    pub model: &'a M,
    /// The point θ.
    pub theta: &'a [f64],
}

impl<M: Model + ?Sized> Operator for Hessian<'_, M> {
    fn dim(&self) -> usize {
        self.model.dim()
    }
    fn apply(&self, v: &[f64], out: &mut [f64]) {
        self.model.hvp(self.theta, v, out)
    }
}

/// The Gauss–Newton matrix `G(θ) = (1/N) Σ ∇f_μ∇f_μᵀ` of a data-built model.
pub struct GaussNewton<'a> {
    /// The model.
    pub model: &'a dyn DataModel,
    /// The point θ.
    pub theta: &'a [f64],
}

impl Operator for GaussNewton<'_> {
    fn dim(&self) -> usize {
        self.model.dim()
    }
    fn apply(&self, v: &[f64], out: &mut [f64]) {
        self.model.gauss_newton_vector_product(self.theta, v, out)
    }
}

/// The exact minibatch noise covariance `Σ(θ) = factor/B · C(θ)` (THEORY.md §2), materialised
/// densely once (P × P) at construction; `factor` is 1 with replacement, `(N − B)/(N − 1)`
/// without.
pub struct NoiseCovariance {
    dense: Vec<f64>,
    p: usize,
}

impl NoiseCovariance {
    /// Σ(θ) of `model` for batch size `batch_size`, with or without replacement.
    pub fn new(model: &dyn DataModel, theta: &[f64], batch_size: usize, without_replacement: bool) -> Self {
        let n = model.samples();
        let factor = if without_replacement && n > 1 {
            (n - batch_size) as f64 / (n - 1) as f64
        } else if without_replacement {
            0.0
        } else {
            1.0
        };
        let scale = factor / batch_size as f64;
        let dense = model.gradient_covariance(theta).into_iter().map(|c| c * scale).collect();
        NoiseCovariance { dense, p: model.dim() }
    }
}

impl Operator for NoiseCovariance {
    fn dim(&self) -> usize {
        self.p
    }
    fn apply(&self, v: &[f64], out: &mut [f64]) {
        crate::linalg::symv(&self.dense, v, out)
    }
}

/// The paper's decoupled noise `2 L(θ) G(θ) / B` (THEORY.md §2, before freezing H at θ*).
pub struct DecoupledNoise<'a> {
    gauss_newton: GaussNewton<'a>,
    scale: f64,
}

impl<'a> DecoupledNoise<'a> {
    /// `2 L(θ) G(θ)/B`.
    pub fn new(model: &'a dyn DataModel, theta: &'a [f64], batch_size: usize) -> Self {
        let scale = 2.0 * model.loss(theta) / batch_size as f64;
        DecoupledNoise { gauss_newton: GaussNewton { model, theta }, scale }
    }
}

impl Operator for DecoupledNoise<'_> {
    fn dim(&self) -> usize {
        self.gauss_newton.dim()
    }
    fn apply(&self, v: &[f64], out: &mut [f64]) {
        self.gauss_newton.apply(v, out);
        out.iter_mut().for_each(|o| *o *= self.scale);
    }
}

/// A dense symmetric matrix (row-major) as an operator.
pub struct DenseOperator {
    /// Entries, row-major P × P.
    pub matrix: Vec<f64>,
    /// P.
    pub p: usize,
}

impl Operator for DenseOperator {
    fn dim(&self) -> usize {
        self.p
    }
    fn apply(&self, v: &[f64], out: &mut [f64]) {
        crate::linalg::symv(&self.matrix, v, out)
    }
}

/// Materialises an operator as a dense symmetric row-major matrix (P applications).
pub fn to_dense(op: &dyn Operator) -> Vec<f64> {
    crate::linalg::materialize_symmetric(op.dim(), |v, out| op.apply(v, out))
}
