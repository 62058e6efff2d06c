//! `sgd-escape`: predict and measure how stochastic gradient descent escapes local minima of
//! mean-square losses.
//!
//! Implements the theory of T. Mori, L. Ziyin, K. Liu, M. Ueda, "Power-Law Escape Rate of SGD"
//! (ICML 2022). Data flows one way through the modules:
//!
//! config ([`experiment`]) → data ([`data`]) → model ([`model`]) → landscape analysis ([`landscape`]) →
//! dynamics ([`dynamics`]) run as replica ensembles with exit detection ([`escape`]) →
//! statistics ([`stats`]) → report ([`report`]); [`theory`] holds the closed-form and
//! quadrature predictions the measurements are compared with.
//!
//! Units: time `t` is the paper's continuous time, `t = η · steps` for SGD and `t = dt · steps`
//! for SDEs. Rates are per unit `t` unless a name says `per_step`.

pub mod cancel;
pub mod data;
pub mod dynamics;
pub mod error;
pub mod escape;
pub mod experiment;
pub mod landscape;
pub mod limits;
pub mod linalg;
pub mod model;
pub mod report;
pub mod stats;
pub mod theory;

pub use error::{Error, Result};

/// The crate version, recorded in every output.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
