//! Adaptive multilevel splitting against exact probabilities: each comparison is within 4
//! standard errors of the mean over M independent runs (fixed seeds).

use sgd_escape::dynamics::{Noise, Sde, Solver};
use sgd_escape::escape::Exit;
use sgd_escape::escape::ams::{AmsSpec, ReactionCoordinate, State, ams_run};
use sgd_escape::model::Model;

/// L(θ) = θ: under isotropic noise D = 1/2 the SDE is Brownian motion with drift −1,
/// dX = −dt + dW.
struct Slope;

impl Model for Slope {
    fn dim(&self) -> usize {
        1
    }
    fn loss(&self, theta: &[f64]) -> f64 {
        theta[0]
    }
    fn loss_and_gradient(&self, theta: &[f64], grad: &mut [f64]) -> f64 {
        grad[0] = 1.0;
        theta[0]
    }
}

/// P(hit b before a | X₀ = x) for dX = −dt + dW: the scale function s(x) = e^{2x}.
fn hitting_probability(x: f64, a: f64, b: f64) -> f64 {
    ((2.0 * x).exp() - (2.0 * a).exp()) / ((2.0 * b).exp() - (2.0 * a).exp())
}

fn mean_and_stderr(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0);
    (m, (var / n).sqrt())
}

/// (a) Brownian motion with drift to B = {x ≥ 10} before A = {x ≤ 0}: from x₀ = 0.1,
/// p = 4.56·10⁻¹⁰ in continuous time. The Euler chain at dt = 0.01 checks its boundaries only
/// at the steps, which shifts both outward by 0.5826·σ·√dt (Siegmund's correction, σ = 1).
/// That correction holds for starts many σ√dt = 0.1 from a boundary, so the chain is started
/// at x₀ = 1 (p = 1.3·10⁻⁸); from x₀ = 0.1, one σ√dt from A, it is off by tens of percent.
#[test]
fn brownian_motion_with_drift_hits_a_far_level_with_the_exact_probability() {
    let dt = 0.01;
    let model = Slope;
    let sde = Sde::new(&model, dt, Noise::Isotropic { temperature: 0.5 }, None).unwrap().with_solver(Solver::EulerMaruyama);
    let exit = Exit::Coordinate { axis: 0, threshold: 10.0 };
    let xi = ReactionCoordinate::Projection { direction: vec![1.0], from: 0.0, to: 10.0 };
    let spec = AmsSpec { particles: 100, kill: 1, basin: 0.0, resolution: 1e-3, seed: 42, max_excursion_steps: 100_000_000 };
    let runs = 40;
    let results: Vec<_> = (0..runs)
        .map(|r| {
            let starts = (0..spec.particles).map(|_| State { theta: vec![1.0], ws: sgd_escape::dynamics::Stepper::workspace(&sde), steps: 0, time: 0.0 }).collect();
            ams_run(&model, &sde, &exit, &xi, &spec, starts, r)
        })
        .collect();
    let p: Vec<f64> = results.iter().map(|r| r.probability).collect();
    let (mean, se) = mean_and_stderr(&p);
    let shift = 0.5826 * dt.sqrt();
    let exact = hitting_probability(1.0, -shift, 10.0 + shift);
    let continuous = hitting_probability(1.0, 0.0, 10.0);
    assert!((hitting_probability(0.1, 0.0, 10.0) - 4.56e-10).abs() < 0.01e-10);
    // Levels are discretised, so ties are killed together: fewer iterations than N·ln(1/p).
    assert!(results.iter().all(|r| !r.extinct && r.iterations > 300 && r.reached == spec.particles));
    assert!((mean - exact).abs() < 4.0 * se, "AMS p = {mean:.4e} ± {se:.2e}, Euler chain {exact:.4e} (continuous {continuous:.4e})");
    // The relative variance is near the idealised ln(1/p)/N of a perfect coordinate (here the
    // exact committor is a function of ξ).
    let relative_variance = (se * se * runs as f64) / (mean * mean);
    let ideal = -mean.ln() / spec.particles as f64;
    println!("AMS p = {mean:.4e} ± {se:.2e}, Euler chain {exact:.4e}; relative variance {relative_variance:.3}, idealised {ideal:.3}");
    assert!(relative_variance < 3.0 * ideal, "relative variance {relative_variance:.3} against the idealised {ideal:.3}");
}

/// Same seed, same numbers; and every run is extinct-free and unbiased in the easy regime
/// where brute force gives p too: hitting 2 before 0 from 0.5.
#[test]
fn ams_agrees_with_the_exact_probability_where_brute_force_also_could() {
    let dt = 0.01;
    let model = Slope;
    let sde = Sde::new(&model, dt, Noise::Isotropic { temperature: 0.5 }, None).unwrap().with_solver(Solver::EulerMaruyama);
    let exit = Exit::Coordinate { axis: 0, threshold: 2.0 };
    let xi = ReactionCoordinate::Projection { direction: vec![1.0], from: 0.0, to: 2.0 };
    let spec = AmsSpec { particles: 50, kill: 3, basin: 0.0, resolution: 0.01, seed: 7, max_excursion_steps: 100_000_000 };
    let run = |r| {
        let starts = (0..spec.particles).map(|_| State { theta: vec![0.5], ws: sgd_escape::dynamics::Stepper::workspace(&sde), steps: 0, time: 0.0 }).collect();
        ams_run(&model, &sde, &exit, &xi, &spec, starts, r)
    };
    assert_eq!(run(3), run(3), "deterministic for a given seed and run");
    let p: Vec<f64> = (0..200).map(|r| run(r).probability).collect();
    let (mean, se) = mean_and_stderr(&p);
    let shift = 0.5826 * dt.sqrt();
    let exact = hitting_probability(0.5, -shift, 2.0 + shift);
    println!("AMS p = {mean:.5} ± {se:.5}, Euler chain {exact:.5}");
    assert!((mean - exact).abs() < 4.0 * se, "AMS p = {mean:.5} ± {se:.5}, Euler chain {exact:.5}");
}
