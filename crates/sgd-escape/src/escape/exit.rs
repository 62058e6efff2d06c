//! Exit criteria: when a replica counts as having escaped.

use crate::dynamics::Stepper;
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

    /// The probability that the continuous path of an SDE crossed the exit boundary during a
    /// step from `before` to `after`, neither of which is past it (docs/theory.md eq. 31): the
    /// Brownian bridge's `exp(−2 d₀ d₁ / σ²)`, with d₀, d₁ the distances of the two states to
    /// the boundary along its unit normal u and σ² = the variance of the step's noise along u.
    /// A coordinate or hyperplane boundary is flat, so this is the crossing probability of the
    /// frozen-coefficient step exactly; a loss level set is linearised at `before` (u = ∇L/|∇L|,
    /// d = (threshold − L)/|∇L|). `direction` is scratch of length P.
    pub fn bridge_crossing_probability<M: Model + ?Sized, S: Stepper>(
        &self,
        model: &M,
        stepper: &S,
        ws: &mut S::Workspace,
        before: &[f64],
        after: &[f64],
        direction: &mut [f64],
    ) -> f64 {
        let (d0, d1) = match self {
            Exit::Never => return 0.0,
            Exit::Coordinate { axis, threshold } => {
                direction.fill(0.0);
                direction[*axis] = 1.0;
                (threshold - before[*axis], threshold - after[*axis])
            }
            Exit::Hyperplane { normal, offset } => {
                let norm = linalg::dot(normal, normal).sqrt();
                direction.iter_mut().zip(normal).for_each(|(u, n)| *u = n / norm);
                ((offset - linalg::dot(normal, before)) / norm, (offset - linalg::dot(normal, after)) / norm)
            }
            Exit::LossAbove { threshold } => {
                let Some((loss, gradient)) = stepper.start_loss_and_gradient(ws) else { return 0.0 };
                let norm = linalg::dot(gradient, gradient).sqrt();
                if norm == 0.0 {
                    return 0.0;
                }
                direction.iter_mut().zip(gradient).for_each(|(u, g)| *u = g / norm);
                ((threshold - loss) / norm, (threshold - model.loss(after)) / norm)
            }
        };
        if d0 <= 0.0 || d1 <= 0.0 {
            return 0.0;
        }
        let variance = stepper.increment_variance(before, ws, direction);
        if variance > 0.0 { (-2.0 * d0 * d1 / variance).exp() } else { 0.0 }
    }
}
