//! `effective-dimension`: the double well `L = ε + (θ₁² − 1)²/4 + (k/2) Σ_{i≥2} θ_i²` with
//! k = 2, so H* = 2·I has n = dim equal outliers (h* = 2), under the SDE with the paper's
//! noise Σ = 2L(θ)H*/B. The log-barrier rate (docs/theory.md eq. 13) is
//! κ = (|hˢ|/2π) sqrt(det Ĥ*/|det Ĥˢ|) c^−(β + 1 − n/2) = (√2/2π) c^−(β + 1 − n/2): every extra
//! outlier direction multiplies the rate by c^{1/2}, until n reaches the critical dimension
//! n_c = 2(β + 1), where the exponent vanishes and the minimum stops being stable (docs/theory.md eq. 15:
//! P ∝ L^−(β+1) is normalisable in n dimensions only if n < 2(β + 1)).
//!
//! β = 2 and 4 are brute force; β = 8 and 16, with mean times up to ~10¹⁰, are measured by
//! adaptive multilevel splitting on θ₁ (docs/theory.md §10).

use super::splitting::{AmsDiagnostics, ams_mean_time};
use super::{Check, ReproduceOptions, ReproduceReport, cached_point, checks_table, plus_minus, save_figure, write_text};
use crate::cells;
use crate::dynamics::{HessianRoot, Noise, Sde};
use crate::error::Error;
use crate::error::Result;
use crate::escape::ams::ReactionCoordinate;
use crate::escape::{EnsembleSpec, Exit, run_ensemble};
use crate::model::DoubleWell;
use crate::report::plot::{Figure, Legend, Series};
use crate::report::table::Table;
use crate::stats::EscapeStatistics;
use crate::stats::fit::{LineFit, weighted_line};
use crate::theory::chain::{ChainOptions, Domain, End, GaussianKernel, mean_exit_time};
use crate::theory::mean_first_passage_time_auto;
use crate::theory::rates::{BarrierGeometry, critical_dimension, log_barrier_exponent, log_barrier_rate};
use serde::{Deserialize, Serialize};

const NAME: &str = "effective-dimension";
const H_STAR: f64 = 2.0;
const DT: f64 = 0.01;
const C: f64 = 4.0;
/// β measured by brute force.
const BETAS: [f64; 2] = [2.0, 4.0];
/// β measured by splitting (full mode; quick mode takes the first, n ≤ 3).
const AMS_BETAS: [f64; 2] = [8.0, 16.0];
/// AMS particles and runs per point: (full, quick).
const AMS_SIZES: [(usize, usize); 2] = [(200, 100), (200, 20)];
const MAX_DIM: usize = 8;

/// One (β, n) point.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Point {
    beta: f64,
    n: usize,
    lr: f64,
    replicas: usize,
    seed: u64,
    max_steps: u64,
    /// Mean escape time ± SE over escaped replicas, and the censored exponential rate (per t)
    /// with its 95% interval.
    measured: (f64, f64),
    rate: (f64, f64, f64),
    escaped: usize,
    censored: usize,
    diverged: usize,
    /// "brute-force" or "ams".
    #[serde(default = "brute_force")]
    estimator: String,
    /// The splitting diagnostics of an AMS point.
    #[serde(default)]
    ams: Option<AmsDiagnostics>,
}

fn brute_force() -> String {
    "brute-force".into()
}

fn geometry(n: usize) -> BarrierGeometry {
    let epsilon = 0.25 / (C - 1.0);
    let det_min = H_STAR.powi(n as i32);
    let det_saddle = -H_STAR.powi(n as i32 - 1);
    BarrierGeometry {
        loss_minimum: epsilon,
        loss_saddle: epsilon + 0.25,
        h_star: H_STAR,
        outliers: n,
        escape_eigenvalue: Some(-1.0),
        det_minimum_restricted: det_min,
        det_saddle_restricted: Some(det_saddle),
        det_minimum: Some(det_min),
        det_saddle: Some(det_saddle),
        log_det_ratio: Some(H_STAR.ln()),
        log_det_ratio_stderr: None,
        log_det_ratio_quadrature_change: None,
        escape_curvature_at_minimum: Some(H_STAR),
    }
}

/// The log-barrier mean time 1/κ, or `None` at or beyond the critical dimension.
fn theory_time(beta: f64, n: usize) -> Option<f64> {
    (log_barrier_exponent(beta, n) > 0.0).then(|| 1.0 / log_barrier_rate(&geometry(n), 1.0 / (H_STAR * beta), 1).expect("saddle known"))
}

