//! W3: 256 replicas of SGD on a 784-100-100-1 ReLU network (P = 88 701, B = 100, η = 0.01,
//! indices with replacement) on 10⁴ Fashion-MNIST images with ±1 labels, 1000 steps each from
//! the same Glorot start, no exit: the replica loop that `sgd-escape run` uses for networks
//! (`escape::run_ensemble` with the `Sgd` stepper; its steps allocate nothing,
//! tests/allocations.rs). The peer is `bench/w3_jax.py` (JAX, `vmap` over replicas, jit,
//! float64).
//!
//! ```sh
//! ./target/release/w3 --replicas 256 --steps 1000 --repeats 1
//! ```

#[path = "timing.rs"]
#[allow(dead_code)]
mod timing;

use sgd_escape::dynamics::{Sampling, Sgd};
use sgd_escape::escape::{EnsembleSpec, Exit, run_ensemble};
use sgd_escape::experiment::config::TrainConfig;
use sgd_escape::experiment::train::resolve;
use sgd_escape::model::Model;
use std::path::Path;
use std::time::Instant;
use timing::{arg, median};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let train: String = arg(&args, "--train", "bench/w3/train.toml".to_string());
    let replicas: usize = arg(&args, "--replicas", 256);
    let steps: u64 = arg(&args, "--steps", 1000);
    let repeats: usize = arg(&args, "--repeats", 1);
    let spec =
        resolve(&TrainConfig::load(Path::new(&train)).expect("the training file"), Path::new(".")).expect("the network and its data");
    let model = &spec.model;
    let theta = model.glorot(0);
    let sgd = Sgd::new(model, spec.lr, spec.batch_size, Sampling::WithReplacement).expect("valid settings");
    let mut rates = Vec::new();
    for rep in 0..repeats {
        let t0 = Instant::now();
        let outcomes = run_ensemble(
            model,
            &sgd,
            &Exit::Never,
            &theta,
            EnsembleSpec { seed: rep as u64, replicas, max_steps: steps },
            Vec::new(),
            &|_| {},
        );
        let wall = t0.elapsed().as_secs_f64();
        let total: u64 = outcomes.iter().map(|o| o.steps).sum();
        let rate = total as f64 / wall;
        println!(
            "{{\"implementation\": \"sgd-escape\", \"repetition\": {rep}, \"seconds\": {wall:.3}, \"replica_steps\": {total}, \"replica_steps_per_second\": {rate:.1}}}"
        );
        rates.push(rate);
    }
    println!(
        "{{\"implementation\": \"sgd-escape\", \"threads\": {}, \"parameters\": {}, \"median_replica_steps_per_second\": {:.1}}}",
        rayon::current_num_threads(),
        model.dim(),
        median(rates)
    );
}
