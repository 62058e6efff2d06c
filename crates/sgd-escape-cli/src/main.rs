//! `sgd-escape`: the command-line front end. Argument parsing, progress and exit codes only;
//! the science lives in the `sgd-escape` library.
//!
//! Exit status: 0 success, 2 invalid input (configuration, data, arguments), 1 other failure.

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use sgd_escape::experiment::Config;
use sgd_escape::experiment::prepare::Prepared;
use sgd_escape::experiment::run::{RunOptions, run_in_dir};
use sgd_escape::report::folder::Existing;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod sweep;

#[derive(Parser)]
#[command(name = "sgd-escape", version, about = "Predict and measure how SGD escapes local minima (Mori et al., ICML 2022)")]
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
        /// Override the configuration's `seed` (an integer from 0 to 2⁶⁴ − 1).
        #[arg(long, allow_hyphen_values = true)]
        seed: Option<u64>,
        /// Override the configuration's `replicas`.
        #[arg(long, allow_hyphen_values = true)]
        replicas: Option<usize>,
        /// Worker threads (default: all cores). Results do not depend on it.
        #[arg(long, allow_hyphen_values = true)]
        threads: Option<usize>,
        /// If the folder holds results of another configuration or of changed inputs, move
        /// them into OUT/replaced-N instead of refusing.
        #[arg(long)]
        force: bool,
        /// The format of the per-replica table (escape_times or ams_runs): csv or parquet.
        #[arg(long, default_value = "csv")]
        format: String,
    },
    /// Sweeps: plan a grid of configurations, run it in shards (e.g. a Slurm job array),
    /// merge the results into one table.
    Sweep {
        #[command(subcommand)]
        command: sweep::SweepCommand,
    },
    /// Reproduce an experiment (or `all`): numbers, figures and a Markdown page. Finished
    /// points are cached in OUT/points, so an interrupted reproduction resumes.
    Reproduce {
        /// The experiment, or `all`.
        #[arg(value_parser = experiment_names())]
        name: String,
        /// Small grids and ensembles: about two minutes per experiment on 2 cores.
        #[arg(long)]
        quick: bool,
        /// Output folder.
        #[arg(long, default_value = "out/reproduce")]
        out: PathBuf,
        /// Base seed.
        #[arg(long, default_value_t = 1, allow_hyphen_values = true)]
        seed: u64,
    },
    /// Train an MLP with minibatch SGD, logging per epoch the loss, the gradient noise strength
    /// 𝒩, Tr Σ and test metrics to DIR/log.csv. Rerunning in the same folder resumes from the
    /// last checkpoint.
    Train {
        /// The TOML configuration: [model] (kind = "mlp"), [data], optional [test], [train].
        config: PathBuf,
        /// Output folder for log.csv, checkpoint.json, params.json and train.json.
        #[arg(long)]
        out: PathBuf,
        /// Worker threads (default: all cores). Results do not depend on it.
        #[arg(long, allow_hyphen_values = true)]
        threads: Option<usize>,
        /// If the folder holds another training run, move its files into OUT/replaced-N
        /// instead of refusing.
        #[arg(long)]
        force: bool,
    },
    /// Analyse the landscape: minimum, Hessian outliers, saddle, barrier, and the escape-rate
    /// predictions of every theory. Writes DIR/landscape.json and prints a table.
    Landscape {
        /// The TOML configuration (see docs/config.md).
        config: PathBuf,
        /// Output folder for landscape.json.
        #[arg(long)]
        out: PathBuf,
        /// If the folder holds results of another configuration, move them into
        /// OUT/replaced-N instead of refusing.
        #[arg(long)]
        force: bool,
    },
}

/// The names `reproduce` accepts: every experiment and `all` (listed by `--help`).
fn experiment_names() -> clap::builder::PossibleValuesParser {
    let names: Vec<&'static str> = sgd_escape::experiment::reproduce::EXPERIMENTS.iter().copied().chain(["all"]).collect();
    clap::builder::PossibleValuesParser::new(names)
}

