//! The `run` experiment: config → model → minimum → dynamics → replica ensemble → statistics.

use super::config::{Config, DataSource, DynamicsSpec, ExitSpec, ModelSpec, NoiseKind, Spec};
use crate::dynamics::{Noise, Sampling, Sde, Sgd};
use crate::error::{Error, Result};
use crate::escape::{EnsembleSpec, Exit, ReplicaOutcome, run_ensemble};
use crate::landscape::{MinimizeOptions, minimize};
use crate::linalg;
use crate::model::{CurveMap, Dataset, DoubleWell, FeatureModel, LinearMap, Mlp, Model};
use crate::stats::EscapeStatistics;
use serde::Serialize;

/// A model built from a [`ModelSpec`]; the runner dispatches on it once, so the stepping loop
/// is compiled for each concrete model.
#[derive(Clone, Debug)]
pub enum BuiltModel {
    /// `double-well`.
    DoubleWell(DoubleWell),
    /// `linear-regression`.
    LinearRegression(FeatureModel<LinearMap>),
    /// `curve`.
    Curve(FeatureModel<CurveMap>),
    /// `mlp`.
    Mlp(Mlp),
}

/// Runs `$body` with `$m` bound to the concrete model inside a [`BuiltModel`].
macro_rules! with_model {
    ($built:expr, $m:ident => $body:expr) => {
        match $built {
            BuiltModel::DoubleWell($m) => $body,
            BuiltModel::LinearRegression($m) => $body,
            BuiltModel::Curve($m) => $body,
            BuiltModel::Mlp($m) => $body,
        }
    };
}

impl BuiltModel {
    /// Builds the model (generating its data where needed).
    pub fn build(spec: &ModelSpec) -> Self {
        match spec {
            ModelSpec::DoubleWell { epsilon, dim, stiffness } => {
                BuiltModel::DoubleWell(DoubleWell { epsilon: *epsilon, dim: *dim, stiffness: *stiffness })
            }
            ModelSpec::LinearRegression { dim, source } => {
                let data = match source {
                    DataSource::Generated { samples, data_seed } => Dataset::gaussian(*samples, *dim, *data_seed, |_, xi| xi),
                    DataSource::Csv { data, .. } => data.clone(),
                };
                BuiltModel::LinearRegression(FeatureModel::new(LinearMap { dim: *dim }, data))
            }
            ModelSpec::Curve { dim, s, kappa, stiffness, noise, tilt, samples, data_seed } => {
                let data = Dataset::gaussian(*samples, dim + 1, *data_seed, |x, xi| tilt * x[0] + noise * xi);
                BuiltModel::Curve(FeatureModel::new(CurveMap { dim: *dim, s: *s, kappa: *kappa, stiffness: *stiffness }, data))
            }
            ModelSpec::Mlp { hidden, activation, data, .. } => BuiltModel::Mlp(Mlp::new(hidden, *activation, data.clone())),
        }
    }

    /// The model as a trait object.
    pub fn as_model(&self) -> &dyn Model {
        with_model!(self, m => m)
    }
}

/// Everything a run needs, resolved: the canonical configuration, the model, the start point
/// (θ* when minimised), the exit criterion and the noise.
#[derive(Debug)]
pub struct Prepared {
    /// Canonical configuration (all defaults written out).
    pub config: Config,
    /// Typed configuration.
    pub spec: Spec,
    /// The model.
    pub model: BuiltModel,
    /// The start point: the minimum found from `start.point`, or the point itself.
    pub start: StartPoint,
    /// The exit criterion with thresholds resolved against L(θ*).
    pub exit: Exit,
    /// The SDE noise, for `dynamics.kind = "sde"`.
    pub noise: Option<Noise>,
    /// Non-fatal findings (e.g. a start point whose Hessian is not positive semi-definite).
    pub warnings: Vec<String>,
}

/// The start of every replica.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct StartPoint {
    /// θ* (or the configured point when `minimize = false`).
    pub theta: Vec<f64>,
    /// L(θ*).
    pub loss: f64,
    /// |∇L(θ*)|₂.
    pub gradient_norm: f64,
    /// Whether θ* was found by minimisation.
    pub minimized: bool,
    /// Eigenvalues of H(θ*), ascending.
    pub hessian_eigenvalues: Vec<f64>,
}

