//! Escape-rate formulas of the competing theories (docs/theory.md §4). All rates are per unit time
//! t (t = η·steps for SGD); multiply by the time per step for a rate per step.
//!
//! Notation: c = L(θˢ)/L(θ*) (log barrier log c), ΔL = L(θˢ) − L(θ*) (linear barrier),
//! h* the typical outlier eigenvalue of H(θ*), n the number of outliers, h_eˢ < 0 the negative
//! eigenvalue of H(θˢ), Ĥ the Hessian restricted to the outlier subspace, β = B/(η h*).

use serde::Serialize;
use std::f64::consts::PI;

/// Curvature and loss inputs shared by the formulas.
#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
pub struct BarrierGeometry {
    /// L(θ*).
    pub loss_minimum: f64,
    /// L(θˢ) (or the loss threshold playing the saddle's role).
    pub loss_saddle: f64,
    /// h*.
    pub h_star: f64,
    /// n.
    pub outliers: usize,
    /// h_eˢ < 0, when a saddle is known.
    pub escape_eigenvalue: Option<f64>,
    /// det Ĥ(θ*) over the outlier subspace.
    pub det_minimum_restricted: f64,
    /// det Ĥ(θˢ) over the same subspace, when a saddle is known.
    pub det_saddle_restricted: Option<f64>,
    /// det H(θ*) (all directions), when every eigenvalue is known and the product is
    /// representable (a large network's under- or overflows; `log_det_ratio` does not).
    pub det_minimum: Option<f64>,
    /// det H(θˢ) (all directions), when a saddle is known, likewise.
    pub det_saddle: Option<f64>,
    /// log(det H*/|det Hˢ|) over all directions, what the full prefactor needs (no overflow
    /// where the determinants themselves over- or underflow): exact from every eigenvalue, or
    /// a stochastic Lanczos quadrature estimate above the dense limit.
    pub log_det_ratio: Option<f64>,
    /// The standard error of `log_det_ratio` when it is an estimate (none when exact).
    pub log_det_ratio_stderr: Option<f64>,
    /// How far the estimate moved from half its Lanczos steps to all of them (none when exact).
    pub log_det_ratio_quadrature_change: Option<f64>,
    /// h_e*: the curvature of H(θ*) along the escape direction (Xie et al.).
    pub escape_curvature_at_minimum: Option<f64>,
}

impl BarrierGeometry {
    /// A one-dimensional barrier: curvature `h_star` > 0 at the minimum and `h_saddle` < 0 at
    /// the saddle (n = 1; restricted and full determinants coincide; h_e* = h*).
    pub fn one_dimensional(loss_minimum: f64, loss_saddle: f64, h_star: f64, h_saddle: f64) -> Self {
        BarrierGeometry {
            loss_minimum,
            loss_saddle,
            h_star,
            outliers: 1,
            escape_eigenvalue: Some(h_saddle),
            det_minimum_restricted: h_star,
            det_saddle_restricted: Some(h_saddle),
            det_minimum: Some(h_star),
            det_saddle: Some(h_saddle),
            log_det_ratio: Some((h_star / h_saddle.abs()).ln()),
            log_det_ratio_stderr: None,
            log_det_ratio_quadrature_change: None,
            escape_curvature_at_minimum: Some(h_star),
        }
    }

    /// c = L(θˢ)/L(θ*).
    pub fn ratio(&self) -> f64 {
        self.loss_saddle / self.loss_minimum
    }
    /// ΔL = L(θˢ) − L(θ*).
    pub fn linear(&self) -> f64 {
        self.loss_saddle - self.loss_minimum
    }
}

/// β = B/(η h*), the inverse temperature of the time-changed dynamics (docs/theory.md eq. 11–13).
pub fn beta(lr: f64, batch_size: usize, h_star: f64) -> f64 {
    batch_size as f64 / (lr * h_star)
}

/// Exponent of the paper's power law, `κ ∝ c^{−(β + 1 − n/2)}`.
pub fn log_barrier_exponent(beta: f64, n: usize) -> f64 {
    beta + 1.0 - n as f64 / 2.0
}

/// Eyring–Kramers prefactor over the outlier subspace, `(|h_eˢ|/2π) sqrt(det Ĥ*/|det Ĥˢ|)`.
fn restricted_prefactor(g: &BarrierGeometry) -> Option<f64> {
    Some(g.escape_eigenvalue?.abs() / (2.0 * PI) * (g.det_minimum_restricted / g.det_saddle_restricted?.abs()).sqrt())
}

/// Prefactor over all directions, `(|h_eˢ|/2π) sqrt(det H*/|det Hˢ|)`, from the log ratio.
fn full_prefactor(g: &BarrierGeometry) -> Option<f64> {
    Some(g.escape_eigenvalue?.abs() / (2.0 * PI) * (0.5 * g.log_det_ratio?).exp())
}

/// The paper's log-barrier rate (Mori et al. 2022, the main escape-rate result):
/// `κ = (|h_eˢ|/2π) sqrt(det Ĥ(θ*)/|det Ĥ(θˢ)|) · c^{−(β + 1 − n/2)}`; in one dimension
/// `κ = (1/2π) sqrt(h*|hˢ|) c^{−(β + 1/2)}`. Per unit t.
///
/// Derived by Eyring–Kramers in τ-time on U = log L at temperature ηh*/B, then κ = L* κ_τ.
/// Valid for a high log barrier (β log c ≫ 1), small η, noise ≈ 2LH*/B; needs n < 2(β + 1).
/// `None` without a saddle.
pub fn log_barrier_rate(g: &BarrierGeometry, lr: f64, batch_size: usize) -> Option<f64> {
    let b = beta(lr, batch_size, g.h_star);
    Some(restricted_prefactor(g)? * g.ratio().powf(-log_barrier_exponent(b, g.outliers)))
}

