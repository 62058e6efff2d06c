//! The replica journal: each finished replica is appended to `DIR/replicas.journal` as it
//! completes, so an interrupted run loses no finished replica. Rerunning the same
//! configuration into the same folder reads the journal and runs only the missing replicas;
//! since a replica's outcome depends only on (configuration, seed, index), the resumed result
//! is bit-identical to an uninterrupted one.
//!
//! Crash safety: the journal is only ever appended to, or replaced whole by a rename. It is
//! created by writing header-only content to a temporary file and renaming it into place, so it
//! never exists without its header. On resumption, a line cut short by the interruption is
//! trimmed by truncating the file to its last complete line (which removes no finished
//! replica), and a journal with duplicate or unreadable lines is compacted into
//! `replicas.journal.tmp`, synced, and renamed over the old one. A kill at any moment leaves
//! either the old journal or the new one, each holding every replica finished before it.
//! Appends are synced to disk at most a second apart, and on completion.

use crate::error::{Error, Result};
use crate::escape::{ReplicaOutcome, Status};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const HEADER: &str = "# sgd-escape replica journal v1";
/// The replica journal's file name.
pub const FILE: &str = "replicas.journal";
const SYNC_EVERY: Duration = Duration::from_secs(1);

/// What a journal records: one line per finished unit of work, identified by its index.
pub trait Record: Sized {
    /// The journal's file name.
    const FILE: &'static str;
    /// The unit's index (a replica, an AMS run): a journal keeps the first line of each.
    fn index(&self) -> u64;
    /// One line, without its newline; it must round-trip exactly through `from_line`.
    fn to_line(&self) -> String;
    /// Parses a line; `None` for a line cut short or malformed.
    fn from_line(line: &str) -> Option<Self>;
}

impl Record for ReplicaOutcome {
    const FILE: &'static str = FILE;
    fn index(&self) -> u64 {
        self.replica as u64
    }
    fn to_line(&self) -> String {
        format_line(self).trim_end().to_string()
    }
    fn from_line(line: &str) -> Option<Self> {
        parse_line(line)
    }
}

impl Record for crate::escape::ams::AmsRun {
    const FILE: &'static str = "ams.journal";
    fn index(&self) -> u64 {
        self.run
    }
    fn to_line(&self) -> String {
        serde_json::to_string(self).expect("an AMS run serialises")
    }
    fn from_line(line: &str) -> Option<Self> {
        serde_json::from_str(line).ok()
    }
}

/// An open journal of records `R`.
pub struct Journal<R: Record = ReplicaOutcome> {
    path: PathBuf,
    file: Mutex<(std::fs::File, Instant)>,
    error: Mutex<Option<std::io::Error>>,
    records: std::marker::PhantomData<fn(R)>,
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

/// Writes `contents` to `path` by a synced temporary file renamed into place, then syncs the
/// folder so that the rename itself is durable.
fn replace_whole(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("journal.tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(contents)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        // Some file systems cannot sync a folder; the rename is then as durable as they allow.
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

/// What a journal's text holds: the outcomes of its complete lines (first of each replica),
/// the length of its complete lines, and whether any complete line was unreadable or repeated.
fn read_lines<R: Record>(text: &[u8], tag: &str) -> Option<(Vec<R>, usize, bool)> {
    let complete = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let body = std::str::from_utf8(&text[..complete]).ok();
    let mut lines = body.map(str::lines).into_iter().flatten();
    if lines.next() != Some(tag) {
        return None;
    }
    let mut outcomes = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut untidy = false;
    for line in lines {
        match R::from_line(line) {
            Some(o) if seen.insert(o.index()) => outcomes.push(o),
            _ => untidy = true,
        }
    }
    Some((outcomes, complete, untidy))
}

impl<R: Record> Journal<R> {
    /// Opens (or creates) the journal in `dir` and returns the records already written. A
    /// journal written for a different fingerprint is an error: its folder holds another
    /// interrupted run. Never truncates or rewrites a journal in place (module docs).
    pub fn open(dir: &Path, fingerprint: u64) -> Result<(Journal<R>, Vec<R>)> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            action: "cannot create output folder",
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join(R::FILE);
        let io = |source| Error::Io { action: "cannot use journal", path: path.clone(), source };
        let tag = format!("{HEADER} fingerprint={fingerprint:016x}");
        let existing = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io(e)),
        };
        let completed = if existing.is_empty() {
            // No journal (or an empty one, which holds no finished replica).
            replace_whole(&path, format!("{tag}\n").as_bytes()).map_err(io)?;
            Vec::new()
        } else {
            let (completed, complete_len, untidy) = read_lines::<R>(&existing, &tag).ok_or_else(|| {
                Error::invalid(
                    "--out",
                    dir.display(),
                    format!(
                        "the folder holds an interrupted run of a different configuration ({}); delete that file or choose another folder",
                        path.display()
                    ),
                )
            })?;
            if untidy {
                let mut text = format!("{tag}\n");
                for o in &completed {
                    text.push_str(&o.to_line());
                    text.push('\n');
                }
                replace_whole(&path, text.as_bytes()).map_err(io)?;
            } else if complete_len < existing.len() {
                // Only the last line is incomplete: cut it off.
                let f = std::fs::OpenOptions::new().write(true).open(&path).map_err(io)?;
                f.set_len(complete_len as u64).map_err(io)?;
                f.sync_all().map_err(io)?;
            }
            completed
        };
        let file = std::fs::OpenOptions::new().append(true).open(&path).map_err(io)?;
        Ok((
            Journal { path, file: Mutex::new((file, Instant::now())), error: Mutex::new(None), records: std::marker::PhantomData },
            completed,
        ))
    }

