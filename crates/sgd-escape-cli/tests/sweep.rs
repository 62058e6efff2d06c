//! `sgd-escape sweep`: a plan run in one process and in shards merges to the same bytes; a
//! killed shard rerun recomputes only its unfinished points;
//! missing points, bad axes and foreign plans are refused with the reason.

mod common;

use common::{sgd_escape, write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The example sweep of examples/slurm: 2 learning rates × 3 seeds.
fn example() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/slurm/sweep.toml").to_str().unwrap().to_string()
}

fn ok(args: &[&str]) -> String {
    let (code, err) = sgd_escape(args);
    assert_eq!(code, 0, "{args:?}: {err}");
    err
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn one_process_and_three_shards_merge_to_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (one, three) = (dir.path().join("one"), dir.path().join("three"));
    ok(&["sweep", "plan", &example(), "--out", s(&one)]);
    ok(&["sweep", "run", s(&one)]);
    ok(&["sweep", "merge", s(&one)]);
    ok(&["sweep", "plan", &example(), "--out", s(&three)]);
    let mut seen = Vec::new();
    for shard in ["2/3", "0/3", "1/3"] {
        let err = ok(&["sweep", "run", s(&three), "--shard", shard, "--threads", "1"]);
        assert!(err.contains(&format!("shard {shard}: 2 of 6 points")), "{err}");
        seen.extend(err.lines().filter(|l| l.contains("done in")).map(|l| l[..16].to_string()));
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 6, "the shards partition the points: {seen:?}");
    ok(&["sweep", "merge", s(&three)]);
    for file in ["merged.csv", "merged.parquet"] {
        assert_eq!(std::fs::read(one.join(file)).unwrap(), std::fs::read(three.join(file)).unwrap(), "{file}");
    }
    let csv = std::fs::read_to_string(one.join("merged.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 7);
    assert!(lines[0].starts_with("id,dynamics.noise.lr,seed,replicas,escaped,"), "{}", lines[0]);
    // Grid order: the first axis slowest.
    let keys: Vec<(String, String)> = lines[1..]
        .iter()
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            (cells[1].to_string(), cells[2].to_string())
        })
        .collect();
    let expected: Vec<(String, String)> =
        [("0.1", "1"), ("0.1", "2"), ("0.1", "3"), ("0.2", "1"), ("0.2", "2"), ("0.2", "3")].map(|(a, b)| (a.into(), b.into())).to_vec();
    assert_eq!(keys, expected);
    // Each point is the `run` of its configuration: the same summary as running it alone.
    let plan: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(one.join("plan.json")).unwrap()).unwrap();
    let point = &plan["points"][4];
    let config = write(dir.path(), "point.toml", point["config"].as_str().unwrap());
    let alone = dir.path().join("alone");
    ok(&["run", &config, "--out", s(&alone)]);
    let id = point["id"].as_str().unwrap();
    let summary =
        |p: &Path| -> serde_json::Value { serde_json::from_str(&std::fs::read_to_string(p.join("summary.json")).unwrap()).unwrap() };
    assert_eq!(summary(&alone)["escape"], summary(&one.join("points").join(id))["escape"]);
    // Rerunning a complete sweep runs nothing; planning it again is harmless.
    let err = ok(&["sweep", "run", s(&one)]);
    assert_eq!(err.matches("already complete").count(), 6, "{err}");
    ok(&["sweep", "plan", &example(), "--out", s(&one)]);
}

