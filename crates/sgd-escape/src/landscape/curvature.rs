//! Curvature as linear operators: anything that applies a symmetric P × P matrix to vectors.
//! Every spectral method in [`super::spectrum`] takes an [`Operator`], so the Hessian, the
//! Gauss–Newton matrix and the SGD noise covariances share the same tools.
//!
//! Operators are values and compose: [`OperatorExt`] scales them, adds them, adds a rank-one
//! term and restricts them to a subspace. The noise covariances of docs/theory.md are
//! compositions of the model's own products, matrix-free where the model allows:
//!
//! - exact minibatch noise, one output (eq. 5–6): `(f/B) · (2·A − ∇L∇Lᵀ)` with
//!   `A = (1/N) Σ_μ ℓ_μ ∇f_μ∇f_μᵀ` ([`GaussNewton::loss_weighted`]) and `f` the sampling factor;
//!   with K > 1 outputs the covariance is materialised from the model ([`exact_noise`]);
//! - the decoupled noise of the paper (eq. 7–8): `(2L/B) · G` ([`paper_noise`]);
//! - the loss-weighted matrix and its decoupled form, `A` and `L · G` (the decoupling check).

use crate::dynamics::Sampling;
use crate::model::{GaussNewtonProduct, GradientNoise, HessianAt, HessianProduct};
use std::sync::OnceLock;

/// A symmetric linear operator on R^P.
pub trait Operator: Sync {
    /// P.
    fn dim(&self) -> usize;
    /// `out = A v`.
    fn apply(&self, v: &[f64], out: &mut [f64]);
    /// `out = A V` for a block of vectors stored one after another (each of length P); the
    /// default applies them one at a time.
    fn apply_block(&self, vs: &[f64], out: &mut [f64]) {
        let p = self.dim();
        for (v, o) in vs.chunks_exact(p).zip(out.chunks_exact_mut(p)) {
            self.apply(v, o);
        }
    }
}

impl<O: Operator + ?Sized> Operator for &O {
    fn dim(&self) -> usize {
        (**self).dim()
    }
    fn apply(&self, v: &[f64], out: &mut [f64]) {
        (**self).apply(v, out)
    }
    fn apply_block(&self, vs: &[f64], out: &mut [f64]) {
        (**self).apply_block(vs, out)
    }
}

impl<O: Operator + ?Sized> Operator for Box<O> {
    fn dim(&self) -> usize {
        (**self).dim()
    }
    fn apply(&self, v: &[f64], out: &mut [f64]) {
        (**self).apply(v, out)
    }
    fn apply_block(&self, vs: &[f64], out: &mut [f64]) {
        (**self).apply_block(vs, out)
    }
}

/// The operator algebra: every operator can be scaled, added to another, given a rank-one term
/// and restricted to a subspace.
pub trait OperatorExt: Operator + Sized {
    /// `factor · A`.
    fn scaled(self, factor: f64) -> Scaled<Self> {
        Scaled { op: self, factor }
    }
    /// `A + B` (same dimension).
    fn plus<B: Operator>(self, other: B) -> Sum<Self, B> {
        assert_eq!(self.dim(), other.dim(), "operators of different dimensions");
        Sum { a: self, b: other }
    }
    /// `A + scale · u uᵀ`.
    fn plus_rank_one(self, u: Vec<f64>, scale: f64) -> Sum<Self, RankOne> {
        self.plus(RankOne { u, scale })
    }
    /// `Uᵀ A U` on R^k for the k orthonormal columns `basis` (each of length P): the operator
    /// restricted to their span.
    fn restricted(self, basis: Vec<Vec<f64>>) -> Restricted<Self> {
        Restricted { op: self, basis }
    }
}

impl<O: Operator> OperatorExt for O {}

/// `factor · A`.
pub struct Scaled<A> {
    op: A,
    factor: f64,
}

impl<A: Operator> Operator for Scaled<A> {
    fn dim(&self) -> usize {
        self.op.dim()
    }
    fn apply(&self, v: &[f64], out: &mut [f64]) {
        self.op.apply(v, out);
        out.iter_mut().for_each(|o| *o *= self.factor);
    }
}

/// `A + B`.
pub struct Sum<A, B> {
    a: A,
    b: B,
}

impl<A: Operator, B: Operator> Operator for Sum<A, B> {
    fn dim(&self) -> usize {
        self.a.dim()
    }
    fn apply(&self, v: &[f64], out: &mut [f64]) {
        self.a.apply(v, out);
        let mut other = vec![0.0; out.len()];
        self.b.apply(v, &mut other);
        out.iter_mut().zip(&other).for_each(|(o, b)| *o += b);
    }
}

/// `scale · u uᵀ`.
pub struct RankOne {
    u: Vec<f64>,
    scale: f64,
}

impl RankOne {
    /// `scale · u uᵀ`.
    pub fn new(u: Vec<f64>, scale: f64) -> Self {
        RankOne { u, scale }
    }
}

impl Operator for RankOne {
    fn dim(&self) -> usize {
        self.u.len()
    }
    fn apply(&self, v: &[f64], out: &mut [f64]) {
        let s = self.scale * crate::linalg::dot(&self.u, v);
        out.iter_mut().zip(&self.u).for_each(|(o, u)| *o = s * u);
    }
}

/// `Uᵀ A U`: an operator restricted to the span of k orthonormal vectors.
pub struct Restricted<A> {
    op: A,
    basis: Vec<Vec<f64>>,
}

