//! The landscape stage: from the model and its minimum θ* (with the Hessian already
//! decomposed), the outliers of H(θ*), the saddle, the barrier, and the predictions of every
//! theory. Computed once when a run is prepared, before any simulation; written as
//! `landscape.json` by `sgd-escape landscape` and summarised in `summary.json` by `run`.

use super::build::BuiltModel;
use super::config::{DynamicsConfig, ExitConfig, HessianConfig, LandscapeConfig, ModelConfig, SaddleConfig, values};
use super::predictions::{Predictions, predict};
use super::spectrum::{SpectrumReport, minimize_at};
use crate::escape::Exit;
use crate::landscape::curvature::Hessian;
use crate::landscape::log_det::LogDetDifference;
use crate::landscape::min_mode::min_mode_following;
use crate::landscape::outliers::{OutlierRule, Outliers, detect_outliers, restricted_determinant};
use crate::landscape::path::{SaddleNeighbours, saddle_neighbours};
use crate::landscape::saddle::{Saddle, SaddleOptions, eigenvector_following, given_saddle, nudged_elastic_band};
use crate::linalg;
use crate::theory::rates::{self, BarrierGeometry};
use serde::Serialize;

/// The minimum θ* with its curvature, as the landscape stage receives it.
#[derive(Clone, Copy, Debug)]
pub struct MinimumInput<'a> {
    /// θ*.
    pub theta: &'a [f64],
    /// L(θ*).
    pub loss: f64,
    /// H(θ*), dense row-major, when it was formed.
    pub hessian: Option<&'a [f64]>,
    /// How the eigenvalues were computed (all of them, or the largest by Lanczos).
    pub spectrum: &'a SpectrumReport,
    /// Its eigenvalues, ascending (all, or the largest computed).
    pub eigenvalues: &'a [f64],
    /// Their eigenvectors (the columns of a row-major P × m matrix).
    pub eigenvectors: &'a [f64],
}

/// Everything the landscape stage reads.
#[derive(Clone, Copy, Debug)]
pub struct AnalysisInput<'a> {
    /// The model.
    pub model: &'a BuiltModel,
    /// `[model]` (the double wells have a default NEB target).
    pub model_config: &'a ModelConfig,
    /// θ* and H(θ*).
    pub minimum: MinimumInput<'a>,
    /// The exit (a coordinate or hyperplane exit sets the default search direction).
    pub exit: &'a Exit,
    /// `[exit]` (a loss threshold plays the saddle's role).
    pub exit_config: &'a ExitConfig,
    /// `[dynamics]`: η, B and the noise model set the predictions.
    pub dynamics: &'a DynamicsConfig,
    /// `[landscape]`, with the saddle search resolved.
    pub landscape: &'a LandscapeConfig,
    /// The point `[landscape.saddle]` names: the NEB's second end (`target`, or read from
    /// `target_parameters`; `None` for the double wells' default) or the given saddle.
    pub given_point: Option<&'a [f64]>,
    /// Whether the NEB's second end is minimised first (as θ* was).
    pub minimize_target: bool,
    /// A saddle already found (for the saddle-plane exit, which needs it before the analysis).
    pub known_saddle: Option<&'a Saddle>,
}

/// The minimum with its curvature.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct MinimumReport {
    /// θ*.
    pub theta: Vec<f64>,
    /// L(θ*).
    pub loss: f64,
    /// Eigenvalues of H(θ*), ascending (all, or the largest computed by Lanczos).
    pub hessian_eigenvalues: Vec<f64>,
    /// How they were computed.
    pub hessian_spectrum: SpectrumReport,
    /// The outliers of that spectrum.
    pub outliers: Outliers,
    /// det Ĥ(θ*) over the outlier subspace.
    pub det_restricted: f64,
}

/// The barrier between θ* and the saddle (or the loss threshold of a `loss-above` exit).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Barrier {
    /// c = L(θˢ)/L(θ*).
    pub ratio: f64,
    /// log c.
    pub log: f64,
    /// ΔL = L(θˢ) − L(θ*).
    pub linear: f64,
    /// `"saddle"` or `"loss-threshold"` (the threshold c·L* plays the saddle's role).
    pub from: String,
}

