//! `exit.check_every`: a loss-above exit evaluated every k steps, with the crossing replayed to
//! its first step after the previous check, against an independent step-by-step reference.

use sgd_escape::dynamics::rng::replica_rng;
use sgd_escape::dynamics::{Sampling, Sgd, Stepper};
use sgd_escape::escape::{EnsembleSpec, Exit, Status, run_ensemble, run_ensemble_checked};
use sgd_escape::experiment::Config;
use sgd_escape::experiment::run::run_in_memory;
use sgd_escape::landscape::minimize;
use sgd_escape::model::{CurveMap, Dataset, FeatureModel, Model};
use std::path::Path;

/// The exit step the schedule must report, from the losses after each step: the first check
/// (a multiple of k, or `max_steps`) where L > threshold, then the first step after the
/// previous check where L > threshold.
fn expected_exit(losses: &[f64], threshold: f64, k: usize) -> Option<usize> {
    let n = losses.len();
    let checks = (1..=n).filter(|s| s % k == 0 || *s == n);
    let mut previous = 0;
    for c in checks {
        if losses[c - 1] > threshold {
            return (previous + 1..=c).find(|&s| losses[s - 1] > threshold);
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
            match expected_exit(&losses, threshold, k as usize) {
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
