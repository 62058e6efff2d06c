//! The configuration schema (TOML). Every key, its meaning, unit and default is documented in
//! `docs/config.md`. Parsing rejects unknown keys and wrong types (the parser's message quotes
//! the line); [`Config::resolve`] checks values and cross-key constraints, fills defaults, and
//! returns the canonical configuration (recorded in every output) beside the typed [`Spec`].

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Default run seed.
pub const DEFAULT_SEED: u64 = 0;
/// Default number of replicas.
pub const DEFAULT_REPLICAS: usize = 1000;
/// Default cap on steps per replica.
pub const DEFAULT_MAX_STEPS: u64 = 1_000_000;

/// A configuration file as written (all keys optional at this level).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Run seed: replica i uses the RNG stream (seed, i).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Number of replicas.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<usize>,
    /// Steps after which a replica is censored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_steps: Option<u64>,
    /// `[model]`.
    #[serde(default)]
    pub model: ModelSection,
    /// `[data]` (model.kind = "mlp").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<DataSection>,
    /// `[dynamics]`.
    #[serde(default)]
    pub dynamics: DynamicsSection,
    /// `[start]`.
    #[serde(default)]
    pub start: StartSection,
    /// `[exit]`.
    #[serde(default)]
    pub exit: ExitSection,
    /// `[landscape]`.
    #[serde(default)]
    pub landscape: LandscapeSection,
}

/// `[landscape]`: saddle search, outlier rule and theory options.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct LandscapeSection {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub saddle: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<Vec<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<Vec<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outlier_gap: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outliers: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub xie_path_factor: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub images: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spring: Option<f64>,
}

/// Saddle search method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaddleMethod {
    /// Single-ended min-mode following from θ*.
    Dimer,
    /// Climbing-image NEB from θ* to the minimum found from `landscape.target`.
    Neb,
    /// No saddle search.
    None,
}

/// The typed `[landscape]` section.
#[derive(Clone, Debug, PartialEq)]
#[allow(missing_docs)]
pub struct LandscapeSpec {
    pub saddle: SaddleMethod,
    pub direction: Option<Vec<f64>>,
    pub target: Option<Vec<f64>>,
    pub outlier_gap: f64,
    pub outliers: Option<usize>,
    pub xie_path_factor: f64,
    pub images: usize,
    pub spring: f64,
}

/// `[model]`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct ModelSection {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epsilon: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dim: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stiffness: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub samples: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_seed: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kappa: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noise: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tilt: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hidden: Option<Vec<usize>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_seed: Option<u64>,
}

/// `[data]`: where an MLP's data comes from and how it is prepared (docs/config.md).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct DataSection {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub split: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub features: Option<Vec<usize>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub positive: Option<Vec<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub standardize: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub samples: Option<usize>,
}

/// Largest parameter count for which `run` and `landscape` accept an MLP: they form the dense
/// P × P Hessian at the start point. `train` has no limit.
pub const MAX_DENSE_PARAMETERS: usize = 4096;

/// `[dynamics]`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct DynamicsSection {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noise: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lr: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dt: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sampling: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
}

/// `[start]`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct StartSection {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub point: Option<Vec<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimize: Option<bool>,
}

/// `[exit]`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct ExitSection {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub axis: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratio: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub normal: Option<Vec<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub point: Option<Vec<f64>>,
}

/// Where a data-built model's data comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum DataSource {
    /// Generated from `data_seed` (standard normal inputs).
    Generated {
        /// N.
        samples: usize,
        /// Seed of the data stream.
        data_seed: u64,
    },
    /// A user CSV file (header row, last column is y), loaded during resolution.
    Csv {
        /// The resolved path.
        path: PathBuf,
        /// Its contents.
        data: crate::model::Dataset,
    },
}

/// The typed model.
#[derive(Clone, Debug, PartialEq)]
#[allow(missing_docs)]
pub enum ModelSpec {
    DoubleWell { epsilon: f64, dim: usize, stiffness: f64 },
    LinearRegression { dim: usize, source: DataSource },
    Curve { dim: usize, s: f64, kappa: f64, stiffness: f64, noise: f64, tilt: f64, samples: usize, data_seed: u64 },
    Mlp { hidden: Vec<usize>, activation: crate::model::Activation, init_seed: u64, data: crate::data::Dataset, parameters: usize },
}

/// Noise model names of `dynamics.noise`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum NoiseKind {
    Exact,
    Paper,
    TimeChanged,
    Frozen,
    Isotropic,
}

/// The typed dynamics.
#[derive(Clone, Debug, PartialEq)]
#[allow(missing_docs)]
pub enum DynamicsSpec {
    Sgd { lr: f64, batch_size: usize, sampling: crate::dynamics::Sampling },
    Sde { dt: f64, noise: NoiseKind, lr: f64, batch_size: usize, sampling: crate::dynamics::Sampling, temperature: f64 },
}

