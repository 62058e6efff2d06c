//! Noise models of the SDE `dθ = −∇L dt + sqrt(η Σ(θ)) dW` (docs/theory.md eq. 5–11), as values.

/// The diffusion of the SDE. `lr` is η, `batch_size` is B; `sqrt_hessian` is a square root
/// of `H* = H(θ*)` at the starting minimum ([`HessianRoot`]: the whole of H*, or H* restricted
/// to its outlier subspace).
#[derive(Clone, Debug)]
pub enum Noise {
    /// Exact minibatch covariance from per-sample gradients,
    /// `Σ(θ) = factor/B · [(1/N) Σ ∇ℓ_μ∇ℓ_μᵀ − ∇L∇Lᵀ]`, with `factor = 1` for sampling with
    /// replacement and `(N − B)/(N − 1)` without. Data-built models only.
    Exact {
        /// Learning rate η.
        lr: f64,
        /// Batch size B.
        batch_size: usize,
        /// 1 with replacement, `(N − B)/(N − 1)` without.
        factor: f64,
    },
    /// The paper's approximation `Σ(θ) = 2 L(θ) H*/B` (multiplicative noise).
    Paper {
        /// Learning rate η.
        lr: f64,
        /// Batch size B.
        batch_size: usize,
        /// A square root of H*.
        sqrt_hessian: HessianRoot,
    },
    /// The paper's noise after the random time change `dτ = L dt`: additive noise on log L,
    /// `dθ = −∇log L dτ + sqrt(2η H*/B) dW_τ`, integrated in τ with `dτ = dt · L*` and mapped
    /// back with `t = ∫ dτ / L`.
    TimeChanged {
        /// Learning rate η.
        lr: f64,
        /// Batch size B.
        batch_size: usize,
        /// A square root of H*.
        sqrt_hessian: HessianRoot,
        /// `L* = L(θ*)`, which sets `dτ = dt · L*` (so t advances by ≈ dt a step near θ*).
        loss_at_minimum: f64,
    },
    /// Noise frozen at the minimum, `Σ = 2 L* H*/B` (additive; the linear-barrier theory).
    Frozen {
        /// Learning rate η.
        lr: f64,
        /// Batch size B.
        batch_size: usize,
        /// A square root of H*.
        sqrt_hessian: HessianRoot,
        /// `L* = L(θ*)`.
        loss_at_minimum: f64,
    },
    /// Isotropic constant diffusion D: `dθ = −∇L dt + sqrt(2D) dW` (Kramers / Langevin).
    Isotropic {
        /// D, the temperature.
        temperature: f64,
    },
}

impl Noise {
    /// The configuration name of the noise model.
    pub fn name(&self) -> &'static str {
        match self {
            Noise::Exact { .. } => "exact",
            Noise::Paper { .. } => "paper",
            Noise::TimeChanged { .. } => "time-changed",
            Noise::Frozen { .. } => "frozen",
            Noise::Isotropic { .. } => "isotropic",
        }
    }

    /// The root of H* that the paper's, time-changed and frozen noises draw through.
    pub fn sqrt_hessian(&self) -> Option<&HessianRoot> {
        match self {
            Noise::Paper { sqrt_hessian, .. } | Noise::TimeChanged { sqrt_hessian, .. } | Noise::Frozen { sqrt_hessian, .. } => {
                Some(sqrt_hessian)
            }
            Noise::Exact { .. } | Noise::Isotropic { .. } => None,
        }
    }

    /// One line for the run log: the noise and the directions it acts in.
    pub fn describe(&self) -> String {
        match self {
            Noise::Exact { .. } => "exact: the minibatch covariance of the per-sample gradients, drawn matrix-free".into(),
            Noise::Paper { sqrt_hessian, .. } => format!("paper: Σ = 2 L(θ) H*/B, {}", sqrt_hessian.describe()),
            Noise::TimeChanged { sqrt_hessian, .. } => {
                format!("time-changed: Σ = 2 L(θ) H*/B in the clock dτ = L dt, {}", sqrt_hessian.describe())
            }
            Noise::Frozen { sqrt_hessian, .. } => format!("frozen: Σ = 2 L* H*/B, {}", sqrt_hessian.describe()),
            Noise::Isotropic { temperature } => format!("isotropic: D = {temperature:e} in every direction"),
        }
    }
}

