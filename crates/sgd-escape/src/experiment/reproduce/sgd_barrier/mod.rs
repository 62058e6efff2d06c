//! `sgd-barrier`: true minibatch SGD escaping over a real barrier, on the data-built curve
//! model f(θ, x) = xᵀφ(θ), φ = (sθ, κ(θ² − 1)), y = σξ (docs/theory.md §8; population loss
//! ½(s²θ² + κ²(θ² − 1)²) + σ²/2, saddle at 0, minima at ±√(1 − s²/2κ²)). Label noise σ moves
//! L* and so c = L(θˢ)/L* at fixed geometry; B and η set β = B/(ηh*).
//!
//! Every point is one chain of approximations, each simulated and, where it can be, computed
//! exactly:
//! 1. SGD itself (batches drawn with replacement), and for B = 1 the exact mean exit time of the
//!    SGD chain (docs/theory.md eq. 22);
//! 2. the SDE with the exact minibatch covariance, discretised by Euler–Maruyama at dt = η
//!    (SGD's step with Gaussian noise of the same covariance: isolates the non-Gaussian noise),
//!    and the exact mean exit time of that Euler–Maruyama chain;
//! 3. the exact 1-D quadrature of that SDE in continuous time (isolates the finite step), and
//!    the same SDE simulated with the converged solver (adaptive steps ≤ η/8, exits detected
//!    between steps; docs/theory.md §9) where its cost fits the mode's budget;
//! 4. the exact quadrature of the SDE with the paper's noise Σ = 2L(θ)H*/B (isolates the
//!    noise approximation);
//! 5. the closed forms, each with its validity: log barrier (the paper), linear barrier, Xie
//!    et al. (mapped to a mean-square loss, at s = 1 and s = 0), isotropic Kramers.
//!
//! Items 1–5 come from the tool's own landscape analysis of each configuration.

mod beyond;

use super::{
    Check, Measured, ReproduceOptions, ReproduceReport, cached_point, checks_table, plus_minus, prediction_time as time, save_figure,
    write_text,
};
use crate::cells;
use crate::error::Result;
use crate::experiment::config::Config;
use crate::experiment::predictions::Prediction;
use crate::experiment::prepare::prepare;
use crate::experiment::simulate::simulate;
use crate::report::plot::{Figure, Legend, Series};
use crate::report::table::Table;
use crate::stats::EscapeStatistics;
use serde::{Deserialize, Serialize};
use std::path::Path;

const NAME: &str = "sgd-barrier";
const SAMPLES: usize = 100_000;
/// (B, η) pairs of the B/η sweep at σ = 0.5: β = 1.4, 2.9 (twice), 5.7 (three times).
const BATCH_LR: [(usize, f64); 6] = [(1, 0.2), (1, 0.1), (2, 0.2), (1, 0.05), (2, 0.1), (4, 0.2)];
/// Label noise of the σ sweep at (B, η) = (1, 0.1).
const SIGMAS: [f64; 7] = [0.25, 0.35, 0.5, 0.7, 1.0, 1.4, 2.0];

/// One configuration.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Point {
    sweep: String,
    sigma: f64,
    batch_size: usize,
    lr: f64,
    replicas: usize,
    seed: u64,
    theta_star: f64,
    exit_threshold: f64,
    loss_minimum: f64,
    loss_saddle: f64,
    c: f64,
    h_star: f64,
    beta: f64,
    sgd: Measured,
    sde_exact_em: Measured,
    /// The exact-noise SDE in continuous time, simulated: adaptive solver with the bridge at
    /// dt = η/8; `None` when its predicted cost exceeds the budget (`continuum_skipped` says).
    sde_continuum: Option<Measured>,
    continuum_skipped: Option<String>,
    /// Exact mean exit times (t units) of the SGD chain (B = 1 only) and of the exact-noise
    /// Euler–Maruyama chain at dt = η, with the convergence of their grids.
    sgd_chain: Option<f64>,
    em_chain: f64,
    chains_converged: bool,
    /// The chains' last relative changes under grid refinement (their numerical error).
    chain_changes: (Option<f64>, f64),
    /// Mean times (t units) of the exact-noise and paper-noise quadratures and the closed forms.
    quadrature_exact: f64,
    quadrature_paper: f64,
    log_barrier: f64,
    log_barrier_valid: bool,
    /// The log barrier's failing assumptions for the paper-noise SDE: (condition, value).
    log_barrier_failing: Vec<(String, Option<f64>)>,
    linear_barrier: f64,
    /// Xie et al. at s = 1 (curvature at the minimum) and s = 0 (at the saddle).
    xie: (f64, f64),
    kramers: f64,
}

