//! The configuration schema (TOML), one file per section. Every key, its meaning, unit and
//! default is documented in `docs/config.md`.
//!
//! Sections that come in kinds are enums tagged by `kind` (`[data]` by `source`): each kind is
//! a struct holding exactly its keys, so a key of another kind is an unknown key, and every
//! number with a range has it in its type ([`values`]). Reading a file reports the first
//! problem with its full key (`dynamics.noise.lr`) and the value. Defaults are written into
//! the parsed value, and the few that depend on other sections (the start point, the saddle
//! search, data labels) are filled when a run is prepared, so the configuration echoed in every
//! output is the one that ran.

mod data;
mod dynamics;
mod estimator;
mod exit;
mod landscape;
mod model;
mod noise;
mod solver;
mod start;
pub(crate) mod tagged;
mod train;
pub mod values;

pub use data::{BinaryLabels, BuiltInData, CsvData, DataConfig, FashionMnistData, Labels, LoadedData, NoKeys, NpyData, Split};
pub use dynamics::{DynamicsConfig, SdeConfig, SgdConfig};
pub use estimator::{AmsConfig, EstimatorConfig, ReactionCoordinateKind};
pub use exit::{
    BasinExit, CoordinateExit, DistanceExit, DistanceMetric, ExitConfig, HyperplaneExit, LossAboveExit, NoExitKeys, SaddlePlaneExit,
};
pub use landscape::{
    DenseHessianKeys, EigenvectorFollowingConfig, HessianConfig, LanczosConfig, LandscapeConfig, MinModeConfig, NebConfig, NoSaddleKeys,
    SaddleConfig,
};
pub use model::{CurveConfig, DEFAULT_SAMPLES, DoubleWellConfig, LinearRegressionConfig, MlpConfig, ModelConfig};
pub use noise::{IsotropicNoise, MinibatchScale, NoiseConfig, NoiseSubspace};
pub use solver::{AdaptiveConfig, EulerMaruyamaConfig, LampertiConfig, SolverConfig};
pub use start::StartConfig;
pub use train::{TrainConfig, TrainSection};

use crate::error::{Error, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::Path;
use values::Count;

/// Default run seed.
pub const DEFAULT_SEED: u64 = 0;
/// Default number of replicas.
pub const DEFAULT_REPLICAS: usize = 1000;
/// Default cap on steps per replica.
pub const DEFAULT_MAX_STEPS: usize = 1_000_000;

/// A run configuration (`sgd-escape run` and `landscape`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Run seed: replica i draws from the RNG stream (seed, i).
    #[serde(default)]
    pub seed: u64,
    /// Number of replicas.
    #[serde(default = "default_replicas")]
    pub replicas: Count,
    /// Steps after which a replica is censored.
    #[serde(default = "default_max_steps")]
    pub max_steps: Count,
    /// `[model]`.
    pub model: ModelConfig,
    /// `[data]`: the data set of a data-built model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<DataConfig>,
    /// `[dynamics]`.
    pub dynamics: DynamicsConfig,
    /// `[start]`.
    #[serde(default)]
    pub start: StartConfig,
    /// `[exit]`.
    pub exit: ExitConfig,
    /// `[landscape]`.
    #[serde(default)]
    pub landscape: LandscapeConfig,
    /// `[estimator]` (default brute force, which is then not echoed).
    #[serde(default, skip_serializing_if = "EstimatorConfig::is_brute_force")]
    pub estimator: EstimatorConfig,
}

fn default_replicas() -> Count {
    Count::new(DEFAULT_REPLICAS).expect("in range")
}
fn default_max_steps() -> Count {
    Count::new(DEFAULT_MAX_STEPS).expect("in range")
}

impl Config {
    /// The files a run of this configuration reads (relative paths against `base_dir`): the
    /// data set's files and the start parameters. The shorthand `model.data` is read only
    /// after `prepare` has moved it into `[data]`, so call this on a prepared configuration.
    pub fn input_files(&self, base_dir: &Path) -> Vec<std::path::PathBuf> {
        let mut files = self.data.as_ref().map(|d| d.input_files(base_dir)).unwrap_or_default();
        if let Some(p) = &self.start.parameters {
            files.push(if p.is_absolute() { p.clone() } else { base_dir.join(p) });
        }
        files
    }

