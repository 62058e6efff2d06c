//! `mlp-barrier`: minibatch SGD leaving a minimum of a trained network over the saddle that
//! joins it to another trained minimum, against every theory.
//!
//! The network: 13-2-3 tanh on the built-in wine data (178 samples, standardised features,
//! one-hot targets), mean-square loss with weight decay λ = 0.01 (finite minima; docs/theory.md
//! §8). Two training runs from different initialisations end in two different minima; the tool
//! minimises both, finds the saddle between them by a climbing-image NEB (index checked on the
//! dense Hessian), measures h* and n at each minimum, and the noise along the minimum-energy
//! path. SGD (batches drawn with replacement) then starts at each minimum, many replicas per
//! (η, B), and stops when it crosses the hyperplane through the saddle orthogonal to its escape
//! direction (`exit.kind = "saddle-plane"`). Every point carries the tool's predictions with
//! their validity.

mod page;

use super::{Measured, ReproduceOptions, ReproduceReport, cached_point, prediction_time as time};
use crate::error::Result;
use crate::experiment::config::{Config, TrainConfig};
use crate::experiment::prepare::{Prepared, prepare};
use crate::experiment::simulate::simulate;
use crate::experiment::train::{resolve, train_in_dir};
use crate::report::folder::Existing;
use crate::stats::EscapeStatistics;
use crate::stats::fit::{LineFit, weighted_line};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

const NAME: &str = "mlp-barrier";
/// The network, data and loss shared by training and every run (`{seed}`: the initialisation).
const NETWORK: &str = "[model]\nkind = \"mlp\"\nhidden = [2]\nactivation = \"tanh\"\ninit_seed = {seed}\nweight_decay = 0.01\n\
                       [data]\nsource = \"wine\"\nstandardize = true\nlabels = \"one-hot\"\n";
/// The two training runs' seeds (initialisation and batch order).
const TRAIN_SEEDS: [u64; 2] = [0, 1];
/// (B, η) of the sweep: β = B/(ηh*) from about 15 to 25 at each batch size.
const BATCH_LR: [(usize, f64); 10] =
    [(1, 0.4), (1, 0.45), (1, 0.5), (1, 0.55), (1, 0.6), (2, 0.7), (2, 0.75), (2, 0.8), (2, 0.85), (2, 0.9)];
/// The largest number of SGD steps per replica (runs still inside are censored).
const MAX_STEPS: u64 = 300_000;

fn network(seed: u64) -> String {
    NETWORK.replace("{seed}", &seed.to_string())
}

/// The landscape between the two trained minima.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Landscape {
    /// The minima reached from the two training runs (after minimisation), and their losses.
    trained: Vec<Vec<f64>>,
    trained_losses: Vec<f64>,
    /// The two minima the NEB's saddle joins (steepest descent from it both ways, the first on
    /// the first trained minimum's side): the starts of the escape runs.
    minima: Vec<Vec<f64>>,
    losses: Vec<f64>,
    /// `distances[i][j]` = |trained minimum i − adjacent minimum j|.
    distances: Vec<Vec<f64>>,
    /// Each adjacent minimum's largest Hessian eigenvalue, h* and n (every eigenvalue is
    /// computed) and smallest eigenvalue (positive at a strict minimum).
    lambda_max: Vec<f64>,
    h_star: Vec<f64>,
    outliers: Vec<usize>,
    lambda_min: Vec<f64>,
    saddle: Vec<f64>,
    saddle_loss: f64,
    saddle_index: usize,
    saddle_eigenvalue: f64,
    saddle_gradient_norm: f64,
    neb_iterations: usize,
    /// The minimum-energy path from the first adjacent minimum through the saddle: arc length,
    /// L(θ), and the paper's noise ratio Tr C(θ) / (2 L(θ) Tr H*) with H* at that minimum.
    path: Vec<(f64, f64, f64)>,
}

