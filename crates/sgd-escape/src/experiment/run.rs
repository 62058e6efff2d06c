//! The `run` experiment: prepare (model, minimum, landscape analysis) → simulate (replica
//! ensemble) → statistics → `summary.json`, `escape_times.csv` (or `.parquet`), `survival.csv`.

use super::analysis::Barrier;
use super::config::Config;
use super::predictions::{Comparison, Predictions, compare};
use super::prepare::{DataReport, Dynamics, Prepared, StartPoint, prepare};
use super::simulate::EnsembleLoop;
use super::simulate::simulate;
use super::simulate::simulate_ams;
use super::splitting::{AmsPlan, AmsReport, ams_statistics};
use crate::dynamics::Noise;
use crate::error::Result;
use crate::escape::ReplicaOutcome;
use crate::escape::ams::AmsRun;
use crate::landscape::outliers::Outliers;
use crate::landscape::saddle::Saddle;
use crate::report::TableFormat;
use crate::report::folder::{Claim, Existing, OutputFolder};
use crate::report::journal::Journal;
use crate::report::parquet::Column;
use crate::report::provenance::{InputFile, hash_inputs};
use crate::stats::EscapeStatistics;
use crate::theory::rates::BarrierGeometry;
use serde::Serialize;

/// What `summary.json` holds.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Summary {
    /// sgd-escape version.
    pub version: String,
    /// Run seed.
    pub seed: u64,
    /// The configuration that ran, every default written out.
    pub config: Config,
    /// The input files read, with their SHA-256.
    pub inputs: Vec<InputFile>,
    /// The data of a data-built model: size and any standardisation applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<DataReport>,
    /// The start point θ* and its loss and curvature.
    pub minimum: StartPoint,
    /// How time is measured.
    pub time_unit: String,
    /// How the replicas were stepped ([`EnsembleLoop::describe`], or the splitting estimator).
    pub ensemble_loop: String,
    /// Escape statistics.
    pub escape: EscapeStatistics,
    /// Landscape quantities (outliers, saddle, barrier) behind the predictions.
    pub landscape: LandscapeSummary,
    /// Every theory's prediction (as in `landscape.json`).
    pub predictions: Predictions,
    /// Measured rate / predicted rate, per theory.
    pub comparison: Comparison,
    /// The splitting estimator's diagnostics (`[estimator] kind = "ams"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ams: Option<AmsReport>,
    /// Non-fatal findings.
    pub warnings: Vec<String>,
}

/// The landscape quantities `run` reports beside its predictions.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LandscapeSummary {
    /// The outliers of H(θ*).
    pub outliers: Outliers,
    /// The saddle, when found.
    pub saddle: Option<Saddle>,
    /// The barrier.
    pub barrier: Option<Barrier>,
    /// β = B/(η h*).
    pub beta: Option<f64>,
    /// The inputs of the rate formulas.
    pub geometry: Option<BarrierGeometry>,
    /// n_c = 2(β + 1).
    pub critical_dimension: Option<f64>,
    /// φ = 1 + β.
    pub stationary_exponent: Option<f64>,
}

/// Summarises the outcomes of a prepared run.
pub fn summarize(prepared: &Prepared, inputs: &[InputFile], outcomes: &[ReplicaOutcome]) -> Summary {
    summarize_statistics(prepared, inputs, EscapeStatistics::from_outcomes(outcomes), None, Vec::new())
}

/// The summary of a prepared run from its escape statistics (brute force or splitting).
fn summarize_statistics(
    prepared: &Prepared,
    inputs: &[InputFile],
    escape: EscapeStatistics,
    ams: Option<AmsReport>,
    estimator_warnings: Vec<String>,
) -> Summary {
    let time_unit = match &prepared.dynamics {
        Dynamics::Sgd { .. } => "t = lr * steps",
        Dynamics::Sde { noise: Noise::TimeChanged { .. }, .. } => "t = sum over steps of dtau / L(theta), dtau = dt * L*",
        Dynamics::Sde { solver: crate::dynamics::Solver::EulerMaruyama, .. } => "t = dt * steps",
        Dynamics::Sde { .. } => "t = sum over steps of the solver's step h <= dt",
    };
    let mut warnings = prepared.warnings.clone();
    warnings.extend(estimator_warnings);
    let landscape = &prepared.landscape;
    if let Some(e) = &landscape.saddle_error {
        warnings.push(format!("saddle search failed, so the saddle-based predictions are missing: {e}"));
    }
    warnings.extend(landscape.saddle_neighbours_warning());
    warnings.extend(landscape.log_det_warning());
    let comparison = compare(&escape, &landscape.predictions);
    if escape.diverged > 0 {
        warnings.push(format!(
            "{} replica(s) diverged (θ, the loss or the time stopped being finite); they count as censored at that time, never as escapes",
            escape.diverged
        ));
    }
    if escape.censored > 0 {
        warnings.push(format!(
            "{} replica(s) reached max_steps without escaping: mean_time is 1/rate from the censored exponential fit (mean_time_of_escaped is conditional on escape)",
            escape.censored
        ));
    }
    Summary {
        version: crate::VERSION.to_string(),
        seed: prepared.config.seed,
        config: prepared.config.clone(),
        inputs: inputs.to_vec(),
        data: prepared.data.clone(),
        minimum: prepared.start.clone(),
        time_unit: time_unit.to_string(),
        ensemble_loop: match &ams {
            Some(_) => "adaptive multilevel splitting (one AMS run per worker thread at a time)".to_string(),
            None => EnsembleLoop::of(prepared).describe(),
        },
        escape,
        landscape: LandscapeSummary {
            outliers: landscape.minimum.outliers.clone(),
            saddle: landscape.saddle.clone(),
            barrier: landscape.barrier.clone(),
            beta: landscape.beta,
            geometry: landscape.geometry,
            critical_dimension: landscape.critical_dimension,
            stationary_exponent: landscape.stationary_exponent,
        },
        predictions: landscape.predictions.clone(),
        comparison,
        ams,
        warnings,
    }
}