/// `[dynamics]` of SGD (batches drawn with replacement), followed by `landscape`.
fn sgd_dynamics(lr: f64, batch_size: usize, landscape: &str) -> String {
    format!("kind = \"sgd\"\nlr = {lr}\nbatch_size = {batch_size}\nsampling = \"with-replacement\"\n{landscape}")
}

/// `[dynamics]` of SGD's Gaussian twin: the exact-noise SDE by Euler–Maruyama at dt = η,
/// followed by `landscape` (its analysis carries the exact mean exit time of that chain).
fn em_dynamics(lr: f64, batch_size: usize, landscape: &str) -> String {
    format!(
        "kind = \"sde\"\ndt = {lr}\n[dynamics.noise]\nkind = \"exact\"\nlr = {lr}\nbatch_size = {batch_size}\nsampling = \"with-replacement\"\n\
         [dynamics.solver]\nkind = \"euler-maruyama\"\n{landscape}"
    )
}

/// `[dynamics]` of the paper-noise SDE at dt = η, for its quadrature (no chains).
fn paper_dynamics(lr: f64, batch_size: usize) -> String {
    format!(
        "kind = \"sde\"\ndt = {lr}\n[dynamics.noise]\nkind = \"paper\"\nlr = {lr}\nbatch_size = {batch_size}\n[landscape]\nexact_chains = false"
    )
}

/// A chain prediction's last relative change under grid refinement (its one assumption's value).
fn last_change(p: &Prediction) -> f64 {
    p.assumptions.first().and_then(|a| a.value).unwrap_or(f64::NAN)
}

fn config(sigma: f64, replicas: usize, seed: u64, max_steps: u64, dynamics: &str) -> Result<Config> {
    config_with(sigma, &format!("seed = {seed}\nreplicas = {replicas}\nmax_steps = {max_steps}\n"), dynamics, "")
}

/// The curve-model configuration with `head` (seed and the brute-force settings, or only the
/// seed), the `[dynamics]` body and `tail` (e.g. an `[estimator]` table).
fn config_with(sigma: f64, head: &str, dynamics: &str, tail: &str) -> Result<Config> {
    let text = format!(
        "{head}\
         [model]\nkind = \"curve\"\ndim = 1\ns = 0.5\nkappa = 1.0\nnoise = {sigma}\nsamples = {SAMPLES}\ndata_seed = 7\n\
         [dynamics]\n{dynamics}\n\
         [start]\npoint = [-1.0]\n\
         [exit]\nkind = \"coordinate\"\naxis = 0\nthreshold = 0.935\n{tail}"
    );
    Config::from_toml(&text, Path::new("sgd-barrier.toml"))
}

