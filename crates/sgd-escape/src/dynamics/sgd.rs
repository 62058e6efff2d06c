//! Minibatch SGD, `θ_{k+1} = θ_k − η ∇L_{B_k}(θ_k)` (docs/theory.md eq. 2).

use super::Stepper;
use super::rng::{ReplicaRng, uniform_index};
use crate::error::{Error, Result};
use crate::model::MinibatchGradient;

/// How minibatches are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sampling {
    /// i.i.d. uniform indices (with replacement).
    WithReplacement,
    /// Epoch shuffling: each epoch is a fresh uniform permutation cut into consecutive batches
    /// of B; the last `N mod B` indices of a permutation are dropped (the paper's convention).
    /// The permutation is drawn incrementally (Fisher–Yates one position at a time), which has
    /// the same law as shuffling at the start of each epoch but costs O(B) a step.
    WithoutReplacement,
}

impl Sampling {
    /// The default of escape runs (`run`, `landscape`, the exact-noise SDE): i.i.d. indices.
    /// Then the minibatch noise covariance is exactly eq. 5 of docs/theory.md and SGD is a
    /// Markov chain in θ alone, the setting of the escape theories and of paper Fig. 3.
    pub fn escape_default() -> Self {
        Sampling::WithReplacement
    }

    /// The default of `train`: epoch shuffling, the convention of the paper's training runs
    /// (Fig. 1–2) and of deep-learning practice.
    pub fn training_default() -> Self {
        Sampling::WithoutReplacement
    }

    /// The factor by which this sampling scales the minibatch noise covariance of sampling
    /// with replacement, for batches of `batch_size` from `samples` (docs/theory.md, eq. 6):
    /// 1 with replacement, `(N − B)/(N − 1)` without (0 for N = 1).
    pub fn covariance_factor(self, samples: usize, batch_size: usize) -> f64 {
        match self {
            Sampling::WithReplacement => 1.0,
            Sampling::WithoutReplacement if samples > 1 => (samples - batch_size) as f64 / (samples - 1) as f64,
            Sampling::WithoutReplacement => 0.0,
        }
    }

    /// The configuration name.
    pub fn name(self) -> &'static str {
        match self {
            Sampling::WithReplacement => "with-replacement",
            Sampling::WithoutReplacement => "without-replacement",
        }
    }
}

/// Minibatch SGD on a data-built model. Time advances by η a step.
pub struct Sgd<'m, M: MinibatchGradient + ?Sized> {
    model: &'m M,
    lr: f64,
    batch_size: usize,
    sampling: Sampling,
}

impl<'m, M: MinibatchGradient + ?Sized> Sgd<'m, M> {
    /// SGD with learning rate `lr` (η > 0, finite) and batch size `batch_size` (1 ≤ B ≤ N);
    /// an error names the offending value.
    pub fn new(model: &'m M, lr: f64, batch_size: usize, sampling: Sampling) -> Result<Self> {
        if !(lr.is_finite() && lr > 0.0) {
            return Err(Error::invalid("lr", lr, "the learning rate must be a finite number > 0"));
        }
        let n = model.samples();
        if batch_size == 0 || batch_size > n {
            return Err(Error::invalid("batch_size", batch_size, format!("must be between 1 and the number of samples N = {n}")));
        }
        Ok(Sgd { model, lr, batch_size, sampling })
    }

    /// The learning rate η (time per step).
    pub fn lr(&self) -> f64 {
        self.lr
    }

    /// The batch size B.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }
}

/// Per-replica state of [`Sgd`].
#[derive(Clone)]
pub struct SgdWorkspace {
    grad: Vec<f64>,
    /// The model's intermediate arrays, reused from step to step.
    scratch: Vec<f64>,
    batch: Vec<usize>,
    permutation: Vec<usize>,
    cursor: usize,
}

impl<M: MinibatchGradient + ?Sized> Stepper for Sgd<'_, M> {
    type Workspace = SgdWorkspace;

    fn workspace(&self) -> SgdWorkspace {
        let n = self.model.samples();
        let permutation = match self.sampling {
            Sampling::WithReplacement => Vec::new(),
            Sampling::WithoutReplacement => (0..n).collect(),
        };
        SgdWorkspace { grad: vec![0.0; self.model.dim()], scratch: Vec::new(), batch: vec![0; self.batch_size], permutation, cursor: 0 }
    }

    #[inline]
    fn step(&self, theta: &mut [f64], ws: &mut SgdWorkspace, rng: &mut ReplicaRng) -> f64 {
        let n = self.model.samples();
        match self.sampling {
            Sampling::WithReplacement => {
                for b in ws.batch.iter_mut() {
                    *b = uniform_index(rng, n);
                }
            }
            Sampling::WithoutReplacement => {
                if ws.cursor + self.batch_size > n {
                    ws.cursor = 0; // a new epoch
                }
                // Fisher–Yates, one position at a time.
                for b in ws.batch.iter_mut() {
                    let j = ws.cursor + uniform_index(rng, n - ws.cursor);
                    ws.permutation.swap(ws.cursor, j);
                    *b = ws.permutation[ws.cursor];
                    ws.cursor += 1;
                }
            }
        }
        self.model.minibatch_gradient_with(theta, &ws.batch, &mut ws.grad, &mut ws.scratch);
        for (t, g) in theta.iter_mut().zip(&ws.grad) {
            *t -= self.lr * g;
        }
        self.lr
    }

    fn fixed_time_step(&self) -> Option<f64> {
        Some(self.lr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamics::rng::replica_rng;
    use crate::model::{Dataset, FeatureModel, LinearMap};

    /// Without replacement no index repeats within an epoch (N divisible by B or not), and
    /// successive epochs are differently ordered.
    #[test]
    fn epochs_are_permutations() {
        for (n, b) in [(12, 3), (10, 3)] {
            let model = FeatureModel::new(LinearMap { dim: 1 }, Dataset::gaussian(n, 1, 0, |_, xi| xi)).unwrap();
            let sgd = Sgd::new(&model, 0.01, b, Sampling::WithoutReplacement).unwrap();
            let mut ws = sgd.workspace();
            let mut rng = replica_rng(3, 0);
            let mut theta = [0.0];
            let steps_per_epoch = n / b;
            let mut epochs = Vec::new();
            for _ in 0..5 {
                let mut seen = Vec::new();
                for _ in 0..steps_per_epoch {
                    sgd.step(&mut theta, &mut ws, &mut rng);
                    seen.extend_from_slice(&ws.batch);
                }
                let mut distinct = seen.clone();
                distinct.sort();
                distinct.dedup();
                assert_eq!(distinct.len(), steps_per_epoch * b, "an index repeated within an epoch: {seen:?}");
                epochs.push(seen);
            }
            assert_ne!(epochs[0], epochs[1], "epochs are reshuffled");
        }
    }
}
