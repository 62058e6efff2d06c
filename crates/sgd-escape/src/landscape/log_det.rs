//! Differences of log-determinants, log det A − log det B, by stochastic Lanczos quadrature
//! (Ubaru, Chen and Saad 2017), for the full-determinant prefactors of docs/theory.md eq. 16–18
//! when the Hessian is too large to decompose (docs/theory.md §6).
//!
//! For a Rademacher probe z, `zᵀ log(A) z ≈ P Σ_j s_j² log θ_j` with θ_j the Ritz values of
//! `steps` Lanczos steps from z and s_j the first components of the tridiagonal's eigenvectors
//! (Gauss quadrature; Σ_j s_j² = 1, |z|² = P). Its mean over probes is Tr log A = log det A. A
//! and B see the same probes, so where they share directions their errors cancel in the
//! difference; the standard error comes from the spread of the per-probe differences.

use super::curvature::Operator;
use super::spectrum::{lanczos, rademacher_probe, tridiagonal_eigen};
use serde::Serialize;

/// An estimate of log det A − log det B.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LogDetDifference {
    /// The mean over probes.
    pub estimate: f64,
    /// Its standard error, sd/√probes.
    pub stderr: f64,
    /// Probes (Rademacher vectors).
    pub probes: usize,
    /// Lanczos steps per probe and operator.
    pub steps: usize,
    /// The same estimate from the first half of each probe's Lanczos steps: the quadrature
    /// has converged when the two differ by much less than `stderr`.
    pub half_steps_estimate: f64,
    /// The smallest Ritz value met (over both operators and every probe): the quadrature needs
    /// it positive.
    pub smallest_ritz_value: f64,
}

impl LogDetDifference {
    /// |estimate − half_steps_estimate|: how far the Gauss quadrature still moves with the
    /// number of Lanczos steps (it converges slowly when the spectrum reaches close to 0).
    pub fn quadrature_change(&self) -> f64 {
        (self.estimate - self.half_steps_estimate).abs()
    }
}

/// `zᵀ log(A) z` by Gauss quadrature on `steps` Lanczos steps from z and on the first half of
/// them, and the smallest Ritz value; `None` when a Ritz value is not positive (log undefined
/// there).
fn quadrature(op: &dyn Operator, z: &[f64], steps: usize) -> (Option<(f64, f64)>, f64) {
    let norm2: f64 = z.iter().map(|v| v * v).sum();
    let (_, alpha, beta) = lanczos(op, z, steps);
    let gauss = |m: usize| {
        let (ritz, s) = tridiagonal_eigen(&alpha[..m], &beta[..m - 1]);
        let smallest = ritz.iter().copied().fold(f64::INFINITY, f64::min);
        // The first component of eigenvector j is s[j] (row 0 of the row-major matrix).
        (norm2 * (0..m).map(|j| s[j] * s[j] * ritz[j].ln()).sum::<f64>(), smallest)
    };
    let m = alpha.len();
    let (full, smallest) = gauss(m);
    let (half, smallest_half) = gauss(m.div_ceil(2));
    let smallest = smallest.min(smallest_half);
    if smallest <= 0.0 || smallest.is_nan() {
        return (None, smallest);
    }
    (Some((full, half)), smallest)
}

