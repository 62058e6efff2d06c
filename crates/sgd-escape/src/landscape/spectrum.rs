//! Spectra of curvature operators: dense eigendecomposition, Lanczos for extreme eigenpairs,
//! and stochastic Lanczos quadrature (SLQ) for the spectral density of large operators.

use super::curvature::{Operator, to_dense};
use crate::dynamics::rng::replica_rng;
use crate::linalg;
use rand::RngExt;

/// All eigenvalues (ascending) and eigenvectors (columns, row-major P × P) by dense
/// decomposition; for P up to a few thousand.
pub fn dense_eigen(op: &dyn Operator) -> (Vec<f64>, Vec<f64>) {
    let p = op.dim();
    linalg::symmetric_eigen(&to_dense(op), p)
}

/// A Lanczos process with full reorthogonalisation ("twice is enough"), one Krylov vector at
/// a time: the orthonormal basis, the tridiagonal's diagonal `alpha` and off-diagonal `beta`.
struct Krylov<'a> {
    op: &'a dyn Operator,
    basis: Vec<Vec<f64>>,
    alpha: Vec<f64>,
    beta: Vec<f64>,
    /// The next basis vector (before normalisation): the residual of the last step.
    w: Vec<f64>,
}

impl<'a> Krylov<'a> {
    fn new(op: &'a dyn Operator, q0: &[f64]) -> Self {
        let norm0 = linalg::norm(q0);
        Krylov { op, basis: Vec::new(), alpha: Vec::new(), beta: Vec::new(), w: q0.iter().map(|x| x / norm0).collect() }
    }

    /// Adds one basis vector; returns the norm of the new residual (the next β), or `None` when
    /// it vanishes: the space is invariant and the process cannot continue.
    fn step(&mut self) -> Option<f64> {
        if let Some(&b) = self.beta.last().filter(|_| self.beta.len() == self.alpha.len()) {
            self.w.iter_mut().for_each(|x| *x /= b);
        }
        let q = std::mem::take(&mut self.w);
        let mut w = vec![0.0; q.len()];
        self.op.apply(&q, &mut w);
        let a = linalg::dot(&q, &w);
        self.alpha.push(a);
        self.basis.push(q);
        for _ in 0..2 {
            for b in &self.basis {
                let c = linalg::dot(b, &w);
                linalg::axpy(-c, b, &mut w);
            }
        }
        let norm = linalg::norm(&w);
        self.w = w;
        (norm > 1e-12 * a.abs().max(1e-300)).then_some(norm)
    }

    /// Accepts the residual norm returned by [`Krylov::step`] as the next β, so that the next
    /// step continues the process.
    fn accept(&mut self, beta: f64) {
        self.beta.push(beta);
    }
}

/// Lanczos tridiagonalisation with full reorthogonalisation: `steps` Krylov vectors from the
/// start vector `q0` (normalised here). Returns the basis (each vector length P) and the
/// tridiagonal's diagonal `alpha` and off-diagonal `beta`. Stops early on an invariant subspace.
pub fn lanczos(op: &dyn Operator, q0: &[f64], steps: usize) -> (Vec<Vec<f64>>, Vec<f64>, Vec<f64>) {
    let steps = steps.min(op.dim());
    let mut krylov = Krylov::new(op, q0);
    for j in 0..steps {
        match krylov.step() {
            Some(beta) if j + 1 < steps => krylov.accept(beta),
            _ => break,
        }
    }
    (krylov.basis, krylov.alpha, krylov.beta)
}

/// Every Ritz pair of `steps` Lanczos steps from `q0` ([`lanczos`]): values ascending and unit
/// vectors, one per value. Fewer pairs when the Krylov space is invariant sooner.
pub fn ritz_pairs(op: &dyn Operator, q0: &[f64], steps: usize) -> (Vec<f64>, Vec<Vec<f64>>) {
    let (basis, alpha, beta) = lanczos(op, q0, steps.max(1));
    let m = alpha.len();
    let (values, s) = tridiagonal_eigen(&alpha, &beta[..m - 1]);
    let vectors = (0..m).map(|j| ritz_vector(&basis, &s, j)).collect();
    (values, vectors)
}

/// The Ritz vector `Σᵢ sᵢⱼ qᵢ` of the j-th eigenvector of the tridiagonal (`s`, m × m, columns
/// as returned by [`tridiagonal_eigen`]) over the Krylov basis `qᵢ`.
fn ritz_vector(basis: &[Vec<f64>], s: &[f64], j: usize) -> Vec<f64> {
    let m = basis.len();
    let mut v = vec![0.0; basis[0].len()];
    for (i, b) in basis.iter().enumerate() {
        linalg::axpy(s[i * m + j], b, &mut v);
    }
    v
}

