//! Output folders: one configuration's results per folder, one writer at a time.
//!
//! A command claims its folder before it writes anything:
//! - an advisory lock (`.sgd-escape.lock`, held while the command runs) keeps a second process
//!   out;
//! - the manifest (`sgd-escape-manifest.json`) says which configuration and which input files
//!   the folder's results belong to. A folder holding another configuration's results, or
//!   results made from input files that have since changed, is refused, naming what differs;
//!   with `Existing::MoveAside` (the CLI's `--force`) the old results are first moved into
//!   `replaced-N/`, never mixed;
//! - the command's previous final outputs are removed before it starts, so the folder never
//!   shows a summary that does not belong to the run in progress (its journal or checkpoint).
//!
//! Only files sgd-escape writes are ever moved or removed; anything else in the folder stays.

use super::provenance::{InputFile, changed_input};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

/// The manifest's file name.
pub const MANIFEST: &str = "sgd-escape-manifest.json";
const LOCK: &str = ".sgd-escape.lock";

/// Every file a command of sgd-escape writes into its output folder.
pub const RESULT_FILES: &[&str] = &[
    MANIFEST,
    "summary.json",
    "escape_times.csv",
    "escape_times.parquet",
    "survival.csv",
    "replicas.journal",
    "replicas.journal.tmp",
    "ams.journal",
    "ams.journal.tmp",
    "ams_runs.csv",
    "ams_runs.parquet",
    "landscape.json",
    "log.csv",
    "checkpoint.json",
    "params.json",
    "train.json",
];

/// What to do with a folder that holds results of a different configuration or inputs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Existing {
    /// Refuse, naming what differs (the default).
    #[default]
    Refuse,
    /// Move the old results into `replaced-N/` first (`--force`).
    MoveAside,
}

/// A command's state in the folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// Started and not finished (possibly interrupted: rerun to resume).
    Running,
    /// Finished; its outputs are complete.
    Complete,
}

/// `sgd-escape-manifest.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The version that wrote it.
    pub version: String,
    /// The configuration's fingerprint (hex), see [`super::provenance::config_fingerprint`].
    pub config_fingerprint: String,
    /// The input files the results were made from.
    pub inputs: Vec<InputFile>,
    /// The commands whose results the folder holds, and their state.
    pub commands: BTreeMap<String, State>,
}

/// A claim on an output folder.
pub struct Claim<'a> {
    /// The command (`run`, `landscape`, `train`).
    pub command: &'a str,
    /// Its configuration's fingerprint.
    pub config_fingerprint: u64,
    /// Its input files.
    pub inputs: &'a [InputFile],
    /// Its final outputs, removed before it starts (its journal or checkpoint is kept).
    pub outputs: &'a [&'a str],
    /// What to do with a conflicting folder.
    pub existing: Existing,
}

/// A claimed output folder: locked until dropped.
pub struct OutputFolder {
    dir: PathBuf,
    manifest: Manifest,
    command: String,
    _lock: File,
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_path_buf();
    move |source| Error::Io { action, path, source }
}

impl OutputFolder {
    /// Claims `dir` (created if needed) for `claim`.
    pub fn claim(dir: &Path, claim: Claim<'_>) -> Result<OutputFolder> {
        if dir.exists() && !dir.is_dir() {
            return Err(Error::invalid("--out", dir.display(), "is a file, not a folder"));
        }
        std::fs::create_dir_all(dir).map_err(io("cannot create output folder", dir))?;
        let lock_path = dir.join(LOCK);
        let lock = File::options().create(true).truncate(false).write(true).open(&lock_path).map_err(io("cannot create", &lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Error::invalid(
                    "--out",
                    dir.display(),
                    "another sgd-escape process is writing into this folder; wait for it to finish or choose another folder",
                ));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io("cannot lock", &lock_path)(e)),
        }
        let fingerprint = format!("{:016x}", claim.config_fingerprint);
        let existing = read_manifest(dir)?;
        let conflict = match &existing {
            Some(m) if m.config_fingerprint != fingerprint => Some(format!(
                "it holds the results ({}) of a different configuration",
                m.commands.keys().cloned().collect::<Vec<_>>().join(", ")
            )),
            Some(m) => changed_input(&m.inputs, claim.inputs),
            None => {
                let found: Vec<&str> = RESULT_FILES.iter().copied().filter(|f| dir.join(f).exists()).collect();
                (!found.is_empty()).then(|| {
                    format!("it holds results without a manifest ({}), made by an older version or another program", found.join(", "))
                })
            }
        };
        let mut manifest = match (conflict, claim.existing) {
            (None, _) => existing.unwrap_or_else(|| Manifest {
                version: crate::VERSION.into(),
                config_fingerprint: fingerprint.clone(),
                inputs: claim.inputs.to_vec(),
                commands: BTreeMap::new(),
            }),
            (Some(reason), Existing::Refuse) => {
                return Err(Error::invalid(
                    "--out",
                    dir.display(),
                    format!("{reason}; rerun with --force to move them into a replaced-N folder inside it, or choose another folder"),
                ));
            }
            (Some(_), Existing::MoveAside) => {
                move_aside(dir)?;
                Manifest {
                    version: crate::VERSION.into(),
                    config_fingerprint: fingerprint,
                    inputs: claim.inputs.to_vec(),
                    commands: BTreeMap::new(),
                }
            }
        };
        for output in claim.outputs {
            let path = dir.join(output);
            if path.exists() {
                std::fs::remove_file(&path).map_err(io("cannot remove", &path))?;
            }
        }
        manifest.version = crate::VERSION.into();
        manifest.commands.insert(claim.command.to_string(), State::Running);
        let folder = OutputFolder { dir: dir.to_path_buf(), manifest, command: claim.command.to_string(), _lock: lock };
        folder.write_manifest()?;
        Ok(folder)
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Marks the command complete (after its outputs are written).
    pub fn complete(&mut self) -> Result<()> {
        self.manifest.commands.insert(self.command.clone(), State::Complete);
        self.write_manifest()
    }

