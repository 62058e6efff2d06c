//! `exit.check_every`: a loss-above exit evaluated every k steps, with the crossing replayed to
//! its first step after the previous check, against an independent step-by-step reference.

use sgd_escape::dynamics::rng::replica_rng;
use sgd_escape::dynamics::{Noise, Sampling, Sde, Sgd, Stepper};
use sgd_escape::escape::{EnsembleSpec, Exit, Status, run_ensemble, run_ensemble_checked};
use sgd_escape::experiment::Config;
use sgd_escape::experiment::run::run_in_memory;
use sgd_escape::landscape::minimize;
use sgd_escape::model::{CurveMap, Dataset, FeatureModel, Model};
use std::path::Path;

/// The exit step the schedule must report, from whether the criterion holds after each step:
/// the first check (a multiple of k, or the last step) where it holds, then the first step
/// after the previous check where it holds.
fn expected_exit(holds: &[bool], k: usize) -> Option<usize> {
    let n = holds.len();
    let checks = (1..=n).filter(|s| s % k == 0 || *s == n);
    let mut previous = 0;
    for c in checks {
        if holds[c - 1] {
            return (previous + 1..=c).find(|&s| holds[s - 1]);
        }
        previous = c;
    }
    None
}

#[test]
fn a_checked_exit_is_the_first_crossing_after_the_check_before_it() {
    // A 1-D data-built landscape with label noise: SGD's loss fluctuates, so excursions above
    // a low threshold come and go between checks.
    let data = Dataset::gaussian(300, 2, 4, |_, xi| 0.5 * xi);
    let model = FeatureModel::new(CurveMap { dim: 1, s: 1.0, kappa: 1.0, stiffness: 1.0 }, data).unwrap();
    let minimum = minimize(&model, &[-1.0], Default::default()).unwrap().theta;
    let threshold = 1.02 * model.loss(&minimum);
    let exit = Exit::LossAbove { threshold };
    let sgd = Sgd::new(&model, 0.05, 1, Sampling::WithReplacement).unwrap();
    let (seed, replicas, max_steps) = (11, 200, 400);
    let spec = EnsembleSpec { seed, replicas, max_steps };
    let every_step = run_ensemble(&model, &sgd, &exit, &minimum, spec, Vec::new(), &|_| {});
    let (mut same, mut later, mut censored) = (0, 0, 0);
    for k in [1u64, 7, 50] {
        let checked = run_ensemble_checked(&model, &sgd, &exit, &minimum, spec, k, Vec::new(), &|_| {});
        for (o, first) in checked.iter().zip(&every_step) {
            // The reference: the replica's own stream, stepped and measured at every step.
            let mut rng = replica_rng(seed, o.replica as u64);
            let mut ws = sgd.workspace();
            let mut theta = minimum.clone();
            let mut thetas = Vec::new();
            let mut losses = Vec::new();
            for _ in 0..max_steps {
                sgd.step(&mut theta, &mut ws, &mut rng);
                losses.push(model.loss(&theta));
                thetas.push(theta.clone());
            }
            let holds: Vec<bool> = losses.iter().map(|l| *l > threshold).collect();
            match expected_exit(&holds, k as usize) {
                Some(s) => {
                    assert_eq!((o.status, o.steps), (Status::Escaped, s as u64), "k = {k}, replica {}", o.replica);
                    assert_eq!(o.final_theta, thetas[s - 1], "k = {k}, replica {}: θ at the exit", o.replica);
                }
                None => {
                    assert_eq!((o.status, o.steps), (Status::Censored, max_steps), "k = {k}, replica {}", o.replica);
                    censored += 1;
                }
            }
            // Never earlier than checking every step.
            assert!(o.status != Status::Escaped || (first.status == Status::Escaped && o.steps >= first.steps));
            if k > 1 {
                if o.steps == first.steps {
                    same += 1;
                } else {
                    later += 1;
                }
            }
        }
        if k == 1 {
            assert_eq!(checked, every_step, "k = 1 is the plain loop");
        }
    }
    // The case is one where the schedule matters: some exits are seen at the first crossing,
    // some only at a later excursion.
    assert!(same > 0 && later > 0 && censored < 3 * replicas, "same {same}, later {later}, censored {censored}");
}

fn config(extra: &str) -> Config {
    let text = format!(
        "seed = 2\nreplicas = 50\nmax_steps = 2000\n[model]\nkind = \"curve\"\nnoise = 0.5\nsamples = 200\n\
         [dynamics]\nkind = \"sgd\"\nlr = 0.05\nbatch_size = 1\n[exit]\nkind = \"loss-above\"\nratio = 1.5\n{extra}"
    );
    Config::from_toml(&text, Path::new("test.toml")).unwrap()
}

