//! `[start]`: where every replica starts (docs/config.md).

use super::values::Vector;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// `[start]`. Unset keys get their model's defaults when the run is prepared, and the echoed
/// configuration shows them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartConfig {
    /// The start of the minimisation (one entry per parameter); not for networks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub point: Option<Vector>,
    /// Networks only: a JSON file of start parameters (a bare array, or `train`'s params.json).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<PathBuf>,
    /// Whether to minimise from the start point and start the replicas at the minimum found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimize: Option<bool>,
}
