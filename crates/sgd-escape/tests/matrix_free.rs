//! Matrix-free landscape analysis: L-BFGS minimisation, the largest Hessian eigenpairs by
//! Lanczos at the start point, the deflated trace estimate, and what the Lanczos mode refuses.
//! References: dense Newton, dense eigendecompositions, and residuals |Hv − λv| recomputed
//! from Hessian-vector products.

use sgd_escape::experiment::config::Config;
use sgd_escape::experiment::prepare;
use sgd_escape::experiment::spectrum::SpectrumReport;
use sgd_escape::landscape::curvature::{DenseOperator, Hessian, Operator};
use sgd_escape::landscape::minres::minres;
use sgd_escape::landscape::saddle::{SaddleOptions, nudged_elastic_band};
use sgd_escape::landscape::spectrum::{deflated_trace, dense_eigen};
use sgd_escape::landscape::{MinimizeOptions, minimize, minimize_lbfgs};
use sgd_escape::linalg;
use sgd_escape::model::prelude::*;
use sgd_escape::model::{Activation, DoubleWell, Mlp};
use std::path::Path;

fn wine_mlp(hidden: &[usize]) -> Mlp {
    let config = Config::from_toml(&mlp_config(hidden, "", ""), Path::new("t.toml")).unwrap();
    let prepared = prepare(&config, Path::new(".")).unwrap();
    match prepared.model {
        sgd_escape::experiment::build::BuiltModel::Mlp(m) => m,
        _ => unreachable!(),
    }
}

fn mlp_config(hidden: &[usize], landscape: &str, extra: &str) -> String {
    format!(
        "seed = 1\nreplicas = 4\nmax_steps = 10\n[model]\nkind = \"mlp\"\nhidden = {hidden:?}\nactivation = \"tanh\"\ninit_seed = 3\n[data]\nsource = \"wine\"\nstandardize = true\n[dynamics]\nkind = \"sgd\"\nlr = 0.01\nbatch_size = 8\n[exit]\nkind = \"loss-above\"\nratio = 2.0\n[landscape]\n{landscape}\n{extra}"
    )
}

/// L-BFGS reaches the minimum that dense Newton certifies: on the double well from an
/// asymmetric start it lands on θ* = (−1, 0, 0) to 1e-9, and on a small network Newton started
/// from the L-BFGS answer moves it along curvature ≥ λ by at most |∇L|/λ, with the same loss.
#[test]
fn lbfgs_finds_the_minimum_dense_newton_certifies() {
    let well = DoubleWell { epsilon: 0.1, dim: 3, stiffness: 0.5 };
    let m = minimize_lbfgs(&well, &[-0.4, 0.3, -0.2], MinimizeOptions { gradient_tol: 1e-11, max_iterations: 1000 }).unwrap();
    assert!(linalg::distance(&m.theta, &[-1.0, 0.0, 0.0]) < 1e-9, "{:?}", m.theta);
    assert!(m.gradient_norm <= 1e-11);

    let mlp = wine_mlp(&[4]);
    let start = mlp.glorot(3);
    let options = MinimizeOptions { gradient_tol: 1e-9, max_iterations: 50_000 };
    let lbfgs = minimize_lbfgs(&mlp, &start, options).unwrap();
    assert!(lbfgs.loss < 0.5 * mlp.loss(&start), "{} from {}", lbfgs.loss, mlp.loss(&start));
    let newton = minimize(&mlp, &lbfgs.theta, MinimizeOptions::default()).unwrap();
    // Near a minimum, the displacement along the directions of curvature ≥ λ is at most
    // |∇L|/λ to first order (this network also has flat directions, along which minima are not
    // isolated).
    let p = mlp.dim();
    let (values, vectors) = dense_eigen(&Hessian::new(&mlp, &newton.theta));
    assert!(values[0] > -1e-12 * values[p - 1], "Newton's answer is a minimum: {:?}", &values[..3]);
    let cut = 1e-3 * values[p - 1];
    let delta: Vec<f64> = newton.theta.iter().zip(&lbfgs.theta).map(|(a, b)| a - b).collect();
    let stiff: f64 = (0..p).filter(|&k| values[k] >= cut).map(|k| (0..p).map(|i| vectors[i * p + k] * delta[i]).sum::<f64>().powi(2)).sum();
    assert!(
        stiff.sqrt() <= 1.5 * lbfgs.gradient_norm / cut,
        "moved {} along the stiff directions; bound {}",
        stiff.sqrt(),
        lbfgs.gradient_norm / cut
    );
    assert!((newton.loss - lbfgs.loss).abs() < 1e-12 * lbfgs.loss.max(1.0));

    // Too few iterations: an error that says how far it got, not a panic.
    let e = minimize_lbfgs(&mlp, &start, MinimizeOptions { gradient_tol: 1e-12, max_iterations: 3 }).unwrap_err().to_string();
    assert!(e.contains("did not converge in 3 iterations"), "{e}");
}

