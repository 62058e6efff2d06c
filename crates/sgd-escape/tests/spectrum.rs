//! Spectral methods against dense eigendecomposition on random symmetric operators.

use rand::RngExt;
use sgd_escape::dynamics::rng::replica_rng;
use sgd_escape::landscape::curvature::{DenseOperator, GaussNewton, Hessian, Operator, to_dense};
use sgd_escape::landscape::spectrum::{LanczosOptions, dense_eigen, lanczos_extreme, stochastic_lanczos_quadrature};
use sgd_escape::model::{CurveMap, DataModel, Dataset, FeatureModel};

/// `Q diag(λ) Qᵀ` with a random orthogonal Q (Gram–Schmidt of a Gaussian matrix).
fn random_symmetric(eigenvalues: &[f64], seed: u64) -> DenseOperator {
    let p = eigenvalues.len();
    let mut rng = replica_rng(seed, 0);
    let mut q: Vec<Vec<f64>> = Vec::new();
    while q.len() < p {
        let mut v: Vec<f64> = (0..p).map(|_| rng.random_range(-1.0..1.0)).collect();
        for _ in 0..2 {
            for u in &q {
                let c: f64 = u.iter().zip(&v).map(|(a, b)| a * b).sum();
                v.iter_mut().zip(u).for_each(|(x, y)| *x -= c * y);
            }
        }
        let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        q.push(v.into_iter().map(|x| x / n).collect());
    }
    let mut matrix = vec![0.0; p * p];
    for (k, l) in eigenvalues.iter().enumerate() {
        for i in 0..p {
            for j in 0..p {
                matrix[i * p + j] += l * q[k][i] * q[k][j];
            }
        }
    }
    DenseOperator { matrix, p }
}

fn spectrum_with_outliers(p: usize, seed: u64) -> Vec<f64> {
    let mut rng = replica_rng(seed, 1);
    let mut l: Vec<f64> = (0..p - 5).map(|_| rng.random_range(0.0..1.0)).collect();
    l.extend([50.0, 20.0, 10.0, -3.0, -6.0]);
    l
}

#[test]
fn dense_eigen_recovers_known_spectrum() {
    let mut lambda = spectrum_with_outliers(60, 1);
    let op = random_symmetric(&lambda, 2);
    let (values, vectors) = dense_eigen(&op);
    lambda.sort_by(f64::total_cmp);
    for (a, b) in values.iter().zip(&lambda) {
        assert!((a - b).abs() < 1e-10, "{a} vs {b}");
    }
    // A u = λ u for the top pair.
    let p = 60;
    let u: Vec<f64> = (0..p).map(|i| vectors[i * p + p - 1]).collect();
    let mut au = vec![0.0; p];
    op.apply(&u, &mut au);
    for i in 0..p {
        assert!((au[i] - 50.0 * u[i]).abs() < 1e-9);
    }
}

#[test]
fn lanczos_matches_dense_extremes() {
    for seed in 0..3 {
        let p = 200;
        let op = random_symmetric(&spectrum_with_outliers(p, seed), 10 + seed);
        let (dense, _) = dense_eigen(&op);
        let options = LanczosOptions { seed, ..Default::default() };
        let top = lanczos_extreme(&op, 3, true, options);
        let bottom = lanczos_extreme(&op, 2, false, options);
        assert!(top.converged && bottom.converged, "{} and {} steps", top.steps, bottom.steps);
        for (k, v) in top.values.iter().enumerate() {
            assert!((v - dense[p - 1 - k]).abs() < 1e-8, "top {k}: {v} vs {}", dense[p - 1 - k]);
        }
        for (k, v) in bottom.values.iter().enumerate() {
            assert!((v - dense[k]).abs() < 1e-8, "bottom {k}: {v} vs {}", dense[k]);
        }
        // Ritz vectors are eigenvectors: |A u − λ u| small.
        let mut au = vec![0.0; p];
        op.apply(&top.vectors[0], &mut au);
        let residual: f64 = au.iter().zip(&top.vectors[0]).map(|(a, u)| (a - top.values[0] * u).powi(2)).sum::<f64>().sqrt();
        assert!(residual < 1e-6, "residual {residual}");
    }
}

