//! `[data]` (and `[test]` in training files): where a data set comes from and how it is
//! prepared, tagged by `source` (docs/config.md).

use super::tagged::tagged_enum;
use super::values::{Column, Count};
use crate::data::{DataSpec, Dataset, LabelMap, Scale, Standardization, Table};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// `[data]`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "source", rename_all = "kebab-case")]
pub enum DataConfig {
    /// scikit-learn's diabetes set (built in).
    Diabetes(BuiltInData),
    /// scikit-learn's wine set (built in).
    Wine(BuiltInData),
    /// scikit-learn's breast-cancer set (built in).
    BreastCancer(BuiltInData),
    /// scikit-learn's digits set (built in).
    Digits(BuiltInData),
    /// Fashion-MNIST from Debian's `dataset-fashion-mnist`.
    FashionMnist(FashionMnistData),
    /// A CSV file.
    Csv(CsvData),
    /// A NumPy `.npy` file.
    Npy(NpyData),
}

tagged_enum!(DataConfig, "source", {
    "diabetes" => Diabetes(BuiltInData),
    "wine" => Wine(BuiltInData),
    "breast-cancer" => BreastCancer(BuiltInData),
    "digits" => Digits(BuiltInData),
    "fashion-mnist" => FashionMnist(FashionMnistData),
    "csv" => Csv(CsvData),
    "npy" => Npy(NpyData),
});

/// How the target column becomes the model's targets.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Labels {
    /// The target value itself (K = 1).
    Regression(NoKeys),
    /// One-hot over the classes of the whole table (K = number of classes).
    OneHot(NoKeys),
    /// +1 for the classes in `positive`, −1 otherwise (K = 1).
    Binary(BinaryLabels),
}

tagged_enum!(Labels, "kind", {
    "regression" => Regression(NoKeys),
    "one-hot" => OneHot(NoKeys),
    "binary" => Binary(BinaryLabels),
});

/// A variant without keys of its own.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoKeys {}

/// `labels = { kind = "binary", positive = [...] }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BinaryLabels {
    /// The classes labelled +1.
    pub positive: Vec<i64>,
}

/// Defines a data-source struct: its own keys, then the keys every source shares (columns,
/// labels, scaling, rows).
macro_rules! data_source {
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* $field:ident : $ty:ty,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $($(#[$fmeta])* pub $field: $ty,)*
            /// Feature columns, numbered from 1 (default: every column but the target).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub features: Option<Vec<Column>>,
            /// Target column, numbered from 1 (default: the last).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub target: Option<Column>,
            /// Label map (default: one-hot for the classification sets, regression otherwise).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub labels: Option<Labels>,
            /// Scale every feature to mean 0, variance 1 over the rows used (default: the data
            /// as given).
            #[serde(default)]
            pub standardize: bool,
            /// Scale a regression target to mean 0, variance 1 over the rows used.
            #[serde(default)]
            pub standardize_target: bool,
            /// Leading rows skipped.
            #[serde(default)]
            pub skip: usize,
            /// Then keep only the first N rows.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub samples: Option<Count>,
        }

        impl $name {
            fn selection(&mut self) -> Selection<'_> {
                Selection {
                    features: &self.features,
                    target: &self.target,
                    labels: &mut self.labels,
                    standardize: self.standardize,
                    standardize_target: self.standardize_target,
                    skip: self.skip,
                    samples: self.samples,
                }
            }
        }
    };
}

data_source!(
    /// A built-in set: no keys of its own.
    BuiltInData {}
);
data_source!(
    /// `source = "fashion-mnist"`.
    FashionMnistData {
        /// The folder with the IDX files (default: Debian's).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<PathBuf>,
        /// `"train"` or `"test"`.
        #[serde(default)]
        split: Split,
    }
);
data_source!(
    /// `source = "csv"`.
    CsvData {
        /// The file, relative to the configuration file.
        path: PathBuf,
        /// Whether the first row names the columns.
        #[serde(default = "yes")]
        header: bool,
    }
);
data_source!(
    /// `source = "npy"`.
    NpyData {
        /// The file, relative to the configuration file.
        path: PathBuf,
    }
);

fn yes() -> bool {
    true
}

/// The Fashion-MNIST split.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Split {
    /// 60 000 images.
    #[default]
    Train,
    /// 10 000 images.
    Test,
}

/// The keys every source shares, borrowed from a source struct.
struct Selection<'a> {
    features: &'a Option<Vec<Column>>,
    target: &'a Option<Column>,
    labels: &'a mut Option<Labels>,
    standardize: bool,
    standardize_target: bool,
    skip: usize,
    samples: Option<Count>,
}

/// A loaded data set with what was done to it.
#[derive(Clone, Debug)]
pub struct LoadedData {
    /// The data set.
    pub data: Dataset,
    /// The standardisation applied to the features and the target, if any.
    pub standardization: Option<Standardization>,
}

impl DataConfig {
    /// A CSV file with a header row whose last column is the target (`model.data`).
    pub fn csv(path: PathBuf) -> Self {
        DataConfig::Csv(CsvData {
            path,
            header: true,
            features: None,
            target: None,
            labels: None,
            standardize: false,
            standardize_target: false,
            skip: 0,
            samples: None,
        })
    }

