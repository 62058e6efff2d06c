//! Parquet files as Python reads them: a run's `escape_times.parquet` and a sweep's
//! `merged.parquet`, read with pandas (pyarrow) and polars, hold the values of the CSV files
//! of the same results (tests/python/read_parquet.py).
//!
//! Needs a Python with pandas, pyarrow and polars: $SGD_ESCAPE_PYTHON, else python3. Without
//! them the test says so and passes, unless SGD_ESCAPE_REQUIRE_PYTHON_READERS=1 (set by
//! .ci/run, which installs them in a virtual environment), where it fails.

mod common;

use common::sgd_escape;
use std::path::Path;
use std::process::Command;

#[test]
fn pandas_and_polars_read_the_parquet_files_as_the_csv_files() {
    let required = std::env::var_os("SGD_ESCAPE_REQUIRE_PYTHON_READERS").is_some_and(|v| v == "1");
    let python = std::env::var("SGD_ESCAPE_PYTHON").unwrap_or_else(|_| "python3".into());
    let probe = Command::new(&python).args(["-c", "import pandas, pyarrow, polars"]).output();
    if !probe.as_ref().is_ok_and(|o| o.status.success()) {
        let why = probe.map(|o| String::from_utf8_lossy(&o.stderr).into_owned()).unwrap_or_else(|e| e.to_string());
        assert!(!required, "SGD_ESCAPE_REQUIRE_PYTHON_READERS=1 but {python} cannot import pandas, pyarrow and polars: {why}");
        eprintln!("skipped: {python} cannot import pandas, pyarrow and polars (pip install pandas pyarrow polars)");
        return;
    }
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/slurm");
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let base = examples.join("base.toml");
    for args in [
        vec!["run", base.to_str().unwrap(), "--out", &d("csv")],
        vec!["run", base.to_str().unwrap(), "--out", &d("parquet"), "--format", "parquet"],
        vec!["sweep", "plan", examples.join("sweep.toml").to_str().unwrap(), "--out", &d("sweep")],
        vec!["sweep", "run", &d("sweep")],
        vec!["sweep", "merge", &d("sweep")],
    ] {
        let (code, err) = sgd_escape(&args);
        assert_eq!(code, 0, "{args:?}: {err}");
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/read_parquet.py");
    let out = Command::new(&python)
        .arg(script)
        .args([d("parquet/escape_times.parquet"), d("csv/escape_times.csv"), d("sweep/merged.parquet"), d("sweep/merged.csv")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    eprintln!("{}", String::from_utf8_lossy(&out.stdout).trim());
}
