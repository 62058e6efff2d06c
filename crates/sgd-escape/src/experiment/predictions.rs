//! Every theory's prediction for a run, each with the assumptions it rests on checked on this
//! run: the closed-form escape rates of the competing theories applied to the landscape found,
//! the exact one-dimensional quadrature of the run's SDE in continuous time, and for
//! one-parameter models the exact mean exit times of the discrete chains themselves (SGD at
//! its η, Euler–Maruyama at its dt). Also the comparison of a measured rate with each.

use super::analysis::{AnalysisInput, time_per_step_and_minibatch};
use super::build::BuiltModel;
use super::config::{DynamicsConfig, NoiseConfig};
use crate::dynamics::Sampling;
use crate::escape::Exit;
use crate::landscape::curvature::Hessian;
use crate::landscape::outliers::Outliers;
use crate::landscape::saddle::Saddle;
use crate::landscape::spectrum::deflated_trace;
use crate::model::{FeatureMap, FeatureModel, GradientNoise};
use crate::stats::EscapeStatistics;
use crate::theory::chain::{ChainOptions, Domain, End, GaussianKernel, Kernel, SgdKernel, mean_exit_time};
use crate::theory::mean_first_passage_time_auto;
use crate::theory::rates::{self, BarrierGeometry};
use serde::Serialize;

/// One assumption of a prediction, checked on this run.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Assumption {
    /// What must hold (docs/theory.md §7).
    pub condition: String,
    /// The quantity checked, when it is a number.
    pub value: Option<f64>,
    /// Whether it holds.
    pub holds: bool,
}

impl Assumption {
    fn new(condition: impl Into<String>, value: Option<f64>, holds: bool) -> Self {
        Assumption { condition: condition.into(), value, holds }
    }
}

/// One theory's prediction. Rates per unit t and per step; `mean_time` = 1/rate (or the exact
/// mean exit time of a quadrature or chain).
#[derive(Clone, Debug, Serialize, PartialEq, Default)]
pub struct Prediction {
    /// κ per unit t.
    pub rate_per_time: Option<f64>,
    /// κ per step.
    pub rate_per_step: Option<f64>,
    /// Mean escape time t.
    pub mean_time: Option<f64>,
    /// Whether every assumption holds for this run (null when there is no value).
    pub valid: Option<bool>,
    /// The assumptions that fail, when some do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Every assumption, with the value checked.
    pub assumptions: Vec<Assumption>,
    /// Why a value is missing, or what it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Prediction {
    fn from_rate(rate: Option<f64>, time_per_step: f64, missing: &str, assumptions: Vec<Assumption>) -> Self {
        match rate {
            Some(r) => Prediction::from_mean_time(1.0 / r, time_per_step, assumptions, None),
            None => Prediction { note: Some(missing.into()), ..Default::default() },
        }
    }

    fn from_mean_time(t: f64, time_per_step: f64, assumptions: Vec<Assumption>, note: Option<String>) -> Self {
        let failing: Vec<&str> = assumptions.iter().filter(|a| !a.holds).map(|a| a.condition.as_str()).collect();
        Prediction {
            rate_per_time: Some(1.0 / t),
            rate_per_step: Some(time_per_step / t),
            mean_time: Some(t),
            valid: Some(failing.is_empty()),
            reason: (!failing.is_empty()).then(|| format!("does not hold: {}", failing.join("; "))),
            assumptions,
            note,
        }
    }
}

/// Xie et al.'s prediction at both ends of the path factor s.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct XieBand {
    /// s = 1: the curvature at the minimum, h_e* (in one dimension, the linear barrier).
    pub minimum_curvature: Prediction,
    /// s = 0: the curvature at the saddle, |h_eˢ|.
    pub saddle_curvature: Prediction,
}