/// Eigen-decomposition of the symmetric tridiagonal (alpha, beta): Ritz values ascending and
/// eigenvectors (columns) of T.
pub(super) fn tridiagonal_eigen(alpha: &[f64], beta: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let m = alpha.len();
    let mut t = vec![0.0; m * m];
    for i in 0..m {
        t[i * m + i] = alpha[i];
        if i + 1 < m {
            t[i * m + i + 1] = beta[i];
            t[(i + 1) * m + i] = beta[i];
        }
    }
    linalg::symmetric_eigen(&t, m)
}

/// Extreme eigenpairs from [`lanczos_extreme`].
#[derive(Clone, Debug)]
pub struct Eigenpairs {
    /// Eigenvalues (Ritz values).
    pub values: Vec<f64>,
    /// Eigenvectors (Ritz vectors, unit length), one per value.
    pub vectors: Vec<Vec<f64>>,
    /// Residual norms |A v − λ v| of each pair.
    pub residuals: Vec<f64>,
    /// Krylov steps taken.
    pub steps: usize,
    /// Whether every pair met the tolerance (otherwise `max_steps` or P was reached first).
    pub converged: bool,
}

/// When [`lanczos_extreme`] stops.
#[derive(Clone, Copy, Debug)]
pub struct LanczosOptions {
    /// A Ritz pair has converged when its residual |A v − λ v| is at most `tolerance` times the
    /// largest |Ritz value|.
    pub tolerance: f64,
    /// Krylov steps at most (capped at P).
    pub max_steps: usize,
    /// Seed of the random start vector.
    pub seed: u64,
}

impl Default for LanczosOptions {
    fn default() -> Self {
        LanczosOptions { tolerance: 1e-8, max_steps: 500, seed: 0 }
    }
}

/// The `k` largest (`largest = true`, returned descending) or smallest (ascending) eigenpairs by
/// Lanczos with full reorthogonalisation, matrix-free, from a seeded random start vector. The
/// Krylov space grows until the k wanted Ritz pairs have residuals |A v − λ v| = β_m |s_mj| at
/// most `tolerance · max|λ|`, an invariant subspace is found, or `max_steps` (at most P) is
/// reached; `converged` says which. The residuals are checked after every step while the
/// Krylov space has fewer than 64 vectors, then every [`convergence_check_stride`] steps: each
/// check eigendecomposes the m × m tridiagonal matrix (O(m³)), negligible against an operator
/// application for the large operators this serves, and checking every step stops on the first
/// step that meets the tolerance instead of up to three steps later.
pub fn lanczos_extreme(op: &dyn Operator, k: usize, largest: bool, options: LanczosOptions) -> Eigenpairs {
    let p = op.dim();
    let k = k.min(p);
    let max_steps = options.max_steps.min(p).max(k);
    let mut rng = replica_rng(options.seed, 0x1a2c);
    let q0: Vec<f64> = (0..p).map(|_| rng.random_range(-1.0..1.0)).collect();
    let mut krylov = Krylov::new(op, &q0);
    loop {
        let next_beta = krylov.step();
        let m = krylov.alpha.len();
        let invariant = next_beta.is_none();
        if invariant || m == max_steps || (m >= k && (m - k).is_multiple_of(convergence_check_stride(m))) {
            let (ritz, s) = tridiagonal_eigen(&krylov.alpha, &krylov.beta);
            // With an invariant subspace of dimension m < k, all m pairs are returned.
            let order: Vec<usize> = if largest { (0..m).rev().take(k).collect() } else { (0..m).take(k).collect() };
            let scale = ritz.iter().fold(0.0_f64, |x, v| x.max(v.abs())).max(1e-300);
            let residuals: Vec<f64> = order.iter().map(|&j| next_beta.map_or(0.0, |b| b * s[(m - 1) * m + j].abs())).collect();
            let converged = invariant || residuals.iter().all(|r| *r <= options.tolerance * scale);
            if converged || m == max_steps {
                let values = order.iter().map(|&j| ritz[j]).collect();
                let vectors = order.iter().map(|&j| ritz_vector(&krylov.basis, &s, j)).collect();
                return Eigenpairs { values, vectors, residuals, steps: m, converged };
            }
        }
        krylov.accept(next_beta.expect("not invariant"));
    }
}

