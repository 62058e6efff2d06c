//! Reports: atomic file writes, the outputs of `run`, tables (CSV and Markdown), figures, and
//! the journal that makes interrupted runs resumable.

pub mod folder;
pub mod journal;
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

/// `escape_times.csv`: one row per replica.
pub fn escape_times_csv(outcomes: &[ReplicaOutcome]) -> String {
    let mut t = table::Table::new(&["replica", "steps", "time", "status", "escaped"]);
    for o in outcomes {
        t.row(crate::cells![o.replica, o.steps, o.time, o.status.name(), o.status == Status::Escaped]);
    }
    t.csv()
}

/// `survival.csv`: the Kaplan–Meier curve.
pub fn survival_csv(outcomes: &[ReplicaOutcome]) -> String {
    let mut t = table::Table::new(&["time", "at_risk", "events", "survival", "stderr"]);
    for p in kaplan_meier(outcomes) {
        t.row(crate::cells![p.time, p.at_risk, p.events, p.survival, p.stderr]);
    }
    t.csv()
}

/// Writes `summary.json`, `escape_times.csv` and `survival.csv` into `dir` (created if needed).
pub fn write_run_outputs<S: serde::Serialize>(dir: &Path, summary: &S, outcomes: &[ReplicaOutcome]) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Io { action: "cannot create output folder", path: dir.to_path_buf(), source })?;
    write_json(&dir.join("summary.json"), summary)?;
    atomic_write(&dir.join("escape_times.csv"), escape_times_csv(outcomes).as_bytes())?;
    atomic_write(&dir.join("survival.csv"), survival_csv(outcomes).as_bytes())
}