/// Every theory's prediction.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Predictions {
    /// The paper: `(|h_eˢ|/2π) sqrt(det Ĥ*/|det Ĥˢ|) c^{−(β+1−n/2)}` (eq. 13).
    pub log_barrier: Prediction,
    /// Its exponent β + 1 − n/2 (the log-log slope of the escape time against c).
    pub log_barrier_exponent: Option<f64>,
    /// Noise frozen at the minimum: `exp(−BΔL/(ηh*L*))` (eq. 16).
    pub linear_barrier: Prediction,
    /// Xie et al. 2021 for a mean-square loss, C ≈ 2L*H/B, at s = 1 and s = 0 (eq. 17).
    pub xie: XieBand,
    /// Isotropic Kramers `exp(−ΔL/D)` (eq. 18).
    pub kramers_isotropic: Prediction,
    /// The diffusion D used for `kramers_isotropic`.
    pub kramers_diffusion: Option<f64>,
    /// Exact 1-D first-passage quadrature of the run's SDE in continuous time (eq. 20).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quadrature: Option<Prediction>,
    /// Exact mean exit time of this SGD itself at its η (1-D, B = 1, with replacement; eq. 22).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sgd_chain: Option<Prediction>,
    /// Exact mean exit time of this SDE's Euler–Maruyama scheme at its dt (1-D; eq. 22).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub euler_maruyama_chain: Option<Prediction>,
}

/// What the run's dynamics is, for the assumptions.
struct RunNoise {
    /// The noise grows with the loss as 2L(θ)H*/B by construction (paper, time-changed).
    paper: bool,
    /// Frozen at the minimum.
    frozen: bool,
    /// Isotropic and constant.
    isotropic: bool,
    /// η·λ_max(H*) or dt·λ_max(H*): the step against the stiffest curvature.
    step: f64,
    /// Whether the dynamics is SGD itself.
    sgd: bool,
}

/// A step small against the curvature: below this η·λ_max (SGD) or dt·λ_max (Euler–Maruyama)
/// the continuous-time theories describe the discrete dynamics (docs/theory.md §7).
const SMALL_STEP: f64 = 0.1;
/// A barrier high enough for the asymptotic (Kramers) formulas: exponent ≥ 1.
const HIGH_BARRIER: f64 = 1.0;
/// The loss barely changes over the barrier: ΔL/L* ≤ this (then log c ≈ c − 1 within 5%).
const SMALL_LOSS_CHANGE: f64 = 0.1;
/// The exact noise matches 2L(θ)H*/B when the trace ratio lies within these bounds.
const NOISE_RATIO: (f64, f64) = (0.8, 1.25);
/// The largest standard error of the log prefactor, ½ log(det H*/|det Hˢ|), when it is a
/// stochastic Lanczos estimate: the prefactor is then known within a factor e^0.5 ≈ 1.6.
const MAX_PREFACTOR_LOG_ERROR: f64 = 0.5;

