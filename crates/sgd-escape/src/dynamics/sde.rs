//! Euler–Maruyama integration of `dθ = −∇L dt + sqrt(η Σ(θ)) dW` (docs/theory.md eq. 10).

use super::noise::HessianRoot;
use super::normal::standard_normal;
use super::rng::ReplicaRng;
use super::{Noise, Solver, Stepper};
use crate::error::{Error, Result};
use crate::model::{GradientNoise, Model};

/// The SDE integrator: one loop for every [`Noise`] and every [`Solver`].
///
/// In t (all noises but time-changed): `θ ← θ − ∇L(θ) h + sqrt(η h) Σ(θ)^{1/2} z`,
/// z standard normal, everything evaluated at the start of the step (Itô), with the step `h`
/// chosen by the solver from the state at its start (`dt` for Euler–Maruyama).
/// Time-changed: `θ ← θ − ∇L/L h_τ + sqrt(2η h_τ/B) H*^{1/2} z` with steps `h_τ ≤ dτ = dt · L*`
/// of the clock τ, and t advances by `h_τ / L(θ)` at the start of the step.
pub struct Sde<'m, M: Model + ?Sized> {
    model: &'m M,
    data: Option<&'m dyn GradientNoise>,
    dt: f64,
    noise: Noise,
    solver: Solver,
    bridge: bool,
    /// Tr H* (the squared Frobenius norm of H*^{1/2}), for the noises built on H*.
    trace_hessian: f64,
}

impl<'m, M: Model + ?Sized> Sde<'m, M> {
    /// The Euler–Maruyama integrator with step `dt` (finite, > 0), exits checked at the steps
    /// only. `Noise::Exact` draws from the per-sample gradient covariance of `gradient_noise`,
    /// the data-built view of `model` (the same model), and is an error without one; a square
    /// root of H* whose shape does not fit P is an error too.
    pub fn new(model: &'m M, dt: f64, noise: Noise, gradient_noise: Option<&'m dyn GradientNoise>) -> Result<Self> {
        if !(dt.is_finite() && dt > 0.0) {
            return Err(Error::invalid("dt", dt, "the time step must be a finite number > 0"));
        }
        if matches!(noise, Noise::Exact { .. }) && gradient_noise.is_none() {
            return Err(Error::invalid("noise", "\"exact\"", "exact noise needs a data-built model (per-sample gradients)"));
        }
        let p = model.dim();
        match noise.sqrt_hessian() {
            Some(HessianRoot::Dense(root)) if root.len() != p * p => {
                return Err(Error::invalid("sqrt_hessian", root.len(), format!("a dense root of H* has P² = {} entries", p * p)));
            }
            Some(HessianRoot::Outliers { vectors, roots }) if vectors.len() != roots.len() || vectors.iter().any(|v| v.len() != p) => {
                return Err(Error::invalid(
                    "sqrt_hessian",
                    format!("{} vectors, {} roots", vectors.len(), roots.len()),
                    format!("the outlier root needs one eigenvector of P = {p} entries per root"),
                ));
            }
            _ => {}
        }
        let trace_hessian = noise.sqrt_hessian().map_or(0.0, HessianRoot::trace);
        Ok(Sde { model, data: gradient_noise, dt, noise, solver: Solver::EulerMaruyama, bridge: false, trace_hessian })
    }

    /// The same integrator with another step-size rule (`dt` becomes the largest step).
    pub fn with_solver(mut self, solver: Solver) -> Self {
        self.solver = solver;
        self
    }

    /// Detects exits between steps with the Brownian-bridge crossing probability
    /// (docs/theory.md eq. 31) as well as at the steps.
    pub fn with_bridge(mut self, bridge: bool) -> Self {
        self.bridge = bridge;
        self
    }

    /// The noise model.
    pub fn noise(&self) -> &Noise {
        &self.noise
    }

    /// The step-size rule.
    pub fn solver(&self) -> &Solver {
        &self.solver
    }

