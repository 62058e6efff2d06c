//! `fig3b`: first passage of SGD to a loss threshold (paper Fig. 3b). Linear regression in d
//! dimensions, x, y i.i.d. N(0, 1), N = 10⁴, B = 1, η = 0.1: the mean first time t_p = η·steps
//! at which L > c·L*, over a range of c, on several data sets (seeds) per d. The paper predicts
//! t_p ∝ c^(β + 1 − n/2) with n = d and β = B/(ηh*), a log-log slope of about 11 − d/2.
//!
//! Beside SGD (the 16-lane kernel) the page shows exact references:
//! - for d = 1, the exact mean exit time of the SGD chain itself at η = 0.1 on each data set
//!   ([`crate::theory::chain`], docs/theory.md eq. 22), which also reaches thresholds far beyond
//!   brute force;
//! - the continuum SDE with the paper's noise Σ = 2LH*/B and with the exact noise of Gaussian
//!   data Σ = (2LH + ∇L∇Lᵀ)/B, by the radial quadrature on the isotropic quadratic
//!   L = L* + h*r²/2 (eq. 21);
//! - Kesten's tail exponent α of the SGD recursion u' = (1 − ηx²)u + ηxe on each data set and
//!   for infinite Gaussian data (eq. 24): the stationary law has P(|u| > x) ∝ x^−α, so t_p grows
//!   as c^(α/2) once c is large, whatever β + 1 − n/2 is.
//!
//! For d = 1 it adds SGD and its exact chain on N = 10⁶ samples of the same law. Beyond brute
//! force, SGD itself is measured up to c = 10 by splitting ([`splitting`]).

mod render;
mod splitting;

use super::{ReproduceOptions, ReproduceReport, cached_point};
use crate::error::Result;
use crate::escape::lanes::run_feature_model_sgd;
use crate::escape::{EnsembleSpec, Exit};
use crate::landscape::curvature::Hessian;
use crate::landscape::minimize;
use crate::landscape::outliers::{OutlierRule, detect_outliers};
use crate::landscape::spectrum::dense_eigen;
use crate::model::{Dataset, FeatureModel, LinearMap, Model};
use crate::stats::{EscapeStatistics, LineFit, mean_and_stderr, weighted_line};
use crate::theory::chain::{ChainOptions, Domain, End, SgdKernel, mean_exit_time};
use crate::theory::mfpt::radial_mean_first_passage_time;
use crate::theory::rates::{beta, log_barrier_exponent};
use crate::theory::stationary::kesten_tail_exponent;
use render::render;
use serde::{Deserialize, Serialize};
use splitting::{AMS_CS, AMS_SIZES, AmsPoint, LARGE_SET_SIZE};

const NAME: &str = "fig3b";
const LR: f64 = 0.1;
const BATCH_SIZE: usize = 1;
const DIMS: [usize; 4] = [1, 2, 4, 8];
const SAMPLES: usize = 10_000;
const LARGE_SAMPLES: usize = 1_000_000;
/// Offset of the seeds of brute-force points beyond c = 3 (apart from the grid's own), and
/// their budget in replica-steps.
const EXTRA_SEEDS: u64 = 1 << 20;
const EXTRA_BUDGET: f64 = 1e10;
/// Data sets (seeds) per dimension.
const SEEDS: usize = 5;
/// Slopes are fitted over c ≥ this (β log c ≳ 4).
const FIT_FROM: f64 = 1.5;
/// Thresholds of the exact chain on N = 10⁶ samples (full mode), far beyond brute force.
const LARGE_CHAIN_CS: [f64; 11] = [1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 2.75, 3.0, 5.0, 7.0, 10.0];
/// Chains whose last grid refinement changed the mean by at most this are used for local
/// slopes (their error in a slope over [a, b] is at most 2 × this / ln(b/a)); the grid's own
/// target is 0.1%, which the largest thresholds on N = 10⁴ miss at the 6400-node cap.
const USABLE_CHAIN_CHANGE: f64 = 0.01;
/// Data sets whose one-step reach from θ* stays below this threshold are the ones where
/// single jumps do not shape t_p over the fitted range.
const JUMP_FREE_BELOW: f64 = 1.75;

