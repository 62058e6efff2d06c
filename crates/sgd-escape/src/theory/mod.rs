//! Theory: predictions the measurements are compared with. [`rates`] holds the closed-form
//! escape rates of each competing theory; [`mfpt`] the exact one-dimensional mean first-passage
//! time quadrature (docs/theory.md eq. 20), the ground truth for 1-D tests under any noise model;
//! [`stationary`] the stationary exponent and the exact discrete-time SGD variance.

pub mod chain;
pub mod mfpt;
pub mod rates;
pub mod stationary;

pub use mfpt::{mean_first_passage_time, mean_first_passage_time_auto};