    /// Tr D(θ) per unit of the step's clock (t, or τ for the time-changed noise), given L(θ).
    pub fn diffusion_trace(&self, theta: &[f64], loss: f64) -> f64 {
        match &self.noise {
            Noise::Exact { lr, batch_size, factor } => {
                let data = self.data.expect("checked in Sde::new");
                lr * factor / (2.0 * *batch_size as f64) * data.gradient_covariance_trace(theta)
            }
            Noise::Paper { lr, batch_size, .. } => lr * loss.max(0.0) * self.trace_hessian / *batch_size as f64,
            Noise::Frozen { lr, batch_size, loss_at_minimum, .. } => lr * loss_at_minimum * self.trace_hessian / *batch_size as f64,
            Noise::TimeChanged { lr, batch_size, .. } => lr * self.trace_hessian / *batch_size as f64,
            Noise::Isotropic { temperature } => temperature * theta.len() as f64,
        }
    }

    /// 2uᵀD(θ)u for a unit vector u, per unit of the step's clock, given L(θ).
    fn diffusion_along(&self, theta: &[f64], loss: f64, u: &[f64], scratch: &mut [f64]) -> f64 {
        let along_hessian = |sqrt_hessian: &HessianRoot, scratch: &mut [f64]| sqrt_hessian.along(u, scratch);
        match &self.noise {
            Noise::Exact { lr, batch_size, factor } => {
                let data = self.data.expect("checked in Sde::new");
                lr * factor / *batch_size as f64 * data.gradient_covariance_along(theta, u)
            }
            Noise::Paper { lr, batch_size, sqrt_hessian } => {
                2.0 * lr * loss.max(0.0) / *batch_size as f64 * along_hessian(sqrt_hessian, scratch)
            }
            Noise::Frozen { lr, batch_size, sqrt_hessian, loss_at_minimum } => {
                2.0 * lr * loss_at_minimum / *batch_size as f64 * along_hessian(sqrt_hessian, scratch)
            }
            Noise::TimeChanged { lr, batch_size, sqrt_hessian, .. } => 2.0 * lr / *batch_size as f64 * along_hessian(sqrt_hessian, scratch),
            Noise::Isotropic { temperature } => 2.0 * temperature,
        }
    }
}

/// Per-replica buffers of [`Sde`], and the last step's clock length and loss (for the bridge).
#[derive(Clone)]
pub struct SdeWorkspace {
    grad: Vec<f64>,
    z: Vec<f64>,
    increment: Vec<f64>,
    scratch: Vec<f64>,
    last_step: f64,
    last_loss: f64,
}

