//! Minibatch SGD, `θ_{k+1} = θ_k − η ∇L_{B_k}(θ_k)` (THEORY.md §1).

use super::Stepper;
use super::rng::{ReplicaRng, uniform_index};
use crate::model::DataModel;

/// How minibatches are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
    /// The configuration name.
    pub fn name(self) -> &'static str {
        match self {
            Sampling::WithReplacement => "with-replacement",
            Sampling::WithoutReplacement => "without-replacement",
        }
    }
}

/// Minibatch SGD on a data-built model. Time advances by η a step.
pub struct Sgd<'m, M: DataModel + ?Sized> {
    model: &'m M,
    lr: f64,
    batch_size: usize,
    sampling: Sampling,
}

impl<'m, M: DataModel + ?Sized> Sgd<'m, M> {
    /// SGD with learning rate `lr` (η > 0) and batch size `batch_size` (1 ≤ B ≤ N).
    pub fn new(model: &'m M, lr: f64, batch_size: usize, sampling: Sampling) -> Self {
        assert!(lr > 0.0 && batch_size >= 1 && batch_size <= model.samples());
        Sgd { model, lr, batch_size, sampling }
    }
}

/// Per-replica state of [`Sgd`].
pub struct SgdWorkspace {
    grad: Vec<f64>,
    batch: Vec<usize>,
    permutation: Vec<usize>,
    cursor: usize,
}

impl<M: DataModel + ?Sized> Stepper for Sgd<'_, M> {
    type Workspace = SgdWorkspace;

    fn workspace(&self) -> SgdWorkspace {
        let n = self.model.samples();
        let permutation = match self.sampling {
            Sampling::WithReplacement => Vec::new(),
            Sampling::WithoutReplacement => (0..n).collect(),
        };
        SgdWorkspace { grad: vec![0.0; self.model.dim()], batch: vec![0; self.batch_size], permutation, cursor: 0 }
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
        self.model.minibatch_gradient(theta, &ws.batch, &mut ws.grad);
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
            let model = FeatureModel::new(LinearMap { dim: 1 }, Dataset::gaussian(n, 1, 0, |_, xi| xi));
            let sgd = Sgd::new(&model, 0.01, b, Sampling::WithoutReplacement);
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
