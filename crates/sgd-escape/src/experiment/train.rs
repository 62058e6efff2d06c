//! `sgd-escape train`: minibatch SGD on an MLP for a number of epochs, logging once per epoch
//! (or every `log_every` epochs) the training loss L, the gradient noise strength
//! 𝒩 = (1/N) Σ_μ |∇ℓ_μ|² − |∇L|² (paper Fig. 2), Tr Σ, |∇L|² and test metrics.
//!
//! Reproducible and resumable: the RNG stream of epoch e is `(seed, e)`, so a run's trajectory
//! depends only on its configuration; after every logged epoch the parameters and the log are
//! written atomically to `checkpoint.json`, and rerunning the same configuration in the same
//! folder continues from there (raising `train.epochs` extends a finished run). An interrupted
//! and resumed run ends bit-identical to an uninterrupted one.

use super::config::{LoadedData, MlpConfig, ModelConfig, TrainConfig, values};
use crate::data::{Dataset, Standardization};
use crate::dynamics::rng::replica_rng;
use crate::dynamics::{Sampling, Sgd, Stepper};
use crate::error::{Error, Result};
use crate::model::{DataModel, Mlp, Model};
use crate::report::folder::{Claim, Existing, OutputFolder};
use crate::report::provenance::{InputFile, config_fingerprint, hash_inputs};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A resolved training run.
#[derive(Clone, Debug)]
pub struct TrainSpec {
    /// The configuration that runs, every default written out (recorded in the outputs).
    pub config: TrainConfig,
    /// The network on its training data.
    pub model: Mlp,
    /// The architecture.
    pub mlp: MlpConfig,
    /// The standardisation applied to the training features (and the test features), if any.
    pub standardization: Option<Standardization>,
    /// The test set, if any.
    pub test: Option<Dataset>,
    /// η.
    pub lr: f64,
    /// B.
    pub batch_size: usize,
    /// Batch sampling.
    pub sampling: Sampling,
    /// Epochs to train.
    pub epochs: usize,
    /// RNG seed.
    pub seed: u64,
    /// Log every this many epochs (epoch 0 and the last are always logged).
    pub log_every: usize,
    /// The input files read, with their SHA-256.
    pub inputs: Vec<InputFile>,
}

/// One log row (one per logged epoch).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochLog {
    /// Epochs completed.
    pub epoch: usize,
    /// SGD steps taken.
    pub steps: u64,
    /// Time t = η · steps.
    pub time: f64,
    /// Training loss L(θ).
    pub loss: f64,
    /// |∇L|².
    pub gradient_norm_sq: f64,
    /// 𝒩 = (1/N) Σ|∇ℓ_μ|² − |∇L|².
    pub noise: f64,
    /// Tr Σ = 𝒩/B, times (N − B)/(N − 1) without replacement.
    pub trace_sigma: f64,
    /// Training accuracy.
    pub accuracy: f64,
    /// Test loss (without a test set: none; written as NaN in log.csv).
    pub test_loss: Option<f64>,
    /// Test accuracy (likewise).
    pub test_accuracy: Option<f64>,
}

/// The resumable state written after every logged epoch.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Checkpoint {
    version: String,
    /// The canonical configuration without `train.epochs` (extending a run is allowed).
    config: TrainConfig,
    /// The input files the run was started from.
    inputs: Vec<InputFile>,
    epoch: usize,
    steps: u64,
    theta: Vec<f64>,
    log: Vec<EpochLog>,
}

