//! Matrix-free minimisation by L-BFGS (Nocedal & Wright, *Numerical Optimization*, Alg. 7.4
//! and 7.5): gradients only, O(m·P) memory for m stored pairs, for models too large for the
//! dense damped Newton of [`super::minimize`].

use super::minimize::{MinimizeOptions, Minimum};
use crate::error::{Error, Result};
use crate::linalg;
use crate::model::Model;
use std::collections::VecDeque;

/// Correction pairs (s, y) kept by [`minimize_lbfgs`].
const MEMORY: usize = 20;

/// Minimises `model` from `start` by L-BFGS with a backtracking line search.
///
/// Each iteration takes the two-loop direction `d = −H_k ∇L` from the last [`MEMORY`] pairs
/// `s = θ_{k+1} − θ_k`, `y = ∇L_{k+1} − ∇L_k` (initial scaling sᵀy/yᵀy), tries the unit step
/// and halves it until the Armijo condition `L(θ + αd) ≤ L(θ) + 10⁻⁴ α dᵀ∇L` holds. A pair with
/// sᵀy ≤ 10⁻¹² |s||y| (no positive curvature along s) is not stored; a direction that is not a
/// descent direction restarts from steepest descent. Converged when `|∇L|₂ ≤ gradient_tol`.
/// Costs one loss-and-gradient per trial step and O(m·P) arithmetic per iteration.
pub fn minimize_lbfgs<M: Model + ?Sized>(model: &M, start: &[f64], options: MinimizeOptions) -> Result<Minimum> {
    let p = model.dim();
    let mut theta = start.to_vec();
    let mut grad = vec![0.0; p];
    let mut loss = model.loss_and_gradient(&theta, &mut grad);
    if !loss.is_finite() || !linalg::all_finite(&grad) {
        return Err(Error::Numerical(format!("minimisation: loss or gradient is not finite at the start point {}", linalg::brief(&theta))));
    }
    let mut pairs: VecDeque<(Vec<f64>, Vec<f64>, f64)> = VecDeque::with_capacity(MEMORY);
    let (mut trial, mut trial_grad, mut direction) = (vec![0.0; p], vec![0.0; p], vec![0.0; p]);
    for iteration in 0..options.max_iterations {
        let gnorm = linalg::norm(&grad);
        if gnorm <= options.gradient_tol {
            return Ok(Minimum { theta, loss, gradient_norm: gnorm, iterations: iteration });
        }
        two_loop_direction(&pairs, &grad, &mut direction);
        let mut slope = linalg::dot(&direction, &grad);
        if slope.is_nan() || slope >= 0.0 {
            pairs.clear();
            direction.iter_mut().zip(&grad).for_each(|(d, g)| *d = -g);
            slope = -gnorm * gnorm;
        }
        // Without curvature pairs the unit step has no scale: start from a step of length 1.
        let mut step = if pairs.is_empty() { 1.0_f64.min(1.0 / gnorm) } else { 1.0 };
        let mut accepted = None;
        for _ in 0..80 {
            for ((t, x), d) in trial.iter_mut().zip(&theta).zip(&direction) {
                *t = x + step * d;
            }
            let trial_loss = model.loss_and_gradient(&trial, &mut trial_grad);
            let finite = trial_loss.is_finite() && linalg::all_finite(&trial_grad);
            // Accept also when the loss is flat at rounding level but the gradient shrinks.
            if finite
                && (trial_loss <= loss + 1e-4 * step * slope
                    || (trial_loss <= loss + 1e-15 * loss.abs().max(1.0) && linalg::norm(&trial_grad) < gnorm))
            {
                accepted = Some(trial_loss);
                break;
            }
            step *= 0.5;
        }
        let Some(trial_loss) = accepted else {
            return Err(Error::Numerical(format!(
                "L-BFGS stalled after {iteration} iterations: |∇L| = {gnorm:.3e} (tolerance {:.1e}); no step along the search direction decreases the loss",
                options.gradient_tol
            )));
        };
        let s: Vec<f64> = trial.iter().zip(&theta).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = trial_grad.iter().zip(&grad).map(|(a, b)| a - b).collect();
        let sy = linalg::dot(&s, &y);
        if sy > 1e-12 * linalg::norm(&s) * linalg::norm(&y) {
            if pairs.len() == MEMORY {
                pairs.pop_front();
            }
            pairs.push_back((s, y, 1.0 / sy));
        }
        std::mem::swap(&mut theta, &mut trial);
        std::mem::swap(&mut grad, &mut trial_grad);
        loss = trial_loss;
    }
    Err(Error::Numerical(format!(
        "L-BFGS did not converge in {} iterations: |∇L| = {:.3e} (tolerance {:.1e}) at θ = {}",
        options.max_iterations,
        linalg::norm(&grad),
        options.gradient_tol,
        linalg::brief(&theta)
    )))
}

/// The two-loop recursion: `direction = −H_k grad` with the inverse-Hessian approximation of
/// the stored pairs (s, y, 1/sᵀy), initial matrix γI with γ = sᵀy/yᵀy of the newest pair.
fn two_loop_direction(pairs: &VecDeque<(Vec<f64>, Vec<f64>, f64)>, grad: &[f64], direction: &mut [f64]) {
    direction.iter_mut().zip(grad).for_each(|(d, g)| *d = -g);
    let mut alphas = Vec::with_capacity(pairs.len());
    for (s, y, rho) in pairs.iter().rev() {
        let a = rho * linalg::dot(s, direction);
        linalg::axpy(-a, y, direction);
        alphas.push(a);
    }
    if let Some((_, y, rho)) = pairs.back() {
        let gamma = 1.0 / (rho * linalg::dot(y, y));
        direction.iter_mut().for_each(|d| *d *= gamma);
    }
    for ((s, y, rho), a) in pairs.iter().zip(alphas.iter().rev()) {
        let b = rho * linalg::dot(y, direction);
        linalg::axpy(a - b, s, direction);
    }
}
