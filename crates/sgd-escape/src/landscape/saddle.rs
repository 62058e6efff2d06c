//! Saddle search: eigenvector following (single-ended, from a minimum, with the dense Hessian
//! at every step) and climbing-image nudged elastic band (between two minima, gradients only),
//! both finished by Newton refinement of ∇L = 0 and checked to have index one. With
//! [`SaddleOptions::matrix_free`] the refinement is Newton–Krylov (MINRES on Hessian-vector
//! products) and the index check is Lanczos on the lowest eigenpairs, so nothing P × P is
//! formed (NEB only: eigenvector following tracks every mode and stays dense).

use super::curvature::Hessian;
use super::minres::minres;
use super::spectrum::{LanczosOptions, dense_eigen, lanczos_extreme};
use crate::error::{Error, Result};
use crate::linalg;
use crate::model::HessianProduct;
use serde::Serialize;

/// A located saddle.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Saddle {
    /// θˢ.
    pub theta: Vec<f64>,
    /// L(θˢ).
    pub loss: f64,
    /// Number of negative Hessian eigenvalues (1 for a saddle).
    pub index: usize,
    /// The negative eigenvalue h_eˢ.
    pub escape_eigenvalue: f64,
    /// Its eigenvector (the escape direction).
    pub escape_direction: Vec<f64>,
    /// Hessian eigenvalues, ascending: all of them, or the lowest few computed by Lanczos
    /// (`all_eigenvalues` says which).
    pub hessian_eigenvalues: Vec<f64>,
    /// Whether `hessian_eigenvalues` is the whole spectrum.
    pub all_eigenvalues: bool,
    /// |∇L(θˢ)|₂.
    pub gradient_norm: f64,
    /// `"eigenvector-following"`, `"min-mode"`, `"neb"` or `"given"`.
    pub method: String,
    /// Iterations of the search (before refinement).
    pub iterations: usize,
}

/// Hessian eigenpairs at θ: ascending values, eigenvectors as columns (row-major).
fn eigen_at<M: HessianProduct + ?Sized>(model: &M, theta: &[f64]) -> (Vec<f64>, Vec<f64>) {
    dense_eigen(&Hessian::new(model, theta))
}

/// Newton's method on ∇L = 0 from `theta` (which must be close to the critical point): steps
/// `−H⁻¹∇L` on the eigenbasis (directions with |λ| below 10⁻¹⁰ of the largest are skipped),
/// halved until |∇L| decreases, until |∇L| ≤ `tol`.
pub fn newton_refine<M: HessianProduct + ?Sized>(model: &M, theta: &[f64], tol: f64) -> Result<Vec<f64>> {
    newton_iterations(model, theta, tol, &|x, g| {
        let p = model.dim();
        let (values, vectors) = eigen_at(model, x);
        let scale = values.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        let mut step = vec![0.0; p];
        for (k, &lambda) in values.iter().enumerate() {
            if lambda.abs() > 1e-10 * scale {
                let u = linalg::column(&vectors, p, k);
                linalg::axpy(-linalg::dot(&u, g) / lambda, &u, &mut step);
            }
        }
        step
    })
}

/// Inexact Newton on ∇L = 0 without forming H: each step solves `H s = −∇L` by MINRES to a
/// relative residual of min(0.1, |∇L|^½) (at most 500 products), then halves it until |∇L|
/// decreases, until |∇L| ≤ `tol`.
pub fn newton_krylov_refine<M: HessianProduct + ?Sized>(model: &M, theta: &[f64], tol: f64) -> Result<Vec<f64>> {
    newton_iterations(model, theta, tol, &|x, g| {
        let minus_g: Vec<f64> = g.iter().map(|v| -v).collect();
        minres(&Hessian::new(model, x), &minus_g, 0.1_f64.min(linalg::norm(g).sqrt()), 500).x
    })
}

/// A Newton step rule: the step at x from ∇L(x).
type NewtonStep<'a> = dyn Fn(&[f64], &[f64]) -> Vec<f64> + 'a;

