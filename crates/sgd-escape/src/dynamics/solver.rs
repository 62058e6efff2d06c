//! How an SDE is integrated: the step-size rule of [`Solver`] (docs/theory.md §9). Every rule
//! takes an Euler–Maruyama step from the current state; they differ in how long the step is.
//! The step length depends on the state at its start only, never on the noise drawn for it, so
//! the scheme stays adapted (an Itô scheme) and a replica's stream is consumed in the same
//! order whatever the step.

/// The step-size rule.
#[derive(Clone, Debug, PartialEq)]
pub enum Solver {
    /// Fixed steps of `dt`: the Euler–Maruyama chain. At `dt = η` it is SGD's Gaussian twin
    /// (same mean step and covariance), which is a discrete chain in its own right.
    EulerMaruyama,
    /// Steps `h = min(dt, (ε r)²/(2 Tr D(θ)), ε r/|∇L(θ)|)` with the local length
    /// `r = ℓ + |θ − θ₀|` (docs/theory.md eq. 30): the rms noise increment and the drift
    /// increment of a step stay below a fraction ε of r. ℓ is by default the distance from the
    /// start θ₀ to the exit; far from θ₀ the coefficients vary on the scale |θ − θ₀|, and r
    /// follows it, so the far tails cost a bounded number of steps per unit time. Where the
    /// noise or the force grow without bound (multiplicative noise in the tails) the steps
    /// shrink, so that no single step jumps a barrier, in the spirit of adaptive and tamed
    /// schemes (Lamba, Mattingly and Stuart 2007; Fang and Giles 2020).
    Adaptive {
        /// ε: the largest move of one step, as a fraction of the local length.
        tolerance: f64,
        /// ℓ, in units of θ.
        length: f64,
        /// θ₀, the start point.
        origin: Vec<f64>,
    },
    /// The time change by the diffusion (the Lamperti transform in one dimension): steps
    /// `h = dt · Tr D(θ₀)/Tr D(θ)`, i.e. constant steps `dτ = dt` of the clock
    /// `dτ = (Tr D(θ)/Tr D(θ₀)) dt`, in which the noise is additive, mapped back exactly.
    Lamperti {
        /// `Tr D(θ₀)` at the start point.
        reference_trace: f64,
    },
}

impl Solver {
    /// The configuration name.
    pub fn name(&self) -> &'static str {
        match self {
            Solver::EulerMaruyama => "euler-maruyama",
            Solver::Adaptive { .. } => "adaptive",
            Solver::Lamperti { .. } => "lamperti",
        }
    }

    /// The step from state θ with diffusion trace `trace` (Tr D, per unit of the step's clock)
    /// and drift norm `drift` (|∇L| or |∇log L|), never longer than `dt`.
    #[inline]
    pub fn step_size(&self, dt: f64, theta: &[f64], trace: f64, drift: f64) -> f64 {
        match self {
            Solver::EulerMaruyama => dt,
            Solver::Adaptive { tolerance, length, origin } => {
                let distance = theta.iter().zip(origin).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt();
                let reach = tolerance * (length + distance);
                let mut h = dt;
                if trace > 0.0 {
                    h = h.min(reach * reach / (2.0 * trace));
                }
                if drift > 0.0 {
                    h = h.min(reach / drift);
                }
                h
            }
            Solver::Lamperti { reference_trace } => {
                if trace > 0.0 {
                    dt * reference_trace / trace
                } else {
                    dt
                }
            }
        }
    }

    /// Whether the rule needs Tr D(θ) at every step.
    pub fn needs_trace(&self) -> bool {
        !matches!(self, Solver::EulerMaruyama)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The adaptive rule bounds the rms noise increment √(2 Tr D h) and the drift increment
    /// |∇L| h by ε ℓ, and never exceeds dt.
    #[test]
    fn adaptive_steps_bound_both_increments() {
        let s = Solver::Adaptive { tolerance: 0.05, length: 2.0, origin: vec![1.0, 0.0] };
        for theta in [[1.0, 0.0], [4.0, 4.0]] {
            let reach = 0.05 * (2.0 + ((theta[0] - 1.0f64).powi(2) + theta[1].powi(2)).sqrt());
            for (trace, drift) in [(0.0, 0.0), (1e-3, 0.1), (10.0, 1.0), (1e4, 1e3), (0.5, 1e5)] {
                let h = s.step_size(0.01, &theta, trace, drift);
                assert!(h <= 0.01 && h > 0.0);
                assert!((2.0 * trace * h).sqrt() <= reach * (1.0 + 1e-12), "{trace} {drift}: {h}");
                assert!(drift * h <= reach * (1.0 + 1e-12), "{trace} {drift}: {h}");
                if trace > 0.0 && drift > 0.0 {
                    // One of the two bounds (or dt) is attained.
                    let attained = [(2.0 * trace * h).sqrt() / reach, drift * h / reach, h / 0.01];
                    assert!(attained.iter().any(|a| (a - 1.0).abs() < 1e-12), "{attained:?}");
                }
            }
        }
        assert_eq!(s.step_size(0.01, &[1.0, 0.0], 1e-3, 0.1), 0.01);
        assert_eq!(Solver::EulerMaruyama.step_size(0.01, &[0.0], 1e9, 1e9), 0.01);
        // Lamperti: the clock τ runs at Tr D/Tr D₀, so Tr D · h is constant.
        let l = Solver::Lamperti { reference_trace: 2.0 };
        assert!((l.step_size(0.01, &[0.0], 8.0, 0.0) * 8.0 - 0.01 * 2.0).abs() < 1e-15);
    }
}
