//! Dynamics: minibatch SGD ([`Sgd`]) and the Euler–Maruyama SDE integrator ([`Sde`]) with the
//! noise model as a value ([`Noise`]). Steppers only step; the replica loop, exit detection and
//! RNG streams belong to [`crate::escape`].

pub mod noise;
pub mod normal;
pub mod rng;
mod sde;
mod sgd;
mod solver;

pub use noise::{HessianRoot, Noise};
pub use sde::Sde;
pub use sgd::{Sampling, Sgd};
pub use solver::Solver;

use rng::ReplicaRng;

/// One step of a stochastic dynamics on θ.
///
/// A stepper is shared by all replicas (`Sync`); per-replica mutable state (buffers, the epoch
/// permutation of SGD) lives in its [`Stepper::Workspace`], created fresh for every replica so
/// that a replica's trajectory depends only on its RNG stream.
pub trait Stepper: Sync {
    /// Per-replica mutable state.
    type Workspace: Send + Clone;
    /// A fresh workspace for one replica.
    fn workspace(&self) -> Self::Workspace;
    /// Advances θ by one step and returns the time elapsed, in units of t (docs/theory.md eq. 3):
    /// η for an SGD step, dt for an SDE step, dτ/L(θ) for a time-changed step.
    fn step(&self, theta: &mut [f64], ws: &mut Self::Workspace, rng: &mut ReplicaRng) -> f64;
    /// `Some(h)` when every step advances t by the same `h` (then t = h · steps exactly).
    fn fixed_time_step(&self) -> Option<f64>;
    /// Whether exits are also detected between steps, by the Brownian bridge of a
    /// continuous-time SDE (docs/theory.md eq. 31). `false` (the default) means exits are
    /// checked at the steps only, as for SGD, a discrete chain.
    fn bridge(&self) -> bool {
        false
    }
    /// The variance of the last step's noise increment along the unit vector `direction`, with
    /// the diffusion taken at `theta_before`, the state the step started from.
    fn increment_variance(&self, theta_before: &[f64], ws: &mut Self::Workspace, direction: &[f64]) -> f64 {
        let _ = (theta_before, ws, direction);
        0.0
    }
    /// L and ∇L at the start of the last step, where the stepper keeps them.
    fn start_loss_and_gradient<'w>(&self, ws: &'w Self::Workspace) -> Option<(f64, &'w [f64])> {
        let _ = ws;
        None
    }
}
