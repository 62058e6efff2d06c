//! `[exit]`: when a replica counts as escaped, tagged by `kind` (docs/config.md). A replica
//! escapes the first step after which its criterion holds.

use super::tagged::tagged_enum;
use super::values::{AboveOne, Count, Finite, NonNegative, Positive, Vector};
use serde::{Deserialize, Serialize};

/// `[exit]`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ExitConfig {
    /// Never: every replica runs `max_steps` (stationary sampling).
    Never(NoExitKeys),
    /// `θ[axis] ≥ threshold`.
    Coordinate(CoordinateExit),
    /// `L(θ) > ratio · L(θ*)`.
    LossAbove(LossAboveExit),
    /// `normal · (θ − point) > 0`.
    Hyperplane(HyperplaneExit),
    /// Gradient descent from θ (a quench) ends farther than `tolerance` from θ*.
    Basin(BasinExit),
    /// The distance from θ*, Euclidean or in the metric of H(θ*), exceeds `radius`.
    Distance(DistanceExit),
    /// Past the hyperplane through the saddle found by `[landscape.saddle]`, orthogonal to its
    /// escape direction (moved `beyond` farther along it).
    SaddlePlane(SaddlePlaneExit),
}

tagged_enum!(ExitConfig, "kind", {
    "never" => Never(NoExitKeys),
    "coordinate" => Coordinate(CoordinateExit),
    "loss-above" => LossAbove(LossAboveExit),
    "hyperplane" => Hyperplane(HyperplaneExit),
    "basin" => Basin(BasinExit),
    "distance" => Distance(DistanceExit),
    "saddle-plane" => SaddlePlane(SaddlePlaneExit),
});

/// `kind = "saddle-plane"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaddlePlaneExit {
    /// How far past the saddle the plane lies, along the escape direction (in parameter units;
    /// default 0: through the saddle).
    #[serde(default = "through_the_saddle")]
    pub beyond: NonNegative,
}

fn through_the_saddle() -> NonNegative {
    NonNegative::new(0.0).expect("in range")
}

/// `kind = "never"` has no keys.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoExitKeys {}

/// `kind = "coordinate"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoordinateExit {
    /// Parameter index, from 0 (< P, checked against the model).
    #[serde(default)]
    pub axis: usize,
    /// The threshold on that coordinate.
    pub threshold: Finite,
}

/// `kind = "loss-above"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LossAboveExit {
    /// c > 1: exit when L > c · L*.
    pub ratio: AboveOne,
    /// Evaluate the loss every this many steps (default 1, every step); on a crossing the
    /// replica is replayed from the previous check so the exit step is the first after it
    /// (escape::run_replica_checked). Written out only when not 1.
    #[serde(default = "every_step", skip_serializing_if = "is_every_step")]
    pub check_every: Count,
}

fn every_step() -> Count {
    Count::new(1).expect("in range")
}

fn is_every_step(c: &Count) -> bool {
    c.get() == 1
}

impl ExitConfig {
    /// How often the exit is evaluated, in steps (1 but for `loss-above` with `check_every`
    /// and for `basin`).
    pub fn check_every(&self) -> u64 {
        match self {
            ExitConfig::LossAbove(l) => l.check_every.get() as u64,
            ExitConfig::Basin(b) => b.check_every.get() as u64,
            ExitConfig::Distance(d) => d.check_every.get() as u64,
            _ => 1,
        }
    }
}

/// `kind = "basin"`: every `check_every` steps the replica's state is quenched by
/// `quench_steps` steps of gradient descent (backtracking from `quench_lr`, escape::quench); it has escaped when the quench ends farther than
/// `tolerance` from θ*, in another minimum's basin. The exit step is then found by replaying
/// from the previous quench with a quench after every step (escape::run_replica_checked).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasinExit {
    /// Radius around θ* in θ units within which a quenched state counts as θ*'s minimum
    /// (required: the scale of θ is the model's).
    pub tolerance: Positive,
    /// Steps between quenches (default 100).
    #[serde(default = "hundred_steps")]
    pub check_every: Count,
    /// Gradient-descent steps per quench (default 1000).
    #[serde(default = "thousand_steps")]
    pub quench_steps: Count,
    /// The quench's first trial step size, halved until the loss falls enough (default
    /// 1/λmax(H(θ*)), written out when the run is prepared).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quench_lr: Option<Positive>,
}

/// `kind = "distance"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistanceExit {
    /// r > 0: exit when the distance from θ* exceeds r.
    pub radius: Positive,
    /// `"euclidean"` (default): |θ − θ*|; `"hessian"`: sqrt((θ − θ*)ᵀ H₊ (θ − θ*)) with H₊ the
    /// positive part of H(θ*), in which the quadratic model's loss rise is d²/2.
    #[serde(default)]
    pub metric: DistanceMetric,
    /// Evaluate every this many steps (default 1), replayed like `loss-above`'s.
    #[serde(default = "every_step", skip_serializing_if = "is_every_step")]
    pub check_every: Count,
}

/// The metric of a distance exit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DistanceMetric {
    /// |θ − θ*|.
    #[default]
    Euclidean,
    /// sqrt((θ − θ*)ᵀ H₊(θ*) (θ − θ*)).
    Hessian,
}

fn hundred_steps() -> Count {
    Count::new(100).expect("in range")
}

fn thousand_steps() -> Count {
    Count::new(1000).expect("in range")
}

/// `kind = "hyperplane"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HyperplaneExit {
    /// The normal (P entries, not all zero).
    pub normal: Vector,
    /// A point on the plane (default the origin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub point: Option<Vector>,
}
