//! sgd-barrier beyond brute force: B = 1, σ = 0.5 at β ≈ 8–14 (η = 0.035, 0.025, 0.02), where
//! SGD's mean escape time reaches 10⁸–10¹¹. SGD itself is measured there by its exact chain
//! (docs/theory.md eq. 22) and by splitting (§10), with brute force where it is affordable; the
//! continuum references and closed forms stand beside them as in the main table.

use super::{NAME, config, config_with, em_dynamics, last_change, paper_dynamics, sgd_dynamics, time};
use crate::cells;
use crate::error::Result;
use crate::experiment::prepare::prepare;
use crate::experiment::reproduce::splitting::{AmsDiagnostics, ams_of_prepared};
use crate::experiment::reproduce::{Check, ReproduceOptions, cached_point, plus_minus};
use crate::experiment::simulate::simulate;
use crate::report::table::Table;
use crate::stats::EscapeStatistics;
use serde::{Deserialize, Serialize};
use std::path::Path;

const SIGMA: f64 = 0.5;
/// Learning rates at B = 1 (full mode; quick mode takes the first).
const LRS: [f64; 3] = [0.035, 0.025, 0.02];
/// AMS particles and runs: (full, quick).
const AMS_SIZES: [(usize, usize); 2] = [(200, 200), (100, 20)];
const BRUTE_REPLICAS: usize = 200;

/// One (η, B = 1) point beyond the main grid.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct BeyondPoint {
    lr: f64,
    beta: f64,
    c: f64,
    /// The exact SGD chain's mean time, its last relative change and whether it converged.
    sgd_chain: f64,
    chain_change: f64,
    chain_converged: bool,
    /// The exact-noise Euler–Maruyama chain at dt = η.
    em_chain: f64,
    quadrature_exact: f64,
    quadrature_paper: f64,
    log_barrier: f64,
    linear_barrier: f64,
    /// SGD by splitting: mean time ± SE, with its diagnostics.
    ams: Option<(f64, f64)>,
    ams_diagnostics: Option<AmsDiagnostics>,
    ams_error: Option<String>,
    /// SGD by brute force where its predicted cost fits the budget.
    brute: Option<(f64, f64)>,
}

impl BeyondPoint {
    /// The AMS 95% interval (eq. 34).
    fn ams_interval(&self) -> Option<(f64, f64)> {
        Some(self.ams_diagnostics.as_ref()?.time_interval(self.ams?.0))
    }

    /// Whether the exact chain lies in the AMS 95% interval.
    fn ams_agrees(&self) -> Option<bool> {
        let (lo, hi) = self.ams_interval()?;
        Some(lo <= self.sgd_chain && self.sgd_chain <= hi)
    }
}