/// SLQ: the weights integrate to one, and the estimated eigenvalue CDF matches the dense
/// spectrum's empirical CDF (the histogram's cumulative form) within 0.05 at its deciles.
#[test]
fn slq_density_integrates_to_one_and_matches_dense_histogram() {
    let p = 300;
    let mut rng = replica_rng(5, 2);
    // A bulk with two clusters, as Hessian spectra have.
    let lambda: Vec<f64> = (0..p).map(|i| if i % 3 == 0 { rng.random_range(4.0..6.0) } else { rng.random_range(0.0..1.0) }).collect();
    let op = random_symmetric(&lambda, 6);
    let density = stochastic_lanczos_quadrature(&op, 40, 40, 7);
    let total: f64 = density.weights.iter().sum();
    assert!((total - 1.0).abs() < 1e-12, "total weight {total}");
    let mut sorted = lambda.clone();
    sorted.sort_by(f64::total_cmp);
    for decile in 1..10 {
        let x = 0.5 * (sorted[decile * p / 10 - 1] + sorted[decile * p / 10]);
        let exact = (decile * p / 10) as f64 / p as f64;
        let est = density.cdf(x);
        assert!((est - exact).abs() < 0.05, "decile {decile}: SLQ CDF {est} vs {exact}");
    }
    // The smoothed density integrates to ≈ 1 on a grid covering the spectrum.
    let grid: Vec<f64> = (0..2000).map(|i| -1.0 + 8.0 * i as f64 / 2000.0).collect();
    let smooth = density.smoothed(&grid, 0.05);
    let integral: f64 = smooth.iter().sum::<f64>() * 8.0 / 2000.0;
    assert!((integral - 1.0).abs() < 1e-3, "{integral}");
}

/// Gauss–Newton of the feature model: the sufficient-statistics product matches the per-sample
/// sum, and H − G (the residual term Σ_a (Sxx φ − sxy)_a ∇²φ_a) vanishes outside the (θ₁, θ₁)
/// entry, the only parameter with curvature in φ.
#[test]
fn gauss_newton_operator_matches_per_sample_sum() {
    let model =
        FeatureModel::new(CurveMap { dim: 3, s: 0.5, kappa: 1.0, stiffness: 1.3 }, Dataset::gaussian(400, 4, 3, |_, xi| 0.5 * xi)).unwrap();
    let theta = [0.3, -0.2, 0.1];
    let fast = to_dense(&GaussNewton::new(&model, &theta));
    let mut reference = [0.0; 9];
    let mut g = [0.0; 3];
    for mu in 0..model.samples() {
        model.residuals_and_output_gradients(&theta, mu, &mut [0.0], &mut g);
        for i in 0..3 {
            for j in 0..3 {
                reference[i * 3 + j] += g[i] * g[j] / model.samples() as f64;
            }
        }
    }
    for (a, b) in fast.iter().zip(&reference) {
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }
    let h = to_dense(&Hessian::new(&model, &theta));
    // Only θ₁ has curvature in φ (the κ(θ₁² − 1) feature): H − G is zero off (0, 0).
    for k in 1..9 {
        assert!((h[k] - fast[k]).abs() < 1e-12);
    }
}

/// The matrix-free operators of the decoupling check against dense references: on a
/// single-output MLP, the matrix-free Σ = (2/B)·A − ∇L∇Lᵀ/B (an operator composition) equals the
/// dense per-sample covariance C/B, A is (1/N)Σ ℓ_μ∇f∇fᵀ assembled from per-sample Jacobians,
/// L·G is L times the Gauss–Newton matrix, and without replacement Σ carries (N − B)/(N − 1).
#[test]
fn decoupling_operators_match_dense_references() {
    use sgd_escape::dynamics::Sampling;
    use sgd_escape::landscape::curvature::exact_noise;
    use sgd_escape::model::{Activation, Mlp, Model};
    use sgd_escape::model::{GradientNoise, per_sample_gradient_covariance};
    let base = Dataset::gaussian(40, 3, 5, |x, xi| x[0] * x[1] + 0.2 * xi);
    let model = Mlp::new(&[4], Activation::Tanh, base).unwrap();
    let theta = model.glorot(2);
    let p = model.dim();
    let b = 7;
    let sigma = to_dense(&exact_noise(&model, &theta, b, Sampling::WithReplacement));
    let sigma_without = to_dense(&exact_noise(&model, &theta, b, Sampling::WithoutReplacement));
    let reference: Vec<f64> = per_sample_gradient_covariance(&model, &theta).iter().map(|c| c / b as f64).collect();
    let a = to_dense(&GaussNewton::loss_weighted(&model, &theta));
    let lg = to_dense(&GaussNewton::decoupled(&model, &theta));
    let g = to_dense(&GaussNewton::new(&model, &theta));
    let mut a_ref = vec![0.0; p * p];
    let mut jac = vec![0.0; p];
    let mut r = [0.0];
    for mu in 0..model.samples() {
        model.residuals_and_output_gradients(&theta, mu, &mut r, &mut jac);
        for i in 0..p {
            for j in 0..p {
                a_ref[i * p + j] += 0.5 * r[0] * r[0] * jac[i] * jac[j] / model.samples() as f64;
            }
        }
    }
    let loss = model.loss(&theta);
    for i in 0..p * p {
        assert!((sigma[i] - reference[i]).abs() < 1e-12, "Σ[{i}] {} vs {}", sigma[i], reference[i]);
        let n = model.samples() as f64;
        assert!((sigma_without[i] - reference[i] * (n - b as f64) / (n - 1.0)).abs() < 1e-12);
        assert!((a[i] - a_ref[i]).abs() < 1e-12);
        assert!((lg[i] - loss * g[i]).abs() < 1e-12);
    }
    // With two outputs Σ is materialised from the model's covariance, C/B.
    let k2 = Dataset::gaussian(30, 3, 6, |x, xi| x[0] + xi);
    let k2 = Dataset { outputs: 2, y: k2.y.iter().flat_map(|y| [*y, -0.5 * y]).collect(), ..k2 };
    let model2 = Mlp::new(&[2], Activation::Tanh, k2).unwrap();
    let theta2 = model2.glorot(3);
    let sigma2 = to_dense(&exact_noise(&model2, &theta2, 3, Sampling::WithReplacement));
    let reference2 = model2.gradient_covariance(&theta2);
    assert!(sigma2.iter().zip(&reference2).all(|(s, r)| (s - r / 3.0).abs() < 1e-12));
}

