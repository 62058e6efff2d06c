//! `reproduce` in quick mode: the experiment's quantitative claims hold within statistical
//! error, every output is written, and a second run resumes from the cached points.

use sgd_escape::experiment::reproduce::{ReproduceOptions, reproduce};
use std::sync::Mutex;

#[test]
fn barrier_1d_quick() {
    let dir = tempfile::tempdir().unwrap();
    let options = ReproduceOptions { quick: true, out: dir.path().to_path_buf(), seed: 1, command: "test".into() };
    let report = reproduce("barrier-1d", &options, &|_| {}).unwrap();
    for file in
        ["barrier-1d.json", "barrier-1d.csv", "barrier-1d.md", "barrier-1d-beta2.png", "barrier-1d-beta2.svg", "barrier-1d-beta4.png"]
    {
        assert!(dir.path().join(file).exists(), "{file} missing");
    }
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("barrier-1d.json")).unwrap()).unwrap();
    let points = json["points"].as_array().unwrap();
    let mut simulated = 0;
    for p in points {
        let q = p["quadrature"].as_f64().unwrap();
        if let Some(m) = p["measured"].as_array() {
            simulated += 1;
            let (mean, se) = (m[0].as_f64().unwrap(), m[1].as_f64().unwrap());
            // Measured within 4 SE + the 2% Euler–Maruyama allowance of the exact quadrature.
            assert!((mean - q).abs() < 4.0 * se + 0.02 * q, "{p}");
        }
        // The closed-form theory of each noise approaches its quadrature: within 20% here
        // (β log c ≥ 0.8; the gap shrinks with β log c, tests/theory.rs).
        if p["noise"] != "isotropic" {
            let theory = p["theory"].as_f64().unwrap();
            assert!((theory / q - 1.0).abs() < 0.2, "{p}");
        }
    }
    assert_eq!(simulated, points.len(), "quick mode simulates every point");
    // Power law against exponential: from c = 1.5 to 3 the frozen-noise time grows by more
    // than the paper-noise time, at every β.
    for beta in [2.0, 4.0] {
        let q = |noise: &str, c: f64| {
            points.iter().find(|p| p["noise"] == noise && p["beta"].as_f64() == Some(beta) && p["c"].as_f64() == Some(c)).unwrap()["quadrature"].as_f64().unwrap()
        };
        assert!(q("frozen", 3.0) / q("frozen", 1.5) > q("paper", 3.0) / q("paper", 1.5));
    }
    assert!(report.summary.iter().any(|l| l.contains("18 of 18")), "{:?}", report.summary);

    // Resumption: every point comes from the cache, and the numbers are identical.
    let before = std::fs::read(dir.path().join("barrier-1d.csv")).unwrap();
    let lines = Mutex::new(Vec::new());
    reproduce("barrier-1d", &options, &|l| lines.lock().unwrap().push(l.to_string())).unwrap();
    let lines = lines.into_inner().unwrap();
    assert_eq!(lines.len(), 18);
    assert!(lines.iter().all(|l| l.ends_with("(cached)")));
    assert_eq!(before, std::fs::read(dir.path().join("barrier-1d.csv")).unwrap());
}

#[test]
fn unknown_experiment_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    let options = ReproduceOptions { quick: true, out: dir.path().to_path_buf(), seed: 1, command: "test".into() };
    let err = reproduce("fig9", &options, &|_| {}).unwrap_err();
    assert!(err.is_invalid_input() && err.to_string().contains("fig9"), "{err}");
}
