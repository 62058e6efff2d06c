//! Euler–Maruyama integration of `dθ = −∇L dt + sqrt(η Σ(θ)) dW` (docs/theory.md eq. 10).

use super::rng::ReplicaRng;
use super::{Noise, Stepper};
use crate::error::{Error, Result};
use crate::model::{GradientNoise, Model};
use rand::RngExt;
use rand_distr::StandardNormal;

/// The SDE integrator: one loop for every [`Noise`].
///
/// In t (all noises but time-changed): `θ ← θ − ∇L(θ) dt + sqrt(η dt) Σ(θ)^{1/2} z`,
/// z standard normal, everything evaluated at the start of the step (Itô).
/// Time-changed: `θ ← θ − ∇L/L dτ + sqrt(2η dτ/B) H*^{1/2} z` with `dτ = dt · L*`, and t
/// advances by `dτ / L(θ)` at the start of the step.
pub struct Sde<'m, M: Model + ?Sized> {
    model: &'m M,
    data: Option<&'m dyn GradientNoise>,
    dt: f64,
    noise: Noise,
}

impl<'m, M: Model + ?Sized> Sde<'m, M> {
    /// The integrator with step `dt` (finite, > 0). `Noise::Exact` draws from the per-sample
    /// gradient covariance of `gradient_noise`, the data-built view of `model` (the same model),
    /// and is an error without one.
    pub fn new(model: &'m M, dt: f64, noise: Noise, gradient_noise: Option<&'m dyn GradientNoise>) -> Result<Self> {
        if !(dt.is_finite() && dt > 0.0) {
            return Err(Error::invalid("dt", dt, "the time step must be a finite number > 0"));
        }
        if matches!(noise, Noise::Exact { .. }) && gradient_noise.is_none() {
            return Err(Error::invalid("noise", "\"exact\"", "exact noise needs a data-built model (per-sample gradients)"));
        }
        Ok(Sde { model, data: gradient_noise, dt, noise })
    }

    /// The noise model.
    pub fn noise(&self) -> &Noise {
        &self.noise
    }
}

/// Per-replica buffers of [`Sde`].
pub struct SdeWorkspace {
    grad: Vec<f64>,
    z: Vec<f64>,
    increment: Vec<f64>,
    scratch: Vec<f64>,
}

/// `out = S z` for a row-major P × P matrix.
#[inline]
fn matvec(s: &[f64], z: &[f64], out: &mut [f64]) {
    crate::linalg::symv(s, z, out);
}

impl<M: Model + ?Sized> Stepper for Sde<'_, M> {
    type Workspace = SdeWorkspace;

    fn workspace(&self) -> SdeWorkspace {
        let p = self.model.dim();
        SdeWorkspace { grad: vec![0.0; p], z: vec![0.0; p], increment: vec![0.0; p], scratch: Vec::new() }
    }

    #[inline]
    fn step(&self, theta: &mut [f64], ws: &mut SdeWorkspace, rng: &mut ReplicaRng) -> f64 {
        let loss = self.model.loss_and_gradient(theta, &mut ws.grad);
        let dt = self.dt;
        let mut fill_normals = |z: &mut [f64]| z.iter_mut().for_each(|zi| *zi = rng.sample(StandardNormal));
        let (drift_scale, amplitude, elapsed) = match &self.noise {
            Noise::Exact { lr, batch_size, factor } => {
                let data = self.data.expect("checked in Sde::new");
                data.sample_gradient_noise(theta, rng, &mut ws.scratch, &mut ws.increment);
                (dt, (lr * dt * factor / *batch_size as f64).sqrt(), dt)
            }
            Noise::Paper { lr, batch_size, sqrt_hessian } => {
                fill_normals(&mut ws.z);
                matvec(sqrt_hessian, &ws.z, &mut ws.increment);
                (dt, (2.0 * lr * loss.max(0.0) * dt / *batch_size as f64).sqrt(), dt)
            }
            Noise::Frozen { lr, batch_size, sqrt_hessian, loss_at_minimum } => {
                fill_normals(&mut ws.z);
                matvec(sqrt_hessian, &ws.z, &mut ws.increment);
                (dt, (2.0 * lr * loss_at_minimum * dt / *batch_size as f64).sqrt(), dt)
            }
            Noise::TimeChanged { lr, batch_size, sqrt_hessian, loss_at_minimum } => {
                let dtau = dt * loss_at_minimum;
                fill_normals(&mut ws.z);
                matvec(sqrt_hessian, &ws.z, &mut ws.increment);
                (dtau / loss, (2.0 * lr * dtau / *batch_size as f64).sqrt(), dtau / loss)
            }
            Noise::Isotropic { temperature } => {
                fill_normals(&mut ws.increment);
                (dt, (2.0 * temperature * dt).sqrt(), dt)
            }
        };
        for ((t, g), e) in theta.iter_mut().zip(&ws.grad).zip(&ws.increment) {
            *t += -drift_scale * g + amplitude * e;
        }
        elapsed
    }

    fn fixed_time_step(&self) -> Option<f64> {
        match self.noise {
            Noise::TimeChanged { .. } => None,
            _ => Some(self.dt),
        }
    }
}
