//! The SDE solvers and exit detection between steps (docs/theory.md §9): the Brownian bridge
//! against the exact hitting probability of Brownian motion, its flat and linearised boundaries
//! against each other, the default solver on the curve model with exact noise against the
//! quadrature, thread-count independence, and configuration errors.

use sgd_escape::dynamics::{HessianRoot, Noise, Sde, Solver, Stepper};
use sgd_escape::escape::{EnsembleSpec, Exit, Status, run_ensemble};
use sgd_escape::experiment::simulate::simulate;
use sgd_escape::experiment::{Config, prepare};
use sgd_escape::model::Model;
use sgd_escape::stats::EscapeStatistics;
use std::path::Path;

/// L(θ) = a·θ: constant force −a; with isotropic noise, Brownian motion with drift −a.
struct Linear {
    a: Vec<f64>,
}

impl Model for Linear {
    fn dim(&self) -> usize {
        self.a.len()
    }
    fn loss(&self, theta: &[f64]) -> f64 {
        self.a.iter().zip(theta).map(|(a, t)| a * t).sum()
    }
    fn loss_and_gradient(&self, theta: &[f64], grad: &mut [f64]) -> f64 {
        grad.copy_from_slice(&self.a);
        self.loss(theta)
    }
}

/// The fraction of replicas that exit by t = 1 at dt = 0.01 (100 steps), and its standard error.
fn exit_fraction_by_one(model: &Linear, bridge: bool, exit: &Exit, start: &[f64]) -> (f64, f64) {
    let replicas = 100_000;
    let sde = Sde::new(model, 0.01, Noise::Isotropic { temperature: 0.5 }, None).unwrap().with_bridge(bridge);
    let spec = EnsembleSpec { seed: 9, replicas, max_steps: 100 };
    let outcomes = run_ensemble(model, &sde, exit, start, spec, Vec::new(), &|_| {});
    let p = outcomes.iter().filter(|o| o.status == Status::Escaped).count() as f64 / replicas as f64;
    (p, (p * (1.0 - p) / replicas as f64).sqrt())
}

/// Standard Brownian motion hits 1 by t = 1 with probability 2(1 − Φ(1)) = 0.31731. Checking
/// the grid only (dt = 0.01) misses the crossings between steps, by O(√dt) (about 0.291); the
/// bridge recovers them. Both within 4 SE.
#[test]
fn the_bridge_recovers_crossings_between_steps() {
    let exact = 0.317_310_507_862_914;
    let flat = Linear { a: vec![0.0] };
    let exit = Exit::Coordinate { axis: 0, threshold: 1.0 };
    let (grid, se) = exit_fraction_by_one(&flat, false, &exit, &[0.0]);
    // Siegmund's correction: the grid sees a level shifted up by β₁√dt = 0.0583.
    let shifted = 2.0 * (1.0 - standard_normal_cdf(1.0 + 0.582_597_157_939 * 0.1));
    assert!((grid - shifted).abs() < 4.0 * se + 0.003, "grid {grid} ± {se}, Siegmund {shifted}");
    assert!(exact - grid > 10.0 * se, "the grid misses crossings: {grid} ± {se}");
    let (bridged, se) = exit_fraction_by_one(&flat, true, &exit, &[0.0]);
    assert!((bridged - exact).abs() < 4.0 * se, "bridge {bridged} ± {se}, exact {exact}");
}

