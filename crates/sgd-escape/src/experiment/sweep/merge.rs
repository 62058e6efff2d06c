//! Merging a sweep: one row per planned point, in plan order, with the point's axis values and
//! its escape statistics, as `merged.csv` and `merged.parquet`. The rows are read from the
//! points' `summary.json` files only, so the files do not depend on how the points were split
//! into shards or in which order they ran: N shards merge to the bytes of one process.

use super::plan::{Plan, read_plan};
use super::shard::{point_complete, point_dir};
use crate::error::{Error, Result};
use crate::report::parquet::{Column, write_parquet};
use serde_json::Value;
use std::path::Path;

/// The predictions whose mean time is a column (`predicted_mean_time_NAME`).
const PREDICTIONS: [&str; 6] = ["log_barrier", "linear_barrier", "kramers_isotropic", "quadrature", "sgd_chain", "euler_maruyama_chain"];

/// The column of an axis: integers, numbers, booleans, or else text (strings as they are,
/// other values as TOML).
fn axis_column(values: Vec<&toml::Value>) -> Column {
    if values.iter().all(|v| v.is_integer()) {
        Column::Int(values.iter().map(|v| v.as_integer().expect("checked")).collect())
    } else if values.iter().all(|v| v.is_integer() || v.is_float()) {
        Column::Float(values.iter().map(|v| v.as_float().unwrap_or_else(|| v.as_integer().expect("checked") as f64)).collect())
    } else if values.iter().all(|v| v.is_bool()) {
        Column::Bool(values.iter().map(|v| v.as_bool().expect("checked")).collect())
    } else {
        Column::Text(values.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string)).collect())
    }
}

/// The number at `path` in a JSON value (`null`, which is how NaN is written, reads as None).
fn number(value: &Value, path: &[&str]) -> Option<f64> {
    path.iter().try_fold(value, |v, key| v.get(key)).and_then(Value::as_f64)
}

/// The merged table of a sweep whose points are all complete.
pub fn merged_columns(dir: &Path, plan: &Plan) -> Result<Vec<(String, Column)>> {
    let summaries: Vec<Value> = plan
        .points
        .iter()
        .map(|p| {
            let path = point_dir(dir, p).join("summary.json");
            let text = std::fs::read_to_string(&path).map_err(|source| Error::Io { action: "cannot read", path: path.clone(), source })?;
            serde_json::from_str(&text).map_err(|e| Error::invalid("DIR", dir.display(), format!("{} is unreadable ({e})", path.display())))
        })
        .collect::<Result<_>>()?;
    let float = |path: &[&str]| Column::Float(summaries.iter().map(|s| number(s, path).unwrap_or(f64::NAN)).collect());
    let optional = |path: &[&str]| Column::OptionalFloat(summaries.iter().map(|s| number(s, path)).collect());
    let int = |path: &[&str]| Column::Int(summaries.iter().map(|s| number(s, path).unwrap_or(-1.0) as i64).collect());
    let text = |path: &[&str]| {
        Column::Text(
            summaries.iter().map(|s| path.iter().try_fold(s, |v, k| v.get(k)).and_then(Value::as_str).unwrap_or("").to_string()).collect(),
        )
    };
    let mut columns = vec![("id".to_string(), Column::Text(plan.points.iter().map(|p| p.id.clone()).collect()))];
    for (k, axis) in plan.axes.iter().enumerate() {
        columns.push((axis.key.clone(), axis_column(plan.points.iter().map(|p| &p.values[k]).collect())));
    }
    // The seed is a u64, beyond what a double holds exactly: an integer column, or text when a
    // seed exceeds i64.
    let seeds: Vec<Option<i64>> = summaries.iter().map(|s| s["seed"].as_u64().and_then(|u| i64::try_from(u).ok())).collect();
    let seed = match seeds.iter().copied().collect::<Option<Vec<i64>>>() {
        Some(seeds) => Column::Int(seeds),
        None => Column::Text(summaries.iter().map(|s| s["seed"].to_string()).collect()),
    };
    let e = "escape";
    let mut statistics = vec![
        ("seed".to_string(), seed),
        ("replicas".into(), int(&[e, "replicas"])),
        ("escaped".into(), int(&[e, "escaped"])),
        ("censored".into(), int(&[e, "censored"])),
        ("diverged".into(), int(&[e, "diverged"])),
        ("mean_time".into(), float(&[e, "mean_time"])),
        ("mean_time_stderr".into(), float(&[e, "mean_time_stderr"])),
        ("mean_time_method".into(), text(&[e, "mean_time_method"])),
        ("mean_steps".into(), float(&[e, "mean_steps"])),
        ("rate_per_time".into(), float(&[e, "rate_per_time", "estimate"])),
        ("rate_per_time_ci_low".into(), float(&[e, "rate_per_time", "ci_low"])),
        ("rate_per_time_ci_high".into(), float(&[e, "rate_per_time", "ci_high"])),
        ("rate_per_step".into(), float(&[e, "rate_per_step", "estimate"])),
        ("time_unit".into(), text(&["time_unit"])),
        ("beta".into(), optional(&["landscape", "beta"])),
        ("log_barrier".into(), optional(&["landscape", "barrier", "log"])),
        ("linear_barrier".into(), optional(&["landscape", "barrier", "linear"])),
    ];
    for name in PREDICTIONS {
        statistics.push((format!("predicted_mean_time_{name}"), optional(&["predictions", name, "mean_time"])));
    }
    statistics
        .push(("warnings".into(), Column::Int(summaries.iter().map(|s| s["warnings"].as_array().map_or(0, Vec::len) as i64).collect())));
    // An axis over `seed` is already a column.
    columns.extend(statistics.into_iter().filter(|(name, _)| !plan.axes.iter().any(|a| &a.key == name)));
    Ok(columns)
}

/// What [`merge`] wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct Merged {
    /// Number of rows (points).
    pub points: usize,
    /// `DIR/merged.csv`.
    pub csv: std::path::PathBuf,
    /// `DIR/merged.parquet`.
    pub parquet: std::path::PathBuf,
}

/// Checks that every planned point of the sweep in `dir` is complete, then writes
/// `merged.csv` and `merged.parquet` atomically. Missing points are listed in the error.
pub fn merge(dir: &Path) -> Result<Merged> {
    let plan = read_plan(dir)?;
    let mut missing = Vec::new();
    for p in &plan.points {
        if !point_complete(dir, &plan, p)? {
            missing.push(format!("{} ({})", p.id, p.describe(&plan.axes)));
        }
    }
    if !missing.is_empty() {
        return Err(Error::Sweep(format!(
            "{} of {} planned points are not complete in {} (run `sgd-escape sweep run {}` for them):\n  {}",
            missing.len(),
            plan.points.len(),
            dir.display(),
            dir.display(),
            missing.join("\n  ")
        )));
    }
    let columns = merged_columns(dir, &plan)?;
    let merged = Merged { points: plan.points.len(), csv: dir.join("merged.csv"), parquet: dir.join("merged.parquet") };
    crate::report::atomic_write(&merged.csv, crate::report::columns_csv(&columns).as_bytes())?;
    write_parquet(&merged.parquet, &columns)?;
    Ok(merged)
}
