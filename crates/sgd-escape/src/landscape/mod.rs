//! Landscape analysis: minimisation ([`minimize`]), curvature operators ([`curvature`]),
//! spectra ([`spectrum`]), outlier eigenvalues ([`outliers`]), saddle search ([`saddle`]) and the
//! minimum-energy path over the saddle ([`path`]).

pub mod curvature;
mod minimize;
pub mod outliers;
pub mod path;
pub mod saddle;
pub mod spectrum;

pub use minimize::{MinimizeOptions, Minimum, minimize};
