//! W3: 256 replicas of SGD on a 784-100-100-1 ReLU network (P = 88 701, B = 100, η = 0.01,
//! indices with replacement) on 10⁴ Fashion-MNIST images with ±1 labels, 1000 steps each from
//! the same Glorot start, no exit: the replica loop that `sgd-escape run` uses for networks
//! (`escape::run_ensemble` with the `Sgd` stepper; its steps allocate nothing,
//! tests/allocations.rs). The peer is `bench/w3_jax.py` (JAX, `vmap` over replicas, jit,
//! float64).
//!
//! ```sh
//! ./target/release/w3 --replicas 256 --steps 1000 --repeats 1
//! ./target/release/w3 --replicas 256 --steps 1000 --gemm-bound
//! ```
//!
//! `--gemm-bound` times only the matrix products of the same steps (every forward z = a·Wᵀ,
//! every ∇W += δᵀ·a, every adjoint δ·W, with the same shapes, layouts and threads), without the
//! batch gathering, activations, bias sums and updates: an upper bound on the replica-steps
//! per second of any loop, batched or not, that computes the R minibatch gradients with these
//! products.

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
    if args.iter().any(|a| a == "--gemm-bound") {
        return gemm_bound(model.sizes(), spec.batch_size, replicas, steps, repeats);
    }
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

/// The matrix products of `steps` SGD steps on `replicas` replicas, in parallel over replicas
/// as the ensemble runs them; prints replica-steps per second.
fn gemm_bound(sizes: &[usize], batch: usize, replicas: usize, steps: u64, repeats: usize) {
    use rayon::prelude::*;
    use sgd_escape::linalg::gemm;
    let layers = sizes.len() - 1;
    let p: usize = (0..layers).map(|i| sizes[i] * sizes[i + 1] + sizes[i + 1]).sum();
    let widest = sizes.iter().copied().max().unwrap_or(0);
    let mut rates = Vec::new();
    for rep in 0..repeats {
        let t0 = Instant::now();
        let checksum: f64 = (0..replicas)
            .into_par_iter()
            .with_max_len(1)
            .map(|r| {
                let theta: Vec<f64> = (0..p).map(|j| ((j * 7 + r) % 13) as f64 * 1e-3).collect();
                let mut grad = vec![0.0; p];
                let acts: Vec<Vec<f64>> = sizes.iter().map(|&w| (0..batch * w).map(|j| (j % 5) as f64 * 0.1).collect()).collect();
                let mut z: Vec<Vec<f64>> = sizes.iter().map(|&w| vec![0.0; batch * w]).collect();
                let mut delta = vec![0.1; batch * widest];
                let mut below = vec![0.0; batch * widest];
                for _ in 0..steps {
                    // Fresh adjoints each step: values that shrink from step to step would
                    // turn subnormal and slow every product down.
                    delta.fill(0.1);
                    let mut offset = 0;
                    for i in 0..layers {
                        let (inp, out) = (sizes[i], sizes[i + 1]);
                        gemm(&mut z[i + 1], &acts[i], &theta[offset..offset + inp * out], batch, inp, out, false, true, true);
                        offset += inp * out + out;
                    }
                    for i in (0..layers).rev() {
                        let (inp, out) = (sizes[i], sizes[i + 1]);
                        offset -= inp * out + out;
                        gemm(&mut grad[offset..offset + inp * out], &delta[..batch * out], &acts[i], out, batch, inp, true, false, true);
                        if i > 0 {
                            gemm(
                                &mut below[..batch * inp],
                                &delta[..batch * out],
                                &theta[offset..offset + inp * out],
                                batch,
                                out,
                                inp,
                                false,
                                false,
                                false,
                            );
                            std::mem::swap(&mut delta, &mut below);
                        }
                    }
                }
                grad[0] + z[layers][0]
            })
            .sum();
        let wall = t0.elapsed().as_secs_f64();
        let rate = (replicas as u64 * steps) as f64 / wall;
        println!(
            "{{\"implementation\": \"gemm-bound\", \"repetition\": {rep}, \"seconds\": {wall:.3}, \"replica_steps_per_second\": {rate:.1}, \"checksum\": {checksum:e}}}"
        );
        rates.push(rate);
    }
    println!(
        "{{\"implementation\": \"gemm-bound\", \"threads\": {}, \"median_replica_steps_per_second\": {:.1}}}",
        rayon::current_num_threads(),
        median(rates)
    );
}
