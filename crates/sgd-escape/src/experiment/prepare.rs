//! Preparing a run: the configuration is checked against itself and against the data, the
//! model is built, the minimum θ* is located, the Hessian there is decomposed once, the exit
//! and the noise are resolved, and the landscape analysis (outliers, saddle, barrier,
//! predictions) is done, all before any simulation. The result, [`Prepared`], is what the
//! simulation, the statistics and the report read.

use super::analysis::{AnalysisInput, LandscapeAnalysis, MinimumInput, analyze, find_saddle};
use super::build::{BuiltModel, with_model};
use super::config::{
    Config, DataConfig, DynamicsConfig, ExitConfig, LoadedData, MinibatchScale, ModelConfig, NoiseConfig, NoiseSubspace, SolverConfig,
    values,
};
use super::exit::{check_exit_schedule, distance_to_exit, exit_at_start, resolve_exit, saddle_plane};
use super::saddle_config::resolve_landscape;
use super::spectrum::{MAX_DENSE_PARAMETERS, SpectrumReport, hessian_spectrum, minimize_at, resolve_hessian};
use super::start::{resolve_saddle_point, resolve_start};
use crate::data::Standardization;
use crate::dynamics::{HessianRoot, Noise, Sampling, Sde, Solver};
use crate::error::{Error, Result};
use crate::escape::Exit;
use crate::landscape::outliers::{OutlierRule, detect_outliers};
use crate::linalg;
use crate::model::Mlp;
use serde::Serialize;
use std::path::Path;
use values::Positive;

/// Refuses an analytic or feature model with more than [`MAX_DENSE_PARAMETERS`] parameters,
/// naming `key`: the feature models hold the data's m × m (and fourth-moment) statistics, and
/// these models' analyses and lane kernels are built for small P. Networks have no such limit.
fn check_dense_dim(key: &str, value: impl std::fmt::Display, dim: usize) -> Result<()> {
    if dim > MAX_DENSE_PARAMETERS {
        return Err(Error::invalid(
            key,
            value,
            format!("gives P = {dim} parameters; this model accepts at most {MAX_DENSE_PARAMETERS} (networks have no such limit)"),
        ));
    }
    Ok(())
}

/// Refuses generated data of `samples` × `features` values that would not fit in memory.
fn check_generated_data(samples: usize, features: usize) -> Result<()> {
    let values = crate::limits::product(&[samples, features.saturating_add(1)]);
    crate::limits::require_memory("model.samples", samples, "the generated data", values.and_then(|v| crate::limits::bytes(v, 16)))
}

/// The resolved dynamics: SGD, or an SDE with its noise built (H*^{1/2} computed).
#[derive(Clone, Debug)]
pub enum Dynamics {
    /// Minibatch SGD.
    Sgd {
        /// η.
        lr: f64,
        /// B.
        batch_size: usize,
        /// How batches are drawn.
        sampling: Sampling,
    },
    /// An SDE.
    Sde {
        /// The largest time step.
        dt: f64,
        /// The noise model.
        noise: Noise,
        /// The step-size rule, resolved (ℓ, Tr D(θ₀)).
        solver: Solver,
        /// Whether exits are detected between steps.
        bridge: bool,
    },
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
    /// Eigenvalues of H(θ*), ascending: all P of them, or the largest k computed by Lanczos
    /// (`hessian_spectrum` says which).
    pub hessian_eigenvalues: Vec<f64>,
    /// How they were computed.
    pub hessian_spectrum: SpectrumReport,
    /// H(θ*), dense row-major, when it was formed (computed once; not written out).
    #[serde(skip)]
    pub hessian: Option<Vec<f64>>,
    /// Eigenvectors of H(θ*), the columns of a row-major P × m matrix (m eigenvalues).
    #[serde(skip)]
    pub hessian_eigenvectors: Vec<f64>,
}

/// The data a data-built model was built on, as every output records it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct DataReport {
    /// `generated` (Gaussian data from `model.data_seed`) or the `[data]` source.
    pub source: String,
    /// N.
    pub samples: usize,
    /// Input dimension m.
    pub inputs: usize,
    /// Outputs K.
    pub outputs: usize,
    /// The standardisation applied to the inputs, `x ↦ (x − mean)·inv_std`; null when the data
    /// are used as given.
    pub standardization: Option<Standardization>,
}

