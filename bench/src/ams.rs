//! Benchmark: the cost of a mean escape time to 10% relative error, splitting (AMS) against
//! brute force, at mean escape times of about 10⁶, 10⁸ and 10¹⁰ steps.
//!
//! Workload: the 1-D double well L = ε + (θ² − 1)²/4 with the paper's noise (η = 0.1, B = 2,
//! so β = 10), the default solver (adaptive, bridge) at dt = 0.01, from θ* = −1 to θ ≥ 1. ε is
//! chosen (by bisection on the quadrature's mean time, docs/theory.md eq. 20) so that the
//! mean escape time is 10⁶, 10⁸ or 10¹⁰ steps of dt.
//!
//! - Brute force: `--replicas` replicas (default 100: an exponential time has unit coefficient
//!   of variation, so 100 replicas give 10%), run where the predicted cost is at most
//!   `--budget` replica-steps, else extrapolated as 100 × E[steps] at the measured
//!   throughput of the affordable case.
//! - AMS: `runs` runs of `particles` particles; the cost to 10% is the measured cost times
//!   (measured relative standard error / 0.1)², the error falling as 1/√runs.
//!
//! Usage: `cargo run --release -p sgd-escape-bench --bin ams -- [--budget 2e10] [--runs 20]
//!        [--particles 200] [--threads N] [--brute-throughput R]`

use sgd_escape::experiment::config::Config;
use sgd_escape::experiment::prepare::prepare;
use sgd_escape::experiment::simulate::{simulate, simulate_ams};
use sgd_escape::experiment::splitting::ams_statistics;
use sgd_escape::stats::EscapeStatistics;
use std::path::Path;
use std::time::Instant;

#[path = "timing.rs"]
#[allow(dead_code)]
mod timing;
use timing::arg;

fn config(epsilon: f64, estimator: &str) -> Config {
    let text = format!(
        "seed = 1\n{estimator}\n[model]\nkind = \"double-well\"\nepsilon = {epsilon}\n[dynamics]\nkind = \"sde\"\ndt = 0.01\n\
         [dynamics.noise]\nkind = \"paper\"\nlr = 0.1\nbatch_size = 2\n[exit]\nkind = \"coordinate\"\nthreshold = 1.0\n"
    );
    Config::from_toml(&text, Path::new("ams-bench.toml")).expect("valid configuration")
}

/// The quadrature's mean escape time in steps of dt = 0.01.
fn quadrature_steps(epsilon: f64) -> f64 {
    let prepared = prepare(&config(epsilon, "replicas = 1"), Path::new(".")).expect("prepares");
    prepared.landscape.predictions.quadrature.as_ref().and_then(|q| q.mean_time).expect("a quadrature") / 0.01
}

/// ε with a mean escape time of `steps` steps (the time decreases with ε).
fn epsilon_for(steps: f64) -> f64 {
    let (mut lo, mut hi) = (0.01_f64, 2.0_f64);
    for _ in 0..60 {
        let mid = (lo * hi).sqrt();
        if quadrature_steps(mid) > steps { lo = mid } else { hi = mid }
    }
    (lo * hi).sqrt()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let budget: f64 = arg(&args, "--budget", 2e10);
    let runs: usize = arg(&args, "--runs", 20);
    let particles: usize = arg(&args, "--particles", 200);
    let replicas: usize = arg(&args, "--replicas", 100);
    let threads: usize = arg(&args, "--threads", 0);
    // `--brute-throughput R`: skip the brute-force runs and extrapolate every brute-force cost
    // at R replica-steps per second (to remeasure AMS alone).
    let given_throughput: f64 = arg(&args, "--brute-throughput", f64::NAN);
    if threads > 0 {
        rayon::ThreadPoolBuilder::new().num_threads(threads).build_global().expect("thread pool");
    }
    let mut throughput = given_throughput;
    println!(
        "| mean escape time (steps) | ε | brute force: replica-steps to 10% | brute force: wall | AMS: replica-steps to 10% | AMS: wall to 10% | AMS estimate / quadrature | ratio of steps |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for target in [1e6, 1e8, 1e10] {
        let epsilon = epsilon_for(target);
        let exact = quadrature_steps(epsilon);
        // Brute force.
        let predicted = replicas as f64 * exact;
        let (brute_steps, brute_wall, measured) = if predicted <= budget && given_throughput.is_nan() {
            let prepared =
                prepare(&config(epsilon, &format!("replicas = {replicas}\nmax_steps = 100000000000")), Path::new(".")).expect("prepares");
            let t0 = Instant::now();
            let outcomes = simulate(&prepared, Vec::new(), &|_| {}).expect("runs");
            let wall = t0.elapsed().as_secs_f64();
            let stats = EscapeStatistics::from_outcomes(&outcomes);
            let steps: f64 = outcomes.iter().map(|o| o.steps as f64).sum();
            throughput = steps / wall;
            // Scale to exactly 10%: n = (CV/0.1)² with the measured coefficient of variation.
            let cv = stats.mean_time_stderr / stats.mean_time * (replicas as f64).sqrt();
            let scale = (cv / 0.1).powi(2) / replicas as f64;
            (steps * scale, wall * scale, true)
        } else {
            (predicted, predicted / throughput, false)
        };
        // AMS.
        let prepared =
            prepare(&config(epsilon, &format!("[estimator]\nkind = \"ams\"\nparticles = {particles}\nruns = {runs}")), Path::new("."))
                .expect("prepares");
        let plan = prepared.ams.clone().expect("an AMS plan");
        let t0 = Instant::now();
        let (ams_runs, loops) = simulate_ams(&prepared, &plan, &Default::default(), &|_| {}).expect("runs");
        let wall = t0.elapsed().as_secs_f64();
        let (stats, report, _) = ams_statistics(&plan, ams_runs, loops);
        let steps = (report.steps_simulated.0 + report.steps_simulated.1) as f64;
        let rel = stats.mean_time_stderr / stats.mean_time;
        let scale = (rel / 0.1).powi(2);
        println!(
            "| {exact:.2e} | {epsilon:.4} | {:.2e}{} | {:.1} s{} | {:.2e} | {:.2} s | {:.3} ± {:.3} | {:.0} |",
            brute_steps,
            if measured { "" } else { " (extrapolated)" },
            brute_wall,
            if measured { "" } else { " (extrapolated)" },
            steps * scale,
            wall * scale,
            stats.mean_time / 0.01 / exact,
            rel * stats.mean_time / 0.01 / exact,
            brute_steps / (steps * scale)
        );
    }
}
