//! Data: the [`Dataset`] models train on, raw [`Table`]s read from files (CSV, `.npy`, the IDX
//! files of Fashion-MNIST) or compiled in ([`vendored`]), and [`build`], which turns a table
//! into a data set: feature and target columns, first-N subsetting, label maps (regression,
//! binary ±1 from a class set, one-hot over K classes) and standardisation.

mod dataset;
mod idx;
mod table;
pub mod vendored;

pub use dataset::Dataset;
pub use idx::read_idx;
pub use table::Table;
pub use vendored::{FASHION_MNIST_DIR, VENDORED, fashion_mnist_available, load_fashion_mnist, load_vendored};

use crate::error::{Error, Result};

/// How the target column becomes the model's targets.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum LabelMap {
    /// The target value itself (K = 1).
    #[default]
    Regression,
    /// y = +1 if the (integer) class is in `positive`, −1 otherwise (K = 1; paper Fig. 1).
    Binary {
        /// Classes labelled +1.
        positive: Vec<i64>,
    },
    /// One-hot over the classes present in the whole table, in increasing order (K = number of
    /// classes; paper Fig. 2).
    OneHot,
}

/// How the feature columns are scaled (statistics over the rows used). The default is the
/// data as given.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Scale {
    /// Zero mean and unit variance per column; a constant column is only centred.
    Standardize,
    /// As read.
    #[default]
    None,
}

/// Which columns and rows of a table make the data set, and how.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DataSpec {
    /// Feature columns (0-based); default every column but the target.
    pub features: Option<Vec<usize>>,
    /// Target column (0-based); default the last.
    pub target: Option<usize>,
    /// Label map.
    pub labels: LabelMap,
    /// Feature scaling.
    pub scale: Scale,
    /// Target scaling (regression targets only).
    pub scale_target: Scale,
    /// Skip this many leading rows (e.g. to hold them out as a test set).
    pub skip: usize,
    /// Then keep only the first N rows.
    pub first: Option<usize>,
}

/// Per-feature standardisation `x ↦ (x − mean)·inv_std`, and that of a regression target,
/// recorded in every output that depends on them. Without feature scaling `mean` and `inv_std`
/// are empty.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Standardization {
    /// Column means.
    pub mean: Vec<f64>,
    /// 1/standard deviation (1 for constant columns).
    pub inv_std: Vec<f64>,
    /// The target's `y ↦ (y − mean)·inv_std`, when it was standardised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<TargetStandardization>,
}

/// A regression target's standardisation `y ↦ (y − mean)·inv_std`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TargetStandardization {
    /// The target's mean.
    pub mean: f64,
    /// 1/standard deviation (1 for a constant target).
    pub inv_std: f64,
}

impl Standardization {
    /// Whether the features were scaled.
    pub fn scales_features(&self) -> bool {
        !self.mean.is_empty()
    }
}

/// The largest class label accepted (|label| ≤ 2³¹).
const MAX_CLASS_LABEL: f64 = 2_147_483_648.0;

/// Builds a data set from `table` as `spec` says. Errors name the table and the column (or
/// row) at fault: a column index out of range, the target among the features, a non-integer
/// class under a classification label map.
pub fn build(table: &Table, spec: &DataSpec) -> Result<Dataset> {
    build_with(table, spec, None).map(|(d, _)| d)
}