impl DataReport {
    fn new(source: &str, data: &crate::data::Dataset, standardization: Option<Standardization>) -> Self {
        DataReport { source: source.into(), samples: data.len(), inputs: data.features, outputs: data.outputs, standardization }
    }
}

/// Everything a run needs, resolved.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// The configuration that runs: every default written out.
    pub config: Config,
    /// The model.
    pub model: BuiltModel,
    /// The data of a data-built model (none for analytic ones).
    pub data: Option<DataReport>,
    /// The start point: the minimum found from `start.point`, or the point itself.
    pub start: StartPoint,
    /// The exit criterion with thresholds resolved against L(θ*).
    pub exit: Exit,
    /// The dynamics with its noise.
    pub dynamics: Dynamics,
    /// The landscape analysis at θ*: outliers, saddle, barrier, every theory's prediction.
    pub landscape: LandscapeAnalysis,
    /// Non-fatal findings (e.g. a start point whose Hessian is not positive semi-definite).
    pub warnings: Vec<String>,
    /// The splitting estimator's plan (`[estimator] kind = "ams"`), or none for brute force.
    pub ams: Option<super::splitting::AmsPlan>,
}

/// Prepares a configuration: relative data paths are resolved against `base_dir` (the
/// configuration file's folder).
pub fn prepare(config: &Config, base_dir: &Path) -> Result<Prepared> {
    let mut config = config.clone();
    let (model, data) = build_model(&mut config, base_dir)?;
    let p = model.as_model().dim();
    check_dynamics(&config.dynamics, &model)?;
    let start_point = resolve_start(&mut config, &model, base_dir)?;
    let exit = resolve_exit(&config.exit, p)?;
    resolve_hessian(&mut config, p)?;
    resolve_landscape(&mut config, p)?;
    let given_point = resolve_saddle_point(&config, p, base_dir)?;
    let hessian_config = config.landscape.hessian.clone().expect("resolved");

    let m = model.as_model();
    let mut warnings = Vec::new();
    let minimized = config.start.minimize.expect("resolved");
    // The loss overflowing at the start comes from the input (model parameters or data):
    // the error names the start point and, for a data file, the file.
    let data_files: Vec<String> = config.data.iter().flat_map(|d| d.input_files(base_dir)).map(|f| f.display().to_string()).collect();
    let overflow_hint = match data_files.as_slice() {
        [] => "; check the [model] parameters".to_string(),
        files => format!("; check the [model] parameters and the values in {}", files.join(", ")),
    };
    // A network without weight decay may have no finite minimum to converge to.
    let decay_hint = match &model {
        BuiltModel::Mlp(net) if net.weight_decay() == 0.0 => {
            "; a network's loss can keep decreasing as weights grow without bound, and `model.weight_decay` > 0 makes its minima finite"
        }
        _ => "",
    };
    let theta = if minimized {
        minimize_at(m, &start_point, &hessian_config)
            .map_err(|e| {
                Error::invalid(
                    "start.point",
                    linalg::brief(&start_point),
                    format!("minimisation from there failed: {e}{overflow_hint}{decay_hint}"),
                )
            })?
            .theta
    } else {
        start_point
    };
    let mut grad = vec![0.0; p];
    let loss = m.loss_and_gradient(&theta, &mut grad);
    if !loss.is_finite() {
        return Err(Error::invalid("start.point", linalg::brief(&theta), format!("the loss is not finite there{overflow_hint}")));
    }
    let rule = OutlierRule { min_gap_ratio: config.landscape.outlier_gap.get(), count: config.landscape.outliers.map(|n| n.get()) };
    let spectrum = hessian_spectrum(m, &theta, &hessian_config, rule)?;
    let start = StartPoint {
        theta,
        loss,
        gradient_norm: linalg::norm(&grad),
        minimized,
        hessian_eigenvalues: spectrum.values,
        hessian_spectrum: spectrum.report,
        hessian: spectrum.dense,
        hessian_eigenvectors: spectrum.vectors,
    };

    if let SpectrumReport::Lanczos { converged: false, computed, krylov_steps, max_residual, .. } = start.hessian_spectrum {
        warnings.push(format!(
            "Lanczos stopped at landscape.hessian.max_steps = {krylov_steps} before the {computed} largest eigenpairs of H(θ*) met the tolerance (largest residual {max_residual:.2e}); raise max_steps or the tolerance"
        ));
    }
    let exit = exit_at_start(exit, &mut config, &start)?;
    if exit.reached(m, &start.theta) {
        return Err(Error::invalid(
            "exit",
            serde_json::to_string(&config.exit).expect("serialises"),
            format!("the exit criterion already holds at the start point θ* = {:?}", start.theta),
        ));
    }
    let dynamics = resolve_dynamics(&mut config.dynamics, &start, model.samples().unwrap_or(1), rule, &mut warnings)?;
    if let DynamicsConfig::Sgd(sgd) = &config.dynamics {
        warnings.extend(stability_warning("dynamics.lr", sgd.lr.get(), sgd.lr.get(), &start));
    }
    if minimized && start.hessian_eigenvalues.first().is_some_and(|&l| l < 0.0) {
        warnings.push(format!("the start point is not a minimum: H(θ*) has eigenvalue {:.3e}", start.hessian_eigenvalues[0]));
    }
    let input = |exit, known_saddle| AnalysisInput {
        model: &model,
        model_config: &config.model,
        minimum: MinimumInput {
            theta: &start.theta,
            loss: start.loss,
            hessian: start.hessian.as_deref(),
            spectrum: &start.hessian_spectrum,
            eigenvalues: &start.hessian_eigenvalues,
            eigenvectors: &start.hessian_eigenvectors,
        },
        exit,
        exit_config: &config.exit,
        dynamics: &config.dynamics,
        landscape: &config.landscape,
        given_point: given_point.as_deref(),
        minimize_target: minimized,
        known_saddle,
    };
    // The saddle plane is known once the saddle is: the saddle is searched first, and the
    // analysis then takes it as found.
    let plane = match &config.exit {
        ExitConfig::SaddlePlane(plane) => Some(saddle_plane(plane.beyond.get(), &start, find_saddle(&input(&exit, None)))?),
        _ => None,
    };
    let landscape = match &plane {
        Some((plane, saddle)) => analyze(input(plane, Some(saddle))),
        None => analyze(input(&exit, None)),
    };
    let exit = plane.map_or(exit, |(plane, _)| plane);
    let dynamics = resolve_solver(dynamics, &mut config, &model, &start, &exit, &landscape)?;
    check_exit_schedule(&config, &dynamics, &mut warnings)?;
    if let Dynamics::Sde { dt, noise, solver, .. } = &dynamics {
        let step = match noise {
            Noise::TimeChanged { .. } => *dt,
            _ => with_model!(&model, m => {
                let sde = Sde::new(m, *dt, noise.clone(), model.gradient_noise())?;
                solver.step_size(*dt, &start.theta, sde.diffusion_trace(&start.theta, start.loss), start.gradient_norm)
            }),
        };
        warnings.extend(stability_warning("dynamics.dt", *dt, step, &start));
    }
    let path = |saddle: &crate::landscape::saddle::Saddle| {
        with_model!(&model, m => {
            let vertices = crate::landscape::path::minimum_energy_path(m, &start.theta, saddle);
            crate::escape::ams::ReactionCoordinate::path(m, vertices, &exit)
        })
    };
    let ams = config.ams().map(|a| super::splitting::resolve_ams(a, config.seed, &start, &exit, &landscape, path)).transpose()?;
    Ok(Prepared { config, model, data, start, exit, dynamics, landscape, warnings, ams })
}