/// The exact chains are solved to `chain_tolerance` (relative).
#[allow(clippy::too_many_arguments)]
fn compute_point(
    sweep: &str,
    sigma: f64,
    batch_size: usize,
    lr: f64,
    replicas: usize,
    seed: u64,
    budget: f64,
    continuum_budget: f64,
    chain_tolerance: f64,
) -> Result<Point> {
    let landscape = format!("[landscape]\nchain_tolerance = {chain_tolerance:e}");
    let max_steps = (budget / replicas as f64) as u64;
    let sgd_prepared = prepare(&config(sigma, replicas, seed, max_steps, &sgd_dynamics(lr, batch_size, &landscape))?, Path::new("."))?;
    let report = &sgd_prepared.landscape;
    let sgd = Measured::from_stats(&EscapeStatistics::from_outcomes(&simulate(&sgd_prepared, Vec::new(), &|_| {})?));
    // SGD's Gaussian twin: the exact-noise SDE at dt = η, with its own seed; its landscape
    // analysis carries the exact mean exit time of this Euler–Maruyama chain.
    let em = em_dynamics(lr, batch_size, &landscape);
    let em_prepared = prepare(&config(sigma, replicas, seed.wrapping_add(1 << 32), max_steps, &em)?, Path::new("."))?;
    let sde_exact_em = Measured::from_stats(&EscapeStatistics::from_outcomes(&simulate(&em_prepared, Vec::new(), &|_| {})?));
    // The same SDE in continuous time: the converged solver (adaptive, bridge) at dt = η/8.
    let quadrature_exact = report.predictions.quadrature.as_ref().and_then(|q| q.mean_time).unwrap_or(f64::NAN);
    let continuum_dt = lr / 8.0;
    let continuum_cost = quadrature_exact / continuum_dt * replicas as f64;
    let (sde_continuum, continuum_skipped) = if continuum_cost <= continuum_budget {
        let text = format!(
            "kind = \"sde\"\ndt = {continuum_dt}\n[dynamics.noise]\nkind = \"exact\"\nlr = {lr}\nbatch_size = {batch_size}\n\
             sampling = \"with-replacement\"\n[dynamics.solver]\nkind = \"adaptive\"\n[landscape]\nexact_chains = false"
        );
        let max_steps = (50.0 * quadrature_exact / continuum_dt) as u64 + 1000;
        let prepared = prepare(&config(sigma, replicas, seed.wrapping_add(2 << 32), max_steps, &text)?, Path::new("."))?;
        (Some(Measured::from_stats(&EscapeStatistics::from_outcomes(&simulate(&prepared, Vec::new(), &|_| {})?))), None)
    } else {
        (None, Some(format!("predicted cost {continuum_cost:.1e} steps exceeds this mode's budget {continuum_budget:.0e}")))
    };
    let paper_report = prepare(&config(sigma, replicas, seed, max_steps, &paper_dynamics(lr, batch_size))?, Path::new("."))?.landscape;
    let geometry = report.geometry.expect("the curve model has a saddle");
    let em_chain = em_prepared.landscape.predictions.euler_maruyama_chain.clone().expect("a one-parameter SDE has its chain");
    let sgd_chain = report.predictions.sgd_chain.clone();
    let chains_converged = em_chain.valid == Some(true) && sgd_chain.as_ref().is_none_or(|c| c.valid == Some(true));
    Ok(Point {
        sweep: sweep.into(),
        sigma,
        batch_size,
        lr,
        replicas,
        seed,
        theta_star: sgd_prepared.start.theta[0],
        exit_threshold: 0.935,
        loss_minimum: geometry.loss_minimum,
        loss_saddle: geometry.loss_saddle,
        c: geometry.ratio(),
        h_star: geometry.h_star,
        beta: report.beta.expect("SGD has η and B"),
        sgd,
        sde_exact_em,
        sde_continuum,
        continuum_skipped,
        sgd_chain: sgd_chain.as_ref().map(time),
        em_chain: time(&em_chain),
        chains_converged,
        chain_changes: (sgd_chain.as_ref().map(last_change), last_change(&em_chain)),
        quadrature_exact,
        quadrature_paper: paper_report.predictions.quadrature.as_ref().map(time).unwrap_or(f64::NAN),
        log_barrier: time(&report.predictions.log_barrier),
        log_barrier_valid: paper_report.predictions.log_barrier.valid == Some(true),
        log_barrier_failing: paper_report
            .predictions
            .log_barrier
            .assumptions
            .iter()
            .filter(|a| !a.holds)
            .map(|a| (a.condition.clone(), a.value))
            .collect(),
        linear_barrier: time(&report.predictions.linear_barrier),
        xie: (time(&report.predictions.xie.minimum_curvature), time(&report.predictions.xie.saddle_curvature)),
        kramers: time(&report.predictions.kramers_isotropic),
    })
}

/// The footnote on the log-barrier column: which of its assumptions fail, at how many points,
/// over what range of the checked quantity.
fn validity_note(points: &[Point]) -> String {
    let mut failing: Vec<(String, usize, f64, f64)> = Vec::new();
    for (condition, value) in points.iter().flat_map(|p| p.log_barrier_failing.iter()) {
        let v = value.unwrap_or(f64::NAN);
        match failing.iter_mut().find(|f| &f.0 == condition) {
            Some(f) => {
                f.1 += 1;
                f.2 = f.2.min(v);
                f.3 = f.3.max(v);
            }
            None => failing.push((condition.clone(), 1, v, v)),
        }
    }
    if failing.is_empty() {
        return "\nEvery log-barrier value meets its assumptions for the paper-noise SDE (docs/theory.md §7).\n".into();
    }
    let list: Vec<String> = failing
        .iter()
        .map(|(condition, n, lo, hi)| {
            let range = if lo.is_finite() { format!(", value {lo:.3} – {hi:.3}") } else { String::new() };
            format!("{condition}: fails at {n} of {} points{range}", points.len())
        })
        .collect();
    format!(
        "\nA log-barrier value marked *not valid* fails one of its assumptions for the paper-noise SDE (docs/theory.md §7): {}.\n",
        list.join("; ")
    )
}

