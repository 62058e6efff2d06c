//! The `[exit]` section resolved into the criterion the loops check ([`Exit`]): its values
//! against P, then at the start point θ* (a loss-above threshold from L*, the basin's θ* and
//! quench step, the distance's θ* and metric), the distance the adaptive solver measures, and
//! the checks of the exit against the dynamics and the estimator.

use super::analysis::LandscapeAnalysis;
use super::config::values::Positive;
use super::config::{Config, DistanceMetric, ExitConfig};
use super::prepare::{Dynamics, StartPoint};
use super::start::check_vector;
use crate::error::{Error, Result};
use crate::escape::Exit;
use crate::landscape::saddle::Saddle;
use crate::linalg;

/// The exit at the start point θ*: a loss-above threshold is its ratio times L*; the basin and
/// distance exits are centred on θ*, the quench step defaults to 1/λmax(H*) and the distance's
/// metric is the positive part of H(θ*) (a saddle's negative curvature adds no distance).
pub(super) fn exit_at_start(exit: Exit, config: &mut Config, start: &StartPoint) -> Result<Exit> {
    Ok(match exit {
        Exit::LossAbove { threshold: ratio } => Exit::LossAbove { threshold: ratio * start.loss },
        Exit::Basin { tolerance, quench_lr, quench_steps, .. } => {
            let quench_lr = if quench_lr > 0.0 { quench_lr } else { default_quench_lr(config, start)? };
            Exit::Basin { center: start.theta.clone(), tolerance, quench_lr, quench_steps }
        }
        Exit::Distance { radius, metric, .. } => Exit::Distance {
            center: start.theta.clone(),
            radius,
            metric: metric.map(|_| linalg::positive_part_from_eigen(&start.hessian_eigenvalues, &start.hessian_eigenvectors)),
        },
        other => other,
    })
}

/// The distance from θ* to the exit boundary (coordinate or hyperplane); for a loss-above exit
/// the distance to the saddle, or without one the distance to the exit level along the
/// stiffest direction of the quadratic model, √(2(threshold − L*)/λmax(H*)) (the nearest point
/// of its level set); `None` when there is none of these.
pub(super) fn distance_to_exit(start: &StartPoint, exit: &Exit, landscape: &LandscapeAnalysis) -> Option<f64> {
    let theta = &start.theta;
    match exit {
        Exit::Coordinate { axis, threshold } => Some((threshold - theta[*axis]).abs()),
        Exit::Hyperplane { normal, offset } => Some((offset - linalg::dot(normal, theta)).abs() / linalg::norm(normal)),
        Exit::LossAbove { threshold } => match &landscape.saddle {
            Some(s) => Some(s.theta.iter().zip(theta).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt()),
            None => {
                let stiffest = start.hessian_eigenvalues.last().copied().unwrap_or(0.0);
                let rise = threshold - start.loss;
                (stiffest > 0.0 && rise > 0.0).then(|| (2.0 * rise / stiffest).sqrt())
            }
        },
        Exit::Basin { .. } => landscape.saddle.as_ref().map(|s| linalg::distance(&s.theta, theta)),
        // The nearest point of the sphere, or of the ellipsoid (along the stiffest direction).
        Exit::Distance { radius, metric: None, .. } => Some(*radius),
        Exit::Distance { radius, metric: Some(_), .. } => {
            let stiffest = start.hessian_eigenvalues.last().copied().unwrap_or(0.0);
            (stiffest > 0.0).then(|| radius / stiffest.sqrt())
        }
        Exit::Never => None,
    }
}

/// The quench's default step size, 1/λmax(H(θ*)) (stable gradient descent on the quadratic
/// model), written into the configuration.
fn default_quench_lr(config: &mut Config, start: &StartPoint) -> Result<f64> {
    let stiffest = start.hessian_eigenvalues.last().copied().unwrap_or(0.0);
    if !(stiffest.is_finite() && stiffest > 0.0) {
        return Err(Error::invalid(
            "exit.quench_lr",
            "(missing)",
            format!("the default 1/λmax(H(θ*)) needs λmax > 0, and it is {stiffest:e}: give the step size"),
        ));
    }
    let lr = 1.0 / stiffest;
    if let ExitConfig::Basin(b) = &mut config.exit {
        b.quench_lr = Some(Positive::new(lr).map_err(|e| Error::invalid("exit.quench_lr", lr, e))?);
    }
    Ok(lr)
}

