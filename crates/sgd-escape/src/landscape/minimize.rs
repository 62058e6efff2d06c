//! Minimisation by saddle-free damped Newton with the exact Hessian (from HVPs) and a
//! backtracking Armijo line search.

use crate::error::{Error, Result};
use crate::linalg;
use crate::model::HessianProduct;
use serde::{Deserialize, Serialize};

/// Stopping rule of [`minimize`].
#[derive(Clone, Copy, Debug)]
pub struct MinimizeOptions {
    /// Converged when `|∇L|₂ ≤ gradient_tol`.
    pub gradient_tol: f64,
    /// Newton iterations at most.
    pub max_iterations: usize,
}

impl Default for MinimizeOptions {
    fn default() -> Self {
        MinimizeOptions { gradient_tol: 1e-11, max_iterations: 500 }
    }
}

/// A located minimum.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Minimum {
    /// θ*.
    pub theta: Vec<f64>,
    /// L(θ*).
    pub loss: f64,
    /// |∇L(θ*)|₂ reached.
    pub gradient_norm: f64,
    /// Newton iterations used.
    pub iterations: usize,
}

/// Minimises `model` from `start`. Each iteration takes the Newton step with the Hessian's
/// eigenvalues replaced by their absolute values (floored at 1e-10 of the largest), which is a
/// descent direction even where H is indefinite, then backtracks until the Armijo condition
/// holds. Costs P Hessian-vector products and one P × P eigendecomposition per iteration: for
/// models up to a few thousand parameters.
pub fn minimize<M: HessianProduct + ?Sized>(model: &M, start: &[f64], options: MinimizeOptions) -> Result<Minimum> {
    let p = model.dim();
    let mut theta = start.to_vec();
    let mut grad = vec![0.0; p];
    let mut loss = model.loss_and_gradient(&theta, &mut grad);
    if !loss.is_finite() || !linalg::all_finite(&grad) {
        return Err(Error::Numerical(format!("minimisation: loss or gradient is not finite at the start point {theta:?}")));
    }
    let mut trial = vec![0.0; p];
    let mut trial_grad = vec![0.0; p];
    for iteration in 0..options.max_iterations {
        let gnorm = linalg::norm(&grad);
        if gnorm <= options.gradient_tol {
            return Ok(Minimum { theta, loss, gradient_norm: gnorm, iterations: iteration });
        }
        let h = model.hessian(&theta);
        let (values, vectors) = linalg::symmetric_eigen(&h, p);
        let scale = values.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        let floor = (1e-10 * scale).max(f64::MIN_POSITIVE);
        let mut direction = vec![0.0; p];
        for (k, lambda) in values.iter().enumerate() {
            let uk = linalg::column(&vectors, p, k);
            let coef = -linalg::dot(&uk, &grad) / lambda.abs().max(floor);
            linalg::axpy(coef, &uk, &mut direction);
        }
        let slope = linalg::dot(&direction, &grad);
        let mut step = 1.0;
        let mut accepted = false;
        for _ in 0..80 {
            for i in 0..p {
                trial[i] = theta[i] + step * direction[i];
            }
            let trial_loss = model.loss_and_gradient(&trial, &mut trial_grad);
            if trial_loss.is_finite() && trial_loss <= loss + 1e-4 * step * slope {
                // Accept also when the loss is flat at rounding level but the gradient shrinks.
                accepted = true;
            } else if trial_loss.is_finite() && trial_loss <= loss + 1e-15 * loss.abs().max(1.0) && linalg::norm(&trial_grad) < gnorm {
                accepted = true;
            }
            if accepted {
                theta.copy_from_slice(&trial);
                grad.copy_from_slice(&trial_grad);
                loss = trial_loss;
                break;
            }
            step *= 0.5;
        }
        if !accepted {
            return Err(Error::Numerical(format!(
                "minimisation stalled after {iteration} iterations at θ = {theta:?}: |∇L| = {gnorm:.3e} (tolerance {:.1e}); no step along the Newton direction decreases the loss",
                options.gradient_tol
            )));
        }
    }
    Err(Error::Numerical(format!(
        "minimisation did not converge in {} iterations: |∇L| = {:.3e} at θ = {}",
        options.max_iterations,
        linalg::norm(&grad),
        linalg::brief(&theta)
    )))
}
