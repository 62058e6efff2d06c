//! Models built from a configuration: one enum over the concrete model types, so that the
//! replica loops are compiled for each model, with accessors for what each model can do.

use crate::data::Dataset;
use crate::error::Result;
use crate::model::{CurveMap, DataModel, DoubleWell, FeatureModel, GaussNewtonProduct, GradientNoise, HessianProduct, LinearMap, Mlp};

/// A model built from `[model]` (and `[data]`).
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
            $crate::experiment::build::BuiltModel::DoubleWell($m) => $body,
            $crate::experiment::build::BuiltModel::LinearRegression($m) => $body,
            $crate::experiment::build::BuiltModel::Curve($m) => $body,
            $crate::experiment::build::BuiltModel::Mlp($m) => $body,
        }
    };
}
pub(crate) use with_model;

/// Runs `$body` with `$m` bound to the concrete data-built model inside a [`BuiltModel`], or
/// evaluates `$analytic` for an analytic one.
macro_rules! with_data_model {
    ($built:expr, $m:ident => $body:expr, analytic => $analytic:expr) => {
        match $built {
            $crate::experiment::build::BuiltModel::DoubleWell(_) => $analytic,
            $crate::experiment::build::BuiltModel::LinearRegression($m) => $body,
            $crate::experiment::build::BuiltModel::Curve($m) => $body,
            $crate::experiment::build::BuiltModel::Mlp($m) => $body,
        }
    };
}
pub(crate) use with_data_model;

impl BuiltModel {
    /// The double well `L = ε + (θ₁² − 1)²/4 + (k/2) Σ_{i≥2} θ_i²`.
    pub fn double_well(epsilon: f64, dim: usize, stiffness: f64) -> Self {
        BuiltModel::DoubleWell(DoubleWell { epsilon, dim, stiffness })
    }

    /// Linear regression `f = θᵀx` on `data`.
    pub fn linear_regression(data: Dataset) -> Result<Self> {
        let dim = data.features;
        Ok(BuiltModel::LinearRegression(FeatureModel::new(LinearMap { dim }, data)?))
    }

    /// The curve model on its generated data: x ∈ R^{dim+1} standard normal, y = tilt·x₁ + σξ.
    #[allow(clippy::too_many_arguments)]
    pub fn curve(dim: usize, s: f64, kappa: f64, stiffness: f64, noise: f64, tilt: f64, samples: usize, data_seed: u64) -> Result<Self> {
        let data = Dataset::gaussian(samples, dim + 1, data_seed, |x, xi| tilt * x[0] + noise * xi);
        Ok(BuiltModel::Curve(FeatureModel::new(CurveMap { dim, s, kappa, stiffness }, data)?))
    }

    /// The model with its curvature (every built model has exact Hessian-vector products).
    pub fn as_model(&self) -> &dyn HessianProduct {
        with_model!(self, m => m)
    }

    /// The data-built view (per-sample residuals), if the model has data.
    pub fn data_model(&self) -> Option<&dyn DataModel> {
        with_data_model!(self, m => Some(m), analytic => None)
    }

    /// The per-sample gradient covariance, if the model has data (the exact noise).
    pub fn gradient_noise(&self) -> Option<&dyn GradientNoise> {
        with_data_model!(self, m => Some(m), analytic => None)
    }

    /// Gauss–Newton products, if the model has data.
    pub fn gauss_newton(&self) -> Option<&dyn GaussNewtonProduct> {
        with_data_model!(self, m => Some(m), analytic => None)
    }

    /// Number of samples N, if the model has data.
    pub fn samples(&self) -> Option<usize> {
        self.data_model().map(|d| d.samples())
    }
}
