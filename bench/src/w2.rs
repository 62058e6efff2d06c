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

use sgd_escape::dynamics::{Noise, Sde, Solver};
use sgd_escape::escape::sde_lanes::{DoubleWellSde, run_double_well_sde};
use sgd_escape::escape::{EnsembleSpec, Exit, ReplicaOutcome, Status, run_ensemble};
use sgd_escape::model::DoubleWell;
use std::time::Instant;

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

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
    let noise = Noise::Paper { lr: 0.1, batch_size: 1, sqrt_hessian: vec![2f64.sqrt()] };
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
        let mut throughputs = Vec::new();
        let mut walls = Vec::new();
        for rep in 0..repeats {
            let spec = EnsembleSpec { seed: rep as u64, replicas, max_steps: 1_000_000_000 };
            let t0 = Instant::now();
            let outcomes = run(spec);
            let wall = t0.elapsed().as_secs_f64();
            let steps: u64 = outcomes.iter().map(|o| o.steps).sum();
            let escaped = outcomes.iter().filter(|o| o.status == Status::Escaped).count();
            let mean_time = outcomes.iter().map(|o| o.time).sum::<f64>() / replicas as f64;
            let throughput = steps as f64 / wall;
            println!(
                "{name} repeat {rep}: mean_time = {mean_time:.4} escaped = {escaped}/{replicas} replica_steps = {steps} wall = {wall:.4} s throughput = {throughput:.3e} replica-steps/s"
            );
            throughputs.push(throughput);
            walls.push(wall);
        }
        println!("{name} median: wall = {:.4} s, throughput (gross = useful) = {:.3e} replica-steps/s", median(walls), median(throughputs));
    }
}