/// The deflated trace: exact when every eigenpair is deflated; with the five largest of a
/// 200 × 200 operator deflated, within 4 standard errors of the exact trace, and with a
/// smaller error than plain Hutchinson with the same probes.
#[test]
fn deflated_trace_is_unbiased_and_exact_with_every_pair() {
    let p = 200;
    let mut values: Vec<f64> = (0..p).map(|i| 0.01 + 0.001 * i as f64).collect();
    values[p - 5..].copy_from_slice(&[40.0, 60.0, 80.0, 150.0, 300.0]);
    // A symmetric matrix with these eigenvalues: a rotation by a product of Givens rotations.
    let mut matrix = vec![0.0; p * p];
    for (i, l) in values.iter().enumerate() {
        matrix[i * p + i] = *l;
    }
    for k in 0..p - 1 {
        let (c, s) = ((0.3 + k as f64).cos(), (0.3 + k as f64).sin());
        for row in 0..p {
            let (a, b) = (matrix[row * p + k], matrix[row * p + k + 1]);
            matrix[row * p + k] = c * a - s * b;
            matrix[row * p + k + 1] = s * a + c * b;
        }
        for col in 0..p {
            let (a, b) = (matrix[k * p + col], matrix[(k + 1) * p + col]);
            matrix[k * p + col] = c * a - s * b;
            matrix[(k + 1) * p + col] = s * a + c * b;
        }
    }
    let op = DenseOperator { matrix, p };
    let exact: f64 = values.iter().sum();
    let (ascending, vectors) = dense_eigen(&op);
    let column = |k: usize| -> Vec<f64> { (0..p).map(|i| vectors[i * p + k]).collect() };
    let all: Vec<Vec<f64>> = (0..p).map(column).collect();
    let (t, se) = deflated_trace(&op, &ascending, &all, 10, 1);
    assert!((t - exact).abs() < 1e-9 * exact && se == 0.0);
    let top: Vec<Vec<f64>> = (p - 5..p).map(column).collect();
    let (t, se) = deflated_trace(&op, &ascending[p - 5..], &top, 10, 1);
    assert!((t - exact).abs() <= 4.0 * se && se > 0.0, "{t} ± {se} vs {exact}");
    let (plain, plain_se) = deflated_trace(&op, &[], &[], 10, 1);
    assert!(se < 0.01 * plain_se, "deflated SE {se} against plain {plain_se} ({plain})");
}