/// A hyperplane exit in two dimensions, a coordinate exit, and a loss-above exit of a linear loss
/// (whose level set is the same plane) give the same crossing probability for every step.
#[test]
fn flat_and_linearised_boundaries_agree() {
    let a = vec![0.6, 0.8];
    let model = Linear { a: a.clone() };
    let sde = Sde::new(&model, 0.01, Noise::Isotropic { temperature: 0.7 }, None).unwrap().with_bridge(true);
    let plane = Exit::Hyperplane { normal: vec![1.2, 1.6], offset: 1.2 };
    let level = Exit::LossAbove { threshold: 0.6 };
    let mut ws = sde.workspace();
    let mut rng = sgd_escape::dynamics::rng::replica_rng(1, 0);
    let mut direction = vec![0.0; 2];
    let mut theta = vec![0.1, 0.2];
    let mut compared = 0;
    for _ in 0..200 {
        let before = theta.clone();
        sde.step(&mut theta, &mut ws, &mut rng);
        if plane.reached(&model, &theta) {
            theta = vec![0.1, 0.2];
            continue;
        }
        let p_plane = plane.bridge_crossing_probability(&model, &sde, &mut ws, &before, &theta, &mut direction);
        let p_level = level.bridge_crossing_probability(&model, &sde, &mut ws, &before, &theta, &mut direction);
        assert!((p_plane - p_level).abs() < 1e-12, "{p_plane} vs {p_level}");
        // The closed form: distances along the unit normal, variance 2D dt.
        let d = |t: &[f64]| 0.6 - (0.6 * t[0] + 0.8 * t[1]);
        let expected = (-2.0 * d(&before) * d(&theta) / (2.0 * 0.7 * 0.01)).exp();
        assert!((p_plane - expected).abs() < 1e-12, "{p_plane} vs {expected}");
        compared += usize::from(p_plane > 1e-6);
    }
    assert!(compared > 10, "the walk came near the plane: {compared}");
    // A coordinate exit is the hyperplane with a unit normal.
    let coordinate = Exit::Coordinate { axis: 1, threshold: 0.5 };
    let plane_y = Exit::Hyperplane { normal: vec![0.0, 3.0], offset: 1.5 };
    let (before, after) = ([0.0, 0.45], [0.3, 0.47]);
    let p1 = coordinate.bridge_crossing_probability(&model, &sde, &mut ws, &before, &after, &mut direction);
    let p2 = plane_y.bridge_crossing_probability(&model, &sde, &mut ws, &before, &after, &mut direction);
    assert!((p1 - p2).abs() < 1e-12 && p1 > 0.0, "{p1} vs {p2}");
}

/// Acceptance: the curve model with SGD's exact noise (σ = 0.5, B = 1, η = 0.1), exit past the
/// saddle at θ = 0.935, default solver at dt = η/8, within 2% + 4 SE of the quadrature. Grid
/// Euler–Maruyama at this step exits about 10× too early (single steps from the far tail jump
/// the barrier); the reproduction `sde-convergence` shows it against dt.
#[test]
fn default_solver_converges_on_the_curve_model_with_exact_noise() {
    let text = "seed = 2\nreplicas = 1000\nmax_steps = 1000000000\n[model]\nkind = \"curve\"\ns = 0.5\nkappa = 1.0\nnoise = 0.5\nsamples = 10000\n\
                [dynamics]\nkind = \"sde\"\ndt = 0.0125\n[dynamics.noise]\nkind = \"exact\"\nlr = 0.1\nbatch_size = 1\nsampling = \"with-replacement\"\n\
                [start]\npoint = [-1.0]\n[exit]\nkind = \"coordinate\"\nthreshold = 0.935\n";
    let prepared = prepare(&Config::from_toml(text, Path::new("curve.toml")).unwrap(), Path::new(".")).unwrap();
    // The default is the adaptive solver with the bridge, ℓ = the distance to the exit.
    let recorded = serde_json::to_value(&prepared.config).unwrap();
    assert_eq!(recorded["dynamics"]["solver"]["kind"], "adaptive");
    assert_eq!(recorded["dynamics"]["solver"]["bridge"], true);
    let length = recorded["dynamics"]["solver"]["length"].as_f64().unwrap();
    assert!((length - (0.935 - prepared.start.theta[0])).abs() < 1e-12);
    assert!(prepared.landscape.predictions.euler_maruyama_chain.is_none(), "the EM chain is not this solver's prediction");
    let quadrature = prepared.landscape.predictions.quadrature.as_ref().unwrap().mean_time.unwrap();
    let stats = EscapeStatistics::from_outcomes(&simulate(&prepared, Vec::new(), &|_| {}).unwrap());
    assert_eq!(stats.censored + stats.diverged, 0);
    let (mean, se) = (stats.mean_time, stats.mean_time_stderr);
    println!("default solver {mean:.1} ± {se:.1}, quadrature {quadrature:.1}");
    assert!((mean - quadrature).abs() < 0.02 * quadrature + 4.0 * se, "{mean} ± {se} against {quadrature}");
}