/// A square root S of the Hessian H* at the minimum, S Sᵀ = H*, which shapes the paper's noise
/// Σ ∝ H* (docs/theory.md eq. 8): the noise increment is S z for standard normal z.
#[derive(Clone, Debug, PartialEq)]
pub enum HessianRoot {
    /// The symmetric root H*^{1/2} of the whole Hessian, row-major P × P (z has P entries;
    /// negative eigenvalues set to 0).
    Dense(Vec<f64>),
    /// H* restricted to its n outlier eigenpairs (h_j, u_j), Σ_j h_j u_j u_jᵀ: S = U diag(√h_j),
    /// P × n, z has n entries. No noise acts in the bulk directions. Matrix-free: what a partial
    /// (Lanczos) spectrum gives, O(n·P) per draw.
    Outliers {
        /// The outlier eigenvectors u_j, each of length P.
        vectors: Vec<Vec<f64>>,
        /// √h_j.
        roots: Vec<f64>,
    },
}

impl HessianRoot {
    /// The root over the outlier eigenpairs `(eigenvalues, vectors)` (eigenvalues > 0). Each
    /// vector's sign is fixed so that its entry of largest magnitude is positive: the noise then
    /// does not depend on the sign an eigensolver happened to return.
    pub fn outliers(eigenvalues: &[f64], mut vectors: Vec<Vec<f64>>) -> Self {
        for v in &mut vectors {
            let largest = v.iter().copied().fold(0.0_f64, |a, x| if x.abs() > a.abs() { x } else { a });
            if largest < 0.0 {
                v.iter_mut().for_each(|x| *x = -*x);
            }
        }
        HessianRoot::Outliers { vectors, roots: eigenvalues.iter().map(|h| h.max(0.0).sqrt()).collect() }
    }

    /// How many standard normals one draw takes: P, or n.
    pub fn normals(&self) -> usize {
        match self {
            // The root is P × P: its side is the exact integer square root of its length.
            HessianRoot::Dense(s) => s.len().isqrt(),
            HessianRoot::Outliers { roots, .. } => roots.len(),
        }
    }

    /// `out = S z` (z of length [`HessianRoot::normals`], out of length P).
    #[inline]
    pub fn apply(&self, z: &[f64], out: &mut [f64]) {
        match self {
            HessianRoot::Dense(s) => crate::linalg::symv(s, z, out),
            HessianRoot::Outliers { vectors, roots } => {
                out.fill(0.0);
                for ((u, r), zj) in vectors.iter().zip(roots).zip(z) {
                    crate::linalg::axpy(r * zj, u, out);
                }
            }
        }
    }

    /// Tr H* as the root represents it, Σ S_ij².
    pub fn trace(&self) -> f64 {
        match self {
            HessianRoot::Dense(s) => s.iter().map(|v| v * v).sum(),
            HessianRoot::Outliers { roots, .. } => roots.iter().map(|r| r * r).sum(),
        }
    }

    /// uᵀ H* u = |Sᵀ u|² as the root represents it (`scratch` of length P for the dense root).
    pub fn along(&self, u: &[f64], scratch: &mut [f64]) -> f64 {
        match self {
            HessianRoot::Dense(s) => {
                crate::linalg::symv(s, u, scratch);
                scratch.iter().map(|v| v * v).sum()
            }
            HessianRoot::Outliers { vectors, roots } => {
                vectors.iter().zip(roots).map(|(v, r)| (r * crate::linalg::dot(v, u)).powi(2)).sum()
            }
        }
    }