/// The SDE's step-size rule with its defaults resolved and written into `config`: the adaptive
/// rule's length ℓ (the distance from θ* to the exit, [`distance_to_exit`]) and the Lamperti
/// clock's reference Tr D(θ*).
fn resolve_solver(
    dynamics: Dynamics,
    config: &mut Config,
    model: &BuiltModel,
    start: &StartPoint,
    exit: &Exit,
    landscape: &LandscapeAnalysis,
) -> Result<Dynamics> {
    let (Dynamics::Sde { dt, noise, .. }, DynamicsConfig::Sde(s)) = (dynamics.clone(), &mut config.dynamics) else { return Ok(dynamics) };
    let bridge = s.solver.bridge();
    let solver = match &mut s.solver {
        SolverConfig::EulerMaruyama(_) => Solver::EulerMaruyama,
        SolverConfig::Adaptive(a) => {
            if a.tolerance.get() > 1.0 {
                return Err(Error::invalid("dynamics.solver.tolerance", a.tolerance, "must be at most 1 (a fraction of the length)"));
            }
            let length = match a.length {
                Some(l) => l.get(),
                None => {
                    let length = distance_to_exit(start, exit, landscape).ok_or_else(|| {
                        Error::invalid(
                            "dynamics.solver.length",
                            "(missing)",
                            "no exit boundary or saddle to measure it from: give the length in units of θ",
                        )
                    })?;
                    a.length = Some(Positive::new(length).map_err(|e| Error::invalid("dynamics.solver.length", length, e))?);
                    length
                }
            };
            Solver::Adaptive { tolerance: a.tolerance.get(), length, origin: start.theta.clone() }
        }
        SolverConfig::Lamperti(_) => {
            let reference_trace = with_model!(model, m => {
                let sde = Sde::new(m, dt, noise.clone(), model.gradient_noise())?;
                sde.diffusion_trace(&start.theta, start.loss)
            });
            if !(reference_trace.is_finite() && reference_trace > 0.0) {
                return Err(Error::invalid(
                    "dynamics.solver.kind",
                    "\"lamperti\"",
                    format!("the clock is set by Tr D at the start point, which is {reference_trace:e} there (use \"adaptive\")"),
                ));
            }
            Solver::Lamperti { reference_trace }
        }
    };
    Ok(Dynamics::Sde { dt, noise, solver, bridge })
}

