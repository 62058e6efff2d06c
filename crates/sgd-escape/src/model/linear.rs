//! Linear regression `f(θ, x) = θᵀx` (paper Fig. 3) as the identity feature map.

use super::FeatureMap;

/// The identity feature map `φ(θ) = θ`: with it, [`super::FeatureModel`] is linear regression
/// `f = θᵀx`, whose Hessian `(1/N) Σ x xᵀ` is constant.
#[derive(Clone, Debug)]
pub struct LinearMap {
    /// Input dimension d = number of parameters.
    pub dim: usize,
}

impl FeatureMap for LinearMap {
    fn param_dim(&self) -> usize {
        self.dim
    }
    fn feature_dim(&self) -> usize {
        self.dim
    }
    #[inline]
    fn feature(&self, theta: &[f64], a: usize) -> f64 {
        theta[a]
    }
    #[inline]
    fn add_feature_gradient(&self, _theta: &[f64], a: usize, scale: f64, out: &mut [f64]) {
        out[a] += scale;
    }
    #[inline]
    fn feature_derivative(&self, _theta: &[f64], a: usize, v: &[f64]) -> f64 {
        v[a]
    }
    #[inline]
    fn add_feature_hessian_vector(&self, _theta: &[f64], _a: usize, _scale: f64, _v: &[f64], _out: &mut [f64]) {}
    #[inline(always)]
    fn features_by_lane<'a, const R: usize>(&self, theta: &'a [f64], _phi: &'a mut [f64]) -> &'a [f64] {
        theta
    }
    #[inline(always)]
    fn add_feature_gradient_by_lane<const R: usize>(&self, _theta: &[f64], a: usize, scale: &[f64; R], out: &mut [f64]) {
        for (o, s) in out[a * R..(a + 1) * R].iter_mut().zip(scale) {
            *o += s;
        }
    }
}