/// `landscape.hessian = "lanczos"` on a network small enough for the dense reference: the
/// largest eigenvalues, the outliers and h* agree with the dense decomposition; sums and
/// products over the whole spectrum are not reported.
#[test]
fn lanczos_start_spectrum_matches_the_dense_one() {
    let prepared = |landscape: &str| {
        let config = Config::from_toml(&mlp_config(&[6], landscape, ""), Path::new("t.toml")).unwrap();
        prepare(&config, Path::new(".")).unwrap()
    };
    let dense = prepared("hessian = \"dense\"\noutliers = 3");
    let lanczos = prepared("hessian = { kind = \"lanczos\", eigenvalues = 8, tolerance = 1e-9 }\noutliers = 3");
    assert_eq!(dense.start.hessian_spectrum, SpectrumReport::Dense);
    let SpectrumReport::Lanczos { computed, converged, max_residual, .. } = lanczos.start.hessian_spectrum else { panic!() };
    assert!(converged && computed == 8);
    let (d, l) = (&dense.start.hessian_eigenvalues, &lanczos.start.hessian_eigenvalues);
    let scale = d.last().unwrap().abs();
    assert!(max_residual <= 1e-9 * scale);
    assert_eq!(l.len(), 8);
    for (a, b) in d[d.len() - 8..].iter().zip(l) {
        assert!((a - b).abs() <= 1e-8 * scale, "{a} vs {b}");
    }
    let (od, ol) = (&dense.landscape.minimum.outliers, &lanczos.landscape.minimum.outliers);
    assert_eq!(od.n, ol.n);
    assert!((od.h_star - ol.h_star).abs() <= 1e-8 * od.h_star);
    for (u, v) in od.vectors.iter().zip(&ol.vectors) {
        assert!(linalg::dot(u, v).abs() > 1.0 - 1e-6);
    }
    assert!(dense.landscape.geometry.as_ref().unwrap().det_minimum.is_some());
    assert!(lanczos.landscape.geometry.as_ref().unwrap().det_minimum.is_none());
    // The gap rule among the computed eigenvalues only: none ≥ 10 here, so it is refused.
    let config = Config::from_toml(&mlp_config(&[6], "hessian = \"lanczos\"", ""), Path::new("t.toml")).unwrap();
    let e = prepare(&config, Path::new(".")).unwrap_err().to_string();
    assert!(e.contains("landscape.hessian.eigenvalues") && e.contains("no ratio gap"), "{e}");
}

/// Above the dense limit the spectrum is computed by Lanczos by default, and every computed
/// pair satisfies |Hv − λv| ≤ tolerance · λmax when recomputed with independent products.
#[test]
fn large_networks_default_to_lanczos_with_verified_residuals() {
    let text = "seed = 1\nreplicas = 2\nmax_steps = 10\n[model]\nkind = \"mlp\"\nhidden = [400]\nactivation = \"tanh\"\n[data]\nsource = \"digits\"\nstandardize = true\n[dynamics]\nkind = \"sgd\"\nlr = 0.01\nbatch_size = 8\n[exit]\nkind = \"loss-above\"\nratio = 2.0\n[landscape]\noutliers = 2\n";
    let prepared = prepare(&Config::from_toml(text, Path::new("t.toml")).unwrap(), Path::new(".")).unwrap();
    let model = prepared.model.as_model();
    let p = model.dim();
    assert!(p > 25_000, "P = {p}");
    let SpectrumReport::Lanczos { computed, converged, .. } = prepared.start.hessian_spectrum else { panic!("dense above the limit") };
    assert!(converged && computed == 20);
    let values = &prepared.start.hessian_eigenvalues;
    let lambda_max = *values.last().unwrap();
    let mut hv = vec![0.0; p];
    for (j, lambda) in values.iter().enumerate() {
        let v: Vec<f64> = (0..p).map(|i| prepared.start.hessian_eigenvectors[i * computed + j]).collect();
        assert!((linalg::norm(&v) - 1.0).abs() < 1e-10);
        Hessian::new(model, &prepared.start.theta).apply(&v, &mut hv);
        let residual = hv.iter().zip(&v).map(|(a, b)| (a - lambda * b).powi(2)).sum::<f64>().sqrt();
        assert!(residual <= 1e-6 * lambda_max * 1.01, "pair {j}: λ = {lambda}, residual {residual}");
    }
    assert_eq!(prepared.landscape.minimum.outliers.n, 2);
    let echoed = serde_json::to_value(&prepared.config).unwrap();
    assert_eq!(echoed["landscape"]["hessian"]["kind"], "lanczos");
}