/// Newton iterations with a step rule `step(x, ∇L(x))`, halved until |∇L| decreases.
fn newton_iterations<M: HessianProduct + ?Sized>(model: &M, theta: &[f64], tol: f64, newton_step: &NewtonStep) -> Result<Vec<f64>> {
    let p = model.dim();
    let mut x = theta.to_vec();
    let mut g = vec![0.0; p];
    let mut trial_g = vec![0.0; p];
    model.loss_and_gradient(&x, &mut g);
    for _ in 0..100 {
        let gnorm = linalg::norm(&g);
        if gnorm <= tol {
            return Ok(x);
        }
        let step = newton_step(&x, &g);
        let mut alpha = 1.0;
        let mut improved = false;
        for _ in 0..40 {
            let trial: Vec<f64> = x.iter().zip(&step).map(|(a, s)| a + alpha * s).collect();
            model.loss_and_gradient(&trial, &mut trial_g);
            if linalg::norm(&trial_g) < gnorm {
                x = trial;
                g.copy_from_slice(&trial_g);
                improved = true;
                break;
            }
            alpha *= 0.5;
        }
        if !improved {
            break;
        }
    }
    let gnorm = linalg::norm(&g);
    if gnorm <= tol * 1e3 {
        Ok(x)
    } else {
        Err(Error::Numerical(format!("Newton refinement did not converge: |∇L| = {gnorm:.3e} at θ = {}", crate::linalg::brief(&x))))
    }
}

/// Eigenvalues computed by the matrix-free index check: the lowest few.
const LOWEST_PAIRS: usize = 4;

/// Classifies a refined critical point; errors unless it has exactly one negative eigenvalue.
/// The spectrum is dense, or without forming H the lowest pairs by Lanczos
/// ([`lowest_by_lanczos`]).
pub(super) fn classify<M: HessianProduct + ?Sized>(
    model: &M,
    theta: Vec<f64>,
    method: &str,
    iterations: usize,
    matrix_free: bool,
) -> Result<Saddle> {
    let (hessian_eigenvalues, escape_direction) =
        if matrix_free { lowest_by_lanczos(model, &theta, method)? } else { all_by_dense(model, &theta, method)? };
    let mut g = vec![0.0; model.dim()];
    let loss = model.loss_and_gradient(&theta, &mut g);
    Ok(Saddle {
        escape_eigenvalue: hessian_eigenvalues[0],
        escape_direction,
        hessian_eigenvalues,
        all_eigenvalues: !matrix_free,
        gradient_norm: linalg::norm(&g),
        loss,
        index: 1,
        theta,
        method: method.into(),
        iterations,
    })
}

/// Every eigenvalue of the dense H(θ), ascending, and the lowest one's eigenvector, when
/// exactly one is below −10⁻¹⁰ max|λ|.
fn all_by_dense<M: HessianProduct + ?Sized>(model: &M, theta: &[f64], method: &str) -> Result<(Vec<f64>, Vec<f64>)> {
    let (values, vectors) = eigen_at(model, theta);
    let scale = values.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    let index = values.iter().filter(|&&l| l < -1e-10 * scale).count();
    if index != 1 {
        return Err(Error::Numerical(format!(
            "{method}: the critical point found at θ = {theta:?} has {index} negative Hessian eigenvalues (eigenvalues {values:?}), not 1: it is not a saddle of index one"
        )));
    }
    let lowest = linalg::column(&vectors, values.len(), 0);
    Ok((values, lowest))
}

/// The [`LOWEST_PAIRS`] lowest eigenvalues of H(θ) by Lanczos (to a residual of 10⁻⁸ λmax,
/// with λmax by Lanczos setting the scale) and the lowest one's eigenvector. The index counts
/// the Ritz values below −10⁻¹⁰ λmax; it is certain only when the lowest pair not counted is
/// above that threshold by more than its residual, else the check is reported as inconclusive.
fn lowest_by_lanczos<M: HessianProduct + ?Sized>(model: &M, theta: &[f64], method: &str) -> Result<(Vec<f64>, Vec<f64>)> {
    let hessian = Hessian::new(model, theta);
    let top = lanczos_extreme(&hessian, 1, true, LanczosOptions { tolerance: 1e-8, max_steps: 300, seed: 1 });
    let scale = top.values[0].abs();
    let mut low = lanczos_extreme(&hessian, LOWEST_PAIRS, false, LanczosOptions { tolerance: 1e-8, max_steps: 1000, seed: 2 });
    let threshold = -1e-10 * scale;
    let index = low.values.iter().filter(|&&l| l < threshold).count();
    let certain = match low.values.get(index) {
        Some(&next) => next - low.residuals[index] >= threshold,
        // Every eigenvalue is known when the Krylov space is the whole space (P ≤ LOWEST_PAIRS).
        None => low.values.len() == model.dim() && low.converged,
    };
    if index != 1 || !certain {
        let what = if certain {
            format!("has {index} negative Hessian eigenvalues")
        } else {
            format!("has at least {index} negative Hessian eigenvalue(s); the next is not resolved")
        };
        return Err(Error::Numerical(format!(
            "{method}: the critical point found at θ = {} {what} (lowest by Lanczos: {:?}, residuals {:?}), not exactly 1: it is not a saddle of index one",
            linalg::brief(theta),
            low.values,
            low.residuals
        )));
    }
    Ok((low.values, low.vectors.swap_remove(0)))
}