/// What the landscape stage finds.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LandscapeAnalysis {
    /// θ*, its Hessian spectrum and outliers.
    pub minimum: MinimumReport,
    /// The saddle, when searched and found.
    pub saddle: Option<Saddle>,
    /// Why the saddle search failed, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub saddle_error: Option<String>,
    /// The two minima a NEB's saddle joins and whether θ* is one of them (dense analyses
    /// only: the check costs up to 80 000 gradients).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub saddle_neighbours: Option<SaddleNeighbours>,
    /// Why that check failed, when it did (a descent or its L-BFGS polish did not converge).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub saddle_neighbours_error: Option<String>,
    /// Why the stochastic Lanczos estimate of log(det H*/|det Hˢ|) failed, when it did (a
    /// Hessian not positive definite once the saddle's escape direction is flipped).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_det_error: Option<String>,
    /// The barrier, when a saddle or a loss threshold defines one.
    pub barrier: Option<Barrier>,
    /// β = B/(η h*), when the dynamics has η and B.
    pub beta: Option<f64>,
    /// Every input of the rate formulas: L*, L(θˢ), h*, n, h_eˢ, det Ĥ(θ*), det Ĥ(θˢ) over
    /// the outlier subspace, the full determinants, and h_e* (Xie et al.).
    pub geometry: Option<BarrierGeometry>,
    /// Predictions of every theory.
    pub predictions: Predictions,
    /// n_c = 2(β + 1).
    pub critical_dimension: Option<f64>,
    /// φ = 1 + β of P ∝ L^(−φ).
    pub stationary_exponent: Option<f64>,
}

impl LandscapeAnalysis {
    /// A warning when the stochastic Lanczos estimate of log(det H*/|det Hˢ|) was asked for and
    /// failed (Xie et al. and isotropic Kramers then have no value).
    pub fn log_det_warning(&self) -> Option<String> {
        self.log_det_error.as_ref().map(|e| {
            format!(
                "landscape.hessian.log_det_probes: the stochastic Lanczos estimate of log(det H*/|det Hˢ|) failed ({e}), so Xie et al. and isotropic Kramers have no value"
            )
        })
    }

    /// A warning when the saddle does not border θ*'s basin (its barrier is then not one θ*
    /// escapes over), or when the check could not be made.
    pub fn saddle_neighbours_warning(&self) -> Option<String> {
        if let Some(e) = &self.saddle_neighbours_error {
            return Some(format!(
                "could not check that the saddle borders θ*'s basin ({e}), so the barrier and the predictions from it may not be \
                 those of an escape from θ*"
            ));
        }
        let n = self.saddle_neighbours.as_ref().filter(|n| !n.borders_minimum)?;
        Some(format!(
            "the saddle does not border θ*'s basin: steepest descent from it reaches minima at distances {:.4e} and {:.4e} from θ* \
             (L = {:.6e} and {:.6e}; L* = {:.6e}), so the barrier and the predictions from it are not those of an escape from θ*; \
             run the NEB to a minimum next to θ*, or give the saddle (landscape.saddle kind = \"given\")",
            n.distances[0], n.distances[1], n.minima[0].loss, n.minima[1].loss, self.minimum.loss
        ))
    }
}

/// The time per step in units of t (η for SGD, dt for an SDE), and the SGD (η, B) the
/// dynamics stands for, if any.
pub fn time_per_step_and_minibatch(dynamics: &DynamicsConfig) -> (f64, Option<(f64, usize)>) {
    match dynamics {
        DynamicsConfig::Sgd(s) => (s.lr.get(), Some((s.lr.get(), s.batch_size.get()))),
        DynamicsConfig::Sde(s) => (s.dt.get(), s.noise.minibatch()),
    }
}

