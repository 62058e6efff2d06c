//! Outlier eigenvalues of the Hessian at a minimum (docs/theory.md §4): the n eigenvalues that stand
//! apart from the bulk, their typical value h*, and the restricted determinants.

use super::curvature::Operator;
use serde::Serialize;

/// How outliers are chosen.
#[derive(Clone, Copy, Debug)]
pub struct OutlierRule {
    /// A gap counts when consecutive positive eigenvalues (sorted descending) differ by at least
    /// this ratio.
    pub min_gap_ratio: f64,
    /// Fixes n instead of detecting it.
    pub count: Option<usize>,
}

impl Default for OutlierRule {
    fn default() -> Self {
        OutlierRule { min_gap_ratio: 10.0, count: None }
    }
}

/// The outliers of a Hessian spectrum.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Outliers {
    /// Their number n.
    pub n: usize,
    /// The typical outlier eigenvalue h*: the geometric mean of the outliers.
    pub h_star: f64,
    /// How `h_star` was chosen.
    pub h_star_rule: String,
    /// The outlier eigenvalues, descending.
    pub eigenvalues: Vec<f64>,
    /// The ratio at the gap that separates them from the bulk (null when every positive
    /// eigenvalue is an outlier).
    pub gap_ratio: Option<f64>,
    /// Participation ratio (Σλ)²/Σλ² of the positive spectrum, another effective dimension.
    pub participation_ratio: f64,
    /// Outlier eigenvectors (one per outlier, same order).
    #[serde(skip)]
    pub vectors: Vec<Vec<f64>>,
}

/// Detects outliers among `values` (ascending: the whole spectrum, or its largest m
/// eigenvalues) with eigenvectors `vectors` (the columns of a row-major P × m matrix).
///
/// Rule: sort the positive eigenvalues descending, λ₁ ≥ λ₂ ≥ … > 0 (eigenvalues below
/// 10⁻¹² λ₁ count as zero modes). The outliers are those above the largest ratio gap
/// λ_i/λ_{i+1} in the log-spectrum, provided that ratio is at least `min_gap_ratio`; with no
/// such gap the spectrum has no bulk and every positive eigenvalue is an outlier.
/// `rule.count` overrides the detection. h* is their geometric mean.
pub fn detect_outliers(values: &[f64], vectors: &[f64], rule: OutlierRule) -> Outliers {
    let order = positive_order(values);
    let positive: Vec<f64> = order.iter().map(|&i| values[i]).collect();
    let (n, gap_ratio) = match rule.count {
        Some(c) => (c.min(positive.len()), None),
        None => match ratio_gap(&positive, rule.min_gap_ratio) {
            Some((n, ratio)) => (n, Some(ratio)),
            None => (positive.len(), None),
        },
    };
    let eigenvalues: Vec<f64> = positive[..n].to_vec();
    let h_star = if n == 0 { f64::NAN } else { (eigenvalues.iter().map(|l| l.ln()).sum::<f64>() / n as f64).exp() };
    let vectors = order[..n].iter().map(|&k| crate::linalg::column(vectors, values.len(), k)).collect();
    let sum: f64 = positive.iter().sum();
    let sum2: f64 = positive.iter().map(|l| l * l).sum();
    Outliers {
        n,
        h_star,
        h_star_rule: "geometric mean of the outlier eigenvalues".into(),
        eigenvalues,
        gap_ratio,
        participation_ratio: if sum2 > 0.0 { sum * sum / sum2 } else { 0.0 },
        vectors,
    }
}

/// Indices of the positive eigenvalues among `values` (those above 10⁻¹² of the largest; the
/// rest count as zero modes), largest first.
fn positive_order(values: &[f64]) -> Vec<usize> {
    let top = values.iter().cloned().fold(0.0_f64, f64::max);
    let mut order: Vec<usize> = (0..values.len()).filter(|&i| values[i] > 1e-12 * top).collect();
    order.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
    order
}

/// The largest ratio λ_i/λ_{i+1} between consecutive `positive` eigenvalues (descending) and
/// the count i above it, when that ratio is at least `min_gap_ratio`.
fn ratio_gap(positive: &[f64], min_gap_ratio: f64) -> Option<(usize, f64)> {
    (0..positive.len().saturating_sub(1))
        .map(|i| (i + 1, positive[i] / positive[i + 1]))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .filter(|(_, ratio)| *ratio >= min_gap_ratio)
}

/// Whether the outlier rule finds a gap of at least `min_gap_ratio` among `values` (any order):
/// what a partial spectrum needs before its outliers can be told from the bulk.
pub fn has_outlier_gap(values: &[f64], min_gap_ratio: f64) -> bool {
    let positive: Vec<f64> = positive_order(values).iter().map(|&i| values[i]).collect();
    ratio_gap(&positive, min_gap_ratio).is_some()
}

/// `det(Uᵀ A U)` for the n outlier vectors U (each length P) and a symmetric operator A
/// (n products).
pub fn restricted_determinant(a: &dyn Operator, vectors: &[Vec<f64>]) -> f64 {
    let n = vectors.len();
    if n == 0 {
        return 1.0;
    }
    let p = vectors[0].len();
    let mut au = vec![0.0; p];
    let mut r = vec![0.0; n * n];
    for (j, u) in vectors.iter().enumerate() {
        a.apply(u, &mut au);
        for (i, v) in vectors.iter().enumerate() {
            r[i * n + j] = crate::linalg::dot(v, &au);
        }
    }
    let (values, _) = crate::linalg::symmetric_eigen(&r, n);
    values.iter().product()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(p: usize) -> Vec<f64> {
        (0..p * p).map(|k| if k / p == k % p { 1.0 } else { 0.0 }).collect()
    }

    #[test]
    fn gap_rule() {
        // Bulk ≈ 0.01–0.05, outliers 3 and 5: gap ratio 3/0.05 = 60.
        let values = [0.0, 0.01, 0.02, 0.05, 3.0, 5.0];
        let o = detect_outliers(&values, &identity(6), OutlierRule::default());
        assert_eq!(o.n, 2);
        assert_eq!(o.eigenvalues, vec![5.0, 3.0]);
        assert!((o.h_star - 15f64.sqrt()).abs() < 1e-12);
        assert!((o.gap_ratio.unwrap() - 60.0).abs() < 1e-9);
        assert_eq!(o.vectors[0][5], 1.0);
    }

    #[test]
    fn no_bulk_means_all_positive_eigenvalues() {
        let values = [2.0, 2.0, 2.0, 2.0];
        let o = detect_outliers(&values, &identity(4), OutlierRule::default());
        assert_eq!((o.n, o.h_star), (4, 2.0));
        assert!((o.participation_ratio - 4.0).abs() < 1e-12);
        let fixed = detect_outliers(&values, &identity(4), OutlierRule { count: Some(1), ..Default::default() });
        assert_eq!(fixed.n, 1);
    }

    #[test]
    fn restricted_determinant_of_diagonal() {
        let a = crate::landscape::curvature::DenseOperator { matrix: vec![2.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 7.0], p: 3 };
        let u = vec![vec![1.0, 0.0, 0.0], vec![0.0, 1.0, 0.0]];
        assert!((restricted_determinant(&a, &u) + 2.0).abs() < 1e-12);
    }
}