/// How many times a nudged elastic band that runs away is restarted with half the step.
pub const NEB_RESTARTS: usize = 8;

/// Options of the saddle searches.
#[derive(Clone, Copy, Debug)]
pub struct SaddleOptions {
    /// Searches stop (and Newton refinement starts) when the search force is below this.
    pub force_tol: f64,
    /// Newton refinement tolerance on |∇L|.
    pub gradient_tol: f64,
    /// Iterations at most.
    pub max_iterations: usize,
    /// NEB: number of images including the two ends.
    pub images: usize,
    /// NEB: spring constant.
    pub spring: f64,
    /// Refine and classify without forming the Hessian (Newton–Krylov, Lanczos).
    pub matrix_free: bool,
}

impl Default for SaddleOptions {
    fn default() -> Self {
        SaddleOptions { force_tol: 1e-5, gradient_tol: 1e-10, max_iterations: 200_000, images: 17, spring: 1.0, matrix_free: false }
    }
}

/// Eigenvector following (Cerjan and Miller 1981; Wales, *Energy Landscapes*, §6) from the
/// minimum `minimum`, leaving along `direction` (or, when `None`, along the Hessian's softest
/// eigenvector there).
///
/// Every iteration decomposes the exact dense Hessian (P Hessian-vector products and a P × P
/// eigendecomposition), so this is for small P. While every curvature is positive the walker
/// tracks the mode v closest to its current direction (starting with `direction`) and climbs
/// along it only (`F† = (∇L·v) v`, uphill); once the lowest curvature is negative it follows the
/// lowest mode with the modified force `F = −∇L + 2(∇L·v) v`, for which the saddle is a
/// minimum. Steps are `dt · F` with `dt = 0.5 / max|λ|`, capped at 5% of |θ*| + 0.05. Newton
/// refinement finishes once |F| ≤ `force_tol` with λ < 0.
pub fn eigenvector_following<M: HessianProduct + ?Sized>(
    model: &M,
    minimum: &[f64],
    direction: Option<&[f64]>,
    options: SaddleOptions,
) -> Result<Saddle> {
    let p = model.dim();
    let (values0, vectors0) = eigen_at(model, minimum);
    let mut v = match direction {
        Some(d) => {
            let n = linalg::norm(d);
            if n == 0.0 || d.len() != p {
                return Err(Error::invalid(
                    "landscape.saddle.direction",
                    format!("{d:?}"),
                    format!("must be a nonzero vector of {p} entries"),
                ));
            }
            d.iter().map(|x| x / n).collect()
        }
        None => linalg::column(&vectors0, p, 0),
    };
    let scale = values0.iter().fold(0.0_f64, |m, x| m.max(x.abs())).max(1e-12);
    let max_step = 0.05 * (linalg::norm(minimum) + 1.0);
    let mut x: Vec<f64> = minimum.iter().zip(&v).map(|(a, b)| a + 0.01 * max_step * b).collect();
    let mut g = vec![0.0; p];
    for iteration in 0..options.max_iterations {
        model.loss_and_gradient(&x, &mut g);
        let (values, vectors) = eigen_at(model, &x);
        // Mode tracking: follow the eigenvector closest to the current direction while its
        // curvature is positive; once the lowest curvature is negative, follow the lowest mode.
        let k;
        (k, v) = tracked_mode(&values, |i| linalg::column(&vectors, p, i), &v);
        let lambda = values[k];
        let force = following_force(lambda, &g, &v, 1e-3 * scale * max_step);
        let fnorm = linalg::norm(&force);
        if lambda < 0.0 && fnorm <= options.force_tol {
            let refined = newton_refine(model, &x, options.gradient_tol)?;
            return classify(model, refined, "eigenvector-following", iteration, false);
        }
        let dt = 0.5 / values.iter().fold(0.0_f64, |m, l| m.max(l.abs())).max(1e-300);
        let step = (dt * fnorm).min(max_step);
        linalg::axpy(step / fnorm.max(1e-300), &force, &mut x);
        let distance: f64 = x.iter().zip(minimum).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
        if !linalg::all_finite(&x) || distance > 1e3 * (linalg::norm(minimum) + 1.0) {
            return Err(Error::Numerical(format!(
                "eigenvector following: after {iteration} iterations the walker is {distance:.3e} away from the minimum without reaching negative curvature: no saddle along this direction"
            )));
        }
    }
    Err(Error::Numerical(format!("eigenvector following: no convergence in {} iterations; last point θ = {x:?}", options.max_iterations)))
}