#[test]
fn merge_lists_missing_points_and_bad_sweeps_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sweep");
    ok(&["sweep", "plan", &example(), "--out", s(&out)]);
    ok(&["sweep", "run", s(&out), "--shard", "0/2"]);
    let (code, err) = sgd_escape(&["sweep", "merge", s(&out)]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("3 of 6 planned points are not complete") && err.contains("dynamics.noise.lr = "), "{err}");
    assert!(!out.join("merged.csv").exists());

    let (code, err) = sgd_escape(&["sweep", "run", s(&out), "--shard", "2/2"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--shard") && err.contains("2/2"), "{err}");
    let (code, err) = sgd_escape(&["sweep", "run", s(&dir.path().join("nothing"))]);
    assert_eq!(code, 2);
    assert!(err.contains("no plan.json"), "{err}");

    let base = Path::new(&example()).with_file_name("base.toml");
    let sweep = |name: &str, axes: &str| write(dir.path(), name, &format!("base = {:?}\n{axes}", s(&base)));
    let unknown = sweep("unknown.toml", "[[axes]]\nkey = \"dynamics.noise.learning_rate\"\nvalues = [0.1]\n");
    let (code, err) = sgd_escape(&["sweep", "plan", &unknown, "--out", s(&dir.path().join("u"))]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("dynamics.noise.learning_rate = 0.1") && err.contains("learning_rate"), "{err}");
    let negative = sweep("negative.toml", "[[axes]]\nkey = \"dynamics.noise.lr\"\nvalues = [0.1, -0.1]\n");
    let (code, err) = sgd_escape(&["sweep", "plan", &negative, "--out", s(&dir.path().join("n"))]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("dynamics.noise.lr = -0.1") && err.contains("-0.1 is not"), "{err}");
    let repeated = sweep("repeated.toml", "[[axes]]\nkey = \"seed\"\nvalues = [4, 4]\n");
    let (code, err) = sgd_escape(&["sweep", "plan", &repeated, "--out", s(&dir.path().join("r"))]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("same configuration as the point seed = 4"), "{err}");
    let other = sweep("other.toml", "[[axes]]\nkey = \"seed\"\nvalues = [7]\n");
    let (code, err) = sgd_escape(&["sweep", "plan", &other, "--out", s(&out)]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("holds the plan of another sweep"), "{err}");
    let (code, err) = sgd_escape(&["sweep", "plan", &other, "--out", s(&dir.path().join("f")), "--format", "xlsx"]);
    assert_eq!(code, 2);
    assert!(err.contains("--format") && err.contains("xlsx"), "{err}");
}

/// Points of about half a second each, so that a kill lands inside one.
const SLOW_BASE: &str = r#"
seed = 1
replicas = 40000
max_steps = 10000000
[model]
kind = "double-well"
epsilon = 0.25
[dynamics]
kind = "sde"
dt = 0.01
[dynamics.noise]
kind = "paper"
lr = 0.2
[dynamics.solver]
kind = "euler-maruyama"
[exit]
kind = "coordinate"
threshold = 1.0
"#;

#[test]
fn a_killed_shard_reruns_only_its_unfinished_points() {
    // The interrupted point resumes from its journal, as any `run` does (tests/crash.rs).
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "base.toml", SLOW_BASE);
    let sweep = write(dir.path(), "sweep.toml", "base = \"base.toml\"\n[[axes]]\nkey = \"seed\"\nvalues = [1, 2, 3, 4]\n");
    let (reference, out) = (dir.path().join("reference"), dir.path().join("killed"));
    ok(&["sweep", "plan", &sweep, "--out", s(&reference), "--format", "parquet"]);
    ok(&["sweep", "run", s(&reference)]);
    ok(&["sweep", "merge", s(&reference)]);
    ok(&["sweep", "plan", &sweep, "--out", s(&out), "--format", "parquet"]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_sgd-escape"))
        .args(["sweep", "run", s(&out), "--threads", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill once a point is complete and the next has journalled replicas.
    let points = out.join("points");
    let started = Instant::now();
    let state = || {
        let dirs: Vec<_> = std::fs::read_dir(&points).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default();
        let complete: Vec<_> = dirs.iter().filter(|d| d.join("summary.json").exists()).cloned().collect();
        let journalled = dirs
            .iter()
            .any(|d| !d.join("summary.json").exists() && std::fs::metadata(d.join("replicas.journal")).is_ok_and(|m| m.len() > 10_000));
        (complete, journalled)
    };
    loop {
        let (complete, journalled) = state();
        if !complete.is_empty() && journalled {
            break;
        }
        assert!(child.try_wait().unwrap().is_none(), "the shard finished before it could be killed: make the points slower");
        assert!(started.elapsed() < Duration::from_secs(120));
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // Complete means marked so in the manifest (the last step of a point).
    let marked = |d: &Path| std::fs::read_to_string(d.join("sgd-escape-manifest.json")).is_ok_and(|m| m.contains("\"run\": \"complete\""));
    let finished: Vec<(std::path::PathBuf, Vec<u8>)> =
        state().0.iter().filter(|d| marked(d)).map(|d| (d.clone(), std::fs::read(d.join("summary.json")).unwrap())).collect();
    assert!(!finished.is_empty());
    let err = ok(&["sweep", "run", s(&out)]);
    assert_eq!(err.matches("already complete").count(), finished.len(), "{err}");
    assert_eq!(err.matches("done in").count(), 4 - finished.len(), "{err}");
    for (d, summary) in finished {
        assert_eq!(std::fs::read(d.join("summary.json")).unwrap(), summary, "a complete point is not rerun");
    }
    ok(&["sweep", "merge", s(&out)]);
    for file in ["merged.csv", "merged.parquet"] {
        assert_eq!(std::fs::read(reference.join(file)).unwrap(), std::fs::read(out.join(file)).unwrap(), "{file}");
    }
    // The per-replica tables are Parquet, as planned.
    let point = std::fs::read_dir(&points).unwrap().next().unwrap().unwrap().path();
    assert!(point.join("escape_times.parquet").exists() && !point.join("escape_times.csv").exists());
    assert_eq!(&std::fs::read(point.join("escape_times.parquet")).unwrap()[..4], b"PAR1");
}