/// The exact 1-D quadrature (n = 1 only).
fn quadrature(beta: f64) -> f64 {
    let epsilon = 0.25 / (C - 1.0);
    let lr = 1.0 / (H_STAR * beta);
    mean_first_passage_time_auto(|x| -x * (x * x - 1.0), |x| lr * (epsilon + 0.25 * (x * x - 1.0).powi(2)) * H_STAR, -1.0, 1.0, 20_000)
}

/// The exact mean exit time (t units) of the simulated scheme at n = 1, Euler–Maruyama at dt,
/// θ ↦ N(θ − L'(θ)dt, 2D(θ)dt) from −1 until θ ≥ 1 (docs/theory.md eq. 22), and its grid's
/// last relative change (its numerical error).
fn em_chain(beta: f64) -> (f64, f64) {
    let epsilon = 0.25 / (C - 1.0);
    let lr = 1.0 / (H_STAR * beta);
    let diffusion = |x: f64| lr * (epsilon + 0.25 * (x * x - 1.0).powi(2)) * H_STAR;
    let kernel = GaussianKernel { mean: |x: f64| x - DT * x * (x * x - 1.0), sd: |x: f64| (2.0 * diffusion(x) * DT).sqrt(), cost: |_| DT };
    let domain = Domain { lower: -2.0, below: End::Reflecting, upper: 1.0, above: End::Absorbing };
    let chain = mean_exit_time(&kernel, domain, -1.0, ChainOptions::default());
    (chain.mean, chain.relative_change)
}

/// Chains whose last refinement moved the mean by at most this are used, with that change as
/// their error (the grid's own target, 0.1%, is missed at β = 16 at its node cap).
const USABLE_CHAIN_CHANGE: f64 = 0.01;

/// The exponent of the log-barrier formula's leading term at (β, n), (β + 1 − n/2)·log c: its
/// Eyring–Kramers correction is first order in its inverse.
fn exponent(beta: f64, n: usize) -> f64 {
    log_barrier_exponent(beta, n) * C.ln()
}

/// Weighted fit of log t against n over the points whose formula exponent is at least 1 and
/// that escaped in full: the slope is −log(speed-up per direction).
fn speedup_fit(points: &[Point], beta: f64) -> Option<LineFit> {
    let used: Vec<&Point> =
        points.iter().filter(|p| p.beta == beta && p.censored + p.diverged == 0 && exponent(beta, p.n) >= 1.0).collect();
    let x: Vec<f64> = used.iter().map(|p| p.n as f64).collect();
    let y: Vec<f64> = used.iter().map(|p| p.measured.0.ln()).collect();
    let sigma: Vec<f64> = used.iter().map(|p| p.measured.1 / p.measured.0).collect();
    weighted_line(&x, &y, &sigma)
}

/// `replicas` = 0: by splitting on θ₁ from −1 to +1 with `ams_size` (particles, runs).
fn compute_point(beta: f64, n: usize, (replicas, ams_size): (usize, (usize, usize)), seed: u64, max_steps: u64) -> Result<Point> {
    let lr = 1.0 / (H_STAR * beta);
    let model = DoubleWell { epsilon: 0.25 / (C - 1.0), dim: n, stiffness: H_STAR };
    let mut sqrt_hessian = vec![0.0; n * n];
    for i in 0..n {
        sqrt_hessian[i * n + i] = H_STAR.sqrt();
    }
    let sde = Sde::new(&model, DT, Noise::Paper { lr, batch_size: 1, sqrt_hessian: HessianRoot::Dense(sqrt_hessian) }, None)
        .expect("analytic noise with a valid step");
    let mut start = vec![0.0; n];
    start[0] = -1.0;
    let exit = Exit::Coordinate { axis: 0, threshold: 1.0 };
    let (stats, ams) = if replicas == 0 {
        let mut direction = vec![0.0; n];
        direction[0] = 1.0;
        let xi = ReactionCoordinate::Projection { direction, from: -1.0, to: 1.0 };
        let (stats, diagnostics) = ams_mean_time(&model, &sde, &exit, &start, xi, "coordinate", ams_size, seed)
            .map_err(|e| Error::invalid("effective-dimension", format!("β = {beta}, n = {n}"), e))?;
        (stats, Some(diagnostics))
    } else {
        let spec = EnsembleSpec { seed, replicas, max_steps };
        (EscapeStatistics::from_outcomes(&run_ensemble(&model, &sde, &exit, &start, spec, Vec::new(), &|_| {})), None)
    };
    Ok(Point {
        beta,
        n,
        lr,
        replicas,
        seed,
        max_steps,
        measured: (stats.mean_time, stats.mean_time_stderr),
        rate: (stats.rate_per_time.estimate, stats.rate_per_time.ci_low, stats.rate_per_time.ci_high),
        escaped: stats.escaped,
        censored: stats.censored,
        diverged: stats.diverged,
        estimator: if ams.is_some() { "ams" } else { "brute-force" }.into(),
        ams,
    })
}