/// The typed exit criterion (before θ* is known).
#[derive(Clone, Debug, PartialEq)]
#[allow(missing_docs)]
pub enum ExitSpec {
    Never,
    Coordinate { axis: usize, threshold: f64 },
    LossAbove { ratio: f64 },
    Hyperplane { normal: Vec<f64>, point: Vec<f64> },
}

/// A validated configuration.
#[derive(Clone, Debug, PartialEq)]
#[allow(missing_docs)]
pub struct Spec {
    pub seed: u64,
    pub replicas: usize,
    pub max_steps: u64,
    pub model: ModelSpec,
    pub dynamics: DynamicsSpec,
    pub start_point: Vec<f64>,
    pub minimize: bool,
    pub exit: ExitSpec,
    pub landscape: LandscapeSpec,
}

fn require<T: Clone>(key: &str, value: &Option<T>, context: &str) -> Result<T> {
    value.clone().ok_or_else(|| Error::invalid(key, "(missing)", format!("required {context}")))
}

fn forbid<T: std::fmt::Debug>(key: &str, value: &Option<T>, context: &str) -> Result<()> {
    match value {
        Some(v) => Err(Error::invalid(key, format!("{v:?}"), format!("not a key {context}"))),
        None => Ok(()),
    }
}

fn positive(key: &str, v: f64) -> Result<f64> {
    if v.is_finite() && v > 0.0 { Ok(v) } else { Err(Error::invalid(key, v, "must be a finite number > 0")) }
}

fn finite(key: &str, v: f64) -> Result<f64> {
    if v.is_finite() { Ok(v) } else { Err(Error::invalid(key, v, "must be finite")) }
}

fn nonnegative(key: &str, v: f64) -> Result<f64> {
    if v.is_finite() && v >= 0.0 { Ok(v) } else { Err(Error::invalid(key, v, "must be a finite number ≥ 0")) }
}

fn at_least(key: &str, v: usize, min: usize) -> Result<usize> {
    if v >= min { Ok(v) } else { Err(Error::invalid(key, v, format!("must be ≥ {min}"))) }
}

fn finite_vector(key: &str, v: &[f64], len: usize) -> Result<()> {
    if v.len() != len {
        return Err(Error::invalid(key, format!("{v:?}"), format!("must have {len} entries (one per parameter), not {}", v.len())));
    }
    if let Some(x) = v.iter().find(|x| !x.is_finite()) {
        return Err(Error::invalid(key, format!("{v:?}"), format!("entry {x} is not finite")));
    }
    Ok(())
}

fn parse_sampling(key: &str, v: &Option<String>) -> Result<crate::dynamics::Sampling> {
    use crate::dynamics::Sampling;
    match v.as_deref() {
        None | Some("with-replacement") => Ok(Sampling::WithReplacement),
        Some("without-replacement") => Ok(Sampling::WithoutReplacement),
        Some(other) => Err(Error::invalid(key, format!("{other:?}"), "must be \"with-replacement\" or \"without-replacement\"")),
    }
}

/// Reads P parameters from a JSON file: a bare array, or an object with a `theta` array (as
/// `train` writes `params.json`).
fn read_parameters(path: &Path, p: usize) -> std::result::Result<Vec<f64>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
    let array =
        value.get("theta").unwrap_or(&value).as_array().ok_or_else(|| format!("{} holds no array of parameters", path.display()))?;
    let theta: Vec<f64> = array
        .iter()
        .map(|v| v.as_f64().filter(|x| x.is_finite()))
        .collect::<Option<_>>()
        .ok_or_else(|| format!("{}: every parameter must be a finite number", path.display()))?;
    if theta.len() != p {
        return Err(format!("{} has {} parameters; this network has P = {p}", path.display(), theta.len()));
    }
    Ok(theta)
}

/// The architecture of an MLP (`[model]` with kind = "mlp").
#[derive(Clone, Debug, PartialEq)]
pub struct MlpSpec {
    /// Hidden widths.
    pub hidden: Vec<usize>,
    /// Nonlinearity.
    pub activation: crate::model::Activation,
    /// Seed of the Glorot initialisation.
    pub init_seed: u64,
}

