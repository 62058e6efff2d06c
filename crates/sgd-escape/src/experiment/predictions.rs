//! Every theory's prediction for a run: the closed-form escape rates of the competing theories
//! applied to the landscape found, the exact one-dimensional quadrature with the run's own noise
//! model, and the comparison of a measured rate with each.

use super::analysis::{AnalysisInput, time_per_step_and_minibatch};
use super::config::{DynamicsConfig, NoiseConfig};
use crate::dynamics::Sampling;
use crate::landscape::outliers::Outliers;
use crate::landscape::saddle::Saddle;
use crate::stats::EscapeStatistics;
use crate::theory::mean_first_passage_time_auto;
use crate::theory::rates::{self, BarrierGeometry};
use serde::Serialize;

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
    let temperature = match input.dynamics {
        DynamicsConfig::Sde(s) => match &s.noise {
            NoiseConfig::Isotropic(i) => Some(i.temperature.get()),
            _ => None,
        },
        DynamicsConfig::Sgd(_) => None,
    };
    let xie_path_factor = input.landscape.xie_path_factor.get();
    let no_saddle = "needs a saddle (none was found or searched)";
    let no_noise = "needs the learning rate and batch size (isotropic noise has neither)";
    let with = |f: &dyn Fn(&BarrierGeometry, f64, usize) -> Option<f64>| -> Option<f64> {
        let (lr, b) = noise_params?;
        f(geometry?, lr, b)
    };
    let missing = |needs_noise: bool| if needs_noise && noise_params.is_none() { no_noise } else { no_saddle };
    let kramers_diffusion = temperature.or(noise_params.map(|(lr, b)| lr * loss_star * outliers.h_star / b as f64));
    let kramers = geometry.zip(kramers_diffusion).and_then(|(g, d)| rates::kramers_isotropic_rate(g, d));
    let mut kramers_prediction = Prediction::from_rate(kramers, time_per_step, no_saddle);
    if temperature.is_none() && kramers.is_some() {
        kramers_prediction.note = Some("D = η L* h*/B, the paper's noise at the minimum made isotropic".into());
    }
    Predictions {
        log_barrier: Prediction::from_rate(with(&rates::log_barrier_rate), time_per_step, missing(true)),
        log_barrier_exponent: beta.map(|b| rates::log_barrier_exponent(b, outliers.n)),
        linear_barrier: Prediction::from_rate(with(&rates::linear_barrier_rate), time_per_step, missing(true)),
        xie: Prediction::from_rate(with(&|g, lr, b| rates::xie_rate(g, lr, b, xie_path_factor)), time_per_step, missing(true)),
        xie_path_factor,
        kramers_isotropic: kramers_prediction,
        kramers_diffusion,
        quadrature: quadrature(input, saddle, time_per_step),
    }
}

/// The exact 1-D mean first-passage time from θ* to the exit point (a coordinate exit; else a
/// point as far past the saddle as θ* is before it), with the diffusion D(θ) of the run's noise
/// model: `paper`/`time-changed` ηL(θ)h*/B, `frozen` ηL*h*/B, `isotropic` the temperature,
/// `exact` and SGD η·f·C(θ)/(2B) from the data's gradient covariance (docs/theory.md eq. 20).
fn quadrature(input: &AnalysisInput<'_>, saddle: Option<&Saddle>, time_per_step: f64) -> Option<Prediction> {
    let model = input.model.as_model();
    if model.dim() != 1 {
        return None;
    }
    let theta_star = input.minimum.theta[0];
    let target = match (input.exit, saddle) {
        (crate::escape::Exit::Coordinate { threshold, .. }, _) => *threshold,
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
