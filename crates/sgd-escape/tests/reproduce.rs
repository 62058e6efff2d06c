//! `reproduce` in quick mode: the experiment's quantitative claims hold within statistical
//! error, every output is written, and a second run resumes from the cached points.

mod common;

use sgd_escape::experiment::reproduce::{CheckKind, ReproduceOptions, ReproduceReport, reproduce};
use std::sync::Mutex;

/// Every verification (a comparison with an exact reference within its standard error, or a
/// claim of the page) holds; tested assumptions of the theory may fail.
fn assert_verifications_hold(report: &ReproduceReport) {
    let failed: Vec<_> = report.checks.iter().filter(|c| c.kind == CheckKind::Verification && !c.holds).collect();
    assert!(failed.is_empty(), "{failed:#?}");
}

#[test]
fn barrier_1d_quick() {
    let dir = tempfile::tempdir().unwrap();
    let options = ReproduceOptions { quick: true, out: dir.path().to_path_buf(), seed: 1, command: "test".into() };
    let report = reproduce("barrier-1d", &options, &|_| {}).unwrap();
    assert_verifications_hold(&report);
    for file in
        ["barrier-1d.json", "barrier-1d.csv", "barrier-1d.md", "barrier-1d-beta2.png", "barrier-1d-beta2.svg", "barrier-1d-beta16.png"]
    {
        assert!(dir.path().join(file).exists(), "{file} missing");
    }
    // The checks compare each simulation with the exact mean exit time of its own Euler–Maruyama
    // chain (4 SE + its grid error) and each closed form with its quadrature (its first-order
    // correction). Here every point was simulated: by brute force where its chain converged,
    // and by splitting (AMS) at β = 16 beyond the brute-force budget, with its diagnostics.
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("barrier-1d.json")).unwrap()).unwrap();
    let points = json["points"].as_array().unwrap();
    assert_eq!(points.len(), 27);
    for p in points {
        assert!(p["measured"].is_array(), "quick mode simulates every point: {p}");
        match p["estimator"].as_str().unwrap() {
            "brute-force" => assert_eq!(p["em_chain_converged"], true, "{p}"),
            _ => assert!(p["beta"] == 16.0 && p["ams"]["extinctions"] == 0 && p["ams"]["variance_ratio"].as_f64().unwrap() < 10.0, "{p}"),
        }
    }
    assert!(points.iter().filter(|p| p["estimator"] == "ams").count() >= 5);
    assert!(report.summary.iter().any(|l| l.contains("27 of 27")), "{:?}", report.summary);

    // Resumption: every point comes from the cache, and the numbers are identical.
    let before = std::fs::read(dir.path().join("barrier-1d.csv")).unwrap();
    let lines = Mutex::new(Vec::new());
    reproduce("barrier-1d", &options, &|l| lines.lock().unwrap().push(l.to_string())).unwrap();
    let lines = lines.into_inner().unwrap();
    assert_eq!(lines.len(), 27);
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

/// fig3a quick mode (16 replicas × 1000 records per point).
#[test]
fn fig3a_quick() {
    let dir = tempfile::tempdir().unwrap();
    let options = ReproduceOptions { quick: true, out: dir.path().to_path_buf(), seed: 1, command: "test".into() };
    let report = reproduce("fig3a", &options, &|_| {}).unwrap();
    assert_verifications_hold(&report);
    for file in ["fig3a.json", "fig3a.csv", "fig3a.md", "fig3a.png", "fig3a.svg"] {
        assert!(dir.path().join(file).exists(), "{file} missing");
    }
    // The checks compare the fitted φ with the exact stationary law of the SGD chain (B = 1, 4 SE),
    // the measured variance with SGD's exact discrete-time variance (4 SE) and the continuum
    // with the fit. Here: the decomposition of the deficit is exact, term by term.
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("fig3a.json")).unwrap()).unwrap();
    let points = json["points"].as_array().unwrap();
    assert_eq!(points.len(), 15);
    for p in points {
        assert_eq!(p["diverged"], 0, "{p}");
        let f = |k: &str| p[k].as_f64().unwrap();
        // The ∇L∇Lᵀ term of the exact noise lowers the continuum φ by exactly 1/2 (Gaussian
        // moments k = 3h², so η(k − h²)/… = ηh²/… in eq. 23b against 2Bh).
        assert!((f("phi_continuum") - f("phi_gradient_term_continuum") - 0.5).abs() < 1e-9, "{p}");
        if p["batch_size"] == 1 {
            assert_eq!(p["phi_chain"]["converged"], true, "{p}");
        }
    }
}

