//! Results are never lost or mixed (the regressions of a hostile user's session): a resume
//! whose data changed, a folder of another configuration, two writers at once, a stale
//! summary beside a journal; and divergence is never escape.

use std::path::PathBuf;
use std::process::Command;

mod common;
use common::{sgd_escape, write};

fn csv(slope: f64) -> String {
    let mut text = String::from("x,y\n");
    for i in 0..200 {
        let x = ((i * 37 % 101) as f64 - 50.0) / 25.0;
        let noise = ((i * 53 % 97) as f64 - 48.0) / 40.0;
        text.push_str(&format!("{x},{}\n", slope * x + noise));
    }
    text
}

const RUN: &str = "seed = 2\nreplicas = 300\nmax_steps = 1000000\n[model]\nkind = \"linear-regression\"\n\
[data]\nsource = \"csv\"\npath = \"data.csv\"\n[dynamics]\nkind = \"sgd\"\nlr = 0.1\n[exit]\nkind = \"loss-above\"\nratio = 1.5\n";

fn json(path: PathBuf) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn a_resume_whose_data_changed_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "data.csv", &csv(0.5));
    let cfg = write(d, "run.toml", RUN);
    let out = d.join("out");
    let o = out.to_str().unwrap();
    let (code, err) = sgd_escape(&["run", &cfg, "--out", o]);
    assert_eq!(code, 0, "{err}");
    let summary = json(out.join("summary.json"));
    assert_eq!(summary["inputs"][0]["bytes"].as_u64(), Some(std::fs::metadata(d.join("data.csv")).unwrap().len()));
    assert_eq!(summary["inputs"][0]["sha256"].as_str().unwrap().len(), 64);
    // The data change after a run: rerunning (or resuming) into the folder is refused, naming
    // the file.
    write(d, "data.csv", &csv(0.7));
    let (code, err) = sgd_escape(&["run", &cfg, "--out", o]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("data.csv changed") && err.contains("--force"), "{err}");
    assert!(out.join("summary.json").exists(), "the earlier results are untouched");
    // --force moves the earlier results aside and runs on the new data.
    let (code, err) = sgd_escape(&["run", &cfg, "--out", o, "--force"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(json(out.join("replaced-1/summary.json")), summary);
    assert_ne!(json(out.join("summary.json"))["minimum"], summary["minimum"]);
}

#[test]
fn training_whose_data_or_configuration_changed_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "data.csv", &csv(0.5));
    let text = "[model]\nkind = \"mlp\"\nhidden = [3]\n[data]\nsource = \"csv\"\npath = \"data.csv\"\n[train]\nlr = 0.05\nbatch_size = 10\nepochs = 2\n";
    let cfg = write(d, "train.toml", text);
    let o = d.join("out");
    let o = o.to_str().unwrap();
    assert_eq!(sgd_escape(&["train", &cfg, "--out", o]).0, 0);
    write(d, "data.csv", &csv(0.9));
    let (code, err) = sgd_escape(&["train", &cfg, "--out", o]);
    assert!(code == 2 && err.contains("data.csv changed"), "{err}");
    write(d, "data.csv", &csv(0.5));
    let changed = write(d, "train.toml", &text.replace("lr = 0.05", "lr = 0.04"));
    let (code, err) = sgd_escape(&["train", &changed, "--out", o]);
    assert!(code == 2 && err.contains("different configuration"), "{err}");
    // Raising the epochs extends the run (the same configuration otherwise).
    let longer = write(d, "train.toml", &text.replace("epochs = 2", "epochs = 3"));
    let (code, err) = sgd_escape(&["train", &longer, "--out", o]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn a_folder_of_another_configuration_is_refused_and_runs_and_landscapes_share_one() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "data.csv", &csv(0.5));
    let cfg = write(d, "run.toml", RUN);
    let o = d.join("out");
    let o = o.to_str().unwrap();
    assert_eq!(sgd_escape(&["landscape", &cfg, "--out", o]).0, 0);
    let (code, err) = sgd_escape(&["run", &cfg, "--out", o, "--replicas", "100"]);
    assert_eq!(code, 0, "the same configuration's run beside its landscape: {err}");
    let other = write(d, "other.toml", &RUN.replace("ratio = 1.5", "ratio = 1.6"));
    let (code, err) = sgd_escape(&["run", &other, "--out", o]);
    assert!(code == 2 && err.contains("different configuration"), "{err}");
    let (code, err) = sgd_escape(&["landscape", &other, "--out", o]);
    assert!(code == 2 && err.contains("different configuration"), "{err}");
    // Results of an older version (no manifest) are not silently replaced either.
    let old = d.join("old");
    std::fs::create_dir(&old).unwrap();
    write(&old, "summary.json", "{}");
    let (code, err) = sgd_escape(&["run", &cfg, "--out", old.to_str().unwrap()]);
    assert!(code == 2 && err.contains("without a manifest"), "{err}");
}

