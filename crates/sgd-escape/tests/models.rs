//! Models against independent references: gradients and Hessians from num-dual (forward-mode
//! second-order dual numbers), losses and covariances from direct per-sample sums.

use nalgebra::DVector;
use num_dual::{Dual2DVec64, hessian};
use sgd_escape::dynamics::rng::replica_rng;
use sgd_escape::model::{
    CurveMap, Dataset, DoubleWell, FeatureModel, LinearMap, per_sample_gradient_covariance, per_sample_gradient_noise, prelude::*,
};

type D2 = Dual2DVec64;

/// Compares value, gradient and every Hessian column (through `hvp`) with num-dual.
fn check_against_num_dual(model: &dyn HessianProduct, reference: impl Fn(&DVector<D2>) -> D2, theta: &[f64]) {
    let p = model.dim();
    let x = DVector::from_column_slice(theta);
    let (value, gradient, hess) = hessian(|v: DVector<D2>| reference(&v), &x);
    let mut grad = vec![0.0; p];
    let loss = model.loss_and_gradient(theta, &mut grad);
    let scale = 1.0 + value.abs();
    assert!((loss - value).abs() < 1e-12 * scale, "loss {loss} vs {value}");
    assert!((model.loss(theta) - value).abs() < 1e-12 * scale);
    for i in 0..p {
        assert!((grad[i] - gradient[i]).abs() < 1e-10 * (1.0 + gradient[i].abs()), "grad[{i}] {} vs {}", grad[i], gradient[i]);
    }
    let mut e = vec![0.0; p];
    let mut col = vec![0.0; p];
    for j in 0..p {
        e[j] = 1.0;
        model.hvp(theta, &e, &mut col);
        e[j] = 0.0;
        for i in 0..p {
            let h = hess[(i, j)];
            assert!((col[i] - h).abs() < 1e-9 * (1.0 + h.abs()), "H[{i},{j}] {} vs {h}", col[i]);
        }
    }
}

fn point(p: usize, seed: u64) -> Vec<f64> {
    use rand::RngExt;
    let mut rng = replica_rng(seed, 99);
    (0..p).map(|_| rng.random_range(-1.3..1.3)).collect()
}

#[test]
fn double_well_derivatives() {
    for dim in 1..=4 {
        let model = DoubleWell { epsilon: 0.1, dim, stiffness: 2.5 };
        let reference = |t: &DVector<D2>| {
            let u = t[0].clone() * t[0].clone() - 1.0;
            let mut l = u.clone() * u * 0.25 + 0.1;
            for i in 1..t.len() {
                l += t[i].clone() * t[i].clone() * (0.5 * 2.5);
            }
            l
        };
        for seed in 0..3 {
            check_against_num_dual(&model, reference, &point(dim, seed));
        }
    }
}

/// `(1/2N) Σ_μ (xᵀφ − y)²` over dual numbers, sample by sample.
fn per_sample_loss(data: &Dataset, phi: &[D2]) -> D2 {
    let n = data.len();
    let mut total = D2::from_re(0.0) * phi[0].clone() * 0.0;
    for mu in 0..n {
        let x = data.row(mu);
        let mut r = phi[0].clone() * 0.0 - data.y[mu];
        for (a, xa) in x.iter().enumerate() {
            r += phi[a].clone() * *xa;
        }
        total += r.clone() * r;
    }
    total * (0.5 / n as f64)
}

fn curve_phi(t: &DVector<D2>, s: f64, kappa: f64, k: f64) -> Vec<D2> {
    let mut phi = vec![t[0].clone() * s, (t[0].clone() * t[0].clone() - 1.0) * kappa];
    for i in 1..t.len() {
        phi.push(t[i].clone() * k);
    }
    phi
}

#[test]
fn linear_regression_derivatives() {
    for dim in [1, 3] {
        let data = Dataset::gaussian(50, dim, 5, |x, xi| x[0] * 0.3 + xi);
        let model = FeatureModel::new(LinearMap { dim }, data.clone()).unwrap();
        let reference = |t: &DVector<D2>| per_sample_loss(&data, &t.iter().cloned().collect::<Vec<_>>());
        for seed in 0..3 {
            check_against_num_dual(&model, reference, &point(dim, seed));
        }
    }
}

#[test]
fn curve_derivatives() {
    for dim in [1, 3] {
        let (s, kappa, k) = (0.5, 1.2, 1.7);
        let data = Dataset::gaussian(60, dim + 1, 6, |x, xi| 0.2 * x[0] + 0.4 * xi);
        let model = FeatureModel::new(CurveMap { dim, s, kappa, stiffness: k }, data.clone()).unwrap();
        let reference = |t: &DVector<D2>| per_sample_loss(&data, &curve_phi(t, s, kappa, k));
        for seed in 0..3 {
            check_against_num_dual(&model, reference, &point(dim, seed));
        }
    }
}

