//! The analytic double well of docs/theory.md §8.

use super::{HessianProduct, Model};

/// `L(θ) = ε + (θ₁² − 1)²/4 + (k/2) Σ_{i≥2} θ_i²`.
///
/// Minima at `θ = (±1, 0, …)` with `L* = ε` and Hessian `diag(2, k, …, k)`; saddle at `θ = 0`
/// with `L(θˢ) = ε + 1/4` and Hessian `diag(−1, k, …, k)`. Analytic: it has no data, so it can
/// be simulated with SDEs but not with data SGD.
#[derive(Clone, Debug)]
pub struct DoubleWell {
    /// The loss floor ε ≥ 0.
    pub epsilon: f64,
    /// Number of parameters (≥ 1).
    pub dim: usize,
    /// Curvature k of the transverse directions θ₂…θ_dim.
    pub stiffness: f64,
}

impl Model for DoubleWell {
    fn dim(&self) -> usize {
        self.dim
    }

    fn loss(&self, theta: &[f64]) -> f64 {
        let u = theta[0] * theta[0] - 1.0;
        let transverse: f64 = theta[1..].iter().map(|t| t * t).sum();
        self.epsilon + 0.25 * u * u + 0.5 * self.stiffness * transverse
    }

    fn loss_and_gradient(&self, theta: &[f64], grad: &mut [f64]) -> f64 {
        let u = theta[0] * theta[0] - 1.0;
        grad[0] = theta[0] * u;
        let mut transverse = 0.0;
        for (g, t) in grad[1..].iter_mut().zip(&theta[1..]) {
            *g = self.stiffness * t;
            transverse += t * t;
        }
        self.epsilon + 0.25 * u * u + 0.5 * self.stiffness * transverse
    }
}

impl HessianProduct for DoubleWell {
    fn hvp(&self, theta: &[f64], v: &[f64], out: &mut [f64]) {
        out[0] = (3.0 * theta[0] * theta[0] - 1.0) * v[0];
        for (o, vi) in out[1..].iter_mut().zip(&v[1..]) {
            *o = self.stiffness * vi;
        }
    }
}