fn figure(points: &[&Point], x: impl Fn(&Point) -> f64, x_label: &str, title: String, log_x: bool) -> Figure {
    let measured = |f: &dyn Fn(&Point) -> &Measured| -> (Vec<(f64, f64)>, Vec<f64>) {
        let ok: Vec<&&Point> = points.iter().filter(|p| f(p).escaped > 0).collect();
        // Error bars: the half-width of the 95% interval of 1/κ̂, symmetrised.
        (ok.iter().map(|p| (x(p), f(p).time().0)).collect(), ok.iter().map(|p| 0.5 * (f(p).time().2 - f(p).time().1)).collect())
    };
    let (em, em_err) = measured(&|p| &p.sde_exact_em);
    let curve = |f: &dyn Fn(&Point) -> f64| points.iter().map(|p| (x(p), f(p))).collect::<Vec<_>>();
    // SGD by learning rate: points at the same β with different η are different dynamics.
    let mut lrs: Vec<f64> = points.iter().map(|p| p.lr).collect();
    lrs.sort_by(f64::total_cmp);
    lrs.dedup();
    let mut series = Vec::new();
    for (k, &lr) in lrs.iter().enumerate() {
        let ok: Vec<&&Point> = points.iter().filter(|p| p.lr == lr && p.sgd.escaped > 0).collect();
        let label = if lrs.len() > 1 { format!("SGD, η = {lr}") } else { "SGD (with replacement)".to_string() };
        series.push(
            Series::points(
                label,
                ok.iter().map(|p| (x(p), p.sgd.time().0)).collect(),
                Some(ok.iter().map(|p| 0.5 * (p.sgd.time().2 - p.sgd.time().1)).collect()),
            )
            .colour([0, 5, 6][k % 3]),
        );
    }
    let chain: Vec<(f64, f64)> = points.iter().filter_map(|p| Some((x(p), p.sgd_chain?))).collect();
    if !chain.is_empty() {
        series.push(Series::line("SGD, exact chain (B = 1)", chain).colour(0));
    }
    series.push(Series::points("exact-noise SDE, Euler–Maruyama dt = η", em, Some(em_err)).colour(1));
    // The exact Euler–Maruyama chain, one line per η (its points at equal β differ by η).
    for (k, &lr) in lrs.iter().enumerate() {
        let label = if lrs.len() > 1 {
            format!("exact-noise SDE, exact Euler–Maruyama chain, η = {lr}")
        } else {
            "exact-noise SDE, exact Euler–Maruyama chain".to_string()
        };
        let line: Vec<(f64, f64)> = points.iter().filter(|p| p.lr == lr).map(|p| (x(p), p.em_chain)).collect();
        series.push(Series::dashed(label, line).colour(if lrs.len() > 1 { [0, 5, 6][k % 3] } else { 1 }));
    }
    series.extend([
        Series::line("exact-noise SDE, continuous time (exact quadrature)", curve(&|p| p.quadrature_exact)).colour(1),
        Series::line("paper-noise SDE, continuous time (exact quadrature)", curve(&|p| p.quadrature_paper)).colour(2),
        Series::dashed("log barrier (paper)", curve(&|p| p.log_barrier)).colour(2),
        Series::dashed("linear barrier = Xie et al. at s = 1", curve(&|p| p.linear_barrier)).colour(3),
        Series::dashed("Xie et al. at s = 0 (saddle curvature)", curve(&|p| p.xie.1)).colour(4),
    ]);
    Figure {
        title,
        x_label: x_label.into(),
        y_label: "mean escape time 1/κ (t = η·steps)".into(),
        log_x,
        log_y: true,
        series,
        legend: Legend::Right,
    }
}

