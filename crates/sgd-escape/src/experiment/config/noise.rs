//! `[dynamics.noise]`: the noise model of an SDE, tagged by `kind` (docs/config.md,
//! docs/theory.md eq. 5–11).

use super::dynamics::{SgdConfig, one};
use super::tagged::tagged_enum;
use super::values::{Count, Positive};
use serde::{Deserialize, Serialize};

/// `[dynamics.noise]`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum NoiseConfig {
    /// The exact minibatch covariance of the data, `Σ = (f/B)[(1/N) Σ ∇ℓ∇ℓᵀ − ∇L∇Lᵀ]`, of the
    /// SGD it describes (η, B and the sampling, which sets f).
    Exact(SgdConfig),
    /// The paper's approximation `Σ = 2 L(θ) H*/B`.
    Paper(MinibatchScale),
    /// The paper's noise after the random time change `dτ = L dt`.
    TimeChanged(MinibatchScale),
    /// Noise frozen at the minimum, `Σ = 2 L* H*/B`.
    Frozen(MinibatchScale),
    /// Isotropic constant diffusion D: `dθ = −∇L dt + sqrt(2D) dW`.
    Isotropic(IsotropicNoise),
}

tagged_enum!(NoiseConfig, "kind", {
    "exact" => Exact(SgdConfig),
    "paper" => Paper(MinibatchScale),
    "time-changed" => TimeChanged(MinibatchScale),
    "frozen" => Frozen(MinibatchScale),
    "isotropic" => Isotropic(IsotropicNoise),
});

impl NoiseConfig {
    /// The `kind` name.
    pub fn kind(&self) -> &'static str {
        match self {
            NoiseConfig::Exact(_) => "exact",
            NoiseConfig::Paper(_) => "paper",
            NoiseConfig::TimeChanged(_) => "time-changed",
            NoiseConfig::Frozen(_) => "frozen",
            NoiseConfig::Isotropic(_) => "isotropic",
        }
    }

    /// The SGD the noise stands for, (η, B), for every noise but the isotropic one.
    pub fn minibatch(&self) -> Option<(f64, usize)> {
        match self {
            NoiseConfig::Exact(e) => Some((e.lr.get(), e.batch_size.get())),
            NoiseConfig::Paper(m) | NoiseConfig::TimeChanged(m) | NoiseConfig::Frozen(m) => Some((m.lr.get(), m.batch_size.get())),
            NoiseConfig::Isotropic(_) => None,
        }
    }
}

/// The SGD a noise model stands for: η and B set its scale.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MinibatchScale {
    /// Learning rate η.
    pub lr: Positive,
    /// Batch size B.
    #[serde(default = "one")]
    pub batch_size: Count,
    /// Where H* acts: the whole Hessian, or its outlier subspace (resolved by `prepare`: the
    /// whole Hessian when its every eigenpair is computed, the outliers otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subspace: Option<NoiseSubspace>,
}

/// The directions the paper's noise Σ ∝ H* acts in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoiseSubspace {
    /// All of H*: its symmetric square root, P × P (needs every eigenpair of H*).
    Full,
    /// H* restricted to its n outlier eigenpairs, Σ_j h_j u_j u_jᵀ (matrix-free; no noise in
    /// the bulk directions).
    Outliers,
}

/// `kind = "isotropic"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IsotropicNoise {
    /// The constant diffusion D (the temperature).
    pub temperature: Positive,
}
