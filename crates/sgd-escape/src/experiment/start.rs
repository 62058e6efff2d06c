//! The start of every replica before minimisation: `start.point`, or for a network its
//! parameter file (`train`'s params.json) or Glorot initialisation; the NEB's second end of a
//! network, read the same way; and the length checks of vectors given in a configuration.

use super::build::BuiltModel;
use super::config::{Config, ModelConfig, SaddleConfig, values};
use crate::error::{Error, Result};
use std::path::Path;

/// The start point (before minimisation), with `[start]`'s defaults written into `config`.
pub(super) fn resolve_start(config: &mut Config, model: &BuiltModel, base_dir: &Path) -> Result<Vec<f64>> {
    let p = model.as_model().dim();
    let start = &mut config.start;
    if let BuiltModel::Mlp(mlp) = model {
        // A network starts from a parameter file (e.g. `train`'s params.json) or its Glorot
        // initialisation; listing P numbers inline is not supported.
        if start.point.is_some() {
            return Err(Error::invalid(
                "start.point",
                "(present)",
                "not a key for model.kind = \"mlp\" (use start.parameters or model.init_seed)",
            ));
        }
        start.minimize.get_or_insert(false);
        let ModelConfig::Mlp(m) = &config.model else { unreachable!("an MLP is built from an mlp section") };
        return match &start.parameters {
            Some(path) => {
                let resolved = if path.is_absolute() { path.clone() } else { base_dir.join(path) };
                read_parameters(&resolved, p).map_err(|message| Error::invalid("start.parameters", path.display(), message))
            }
            None => Ok(mlp.glorot(m.init_seed)),
        };
    }
    if start.parameters.is_some() {
        return Err(Error::invalid("start.parameters", "(present)", "only for model.kind = \"mlp\""));
    }
    let point = match &start.point {
        Some(point) => values::numbers(point),
        None => {
            let mut v = vec![0.0; p];
            if !matches!(model, BuiltModel::LinearRegression(_)) {
                v[0] = -1.0;
            }
            start.point = Some(v.iter().map(|x| values::Finite::new(*x).expect("finite")).collect());
            v
        }
    };
    if point.len() != p {
        return Err(Error::invalid(
            "start.point",
            format!("{point:?}"),
            format!("must have {p} entries (one per parameter), not {}", point.len()),
        ));
    }
    start.minimize.get_or_insert(true);
    Ok(point)
}

/// Reads P parameters from a JSON file: a bare array, or an object with a `theta` array (as
/// `train` writes `params.json`).
fn read_parameters(path: &Path, p: usize) -> std::result::Result<Vec<f64>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
    let array =
        value.get("theta").unwrap_or(&value).as_array().ok_or_else(|| format!("{} holds no array of parameters", path.display()))?;
    let theta: Vec<f64> = array
        .iter()
        .map(|v| v.as_f64().filter(|x| x.is_finite()))
        .collect::<Option<_>>()
        .ok_or_else(|| format!("{}: every parameter must be a finite number", path.display()))?;
    if theta.len() != p {
        return Err(format!("{} has {} parameters; this network has P = {p}", path.display(), theta.len()));
    }
    Ok(theta)
}

/// Checks a vector's length against P (and, for a direction, that it is not zero).
pub(super) fn check_vector(key: &str, v: &[values::Finite], p: usize, nonzero: bool) -> Result<Vec<f64>> {
    let numbers = values::numbers(v);
    if numbers.len() != p {
        return Err(Error::invalid(
            key,
            format!("{numbers:?}"),
            format!("must have {p} entries (one per parameter), not {}", numbers.len()),
        ));
    }
    if nonzero && numbers.iter().all(|x| *x == 0.0) {
        return Err(Error::invalid(key, format!("{numbers:?}"), "must not be the zero vector"));
    }
    Ok(numbers)
}

/// The point `[landscape.saddle]` names: the NEB's second end, or the given saddle, read from
/// `target_parameters` / `parameters` for networks.
pub(super) fn resolve_saddle_point(config: &Config, p: usize, base_dir: &Path) -> Result<Option<Vec<f64>>> {
    let (point, file, key) = match &config.landscape.saddle {
        Some(SaddleConfig::Neb(neb)) => (&neb.target, &neb.target_parameters, "landscape.saddle.target_parameters"),
        Some(SaddleConfig::Given(given)) => (&given.point, &given.parameters, "landscape.saddle.parameters"),
        Some(SaddleConfig::MinMode(m)) => (&None, &m.target_parameters, "landscape.saddle.target_parameters"),
        _ => return Ok(None),
    };
    match (point, file) {
        (Some(t), _) => Ok(Some(values::numbers(t))),
        (None, Some(path)) => {
            let resolved = if path.is_absolute() { path.clone() } else { base_dir.join(path) };
            read_parameters(&resolved, p).map(Some).map_err(|message| Error::invalid(key, path.display(), message))
        }
        (None, None) => Ok(None),
    }
}