#[test]
fn two_writers_of_one_folder_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = write(
        d,
        "long.toml",
        "replicas = 64\nmax_steps = 400000000\n[model]\nkind = \"double-well\"\n[dynamics]\nkind = \"sde\"\ndt = 0.01\n[dynamics.noise]\nkind = \"isotropic\"\ntemperature = 0.01\n[exit]\nkind = \"coordinate\"\nthreshold = 1.0\n",
    );
    let o = d.join("out");
    let mut first = Command::new(env!("CARGO_BIN_EXE_sgd-escape")).args(["run", &cfg, "--out", o.to_str().unwrap()]).spawn().unwrap();
    // Wait until the first has claimed the folder (its manifest is written).
    let started = std::time::Instant::now();
    while !o.join("sgd-escape-manifest.json").exists() && started.elapsed().as_secs() < 30 {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let (code, err) = sgd_escape(&["run", &cfg, "--out", o.to_str().unwrap()]);
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(code == 2 && err.contains("another sgd-escape process"), "{err}");
}

#[test]
fn divergence_is_never_escape_and_an_unstable_step_is_warned_about_first() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let base = "seed = 1\nreplicas = 200\nmax_steps = 100000\n[model]\nkind = \"double-well\"\nepsilon = 0.25\n[dynamics]\nkind = \"sde\"\ndt = DT\n\
                [dynamics.noise]\nkind = \"paper\"\nlr = 0.1\n[dynamics.solver]\nkind = \"euler-maruyama\"\n[exit]\nkind = \"coordinate\"\nthreshold = 1.0\n";
    // dt = 1e308: the first step jumps θ by ~10¹⁵³. A replica thrown past the threshold is
    // an exit of this chain at t = 1e308 (finite θ, finite t); every other one overflows on
    // its next step and is `diverged`. None "escapes" at t = inf, as one used to.
    let cfg = write(d, "huge.toml", &base.replace("DT", "1e308"));
    let out = d.join("huge");
    let (code, err) = sgd_escape(&["run", &cfg, "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let s = json(out.join("summary.json"));
    let diverged = s["escape"]["diverged"].as_u64().unwrap();
    assert!(diverged > 50 && s["escape"]["escaped"].as_u64().unwrap() + diverged == 200, "{}", s["escape"]);
    let csv = std::fs::read_to_string(out.join("escape_times.csv")).unwrap();
    for line in csv.lines().skip(1).filter(|l| l.contains(",escaped,")) {
        assert!(line.split(',').nth(2).unwrap().parse::<f64>().unwrap().is_finite(), "{line}");
    }
    assert!(err.contains("diverged") && err.contains("linear stability"), "{err}");
    // A loss-above exit reads the loss: where it has overflowed, the replica diverged.
    let cfg = write(
        d,
        "loss.toml",
        &base.replace("DT", "1e308").replace("kind = \"coordinate\"\nthreshold = 1.0", "kind = \"loss-above\"\nratio = 2.0"),
    );
    let out = d.join("loss");
    let (code, err) = sgd_escape(&["run", &cfg, "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let s = json(out.join("summary.json"));
    assert_eq!(s["escape"]["diverged"].as_u64(), Some(200), "{}", s["escape"]);
    // dt = 1.5 > 2/λmax = 1: the warning comes before the run and is kept in the summary.
    let cfg = write(d, "unstable.toml", &base.replace("DT", "1.5"));
    let out = d.join("unstable");
    let (code, err) = sgd_escape(&["run", &cfg, "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let warning = err.find("beyond linear stability").expect("warned");
    assert!(warning < err.find("replicas run on the lane kernel").unwrap(), "the warning precedes the run: {err}");
    assert!(warning < err.find("200 replicas: 200 escaped").unwrap(), "the warning precedes the results: {err}");
    assert!(json(out.join("summary.json"))["warnings"].to_string().contains("beyond linear stability"));
    // The default (adaptive) solver keeps its steps stable at the same dt: no warning.
    let cfg = write(d, "adaptive.toml", &base.replace("DT", "1.5").replace("kind = \"euler-maruyama\"", "kind = \"adaptive\""));
    let (code, err) = sgd_escape(&["run", &cfg, "--out", d.join("adaptive").to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("linear stability"), "{err}");
}
