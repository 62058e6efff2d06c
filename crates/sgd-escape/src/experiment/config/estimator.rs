//! `[estimator]`: how the escape rate is estimated, tagged by `kind` (docs/config.md,
//! docs/theory.md §10): brute force (replicas run to their exits) or adaptive multilevel
//! splitting.

use super::data::NoKeys;
use super::tagged::tagged_enum;
use super::values::{AtLeast, Count, Tolerance};
use serde::{Deserialize, Serialize};

/// `[estimator]`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum EstimatorConfig {
    /// `replicas` independent replicas, each run to its exit or `max_steps` (the default).
    BruteForce(NoKeys),
    /// Adaptive multilevel splitting: `runs` independent runs of `particles` particles.
    Ams(AmsConfig),
}

tagged_enum!(EstimatorConfig, "kind", {
    "brute-force" => BruteForce(NoKeys),
    "ams" => Ams(AmsConfig),
});

impl EstimatorConfig {
    /// Whether this is the default, brute force.
    pub fn is_brute_force(&self) -> bool {
        matches!(self, EstimatorConfig::BruteForce(_))
    }
}

impl Default for EstimatorConfig {
    fn default() -> Self {
        EstimatorConfig::BruteForce(NoKeys {})
    }
}

/// The reaction coordinate ξ of the splitting, normalised to 0 at θ* and 1 at the exit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReactionCoordinateKind {
    /// `coordinate` for coordinate and hyperplane exits, `log-loss` for loss-above exits.
    #[default]
    Auto,
    /// ln(L/L*)/ln(L_exit/L*), L_exit the exit level or the saddle's loss.
    LogLoss,
    /// The exit's coordinate (or the hyperplane's normal), from θ* to the boundary.
    Coordinate,
    /// The projection on the saddle's unstable eigenvector, from θ* to the saddle.
    EscapeDirection,
    /// Arc length along the minimum-energy path from θ* over the saddle, to where it meets
    /// the exit.
    Path,
}

/// `kind = "ams"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmsConfig {
    /// N, particles per run.
    #[serde(default = "default_particles")]
    pub particles: AtLeast<2>,
    /// M, independent runs (the interval comes from their spread).
    #[serde(default = "default_runs")]
    pub runs: AtLeast<2>,
    /// k, particles killed per iteration (at least; ties are killed together).
    #[serde(default = "one")]
    pub kill: Count,
    /// ξ (default `auto`).
    #[serde(default)]
    pub reaction_coordinate: ReactionCoordinateKind,
    /// The basin A = {ξ ≤ basin} around θ* (default, with `departure`: from a pilot
    /// trajectory, the median of ξ).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basin: Option<Tolerance>,
    /// The departure surface Σ = {ξ ≥ departure} (default: the pilot's 90th percentile of ξ).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub departure: Option<Tolerance>,
    /// The resolution δ of the levels, ξ̃ = ⌊ξ/δ⌋δ.
    #[serde(default = "default_resolution")]
    pub resolution: Tolerance,
    /// Departures from the basin observed by brute force per trajectory (each trajectory's
    /// first, from θ*, is not used); the trajectories number ⌈N·M/cycles⌉.
    #[serde(default = "default_cycles")]
    pub cycles: Count,
}

fn default_particles() -> AtLeast<2> {
    AtLeast::new(200).expect("in range")
}
fn default_runs() -> AtLeast<2> {
    AtLeast::new(20).expect("in range")
}
fn one() -> Count {
    Count::new(1).expect("in range")
}
fn default_resolution() -> Tolerance {
    Tolerance::new(0.002).expect("in range")
}
fn default_cycles() -> Count {
    Count::new(10).expect("in range")
}
