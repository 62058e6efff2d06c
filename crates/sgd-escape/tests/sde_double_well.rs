//! The SDE on the 1-D double well `L = ε + (θ² − 1)²/4` against the exact first-passage
//! quadrature (docs/theory.md eq. 20): escape from θ* = −1 to the other minimum θ = +1.
//!
//! The SDE runs on the default solver (adaptive steps no longer than dt, exits detected between
//! steps by the Brownian bridge; docs/theory.md §9), and the tolerance is 4 standard errors of
//! the simulated mean, with no discretisation allowance: `discretisation_bias` below (run with
//! `--ignored`) measures the remaining bias against dt for the adaptive solver and for
//! Euler–Maruyama checked at the grid, which needed an allowance of 2% here.

use sgd_escape::dynamics::{HessianRoot, Noise, Sde, Solver};
use sgd_escape::escape::{EnsembleSpec, Exit, Status, run_ensemble};
use sgd_escape::model::{DoubleWell, Model};
use sgd_escape::stats::mean_and_stderr;
use sgd_escape::theory::mean_first_passage_time;

const H_STAR: f64 = 2.0; // L''(±1)

fn loss(eps: f64, x: f64) -> f64 {
    eps + 0.25 * (x * x - 1.0).powi(2)
}

/// Exact mean escape time for noise `kind` ("paper": D = η L(θ) h*/B; "frozen": D = η L* h*/B).
fn quadrature(kind: &str, eps: f64, lr: f64, batch: usize) -> f64 {
    let drift = |x: f64| -x * (x * x - 1.0);
    let b = batch as f64;
    match kind {
        "paper" => mean_first_passage_time(drift, |x| lr * loss(eps, x) * H_STAR / b, -1.0, 1.0, -3.0, 20_000),
        "frozen" => mean_first_passage_time(drift, |_| lr * eps * H_STAR / b, -1.0, 1.0, -3.0, 20_000),
        _ => unreachable!(),
    }
}

fn noise(kind: &str, eps: f64, lr: f64, batch: usize) -> Noise {
    let sqrt_hessian = HessianRoot::Dense(vec![H_STAR.sqrt()]);
    match kind {
        "paper" => Noise::Paper { lr, batch_size: batch, sqrt_hessian },
        "frozen" => Noise::Frozen { lr, batch_size: batch, sqrt_hessian, loss_at_minimum: eps },
        "time-changed" => Noise::TimeChanged { lr, batch_size: batch, sqrt_hessian, loss_at_minimum: eps },
        _ => unreachable!(),
    }
}

/// Simulated mean escape time and its standard error, with the default solver (ε = 0.05, ℓ = 2,
/// the distance from θ* = −1 to the exit) and the bridge, or with grid-checked Euler–Maruyama.
#[allow(clippy::too_many_arguments)]
fn simulate_with(kind: &str, eps: f64, lr: f64, batch: usize, dt: f64, replicas: usize, seed: u64, adaptive: bool) -> (f64, f64) {
    let model = DoubleWell { epsilon: eps, dim: 1, stiffness: 1.0 };
    let solver = if adaptive { Solver::Adaptive { tolerance: 0.05, length: 2.0, origin: vec![-1.0] } } else { Solver::EulerMaruyama };
    let sde = Sde::new(&model, dt, noise(kind, eps, lr, batch), None).unwrap().with_solver(solver).with_bridge(adaptive);
    let exit = Exit::Coordinate { axis: 0, threshold: 1.0 };
    let spec = EnsembleSpec { seed, replicas, max_steps: u64::MAX };
    let outcomes = run_ensemble(&model, &sde, &exit, &[-1.0], spec, Vec::new(), &|_| {});
    assert!(outcomes.iter().all(|o| o.status == Status::Escaped));
    assert_eq!(model.loss(&[-1.0]), eps);
    let times: Vec<f64> = outcomes.iter().map(|o| o.time).collect();
    mean_and_stderr(&times)
}

fn simulate(kind: &str, eps: f64, lr: f64, batch: usize, dt: f64, replicas: usize, seed: u64) -> (f64, f64) {
    simulate_with(kind, eps, lr, batch, dt, replicas, seed, true)
}

fn assert_matches(kind: &str, measured: (f64, f64), exact: f64) {
    let (mean, se) = measured;
    let tolerance = 4.0 * se;
    assert!((mean - exact).abs() < tolerance, "{kind}: simulated {mean:.4} ± {se:.4}, quadrature {exact:.4}, tolerance {tolerance:.4}");
}

/// (ε, η, B) pairs: β = B/(η h*) = 5 with c = 2, and β = 2.5 with c = 3.5.
const CASES: [(f64, f64, usize); 2] = [(0.25, 0.1, 1), (0.1, 0.2, 1)];

#[test]
fn paper_noise_matches_quadrature() {
    for (i, &(eps, lr, batch)) in CASES.iter().enumerate() {
        let exact = quadrature("paper", eps, lr, batch);
        assert_matches("paper", simulate("paper", eps, lr, batch, 0.01, 4000, 10 + i as u64), exact);
    }
}

#[test]
fn frozen_noise_matches_its_quadrature() {
    for (i, &(eps, lr, batch)) in CASES.iter().enumerate() {
        let exact = quadrature("frozen", eps, lr, batch);
        assert_matches("frozen", simulate("frozen", eps, lr, batch, 0.01, 4000, 20 + i as u64), exact);
    }
}

/// The time-changed SDE (integrated in τ, mapped back to t) agrees with the paper's SDE in t:
/// both against the quadrature, and with each other within their joint standard error.
#[test]
fn time_changed_agrees_with_paper() {
    for (i, &(eps, lr, batch)) in CASES.iter().enumerate() {
        let exact = quadrature("paper", eps, lr, batch);
        let tc = simulate("time-changed", eps, lr, batch, 0.01, 4000, 30 + i as u64);
        assert_matches("time-changed", tc, exact);
        let paper = simulate("paper", eps, lr, batch, 0.01, 4000, 40 + i as u64);
        let joint = (tc.1 * tc.1 + paper.1 * paper.1).sqrt();
        assert!((tc.0 - paper.0).abs() < 4.0 * joint, "time-changed {tc:?} vs paper {paper:?}");
    }
}

/// Measures the discretisation bias at several dt with many replicas (slow; run with
/// `cargo test --release -- --ignored discretisation_bias --nocapture`).
#[test]
#[ignore]
fn discretisation_bias() {
    for kind in ["paper", "frozen", "time-changed"] {
        for &(eps, lr, batch) in &CASES {
            let exact = quadrature(if kind == "frozen" { "frozen" } else { "paper" }, eps, lr, batch);
            for dt in [0.04, 0.02, 0.01] {
                for adaptive in [false, true] {
                    let (m, se) = simulate_with(kind, eps, lr, batch, dt, 20_000, 7, adaptive);
                    println!(
                        "{kind:>12} {} eps={eps} lr={lr} dt={dt}: simulated {m:.3} ± {se:.3}, quadrature {exact:.3}, relative bias {:+.4} ± {:.4}",
                        if adaptive { "adaptive+bridge" } else { "grid EM" },
                        m / exact - 1.0,
                        se / exact
                    );
                }
            }
        }
    }
}