fn reproduce(name: &str, quick: bool, out: &Path, seed: u64) -> Result<(), sgd_escape::Error> {
    use sgd_escape::experiment::reproduce::{Check, CheckKind, EXPERIMENTS, ReproduceOptions, reproduce};
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let options = ReproduceOptions { quick, out: out.to_path_buf(), seed, command };
    let names: Vec<&str> = if name == "all" { EXPERIMENTS.to_vec() } else { vec![name] };
    let mut table = Vec::new();
    let fashion = sgd_escape::data::fashion_mnist_available(Path::new(sgd_escape::data::FASHION_MNIST_DIR));
    for n in names {
        if name == "all" && sgd_escape::experiment::reproduce::needs_fashion_mnist(n) && !fashion {
            println!(
                "{n}: skipped: Fashion-MNIST is not installed in {} (apt-get install dataset-fashion-mnist)",
                sgd_escape::data::FASHION_MNIST_DIR
            );
            continue;
        }
        let started = std::time::Instant::now();
        let report = reproduce(n, &options, &|line| eprintln!("{line}"))?;
        println!("{} ({:.1} s)", report.name, started.elapsed().as_secs_f64());
        for line in &report.summary {
            println!("  {line}");
        }
        println!("  page: {}", out.join(format!("{}.md", report.name)).display());
        table.extend(report.checks.into_iter().map(|c| (report.name.clone(), c)));
    }
    // The summary table: every quantitative claim and whether it held in this run.
    let width = table.iter().map(|(_, c)| c.claim.chars().count()).max().unwrap_or(5).min(100);
    println!("\n{:<20} {:<width$} {:<28} holds", "experiment", "claim", "result");
    for (name, c) in &table {
        let claim: String =
            if c.claim.chars().count() > width { c.claim.chars().take(width - 1).chain(['…']).collect() } else { c.claim.clone() };
        let holds = match (c.holds, c.kind) {
            (true, _) => "yes",
            (false, CheckKind::Verification) => "NO",
            (false, CheckKind::Assumption) => "no (assumption)",
        };
        println!("{name:<20} {claim:<width$} {:<28} {holds}", c.result);
    }
    let verifications: Vec<&Check> = table.iter().map(|(_, c)| c).filter(|c| c.kind == CheckKind::Verification).collect();
    let held = verifications.iter().filter(|c| c.holds).count();
    println!("{held} of {} checks hold{}", verifications.len(), if quick { " (quick mode: small ensembles)" } else { "" });
    let assumptions: Vec<&Check> = table.iter().map(|(_, c)| c).filter(|c| c.kind == CheckKind::Assumption).collect();
    if !assumptions.is_empty() {
        let held = assumptions.iter().filter(|c| c.holds).count();
        println!("the theory's assumptions hold in {held} of {} tested cases (rows marked assumption)", assumptions.len());
    }
    Ok(())
}

use sgd_escape::linalg::brief;

fn fmt_opt(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.6e}")).unwrap_or_else(|| "—".into())
}

/// Refuses `--threads 0`.
pub(crate) fn check_threads(threads: Option<usize>) -> Result<(), sgd_escape::Error> {
    match threads {
        Some(0) => Err(sgd_escape::Error::invalid("--threads", 0, "must be ≥ 1")),
        _ => Ok(()),
    }
}

/// Sizes the global worker pool (`--threads`); results do not depend on it.
pub(crate) fn use_threads(threads: Option<usize>) {
    if let Some(n) = threads {
        // Only fails if a global pool exists already, which cannot happen here.
        let _ = rayon::ThreadPoolBuilder::new().num_threads(n).build_global();
    }
}

/// `--force` as the library's policy for an occupied output folder.
pub(crate) fn existing(force: bool) -> Existing {
    if force { Existing::MoveAside } else { Existing::Refuse }
}