/// The mode to follow among eigenpairs (`values` ascending, `vector(i)` the i-th unit vector):
/// while every curvature is positive, the vector closest to the current direction `v`; once the
/// lowest is negative, the lowest. Returned with its index, its sign turned toward `v`.
pub(super) fn tracked_mode(values: &[f64], vector: impl Fn(usize) -> Vec<f64>, v: &[f64]) -> (usize, Vec<f64>) {
    let k = if values[0] < 0.0 {
        0
    } else {
        let overlaps: Vec<f64> = (0..values.len()).map(|i| linalg::dot(&vector(i), v).abs()).collect();
        (0..values.len()).max_by(|&i, &j| overlaps[i].total_cmp(&overlaps[j])).expect("one eigenpair at least")
    };
    let mut mode = vector(k);
    if linalg::dot(&mode, v) < 0.0 {
        mode.iter_mut().for_each(|c| *c = -*c);
    }
    (k, mode)
}

/// The force of mode following along the unit vector `v` of curvature `lambda`: in the convex
/// region (λ > 0) climb along ±v, whichever is uphill (the parallel force inverted,
/// F† = (∇L·v) v, at least `floor` so that the walker leaves the minimum), no perpendicular part;
/// where λ < 0 the modified force `F = −∇L + 2(∇L·v) v`, for which the saddle is a minimum.
pub(super) fn following_force(lambda: f64, g: &[f64], v: &[f64], floor: f64) -> Vec<f64> {
    let gv = linalg::dot(g, v);
    if lambda > 0.0 {
        let uphill = if gv < 0.0 { -1.0 } else { 1.0 };
        v.iter().map(|vi| uphill * gv.abs().max(floor) * vi).collect()
    } else {
        g.iter().zip(v).map(|(gi, vi)| -gi + 2.0 * gv * vi).collect()
    }
}

/// A saddle found before (by an earlier search, or by hand): Newton-refined to |∇L| ≤
/// `options.gradient_tol` (Newton–Krylov when `options.matrix_free`) and classified like a
/// searched saddle (index, escape eigenpair). A point that refines to a minimum or a saddle of
/// index above one is refused as any search's result is.
pub fn given_saddle<M: HessianProduct + ?Sized>(model: &M, theta: &[f64], options: SaddleOptions) -> Result<Saddle> {
    let refined = if options.matrix_free {
        newton_krylov_refine(model, theta, options.gradient_tol)?
    } else {
        newton_refine(model, theta, options.gradient_tol)?
    };
    classify(model, refined, "given", 0, options.matrix_free)
}

