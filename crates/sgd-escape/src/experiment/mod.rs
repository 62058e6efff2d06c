//! Experiments, in the order data flows through them:
//!
//! [`config`] (the schema) → [`prepare`] (data, model, minimum, the Hessian decomposed once,
//! exit, noise, and the landscape [`analysis`] with every theory's [`predictions`]) →
//! [`simulate`] (the replica ensemble) → statistics ([`crate::stats`]) → report.
//!
//! The experiments themselves: [`run`] (an escape experiment, `summary.json`), [`landscape`]
//! (the analysis alone, `landscape.json`), [`train`] (MLP training with noise logging),
//! [`reproduce`] (the paper's experiments), and [`sweep`] (grids of `run`s, sharded and
//! merged). `run` and `landscape` share the stages above and do not depend on each other.

pub mod analysis;
pub mod build;
pub mod config;
pub mod exit;
pub mod landscape;
pub mod predictions;
pub mod prepare;
pub mod reproduce;
pub mod run;
mod saddle_config;
pub mod simulate;
pub mod spectrum;
pub mod splitting;
mod start;
pub mod sweep;
pub mod train;

pub use config::Config;
pub use prepare::{Prepared, prepare};
pub use run::{Summary, summarize};