/// fig3b quick mode (100 runs per point, as in the paper).
#[test]
fn fig3b_quick() {
    let dir = tempfile::tempdir().unwrap();
    let options = ReproduceOptions { quick: true, out: dir.path().to_path_buf(), seed: 1, command: "test".into() };
    let report = reproduce("fig3b", &options, &|_| {}).unwrap();
    assert_verifications_hold(&report);
    for file in ["fig3b.json", "fig3b.csv", "fig3b.md", "fig3b.png", "fig3b.svg"] {
        assert!(dir.path().join(file).exists(), "{file} missing");
    }
    // The checks compare brute-force SGD with the exact chain of every d = 1 data set (4 SE) and
    // the paper SDE's quadrature with its asymptote. Here: the landscape analysis finds n = d
    // outliers with h* within the sample-covariance spread of 1 (Marchenko–Pastur edge
    // (1 + √(d/N))² − 1 plus 4 SE √(2/N) of one eigenvalue).
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("fig3b.json")).unwrap()).unwrap();
    for l in json["landscapes"].as_array().unwrap() {
        let (dim, samples) = (l["set"]["dim"].as_f64().unwrap(), l["set"]["samples"].as_f64().unwrap());
        assert_eq!(l["n"].as_f64().unwrap(), dim, "{l}");
        let spread = (1.0 + (dim / samples).sqrt()).powi(2) - 1.0 + 4.0 * (2.0 / samples).sqrt();
        assert!((l["h_star"].as_f64().unwrap() - 1.0).abs() < spread, "{l}");
        if dim == 1.0 {
            assert!(l["one_step_reach"].as_f64().unwrap() > 1.0, "{l}");
        }
    }
    // Splitting at c = 3 on the first data set of each d (the d = 1 point is checked against
    // its exact chain above); d = 8 is not a rare event there and is reported as such.
    let ams = json["ams_points"].as_array().unwrap();
    assert_eq!(ams.len(), 4, "{ams:?}");
    for a in ams {
        assert!(a["failed"].is_null() && a["ams"]["extinctions"] == 0, "{a}");
    }
}

