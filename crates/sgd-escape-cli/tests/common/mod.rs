//! Helpers the binary's end-to-end tests share.
// Each test binary uses a subset of the helpers.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

/// Runs the binary with `args`: its exit status (−1 when killed by a signal) and stderr.
pub fn sgd_escape(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sgd-escape")).args(args).output().expect("binary runs");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Writes `text` to `dir/name` and returns the path as a string.
pub fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}
