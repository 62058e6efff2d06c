//! The curvature at the start point, computed once: the minimisation method and the spectrum
//! of H(θ*), either dense (every eigenpair, up to [`MAX_DENSE_PARAMETERS`]) or matrix-free (the
//! largest eigenpairs by Lanczos with Hessian-vector products, nothing P × P formed).

use super::config::{Config, DenseHessianKeys, DistanceMetric, ExitConfig, HessianConfig, LanczosConfig, SaddleConfig};
use crate::error::{Error, Result};
use crate::landscape::curvature::Hessian;
use crate::landscape::outliers::{OutlierRule, has_outlier_gap};
use crate::landscape::spectrum::{LanczosOptions, lanczos_extreme};
use crate::landscape::{MinimizeOptions, Minimum, minimize, minimize_lbfgs};
use crate::model::HessianProduct;
use serde::Serialize;

/// Largest parameter count for which H(θ*) is formed densely (P Hessian-vector products, a
/// P × P eigendecomposition); above it the spectrum is computed by Lanczos.
pub const MAX_DENSE_PARAMETERS: usize = 4096;

/// Iterations of L-BFGS at most when minimising without the dense Hessian.
const LBFGS_ITERATIONS: usize = 20_000;

/// How the eigenvalues of H(θ*) were computed, as the outputs record it.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(tag = "method", rename_all = "kebab-case")]
pub enum SpectrumReport {
    /// Every eigenpair, from the dense Hessian.
    Dense,
    /// The largest eigenpairs by Lanczos with full reorthogonalisation.
    Lanczos {
        /// How many of the largest eigenvalues were computed.
        computed: usize,
        /// Krylov steps taken (Hessian-vector products).
        krylov_steps: usize,
        /// The largest residual |H v − λ v| over the computed pairs.
        max_residual: f64,
        /// Whether every pair met the tolerance.
        converged: bool,
        /// Whether the computed eigenvalues are all P of them.
        complete: bool,
    },
}

/// The spectrum of H(θ*).
#[derive(Clone, Debug)]
pub struct StartSpectrum {
    /// Eigenvalues, ascending: all P (dense) or the largest k (Lanczos).
    pub values: Vec<f64>,
    /// Eigenvectors as the columns of a row-major P × m matrix, m = `values.len()`.
    pub vectors: Vec<f64>,
    /// H(θ*) itself, row-major, when it was formed.
    pub dense: Option<Vec<f64>>,
    /// How it was computed.
    pub report: SpectrumReport,
}

impl SpectrumReport {
    /// Whether only some eigenvalues are known (so sums and products over the spectrum are not).
    pub fn is_partial(&self) -> bool {
        matches!(self, SpectrumReport::Lanczos { complete: false, .. })
    }

    /// One line for the terminal.
    pub fn describe(&self) -> String {
        match self {
            SpectrumReport::Dense => "every eigenvalue, from the dense Hessian".into(),
            SpectrumReport::Lanczos { computed, krylov_steps, max_residual, converged, .. } => format!(
                "the {computed} largest eigenvalues by Lanczos ({krylov_steps} Hessian-vector products, max residual {max_residual:.1e}{})",
                if *converged { "" } else { ", NOT converged to the tolerance" }
            ),
        }
    }
}