/// The fingerprint of a run's configuration: the version and the configuration that runs,
/// without `replicas` (which may grow between resumptions).
pub fn config_fingerprint(config: &Config) -> u64 {
    let mut value = serde_json::to_value(config).expect("config serialises");
    if let Some(map) = value.as_object_mut() {
        map.remove("replicas");
    }
    crate::report::provenance::config_fingerprint(&value)
}

/// The fingerprint of a run's journal: its configuration's fingerprint and its input files.
pub fn journal_fingerprint(config: &Config, inputs: &[InputFile]) -> u64 {
    crate::report::provenance::fingerprint(config_fingerprint(config), inputs)
}

/// Options of [`run_in_dir`].
#[derive(Default)]
pub struct RunOptions<'a> {
    /// What to do when the folder holds other results (`--force`: move them aside).
    pub existing: Existing,
    /// Called once the run is prepared, before any replica runs (e.g. to show its warnings).
    pub on_prepared: Option<&'a dyn Fn(&Prepared)>,
    /// Called from worker threads as each AMS run finishes (splitting estimator only).
    pub on_ams_run: Option<&'a (dyn Fn(&AmsRun) + Sync)>,
    /// The format of the per-replica table (`escape_times` or `ams_runs`).
    pub format: TableFormat,
}

/// The results `run` writes (removed when a run starts; its journal is kept).
const OUTPUTS: &[&str] = &["summary.json", "escape_times.csv", "escape_times.parquet", "survival.csv", "ams_runs.csv", "ams_runs.parquet"];

/// `ams_runs`: one row per AMS run (a level or time that does not exist is NaN).
fn ams_runs_columns(runs: &[AmsRun]) -> Vec<(String, Column)> {
    let int = |f: fn(&AmsRun) -> i64| Column::Int(runs.iter().map(f).collect());
    let float = |f: fn(&AmsRun) -> f64| Column::Float(runs.iter().map(f).collect());
    let flag = |f: fn(&AmsRun) -> bool| Column::Bool(runs.iter().map(f).collect());
    vec![
        ("run".into(), int(|r| r.run as i64)),
        ("probability".into(), float(|r| r.probability)),
        ("iterations".into(), int(|r| r.iterations as i64)),
        ("extinct".into(), flag(|r| r.extinct)),
        ("last_level".into(), float(|r| r.last_level.unwrap_or(f64::NAN))),
        ("reached".into(), int(|r| r.reached as i64)),
        ("reactive_time".into(), float(|r| r.reactive_time.unwrap_or(f64::NAN))),
        ("diverged".into(), int(|r| r.diverged as i64)),
        ("stopped".into(), int(|r| r.stopped as i64)),
        ("steps_simulated".into(), int(|r| r.steps_simulated as i64)),
    ]
}

/// The splitting estimator's part of [`run_in_dir`]: the brute-force loops, then the AMS runs
/// not already in the folder's `ams.journal` (each journalled as it finishes), then
/// `summary.json` and `ams_runs.csv`; the folder is then marked complete and the journal
/// removed, in the order of the brute-force path.
fn run_ams_in_dir(
    prepared: &Prepared,
    plan: &AmsPlan,
    inputs: &[InputFile],
    folder: &mut OutputFolder,
    options: &RunOptions<'_>,
) -> Result<Summary> {
    let out_dir = folder.dir().to_path_buf();
    let out_dir = out_dir.as_path();
    let (journal, completed) = Journal::<AmsRun>::open(out_dir, journal_fingerprint(&prepared.config, inputs))?;
    let done: std::collections::BTreeMap<u64, AmsRun> = completed.into_iter().map(|r| (r.run, r)).collect();
    let on_ams_run = options.on_ams_run;
    let record = |r: &AmsRun| {
        journal.record(r);
        if let Some(f) = on_ams_run {
            f(r);
        }
    };
    let (runs, loops) = simulate_ams(prepared, plan, &done, &record)?;
    journal.check()?;
    let (escape, report, warnings) = ams_statistics(plan, runs, loops);
    let runs = ams_runs_columns(&report.run_results);
    let summary = summarize_statistics(prepared, inputs, escape, Some(report), warnings);
    crate::report::write_json(&out_dir.join("summary.json"), &summary)?;
    crate::report::write_columns(out_dir, "ams_runs", &runs, options.format)?;
    folder.complete()?;
    journal.remove()?;
    Ok(summary)
}

