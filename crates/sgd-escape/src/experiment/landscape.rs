//! The landscape stage: from a prepared run (model and θ*), the outliers of H(θ*), the saddle,
//! the barrier, and the predictions of every theory (THEORY.md §4). Used by
//! `sgd-escape landscape` (written as `landscape.json`) and by `run` (the `predictions` block
//! of `summary.json`).

use super::config::{Config, DynamicsSpec, ExitSpec, NoiseKind, SaddleMethod};
use super::run::Prepared;
use crate::dynamics::Sampling;
use crate::escape::Exit;
use crate::landscape::outliers::{OutlierRule, Outliers, detect_outliers, restricted_determinant};
use crate::landscape::saddle::{Saddle, SaddleOptions, dimer, nudged_elastic_band};
use crate::landscape::{MinimizeOptions, minimize};
use crate::linalg;
use crate::stats::EscapeStatistics;
use crate::theory::mean_first_passage_time_auto;
use crate::theory::rates::{self, BarrierGeometry};
use serde::Serialize;

/// The minimum with its curvature.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct MinimumReport {
    /// θ*.
    pub theta: Vec<f64>,
    /// L(θ*).
    pub loss: f64,
    /// Eigenvalues of H(θ*), ascending.
    pub hessian_eigenvalues: Vec<f64>,
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

/// One theory's prediction. Rates per unit t and per step; `mean_time` = 1/rate (or the
/// quadrature's mean first-passage time).
#[derive(Clone, Debug, Serialize, PartialEq, Default)]
pub struct Prediction {
    /// κ per unit t.
    pub rate_per_time: Option<f64>,
    /// κ per step.
    pub rate_per_step: Option<f64>,
    /// Mean escape time t.
    pub mean_time: Option<f64>,
    /// Why a value is missing, or what it assumes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Prediction {
    fn from_rate(rate: Option<f64>, time_per_step: f64, missing: &str) -> Self {
        match rate {
            Some(r) => Prediction { rate_per_time: Some(r), rate_per_step: Some(r * time_per_step), mean_time: Some(1.0 / r), note: None },
            None => Prediction { note: Some(missing.into()), ..Default::default() },
        }
    }
}

/// Every theory's prediction.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Predictions {
    /// The paper: `(|h_eˢ|/2π) sqrt(det Ĥ*/|det Ĥˢ|) c^{−(β+1−n/2)}`.
    pub log_barrier: Prediction,
    /// Its exponent β + 1 − n/2 (the log-log slope of the escape time against c).
    pub log_barrier_exponent: Option<f64>,
    /// Noise frozen at the minimum: `exp(−BΔL/(ηh*L*))`.
    pub linear_barrier: Prediction,
    /// Xie et al. 2021 with path factor s.
    pub xie: Prediction,
    /// The path factor s used for `xie`.
    pub xie_path_factor: f64,
    /// Isotropic Kramers `exp(−ΔL/D)`.
    pub kramers_isotropic: Prediction,
    /// The diffusion D used for `kramers_isotropic`.
    pub kramers_diffusion: Option<f64>,
    /// Exact 1-D first-passage quadrature with the run's noise model (1-D models).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quadrature: Option<Prediction>,
}

/// What `landscape.json` holds.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LandscapeReport {
    /// sgd-escape version.
    pub version: String,
    /// The canonical configuration.
    pub config: Config,
    /// θ*, its Hessian spectrum and outliers.
    pub minimum: MinimumReport,
    /// The saddle, when searched and found.
    pub saddle: Option<Saddle>,
    /// Why the saddle search failed, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub saddle_error: Option<String>,
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