/// Climbing-image nudged elastic band between minima `a` and `b` (Henkelman, Uberuaga and
/// Jónsson 2000), relaxed by FIRE. Images are interpolated linearly; tangents use the
/// energy-weighted rule of Henkelman and Jónsson; springs act along the tangent only; after
/// 50 iterations the highest image climbs (force `−∇L + 2(∇L·τ)τ`, no spring). Converged when
/// the largest image force is at most `force_tol`; the climbing image is then Newton-refined.
///
/// FIRE's largest time step is set from the curvature at `a` and the springs. Where the band
/// meets much stiffer regions that step is unstable and the images run away; a band whose
/// highest loss climbs 100 times the initial band's rise above its ends (or 100 times the ends'
/// loss, if larger) is restarted from the straight line with half the largest step, up to
/// [`NEB_RESTARTS`] times, within the same `max_iterations`. A band that never runs away
/// relaxes exactly as without this guard. A relaxed band that dips between its ends is refused
/// (it crosses an intermediate minimum), and an unconverged one reports its loss profile.
pub fn nudged_elastic_band<M: HessianProduct + ?Sized>(model: &M, a: &[f64], b: &[f64], options: SaddleOptions) -> Result<Saddle> {
    let p = model.dim();
    let m = options.images.max(3);
    let straight: Vec<Vec<f64>> = (0..m)
        .map(|i| {
            let t = i as f64 / (m - 1) as f64;
            a.iter().zip(b).map(|(x, y)| (1.0 - t) * x + t * y).collect()
        })
        .collect();
    let curvature_at_a = if options.matrix_free {
        lanczos_extreme(&Hessian::new(model, a), 1, true, LanczosOptions { tolerance: 1e-6, max_steps: 300, seed: 1 }).values[0].abs()
    } else {
        eigen_at(model, a).0.iter().fold(0.0_f64, |s, l| s.max(l.abs()))
    };
    let stiffest = curvature_at_a.max(4.0 * options.spring * (m as f64).powi(2) / 100.0);
    let initial: Vec<f64> = straight.iter().map(|x| model.loss(x)).collect();
    let ends = initial[0].max(initial[m - 1]);
    let rise = initial.iter().fold(f64::NEG_INFINITY, |h, l| h.max(*l)) - ends;
    // A straight line with no rise (the ends' loss) still gets room to climb to a barrier.
    let runaway = ends + 100.0 * rise.max(ends.abs()).max(f64::MIN_POSITIVE);
    let mut dt_max = 0.5 / stiffest.sqrt();
    let mut images = straight.clone();
    let mut velocity = vec![vec![0.0; p]; m];
    let mut dt = 0.2 * dt_max;
    let mut alpha = 0.1;
    let mut since_negative = 0;
    let mut restarts = 0;
    let mut grads = vec![vec![0.0; p]; m];
    let mut losses = vec![0.0; m];
    for iteration in 0..options.max_iterations {
        for i in 0..m {
            losses[i] = model.loss_and_gradient(&images[i], &mut grads[i]);
        }
        if let Some(k) = (1..m - 1).find(|&i| losses[i].is_nan() || losses[i] > runaway) {
            if restarts == NEB_RESTARTS {
                return Err(Error::Numerical(format!(
                    "neb: the band ran away (image {k} reached L = {:.6e}, above {runaway:.6e}) after {restarts} restarts with the largest FIRE step halved each time, now {dt_max:.3e}; the loss along the band is far stiffer than at its ends",
                    losses[k]
                )));
            }
            restarts += 1;
            dt_max *= 0.5;
            images.clone_from(&straight);
            velocity.iter_mut().for_each(|v| v.fill(0.0));
            (dt, alpha, since_negative) = (0.2 * dt_max, 0.1, 0);
            continue;
        }
        let climber = (1..m - 1).max_by(|&i, &j| losses[i].total_cmp(&losses[j])).expect("three or more images");
        let mut forces = vec![vec![0.0; p]; m];
        let mut max_force: f64 = 0.0;
        for i in 1..m - 1 {
            let ahead: Vec<f64> = images[i + 1].iter().zip(&images[i]).map(|(x, y)| x - y).collect();
            let behind: Vec<f64> = images[i].iter().zip(&images[i - 1]).map(|(x, y)| x - y).collect();
            let (up, down) = (losses[i + 1] - losses[i], losses[i] - losses[i - 1]);
            let mut tau: Vec<f64> = if up > 0.0 && down > 0.0 {
                ahead.clone()
            } else if up < 0.0 && down < 0.0 {
                behind.clone()
            } else {
                let (dmax, dmin) = (up.abs().max(down.abs()), up.abs().min(down.abs()));
                if losses[i + 1] > losses[i - 1] {
                    ahead.iter().zip(&behind).map(|(f, r)| f * dmax + r * dmin).collect()
                } else {
                    ahead.iter().zip(&behind).map(|(f, r)| f * dmin + r * dmax).collect()
                }
            };
            let tn = linalg::norm(&tau).max(1e-300);
            tau.iter_mut().for_each(|t| *t /= tn);
            let gt = linalg::dot(&grads[i], &tau);
            let f = &mut forces[i];
            if iteration >= 50 && i == climber {
                for k in 0..p {
                    f[k] = -grads[i][k] + 2.0 * gt * tau[k];
                }
            } else {
                let spring = options.spring * (linalg::norm(&ahead) - linalg::norm(&behind));
                for k in 0..p {
                    f[k] = -grads[i][k] + gt * tau[k] + spring * tau[k];
                }
            }
            max_force = max_force.max(linalg::norm(f));
        }
        if iteration >= 50 && max_force <= options.force_tol {
            // A relaxed band that dips between its ends runs over two barriers; the climbing
            // image sits on the higher one, which need not be the one next to either end.
            if !band_dips(&losses).is_empty() {
                return Err(Error::Numerical(format!(
                    "neb: the band converged in {iteration} iterations{}",
                    band_diagnosis(&losses, true)
                )));
            }
            let refined = if options.matrix_free {
                newton_krylov_refine(model, &images[climber], options.gradient_tol)?
            } else {
                newton_refine(model, &images[climber], options.gradient_tol)?
            };
            return classify(model, refined, "neb", iteration, options.matrix_free);
        }
        // FIRE.
        let power: f64 = (1..m - 1).map(|i| linalg::dot(&forces[i], &velocity[i])).sum();
        let vnorm = (1..m - 1).map(|i| linalg::dot(&velocity[i], &velocity[i])).sum::<f64>().sqrt();
        let fnorm = (1..m - 1).map(|i| linalg::dot(&forces[i], &forces[i])).sum::<f64>().sqrt().max(1e-300);
        if power > 0.0 {
            for i in 1..m - 1 {
                for k in 0..p {
                    velocity[i][k] = (1.0 - alpha) * velocity[i][k] + alpha * vnorm * forces[i][k] / fnorm;
                }
            }
            since_negative += 1;
            if since_negative > 5 {
                dt = (dt * 1.1).min(dt_max);
                alpha *= 0.99;
            }
        } else {
            velocity.iter_mut().for_each(|v| v.fill(0.0));
            dt *= 0.5;
            alpha = 0.1;
            since_negative = 0;
        }
        for i in 1..m - 1 {
            for k in 0..p {
                velocity[i][k] += dt * forces[i][k];
                images[i][k] += dt * velocity[i][k];
            }
        }
        if !images.iter().all(|x| linalg::all_finite(x)) {
            return Err(Error::Numerical(format!("neb: the band diverged after {iteration} iterations")));
        }
    }
    for i in 0..m {
        losses[i] = model.loss(&images[i]);
    }
    Err(Error::Numerical(format!("neb: no convergence in {} iterations{}", options.max_iterations, band_diagnosis(&losses, false))))
}

