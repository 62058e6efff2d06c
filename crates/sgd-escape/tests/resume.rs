//! An interrupted run loses no finished replica: rerunning into the same folder runs only the
//! missing replicas, and the outputs are bit-identical to an uninterrupted run.

use sgd_escape::experiment::Config;
use sgd_escape::experiment::config::values::Count;
use sgd_escape::experiment::prepare;
use sgd_escape::experiment::run::{config_fingerprint, journal_fingerprint, run_in_dir};
use sgd_escape::experiment::simulate::simulate;
use sgd_escape::report::folder::{Claim, Existing, OutputFolder};
use sgd_escape::report::journal::Journal;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

const CONFIG: &str = r#"
seed = 11
replicas = 200
[model]
kind = "curve"
noise = 0.8
samples = 1000
[dynamics]
kind = "sgd"
lr = 0.1
[exit]
kind = "coordinate"
threshold = 0.9
"#;

#[test]
fn resumed_run_is_bit_identical() {
    let config = Config::from_toml(CONFIG, Path::new("inline.toml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join("full");
    run_in_dir(&config, Path::new("."), &full, &Default::default(), &|_| {}).unwrap();

    // Simulate an interruption: 70 replicas finished and journaled, then the process died.
    let resumed = dir.path().join("resumed");
    let prepared = prepare(&config, Path::new(".")).unwrap();
    let mut partial = prepared.config.clone();
    partial.replicas = Count::new(70).unwrap();
    let partial_prepared = prepare(&partial, Path::new(".")).unwrap();
    {
        let _folder = OutputFolder::claim(&resumed, claim(config_fingerprint(&prepared.config))).unwrap();
        let (journal, done) =
            Journal::<sgd_escape::escape::ReplicaOutcome>::open(&resumed, journal_fingerprint(&prepared.config, &[])).unwrap();
        assert!(done.is_empty());
        simulate(&partial_prepared, Vec::new(), &|o| journal.record(o)).unwrap();
        // Dropped without remove(): as if killed. Append half a line, as a kill mid-write would.
    }
    let journal_path = resumed.join("replicas.journal");
    let mut text = std::fs::read_to_string(&journal_path).unwrap();
    text.push_str("71,12");
    std::fs::write(&journal_path, text).unwrap();

    let rerun = AtomicUsize::new(0);
    run_in_dir(&config, Path::new("."), &resumed, &Default::default(), &|_| {
        rerun.fetch_add(1, Ordering::Relaxed);
    })
    .unwrap();
    assert_eq!(rerun.load(Ordering::Relaxed), 130, "only the missing replicas run again");
    for file in ["summary.json", "escape_times.csv", "survival.csv"] {
        let a = std::fs::read(full.join(file)).unwrap();
        let b = std::fs::read(resumed.join(file)).unwrap();
        assert!(a == b, "{file} differs after resumption");
    }
}

/// The claim `run` makes on its folder (no input files: the model generates its data).
fn claim(config_fingerprint: u64) -> Claim<'static> {
    Claim { command: "run", config_fingerprint, inputs: &[], outputs: &[], existing: Existing::Refuse }
}

#[test]
fn interrupted_run_of_another_configuration_is_refused() {
    let config = Config::from_toml(CONFIG, Path::new("inline.toml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    {
        let _folder = OutputFolder::claim(&out, claim(12345)).unwrap();
        let (journal, _) = Journal::<sgd_escape::escape::ReplicaOutcome>::open(&out, 12345).unwrap();
        drop(journal);
    }
    let err = run_in_dir(&config, Path::new("."), &out, &Default::default(), &|_| {}).unwrap_err();
    assert!(err.is_invalid_input());
    assert!(err.to_string().contains("different configuration"), "{err}");
    assert!(out.join("replicas.journal").exists(), "the other run's journal is untouched");
}