/// Runs the landscape analysis of a prepared run.
pub fn analyze(prepared: &Prepared) -> LandscapeReport {
    let model = prepared.model.as_model();
    let p = model.dim();
    let theta_star = &prepared.start.theta;
    let loss_star = prepared.start.loss;
    let landscape = &prepared.spec.landscape;
    let hessian_star = model.hessian(theta_star);
    let (values, vectors) = linalg::symmetric_eigen(&hessian_star, p);
    let outliers = detect_outliers(&values, &vectors, OutlierRule { min_gap_ratio: landscape.outlier_gap, count: landscape.outliers });
    let det_restricted = outliers.eigenvalues.iter().product();

    // Saddle.
    let (saddle, saddle_error) = match find_saddle(prepared) {
        Ok(s) => (s, None),
        Err(e) => (None, Some(e.to_string())),
    };
    let barrier = match (&saddle, &prepared.spec.exit) {
        (Some(s), _) => Some((s.loss, "saddle")),
        (None, ExitSpec::LossAbove { ratio }) => Some((ratio * loss_star, "loss-threshold")),
        _ => None,
    }
    .map(|(loss_saddle, from)| Barrier {
        ratio: loss_saddle / loss_star,
        log: (loss_saddle / loss_star).ln(),
        linear: loss_saddle - loss_star,
        from: from.into(),
    });

    // Noise parameters and time per step.
    let (noise_params, time_per_step, temperature) = match &prepared.spec.dynamics {
        DynamicsSpec::Sgd { lr, batch_size, .. } => (Some((*lr, *batch_size)), *lr, None),
        DynamicsSpec::Sde { dt, noise: NoiseKind::Isotropic, temperature, .. } => (None, *dt, Some(*temperature)),
        DynamicsSpec::Sde { dt, lr, batch_size, .. } => (Some((*lr, *batch_size)), *dt, None),
    };
    let beta = noise_params.map(|(lr, b)| rates::beta(lr, b, outliers.h_star));

    let geometry = barrier.as_ref().map(|bar| BarrierGeometry {
        loss_minimum: loss_star,
        loss_saddle: loss_star + bar.linear,
        h_star: outliers.h_star,
        outliers: outliers.n,
        escape_eigenvalue: saddle.as_ref().map(|s| s.escape_eigenvalue),
        det_minimum_restricted: det_restricted,
        det_saddle_restricted: saddle.as_ref().map(|s| restricted_determinant(&model.hessian(&s.theta), &outliers.vectors)),
        det_minimum: values.iter().product(),
        det_saddle: saddle.as_ref().map(|s| s.hessian_eigenvalues.iter().product()),
        escape_curvature_at_minimum: saddle.as_ref().map(|s| {
            let mut hv = vec![0.0; p];
            linalg::symv(&hessian_star, &s.escape_direction, &mut hv);
            linalg::dot(&s.escape_direction, &hv)
        }),
    });
    let no_saddle = "needs a saddle (none was found or searched)";
    let no_noise = "needs the learning rate and batch size (isotropic noise has neither)";
    let with = |f: &dyn Fn(&BarrierGeometry, f64, usize) -> Option<f64>| -> Option<f64> {
        let (lr, b) = noise_params?;
        f(geometry.as_ref()?, lr, b)
    };
    let missing = |needs_noise: bool| if needs_noise && noise_params.is_none() { no_noise } else { no_saddle };
    let kramers_diffusion = temperature.or(noise_params.map(|(lr, b)| lr * loss_star * outliers.h_star / b as f64));
    let kramers = geometry.as_ref().zip(kramers_diffusion).and_then(|(g, d)| rates::kramers_isotropic_rate(g, d));
    let mut kramers_prediction = Prediction::from_rate(kramers, time_per_step, no_saddle);
    if temperature.is_none() && kramers.is_some() {
        kramers_prediction.note = Some("D = η L* h*/B, the paper's noise at the minimum made isotropic".into());
    }
    let predictions = Predictions {
        log_barrier: Prediction::from_rate(with(&rates::log_barrier_rate), time_per_step, missing(true)),
        log_barrier_exponent: beta.map(|b| rates::log_barrier_exponent(b, outliers.n)),
        linear_barrier: Prediction::from_rate(with(&rates::linear_barrier_rate), time_per_step, missing(true)),
        xie: Prediction::from_rate(with(&|g, lr, b| rates::xie_rate(g, lr, b, landscape.xie_path_factor)), time_per_step, missing(true)),
        xie_path_factor: landscape.xie_path_factor,
        kramers_isotropic: kramers_prediction,
        kramers_diffusion,
        quadrature: quadrature(prepared, saddle.as_ref(), time_per_step),
    };
    LandscapeReport {
        version: crate::VERSION.into(),
        config: prepared.config.clone(),
        minimum: MinimumReport { theta: theta_star.clone(), loss: loss_star, hessian_eigenvalues: values, outliers, det_restricted },
        saddle,
        saddle_error,
        barrier,
        beta,
        geometry,
        predictions,
        critical_dimension: beta.map(rates::critical_dimension),
        stationary_exponent: beta.map(crate::theory::stationary::stationary_exponent),
    }
}

fn find_saddle(prepared: &Prepared) -> crate::Result<Option<Saddle>> {
    let model = prepared.model.as_model();
    let p = model.dim();
    let theta_star = &prepared.start.theta;
    let spec = &prepared.spec.landscape;
    match spec.saddle {
        SaddleMethod::None => Ok(None),
        SaddleMethod::Dimer => {
            // Default direction: toward the exit.
            let direction = spec.direction.clone().unwrap_or_else(|| match &prepared.exit {
                Exit::Coordinate { axis, threshold } => {
                    let mut d = vec![0.0; p];
                    d[*axis] = if *threshold >= theta_star[*axis] { 1.0 } else { -1.0 };
                    d
                }
                Exit::Hyperplane { normal, .. } => normal.clone(),
                _ => {
                    let mut d = vec![0.0; p];
                    d[0] = 1.0;
                    d
                }
            });
            dimer(model, theta_star, Some(&direction), SaddleOptions::default()).map(Some)
        }
        SaddleMethod::Neb => {
            let target = spec.target.clone().unwrap_or_else(|| {
                let mut t = theta_star.clone();
                t[0] = -t[0];
                t
            });
            let other = minimize(model, &target, MinimizeOptions::default())?;
            if linalg::norm(&other.theta.iter().zip(theta_star).map(|(a, b)| a - b).collect::<Vec<_>>()) < 1e-6 {
                return Err(crate::Error::Numerical(format!(
                    "neb: minimising from landscape.target = {target:?} returned to θ* itself; give a target in another basin"
                )));
            }
            let options = SaddleOptions { images: spec.images, spring: spec.spring, ..Default::default() };
            nudged_elastic_band(model, theta_star, &other.theta, options).map(Some)
        }
    }
}