/// What the loss profile of a band says: the losses of its images and the interior images lower
/// than both neighbours. On a relaxed band (`relaxed`) such a dip is an intermediate minimum, so
/// that no single saddle joins the two ends; on an unrelaxed one it may be only a kink.
fn band_diagnosis(losses: &[f64], relaxed: bool) -> String {
    let profile: Vec<String> = losses.iter().map(|l| format!("{l:.6e}")).collect();
    let dips: Vec<String> = band_dips(losses).into_iter().map(|i| format!("image {i} (L = {:.6e})", losses[i])).collect();
    let mut text = format!("; the band's losses, image 0 to {}: [{}]", losses.len() - 1, profile.join(", "));
    if !dips.is_empty() && relaxed {
        text += &format!(
            "; the band dips at {}: the path crosses an intermediate minimum there, so no single saddle joins the two ends. Minimise from that image and run the NEB to it",
            dips.join(" and ")
        );
    } else if !dips.is_empty() {
        text += &format!(
            "; the unrelaxed band dips at {}, which may be kinks or intermediate minima (minimising from such an image tells which)",
            dips.join(" and ")
        );
    }
    text
}

/// The interior images lower than both neighbours by more than 10⁻⁶ of the band's range of
/// losses (rounding on a flat stretch is not a dip).
fn band_dips(losses: &[f64]) -> Vec<usize> {
    let (lo, hi) = losses.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), l| (lo.min(*l), hi.max(*l)));
    let depth = 1e-6 * (hi - lo);
    (1..losses.len().saturating_sub(1)).filter(|&i| losses[i] + depth < losses[i - 1].min(losses[i + 1])).collect()
}