/// The operator algebra against dense arithmetic: `a·A + B + s·u uᵀ`, its restriction `UᵀMU` to
/// an orthonormal basis, and block application equal the same matrices formed entry by entry.
#[test]
fn operator_algebra_matches_dense_arithmetic() {
    use sgd_escape::landscape::curvature::OperatorExt;
    let p = 12;
    let a = random_symmetric(&(0..p).map(|i| 1.0 + i as f64).collect::<Vec<_>>(), 1);
    let b = random_symmetric(&(0..p).map(|i| (i as f64 - 4.0) * 0.3).collect::<Vec<_>>(), 2);
    let u: Vec<f64> = (0..p).map(|i| (i as f64 * 0.7).sin()).collect();
    let (ma, mb) = (a.matrix.clone(), b.matrix.clone());
    let combined = a.scaled(-0.5).plus(b).plus_rank_one(u.clone(), 2.5);
    let dense = to_dense(&combined);
    let expected: Vec<f64> = (0..p * p).map(|k| -0.5 * ma[k] + mb[k] + 2.5 * u[k / p] * u[k % p]).collect();
    for (x, y) in dense.iter().zip(&expected) {
        assert!((x - y).abs() < 1e-12, "{x} vs {y}");
    }
    // Restriction to three orthonormal vectors (eigenvectors of A): Uᵀ M U entry by entry.
    let (_, vectors) = dense_eigen(&DenseOperator { matrix: ma.clone(), p });
    let basis: Vec<Vec<f64>> = (0..3).map(|k| (0..p).map(|i| vectors[i * p + k]).collect()).collect();
    let restricted = to_dense(&combined.restricted(basis.clone()));
    for i in 0..3 {
        for j in 0..3 {
            let mut mu = vec![0.0; p];
            for r in 0..p {
                mu[r] = (0..p).map(|c| expected[r * p + c] * basis[j][c]).sum();
            }
            let e: f64 = (0..p).map(|r| basis[i][r] * mu[r]).sum();
            assert!((restricted[i * 3 + j] - e).abs() < 1e-12, "({i}, {j}): {} vs {e}", restricted[i * 3 + j]);
        }
    }
    // A block of vectors is applied one by one.
    let op = DenseOperator { matrix: expected, p };
    let block: Vec<f64> = (0..3 * p).map(|i| (i as f64 * 0.31).cos()).collect();
    let mut out = vec![0.0; 3 * p];
    op.apply_block(&block, &mut out);
    for k in 0..3 {
        let mut single = vec![0.0; p];
        op.apply(&block[k * p..(k + 1) * p], &mut single);
        assert_eq!(&out[k * p..(k + 1) * p], &single[..]);
    }
}

/// Lanczos stops on its residual tolerance: the reported residuals |A v − λ v| are the true ones
/// and below the tolerance, with far fewer steps than P for well-separated outliers; with too
/// few steps allowed (one fewer than it took) it says it has not converged.
#[test]
fn lanczos_stops_on_the_residual_tolerance() {
    let p = 300;
    let op = random_symmetric(&spectrum_with_outliers(p, 4), 21);
    let options = LanczosOptions { tolerance: 1e-10, seed: 3, ..Default::default() };
    let top = lanczos_extreme(&op, 3, true, options);
    assert!(top.converged && top.steps < p / 2, "{} steps", top.steps);
    let scale = top.values[0].abs();
    for (v, (value, reported)) in top.vectors.iter().zip(top.values.iter().zip(&top.residuals)) {
        let mut av = vec![0.0; p];
        op.apply(v, &mut av);
        let residual: f64 = av.iter().zip(v).map(|(a, x)| (a - value * x).powi(2)).sum::<f64>().sqrt();
        assert!(*reported <= 1e-10 * scale, "reported {reported}");
        assert!(residual <= 1e-9 * scale, "true residual {residual} (reported {reported})");
    }
    let short = lanczos_extreme(&op, 3, true, LanczosOptions { max_steps: 4, ..options });
    assert!(!short.converged && short.steps == 4);
    // Below 64 Krylov vectors the residuals are checked after every step, so one step fewer
    // does not meet the tolerance: no operator application is spent past convergence.
    let one_fewer = lanczos_extreme(&op, 3, true, LanczosOptions { max_steps: top.steps - 1, ..options });
    assert!(top.steps < 64 && !one_fewer.converged, "{} steps", top.steps);
}