fn compute(lr: f64, seed: u64, (particles, runs): (usize, usize), budget: f64, chain_tolerance: f64) -> Result<BeyondPoint> {
    let landscape = format!("[landscape]\nchain_tolerance = {chain_tolerance:e}");
    let sgd = sgd_dynamics(lr, 1, &landscape);
    let estimator = format!("[estimator]\nkind = \"ams\"\nparticles = {particles}\nruns = {runs}\n");
    let prepared = prepare(&config_with(SIGMA, &format!("seed = {seed}\n"), &sgd, &estimator)?, Path::new("."))?;
    let report = &prepared.landscape;
    let chain = report.predictions.sgd_chain.clone().expect("B = 1 has the SGD chain");
    let geometry = report.geometry.expect("the curve model has a saddle");
    let em_report = prepare(&config(SIGMA, 1, seed, 1, &em_dynamics(lr, 1, &landscape))?, Path::new("."))?.landscape;
    let paper_report = prepare(&config(SIGMA, 1, seed, 1, &paper_dynamics(lr, 1))?, Path::new("."))?.landscape;
    let mut point = BeyondPoint {
        lr,
        beta: report.beta.expect("SGD has η and B"),
        c: geometry.ratio(),
        sgd_chain: time(&chain),
        chain_change: last_change(&chain),
        chain_converged: chain.valid == Some(true),
        em_chain: em_report.predictions.euler_maruyama_chain.as_ref().map(time).unwrap_or(f64::NAN),
        quadrature_exact: report.predictions.quadrature.as_ref().map(time).unwrap_or(f64::NAN),
        quadrature_paper: paper_report.predictions.quadrature.as_ref().map(time).unwrap_or(f64::NAN),
        log_barrier: time(&report.predictions.log_barrier),
        linear_barrier: time(&report.predictions.linear_barrier),
        ams: None,
        ams_diagnostics: None,
        ams_error: None,
        brute: None,
    };
    match ams_of_prepared(&prepared) {
        Ok((stats, diagnostics)) => {
            point.ams = Some((stats.mean_time, stats.mean_time_stderr));
            point.ams_diagnostics = Some(diagnostics);
        }
        Err(e) => point.ams_error = Some(e.to_string()),
    }
    let cost = point.sgd_chain / lr * BRUTE_REPLICAS as f64;
    if cost <= budget {
        let max_steps = (20.0 * point.sgd_chain / lr) as u64;
        let brute = prepare(&config(SIGMA, BRUTE_REPLICAS, seed.wrapping_add(1 << 32), max_steps, &sgd)?, Path::new("."))?;
        let stats = EscapeStatistics::from_outcomes(&simulate(&brute, Vec::new(), &|_| {})?);
        point.brute = (stats.censored + stats.diverged == 0).then_some((stats.mean_time, stats.mean_time_stderr));
    }
    Ok(point)
}

/// What the section adds to the page.
pub(super) struct Section {
    pub findings: Vec<String>,
    pub checks: Vec<Check>,
    pub markdown: String,
    pub points: Vec<BeyondPoint>,
}