    /// Appends one outcome (called from worker threads). A write error is kept and reported
    /// by [`Journal::check`].
    pub fn record(&self, outcome: &R) {
        let mut line = outcome.to_line();
        line.push('\n');
        let mut guard = self.file.lock().expect("journal lock");
        let (file, synced) = &mut *guard;
        let mut result = file.write_all(line.as_bytes());
        if result.is_ok() && synced.elapsed() >= SYNC_EVERY {
            result = file.sync_data();
            *synced = Instant::now();
        }
        if let Err(e) = result {
            self.error.lock().expect("journal error lock").get_or_insert(e);
        }
    }

    /// Syncs the journal and reports the first write error, if any.
    pub fn check(&self) -> Result<()> {
        if let Err(source) = self.file.lock().expect("journal lock").0.sync_data() {
            return Err(Error::Io { action: "cannot write journal", path: self.path.clone(), source });
        }
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

    fn outcome(replica: usize) -> ReplicaOutcome {
        ReplicaOutcome { replica, steps: 10, time: 1.0, status: Status::Escaped, final_theta: vec![0.5] }
    }

    #[test]
    fn reopening_trims_a_cut_line_compacts_duplicates_and_keeps_every_finished_replica() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        let (j, done) = Journal::<ReplicaOutcome>::open(dir.path(), 7).unwrap();
        assert!(done.is_empty());
        for r in 0..3 {
            j.record(&outcome(r));
        }
        j.check().unwrap();
        drop(j);
        // A kill mid-line: the cut line is trimmed, nothing else changes.
        let mut text = std::fs::read_to_string(&path).unwrap();
        let whole = text.clone();
        text.push_str("3,1");
        std::fs::write(&path, &text).unwrap();
        let (j, done) = Journal::<ReplicaOutcome>::open(dir.path(), 7).unwrap();
        assert_eq!(done.iter().map(|o| o.replica).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), whole);
        j.record(&outcome(3));
        drop(j);
        // A duplicated line and garbage: compacted by a rename, first copies kept.
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("1,99,9.9,escaped,0.5\ngarbage\n");
        std::fs::write(&path, &text).unwrap();
        let (_, done) = Journal::<ReplicaOutcome>::open(dir.path(), 7).unwrap();
        assert_eq!(done, (0..4).map(outcome).collect::<Vec<_>>());
        assert!(!std::fs::read_to_string(&path).unwrap().contains("garbage"));
        // An empty journal (a kill before any header reached the disk) holds nothing finished.
        std::fs::write(&path, "").unwrap();
        assert!(Journal::<ReplicaOutcome>::open(dir.path(), 7).unwrap().1.is_empty());
        assert!(Journal::<ReplicaOutcome>::open(dir.path(), 8).err().unwrap().to_string().contains("different configuration"));
    }
}