/// Adaptive steps and bridge uniforms are drawn in a fixed order per replica: the outcomes are
/// bit-identical on 1 and 3 threads.
#[test]
fn adaptive_runs_do_not_depend_on_the_thread_count() {
    let model = sgd_escape::model::DoubleWell { epsilon: 0.25, dim: 2, stiffness: 1.0 };
    let noise = Noise::Paper { lr: 0.2, batch_size: 1, sqrt_hessian: HessianRoot::Dense(vec![2f64.sqrt(), 0.0, 0.0, 1.0]) };
    let solver = Solver::Adaptive { tolerance: 0.05, length: 2.0, origin: vec![-1.0, 0.0] };
    let sde = Sde::new(&model, 0.02, noise, None).unwrap().with_solver(solver).with_bridge(true);
    let exit = Exit::Hyperplane { normal: vec![1.0, 0.2], offset: 0.8 };
    let spec = EnsembleSpec { seed: 4, replicas: 64, max_steps: 1_000_000 };
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| run_ensemble(&model, &sde, &exit, &[-1.0, 0.0], spec, Vec::new(), &|_| {}))
    };
    let (one, three) = (run(1), run(3));
    assert_eq!(one, three);
    assert!(one.iter().all(|o| o.status == Status::Escaped));
    // The time is the sum of the adaptive steps, not dt · steps.
    assert!(one.iter().any(|o| (o.time - 0.02 * o.steps as f64).abs() > 1e-9));
}

fn prepare_error(solver: &str) -> String {
    let text = format!(
        "[model]\nkind = \"double-well\"\n[dynamics]\nkind = \"sde\"\ndt = 0.01\n[dynamics.noise]\nkind = \"paper\"\nlr = 0.1\n\
         [dynamics.solver]\n{solver}\n[exit]\n{}\n",
        if solver.contains("never") { "kind = \"never\"" } else { "kind = \"coordinate\"\nthreshold = 1.0" }
    );
    match Config::from_toml(&text, Path::new("bad.toml")) {
        Err(e) => e.to_string(),
        Ok(config) => prepare(&config, Path::new(".")).err().map(|e| e.to_string()).unwrap_or_default(),
    }
}

#[test]
fn bad_solver_settings_name_the_field() {
    let e = prepare_error("kind = \"adaptive\"\ntolerance = 1.5");
    assert!(e.contains("dynamics.solver.tolerance") && e.contains("1.5"), "{e}");
    let e = prepare_error("kind = \"adaptive\"\ntolerance = -0.1");
    assert!(e.contains("dynamics.solver.tolerance") && e.contains("-0.1"), "{e}");
    let e = prepare_error("kind = \"runge-kutta\"");
    assert!(e.contains("dynamics.solver") && e.contains("runge-kutta"), "{e}");
    let e = prepare_error("kind = \"adaptive\"\nstep = 0.1");
    assert!(e.contains("step"), "{e}");
    // With no exit boundary there is no default length.
    let e = prepare_error("kind = \"adaptive\" # never");
    assert!(e.contains("dynamics.solver.length"), "{e}");
}

fn standard_normal_cdf(x: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, Normal};
    Normal::new(0.0, 1.0).unwrap().cdf(x)
}

/// Without a saddle, a loss-above exit sets ℓ to the distance to the exit level along the
/// stiffest direction of the quadratic model, √(2(c − 1)L*/λmax(H*)).
#[test]
fn loss_above_length_without_a_saddle_comes_from_the_quadratic_model() {
    let text = "[model]\nkind = \"linear-regression\"\ndim = 2\nsamples = 500\n[dynamics]\nkind = \"sde\"\ndt = 0.01\n\
                [dynamics.noise]\nkind = \"exact\"\nlr = 0.1\n[exit]\nkind = \"loss-above\"\nratio = 1.5\n";
    let prepared = prepare(&Config::from_toml(text, Path::new("lr.toml")).unwrap(), Path::new(".")).unwrap();
    assert!(prepared.landscape.saddle.is_none());
    let recorded = serde_json::to_value(&prepared.config).unwrap();
    let length = recorded["dynamics"]["solver"]["length"].as_f64().unwrap();
    let stiffest = *prepared.start.hessian_eigenvalues.last().unwrap();
    let expected = (2.0 * 0.5 * prepared.start.loss / stiffest).sqrt();
    assert!((length - expected).abs() < 1e-12 * expected, "{length} against {expected}");
}