/// [`build`], returning the standardisation it applied; with `given`, standardised features
/// use those statistics instead of their own (a test set scaled like its training set).
pub fn build_with(table: &Table, spec: &DataSpec, given: Option<&Standardization>) -> Result<(Dataset, Option<Standardization>)> {
    let err = |message: String| Error::Data { path: table.source.clone(), message };
    let target = spec.target.unwrap_or(table.columns - 1);
    if target >= table.columns {
        return Err(err(format!("target column {} does not exist (the table has {} columns)", target + 1, table.columns)));
    }
    let features: Vec<usize> = spec.features.clone().unwrap_or_else(|| (0..table.columns).filter(|&c| c != target).collect());
    if features.is_empty() {
        return Err(err("no feature columns".into()));
    }
    if let Some(&c) = features.iter().find(|&&c| c >= table.columns) {
        return Err(err(format!("feature column {} does not exist (the table has {} columns)", c + 1, table.columns)));
    }
    if features.contains(&target) {
        return Err(err(format!("column {} (`{}`) is both a feature and the target", target + 1, table.names[target])));
    }
    let available = table.rows.saturating_sub(spec.skip);
    let rows = spec.first.map_or(available, |n| n.min(available));
    if rows == 0 {
        return Err(err(format!("no rows selected (the table has {} rows, {} skipped)", table.rows, spec.skip)));
    }
    let m = features.len();
    let row0 = spec.skip;
    let mut x = Vec::with_capacity(rows * m);
    for r in 0..rows {
        x.extend(features.iter().map(|&c| table.get(row0 + r, c)));
    }
    // A class label must be an exact integer of moderate size: 2.5 or 1e19 (which `as i64`
    // would merge with other classes) are errors naming the row and column.
    let class_at = |r: usize| -> Result<i64> {
        let v = table.get(r, target);
        if v.fract() != 0.0 || v.abs() > MAX_CLASS_LABEL {
            return Err(err(format!(
                "row {}, column {} (`{}`): class label {v} is not an integer between −2³¹ and 2³¹ (classification label maps need integer classes)",
                r + 1,
                target + 1,
                table.names[target]
            )));
        }
        Ok(v as i64)
    };
    let class = |r: usize| class_at(row0 + r);
    let (outputs, mut y) = match &spec.labels {
        LabelMap::Regression => (1, (0..rows).map(|r| table.get(row0 + r, target)).collect()),
        LabelMap::Binary { positive } => {
            let mut y = Vec::with_capacity(rows);
            for r in 0..rows {
                y.push(if positive.contains(&class(r)?) { 1.0 } else { -1.0 });
            }
            (1, y)
        }
        LabelMap::OneHot => {
            let classes: Vec<i64> = (0..rows).map(class).collect::<Result<_>>()?;
            // The classes of the whole table, so that subsets (train, test) share one encoding.
            let mut distinct: Vec<i64> = (0..table.rows).map(class_at).collect::<Result<_>>()?;
            distinct.sort_unstable();
            distinct.dedup();
            let k = distinct.len();
            let mut y = vec![0.0; rows * k];
            for (r, c) in classes.iter().enumerate() {
                y[r * k + distinct.binary_search(c).expect("class present")] = 1.0;
            }
            (k, y)
        }
    };
    let mut used: Option<Standardization> = None;
    if spec.scale == Scale::Standardize {
        let stats = match given {
            Some(g) => {
                if g.mean.len() != m {
                    return Err(err(format!("{m} features, but the given standardisation has {}", g.mean.len())));
                }
                Standardization { target: None, ..g.clone() }
            }
            None => {
                let mut mean = vec![0.0; m];
                let mut inv_std = vec![1.0; m];
                for j in 0..m {
                    mean[j] = (0..rows).map(|r| x[r * m + j]).sum::<f64>() / rows as f64;
                    let var = (0..rows).map(|r| (x[r * m + j] - mean[j]).powi(2)).sum::<f64>() / rows as f64;
                    if var > 0.0 {
                        inv_std[j] = 1.0 / var.sqrt();
                    }
                }
                Standardization { mean, inv_std, target: None }
            }
        };
        for r in 0..rows {
            for j in 0..m {
                x[r * m + j] = (x[r * m + j] - stats.mean[j]) * stats.inv_std[j];
            }
        }
        used = Some(stats);
    }
    if spec.scale_target == Scale::Standardize {
        if !matches!(spec.labels, LabelMap::Regression) {
            return Err(err("only a regression target can be standardised".into()));
        }
        let stats = match given.and_then(|g| g.target) {
            Some(t) => t,
            None => {
                let mean = y.iter().sum::<f64>() / rows as f64;
                let var = y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / rows as f64;
                TargetStandardization { mean, inv_std: if var > 0.0 { 1.0 / var.sqrt() } else { 1.0 } }
            }
        };
        y.iter_mut().for_each(|v| *v = (*v - stats.mean) * stats.inv_std);
        used.get_or_insert_with(|| Standardization { mean: Vec::new(), inv_std: Vec::new(), target: None }).target = Some(stats);
    }
    Ok((Dataset { features: m, outputs, x, y }, used))
}
