//! `[landscape]` checked against the model: the saddle search's default for the exit, the
//! points, directions and parameter files each search takes, and the outlier count.

use super::config::{Config, EigenvectorFollowingConfig, ExitConfig, ModelConfig, NoSaddleKeys, SaddleConfig, values};
use super::start::check_vector;
use crate::error::{Error, Result};

/// Most images of a nudged elastic band (a band of P·images values relaxed by many gradient
/// steps; beyond a few hundred images nothing is gained).
const MAX_NEB_IMAGES: usize = 1000;

/// Checks `[landscape]` against P and writes the default saddle search into `config`.
pub(super) fn resolve_landscape(config: &mut Config, p: usize) -> Result<()> {
    let default = match config.exit {
        ExitConfig::Coordinate(_)
        | ExitConfig::Hyperplane(_)
        | ExitConfig::Basin(_)
        | ExitConfig::Distance(_)
        | ExitConfig::SaddlePlane(_) => SaddleConfig::EigenvectorFollowing(EigenvectorFollowingConfig::default()),
        ExitConfig::LossAbove(_) | ExitConfig::Never(_) => SaddleConfig::None(NoSaddleKeys {}),
    };
    let network = matches!(config.model, ModelConfig::Mlp(_));
    let analytic_pair = matches!(config.model, ModelConfig::DoubleWell(_) | ModelConfig::Curve(_));
    let saddle = config.landscape.saddle.get_or_insert(default);
    match saddle {
        SaddleConfig::EigenvectorFollowing(e) => {
            if let Some(d) = &e.direction {
                check_vector("landscape.saddle.direction", d, p, true)?;
            }
        }
        SaddleConfig::MinMode(m) => PointOrFile {
            vector: ("landscape.saddle.direction", m.direction.as_deref()),
            file: ("landscape.saddle.target_parameters", m.target_parameters.is_some()),
            direction: true,
            vector_on_networks: true,
            missing: network.then_some("required for a min-mode search on a network: parameters to leave θ* toward (or give direction)"),
        }
        .check(network, p)?,
        SaddleConfig::Neb(neb) if neb.images.get() > MAX_NEB_IMAGES => {
            return Err(Error::invalid("landscape.saddle.images", neb.images, format!("must be between 3 and {MAX_NEB_IMAGES}")));
        }
        SaddleConfig::Neb(neb) => PointOrFile {
            vector: ("landscape.saddle.target", neb.target.as_deref()),
            file: ("landscape.saddle.target_parameters", neb.target_parameters.is_some()),
            direction: false,
            vector_on_networks: false,
            missing: (!analytic_pair)
                .then_some("required for a NEB search on this model: the second minimum (or a point from which it is found)"),
        }
        .check(network, p)?,
        SaddleConfig::Given(given) => PointOrFile {
            vector: ("landscape.saddle.point", given.point.as_deref()),
            file: ("landscape.saddle.parameters", given.parameters.is_some()),
            direction: false,
            vector_on_networks: true,
            missing: Some("required for kind = \"given\": the saddle's parameters"),
        }
        .check(network, p)?,
        SaddleConfig::None(_) => {}
    }
    if let Some(n) = config.landscape.outliers
        && n.get() > p
    {
        return Err(Error::invalid("landscape.outliers", n, format!("must be between 1 and the number of parameters P = {p}")));
    }
    Ok(())
}

/// What a saddle search is given to start from or aim at: a vector of P entries, or for
/// networks a parameter file (`train`'s params.json), never both.
struct PointOrFile<'a> {
    /// The vector's key and value.
    vector: (&'static str, Option<&'a [values::Finite]>),
    /// The file's key and whether it is given.
    file: (&'static str, bool),
    /// Whether the vector is a direction (which must not be zero).
    direction: bool,
    /// Whether networks may give the vector instead of a file.
    vector_on_networks: bool,
    /// The error when neither is given, or `None` when both may be left out.
    missing: Option<&'static str>,
}

impl PointOrFile<'_> {
    fn check(&self, network: bool, p: usize) -> Result<()> {
        let ((vector_key, vector), (file_key, file)) = (self.vector, self.file);
        let name = |key: &'static str| key.rsplit('.').next().unwrap_or(key);
        match (vector, file) {
            (Some(_), true) => {
                Err(Error::invalid(file_key, "(present)", format!("give {} or {}, not both", name(vector_key), name(file_key))))
            }
            (Some(_), false) if network && !self.vector_on_networks => {
                Err(Error::invalid(vector_key, "(present)", format!("not a key for model.kind = \"mlp\" (use {file_key})")))
            }
            (Some(v), false) => check_vector(vector_key, v, p, self.direction).map(drop),
            (None, true) if !network => {
                Err(Error::invalid(file_key, "(present)", format!("only for model.kind = \"mlp\" (use {vector_key})")))
            }
            (None, false) => match self.missing {
                Some(message) => Err(Error::invalid(if network { file_key } else { vector_key }, "(missing)", message)),
                None => Ok(()),
            },
            (None, true) => Ok(()),
        }
    }
}
