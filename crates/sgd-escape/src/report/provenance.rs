//! What a result depends on: the version, the resolved configuration, and the contents of
//! every input file (data, start parameters, Fashion-MNIST's IDX files), hashed with SHA-256.
//! The fingerprint of these decides whether an output folder's results, journal or checkpoint
//! belong to the run at hand; the list of input files is written into every output.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// An input file as it was read: path, size and SHA-256 of its contents.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputFile {
    /// The path as resolved (relative to the working directory, or absolute).
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256 of the contents, lower-case hex (as `sha256sum` prints it).
    pub sha256: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Hashes one file.
pub fn hash_file(path: &Path) -> Result<InputFile> {
    let io = |source| Error::Io { action: "cannot read input file", path: path.to_path_buf(), source };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buffer).map_err(io)?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        hasher.update(&buffer[..n]);
    }
    Ok(InputFile { path: path.display().to_string(), bytes, sha256: hex(&hasher.finalize()) })
}

/// Hashes every file of `paths`, in order.
pub fn hash_inputs(paths: &[PathBuf]) -> Result<Vec<InputFile>> {
    paths.iter().map(|p| hash_file(p)).collect()
}

/// FNV-1a over bytes.
fn fnv(bytes: impl IntoIterator<Item = u8>, seed: u64) -> u64 {
    bytes.into_iter().fold(seed, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// The fingerprint of a configuration: the version and the value's JSON (the caller chooses
/// what it includes, e.g. a run's configuration without `replicas`, which may grow).
pub fn config_fingerprint<T: Serialize + ?Sized>(value: &T) -> u64 {
    let json = serde_json::to_string(value).expect("value serialises");
    fnv(format!("{}\n{json}", crate::VERSION).into_bytes(), FNV_OFFSET)
}

/// The fingerprint of a result: its configuration's fingerprint and every input's path and
/// SHA-256.
pub fn fingerprint(config: u64, inputs: &[InputFile]) -> u64 {
    let mut h = fnv(config.to_le_bytes(), FNV_OFFSET);
    for f in inputs {
        h = fnv(format!("\n{}\n{}", f.path, f.sha256).into_bytes(), h);
    }
    h
}

/// The first difference between the inputs a folder's results were made from (`old`) and
/// the current ones, naming the file; `None` when they agree.
pub fn changed_input(old: &[InputFile], new: &[InputFile]) -> Option<String> {
    for n in new {
        match old.iter().find(|o| o.path == n.path) {
            Some(o) if o.sha256 != n.sha256 => {
                return Some(format!(
                    "input file {} changed since those results were made ({} bytes, sha256 {}…; now {} bytes, sha256 {}…)",
                    n.path,
                    o.bytes,
                    &o.sha256[..12.min(o.sha256.len())],
                    n.bytes,
                    &n.sha256[..12]
                ));
            }
            Some(_) => {}
            None => return Some(format!("those results were made without the input file {}", n.path)),
        }
    }
    old.iter()
        .find(|o| !new.iter().any(|n| n.path == o.path))
        .map(|o| format!("those results were made from the input file {}, which this run does not read", o.path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_matches_the_standard_vector() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("abc.txt");
        std::fs::write(&p, "abc").unwrap();
        let f = hash_file(&p).unwrap();
        assert_eq!(f.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(sha256_hex(b"abc"), f.sha256);
        assert_eq!(f.bytes, 3);
    }

    #[test]
    fn a_changed_file_is_named_and_changes_the_fingerprint() {
        let a = InputFile { path: "d.csv".into(), bytes: 3, sha256: "a".repeat(64) };
        let b = InputFile { sha256: "b".repeat(64), ..a.clone() };
        assert_ne!(fingerprint(1, std::slice::from_ref(&a)), fingerprint(1, std::slice::from_ref(&b)));
        assert_ne!(fingerprint(1, &[]), fingerprint(2, &[]));
        assert!(changed_input(std::slice::from_ref(&a), std::slice::from_ref(&b)).unwrap().contains("d.csv changed"));
        assert_eq!(changed_input(std::slice::from_ref(&a), std::slice::from_ref(&a)), None);
        assert!(changed_input(&[], std::slice::from_ref(&a)).unwrap().contains("without"));
        assert!(changed_input(&[a], &[]).unwrap().contains("does not read"));
    }
}
