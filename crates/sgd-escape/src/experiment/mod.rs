//! Experiments: the configuration schema ([`config`]) and the runner that turns a
//! configuration into a model, a minimum, dynamics, an ensemble and statistics ([`run`]).

pub mod config;
pub mod landscape;
pub mod reproduce;
pub mod run;

pub use config::{Config, Spec};
pub use run::{Prepared, Summary, prepare, summarize};