/// What the Lanczos mode cannot do is refused, naming the key: a dense Hessian above the
/// limit, the paper's noise over the whole H*, eigenvector following, the Hessian-metric
/// distance, more outliers than eigenvalues.
#[test]
fn lanczos_mode_refuses_what_needs_the_dense_hessian() {
    let big = |landscape: &str, extra: &str, dynamics: &str| {
        format!(
            "[model]\nkind = \"mlp\"\nhidden = [400]\n[data]\nsource = \"digits\"\n[dynamics]\n{dynamics}\n[exit]\n{extra}\n[landscape]\n{landscape}\n"
        )
    };
    let sgd = "kind = \"sgd\"\nlr = 0.1";
    let cases = [
        (big("hessian = \"dense\"", "kind = \"never\"", sgd), "landscape.hessian"),
        (
            // The spectrum is computed before this is refused (only it tells whether every
            // eigenpair is known), so the outliers must be identifiable.
            big(
                "outliers = 5",
                "kind = \"never\"",
                "kind = \"sde\"\ndt = 0.01\n[dynamics.noise]\nkind = \"paper\"\nlr = 0.1\nsubspace = \"full\"",
            ),
            "dynamics.noise.subspace",
        ),
        (big("saddle = \"eigenvector-following\"", "kind = \"never\"", sgd), "landscape.saddle.kind"),
        (big("", "kind = \"distance\"\nradius = 1.0\nmetric = \"hessian\"", sgd), "exit.metric"),
        (big("outliers = 30", "kind = \"never\"", sgd), "landscape.outliers"),
    ];
    for (text, key) in cases {
        let e = Config::from_toml(&text, Path::new("t.toml")).and_then(|c| prepare(&c, Path::new(".")).map(|_| ())).unwrap_err();
        assert!(e.to_string().contains(&format!("`{key}`")), "expected {key}: {e}");
    }
    // An analytic model keeps its limit, with a message that says networks have none.
    let e = Config::from_toml("[model]\nkind = \"double-well\"\ndim = 5000\n[dynamics]\nkind = \"sde\"\ndt = 0.01\n[dynamics.noise]\nkind = \"isotropic\"\ntemperature = 0.1\n[exit]\nkind = \"never\"\n", Path::new("t.toml"))
        .and_then(|c| prepare(&c, Path::new(".")).map(|_| ()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("model.dim") && e.contains("networks have no such limit"), "{e}");
    let _ = Activation::Tanh;
}

/// MINRES on a symmetric indefinite system agrees with the solution through the dense
/// eigendecomposition, and the residual it reports is ‖b − A x‖.
#[test]
fn minres_solves_indefinite_systems() {
    let p = 60;
    let mut matrix = vec![0.0; p * p];
    for i in 0..p {
        for j in 0..p {
            matrix[i * p + j] = ((i * 7 + j * 7) % 13) as f64 / 13.0 - 0.5 + if i == j { (i as f64 - 20.0) / 4.0 } else { 0.0 };
        }
    }
    let op = DenseOperator { matrix, p };
    let b: Vec<f64> = (0..p).map(|i| (i as f64 * 0.37).sin()).collect();
    let solution = minres(&op, &b, 1e-12, 500);
    let (values, vectors) = dense_eigen(&op);
    assert!(values[0] < 0.0 && values[p - 1] > 0.0, "indefinite");
    let mut reference = vec![0.0; p];
    for k in 0..p {
        let u: Vec<f64> = (0..p).map(|i| vectors[i * p + k]).collect();
        linalg::axpy(linalg::dot(&u, &b) / values[k], &u, &mut reference);
    }
    let condition = values.iter().map(|v| v.abs()).fold(0.0, f64::max) / values.iter().map(|v| v.abs()).fold(f64::INFINITY, f64::min);
    assert!(
        linalg::distance(&solution.x, &reference) <= 1e-11 * condition * linalg::norm(&reference),
        "{}",
        linalg::distance(&solution.x, &reference)
    );
    let mut ax = vec![0.0; p];
    op.apply(&solution.x, &mut ax);
    let true_residual = ax.iter().zip(&b).map(|(a, c)| (a - c).powi(2)).sum::<f64>().sqrt();
    assert!(true_residual <= 1e-10 * linalg::norm(&b) && solution.residual <= 1e-12 * linalg::norm(&b));
    assert!((true_residual - solution.residual).abs() <= 1e-10 * linalg::norm(&b));
}

/// The matrix-free NEB (Newton–Krylov refinement, Lanczos index check) finds the saddle the
/// dense one finds, on the double well and on the curve model: the same θˢ, L(θˢ) and h_eˢ,
/// and its lowest eigenvalues are the dense spectrum's lowest.
#[test]
fn matrix_free_neb_matches_the_dense_one() {
    let curve = {
        let config = Config::from_toml(
            "[model]\nkind = \"curve\"\ndim = 3\nsamples = 2000\n[dynamics]\nkind = \"sgd\"\nlr = 0.05\nbatch_size = 1\n[exit]\nkind = \"never\"\n",
            Path::new("t.toml"),
        )
        .unwrap();
        prepare(&config, Path::new(".")).unwrap().model
    };
    let well = DoubleWell { epsilon: 0.1, dim: 4, stiffness: 0.3 };
    let cases: [(&dyn HessianProduct, Vec<f64>); 2] = [(&well, vec![-1.0, 0.0, 0.0, 0.0]), (curve.as_model(), vec![-1.0, 0.0, 0.0])];
    for (model, start) in cases {
        let a = minimize(model, &start, MinimizeOptions::default()).unwrap().theta;
        let mut mirror = a.clone();
        mirror[0] = -mirror[0];
        let b = minimize(model, &mirror, MinimizeOptions::default()).unwrap().theta;
        let dense = nudged_elastic_band(model, &a, &b, SaddleOptions::default()).unwrap();
        let free = nudged_elastic_band(model, &a, &b, SaddleOptions { matrix_free: true, ..Default::default() }).unwrap();
        assert!(dense.all_eigenvalues && !free.all_eigenvalues);
        assert_eq!((dense.index, free.index), (1, 1));
        assert!(linalg::distance(&dense.theta, &free.theta) < 1e-8, "{:?} vs {:?}", dense.theta, free.theta);
        assert!((dense.loss - free.loss).abs() < 1e-12 * dense.loss);
        let scale = dense.hessian_eigenvalues.iter().map(|v| v.abs()).fold(0.0, f64::max);
        for (d, f) in dense.hessian_eigenvalues.iter().zip(&free.hessian_eigenvalues) {
            assert!((d - f).abs() < 1e-7 * scale, "{d} vs {f}");
        }
        assert!(linalg::dot(&dense.escape_direction, &free.escape_direction).abs() > 1.0 - 1e-8);
        assert!(free.gradient_norm <= 1e-10 * 1e3);
    }
}

/// The whole analysis with `hessian = "lanczos"` and a NEB equals the dense one on the curve
/// model where both apply (same saddle, barrier, restricted determinants and log-barrier
/// rate), except the full determinants, which the partial spectra do not give.
#[test]
fn lanczos_analysis_with_neb_matches_the_dense_analysis() {
    let text = |hessian: &str| {
        format!(
            "[model]\nkind = \"curve\"\ndim = 3\nsamples = 2000\n[dynamics]\nkind = \"sgd\"\nlr = 0.05\nbatch_size = 4\n[exit]\nkind = \"coordinate\"\naxis = 0\nthreshold = 0.0\n[landscape]\nhessian = {hessian}\noutliers = 1\nsaddle = \"neb\"\n"
        )
    };
    let analysis = |hessian: &str| {
        let config = Config::from_toml(&text(hessian), Path::new("t.toml")).unwrap();
        prepare(&config, Path::new(".")).unwrap().landscape
    };
    let (dense, free) = (analysis("\"dense\""), analysis("{ kind = \"lanczos\", eigenvalues = 2 }"));
    let (sd, sf) = (dense.saddle.as_ref().unwrap(), free.saddle.as_ref().unwrap());
    assert!(linalg::distance(&sd.theta, &sf.theta) < 1e-8);
    assert_eq!(dense.minimum.outliers.n, 1);
    assert_eq!(free.minimum.outliers.n, 1);
    let (gd, gf) = (dense.geometry.unwrap(), free.geometry.unwrap());
    assert!((gd.det_saddle_restricted.unwrap() - gf.det_saddle_restricted.unwrap()).abs() < 1e-8);
    assert!(gd.det_saddle.is_some() && gf.det_saddle.is_none() && gf.det_minimum.is_none());
    let (rd, rf) = (dense.predictions.log_barrier.rate_per_time.unwrap(), free.predictions.log_barrier.rate_per_time.unwrap());
    assert!((rd - rf).abs() < 1e-8 * rd, "{rd} vs {rf}");
    assert!((dense.barrier.unwrap().log - free.barrier.unwrap().log).abs() < 1e-10);
    assert!(dense.predictions.kramers_isotropic.rate_per_time.is_some() && free.predictions.kramers_isotropic.rate_per_time.is_none());
    assert!(free.predictions.xie.minimum_curvature.note.as_deref().is_some_and(|n| n.contains("all P directions")));
    // Lanczos asked for all P = 3 eigenvalues has the whole spectrum: the full determinant too.
    let complete = analysis("{ kind = \"lanczos\", eigenvalues = 3 }");
    let (dm, cm) = (gd.det_minimum.unwrap(), complete.geometry.unwrap().det_minimum.unwrap());
    assert!((dm - cm).abs() < 1e-10 * dm, "{dm} vs {cm}");
    // With log_det_probes the ratio det H*/|det Hˢ| comes from stochastic Lanczos quadrature:
    // at P = 3 each probe's quadrature is exact (its Krylov space is the whole space), so the
    // error is Hutchinson's, within 4 standard errors of the dense value; the full-determinant
    // predictions follow from it and carry its standard error as an assumption.
    let slq = analysis("{ kind = \"lanczos\", eigenvalues = 2, log_det_probes = 64 }");
    let gs = slq.geometry.unwrap();
    let exact = (gd.det_minimum.unwrap() / gd.det_saddle.unwrap().abs()).ln();
    let (estimate, se) = (gs.log_det_ratio.unwrap(), gs.log_det_ratio_stderr.unwrap());
    assert!(se > 0.0 && (estimate - exact).abs() < 4.0 * se, "{estimate} ± {se} against {exact}");
    assert!((gd.log_det_ratio.unwrap() - exact).abs() < 1e-12 && gd.log_det_ratio_stderr.is_none());
    for (d, f) in [
        (&dense.predictions.kramers_isotropic, &slq.predictions.kramers_isotropic),
        (&dense.predictions.xie.minimum_curvature, &slq.predictions.xie.minimum_curvature),
    ] {
        let (rd, rf) = (d.rate_per_time.unwrap(), f.rate_per_time.unwrap());
        let expected = rd * (0.5 * (estimate - exact)).exp();
        assert!((rf - expected).abs() < 1e-8 * expected, "{rf} vs {expected}");
        let check = f.assumptions.iter().find(|a| a.condition.contains("stochastic Lanczos")).expect("the estimate's error is checked");
        assert_eq!(check.value, Some(0.5 * se));
        assert_eq!(check.holds, 0.5 * se <= 0.5);
        let quadrature = f.assumptions.iter().find(|a| a.condition.contains("Gauss quadrature")).expect("its convergence is checked");
        assert_eq!(quadrature.value, gs.log_det_ratio_quadrature_change);
        assert!(!d.assumptions.iter().any(|a| a.condition.contains("stochastic Lanczos")));
    }
}

/// The NEB's second end for a network is a parameter file; the keys are checked against the
/// model kind and a missing file is named.
#[test]
fn neb_targets_of_networks_are_parameter_files() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (mlp_config(&[2], "saddle = { kind = \"neb\", target = [1.0] }", ""), "landscape.saddle.target"),
        (mlp_config(&[2], "saddle = { kind = \"neb\" }", ""), "landscape.saddle.target_parameters"),
        (mlp_config(&[2], "saddle = { kind = \"neb\", target_parameters = \"missing.json\" }", ""), "landscape.saddle.target_parameters"),
        (
            "[model]\nkind = \"double-well\"\n[dynamics]\nkind = \"sde\"\ndt = 0.01\nnoise = { kind = \"isotropic\", temperature = 0.1 }\n[exit]\nkind = \"never\"\n[landscape]\nsaddle = { kind = \"neb\", target_parameters = \"b.json\" }\n".to_string(),
            "landscape.saddle.target_parameters",
        ),
    ];
    for (text, key) in cases {
        let e = Config::from_toml(&text, Path::new("t.toml")).and_then(|c| prepare(&c, dir.path()).map(|_| ())).unwrap_err();
        assert!(e.to_string().contains(&format!("`{key}`")), "expected {key}: {e}");
    }
}