/// Validates an MLP's `[model]` and `[data]` sections and loads its data. Returns the
/// architecture, the data, the canonical sections and the standardisation applied to the data.
pub fn resolve_mlp(
    m: &ModelSection,
    data: &Option<DataSection>,
    base_dir: &Path,
) -> Result<(MlpSpec, crate::data::Dataset, ModelSection, DataSection, Option<crate::data::Standardization>)> {
    let kind = require("model.kind", &m.kind, "(\"mlp\")")?;
    if kind != "mlp" {
        return Err(Error::invalid("model.kind", format!("{kind:?}"), "must be \"mlp\" here"));
    }
    let ctx = "of model.kind = \"mlp\" (keys: hidden, activation, init_seed; the data come from [data])";
    for (k, v) in [
        ("model.epsilon", &m.epsilon),
        ("model.stiffness", &m.stiffness),
        ("model.s", &m.s),
        ("model.kappa", &m.kappa),
        ("model.noise", &m.noise),
        ("model.tilt", &m.tilt),
    ] {
        forbid(k, v, ctx)?;
    }
    forbid("model.dim", &m.dim, ctx)?;
    forbid("model.samples", &m.samples, "of model.kind = \"mlp\" (use data.samples)")?;
    forbid("model.data_seed", &m.data_seed, ctx)?;
    forbid("model.data", &m.data, "of model.kind = \"mlp\" (use the [data] section)")?;
    let hidden = m.hidden.clone().unwrap_or_else(|| vec![16]);
    if let Some(w) = hidden.iter().find(|w| **w == 0) {
        return Err(Error::invalid("model.hidden", format!("{hidden:?}"), format!("widths must be ≥ 1 (found {w})")));
    }
    let activation = match m.activation.as_deref().unwrap_or("relu") {
        "relu" => crate::model::Activation::Relu,
        "tanh" => crate::model::Activation::Tanh,
        other => return Err(Error::invalid("model.activation", format!("{other:?}"), "must be \"relu\" or \"tanh\"")),
    };
    let init_seed = m.init_seed.unwrap_or(0);
    let section = data
        .clone()
        .ok_or_else(|| Error::invalid("[data]", "(missing)", "model.kind = \"mlp\" needs a [data] section (e.g. source = \"wine\")"))?;
    let (dataset, data_canon, standardization) = resolve_data_with(&section, base_dir, "data", None)?;
    let canon = ModelSection {
        kind: Some(kind),
        hidden: Some(hidden.clone()),
        activation: Some(activation.name().into()),
        init_seed: Some(init_seed),
        ..Default::default()
    };
    Ok((MlpSpec { hidden, activation, init_seed }, dataset, canon, data_canon, standardization))
}

/// Validates a `[data]` section and loads the data set it describes. Returns the data set and
/// the canonical section (defaults written out).
pub fn resolve_data(section: &DataSection, base_dir: &Path, prefix: &str) -> Result<(crate::data::Dataset, DataSection)> {
    resolve_data_with(section, base_dir, prefix, None).map(|(d, c, _)| (d, c))
}

/// [`resolve_data`] with a given standardisation (a test set scaled like its training set); also
/// returns the standardisation applied.
pub fn resolve_data_with(
    section: &DataSection,
    base_dir: &Path,
    prefix: &str,
    given: Option<&crate::data::Standardization>,
) -> Result<(crate::data::Dataset, DataSection, Option<crate::data::Standardization>)> {
    let key = |k: &str| format!("{prefix}.{k}");
    use crate::data::{DataSpec, LabelMap, Scale, Table, VENDORED, build_with, load_fashion_mnist, load_vendored};
    let source = require(&key("source"), &section.source, "(a built-in set, \"fashion-mnist\", \"csv\" or \"npy\")")?;
    let resolve_path = |p: &PathBuf| if p.is_absolute() { p.clone() } else { base_dir.join(p) };
    let classification = matches!(source.as_str(), "wine" | "breast-cancer" | "digits" | "fashion-mnist");
    let file_source = matches!(source.as_str(), "csv" | "npy");
    if !file_source {
        forbid(&key("header"), &section.header, "(only of data.source = \"csv\")")?;
    }
    if source != "fashion-mnist" {
        forbid(&key("split"), &section.split, "(only of data.source = \"fashion-mnist\")")?;
    }
    let limit = section.samples.map(|n| at_least(&key("samples"), n, 1)).transpose()?;
    let table: Table = match source.as_str() {
        name if VENDORED.contains(&name) => {
            forbid(&key("path"), &section.path, "of a built-in data set")?;
            load_vendored(name)?
        }
        "fashion-mnist" => {
            let dir = section.path.as_ref().map(resolve_path).unwrap_or_else(|| PathBuf::from(crate::data::FASHION_MNIST_DIR));
            load_fashion_mnist(&dir, section.split.as_deref().unwrap_or("train"), limit.map(|l| l + section.skip.unwrap_or(0)))?
        }
        "csv" => {
            let path = require(&key("path"), &section.path, "for data.source = \"csv\"")?;
            Table::from_csv(&resolve_path(&path), section.header.unwrap_or(true))?
        }
        "npy" => {
            forbid(&key("header"), &section.header, "(only of data.source = \"csv\")")?;
            let path = require(&key("path"), &section.path, "for data.source = \"npy\"")?;
            Table::from_npy(&resolve_path(&path))?
        }
        other => {
            return Err(Error::invalid(
                key("source"),
                format!("{other:?}"),
                format!("must be one of {}, \"fashion-mnist\", \"csv\" or \"npy\"", VENDORED.join(", ")),
            ));
        }
    };
    let column = |name: &str, c: usize| -> Result<usize> {
        if c == 0 || c > table.columns {
            return Err(Error::invalid(name, c, format!("columns are numbered 1 to {} in {}", table.columns, table.source.display())));
        }
        Ok(c - 1)
    };
    let target = section.target.map(|c| column(&key("target"), c)).transpose()?;
    let features =
        section.features.as_ref().map(|f| f.iter().map(|&c| column(&key("features"), c)).collect::<Result<Vec<_>>>()).transpose()?;
    let labels_name = section.labels.clone().unwrap_or_else(|| if classification { "one-hot".into() } else { "regression".into() });
    let labels = match labels_name.as_str() {
        "regression" => {
            forbid(&key("positive"), &section.positive, "(only of data.labels = \"binary\")")?;
            LabelMap::Regression
        }
        "one-hot" => {
            forbid(&key("positive"), &section.positive, "(only of data.labels = \"binary\")")?;
            LabelMap::OneHot
        }
        "binary" => LabelMap::Binary {
            positive: require(&key("positive"), &section.positive, "for data.labels = \"binary\" (the classes labelled +1)")?,
        },
        other => return Err(Error::invalid(key("labels"), format!("{other:?}"), "must be \"regression\", \"one-hot\" or \"binary\"")),
    };
    let standardize = section.standardize.unwrap_or(source != "fashion-mnist");
    let skip = section.skip.unwrap_or(0);
    let spec = DataSpec { features, target, labels, scale: if standardize { Scale::Standardize } else { Scale::None }, skip, first: limit };
    let (data, used) = build_with(&table, &spec, given)?;
    let mut canon = section.clone();
    canon.labels = Some(labels_name);
    canon.standardize = Some(standardize);
    if source == "fashion-mnist" {
        canon.split = Some(section.split.clone().unwrap_or_else(|| "train".into()));
    }
    Ok((data, canon, used))
}

