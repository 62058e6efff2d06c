//! Data-built mean-square models that are linear in the data through a feature map:
//! `f(θ, x) = xᵀφ(θ)`. Loss, gradient and Hessian then depend on the data only through the
//! sufficient statistics `Sxx = (1/N) Σ x xᵀ`, `sxy = (1/N) Σ x y`, `syy = (1/N) Σ y²`, so
//! they cost O(m²) instead of O(N), and the exact noise covariance through the fourth moments
//! `(1/N) Σ x̃_a x̃_b x_i x_j` of `x̃ = (x, y)`.

use super::{DataModel, Dataset, GaussNewtonProduct, GradientNoise, HessianProduct, MinibatchGradient, Model};
use crate::dynamics::rng::ReplicaRng;
use crate::error::{Error, Result};
use crate::linalg;
use rand::RngExt;
use rand_distr::StandardNormal;

/// A smooth map `φ: R^P → R^m` with its derivatives, feature by feature (no buffers needed).
pub trait FeatureMap: Send + Sync {
    /// Number of parameters P.
    fn param_dim(&self) -> usize;
    /// Number of features m (the input dimension of the data).
    fn feature_dim(&self) -> usize;
    /// `φ_a(θ)`.
    fn feature(&self, theta: &[f64], a: usize) -> f64;
    /// `out += scale · ∇φ_a(θ)`.
    fn add_feature_gradient(&self, theta: &[f64], a: usize, scale: f64, out: &mut [f64]);
    /// `∇φ_a(θ) · v`.
    fn feature_derivative(&self, theta: &[f64], a: usize, v: &[f64]) -> f64;
    /// `out += scale · ∇²φ_a(θ) v`.
    fn add_feature_hessian_vector(&self, theta: &[f64], a: usize, scale: f64, v: &[f64], out: &mut [f64]);

    /// Every feature of `R` parameter vectors stored by lane (`theta[i * R + l]` is θ_i of
    /// vector l), as `[a * R + l] = φ_a(θ of lane l)`: the arithmetic of
    /// [`FeatureMap::feature`], lane by lane, in loops over lanes that vectorise. Written into
    /// `phi` and returned, or, where φ(θ) = θ, `theta` itself. For the lane kernel of
    /// [`crate::escape::lanes`], which must round exactly as the scalar methods do.
    fn features_by_lane<'a, const R: usize>(&self, theta: &'a [f64], phi: &'a mut [f64]) -> &'a [f64];

    /// `out[i * R + l] += ∂φ_a/∂θ_i · scale[l]` at θ of lane l (same layout): the arithmetic of
    /// [`FeatureMap::add_feature_gradient`] with scale `scale[l]`, lane by lane.
    fn add_feature_gradient_by_lane<const R: usize>(&self, theta: &[f64], a: usize, scale: &[f64; R], out: &mut [f64]);
}

/// `v = 0` by a plain loop: for the few parameters of these models a call to `memset` costs
/// more than the stores.
#[inline(always)]
fn zero(v: &mut [f64]) {
    for x in v.iter_mut() {
        *x = 0.0;
    }
}

/// The mean-square loss of a model linear in the data, from its sufficient statistics:
/// `L = ½ φᵀ Sxx φ − φᵀ sxy + ½ syy` with `Sxx` row-major m × m, for `R` parameter vectors at
/// once: `phi(a, l)` is feature a of vector l. The one implementation of this formula:
/// [`FeatureModel`] evaluates it with `R = 1`, the lane kernel of
/// [`crate::escape::lanes`] with one vector per lane (the loops over `l` vectorise), with the
/// same operations in the same order and therefore identical rounding.
#[inline(always)]
pub fn quadratic_loss<const R: usize>(sxx: &[f64], sxy: &[f64], syy: f64, m: usize, phi: impl Fn(usize, usize) -> f64) -> [f64; R] {
    let mut quad = [0.0; R];
    let mut lin = [0.0; R];
    for a in 0..m {
        let mut acc = [0.0; R];
        for b in 0..m {
            let sab = sxx[a * m + b];
            for (l, acc) in acc.iter_mut().enumerate() {
                *acc += sab * phi(b, l);
            }
        }
        for l in 0..R {
            let pa = phi(a, l);
            quad[l] += pa * acc[l];
            lin[l] += pa * sxy[a];
        }
    }
    std::array::from_fn(|l| 0.5 * quad[l] - lin[l] + 0.5 * syy)
}

/// Fourth moments are precomputed for the exact noise when their table has at most this many
/// entries; larger models draw the noise from per-sample gradients (O(N·P) a draw).
const MAX_FOURTH_MOMENT_ENTRIES: usize = 1 << 20;

