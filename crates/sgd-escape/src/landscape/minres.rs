//! MINRES (Paige & Saunders 1975): `A x = b` for a symmetric, possibly indefinite operator,
//! matrix-free. The Newton–Krylov steps of the saddle refinement solve `H s = −∇L` with it,
//! where H has a negative eigenvalue and Cholesky-based or CG solvers do not apply.

use super::curvature::Operator;
use crate::linalg;

/// What [`minres`] returns.
#[derive(Clone, Debug)]
pub struct MinresSolution {
    /// The approximate solution x.
    pub x: Vec<f64>,
    /// The residual norm ‖b − A x‖ as the recurrence tracks it.
    pub residual: f64,
    /// Iterations (operator applications).
    pub iterations: usize,
}

/// Solves `A x = b` from x = 0 by MINRES: x_k minimises ‖b − A x‖ over the k-th Krylov space
/// of (A, b). Stops when the residual is at most `relative_tolerance · ‖b‖` or after
/// `max_iterations` products. On a singular but consistent system it converges to a solution;
/// on an inconsistent one the residual stalls at the part of b outside A's range.
pub fn minres(op: &dyn Operator, b: &[f64], relative_tolerance: f64, max_iterations: usize) -> MinresSolution {
    let p = op.dim();
    let mut x = vec![0.0; p];
    let beta1 = linalg::norm(b);
    if beta1 == 0.0 {
        return MinresSolution { x, residual: 0.0, iterations: 0 };
    }
    let (mut r1, mut r2, mut y) = (b.to_vec(), b.to_vec(), b.to_vec());
    let (mut w, mut w1, mut w2) = (vec![0.0; p], vec![0.0; p], vec![0.0; p]);
    let mut v = vec![0.0; p];
    let (mut old_beta, mut beta, mut dbar, mut epsilon, mut phibar) = (0.0, beta1, 0.0, 0.0, beta1);
    let (mut cs, mut sn) = (-1.0_f64, 0.0_f64);
    let mut iterations = 0;
    while iterations < max_iterations {
        iterations += 1;
        v.iter_mut().zip(&y).for_each(|(vi, yi)| *vi = yi / beta);
        op.apply(&v, &mut y);
        if iterations >= 2 {
            linalg::axpy(-beta / old_beta, &r1, &mut y);
        }
        let alpha = linalg::dot(&v, &y);
        linalg::axpy(-alpha / beta, &r2, &mut y);
        std::mem::swap(&mut r1, &mut r2);
        r2.copy_from_slice(&y);
        old_beta = beta;
        beta = linalg::norm(&r2);
        // Apply the previous rotation, then the new one that annihilates β.
        let old_epsilon = epsilon;
        let delta = cs * dbar + sn * alpha;
        let gbar = sn * dbar - cs * alpha;
        epsilon = sn * beta;
        dbar = -cs * beta;
        let gamma = gbar.hypot(beta).max(f64::EPSILON * beta1);
        cs = gbar / gamma;
        sn = beta / gamma;
        let phi = cs * phibar;
        phibar *= sn;
        std::mem::swap(&mut w1, &mut w2);
        std::mem::swap(&mut w2, &mut w);
        for i in 0..p {
            w[i] = (v[i] - old_epsilon * w1[i] - delta * w2[i]) / gamma;
        }
        linalg::axpy(phi, &w, &mut x);
        if phibar <= relative_tolerance * beta1 || beta == 0.0 {
            break;
        }
    }
    MinresSolution { x, residual: phibar, iterations }
}