/// Linear-barrier rate with the noise frozen at the minimum, Σ = 2L*H*/B:
/// `κ_lin = (|h_eˢ|/2π) sqrt(det Ĥ*/|det Ĥˢ|) exp(−B ΔL/(η h* L*))`. Per unit t. Agrees with
/// the log-barrier rate when ΔL ≪ L*; exponential rather than power law in c otherwise.
pub fn linear_barrier_rate(g: &BarrierGeometry, lr: f64, batch_size: usize) -> Option<f64> {
    Some(restricted_prefactor(g)? * (-linear_barrier_exponent(g, lr, batch_size)).exp())
}

/// Xie, Sato and Sugiyama (ICLR 2021) for a mean-square loss (docs/theory.md eq. 17). Their
/// theory assumes the noise covariance of a negative log-likelihood, C ≈ H/B. A mean-square loss
/// L is the Gaussian negative log-likelihood with variance σ² ≈ 2L* scaled by σ², so the same
/// assumption reads C ≈ 2L*H/B, and their exponent 2BΔL/η (s/h_e* + (1 − s)/|h_eˢ|) becomes
///
/// `κ = (|h_eˢ|/2π) sqrt(det H*/|det Hˢ|) exp(−(BΔL/(ηL*)) (s/h_e* + (1 − s)/|h_eˢ|))`,
///
/// with h_e* the curvature of H(θ*) along the escape direction and the path factor s ∈ [0, 1]
/// between the curvature at the minimum (s = 1) and at the saddle (s = 0); the predictions
/// report both ends as a band. At s = 1 in one dimension this is the linear-barrier rate. Per
/// unit t.
pub fn xie_rate(g: &BarrierGeometry, lr: f64, batch_size: usize, path_factor: f64) -> Option<f64> {
    Some(full_prefactor(g)? * (-xie_exponent(g, lr, batch_size, path_factor)?).exp())
}

/// The exponent of [`xie_rate`], `(BΔL/(ηL*)) (s/h_e* + (1 − s)/|h_eˢ|)`.
pub fn xie_exponent(g: &BarrierGeometry, lr: f64, batch_size: usize, path_factor: f64) -> Option<f64> {
    let he_min = g.escape_curvature_at_minimum?;
    let he_saddle = g.escape_eigenvalue?.abs();
    let b = batch_size as f64;
    Some(b * g.linear() / (lr * g.loss_minimum) * (path_factor / he_min + (1.0 - path_factor) / he_saddle))
}

/// The exponent of [`linear_barrier_rate`], `BΔL/(η h* L*)`.
pub fn linear_barrier_exponent(g: &BarrierGeometry, lr: f64, batch_size: usize) -> f64 {
    batch_size as f64 * g.linear() / (lr * g.h_star * g.loss_minimum)
}

/// Isotropic Langevin (Arrhenius / Kramers) with constant diffusion D:
/// `κ_GLD = (|h_eˢ|/2π) sqrt(det H*/|det Hˢ|) exp(−ΔL/D)`. Per unit t.
pub fn kramers_isotropic_rate(g: &BarrierGeometry, diffusion: f64) -> Option<f64> {
    Some(full_prefactor(g)? * (-g.linear() / diffusion).exp())
}

/// Critical effective dimension `n_c = 2(β + 1)`: a minimum is stable only if n < n_c.
pub fn critical_dimension(beta: f64) -> f64 {
    2.0 * (beta + 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_d(c: f64) -> BarrierGeometry {
        // Double well with ε: L* = ε, L(θˢ) = ε + 1/4, h* = 2, hˢ = −1.
        let eps = 0.25 / (c - 1.0);
        BarrierGeometry::one_dimensional(eps, eps + 0.25, 2.0, -1.0)
    }

    /// Log and linear barriers agree when ΔL ≪ L* (c → 1): log c ≈ ΔL/L*. With c − 1 = 10⁻⁴
    /// and β = 5·10⁴ the exponents −(β + 1/2) log c and −β(c − 1) differ by
    /// β(c − 1)²/2 + (c − 1)/2 + O(β(c − 1)³) = 3·10⁻⁴, so the rates agree within 10⁻³; and at
    /// s = 1 in one dimension Xie et al.'s rate for a mean-square loss is the linear-barrier rate.
    #[test]
    fn log_linear_and_xie_agree_where_they_should() {
        let g = one_d(1.0 + 1e-4);
        let (lr, b) = (1e-5, 1);
        let ratio = log_barrier_rate(&g, lr, b).unwrap() / linear_barrier_rate(&g, lr, b).unwrap();
        assert!((ratio - 1.0).abs() < 1e-3, "{ratio}");
        let g = one_d(3.0);
        assert!((xie_rate(&g, 0.1, 1, 1.0).unwrap() / linear_barrier_rate(&g, 0.1, 1).unwrap() - 1.0).abs() < 1e-12);
    }
}