/// Steps between convergence checks of [`lanczos_extreme`] at Krylov dimension `m`: 1 below 64,
/// then 2, 3, … (one more per 64 vectors), which spreads each check's O(m³) to O(m²) a step.
fn convergence_check_stride(m: usize) -> usize {
    1 + m / 64
}

/// A spectral density estimate: quadrature nodes and weights summing to 1 (each probe's
/// Gauss quadrature weights sum to 1; probes are averaged).
#[derive(Clone, Debug)]
pub struct SpectralDensity {
    /// Ritz values over all probes.
    pub nodes: Vec<f64>,
    /// Their weights (sum 1).
    pub weights: Vec<f64>,
}

impl SpectralDensity {
    /// Fraction of the spectrum at or below `x` (the estimated eigenvalue CDF).
    pub fn cdf(&self, x: f64) -> f64 {
        self.nodes.iter().zip(&self.weights).filter(|(n, _)| **n <= x).map(|(_, w)| w).sum()
    }

    /// The density smoothed with a Gaussian kernel of width `sigma`, on `grid`.
    pub fn smoothed(&self, grid: &[f64], sigma: f64) -> Vec<f64> {
        let norm = 1.0 / (sigma * (2.0 * std::f64::consts::PI).sqrt());
        grid.iter()
            .map(|x| self.nodes.iter().zip(&self.weights).map(|(n, w)| w * norm * (-0.5 * ((x - n) / sigma).powi(2)).exp()).sum())
            .collect()
    }
}

/// The Rademacher vector (entries ±1) of probe `probe` of [`stochastic_lanczos_quadrature`] with
/// `seed`, so that a caller can check a probe's quadrature against zᵀf(A)z computed directly.
pub fn rademacher_probe(p: usize, seed: u64, probe: u64) -> Vec<f64> {
    let mut rng = replica_rng(seed, probe);
    (0..p).map(|_| if rng.random::<bool>() { 1.0 } else { -1.0 }).collect()
}

/// Stochastic Lanczos quadrature: `probes` Rademacher vectors, `steps` Lanczos steps each.
/// For probe z, the Gauss quadrature of `zᵀ f(A) z / P` has nodes at the Ritz values and weights
/// the squared first components of T's eigenvectors; averaging probes estimates
/// `(1/P) Σ_i δ(x − λ_i)`.
pub fn stochastic_lanczos_quadrature(op: &dyn Operator, probes: usize, steps: usize, seed: u64) -> SpectralDensity {
    let p = op.dim();
    let mut nodes = Vec::new();
    let mut weights = Vec::new();
    for probe in 0..probes {
        let z = rademacher_probe(p, seed, probe as u64);
        let (_, alpha, beta) = lanczos(op, &z, steps);
        let m = alpha.len();
        let (ritz, s) = tridiagonal_eigen(&alpha, &beta[..m - 1]);
        for j in 0..m {
            nodes.push(ritz[j]);
            weights.push(s[j] * s[j] / probes as f64);
        }
    }
    SpectralDensity { nodes, weights }
}

/// Tr A from its largest eigenpairs and a Hutchinson estimate of the rest (the idea of
/// Hutch++, Meyer et al. 2021): `Σ_j λ_j + (1/s) Σ_probes z̃ᵀ A z̃` with z̃ = (I − UUᵀ) z for
/// `probes` Rademacher vectors z, U the orthonormal `vectors` of the eigenvalues `values`.
/// Deflating the largest eigenvalues removes most of the variance when they dominate the
/// trace. Returns the estimate and its standard error (zero with no remainder to estimate);
/// costs `probes` applications of A.
pub fn deflated_trace(op: &dyn Operator, values: &[f64], vectors: &[Vec<f64>], probes: usize, seed: u64) -> (f64, f64) {
    let p = op.dim();
    let known: f64 = values.iter().sum();
    if vectors.len() >= p || probes == 0 {
        return (known, 0.0);
    }
    let mut az = vec![0.0; p];
    let samples: Vec<f64> = (0..probes as u64)
        .map(|probe| {
            let mut z = rademacher_probe(p, seed, probe);
            for _ in 0..2 {
                for u in vectors {
                    let c = linalg::dot(u, &z);
                    linalg::axpy(-c, u, &mut z);
                }
            }
            op.apply(&z, &mut az);
            linalg::dot(&z, &az)
        })
        .collect();
    let s = samples.len() as f64;
    let mean = samples.iter().sum::<f64>() / s;
    let variance = if samples.len() > 1 { samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (s - 1.0) } else { 0.0 };
    (known + mean, (variance / s).sqrt())
}