pub(super) fn run(options: &ReproduceOptions, progress: &(dyn Fn(&str) + Sync)) -> Result<ReproduceReport> {
    // Quick mode's ensembles have standard errors near 5%, so its chains need 1%, not 0.1%.
    let (replicas, budget, continuum_budget, chain_tolerance) = if options.quick { (300, 3e8, 3e7, 1e-2) } else { (2000, 2e10, 1e9, 1e-3) };
    let mut grid: Vec<(&str, f64, usize, f64)> = BATCH_LR.iter().map(|&(b, lr)| ("batch-lr", 0.5, b, lr)).collect();
    grid.extend(SIGMAS.iter().map(|&s| ("sigma", s, 1, 0.1)));
    let mut points = Vec::new();
    for (index, &(sweep, sigma, batch_size, lr)) in grid.iter().enumerate() {
        let key = format!("{sweep}-sigma{sigma}-B{batch_size}-lr{lr}-r{replicas}-continuum{continuum_budget:e}");
        let seed = options.seed.wrapping_add(index as u64 + 1);
        let (point, cached) = cached_point(options, NAME, &key, || {
            compute_point(sweep, sigma, batch_size, lr, replicas, seed, budget, continuum_budget, chain_tolerance)
        })?;
        progress(&format!("{NAME}: {key} {}", if cached { "(cached)" } else { "done" }));
        points.push(point);
    }
    let beyond = beyond::section(options, budget, chain_tolerance, progress)?;
    let mut files = Vec::new();
    let mut summary: Vec<String> = Vec::new();
    let out = &options.out;

    let json = serde_json::json!({
        "experiment": NAME, "version": crate::VERSION, "seed": options.seed, "quick": options.quick,
        "command": options.command, "samples": SAMPLES, "points": points, "beyond_brute_force": beyond.points,
    });
    write_text(&mut files, &out.join(format!("{NAME}.json")), &serde_json::to_string_pretty(&json).expect("serialises"))?;
    let mut csv = Table::new(&[
        "sweep",
        "sigma",
        "batch_size",
        "lr",
        "beta",
        "c",
        "replicas",
        "sgd_time",
        "sgd_time_low",
        "sgd_time_high",
        "sgd_censored",
        "sgd_chain",
        "em_time",
        "em_time_low",
        "em_time_high",
        "em_censored",
        "em_chain",
        "continuum_time",
        "continuum_stderr",
        "chains_converged",
        "quadrature_exact",
        "quadrature_paper",
        "log_barrier",
        "log_barrier_valid",
        "linear_barrier",
        "xie_s1",
        "xie_s0",
        "kramers",
    ]);
    for p in &points {
        let (s, e) = (p.sgd.time(), p.sde_exact_em.time());
        csv.row(cells![
            p.sweep,
            p.sigma,
            p.batch_size,
            p.lr,
            p.beta,
            p.c,
            p.replicas,
            s.0,
            s.1,
            s.2,
            p.sgd.censored,
            p.sgd_chain.unwrap_or(f64::NAN),
            e.0,
            e.1,
            e.2,
            p.sde_exact_em.censored,
            p.em_chain,
            p.sde_continuum.as_ref().map_or(f64::NAN, |m| m.mean_time.0),
            p.sde_continuum.as_ref().map_or(f64::NAN, |m| m.mean_time.1),
            p.chains_converged,
            p.quadrature_exact,
            p.quadrature_paper,
            p.log_barrier,
            p.log_barrier_valid,
            p.linear_barrier,
            p.xie.0,
            p.xie.1,
            p.kramers
        ]);
    }
    write_text(&mut files, &out.join(format!("{NAME}.csv")), &csv.csv())?;

    let by_beta: Vec<&Point> = {
        let mut v: Vec<&Point> = points.iter().filter(|p| p.sweep == "batch-lr").collect();
        v.sort_by(|a, b| a.beta.total_cmp(&b.beta).then(a.lr.total_cmp(&b.lr)));
        v
    };
    let by_c: Vec<&Point> = {
        let mut v: Vec<&Point> = points.iter().filter(|p| p.sweep == "sigma").collect();
        v.sort_by(|a, b| a.c.total_cmp(&b.c));
        v
    };
    let figures = [
        (
            format!("{NAME}-beta"),
            figure(&by_beta, |p| p.beta, "β = B/(ηh*)", "Curve model, σ = 0.5: escape time against β = B/(ηh*)".into(), false),
        ),
        (
            format!("{NAME}-c"),
            figure(
                &by_c,
                |p| p.c,
                "barrier ratio c = L(θˢ)/L(θ*) (set by label noise σ)",
                "Curve model, B = 1, η = 0.1: escape time against c".into(),
                true,
            ),
        ),
    ];
    for (stem, fig) in &figures {
        save_figure(&mut files, fig, &out.join(stem))?;
    }

    // The chain of approximations, from exact numbers wherever there is one: the SGD chain
    // against the continuum of the same noise isolates the finite step; the Euler–Maruyama chain
    // against the SGD chain the shape (non-Gaussian) of the noise at the same step; the paper's
    // against the exact quadrature the noise model; the log barrier against the paper's
    // quadrature the asymptotics.
    for p in &points {
        let sgd_time = p.sgd_chain.unwrap_or(p.sgd.mean_time.0);
        summary.push(format!(
            "σ = {}, B = {}, η = {} (β = {:.2}, c = {:.3}): SGD {}{}; EM/SGD {:.3}; continuum/SGD {:.2}; paper/exact quadrature {:.3}; log barrier/paper quadrature {:.3}",
            p.sigma,
            p.batch_size,
            p.lr,
            p.beta,
            p.c,
            plus_minus(p.sgd.mean_time.0, p.sgd.mean_time.1),
            p.sgd_chain.map(|c| format!(" (exact chain {c:.4e})")).unwrap_or_default(),
            p.em_chain / sgd_time,
            p.quadrature_exact / sgd_time,
            p.quadrature_paper / p.quadrature_exact,
            p.log_barrier / p.quadrature_paper
        ));
    }

    let at_last_beta: Vec<&&Point> = by_beta.iter().filter(|p| (p.beta - by_beta.last().expect("non-empty").beta).abs() < 1e-9).collect();
    let slowest_lr = at_last_beta.iter().min_by(|a, b| a.lr.total_cmp(&b.lr)).expect("non-empty");
    let fastest_lr = at_last_beta.iter().max_by(|a, b| a.lr.total_cmp(&b.lr)).expect("non-empty");
    // 4 SE of the simulation plus the chain's own numerical error.
    let within =
        |m: &Measured, exact: f64, change: f64| m.censored == 0 && (m.mean_time.0 - exact).abs() < 4.0 * m.mean_time.1 + exact * change;
    let high: Vec<&Point> = points.iter().filter(|p| p.beta * p.c.ln() >= 1.0).collect();
    let mut checks = vec![
        Check::count(
            "B = 1: SGD within 4 SE (+ the chain's grid error) of the exact mean exit time of the SGD chain",
            points.iter().filter_map(|p| Some(p.chains_converged && within(&p.sgd, p.sgd_chain?, p.chain_changes.0?))),
        ),
        Check::count(
            "the exact-noise SDE at dt = η (Euler–Maruyama) within 4 SE (+ the chain's grid error) of the exact mean exit time of its chain",
            points.iter().map(|p| p.chains_converged && within(&p.sde_exact_em, p.em_chain, p.chain_changes.1)),
        ),
        Check::count(
            "the continuous-time exact-noise SDE (exact quadrature) is slower than the exact Euler–Maruyama chain at dt = η",
            points.iter().map(|p| p.quadrature_exact > p.em_chain),
        ),
        Check::count(
            "the exact-noise SDE simulated in continuous time (adaptive + bridge, dt = η/8) within 2% + 4 SE of its exact quadrature, where simulated",
            points.iter().filter_map(|p| {
                let m = p.sde_continuum.as_ref()?;
                Some(m.censored == 0 && (m.mean_time.0 - p.quadrature_exact).abs() < 0.02 * p.quadrature_exact + 4.0 * m.mean_time.1)
            }),
        ),
        Check::new(
            format!(
                "β alone does not set SGD's time: at β = {:.2}, η = {} is slower than η = {} (disjoint 95% intervals)",
                slowest_lr.beta, slowest_lr.lr, fastest_lr.lr
            ),
            format!("{:.4e} against {:.4e}", slowest_lr.sgd.time().0, fastest_lr.sgd.time().0),
            slowest_lr.sgd.time().1 > fastest_lr.sgd.time().2,
        ),
        Check::count(
            "where β log c ≥ 1: the paper-noise quadrature within 1/(β log c) of the log-barrier formula (the Eyring–Kramers correction is first order in 1/exponent)",
            high.iter().map(|p| (p.log_barrier / p.quadrature_paper - 1.0).abs() < 1.0 / (p.beta * p.c.ln())),
        ),
    ];
    checks.extend(beyond.checks);
    let chain_tolerance_text = format!("{}%", 100.0 * chain_tolerance);
    let mut md = format!(
        "# sgd-barrier: minibatch SGD over a real barrier, against every theory\n\n\
         Command: `{}`{}\n\n\
         The curve model f(θ, x) = xᵀφ(θ), φ = (sθ, κ(θ² − 1)) with s = 0.5, κ = 1, x ~ N(0, I₂), y = σξ, N = {SAMPLES} samples \
         (docs/theory.md §8): two wells at θ* ≈ ±0.935 and a saddle at 0, where per-sample gradients do not vanish. Label noise σ \
         sets L* and therefore c = L(θˢ)/L* at fixed geometry; B and η set β = B/(ηh*). Every run starts at the left minimum \
         and ends when θ ≥ 0.935; {replicas} replicas per point. Simulated times are the sample means ± SE, or 1/κ̂ with 95% \
         intervals (t = η·steps).\n\n\
         Each point is a chain of approximations, each computed separately:\n\n\
         1. **SGD** itself, batches drawn with replacement, and for B = 1 the **exact SGD chain**: the mean exit time of \
         θ ↦ θ − η r_μ(θ) f'_μ(θ) over the data, solved on a grid refined until the answer moves by less than {} (eq. 22). It is the finite-η reference: everything below that \
         differs from it is the continuum or the noise model;\n\
         2. **EM**: the SDE with the exact minibatch covariance Σ(θ), Euler–Maruyama at dt = η, simulated and solved exactly as \
         a chain. It is SGD's own step with Gaussian noise of the same covariance, so EM/SGD measures the non-Gaussian noise;\n\
         3. the **exact quadrature** of that SDE in continuous time (dt → 0): its ratio to SGD is the cost of the continuum \
         limit at this η; and the same SDE **simulated in continuous time** with the converged solver (`solver = \"adaptive\"`, \
         steps ≤ η/8, exits detected between steps; docs/theory.md §9) where its predicted cost fits the budget (it should meet \
         the quadrature within 2% + 4 SE);\n\
         4. **paper quadrature**: the SDE with the paper's Σ = 2L(θ)H*/B, exactly: the cost of the noise approximation;\n\
         5. the closed forms from the landscape analysis, each with its validity (docs/theory.md §7): **log barrier** (the paper, \
         ∝ c^−(β+1/2)), **linear barrier** (noise frozen at θ*), **Xie et al.** mapped to a mean-square loss (C ≈ 2L*H/B; at \
         s = 1 it coincides with the linear barrier in one dimension, at s = 0 it uses the saddle's curvature) and isotropic \
         **Kramers** (D = ηL*h*/B, equal to the linear barrier in one dimension).\n\n\
         ![β sweep]({NAME}-beta.png)\n\n![c sweep]({NAME}-c.png)\n\n## Every point against every theory\n\n\
         ",
        options.command,
        if options.quick { " (quick mode)" } else { "" },
        chain_tolerance_text,
    );
    let measured = |m: &Measured| {
        if m.escaped == 0 {
            "none escaped".to_string()
        } else if m.censored == 0 {
            plus_minus(m.mean_time.0, m.mean_time.1)
        } else {
            let (t, lo, hi) = m.time();
            format!("{t:.4e} ({lo:.3e} – {hi:.3e}), {} censored", m.censored)
        }
    };
    let mut table = Table::new(&[
        "σ",
        "B",
        "η",
        "β",
        "c",
        "SGD",
        "SGD chain (exact)",
        "EM at dt = η, exact noise",
        "EM chain (exact)",
        "continuous time, exact noise: simulated (adaptive)",
        "continuous time, exact noise",
        "continuous time, paper noise",
        "log barrier",
        "linear barrier = Xie s = 1",
        "Xie s = 0",
    ]);
    for p in points.iter() {
        table.row(vec![
            p.sigma.to_string(),
            p.batch_size.to_string(),
            p.lr.to_string(),
            format!("{:.2}", p.beta),
            format!("{:.3}", p.c),
            measured(&p.sgd),
            p.sgd_chain.map(|c| format!("{c:.4e}")).unwrap_or_else(|| "— (B > 1)".into()),
            measured(&p.sde_exact_em),
            format!("{:.4e}", p.em_chain),
            match (&p.sde_continuum, &p.continuum_skipped) {
                (Some(m), _) => measured(m),
                (None, Some(why)) => format!("skipped ({why})"),
                _ => "—".into(),
            },
            format!("{:.4e}", p.quadrature_exact),
            format!("{:.4e}", p.quadrature_paper),
            format!("{:.4e}{}", p.log_barrier, if p.log_barrier_valid { "" } else { " (not valid)" }),
            format!("{:.4e}", p.linear_barrier),
            format!("{:.4e}", p.xie.1),
        ]);
    }
    md.push_str(&table.markdown());
    md.push_str(&validity_note(&points));
    md.push_str(&beyond.markdown);
    md.push('\n');
    md.push_str(&checks_table(&checks));
    md.push_str("\n## The chain of approximations, point by point\n\n");
    let range = |f: &dyn Fn(&Point) -> Option<f64>| {
        points.iter().filter_map(f).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)))
    };
    let (a, b) = range(&|p| Some(p.em_chain / p.sgd_chain?));
    let (c, d) = range(&|p| Some(p.quadrature_exact / p.sgd_chain?));
    let (e, f) = range(&|p| Some(p.log_barrier / p.sgd_chain.unwrap_or(p.sgd.mean_time.0)));
    let (g, h) = range(&|p| Some(p.quadrature_paper / p.quadrature_exact));
    let same_beta: Vec<String> = by_beta
        .iter()
        .filter(|p| (p.beta - by_beta.last().expect("non-empty").beta).abs() < 1e-9)
        .map(|p| format!("η = {}: {}", p.lr, plus_minus(p.sgd.mean_time.0, p.sgd.mean_time.1)))
        .collect();
    let findings = [
        format!(
            "SGD's exact chain against the Gaussian chain with the same covariance at the same step (B = 1, exact numbers): EM/SGD ranges over {a:.2} – {b:.2}. At equal step, the non-Gaussian shape of SGD's noise changes the escape time by this much."
        ),
        format!(
            "The finite step, not the noise model, dominates: the continuous-time SDE with SGD's exact noise is {c:.1} – {d:.0} times slower than SGD itself (B = 1, exact numbers), growing with β. A likely reason (not proven here): a discrete step's error in the effective potential Ψ = ∫L'/D grows with dt·L'²/D, which is large where the exact noise D(θ) collapses toward the saddle, whatever η·h* is."
        ),
        format!(
            "β = B/(ηh*) alone does not set the escape time of SGD, against the continuum theories: at β = {:.2} the mean times are {}.",
            by_beta.last().expect("non-empty").beta,
            same_beta.join(", ")
        ),
        format!(
            "The paper's noise 2L(θ)H*/B freezes H at θ*; on this model the exact noise at the saddle is much weaker, so the paper-noise quadrature is {g:.4} – {h:.2} of the exact-noise one. Its errors and those of the continuum limit partly cancel: log barrier / SGD ranges over {e:.2} – {f:.2}."
        ),
        "Xie et al. mapped to a mean-square loss (C ≈ 2L*H/B) depends on L*: at s = 1 it equals the linear barrier here (one dimension), and the band to s = 0 spans orders of magnitude because the saddle's curvature |h_eˢ| is smaller than h*. Both ends assume a noise that does not grow with L over the barrier, which fails wherever ΔL/L* is not small.".to_string(),
    ];
    let mut md_findings = String::from("## Findings\n\n");
    for line in &findings {
        md_findings.push_str(&format!("- {line}\n"));
    }
    md = md.replacen("## Every point against every theory", &format!("{md_findings}\n## Every point against every theory"), 1);
    for line in &summary {
        md.push_str(&format!("- {line}\n"));
    }
    summary.splice(0..0, findings.into_iter().chain(beyond.findings));
    write_text(&mut files, &out.join(format!("{NAME}.md")), &md)?;
    Ok(ReproduceReport { name: NAME.into(), files, summary, checks })
}