/// Computes (or reads from the cache) the points and renders the section.
pub(super) fn section(options: &ReproduceOptions, budget: f64, chain_tolerance: f64, progress: &(dyn Fn(&str) + Sync)) -> Result<Section> {
    let lrs: &[f64] = if options.quick { &LRS[..1] } else { &LRS };
    let size = AMS_SIZES[usize::from(options.quick)];
    let mut points = Vec::new();
    for (k, &lr) in lrs.iter().enumerate() {
        let key = format!("beyond-B1-lr{lr}-ams{}x{}-budget{budget:e}", size.0, size.1);
        let seed = options.seed.wrapping_add(1000 + k as u64);
        let (point, cached) = cached_point(options, NAME, &key, || compute(lr, seed, size, budget, chain_tolerance))?;
        progress(&format!("{NAME}: {key} {}", if cached { "(cached)" } else { "done" }));
        points.push(point);
    }
    let mut table = Table::new(&[
        "η",
        "β",
        "c",
        "SGD chain (exact)",
        "SGD, brute force",
        "SGD by AMS (95% interval)",
        "AMS / chain",
        "AMS: median p̂ / p̄, variance / idealised",
        "EM chain at dt = η (exact)",
        "continuous time, exact noise",
        "continuous time, paper noise",
        "log barrier",
        "linear barrier",
    ]);
    for p in &points {
        let chain = format!("{:.4e}{}", p.sgd_chain, if p.chain_converged { "" } else { " (grid not converged)" });
        table.row(cells![
            p.lr,
            format!("{:.2}", p.beta),
            format!("{:.3}", p.c),
            chain,
            p.brute.map(|(t, se)| plus_minus(t, se)).unwrap_or_else(|| "— (beyond the budget)".into()),
            match (p.ams, p.ams_interval()) {
                (Some((t, _)), Some((lo, hi))) => format!("{t:.3e} ({lo:.2e} – {hi:.2e})"),
                _ => p.ams_error.clone().unwrap_or_default(),
            },
            p.ams.map(|(t, _)| format!("{:.2e}", t / p.sgd_chain)).unwrap_or_default(),
            p.ams_diagnostics
                .as_ref()
                .map(|d| format!("{:.1e}, {:.0}", d.median_probability / d.probability.0, d.variance_ratio))
                .unwrap_or_default(),
            format!("{:.4e}", p.em_chain),
            format!("{:.4e}", p.quadrature_exact),
            format!("{:.4e}", p.quadrature_paper),
            format!("{:.4e}", p.log_barrier),
            format!("{:.4e}", p.linear_barrier)
        ]);
    }
    let mut checks = Vec::new();
    let brute: Vec<bool> = points
        .iter()
        .filter_map(|p| {
            let (t, se) = p.brute?;
            Some(p.chain_converged && (t - p.sgd_chain).abs() < 4.0 * se + p.sgd_chain * p.chain_change)
        })
        .collect();
    if !brute.is_empty() {
        checks.push(Check::count("β ≥ 8: brute-force SGD within 4 SE (+ the grid error) of the exact SGD chain, where affordable", brute));
    }
    checks.push(Check::count(
        "β ≥ 8: every AMS 95% interval of SGD's time contains the exact chain's, or the run's own diagnostics flag it (variance above 10× the idealised: the run's warning)",
        points.iter().filter_map(|p| Some(p.ams_agrees()? || p.ams_diagnostics.as_ref()?.variance_ratio > 10.0)),
    ));
    let mut findings = Vec::new();
    let converged: Vec<&BeyondPoint> = points.iter().filter(|p| p.chain_converged).collect();
    if let (Some(first), Some(last)) = (converged.first(), converged.last())
        && last.beta > first.beta
    {
        let per_beta = |a: f64, b: f64| (b / a).ln() / (last.beta - first.beta);
        findings.push(format!(
            "B = 1, σ = {SIGMA} (c = {:.3}), β = {:.2} → {:.2} by the exact SGD chain: ln t grows by {:.2} per unit β, against ln c = {:.2} for the log barrier (t ∝ c^(β+1/2)), c − 1 = {:.2} for the linear barrier, {:.2} for the exact-noise SDE in continuous time and {:.2} for its Euler–Maruyama chain at dt = η",
            first.c,
            first.beta,
            last.beta,
            per_beta(first.sgd_chain, last.sgd_chain),
            first.c.ln(),
            first.c - 1.0,
            per_beta(first.quadrature_exact, last.quadrature_exact),
            per_beta(first.em_chain, last.em_chain)
        ));
    }
    let missed: Vec<String> = points
        .iter()
        .filter_map(|p| {
            let ((t, _), d) = (p.ams?, p.ams_diagnostics.as_ref()?);
            (!p.ams_agrees()?).then(|| {
                format!(
                    "β = {:.2}: {:.1e}× the chain, median p̂ {:.0e} of the mean, variance {:.0}× idealised",
                    p.beta,
                    t / p.sgd_chain,
                    d.median_probability / d.probability.0,
                    d.variance_ratio
                )
            })
        })
        .collect();
    findings.push(if missed.is_empty() {
        "the AMS 95% interval contains the exact SGD chain's time at every β here".to_string()
    } else {
        format!(
            "splitting on θ does not measure SGD's escape here ({}): SGD with B = 1 crosses this barrier by rare large per-sample gradient steps, which splitting on the state cannot sample (docs/theory.md §10); its diagnostics flag every such run, and the exact chain is the measurement",
            missed.join("; ")
        )
    });
    let mut markdown = String::from(
        "\n## Beyond brute force: β ≥ 8 (B = 1, σ = 0.5)\n\n\
         SGD's mean escape time grows past 10⁸ here, so SGD is measured by its exact chain (eq. 22), by splitting on θ (docs/theory.md \
         §10; the diagnostics are the median of the runs' p̂ over their mean and the runs' variance over the idealised ln(1/p)/N), and by \
         brute force where affordable.\n\n",
    );
    markdown.push_str(&table.markdown());
    markdown.push('\n');
    for f in &findings {
        markdown.push_str(&format!("- {f}\n"));
    }
    Ok(Section { findings, checks, markdown, points })
}
