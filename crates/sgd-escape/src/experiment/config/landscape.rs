//! `[landscape]`: the saddle search and the outlier rule behind the predictions
//! (docs/config.md).

use super::tagged::tagged_enum;
use super::values::{AboveOne, AtLeast, Count, Positive, Tolerance, Vector};
use serde::{Deserialize, Serialize};

/// `[landscape]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LandscapeConfig {
    /// How the saddle is found (default: eigenvector following for coordinate and hyperplane
    /// exits, none for the others; the echoed configuration shows the choice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saddle: Option<SaddleConfig>,
    /// How the spectrum of H(θ*) is computed (default: `dense` up to P = 4096 parameters,
    /// `lanczos` above; the echoed configuration shows the choice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hessian: Option<HessianConfig>,
    /// Outliers of H(θ*) are the eigenvalues above the largest ratio gap, if it is at least this.
    #[serde(default = "default_gap")]
    pub outlier_gap: AboveOne,
    /// Fixes the number n of outliers instead of detecting it (≤ P).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outliers: Option<Count>,
    /// Compute the exact chain references of one-parameter models (`sgd_chain`,
    /// `euler_maruyama_chain`); each takes up to seconds for large data sets.
    #[serde(default = "yes")]
    pub exact_chains: bool,
    /// The chains' grids are refined until the mean exit time moves by less than this,
    /// relatively.
    #[serde(default = "default_chain_tolerance")]
    pub chain_tolerance: Tolerance,
}

fn default_chain_tolerance() -> Tolerance {
    Tolerance::new(1e-3).expect("in range")
}

fn yes() -> bool {
    true
}

impl Default for LandscapeConfig {
    fn default() -> Self {
        LandscapeConfig {
            saddle: None,
            hessian: None,
            outlier_gap: default_gap(),
            outliers: None,
            exact_chains: true,
            chain_tolerance: default_chain_tolerance(),
        }
    }
}

fn default_gap() -> AboveOne {
    AboveOne::new(10.0).expect("in range")
}

/// `[landscape.saddle]` (or `saddle = "none"`).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SaddleConfig {
    /// Walk uphill from θ* along the Hessian eigenvector closest to a direction, then follow
    /// the lowest mode to an index-one saddle (dense Hessian every step).
    EigenvectorFollowing(EigenvectorFollowingConfig),
    /// Walk uphill from θ* along a direction, following the lowest mode from a few Lanczos steps
    /// on Hessian-vector products (matrix-free, any P).
    MinMode(MinModeConfig),
    /// Climbing-image nudged elastic band from θ* to a second minimum.
    Neb(NebConfig),
    /// A saddle found before (e.g. by an earlier NEB): Newton-refined and classified, no search.
    Given(GivenSaddleConfig),
    /// No saddle search.
    None(NoSaddleKeys),
}

tagged_enum!(SaddleConfig, "kind", {
    "eigenvector-following" => EigenvectorFollowing(EigenvectorFollowingConfig),
    "min-mode" => MinMode(MinModeConfig),
    "neb" => Neb(NebConfig),
    "given" => Given(GivenSaddleConfig),
    "none" => None(NoSaddleKeys),
});

/// `kind = "eigenvector-following"`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EigenvectorFollowingConfig {
    /// The direction to leave θ* along (P entries, not all zero; default toward the exit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Vector>,
}

/// `kind = "min-mode"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MinModeConfig {
    /// The direction to leave θ* along (P entries, not all zero; default toward the exit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Vector>,
    /// Networks: a JSON file of parameters to leave θ* toward (a bare array, or `train`'s
    /// params.json), relative to the configuration file: the direction is their difference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_parameters: Option<std::path::PathBuf>,
    /// Lanczos steps per iteration for the followed mode (≥ 2).
    #[serde(default = "default_krylov")]
    pub krylov: AtLeast<2>,
}

fn default_krylov() -> AtLeast<2> {
    AtLeast::new(crate::landscape::min_mode::MIN_MODE_KRYLOV).expect("in range")
}

/// `kind = "neb"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NebConfig {
    /// A point from which the second minimum is found by minimisation (default for the double
    /// wells: θ* with θ₁ negated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Vector>,
    /// Networks: a JSON file of the second minimum's parameters (a bare array, or `train`'s
    /// params.json), relative to the configuration file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_parameters: Option<std::path::PathBuf>,
    /// Images including both ends (≥ 3).
    #[serde(default = "default_images")]
    pub images: AtLeast<3>,
    /// Spring constant between neighbouring images.
    #[serde(default = "default_spring")]
    pub spring: Positive,
}

fn default_images() -> AtLeast<3> {
    AtLeast::new(17).expect("in range")
}
fn default_spring() -> Positive {
    Positive::new(1.0).expect("in range")
}

/// `kind = "given"`: the saddle's parameters, as a point or (networks) a JSON file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GivenSaddleConfig {
    /// The saddle (P entries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub point: Option<Vector>,
    /// Networks: a JSON file of the saddle's parameters (a bare array, or a params.json),
    /// relative to the configuration file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<std::path::PathBuf>,
}

/// `kind = "none"` has no keys.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoSaddleKeys {}

/// `[landscape.hessian]` (or `hessian = "dense"`): how the spectrum of H(θ*) is computed.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum HessianConfig {
    /// Form H(θ*) from P Hessian-vector products and decompose it: every eigenpair, exact;
    /// O(P²) memory and O(P³) time (P ≤ 4096).
    Dense(DenseHessianKeys),
    /// The largest eigenpairs by Lanczos with Hessian-vector products: nothing P × P is formed.
    Lanczos(LanczosConfig),
}

tagged_enum!(HessianConfig, "kind", {
    "dense" => Dense(DenseHessianKeys),
    "lanczos" => Lanczos(LanczosConfig),
});

/// `kind = "dense"` has no keys.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DenseHessianKeys {}

/// `kind = "lanczos"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LanczosConfig {
    /// How many of the largest eigenvalues to compute (the outliers must lie among them).
    #[serde(default = "default_eigenvalues")]
    pub eigenvalues: Count,
    /// A Ritz pair has converged when |H v − λ v| ≤ tolerance · λ_max.
    #[serde(default = "default_lanczos_tolerance")]
    pub tolerance: Tolerance,
    /// Krylov steps (Hessian-vector products) at most.
    #[serde(default = "default_max_steps")]
    pub max_steps: AtLeast<2>,
    /// Probes of the stochastic Lanczos quadrature that estimates log(det H*/|det Hˢ|) for the
    /// full-determinant prefactors (Xie et al., isotropic Kramers); none: those predictions are
    /// left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_det_probes: Option<AtLeast<2>>,
    /// Lanczos steps per probe and Hessian of that quadrature.
    #[serde(default = "default_log_det_steps")]
    pub log_det_steps: AtLeast<2>,
}

fn default_log_det_steps() -> AtLeast<2> {
    AtLeast::new(80).expect("in range")
}

impl Default for LanczosConfig {
    fn default() -> Self {
        LanczosConfig {
            eigenvalues: default_eigenvalues(),
            tolerance: default_lanczos_tolerance(),
            max_steps: default_max_steps(),
            log_det_probes: None,
            log_det_steps: default_log_det_steps(),
        }
    }
}

fn default_eigenvalues() -> Count {
    Count::new(20).expect("in range")
}
fn default_lanczos_tolerance() -> Tolerance {
    Tolerance::new(1e-6).expect("in range")
}
fn default_max_steps() -> AtLeast<2> {
    AtLeast::new(300).expect("in range")
}