/// The exact 1-D mean first-passage time from θ* to the exit point (a coordinate exit; else a
/// point as far past the saddle as θ* is before it), with the diffusion D(θ) of the run's noise
/// model: `paper`/`time-changed` ηL(θ)h*/B, `frozen` ηL*h*/B, `isotropic` the temperature,
/// `exact` and SGD η·factor·C(θ)/(2B) from the data's gradient covariance.
fn quadrature(prepared: &Prepared, saddle: Option<&Saddle>, time_per_step: f64) -> Option<Prediction> {
    let model = prepared.model.as_model();
    if model.dim() != 1 {
        return None;
    }
    let theta_star = prepared.start.theta[0];
    let target = match (&prepared.exit, saddle) {
        (Exit::Coordinate { threshold, .. }, _) => *threshold,
        (_, Some(s)) => 2.0 * s.theta[0] - theta_star,
        _ => return None,
    };
    let h_star = prepared.start.hessian_eigenvalues[0];
    let loss_star = prepared.start.loss;
    let drift = |x: f64| {
        let mut g = [0.0];
        model.loss_and_gradient(&[x], &mut g);
        -g[0]
    };
    let exact = |lr: f64, b: usize, sampling: Sampling| -> Option<Box<dyn Fn(f64) -> f64 + '_>> {
        let data = model.as_data_model()?;
        let n = data.samples();
        let factor = match sampling {
            Sampling::WithReplacement => 1.0,
            Sampling::WithoutReplacement if n > 1 => (n - b) as f64 / (n - 1) as f64,
            Sampling::WithoutReplacement => 0.0,
        };
        Some(Box::new(move |x: f64| lr * factor * data.gradient_covariance(&[x])[0] / (2.0 * b as f64)))
    };
    let (diffusion, name): (Box<dyn Fn(f64) -> f64 + '_>, &str) = match &prepared.spec.dynamics {
        DynamicsSpec::Sgd { lr, batch_size, sampling } => {
            (exact(*lr, *batch_size, *sampling)?, "exact minibatch covariance (the SDE of this SGD)")
        }
        DynamicsSpec::Sde { noise, lr, batch_size, sampling, temperature, .. } => match noise {
            NoiseKind::Exact => (exact(*lr, *batch_size, *sampling)?, "exact minibatch covariance"),
            NoiseKind::Paper | NoiseKind::TimeChanged => {
                let (lr, b) = (*lr, *batch_size as f64);
                (Box::new(move |x: f64| lr * model.loss(&[x]) * h_star / b), "paper: D = η L(θ) h*/B")
            }
            NoiseKind::Frozen => {
                let d = lr * loss_star * h_star / *batch_size as f64;
                (Box::new(move |_| d), "frozen: D = η L* h*/B")
            }
            NoiseKind::Isotropic => {
                let t = *temperature;
                (Box::new(move |_| t), "isotropic: D = temperature")
            }
        },
    };
    let t = mean_first_passage_time_auto(drift, diffusion, theta_star, target, 20_000);
    Some(Prediction {
        rate_per_time: Some(1.0 / t),
        rate_per_step: Some(time_per_step / t),
        mean_time: Some(t),
        note: Some(format!("mean first-passage time from θ* to θ = {target} with {name}")),
    })
}

/// Measured rate over predicted rate, per theory (`run`'s `comparison` block).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Comparison {
    /// Measured / log-barrier.
    pub log_barrier: Option<f64>,
    /// Measured / linear-barrier.
    pub linear_barrier: Option<f64>,
    /// Measured / Xie et al.
    pub xie: Option<f64>,
    /// Measured / isotropic Kramers.
    pub kramers_isotropic: Option<f64>,
    /// Measured / quadrature.
    pub quadrature: Option<f64>,
}

/// Ratios of the measured rate per unit time to each prediction.
pub fn compare(measured: &EscapeStatistics, predictions: &Predictions) -> Comparison {
    let m = measured.rate_per_time.estimate;
    let ratio = |p: &Prediction| p.rate_per_time.map(|r| m / r);
    Comparison {
        log_barrier: ratio(&predictions.log_barrier),
        linear_barrier: ratio(&predictions.linear_barrier),
        xie: ratio(&predictions.xie),
        kramers_isotropic: ratio(&predictions.kramers_isotropic),
        quadrature: predictions.quadrature.as_ref().and_then(ratio),
    }
}
