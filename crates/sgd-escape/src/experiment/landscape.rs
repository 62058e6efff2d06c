//! The `landscape` experiment: prepare a configuration and write its landscape analysis
//! (minimum, outliers, saddle, barrier, every theory's prediction) as `landscape.json`, without
//! simulating.

use super::analysis::LandscapeAnalysis;
use super::config::Config;
use super::prepare::{DataReport, Prepared, prepare};
use crate::error::{Error, Result};
use serde::Serialize;
use std::path::Path;

/// What `landscape.json` holds.
#[derive(Clone, Debug, Serialize)]
pub struct LandscapeReport {
    /// sgd-escape version.
    pub version: String,
    /// The configuration, every default written out.
    pub config: Config,
    /// The data of a data-built model: size and any standardisation applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<DataReport>,
    /// The analysis.
    #[serde(flatten)]
    pub analysis: LandscapeAnalysis,
}

impl LandscapeReport {
    /// The report of a prepared run.
    pub fn new(prepared: &Prepared) -> Self {
        LandscapeReport {
            version: crate::VERSION.into(),
            config: prepared.config.clone(),
            data: prepared.data.clone(),
            analysis: prepared.landscape.clone(),
        }
    }
}

/// Prepares `config` (relative paths against `base_dir`) and writes `out_dir/landscape.json`.
pub fn landscape_in_dir(config: &Config, base_dir: &Path, out_dir: &Path) -> Result<LandscapeReport> {
    let prepared = prepare(config, base_dir)?;
    let report = LandscapeReport::new(&prepared);
    std::fs::create_dir_all(out_dir).map_err(|source| Error::Io {
        action: "cannot create output folder",
        path: out_dir.to_path_buf(),
        source,
    })?;
    let mut json = serde_json::to_string_pretty(&report).expect("report serialises");
    json.push('\n');
    crate::report::atomic_write(&out_dir.join("landscape.json"), json.as_bytes())?;
    Ok(report)
}