/// The predictions of every theory for the landscape found.
pub(super) fn predict(
    input: &AnalysisInput<'_>,
    outliers: &Outliers,
    geometry: Option<&BarrierGeometry>,
    beta: Option<f64>,
    saddle: Option<&Saddle>,
) -> Predictions {
    let loss_star = input.minimum.loss;
    let (time_per_step, noise_params) = time_per_step_and_minibatch(input.dynamics);
    let lambda_max = input.minimum.eigenvalues.iter().copied().fold(0.0_f64, f64::max);
    let noise = run_noise(input.dynamics, time_per_step * lambda_max);
    let temperature = match input.dynamics {
        DynamicsConfig::Sde(s) => match &s.noise {
            NoiseConfig::Isotropic(i) => Some(i.temperature.get()),
            _ => None,
        },
        DynamicsConfig::Sgd(_) => None,
    };
    let no_saddle = "needs a saddle (none was found or searched)";
    let no_noise = "needs the learning rate and batch size (isotropic noise has neither)";
    let missing = if noise_params.is_none() { no_noise } else { no_saddle };
    // Xie et al. and isotropic Kramers need the determinants over all P directions, which a
    // partial (Lanczos) spectrum does not give.
    let no_full_determinants = geometry.is_some_and(|g| g.escape_eigenvalue.is_some() && g.log_det_ratio.is_none());
    let partial = "needs det H* and det Hˢ over all P directions, which the partial (Lanczos) spectrum does not give (landscape.hessian.log_det_probes estimates their ratio by stochastic Lanczos quadrature)";
    // A stochastic estimate of the determinants' ratio makes the prefactor uncertain by a
    // factor exp(±SE/2).
    let log_det_estimate: Vec<Assumption> = geometry
        .and_then(|g| g.log_det_ratio_stderr.zip(g.log_det_ratio_quadrature_change))
        .map(|(se, change)| {
            vec![
                Assumption::new(
                    format!(
                        "the stochastic Lanczos estimate of ½ log(det H*/|det Hˢ|) has standard error ≤ {MAX_PREFACTOR_LOG_ERROR} (the prefactor known within a factor e^{MAX_PREFACTOR_LOG_ERROR}; more probes lower it)"
                    ),
                    Some(0.5 * se),
                    0.5 * se <= MAX_PREFACTOR_LOG_ERROR,
                ),
                Assumption::new(
                    "its Gauss quadrature has converged: the estimate moves by at most its standard error from half the Lanczos steps to all (more landscape.hessian.log_det_steps otherwise)",
                    Some(change),
                    change <= se,
                ),
            ]
        })
        .unwrap_or_default();
    let missing_full = if no_full_determinants { partial } else { missing };
    let with = |f: &dyn Fn(&BarrierGeometry, f64, usize) -> Option<f64>| -> Option<f64> {
        let (lr, b) = noise_params?;
        f(geometry?, lr, b)
    };
    let step = Assumption::new(
        format!(
            "{} · λ_max(H*) ≤ {SMALL_STEP} (the continuous-time theory describes the discrete steps)",
            if noise.sgd { "η" } else { "dt" }
        ),
        Some(noise.step),
        noise.step <= SMALL_STEP,
    );
    let loss_change = geometry.map(|g| g.linear() / g.loss_minimum);
    let constant_noise = |name: &str| match (noise.frozen || noise.isotropic, loss_change) {
        (true, _) => Assumption::new(format!("the noise is constant, as {name} assumes"), None, true),
        (false, r) => Assumption::new(
            format!("ΔL/L* ≤ {SMALL_LOSS_CHANGE} (the noise, which grows with L, changes little over the barrier, as {name} assumes)"),
            r,
            r.is_some_and(|r| r <= SMALL_LOSS_CHANGE),
        ),
    };

    // The paper's log barrier. Its assumptions are checked only when it has a value (the noise
    // check costs O(N·P), and Hessian-vector products with a partial spectrum).
    let log_rate = with(&rates::log_barrier_rate);
    let mut log_assumptions = Vec::new();
    if let (Some(b), Some(g), Some(_)) = (beta, geometry, log_rate) {
        let height = b * g.ratio().ln();
        log_assumptions.push(Assumption::new(
            format!("β log c ≥ {HIGH_BARRIER} (a high log barrier)"),
            Some(height),
            height >= HIGH_BARRIER,
        ));
        let exponent = rates::log_barrier_exponent(b, outliers.n);
        log_assumptions.push(Assumption::new(
            "β + 1 − n/2 > 0 (n below the critical dimension: the minimum is stable)",
            Some(exponent),
            exponent > 0.0,
        ));
        log_assumptions.push(paper_noise_assumption(input, &noise, saddle));
        log_assumptions.push(step.clone());
    }
    // The linear barrier with frozen noise.
    let mut linear_assumptions = Vec::new();
    if let (Some((lr, b)), Some(g)) = (noise_params, geometry) {
        let exponent = rates::linear_barrier_exponent(g, lr, b);
        linear_assumptions.push(Assumption::new(
            format!("BΔL/(ηh*L*) ≥ {HIGH_BARRIER} (a high barrier)"),
            Some(exponent),
            exponent >= HIGH_BARRIER,
        ));
        linear_assumptions.push(constant_noise("the linear barrier"));
        linear_assumptions.push(step.clone());
    }
    // Xie et al. at both ends of s.
    let xie = |s: f64| {
        let mut assumptions = Vec::new();
        if let (Some((lr, b)), Some(g)) = (noise_params, geometry)
            && let Some(exponent) = rates::xie_exponent(g, lr, b, s)
        {
            assumptions.push(Assumption::new(
                format!("BΔL/(ηL*)·(s/h_e* + (1 − s)/|h_eˢ|) ≥ {HIGH_BARRIER} (a high barrier)"),
                Some(exponent),
                exponent >= HIGH_BARRIER,
            ));
            assumptions.push(constant_noise("C ≈ 2L*H/B"));
            assumptions.push(step.clone());
            assumptions.extend(log_det_estimate.clone());
        }
        Prediction::from_rate(with(&|g, lr, b| rates::xie_rate(g, lr, b, s)), time_per_step, missing_full, assumptions)
    };
    // Isotropic Kramers.
    let kramers_diffusion = temperature.or(noise_params.map(|(lr, b)| lr * loss_star * outliers.h_star / b as f64));
    let kramers = geometry.zip(kramers_diffusion).and_then(|(g, d)| rates::kramers_isotropic_rate(g, d));
    let mut kramers_assumptions = Vec::new();
    if let (Some(g), Some(d)) = (geometry, kramers_diffusion) {
        let exponent = g.linear() / d;
        kramers_assumptions.push(Assumption::new(
            format!("ΔL/D ≥ {HIGH_BARRIER} (a high barrier)"),
            Some(exponent),
            exponent >= HIGH_BARRIER,
        ));
        kramers_assumptions.push(Assumption::new("the noise is isotropic and constant", None, noise.isotropic));
        kramers_assumptions.push(step.clone());
        kramers_assumptions.extend(log_det_estimate.clone());
    }
    let kramers_missing = if no_full_determinants { partial } else { no_saddle };
    let mut kramers_prediction = Prediction::from_rate(kramers, time_per_step, kramers_missing, kramers_assumptions);
    if temperature.is_none() && kramers.is_some() {
        kramers_prediction.note = Some("D = η L* h*/B, the paper's noise at the minimum made isotropic".into());
    }
    Predictions {
        log_barrier: Prediction::from_rate(log_rate, time_per_step, missing, log_assumptions),
        log_barrier_exponent: beta.map(|b| rates::log_barrier_exponent(b, outliers.n)),
        linear_barrier: Prediction::from_rate(with(&rates::linear_barrier_rate), time_per_step, missing, linear_assumptions),
        xie: XieBand { minimum_curvature: xie(1.0), saddle_curvature: xie(0.0) },
        kramers_isotropic: kramers_prediction,
        kramers_diffusion,
        quadrature: quadrature(input, saddle, time_per_step, &step),
        sgd_chain: input.landscape.exact_chains.then(|| sgd_chain(input)).flatten(),
        euler_maruyama_chain: input.landscape.exact_chains.then(|| euler_maruyama_chain(input)).flatten(),
    }
}

