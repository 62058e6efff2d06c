//! Benchmark workload W2: the 1-D double well L = ε + (θ² − 1)²/4 with the paper's noise
//! Σ = 2L(θ)H*/B (h* = 2), β = B/(ηh*) = 5 and c = L(θˢ)/L* = 2 (ε = 1/4, η = 0.1, B = 1),
//! Euler–Maruyama at dt = 0.01 with exits checked at the steps, every replica from θ* = −1
//! until θ ≥ 1. Same workload as the JAX peer `bench/w2_jax.py`.
//!
//! Times two kernels that give bit-identical outcomes: the generic replica loop
//! (`escape::run_ensemble` with `dynamics::Sde`) and the struct-of-arrays SDE lane kernel
//! (`escape::sde_lanes`, what `sgd-escape run` uses for this model). With `--solver adaptive`
//! both run the default solver (adaptive steps, exits between steps by the Brownian bridge).
//! Prints per repetition and the median: the mean escape time and the throughput in
//! replica-steps per second (each replica stops at its own exit: gross = useful).
//!
//! Usage: `cargo run --release -p sgd-escape-bench --bin w2 -- [--replicas 100000] [--dt 0.01]
//!        [--repeats 3] [--threads N] [--solver euler-maruyama|adaptive] [--kernels generic,lanes]`

use sgd_escape::dynamics::{HessianRoot, Noise, Sde, Solver};
use sgd_escape::escape::sde_lanes::{DoubleWellSde, run_double_well_sde};
use sgd_escape::escape::{EnsembleSpec, Exit, ReplicaOutcome, run_ensemble};
use sgd_escape::model::DoubleWell;

#[path = "timing.rs"]
mod timing;
use timing::{arg, time_kernel};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let replicas: usize = arg(&args, "--replicas", 100_000);
    let dt: f64 = arg(&args, "--dt", 0.01);
    let repeats: usize = arg(&args, "--repeats", 3);
    let threads: usize = arg(&args, "--threads", 0);
    let solver_name: String = arg(&args, "--solver", "euler-maruyama".to_string());
    let kernels_arg: String = arg(&args, "--kernels", "generic,lanes".to_string());
    if threads > 0 {
        rayon::ThreadPoolBuilder::new().num_threads(threads).build_global().expect("thread pool");
    }
    let model = DoubleWell { epsilon: 0.25, dim: 1, stiffness: 1.0 };
    let noise = Noise::Paper { lr: 0.1, batch_size: 1, sqrt_hessian: HessianRoot::Dense(vec![2f64.sqrt()]) };
    let (solver, bridge) = match solver_name.as_str() {
        "adaptive" => (Solver::Adaptive { tolerance: 0.05, length: 2.0, origin: vec![-1.0] }, true),
        _ => (Solver::EulerMaruyama, false),
    };
    let exit = Exit::Coordinate { axis: 0, threshold: 1.0 };
    let sde = Sde::new(&model, dt, noise.clone(), None).unwrap().with_solver(solver.clone()).with_bridge(bridge);
    let kernel = DoubleWellSde::new(&model, dt, &noise, &solver, bridge, &exit).expect("the lane kernel covers this workload");
    println!(
        "W2: double well, paper noise, beta = 5, c = 2, dt = {dt}, solver = {solver_name}, replicas = {replicas}, threads = {}",
        rayon::current_num_threads()
    );
    type Kernel<'a> = Box<dyn Fn(EnsembleSpec) -> Vec<ReplicaOutcome> + 'a>;
    let all: [(&str, Kernel); 2] = [
        ("generic", Box::new(|spec| run_ensemble(&model, &sde, &exit, &[-1.0], spec, Vec::new(), &|_| {}))),
        ("lanes", Box::new(|spec| run_double_well_sde(&kernel, &exit, &[-1.0], spec, Vec::new(), &|_| {}))),
    ];
    for (name, run) in all.iter().filter(|(n, _)| kernels_arg.split(',').any(|k| k == *n)) {
        time_kernel(name, replicas, repeats, 1_000_000_000, run);
    }
}
