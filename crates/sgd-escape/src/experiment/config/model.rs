//! `[model]`: which loss landscape, tagged by `kind` (docs/config.md).

use super::tagged::tagged_enum;
use super::values::{Count, Finite, NonNegative, Positive};
use crate::model::Activation;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// `[model]`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ModelConfig {
    /// The analytic double well `L = ε + (θ₁² − 1)²/4 + (k/2) Σ_{i≥2} θ_i²`.
    DoubleWell(DoubleWellConfig),
    /// Linear regression `f = θᵀx` on generated Gaussian data or on a data set.
    LinearRegression(LinearRegressionConfig),
    /// The data-built double well `f = xᵀφ(θ)`, φ = (sθ₁, κ(θ₁² − 1), kθ₂, …).
    Curve(CurveConfig),
    /// A multilayer perceptron on a data set.
    Mlp(MlpConfig),
}

tagged_enum!(ModelConfig, "kind", {
    "double-well" => DoubleWell(DoubleWellConfig),
    "linear-regression" => LinearRegression(LinearRegressionConfig),
    "curve" => Curve(CurveConfig),
    "mlp" => Mlp(MlpConfig),
});

impl ModelConfig {
    /// The `kind` name.
    pub fn kind(&self) -> &'static str {
        match self {
            ModelConfig::DoubleWell(_) => "double-well",
            ModelConfig::LinearRegression(_) => "linear-regression",
            ModelConfig::Curve(_) => "curve",
            ModelConfig::Mlp(_) => "mlp",
        }
    }
}

/// `kind = "double-well"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DoubleWellConfig {
    /// ε ≥ 0, the loss at the minima.
    #[serde(default = "default_epsilon")]
    pub epsilon: NonNegative,
    /// Number of parameters.
    #[serde(default = "one")]
    pub dim: Count,
    /// k > 0, the curvature of θ₂…θ_dim.
    #[serde(default = "two")]
    pub stiffness: Positive,
}

/// `kind = "linear-regression"`: generated data (`dim`, `samples`, `data_seed`: x and y
/// i.i.d. N(0, 1)) unless a data set is given by the `[data]` section or `data` (a CSV file).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinearRegressionConfig {
    /// Input dimension d (from the data set when one is given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dim: Option<Count>,
    /// N, generated samples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples: Option<Count>,
    /// Seed of the generated data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_seed: Option<u64>,
    /// Shorthand for `[data] source = "csv"` with this path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<PathBuf>,
}

/// `kind = "curve"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CurveConfig {
    /// Number of parameters.
    #[serde(default = "one")]
    pub dim: Count,
    /// Slope s of the first feature.
    #[serde(default = "half")]
    pub s: Finite,
    /// κ > 0, height of the quadratic feature.
    #[serde(default = "positive_one")]
    pub kappa: Positive,
    /// k > 0 of the transverse features.
    #[serde(default = "positive_one")]
    pub stiffness: Positive,
    /// Label noise σ ≥ 0.
    #[serde(default = "default_label_noise")]
    pub noise: NonNegative,
    /// Tilt of the wells (first entry of a).
    #[serde(default = "zero")]
    pub tilt: Finite,
    /// N.
    #[serde(default = "default_samples")]
    pub samples: Count,
    /// Seed of the generated data.
    #[serde(default)]
    pub data_seed: u64,
}

/// `kind = "mlp"`: the data come from `[data]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlpConfig {
    /// Hidden widths.
    #[serde(default = "default_hidden")]
    pub hidden: Vec<Count>,
    /// Nonlinearity.
    #[serde(default)]
    pub activation: Activation,
    /// Seed of the Glorot initialisation (the default start point).
    #[serde(default)]
    pub init_seed: u64,
    /// λ of the weight-decay penalty (λ/2)|θ|² in the loss ([`crate::model::Mlp::with_weight_decay`]).
    #[serde(default = "no_weight_decay")]
    pub weight_decay: NonNegative,
}

fn no_weight_decay() -> NonNegative {
    NonNegative::new(0.0).expect("in range")
}

impl MlpConfig {
    /// The hidden widths as numbers.
    pub fn widths(&self) -> Vec<usize> {
        self.hidden.iter().map(|w| w.get()).collect()
    }

    /// Refuses a network of `parameters` parameters whose working memory would not fit, naming
    /// `model.hidden`: θ, the gradient, a workspace per thread and the checkpoint's text need
    /// about 64 bytes per parameter.
    pub fn require_memory(&self, parameters: usize) -> crate::Result<()> {
        crate::limits::require_memory(
            "model.hidden",
            format!("{:?}", self.widths()),
            "the network's parameters",
            crate::limits::bytes(parameters, 64),
        )
    }
}

/// N of generated data sets.
pub const DEFAULT_SAMPLES: usize = 10_000;

fn default_epsilon() -> NonNegative {
    NonNegative::new(0.25).expect("in range")
}
fn one() -> Count {
    Count::new(1).expect("in range")
}
fn two() -> Positive {
    Positive::new(2.0).expect("in range")
}
fn half() -> Finite {
    Finite::new(0.5).expect("in range")
}
fn positive_one() -> Positive {
    Positive::new(1.0).expect("in range")
}
fn default_label_noise() -> NonNegative {
    NonNegative::new(0.5).expect("in range")
}
fn zero() -> Finite {
    Finite::new(0.0).expect("in range")
}
fn default_samples() -> Count {
    Count::new(DEFAULT_SAMPLES).expect("in range")
}
fn default_hidden() -> Vec<Count> {
    vec![Count::new(16).expect("in range")]
}