fn run_noise(dynamics: &DynamicsConfig, step: f64) -> RunNoise {
    let kind = match dynamics {
        DynamicsConfig::Sgd(_) => None,
        DynamicsConfig::Sde(s) => Some(&s.noise),
    };
    RunNoise {
        paper: matches!(kind, Some(NoiseConfig::Paper(_) | NoiseConfig::TimeChanged(_))),
        frozen: matches!(kind, Some(NoiseConfig::Frozen(_))),
        isotropic: matches!(kind, Some(NoiseConfig::Isotropic(_))),
        step,
        sgd: kind.is_none(),
    }
}

/// Whether the run's noise is the paper's `2L(θ)H*/B`: by construction for the paper's and the
/// time-changed SDE, never for frozen or isotropic noise, and for SGD and the exact noise when
/// the trace of the exact covariance is within [`NOISE_RATIO`] of `2L(θ)Tr H*/B` at θ* and at the
/// saddle.
fn paper_noise_assumption(input: &AnalysisInput<'_>, noise: &RunNoise, saddle: Option<&Saddle>) -> Assumption {
    let condition =
        "Σ(θ) ≈ 2L(θ)H*/B (Tr Σ within 0.8–1.25 of 2L(θ)·Tr H*/B at θ* and at the saddle; the value is the ratio farthest from 1)";
    if noise.paper {
        return Assumption::new("the noise is 2L(θ)H*/B by construction", None, true);
    }
    if noise.frozen || noise.isotropic {
        return Assumption::new("the noise grows with the loss as 2L(θ)H*/B (this run's noise does not)", None, false);
    }
    let (Some(data), Some((_, b))) = (input.model.gradient_noise(), time_per_step_and_minibatch(input.dynamics).1) else {
        return Assumption::new(condition, None, false);
    };
    let factor = match input.dynamics {
        DynamicsConfig::Sgd(s) => s.sampling.covariance_factor(data.samples(), b),
        DynamicsConfig::Sde(s) => match &s.noise {
            NoiseConfig::Exact(e) => e.sampling.covariance_factor(data.samples(), b),
            _ => 1.0,
        },
    };
    let (trace_h, condition) = if input.minimum.spectrum.is_partial() {
        let (trace, stderr) = deflated_hessian_trace(input);
        (
            trace,
            format!(
                "{condition}; Tr H* = {trace:.4e} ± {stderr:.1e} from the computed eigenvalues and {TRACE_PROBES} deflated Hutchinson probes"
            ),
        )
    } else {
        (input.minimum.eigenvalues.iter().sum(), condition.to_string())
    };
    let ratio = |theta: &[f64]| factor * gradient_covariance_trace(data, theta) / (2.0 * data.loss(theta) * trace_h);
    let mut ratios = vec![ratio(input.minimum.theta)];
    if let Some(s) = saddle {
        ratios.push(ratio(&s.theta));
    }
    let worst = ratios.iter().copied().max_by(|a, b| a.ln().abs().total_cmp(&b.ln().abs())).expect("one ratio");
    Assumption::new(condition, Some(worst), ratios.iter().all(|r| (NOISE_RATIO.0..=NOISE_RATIO.1).contains(r)))
}

