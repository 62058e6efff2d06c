//! Matrix-free single-ended saddle search: min-mode following from a minimum, with the mode
//! from a few Lanczos steps on Hessian-vector products (the Lanczos variant of the dimer method;
//! Henkelman and Jónsson 1999, Malek and Mousseau 2000). It needs no P × P matrix, so it serves
//! networks above the dense threshold, where [`super::saddle::eigenvector_following`] cannot.
//! Past the convex region the walker's steps are L-BFGS steps on the modified force (the
//! "superlinearly converging dimer method" of Kästner and Sherwood 2008).

use super::curvature::Hessian;
use super::saddle::{Saddle, SaddleOptions, classify, following_force, newton_krylov_refine, tracked_mode};
use super::spectrum::{LanczosOptions, lanczos_extreme, ritz_pairs};
use crate::error::{Error, Result};
use crate::linalg;
use crate::model::HessianProduct;

/// Lanczos steps per iteration for the followed mode, by default.
pub const MIN_MODE_KRYLOV: usize = 12;

/// Min-mode following from the minimum `minimum`, leaving along `direction` (P entries, not all
/// zero), with `krylov` Lanczos steps (≥ 2) per iteration.
///
/// Each iteration takes one gradient and `krylov` Hessian-vector products at the walker x: the
/// Ritz pairs of the Krylov space K(H(x), v) started from the mode v of the previous iteration
/// (so the mode is refined, not recomputed). While every Ritz value is positive the walker
/// tracks the Ritz vector closest to v and climbs along it only; once the lowest Ritz value is
/// negative it follows the lowest Ritz vector with the modified force `F = −∇L + 2(∇L·v) v`
/// ([`following_force`], as eigenvector following does with exact eigenvectors). Steps are
/// `dt · F`, `dt = 0.5 / λmax` with λmax from Lanczos at the minimum (raised when a Ritz value
/// exceeds it), capped at 5% of |θ*| + 0.05. Once |F| ≤ `options.force_tol` with negative
/// curvature, the point is refined by Newton–Krylov to |∇L| ≤ `options.gradient_tol` and its
/// index checked by Lanczos: what is returned is an index-one saddle, or an error.
pub fn min_mode_following<M: HessianProduct + ?Sized>(
    model: &M,
    minimum: &[f64],
    direction: &[f64],
    krylov: usize,
    options: SaddleOptions,
) -> Result<Saddle> {
    let p = model.dim();
    let n = linalg::norm(direction);
    if n == 0.0 || !n.is_finite() || direction.len() != p {
        return Err(Error::invalid(
            "landscape.saddle.direction",
            linalg::brief(direction),
            format!("must be a nonzero finite vector of {p} entries"),
        ));
    }
    if krylov < 2 {
        return Err(Error::invalid("landscape.saddle.krylov", krylov, "must be at least 2"));
    }
    let mut v: Vec<f64> = direction.iter().map(|x| x / n).collect();
    let top = lanczos_extreme(&Hessian::new(model, minimum), 1, true, LanczosOptions { tolerance: 1e-6, max_steps: 300, seed: 1 });
    let mut scale = top.values[0].abs().max(1e-12);
    let max_step = 0.05 * (linalg::norm(minimum) + 1.0);
    let mut x: Vec<f64> = minimum.iter().zip(&v).map(|(a, b)| a + 0.01 * max_step * b).collect();
    let mut g = vec![0.0; p];
    let mut translation = Translation::default();
    for iteration in 0..options.max_iterations {
        model.loss_and_gradient(&x, &mut g);
        let (values, vectors) = ritz_pairs(&Hessian::new(model, &x), &v, krylov);
        scale = values.iter().fold(scale, |m, l| m.max(l.abs()));
        // Track the Ritz vector closest to v while the curvature is positive; once the lowest
        // Ritz value is negative, follow the lowest mode.
        let k;
        (k, v) = tracked_mode(&values, |i| vectors[i].clone(), &v);
        let lambda = values[k];
        let force = following_force(lambda, &g, &v, 1e-3 * scale * max_step);
        let fnorm = linalg::norm(&force);
        if lambda < 0.0 && fnorm <= options.force_tol {
            let refined = newton_krylov_refine(model, &x, options.gradient_tol)?;
            return classify(model, refined, "min-mode", iteration, true);
        }
        if lambda < 0.0 {
            // Past the convex region: L-BFGS on the modified force, which accelerates the
            // relaxation of the directions across the mode (plain steps relax them at rate
            // λ/λmax per iteration, far too slowly on networks).
            let step = translation.step(&x, &force, 0.5 / scale, 0.1 * max_step);
            linalg::axpy(1.0, &step, &mut x);
        } else {
            translation.reset();
            let step = (0.5 / scale * fnorm).min(max_step);
            linalg::axpy(step / fnorm.max(1e-300), &force, &mut x);
        }
        let distance = linalg::distance(&x, minimum);
        if !linalg::all_finite(&x) || distance > 1e3 * (linalg::norm(minimum) + 1.0) {
            return Err(Error::Numerical(format!(
                "min-mode following: after {iteration} iterations the walker is {distance:.3e} away from the minimum without reaching a saddle along this direction"
            )));
        }
    }
    Err(Error::Numerical(format!(
        "min-mode following: no convergence in {} iterations; last point θ = {}",
        options.max_iterations,
        linalg::brief(&x)
    )))
}