/// Validates a training configuration, loads the data (relative paths against `base_dir`) and
/// writes every default into the configuration it keeps.
pub fn resolve(config: &TrainConfig, base_dir: &Path) -> Result<TrainSpec> {
    let mut config = config.clone();
    let mlp = match &config.model {
        ModelConfig::Mlp(m) => m.clone(),
        other => return Err(Error::invalid("model.kind", format!("{:?}", other.kind()), "training files train an MLP: kind = \"mlp\"")),
    };
    let LoadedData { data, standardization } = config.data.load(base_dir, "data", None)?;
    let test = match &mut config.test {
        Some(section) => {
            // The test set is scaled like the training set, with the training set's statistics.
            let scaled = standardization.as_ref();
            section.set_standardize(scaled.is_some_and(|s| s.scales_features()), scaled.is_some_and(|s| s.target.is_some()));
            let test = section.load(base_dir, "test", standardization.as_ref())?.data;
            if (test.features, test.outputs) != (data.features, data.outputs) {
                return Err(Error::invalid(
                    "[test]",
                    format!("{} features, {} outputs", test.features, test.outputs),
                    format!("must match the training data ({} features, {} outputs)", data.features, data.outputs),
                ));
            }
            Some(test)
        }
        None => None,
    };
    let t = &mut config.train;
    let n = data.len();
    let batch_size = t.batch_size.get_or_insert(values::Count::new(100.min(n)).expect("N ≥ 1")).get();
    if batch_size > n {
        return Err(Error::invalid("train.batch_size", batch_size, format!("must be between 1 and the number of samples N = {n}")));
    }
    let (lr, sampling, epochs, seed, log_every) = (t.lr.get(), t.sampling, t.epochs, t.seed, t.log_every.get());
    let model = Mlp::new(&mlp.widths(), mlp.activation, data)?.with_weight_decay(mlp.weight_decay.get())?;
    mlp.require_memory(model.dim())?;
    let inputs = hash_inputs(&config.input_files(base_dir))?;
    Ok(TrainSpec { config, model, mlp, standardization, test, lr, batch_size, sampling, epochs, seed, log_every, inputs })
}

impl TrainSpec {
    /// Steps per epoch: ⌊N/B⌋ (without replacement the remainder of the permutation is unused).
    pub fn steps_per_epoch(&self) -> usize {
        self.model.samples() / self.batch_size
    }

    /// Measures the log row at θ.
    pub fn measure(&self, theta: &[f64], epoch: usize, steps: u64) -> EpochLog {
        let s = self.model.noise_strength(theta);
        let factor = self.sampling.covariance_factor(self.model.samples(), self.batch_size);
        let (test_loss, test_accuracy) = match &self.test {
            Some(t) => {
                let test_model = self.model.with_data(t.clone()).expect("the test set was checked against the training set");
                (Some(test_model.loss(theta)), Some(test_model.accuracy(theta)))
            }
            None => (None, None),
        };
        EpochLog {
            epoch,
            steps,
            time: self.lr * steps as f64,
            loss: s.loss,
            gradient_norm_sq: s.gradient_norm_sq,
            noise: s.noise,
            trace_sigma: factor * s.noise / self.batch_size as f64,
            accuracy: self.model.accuracy(theta),
            test_loss,
            test_accuracy,
        }
    }

    /// One epoch of SGD from θ with the RNG stream `(seed, epoch)`: ⌊N/B⌋ steps of the
    /// [`Sgd`] stepper with a fresh workspace, so without replacement the epoch is one uniform
    /// permutation. Returns the steps taken.
    pub fn epoch(&self, theta: &mut [f64], epoch: usize) -> u64 {
        let sgd = Sgd::new(&self.model, self.lr, self.batch_size, self.sampling).expect("η and B were checked when the run was resolved");
        let mut ws = sgd.workspace();
        let mut rng = replica_rng(self.seed, epoch as u64);
        let steps = self.steps_per_epoch();
        for _ in 0..steps {
            sgd.step(theta, &mut ws, &mut rng);
        }
        steps as u64
    }
}

/// The log as CSV.
pub fn log_csv(log: &[EpochLog]) -> String {
    let mut table = crate::report::table::Table::new(&[
        "epoch",
        "steps",
        "time",
        "loss",
        "gradient_norm_sq",
        "noise",
        "trace_sigma",
        "accuracy",
        "test_loss",
        "test_accuracy",
    ]);
    for r in log {
        table.row(crate::cells![
            r.epoch,
            r.steps,
            r.time,
            r.loss,
            r.gradient_norm_sq,
            r.noise,
            r.trace_sigma,
            r.accuracy,
            r.test_loss.unwrap_or(f64::NAN),
            r.test_accuracy.unwrap_or(f64::NAN)
        ]);
    }
    table.csv()
}

/// What a training run produced.
#[derive(Clone, Debug)]
pub struct TrainOutcome {
    /// Final parameters.
    pub theta: Vec<f64>,
    /// The log rows.
    pub log: Vec<EpochLog>,
    /// The epoch the run resumed from (0 for a fresh run).
    pub resumed_from: usize,
    /// Whether `stop` ended the run early.
    pub interrupted: bool,
}