#[test]
fn check_every_is_warned_about_and_refused_where_it_cannot_apply() {
    let (summary, _) = run_in_memory(&config("check_every = 10\n"), Path::new("."), None, &|_| {}).unwrap();
    assert!(summary.warnings.iter().any(|w| w.contains("exit.check_every = 10")), "{:?}", summary.warnings);
    assert_eq!(serde_json::to_value(&summary.config).unwrap()["exit"]["check_every"], 10);
    let (plain, _) = run_in_memory(&config(""), Path::new("."), None, &|_| {}).unwrap();
    assert!(serde_json::to_value(&plain.config).unwrap()["exit"].get("check_every").is_none(), "1 is not written out");

    let sde = config("check_every = 10\n").clone();
    let mut text = toml::to_string(&sde).unwrap();
    text = text.replace(
        "kind = \"sgd\"\nlr = 0.05\nbatch_size = 1",
        "kind = \"sde\"\ndt = 0.05\n\n[dynamics.noise]\nkind = \"exact\"\nlr = 0.05\nbatch_size = 1",
    );
    let sde = Config::from_toml(&text, Path::new("sde.toml")).unwrap();
    let e = run_in_memory(&sde, Path::new("."), None, &|_| {}).unwrap_err().to_string();
    assert!(e.contains("exit.check_every") && e.contains("bridge"), "{e}");

    let ams = "seed = 2\n[model]\nkind = \"curve\"\nnoise = 0.5\nsamples = 200\n[dynamics]\nkind = \"sgd\"\nlr = 0.05\nbatch_size = 1\n\
               [exit]\nkind = \"loss-above\"\nratio = 1.5\ncheck_every = 10\n[estimator]\nkind = \"ams\"\n";
    let ams = Config::from_toml(ams, Path::new("ams.toml")).unwrap();
    let e = run_in_memory(&ams, Path::new("."), None, &|_| {}).unwrap_err().to_string();
    assert!(e.contains("exit.check_every") && e.contains("splitting"), "{e}");
}

/// The basin exit on the 1-D double well L = ε + (θ² − 1)²/4: gradient descent from θ > 0
/// settles at +1 and from θ < 0 at −1, so a quench leaves θ* = −1's basin exactly when θ > 0.
/// Every k steps, replayed, it must therefore report what the coordinate exit θ ≥ 0 reports
/// under the same schedule.
#[test]
fn the_basin_exit_is_the_saddle_crossing_on_the_double_well() {
    let model = sgd_escape::model::DoubleWell { epsilon: 0.25, dim: 1, stiffness: 2.0 };
    let noise = Noise::Isotropic { temperature: 0.12 };
    let sde = Sde::new(&model, 0.01, noise, None).unwrap();
    let start = [-1.0];
    // The quench follows the gradient flow: from far out on the left it does not overshoot
    // into the right well, as plain steps of 1/λmax(H*) would (θ = −3 → 9).
    for (from, to) in [(-3.0, -1.0), (-0.01, -1.0), (0.01, 1.0), (2.5, 1.0)] {
        let q = sgd_escape::escape::quench(&model, &[from], 0.5, 1000)[0];
        assert!((q - to).abs() < 1e-9, "quench from {from} ends at {q}");
    }
    let basin = Exit::Basin { center: start.to_vec(), tolerance: 1.0, quench_lr: 0.5, quench_steps: 1000 };
    let saddle = Exit::Coordinate { axis: 0, threshold: 0.0 };
    let spec = EnsembleSpec { seed: 8, replicas: 100, max_steps: 5000 };
    for k in [1u64, 25] {
        let by_basin = run_ensemble_checked(&model, &sde, &basin, &start, spec, k, Vec::new(), &|_| {});
        let by_saddle = run_ensemble_checked(&model, &sde, &saddle, &start, spec, k, Vec::new(), &|_| {});
        let escaped = by_basin.iter().filter(|o| o.status == Status::Escaped).count();
        assert!(escaped > 20 && escaped < 100, "k = {k}: {escaped} of 100 escaped");
        for (b, s) in by_basin.iter().zip(&by_saddle) {
            assert_eq!((b.status, b.steps), (s.status, s.steps), "k = {k}, replica {}", b.replica);
            assert_eq!(b.final_theta, s.final_theta);
        }
    }
}

