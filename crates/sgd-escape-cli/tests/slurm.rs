//! The example sweep on a real Slurm: a single-node cluster (examples/slurm/local-cluster.sh)
//! runs it as a job array of 3 tasks, at most 2 at a time, and a merge job that waits for them
//! (examples/slurm/submit.sh); the merged files must be the bytes of a single-process run.
//!
//! Needs Debian's slurm-wlm and munge and root (or sudo) for the daemons. Without them the
//! test says so and passes, unless SGD_ESCAPE_REQUIRE_SLURM=1 (set by .ci/run, which installs
//! them), where it fails.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/slurm")
}

fn has(program: &str) -> bool {
    // The daemons live in /usr/sbin, which a user's PATH may not hold.
    Command::new("sh")
        .args(["-c", &format!("command -v {program} >/dev/null || test -x /usr/sbin/{program}")])
        .status()
        .is_ok_and(|s| s.success())
}

/// Stops the cluster when the test ends, passed or failed.
struct Cluster(PathBuf);

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash").arg(examples().join("local-cluster.sh")).arg("stop").arg(&self.0).status();
    }
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_sgd-escape")
}

#[test]
fn the_example_sweep_as_a_slurm_array_merges_to_the_bytes_of_one_process() {
    let required = std::env::var_os("SGD_ESCAPE_REQUIRE_SLURM").is_some_and(|v| v == "1");
    let missing: Vec<&str> = ["slurmctld", "slurmd", "sbatch", "munged"].into_iter().filter(|p| !has(p)).collect();
    if !missing.is_empty() {
        assert!(!required, "SGD_ESCAPE_REQUIRE_SLURM=1 but {} not installed (apt-get install slurm-wlm munge)", missing.join(", "));
        eprintln!("skipped: {} not installed (apt-get install slurm-wlm munge)", missing.join(", "));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("cluster");
    let started = Instant::now();
    let up = Command::new("bash").arg(examples().join("local-cluster.sh")).arg("start").arg(&state).output().unwrap();
    let _cluster = Cluster(state.clone());
    if !up.status.success() {
        let why = String::from_utf8_lossy(&up.stderr);
        assert!(!required, "SGD_ESCAPE_REQUIRE_SLURM=1 but the single-node cluster did not start: {why}");
        eprintln!("skipped: the single-node cluster did not start: {why}");
        return;
    }
    eprintln!("cluster up in {:.1} s", started.elapsed().as_secs_f64());
    let conf = state.join("slurm.conf");
    let sweep = examples().join("sweep.toml");

    let reference = dir.path().join("reference");
    for args in [
        vec!["sweep", "plan", sweep.to_str().unwrap(), "--out", reference.to_str().unwrap()],
        vec!["sweep", "run", reference.to_str().unwrap()],
        vec!["sweep", "merge", reference.to_str().unwrap()],
    ] {
        assert!(Command::new(bin()).args(&args).output().unwrap().status.success(), "{args:?}");
    }

    let out = dir.path().join("on-slurm");
    let submitted = Command::new("bash")
        .arg(examples().join("submit.sh"))
        .args([sweep.to_str().unwrap(), out.to_str().unwrap(), "3", "2"])
        .env("SGD_ESCAPE", bin())
        .env("SLURM_CONF", &conf)
        .output()
        .unwrap();
    assert!(submitted.status.success(), "submit.sh: {}", String::from_utf8_lossy(&submitted.stderr));
    let jobs = String::from_utf8_lossy(&submitted.stdout).trim().to_string();
    eprintln!("submitted array and merge jobs {jobs}");
    let queue = || {
        let q = Command::new("squeue").args(["-h", "-o", "%i %T %r"]).env("SLURM_CONF", &conf).output().unwrap();
        String::from_utf8_lossy(&q.stdout).trim().to_string()
    };
    let waited = Instant::now();
    while !queue().is_empty() {
        let q = queue();
        assert!(!q.contains("DependencyNeverSatisfied"), "a shard failed: {q}\n{}", logs(&out));
        assert!(waited.elapsed() < Duration::from_secs(300), "the jobs did not finish in 5 minutes: {q}\n{}", logs(&out));
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("array and merge finished in {:.1} s", waited.elapsed().as_secs_f64());
    for file in ["merged.csv", "merged.parquet"] {
        let merged = std::fs::read(out.join(file)).unwrap_or_else(|e| panic!("{file}: {e}\n{}", logs(&out)));
        assert_eq!(merged, std::fs::read(reference.join(file)).unwrap(), "{file}");
    }
    // Each task ran its own shard.
    let text = logs(&out);
    for shard in ["shard 0/3", "shard 1/3", "shard 2/3"] {
        assert_eq!(text.matches(shard).count(), 1, "{shard}: {text}");
    }
}

/// The jobs' output files, for failure messages.
fn logs(out: &Path) -> String {
    let mut files: Vec<PathBuf> = std::fs::read_dir(out)
        .map(|d| d.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "out")).collect())
        .unwrap_or_default();
    files.sort();
    files.iter().map(|f| format!("== {}\n{}", f.display(), std::fs::read_to_string(f).unwrap_or_default())).collect()
}