/// effective-dimension quick mode (1000 replicas per point).
#[test]
fn effective_dimension_quick() {
    let dir = tempfile::tempdir().unwrap();
    let options = ReproduceOptions { quick: true, out: dir.path().to_path_buf(), seed: 1, command: "test".into() };
    let report = reproduce("effective-dimension", &options, &|_| {}).unwrap();
    assert_verifications_hold(&report);
    for file in ["effective-dimension.json", "effective-dimension.csv", "effective-dimension.md", "effective-dimension.png"] {
        assert!(dir.path().join(file).exists(), "{file} missing");
    }
    // The checks compare n = 1 with the exact Euler–Maruyama chain (4 SE) and every stable point
    // with the log-barrier formula (4 SE + its first-order correction). Here: beyond the
    // critical dimension the speed-up per direction collapses (the formula has no finite value).
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("effective-dimension.json")).unwrap()).unwrap();
    let points = json["points"].as_array().unwrap();
    let c = json["c"].as_f64().unwrap();
    let time = |beta: f64, n: u64| {
        let p = points.iter().find(|p| p["beta"].as_f64() == Some(beta) && p["n"] == n).unwrap();
        assert_eq!(p["censored"].as_u64().unwrap() + p["diverged"].as_u64().unwrap(), 0, "{p}");
        (p["measured"][0].as_f64().unwrap(), p["measured"][1].as_f64().unwrap())
    };
    let ((a, sa), (b, sb)) = (time(2.0, 7), time(2.0, 8));
    let se = (a / b) * ((sa / a).powi(2) + (sb / b).powi(2)).sqrt();
    assert!(c.sqrt() - a / b > 4.0 * se, "β = 2, n = 7 (n_c = 6): {} ± {se}", a / b);
    // β = 8 by splitting: close to its idealised variance on this coordinate.
    let split: Vec<&serde_json::Value> = points.iter().filter(|p| p["estimator"] == "ams").collect();
    assert_eq!(split.len(), 3);
    for p in split {
        assert!(p["beta"] == 8.0 && p["ams"]["extinctions"] == 0 && p["ams"]["variance_ratio"].as_f64().unwrap() < 3.0, "{p}");
    }
    for t in json["theory"].as_array().unwrap() {
        let beyond = t["n"].as_f64().unwrap() >= t["critical_dimension"].as_f64().unwrap();
        assert_eq!(t["log_barrier_time"].is_null(), beyond, "{t}");
    }
}

/// sgd-barrier quick mode (300 replicas per point).
#[test]
fn sgd_barrier_quick() {
    let dir = tempfile::tempdir().unwrap();
    let options = ReproduceOptions { quick: true, out: dir.path().to_path_buf(), seed: 1, command: "test".into() };
    let report = reproduce("sgd-barrier", &options, &|_| {}).unwrap();
    assert_verifications_hold(&report);
    for file in ["sgd-barrier.json", "sgd-barrier.csv", "sgd-barrier.md", "sgd-barrier-beta.png", "sgd-barrier-c.png"] {
        assert!(dir.path().join(file).exists(), "{file} missing");
    }
    // The checks compare SGD with its exact chain (B = 1) and Euler–Maruyama with its exact chain,
    // within 4 SE, and the paper-noise quadrature with the log-barrier formula within its
    // first-order correction. Here: the grids converged, and the exact numbers order as the page
    // says (the continuum limit of the exact-noise SDE is slower than its own discrete chain).
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("sgd-barrier.json")).unwrap()).unwrap();
    let points = json["points"].as_array().unwrap();
    assert_eq!(points.len(), 13);
    for p in points {
        assert_eq!(p["chains_converged"], true, "{p}");
        assert_eq!(p["sgd_chain"].is_null(), p["batch_size"] != 1, "{p}");
        assert!(p["quadrature_exact"].as_f64().unwrap() > p["em_chain"].as_f64().unwrap(), "{p}");
    }
    // Beyond brute force (β = 8.2, B = 1): the exact SGD chain is the measurement, and the
    // splitting estimate stands beside it with its diagnostics.
    let beyond = json["beyond_brute_force"].as_array().unwrap();
    assert_eq!(beyond.len(), 1);
    let b = &beyond[0];
    assert!(b["beta"].as_f64().unwrap() > 8.0 && b["sgd_chain"].as_f64().unwrap() > 1e5, "{b}");
    assert!(b["ams_diagnostics"]["variance_ratio"].as_f64().is_some(), "{b}");
}

