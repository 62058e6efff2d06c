//! The data set `{(x_μ, y_μ)}` every data-built model trains on: inputs `x_μ ∈ R^m` and
//! targets `y_μ ∈ R^K` (K = 1 for scalar regression, K classes for one-hot labels).

use crate::dynamics::rng::ReplicaRng;
use crate::error::{Error, Result};
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;
use std::path::Path;

/// Inputs `x_μ ∈ R^m` (row-major `N × m`) and targets `y_μ ∈ R^K` (row-major `N × K`).
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// Input dimension m.
    pub features: usize,
    /// Target dimension K (model outputs).
    pub outputs: usize,
    /// Inputs, row-major `N × m`.
    pub x: Vec<f64>,
    /// Targets, row-major `N × K`.
    pub y: Vec<f64>,
}

impl Dataset {
    /// Number of samples N.
    pub fn len(&self) -> usize {
        self.y.len() / self.outputs.max(1)
    }

    /// Whether the data set has no samples.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    /// Target row `y_μ` (K entries).
    #[inline]
    pub fn target(&self, mu: usize) -> &[f64] {
        &self.y[mu * self.outputs..(mu + 1) * self.outputs]
    }

    /// The first `n` samples.
    pub fn first(&self, n: usize) -> Dataset {
        let n = n.min(self.len());
        Dataset {
            features: self.features,
            outputs: self.outputs,
            x: self.x[..n * self.features].to_vec(),
            y: self.y[..n * self.outputs].to_vec(),
        }
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
        Dataset { features, outputs: 1, x, y }
    }

    /// Loads a CSV file with a header row; every column but the last is an input, the last is
    /// the target. Empty files, ragged rows and non-finite or non-numeric entries are errors
    /// naming the row (1-based, header = row 1) and the column.
    pub fn from_csv(path: &Path) -> Result<Self> {
        let table = super::Table::from_csv(path, true)?;
        if table.columns < 2 {
            return Err(Error::Data {
                path: path.to_path_buf(),
                message: format!("the header has {} column; at least 2 are needed (inputs, then the target last)", table.columns),
            });
        }
        let spec = super::DataSpec { target: Some(table.columns - 1), ..Default::default() };
        super::build(&table, &spec)
    }
}
