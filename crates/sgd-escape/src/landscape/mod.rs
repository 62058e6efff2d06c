//! Landscape analysis: minimisation ([`minimize`]), curvature operators ([`curvature`]),
//! spectra ([`spectrum`]), outlier eigenvalues ([`outliers`]) and saddle search ([`saddle`]).

pub mod curvature;
mod minimize;
pub mod outliers;
pub mod saddle;
pub mod spectrum;

pub use minimize::{MinimizeOptions, Minimum, minimize};