/// Rademacher probes of the deflated trace estimate of Tr H* when only the largest
/// eigenvalues of H* are known.
const TRACE_PROBES: usize = 10;

/// Tr H(θ*) with its standard error when only the largest eigenpairs are known: their sum plus
/// a Hutchinson estimate of the rest ([`deflated_trace`]).
fn deflated_hessian_trace(input: &AnalysisInput<'_>) -> (f64, f64) {
    let model = input.model.as_model();
    let m = input.minimum.eigenvalues.len();
    let vectors: Vec<Vec<f64>> = (0..m).map(|j| crate::linalg::column(input.minimum.eigenvectors, m, j)).collect();
    let hessian = Hessian::new(model, input.minimum.theta);
    deflated_trace(&hessian, input.minimum.eigenvalues, &vectors, TRACE_PROBES, 0x7ace)
}

/// Tr C(θ) = (1/N) Σ_μ |∇ℓ_μ|² − |∇L|², O(N·P).
fn gradient_covariance_trace(model: &dyn GradientNoise, theta: &[f64]) -> f64 {
    let p = model.dim();
    let (mut g, mut grad) = (vec![0.0; p], vec![0.0; p]);
    model.loss_and_gradient(theta, &mut grad);
    let n = model.samples();
    let mean_square = (0..n)
        .map(|mu| {
            model.sample_loss_gradient(theta, mu, &mut g);
            crate::linalg::dot(&g, &g)
        })
        .sum::<f64>()
        / n as f64;
    mean_square - crate::linalg::dot(&grad, &grad)
}