/// A network's given saddle is a parameter file (or a point of P entries): a missing key, a
/// misshapen point or a missing file is named. The mlp-barrier reproduction (tests/reproduce.rs)
/// uses a file written from a NEB's saddle.
#[test]
fn given_saddles_of_networks_are_parameter_files() {
    let dir = tempfile::tempdir().unwrap();
    for (text, key) in [
        (mlp_config(&[2], "saddle = { kind = \"given\" }", ""), "landscape.saddle.parameters"),
        (mlp_config(&[2], "saddle = { kind = \"given\", point = [1.0] }", ""), "landscape.saddle.point"),
        (mlp_config(&[2], "saddle = { kind = \"given\", parameters = \"missing.json\" }", ""), "landscape.saddle.parameters"),
    ] {
        let e = Config::from_toml(&text, Path::new("t.toml")).and_then(|c| prepare(&c, dir.path()).map(|_| ())).unwrap_err();
        assert!(e.to_string().contains(&format!("`{key}`")), "expected {key}: {e}");
    }
}

/// A stochastic Lanczos estimate that cannot be made (here H(θ*) is indefinite: the start is
/// not a minimum) leaves Xie et al. and Kramers without a value, says why in
/// `landscape.log_det_error`, and warns in the run's summary naming the key.
#[test]
fn a_failed_log_determinant_estimate_is_reported() {
    let text = "seed = 1\nreplicas = 4\nmax_steps = 10\n[model]\nkind = \"double-well\"\ndim = 3\nstiffness = 0.5\n\
                [dynamics]\nkind = \"sde\"\ndt = 0.01\nnoise = { kind = \"isotropic\", temperature = 0.1 }\n\
                [start]\npoint = [-0.3, 0.0, 0.0]\nminimize = false\n[exit]\nkind = \"coordinate\"\naxis = 0\nthreshold = 0.5\n\
                [landscape]\nhessian = { kind = \"lanczos\", eigenvalues = 2, log_det_probes = 4 }\noutliers = 1\n\
                saddle = { kind = \"given\", point = [0.0, 0.0, 0.0] }\n";
    let config = Config::from_toml(text, Path::new("t.toml")).unwrap();
    let (summary, _) = sgd_escape::experiment::run::run_in_memory(&config, Path::new("."), None, &|_| {}).unwrap();
    let landscape = prepare(&config, Path::new(".")).unwrap().landscape;
    let e = landscape.log_det_error.as_deref().expect("the estimate failed");
    assert!(e.contains("not positive definite"), "{e}");
    assert!(landscape.geometry.unwrap().log_det_ratio.is_none());
    assert!(landscape.predictions.kramers_isotropic.rate_per_time.is_none());
    assert!(
        summary.warnings.iter().any(|w| w.contains("landscape.hessian.log_det_probes") && w.contains("failed")),
        "{:?}",
        summary.warnings
    );
}
