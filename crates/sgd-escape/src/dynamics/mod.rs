//! Dynamics: minibatch SGD ([`Sgd`]) and the Euler–Maruyama SDE integrator ([`Sde`]) with the
//! noise model as a value ([`Noise`]). Steppers only step; the replica loop, exit detection and
//! RNG streams belong to [`crate::escape`].

pub mod noise;
pub mod rng;
mod sde;
mod sgd;

pub use noise::Noise;
pub use sde::Sde;
pub use sgd::{Sampling, Sgd};

use rng::ReplicaRng;

/// One step of a stochastic dynamics on θ.
///
/// A stepper is shared by all replicas (`Sync`); per-replica mutable state (buffers, the epoch
/// permutation of SGD) lives in its [`Stepper::Workspace`], created fresh for every replica so
/// that a replica's trajectory depends only on its RNG stream.
pub trait Stepper: Sync {
    /// Per-replica mutable state.
    type Workspace: Send;
    /// A fresh workspace for one replica.
    fn workspace(&self) -> Self::Workspace;
    /// Advances θ by one step and returns the time elapsed, in units of t (docs/theory.md eq. 3):
    /// η for an SGD step, dt for an SDE step, dτ/L(θ) for a time-changed step.
    fn step(&self, theta: &mut [f64], ws: &mut Self::Workspace, rng: &mut ReplicaRng) -> f64;
    /// `Some(h)` when every step advances t by the same `h` (then t = h · steps exactly).
    fn fixed_time_step(&self) -> Option<f64>;
}
