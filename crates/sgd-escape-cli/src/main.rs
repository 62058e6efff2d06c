//! `sgd-escape`: the command-line front end. Argument parsing, progress and exit codes only;
//! the science lives in the `sgd-escape` library.
//!
//! Exit status: 0 success, 2 invalid input (configuration, data, arguments), 1 other failure.

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use sgd_escape::experiment::{Config, run::run_in_dir};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "sgd-escape",
    version,
    about = "Predict and measure how SGD escapes local minima (Mori et al., ICML 2022)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run an escape experiment: replicas of SGD or an SDE from a minimum until they exit.
    Run {
        /// The TOML configuration (see docs/config.md).
        config: PathBuf,
        /// Output folder for summary.json, escape_times.csv and survival.csv.
        #[arg(long)]
        out: PathBuf,
        /// Override the configuration's `seed`.
        #[arg(long)]
        seed: Option<u64>,
        /// Override the configuration's `replicas`.
        #[arg(long)]
        replicas: Option<usize>,
        /// Worker threads (default: all cores). Results do not depend on it.
        #[arg(long)]
        threads: Option<usize>,
    },
}

fn run(
    config_path: &Path,
    out: &Path,
    seed: Option<u64>,
    replicas: Option<usize>,
    threads: Option<usize>,
) -> Result<(), sgd_escape::Error> {
    if threads == Some(0) {
        return Err(sgd_escape::Error::invalid("--threads", 0, "must be ≥ 1"));
    }
    let mut config = Config::load(config_path)?;
    if seed.is_some() {
        config.seed = seed;
    }
    if replicas.is_some() {
        config.replicas = replicas;
    }
    if let Some(n) = threads {
        // Only fails if a global pool exists already, which cannot happen here.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global();
    }
    let base_dir = config_path.parent().unwrap_or(Path::new("."));
    let total = config
        .replicas
        .unwrap_or(sgd_escape::experiment::config::DEFAULT_REPLICAS) as u64;
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {elapsed_precise} [{bar:40}] {pos}/{len} replicas (eta {eta})",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    let started = std::time::Instant::now();
    let summary = run_in_dir(&config, base_dir, out, &|_| bar.inc(1))?;
    bar.finish_and_clear();
    let e = &summary.escape;
    let r = &e.rate_per_time;
    eprintln!(
        "{} replicas: {} escaped, {} censored, {} diverged in {:.2} s",
        e.replicas,
        e.escaped,
        e.censored,
        e.diverged,
        started.elapsed().as_secs_f64()
    );
    eprintln!(
        "L(θ*) = {:.6e} at θ* = {:?}",
        summary.minimum.loss, summary.minimum.theta
    );
    eprintln!(
        "mean escape time t = {:.6e} ± {:.2e} ({:.4e} steps)",
        e.mean_time, e.mean_time_stderr, e.mean_steps
    );
    eprintln!(
        "escape rate per unit t = {:.6e}  (95% CI {:.6e} – {:.6e})",
        r.estimate, r.ci_low, r.ci_high
    );
    for w in &summary.warnings {
        eprintln!("warning: {w}");
    }
    eprintln!("wrote {}", out.join("summary.json").display());
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Run {
            config,
            out,
            seed,
            replicas,
            threads,
        } => run(config, out, *seed, *replicas, *threads),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(if e.is_invalid_input() { 2 } else { 1 })
        }
    }
}
