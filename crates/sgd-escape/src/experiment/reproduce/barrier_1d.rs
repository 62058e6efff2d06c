//! `barrier-1d`: escape over a real barrier in one dimension. The double well
//! `L = ε + (θ² − 1)²/4` (h* = 2, hˢ = −1, c = 1 + 1/(4ε)) under the SDE with paper, frozen and
//! isotropic noise, over a grid of β = B/(ηh*) and c. Each measured mean escape time (θ* = −1
//! to θ = +1) stands beside the exact quadrature of its own noise and the closed-form theory:
//! the log-barrier power law c^{−(β+1/2)} for paper noise, the linear-barrier exponential
//! exp(−βΔL/L*) for frozen noise, Kramers exp(−ΔL/D) for isotropic noise (D fixed across c).

use super::splitting::{AmsDiagnostics, ams_mean_time};
use super::{Check, ReproduceOptions, ReproduceReport, cached_point, checks_table, save_figure, write_text};
use crate::cells;
use crate::dynamics::{HessianRoot, Noise, Sde};
use crate::error::Result;
use crate::escape::ams::ReactionCoordinate;
use crate::escape::{EnsembleSpec, Exit, run_ensemble};
use crate::model::DoubleWell;
use crate::report::plot::{Figure, Legend, Series, Style};
use crate::report::table::Table;
use crate::stats::EscapeStatistics;
use crate::theory::chain::{ChainOptions, Domain, End, GaussianKernel, mean_exit_time};
use crate::theory::mean_first_passage_time_auto;
use crate::theory::rates::{BarrierGeometry, kramers_isotropic_rate, linear_barrier_rate, log_barrier_rate};
use serde::{Deserialize, Serialize};

const NAME: &str = "barrier-1d";
const H_STAR: f64 = 2.0;
const DT: f64 = 0.01;
const NOISES: [&str; 3] = ["paper", "frozen", "isotropic"];

/// One grid point.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Point {
    noise: String,
    beta: f64,
    c: f64,
    epsilon: f64,
    lr: f64,
    /// Diffusion D of the isotropic noise.
    temperature: Option<f64>,
    dt: f64,
    replicas: usize,
    seed: u64,
    /// Mean escape time by the exact quadrature of this noise.
    quadrature: f64,
    /// Mean escape time 1/κ of this noise's closed-form theory.
    theory: f64,
    /// Which theory: "log-barrier", "linear-barrier" or "kramers".
    theory_name: String,
    /// Measured mean escape time and its standard error (null when skipped): the sample mean,
    /// or 1/κ̂ of the censored exponential fit when any replica was censored.
    measured: Option<(f64, f64)>,
    /// How `measured` was estimated.
    mean_time_method: Option<String>,
    /// The exact mean exit time of the Euler–Maruyama chain at dt (what the simulation
    /// estimates), and whether its grid converged.
    em_chain: f64,
    em_chain_converged: bool,
    /// The chain's relative change between its last two grids (its grid error).
    em_chain_change: f64,
    /// The exponent of the closed form: β log c, β(c − 1) or ΔL/D.
    theory_exponent: f64,
    /// Escaped / censored counts.
    escaped: usize,
    censored: usize,
    /// Why the point was not simulated.
    skipped: Option<String>,
    /// How `measured` was estimated: "brute-force" (replicas to their exits) or "ams"
    /// (adaptive multilevel splitting, where brute force exceeds the budget).
    estimator: String,
    /// The splitting diagnostics of an AMS point.
    ams: Option<AmsDiagnostics>,
}

/// AMS particles and runs per point.
const AMS_PARTICLES: usize = 200;
const AMS_RUNS: usize = 20;

fn loss(eps: f64, x: f64) -> f64 {
    eps + 0.25 * (x * x - 1.0).powi(2)
}