/// `f(θ, x) = xᵀφ(θ)` on a data set, with mean-square loss `L = (1/2N) Σ (xᵀφ(θ) − y)²`.
#[derive(Clone, Debug)]
pub struct FeatureModel<F: FeatureMap> {
    map: F,
    data: Dataset,
    sxx: Vec<f64>,
    sxy: Vec<f64>,
    syy: f64,
    /// `T[(a(m+1)+b) m² + i m + j] = (1/N) Σ x̃_a x̃_b x_i x_j`, `x̃ = (x, y)`.
    fourth: Option<Vec<f64>>,
}

impl<F: FeatureMap> FeatureModel<F> {
    /// Builds the model on a data set with at least one sample, one target column and as many
    /// input columns as the map has features; an error names the mismatch.
    pub fn new(map: F, data: Dataset) -> Result<Self> {
        let m = map.feature_dim();
        if data.features != m {
            return Err(Error::invalid("data", format!("{} input columns", data.features), format!("the model needs m = {m} features")));
        }
        if data.outputs != 1 {
            return Err(Error::invalid("data", format!("{} target columns", data.outputs), "f(θ, x) = xᵀφ(θ) has one output"));
        }
        if data.is_empty() {
            return Err(Error::invalid("data", "0 samples", "at least one sample is needed"));
        }
        let n = data.len();
        let inv_n = 1.0 / n as f64;
        let mut sxx = vec![0.0; m * m];
        let mut sxy = vec![0.0; m];
        let mut syy = 0.0;
        for mu in 0..n {
            let x = data.row(mu);
            let y = data.y[mu];
            for i in 0..m {
                sxy[i] += x[i] * y;
                for j in 0..m {
                    sxx[i * m + j] += x[i] * x[j];
                }
            }
            syy += y * y;
        }
        sxx.iter_mut().chain(sxy.iter_mut()).for_each(|v| *v *= inv_n);
        syy *= inv_n;
        let entries = (m + 1) * (m + 1) * m * m;
        let fourth = (entries <= MAX_FOURTH_MOMENT_ENTRIES && entries <= 4 * n * m).then(|| {
            let mut t = vec![0.0; entries];
            let mut xt = vec![0.0; m + 1];
            for mu in 0..n {
                let x = data.row(mu);
                xt[..m].copy_from_slice(x);
                xt[m] = data.y[mu];
                for a in 0..=m {
                    for b in 0..=m {
                        let ab = xt[a] * xt[b];
                        let block = &mut t[(a * (m + 1) + b) * m * m..][..m * m];
                        for i in 0..m {
                            let abi = ab * x[i];
                            for j in 0..m {
                                block[i * m + j] += abi * x[j];
                            }
                        }
                    }
                }
            }
            t.iter_mut().for_each(|v| *v *= inv_n);
            t
        });
        Ok(FeatureModel { map, data, sxx, sxy, syy, fourth })
    }

    /// The feature map.
    pub fn map(&self) -> &F {
        &self.map
    }

    /// The data set.
    pub fn data(&self) -> &Dataset {
        &self.data
    }

    /// For a one-parameter model: the state after one SGD step with batch size 1 on each sample,
    /// `θ − η r_μ(θ) f'_μ(θ)` for μ = 1..N, appended to `out` (the transitions of the SGD chain,
    /// docs/theory.md eq. 22). φ(θ) and φ'(θ) are computed once, then each sample costs O(m).
    pub fn one_parameter_sgd_steps(&self, theta: f64, lr: f64, out: &mut Vec<f64>) {
        assert_eq!(self.map.param_dim(), 1, "one parameter");
        let m = self.map.feature_dim();
        let phi: Vec<f64> = (0..m).map(|a| self.map.feature(&[theta], a)).collect();
        let dphi: Vec<f64> = (0..m).map(|a| self.map.feature_derivative(&[theta], a, &[1.0])).collect();
        for (x, y) in self.data.x.chunks_exact(m).zip(&self.data.y) {
            let (mut r, mut g) = (-y, 0.0);
            for a in 0..m {
                r += x[a] * phi[a];
                g += x[a] * dphi[a];
            }
            out.push(theta - lr * r * g);
        }
    }

    /// Sufficient statistics `(Sxx, sxy, syy)`: `Sxx = (1/N) Σ x xᵀ` (row-major `m × m`),
    /// `sxy = (1/N) Σ x y`, `syy = (1/N) Σ y²`.
    pub fn sufficient_statistics(&self) -> (&[f64], &[f64], f64) {
        (&self.sxx, &self.sxy, self.syy)
    }