/// Refuses a replica count whose outcomes would not fit in memory: each keeps its final θ
/// (P values) and is held about three times over (outcomes, statistics, tables).
fn check_replica_memory(prepared: &Prepared) -> Result<()> {
    if prepared.ams.is_some() {
        return Ok(());
    }
    let replicas = prepared.config.replicas.get();
    let per_replica = std::mem::size_of::<ReplicaOutcome>() + 8 * prepared.start.theta.len() + 64;
    let needed = crate::limits::bytes(replicas, per_replica).map(|b| 3 * b);
    crate::limits::require_memory("replicas", replicas, "the replicas' outcomes", needed)
}

/// Runs a configuration with outputs in `out_dir`: claims the folder (lock, manifest, inputs'
/// fingerprints: report::folder), resumes from the journal of an interrupted run of the same
/// configuration and inputs, writes `summary.json`, `escape_times.csv` and `survival.csv`
/// atomically, marks the folder complete, then removes the journal.
pub fn run_in_dir(
    config: &Config,
    base_dir: &std::path::Path,
    out_dir: &std::path::Path,
    options: &RunOptions<'_>,
    on_done: &(dyn Fn(&ReplicaOutcome) + Sync),
) -> Result<Summary> {
    run_in_dir_with_outcomes(config, base_dir, out_dir, options, on_done).map(|(summary, _)| summary)
}

/// [`run_in_dir`], also returning the replicas' outcomes sorted by replica (none for the
/// splitting estimator, whose runs are in the summary).
pub fn run_in_dir_with_outcomes(
    config: &Config,
    base_dir: &std::path::Path,
    out_dir: &std::path::Path,
    options: &RunOptions<'_>,
    on_done: &(dyn Fn(&ReplicaOutcome) + Sync),
) -> Result<(Summary, Vec<ReplicaOutcome>)> {
    let prepared = prepare(config, base_dir)?;
    check_replica_memory(&prepared)?;
    let inputs = hash_inputs(&prepared.config.input_files(base_dir))?;
    let mut folder = OutputFolder::claim(
        out_dir,
        Claim {
            command: "run",
            config_fingerprint: config_fingerprint(&prepared.config),
            inputs: &inputs,
            outputs: OUTPUTS,
            existing: options.existing,
        },
    )?;
    if let Some(f) = options.on_prepared {
        f(&prepared);
    }
    if let Some(plan) = &prepared.ams {
        return run_ams_in_dir(&prepared, plan, &inputs, &mut folder, options).map(|s| (s, Vec::new()));
    }
    let (journal, completed) = Journal::open(out_dir, journal_fingerprint(&prepared.config, &inputs))?;
    let record = |o: &ReplicaOutcome| {
        journal.record(o);
        on_done(o);
    };
    let outcomes = simulate(&prepared, completed, &record)?;
    journal.check()?;
    let summary = summarize(&prepared, &inputs, &outcomes);
    crate::report::write_run_outputs(out_dir, &summary, &outcomes, options.format)?;
    folder.complete()?;
    journal.remove()?;
    Ok((summary, outcomes))
}

/// Runs a configuration without an output folder (nothing is written, nothing resumes): the
/// summary and the replicas' outcomes sorted by replica (none for the splitting estimator,
/// whose runs are in the summary). The results equal those of [`run_in_dir`].
pub fn run_in_memory(
    config: &Config,
    base_dir: &std::path::Path,
    on_prepared: Option<&dyn Fn(&Prepared)>,
    on_done: &(dyn Fn(&ReplicaOutcome) + Sync),
) -> Result<(Summary, Vec<ReplicaOutcome>)> {
    let prepared = prepare(config, base_dir)?;
    check_replica_memory(&prepared)?;
    let inputs = hash_inputs(&prepared.config.input_files(base_dir))?;
    if let Some(f) = on_prepared {
        f(&prepared);
    }
    if let Some(plan) = &prepared.ams {
        let (runs, loops) = simulate_ams(&prepared, plan, &Default::default(), &|_| {})?;
        let (escape, report, warnings) = ams_statistics(plan, runs, loops);
        return Ok((summarize_statistics(&prepared, &inputs, escape, Some(report), warnings), Vec::new()));
    }
    let outcomes = simulate(&prepared, Vec::new(), on_done)?;
    Ok((summarize(&prepared, &inputs, &outcomes), outcomes))
}