fn landscape(config_path: &Path, out: &Path, force: bool) -> Result<bool, sgd_escape::Error> {
    let config = Config::load(config_path)?;
    let base_dir = config_path.parent().unwrap_or(Path::new("."));
    let report = sgd_escape::experiment::landscape::landscape_in_dir(&config, base_dir, out, existing(force))?.analysis;
    let m = &report.minimum;
    let o = &m.outliers;
    println!("minimum   θ* = {}   L* = {:.6e}", brief(&m.theta), m.loss);
    println!("spectrum  {}   λmax = {:.6e}", m.hessian_spectrum.describe(), m.hessian_eigenvalues.last().copied().unwrap_or(f64::NAN));
    println!("outliers  n = {}   h* = {:.6e}   ({})   eigenvalues {}", o.n, o.h_star, o.h_star_rule, brief(&o.eigenvalues));
    match (&report.saddle, &report.saddle_error) {
        (Some(s), _) => println!(
            "saddle    θˢ = {}   L(θˢ) = {:.6e}   index {}   h_eˢ = {:.6e}   ({}, {} iterations)",
            brief(&s.theta),
            s.loss,
            s.index,
            s.escape_eigenvalue,
            s.method,
            s.iterations
        ),
        (None, Some(e)) => println!("saddle    search failed: {e}"),
        (None, None) => println!("saddle    not searched"),
    }
    if let Some(n) = &report.saddle_neighbours {
        println!(
            "joins     minima at distances {:.4e} and {:.4e} from θ* (L = {:.6e}, {:.6e}): borders θ*'s basin: {}",
            n.distances[0],
            n.distances[1],
            n.minima[0].loss,
            n.minima[1].loss,
            if n.borders_minimum { "yes" } else { "no" }
        );
    }
    for w in report.saddle_neighbours_warning().into_iter().chain(report.log_det_warning()) {
        eprintln!("warning: {w}");
    }
    if let Some(b) = &report.barrier {
        println!("barrier   c = {:.6}   log c = {:.6}   ΔL = {:.6e}   (from the {})", b.ratio, b.log, b.linear, b.from);
    }
    if let Some(beta) = report.beta {
        println!(
            "β = B/(η h*) = {beta:.6}   critical dimension n_c = {:.4}   stationary exponent φ = {:.4}",
            report.critical_dimension.unwrap_or(f64::NAN),
            report.stationary_exponent.unwrap_or(f64::NAN)
        );
    }
    let p = &report.predictions;
    println!("\n{:<30} {:>14} {:>14} {:>14}  valid", "theory", "rate per t", "rate per step", "mean time t");
    let mut rows = vec![
        ("log_barrier", &p.log_barrier),
        ("linear_barrier", &p.linear_barrier),
        ("xie (s = 1, minimum curvature)", &p.xie.minimum_curvature),
        ("xie (s = 0, saddle curvature)", &p.xie.saddle_curvature),
        ("kramers_isotropic", &p.kramers_isotropic),
    ];
    for (name, exact) in [("quadrature", &p.quadrature), ("sgd_chain", &p.sgd_chain), ("euler_maruyama_chain", &p.euler_maruyama_chain)] {
        if let Some(q) = exact {
            rows.push((name, q));
        }
    }
    for (name, pr) in rows {
        let valid = match pr.valid {
            Some(true) => "yes".to_string(),
            Some(false) => format!("no: {}", pr.reason.as_deref().unwrap_or("")),
            None => "—".to_string(),
        };
        println!("{name:<30} {:>14} {:>14} {:>14}  {valid}", fmt_opt(pr.rate_per_time), fmt_opt(pr.rate_per_step), fmt_opt(pr.mean_time));
    }
    if let Some(e) = p.log_barrier_exponent {
        println!("log-barrier exponent β + 1 − n/2 = {e:.6}");
    }
    eprintln!("wrote {}", out.join("landscape.json").display());
    Ok(report.saddle_error.is_none())
}

fn run(
    config_path: &Path,
    out: &Path,
    seed: Option<u64>,
    replicas: Option<usize>,
    threads: Option<usize>,
    force: bool,
    format: &str,
) -> Result<(), sgd_escape::Error> {
    let format = sgd_escape::report::TableFormat::parse("--format", format)?;
    check_threads(threads)?;
    let mut config = Config::load(config_path)?;
    config.override_run(seed, replicas, "--replicas")?;
    use_threads(threads);
    let base_dir = config_path.parent().unwrap_or(Path::new("."));
    let (total, unit) = match config.ams() {
        Some(a) => (a.runs.get() as u64, "AMS runs"),
        None => (config.replicas.get() as u64, "replicas"),
    };
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(&format!("{{spinner}} {{elapsed_precise}} [{{bar:40}}] {{pos}}/{{len}} {unit} (eta {{eta}})"))
            .expect("valid template")
            .progress_chars("=> "),
    );
    let started = std::time::Instant::now();
    // Warnings found while preparing (e.g. a step beyond linear stability) are shown before
    // the replicas run, and not repeated at the end.
    let shown = std::cell::Cell::new(0);
    let on_prepared = |p: &Prepared| {
        for w in &p.warnings {
            bar.suspend(|| eprintln!("warning: {w}"));
        }
        if config.ams().is_none() {
            bar.suspend(|| eprintln!("replicas run on the {}", sgd_escape::experiment::simulate::EnsembleLoop::of(p).describe()));
        }
        if let sgd_escape::experiment::prepare::Dynamics::Sde { noise, .. } = &p.dynamics {
            bar.suspend(|| eprintln!("noise: {}", noise.describe()));
        }
        shown.set(p.warnings.len());
    };
    let on_ams_run = |_: &sgd_escape::escape::ams::AmsRun| bar.inc(1);
    let options = RunOptions { existing: existing(force), on_prepared: Some(&on_prepared), on_ams_run: Some(&on_ams_run), format };
    let summary = run_in_dir(&config, base_dir, out, &options, &|_| bar.inc(1))?;
    bar.finish_and_clear();
    let e = &summary.escape;
    let r = &e.rate_per_time;
    match &summary.ams {
        Some(a) => eprintln!(
            "AMS: {} runs of {} particles in {:.2} s: p = {:.4e} (95% CI {:.4e} – {:.4e}), {:.0} iterations per run, {} extinct; {} loops between the basin and Σ",
            a.runs,
            a.particles,
            started.elapsed().as_secs_f64(),
            a.probability.estimate,
            a.probability.ci_low,
            a.probability.ci_high,
            a.iterations.0,
            a.extinctions,
            a.loops.loops
        ),
        None => eprintln!(
            "{} replicas: {} escaped, {} censored, {} diverged in {:.2} s",
            e.replicas,
            e.escaped,
            e.censored,
            e.diverged,
            started.elapsed().as_secs_f64()
        ),
    }
    eprintln!("L(θ*) = {:.6e} at θ* = {}", summary.minimum.loss, brief(&summary.minimum.theta));
    eprintln!("mean escape time t = {:.6e} ± {:.2e} ({:.4e} steps; {})", e.mean_time, e.mean_time_stderr, e.mean_steps, e.mean_time_method);
    eprintln!("escape rate per unit t = {:.6e}  (95% CI {:.6e} – {:.6e})", r.estimate, r.ci_low, r.ci_high);
    for w in summary.warnings.iter().skip(shown.get()) {
        eprintln!("warning: {w}");
    }
    eprintln!("wrote {}", out.join("summary.json").display());
    Ok(())
}