fn compute_point(noise: &str, beta: f64, c: f64, replicas: usize, seed: u64, budget: f64) -> Point {
    let epsilon = 0.25 / (c - 1.0);
    let lr = 1.0 / (H_STAR * beta);
    // Isotropic D: the frozen noise's D at c = 2 (L* = 1/4), the same for every c.
    let temperature = (noise == "isotropic").then_some(lr * 0.25 * H_STAR);
    let drift = |x: f64| -x * (x * x - 1.0);
    let diffusion = |x: f64| match noise {
        "paper" => lr * loss(epsilon, x) * H_STAR,
        "frozen" => lr * epsilon * H_STAR,
        _ => temperature.expect("isotropic"),
    };
    let quadrature = mean_first_passage_time_auto(drift, diffusion, -1.0, 1.0, 20_000);
    let geometry = BarrierGeometry::one_dimensional(epsilon, epsilon + 0.25, H_STAR, -1.0);
    // The simulated scheme itself: θ ↦ N(θ − L'(θ)dt, 2D(θ)dt), from −1 until θ ≥ 1.
    let kernel = GaussianKernel { mean: |x: f64| x + DT * drift(x), sd: |x: f64| (2.0 * diffusion(x) * DT).sqrt(), cost: |_| DT };
    let domain = Domain { lower: -2.0, below: End::Reflecting, upper: 1.0, above: End::Absorbing };
    let chain = mean_exit_time(&kernel, domain, -1.0, ChainOptions::default());
    let theory_exponent = match noise {
        "paper" => beta * c.ln(),
        "frozen" => beta * (c - 1.0),
        _ => 0.25 / temperature.expect("isotropic"),
    };
    let (rate, theory_name) = match noise {
        "paper" => (log_barrier_rate(&geometry, lr, 1), "log-barrier"),
        "frozen" => (linear_barrier_rate(&geometry, lr, 1), "linear-barrier"),
        _ => (kramers_isotropic_rate(&geometry, temperature.expect("isotropic")), "kramers"),
    };
    let mut point = Point {
        noise: noise.into(),
        beta,
        c,
        epsilon,
        lr,
        temperature,
        dt: DT,
        replicas,
        seed,
        quadrature,
        theory: 1.0 / rate.expect("1-D geometry has a saddle"),
        theory_name: theory_name.into(),
        measured: None,
        mean_time_method: None,
        em_chain: chain.mean,
        em_chain_converged: chain.converged,
        em_chain_change: chain.relative_change,
        theory_exponent,
        escaped: 0,
        censored: 0,
        skipped: None,
        estimator: "brute-force".into(),
        ams: None,
    };
    let predicted_steps = quadrature / DT * replicas as f64;
    let model = DoubleWell { epsilon, dim: 1, stiffness: 1.0 };
    let sqrt_hessian = HessianRoot::Dense(vec![H_STAR.sqrt()]);
    let noise_value = match noise {
        "paper" => Noise::Paper { lr, batch_size: 1, sqrt_hessian },
        "frozen" => Noise::Frozen { lr, batch_size: 1, sqrt_hessian, loss_at_minimum: epsilon },
        _ => Noise::Isotropic { temperature: temperature.expect("isotropic") },
    };
    let sde = Sde::new(&model, DT, noise_value, None).expect("analytic noise with a valid step");
    let exit = Exit::Coordinate { axis: 0, threshold: 1.0 };
    if predicted_steps > budget {
        // Beyond brute force: splitting on θ itself, the exact committor's coordinate in 1-D.
        let coordinate = ReactionCoordinate::Projection { direction: vec![1.0], from: -1.0, to: 1.0 };
        match ams_mean_time(&model, &sde, &exit, &[-1.0], coordinate, "coordinate", (AMS_PARTICLES, AMS_RUNS), seed) {
            Ok((stats, diagnostics)) => {
                point.measured = Some((stats.mean_time, stats.mean_time_stderr));
                point.mean_time_method = Some("ams".into());
                point.estimator = "ams".into();
                point.ams = Some(diagnostics);
            }
            Err(e) => {
                point.skipped = Some(format!("brute force beyond the budget ({predicted_steps:.2e} replica-steps) and AMS failed: {e}"))
            }
        }
        return point;
    }
    let spec = EnsembleSpec { seed, replicas, max_steps: (50.0 * quadrature / DT) as u64 + 1000 };
    let outcomes = run_ensemble(&model, &sde, &exit, &[-1.0], spec, Vec::new(), &|_| {});
    let stats = EscapeStatistics::from_outcomes(&outcomes);
    point.measured = Some((stats.mean_time, stats.mean_time_stderr));
    point.mean_time_method = Some(stats.mean_time_method.clone());
    point.escaped = stats.escaped;
    point.censored = stats.censored;
    point
}

/// Least-squares slope of log y against log x.
fn log_log_slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    let (sx, sy) = points.iter().fold((0.0, 0.0), |(a, b), (x, y)| (a + x.ln(), b + y.ln()));
    let (mx, my) = (sx / n, sy / n);
    let (num, den) = points.iter().fold((0.0, 0.0), |(a, b), (x, y)| (a + (x.ln() - mx) * (y.ln() - my), b + (x.ln() - mx).powi(2)));
    num / den
}