/// The exact 1-D mean first-passage time from θ* to the exit point (a coordinate exit; else a
/// point as far past the saddle as θ* is before it), with the diffusion D(θ) of the run's noise
/// model: `paper`/`time-changed` ηL(θ)h*/B, `frozen` ηL*h*/B, `isotropic` the temperature,
/// `exact` and SGD η·f·C(θ)/(2B) from the data's gradient covariance (docs/theory.md eq. 20).
fn quadrature(input: &AnalysisInput<'_>, saddle: Option<&Saddle>, time_per_step: f64, step: &Assumption) -> Option<Prediction> {
    let model = input.model.as_model();
    if model.dim() != 1 {
        return None;
    }
    let theta_star = input.minimum.theta[0];
    let target = match (input.exit, saddle) {
        (Exit::Coordinate { threshold, .. }, _) => *threshold,
        (_, Some(s)) => 2.0 * s.theta[0] - theta_star,
        _ => return None,
    };
    let h_star = input.minimum.eigenvalues[0];
    let loss_star = input.minimum.loss;
    let drift = |x: f64| {
        let mut g = [0.0];
        model.loss_and_gradient(&[x], &mut g);
        -g[0]
    };
    let exact = |lr: f64, b: usize, sampling: Sampling| -> Option<Box<dyn Fn(f64) -> f64 + '_>> {
        let data = input.model.gradient_noise()?;
        let factor = sampling.covariance_factor(data.samples(), b);
        Some(Box::new(move |x: f64| lr * factor * data.gradient_covariance(&[x])[0] / (2.0 * b as f64)))
    };
    let (diffusion, name): (Box<dyn Fn(f64) -> f64 + '_>, &str) = match input.dynamics {
        DynamicsConfig::Sgd(s) => (exact(s.lr.get(), s.batch_size.get(), s.sampling)?, "exact minibatch covariance (the SDE of this SGD)"),
        DynamicsConfig::Sde(s) => match &s.noise {
            NoiseConfig::Exact(e) => (exact(e.lr.get(), e.batch_size.get(), e.sampling)?, "exact minibatch covariance"),
            NoiseConfig::Paper(m) | NoiseConfig::TimeChanged(m) => {
                let (lr, b) = (m.lr.get(), m.batch_size.get() as f64);
                (Box::new(move |x: f64| lr * model.loss(&[x]) * h_star / b), "paper: D = η L(θ) h*/B")
            }
            NoiseConfig::Frozen(m) => {
                let d = m.lr.get() * loss_star * h_star / m.batch_size.get() as f64;
                (Box::new(move |_| d), "frozen: D = η L* h*/B")
            }
            NoiseConfig::Isotropic(i) => {
                let t = i.temperature.get();
                (Box::new(move |_| t), "isotropic: D = temperature")
            }
        },
    };
    let t = mean_first_passage_time_auto(drift, diffusion, theta_star, target, 20_000);
    let note = format!("mean first-passage time from θ* to θ = {target} of the continuous-time SDE with {name}");
    Some(Prediction::from_mean_time(t, time_per_step, vec![step.clone()], Some(note)))
}

/// The interval a one-parameter chain lives in before it exits, and what lies beyond each end:
/// up to a coordinate threshold (a reflecting end below, moved out until it does not matter),
/// between the two loss levels L = c·L* around θ*, or on one side of a hyperplane.
fn chain_domain(input: &AnalysisInput<'_>) -> Option<Domain> {
    let model = input.model.as_model();
    let loss = |x: f64| model.loss(&[x]);
    let star = input.minimum.theta[0];
    let loss_star = input.minimum.loss;
    // The first point from θ* in `direction` with L > `level`, by doubling steps and bisection.
    let scale = (loss_star.abs() / input.minimum.eigenvalues[0].abs().max(1e-300)).sqrt().max(1e-6);
    let crossing = |direction: f64, level: f64, limit: f64| -> Option<f64> {
        let (mut inside, mut step) = (star, scale.min(limit));
        while step <= limit {
            let x = star + direction * step;
            if loss(x) > level {
                let (mut a, mut b) = (inside, x);
                for _ in 0..200 {
                    let mid = 0.5 * (a + b);
                    if loss(mid) > level { b = mid } else { a = mid }
                }
                return Some(0.5 * (a + b));
            }
            inside = x;
            step *= 2.0;
        }
        None
    };
    // A reflecting end opposite an exit at `boundary`: where the loss rises 3 times as high
    // above L* as it does on the way to the exit (the chain then almost never gets there), at
    // most 10 times as far as the exit.
    let one_sided = |boundary: f64, exit_above: bool| {
        let width = (boundary - star).abs();
        let highest = (0..=200).map(|i| loss(star + (boundary - star) * i as f64 / 200.0)).fold(loss_star, f64::max);
        let direction = if exit_above { -1.0 } else { 1.0 };
        let end = crossing(direction, loss_star + 3.0 * (highest - loss_star), 10.0 * width).unwrap_or(star + direction * width);
        if exit_above {
            Domain { lower: end, below: End::Reflecting, upper: boundary, above: End::Absorbing }
        } else {
            Domain { lower: boundary, below: End::Absorbing, upper: end, above: End::Reflecting }
        }
    };
    match input.exit {
        Exit::Never | Exit::Basin { .. } | Exit::Distance { .. } => None,
        Exit::Coordinate { threshold, .. } => Some(one_sided(*threshold, true)),
        Exit::Hyperplane { normal, offset } => Some(one_sided(offset / normal[0], normal[0] > 0.0)),
        Exit::LossAbove { threshold } => {
            let limit = 1e6 * scale;
            Some(Domain {
                lower: crossing(-1.0, *threshold, limit)?,
                below: End::Absorbing,
                upper: crossing(1.0, *threshold, limit)?,
                above: End::Absorbing,
            })
        }
    }
}