/// One (minimum, B, η).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Point {
    minimum: usize,
    batch_size: usize,
    lr: f64,
    replicas: usize,
    seed: u64,
    loss_minimum: f64,
    loss_saddle: f64,
    c: f64,
    delta_loss: f64,
    h_star: f64,
    outliers: usize,
    beta: f64,
    lr_lambda_max: f64,
    sgd: Measured,
    log_barrier: f64,
    log_barrier_exponent: f64,
    /// The log barrier's failing assumptions: (condition, value).
    log_barrier_failing: Vec<(String, Option<f64>)>,
    linear_barrier: f64,
    xie: (f64, f64),
    kramers: f64,
}

/// Writes `values` as a bare JSON array (a parameter file the configurations name).
fn parameter_file(path: &Path, values: &[f64]) -> Result<PathBuf> {
    crate::report::atomic_write(path, serde_json::to_string(values).expect("serialises").as_bytes())?;
    Ok(path.to_path_buf())
}

/// SGD at (B, η) from the parameters in `start` (minimised), with `[landscape.saddle]` `saddle`
/// and the saddle-plane exit, after `head` (seed and ensemble keys, or nothing for an analysis
/// alone).
fn run_config(start: &Path, saddle: &str, head: &str, lr: f64, batch_size: usize) -> Result<Config> {
    let text = format!(
        "{head}{}[dynamics]\nkind = \"sgd\"\nlr = {lr}\nbatch_size = {batch_size}\nsampling = \"with-replacement\"\n\
         [start]\nparameters = {:?}\nminimize = true\n[landscape.saddle]\n{saddle}\n[exit]\nkind = \"saddle-plane\"\n",
        network(TRAIN_SEEDS[0]),
        start.display().to_string()
    );
    Config::from_toml(&text, Path::new("mlp-barrier.toml"))
}

/// The landscape analysis alone (its dynamics only sets β in the predictions, unused here).
fn analysis_config(start: &Path, saddle: &str) -> Result<Config> {
    run_config(start, saddle, "", 0.5, 1)
}

/// `[landscape.saddle]` for the saddle stored in `file`.
fn given_saddle(file: &Path) -> String {
    format!("kind = \"given\"\nparameters = {:?}", file.display().to_string())
}

