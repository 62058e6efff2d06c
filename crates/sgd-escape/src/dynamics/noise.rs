//! Noise models of the SDE `dθ = −∇L dt + sqrt(η Σ(θ)) dW` (docs/theory.md eq. 5–11), as values.

/// The diffusion of the SDE. `lr` is η, `batch_size` is B; `sqrt_hessian` is the symmetric
/// square root of `H* = H(θ*)` at the starting minimum (row-major P × P).
#[derive(Clone, Debug)]
pub enum Noise {
    /// Exact minibatch covariance from per-sample gradients,
    /// `Σ(θ) = factor/B · [(1/N) Σ ∇ℓ_μ∇ℓ_μᵀ − ∇L∇Lᵀ]`, with `factor = 1` for sampling with
    /// replacement and `(N − B)/(N − 1)` without. Data-built models only.
    Exact {
        /// Learning rate η.
        lr: f64,
        /// Batch size B.
        batch_size: usize,
        /// 1 with replacement, `(N − B)/(N − 1)` without.
        factor: f64,
    },
    /// The paper's approximation `Σ(θ) = 2 L(θ) H*/B` (multiplicative noise).
    Paper {
        /// Learning rate η.
        lr: f64,
        /// Batch size B.
        batch_size: usize,
        /// `H*^{1/2}`.
        sqrt_hessian: Vec<f64>,
    },
    /// The paper's noise after the random time change `dτ = L dt`: additive noise on log L,
    /// `dθ = −∇log L dτ + sqrt(2η H*/B) dW_τ`, integrated in τ with `dτ = dt · L*` and mapped
    /// back with `t = ∫ dτ / L`.
    TimeChanged {
        /// Learning rate η.
        lr: f64,
        /// Batch size B.
        batch_size: usize,
        /// `H*^{1/2}`.
        sqrt_hessian: Vec<f64>,
        /// `L* = L(θ*)`, which sets `dτ = dt · L*` (so t advances by ≈ dt a step near θ*).
        loss_at_minimum: f64,
    },
    /// Noise frozen at the minimum, `Σ = 2 L* H*/B` (additive; the linear-barrier theory).
    Frozen {
        /// Learning rate η.
        lr: f64,
        /// Batch size B.
        batch_size: usize,
        /// `H*^{1/2}`.
        sqrt_hessian: Vec<f64>,
        /// `L* = L(θ*)`.
        loss_at_minimum: f64,
    },
    /// Isotropic constant diffusion D: `dθ = −∇L dt + sqrt(2D) dW` (Kramers / Langevin).
    Isotropic {
        /// D, the temperature.
        temperature: f64,
    },
}

impl Noise {
    /// The configuration name of the noise model.
    pub fn name(&self) -> &'static str {
        match self {
            Noise::Exact { .. } => "exact",
            Noise::Paper { .. } => "paper",
            Noise::TimeChanged { .. } => "time-changed",
            Noise::Frozen { .. } => "frozen",
            Noise::Isotropic { .. } => "isotropic",
        }
    }
}
