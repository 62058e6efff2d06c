//! Landscape analysis: minimisation ([`minimize`], dense; [`minimize_lbfgs`], matrix-free), curvature operators ([`curvature`]),
//! spectra ([`spectrum`]), outlier eigenvalues ([`outliers`]), saddle search ([`saddle`], and matrix-free
//! single-ended [`min_mode`]) and the
//! minimum-energy path over the saddle ([`path`]).

pub mod curvature;
mod lbfgs;
pub mod log_det;
pub mod min_mode;
mod minimize;
pub mod minres;
pub mod outliers;
pub mod path;
pub mod saddle;
pub mod spectrum;

pub use lbfgs::minimize_lbfgs;
pub use minimize::{MinimizeOptions, Minimum, minimize};