/// Builds the model (loading or generating its data) and writes the data defaults into
/// `config`.
fn build_model(config: &mut Config, base_dir: &Path) -> Result<(BuiltModel, Option<DataReport>)> {
    let data_section_only_for = |kind: &str| -> Result<()> {
        match &config.data {
            Some(_) => Err(Error::invalid(
                "[data]",
                "(present)",
                format!("model.kind = {kind:?} generates its own data; a [data] section belongs to linear-regression and mlp"),
            )),
            None => Ok(()),
        }
    };
    match &mut config.model {
        ModelConfig::DoubleWell(d) => {
            data_section_only_for("double-well")?;
            check_dense_dim("model.dim", d.dim, d.dim.get())?;
            Ok((BuiltModel::double_well(d.epsilon.get(), d.dim.get(), d.stiffness.get()), None))
        }
        ModelConfig::Curve(c) => {
            data_section_only_for("curve")?;
            check_dense_dim("model.dim", c.dim, c.dim.get())?;
            check_generated_data(c.samples.get(), c.dim.get() + 1)?;
            let model = BuiltModel::curve(
                c.dim.get(),
                c.s.get(),
                c.kappa.get(),
                c.stiffness.get(),
                c.noise.get(),
                c.tilt.get(),
                c.samples.get(),
                c.data_seed,
            )?;
            let BuiltModel::Curve(curve) = &model else { unreachable!("a curve model") };
            let report = DataReport::new("generated", curve.data(), None);
            Ok((model, Some(report)))
        }
        ModelConfig::LinearRegression(lr) => {
            // `model.data` is shorthand for a [data] CSV section.
            let shorthand = lr.data.take();
            if shorthand.is_some() && config.data.is_some() {
                return Err(Error::invalid(
                    "model.data",
                    "(present)",
                    "give the data either as model.data or as a [data] section, not both",
                ));
            }
            let data = shorthand.clone().map(DataConfig::csv).or(config.data.take());
            match data {
                None => {
                    let dim = *lr.dim.get_or_insert(values::Count::new(1).expect("in range"));
                    let samples = *lr.samples.get_or_insert(values::Count::new(super::config::DEFAULT_SAMPLES).expect("in range"));
                    let data_seed = *lr.data_seed.get_or_insert(0);
                    check_dense_dim("model.dim", dim, dim.get())?;
                    check_generated_data(samples.get(), dim.get())?;
                    let data = crate::data::Dataset::gaussian(samples.get(), dim.get(), data_seed, |_, xi| xi);
                    let report = DataReport::new("generated", &data, None);
                    Ok((BuiltModel::linear_regression(data)?, Some(report)))
                }
                Some(mut section) => {
                    for (key, present) in [("model.samples", lr.samples.is_some()), ("model.data_seed", lr.data_seed.is_some())] {
                        if present {
                            return Err(Error::invalid(
                                key,
                                "(present)",
                                "only for generated data: with a data set, N is its number of rows",
                            ));
                        }
                    }
                    let loaded = section.load(base_dir, "data", None).map_err(|e| match (&shorthand, e) {
                        // Errors of the shorthand name the key it was given by.
                        (Some(path), Error::Io { source, path: resolved, .. }) => {
                            Error::invalid("model.data", path.display(), format!("cannot read {}: {source}", resolved.display()))
                        }
                        (Some(path), Error::Data { message, .. }) => Error::invalid("model.data", path.display(), message),
                        (_, other) => other,
                    })?;
                    let LoadedData { data, standardization } = loaded;
                    if let Some(d) = lr.dim
                        && d.get() != data.features
                    {
                        return Err(Error::invalid(
                            "model.dim",
                            d,
                            format!("does not match the {} input columns of the data", data.features),
                        ));
                    }
                    if data.outputs != 1 {
                        return Err(Error::invalid("data.labels", "(K > 1 outputs)", "linear regression has one output"));
                    }
                    lr.dim = Some(values::Count::new(data.features).map_err(|m| Error::invalid("data", "(no features)", m))?);
                    check_dense_dim("data.features", data.features, data.features)?;
                    let report = DataReport::new(section.source(), &data, standardization);
                    config.data = Some(section);
                    Ok((BuiltModel::linear_regression(data)?, Some(report)))
                }
            }
        }
        ModelConfig::Mlp(mlp) => {
            let section = config.data.as_mut().ok_or_else(|| {
                Error::invalid("[data]", "(missing)", "model.kind = \"mlp\" needs a [data] section (e.g. source = \"wine\")")
            })?;
            let LoadedData { data, standardization } = section.load(base_dir, "data", None)?;
            let report = DataReport::new(section.source(), &data, standardization);
            let model = Mlp::new(&mlp.widths(), mlp.activation, data)?.with_weight_decay(mlp.weight_decay.get())?;
            mlp.require_memory(crate::model::Model::dim(&model))?;
            Ok((BuiltModel::Mlp(model), Some(report)))
        }
    }
}

