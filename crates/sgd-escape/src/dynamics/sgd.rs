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
        Sgd {
            model,
            lr,
            batch_size,
            sampling,
        }
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
        SgdWorkspace {
            grad: vec![0.0; self.model.dim()],
            batch: vec![0; self.batch_size],
            permutation,
            cursor: n,
        }
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
                    // Fisher–Yates shuffle of the whole permutation: a new epoch.
                    for i in (1..n).rev() {
                        let j = uniform_index(rng, i + 1);
                        ws.permutation.swap(i, j);
                    }
                    ws.cursor = 0;
                }
                ws.batch
                    .copy_from_slice(&ws.permutation[ws.cursor..ws.cursor + self.batch_size]);
                ws.cursor += self.batch_size;
            }
        }
        self.model
            .minibatch_gradient(theta, &ws.batch, &mut ws.grad);
        for (t, g) in theta.iter_mut().zip(&ws.grad) {
            *t -= self.lr * g;
        }
        self.lr
    }

    fn fixed_time_step(&self) -> Option<f64> {
        Some(self.lr)
    }
}
