//! Theory: predictions the measurements are compared with. [`mfpt`] holds the exact
//! one-dimensional mean first-passage time quadrature (THEORY.md §4), the ground truth for
//! 1-D tests under any noise model.

pub mod mfpt;

pub use mfpt::mean_first_passage_time;