/// A data set: dimension, size and seed.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
struct Set {
    dim: usize,
    samples: usize,
    data_seed: u64,
}

/// One brute-force (data set, c) point.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Point {
    set: Set,
    c: f64,
    replicas: usize,
    seed: u64,
    /// Mean t_p ± SE (the censored exponential fit when any replica was censored); null when
    /// skipped.
    measured: Option<(f64, f64)>,
    censored: usize,
    skipped: Option<String>,
}

/// One exact chain (d = 1, data set, c).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct ChainPoint {
    set: Set,
    c: f64,
    /// Mean t_p (t = η·steps).
    mean_time: f64,
    relative_change: f64,
    converged: bool,
    quasi_stationary: bool,
    nodes: usize,
}

/// The landscape of one data set, from the tool's own analysis.
#[derive(Clone, Debug, Serialize)]
struct Landscape {
    set: Set,
    loss_minimum: f64,
    /// Number of outliers n and their geometric mean h*.
    n: usize,
    h_star: f64,
    eigenvalues: Vec<f64>,
    beta: f64,
    /// β + 1 − n/2.
    predicted_slope: f64,
    /// Kesten's α for this data set (d = 1): null when every |1 − ηx²| ≤ 1, i.e. the
    /// stationary law has no power-law tail.
    kesten_alpha: Option<f64>,
    /// The largest L/L* that one SGD step from θ* reaches (d = 1): θ* + ηx_μe_μ over the
    /// samples, L = L* + h(ηx_μe_μ)²/2. Thresholds below it can be crossed in a single jump.
    one_step_reach: Option<f64>,
    /// WLS fit of log t_p on log c over c ≥ [`FIT_FROM`] (brute-force SGD).
    sgd_fit: Option<LineFit>,
    /// Local slope of the paper-noise quadrature between c = 100 and 200 (its asymptote).
    paper_asymptotic_slope: f64,
}

struct Problem {
    model: FeatureModel<LinearMap>,
    theta_star: Vec<f64>,
    landscape: Landscape,
}

fn problem(set: Set) -> Result<Problem> {
    let model = FeatureModel::new(LinearMap { dim: set.dim }, Dataset::gaussian(set.samples, set.dim, set.data_seed, |_, xi| xi))?;
    let theta_star = minimize(&model, &vec![0.0; set.dim], Default::default())?.theta;
    let (values, vectors) = dense_eigen(&Hessian::new(&model, &theta_star));
    let outliers = detect_outliers(&values, &vectors, OutlierRule::default());
    let b = beta(LR, BATCH_SIZE, outliers.h_star);
    let kesten_alpha =
        (set.dim == 1).then(|| kesten_tail_exponent(&model.data().x.iter().map(|x| 1.0 - LR * x * x).collect::<Vec<_>>())).flatten();
    let loss_minimum = model.loss(&theta_star);
    let one_step_reach = (set.dim == 1).then(|| {
        let (data, h) = (model.data(), model.sufficient_statistics().0[0]);
        data.x
            .iter()
            .zip(&data.y)
            .map(|(x, y)| 1.0 + h * (LR * x * (y - theta_star[0] * x)).powi(2) / (2.0 * loss_minimum))
            .fold(1.0, f64::max)
    });
    let mut landscape = Landscape {
        set,
        loss_minimum,
        n: outliers.n,
        h_star: outliers.h_star,
        eigenvalues: outliers.eigenvalues.clone(),
        beta: b,
        predicted_slope: log_barrier_exponent(b, outliers.n),
        kesten_alpha,
        one_step_reach,
        sgd_fit: None,
        paper_asymptotic_slope: f64::NAN,
    };
    landscape.paper_asymptotic_slope = (quadratures(&landscape, 200.0).0 / quadratures(&landscape, 100.0).0).log2();
    Ok(Problem { model, theta_star, landscape })
}

