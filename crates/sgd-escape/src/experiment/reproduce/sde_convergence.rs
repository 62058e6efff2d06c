//! `sde-convergence`: the mean exit time of each SDE solver against dt, on three problems with an
//! exact answer: (a) Brownian motion with drift to a level, E[T] = b/μ; (b) the double well with
//! the paper's noise, against its quadrature; (c) the curve model with the exact minibatch noise,
//! against its quadrature (docs/theory.md §9).

use super::{Check, ReproduceOptions, ReproduceReport, cached_point, checks_table, plus_minus, save_figure, write_text};
use crate::cells;
use crate::dynamics::{Noise, Sde, Solver};
use crate::error::Result;
use crate::escape::{EnsembleSpec, Exit, run_ensemble};
use crate::experiment::config::Config;
use crate::experiment::prepare::prepare;
use crate::experiment::simulate::simulate;
use crate::model::Model;
use crate::report::plot::{Figure, Legend, Series, Style};
use crate::report::table::Table;
use crate::stats::EscapeStatistics;
use crate::stats::fit::weighted_line;
use serde::{Deserialize, Serialize};
use std::path::Path;

const NAME: &str = "sde-convergence";
/// −ζ(1/2)/√(2π): the mean overshoot of a Gaussian random walk over a level, per step standard
/// deviation (Siegmund 1979); grid-checked Euler–Maruyama on (a) is late by β₁ σ √dt / μ.
const SIEGMUND_BETA1: f64 = 0.582_597_157_939_010_6;
/// The solvers, by label: (label, `[dynamics.solver]` text).
const SOLVERS: [(&str, &str); 4] = [
    ("euler-maruyama, grid", "kind = \"euler-maruyama\""),
    ("euler-maruyama + bridge", "kind = \"euler-maruyama\"\nbridge = true"),
    ("adaptive + bridge", "kind = \"adaptive\""),
    ("lamperti + bridge", "kind = \"lamperti\""),
];
const CASES: [&str; 3] = ["drift", "double-well", "curve"];

/// One (case, solver, dt).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Point {
    case: String,
    solver: String,
    dt: f64,
    replicas: usize,
    seed: u64,
    /// The exact mean exit time of the continuous-time SDE.
    exact: f64,
    /// Measured mean exit time and its standard error.
    measured: (f64, f64),
    /// Mean steps per replica (the cost).
    mean_steps: f64,
    censored: usize,
}

impl Point {
    /// (measured − exact)/exact and its standard error.
    fn error(&self) -> (f64, f64) {
        (self.measured.0 / self.exact - 1.0, self.measured.1 / self.exact)
    }
}

/// L(θ) = −μθ: Brownian motion with drift μ under isotropic noise.
struct Slope {
    mu: f64,
}

impl Model for Slope {
    fn dim(&self) -> usize {
        1
    }
    fn loss(&self, theta: &[f64]) -> f64 {
        -self.mu * theta[0]
    }
    fn loss_and_gradient(&self, theta: &[f64], grad: &mut [f64]) -> f64 {
        grad[0] = -self.mu;
        -self.mu * theta[0]
    }
}

/// (a): dθ = μ dt + σ dW from 0 to b = 1, μ = 1, σ = 1 (D = 1/2): E[T] = b/μ = 1. Lamperti is
/// Euler–Maruyama here (constant D), so it is not run.
fn drift_point(solver: &str, dt: f64, replicas: usize, seed: u64) -> Point {
    let model = Slope { mu: 1.0 };
    let (rule, bridge) = match solver {
        "euler-maruyama, grid" => (Solver::EulerMaruyama, false),
        "euler-maruyama + bridge" => (Solver::EulerMaruyama, true),
        _ => (Solver::Adaptive { tolerance: 0.05, length: 1.0, origin: vec![0.0] }, true),
    };
    let sde = Sde::new(&model, dt, Noise::Isotropic { temperature: 0.5 }, None).expect("valid").with_solver(rule).with_bridge(bridge);
    // 200 mean exit times at the smallest step any solver takes here ((εℓ)²/(2 Tr D) = 0.0025).
    let spec = EnsembleSpec { seed, replicas, max_steps: (200.0 / dt.min(0.0025)) as u64 };
    let outcomes = run_ensemble(&model, &sde, &Exit::Coordinate { axis: 0, threshold: 1.0 }, &[0.0], spec, Vec::new(), &|_| {});
    point("drift", solver, dt, replicas, seed, 1.0, &EscapeStatistics::from_outcomes(&outcomes))
}

