//! W5: SGD replicas of a small network, the workload of the `mlp-barrier` reproduction: the
//! 13-2-3 tanh network (P = 37, weight decay 0.01) on the built-in wine data (178 samples,
//! standardised, one-hot targets), B = 1 drawn with replacement, η = 0.05, every replica from
//! the same Glorot start, no exit, a fixed number of steps each. sgd-escape runs the network
//! lane kernel (`escape::mlp_lanes`, what `sgd-escape run` uses here) and, with `--per-replica`,
//! the per-replica loop it replaced (`escape::run_ensemble` with the `Sgd` stepper); their
//! outcomes are bit-identical. The peer is `bench/w5_jax.py` (JAX, `vmap` over replicas, jit,
//! float64).
//!
//! ```sh
//! ./target/release/w5 --replicas 10000 --steps 10000 --repeats 1
//! ./target/release/w5 --replicas 10000 --steps 10000 --repeats 1 --per-replica
//! ```

#[path = "timing.rs"]
#[allow(dead_code)]
mod timing;

use sgd_escape::dynamics::{Sampling, Sgd};
use sgd_escape::escape::mlp_lanes::run_mlp_sgd;
use sgd_escape::escape::{EnsembleSpec, Exit, Status, run_ensemble};
use sgd_escape::experiment::config::TrainConfig;
use sgd_escape::experiment::train::resolve;
use std::path::Path;
use std::time::Instant;
use timing::{arg, median};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let train: String = arg(&args, "--train", "bench/w5/train.toml".to_string());
    let replicas: usize = arg(&args, "--replicas", 10_000);
    let steps: u64 = arg(&args, "--steps", 10_000);
    let repeats: usize = arg(&args, "--repeats", 1);
    let per_replica = args.iter().any(|a| a == "--per-replica");
    let spec =
        resolve(&TrainConfig::load(Path::new(&train)).expect("the training file"), Path::new(".")).expect("the network and its data");
    let model = &spec.model;
    let theta = model.glorot(0);
    let sgd = Sgd::new(model, spec.lr, spec.batch_size, Sampling::WithReplacement).expect("valid settings");
    let name = if per_replica { "sgd-escape per-replica loop" } else { "sgd-escape lane kernel" };
    let mut rates = Vec::new();
    for rep in 0..repeats {
        let ensemble = EnsembleSpec { seed: rep as u64, replicas, max_steps: steps };
        let t0 = Instant::now();
        let outcomes = if per_replica {
            run_ensemble(model, &sgd, &Exit::Never, &theta, ensemble, Vec::new(), &|_| {})
        } else {
            run_mlp_sgd(model, spec.lr, spec.batch_size, &Exit::Never, &theta, ensemble, Vec::new(), &|_| {})
                .expect("the kernel applies to W5's network")
        };
        let wall = t0.elapsed().as_secs_f64();
        let total: u64 = outcomes.iter().map(|o| o.steps).sum();
        let censored = outcomes.iter().filter(|o| o.status == Status::Censored).count();
        let rate = total as f64 / wall;
        println!(
            "{{\"implementation\": \"{name}\", \"repetition\": {rep}, \"seconds\": {wall:.3}, \"replica_steps\": {total}, \"ran_to_the_end\": {censored}, \"replica_steps_per_second\": {rate:.4e}}}"
        );
        rates.push(rate);
    }
    println!(
        "{{\"implementation\": \"{name}\", \"threads\": {}, \"median_replica_steps_per_second\": {:.4e}}}",
        rayon::current_num_threads(),
        median(rates)
    );
}