    fn write_manifest(&self) -> Result<()> {
        super::write_json(&self.dir.join(MANIFEST), &self.manifest)
    }
}

/// Whether `dir` holds finished results of `command`, made by this version from input files
/// that have not changed since (each is hashed again). A folder whose results are stale this
/// way is not complete; rerunning the command there refuses it unless forced.
pub fn is_complete(dir: &Path, command: &str) -> Result<bool> {
    let Some(m) = read_manifest(dir)? else { return Ok(false) };
    if m.version != crate::VERSION || m.commands.get(command) != Some(&State::Complete) {
        return Ok(false);
    }
    Ok(m.inputs.iter().all(|f| super::provenance::hash_file(Path::new(&f.path)).is_ok_and(|now| now.sha256 == f.sha256)))
}

fn read_manifest(dir: &Path) -> Result<Option<Manifest>> {
    let path = dir.join(MANIFEST);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
            Error::invalid(
                "--out",
                dir.display(),
                format!("its manifest {} is unreadable ({e}); move it away or choose another folder", path.display()),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io("cannot read", &path)(e)),
    }
}

/// Moves every result file of `dir` into the first free `dir/replaced-N/`.
fn move_aside(dir: &Path) -> Result<PathBuf> {
    let target = (1..).map(|n| dir.join(format!("replaced-{n}"))).find(|p| !p.exists()).expect("a free name");
    std::fs::create_dir(&target).map_err(io("cannot create", &target))?;
    for file in RESULT_FILES {
        let from = dir.join(file);
        if from.exists() {
            std::fs::rename(&from, target.join(file)).map_err(io("cannot move aside", &from))?;
        }
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim<'a>(command: &'a str, fingerprint: u64, inputs: &'a [InputFile], existing: Existing) -> Claim<'a> {
        Claim { command, config_fingerprint: fingerprint, inputs, outputs: &["summary.json"], existing }
    }

    #[test]
    fn a_second_writer_is_refused_while_the_first_holds_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let first = OutputFolder::claim(dir.path(), claim("run", 1, &[], Existing::Refuse)).unwrap();
        let err = OutputFolder::claim(dir.path(), claim("run", 1, &[], Existing::Refuse)).err().unwrap().to_string();
        assert!(err.contains("another sgd-escape process"), "{err}");
        drop(first);
        OutputFolder::claim(dir.path(), claim("run", 1, &[], Existing::Refuse)).unwrap();
    }

    #[test]
    fn other_results_are_refused_or_moved_aside_never_mixed() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let mut f = OutputFolder::claim(d, claim("run", 1, &[], Existing::Refuse)).unwrap();
        std::fs::write(d.join("summary.json"), "old").unwrap();
        std::fs::write(d.join("notes.txt"), "the user's").unwrap();
        f.complete().unwrap();
        drop(f);
        // The same configuration again, and `landscape` beside it: accepted; the old summary
        // is removed before the new run starts.
        drop(OutputFolder::claim(d, Claim { command: "landscape", outputs: &[], ..claim("run", 1, &[], Existing::Refuse) }).unwrap());
        assert!(d.join("summary.json").exists());
        drop(OutputFolder::claim(d, claim("run", 1, &[], Existing::Refuse)).unwrap());
        assert!(!d.join("summary.json").exists());
        std::fs::write(d.join("summary.json"), "old").unwrap();
        let err = OutputFolder::claim(d, claim("run", 2, &[], Existing::Refuse)).err().unwrap().to_string();
        assert!(err.contains("different configuration") && err.contains("--force"), "{err}");
        assert_eq!(std::fs::read_to_string(d.join("summary.json")).unwrap(), "old", "nothing touched");
        drop(OutputFolder::claim(d, claim("run", 2, &[], Existing::MoveAside)).unwrap());
        assert_eq!(std::fs::read_to_string(d.join("replaced-1/summary.json")).unwrap(), "old");
        assert!(d.join("replaced-1").join(MANIFEST).exists() && !d.join("summary.json").exists());
        assert_eq!(std::fs::read_to_string(d.join("notes.txt")).unwrap(), "the user's", "only our files move");
    }

    #[test]
    fn changed_inputs_and_foreign_results_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let a = [InputFile { path: "data.csv".into(), bytes: 10, sha256: "a".repeat(64) }];
        let b = [InputFile { sha256: "b".repeat(64), ..a[0].clone() }];
        drop(OutputFolder::claim(d, claim("run", 1, &a, Existing::Refuse)).unwrap());
        let err = OutputFolder::claim(d, claim("run", 1, &b, Existing::Refuse)).err().unwrap().to_string();
        assert!(err.contains("data.csv changed"), "{err}");
        let other = tempfile::tempdir().unwrap();
        std::fs::write(other.path().join("log.csv"), "x").unwrap();
        let err = OutputFolder::claim(other.path(), claim("train", 1, &[], Existing::Refuse)).err().unwrap().to_string();
        assert!(err.contains("without a manifest") && err.contains("log.csv"), "{err}");
        let file = other.path().join("log.csv");
        assert!(OutputFolder::claim(&file, claim("run", 1, &[], Existing::Refuse)).err().unwrap().to_string().contains("is a file"));
    }
}