    /// Parses TOML text; `path` is used in messages.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self> {
        let config: Config = parse_toml(text, path)?;
        if let EstimatorConfig::Ams(_) = &config.estimator {
            // `replicas` and `max_steps` have defaults, so their presence is read off the text.
            let table: toml::Table =
                toml::from_str(text).map_err(|e| Error::ConfigSyntax { path: path.to_path_buf(), message: e.to_string() })?;
            for key in ["replicas", "max_steps"] {
                if let Some(value) = table.get(key) {
                    return Err(Error::Config {
                        path: path.to_path_buf(),
                        key: key.into(),
                        message: format!(
                            "{value} is a brute-force setting; with estimator.kind = \"ams\" the sample is set by estimator.particles and estimator.runs"
                        ),
                    });
                }
            }
        }
        Ok(config)
    }

    /// Reads and parses a configuration file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            action: "cannot read configuration",
            path: path.to_path_buf(),
            source,
        })?;
        Config::from_toml(&text, path)
    }

    /// Overrides `seed` and `replicas` (the CLI's `--seed`, `--replicas`; Python's keywords);
    /// errors name the override by `replicas_key`. `replicas` is refused with the splitting
    /// estimator, whose sample is set by its particles and runs.
    pub fn override_run(&mut self, seed: Option<u64>, replicas: Option<usize>, replicas_key: &str) -> Result<()> {
        if let Some(seed) = seed {
            self.seed = seed;
        }
        if let Some(r) = replicas {
            if self.ams().is_some() {
                return Err(Error::invalid(
                    replicas_key,
                    r,
                    "a brute-force setting; with estimator.kind = \"ams\" the sample is set by estimator.particles and estimator.runs",
                ));
            }
            self.replicas = Count::new(r).map_err(|message| Error::invalid(replicas_key, r, message))?;
        }
        Ok(())
    }

    /// The splitting settings, when the estimator is AMS.
    pub fn ams(&self) -> Option<&AmsConfig> {
        match &self.estimator {
            EstimatorConfig::Ams(a) => Some(a),
            EstimatorConfig::BruteForce(_) => None,
        }
    }
}

/// Parses a TOML configuration of any file type; `path` names the file in messages. Syntax
/// errors quote the line; schema errors name the full key and the value.
pub(crate) fn parse_toml<T: DeserializeOwned>(text: &str, path: &Path) -> Result<T> {
    let table: toml::Table = toml::from_str(text).map_err(|e| Error::ConfigSyntax { path: path.to_path_buf(), message: e.to_string() })?;
    let mut value = toml::Value::Table(table);
    tagged::tag_first(&mut value);
    serde_path_to_error::deserialize(value.clone()).map_err(|e| {
        let mut key = match e.path().to_string().as_str() {
            "." => String::new(),
            p => p.to_string(),
        };
        // toml appends "in `key`" lines for each enclosing table; the key is given in full.
        let inner = e.inner().to_string();
        let mut message = inner.split("\nin `").next().unwrap_or(&inner).trim().to_string();
        // A missing key is named in full.
        if let Some(name) = message.strip_prefix("missing field `").and_then(|m| m.strip_suffix('`')) {
            key = if key.is_empty() { name.to_string() } else { format!("{key}.{name}") };
            message = "missing: this key is required".into();
        }
        if key.is_empty() {
            key = "(top level)".into();
        }
        if let Some(kind) = enclosing_kind(&value, &key) {
            message.push_str(&format!(" (in a section with {kind})"));
        }
        Error::Config { path: path.to_path_buf(), key, message }
    })
}

/// The tag of the table that holds `key` (e.g. `kind = "isotropic"` for
/// `dynamics.noise.lr`), when it has one.
fn enclosing_kind(root: &toml::Value, key: &str) -> Option<String> {
    let segments: Vec<&str> = key.split('.').collect();
    let (last, parents) = segments.split_last()?;
    let mut node = root;
    for s in parents {
        node = node.get(s)?;
    }
    // A message about a whole table (a missing key) is about that table itself.
    let holder = match node.get(last) {
        Some(v) if v.is_table() => v,
        _ => node,
    };
    tagged::TAGS.iter().find_map(|tag| holder.get(tag).and_then(|v| v.as_str()).map(|v| format!("{tag} = {v:?}")))
}

/// Reads and parses a TOML configuration file.
pub(crate) fn read_toml<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        action: "cannot read configuration",
        path: path.to_path_buf(),
        source,
    })?;
    parse_toml(&text, path)
}
