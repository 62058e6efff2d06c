//! `[dynamics.solver]`: how an SDE is integrated, tagged by `kind` (docs/config.md,
//! docs/theory.md §9).

use super::tagged::tagged_enum;
use super::values::Positive;
use serde::{Deserialize, Serialize};

/// `[dynamics.solver]`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SolverConfig {
    /// Fixed steps of `dt`: SGD's Gaussian twin at `dt = η`, a discrete chain of its own.
    EulerMaruyama(EulerMaruyamaConfig),
    /// Steps that bound the drift and noise increments by `tolerance · length` (the default).
    Adaptive(AdaptiveConfig),
    /// Constant steps `dt` of the clock run by the diffusion, `dτ = Tr D(θ)/Tr D(θ₀) dt`.
    Lamperti(LampertiConfig),
}

tagged_enum!(SolverConfig, "kind", {
    "euler-maruyama" => EulerMaruyama(EulerMaruyamaConfig),
    "adaptive" => Adaptive(AdaptiveConfig),
    "lamperti" => Lamperti(LampertiConfig),
});

impl Default for SolverConfig {
    fn default() -> Self {
        SolverConfig::Adaptive(AdaptiveConfig { tolerance: default_tolerance(), length: None, bridge: true })
    }
}

impl SolverConfig {
    /// Whether exits are detected between steps by the Brownian bridge.
    pub fn bridge(&self) -> bool {
        match self {
            SolverConfig::EulerMaruyama(e) => e.bridge,
            SolverConfig::Adaptive(a) => a.bridge,
            SolverConfig::Lamperti(l) => l.bridge,
        }
    }

    /// The plain Euler–Maruyama chain, exits at the steps only: the only scheme whose mean
    /// exit time the exact chain of docs/theory.md eq. 22 predicts.
    pub fn is_plain_euler_maruyama(&self) -> bool {
        matches!(self, SolverConfig::EulerMaruyama(EulerMaruyamaConfig { bridge: false }))
    }
}

/// `kind = "euler-maruyama"`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EulerMaruyamaConfig {
    /// Detect exits between steps (default false: the chain itself, exits at its steps).
    #[serde(default)]
    pub bridge: bool,
}

/// `kind = "adaptive"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdaptiveConfig {
    /// ε ≤ 1: the largest drift or rms noise increment of a step, as a fraction of `length`.
    #[serde(default = "default_tolerance")]
    pub tolerance: Positive,
    /// ℓ in units of θ; default the distance from the start point to the exit boundary (for a
    /// loss-above exit: to the saddle, or to the exit level of the quadratic model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<Positive>,
    /// Detect exits between steps (default true).
    #[serde(default = "yes")]
    pub bridge: bool,
}

/// `kind = "lamperti"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LampertiConfig {
    /// Detect exits between steps (default true).
    #[serde(default = "yes")]
    pub bridge: bool,
}

fn default_tolerance() -> Positive {
    Positive::new(0.05).expect("in range")
}

fn yes() -> bool {
    true
}