/// Trains in `dir`, resuming from `dir/checkpoint.json` when it holds the same configuration
/// (apart from `train.epochs`). Writes `log.csv`, `checkpoint.json` after every logged epoch and
/// `params.json` (final θ with the configuration) and `train.json` at the end. `progress` sees
/// every log row; `stop` is polled after every epoch (an interrupted run keeps its last
/// checkpoint).
pub fn train_in_dir(
    spec: &TrainSpec,
    dir: &Path,
    existing: Existing,
    progress: &dyn Fn(&EpochLog),
    stop: &dyn Fn() -> bool,
) -> Result<TrainOutcome> {
    let mut key = spec.config.clone();
    // The key leaves out the number of epochs: raising it extends a run.
    key.train.epochs = 0;
    let claim = Claim {
        command: "train",
        config_fingerprint: config_fingerprint(&key),
        inputs: &spec.inputs,
        outputs: &["params.json", "train.json"],
        existing,
    };
    let mut folder = OutputFolder::claim(dir, claim)?;
    let checkpoint_path = dir.join("checkpoint.json");
    let resumed = std::fs::read_to_string(&checkpoint_path)
        .ok()
        .and_then(|text| serde_json::from_str::<Checkpoint>(&text).ok())
        .filter(|c| c.config == key && c.inputs == spec.inputs && c.theta.len() == spec.model.dim() && c.epoch <= spec.epochs);
    let (mut theta, mut epoch, mut steps, mut log) = match resumed {
        Some(c) => (c.theta, c.epoch, c.steps, c.log),
        None => {
            let theta = spec.model.glorot(spec.mlp.init_seed);
            let first = spec.measure(&theta, 0, 0);
            progress(&first);
            (theta, 0, 0, vec![first])
        }
    };
    let resumed_from = epoch;
    let save = |theta: &[f64], epoch: usize, steps: u64, log: &[EpochLog]| -> Result<()> {
        let c = Checkpoint {
            version: crate::VERSION.into(),
            config: key.clone(),
            inputs: spec.inputs.clone(),
            epoch,
            steps,
            theta: theta.to_vec(),
            log: log.to_vec(),
        };
        crate::report::atomic_write(&checkpoint_path, serde_json::to_string(&c).expect("checkpoint serialises").as_bytes())?;
        crate::report::atomic_write(&dir.join("log.csv"), log_csv(log).as_bytes())
    };
    save(&theta, epoch, steps, &log)?;
    let mut interrupted = false;
    while epoch < spec.epochs {
        steps += spec.epoch(&mut theta, epoch);
        epoch += 1;
        if !crate::linalg::all_finite(&theta) {
            return Err(Error::invalid(
                "train.lr",
                spec.lr,
                format!(
                    "training diverged in epoch {epoch} (θ is no longer finite): lower it, raise train.batch_size = {}, or check the data's scale",
                    spec.batch_size
                ),
            ));
        }
        if epoch % spec.log_every == 0 || epoch == spec.epochs {
            let row = spec.measure(&theta, epoch, steps);
            progress(&row);
            log.push(row);
            save(&theta, epoch, steps, &log)?;
        }
        if stop() && epoch < spec.epochs {
            interrupted = true;
            break;
        }
    }
    if !interrupted {
        let params = serde_json::json!({
            "version": crate::VERSION, "config": spec.config, "inputs": spec.inputs, "standardization": spec.standardization, "epoch": epoch, "steps": steps, "theta": theta,
        });
        crate::report::atomic_write(&dir.join("params.json"), serde_json::to_string(&params).expect("serialises").as_bytes())?;
        let summary = serde_json::json!({
            "version": crate::VERSION, "config": spec.config, "inputs": spec.inputs, "standardization": spec.standardization, "parameters": spec.model.dim(), "samples": spec.model.samples(),
            "steps_per_epoch": spec.steps_per_epoch(), "resumed_from_epoch": resumed_from, "final": log.last(),
        });
        crate::report::atomic_write(&dir.join("train.json"), serde_json::to_string_pretty(&summary).expect("serialises").as_bytes())?;
        folder.complete()?;
    }
    Ok(TrainOutcome { theta, log, resumed_from, interrupted })
}
