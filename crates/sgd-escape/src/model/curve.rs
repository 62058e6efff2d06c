//! The data-built double well with a real barrier (the curve model of docs/theory.md §8).

use super::FeatureMap;

/// `φ(θ) = (s θ₁, κ (θ₁² − 1), k θ₂, …, k θ_dim)`, so `f(θ, x) = xᵀφ(θ)` with
/// `x ∈ R^{dim+1}`.
///
/// With standard normal `x` and labels `y = xᵀa + σ ξ`, `a = (tilt, 0, …)`, the population
/// loss is `½|φ(θ) − a|² + σ²/2`. For `tilt = 0` and `s² < 2κ²` it has two minima at
/// `θ₁ = ±sqrt(1 − s²/(2κ²))`, `θ_{i≥2} = 0`, and a saddle at `θ = 0` with loss
/// `κ²/2 + σ²/2`; σ moves `L*` without changing the geometry. Per-sample gradients do not
/// vanish at critical points (label noise), unlike `f = x·g(θ)`.
#[derive(Clone, Debug)]
pub struct CurveMap {
    /// Number of parameters (≥ 1).
    pub dim: usize,
    /// Slope s of the first feature.
    pub s: f64,
    /// Height κ of the quadratic feature.
    pub kappa: f64,
    /// Stiffness k of the transverse features.
    pub stiffness: f64,
}

impl FeatureMap for CurveMap {
    fn param_dim(&self) -> usize {
        self.dim
    }
    fn feature_dim(&self) -> usize {
        self.dim + 1
    }
    #[inline]
    fn feature(&self, theta: &[f64], a: usize) -> f64 {
        match a {
            0 => self.s * theta[0],
            1 => self.kappa * (theta[0] * theta[0] - 1.0),
            _ => self.stiffness * theta[a - 1],
        }
    }
    #[inline]
    fn add_feature_gradient(&self, theta: &[f64], a: usize, scale: f64, out: &mut [f64]) {
        match a {
            0 => out[0] += scale * self.s,
            1 => out[0] += scale * 2.0 * self.kappa * theta[0],
            _ => out[a - 1] += scale * self.stiffness,
        }
    }
    #[inline]
    fn feature_derivative(&self, theta: &[f64], a: usize, v: &[f64]) -> f64 {
        match a {
            0 => self.s * v[0],
            1 => 2.0 * self.kappa * theta[0] * v[0],
            _ => self.stiffness * v[a - 1],
        }
    }
    #[inline]
    fn add_feature_hessian_vector(&self, _theta: &[f64], a: usize, scale: f64, v: &[f64], out: &mut [f64]) {
        if a == 1 {
            out[0] += scale * 2.0 * self.kappa * v[0];
        }
    }
    #[inline(always)]
    #[allow(clippy::needless_range_loop)]
    fn features_by_lane<'a, const R: usize>(&self, theta: &'a [f64], phi: &'a mut [f64]) -> &'a [f64] {
        // Rows of known length R: the loops over lanes carry no bounds checks and vectorise.
        let (t, _) = theta.as_chunks::<R>();
        let (rows, _) = phi.as_chunks_mut::<R>();
        let [p0, p1, rest @ ..] = rows else { panic!("the curve model has at least two features") };
        let t0 = &t[0];
        for l in 0..R {
            p0[l] = self.s * t0[l];
            p1[l] = self.kappa * (t0[l] * t0[l] - 1.0);
        }
        for (pa, ta) in rest.iter_mut().zip(&t[1..]).take(self.dim - 1) {
            for l in 0..R {
                pa[l] = self.stiffness * ta[l];
            }
        }
        phi
    }
    #[inline(always)]
    #[allow(clippy::needless_range_loop)]
    fn add_feature_gradient_by_lane<const R: usize>(&self, theta: &[f64], a: usize, scale: &[f64; R], out: &mut [f64]) {
        let row = a.max(1) - 1;
        let o = &mut out[row * R..(row + 1) * R];
        match a {
            0 => {
                for l in 0..R {
                    o[l] += scale[l] * self.s;
                }
            }
            1 => {
                let t0 = &theta[..R];
                for l in 0..R {
                    o[l] += scale[l] * 2.0 * self.kappa * t0[l];
                }
            }
            _ => {
                for l in 0..R {
                    o[l] += scale[l] * self.stiffness;
                }
            }
        }
    }
}