/// The chain's prediction with its convergence as the assumption.
#[allow(clippy::too_many_arguments)]
fn chain_prediction(
    kernel: &dyn Kernel,
    domain: Domain,
    start: f64,
    time_per_step: f64,
    cost_is_time: bool,
    tolerance: f64,
    what: &str,
) -> Prediction {
    let solution = mean_exit_time(kernel, domain, start, ChainOptions { tolerance, ..ChainOptions::default() });
    let mean_time = if cost_is_time { solution.mean } else { solution.mean * time_per_step };
    let assumption = Assumption::new(
        format!(
            "the grid converged: the mean moved by less than {tolerance:e} (relative) when the grid was refined and a reflecting end moved out (the value is the last relative change)"
        ),
        Some(solution.relative_change),
        solution.converged,
    );
    let note = format!(
        "{what}: exact mean exit time from θ*, on a grid of {} nodes over [{:.6}, {:.6}]",
        solution.nodes, solution.domain.lower, solution.domain.upper
    );
    Prediction::from_mean_time(mean_time, time_per_step, vec![assumption], Some(note))
}

/// SGD itself at its η: the exact mean exit time of the chain θ ↦ θ − η r_μ(θ) f'_μ(θ), μ
/// uniform (one parameter, B = 1, indices drawn with replacement; otherwise `None`).
fn sgd_chain(input: &AnalysisInput<'_>) -> Option<Prediction> {
    let DynamicsConfig::Sgd(s) = input.dynamics else { return None };
    if input.model.as_model().dim() != 1 || s.batch_size.get() != 1 || s.sampling != Sampling::WithReplacement {
        return None;
    }
    let lr = s.lr.get();
    let domain = chain_domain(input)?;
    let (start, tolerance) = (input.minimum.theta[0], input.landscape.chain_tolerance.get());
    fn predict<F: FeatureMap>(m: &FeatureModel<F>, lr: f64, domain: Domain, start: f64, tolerance: f64) -> Prediction {
        let kernel = SgdKernel { steps: |t: f64, out: &mut Vec<f64>| m.one_parameter_sgd_steps(t, lr, out) };
        chain_prediction(&kernel, domain, start, lr, false, tolerance, "SGD at its learning rate (B = 1, with replacement)")
    }
    match input.model {
        BuiltModel::LinearRegression(m) => Some(predict(m, lr, domain, start, tolerance)),
        BuiltModel::Curve(m) => Some(predict(m, lr, domain, start, tolerance)),
        // Every other data-built model has more than one parameter.
        BuiltModel::Mlp(_) | BuiltModel::DoubleWell(_) => None,
    }
}

