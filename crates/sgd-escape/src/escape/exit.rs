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
    /// The quench of θ ([`quench`]) ends farther than `tolerance` from `center` (θ*): the
    /// replica sits in another minimum's basin.
    Basin {
        /// θ*.
        center: Vec<f64>,
        /// Radius around θ* in θ units.
        tolerance: f64,
        /// Gradient-descent step size of the quench.
        quench_lr: f64,
        /// Gradient-descent steps of the quench.
        quench_steps: u64,
    },
    /// `sqrt((θ − center)ᵀ M (θ − center)) > radius`, with M the identity (`metric` None) or
    /// a P × P positive semidefinite matrix, row-major (the positive part of H(θ*)).
    Distance {
        /// θ*.
        center: Vec<f64>,
        /// The radius.
        radius: f64,
        /// M, or None for the Euclidean distance.
        metric: Option<Vec<f64>>,
    },
}

/// Gradient descent from `theta` for `steps` steps, each θ ← θ − h∇L(θ) with h the largest of
/// γ, γ/2, γ/4, … that lowers the loss by at least h|∇L|²/2 (Armijo's condition, which on a
/// quadratic accepts h ≤ 1/curvature, so a step never overshoots the minimum along its
/// direction): where gradient flow from θ settles, deterministically. Stops early when the
/// gradient vanishes, no step lowers the loss, or the state stops being finite.
pub fn quench<M: Model + ?Sized>(model: &M, theta: &[f64], lr: f64, steps: u64) -> Vec<f64> {
    let mut q = theta.to_vec();
    let mut trial = q.clone();
    let mut gradient = vec![0.0; q.len()];
    for _ in 0..steps {
        let loss = model.loss_and_gradient(&q, &mut gradient);
        let squared = linalg::dot(&gradient, &gradient);
        if !(loss.is_finite() && squared.is_finite()) || squared == 0.0 {
            break;
        }
        let mut h = lr;
        let accepted = loop {
            trial.iter_mut().zip(&q).zip(&gradient).for_each(|((t, x), g)| *t = x - h * g);
            if model.loss(&trial) <= loss - 0.5 * h * squared {
                break true;
            }
            h *= 0.5;
            if h < lr * 1e-12 {
                break false;
            }
        };
        if !accepted {
            break;
        }
        std::mem::swap(&mut q, &mut trial);
    }
    q
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
            Exit::Basin { center, tolerance, quench_lr, quench_steps } => {
                // A state whose quench is not finite is not in the basin either.
                let q = quench(model, theta, *quench_lr, *quench_steps);
                let distance = linalg::distance(&q, center);
                distance.is_nan() || distance > *tolerance
            }
            Exit::Distance { center, radius, metric } => {
                let p = center.len();
                let squared = match metric {
                    None => theta.iter().zip(center).map(|(t, c)| (t - c) * (t - c)).sum::<f64>(),
                    Some(m) => (0..p)
                        .map(|i| {
                            let row = &m[i * p..(i + 1) * p];
                            (theta[i] - center[i]) * row.iter().zip(theta).zip(center).map(|((a, t), c)| a * (t - c)).sum::<f64>()
                        })
                        .sum::<f64>(),
                };
                squared > radius * radius
            }
        }
    }

    /// Whether the Brownian bridge applies to the exit (a boundary whose crossing probability
    /// between two steps is implemented): coordinate, hyperplane and loss-above exits. Basin
    /// and distance exits are checked at the steps only.
    pub fn has_boundary(&self) -> bool {
        matches!(self, Exit::Coordinate { .. } | Exit::Hyperplane { .. } | Exit::LossAbove { .. })
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
            Exit::Never | Exit::Basin { .. } | Exit::Distance { .. } => return 0.0,
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
        if variance > 0.0 { bridge_exp(-2.0 * d0 * d1 / variance) } else { 0.0 }
    }
}

/// Below this x, `exp(x)` rounds to 0: e^−746 < 2⁻¹⁰⁷⁶, under half the smallest subnormal.
const EXP_UNDERFLOW: f64 = -746.0;

/// `exp(x)` for the bridge's crossing probability, with 0 returned directly where it
/// underflows: equal to `f64::exp` for every x (tested), but most steps far from the boundary
/// underflow, and libm takes a slow path there (it sets errno), which was most of the cost of
/// the bridge.
#[inline]
pub fn bridge_exp(x: f64) -> f64 {
    if x < EXP_UNDERFLOW { 0.0 } else { x.exp() }
}

/// Whether [`bridge_exp`] of `x` may be nonzero (`x` not below the underflow), for kernels
/// that decide lane by lane before calling it.
#[inline(always)]
pub fn bridge_exp_may_be_positive(x: f64) -> bool {
    x >= EXP_UNDERFLOW || x.is_nan()
}

#[cfg(test)]
mod tests {
    use super::{EXP_UNDERFLOW, bridge_exp, bridge_exp_may_be_positive};

    /// The shortcut changes no value: `exp` is 0 from the cutoff down, and equal above it.
    #[test]
    fn bridge_exp_equals_exp() {
        let mut x = EXP_UNDERFLOW;
        while x > -2000.0 {
            assert_eq!(x.exp(), 0.0, "exp({x})");
            x -= 0.037;
        }
        assert_eq!(f64::NEG_INFINITY.exp(), 0.0);
        for x in [EXP_UNDERFLOW, -745.2, -745.13, -745.0, -744.4, -700.0, -1.0, 0.0, f64::NAN] {
            assert_eq!(bridge_exp(x).to_bits(), x.exp().to_bits(), "exp({x})");
            assert!(bridge_exp_may_be_positive(x), "{x}");
        }
        for x in [EXP_UNDERFLOW - 1e-12, -1e300, f64::NEG_INFINITY] {
            assert!(!bridge_exp_may_be_positive(x), "{x}");
            assert_eq!(bridge_exp(x), 0.0);
        }
    }
}