    /// Which directions the root covers, for the run log.
    pub fn describe(&self) -> String {
        match self {
            HessianRoot::Dense(_) => format!("H* whole (its {0} × {0} square root)", self.normals()),
            HessianRoot::Outliers { vectors, roots } => format!(
                "H* restricted to its {} outlier eigenvectors (no noise in the other {} directions)",
                roots.len(),
                vectors.first().map_or(0, |v| v.len()) - roots.len()
            ),
        }
    }

    /// The dense root, for the kernels that need one.
    pub fn as_dense(&self) -> Option<&[f64]> {
        match self {
            HessianRoot::Dense(s) => Some(s),
            HessianRoot::Outliers { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Over every eigenpair of a symmetric matrix, the outlier root and the dense root represent
    /// the same H: S Sᵀ = H column by column, the same trace and the same uᵀHu.
    #[test]
    fn outlier_root_over_every_eigenpair_is_the_whole_hessian() {
        let p = 4;
        let h: Vec<f64> = vec![3.0, 0.5, 0.2, 0.0, 0.5, 2.0, 0.1, 0.3, 0.2, 0.1, 1.0, 0.4, 0.0, 0.3, 0.4, 0.7];
        let (values, vectors) = crate::linalg::symmetric_eigen(&h, p);
        let columns: Vec<Vec<f64>> = (0..p).map(|k| crate::linalg::column(&vectors, p, k)).collect();
        let low_rank = HessianRoot::outliers(&values, columns);
        let dense = HessianRoot::Dense(crate::linalg::psd_sqrt_from_eigen(&values, &vectors).0);
        assert_eq!(low_rank.normals(), 4);
        assert_eq!(dense.normals(), 4);
        // S Sᵀ e_i = Σ_j s_j (s_j · e_i): build it from applications of S to Sᵀ e_i.
        let mut scratch = vec![0.0; p];
        for i in 0..p {
            let e: Vec<f64> = (0..p).map(|k| if k == i { 1.0 } else { 0.0 }).collect();
            let HessianRoot::Outliers { vectors: u, roots } = &low_rank else { unreachable!() };
            let st_e: Vec<f64> = u.iter().zip(roots).map(|(v, r)| r * v[i]).collect();
            let mut col = vec![0.0; p];
            low_rank.apply(&st_e, &mut col);
            for k in 0..p {
                assert!((col[k] - h[k * p + i]).abs() < 1e-13, "({k}, {i}): {} against {}", col[k], h[k * p + i]);
            }
            assert!((low_rank.along(&e, &mut scratch) - h[i * p + i]).abs() < 1e-13);
            assert!((dense.along(&e, &mut scratch) - h[i * p + i]).abs() < 1e-13);
        }
        assert!((low_rank.trace() - 6.7).abs() < 1e-13 && (dense.trace() - 6.7).abs() < 1e-13);
        assert!(low_rank.as_dense().is_none() && dense.as_dense().is_some());
    }

    /// Restricted to one eigenpair, the root gives noise along that eigenvector only.
    #[test]
    fn one_outlier_moves_along_its_eigenvector_only() {
        let root = HessianRoot::outliers(&[4.0], vec![vec![0.6, 0.8, 0.0]]);
        let mut out = vec![9.0; 3];
        root.apply(&[0.5], &mut out);
        assert_eq!(out, vec![0.6, 0.8, 0.0]);
        assert_eq!(root.along(&[0.0, 0.0, 1.0], &mut []), 0.0);
        assert!((root.along(&[0.6, 0.8, 0.0], &mut []) - 4.0).abs() < 1e-15);
        // The sign convention: the largest entry is positive.
        let flipped = HessianRoot::outliers(&[4.0], vec![vec![-0.6, -0.8, 0.0]]);
        assert_eq!(flipped, root);
    }
}