impl<M: Model + ?Sized> Stepper for Sde<'_, M> {
    type Workspace = SdeWorkspace;

    fn workspace(&self) -> SdeWorkspace {
        let p = self.model.dim();
        let normals = self.noise.sqrt_hessian().map_or(p, HessianRoot::normals);
        SdeWorkspace {
            grad: vec![0.0; p],
            z: vec![0.0; normals],
            increment: vec![0.0; p],
            scratch: Vec::new(),
            last_step: 0.0,
            last_loss: 0.0,
        }
    }

    #[inline]
    fn step(&self, theta: &mut [f64], ws: &mut SdeWorkspace, rng: &mut ReplicaRng) -> f64 {
        let loss = self.model.loss_and_gradient(theta, &mut ws.grad);
        ws.last_loss = loss;
        // The step of the clock (t, or τ for the time-changed noise) and its drift norm.
        // The largest step of the clock (t, or τ for the time-changed noise) and the solver's step.
        let (clock_dt, drift_divisor) = match &self.noise {
            Noise::TimeChanged { loss_at_minimum, .. } => (self.dt * loss_at_minimum, loss),
            _ => (self.dt, 1.0),
        };
        let h = if self.solver.needs_trace() {
            let drift = crate::linalg::dot(&ws.grad, &ws.grad).sqrt() / drift_divisor;
            self.solver.step_size(clock_dt, theta, self.diffusion_trace(theta, loss), drift)
        } else {
            clock_dt
        };
        ws.last_step = h;
        let mut fill_normals = |z: &mut [f64]| z.iter_mut().for_each(|zi| *zi = standard_normal(rng));
        let (drift_scale, amplitude, elapsed) = match &self.noise {
            Noise::Exact { lr, batch_size, factor } => {
                let data = self.data.expect("checked in Sde::new");
                data.sample_gradient_noise(theta, rng, &mut ws.scratch, &mut ws.increment);
                (h, (lr * h * factor / *batch_size as f64).sqrt(), h)
            }
            Noise::Paper { lr, batch_size, sqrt_hessian } => {
                fill_normals(&mut ws.z);
                sqrt_hessian.apply(&ws.z, &mut ws.increment);
                (h, (2.0 * lr * loss.max(0.0) * h / *batch_size as f64).sqrt(), h)
            }
            Noise::Frozen { lr, batch_size, sqrt_hessian, loss_at_minimum } => {
                fill_normals(&mut ws.z);
                sqrt_hessian.apply(&ws.z, &mut ws.increment);
                (h, (2.0 * lr * loss_at_minimum * h / *batch_size as f64).sqrt(), h)
            }
            Noise::TimeChanged { lr, batch_size, sqrt_hessian, .. } => {
                fill_normals(&mut ws.z);
                sqrt_hessian.apply(&ws.z, &mut ws.increment);
                (h / loss, (2.0 * lr * h / *batch_size as f64).sqrt(), h / loss)
            }
            Noise::Isotropic { temperature } => {
                fill_normals(&mut ws.increment);
                (h, (2.0 * temperature * h).sqrt(), h)
            }
        };
        for ((t, g), e) in theta.iter_mut().zip(&ws.grad).zip(&ws.increment) {
            *t += -drift_scale * g + amplitude * e;
        }
        elapsed
    }

    fn fixed_time_step(&self) -> Option<f64> {
        match (&self.solver, &self.noise) {
            (_, Noise::TimeChanged { .. }) => None,
            (Solver::EulerMaruyama, _) => Some(self.dt),
            _ => None,
        }
    }

    fn bridge(&self) -> bool {
        self.bridge
    }

    fn increment_variance(&self, theta_before: &[f64], ws: &mut SdeWorkspace, direction: &[f64]) -> f64 {
        let p = direction.len();
        if ws.scratch.len() < p {
            ws.scratch.resize(p, 0.0);
        }
        let (loss, step) = (ws.last_loss, ws.last_step);
        self.diffusion_along(theta_before, loss, direction, &mut ws.scratch[..p]) * step
    }

    fn start_loss_and_gradient<'w>(&self, ws: &'w SdeWorkspace) -> Option<(f64, &'w [f64])> {
        Some((ws.last_loss, &ws.grad))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DoubleWell;

    /// A root of H* whose shape does not fit P is refused, naming the field; fitting ones pass.
    #[test]
    fn a_root_of_the_wrong_shape_is_refused() {
        let model = DoubleWell { epsilon: 0.1, dim: 2, stiffness: 2.0 };
        let paper = |sqrt_hessian| Noise::Paper { lr: 0.1, batch_size: 1, sqrt_hessian };
        let refused = [
            HessianRoot::Dense(vec![1.0]),
            HessianRoot::Dense(vec![1.0; 9]),
            HessianRoot::Outliers { vectors: vec![vec![1.0, 0.0, 0.0]], roots: vec![1.0] },
            HessianRoot::Outliers { vectors: vec![vec![1.0, 0.0]], roots: vec![1.0, 2.0] },
        ];
        for root in refused {
            let err = Sde::new(&model, 0.01, paper(root.clone()), None).err().unwrap_or_else(|| panic!("{root:?} accepted"));
            assert!(err.to_string().contains("sqrt_hessian"), "{err}");
        }
        for root in
            [HessianRoot::Dense(vec![1.0, 0.0, 0.0, 1.0]), HessianRoot::Outliers { vectors: vec![vec![1.0, 0.0]], roots: vec![1.0] }]
        {
            assert!(Sde::new(&model, 0.01, paper(root), None).is_ok());
        }
    }
}
