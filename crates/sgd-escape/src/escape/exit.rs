//! Exit criteria: when a replica counts as having escaped.

use crate::linalg;
use crate::model::Model;

/// A replica exits (escapes) the first step after which its criterion holds.
#[derive(Clone, Debug, PartialEq)]
pub enum Exit {
    /// Never exits: replicas run `max_steps` and are censored (for stationary sampling).
    Never,
    /// `θ[axis] ≥ threshold`.
    Coordinate {
        /// Parameter index.
        axis: usize,
        /// Threshold on that coordinate.
        threshold: f64,
    },
    /// `L(θ) > threshold`; built from a ratio as `threshold = ratio · L(θ*)`.
    LossAbove {
        /// Loss threshold.
        threshold: f64,
    },
    /// `normal · (θ − point) > 0`, stored as `normal · θ > offset` with `offset = normal · point`.
    Hyperplane {
        /// Normal vector (length P).
        normal: Vec<f64>,
        /// `normal · point`.
        offset: f64,
    },
}

impl Exit {
    /// Whether θ satisfies the criterion.
    #[inline]
    pub fn reached<M: Model + ?Sized>(&self, model: &M, theta: &[f64]) -> bool {
        match self {
            Exit::Never => false,
            Exit::Coordinate { axis, threshold } => theta[*axis] >= *threshold,
            Exit::LossAbove { threshold } => model.loss(theta) > *threshold,
            Exit::Hyperplane { normal, offset } => linalg::dot(normal, theta) > *offset,
        }
    }
}
