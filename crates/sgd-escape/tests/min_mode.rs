//! Min-mode following (Lanczos on Hessian-vector products, no P × P matrix) against eigenvector
//! following with the dense Hessian: the same saddles on the double well, the curve model and a
//! small network, and the refusals of bad input.

use sgd_escape::landscape::curvature::Hessian;
use sgd_escape::landscape::min_mode::{MIN_MODE_KRYLOV, min_mode_following};
use sgd_escape::landscape::saddle::{SaddleOptions, eigenvector_following};
use sgd_escape::landscape::spectrum::dense_eigen;
use sgd_escape::landscape::{MinimizeOptions, minimize, minimize_lbfgs};
use sgd_escape::linalg;
use sgd_escape::model::{Activation, CurveMap, Dataset, DoubleWell, FeatureModel, HessianProduct, Mlp, Model};

/// Both searches from `minimum` along `direction`; their saddles agree to `tol`, and the
/// min-mode one is an index-one saddle by the dense spectrum.
fn same_saddle<M: HessianProduct>(model: &M, minimum: &[f64], direction: &[f64], tol: f64) {
    let dense = eigenvector_following(model, minimum, Some(direction), SaddleOptions::default()).unwrap();
    let free = min_mode_following(model, minimum, direction, MIN_MODE_KRYLOV, SaddleOptions::default()).unwrap();
    assert_eq!(free.method, "min-mode");
    assert!(!free.all_eigenvalues, "the min-mode saddle is classified by Lanczos");
    let distance = linalg::distance(&free.theta, &dense.theta);
    assert!(distance < tol, "min-mode θˢ = {:?}, eigenvector following θˢ = {:?}", free.theta, dense.theta);
    assert!((free.loss - dense.loss).abs() < tol * (1.0 + dense.loss.abs()), "{} vs {}", free.loss, dense.loss);
    assert!((free.escape_eigenvalue - dense.escape_eigenvalue).abs() < 1e-6 * dense.hessian_eigenvalues.last().unwrap().abs());
    assert!(free.gradient_norm <= 1e-10, "|∇L(θˢ)| = {}", free.gradient_norm);
    let (values, _) = dense_eigen(&Hessian::new(model, &free.theta));
    let scale = values.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    assert_eq!(values.iter().filter(|&&l| l < -1e-10 * scale).count(), 1, "dense spectrum at the min-mode saddle: {values:?}");
}

#[test]
fn min_mode_following_finds_the_double_well_saddle() {
    for dim in 1..=4 {
        let model = DoubleWell { epsilon: 0.1, dim, stiffness: 2.0 };
        let mut a = vec![0.0; dim];
        a[0] = -1.0;
        // Leaving obliquely: the walker must find and follow the θ₁ mode.
        let direction: Vec<f64> = (0..dim).map(|i| if i == 0 { 1.0 } else { 0.3 }).collect();
        same_saddle(&model, &a, &direction, 1e-8);
    }
}

#[test]
fn min_mode_following_finds_the_curve_model_saddle() {
    let model =
        FeatureModel::new(CurveMap { dim: 3, s: 0.5, kappa: 1.0, stiffness: 1.5 }, Dataset::gaussian(20_000, 4, 21, |_, xi| 0.3 * xi))
            .unwrap();
    let min = minimize(&model, &[-1.0, 0.1, 0.1], Default::default()).unwrap();
    same_saddle(&model, &min.theta, &[1.0, 0.2, -0.1], 1e-8);
}

/// A tanh network of 26 parameters on 40 samples with weight decay 10⁻² (so that its minima are
/// isolated): from a minimum along its softest mode, min-mode following reaches an index-one
/// saddle (by the dense spectrum) above the minimum, one that borders the minimum's basin (a
/// network has many saddles: which one depends on the walk, so eigenvector following's need not
/// be the same one).
#[test]
fn min_mode_following_finds_a_network_saddle() {
    use sgd_escape::landscape::path::saddle_neighbours;
    let data = Dataset::gaussian(40, 3, 5, |x, xi| (2.0 * x[0]).sin() - x[1] * x[2] + 0.1 * xi);
    let model = Mlp::new(&[5], Activation::Tanh, data).unwrap().with_weight_decay(1e-2).unwrap();
    let options = MinimizeOptions { gradient_tol: 1e-10, max_iterations: 100_000 };
    let min = minimize_lbfgs(&model, &model.glorot(1), options).unwrap();
    let (values, vectors) = dense_eigen(&Hessian::new(&model, &min.theta));
    assert!(values[0] > 0.0, "a minimum: {values:?}");
    let softest = linalg::column(&vectors, model.dim(), 0);
    let saddle = min_mode_following(&model, &min.theta, &softest, MIN_MODE_KRYLOV, SaddleOptions::default()).unwrap();
    assert!(saddle.gradient_norm <= 1e-10 && saddle.loss > min.loss, "{saddle:?}");
    let (values, _) = dense_eigen(&Hessian::new(&model, &saddle.theta));
    let scale = values.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    assert_eq!(values.iter().filter(|&&l| l < -1e-10 * scale).count(), 1, "dense spectrum at the saddle: {values:?}");
    assert!((saddle.escape_eigenvalue - values[0]).abs() < 1e-6 * scale, "{} vs {}", saddle.escape_eigenvalue, values[0]);
    let neighbours = saddle_neighbours(&model, &saddle, &min.theta).unwrap();
    assert!(neighbours.borders_minimum, "{neighbours:?}");
}