pub(super) fn run(options: &ReproduceOptions, progress: &(dyn Fn(&str) + Sync)) -> Result<ReproduceReport> {
    let (betas, cs, replicas, budget): (&[f64], &[f64], usize, f64) = if options.quick {
        (&[2.0, 4.0, 16.0], &[1.5, 2.0, 3.0], 300, 1e9)
    } else {
        (&[2.0, 4.0, 8.0, 16.0, 32.0], &[1.25, 1.5, 2.0, 3.0, 4.0], 2000, 5e9)
    };
    let mut points = Vec::new();
    let mut index = 0u64;
    for &beta in betas {
        for &c in cs {
            for noise in NOISES {
                index += 1;
                let key = format!("{noise}-beta{beta}-c{c}-n{replicas}");
                let seed = options.seed.wrapping_add(index);
                let (point, cached) = cached_point(options, NAME, &key, || Ok(compute_point(noise, beta, c, replicas, seed, budget)))?;
                progress(&format!("{NAME}: {key} {}", if cached { "(cached)" } else { "done" }));
                points.push(point);
            }
        }
    }
    let mut files = Vec::new();
    let mut summary = Vec::new();
    let out = &options.out;

    // Numbers.
    let json = serde_json::json!({
        "experiment": NAME, "version": crate::VERSION, "seed": options.seed, "quick": options.quick,
        "command": options.command, "dt": DT, "h_star": H_STAR, "points": points,
    });
    write_text(&mut files, &out.join(format!("{NAME}.json")), &serde_json::to_string_pretty(&json).expect("serialises"))?;
    let mut csv = Table::new(&[
        "noise",
        "beta",
        "c",
        "epsilon",
        "lr",
        "dt",
        "replicas",
        "measured_mean_time",
        "measured_stderr",
        "escaped",
        "censored",
        "em_chain",
        "quadrature",
        "theory",
        "theory_name",
        "skipped",
    ]);
    for p in &points {
        let (m, se) = p.measured.unwrap_or((f64::NAN, f64::NAN));
        csv.row(cells![
            p.noise,
            p.beta,
            p.c,
            p.epsilon,
            p.lr,
            p.dt,
            p.replicas,
            m,
            se,
            p.escaped,
            p.censored,
            p.em_chain,
            p.quadrature,
            p.theory,
            p.theory_name,
            p.skipped.is_some()
        ]);
    }
    write_text(&mut files, &out.join(format!("{NAME}.csv")), &csv.csv())?;

    // Figures, one per β.
    let mut figure_names = Vec::new();
    for &beta in betas {
        let of = |noise: &'static str| points.iter().filter(move |p| p.noise == noise && p.beta == beta);
        let mut series = Vec::new();
        for noise in NOISES {
            let measured: Vec<&Point> = of(noise).filter(|p| p.measured.is_some()).collect();
            series.push(Series {
                label: format!("{noise} noise: simulated"),
                points: measured.iter().map(|p| (p.c, p.measured.expect("filtered").0)).collect(),
                errors: Some(measured.iter().map(|p| p.measured.expect("filtered").1).collect()),
                style: Style::Points,
                colour: None,
            });
        }
        series.push(Series {
            label: "paper noise: exact quadrature".into(),
            points: of("paper").map(|p| (p.c, p.quadrature)).collect(),
            errors: None,
            style: Style::Line,
            colour: None,
        });
        series.push(Series {
            label: "frozen noise: exact quadrature".into(),
            points: of("frozen").map(|p| (p.c, p.quadrature)).collect(),
            errors: None,
            style: Style::Line,
            colour: None,
        });
        series.push(Series {
            label: format!("log barrier (paper): ∝ c^{:.1}", beta + 0.5),
            points: of("paper").map(|p| (p.c, p.theory)).collect(),
            errors: None,
            style: Style::Dashed,
            colour: None,
        });
        series.push(Series {
            label: "linear barrier: ∝ exp(β(c − 1))".into(),
            points: of("frozen").map(|p| (p.c, p.theory)).collect(),
            errors: None,
            style: Style::Dashed,
            colour: None,
        });
        let figure = Figure {
            title: format!("1-D double well, β = B/(ηh*) = {beta}: escape time against the loss ratio c"),
            x_label: "barrier ratio c = L(θˢ)/L(θ*)".into(),
            y_label: "mean escape time t (θ* = −1 to θ = +1)".into(),
            log_x: true,
            log_y: true,
            series,
            legend: Legend::UpperLeft,
        };
        let stem = out.join(format!("{NAME}-beta{beta}"));
        save_figure(&mut files, &figure, &stem)?;
        figure_names.push((beta, format!("{NAME}-beta{beta}.png")));
        let paper_quad: Vec<(f64, f64)> = of("paper").map(|p| (p.c, p.quadrature)).collect();
        let paper_sim: Vec<(f64, f64)> = of("paper").filter_map(|p| p.measured.map(|m| (p.c, m.0))).collect();
        let simulated = if paper_sim.len() == paper_quad.len() {
            format!("; of the simulated times, {:.3}", log_log_slope(&paper_sim))
        } else {
            String::new()
        };
        summary.push(format!(
            "β = {beta}: log-log slope of the paper-noise quadrature in c = {:.3}{simulated} (log-barrier exponent β + 1/2 = {:.1})",
            log_log_slope(&paper_quad),
            beta + 0.5
        ));
    }

    // Agreement of each simulation with the exact mean exit time of its own discretisation.
    let simulated: Vec<&Point> = points.iter().filter(|p| p.measured.is_some()).collect();
    let agree = simulated
        .iter()
        .filter(|p| {
            let (m, se) = p.measured.expect("filtered");
            (m - p.em_chain).abs() < 4.0 * se + p.em_chain * p.em_chain_change
        })
        .count();
    summary.push(format!(
        "simulation within 4 SE (+ the chain's grid error) of the exact mean exit time of its own Euler–Maruyama chain (dt = {DT}) at {agree} of {} simulated points",
        simulated.len()
    ));
    let ams: Vec<&Point> = points.iter().filter(|p| p.estimator == "ams").collect();
    if !ams.is_empty() {
        let longest = ams.iter().filter_map(|p| p.measured).map(|m| m.0).fold(0.0, f64::max);
        let worst = ams.iter().filter_map(|p| p.ams.as_ref()).map(|a| a.variance_ratio).fold(0.0, f64::max);
        let steps: u64 = ams.iter().filter_map(|p| p.ams.as_ref()).map(|a| a.steps).max().unwrap_or(0);
        let unconverged = ams.iter().filter(|p| !p.em_chain_converged).count();
        summary.push(format!(
            "{} points beyond brute force were estimated by AMS ({AMS_PARTICLES} particles × {AMS_RUNS} runs), with mean escape times up to {longest:.2e} at most {steps:.2e} replica-steps a point; their runs' relative variance is at most {worst:.2} times the idealised ln(1/p)/N (a coordinate near the committor's), with {} extinct runs. The exact chain's grid stopped short of its 10⁻³ tolerance at {unconverged} of them (its last change is added to the tolerance)",
            ams.len(),
            ams.iter().filter_map(|p| p.ams.as_ref()).map(|a| a.extinctions).sum::<usize>()
        ));
    }
    let bias = points.iter().map(|p| (p.em_chain / p.quadrature - 1.0).abs()).fold(0.0, f64::max);
    summary.push(format!(
        "the Euler–Maruyama scheme at dt = {DT} against the continuous-time quadrature: largest relative difference {:.2}%",
        100.0 * bias
    ));
    let high: Vec<&Point> = points.iter().filter(|p| p.theory_exponent >= 1.0).collect();
    let within: Vec<bool> = high.iter().map(|p| (p.theory / p.quadrature - 1.0).abs() < 1.0 / p.theory_exponent).collect();

    let quad =
        |noise: &str, beta: f64, c: f64| points.iter().find(|p| p.noise == noise && p.beta == beta && p.c == c).map(|p| p.quadrature);
    let (c_lo, c_hi) = (cs[0], cs[cs.len() - 1]);
    let checks = vec![
        Check::new(
            format!(
                "each simulation within 4 SE (+ the chain's grid error) of the exact mean exit time of its Euler–Maruyama chain at dt = {DT}"
            ),
            format!("{agree} of {}", simulated.len()),
            agree == simulated.len() && !simulated.is_empty(),
        ),
        Check::count(
            "each closed form within 1/exponent of its exact quadrature wherever its exponent (β log c, β(c − 1), ΔL/D) is ≥ 1 (the Eyring–Kramers correction is first order in 1/exponent)",
            within,
        ),
        Check::count(
            format!("power law against exponential: from c = {c_lo} to {c_hi} the frozen-noise time grows more than the paper-noise time"),
            betas.iter().map(|&b| {
                match (quad("frozen", b, c_hi), quad("frozen", b, c_lo), quad("paper", b, c_hi), quad("paper", b, c_lo)) {
                    (Some(f1), Some(f0), Some(p1), Some(p0)) => f1 / f0 > p1 / p0,
                    _ => false,
                }
            }),
        ),
    ];
    // Page.
    let mut md = format!(
        "# barrier-1d: power law against exponential over a real barrier\n\n\
         Command: `{}`{}\n\n\
         The 1-D double well L = ε + (θ² − 1)²/4 (minimum θ* = −1 with h* = 2, saddle θˢ = 0 with hˢ = −1) with \
         ε = 1/(4(c − 1)), so the loss ratio is c = L(θˢ)/L(θ*). The SDE dθ = −L'(θ) dt + √(2D(θ)) dW is integrated by \
         Euler–Maruyama (dt = {DT}) from θ* until θ = +1, {} replicas a point, with\n\n\
         - **paper** noise D = η L(θ) h*/B (Σ = 2L(θ)H*/B), whose theory is the log-barrier power law \
         κ = (1/2π)√(h*|hˢ|) c^−(β+1/2);\n\
         - **frozen** noise D = η L* h*/B, whose theory is the linear barrier exp(−BΔL/(ηh*L*)) = exp(−β(c − 1));\n\
         - **isotropic** noise with D = 1/(4β), fixed across c (the frozen D at c = 2): Kramers exp(−ΔL/D), independent of c.\n\n\
         β = B/(ηh*) with B = 1, η = 1/(2β). Each simulated mean is compared with two exact references: the first-passage \
         quadrature of the continuous-time SDE with its noise (docs/theory.md eq. 20), and the exact mean exit time of the \
         Euler–Maruyama chain that is simulated, at the same dt (eq. 22), which the simulation must match within its standard \
         error. Where replicas were censored the mean is 1/κ̂ of the censored exponential fit. Points whose predicted brute-force \
         cost exceeds the mode's budget are estimated by adaptive multilevel splitting instead (docs/theory.md §10; {AMS_PARTICLES} \
         particles × {AMS_RUNS} runs on the coordinate θ, which in one dimension orders states exactly as the committor does), \
         marked (AMS) in the table, and held to the same 4-SE comparison with their exact chain.\n\n",
        options.command,
        if options.quick { " (quick mode)" } else { "" },
        replicas
    );
    for (beta, file) in &figure_names {
        md.push_str(&format!("![β = {beta}]({file})\n\n"));
    }
    md.push_str("## Findings\n\n");
    for line in &summary {
        md.push_str(&format!("- {line}\n"));
    }
    md.push_str(&checks_table(&checks));
    md.push_str(
        "\n## All points against every theory\n\nMean escape times t (measured ± standard error). The theory columns are the closed forms at \
         the same β and c: log barrier (1/2π)√(h*|hˢ|) c^−(β+1/2), linear barrier with frozen noise, and Kramers with the isotropic D; \
         each simulation should match the exact mean exit time of its own Euler–Maruyama chain.\n\n\
         ",
    );
    let mut table = Table::new(&[
        "noise",
        "β",
        "c",
        "measured",
        "Euler–Maruyama chain (exact)",
        "exact quadrature",
        "log barrier",
        "linear barrier",
        "Kramers (isotropic D)",
        "measured / quadrature",
    ]);
    // Times span up to forty decades: fixed notation below 10⁵, scientific above.
    let fmt = |x: f64| if x.abs() < 1e5 { format!("{x:.4}") } else { format!("{x:.4e}") };
    for p in &points {
        let (measured, ratio) = match (p.measured, &p.skipped) {
            (Some((m, se)), _) => {
                let method = if p.estimator == "ams" { " (AMS)" } else { "" };
                let se = if se.abs() < 1e5 { format!("{se:.2}") } else { format!("{se:.2e}") };
                (format!("{} ± {se}{method}", fmt(m)), format!("{:.3}", m / p.quadrature))
            }
            (None, Some(why)) => (format!("skipped ({why})"), "—".into()),
            _ => ("—".into(), "—".into()),
        };
        let lr = 1.0 / (H_STAR * p.beta);
        let g = BarrierGeometry::one_dimensional(p.epsilon, p.epsilon + 0.25, H_STAR, -1.0);
        let time = |rate: Option<f64>| rate.map(|r| fmt(1.0 / r)).unwrap_or_else(|| "—".into());
        table.row(vec![
            p.noise.to_string(),
            p.beta.to_string(),
            p.c.to_string(),
            measured.to_string(),
            fmt(p.em_chain),
            fmt(p.quadrature),
            time(log_barrier_rate(&g, lr, 1)).to_string(),
            time(linear_barrier_rate(&g, lr, 1)).to_string(),
            time(kramers_isotropic_rate(&g, lr * 0.25 * H_STAR)).to_string(),
            ratio.to_string(),
        ]);
    }
    md.push_str(&table.markdown());
    write_text(&mut files, &out.join(format!("{NAME}.md")), &md)?;
    Ok(ReproduceReport { name: NAME.into(), files, summary, checks })
}