/// Runs the landscape analysis.
pub fn analyze(input: AnalysisInput<'_>) -> LandscapeAnalysis {
    let model = input.model.as_model();
    let p = model.dim();
    let theta_star = input.minimum.theta;
    let loss_star = input.minimum.loss;
    let values = input.minimum.eigenvalues;
    let landscape = input.landscape;
    let outliers = detect_outliers(
        values,
        input.minimum.eigenvectors,
        OutlierRule { min_gap_ratio: landscape.outlier_gap.get(), count: landscape.outliers.map(|n| n.get()) },
    );
    let det_restricted = outliers.eigenvalues.iter().product();

    let (saddle, saddle_error) = match find_saddle(&input) {
        Ok(s) => (s, None),
        Err(e) => (None, Some(e.to_string())),
    };
    // A NEB's or min-mode search's saddle need not border θ*'s basin: check by descending from
    // it both ways.
    let dense = !matches!(landscape.hessian, Some(HessianConfig::Lanczos(_)));
    let (saddle_neighbours, saddle_neighbours_error) = match (&saddle, &landscape.saddle) {
        (Some(s), Some(SaddleConfig::Neb(_) | SaddleConfig::MinMode(_))) if dense => match saddle_neighbours(model, s, theta_star) {
            Ok(n) => (Some(n), None),
            Err(e) => (None, Some(e.to_string())),
        },
        _ => (None, None),
    };
    let barrier = match (&saddle, input.exit_config) {
        (Some(s), _) => Some((s.loss, "saddle")),
        (None, ExitConfig::LossAbove(e)) => Some((e.ratio.get() * loss_star, "loss-threshold")),
        _ => None,
    }
    .map(|(loss_saddle, from)| Barrier {
        ratio: loss_saddle / loss_star,
        log: (loss_saddle / loss_star).ln(),
        linear: loss_saddle - loss_star,
        from: from.into(),
    });

    let (log_det, log_det_error) = match log_det_ratio(&input, saddle.as_ref()) {
        Ok(r) => (r, None),
        Err(e) => (None, Some(e)),
    };
    let (_, minibatch) = time_per_step_and_minibatch(input.dynamics);
    let beta = minibatch.map(|(lr, b)| rates::beta(lr, b, outliers.h_star));
    let geometry = barrier.as_ref().map(|bar| BarrierGeometry {
        loss_minimum: loss_star,
        loss_saddle: loss_star + bar.linear,
        h_star: outliers.h_star,
        outliers: outliers.n,
        escape_eigenvalue: saddle.as_ref().map(|s| s.escape_eigenvalue),
        det_minimum_restricted: det_restricted,
        det_saddle_restricted: saddle.as_ref().map(|s| restricted_determinant(&Hessian::new(model, &s.theta), &outliers.vectors)),
        // The products themselves, where they are representable (not under- or overflowed).
        det_minimum: (!input.minimum.spectrum.is_partial()).then(|| values.iter().product::<f64>()).filter(|d| d.is_normal()),
        det_saddle: saddle
            .as_ref()
            .filter(|s| s.all_eigenvalues)
            .map(|s| s.hessian_eigenvalues.iter().product::<f64>())
            .filter(|d| d.is_normal()),
        log_det_ratio: log_det.as_ref().map(|(ratio, _)| *ratio),
        log_det_ratio_stderr: log_det.as_ref().and_then(|(_, e)| e.as_ref().map(|e| e.stderr)),
        log_det_ratio_quadrature_change: log_det.as_ref().and_then(|(_, e)| e.as_ref().map(|e| e.quadrature_change())),
        escape_curvature_at_minimum: saddle.as_ref().map(|s| {
            let mut hv = vec![0.0; p];
            model.hvp(theta_star, &s.escape_direction, &mut hv);
            linalg::dot(&s.escape_direction, &hv)
        }),
    });
    let predictions = predict(&input, &outliers, geometry.as_ref(), beta, saddle.as_ref());
    LandscapeAnalysis {
        minimum: MinimumReport {
            theta: theta_star.to_vec(),
            loss: loss_star,
            hessian_eigenvalues: values.to_vec(),
            hessian_spectrum: input.minimum.spectrum.clone(),
            outliers,
            det_restricted,
        },
        saddle,
        saddle_error,
        saddle_neighbours,
        saddle_neighbours_error,
        log_det_error,
        barrier,
        beta,
        geometry,
        predictions,
        critical_dimension: beta.map(rates::critical_dimension),
        stationary_exponent: beta.map(crate::theory::stationary::stationary_exponent),
    }
}

/// log(det H*/|det Hˢ|) over all P directions with the estimate behind it (none when exact): from
/// every eigenvalue when both spectra are complete, or by stochastic Lanczos quadrature when
/// `landscape.hessian.log_det_probes` asks for it. Hˢ enters as |Hˢ| = Hˢ − 2h_eˢ e eᵀ (its
/// escape eigenvalue flipped, e the escape direction), positive definite at an index-one saddle.
/// `Ok(None)` when neither applies.
fn log_det_ratio(input: &AnalysisInput<'_>, saddle: Option<&Saddle>) -> Result<Option<(f64, Option<LogDetDifference>)>, String> {
    let Some(s) = saddle else { return Ok(None) };
    let log_abs_sum = |values: &[f64]| values.iter().map(|l| l.abs().ln()).sum::<f64>();
    if !input.minimum.spectrum.is_partial() {
        // ln λ is NaN for a negative eigenvalue at θ*, as the determinant ratio's root was.
        let minimum: f64 = input.minimum.eigenvalues.iter().map(|l| l.ln()).sum();
        let saddle = if s.all_eigenvalues {
            log_abs_sum(&s.hessian_eigenvalues)
        } else {
            // A min-mode saddle of a dense analysis: its spectrum is decomposed here.
            let p = input.minimum.theta.len();
            log_abs_sum(&crate::linalg::symmetric_eigen(&input.model.as_model().hessian(&s.theta), p).0)
        };
        return Ok(Some((minimum - saddle, None)));
    }
    let Some(HessianConfig::Lanczos(lanczos)) = &input.landscape.hessian else { return Ok(None) };
    let Some(probes) = lanczos.log_det_probes else { return Ok(None) };
    use crate::landscape::curvature::OperatorExt;
    let model = input.model.as_model();
    let at_minimum = Hessian::new(model, input.minimum.theta);
    let at_saddle = Hessian::new(model, &s.theta).plus_rank_one(s.escape_direction.clone(), -2.0 * s.escape_eigenvalue);
    let d = crate::landscape::log_det::log_det_difference(&at_minimum, &at_saddle, probes.get(), lanczos.log_det_steps.get(), 0)?;
    Ok(Some((d.estimate, Some(d))))
}

