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
    let Some(python) =
        common::python_with("pandas, pyarrow, polars", "SGD_ESCAPE_REQUIRE_PYTHON_READERS", "pip install pandas pyarrow polars")
    else {
        return;
    };
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