/// Writes the default `landscape.hessian` (dense up to [`MAX_DENSE_PARAMETERS`], Lanczos above)
/// into `config` and refuses what the choice cannot do: a dense Hessian above the limit, and
/// with Lanczos eigenvector following (it decomposes the Hessian at every step) or the
/// Hessian-metric distance exit. The NEB runs matrix-free (Newton–Krylov refinement and a
/// Lanczos index check). The paper's noise over the whole of H* needs every eigenpair, which
/// only the computed spectrum tells: `prepare` refuses it there.
pub(super) fn resolve_hessian(config: &mut Config, p: usize) -> Result<()> {
    let hessian = config.landscape.hessian.get_or_insert_with(|| {
        if p <= MAX_DENSE_PARAMETERS { HessianConfig::Dense(DenseHessianKeys {}) } else { HessianConfig::Lanczos(LanczosConfig::default()) }
    });
    let lanczos = match hessian {
        HessianConfig::Dense(_) if p > MAX_DENSE_PARAMETERS => {
            return Err(Error::invalid(
                "landscape.hessian",
                "\"dense\"",
                format!("P = {p} parameters: the dense P × P Hessian is formed for at most {MAX_DENSE_PARAMETERS}; use kind = \"lanczos\""),
            ));
        }
        HessianConfig::Dense(_) => return Ok(()),
        HessianConfig::Lanczos(l) => l.clone(),
    };
    // A Lanczos basis of `steps` P-vectors (and two more).
    let basis = |steps: usize| crate::limits::product(&[steps.min(p).saturating_add(2), p]).and_then(|v| crate::limits::bytes(v, 8));
    crate::limits::require_memory("landscape.hessian.max_steps", lanczos.max_steps, "the Lanczos basis", basis(lanczos.max_steps.get()))?;
    if lanczos.log_det_probes.is_some() {
        let needed = basis(lanczos.log_det_steps.get());
        crate::limits::require_memory("landscape.hessian.log_det_steps", lanczos.log_det_steps, "the quadrature's Lanczos basis", needed)?;
    }
    if let Some(n) = config.landscape.outliers
        && n.get() > lanczos.eigenvalues.get()
    {
        return Err(Error::invalid(
            "landscape.outliers",
            n,
            format!("must be at most landscape.hessian.eigenvalues = {} (the eigenvalues computed)", lanczos.eigenvalues),
        ));
    }
    if let ExitConfig::Distance(d) = &config.exit
        && d.metric == DistanceMetric::Hessian
    {
        return Err(Error::invalid(
            "exit.metric",
            "\"hessian\"",
            "needs the dense H(θ*), which landscape.hessian = \"lanczos\" does not form; use metric = \"euclidean\"",
        ));
    }
    match config.landscape.saddle {
        Some(SaddleConfig::EigenvectorFollowing(_)) => Err(Error::invalid(
            "landscape.saddle.kind",
            "\"eigenvector-following\"",
            "decomposes the dense Hessian at every step, which landscape.hessian = \"lanczos\" does not form; use kind = \"min-mode\" (the same walk, matrix-free), kind = \"neb\" between two minima, or saddle = \"none\"",
        )),
        Some(_) => Ok(()),
        None => {
            config.landscape.saddle = Some(SaddleConfig::None(Default::default()));
            Ok(())
        }
    }
}

/// Minimises from `start`: damped Newton on the dense Hessian, or L-BFGS without it.
pub(super) fn minimize_at(model: &dyn HessianProduct, start: &[f64], hessian: &HessianConfig) -> Result<Minimum> {
    match hessian {
        HessianConfig::Dense(_) => minimize(model, start, MinimizeOptions::default()),
        HessianConfig::Lanczos(_) => {
            minimize_lbfgs(model, start, MinimizeOptions { max_iterations: LBFGS_ITERATIONS, ..Default::default() })
        }
    }
}

/// The spectrum of H(θ) as `hessian` says. With Lanczos, unless it computed all P eigenvalues,
/// the outliers must be identifiable among the eigenvalues computed: a ratio gap of at least
/// `rule.min_gap_ratio` between two of them (or a fixed count); otherwise the error names
/// `landscape.hessian.eigenvalues`.
pub(super) fn hessian_spectrum(
    model: &dyn HessianProduct,
    theta: &[f64],
    hessian: &HessianConfig,
    rule: OutlierRule,
) -> Result<StartSpectrum> {
    let p = model.dim();
    let lanczos = match hessian {
        HessianConfig::Dense(_) => {
            let h = model.hessian(theta);
            let (values, vectors) = crate::linalg::symmetric_eigen(&h, p);
            return Ok(StartSpectrum { values, vectors, dense: Some(h), report: SpectrumReport::Dense });
        }
        HessianConfig::Lanczos(l) => l,
    };
    let options = LanczosOptions { tolerance: lanczos.tolerance.get(), max_steps: lanczos.max_steps.get(), seed: 0 };
    let pairs = lanczos_extreme(&Hessian::new(model, theta), lanczos.eigenvalues.get(), true, options);
    let m = pairs.values.len();
    // Ascending, eigenvectors as columns.
    let values: Vec<f64> = pairs.values.iter().rev().copied().collect();
    let mut vectors = vec![0.0; p * m];
    for (j, v) in pairs.vectors.iter().rev().enumerate() {
        for (i, x) in v.iter().enumerate() {
            vectors[i * m + j] = *x;
        }
    }
    let complete = m == p;
    if rule.count.is_none() && !complete && !has_outlier_gap(&values, rule.min_gap_ratio) {
        return Err(Error::invalid(
            "landscape.hessian.eigenvalues",
            m,
            format!(
                "no ratio gap ≥ landscape.outlier_gap = {} among the {m} largest eigenvalues of H(θ*) ({}), so the outliers cannot be told from the bulk; compute more eigenvalues or fix their number with landscape.outliers",
                rule.min_gap_ratio,
                crate::linalg::brief(&pairs.values)
            ),
        ));
    }
    let max_residual = pairs.residuals.iter().copied().fold(0.0_f64, f64::max);
    Ok(StartSpectrum {
        values,
        vectors,
        dense: None,
        report: SpectrumReport::Lanczos { computed: m, krylov_steps: pairs.steps, max_residual, converged: pairs.converged, complete },
    })
}