fn point(case: &str, solver: &str, dt: f64, replicas: usize, seed: u64, exact: f64, stats: &EscapeStatistics) -> Point {
    Point {
        case: case.into(),
        solver: solver.into(),
        dt,
        replicas,
        seed,
        exact,
        measured: (stats.mean_time, stats.mean_time_stderr),
        mean_steps: stats.mean_steps,
        censored: stats.censored,
    }
}

/// (b) and (c) through the configuration path: the quadrature is the run's own prediction.
fn config_point(case: &str, solver: &str, dt: f64, replicas: usize, seed: u64) -> Result<Point> {
    let solver_text = SOLVERS.iter().find(|s| s.0 == solver).expect("a known solver").1;
    let (model, noise, exit) = match case {
        "double-well" => (
            "kind = \"double-well\"\nepsilon = 0.125",
            "kind = \"paper\"\nlr = 0.25\nbatch_size = 1",
            "kind = \"coordinate\"\nthreshold = 1.0",
        ),
        _ => (
            "kind = \"curve\"\ns = 0.5\nkappa = 1.0\nnoise = 0.5\nsamples = 10000\ndata_seed = 0",
            "kind = \"exact\"\nlr = 0.1\nbatch_size = 1\nsampling = \"with-replacement\"",
            "kind = \"coordinate\"\nthreshold = 0.935",
        ),
    };
    let text = format!(
        "seed = {seed}\nreplicas = {replicas}\nmax_steps = 1_000_000_000\n[model]\n{model}\n\
         [dynamics]\nkind = \"sde\"\ndt = {dt}\n[dynamics.noise]\n{noise}\n[dynamics.solver]\n{solver_text}\n\
         [start]\npoint = [-1.0]\n[exit]\n{exit}\n[landscape]\nexact_chains = false\n"
    );
    let prepared = prepare(&Config::from_toml(&text, Path::new("sde-convergence.toml"))?, Path::new("."))?;
    let exact = prepared.landscape.predictions.quadrature.as_ref().and_then(|q| q.mean_time).expect("a 1-D model has its quadrature");
    let stats = EscapeStatistics::from_outcomes(&simulate(&prepared, Vec::new(), &|_| {})?);
    Ok(point(case, solver, dt, replicas, seed, exact, &stats))
}

/// The convergence order: a weighted fit of log|error| against log dt over the points whose
/// error exceeds 3 standard errors; `None` with fewer than two such points.
fn order(points: &[&Point]) -> Option<crate::stats::fit::LineFit> {
    let resolved: Vec<&&Point> = points.iter().filter(|p| p.error().0.abs() > 3.0 * p.error().1).collect();
    if resolved.len() < 2 {
        return None;
    }
    let x: Vec<f64> = resolved.iter().map(|p| p.dt.ln()).collect();
    let y: Vec<f64> = resolved.iter().map(|p| p.error().0.abs().ln()).collect();
    let s: Vec<f64> = resolved.iter().map(|p| p.error().1 / p.error().0.abs()).collect();
    weighted_line(&x, &y, &s)
}

/// Lamperti is Euler–Maruyama on (a), and on (c) its steps shrink like 1/D ∝ θ⁻⁶ in the
/// tails, which the time-changed process visits freely: it is run on (b) only.
fn solvers_for(case: &str) -> impl Iterator<Item = &'static str> + '_ {
    SOLVERS.iter().map(|s| s.0).filter(move |s| case == "double-well" || !s.starts_with("lamperti"))
}