/// Trains both networks, minimises them and finds the saddle between them.
fn landscape(dir: &Path, progress: &(dyn Fn(&str) + Sync)) -> Result<Landscape> {
    let mut trained = Vec::new();
    for seed in TRAIN_SEEDS {
        let text = format!("{}[train]\nlr = 0.05\nbatch_size = 10\nepochs = 200\nseed = {seed}\nlog_every = 50\n", network(seed));
        let spec = resolve(&TrainConfig::from_toml(&text, Path::new("mlp-barrier-train.toml"))?, Path::new("."))?;
        let folder = dir.join(format!("train-{seed}"));
        train_in_dir(&spec, &folder, Existing::MoveAside, &|_| {}, &|| false)?;
        progress(&format!("{NAME}: trained from seed {seed}"));
        trained.push(folder.join("params.json"));
    }
    // θ* from the first run, the NEB's second end from the second (both minimised).
    let neb = format!("kind = \"neb\"\ntarget_parameters = {:?}", trained[1].display().to_string());
    let first = prepare(&analysis_config(&trained[0], &neb)?, Path::new("."))?;
    let saddle = first.landscape.saddle.clone().expect("a saddle-plane exit needs its saddle");
    progress(&format!("{NAME}: saddle at L = {:.6e} after {} NEB iterations", saddle.loss, saddle.iterations));
    let saddle_file = parameter_file(&dir.join("saddle.json"), &saddle.theta)?;
    let given = given_saddle(&saddle_file);
    let second = prepare(&analysis_config(&trained[1], &given)?, Path::new("."))?;
    let trained_minima = [&first.landscape.minimum, &second.landscape.minimum];
    // The minima the saddle joins, which need not be the trained ones: the first analysis
    // found them when it checked whether its NEB saddle borders θ*'s basin (recomputed here
    // only if that check failed, to report why).
    let adjacent = match &first.landscape.saddle_neighbours {
        Some(n) => n.minima.clone(),
        None => {
            let theta_a = &trained_minima[0].theta;
            let scale = crate::linalg::distance(&saddle.theta, theta_a);
            crate::landscape::path::adjacent_minima(first.model.as_model(), &saddle, theta_a, scale)?
        }
    };
    let mut studied = Vec::new();
    for (j, m) in adjacent.iter().enumerate() {
        let file = parameter_file(&dir.join(format!("minimum-{j}.json")), &m.theta)?;
        studied.push(prepare(&analysis_config(&file, &given)?, Path::new("."))?);
    }
    let minima: Vec<&crate::experiment::analysis::MinimumReport> = studied.iter().map(|p| &p.landscape.minimum).collect();
    let fold = |m: &&crate::experiment::analysis::MinimumReport, init: f64, f: fn(f64, f64) -> f64| {
        m.hessian_eigenvalues.iter().fold(init, |a, b| f(a, *b))
    };
    Ok(Landscape {
        trained: trained_minima.iter().map(|m| m.theta.clone()).collect(),
        trained_losses: trained_minima.iter().map(|m| m.loss).collect(),
        distances: trained_minima.iter().map(|t| minima.iter().map(|m| crate::linalg::distance(&t.theta, &m.theta)).collect()).collect(),
        lambda_max: minima.iter().map(|m| fold(m, f64::NEG_INFINITY, f64::max)).collect(),
        lambda_min: minima.iter().map(|m| fold(m, f64::INFINITY, f64::min)).collect(),
        h_star: minima.iter().map(|m| m.outliers.h_star).collect(),
        outliers: minima.iter().map(|m| m.outliers.n).collect(),
        losses: minima.iter().map(|m| m.loss).collect(),
        minima: minima.iter().map(|m| m.theta.clone()).collect(),
        saddle_loss: saddle.loss,
        saddle_index: saddle.index,
        saddle_eigenvalue: saddle.escape_eigenvalue,
        saddle_gradient_norm: saddle.gradient_norm,
        neb_iterations: saddle.iterations,
        path: noise_along_path(&studied[0], &saddle),
        saddle: saddle.theta,
    })
}

/// Along the minimum-energy path from θ* through the saddle: (arc length, L(θ), Tr C(θ) /
/// (2 L(θ) Tr H*)), the last the paper's Σ ≈ 2L(θ)H*/B in trace (B cancels).
fn noise_along_path(prepared: &Prepared, saddle: &crate::landscape::saddle::Saddle) -> Vec<(f64, f64, f64)> {
    let model = prepared.model.as_model();
    let noise = prepared.model.gradient_noise().expect("a network has data");
    let theta_star = &prepared.landscape.minimum.theta;
    let trace_h: f64 = prepared.landscape.minimum.hessian_eigenvalues.iter().sum();
    let vertices = crate::landscape::path::minimum_energy_path(model, theta_star, saddle);
    let arc = crate::landscape::path::arc_lengths(&vertices);
    vertices
        .iter()
        .zip(arc)
        .map(|(theta, s)| {
            let loss = model.loss(theta);
            (s, loss, noise.gradient_covariance_trace(theta) / (2.0 * loss * trace_h))
        })
        .collect()
}

