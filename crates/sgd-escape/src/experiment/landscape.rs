//! The `landscape` experiment: prepare a configuration and write its landscape analysis
//! (minimum, outliers, saddle, barrier, every theory's prediction) as `landscape.json`, without
//! simulating.

use super::analysis::LandscapeAnalysis;
use super::config::Config;
use super::prepare::{DataReport, Prepared, prepare};
use super::run::config_fingerprint;
use crate::error::Result;
use crate::report::folder::{Claim, Existing, OutputFolder};
use crate::report::provenance::{InputFile, hash_inputs};
use serde::Serialize;
use std::path::Path;

/// What `landscape.json` holds.
#[derive(Clone, Debug, Serialize)]
pub struct LandscapeReport {
    /// sgd-escape version.
    pub version: String,
    /// The configuration, every default written out.
    pub config: Config,
    /// The input files read, with their SHA-256.
    pub inputs: Vec<InputFile>,
    /// The data of a data-built model: size and any standardisation applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<DataReport>,
    /// The analysis.
    #[serde(flatten)]
    pub analysis: LandscapeAnalysis,
}

impl LandscapeReport {
    /// The report of a prepared run.
    pub fn new(prepared: &Prepared, inputs: &[InputFile]) -> Self {
        LandscapeReport {
            version: crate::VERSION.into(),
            config: prepared.config.clone(),
            inputs: inputs.to_vec(),
            data: prepared.data.clone(),
            analysis: prepared.landscape.clone(),
        }
    }
}

/// Prepares `config` (relative paths against `base_dir`) and writes `out_dir/landscape.json`,
/// after claiming the folder (report::folder; a folder may hold `run` and `landscape` results
/// of one configuration side by side).
pub fn landscape_in_dir(config: &Config, base_dir: &Path, out_dir: &Path, existing: Existing) -> Result<LandscapeReport> {
    let prepared = prepare(config, base_dir)?;
    let inputs = hash_inputs(&prepared.config.input_files(base_dir))?;
    let claim = Claim {
        command: "landscape",
        config_fingerprint: config_fingerprint(&prepared.config),
        inputs: &inputs,
        outputs: &["landscape.json"],
        existing,
    };
    let mut folder = OutputFolder::claim(out_dir, claim)?;
    let report = LandscapeReport::new(&prepared, &inputs);
    crate::report::write_json(&out_dir.join("landscape.json"), &report)?;
    folder.complete()?;
    Ok(report)
}
