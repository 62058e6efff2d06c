//! The data set `{(x_μ, y_μ)}` every data-built model trains on: inputs `x_μ ∈ R^m` and
//! targets `y_μ ∈ R^K` (K = 1 for scalar regression, K classes for one-hot labels).

use crate::dynamics::rng::ReplicaRng;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;

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
}