    /// The `source` name.
    pub fn source(&self) -> &'static str {
        match self {
            DataConfig::Diabetes(_) => "diabetes",
            DataConfig::Wine(_) => "wine",
            DataConfig::BreastCancer(_) => "breast-cancer",
            DataConfig::Digits(_) => "digits",
            DataConfig::FashionMnist(_) => "fashion-mnist",
            DataConfig::Csv(_) => "csv",
            DataConfig::Npy(_) => "npy",
        }
    }

    /// Sets `standardize` and `standardize_target` (a test set follows its training set).
    pub fn set_standardize(&mut self, standardize: bool, standardize_target: bool) {
        match self {
            DataConfig::Diabetes(d) | DataConfig::Wine(d) | DataConfig::BreastCancer(d) | DataConfig::Digits(d) => {
                (d.standardize, d.standardize_target) = (standardize, standardize_target)
            }
            DataConfig::FashionMnist(d) => (d.standardize, d.standardize_target) = (standardize, standardize_target),
            DataConfig::Csv(d) => (d.standardize, d.standardize_target) = (standardize, standardize_target),
            DataConfig::Npy(d) => (d.standardize, d.standardize_target) = (standardize, standardize_target),
        }
    }

    fn selection(&mut self) -> Selection<'_> {
        match self {
            DataConfig::Diabetes(d) | DataConfig::Wine(d) | DataConfig::BreastCancer(d) | DataConfig::Digits(d) => d.selection(),
            DataConfig::FashionMnist(d) => d.selection(),
            DataConfig::Csv(d) => d.selection(),
            DataConfig::Npy(d) => d.selection(),
        }
    }

    /// The files the data set is read from (relative paths against `base_dir`): the CSV or
    /// `.npy` file, or Fashion-MNIST's two IDX files of the split; none for a built-in set.
    pub fn input_files(&self, base_dir: &Path) -> Vec<PathBuf> {
        let resolve = |p: &PathBuf| if p.is_absolute() { p.clone() } else { base_dir.join(p) };
        match self {
            DataConfig::Csv(d) => vec![resolve(&d.path)],
            DataConfig::Npy(d) => vec![resolve(&d.path)],
            DataConfig::FashionMnist(d) => {
                let dir = d.path.as_ref().map(resolve).unwrap_or_else(|| PathBuf::from(crate::data::FASHION_MNIST_DIR));
                let prefix = match d.split {
                    Split::Train => "train",
                    Split::Test => "t10k",
                };
                ["images-idx3", "labels-idx1"].iter().map(|k| dir.join(format!("{prefix}-{k}-ubyte.gz"))).collect()
            }
            _ => Vec::new(),
        }
    }

    /// Loads the data set: reads the table (relative paths against `base_dir`), selects columns
    /// and rows, maps labels and scales features; a `[test]` set passes its training set's
    /// standardisation as `given`. Writes the defaults it used into `self`, so that the
    /// configuration echoed in outputs says what was done. `key` is the section's name in
    /// messages (`data` or `test`).
    pub fn load(&mut self, base_dir: &Path, key: &str, given: Option<&Standardization>) -> Result<LoadedData> {
        let resolve = |p: &PathBuf| if p.is_absolute() { p.clone() } else { base_dir.join(p) };
        let source = self.source();
        let classification = matches!(source, "wine" | "breast-cancer" | "digits" | "fashion-mnist");
        let limit = {
            let s = self.selection();
            s.samples.map(|n| n.get() + s.skip)
        };
        let table: Table = match &*self {
            DataConfig::Diabetes(_) | DataConfig::Wine(_) | DataConfig::BreastCancer(_) | DataConfig::Digits(_) => {
                crate::data::load_vendored(source)?
            }
            DataConfig::FashionMnist(d) => {
                let dir = d.path.as_ref().map(resolve).unwrap_or_else(|| PathBuf::from(crate::data::FASHION_MNIST_DIR));
                let split = match d.split {
                    Split::Train => "train",
                    Split::Test => "test",
                };
                crate::data::load_fashion_mnist(&dir, split, limit)?
            }
            DataConfig::Csv(d) => Table::from_csv(&resolve(&d.path), d.header)?,
            DataConfig::Npy(d) => Table::from_npy(&resolve(&d.path))?,
        };
        let selection = self.selection();
        let column = |name: &str, c: Column| -> Result<usize> {
            if c.number() > table.columns {
                return Err(Error::invalid(
                    format!("{key}.{name}"),
                    c.number(),
                    format!("columns are numbered 1 to {} in {}", table.columns, table.source.display()),
                ));
            }
            Ok(c.index())
        };
        let target = selection.target.map(|c| column("target", c)).transpose()?;
        let features =
            selection.features.as_ref().map(|f| f.iter().map(|&c| column("features", c)).collect::<Result<Vec<_>>>()).transpose()?;
        let labels = selection
            .labels
            .get_or_insert_with(|| if classification { Labels::OneHot(NoKeys {}) } else { Labels::Regression(NoKeys {}) })
            .clone();
        let standardize = selection.standardize;
        if selection.standardize_target && !matches!(labels, Labels::Regression(_)) {
            return Err(Error::invalid(
                format!("{key}.standardize_target"),
                true,
                "only a regression target (`labels = \"regression\"`) can be standardised",
            ));
        }
        let scale_target = if selection.standardize_target { Scale::Standardize } else { Scale::None };
        let spec = DataSpec {
            features,
            target,
            labels: match labels {
                Labels::Regression(_) => LabelMap::Regression,
                Labels::OneHot(_) => LabelMap::OneHot,
                Labels::Binary(b) => LabelMap::Binary { positive: b.positive },
            },
            scale: if standardize { Scale::Standardize } else { Scale::None },
            scale_target,
            skip: selection.skip,
            first: selection.samples.map(Count::get),
        };
        let (data, standardization) = crate::data::build_with(&table, &spec, given)?;
        Ok(LoadedData { data, standardization })
    }
}