/// The run's own Euler–Maruyama scheme at its dt: the exact mean exit time of the chain
/// θ ↦ N(θ − ∇L dt, η Σ(θ) dt) (or its time-changed form, each step costing dτ/L). One
/// parameter and `solver = "euler-maruyama"` without bridge only; otherwise `None`.
fn euler_maruyama_chain(input: &AnalysisInput<'_>) -> Option<Prediction> {
    let DynamicsConfig::Sde(s) = input.dynamics else { return None };
    let model = input.model.as_model();
    if model.dim() != 1 || !s.solver.is_plain_euler_maruyama() {
        return None;
    }
    let domain = chain_domain(input)?;
    let dt = s.dt.get();
    let h_star = input.minimum.eigenvalues[0].max(0.0);
    let loss_star = input.minimum.loss;
    let gradient = |x: f64| {
        let mut g = [0.0];
        let l = model.loss_and_gradient(&[x], &mut g);
        (l, g[0])
    };
    let start = input.minimum.theta[0];
    let what = "the Euler–Maruyama scheme of this SDE at its dt";
    let tolerance = input.landscape.chain_tolerance.get();
    let predict = |kernel: &dyn Kernel| Some(chain_prediction(kernel, domain, start, dt, true, tolerance, what));
    match &s.noise {
        NoiseConfig::Exact(e) => {
            let data = input.model.gradient_noise()?;
            let (lr, b) = (e.lr.get(), e.batch_size.get());
            let factor = e.sampling.covariance_factor(data.samples(), b);
            predict(&GaussianKernel {
                mean: |x: f64| x - dt * gradient(x).1,
                sd: |x: f64| (lr * dt * factor / b as f64 * data.gradient_covariance(&[x])[0]).max(0.0).sqrt(),
                cost: |_| dt,
            })
        }
        NoiseConfig::Paper(m) => {
            let (lr, b) = (m.lr.get(), m.batch_size.get() as f64);
            predict(&GaussianKernel {
                mean: |x: f64| x - dt * gradient(x).1,
                sd: |x: f64| (2.0 * lr * gradient(x).0.max(0.0) * dt / b * h_star).sqrt(),
                cost: |_| dt,
            })
        }
        NoiseConfig::Frozen(m) => {
            let sd = (2.0 * m.lr.get() * loss_star * dt / m.batch_size.get() as f64 * h_star).sqrt();
            predict(&GaussianKernel { mean: |x: f64| x - dt * gradient(x).1, sd: |_| sd, cost: |_| dt })
        }
        NoiseConfig::Isotropic(i) => {
            let sd = (2.0 * i.temperature.get() * dt).sqrt();
            predict(&GaussianKernel { mean: |x: f64| x - dt * gradient(x).1, sd: |_| sd, cost: |_| dt })
        }
        NoiseConfig::TimeChanged(m) => {
            let dtau = dt * loss_star;
            let sd = (2.0 * m.lr.get() * dtau / m.batch_size.get() as f64 * h_star).sqrt();
            predict(&GaussianKernel {
                mean: |x: f64| {
                    let (l, g) = gradient(x);
                    x - dtau / l * g
                },
                sd: |_| sd,
                cost: |x: f64| dtau / gradient(x).0,
            })
        }
    }
}

/// Measured rate over predicted rate, per theory (`run`'s `comparison` block).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Comparison {
    /// Measured / log-barrier.
    pub log_barrier: Option<f64>,
    /// Measured / linear-barrier.
    pub linear_barrier: Option<f64>,
    /// Measured / Xie et al., s = 1.
    pub xie_minimum_curvature: Option<f64>,
    /// Measured / Xie et al., s = 0.
    pub xie_saddle_curvature: Option<f64>,
    /// Measured / isotropic Kramers.
    pub kramers_isotropic: Option<f64>,
    /// Measured / quadrature.
    pub quadrature: Option<f64>,
    /// Measured / the exact SGD chain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sgd_chain: Option<f64>,
    /// Measured / the exact Euler–Maruyama chain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub euler_maruyama_chain: Option<f64>,
}

/// Ratios of the measured rate per unit time to each prediction.
pub fn compare(measured: &EscapeStatistics, predictions: &Predictions) -> Comparison {
    let m = measured.rate_per_time.estimate;
    let ratio = |p: &Prediction| p.rate_per_time.map(|r| m / r);
    Comparison {
        log_barrier: ratio(&predictions.log_barrier),
        linear_barrier: ratio(&predictions.linear_barrier),
        xie_minimum_curvature: ratio(&predictions.xie.minimum_curvature),
        xie_saddle_curvature: ratio(&predictions.xie.saddle_curvature),
        kramers_isotropic: ratio(&predictions.kramers_isotropic),
        quadrature: predictions.quadrature.as_ref().and_then(ratio),
        sgd_chain: predictions.sgd_chain.as_ref().and_then(ratio),
        euler_maruyama_chain: predictions.euler_maruyama_chain.as_ref().and_then(ratio),
    }
}
