//! `train`: SGD on an MLP reduces the loss, logs the noise strength consistently, and an
//! interrupted-then-resumed run ends bit-identical to an uninterrupted one.

use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use sgd_escape::experiment::config::TrainConfig;
use sgd_escape::experiment::train::{resolve, train_in_dir};
use sgd_escape::model::prelude::*;
use sgd_escape::report::folder::Existing;
use std::cell::Cell;
use std::path::Path;

const DIGITS: &str = r#"
[model]
kind = "mlp"
hidden = [32]
activation = "tanh"
init_seed = 4
[data]
source = "digits"
samples = 1200
standardize = true
[test]
source = "digits"
skip = 1200
[train]
lr = 0.05
batch_size = 20
epochs = 6
seed = 9
"#;

fn spec(text: &str) -> sgd_escape::experiment::train::TrainSpec {
    resolve(&TrainConfig::from_toml(text, Path::new("t.toml")).unwrap(), Path::new(".")).unwrap()
}

#[test]
fn training_reduces_the_loss_and_logs_the_noise() {
    let s = spec(DIGITS);
    assert_eq!((s.steps_per_epoch(), s.test.as_ref().unwrap().len()), (60, 597));
    let dir = tempfile::tempdir().unwrap();
    let out = train_in_dir(&s, dir.path(), Existing::Refuse, &|_| {}, &|| false).unwrap();
    assert_eq!(out.log.len(), 7);
    let (first, last) = (&out.log[0], &out.log[6]);
    assert!(last.loss < 0.2 * first.loss, "{} → {}", first.loss, last.loss);
    assert!(last.test_loss.unwrap() < 0.5 * first.test_loss.unwrap() && last.test_accuracy.unwrap() > 0.85, "{last:?}");
    for r in &out.log {
        assert!(r.noise > 0.0);
        assert_eq!(r.steps, 60 * r.epoch as u64);
    }
    // The logged noise at the final parameters, by an independent route: 𝒩 from a loop over
    // per-sample gradients, and Tr Σ as the mean of |∇L_B − ∇L|² over random batches of 20
    // distinct indices (Monte Carlo, within 4 SE), which checks the (N − B)/(N − 1) factor.
    let (model, theta) = (&s.model, &out.theta);
    let p = model.dim();
    let n = model.samples();
    let (mut full, mut g) = (vec![0.0; p], vec![0.0; p]);
    model.loss_and_gradient(theta, &mut full);
    let mean_sq = (0..n)
        .map(|mu| {
            model.sample_loss_gradient(theta, mu, &mut g);
            g.iter().map(|v| v * v).sum::<f64>()
        })
        .sum::<f64>()
        / n as f64;
    let noise = mean_sq - full.iter().map(|v| v * v).sum::<f64>();
    assert!((noise - last.noise).abs() < 1e-9 * noise, "{noise} vs {}", last.noise);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(17);
    let mut indices: Vec<usize> = (0..n).collect();
    let deviations: Vec<f64> = (0..40_000)
        .map(|_| {
            // Partial Fisher–Yates: 20 distinct indices.
            for i in 0..20 {
                let j = rng.random_range(i..n);
                indices.swap(i, j);
            }
            model.minibatch_gradient(theta, &indices[..20], &mut g);
            g.iter().zip(&full).map(|(a, b)| (a - b) * (a - b)).sum::<f64>()
        })
        .collect();
    let mean = deviations.iter().sum::<f64>() / deviations.len() as f64;
    let se = (deviations.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (deviations.len() as f64 - 1.0)).sqrt()
        / (deviations.len() as f64).sqrt();
    println!("Monte Carlo Tr Σ {mean} ± {se}, logged {}, with replacement {}", last.trace_sigma, last.noise / 20.0);
    assert!((mean - last.trace_sigma).abs() < 4.0 * se, "Monte Carlo Tr Σ {mean} ± {se} vs logged {}", last.trace_sigma);
    for file in ["log.csv", "checkpoint.json", "params.json", "train.json"] {
        assert!(dir.path().join(file).exists(), "{file}");
    }
    let csv = std::fs::read_to_string(dir.path().join("log.csv")).unwrap();
    assert_eq!(csv.lines().count(), 8);
    // params.json feeds `run` and `landscape` (start.parameters).
    let params: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("params.json")).unwrap()).unwrap();
    assert_eq!(params["theta"].as_array().unwrap().len(), 64 * 32 + 32 + 32 * 10 + 10);
}