/// sde-convergence quick mode (the coarsest and finest dt of each case).
#[test]
fn sde_convergence_quick() {
    let dir = tempfile::tempdir().unwrap();
    let options = ReproduceOptions { quick: true, out: dir.path().to_path_buf(), seed: 1, command: "test".into() };
    let report = reproduce("sde-convergence", &options, &|_| {}).unwrap();
    // Siegmund's overshoot for grid-checked Euler–Maruyama, the bridge's error within one step,
    // the adaptive solver at the quadrature on the double well and the curve model, grid
    // Euler–Maruyama off on the curve model: all within 4 SE.
    assert_verifications_hold(&report);
    assert_eq!(report.checks.len(), 6, "{:#?}", report.checks);
    for file in
        ["sde-convergence.json", "sde-convergence.csv", "sde-convergence.md", "sde-convergence-curve.png", "sde-convergence-drift.svg"]
    {
        assert!(dir.path().join(file).exists(), "{file} missing");
    }
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("sde-convergence.json")).unwrap()).unwrap();
    let points = json["points"].as_array().unwrap();
    // (a) 3 solvers, (b) 4, (c) 3; two dt each.
    assert_eq!(points.len(), 20);
    for p in points {
        assert_eq!(p["censored"], 0, "{p}");
    }
}

/// fig2 quick mode (2000 Fashion-MNIST images, width 64, 300 epochs).
#[test]
fn fig2_quick() {
    if !common::fashion_mnist_for_tests() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let options = ReproduceOptions { quick: true, out: dir.path().to_path_buf(), seed: 1, command: "test".into() };
    let report = reproduce("fig2", &options, &|_| {}).unwrap();
    assert_verifications_hold(&report);
    for file in ["fig2.json", "fig2.csv", "fig2.md", "fig2.png", "fig2-epochs.png"] {
        assert!(dir.path().join(file).exists(), "{file} missing");
    }
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("fig2.json")).unwrap()).unwrap();
    let log = json["log"].as_array().unwrap();
    assert_eq!(log.len(), 301);
    let (l0, l1) = (log[0]["loss"].as_f64().unwrap(), log[300]["loss"].as_f64().unwrap());
    assert!(l1 < 0.05 * l0, "training must reduce the loss: {l0} → {l1}");
    // Late in training 𝒩 falls with L (slope > 0.5 by 4 SE); early it does not (the early
    // slope is below the late one by more than 4 joint SE).
    let (late, late_se) = (json["late_slope"][0].as_f64().unwrap(), json["late_slope"][1].as_f64().unwrap());
    let (early, early_se) = (json["early_slope"][0].as_f64().unwrap(), json["early_slope"][1].as_f64().unwrap());
    assert!(late - 4.0 * late_se > 0.5, "{late} ± {late_se}");
    assert!(late - early > 4.0 * (late_se * late_se + early_se * early_se).sqrt(), "{early} vs {late}");
    // A second run resumes from the finished checkpoint (no epoch is trained or measured
    // again) and rewrites identical numbers.
    let before = std::fs::read(dir.path().join("fig2.csv")).unwrap();
    let lines = Mutex::new(Vec::new());
    reproduce("fig2", &options, &|l| lines.lock().unwrap().push(l.to_string())).unwrap();
    assert!(lines.into_inner().unwrap().is_empty(), "the second run trained again");
    assert_eq!(before, std::fs::read(dir.path().join("fig2.csv")).unwrap());
}

/// fig1 quick mode (1000 Fashion-MNIST images, MLP 784-32-32-1, epochs 0, 5, 50).
#[test]
fn fig1_quick() {
    if !common::fashion_mnist_for_tests() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let options = ReproduceOptions { quick: true, out: dir.path().to_path_buf(), seed: 1, command: "test".into() };
    let report = reproduce("fig1", &options, &|_| {}).unwrap();
    assert_verifications_hold(&report);
    for file in ["fig1.json", "fig1.csv", "fig1.md", "fig1-epoch0.png", "fig1-epoch50.png", "fig1-slq-validation.png"] {
        assert!(dir.path().join(file).exists(), "{file} missing");
    }
    // The page's checks compare SLQ's trace estimates with the exact traces within 4 SE of the
    // probes' spread at every epoch, and the Lanczos top eigenvalue with a dense eigensolver
    // within its Ritz residual; here the snapshots must also be internally consistent.
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("fig1.json")).unwrap()).unwrap();
    let snapshots = json["snapshots"].as_array().unwrap();
    assert_eq!(snapshots.len(), 3);
    for s in snapshots {
        // Lanczos returns the top eigenvalues in descending order, and SLQ's largest node
        // cannot exceed the largest eigenvalue (Ritz values interlace).
        for (top, slq) in [("top_loss_weighted", "slq_loss_weighted"), ("top_decoupled", "slq_decoupled")] {
            let values: Vec<f64> = s[top].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
            assert!(values.windows(2).all(|w| w[0] >= w[1]), "{top}: {values:?}");
            let largest_node = s[slq][0].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).fold(f64::NEG_INFINITY, f64::max);
            assert!(largest_node <= values[0] * (1.0 + 1e-8), "{slq}: {largest_node} > {}", values[0]);
        }
    }
    // Training lowers the loss between the snapshots.
    assert!(snapshots[2]["loss"].as_f64().unwrap() < 0.5 * snapshots[0]["loss"].as_f64().unwrap());
}

