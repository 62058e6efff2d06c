//! The matrix-free landscape against an independent implementation: `sgd-escape landscape`
//! on a trained 30-512-512-1 network (P = 279 041, above the dense limit, so the spectrum is
//! Lanczos on the R-operator's products) and bench/hessian_jax.py on the same parameters (JAX
//! autodiff HVPs inside scipy's ARPACK) give the same largest eigenvalues.
//!
//! Needs a Python with JAX and scipy: $SGD_ESCAPE_PYTHON, else python3. Without them the test
//! says so and passes, unless SGD_ESCAPE_REQUIRE_JAX=1 (set by .ci/run, which installs them in
//! a virtual environment), where it fails.

mod common;

use common::sgd_escape;
use std::path::Path;
use std::process::Command;

const NETWORK: &str = "[model]\nkind = \"mlp\"\nhidden = [512, 512]\nactivation = \"tanh\"\ninit_seed = 0\n[data]\nsource = \"breast-cancer\"\nstandardize = true\nlabels = { kind = \"binary\", positive = [1] }\n";

#[test]
fn the_largest_hessian_eigenvalues_agree_with_jax_and_arpack() {
    let Some(python) = common::python_with("jax, scipy", "SGD_ESCAPE_REQUIRE_JAX", "pip install jax scipy") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    std::fs::write(d("train.toml"), format!("{NETWORK}[train]\nlr = 0.01\nbatch_size = 16\nepochs = 10\nseed = 0\n")).unwrap();
    let (code, err) = sgd_escape(&["train", &d("train.toml"), "--out", &d("t")]);
    assert_eq!(code, 0, "{err}");
    std::fs::write(
        d("landscape.toml"),
        format!(
            "{NETWORK}[dynamics]\nkind = \"sgd\"\nlr = 0.01\nbatch_size = 16\n[start]\nparameters = \"t/params.json\"\n[exit]\nkind = \"loss-above\"\nratio = 2.0\n[landscape]\nhessian = {{ kind = \"lanczos\", eigenvalues = 5, tolerance = 1e-10 }}\noutliers = 1\n"
        ),
    )
    .unwrap();
    let (code, err) = sgd_escape(&["landscape", &d("landscape.toml"), "--out", &d("l")]);
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(d("l/landscape.json")).unwrap()).unwrap();
    let minimum = &report["minimum"];
    assert_eq!(minimum["hessian_spectrum"]["method"], "lanczos");
    assert_eq!(minimum["hessian_spectrum"]["converged"], true);
    let ours: Vec<f64> = minimum["hessian_eigenvalues"].as_array().unwrap().iter().rev().map(|v| v.as_f64().unwrap()).collect();

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new(&python)
        .arg(root.join("bench/hessian_jax.py"))
        .args(["--landscape", &d("l/landscape.json"), "--params", &d("t/params.json")])
        .args(["--csv", root.join("data/sklearn/breast_cancer.csv").to_str().unwrap(), "--skip", "1"])
        .args(["--sizes", "30", "512", "512", "1", "--positive", "1", "--k", "5", "--tol", "1e-12"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().find(|l| l.starts_with('{')).expect("a JSON line");
    let peer: serde_json::Value = serde_json::from_str(line).unwrap();
    let theirs: Vec<f64> = peer["eigenvalues"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(ours.len(), 5);
    // Both solves stop at residuals ≤ 1e-10 λmax, which bounds each eigenvalue's error by about
    // residual²/gap; 1e-8 relative leaves room for the two implementations' rounding of the
    // products (summation orders differ).
    for (a, b) in ours.iter().zip(&theirs) {
        assert!((a - b).abs() <= 1e-8 * theirs[0], "sgd-escape {ours:?} against JAX + ARPACK {theirs:?}");
    }
    // The peer evaluates the same loss at the same parameters (data, standardisation, labels).
    let loss = minimum["loss"].as_f64().unwrap();
    assert!((peer["loss"].as_f64().unwrap() - loss).abs() <= 1e-12 * loss);
}
