//! Benchmark workload W1 (paper Fig. 3b setting): 1-D linear regression with x, y i.i.d.
//! N(0, 1), N = 10⁴, SGD with B = 1, η = 0.1, indices with replacement, every replica starts at
//! θ* and exits the first time L(θ) > ratio · L(θ*). Same workload as the JAX peer
//! `bench/w1_jax.py`.
//!
//! Times two kernels that give bit-identical outcomes: the generic replica loop
//! (`escape::run_ensemble` with `dynamics::Sgd`) and the struct-of-arrays lane kernel
//! (`escape::lanes`, what `sgd-escape run` uses for this setting). Prints per repetition and the
//! median over repetitions: the mean escape time and the throughput in replica-steps per
//! second. Each replica stops at its own exit, so gross and useful throughput coincide.
//!
//! Usage: `cargo run --release -p sgd-escape-bench --bin w1 -- [--ratio 1.5] [--replicas 10000]
//!        [--samples 10000] [--lr 0.1] [--repeats 5] [--threads N] [--curve] [--kernels generic,lanes]`
//!
//! `--curve` runs the same workload on the one-parameter curve model (φ(θ) = (sθ, κ(θ² − 1)),
//! s = 0.5, κ = 1, labels σξ with σ = 0.5, from its left minimum): the lane kernel on a nonlinear
//! feature map.

use sgd_escape::dynamics::{Sampling, Sgd};
use sgd_escape::escape::lanes::run_feature_model_sgd;
use sgd_escape::escape::{EnsembleSpec, Exit, ReplicaOutcome, run_ensemble};
use sgd_escape::landscape::{MinimizeOptions, minimize};
use sgd_escape::model::{CurveMap, DataModel, Dataset, FeatureMap, FeatureModel, LinearMap, Model};

#[path = "timing.rs"]
mod timing;
use timing::{arg, time_kernel};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let ratio: f64 = arg(&args, "--ratio", 1.5);
    let replicas: usize = arg(&args, "--replicas", 10_000);
    let samples: usize = arg(&args, "--samples", 10_000);
    let lr: f64 = arg(&args, "--lr", 0.1);
    let repeats: usize = arg(&args, "--repeats", 5);
    let threads: usize = arg(&args, "--threads", 0);
    let kernels: String = arg(&args, "--kernels", "generic,lanes".to_string());
    if threads > 0 {
        rayon::ThreadPoolBuilder::new().num_threads(threads).build_global().expect("thread pool");
    }
    if args.iter().any(|a| a == "--curve") {
        let map = CurveMap { dim: 1, s: 0.5, kappa: 1.0, stiffness: 1.0 };
        let model = FeatureModel::new(map, Dataset::gaussian(samples, 2, 0, |_, xi| 0.5 * xi)).unwrap();
        return workload("curve", &model, -1.0, ratio, replicas, lr, repeats, &kernels);
    }
    let model = FeatureModel::new(LinearMap { dim: 1 }, Dataset::gaussian(samples, 1, 0, |_, xi| xi)).unwrap();
    workload("linear regression", &model, 0.0, ratio, replicas, lr, repeats, &kernels);
}

/// Times the kernels named in `selected` (`generic`, `lanes`) on `model` from the minimum found
/// from `from`.
#[allow(clippy::too_many_arguments)]
fn workload<F: FeatureMap>(
    name: &str,
    model: &FeatureModel<F>,
    from: f64,
    ratio: f64,
    replicas: usize,
    lr: f64,
    repeats: usize,
    selected: &str,
) {
    let samples = model.samples();
    let minimum = minimize(model, &[from], MinimizeOptions::default()).expect("the model has a minimum");
    let exit = Exit::LossAbove { threshold: ratio * model.loss(&minimum.theta) };
    let sgd = Sgd::new(model, lr, 1, Sampling::WithReplacement).unwrap();
    println!(
        "W1 ({name}): N = {samples}, B = 1, lr = {lr}, ratio = {ratio}, replicas = {replicas}, threads = {}",
        rayon::current_num_threads()
    );
    type Kernel<'a> = Box<dyn Fn(EnsembleSpec) -> Vec<ReplicaOutcome> + 'a>;
    let kernels: [(&str, Kernel); 2] = [
        ("generic", Box::new(|spec| run_ensemble(model, &sgd, &exit, &minimum.theta, spec, Vec::new(), &|_| {}))),
        (
            "lanes",
            Box::new(|spec| run_feature_model_sgd(model, lr, 1, &exit, &minimum.theta, spec, Vec::new(), &|_| {}).expect("valid settings")),
        ),
    ];
    for (name, kernel) in kernels.iter().filter(|(n, _)| selected.split(',').any(|k| k == *n)) {
        time_kernel(name, replicas, repeats, 10_000_000, kernel);
    }
}