/// Checks the dynamics against the model: SGD and exact noise need data; B ≤ N.
fn check_dynamics(dynamics: &DynamicsConfig, model: &BuiltModel) -> Result<()> {
    let samples = model.samples();
    let check_batch = |key: &str, b: usize| -> Result<()> {
        match samples {
            Some(n) if b > n => Err(Error::invalid(key, b, format!("must not exceed the number of samples N = {n}"))),
            _ => Ok(()),
        }
    };
    match dynamics {
        DynamicsConfig::Sgd(s) => {
            if samples.is_none() {
                return Err(Error::invalid(
                    "dynamics.kind",
                    "\"sgd\"",
                    "SGD needs a data-built model; model.kind = \"double-well\" is analytic (use kind = \"sde\")",
                ));
            }
            check_batch("dynamics.batch_size", s.batch_size.get())
        }
        DynamicsConfig::Sde(s) => {
            if let NoiseConfig::Exact(e) = &s.noise {
                if samples.is_none() {
                    return Err(Error::invalid(
                        "dynamics.noise.kind",
                        "\"exact\"",
                        "exact noise needs a data-built model; model.kind = \"double-well\" is analytic (use \"paper\", \"time-changed\", \"frozen\" or \"isotropic\")",
                    ));
                }
                check_batch("dynamics.noise.batch_size", e.batch_size.get())?;
            }
            if let Some((_, b)) = s.noise.minibatch() {
                check_batch("dynamics.noise.batch_size", b)?;
            }
            Ok(())
        }
    }
}

/// A warning when a step is beyond linear stability at the start point: step·λmax(H*) > 2
/// (η for SGD; for an SDE the solver's step at θ*, which is dt for Euler–Maruyama and Lamperti
/// and may be shorter for the adaptive rule; for the time-changed SDE dτ·λmax/L* = dt·λmax).
/// Without noise such a step already moves away from θ*, so exits measured there may be
/// numerical blow-up, not escape over a barrier.
fn stability_warning(key: &str, value: f64, step: f64, start: &StartPoint) -> Option<String> {
    let lambda_max = start.hessian_eigenvalues.last().copied().filter(|l| *l > 0.0)?;
    let product = step * lambda_max;
    let step_text = if step == value { String::new() } else { format!(" (the solver's step at θ* is {step:.4e})") };
    (product > 2.0).then(|| {
        format!(
            "{key} = {value:e} is beyond linear stability at the start point{step_text}: step · λmax(H*) = {product:.4e} > 2, so even without noise the iteration moves away from θ*; exits measured here may be numerical blow-up, not escape over the barrier (the step must be below {:.4e})",
            2.0 / lambda_max
        )
    })
}