/// Resolves a configuration: builds the model, locates the minimum, resolves the exit and the
/// noise. `base_dir` is the folder relative data paths are resolved against.
pub fn prepare(config: &Config, base_dir: &std::path::Path) -> Result<Prepared> {
    let (canonical, spec) = config.resolve(base_dir)?;
    let model = BuiltModel::build(&spec.model);
    let m = model.as_model();
    let p = m.dim();
    let mut warnings = Vec::new();
    let (theta, minimized) = if spec.minimize {
        let found = minimize(m, &spec.start_point, MinimizeOptions::default())?;
        (found.theta, true)
    } else {
        (spec.start_point.clone(), false)
    };
    let mut grad = vec![0.0; p];
    let loss = m.loss_and_gradient(&theta, &mut grad);
    if !loss.is_finite() {
        return Err(Error::invalid("start.point", format!("{theta:?}"), "the loss is not finite there"));
    }
    let hessian = m.hessian(&theta);
    let (hessian_eigenvalues, _) = linalg::symmetric_eigen(&hessian, p);
    let start = StartPoint { theta, loss, gradient_norm: linalg::norm(&grad), minimized, hessian_eigenvalues };

    let exit = match &spec.exit {
        ExitSpec::Never => Exit::Never,
        ExitSpec::Coordinate { axis, threshold } => Exit::Coordinate { axis: *axis, threshold: *threshold },
        ExitSpec::LossAbove { ratio } => Exit::LossAbove { threshold: ratio * start.loss },
        ExitSpec::Hyperplane { normal, point } => Exit::Hyperplane { normal: normal.clone(), offset: linalg::dot(normal, point) },
    };
    if exit.reached(m, &start.theta) {
        return Err(Error::invalid(
            "exit",
            format!("{:?}", spec.exit),
            format!("the exit criterion already holds at the start point θ* = {:?}", start.theta),
        ));
    }

    let noise = match &spec.dynamics {
        DynamicsSpec::Sgd { .. } => None,
        DynamicsSpec::Sde { noise, lr, batch_size, sampling, temperature, .. } => {
            let (lr, batch_size) = (*lr, *batch_size);
            let needs_loss = matches!(noise, NoiseKind::Paper | NoiseKind::TimeChanged | NoiseKind::Frozen);
            if needs_loss && start.loss <= 0.0 {
                return Err(Error::invalid(
                    "dynamics.noise",
                    format!("{:?}", canonical.dynamics.noise.as_deref().unwrap_or("")),
                    format!(
                        "this noise is proportional to L(θ*), which is {} here: the replicas could never move (raise model.epsilon or model.noise)",
                        start.loss
                    ),
                ));
            }
            Some(match noise {
                NoiseKind::Exact => {
                    let n = m.as_data_model().map(|d| d.samples()).unwrap_or(1);
                    let factor = match sampling {
                        Sampling::WithReplacement => 1.0,
                        Sampling::WithoutReplacement if n > 1 => (n - batch_size) as f64 / (n - 1) as f64,
                        Sampling::WithoutReplacement => 0.0,
                    };
                    Noise::Exact { lr, batch_size, factor }
                }
                NoiseKind::Isotropic => Noise::Isotropic { temperature: *temperature },
                kind => {
                    let (sqrt_hessian, clipped) = linalg::psd_sqrt(&hessian, p);
                    if clipped > 0 {
                        warnings
                            .push(format!("H(θ*) has {clipped} negative eigenvalue(s) at the start point; they were set to 0 in H*^(1/2)"));
                    }
                    let loss_at_minimum = start.loss;
                    match kind {
                        NoiseKind::Paper => Noise::Paper { lr, batch_size, sqrt_hessian },
                        NoiseKind::Frozen => Noise::Frozen { lr, batch_size, sqrt_hessian, loss_at_minimum },
                        _ => Noise::TimeChanged { lr, batch_size, sqrt_hessian, loss_at_minimum },
                    }
                }
            })
        }
    };
    if minimized && start.hessian_eigenvalues.first().is_some_and(|&l| l < 0.0) {
        warnings.push(format!("the start point is not a minimum: H(θ*) has eigenvalue {:.3e}", start.hessian_eigenvalues[0]));
    }
    Ok(Prepared { config: canonical, spec, model, start, exit, noise, warnings })
}

/// Runs the ensemble of a prepared run on the current rayon pool; replicas in `completed` are
/// not rerun. `on_done` sees each newly finished replica.
pub fn execute(prepared: &Prepared, completed: Vec<ReplicaOutcome>, on_done: &(dyn Fn(&ReplicaOutcome) + Sync)) -> Vec<ReplicaOutcome> {
    let spec = EnsembleSpec { seed: prepared.spec.seed, replicas: prepared.spec.replicas, max_steps: prepared.spec.max_steps };
    let start = &prepared.start.theta;
    let exit = &prepared.exit;
    if let (BuiltModel::LinearRegression(m), DynamicsSpec::Sgd { lr, batch_size, sampling: Sampling::WithReplacement }) =
        (&prepared.model, &prepared.spec.dynamics)
    {
        // Same outcomes as the generic loop, bit for bit, several times faster.
        return crate::escape::lanes::run_linear_regression_sgd(m, *lr, *batch_size, exit, start, spec, completed, on_done);
    }
    with_model!(&prepared.model, m => match (&prepared.spec.dynamics, &prepared.noise) {
        (DynamicsSpec::Sgd { lr, batch_size, sampling }, _) => {
            let data = m.as_data_model().expect("validated: SGD runs on data-built models");
            let sgd = Sgd::new(data, *lr, *batch_size, *sampling);
            run_ensemble(m, &sgd, exit, start, spec, completed, on_done)
        }
        (DynamicsSpec::Sde { dt, .. }, Some(noise)) => {
            let sde = Sde::new(m, *dt, noise.clone()).expect("validated: exact noise only on data-built models");
            run_ensemble(m, &sde, exit, start, spec, completed, on_done)
        }
        (DynamicsSpec::Sde { .. }, None) => unreachable!("prepare sets the noise of every SDE"),
    })
}

