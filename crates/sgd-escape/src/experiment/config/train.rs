//! Training files (`sgd-escape train`): `[model]` (kind = "mlp"), `[data]`, optional `[test]`
//! and `[train]` (docs/config.md).

use super::values::{Count, Positive};
use super::{DataConfig, ModelConfig};
use crate::dynamics::Sampling;
use crate::error::Result;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A training configuration file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// `[model]` (kind = "mlp").
    pub model: ModelConfig,
    /// `[data]`: the training set.
    pub data: DataConfig,
    /// `[test]`: an optional test set for test loss and accuracy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<DataConfig>,
    /// `[train]`.
    pub train: TrainSection,
}

/// `[train]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSection {
    /// Learning rate η.
    pub lr: Positive,
    /// Batch size B (default min(100, N), written out when the run is prepared).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<Count>,
    /// How minibatches are drawn.
    #[serde(default = "Sampling::training_default")]
    pub sampling: Sampling,
    /// Epochs of ⌊N/B⌋ steps.
    #[serde(default = "default_epochs")]
    pub epochs: usize,
    /// RNG seed; epoch e draws from the stream (seed, e).
    #[serde(default)]
    pub seed: u64,
    /// Measure and checkpoint every this many epochs.
    #[serde(default = "super::dynamics::one")]
    pub log_every: Count,
}

fn default_epochs() -> usize {
    10
}

impl TrainConfig {
    /// The files training reads (relative paths against `base_dir`): the training and test
    /// sets' files.
    pub fn input_files(&self, base_dir: &Path) -> Vec<std::path::PathBuf> {
        let mut files = self.data.input_files(base_dir);
        files.extend(self.test.iter().flat_map(|t| t.input_files(base_dir)));
        files
    }

    /// Reads a configuration file.
    pub fn load(path: &Path) -> Result<Self> {
        super::read_toml(path)
    }

    /// Parses TOML text; `path` is used in messages.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self> {
        super::parse_toml(text, path)
    }
}
