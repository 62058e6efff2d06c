//! Small dense linear algebra on row-major `Vec<f64>` matrices: the few kernels the models,
//! steppers and minimiser need. Eigendecompositions are delegated to `faer`.

use faer::{Mat, Side};

/// Dot product.
#[inline]
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Euclidean norm.
#[inline]
pub fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// Euclidean distance |a − b|.
#[inline]
pub fn distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>().sqrt()
}

/// `y += alpha * x`.
#[inline]
pub fn axpy(alpha: f64, x: &[f64], y: &mut [f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}

/// `out = A v` for a row-major `n × n` matrix `A`.
#[inline]
pub fn symv(a: &[f64], v: &[f64], out: &mut [f64]) {
    let n = v.len();
    for (i, o) in out.iter_mut().enumerate() {
        *o = dot(&a[i * n..(i + 1) * n], v);
    }
}

/// Whether every entry is finite.
#[inline]
pub fn all_finite(a: &[f64]) -> bool {
    a.iter().all(|x| x.is_finite())
}

/// Materialises a symmetric linear map on R^p, given by `apply(v, out)`, as a dense row-major
/// matrix (p applications to unit vectors), symmetrised to remove rounding asymmetry.
pub fn materialize_symmetric(p: usize, mut apply: impl FnMut(&[f64], &mut [f64])) -> Vec<f64> {
    let mut a = vec![0.0; p * p];
    let mut e = vec![0.0; p];
    let mut col = vec![0.0; p];
    for j in 0..p {
        e[j] = 1.0;
        apply(&e, &mut col);
        e[j] = 0.0;
        for i in 0..p {
            a[i * p + j] = col[i];
        }
    }
    for i in 0..p {
        for j in 0..i {
            let s = 0.5 * (a[i * p + j] + a[j * p + i]);
            a[i * p + j] = s;
            a[j * p + i] = s;
        }
    }
    a
}

/// Eigendecomposition of a symmetric row-major `n × n` matrix: eigenvalues in nondecreasing
/// order and the eigenvectors as the columns of a row-major matrix.
pub fn symmetric_eigen(a: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    let m = Mat::<f64>::from_fn(n, n, |i, j| 0.5 * (a[i * n + j] + a[j * n + i]));
    let evd = m.self_adjoint_eigen(Side::Lower).expect("symmetric eigendecomposition of a finite matrix");
    let s = evd.S();
    let u = evd.U();
    let values = (0..n).map(|i| s[i]).collect();
    let mut vectors = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            vectors[i * n + j] = u[(i, j)];
        }
    }
    (values, vectors)
}

/// Symmetric square root `S = U diag(sqrt(max(λ, 0))) Uᵀ` of a symmetric positive
/// semi-definite matrix. Negative eigenvalues (a start point that is not a minimum, or rounding)
/// are clipped to zero; the number clipped is returned beside the root.
pub fn psd_sqrt(a: &[f64], n: usize) -> (Vec<f64>, usize) {
    let (values, vectors) = symmetric_eigen(a, n);
    psd_sqrt_from_eigen(&values, &vectors)
}

/// [`psd_sqrt`] from an eigendecomposition already at hand (eigenvalues, eigenvectors as the
/// columns of a row-major matrix, as [`symmetric_eigen`] returns them).
pub fn psd_sqrt_from_eigen(values: &[f64], vectors: &[f64]) -> (Vec<f64>, usize) {
    let mut clipped = 0;
    let roots: Vec<f64> = values
        .iter()
        .map(|&l| {
            if l < 0.0 {
                clipped += 1;
                0.0
            } else {
                l.sqrt()
            }
        })
        .collect();
    (spectral(&roots, vectors), clipped)
}

/// V diag(f) Vᵀ for the eigenvectors V (columns of a row-major matrix) and values f.
fn spectral(f: &[f64], vectors: &[f64]) -> Vec<f64> {
    let n = f.len();
    let mut s = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            s[i * n + j] = (0..n).map(|k| vectors[i * n + k] * f[k] * vectors[j * n + k]).sum();
        }
    }
    s
}

/// The positive part V max(Λ, 0) Vᵀ of a symmetric matrix from its eigendecomposition
/// (eigenvectors as the columns of a row-major matrix, as [`symmetric_eigen`] returns them).
pub fn positive_part_from_eigen(values: &[f64], vectors: &[f64]) -> Vec<f64> {
    spectral(&values.iter().map(|l| l.max(0.0)).collect::<Vec<_>>(), vectors)
}