/// What `summary.json` holds.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Summary {
    /// sgd-escape version.
    pub version: String,
    /// Run seed.
    pub seed: u64,
    /// The canonical configuration.
    pub config: Config,
    /// The start point θ* and its loss and curvature.
    pub minimum: StartPoint,
    /// How time is measured.
    pub time_unit: String,
    /// Escape statistics.
    pub escape: EscapeStatistics,
    /// Landscape quantities (outliers, saddle, barrier) behind the predictions.
    pub landscape: LandscapeSummary,
    /// Every theory's prediction (as in `landscape.json`).
    pub predictions: super::landscape::Predictions,
    /// Measured rate / predicted rate, per theory.
    pub comparison: super::landscape::Comparison,
    /// Non-fatal findings.
    pub warnings: Vec<String>,
}

/// The landscape quantities `run` reports beside its predictions.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LandscapeSummary {
    /// The outliers of H(θ*).
    pub outliers: crate::landscape::outliers::Outliers,
    /// The saddle, when found.
    pub saddle: Option<crate::landscape::saddle::Saddle>,
    /// The barrier.
    pub barrier: Option<super::landscape::Barrier>,
    /// β = B/(η h*).
    pub beta: Option<f64>,
    /// The inputs of the rate formulas.
    pub geometry: Option<crate::theory::rates::BarrierGeometry>,
    /// n_c = 2(β + 1).
    pub critical_dimension: Option<f64>,
    /// φ = 1 + β.
    pub stationary_exponent: Option<f64>,
}

/// Summarises outcomes of a prepared run.
pub fn summarize(prepared: &Prepared, outcomes: &[ReplicaOutcome]) -> Summary {
    let time_unit = match (&prepared.spec.dynamics, &prepared.noise) {
        (DynamicsSpec::Sgd { .. }, _) => "t = lr * steps",
        (_, Some(Noise::TimeChanged { .. })) => "t = sum over steps of dtau / L(theta), dtau = dt * L*",
        _ => "t = dt * steps",
    };
    let mut warnings = prepared.warnings.clone();
    let escape = EscapeStatistics::from_outcomes(outcomes);
    let report = super::landscape::analyze(prepared);
    if let Some(e) = &report.saddle_error {
        warnings.push(format!("saddle search failed, so the saddle-based predictions are missing: {e}"));
    }
    let comparison = super::landscape::compare(&escape, &report.predictions);
    if escape.diverged > 0 {
        warnings.push(format!("{} replica(s) diverged (θ became infinite or NaN); they count as censored at that time", escape.diverged));
    }
    if escape.censored > 0 {
        warnings.push(format!(
            "{} replica(s) reached max_steps without escaping: mean_time is a lower bound, use rate_per_time",
            escape.censored
        ));
    }
    Summary {
        version: crate::VERSION.to_string(),
        seed: prepared.spec.seed,
        config: prepared.config.clone(),
        minimum: prepared.start.clone(),
        time_unit: time_unit.to_string(),
        escape,
        landscape: LandscapeSummary {
            outliers: report.minimum.outliers,
            saddle: report.saddle,
            barrier: report.barrier,
            beta: report.beta,
            geometry: report.geometry,
            critical_dimension: report.critical_dimension,
            stationary_exponent: report.stationary_exponent,
        },
        predictions: report.predictions,
        comparison,
        warnings,
    }
}

/// Runs a configuration with outputs in `out_dir`: resumes from the journal of an interrupted
/// run of the same configuration, writes `summary.json`, `escape_times.csv` and `survival.csv`
/// atomically, then removes the journal.
pub fn run_in_dir(
    config: &Config,
    base_dir: &std::path::Path,
    out_dir: &std::path::Path,
    on_done: &(dyn Fn(&ReplicaOutcome) + Sync),
) -> Result<Summary> {
    let prepared = prepare(config, base_dir)?;
    let fingerprint = crate::report::journal::fingerprint(&prepared.config);
    let (journal, completed) = crate::report::journal::Journal::open(out_dir, fingerprint)?;
    let record = |o: &ReplicaOutcome| {
        journal.record(o);
        on_done(o);
    };
    let outcomes = execute(&prepared, completed, &record);
    journal.check()?;
    let summary = summarize(&prepared, &outcomes);
    crate::report::write_run_outputs(out_dir, &summary, &outcomes)?;
    journal.remove()?;
    Ok(summary)
}
