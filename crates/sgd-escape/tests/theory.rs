//! Theory predictions: the quadrature against the closed-form rates, the run-level cross-test,
//! and the linear-regression exponent with h* and n found by the tool.

use sgd_escape::experiment::run::run_in_dir;
use sgd_escape::experiment::{Config, prepare};
use sgd_escape::theory::mean_first_passage_time;
use sgd_escape::theory::rates::{BarrierGeometry, log_barrier_rate};
use std::path::Path;

/// Paper noise on the 1-D double well (c = 2, h* = 2, hˢ = −1): the exact mean time to reach
/// the other minimum times the paper's rate tends to 1 as β·log c grows (Eyring–Kramers is the
/// high-barrier limit); the relative correction shrinks roughly like 1/(β log c).
#[test]
fn quadrature_approaches_log_barrier_formula() {
    let eps = 0.25;
    let geometry = BarrierGeometry::one_dimensional(eps, eps + 0.25, 2.0, -1.0);
    let mut previous = f64::INFINITY;
    for beta in [5.0, 10.0, 20.0, 40.0, 80.0] {
        let lr = 1.0 / (2.0 * beta);
        let t =
            mean_first_passage_time(|x| -x * (x * x - 1.0), |x| lr * (eps + 0.25 * (x * x - 1.0).powi(2)) * 2.0, -1.0, 1.0, -3.0, 40_000);
        let product = t * log_barrier_rate(&geometry, lr, 1).unwrap();
        let error = (product - 1.0).abs();
        println!("β = {beta}: T·κ = {product:.5}");
        assert!(error < previous, "β = {beta}: |T·κ − 1| = {error} did not shrink");
        previous = error;
    }
    assert!(previous < 0.02, "at β log c = 55: |T·κ − 1| = {previous}");
}

/// `run` on the double-well example: the measured mean escape time matches the quadrature
/// predicted in the same summary (4 standard errors + the 2% discretisation allowance measured
/// in tests/sde_double_well.rs), and every theory reports a rate.
#[test]
fn run_summary_carries_predictions_that_match_the_measurement() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/double-well.toml");
    let config = Config::load(&path).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let summary = run_in_dir(&config, path.parent().unwrap(), dir.path(), &|_| {}).unwrap();
    let q = summary.predictions.quadrature.as_ref().unwrap().mean_time.unwrap();
    let (m, se) = (summary.escape.mean_time, summary.escape.mean_time_stderr);
    assert!((m - q).abs() < 4.0 * se + 0.02 * q, "measured {m} ± {se}, quadrature {q}");
    for p in [
        &summary.predictions.log_barrier,
        &summary.predictions.linear_barrier,
        &summary.predictions.xie,
        &summary.predictions.kramers_isotropic,
    ] {
        assert!(p.rate_per_time.unwrap() > 0.0);
        assert!((p.rate_per_step.unwrap() - p.rate_per_time.unwrap() * 0.01).abs() < 1e-15);
    }
    // No replica is censored, so the measured rate is 1/mean and measured/predicted = q/m.
    assert_eq!(summary.escape.censored, 0);
    let ratio = summary.comparison.quadrature.unwrap();
    assert!((ratio - q / m).abs() < 1e-9 * ratio, "{ratio} vs {}", q / m);
    let saddle = summary.landscape.saddle.as_ref().unwrap();
    assert!(saddle.theta[0].abs() < 1e-8 && saddle.index == 1);
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("summary.json")).unwrap()).unwrap();
    for theory in ["log_barrier", "linear_barrier", "xie", "kramers_isotropic", "quadrature"] {
        for key in ["rate_per_time", "rate_per_step", "mean_time"] {
            assert!(json["predictions"][theory][key].is_f64(), "predictions.{theory}.{key}");
        }
    }
}

/// Paper Fig. 3(b) setting: linear regression, N = 10⁴, B = 1, η = 0.1, exit at L > c L*. The
/// tool finds n = d outliers (no gap in the spectrum of (1/N)Σxxᵀ ≈ I) with h* ≈ 1, and
/// predicts the log-log slope of the first-passage time in c, β + 1 − n/2 = B/(ηh*) + 1 − n/2,
/// from those found values.
#[test]
fn linear_regression_exponent_uses_found_outliers() {
    for d in [1, 2, 4, 8] {
        let text = format!(
            "[model]\nkind = \"linear-regression\"\ndim = {d}\nsamples = 10000\n[dynamics]\nkind = \"sgd\"\nlr = 0.1\nbatch_size = 1\n[exit]\nkind = \"loss-above\"\nratio = 2.0\n"
        );
        let config = Config::from_toml(&text, Path::new("inline.toml")).unwrap();
        let report = prepare(&config, Path::new(".")).unwrap().landscape;
        let o = &report.minimum.outliers;
        assert_eq!(o.n, d, "d = {d}: outliers {:?}", o.eigenvalues);
        // Eigenvalues of a Wishart matrix lie within (1 ± sqrt(d/N))² ≈ 1 ± 0.06 for d = 8.
        assert!((o.h_star - 1.0).abs() < 0.07, "h* = {}", o.h_star);
        let expected = 1.0 / (0.1 * o.h_star) + 1.0 - d as f64 / 2.0;
        assert!((report.predictions.log_barrier_exponent.unwrap() - expected).abs() < 1e-12);
        let b = report.barrier.as_ref().unwrap();
        assert_eq!(b.from, "loss-threshold");
        assert!((b.ratio - 2.0).abs() < 1e-12);
        assert!((report.critical_dimension.unwrap() - 2.0 * (report.beta.unwrap() + 1.0)).abs() < 1e-12);
    }
}

/// The radial quadrature of the paper's SDE on an isotropic quadratic reaches the power law
/// t ∝ c^(β + 1 − d/2) asymptotically (paper Fig. 3b's prediction): the local slope between
/// c = 100 and 200 is within 1% of the exponent for d = 1 … 8.
#[test]
fn level_set_passage_approaches_the_log_barrier_exponent() {
    use sgd_escape::theory::mfpt::radial_mean_first_passage_time;
    let (h, l_star, lr) = (1.0, 0.5, 0.1);
    for dim in [1, 2, 4, 8] {
        let t = |c: f64| {
            let radius = (2.0 * l_star * (c - 1.0) / h).sqrt();
            let d = |r: f64| lr * h * (l_star + 0.5 * h * r * r);
            radial_mean_first_passage_time(dim, radius, |r| h * r, d, d, 4000)
        };
        let slope = (t(200.0) / t(100.0)).ln() / 2.0_f64.ln();
        let predicted = sgd_escape::theory::rates::log_barrier_exponent(1.0 / (lr * h), dim);
        assert!((slope / predicted - 1.0).abs() < 0.01, "d = {dim}: {slope} vs {predicted}");
    }
}