/// The speed-up t(n)/t(n + 1) at `beta` with its standard error (delta method), when both
/// points escaped in full.
fn speedup(points: &[Point], beta: f64, n: usize) -> Option<(f64, f64)> {
    let a = points.iter().find(|p| p.beta == beta && p.n == n)?;
    let b = points.iter().find(|p| p.beta == beta && p.n == n + 1)?;
    if a.censored + a.diverged + b.censored + b.diverged > 0 {
        return None;
    }
    let r = a.measured.0 / b.measured.0;
    Some((r, r * ((a.measured.1 / a.measured.0).powi(2) + (b.measured.1 / b.measured.0).powi(2)).sqrt()))
}

pub(super) fn run(options: &ReproduceOptions, progress: &(dyn Fn(&str) + Sync)) -> Result<ReproduceReport> {
    let replicas = if options.quick { 1000 } else { 10_000 };
    let mut points = Vec::new();
    let mut index = 0u64;
    let ams_betas: &[f64] = if options.quick { &AMS_BETAS[..1] } else { &AMS_BETAS };
    let ams_size = AMS_SIZES[usize::from(options.quick)];
    let grid =
        BETAS.iter().map(|&b| (b, replicas, MAX_DIM)).chain(ams_betas.iter().map(|&b| (b, 0, if options.quick { 3 } else { MAX_DIM })));
    let betas: Vec<f64> = BETAS.iter().chain(ams_betas).copied().collect();
    for (beta, replicas, max_dim) in grid {
        // Censor at 50 × the n = 1 quadrature: far beyond every stable point's mean time.
        let max_steps = (50.0 * quadrature(beta) / DT) as u64;
        for n in 1..=max_dim {
            index += 1;
            let key = if replicas == 0 {
                format!("beta{beta}-n{n}-ams{}x{}", ams_size.0, ams_size.1)
            } else {
                format!("beta{beta}-n{n}-r{replicas}")
            };
            let seed = options.seed.wrapping_add(index);
            let (point, cached) = cached_point(options, NAME, &key, || compute_point(beta, n, (replicas, ams_size), seed, max_steps))?;
            progress(&format!("{NAME}: {key} {}", if cached { "(cached)" } else { "done" }));
            points.push(point);
        }
    }
    let mut files = Vec::new();
    let mut summary = Vec::new();
    let out = &options.out;

    let mut series = Vec::new();
    for (k, &beta) in betas.iter().enumerate() {
        let of = || points.iter().filter(move |p| p.beta == beta);
        let measured: Vec<&Point> = of().filter(|p| p.censored + p.diverged == 0).collect();
        let how = if ams_betas.contains(&beta) { "splitting" } else { "brute force" };
        series.push(
            Series::points(
                format!("β = {beta}: simulated (paper noise, {how})"),
                measured.iter().map(|p| (p.n as f64, p.measured.0)).collect(),
                Some(measured.iter().map(|p| p.measured.1).collect()),
            )
            .colour(k),
        );
        series.push(
            Series::dashed(
                format!("β = {beta}: log barrier ∝ c^−(β+1−n/2), n_c = {}", critical_dimension(beta)),
                (1..=MAX_DIM).filter_map(|n| Some((n as f64, theory_time(beta, n)?))).collect(),
            )
            .colour(k),
        );
        // Successive ratios against c^{1/2}.
        let ratios: Vec<String> = (1..MAX_DIM)
            .filter_map(|n| speedup(&points, beta, n).map(|(r, se)| format!("t({n})/t({}) = {}", n + 1, plus_minus(r, se))))
            .collect();
        summary.push(format!("β = {beta} (n_c = {}): {} (theory c^(1/2) = {})", critical_dimension(beta), ratios.join(", "), C.sqrt()));
        if let Some(fit) = speedup_fit(&points, beta) {
            let factor = (-fit.slope).exp();
            let used = of().filter(|p| p.censored + p.diverged == 0 && exponent(beta, p.n) >= 1.0).count();
            summary.push(format!(
                "β = {beta}: a weighted fit of log t against n over the {used} points with (β + 1 − n/2) log c ≥ 1 gives a speed-up of {} per outlier direction against c^(1/2) = {} ({:.1} SE apart; χ²/ν = {:.2}, p = {:.1e}{})",
                plus_minus(factor, factor * fit.slope_stderr),
                C.sqrt(),
                (factor - C.sqrt()).abs() / (factor * fit.slope_stderr),
                fit.chi2_per_dof(),
                fit.p_value,
                if fit.acceptable() { "" } else { ": the points do not follow one exponential in n" }
            ));
        }
        let p1 = of().find(|p| p.n == 1).expect("n = 1 point");
        let (chain, change) = em_chain(beta);
        summary.push(format!(
            "β = {beta}, n = 1: simulated {} against {:.4} for the exact Euler–Maruyama chain at dt = {DT} (grid change {:.1e}), {:.4} for the continuous-time quadrature and {:.4} for the log-barrier formula",
            plus_minus(p1.measured.0, p1.measured.1),
            chain,
            change,
            quadrature(beta),
            theory_time(beta, 1).expect("n = 1 < n_c")
        ));
    }
    let figure = Figure {
        title: format!("Double well, c = {C}, H* = 2·I: escape time against the number of outliers n"),
        x_label: "number of outlier directions n".into(),
        y_label: "mean escape time t (θ₁: −1 → +1)".into(),
        log_x: false,
        log_y: true,
        series,
        legend: Legend::UpperRight,
    };
    let stem = out.join(NAME);
    save_figure(&mut files, &figure, &stem)?;

    let json = serde_json::json!({
        "experiment": NAME, "version": crate::VERSION, "seed": options.seed, "quick": options.quick,
        "command": options.command, "c": C, "h_star": H_STAR, "dt": DT, "points": points,
        "theory": points.iter().map(|p| serde_json::json!({"beta": p.beta, "n": p.n, "log_barrier_time": theory_time(p.beta, p.n), "critical_dimension": critical_dimension(p.beta)})).collect::<Vec<_>>(),
        "quadrature_n1": betas.iter().map(|&b| (b, quadrature(b))).collect::<Vec<_>>(),
    });
    write_text(&mut files, &out.join(format!("{NAME}.json")), &serde_json::to_string_pretty(&json).expect("serialises"))?;
    let mut csv = Table::new(&[
        "beta",
        "n",
        "lr",
        "replicas",
        "mean_time",
        "mean_time_stderr",
        "rate",
        "rate_lower",
        "rate_upper",
        "escaped",
        "censored",
        "diverged",
        "log_barrier_time",
        "critical_dimension",
    ]);
    for p in &points {
        csv.row(cells![
            p.beta,
            p.n,
            p.lr,
            p.replicas,
            p.measured.0,
            p.measured.1,
            p.rate.0,
            p.rate.1,
            p.rate.2,
            p.escaped,
            p.censored,
            p.diverged,
            theory_time(p.beta, p.n).map(|t| t.to_string()).unwrap_or_else(|| "none".into()),
            critical_dimension(p.beta)
        ]);
    }
    write_text(&mut files, &out.join(format!("{NAME}.csv")), &csv.csv())?;

    let beyond = betas.iter().flat_map(|&beta| (1..MAX_DIM).filter(move |&n| n as f64 >= critical_dimension(beta)).map(move |n| (beta, n)));
    let checks = vec![
        Check::count(
            "below n_c: simulation within 4 SE + t/((β + 1 − n/2) log c) of the log-barrier formula t (its Eyring–Kramers correction is first order in 1/exponent)",
            points.iter().filter(|p| theory_time(p.beta, p.n).is_some()).map(|p| {
                let t = theory_time(p.beta, p.n).expect("filtered");
                p.censored + p.diverged == 0 && (p.measured.0 - t).abs() < 4.0 * p.measured.1 + t / exponent(p.beta, p.n)
            }),
        ),
        Check::count(
            "at and beyond n_c: the speed-up t(n)/t(n + 1) falls below c^(1/2) by more than 4 SE",
            beyond.map(|(beta, n)| speedup(&points, beta, n).is_some_and(|(r, se)| C.sqrt() - r > 4.0 * se)),
        ),
        Check::count(
            "n = 1: simulation within 4 SE (+ the grid's error, at most 1%) of the exact mean exit time of its Euler–Maruyama chain",
            betas.iter().map(|&beta| {
                let p = points.iter().find(|p| p.beta == beta && p.n == 1).expect("n = 1 point");
                let (chain, change) = em_chain(beta);
                change <= USABLE_CHAIN_CHANGE && (p.measured.0 - chain).abs() < 4.0 * p.measured.1 + chain * change
            }),
        ),
    ];
    let mut md = format!(
        "# effective-dimension: each outlier direction speeds escape by c^(1/2)\n\n\
         Command: `{}`{}\n\n\
         The double well L = ε + (θ₁² − 1)²/4 + (k/2)Σ_{{i≥2}} θ_i² with k = h* = 2, so H(θ*) = 2·I has n = dim outliers, and \
         c = L(θˢ)/L(θ*) = {C}. The SDE with the paper's noise Σ = 2L(θ)H*/B (B = 1, η = 1/(2β)) is integrated by \
         Euler–Maruyama (dt = {DT}) from θ* = (−1, 0, …) until θ₁ = +1: for β = {} by brute force, {replicas} replicas a point, censored at \
         50 times the n = 1 quadrature; for β = {}, whose mean times reach {:.0e}, by adaptive multilevel splitting on θ₁ \
         (docs/theory.md §10; {} particles × {} runs, levels from a pilot trajectory; diagnostics in the table of all points). The log-barrier formula gives 1/κ = (2π/√2) c^(β + 1 − n/2): the ratio t(n)/t(n + 1) is c^(1/2) = \
         {} for every n, until the critical dimension n_c = 2(β + 1), where the exponent vanishes and the formula no \
         longer applies (the quasi-stationary law L^−(β+1) is not normalisable for n ≥ n_c).\n\n\
         ![{NAME}]({NAME}.png)\n\n## Findings\n\n",
        options.command,
        if options.quick { " (quick mode)" } else { "" },
        BETAS.map(|b| b.to_string()).join(", "),
        ams_betas.iter().map(|b| b.to_string()).collect::<Vec<_>>().join(", "),
        points.iter().filter(|p| p.ams.is_some()).map(|p| p.measured.0).fold(0.0, f64::max),
        ams_size.0,
        ams_size.1,
        C.sqrt()
    );
    for line in &summary {
        md.push_str(&format!("- {line}\n"));
    }
    md.push('\n');
    md.push_str(&checks_table(&checks));
    md.push_str("\n## All points\n\n");
    let mut table = Table::new(&[
        "β",
        "n",
        "n_c",
        "simulated mean t",
        "rate (95% CI)",
        "estimator",
        "escaped / censored / diverged",
        "log barrier 1/κ",
        "simulated / log barrier",
    ]);
    for p in &points {
        let theory = theory_time(p.beta, p.n);
        table.row(vec![
            p.beta.to_string(),
            p.n.to_string(),
            critical_dimension(p.beta).to_string(),
            plus_minus(p.measured.0, p.measured.1).to_string(),
            format!("{:.3e} ({:.3e} – {:.3e})", p.rate.0, p.rate.1, p.rate.2),
            match &p.ams {
                Some(a) => format!(
                    "AMS: p̄ = {:.2e}, median p̂/p̄ = {:.2}, variance {:.1}× idealised, {} extinct, {:.1e} steps",
                    a.probability.0,
                    a.median_probability / a.probability.0,
                    a.variance_ratio,
                    a.extinctions,
                    a.steps as f64
                ),
                None => format!("brute force, {} replicas", p.replicas),
            },
            format!("{} / {} / {}", p.escaped, p.censored, p.diverged),
            theory.map(|t| format!("{t:.4}")).unwrap_or_else(|| "— (n ≥ n_c)".into()).to_string(),
            theory.map(|t| format!("{:.3}", p.measured.0 / t)).unwrap_or_else(|| "—".into()).to_string(),
        ]);
    }
    md.push_str(&table.markdown());
    write_text(&mut files, &out.join(format!("{NAME}.md")), &md)?;
    Ok(ReproduceReport { name: NAME.into(), files, summary, checks })
}