fn train(config_path: &Path, out: &Path, threads: Option<usize>, force: bool) -> Result<(), sgd_escape::Error> {
    use sgd_escape::experiment::config::TrainConfig;
    use sgd_escape::experiment::train::{resolve, train_in_dir};
    check_threads(threads)?;
    use_threads(threads);
    let config = TrainConfig::load(config_path)?;
    let spec = resolve(&config, config_path.parent().unwrap_or(Path::new(".")))?;
    eprintln!(
        "MLP {:?} ({}), P = {} parameters, N = {} samples, {} steps per epoch",
        spec.model.sizes(),
        spec.mlp.activation.name(),
        sgd_escape::model::Model::dim(&spec.model),
        sgd_escape::model::DataModel::samples(&spec.model),
        spec.steps_per_epoch()
    );
    let bar = ProgressBar::new(spec.epochs as u64);
    bar.set_style(ProgressStyle::with_template("{bar:40} epoch {pos}/{len} {msg} [{elapsed} < {eta}]").expect("valid template"));
    let outcome = train_in_dir(
        &spec,
        out,
        existing(force),
        &|row| {
            bar.set_position(row.epoch as u64);
            bar.set_message(format!(
                "L = {:.4e}  𝒩 = {:.4e}  test acc = {:.3}",
                row.loss,
                row.noise,
                row.test_accuracy.unwrap_or(f64::NAN)
            ));
        },
        &|| false,
    )?;
    bar.finish();
    if outcome.resumed_from > 0 {
        eprintln!("resumed from the checkpoint at epoch {}", outcome.resumed_from);
    }
    let last = outcome.log.last().expect("the log has the initial row");
    let test = match (last.test_loss, last.test_accuracy) {
        (Some(loss), Some(accuracy)) => format!("test loss {loss:.6e}, test accuracy {accuracy:.4}"),
        _ => "no test set (add a [test] section)".to_string(),
    };
    println!(
        "epoch {}: L = {:.6e}, 𝒩 = {:.6e}, Tr Σ = {:.6e}, train accuracy {:.4}, {test}",
        last.epoch, last.loss, last.noise, last.trace_sigma, last.accuracy,
    );
    println!("wrote {}", out.join("log.csv").display());
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Run { config, out, seed, replicas, threads, force, format } => {
            run(config, out, *seed, *replicas, *threads, *force, format).map(|()| true)
        }
        Command::Sweep { command } => sweep::sweep(command).map(|()| true),
        Command::Landscape { config, out, force } => landscape(config, out, *force),
        Command::Reproduce { name, quick, out, seed } => reproduce(name, *quick, out, *seed).map(|()| true),
        Command::Train { config, out, threads, force } => train(config, out, *threads, *force).map(|()| true),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        // The analysis was written, but the saddle search failed (its reason is printed).
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(if e.is_invalid_input() { 2 } else { 1 })
        }
    }
}
