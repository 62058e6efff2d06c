//! The Python package (crates/sgd-escape-py): its pytest suite (runs from dicts, arrays in and
//! out, exceptions, Ctrl-C, equality with this binary's results), `mypy --strict` over the
//! package and the tests, and the example script of examples/python.
//!
//! Needs a Python where `pip install ./crates/sgd-escape-py pytest mypy matplotlib` was run:
//! $SGD_ESCAPE_PYTHON, else python3. Without it the test says so and passes, unless
//! SGD_ESCAPE_REQUIRE_PYTHON_PACKAGE=1 (set by .ci/run, which installs the package from the
//! clean clone), where it fails.

mod common;

use std::path::Path;
use std::process::Command;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn check(python: &str, what: &str, args: &[&str]) {
    let out = Command::new(python).args(args).current_dir(root()).env("SGD_ESCAPE_BIN", env!("CARGO_BIN_EXE_sgd-escape")).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{what} failed:\n{text}");
    eprintln!("{what}: {}", text.trim().lines().last().unwrap_or(""));
}

#[test]
fn the_python_package_passes_its_tests_type_checks_and_runs_its_example() {
    let Some(python) = common::python_with(
        "sgd_escape, pytest, mypy, matplotlib",
        "SGD_ESCAPE_REQUIRE_PYTHON_PACKAGE",
        "pip install ./crates/sgd-escape-py pytest mypy matplotlib",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("mypy-cache");
    let png = dir.path().join("escape_time_vs_lr.png");
    check(&python, "pytest", &["-m", "pytest", "-q", "-p", "no:cacheprovider", "crates/sgd-escape-py/tests"]);
    check(
        &python,
        "mypy --strict",
        &["-m", "mypy", "--strict", "--cache-dir", cache.to_str().unwrap(), "crates/sgd-escape-py/python", "crates/sgd-escape-py/tests"],
    );
    check(&python, "examples/python/escape_time_vs_lr.py", &["examples/python/escape_time_vs_lr.py", png.to_str().unwrap()]);
    assert!(std::fs::metadata(&png).is_ok_and(|m| m.len() > 10_000), "the example wrote its figure");
}