/// The saddle search `[landscape.saddle]` asks for (or the saddle already found).
/// The default direction of a single-ended search: toward a coordinate exit's threshold, along a
/// hyperplane's normal, else along θ₁.
fn toward_exit(input: &AnalysisInput<'_>) -> Vec<f64> {
    let theta_star = input.minimum.theta;
    let mut d = vec![0.0; theta_star.len()];
    match input.exit {
        Exit::Coordinate { axis, threshold } => d[*axis] = if *threshold >= theta_star[*axis] { 1.0 } else { -1.0 },
        Exit::Hyperplane { normal, .. } => d.clone_from(normal),
        _ => d[0] = 1.0,
    }
    d
}

pub(super) fn find_saddle(input: &AnalysisInput<'_>) -> crate::Result<Option<Saddle>> {
    if let Some(saddle) = input.known_saddle {
        return Ok(Some(saddle.clone()));
    }
    let model = input.model.as_model();
    let theta_star = input.minimum.theta;
    match input.landscape.saddle.as_ref().expect("the saddle search is resolved when the run is prepared") {
        SaddleConfig::None(_) => Ok(None),
        SaddleConfig::EigenvectorFollowing(e) => {
            let direction = e.direction.as_deref().map(values::numbers).unwrap_or_else(|| toward_exit(input));
            eigenvector_following(model, theta_star, Some(&direction), SaddleOptions::default()).map(Some)
        }
        SaddleConfig::MinMode(m) => {
            let direction = match (input.given_point, &m.direction) {
                (Some(target), _) => target.iter().zip(theta_star).map(|(t, s)| t - s).collect(),
                (None, Some(d)) => values::numbers(d),
                (None, None) => toward_exit(input),
            };
            min_mode_following(model, theta_star, &direction, m.krylov.get(), SaddleOptions::default()).map(Some)
        }
        SaddleConfig::Neb(neb) => {
            let target = match (input.given_point, input.model_config) {
                (Some(t), _) => t.to_vec(),
                // The double wells' second minimum: the mirror image of θ* in θ₁.
                (None, ModelConfig::DoubleWell(_) | ModelConfig::Curve(_)) => {
                    let mut t = theta_star.to_vec();
                    t[0] = -t[0];
                    t
                }
                (None, _) => unreachable!("a NEB target is required for this model when the run is prepared"),
            };
            let hessian = input.landscape.hessian.as_ref().expect("resolved when the run is prepared");
            let other = if input.minimize_target { minimize_at(model, &target, hessian)?.theta } else { target.clone() };
            if linalg::distance(&other, theta_star) < 1e-6 {
                return Err(crate::Error::Numerical(format!(
                    "neb: the second end (from landscape.saddle.target = {}) is θ* itself; give a target in another basin",
                    linalg::brief(&target)
                )));
            }
            let matrix_free = matches!(hessian, HessianConfig::Lanczos(_));
            let options = SaddleOptions { images: neb.images.get(), spring: neb.spring.get(), matrix_free, ..Default::default() };
            nudged_elastic_band(model, theta_star, &other, options).map(Some)
        }
        SaddleConfig::Given(_) => {
            let point = input.given_point.expect("the given saddle is read when the run is prepared");
            let matrix_free = matches!(input.landscape.hessian, Some(HessianConfig::Lanczos(_)));
            given_saddle(model, point, SaddleOptions { matrix_free, ..Default::default() }).map(Some)
        }
    }
}