fn compute_point(files: &[PathBuf; 3], minimum: usize, batch_size: usize, lr: f64, replicas: usize, seed: u64) -> Result<Point> {
    let head = format!("seed = {seed}\nreplicas = {replicas}\nmax_steps = {MAX_STEPS}\n");
    let prepared = prepare(&run_config(&files[minimum], &given_saddle(&files[2]), &head, lr, batch_size)?, Path::new("."))?;
    let report = &prepared.landscape;
    let sgd = Measured::from_stats(&EscapeStatistics::from_outcomes(&simulate(&prepared, Vec::new(), &|_| {})?));
    let geometry = report.geometry.expect("the saddle is given");
    let lambda_max = report.minimum.hessian_eigenvalues.iter().fold(f64::NEG_INFINITY, |a, b| a.max(*b));
    let predictions = &report.predictions;
    Ok(Point {
        minimum,
        batch_size,
        lr,
        replicas,
        seed,
        loss_minimum: geometry.loss_minimum,
        loss_saddle: geometry.loss_saddle,
        c: geometry.ratio(),
        delta_loss: geometry.loss_saddle - geometry.loss_minimum,
        h_star: geometry.h_star,
        outliers: report.minimum.outliers.n,
        beta: report.beta.expect("SGD has η and B"),
        lr_lambda_max: lr * lambda_max,
        sgd,
        log_barrier: time(&predictions.log_barrier),
        log_barrier_exponent: predictions.log_barrier_exponent.unwrap_or(f64::NAN),
        log_barrier_failing: predictions
            .log_barrier
            .assumptions
            .iter()
            .filter(|a| !a.holds)
            .map(|a| (a.condition.clone(), a.value))
            .collect(),
        linear_barrier: time(&predictions.linear_barrier),
        xie: (time(&predictions.xie.minimum_curvature), time(&predictions.xie.saddle_curvature)),
        kramers: time(&predictions.kramers_isotropic),
    })
}

/// ln(1/κ̂) against β over `points`, weighted by the censored exponential's standard error of
/// ln κ̂, 1/√(escapes).
fn time_fit(points: &[&Point]) -> Option<LineFit> {
    let ok: Vec<&&Point> = points.iter().filter(|p| p.sgd.escaped > 0).collect();
    let x: Vec<f64> = ok.iter().map(|p| p.beta).collect();
    let y: Vec<f64> = ok.iter().map(|p| p.sgd.time().0.ln()).collect();
    let sigma: Vec<f64> = ok.iter().map(|p| 1.0 / (p.sgd.escaped as f64).sqrt()).collect();
    weighted_line(&x, &y, &sigma)
}

pub(super) fn run(options: &ReproduceOptions, progress: &(dyn Fn(&str) + Sync)) -> Result<ReproduceReport> {
    let (replicas, minima, grid): (usize, Vec<usize>, Vec<(usize, f64)>) = if options.quick {
        (200, vec![0, 1], BATCH_LR.iter().copied().filter(|&(b, lr)| b == 1 && lr >= 0.45).collect())
    } else {
        (1000, vec![0, 1], BATCH_LR.to_vec())
    };
    let dir = options.out.join("points").join(NAME);
    std::fs::create_dir_all(&dir).map_err(|source| crate::Error::Io { action: "cannot create folder", path: dir.clone(), source })?;
    let (land, cached) = cached_point(options, NAME, "landscape", || landscape(&dir, progress))?;
    progress(&format!("{NAME}: landscape {}", if cached { "(cached)" } else { "done" }));
    let files = [
        parameter_file(&dir.join("minimum-0.json"), &land.minima[0])?,
        parameter_file(&dir.join("minimum-1.json"), &land.minima[1])?,
        parameter_file(&dir.join("saddle.json"), &land.saddle)?,
    ];
    let mut points = Vec::new();
    for &m in &minima {
        for (index, &(batch_size, lr)) in grid.iter().enumerate() {
            let key = format!("m{m}-B{batch_size}-lr{lr}-r{replicas}");
            let seed = options.seed.wrapping_add(1000 * m as u64 + index as u64 + 1);
            let (point, cached) = cached_point(options, NAME, &key, || compute_point(&files, m, batch_size, lr, replicas, seed))?;
            progress(&format!("{NAME}: {key} {}", if cached { "(cached)" } else { "done" }));
            points.push(point);
        }
    }
    page::write(options, &land, &points, replicas)
}