/// mlp-barrier quick mode: two trained wine networks, the NEB's saddle between their minima,
/// the two minima that saddle joins, SGD from each at four learning rates (200 replicas each).
#[test]
fn mlp_barrier_quick() {
    let dir = tempfile::tempdir().unwrap();
    let options = ReproduceOptions { quick: true, out: dir.path().to_path_buf(), seed: 1, command: "test".into() };
    let report = reproduce("mlp-barrier", &options, &|_| {}).unwrap();
    // The saddle has index 1 with |∇L| ≤ 1e-8, both ends are distinct strict minima, and every
    // point's rate rests on ≥ 90% escapes.
    assert_verifications_hold(&report);
    for file in ["mlp-barrier.json", "mlp-barrier.csv", "mlp-barrier.md", "mlp-barrier-beta.png", "mlp-barrier-path.svg"] {
        assert!(dir.path().join(file).exists(), "{file} missing");
    }
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("mlp-barrier.json")).unwrap()).unwrap();
    let land = &json["landscape"];
    let (saddle, minimum) = (land["saddle_loss"].as_f64().unwrap(), land["losses"][0].as_f64().unwrap());
    assert!(saddle > 2.0 * minimum, "a real barrier: L(θˢ) = {saddle}, L* = {minimum}");
    let points = json["points"].as_array().unwrap();
    assert_eq!(points.len(), 8);
    // The saddle's descent ends are minima of the same network: one of them is a trained one.
    assert!(land["distances"].as_array().unwrap().iter().flat_map(|d| d.as_array().unwrap()).any(|d| d.as_f64().unwrap() < 1e-6));
    // Larger steps (smaller β) escape sooner: from each minimum the times decrease along the
    // sweep in η beyond their 95% intervals.
    for minimum in 0..2 {
        let times: Vec<(f64, f64, f64)> = points
            .iter()
            .filter(|p| p["minimum"] == minimum)
            .map(|p| {
                let r = &p["sgd"]["rate"];
                (1.0 / r[0].as_f64().unwrap(), 1.0 / r[2].as_f64().unwrap(), 1.0 / r[1].as_f64().unwrap())
            })
            .collect();
        assert_eq!(times.len(), 4);
        for w in times.windows(2) {
            assert!(w[0].1 > w[1].2, "{times:?}");
        }
    }
    // Every point has η·λmax > 0.1, and the page says where the small-step points would be and
    // that it does not estimate them.
    assert!(points.iter().all(|p| p["lr_lambda_max"].as_f64().unwrap() > 0.1));
    assert!(
        report.summary.iter().any(|f| f.starts_with("No point has η·λmax ≤ 0.1") && f.contains("does not estimate them")),
        "{:?}",
        report.summary
    );
    // A second run reuses every cached point and writes the same numbers.
    let again = reproduce("mlp-barrier", &options, &|_| {}).unwrap();
    assert_eq!(again.summary, report.summary);
}
