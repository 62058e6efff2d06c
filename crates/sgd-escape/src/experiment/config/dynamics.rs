//! `[dynamics]`: SGD itself or an SDE, tagged by `kind` (docs/config.md).

use super::noise::NoiseConfig;
use super::solver::SolverConfig;
use super::tagged::tagged_enum;
use super::values::{Count, Positive};
use crate::dynamics::Sampling;
use serde::{Deserialize, Serialize};

/// `[dynamics]`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum DynamicsConfig {
    /// Minibatch SGD, `θ ← θ − η ∇L_B(θ)`; time advances by η a step.
    Sgd(SgdConfig),
    /// The SDE `dθ = −∇L dt + sqrt(η Σ(θ)) dW`, integrated by its `solver`.
    Sde(SdeConfig),
}

tagged_enum!(DynamicsConfig, "kind", {
    "sgd" => Sgd(SgdConfig),
    "sde" => Sde(SdeConfig),
});

/// `kind = "sgd"`, and the SGD whose exact noise an SDE carries (`noise.kind = "exact"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SgdConfig {
    /// Learning rate η.
    pub lr: Positive,
    /// Batch size B (≤ N, checked against the data).
    #[serde(default = "one")]
    pub batch_size: Count,
    /// How minibatches are drawn.
    #[serde(default = "Sampling::escape_default")]
    pub sampling: Sampling,
}

/// `kind = "sde"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SdeConfig {
    /// The largest time step, in units of t (of τ = ∫L dt for the time-changed noise).
    pub dt: Positive,
    /// `[dynamics.noise]`: the diffusion.
    pub noise: NoiseConfig,
    /// `[dynamics.solver]`: the step-size rule and exit detection (default adaptive).
    #[serde(default)]
    pub solver: SolverConfig,
}

pub(super) fn one() -> Count {
    Count::new(1).expect("in range")
}