    /// The gradient covariance in feature space, `C_φ = M − w wᵀ` with
    /// `M_ij = (1/N) Σ_μ r_μ² x_i x_j = Σ_ab φ̃_a φ̃_b T_abij` (`φ̃ = (φ, −1)`) and
    /// `w = Sxx φ − sxy`, written into `cov` (m × m); `phi` (m + 1) and `w` (m) are outputs too.
    /// Then `C(θ) = Jᵀ C_φ J`.
    fn feature_noise_covariance(&self, t: &[f64], theta: &[f64], phi: &mut [f64], w: &mut [f64], cov: &mut [f64]) {
        let m = self.map.feature_dim();
        let mm = m * m;
        for (a, p) in phi.iter_mut().enumerate().take(m) {
            *p = self.map.feature(theta, a);
        }
        phi[m] = -1.0;
        for (a, wa) in w.iter_mut().enumerate() {
            *wa = self.feature_residual(theta, a);
        }
        cov.fill(0.0);
        for a in 0..=m {
            for b in 0..=m {
                let pab = phi[a] * phi[b];
                let block = &t[(a * (m + 1) + b) * mm..][..mm];
                linalg::axpy(pab, block, cov);
            }
        }
        for i in 0..m {
            for j in 0..m {
                cov[i * m + j] -= w[i] * w[j];
            }
        }
    }

    /// `(1/N) Σ_μ r_μ x_μ[a] = (Sxx φ − sxy)_a`, the loss gradient with respect to `φ_a`.
    #[inline]
    fn feature_residual(&self, theta: &[f64], a: usize) -> f64 {
        let m = self.map.feature_dim();
        let row = &self.sxx[a * m..(a + 1) * m];
        let mut s = -self.sxy[a];
        for (b, sab) in row.iter().enumerate() {
            s += sab * self.map.feature(theta, b);
        }
        s
    }
}

impl<F: FeatureMap> Model for FeatureModel<F> {
    fn dim(&self) -> usize {
        self.map.param_dim()
    }

    /// `L = ½ φᵀ Sxx φ − φᵀ sxy + ½ syy`, O(m²) ([`quadratic_loss`]).
    #[inline]
    fn loss(&self, theta: &[f64]) -> f64 {
        let [loss] = quadratic_loss::<1>(&self.sxx, &self.sxy, self.syy, self.map.feature_dim(), |a, _| self.map.feature(theta, a));
        loss
    }

    /// `∇L = Jᵀ (Sxx φ − sxy)`, O(m²).
    fn loss_and_gradient(&self, theta: &[f64], grad: &mut [f64]) -> f64 {
        grad.fill(0.0);
        let m = self.map.feature_dim();
        for a in 0..m {
            let w = self.feature_residual(theta, a);
            self.map.add_feature_gradient(theta, a, w, grad);
        }
        self.loss(theta)
    }
}

impl<F: FeatureMap> HessianProduct for FeatureModel<F> {
    /// `H v = Jᵀ Sxx J v + Σ_a (Sxx φ − sxy)_a ∇²φ_a v` (Gauss–Newton part plus residual part).
    fn hvp(&self, theta: &[f64], v: &[f64], out: &mut [f64]) {
        self.gauss_newton_vector_product(theta, v, out);
        for a in 0..self.map.feature_dim() {
            let w = self.feature_residual(theta, a);
            self.map.add_feature_hessian_vector(theta, a, w, v, out);
        }
    }
}

impl<F: FeatureMap> DataModel for FeatureModel<F> {
    fn samples(&self) -> usize {
        self.data.len()
    }

    fn residuals_and_output_gradients(&self, theta: &[f64], mu: usize, residuals: &mut [f64], grad_f: &mut [f64]) {
        grad_f.fill(0.0);
        let x = self.data.row(mu);
        let mut r = -self.data.y[mu];
        for (a, xa) in x.iter().enumerate() {
            r += xa * self.map.feature(theta, a);
            self.map.add_feature_gradient(theta, a, *xa, grad_f);
        }
        residuals[0] = r;
    }
}

impl<F: FeatureMap> MinibatchGradient for FeatureModel<F> {
    #[inline]
    fn minibatch_gradient(&self, theta: &[f64], batch: &[usize], grad: &mut [f64]) {
        zero(grad);
        let m = self.map.feature_dim();
        let inv_b = 1.0 / batch.len() as f64;
        for &mu in batch {
            let x = self.data.row(mu);
            let mut r = -self.data.y[mu];
            for (a, xa) in x.iter().enumerate() {
                r += xa * self.map.feature(theta, a);
            }
            let scale = r * inv_b;
            for (a, xa) in x.iter().enumerate().take(m) {
                self.map.add_feature_gradient(theta, a, scale * xa, grad);
            }
        }
    }
}

