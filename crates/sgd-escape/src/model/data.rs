//! Data sets `{(x_μ, y_μ)}`: generated from a seed or loaded from a user CSV file.

use crate::dynamics::rng::ReplicaRng;
use crate::error::{Error, Result};
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;
use std::path::Path;

/// Inputs `x_μ ∈ R^m` (row-major `N × m`) and scalar targets `y_μ`.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// Input dimension m.
    pub features: usize,
    /// Inputs, row-major `N × m`.
    pub x: Vec<f64>,
    /// Targets, length N.
    pub y: Vec<f64>,
}

impl Dataset {
    /// Number of samples N.
    pub fn len(&self) -> usize {
        self.y.len()
    }

    /// Whether the data set has no samples.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    /// Input row `x_μ`.
    #[inline]
    pub fn row(&self, mu: usize) -> &[f64] {
        &self.x[mu * self.features..(mu + 1) * self.features]
    }

    /// `N` samples with i.i.d. standard normal inputs `x ∈ R^m`; each target is
    /// `y = label(x, ξ)` with an independent standard normal `ξ`. Draw order per sample:
    /// the m entries of x, then ξ; the stream is a xoshiro256++ seeded by `seed`.
    pub fn gaussian(samples: usize, features: usize, seed: u64, label: impl Fn(&[f64], f64) -> f64) -> Self {
        let mut rng = ReplicaRng::seed_from_u64(seed);
        let mut x = Vec::with_capacity(samples * features);
        let mut y = Vec::with_capacity(samples);
        for _ in 0..samples {
            let start = x.len();
            for _ in 0..features {
                x.push(rng.sample::<f64, _>(StandardNormal));
            }
            let xi: f64 = rng.sample(StandardNormal);
            y.push(label(&x[start..], xi));
        }
        Dataset { features, x, y }
    }

    /// Loads a CSV file with a header row; every column but the last is an input, the last is
    /// the target. Empty files, ragged rows and non-finite or non-numeric entries are errors
    /// naming the row (1-based, header = row 1) and the column.
    pub fn from_csv(path: &Path) -> Result<Self> {
        let data_err = |message: String| Error::Data { path: path.to_path_buf(), message };
        let file =
            std::fs::File::open(path).map_err(|source| Error::Io { action: "cannot read data file", path: path.to_path_buf(), source })?;
        let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(true).trim(csv::Trim::All).from_reader(file);
        let header = reader.headers().map_err(|e| data_err(format!("cannot read the header row: {e}")))?.clone();
        if header.is_empty() || (header.len() == 1 && header[0].is_empty()) {
            return Err(data_err("the file is empty (a header row and at least one data row are needed)".into()));
        }
        if header.len() < 2 {
            return Err(data_err(format!("the header has {} column; at least 2 are needed (inputs, then the target last)", header.len())));
        }
        let columns = header.len();
        let mut x = Vec::new();
        let mut y = Vec::new();
        for (i, record) in reader.records().enumerate() {
            let row = i + 2;
            let record = record.map_err(|e| data_err(format!("row {row}: {e}")))?;
            if record.len() != columns {
                return Err(data_err(format!("row {row} has {} fields, but the header has {columns}", record.len())));
            }
            for (c, field) in record.iter().enumerate() {
                let value: f64 = field
                    .parse()
                    .map_err(|_| data_err(format!("row {row}, column {} (`{}`): `{field}` is not a number", c + 1, &header[c])))?;
                if !value.is_finite() {
                    return Err(data_err(format!("row {row}, column {} (`{}`): value `{field}` is not finite", c + 1, &header[c])));
                }
                if c + 1 == columns {
                    y.push(value);
                } else {
                    x.push(value);
                }
            }
        }
        if y.is_empty() {
            return Err(data_err("the file has a header but no data rows".into()));
        }
        Ok(Dataset { features: columns - 1, x, y })
    }
}
