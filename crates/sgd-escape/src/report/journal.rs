//! The replica journal: each finished replica is appended (and flushed) to
//! `DIR/replicas.journal` as it completes, so an interrupted run loses no finished replica.
//! Rerunning the same configuration into the same folder reads the journal and runs only the
//! missing replicas; since a replica's outcome depends only on (configuration, seed, index),
//! the resumed result is bit-identical to an uninterrupted one.

use crate::error::{Error, Result};
use crate::escape::{ReplicaOutcome, Status};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

const HEADER: &str = "# sgd-escape replica journal v1";
const FILE: &str = "replicas.journal";

/// FNV-1a hash of the version and a value's JSON (the run's configuration, by the caller's
/// choice of what it includes): a journal is reused only for the same run.
pub fn fingerprint<T: serde::Serialize + ?Sized>(value: &T) -> u64 {
    let text = format!("{}\n{}", crate::VERSION, serde_json::to_string(value).expect("value serialises"));
    text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
}

/// An open journal.
pub struct Journal {
    path: PathBuf,
    file: Mutex<std::fs::File>,
    error: Mutex<Option<std::io::Error>>,
}

fn parse_line(line: &str) -> Option<ReplicaOutcome> {
    let mut fields = line.split(',');
    let replica = fields.next()?.parse().ok()?;
    let steps = fields.next()?.parse().ok()?;
    let time = fields.next()?.parse().ok()?;
    let status = Status::from_name(fields.next()?)?;
    let theta = fields.next()?;
    let final_theta = if theta.is_empty() { Vec::new() } else { theta.split(';').map(|v| v.parse().ok()).collect::<Option<Vec<f64>>>()? };
    if fields.next().is_some() {
        return None;
    }
    Some(ReplicaOutcome { replica, steps, time, status, final_theta })
}

fn format_line(o: &ReplicaOutcome) -> String {
    let theta: Vec<String> = o.final_theta.iter().map(|v| v.to_string()).collect();
    format!("{},{},{},{},{}\n", o.replica, o.steps, o.time, o.status.name(), theta.join(";"))
}

impl Journal {
    /// Opens (or creates) the journal in `dir`. Returns the outcomes already recorded. A
    /// journal written for a different configuration is an error: its folder holds another
    /// interrupted run.
    pub fn open(dir: &Path, fingerprint: u64) -> Result<(Journal, Vec<ReplicaOutcome>)> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            action: "cannot create output folder",
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join(FILE);
        let io = |source| Error::Io { action: "cannot use journal", path: path.clone(), source };
        let tag = format!("{HEADER} fingerprint={fingerprint:016x}");
        let mut completed = Vec::new();
        if path.exists() {
            let text = std::fs::read_to_string(&path).map_err(io)?;
            let mut lines = text.lines();
            if lines.next() != Some(tag.as_str()) {
                return Err(Error::invalid(
                    "--out",
                    dir.display(),
                    format!(
                        "the folder holds an interrupted run of a different configuration ({}); delete that file or choose another folder",
                        path.display()
                    ),
                ));
            }
            // A line cut short by the interruption does not parse and is dropped.
            completed.extend(lines.filter_map(parse_line));
            let mut seen = std::collections::HashSet::new();
            completed.retain(|o| seen.insert(o.replica));
        }
        let mut file = std::fs::OpenOptions::new().create(true).truncate(true).write(true).open(&path).map_err(io)?;
        let mut text = format!("{tag}\n");
        for o in &completed {
            text.push_str(&format_line(o));
        }
        file.write_all(text.as_bytes()).map_err(io)?;
        file.flush().map_err(io)?;
        Ok((Journal { path, file: Mutex::new(file), error: Mutex::new(None) }, completed))
    }

    /// Appends one outcome (called from worker threads). A write error is kept and reported
    /// by [`Journal::check`].
    pub fn record(&self, outcome: &ReplicaOutcome) {
        let line = format_line(outcome);
        let mut file = self.file.lock().expect("journal lock");
        if let Err(e) = file.write_all(line.as_bytes()).and_then(|_| file.flush()) {
            self.error.lock().expect("journal error lock").get_or_insert(e);
        }
    }

    /// Reports the first write error, if any.
    pub fn check(&self) -> Result<()> {
        match self.error.lock().expect("journal error lock").take() {
            Some(source) => Err(Error::Io { action: "cannot write journal", path: self.path.clone(), source }),
            None => Ok(()),
        }
    }

    /// Deletes the journal once the outputs are written.
    pub fn remove(self) -> Result<()> {
        drop(self.file);
        std::fs::remove_file(&self.path).map_err(|source| Error::Io { action: "cannot remove journal", path: self.path.clone(), source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_exactly() {
        let o = ReplicaOutcome {
            replica: 17,
            steps: 12345,
            time: 0.1 * 12345.0,
            status: Status::Escaped,
            final_theta: vec![1.0 / 3.0, -2e-300, f64::INFINITY],
        };
        assert_eq!(parse_line(format_line(&o).trim_end()), Some(o));
        assert_eq!(parse_line("3,10,1.0,escaped"), None);
        assert_eq!(parse_line("3,10,1.0,esc"), None);
    }
}