/// L-BFGS pairs kept by [`Translation`].
const MEMORY: usize = 10;

/// L-BFGS on the modified force F: the pairs (s, y) of the last [`MEMORY`] steps, with
/// y = F_old − F_new (the force is minus a gradient whose minimum is the saddle).
#[derive(Default)]
struct Translation {
    pairs: std::collections::VecDeque<(Vec<f64>, Vec<f64>)>,
    last: Option<(Vec<f64>, Vec<f64>)>,
}

impl Translation {
    fn reset(&mut self) {
        self.pairs.clear();
        self.last = None;
    }

    /// The step from x with force F: the two-loop recursion on F, scaled initially by s·y/y·y
    /// (or `initial` without pairs), capped at `max_step` in length. A direction that does not
    /// follow F (F·d ≤ 0) clears the memory and falls back to `initial`·F.
    fn step(&mut self, x: &[f64], force: &[f64], initial: f64, max_step: f64) -> Vec<f64> {
        if let Some((x_old, f_old)) = self.last.take() {
            let s: Vec<f64> = x.iter().zip(&x_old).map(|(a, b)| a - b).collect();
            let y: Vec<f64> = f_old.iter().zip(force).map(|(a, b)| a - b).collect();
            if linalg::dot(&s, &y) > 1e-12 * linalg::norm(&s) * linalg::norm(&y) {
                if self.pairs.len() == MEMORY {
                    self.pairs.pop_front();
                }
                self.pairs.push_back((s, y));
            }
        }
        let mut d = force.to_vec();
        let mut alphas = Vec::with_capacity(self.pairs.len());
        for (s, y) in self.pairs.iter().rev() {
            let a = linalg::dot(s, &d) / linalg::dot(s, y);
            linalg::axpy(-a, y, &mut d);
            alphas.push(a);
        }
        let gamma = self.pairs.back().map_or(initial, |(s, y)| linalg::dot(s, y) / linalg::dot(y, y));
        d.iter_mut().for_each(|c| *c *= gamma);
        for ((s, y), a) in self.pairs.iter().zip(alphas.iter().rev()) {
            let b = linalg::dot(y, &d) / linalg::dot(s, y);
            linalg::axpy(a - b, s, &mut d);
        }
        if linalg::dot(&d, force) <= 0.0 || !linalg::all_finite(&d) {
            self.pairs.clear();
            d = force.iter().map(|f| initial * f).collect();
        }
        let length = linalg::norm(&d);
        if length > max_step {
            d.iter_mut().for_each(|c| *c *= max_step / length);
        }
        self.last = Some((x.to_vec(), force.to_vec()));
        d
    }
}
