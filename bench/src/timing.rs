//! What the escape benchmarks share: command-line arguments, and timing an ensemble kernel
//! over repetitions with its median throughput.

use sgd_escape::escape::{EnsembleSpec, ReplicaOutcome, Status};
use std::time::Instant;

/// The value after `name` on the command line, or `default`.
pub fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The median (upper median for an even count).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs `kernel` `repeats` times on `replicas` replicas (seed = repetition), printing each
/// repetition's mean escape time and throughput in replica-steps per second, then the medians.
/// Each replica stops at its own exit, so gross and useful throughput coincide.
pub fn time_kernel(name: &str, replicas: usize, repeats: usize, max_steps: u64, kernel: &dyn Fn(EnsembleSpec) -> Vec<ReplicaOutcome>) {
    let mut throughputs = Vec::new();
    let mut walls = Vec::new();
    for rep in 0..repeats {
        let spec = EnsembleSpec { seed: rep as u64, replicas, max_steps };
        let t0 = Instant::now();
        let outcomes = kernel(spec);
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