#[test]
fn min_mode_following_refuses_bad_input() {
    let model = DoubleWell { epsilon: 0.1, dim: 2, stiffness: 2.0 };
    let err = min_mode_following(&model, &[-1.0, 0.0], &[0.0, 0.0], MIN_MODE_KRYLOV, SaddleOptions::default()).unwrap_err();
    assert!(err.to_string().contains("landscape.saddle.direction"), "{err}");
    let err = min_mode_following(&model, &[-1.0, 0.0], &[1.0], MIN_MODE_KRYLOV, SaddleOptions::default()).unwrap_err();
    assert!(err.to_string().contains("2 entries"), "{err}");
    let err = min_mode_following(&model, &[-1.0, 0.0], &[1.0, 0.0], 1, SaddleOptions::default()).unwrap_err();
    assert!(err.to_string().contains("landscape.saddle.krylov"), "{err}");
    // Along θ₂ the loss is a parabola: no saddle, and the walker says so.
    let err = min_mode_following(&model, &[-1.0, 0.0], &[0.0, 1.0], MIN_MODE_KRYLOV, SaddleOptions::default()).unwrap_err();
    assert!(err.to_string().contains("min-mode following"), "{err}");
}

/// `saddle = "min-mode"` in a configuration: on the curve model it finds eigenvector following's
/// saddle with the dense and with the Lanczos analysis, and the dense analysis checks that the
/// saddle borders θ*'s basin.
#[test]
fn min_mode_searches_from_the_configuration() {
    use sgd_escape::experiment::config::Config;
    use sgd_escape::experiment::prepare;
    use std::path::Path;
    let analysis = |hessian: &str, saddle: &str| {
        let text = format!(
            "[model]\nkind = \"curve\"\ndim = 3\nsamples = 2000\n[dynamics]\nkind = \"sgd\"\nlr = 0.05\nbatch_size = 4\n[exit]\nkind = \"coordinate\"\naxis = 0\nthreshold = 0.0\n[landscape]\nhessian = {hessian}\noutliers = 1\nsaddle = {saddle}\n"
        );
        prepare(&Config::from_toml(&text, Path::new("t.toml")).unwrap(), Path::new(".")).unwrap().landscape
    };
    let reference = analysis("\"dense\"", "\"eigenvector-following\"").saddle.unwrap();
    for (hessian, saddle) in [
        ("\"dense\"", "\"min-mode\""),
        ("{ kind = \"lanczos\", eigenvalues = 2 }", "\"min-mode\""),
        ("\"dense\"", "{ kind = \"min-mode\", direction = [1.0, 0.5, 0.5], krylov = 3 }"),
    ] {
        let found = analysis(hessian, saddle);
        let s = found.saddle.as_ref().unwrap_or_else(|| panic!("{hessian} {saddle}: {:?}", found.saddle_error));
        assert_eq!(s.method, "min-mode");
        assert!(linalg::distance(&s.theta, &reference.theta) < 1e-8, "{hessian} {saddle}: {:?} vs {:?}", s.theta, reference.theta);
        if hessian == "\"dense\"" {
            assert!(found.saddle_neighbours.as_ref().is_some_and(|n| n.borders_minimum), "{:?}", found.saddle_neighbours);
        }
    }
}

/// The keys of a min-mode search are checked: a network needs target parameters (or a direction
/// of P entries), a point model's direction has P entries, and `krylov` is at least 2.
#[test]
fn min_mode_keys_are_checked() {
    use sgd_escape::experiment::config::Config;
    use sgd_escape::experiment::prepare;
    use std::path::Path;
    let network = |saddle: &str| {
        format!(
            "seed = 1\nreplicas = 4\nmax_steps = 10\n[model]\nkind = \"mlp\"\nhidden = [2]\nactivation = \"tanh\"\ninit_seed = 3\n[data]\nsource = \"wine\"\nstandardize = true\n[dynamics]\nkind = \"sgd\"\nlr = 0.01\nbatch_size = 8\n[exit]\nkind = \"loss-above\"\nratio = 2.0\n[landscape]\nsaddle = {saddle}\n"
        )
    };
    let well = |saddle: &str| {
        format!(
            "[model]\nkind = \"double-well\"\ndim = 2\n[dynamics]\nkind = \"sde\"\ndt = 0.01\nnoise = {{ kind = \"isotropic\", temperature = 0.1 }}\n[exit]\nkind = \"never\"\n[landscape]\nsaddle = {saddle}\n"
        )
    };
    let dir = tempfile::tempdir().unwrap();
    for (text, key) in [
        (network("\"min-mode\""), "landscape.saddle.target_parameters"),
        (network("{ kind = \"min-mode\", target_parameters = \"missing.json\" }"), "landscape.saddle.target_parameters"),
        (well("{ kind = \"min-mode\", target_parameters = \"b.json\" }"), "landscape.saddle.target_parameters"),
        (well("{ kind = \"min-mode\", direction = [1.0] }"), "landscape.saddle.direction"),
        (well("{ kind = \"min-mode\", direction = [0.0, 0.0] }"), "landscape.saddle.direction"),
        (well("{ kind = \"min-mode\", krylov = 1 }"), "landscape.saddle.krylov"),
    ] {
        let e = Config::from_toml(&text, Path::new("t.toml")).and_then(|c| prepare(&c, dir.path()).map(|_| ())).unwrap_err();
        assert!(e.to_string().contains(&format!("`{key}`")), "expected {key}: {e}");
    }
}
