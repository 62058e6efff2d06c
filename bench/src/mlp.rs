//! MLP throughput: full-batch loss and gradient, Hessian-vector product, and per-sample
//! gradient norms of an MLP 784-256-256-256-10 (ReLU, P = 335 114) on N = 2000 samples with
//! Gaussian inputs and one-hot targets, in float64. Prints the median wall time per sample of
//! each operation over `--repeats` runs, as JSON, for comparison with `bench/mlp_jax.py` (the
//! same network and data sizes in JAX, float64). Run both interleaved on the same machine.

use sgd_escape::model::prelude::*;
use sgd_escape::model::{Activation, Dataset, Mlp};
use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let repeats: usize = args.iter().position(|a| a == "--repeats").and_then(|i| args.get(i + 1)).and_then(|s| s.parse().ok()).unwrap_or(5);
    let n = 2000;
    let base = Dataset::gaussian(n, 784, 1, |_, _| 0.0);
    let y: Vec<f64> = (0..n).flat_map(|mu| (0..10).map(move |k| if k == mu % 10 { 1.0 } else { 0.0 })).collect();
    let data = Dataset { features: 784, outputs: 10, x: base.x, y };
    let model = Mlp::new(&[256, 256, 256], Activation::Relu, data).unwrap();
    let theta = model.glorot(0);
    let p = model.dim();
    let v: Vec<f64> = (0..p).map(|i| ((i % 97) as f64 - 48.0) / 480.0).collect();
    let mut grad = vec![0.0; p];
    let mut hv = vec![0.0; p];
    let time = |f: &mut dyn FnMut()| {
        f();
        median(
            (0..repeats)
                .map(|_| {
                    let t = Instant::now();
                    f();
                    t.elapsed().as_secs_f64()
                })
                .collect(),
        )
    };
    let gradient = time(&mut || {
        model.loss_and_gradient(&theta, &mut grad);
    });
    let hvp = time(&mut || model.hvp(&theta, &v, &mut hv));
    let norms = time(&mut || {
        std::hint::black_box(model.per_sample_losses_and_gradient_norms(&theta));
    });
    let us = |s: f64| 1e6 * s / n as f64;
    println!(
        "{{\"implementation\": \"sgd-escape\", \"threads\": {}, \"parameters\": {p}, \"samples\": {n}, \"gradient_us_per_sample\": {:.3}, \"hvp_us_per_sample\": {:.3}, \"sample_gradient_norms_us_per_sample\": {:.3}}}",
        rayon::current_num_threads(),
        us(gradient),
        us(hvp),
        us(norms)
    );
}