/// Lower Cholesky factor `L` (row-major, `A = L Lᵀ`) of a symmetric positive semi-definite
/// matrix, in place. Pivots below `tol · max diag` are treated as zero and their column is
/// zeroed, so rank-deficient covariances factor without failing. Cost O(n³), for small n.
pub fn psd_cholesky_in_place(a: &mut [f64], n: usize) {
    let scale = (0..n).map(|i| a[i * n + i]).fold(0.0_f64, f64::max);
    let tol = 1e-13 * scale;
    for j in 0..n {
        let mut d = a[j * n + j];
        for k in 0..j {
            d -= a[j * n + k] * a[j * n + k];
        }
        if d <= tol {
            for i in j..n {
                a[i * n + j] = 0.0;
            }
        } else {
            let ljj = d.sqrt();
            a[j * n + j] = ljj;
            for i in j + 1..n {
                let mut s = a[i * n + j];
                for k in 0..j {
                    s -= a[i * n + k] * a[j * n + k];
                }
                a[i * n + j] = s / ljj;
            }
        }
        for k in j + 1..n {
            a[j * n + k] = 0.0;
        }
    }
}

/// `out = L z` for a row-major lower-triangular `L`.
#[inline]
pub fn lower_mul(l: &[f64], z: &[f64], out: &mut [f64]) {
    let n = z.len();
    for i in 0..n {
        out[i] = dot(&l[i * n..i * n + i + 1], &z[..i + 1]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_positive_part_drops_negative_eigenvalues() {
        let (values, vectors) = symmetric_eigen(&[2.0, 1.0, 1.0, 2.0], 2);
        let a = positive_part_from_eigen(&values, &vectors);
        [2.0, 1.0, 1.0, 2.0].iter().zip(&a).for_each(|(x, y)| assert!((x - y).abs() < 1e-12, "{a:?}"));
        // Eigenvalues −1 and 3 along (1, −1) and (1, 1): the positive part is 3/2 · [[1, 1], [1, 1]].
        let (values, vectors) = symmetric_eigen(&[1.0, 2.0, 2.0, 1.0], 2);
        let b = positive_part_from_eigen(&values, &vectors);
        [1.5, 1.5, 1.5, 1.5].iter().zip(&b).for_each(|(x, y)| assert!((x - y).abs() < 1e-12, "{b:?}"));
    }

    #[test]
    fn psd_sqrt_squares_back() {
        let a = [4.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.5, 0.2, 2.0];
        let (s, clipped) = psd_sqrt(&a, 3);
        assert_eq!(clipped, 0);
        for i in 0..3 {
            for j in 0..3 {
                let v: f64 = (0..3).map(|k| s[i * 3 + k] * s[k * 3 + j]).sum();
                assert!((v - a[i * 3 + j]).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn cholesky_handles_rank_deficiency() {
        // A = u uᵀ with u = (1, 2, 3): rank one.
        let u = [1.0, 2.0, 3.0];
        let mut a: Vec<f64> = (0..9).map(|k| u[k / 3] * u[k % 3]).collect();
        let orig = a.clone();
        psd_cholesky_in_place(&mut a, 3);
        for i in 0..3 {
            for j in 0..3 {
                let v: f64 = (0..3).map(|k| a[i * 3 + k] * a[j * 3 + k]).sum();
                assert!((v - orig[i * 3 + j]).abs() < 1e-12, "{i} {j}");
            }
        }
    }
}

/// The most multiply-adds [`gemm`] computes by plain loops instead of faer.
pub const SMALL_GEMM: usize = 64;

/// Row-major matrix product `C = A·B` (or `C += A·B` with `accumulate`), where `A` is `m × k`
/// (or its transpose is, with `a_transposed`: then the slice holds a `k × m` matrix) and `B` is
/// `k × n` (or `n × k` with `b_transposed`). Sequential and deterministic: parallelism belongs
/// to the caller, so results do not depend on the thread count. Products of at most
/// [`SMALL_GEMM`] multiply-adds (a tiny network's layers at B = 1 or 2) are plain loops, each
/// entry one dot product in order of k: faer's dispatch costs more than such a product.
#[allow(clippy::too_many_arguments)]
pub fn gemm(c: &mut [f64], a: &[f64], b: &[f64], m: usize, k: usize, n: usize, a_transposed: bool, b_transposed: bool, accumulate: bool) {
    use faer::linalg::matmul::matmul;
    use faer::{Accum, MatMut, MatRef, Par};
    debug_assert!(c.len() == m * n && a.len() == m * k && b.len() == k * n);
    if m == 0 || n == 0 {
        return;
    }
    if m * k * n <= SMALL_GEMM {
        // A_ip = a[i·a_row + p·a_step], B_pj = b[p·b_step + j·b_column].
        let (a_row, a_step) = if a_transposed { (1, m) } else { (k, 1) };
        let (b_step, b_column) = if b_transposed { (1, k) } else { (n, 1) };
        for i in 0..m {
            for j in 0..n {
                let mut sum = 0.0;
                for p in 0..k {
                    sum += a[i * a_row + p * a_step] * b[p * b_step + j * b_column];
                }
                let entry = &mut c[i * n + j];
                *entry = if accumulate { *entry + sum } else { sum };
            }
        }
        return;
    }
    let a = if a_transposed { MatRef::from_row_major_slice(a, k, m).transpose() } else { MatRef::from_row_major_slice(a, m, k) };
    let b = if b_transposed { MatRef::from_row_major_slice(b, n, k).transpose() } else { MatRef::from_row_major_slice(b, k, n) };
    let c = MatMut::from_row_major_slice_mut(c, m, n);
    matmul(c, if accumulate { Accum::Add } else { Accum::Replace }, a, b, 1.0, Par::Seq);
}

#[cfg(test)]
mod column_tests {
    #[test]
    fn column_reads_every_row_at_one_index() {
        let m = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]; // 2 × 3
        assert_eq!(super::column(&m, 3, 0), [1.0, 4.0]);
        assert_eq!(super::column(&m, 3, 2), [3.0, 6.0]);
        assert_eq!(super::column(&m, 2, 1), [2.0, 4.0, 6.0]); // read as 3 × 2
    }
}

#[cfg(test)]
mod gemm_tests {
    /// Both paths, the plain loops (3·4·2 ≤ SMALL_GEMM) and faer (9·8·7 above it), in every
    /// layout, replacing and accumulating.
    #[test]
    fn gemm_matches_naive_products_in_every_layout() {
        const { assert!(3 * 4 * 2 <= super::SMALL_GEMM && 9 * 8 * 7 > super::SMALL_GEMM) };
        for (m, k, n) in [(3, 4, 2), (9, 8, 7)] {
            gemm_matches_naive_products(m, k, n);
        }
    }

    fn gemm_matches_naive_products(m: usize, k: usize, n: usize) {
        let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = (0..k * n).map(|i| (i as f64 * 0.71).cos()).collect();
        let naive: Vec<f64> = (0..m * n).map(|ij| (0..k).map(|l| a[(ij / n) * k + l] * b[l * n + ij % n]).sum()).collect();
        let at: Vec<f64> = (0..k * m).map(|i| a[(i % m) * k + i / m]).collect();
        let bt: Vec<f64> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
        for (aa, ta) in [(&a, false), (&at, true)] {
            for (bb, tb) in [(&b, false), (&bt, true)] {
                let mut c = vec![1.0; m * n];
                super::gemm(&mut c, aa, bb, m, k, n, ta, tb, false);
                assert!(c.iter().zip(&naive).all(|(x, y)| (x - y).abs() < 1e-14));
                super::gemm(&mut c, aa, bb, m, k, n, ta, tb, true);
                assert!(c.iter().zip(&naive).all(|(x, y)| (x - 2.0 * y).abs() < 1e-14));
            }
        }
    }
}

/// Column `k` of a row-major matrix with `columns` columns (e.g. the k-th eigenvector of
/// [`symmetric_eigen`]).
pub fn column(matrix: &[f64], columns: usize, k: usize) -> Vec<f64> {
    matrix.iter().skip(k).step_by(columns).copied().collect()
}

/// A vector for messages: in full up to 8 entries, else the first 6, an ellipsis and the size.
pub fn brief(v: &[f64]) -> String {
    if v.len() <= 8 {
        format!("{v:?}")
    } else {
        let head: Vec<String> = v[..6].iter().map(|x| format!("{x}")).collect();
        format!("[{}, … ({} entries)]", head.join(", "), v.len())
    }
}