/// Per-sample residuals and output gradients against num-dual of `f(θ, x_μ)`; the minibatch
/// gradient over all samples equals the full gradient.
#[test]
fn per_sample_quantities() {
    let dim = 2;
    let (s, kappa, k) = (0.7, 0.9, 1.3);
    let data = Dataset::gaussian(40, dim + 1, 7, |x, xi| 0.1 * x[1] + 0.5 * xi);
    let model = FeatureModel::new(CurveMap { dim, s, kappa, stiffness: k }, data.clone()).unwrap();
    let theta = point(dim, 11);
    let x = DVector::from_column_slice(&theta);
    let mut grad_f = vec![0.0; dim];
    for mu in [0, 17, 39] {
        let (f, g, _) = hessian(
            |t: DVector<D2>| {
                let phi = curve_phi(&t, s, kappa, k);
                let mut out = phi[0].clone() * 0.0;
                for (a, xa) in data.row(mu).iter().enumerate() {
                    out += phi[a].clone() * *xa;
                }
                out
            },
            &x,
        );
        let mut r = [0.0];
        model.residuals_and_output_gradients(&theta, mu, &mut r, &mut grad_f);
        let r = r[0];
        assert!((r - (f - data.y[mu])).abs() < 1e-12);
        for i in 0..dim {
            assert!((grad_f[i] - g[i]).abs() < 1e-12);
        }
    }
    let all: Vec<usize> = (0..data.len()).collect();
    let mut batch_grad = vec![0.0; dim];
    let mut grad = vec![0.0; dim];
    model.minibatch_gradient(&theta, &all, &mut batch_grad);
    model.loss_and_gradient(&theta, &mut grad);
    for i in 0..dim {
        assert!((batch_grad[i] - grad[i]).abs() < 1e-12 * (1.0 + grad[i].abs()));
    }
}

/// The fourth-moment covariance equals the per-sample sum, for both feature maps.
#[test]
fn gradient_covariance_from_fourth_moments() {
    let data = Dataset::gaussian(300, 3, 8, |x, xi| x[0] - 0.5 * x[2] + 0.3 * xi);
    let lin = FeatureModel::new(LinearMap { dim: 3 }, data).unwrap();
    let curve =
        FeatureModel::new(CurveMap { dim: 2, s: 0.5, kappa: 1.0, stiffness: 1.5 }, Dataset::gaussian(300, 3, 9, |_, xi| 0.5 * xi)).unwrap();
    for (model, theta) in [(&lin as &dyn GradientNoise, point(3, 1)), (&curve as &dyn GradientNoise, point(2, 2))] {
        let fast = model.gradient_covariance(&theta);
        let reference = per_sample_gradient_covariance(model, &theta);
        let scale = reference.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        for (a, b) in fast.iter().zip(&reference) {
            assert!((a - b).abs() < 1e-11 * scale, "{a} vs {b}");
        }
    }
}

/// Both noise samplers (fourth moments; per-sample) draw with covariance C(θ): every entry of
/// the empirical covariance of 40 000 draws within 4 standard errors,
/// SE(Ĉ_ij) = sqrt((C_ii C_jj + C_ij²)/n) for Gaussian draws.
#[test]
fn gradient_noise_samplers_have_covariance_c() {
    let curve = FeatureModel::new(CurveMap { dim: 2, s: 0.5, kappa: 1.0, stiffness: 1.5 }, Dataset::gaussian(200, 3, 10, |_, xi| 0.5 * xi))
        .unwrap();
    let theta = point(2, 3);
    let c = curve.gradient_covariance(&theta);
    let p = 2;
    let draws = 40_000;
    for per_sample in [false, true] {
        let mut rng = replica_rng(5, per_sample as u64);
        let mut scratch = Vec::new();
        let mut z = vec![0.0; p];
        let mut sum = vec![0.0; p * p];
        for _ in 0..draws {
            if per_sample {
                per_sample_gradient_noise(&curve, &theta, &mut rng, &mut scratch, &mut z);
            } else {
                curve.sample_gradient_noise(&theta, &mut rng, &mut scratch, &mut z);
            }
            for i in 0..p {
                for j in 0..p {
                    sum[i * p + j] += z[i] * z[j];
                }
            }
        }
        for i in 0..p {
            for j in 0..p {
                let est = sum[i * p + j] / draws as f64;
                let se = ((c[i * p + i] * c[j * p + j] + c[i * p + j].powi(2)) / draws as f64).sqrt();
                assert!((est - c[i * p + j]).abs() < 4.0 * se, "per_sample={per_sample} C[{i}{j}] {est} vs {}", c[i * p + j]);
            }
        }
    }
}

/// The curve model's population geometry (docs/theory.md §8) at tilt 0: minima at
/// θ₁ = ±sqrt(1 − s²/2κ²), saddle at 0 with L = κ²/2 + σ²/2, up to finite-sample error.
#[test]
fn curve_population_geometry() {
    let (s, kappa, sigma) = (0.5_f64, 1.0_f64, 0.5_f64);
    let model =
        FeatureModel::new(CurveMap { dim: 1, s, kappa, stiffness: 1.0 }, Dataset::gaussian(200_000, 2, 12, |_, xi| sigma * xi)).unwrap();
    let min = sgd_escape::landscape::minimize(&model, &[-1.0], Default::default()).unwrap();
    let theta_star = (1.0 - s * s / (2.0 * kappa * kappa)).sqrt();
    // Finite-sample fluctuations of the moments are O(N^{-1/2}) ≈ 2e-3.
    assert!((min.theta[0] + theta_star).abs() < 1e-2, "{:?}", min.theta);
    let saddle_loss = model.loss(&[0.0]);
    assert!((saddle_loss - (0.5 * kappa * kappa + 0.5 * sigma * sigma)).abs() < 1e-2);
}
