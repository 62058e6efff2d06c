//! Experiments: the configuration schema ([`config`]) and the runner that turns a
//! configuration into a model, a minimum, dynamics, an ensemble and statistics ([`run`]);
//! MLP training with noise logging ([`train`]); the landscape stage ([`landscape`]); and the
//! reproductions ([`reproduce`]).

pub mod config;
pub mod landscape;
pub mod reproduce;
pub mod run;
pub mod train;

pub use config::{Config, Spec};
pub use run::{Prepared, Summary, prepare, summarize};