/// Checks the exit against the estimator (splitting needs a boundary) and `check_every`
/// against the dynamics, and warns what checking every k steps misses.
pub(super) fn check_exit_schedule(config: &Config, dynamics: &Dynamics, warnings: &mut Vec<String>) -> Result<()> {
    let k = config.exit.check_every();
    if let (ExitConfig::Basin(_) | ExitConfig::Distance(_), Some(_)) = (&config.exit, config.ams()) {
        return Err(Error::invalid(
            "exit.kind",
            serde_json::to_value(&config.exit).ok().and_then(|v| v.get("kind").cloned()).map_or_else(String::new, |k| k.to_string()),
            "splitting needs an exit boundary for its reaction coordinate: use a coordinate, hyperplane or loss-above exit",
        ));
    }
    if k == 1 {
        return Ok(());
    }
    if config.ams().is_some() {
        return Err(Error::invalid(
            "exit.check_every",
            k,
            "splitting evaluates the exit and its reaction coordinate at every step: remove the key, or use brute force",
        ));
    }
    if let (Dynamics::Sde { bridge: true, .. }, ExitConfig::LossAbove(_)) = (dynamics, &config.exit) {
        return Err(Error::invalid(
            "exit.check_every",
            k,
            "the Brownian bridge (dynamics.solver.bridge = true, the default of the adaptive and lamperti solvers) detects exits between steps and needs the loss at every step: set dynamics.solver.bridge = false, or remove the key",
        ));
    }
    warnings.push(match config.exit {
        ExitConfig::Basin(_) => format!(
            "exit.check_every = {k}: the state is quenched every {k} steps and an escape is replayed to the first step after the previous quench whose quench ends in another basin; a visit to another basin that begins and ends between two quenches is not seen"
        ),
        _ => format!(
            "exit.check_every = {k}: the exit is evaluated every {k} steps and a crossing is replayed to its first step after the previous check; an excursion past the exit that begins and ends between two checks is not seen, so escape times can be later than with the exit checked at every step (which the exact-chain predictions assume)"
        ),
    });
    Ok(())
}

/// The exit criterion; a loss-above exit holds its ratio until L* is known.
pub(super) fn resolve_exit(exit: &ExitConfig, p: usize) -> Result<Exit> {
    Ok(match exit {
        // The plane is known once the saddle is: a placeholder until then ([`saddle_plane`]).
        ExitConfig::Never(_) | ExitConfig::SaddlePlane(_) => Exit::Never,
        ExitConfig::Coordinate(c) => {
            if c.axis >= p {
                return Err(Error::invalid("exit.axis", c.axis, format!("must be < the number of parameters P = {p}")));
            }
            Exit::Coordinate { axis: c.axis, threshold: c.threshold.get() }
        }
        ExitConfig::LossAbove(l) => Exit::LossAbove { threshold: l.ratio.get() },
        // θ* and the default step are filled in once the start point is known.
        // θ* and the metric are filled in once the start point is known.
        ExitConfig::Distance(d) => {
            Exit::Distance { center: Vec::new(), radius: d.radius.get(), metric: (d.metric == DistanceMetric::Hessian).then(Vec::new) }
        }
        ExitConfig::Basin(b) => Exit::Basin {
            center: Vec::new(),
            tolerance: b.tolerance.get(),
            quench_lr: b.quench_lr.map_or(0.0, |l| l.get()),
            quench_steps: b.quench_steps.get() as u64,
        },
        ExitConfig::Hyperplane(h) => {
            let normal = check_vector("exit.normal", &h.normal, p, true)?;
            let point = match &h.point {
                Some(point) => check_vector("exit.point", point, p, false)?,
                None => vec![0.0; p],
            };
            let offset = linalg::dot(&normal, &point);
            Exit::Hyperplane { normal, offset }
        }
    })
}

/// The exit of `kind = "saddle-plane"`: the hyperplane through θˢ + beyond·e orthogonal to the
/// saddle's escape direction e, oriented so that θ* lies on the near side (e·(θˢ − θ*) > 0).
/// `found` is the saddle search's result; without a saddle the exit is refused, naming
/// `exit.kind`. Returns the plane and the saddle it passes through.
pub(super) fn saddle_plane(beyond: f64, start: &StartPoint, found: Result<Option<Saddle>>) -> Result<(Exit, Saddle)> {
    let saddle = match found {
        Ok(Some(saddle)) => saddle,
        Ok(None) => return Err(Error::invalid("exit.kind", "\"saddle-plane\"", "needs a saddle, and landscape.saddle is \"none\"")),
        Err(e) => return Err(Error::invalid("exit.kind", "\"saddle-plane\"", format!("needs a saddle, and the search failed: {e}"))),
    };
    let toward: Vec<f64> = saddle.theta.iter().zip(&start.theta).map(|(s, m)| s - m).collect();
    let e = &saddle.escape_direction;
    let sign = if linalg::dot(e, &toward) < 0.0 { -1.0 } else { 1.0 };
    let normal: Vec<f64> = e.iter().map(|x| sign * x / linalg::norm(e)).collect();
    let offset = linalg::dot(&normal, &saddle.theta) + beyond;
    Ok((Exit::Hyperplane { normal, offset }, saddle))
}
