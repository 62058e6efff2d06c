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

/// The Python to test with ($SGD_ESCAPE_PYTHON, else python3) when it imports `modules`
/// (comma-separated); otherwise `None` after a notice, or a failure when the environment
/// variable `require` is 1 (as .ci/run sets it). `install` says how to get the modules.
pub fn python_with(modules: &str, require: &str, install: &str) -> Option<String> {
    let required = std::env::var_os(require).is_some_and(|v| v == "1");
    let python = std::env::var("SGD_ESCAPE_PYTHON").unwrap_or_else(|_| "python3".into());
    let probe = Command::new(&python).args(["-c", &format!("import {modules}")]).output();
    if probe.as_ref().is_ok_and(|o| o.status.success()) {
        return Some(python);
    }
    let why = probe.map(|o| String::from_utf8_lossy(&o.stderr).into_owned()).unwrap_or_else(|e| e.to_string());
    assert!(!required, "{require}=1 but {python} cannot import {modules}: {why}");
    eprintln!("skipped: {python} cannot import {modules} ({install})");
    None
}
