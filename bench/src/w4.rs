//! W4: the 10 largest Hessian eigenvalues of a trained 784-256-256-256-10 ReLU network
//! (P = 335 114) on 10⁴ Fashion-MNIST images, by `landscape::spectrum::lanczos_extreme` on
//! the network's Hessian-vector products (what `sgd-escape landscape` runs above the dense
//! limit). The peer is `bench/hessian_jax.py` (JAX HVPs and scipy's ARPACK `eigsh`) on the same
//! parameters; compare at equal residual.
//!
//! ```sh
//! ./target/release/sgd-escape train bench/w4/train.toml --out target/w4
//! ./target/release/w4 --train bench/w4/train.toml --params target/w4/params.json --tolerance 1e-6 --repeats 3
//! ```
//!
//! Prints, per repetition and as medians, the wall time, the Krylov steps (HVPs), the
//! eigenvalues and the largest residual ‖Hv − λv‖ recomputed with independent products.
//!
//! Two modes time the matrix products alone, with synthetic operands of the same shapes:
//! `--gemm-bound [--hvps 37]` runs the products of that many HVPs' R-passes (same blocks of
//! samples, same layouts, parallel over the same groups), a bound on what any HVP built on
//! these products can reach; `--gemm-shapes` times each product shape on one thread with the
//! row-major destination `linalg::gemm` uses and with a column-major one (the transposed
//! activation layout), in GFLOP/s.

#[path = "timing.rs"]
#[allow(dead_code)]
mod timing;

use sgd_escape::experiment::config::TrainConfig;
use sgd_escape::experiment::train::resolve;
use sgd_escape::landscape::curvature::{Hessian, Operator};
use sgd_escape::landscape::spectrum::{LanczosOptions, lanczos_extreme};
use sgd_escape::model::Model;
use std::path::Path;
use std::time::Instant;
use timing::{arg, median};

#[path = "w4_products.rs"]
mod products;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let train: String = arg(&args, "--train", "bench/w4/train.toml".to_string());
    let params: String = arg(&args, "--params", "target/w4/params.json".to_string());
    let k: usize = arg(&args, "--k", 10);
    let tolerance: f64 = arg(&args, "--tolerance", 1e-6);
    let repeats: usize = arg(&args, "--repeats", 3);
    let config = TrainConfig::load(Path::new(&train)).expect("the training file");
    let spec = resolve(&config, Path::new(".")).expect("the network and its data");
    let model = &spec.model;
    if args.iter().any(|a| a == "--gemm-bound") {
        return products::bound(model.sizes(), model.data().len(), arg(&args, "--hvps", 37), repeats);
    }
    if args.iter().any(|a| a == "--gemm-shapes") {
        return products::shapes(model.sizes());
    }
    let text = std::fs::read_to_string(&params).expect("params.json");
    let json: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let theta: Vec<f64> = json["theta"].as_array().expect("theta").iter().map(|v| v.as_f64().expect("number")).collect();
    assert_eq!(theta.len(), model.dim(), "params.json does not match the network");
    let hessian = Hessian::new(model, &theta);
    let mut walls = Vec::new();
    for rep in 0..repeats {
        let t0 = Instant::now();
        let pairs = lanczos_extreme(&hessian, k, true, LanczosOptions { tolerance, max_steps: 1000, seed: rep as u64 });
        let wall = t0.elapsed().as_secs_f64();
        let mut hv = vec![0.0; theta.len()];
        let residual = pairs
            .values
            .iter()
            .zip(&pairs.vectors)
            .map(|(l, v)| {
                hessian.apply(v, &mut hv);
                hv.iter().zip(v).map(|(a, b)| (a - l * b).powi(2)).sum::<f64>().sqrt()
            })
            .fold(0.0_f64, f64::max);
        println!(
            "{{\"implementation\": \"sgd-escape\", \"repetition\": {rep}, \"seconds\": {wall:.3}, \"hvps\": {}, \"converged\": {}, \"max_residual\": {residual:.3e}, \"eigenvalues\": {:?}}}",
            pairs.steps, pairs.converged, pairs.values
        );
        walls.push(wall);
    }
    println!(
        "{{\"implementation\": \"sgd-escape\", \"threads\": {}, \"parameters\": {}, \"median_seconds\": {:.3}}}",
        rayon::current_num_threads(),
        theta.len(),
        median(walls)
    );
}