impl<F: FeatureMap> GaussNewtonProduct for FeatureModel<F> {
    /// `G v = Jᵀ Sxx J v`, O(m² + mP).
    fn gauss_newton_vector_product(&self, theta: &[f64], v: &[f64], out: &mut [f64]) {
        let m = self.map.feature_dim();
        let jv: Vec<f64> = (0..m).map(|a| self.map.feature_derivative(theta, a, v)).collect();
        out.fill(0.0);
        for a in 0..m {
            let u = linalg::dot(&self.sxx[a * m..(a + 1) * m], &jv);
            self.map.add_feature_gradient(theta, a, u, out);
        }
    }
}

impl<F: FeatureMap> GradientNoise for FeatureModel<F> {
    /// With fourth moments, the trace of the dense C(θ), independent of N.
    fn gradient_covariance_trace(&self, theta: &[f64]) -> f64 {
        let p = self.dim();
        let c = self.gradient_covariance(theta);
        (0..p).map(|i| c[i * p + i]).sum()
    }

    /// With fourth moments, uᵀC(θ)u from the dense C(θ), independent of N.
    fn gradient_covariance_along(&self, theta: &[f64], u: &[f64]) -> f64 {
        let p = self.dim();
        let c = self.gradient_covariance(theta);
        (0..p).map(|i| u[i] * (0..p).map(|j| c[i * p + j] * u[j]).sum::<f64>()).sum()
    }

    /// With fourth moments, `C(θ) = Jᵀ C_φ J` in O(m⁴ + m²P²) independent of N.
    fn gradient_covariance(&self, theta: &[f64]) -> Vec<f64> {
        let Some(t) = &self.fourth else {
            return super::per_sample_gradient_covariance(self, theta);
        };
        let m = self.map.feature_dim();
        let p = self.map.param_dim();
        let mut cov = vec![0.0; m * m];
        let mut phi = vec![0.0; m + 1];
        let mut w = vec![0.0; m];
        self.feature_noise_covariance(t, theta, &mut phi, &mut w, &mut cov);
        // J (m × P), row a = ∇φ_a.
        let mut jac = vec![0.0; m * p];
        for a in 0..m {
            self.map.add_feature_gradient(theta, a, 1.0, &mut jac[a * p..(a + 1) * p]);
        }
        let mut c = vec![0.0; p * p];
        for a in 0..m {
            for b in 0..m {
                let cab = cov[a * m + b];
                if cab == 0.0 {
                    continue;
                }
                for i in 0..p {
                    let s = cab * jac[a * p + i];
                    for j in 0..p {
                        c[i * p + j] += s * jac[b * p + j];
                    }
                }
            }
        }
        c
    }

    /// With fourth moments: `C(θ) = Jᵀ (M − w wᵀ) J` with `M_ij = (1/N) Σ r² x_i x_j`
    /// `= Σ_ab φ̃_a φ̃_b T_abij` (`φ̃ = (φ, −1)`) and `w = Sxx φ − sxy`; draws
    /// `ζ = Jᵀ chol(M − w wᵀ) z` with m normals, O(m⁴) independent of N.
    fn sample_gradient_noise(&self, theta: &[f64], rng: &mut ReplicaRng, scratch: &mut Vec<f64>, out: &mut [f64]) {
        let Some(t) = &self.fourth else {
            return super::per_sample_gradient_noise(self, theta, rng, scratch, out);
        };
        let m = self.map.feature_dim();
        let mm = m * m;
        scratch.clear();
        scratch.resize(mm + 3 * m + 1, 0.0);
        let (cov, rest) = scratch.split_at_mut(mm);
        let (phi, rest) = rest.split_at_mut(m + 1);
        let (w, rest) = rest.split_at_mut(m);
        let u = &mut rest[..m];
        self.feature_noise_covariance(t, theta, phi, w, cov);
        linalg::psd_cholesky_in_place(cov, m);
        for wa in w.iter_mut() {
            *wa = rng.sample(StandardNormal);
        }
        linalg::lower_mul(cov, w, u);
        out.fill(0.0);
        for (a, ua) in u.iter().enumerate() {
            self.map.add_feature_gradient(theta, a, *ua, out);
        }
    }
}