/// Parses a TOML configuration of any file type; `path` is used in messages.
pub(crate) fn parse_toml<T: serde::de::DeserializeOwned>(text: &str, path: &Path) -> Result<T> {
    toml::from_str(text).map_err(|e| Error::ConfigSyntax { path: path.to_path_buf(), message: e.to_string() })
}

/// Reads and parses a TOML configuration file.
pub(crate) fn read_toml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        action: "cannot read configuration",
        path: path.to_path_buf(),
        source,
    })?;
    parse_toml(&text, path)
}

impl Config {
    /// Parses TOML text; `path` is used in messages.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self> {
        parse_toml(text, path)
    }

    /// Reads and parses a configuration file.
    pub fn load(path: &Path) -> Result<Self> {
        read_toml(path)
    }

    /// Validates the configuration and fills defaults. Relative data paths are resolved
    /// against `base_dir` (the configuration file's folder). Returns the canonical
    /// configuration (every default written out) and the typed spec.
    pub fn resolve(&self, base_dir: &Path) -> Result<(Config, Spec)> {
        let mut canon = self.clone();
        let seed = self.seed.unwrap_or(DEFAULT_SEED);
        let replicas = at_least("replicas", self.replicas.unwrap_or(DEFAULT_REPLICAS), 1)?;
        let max_steps = self.max_steps.unwrap_or(DEFAULT_MAX_STEPS);
        if max_steps == 0 {
            return Err(Error::invalid("max_steps", 0, "must be ≥ 1"));
        }
        canon.seed = Some(seed);
        canon.replicas = Some(replicas);
        canon.max_steps = Some(max_steps);

        let (model, samples) = self.resolve_model(&mut canon.model, &mut canon.data, base_dir)?;
        let p = match &model {
            ModelSpec::DoubleWell { dim, .. } | ModelSpec::LinearRegression { dim, .. } | ModelSpec::Curve { dim, .. } => *dim,
            ModelSpec::Mlp { parameters, .. } => *parameters,
        };

        let dynamics = self.resolve_dynamics(&mut canon.dynamics, &model, samples)?;

        let start = &self.start;
        let (start_point, minimize) = if let ModelSpec::Mlp { hidden, activation, init_seed, data, .. } = &model {
            // An MLP starts from a parameter file (e.g. `train`'s params.json) or its Glorot
            // initialisation; listing P numbers inline is not supported.
            forbid("start.point", &start.point, "of model.kind = \"mlp\" (use start.parameters or model.init_seed)")?;
            let point = match &start.parameters {
                Some(path) => {
                    let resolved = if path.is_absolute() { path.clone() } else { base_dir.join(path) };
                    read_parameters(&resolved, p).map_err(|message| Error::invalid("start.parameters", path.display(), message))?
                }
                None => crate::model::Mlp::new(hidden, *activation, data.first(1)).glorot(*init_seed),
            };
            let minimize = start.minimize.unwrap_or(false);
            canon.start = StartSection { point: None, parameters: start.parameters.clone(), minimize: Some(minimize) };
            (point, minimize)
        } else {
            forbid("start.parameters", &start.parameters, "(only of model.kind = \"mlp\")")?;
            let default_point = match model {
                ModelSpec::LinearRegression { .. } => vec![0.0; p],
                _ => {
                    let mut v = vec![0.0; p];
                    v[0] = -1.0;
                    v
                }
            };
            let start_point = start.point.clone().unwrap_or(default_point);
            finite_vector("start.point", &start_point, p)?;
            let minimize = start.minimize.unwrap_or(true);
            canon.start = StartSection { point: Some(start_point.clone()), parameters: None, minimize: Some(minimize) };
            (start_point, minimize)
        };

        let exit = Self::resolve_exit(&self.exit, p)?;
        let landscape = Self::resolve_landscape(&self.landscape, &exit, &model, p)?;
        canon.landscape = LandscapeSection {
            saddle: Some(
                match landscape.saddle {
                    SaddleMethod::Dimer => "dimer",
                    SaddleMethod::Neb => "neb",
                    SaddleMethod::None => "none",
                }
                .into(),
            ),
            direction: landscape.direction.clone(),
            target: landscape.target.clone(),
            outlier_gap: Some(landscape.outlier_gap),
            outliers: landscape.outliers,
            xie_path_factor: Some(landscape.xie_path_factor),
            images: (landscape.saddle == SaddleMethod::Neb).then_some(landscape.images),
            spring: (landscape.saddle == SaddleMethod::Neb).then_some(landscape.spring),
        };
        Ok((canon, Spec { seed, replicas, max_steps, model, dynamics, start_point, minimize, exit, landscape }))
    }

    /// The model; also the sample count N when it is known before loading data.
    fn resolve_model(
        &self,
        canon: &mut ModelSection,
        canon_data: &mut Option<DataSection>,
        base_dir: &Path,
    ) -> Result<(ModelSpec, Option<usize>)> {
        let m = &self.model;
        let kind = require("model.kind", &m.kind, "(\"double-well\", \"linear-regression\", \"curve\" or \"mlp\")")?;
        if kind != "mlp" {
            let ctx = "(only of model.kind = \"mlp\")";
            forbid("model.hidden", &m.hidden, ctx)?;
            forbid("model.activation", &m.activation, ctx)?;
            forbid("model.init_seed", &m.init_seed, ctx)?;
            forbid("[data]", &self.data, ctx)?;
        }
        match kind.as_str() {
            "mlp" => {
                let (mlp, data, model_canon, data_canon, _) = resolve_mlp(m, &self.data, base_dir)?;
                let parameters = crate::model::Model::dim(&crate::model::Mlp::new(&mlp.hidden, mlp.activation, data.first(1)));
                if parameters > MAX_DENSE_PARAMETERS {
                    return Err(Error::invalid(
                        "model.hidden",
                        format!("{:?}", mlp.hidden),
                        format!(
                            "gives P = {parameters} parameters; `run` and `landscape` form the dense P × P Hessian and accept at most {MAX_DENSE_PARAMETERS} (use `train` for larger networks)"
                        ),
                    ));
                }
                *canon = model_canon;
                *canon_data = Some(data_canon);
                let samples = data.len();
                Ok((
                    ModelSpec::Mlp { hidden: mlp.hidden, activation: mlp.activation, init_seed: mlp.init_seed, data, parameters },
                    Some(samples),
                ))
            }
            "double-well" => {
                let ctx = "of model.kind = \"double-well\" (keys: epsilon, dim, stiffness)";
                for (k, v) in [("model.s", &m.s), ("model.kappa", &m.kappa), ("model.noise", &m.noise), ("model.tilt", &m.tilt)] {
                    forbid(k, v, ctx)?;
                }
                forbid("model.samples", &m.samples, ctx)?;
                forbid("model.data_seed", &m.data_seed, ctx)?;
                forbid("model.data", &m.data, ctx)?;
                let epsilon = nonnegative("model.epsilon", m.epsilon.unwrap_or(0.25))?;
                let dim = at_least("model.dim", m.dim.unwrap_or(1), 1)?;
                let stiffness = positive("model.stiffness", m.stiffness.unwrap_or(2.0))?;
                *canon = ModelSection {
                    kind: Some(kind),
                    epsilon: Some(epsilon),
                    dim: Some(dim),
                    stiffness: Some(stiffness),
                    ..Default::default()
                };
                Ok((ModelSpec::DoubleWell { epsilon, dim, stiffness }, None))
            }
            "linear-regression" => {
                let ctx = "of model.kind = \"linear-regression\" (keys: dim, samples, data_seed, data)";
                for (k, v) in [
                    ("model.epsilon", &m.epsilon),
                    ("model.stiffness", &m.stiffness),
                    ("model.s", &m.s),
                    ("model.kappa", &m.kappa),
                    ("model.noise", &m.noise),
                    ("model.tilt", &m.tilt),
                ] {
                    forbid(k, v, ctx)?;
                }
                if let Some(path) = &m.data {
                    forbid("model.samples", &m.samples, "when model.data is given (N is the number of rows)")?;
                    forbid("model.data_seed", &m.data_seed, "when model.data is given")?;
                    let resolved = if path.is_absolute() { path.clone() } else { base_dir.join(path) };
                    let data = crate::model::Dataset::from_csv(&resolved).map_err(|e| match e {
                        Error::Io { source, .. } => {
                            Error::invalid("model.data", path.display(), format!("cannot read {}: {source}", resolved.display()))
                        }
                        Error::Data { message, .. } => Error::invalid("model.data", path.display(), message),
                        other => other,
                    })?;
                    let dim = data.features;
                    if let Some(d) = m.dim
                        && d != dim
                    {
                        return Err(Error::invalid(
                            "model.dim",
                            d,
                            format!("does not match the {dim} input columns of model.data = {}", path.display()),
                        ));
                    }
                    let samples = data.len();
                    *canon = ModelSection { kind: Some(kind), data: Some(path.clone()), dim: Some(dim), ..Default::default() };
                    return Ok((ModelSpec::LinearRegression { dim, source: DataSource::Csv { path: resolved, data } }, Some(samples)));
                }
                let dim = at_least("model.dim", m.dim.unwrap_or(1), 1)?;
                let samples = at_least("model.samples", m.samples.unwrap_or(10_000), 1)?;
                let data_seed = m.data_seed.unwrap_or(0);
                *canon = ModelSection {
                    kind: Some(kind),
                    dim: Some(dim),
                    samples: Some(samples),
                    data_seed: Some(data_seed),
                    ..Default::default()
                };
                Ok((ModelSpec::LinearRegression { dim, source: DataSource::Generated { samples, data_seed } }, Some(samples)))
            }
            "curve" => {
                let ctx = "of model.kind = \"curve\" (keys: dim, s, kappa, stiffness, noise, tilt, samples, data_seed)";
                forbid("model.epsilon", &m.epsilon, ctx)?;
                forbid("model.data", &m.data, ctx)?;
                let dim = at_least("model.dim", m.dim.unwrap_or(1), 1)?;
                let s = finite("model.s", m.s.unwrap_or(0.5))?;
                let kappa = positive("model.kappa", m.kappa.unwrap_or(1.0))?;
                let stiffness = positive("model.stiffness", m.stiffness.unwrap_or(1.0))?;
                let noise = nonnegative("model.noise", m.noise.unwrap_or(0.5))?;
                let tilt = finite("model.tilt", m.tilt.unwrap_or(0.0))?;
                let samples = at_least("model.samples", m.samples.unwrap_or(10_000), 1)?;
                let data_seed = m.data_seed.unwrap_or(0);
                *canon = ModelSection {
                    kind: Some(kind),
                    dim: Some(dim),
                    s: Some(s),
                    kappa: Some(kappa),
                    stiffness: Some(stiffness),
                    noise: Some(noise),
                    tilt: Some(tilt),
                    samples: Some(samples),
                    data_seed: Some(data_seed),
                    ..Default::default()
                };
                Ok((ModelSpec::Curve { dim, s, kappa, stiffness, noise, tilt, samples, data_seed }, Some(samples)))
            }
            other => Err(Error::invalid(
                "model.kind",
                format!("{other:?}"),
                "must be \"double-well\", \"linear-regression\", \"curve\" or \"mlp\"",
            )),
        }
    }

    fn resolve_dynamics(&self, canon: &mut DynamicsSection, model: &ModelSpec, samples: Option<usize>) -> Result<DynamicsSpec> {
        let d = &self.dynamics;
        let kind = require("dynamics.kind", &d.kind, "(\"sgd\" or \"sde\")")?;
        let analytic = matches!(model, ModelSpec::DoubleWell { .. });
        let check_batch = |b: usize| -> Result<usize> {
            let b = at_least("dynamics.batch_size", b, 1)?;
            if let Some(n) = samples
                && b > n
            {
                return Err(Error::invalid(
                    "dynamics.batch_size",
                    b,
                    format!("must not exceed the number of samples N = model.samples = {n}"),
                ));
            }
            Ok(b)
        };
        match kind.as_str() {
            "sgd" => {
                let ctx = "of dynamics.kind = \"sgd\" (keys: lr, batch_size, sampling)";
                forbid("dynamics.noise", &d.noise, ctx)?;
                forbid("dynamics.dt", &d.dt, ctx)?;
                forbid("dynamics.temperature", &d.temperature, ctx)?;
                if analytic {
                    return Err(Error::invalid(
                        "dynamics.kind",
                        "\"sgd\"",
                        "SGD needs a data-built model; model.kind = \"double-well\" is analytic (use kind = \"sde\")",
                    ));
                }
                let lr = positive("dynamics.lr", require("dynamics.lr", &d.lr, "for SGD")?)?;
                let batch_size = check_batch(d.batch_size.unwrap_or(1))?;
                let sampling = parse_sampling("dynamics.sampling", &d.sampling)?;
                *canon = DynamicsSection {
                    kind: Some(kind),
                    lr: Some(lr),
                    batch_size: Some(batch_size),
                    sampling: Some(sampling.name().into()),
                    ..Default::default()
                };
                Ok(DynamicsSpec::Sgd { lr, batch_size, sampling })
            }
            "sde" => {
                let dt = positive("dynamics.dt", require("dynamics.dt", &d.dt, "for the SDE")?)?;
                let noise_name = require(
                    "dynamics.noise",
                    &d.noise,
                    "for the SDE (\"exact\", \"paper\", \"time-changed\", \"frozen\" or \"isotropic\")",
                )?;
                let noise = match noise_name.as_str() {
                    "exact" => NoiseKind::Exact,
                    "paper" => NoiseKind::Paper,
                    "time-changed" => NoiseKind::TimeChanged,
                    "frozen" => NoiseKind::Frozen,
                    "isotropic" => NoiseKind::Isotropic,
                    other => {
                        return Err(Error::invalid(
                            "dynamics.noise",
                            format!("{other:?}"),
                            "must be \"exact\", \"paper\", \"time-changed\", \"frozen\" or \"isotropic\"",
                        ));
                    }
                };
                if noise == NoiseKind::Isotropic {
                    let ctx = "of dynamics.noise = \"isotropic\" (keys: dt, temperature)";
                    forbid("dynamics.lr", &d.lr, ctx)?;
                    forbid("dynamics.batch_size", &d.batch_size, ctx)?;
                    forbid("dynamics.sampling", &d.sampling, ctx)?;
                    let temperature =
                        positive("dynamics.temperature", require("dynamics.temperature", &d.temperature, "for isotropic noise")?)?;
                    *canon = DynamicsSection {
                        kind: Some(kind),
                        noise: Some(noise_name),
                        dt: Some(dt),
                        temperature: Some(temperature),
                        ..Default::default()
                    };
                    return Ok(DynamicsSpec::Sde {
                        dt,
                        noise,
                        lr: 0.0,
                        batch_size: 1,
                        sampling: crate::dynamics::Sampling::WithReplacement,
                        temperature,
                    });
                }
                forbid("dynamics.temperature", &d.temperature, "of this noise (only of dynamics.noise = \"isotropic\")")?;
                if noise == NoiseKind::Exact && analytic {
                    return Err(Error::invalid(
                        "dynamics.noise",
                        "\"exact\"",
                        "exact noise needs a data-built model; model.kind = \"double-well\" is analytic (use \"paper\", \"time-changed\", \"frozen\" or \"isotropic\")",
                    ));
                }
                if noise != NoiseKind::Exact {
                    forbid("dynamics.sampling", &d.sampling, "of this noise (only of dynamics.noise = \"exact\")")?;
                }
                let lr = positive("dynamics.lr", require("dynamics.lr", &d.lr, "for this noise (Σ depends on η)")?)?;
                let batch_size = check_batch(d.batch_size.unwrap_or(1))?;
                let sampling = parse_sampling("dynamics.sampling", &d.sampling)?;
                *canon = DynamicsSection {
                    kind: Some(kind),
                    noise: Some(noise_name),
                    dt: Some(dt),
                    lr: Some(lr),
                    batch_size: Some(batch_size),
                    sampling: (noise == NoiseKind::Exact).then(|| sampling.name().to_string()),
                    ..Default::default()
                };
                Ok(DynamicsSpec::Sde { dt, noise, lr, batch_size, sampling, temperature: 0.0 })
            }
            other => Err(Error::invalid("dynamics.kind", format!("{other:?}"), "must be \"sgd\" or \"sde\"")),
        }
    }

    fn resolve_landscape(l: &LandscapeSection, exit: &ExitSpec, model: &ModelSpec, p: usize) -> Result<LandscapeSpec> {
        let default_saddle = match exit {
            ExitSpec::Coordinate { .. } | ExitSpec::Hyperplane { .. } => SaddleMethod::Dimer,
            ExitSpec::LossAbove { .. } | ExitSpec::Never => SaddleMethod::None,
        };
        let saddle = match l.saddle.as_deref() {
            None => default_saddle,
            Some("dimer") => SaddleMethod::Dimer,
            Some("neb") => SaddleMethod::Neb,
            Some("none") => SaddleMethod::None,
            Some(other) => return Err(Error::invalid("landscape.saddle", format!("{other:?}"), "must be \"dimer\", \"neb\" or \"none\"")),
        };
        if let Some(d) = &l.direction {
            finite_vector("landscape.direction", d, p)?;
            if d.iter().all(|x| *x == 0.0) {
                return Err(Error::invalid("landscape.direction", format!("{d:?}"), "must not be the zero vector"));
            }
        }
        if let Some(t) = &l.target {
            finite_vector("landscape.target", t, p)?;
        }
        // NEB needs a second minimum: the mirror image of the start in θ₁ for the double wells.
        let target = match (&l.target, saddle, model) {
            (Some(t), _, _) => Some(t.clone()),
            (None, SaddleMethod::Neb, ModelSpec::DoubleWell { .. } | ModelSpec::Curve { .. }) => None,
            (None, SaddleMethod::Neb, _) => {
                return Err(Error::invalid(
                    "landscape.target",
                    "(missing)",
                    "required for landscape.saddle = \"neb\" on this model: a point from which the second minimum is found",
                ));
            }
            (None, _, _) => None,
        };
        let outlier_gap = l.outlier_gap.unwrap_or(10.0);
        if !(outlier_gap.is_finite() && outlier_gap > 1.0) {
            return Err(Error::invalid("landscape.outlier_gap", outlier_gap, "must be a finite ratio > 1"));
        }
        if let Some(n) = l.outliers
            && (n == 0 || n > p)
        {
            return Err(Error::invalid("landscape.outliers", n, format!("must be between 1 and the number of parameters P = {p}")));
        }
        let xie_path_factor = l.xie_path_factor.unwrap_or(1.0);
        if !(0.0..=1.0).contains(&xie_path_factor) {
            return Err(Error::invalid("landscape.xie_path_factor", xie_path_factor, "must be in [0, 1]"));
        }
        let images = l.images.unwrap_or(17);
        if images < 3 {
            return Err(Error::invalid("landscape.images", images, "must be ≥ 3 (two ends and at least one moving image)"));
        }
        let spring = l.spring.unwrap_or(1.0);
        if !(spring.is_finite() && spring > 0.0) {
            return Err(Error::invalid("landscape.spring", spring, "must be a finite number > 0"));
        }
        Ok(LandscapeSpec {
            saddle,
            direction: l.direction.clone(),
            target,
            outlier_gap,
            outliers: l.outliers,
            xie_path_factor,
            images,
            spring,
        })
    }

    fn resolve_exit(e: &ExitSection, p: usize) -> Result<ExitSpec> {
        let kind = require("exit.kind", &e.kind, "(\"coordinate\", \"loss-above\", \"hyperplane\" or \"never\")")?;
        let ctx = |keys: &str| format!("of exit.kind = {kind:?} (keys: {keys})");
        match kind.as_str() {
            "never" => {
                let c = ctx("none");
                forbid("exit.axis", &e.axis, &c)?;
                forbid("exit.threshold", &e.threshold, &c)?;
                forbid("exit.ratio", &e.ratio, &c)?;
                forbid("exit.normal", &e.normal, &c)?;
                forbid("exit.point", &e.point, &c)?;
                Ok(ExitSpec::Never)
            }
            "coordinate" => {
                let c = ctx("axis, threshold");
                forbid("exit.ratio", &e.ratio, &c)?;
                forbid("exit.normal", &e.normal, &c)?;
                forbid("exit.point", &e.point, &c)?;
                let axis = e.axis.unwrap_or(0);
                if axis >= p {
                    return Err(Error::invalid("exit.axis", axis, format!("must be < the number of parameters P = {p}")));
                }
                let threshold = finite("exit.threshold", require("exit.threshold", &e.threshold, "for a coordinate exit")?)?;
                Ok(ExitSpec::Coordinate { axis, threshold })
            }
            "loss-above" => {
                let c = ctx("ratio");
                forbid("exit.axis", &e.axis, &c)?;
                forbid("exit.threshold", &e.threshold, &c)?;
                forbid("exit.normal", &e.normal, &c)?;
                forbid("exit.point", &e.point, &c)?;
                let ratio = require("exit.ratio", &e.ratio, "for a loss-above exit")?;
                if !(ratio.is_finite() && ratio > 1.0) {
                    return Err(Error::invalid("exit.ratio", ratio, "must be a finite number > 1 (exit when L > ratio · L*)"));
                }
                Ok(ExitSpec::LossAbove { ratio })
            }
            "hyperplane" => {
                let c = ctx("normal, point");
                forbid("exit.axis", &e.axis, &c)?;
                forbid("exit.threshold", &e.threshold, &c)?;
                forbid("exit.ratio", &e.ratio, &c)?;
                let normal = require("exit.normal", &e.normal, "for a hyperplane exit")?;
                finite_vector("exit.normal", &normal, p)?;
                if normal.iter().all(|x| *x == 0.0) {
                    return Err(Error::invalid("exit.normal", format!("{normal:?}"), "must not be the zero vector"));
                }
                let point = e.point.clone().unwrap_or(vec![0.0; p]);
                finite_vector("exit.point", &point, p)?;
                Ok(ExitSpec::Hyperplane { normal, point })
            }
            other => Err(Error::invalid(
                "exit.kind",
                format!("{other:?}"),
                "must be \"coordinate\", \"loss-above\", \"hyperplane\" or \"never\"",
            )),
        }
    }
}