impl<A: Operator> Operator for Restricted<A> {
    fn dim(&self) -> usize {
        self.basis.len()
    }
    fn apply(&self, v: &[f64], out: &mut [f64]) {
        let p = self.op.dim();
        let mut x = vec![0.0; p];
        for (vi, u) in v.iter().zip(&self.basis) {
            crate::linalg::axpy(*vi, u, &mut x);
        }
        let mut ax = vec![0.0; p];
        self.op.apply(&x, &mut ax);
        for (o, u) in out.iter_mut().zip(&self.basis) {
            *o = crate::linalg::dot(u, &ax);
        }
    }
}

/// The Hessian `H(θ)` through exact Hessian-vector products. The first product prepares the
/// model's [`HessianProduct::hessian_at`] (for an MLP, its forward and backward passes at θ),
/// which the following products share; the products are those of [`HessianProduct::hvp`].
pub struct Hessian<'a, M: HessianProduct + ?Sized> {
    model: &'a M,
    theta: &'a [f64],
    at: OnceLock<Option<Box<dyn HessianAt + 'a>>>,
}

impl<'a, M: HessianProduct + ?Sized> Hessian<'a, M> {
    /// `H(θ)` of `model`.
    pub fn new(model: &'a M, theta: &'a [f64]) -> Self {
        Hessian { model, theta, at: OnceLock::new() }
    }

    /// The point θ.
    pub fn theta(&self) -> &'a [f64] {
        self.theta
    }
}

impl<M: HessianProduct + ?Sized> Operator for Hessian<'_, M> {
    fn dim(&self) -> usize {
        self.model.dim()
    }
    fn apply(&self, v: &[f64], out: &mut [f64]) {
        match self.at.get_or_init(|| self.model.hessian_at(self.theta)) {
            Some(at) => at.hvp(v, out),
            None => self.model.hvp(self.theta, v, out),
        }
    }
}

/// `(1/N) Σ_μ w_μ J_μᵀ J_μ`, matrix-free, with J_μ the output Jacobian of sample μ: the
/// Gauss–Newton matrix `G(θ)` (all w_μ = 1, docs/theory.md eq. 4) or the loss-weighted matrix
/// `A(θ) = (1/N) Σ_μ ℓ_μ ∇f_μ∇f_μᵀ` of the decoupling check (w_μ = ℓ_μ, eq. 7).
pub struct GaussNewton<'a> {
    model: &'a dyn GaussNewtonProduct,
    theta: &'a [f64],
    weights: Option<Vec<f64>>,
}

impl<'a> GaussNewton<'a> {
    /// `G(θ) = (1/N) Σ_μ J_μᵀ J_μ`.
    pub fn new(model: &'a dyn GaussNewtonProduct, theta: &'a [f64]) -> Self {
        GaussNewton { model, theta, weights: None }
    }

    /// `A(θ) = (1/N) Σ_μ ℓ_μ J_μᵀ J_μ`.
    pub fn loss_weighted(model: &'a dyn GaussNewtonProduct, theta: &'a [f64]) -> Self {
        GaussNewton { model, theta, weights: Some(model.sample_losses(theta)) }
    }

    /// The decoupled form of [`GaussNewton::loss_weighted`]: `L(θ) · G(θ)`.
    pub fn decoupled(model: &'a dyn GaussNewtonProduct, theta: &'a [f64]) -> Scaled<Self> {
        GaussNewton::new(model, theta).scaled(model.loss(theta))
    }
}

impl Operator for GaussNewton<'_> {
    fn dim(&self) -> usize {
        self.model.dim()
    }
    fn apply(&self, v: &[f64], out: &mut [f64]) {
        match &self.weights {
            None => self.model.gauss_newton_vector_product(self.theta, v, out),
            Some(w) => self.model.weighted_gauss_newton_vector_product(self.theta, Some(w), v, out),
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

/// The exact minibatch noise covariance `Σ(θ) = (f/B) C(θ)` (docs/theory.md eq. 5–6), with
/// `C = (1/N) Σ ∇ℓ_μ∇ℓ_μᵀ − ∇L∇Lᵀ` and `f` the sampling factor. For one output, matrix-free:
/// `∇ℓ_μ = r_μ ∇f_μ` and `r_μ² = 2ℓ_μ` give `C = 2A − ∇L∇Lᵀ` with A the loss-weighted
/// Gauss–Newton matrix. With K > 1 outputs, C is materialised once from the model (P × P).
pub fn exact_noise<'a, M: GaussNewtonProduct + GradientNoise>(
    model: &'a M,
    theta: &'a [f64],
    batch_size: usize,
    sampling: Sampling,
) -> Box<dyn Operator + 'a> {
    let scale = sampling.covariance_factor(model.samples(), batch_size) / batch_size as f64;
    if model.outputs() == 1 {
        let mut gradient = vec![0.0; model.dim()];
        model.loss_and_gradient(theta, &mut gradient);
        Box::new(GaussNewton::loss_weighted(model, theta).scaled(2.0).plus_rank_one(gradient, -1.0).scaled(scale))
    } else {
        let matrix = model.gradient_covariance(theta).into_iter().map(|c| c * scale).collect();
        Box::new(DenseOperator { matrix, p: model.dim() })
    }
}

/// The paper's decoupled noise before H is frozen at θ*, `2 L(θ) G(θ) / B`
/// (docs/theory.md eq. 7–8), matrix-free.
pub fn paper_noise<'a>(model: &'a dyn GaussNewtonProduct, theta: &'a [f64], batch_size: usize) -> Scaled<GaussNewton<'a>> {
    GaussNewton::new(model, theta).scaled(2.0 * model.loss(theta) / batch_size as f64)
}

/// Materialises an operator as a dense symmetric row-major matrix (P applications).
pub fn to_dense(op: &dyn Operator) -> Vec<f64> {
    crate::linalg::materialize_symmetric(op.dim(), |v, out| op.apply(v, out))
}