pub(super) fn run(options: &ReproduceOptions, progress: &(dyn Fn(&str) + Sync)) -> Result<ReproduceReport> {
    let quick = options.quick;
    let dts = |case: &str| -> Vec<f64> {
        let all: &[f64] = match case {
            "drift" => &[0.1, 0.05, 0.025, 0.0125, 0.00625],
            "double-well" => &[0.08, 0.04, 0.02, 0.01],
            _ => &[0.1, 0.05, 0.025, 0.0125, 0.00625],
        };
        // Quick mode: the coarsest step and η/8 (the acceptance step of the curve model).
        if quick { vec![all[0], all[3]] } else { all.to_vec() }
    };
    let replicas = |case: &str| match (case, quick) {
        ("drift", false) => 200_000,
        ("drift", true) => 20_000,
        ("double-well", false) => 20_000,
        ("double-well", true) => 2000,
        (_, false) => 2000,
        (_, true) => 200,
    };
    let mut points = Vec::new();
    let mut index = 0u64;
    for case in CASES {
        for solver in solvers_for(case) {
            for dt in dts(case) {
                index += 1;
                let n = replicas(case);
                let seed = options.seed.wrapping_add(index);
                // The seed is part of the key: a cached point is reused only for the same stream.
                let key = format!("{case}-{}-dt{dt}-n{n}-seed{seed}", solver.replace([' ', ',', '+'], ""));
                let (p, cached) = cached_point(options, NAME, &key, || match case {
                    "drift" => Ok(drift_point(solver, dt, n, seed)),
                    _ => config_point(case, solver, dt, n, seed),
                })?;
                progress(&format!("{NAME}: {key} {}", if cached { "(cached)" } else { "done" }));
                points.push(p);
            }
        }
    }
    let out = &options.out;
    let mut files = Vec::new();
    let json = serde_json::json!({
        "experiment": NAME, "version": crate::VERSION, "seed": options.seed, "quick": quick,
        "command": options.command, "points": points,
    });
    write_text(&mut files, &out.join(format!("{NAME}.json")), &serde_json::to_string_pretty(&json).expect("serialises"))?;
    let mut csv =
        Table::new(&["case", "solver", "dt", "replicas", "exact", "measured", "stderr", "relative_error", "mean_steps", "censored"]);
    for p in &points {
        csv.row(cells![p.case, p.solver, p.dt, p.replicas, p.exact, p.measured.0, p.measured.1, p.error().0, p.mean_steps, p.censored]);
    }
    write_text(&mut files, &out.join(format!("{NAME}.csv")), &csv.csv())?;

    let of = |case: &str, solver: &str| points.iter().filter(|p| p.case == case && p.solver == solver).collect::<Vec<_>>();
    let mut summary = Vec::new();
    let mut checks = Vec::new();
    let mut orders =
        Table::new(&["case", "solver", "fitted order (log|error| against log dt)", "χ²/ν", "points resolved (|error| > 3 SE)"]);
    let mut figures = Vec::new();
    for case in CASES {
        let mut series = Vec::new();
        for solver in solvers_for(case) {
            let ps = of(case, solver);
            let fit = order(&ps);
            let resolved = ps.iter().filter(|p| p.error().0.abs() > 3.0 * p.error().1).count();
            orders.row(cells![
                case,
                solver,
                fit.as_ref().map(|f| plus_minus(f.slope, f.slope_stderr)).unwrap_or_else(|| "— (fewer than 3 points above 3 SE)".into()),
                fit.as_ref().map(|f| format!("{:.2}", f.chi2_per_dof())).unwrap_or_else(|| "—".into()),
                format!("{resolved} of {}", ps.len())
            ]);
            series.push(Series {
                label: solver.to_string(),
                points: ps.iter().map(|p| (p.dt, p.error().0.abs().max(1e-4))).collect(),
                errors: Some(ps.iter().map(|p| p.error().1).collect()),
                style: Style::Points,
                colour: None,
            });
        }
        let ds = dts(case);
        let anchor = |power: f64| ds.iter().map(|&d| (d, 0.1 * (d / ds[0]).powf(power))).collect::<Vec<_>>();
        series.push(Series { label: "∝ √dt".into(), points: anchor(0.5), errors: None, style: Style::Dashed, colour: None });
        series.push(Series { label: "∝ dt".into(), points: anchor(1.0), errors: None, style: Style::Dashed, colour: None });
        let figure = Figure {
            title: format!("{case}: relative error of the mean exit time against dt"),
            x_label: "dt (the largest step)".into(),
            y_label: "|measured/exact − 1| (floored at 1e-4)".into(),
            log_x: true,
            log_y: true,
            series,
            legend: Legend::LowerRight,
        };
        save_figure(&mut files, &figure, &out.join(format!("{NAME}-{case}")))?;
        figures.push(format!("{NAME}-{case}.png"));
    }

    // What the orders and errors say, case by case.
    for case in CASES {
        let mut parts = Vec::new();
        for solver in solvers_for(case) {
            let ps = of(case, solver);
            let worst = ps.iter().map(|p| p.error().0.abs() / p.error().1).fold(0.0, f64::max);
            let errors: Vec<String> = ps.iter().map(|p| format!("{:+.1}%", 100.0 * p.error().0)).collect();
            let order = order(&ps).map(|f| format!("order {}", plus_minus(f.slope, f.slope_stderr)));
            parts.push(format!(
                "{solver}: errors {} over dt = {:?}{}",
                errors.join(", "),
                ps.iter().map(|p| p.dt).collect::<Vec<_>>(),
                order.map(|o| format!(", {o}")).unwrap_or_else(|| format!(", largest |error| {worst:.1} SE"))
            ));
        }
        summary.push(format!("{case}: {}", parts.join("; ")));
    }
    // (a): grid checking is late by Siegmund's overshoot, β₁ σ √dt / μ, to leading order.
    let grid = of("drift", "euler-maruyama, grid");
    let siegmund: Vec<bool> = grid
        .iter()
        .map(|p| {
            let (e, se) = p.error();
            (e - SIEGMUND_BETA1 * p.dt.sqrt()).abs() < 4.0 * se + p.dt
        })
        .collect();
    checks.push(Check::count(
        "(a) grid-checked Euler–Maruyama is late by Siegmund's overshoot β₁√dt (β₁ = 0.5826), within 4 SE plus the next order, dt",
        siegmund,
    ));
    // The bridge removes the √dt term: what is left is at most one step, dt (the exit is
    // recorded at the end of the step that crossed).
    for solver in ["euler-maruyama + bridge", "adaptive + bridge"] {
        let within: Vec<bool> = of("drift", solver)
            .iter()
            .map(|p| {
                let (e, se) = p.error();
                e > -4.0 * se && e < p.dt + 4.0 * se
            })
            .collect();
        checks.push(Check::count(format!("(a) {solver}: error between 0 and one step dt, within 4 SE"), within));
    }
    // The orders, where the errors are resolved (full mode).
    for (solver, expected) in [("euler-maruyama, grid", 0.5), ("euler-maruyama + bridge", 1.0)] {
        if let Some(fit) = order(&of("drift", solver)) {
            checks.push(Check::new(
                format!("(a) {solver}: fitted order within 4 SE of {expected}"),
                plus_minus(fit.slope, fit.slope_stderr),
                (fit.slope - expected).abs() < 4.0 * fit.slope_stderr,
            ));
        }
    }
    // (c): the converged solver meets the quadrature at its smallest dt; grid EM is far off.
    // The curve model at η/8, the step of the acceptance test; the double well at its finest.
    for case in ["double-well", "curve"] {
        let step = if case == "curve" { 0.0125 } else { *dts(case).last().expect("a dt") };
        let at = |solver: &str| of(case, solver).into_iter().find(|p| p.dt == step).expect("simulated");
        let adaptive = at("adaptive + bridge");
        let (e, se) = adaptive.error();
        checks.push(Check::new(
            format!("({}) adaptive + bridge at dt = {step}: within 2% + 4 SE of the quadrature", if case == "curve" { "c" } else { "b" }),
            format!("{:+.2}% ± {:.2}%", 100.0 * e, 100.0 * se),
            e.abs() < 0.02 + 4.0 * se,
        ));
        let grid = at("euler-maruyama, grid");
        if case == "curve" {
            let (e, se) = grid.error();
            checks.push(Check::new(
                format!("(c) grid Euler–Maruyama at dt = {step} misses the quadrature by more than 4 SE (single steps jump the barrier)"),
                format!("{:+.2}% ± {:.2}%", 100.0 * e, 100.0 * se),
                e.abs() > 4.0 * se,
            ));
        }
        summary.push(format!(
            "{case} at dt = {step}: exact {:.4}; grid Euler–Maruyama {}; adaptive + bridge {} ({:.0} against {:.0} steps a replica)",
            grid.exact,
            plus_minus(grid.measured.0, grid.measured.1),
            plus_minus(adaptive.measured.0, adaptive.measured.1),
            adaptive.mean_steps,
            grid.mean_steps
        ));
    }
    let mut md = format!(
        "# sde-convergence: mean exit times of the SDE solvers against dt\n\n\
         Command: `{}`{}\n\n\
         Each solver integrates the same SDE dθ = −∇L dt + √(2D(θ)) dW with largest step dt (docs/theory.md §9): \
         **euler-maruyama** (fixed steps dt; *grid*: exits checked at the steps only), **adaptive** (steps that keep the drift \
         and rms noise increments below 5% of the local length, eq. 30), **lamperti** (constant steps of the clock run by \
         D(θ)), the last three with exits detected between steps by the Brownian bridge (eq. 31). Lamperti is run on (b) only: \
         on (a) it is Euler–Maruyama (D is constant), and on (c) its steps shrink like 1/D ∝ θ⁻⁶ in the tails, which the \
         time-changed process visits freely (a trial at dt = 0.05 took 1.4 × 10⁶ steps a replica, against 2.7 × 10⁴ for \
         adaptive). Three problems with an exact mean exit time:\n\n\
         - **(a) drift**: Brownian motion with drift, dθ = dt + dW from 0 to b = 1 (L = −θ, D = 1/2): E[T] = b/μ = 1 \
         ({} replicas a point). Lamperti equals Euler–Maruyama here (D is constant) and is not run;\n\
         - **(b) double-well**: L = ε + (θ² − 1)²/4 with ε = 1/8 (c = 3), the paper's noise at η = 0.25, B = 1 (β = 2), \
         from θ* = −1 to θ = +1, against the first-passage quadrature (eq. 20) ({} replicas);\n\
         - **(c) curve**: the curve model with the exact minibatch noise of SGD (σ = 0.5, N = 10 000, η = 0.1, B = 1), from the left \
         minimum to θ = 0.935, against its quadrature ({} replicas). Its diffusion grows like θ⁶ in the tails.\n\n\
         The error is measured/exact − 1 with its standard error; the fitted order uses the points whose error exceeds \
         3 SE. The figures plot |error| on log axes: a point whose error bar reaches zero (error within 1 SE of zero) \
         is drawn without its bar, and its size is bounded by the table's standard error, not by its position.\n\n",
        options.command,
        if quick { " (quick mode)" } else { "" },
        replicas("drift"),
        replicas("double-well"),
        replicas("curve"),
    );
    for f in &figures {
        md.push_str(&format!("![{f}]({f})\n\n"));
    }
    md.push_str("## Findings\n\n");
    for line in &summary {
        md.push_str(&format!("- {line}\n"));
    }
    md.push_str(&checks_table(&checks));
    md.push_str("\n## Convergence orders\n\n");
    md.push_str(&orders.markdown());
    md.push_str("\n## Every point\n\n");
    let mut table = Table::new(&["case", "solver", "dt", "exact", "measured", "error", "steps a replica"]);
    for p in &points {
        let (e, se) = p.error();
        table.row(cells![
            p.case,
            p.solver,
            p.dt,
            format!("{:.4}", p.exact),
            plus_minus(p.measured.0, p.measured.1),
            format!("{:+.2}% ± {:.2}%", 100.0 * e, 100.0 * se),
            format!("{:.0}", p.mean_steps)
        ]);
    }
    md.push_str(&table.markdown());
    write_text(&mut files, &out.join(format!("{NAME}.md")), &md)?;
    Ok(ReproduceReport { name: NAME.into(), files, summary, checks })
}