/// log det A − log det B for symmetric positive definite A and B of one dimension, by SLQ with
/// `probes` (≥ 2) Rademacher probes shared by both and `steps` Lanczos steps each (2·probes·steps
/// operator applications). An error when a Ritz value is not positive: then one of them is
/// not positive definite (a zero mode, or a negative eigenvalue) and its log-determinant is
/// undefined.
pub fn log_det_difference(a: &dyn Operator, b: &dyn Operator, probes: usize, steps: usize, seed: u64) -> Result<LogDetDifference, String> {
    assert_eq!(a.dim(), b.dim(), "operators of different dimensions");
    let p = a.dim();
    let mut smallest = f64::INFINITY;
    let mut differences = Vec::with_capacity(probes);
    let mut half_differences = 0.0;
    for probe in 0..probes as u64 {
        let z = rademacher_probe(p, seed, probe);
        let (qa, sa) = quadrature(a, &z, steps);
        let (qb, sb) = quadrature(b, &z, steps);
        smallest = smallest.min(sa).min(sb);
        match (qa, qb) {
            (Some(qa), Some(qb)) => {
                differences.push(qa.0 - qb.0);
                half_differences += qa.1 - qb.1;
            }
            _ => {
                return Err(format!(
                    "a Ritz value {:.3e} ≤ 0 on probe {probe}: the operator is not positive definite, so its log-determinant is undefined",
                    sa.min(sb)
                ));
            }
        }
    }
    let m = differences.len() as f64;
    let estimate = differences.iter().sum::<f64>() / m;
    let variance = differences.iter().map(|d| (d - estimate).powi(2)).sum::<f64>() / (m - 1.0);
    Ok(LogDetDifference {
        estimate,
        stderr: (variance / m).sqrt(),
        probes,
        steps,
        half_steps_estimate: half_differences / m,
        smallest_ritz_value: smallest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::landscape::curvature::DenseOperator;

    /// A symmetric positive definite matrix Q diag(λ) Qᵀ with a spread spectrum, and the exact
    /// Σ log λ.
    fn spd(p: usize, seed: u64, shift: f64) -> (Vec<f64>, f64) {
        use rand::RngExt;
        let mut rng = crate::dynamics::rng::replica_rng(seed, 0);
        let g: Vec<f64> = (0..p * p).map(|_| rng.random::<f64>() - 0.5).collect();
        // Orthonormal Q from the eigenvectors of G + Gᵀ.
        let sym: Vec<f64> = (0..p * p).map(|k| g[k] + g[(k % p) * p + k / p]).collect();
        let (_, q) = crate::linalg::symmetric_eigen(&sym, p);
        let lambdas: Vec<f64> = (0..p).map(|i| shift + 10f64.powf(-2.0 + 3.0 * i as f64 / p as f64)).collect();
        let mut a = vec![0.0; p * p];
        for i in 0..p {
            for j in 0..p {
                a[i * p + j] = (0..p).map(|k| q[i * p + k] * lambdas[k] * q[j * p + k]).sum();
            }
        }
        (a, lambdas.iter().map(|l| l.ln()).sum())
    }

    /// Two different 200 × 200 positive definite matrices (eigenvalues over three decades): the
    /// SLQ difference is within 4 standard errors of the exact one, and the standard error is
    /// an honest size (the estimate is not exact by accident).
    #[test]
    fn matches_the_exact_difference_within_its_standard_error() {
        let p = 200;
        let (a, log_a) = spd(p, 1, 0.0);
        let (b, log_b) = spd(p, 2, 0.05);
        let (oa, ob) = (DenseOperator { matrix: a, p }, DenseOperator { matrix: b, p });
        let d = log_det_difference(&oa, &ob, 40, 40, 9).unwrap();
        let exact = log_a - log_b;
        assert!((d.estimate - exact).abs() < 4.0 * d.stderr, "{} ± {} against {exact}", d.estimate, d.stderr);
        assert!(d.stderr > 0.0 && d.stderr < 0.2 * exact.abs(), "{d:?}");
        assert!(d.smallest_ritz_value > 0.0);
        // 40 steps resolve the quadrature of this spectrum (condition number 10³) within the
        // statistical error: it moves by less than half a standard error from 20 steps to 40.
        assert!(d.quadrature_change() < 0.5 * d.stderr, "{d:?}");
        let short = log_det_difference(&oa, &ob, 40, 4, 9).unwrap();
        assert!(short.quadrature_change() > d.quadrature_change(), "{short:?}");
    }

    /// Identical operators: every probe's difference is 0. An indefinite one is refused.
    #[test]
    fn equal_operators_cancel_and_indefinite_ones_are_refused() {
        let p = 50;
        let (a, _) = spd(p, 3, 0.0);
        let oa = DenseOperator { matrix: a.clone(), p };
        let d = log_det_difference(&oa, &oa, 5, 20, 1).unwrap();
        assert_eq!((d.estimate, d.stderr), (0.0, 0.0));
        let mut indefinite = a;
        for i in 0..p {
            indefinite[i * p + i] -= 0.5;
        }
        let e = log_det_difference(&oa, &DenseOperator { matrix: indefinite, p }, 5, 20, 1).unwrap_err();
        assert!(e.contains("not positive definite"), "{e}");
    }
}