#[test]
fn a_basin_exit_from_a_configuration_fills_its_step_and_finds_the_saddle() {
    let text = "seed = 1\nreplicas = 40\nmax_steps = 200000\n[model]\nkind = \"double-well\"\nepsilon = 0.25\n\
                [dynamics]\nkind = \"sde\"\ndt = 0.01\n[dynamics.noise]\nkind = \"paper\"\nlr = 0.2\n\
                [start]\npoint = [-1.0]\n[exit]\nkind = \"basin\"\ntolerance = 1.0\ncheck_every = 10\n";
    let config = Config::from_toml(text, Path::new("basin.toml")).unwrap();
    let (summary, outcomes) = run_in_memory(&config, Path::new("."), None, &|_| {}).unwrap();
    let echoed = serde_json::to_value(&summary.config).unwrap();
    assert_eq!(echoed["exit"]["quench_lr"], 0.5, "1/λmax(H*) = 1/2 written out");
    assert_eq!(echoed["exit"]["quench_steps"], 1000);
    assert!(summary.landscape.saddle.as_ref().is_some_and(|s| s.theta[0].abs() < 1e-8));
    assert!(summary.warnings.iter().any(|w| w.contains("quenched every 10 steps")), "{:?}", summary.warnings);
    assert!(outcomes.iter().all(|o| o.status == Status::Escaped && o.final_theta[0] > 0.0));
    let ams = format!("{}[estimator]\nkind = \"ams\"\n", text.replace("replicas = 40\nmax_steps = 200000\n", ""));
    let e = run_in_memory(&Config::from_toml(&ams, Path::new("ams.toml")).unwrap(), Path::new("."), None, &|_| {}).unwrap_err();
    assert!(e.to_string().contains("exit.kind") && e.to_string().contains("splitting"), "{e}");
}

/// The distance exit, Euclidean and in the metric of H(θ*) = diag(2, k) on the 2-D double
/// well, against the replica's own stream stepped by hand with the distance written out.
#[test]
fn the_distance_exit_matches_its_formula_step_by_step() {
    let model = sgd_escape::model::DoubleWell { epsilon: 0.25, dim: 2, stiffness: 3.0 };
    let sde = Sde::new(&model, 0.01, Noise::Isotropic { temperature: 0.1 }, None).unwrap();
    let start = [-1.0, 0.0];
    let (seed, replicas, max_steps) = (5, 60, 3000);
    let spec = EnsembleSpec { seed, replicas, max_steps };
    let euclidean = Exit::Distance { center: start.to_vec(), radius: 0.6, metric: None };
    let hessian = Exit::Distance { center: start.to_vec(), radius: 0.8, metric: Some(vec![2.0, 0.0, 0.0, 3.0]) };
    type Squared = fn(f64, f64) -> f64;
    let formulas: [(&Exit, Squared, f64); 2] = [(&euclidean, |a, b| a * a + b * b, 0.6), (&hessian, |a, b| 2.0 * a * a + 3.0 * b * b, 0.8)];
    for (exit, squared, radius) in formulas {
        for k in [1u64, 5] {
            let outcomes = run_ensemble_checked(&model, &sde, exit, &start, spec, k, Vec::new(), &|_| {});
            let mut escaped = 0;
            for o in &outcomes {
                let mut rng = replica_rng(seed, o.replica as u64);
                let mut ws = sde.workspace();
                let mut theta = start.to_vec();
                let mut holds = Vec::new();
                for _ in 0..max_steps {
                    sde.step(&mut theta, &mut ws, &mut rng);
                    holds.push(squared(theta[0] + 1.0, theta[1]) > radius * radius);
                }
                match expected_exit(&holds, k as usize) {
                    Some(s) => {
                        assert_eq!((o.status, o.steps), (Status::Escaped, s as u64), "{exit:?}, k = {k}, replica {}", o.replica);
                        escaped += 1;
                    }
                    None => assert_eq!(o.status, Status::Censored),
                }
            }
            assert!(escaped > 10, "{exit:?}, k = {k}: {escaped} escaped");
        }
    }
}