/// Exact mean passage times of the continuum SDEs on the isotropic quadratic with this
/// landscape's L*, h*: (paper noise, exact Gaussian-data noise).
fn quadratures(l: &Landscape, c: f64) -> (f64, f64) {
    let (h, l_star, b) = (l.h_star, l.loss_minimum, BATCH_SIZE as f64);
    let loss = move |r: f64| l_star + 0.5 * h * r * r;
    let radius = (2.0 * l_star * (c - 1.0) / h).sqrt();
    let dim = l.set.dim;
    let paper = radial_mean_first_passage_time(dim, radius, |r| h * r, |r| LR * h * loss(r) / b, |r| LR * h * loss(r) / b, 4000);
    let exact = radial_mean_first_passage_time(
        dim,
        radius,
        |r| h * r,
        |r| LR * (2.0 * loss(r) * h + h * h * r * r) / (2.0 * b),
        |r| LR * h * loss(r) / b,
        4000,
    );
    (paper, exact)
}

fn measure(p: &Problem, c: f64, replicas: usize, seed: u64, max_steps: u64) -> Result<(Option<(f64, f64)>, usize)> {
    let exit = Exit::LossAbove { threshold: c * p.landscape.loss_minimum };
    let spec = EnsembleSpec { seed, replicas, max_steps };
    let outcomes = run_feature_model_sgd(&p.model, LR, BATCH_SIZE, &exit, &p.theta_star, spec, Vec::new(), &|_| {})?;
    let stats = EscapeStatistics::from_outcomes(&outcomes);
    Ok((Some((stats.mean_time, stats.mean_time_stderr)), stats.censored + stats.diverged))
}

/// The exact mean first time with L > c·L* of the SGD chain (d = 1): the domain is the interval
/// where L ≤ c·L*, exactly θ* ± √(2L*(c − 1)/h) for this quadratic loss.
fn chain(p: &Problem, c: f64) -> ChainPoint {
    let l = &p.landscape;
    let (star, h) = (p.theta_star[0], p.model.sufficient_statistics().0[0]);
    let r = (2.0 * l.loss_minimum * (c - 1.0) / h).sqrt();
    let kernel = SgdKernel { steps: |t: f64, out: &mut Vec<f64>| p.model.one_parameter_sgd_steps(t, LR, out) };
    let domain = Domain { lower: star - r, below: End::Absorbing, upper: star + r, above: End::Absorbing };
    let s = mean_exit_time(&kernel, domain, star, ChainOptions::default());
    ChainPoint {
        set: l.set,
        c,
        mean_time: LR * s.mean,
        relative_change: s.relative_change,
        converged: s.converged,
        quasi_stationary: s.quasi_stationary,
        nodes: s.nodes,
    }
}

impl ChainPoint {
    /// Accurate enough for local slopes ([`USABLE_CHAIN_CHANGE`]).
    fn usable(&self) -> bool {
        self.relative_change <= USABLE_CHAIN_CHANGE
    }
}

