//! Reports: atomic file writes, the outputs of `run`, tables (CSV, Markdown and Parquet), figures, and
//! the journal that makes interrupted runs resumable.

pub mod folder;
pub mod journal;
pub mod parquet;
pub mod plot;
pub mod provenance;
pub mod table;

use crate::error::{Error, Result};
use crate::escape::{ReplicaOutcome, Status};
use crate::stats::kaplan_meier;
use std::io::Write;
use std::path::Path;

/// Writes `contents` to `path` atomically: a temporary file in the same folder, synced, then
/// renamed over the target, so readers never see a partial file.
pub fn atomic_write(path: &Path, contents: &[u8]) -> Result<()> {
    let io = |source| Error::Io { action: "cannot write", path: path.to_path_buf(), source };
    let tmp = path.with_extension(format!("{}.tmp", path.extension().and_then(|e| e.to_str()).unwrap_or("")));
    let mut f = std::fs::File::create(&tmp).map_err(io)?;
    f.write_all(contents).map_err(io)?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// Writes `value` as pretty JSON with a final newline, atomically ([`atomic_write`]).
pub fn write_json<T: serde::Serialize + ?Sized>(path: &Path, value: &T) -> Result<()> {
    let mut json = serde_json::to_string_pretty(value).expect("outputs serialise");
    json.push('\n');
    atomic_write(path, json.as_bytes())
}

/// The format of per-replica tables (`escape_times`, `ams_runs`): CSV (the default) or Parquet
/// (`--format parquet`), with the same columns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TableFormat {
    /// Comma-separated text.
    #[default]
    Csv,
    /// Apache Parquet ([`parquet`]).
    Parquet,
}

impl TableFormat {
    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            TableFormat::Csv => "csv",
            TableFormat::Parquet => "parquet",
        }
    }

    /// Parses `csv` or `parquet`; `key` names the option in the error.
    pub fn parse(key: &str, text: &str) -> Result<Self> {
        match text {
            "csv" => Ok(TableFormat::Csv),
            "parquet" => Ok(TableFormat::Parquet),
            other => Err(Error::invalid(key, other, "must be csv or parquet")),
        }
    }
}

/// Writes typed columns as `dir/NAME.csv` or `dir/NAME.parquet`, atomically. CSV cells are
/// the values' `Display` (shortest round-trip for doubles); a missing double is `NaN`.
pub fn write_columns(dir: &Path, name: &str, columns: &[(String, parquet::Column)], format: TableFormat) -> Result<()> {
    let path = dir.join(format!("{name}.{}", format.extension()));
    match format {
        TableFormat::Csv => atomic_write(&path, columns_csv(columns).as_bytes()),
        TableFormat::Parquet => parquet::write_parquet(&path, columns),
    }
}

/// Typed columns as CSV text ([`write_columns`]).
pub fn columns_csv(columns: &[(String, parquet::Column)]) -> String {
    use parquet::Column;
    let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
    let mut t = table::Table::new(&names);
    let rows = columns.first().map_or(0, |(_, c)| c.len());
    for i in 0..rows {
        t.row(
            columns
                .iter()
                .map(|(_, c)| match c {
                    Column::Int(v) => v[i].to_string(),
                    Column::Float(v) => v[i].to_string(),
                    Column::OptionalFloat(v) => v[i].unwrap_or(f64::NAN).to_string(),
                    Column::Bool(v) => v[i].to_string(),
                    Column::Text(v) => v[i].clone(),
                })
                .collect(),
        );
    }
    t.csv()
}

/// `escape_times`: one row per replica (replica, steps, time, status, escaped).
pub fn escape_times_columns(outcomes: &[ReplicaOutcome]) -> Vec<(String, parquet::Column)> {
    use parquet::Column;
    vec![
        ("replica".into(), Column::Int(outcomes.iter().map(|o| o.replica as i64).collect())),
        ("steps".into(), Column::Int(outcomes.iter().map(|o| o.steps as i64).collect())),
        ("time".into(), Column::Float(outcomes.iter().map(|o| o.time).collect())),
        ("status".into(), Column::Text(outcomes.iter().map(|o| o.status.name().to_string()).collect())),
        ("escaped".into(), Column::Bool(outcomes.iter().map(|o| o.status == Status::Escaped).collect())),
    ]
}

/// `survival.csv`: the Kaplan–Meier curve.
pub fn survival_csv(outcomes: &[ReplicaOutcome]) -> String {
    let mut t = table::Table::new(&["time", "at_risk", "events", "survival", "stderr"]);
    for p in kaplan_meier(outcomes) {
        t.row(crate::cells![p.time, p.at_risk, p.events, p.survival, p.stderr]);
    }
    t.csv()
}

/// Writes `summary.json`, `escape_times.csv` (or `.parquet`) and `survival.csv` into `dir`
/// (created if needed).
pub fn write_run_outputs<S: serde::Serialize>(dir: &Path, summary: &S, outcomes: &[ReplicaOutcome], format: TableFormat) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Io { action: "cannot create output folder", path: dir.to_path_buf(), source })?;
    write_json(&dir.join("summary.json"), summary)?;
    write_columns(dir, "escape_times", &escape_times_columns(outcomes), format)?;
    atomic_write(&dir.join("survival.csv"), survival_csv(outcomes).as_bytes())
}
