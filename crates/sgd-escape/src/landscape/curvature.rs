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

/// `scale · (1/N) Σ_μ w_μ J_μᵀ J_μ`, matrix-free (THEORY.md §2, §5). Two instances make the
/// paper's decoupling check (Fig. 1): [`WeightedGaussNewton::loss_weighted`] is
/// `(1/N) Σ ℓ_μ ∇f_μ∇f_μᵀ`, [`WeightedGaussNewton::decoupled`] is `L · (1/N) Σ ∇f_μ∇f_μᵀ`. For a
/// single output, `(2/B) · loss_weighted − ∇L∇Lᵀ/B` is the exact minibatch noise Σ and
/// `(2/B) · decoupled` the paper's `2LG/B`.
pub struct WeightedGaussNewton<'a> {
    model: &'a dyn DataModel,
    theta: &'a [f64],
    weights: Option<Vec<f64>>,
    scale: f64,
}

impl<'a> WeightedGaussNewton<'a> {
    /// `(1/N) Σ ℓ_μ J_μᵀ J_μ`.
    pub fn loss_weighted(model: &'a dyn DataModel, theta: &'a [f64]) -> Self {
        WeightedGaussNewton { model, theta, weights: Some(model.sample_losses(theta)), scale: 1.0 }
    }

    /// `L(θ) · (1/N) Σ J_μᵀ J_μ`.
    pub fn decoupled(model: &'a dyn DataModel, theta: &'a [f64]) -> Self {
        WeightedGaussNewton { model, theta, weights: None, scale: model.loss(theta) }
    }
}

impl Operator for WeightedGaussNewton<'_> {
    fn dim(&self) -> usize {
        self.model.dim()
    }
    fn apply(&self, v: &[f64], out: &mut [f64]) {
        self.model.weighted_gauss_newton_vector_product(self.theta, self.weights.as_deref(), v, out);
        if self.scale != 1.0 {
            out.iter_mut().for_each(|o| *o *= self.scale);
        }
    }
}

/// The exact minibatch noise covariance of a single-output model, matrix-free:
/// `Σ = (1/B)[(1/N) Σ_μ r_μ² ∇f_μ∇f_μᵀ − ∇L∇Lᵀ] = (2/B)·A − ∇L∇Lᵀ/B` with
/// A = [`WeightedGaussNewton::loss_weighted`] (batches drawn with replacement, THEORY.md §2).
pub struct SingleOutputNoise<'a> {
    loss_weighted: WeightedGaussNewton<'a>,
    gradient: Vec<f64>,
    batch_size: f64,
}

impl<'a> SingleOutputNoise<'a> {
    /// Σ(θ) for batch size `batch_size`; `None` for models with more than one output.
    pub fn new(model: &'a dyn DataModel, theta: &'a [f64], batch_size: usize) -> Option<Self> {
        if model.outputs() != 1 {
            return None;
        }
        let mut gradient = vec![0.0; model.dim()];
        model.loss_and_gradient(theta, &mut gradient);
        Some(SingleOutputNoise { loss_weighted: WeightedGaussNewton::loss_weighted(model, theta), gradient, batch_size: batch_size as f64 })
    }
}

impl Operator for SingleOutputNoise<'_> {
    fn dim(&self) -> usize {
        self.gradient.len()
    }
    fn apply(&self, v: &[f64], out: &mut [f64]) {
        self.loss_weighted.apply(v, out);
        let gv = crate::linalg::dot(&self.gradient, v);
        for (o, g) in out.iter_mut().zip(&self.gradient) {
            *o = (2.0 * *o - g * gv) / self.batch_size;
        }
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