fn resolve_dynamics(
    dynamics: &mut DynamicsConfig,
    start: &StartPoint,
    samples: usize,
    rule: OutlierRule,
    warnings: &mut Vec<String>,
) -> Result<Dynamics> {
    let s = match dynamics {
        DynamicsConfig::Sgd(s) => return Ok(Dynamics::Sgd { lr: s.lr.get(), batch_size: s.batch_size.get(), sampling: s.sampling }),
        DynamicsConfig::Sde(s) => s,
    };
    let kind = s.noise.kind();
    let noise = match &mut s.noise {
        NoiseConfig::Isotropic(i) => Noise::Isotropic { temperature: i.temperature.get() },
        NoiseConfig::Exact(e) => {
            let batch_size = e.batch_size.get();
            Noise::Exact { lr: e.lr.get(), batch_size, factor: e.sampling.covariance_factor(samples, batch_size) }
        }
        NoiseConfig::Paper(m) | NoiseConfig::TimeChanged(m) | NoiseConfig::Frozen(m) => {
            if start.loss <= 0.0 {
                return Err(Error::invalid(
                    "dynamics.noise.kind",
                    format!("{kind:?}"),
                    format!(
                        "this noise is proportional to L(θ*), which is {} here: the replicas could never move (raise model.epsilon or model.noise)",
                        start.loss
                    ),
                ));
            }
            let sqrt_hessian = hessian_root(m, start, rule, warnings)?;
            let (lr, batch_size, loss_at_minimum) = (m.lr.get(), m.batch_size.get(), start.loss);
            match kind {
                "paper" => Noise::Paper { lr, batch_size, sqrt_hessian },
                "frozen" => Noise::Frozen { lr, batch_size, sqrt_hessian, loss_at_minimum },
                _ => Noise::TimeChanged { lr, batch_size, sqrt_hessian, loss_at_minimum },
            }
        }
    };
    Ok(Dynamics::Sde { dt: s.dt.get(), noise, solver: Solver::EulerMaruyama, bridge: false })
}

/// The root of H* that shapes the paper's noise, with `noise.subspace` resolved and written
/// back: the symmetric root of the whole H* when every eigenpair is known (dense analyses and
/// complete Lanczos spectra), the outlier eigenpairs otherwise (or when asked for). The whole
/// H* from a spectrum that lacks eigenpairs is refused, naming the key.
fn hessian_root(scale: &mut MinibatchScale, start: &StartPoint, rule: OutlierRule, warnings: &mut Vec<String>) -> Result<HessianRoot> {
    let complete = match start.hessian_spectrum {
        SpectrumReport::Dense => true,
        SpectrumReport::Lanczos { complete, .. } => complete,
    };
    let subspace = *scale.subspace.get_or_insert(if complete { NoiseSubspace::Full } else { NoiseSubspace::Outliers });
    Ok(match subspace {
        NoiseSubspace::Full if !complete => {
            return Err(Error::invalid(
                "dynamics.noise.subspace",
                "\"full\"",
                format!(
                    "needs every eigenpair of H(θ*), and landscape.hessian = \"lanczos\" gave {} of P = {}; use subspace = \"outliers\" (the default here: the noise acts along the outlier eigenvectors)",
                    start.hessian_eigenvalues.len(),
                    start.theta.len()
                ),
            ));
        }
        NoiseSubspace::Full => {
            let (root, clipped) = linalg::psd_sqrt_from_eigen(&start.hessian_eigenvalues, &start.hessian_eigenvectors);
            if clipped > 0 {
                warnings.push(format!("H(θ*) has {clipped} negative eigenvalue(s) at the start point; they were set to 0 in H*^(1/2)"));
            }
            HessianRoot::Dense(root)
        }
        NoiseSubspace::Outliers => {
            let outliers = detect_outliers(&start.hessian_eigenvalues, &start.hessian_eigenvectors, rule);
            HessianRoot::outliers(&outliers.eigenvalues, outliers.vectors)
        }
    })
}
