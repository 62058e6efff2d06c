//! Landscape analysis. So far: minimisation ([`minimize`]); saddle search, spectra and
//! outlier detection come next.

mod minimize;

pub use minimize::{MinimizeOptions, Minimum, minimize};