#[test]
fn a_hessian_distance_exit_from_a_configuration_uses_the_positive_part_of_h() {
    let text = "seed = 1\nreplicas = 30\nmax_steps = 100000\n[model]\nkind = \"double-well\"\nepsilon = 0.25\ndim = 2\nstiffness = 3.0\n\
                [dynamics]\nkind = \"sde\"\ndt = 0.01\n[dynamics.noise]\nkind = \"isotropic\"\ntemperature = 0.1\n\
                [start]\npoint = [-1.0, 0.0]\n[exit]\nkind = \"distance\"\nradius = 0.8\nmetric = \"hessian\"\n";
    let config = Config::from_toml(text, Path::new("distance.toml")).unwrap();
    let (summary, outcomes) = run_in_memory(&config, Path::new("."), None, &|_| {}).unwrap();
    for o in &outcomes {
        let (a, b) = (o.final_theta[0] + 1.0, o.final_theta[1]);
        assert!(o.status == Status::Escaped && 2.0 * a * a + 3.0 * b * b > 0.64, "{o:?}");
    }
    assert_eq!(serde_json::to_value(&summary.config).unwrap()["exit"]["metric"], "hessian");
    let ams = format!("{}[estimator]\nkind = \"ams\"\n", text.replace("replicas = 30\nmax_steps = 100000\n", ""));
    let e = run_in_memory(&Config::from_toml(&ams, Path::new("ams.toml")).unwrap(), Path::new("."), None, &|_| {}).unwrap_err();
    assert!(e.to_string().contains("exit.kind") && e.to_string().contains("\"distance\""), "{e}");
}

/// `kind = "saddle-plane"`: the hyperplane through the saddle, orthogonal to its escape
/// direction and with θ* on the near side; a run with it equals, escape for escape, a run with
/// that hyperplane written out as `kind = "hyperplane"`. `beyond` moves it along the normal,
/// and without a saddle it is refused naming the key.
#[test]
fn the_saddle_plane_is_the_hyperplane_through_the_saddle() {
    let text = |exit: &str, landscape: &str| {
        format!(
            "seed = 3\nreplicas = 40\nmax_steps = 20000\n[model]\nkind = \"curve\"\ndim = 2\nsamples = 500\n[dynamics]\nkind = \"sgd\"\nlr = 0.2\nbatch_size = 1\n[exit]\n{exit}\n[landscape]\n{landscape}\n"
        )
    };
    let run = |text: &str| run_in_memory(&Config::from_toml(text, Path::new("t.toml")).unwrap(), Path::new("."), None, &|_| {}).unwrap();
    let prepared =
        |text: &str| sgd_escape::experiment::prepare(&Config::from_toml(text, Path::new("t.toml")).unwrap(), Path::new(".")).unwrap();
    let plane = prepared(&text("kind = \"saddle-plane\"", "saddle = \"neb\""));
    let saddle = plane.landscape.saddle.as_ref().unwrap();
    let Exit::Hyperplane { normal, offset } = &plane.exit else { panic!("{:?}", plane.exit) };
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    assert!((dot(normal, normal) - 1.0).abs() < 1e-12);
    assert!((dot(normal, &saddle.escape_direction).abs() - 1.0).abs() < 1e-12);
    assert!((offset - dot(normal, &saddle.theta)).abs() < 1e-12);
    let toward: Vec<f64> = saddle.theta.iter().zip(&plane.start.theta).map(|(s, m)| s - m).collect();
    assert!(dot(normal, &toward) > 0.0);
    assert_eq!(plane.landscape.barrier.as_ref().unwrap().from, "saddle");

    let explicit = text(&format!("kind = \"hyperplane\"\nnormal = {normal:?}\npoint = {:?}", saddle.theta), "saddle = \"neb\"");
    let (a, outcomes_a) = run(&text("kind = \"saddle-plane\"", "saddle = \"neb\""));
    let (b, outcomes_b) = run(&explicit);
    assert!(outcomes_a.iter().filter(|o| o.status == Status::Escaped).count() >= 20, "most replicas escape");
    for (x, y) in outcomes_a.iter().zip(&outcomes_b) {
        assert_eq!((x.steps, x.status), (y.steps, y.status));
    }
    assert_eq!(a.escape.mean_time, b.escape.mean_time);

    let beyond = prepared(&text("kind = \"saddle-plane\"\nbeyond = 0.25", "saddle = \"neb\""));
    let Exit::Hyperplane { offset: moved, .. } = &beyond.exit else { panic!() };
    assert!((moved - offset - 0.25).abs() < 1e-12);

    let e = Config::from_toml(&text("kind = \"saddle-plane\"", "saddle = \"none\""), Path::new("t.toml"))
        .and_then(|c| sgd_escape::experiment::prepare(&c, Path::new(".")).map(|_| ()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("`exit.kind`") && e.contains("needs a saddle"), "{e}");
}