#[test]
fn interrupted_then_resumed_run_is_bit_identical() {
    let s = spec(DIGITS);
    let whole = tempfile::tempdir().unwrap();
    let reference = train_in_dir(&s, whole.path(), Existing::Refuse, &|_| {}, &|| false).unwrap();
    // Interrupt after epoch 2, then rerun the same configuration in the same folder.
    let parts = tempfile::tempdir().unwrap();
    let epochs = Cell::new(0);
    let first = train_in_dir(&s, parts.path(), Existing::Refuse, &|_| {}, &|| {
        epochs.set(epochs.get() + 1);
        epochs.get() >= 2
    })
    .unwrap();
    assert!(first.interrupted && first.log.last().unwrap().epoch == 2);
    assert!(!parts.path().join("params.json").exists());
    let resumed = train_in_dir(&s, parts.path(), Existing::Refuse, &|_| {}, &|| false).unwrap();
    assert_eq!(resumed.resumed_from, 2);
    assert_eq!(resumed.theta, reference.theta);
    assert_eq!(resumed.log, reference.log);
    assert_eq!(std::fs::read(whole.path().join("log.csv")).unwrap(), std::fs::read(parts.path().join("log.csv")).unwrap());
    // Extending a finished run continues from its last epoch; a changed configuration starts
    // afresh.
    let longer = spec(&DIGITS.replace("epochs = 6", "epochs = 7"));
    let extended = train_in_dir(&longer, parts.path(), Existing::Refuse, &|_| {}, &|| false).unwrap();
    assert_eq!((extended.resumed_from, extended.log.len()), (6, 8));
    // A changed configuration is refused, naming the folder; with MoveAside (`--force`) the
    // old run moves into replaced-1 and the new one starts afresh.
    let other = spec(&DIGITS.replace("lr = 0.05", "lr = 0.04"));
    let err = train_in_dir(&other, parts.path(), Existing::Refuse, &|_| {}, &|| false).unwrap_err();
    assert!(err.is_invalid_input() && err.to_string().contains("different configuration"), "{err}");
    let before = std::fs::read(parts.path().join("log.csv")).unwrap();
    assert_eq!(train_in_dir(&other, parts.path(), Existing::MoveAside, &|_| {}, &|| false).unwrap().resumed_from, 0);
    assert_eq!(std::fs::read(parts.path().join("replaced-1/log.csv")).unwrap(), before, "the earlier log is kept");
    // Without a test set too (its log has no test metrics).
    let no_test = spec(&DIGITS.replace("[test]\nsource = \"digits\"\nskip = 1200\n", ""));
    assert!(no_test.test.is_none());
    let dir = tempfile::tempdir().unwrap();
    train_in_dir(&no_test, dir.path(), Existing::Refuse, &|_| {}, &|| false).unwrap();
    assert_eq!(train_in_dir(&no_test, dir.path(), Existing::Refuse, &|_| {}, &|| false).unwrap().resumed_from, 6);
}

#[test]
fn invalid_training_configurations_name_the_key() {
    let bad = |from: &str, to: &str, key: &str| {
        let text = DIGITS.replace(from, to);
        let err = TrainConfig::from_toml(&text, Path::new("t.toml")).and_then(|c| resolve(&c, Path::new(".")).map(|_| ())).unwrap_err();
        assert!(err.is_invalid_input() && err.to_string().contains(key), "{key}: {err}");
    };
    bad("lr = 0.05", "lr = -0.05", "train.lr");
    bad("batch_size = 20", "batch_size = 5000", "train.batch_size");
    bad("source = \"digits\"\nsamples", "source = \"mnist\"\nsamples", "data.source");
    bad("hidden = [32]", "hidden = [32, 0]", "model.hidden");
    bad("activation = \"tanh\"", "activation = \"gelu\"", "model.activation");
    bad("skip = 1200", "skip = 1200\nlabels = \"binary\"", "test.labels");
    bad("[train]", "[train]\nmomentum = 0.9", "momentum");
    // Diverging training is an error, not NaN in the log.
    let s = spec(&DIGITS.replace("lr = 0.05", "lr = 50.0"));
    let dir = tempfile::tempdir().unwrap();
    let err = train_in_dir(&s, dir.path(), Existing::Refuse, &|_| {}, &|| false).unwrap_err().to_string();
    assert!(err.contains("diverged") && err.contains("train.lr"), "{err}");
}
