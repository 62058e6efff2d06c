//! `sgd-escape sweep plan|run|merge`: the command-line side of the library's sweeps.

use clap::Subcommand;
use sgd_escape::experiment::sweep::{self, PointResult, Shard};
use sgd_escape::report::TableFormat;
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum SweepCommand {
    /// Expand a sweep file (a base configuration and axes of values) into DIR/plan.json; each
    /// point is checked and named by the hash of its configuration.
    Plan {
        /// The sweep file (see docs/sweeps.md).
        sweep: PathBuf,
        /// The sweep folder.
        #[arg(long)]
        out: PathBuf,
        /// The format of each point's per-replica table: csv or parquet.
        #[arg(long, default_value = "csv")]
        format: String,
    },
    /// Run the points of one shard (default: all, or the Slurm array task's shard), each in
    /// DIR/points/ID; complete points are skipped and interrupted ones resume.
    Run {
        /// The sweep folder made by `sweep plan`.
        dir: PathBuf,
        /// I/N: run shard I of N (0-based). Default: SLURM_ARRAY_TASK_ID of
        /// SLURM_ARRAY_TASK_COUNT inside a Slurm array job, else the whole sweep.
        #[arg(long)]
        shard: Option<String>,
        /// Worker threads per point (default: all cores). Results do not depend on it.
        #[arg(long, allow_hyphen_values = true)]
        threads: Option<usize>,
        /// Move the results of points made by another version or from changed input files
        /// aside (into replaced-N) instead of refusing.
        #[arg(long)]
        force: bool,
    },
    /// Check every planned point is complete and write DIR/merged.csv and DIR/merged.parquet.
    Merge {
        /// The sweep folder.
        dir: PathBuf,
    },
}

fn plan(sweep_file: &Path, out: &Path, format: &str) -> Result<(), sgd_escape::Error> {
    let format = TableFormat::parse("--format", format)?;
    let plan = sweep::plan(sweep_file, format)?;
    sweep::write_plan(out, &plan)?;
    let axes: Vec<String> = plan.axes.iter().map(|a| format!("{} ({} values)", a.key, a.values.len())).collect();
    println!("{} points over {}", plan.points.len(), if axes.is_empty() { "no axes".to_string() } else { axes.join(" × ") });
    println!("wrote {}", out.join(sweep::PLAN_FILE).display());
    Ok(())
}

fn run(dir: &Path, shard: Option<&str>, threads: Option<usize>, force: bool) -> Result<(), sgd_escape::Error> {
    crate::check_threads(threads)?;
    crate::use_threads(threads);
    let plan = sweep::read_plan(dir)?;
    let shard = match shard {
        Some(s) => Shard::parse(s)?,
        None => Shard::from_slurm(|name| std::env::var(name).ok())?.unwrap_or(Shard::ALL),
    };
    let points = shard.points(&plan).len();
    eprintln!("shard {shard}: {points} of {} points", plan.points.len());
    let report = |p: &sweep::Point, r: &PointResult| {
        let what = match r {
            PointResult::Skipped => "already complete".to_string(),
            PointResult::Ran(seconds) => format!("done in {seconds:.1} s"),
            PointResult::Failed(e) => format!("FAILED: {e}"),
        };
        eprintln!("{} ({}): {what}", p.id, p.describe(&plan.axes));
    };
    sweep::run_shard(dir, &plan, shard, crate::existing(force), &report)
}

fn merge(dir: &Path) -> Result<(), sgd_escape::Error> {
    let merged = sweep::merge(dir)?;
    println!("{} points: wrote {} and {}", merged.points, merged.csv.display(), merged.parquet.display());
    Ok(())
}

/// Runs a `sweep` subcommand.
pub fn sweep(command: &SweepCommand) -> Result<(), sgd_escape::Error> {
    match command {
        SweepCommand::Plan { sweep, out, format } => plan(sweep, out, format),
        SweepCommand::Run { dir, shard, threads, force } => run(dir, shard.as_deref(), *threads, *force),
        SweepCommand::Merge { dir } => merge(dir),
    }
}