/// One brute-force point (cached): skipped when the `predicted` mean time makes it cost more
/// than `budget` replica-steps.
#[allow(clippy::too_many_arguments)]
fn brute_force_point(
    options: &ReproduceOptions,
    p: &Problem,
    tag: &str,
    c: f64,
    (replicas, seed): (usize, u64),
    budget: f64,
    predicted: Option<f64>,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Point> {
    let set = p.landscape.set;
    let key = format!("{tag}-c{c}-r{replicas}");
    let cost = predicted.map(|t| t / LR * replicas as f64).unwrap_or(0.0);
    let (point, cached) = cached_point(options, NAME, &key, || {
        let mut point = Point { set, c, replicas, seed, measured: None, censored: 0, skipped: None };
        if cost > budget {
            point.skipped = Some(format!("expected cost {cost:.1e} replica-steps exceeds this mode's budget {budget:.0e}"));
        } else {
            let max_steps = (budget / replicas as f64) as u64;
            (point.measured, point.censored) = measure(p, c, replicas, seed, max_steps)?;
        }
        Ok(point)
    })?;
    progress(&format!("{NAME}: {key} {}", if cached { "(cached)" } else { "done" }));
    Ok(point)
}

/// Mean over the data sets of one dimension of ln t at c, with its standard error (seed
/// spread); `None` unless every data set has a value.
fn seed_mean(values: &[Option<f64>]) -> Option<(f64, f64)> {
    let logs: Option<Vec<f64>> = values.iter().map(|v| v.map(f64::ln)).collect();
    let logs = logs?;
    (!logs.is_empty()).then(|| mean_and_stderr(&logs))
}

/// 41 thresholds from `lo` to `hi`, evenly spaced in log c (for the reference curves).
fn log_grid(lo: f64, hi: f64) -> impl Iterator<Item = f64> {
    (0..=40).map(move |i| lo * (hi / lo).powf(i as f64 / 40.0))
}

/// A log-log figure of the mean first-passage time t_p against the threshold ratio c.
fn threshold_figure(title: String, series: Vec<crate::report::plot::Series>) -> crate::report::plot::Figure {
    crate::report::plot::Figure {
        title,
        x_label: "threshold ratio c = L/L*".into(),
        y_label: "mean first-passage time t_p (t = η·steps)".into(),
        log_x: true,
        log_y: true,
        series,
        legend: crate::report::plot::Legend::Right,
    }
}

/// The sorted union of two threshold lists.
fn union(a: &[f64], b: &[f64]) -> Vec<f64> {
    let mut all: Vec<f64> = a.iter().chain(b).copied().collect();
    all.sort_by(f64::total_cmp);
    all.dedup();
    all
}

/// Local log-log slope between two points.
fn local_slope((c0, t0): (f64, f64), (c1, t1): (f64, f64)) -> f64 {
    (t1 / t0).ln() / (c1 / c0).ln()
}

/// WLS fit of log t on log c over c ≥ [`FIT_FROM`], weights from the relative errors.
fn fit(points: &[(f64, f64, f64)]) -> Option<LineFit> {
    let use_: Vec<&(f64, f64, f64)> = points.iter().filter(|(c, _, se)| *c >= FIT_FROM && *se > 0.0).collect();
    let x: Vec<f64> = use_.iter().map(|p| p.0.ln()).collect();
    let y: Vec<f64> = use_.iter().map(|p| p.1.ln()).collect();
    let s: Vec<f64> = use_.iter().map(|p| p.2 / p.1).collect();
    weighted_line(&x, &y, &s)
}

pub(super) fn run(options: &ReproduceOptions, progress: &(dyn Fn(&str) + Sync)) -> Result<ReproduceReport> {
    let (cs, replicas, budget): (&[f64], usize, f64) =
        if options.quick { (&[1.25, 1.5, 1.75, 2.0], 100, 2e9) } else { (&[1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 2.75, 3.0], 1000, 5e10) };
    let mut sets: Vec<Set> = Vec::new();
    for &dim in &DIMS {
        for k in 0..SEEDS as u64 {
            sets.push(Set {
                dim,
                samples: SAMPLES,
                data_seed: options.seed.wrapping_mul(1000).wrapping_add(dim as u64).wrapping_add(100 * k),
            });
        }
    }
    sets.push(Set { dim: 1, samples: LARGE_SAMPLES, data_seed: options.seed.wrapping_mul(1000).wrapping_add(1) });
    let ams_cs: &[f64] = if options.quick { &AMS_CS[..1] } else { &AMS_CS };
    let sizes = AMS_SIZES[usize::from(options.quick)];
    let mut ams_points: Vec<AmsPoint> = Vec::new();
    let mut landscapes = Vec::new();
    let mut points = Vec::new();
    let mut chains = Vec::new();
    let mut index = 0u64;
    for &set in &sets {
        let mut p = problem(set)?;
        let tag = format!("d{}-N{}-s{}", set.dim, set.samples, set.data_seed);
        // Exact chains (d = 1): every c on N = 10⁴; on N = 10⁶ the thresholds far beyond brute
        // force, in full mode.
        let chain_cs: Vec<f64> = match (set.dim, set.samples, options.quick) {
            (1, SAMPLES, _) => union(cs, ams_cs),
            (1, _, false) => LARGE_CHAIN_CS.to_vec(),
            _ => Vec::new(),
        };
        for &c in &chain_cs {
            let (point, cached) = cached_point(options, NAME, &format!("chain-{tag}-c{c}"), || Ok(chain(&p, c)))?;
            progress(&format!("{NAME}: chain {tag} c = {c} {}", if cached { "(cached)" } else { "done" }));
            chains.push(point);
        }
        // Brute force, with cost control: the expected mean time is the exact chain's (d = 1)
        // or extrapolated from the last measured point with a local slope of at least 1.5 ×
        // the prediction; points beyond the budget are skipped.
        let mut last: Option<(f64, f64)> = None;
        let mut slope_seen = 1.5 * p.landscape.predicted_slope;
        let mut measured = Vec::new();
        for &c in cs {
            index += 1;
            let seed = options.seed.wrapping_add(index);
            let expected = chains.iter().find(|q| q.set == set && q.c == c).map(|q| q.mean_time);
            let predicted = expected.or(last.map(|(c0, t0)| t0 * (c / c0).powf(slope_seen)));
            let point = brute_force_point(options, &p, &tag, c, (replicas, seed), budget, predicted, progress)?;
            if let (Some((t, se)), 0) = (point.measured, point.censored) {
                if let Some((c0, t0)) = last {
                    slope_seen = slope_seen.max(local_slope((c0, t0), (c, t)));
                }
                last = Some((c, t));
                measured.push((c, t, se));
            } else {
                last = Some((c, f64::INFINITY));
            }
            points.push(point);
        }
        p.landscape.sgd_fit = fit(&measured);
        // Splitting: every data set in full mode, the first N = 10⁴ set of each d in quick mode.
        if !options.quick || (set.samples == SAMPLES && set.data_seed < options.seed.wrapping_mul(1000).wrapping_add(100)) {
            for &c in ams_cs {
                index += 1;
                let sizes = if set.samples == LARGE_SAMPLES { LARGE_SET_SIZE } else { sizes };
                let (particles, runs) = sizes;
                let key = format!("ams-{tag}-c{c}-n{particles}-m{runs}");
                let seed = options.seed.wrapping_add(index);
                let (point, cached) = cached_point(options, NAME, &key, || splitting::measure(&p, c, sizes, seed))?;
                progress(&format!("{NAME}: {key} {}", if cached { "(cached)" } else { "done" }));
                ams_points.push(point);
            }
            // Beyond c = 3 (full mode) brute force goes on where affordable, its cost predicted
            // by the exact chain or the splitting estimate; these points have their own seeds
            // and stay out of the fit over c ≤ 3.
            for (k, &c) in ams_cs.iter().filter(|c| !options.quick && **c > cs[cs.len() - 1]).enumerate() {
                let seed = options.seed.wrapping_add(EXTRA_SEEDS).wrapping_add(set.data_seed.wrapping_mul(16)).wrapping_add(k as u64);
                let expected = chains.iter().find(|q| q.set == set && q.c == c).map(|q| q.mean_time);
                let split = ams_points.iter().find(|a| a.set == set && a.c == c).and_then(|a| a.measured).map(|m| m.0);
                let predicted = expected.or(split).filter(|t| t.is_finite()).or(Some(f64::INFINITY));
                let point = brute_force_point(options, &p, &tag, c, (replicas, seed), EXTRA_BUDGET, predicted, progress)?;
                points.push(point);
            }
        }
        landscapes.push(p.landscape);
    }
    render(options, cs, &landscapes, &points, &chains, &ams_points)
}
