//! The mlp-barrier page: numbers (JSON, CSV), the two figures, checks and findings.

use super::super::{Check, ReproduceOptions, ReproduceReport, checks_table, plus_minus, save_figure, write_text};
use super::{BATCH_LR, Landscape, MAX_STEPS, NAME, Point, time_fit};
use crate::cells;
use crate::error::Result;
use crate::report::plot::{Figure, Legend, Series};
use crate::report::table::Table;
use crate::stats::fit::LineFit;

/// The points of one minimum at one batch size, by β.
fn series_of(points: &[Point], minimum: usize, batch_size: usize) -> Vec<&Point> {
    let mut v: Vec<&Point> = points.iter().filter(|p| p.minimum == minimum && p.batch_size == batch_size).collect();
    v.sort_by(|a, b| a.beta.total_cmp(&b.beta));
    v
}

/// The slope of ln(time) against β of a prediction (least squares over the points).
fn predicted_slope(points: &[&Point], f: impl Fn(&Point) -> f64) -> f64 {
    let x: Vec<f64> = points.iter().map(|p| p.beta).collect();
    let y: Vec<f64> = points.iter().map(|p| f(p).ln()).collect();
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let sxy: f64 = x.iter().zip(&y).map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = x.iter().map(|x| (x - mx).powi(2)).sum();
    sxy / sxx
}

fn fit_text(fit: &LineFit) -> String {
    format!("{} (χ²/ν = {:.2}, p = {:.2})", plus_minus(fit.slope, fit.slope_stderr), fit.chi2_per_dof(), fit.p_value)
}

fn measured(p: &Point) -> String {
    let m = &p.sgd;
    if m.escaped == 0 {
        return format!("none of {} escaped", p.replicas);
    }
    let (t, lo, hi) = m.time();
    let censored = if m.censored > 0 { format!(", {} censored", m.censored) } else { String::new() };
    format!("{t:.4e} ({lo:.3e} – {hi:.3e}){censored}")
}

/// The trained minima's names (not A and B: B is the batch size).
const TRAINED: [&str; 2] = ["M₁", "M₂"];

/// The adjacent minima's names: the trained minimum it is; a copy of the other adjacent
/// minimum, that one's name primed; else M₃, M₄.
fn names(land: &Landscape, copies: bool) -> Vec<String> {
    let trained = |j: usize| (0..land.trained.len()).find(|&i| land.distances[i][j] < 1e-6).map(|i| TRAINED[i].to_string());
    (0..land.minima.len())
        .map(|j| match (trained(j), trained(1 - j)) {
            (Some(name), _) => name,
            (None, Some(other)) if copies => format!("{other}′"),
            _ => ["M₃", "M₄"][j].to_string(),
        })
        .collect()
}

/// Two adjacent minima with the same loss and spectrum are copies (a symmetry of the network):
/// SGD must leave both equally fast.
fn are_copies(land: &Landscape) -> bool {
    let same = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs();
    same(land.losses[0], land.losses[1]) && same(land.lambda_max[0], land.lambda_max[1]) && same(land.h_star[0], land.h_star[1])
}

pub(super) fn write(options: &ReproduceOptions, land: &Landscape, points: &[Point], replicas: usize) -> Result<ReproduceReport> {
    let out = &options.out;
    let copies = are_copies(land);
    let names = names(land, copies);
    let mut files = Vec::new();
    let json = serde_json::json!({
        "experiment": NAME, "version": crate::VERSION, "seed": options.seed, "quick": options.quick,
        "command": options.command, "network": super::network(super::TRAIN_SEEDS[0]), "max_steps": MAX_STEPS,
        "landscape": land, "points": points,
    });
    write_text(&mut files, &out.join(format!("{NAME}.json")), &serde_json::to_string_pretty(&json).expect("serialises"))?;
    let mut csv = Table::new(&[
        "minimum",
        "batch_size",
        "lr",
        "beta",
        "lr_lambda_max",
        "c",
        "delta_loss",
        "h_star",
        "n",
        "replicas",
        "escaped",
        "censored",
        "sgd_time",
        "sgd_time_low",
        "sgd_time_high",
        "log_barrier",
        "log_barrier_exponent",
        "linear_barrier",
        "xie_s1",
        "xie_s0",
        "kramers",
    ]);
    for p in points {
        let (t, lo, hi) = p.sgd.time();
        csv.row(cells![
            p.minimum,
            p.batch_size,
            p.lr,
            p.beta,
            p.lr_lambda_max,
            p.c,
            p.delta_loss,
            p.h_star,
            p.outliers,
            p.replicas,
            p.sgd.escaped,
            p.sgd.censored,
            t,
            lo,
            hi,
            p.log_barrier,
            p.log_barrier_exponent,
            p.linear_barrier,
            p.xie.0,
            p.xie.1,
            p.kramers
        ]);
    }
    write_text(&mut files, &out.join(format!("{NAME}.csv")), &csv.csv())?;

    let minima: Vec<usize> = {
        let mut v: Vec<usize> = points.iter().map(|p| p.minimum).collect();
        v.dedup();
        v
    };
    let batches: Vec<usize> = {
        let mut v: Vec<usize> = points.iter().map(|p| p.batch_size).collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    // Escape time against β, measured and by the log barrier, per minimum and batch size.
    let mut series = Vec::new();
    for &m in &minima {
        for &b in &batches {
            let s = series_of(points, m, b);
            let ok: Vec<&&Point> = s.iter().filter(|p| p.sgd.escaped > 0).collect();
            let colour = 2 * m + if b == 1 { 0 } else { 1 };
            series.push(
                Series::points(
                    format!("SGD from minimum {}, B = {b}", names[m]),
                    ok.iter().map(|p| (p.beta, p.sgd.time().0)).collect(),
                    Some(ok.iter().map(|p| 0.5 * (p.sgd.time().2 - p.sgd.time().1)).collect()),
                )
                .colour(colour),
            );
            series.push(
                Series::dashed(format!("log barrier, minimum {}, B = {b}", names[m]), s.iter().map(|p| (p.beta, p.log_barrier)).collect())
                    .colour(colour),
            );
        }
    }
    let figure = Figure {
        title: "13-2-3 tanh network on wine: SGD's escape time over the saddle against β = B/(ηh*)".into(),
        x_label: "β = B/(ηh*)".into(),
        y_label: "mean escape time t = η·steps".into(),
        log_x: false,
        log_y: true,
        series,
        legend: Legend::Right,
    };
    save_figure(&mut files, &figure, &out.join(format!("{NAME}-beta")))?;
    let path_figure = Figure {
        title: format!("Along the minimum-energy path from minimum {} through the saddle", names[0]),
        x_label: format!("arc length from minimum {}", names[0]),
        y_label: "ratio".into(),
        log_x: false,
        log_y: false,
        series: vec![
            Series::line(format!("L(θ) / L({})", names[0]), land.path.iter().map(|&(s, l, _)| (s, l / land.losses[0])).collect()),
            Series::line(
                format!("Tr C(θ) / (2 L(θ) Tr H({})): paper's noise = 1", names[0]),
                land.path.iter().map(|&(s, _, r)| (s, r)).collect(),
            ),
        ],
        legend: Legend::UpperLeft,
    };
    save_figure(&mut files, &path_figure, &out.join(format!("{NAME}-path")))?;

    // Checks.
    let dimension = land.saddle.len();
    let distance = crate::linalg::distance(&land.minima[0], &land.minima[1]);

    let ratios: Vec<f64> = land.path.iter().map(|&(_, _, r)| r).collect();
    let (r_lo, r_hi) = ratios.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), r| (a.min(*r), b.max(*r)));
    let mut checks = vec![
        Check::new(
            "the NEB's saddle has index 1 on the dense Hessian, with |∇L| ≤ 10⁻⁸",
            format!(
                "index {}, escape eigenvalue {:.4e}, |∇L| = {:.1e}",
                land.saddle_index, land.saddle_eigenvalue, land.saddle_gradient_norm
            ),
            land.saddle_index == 1 && land.saddle_gradient_norm <= 1e-8,
        ),
        Check::new(
            "steepest descent from the saddle ends, both ways, in distinct strict minima (smallest Hessian eigenvalue > 0) below the saddle",
            format!(
                "λmin = {:.3e} and {:.3e}; L = {:.7} and {:.7}; distance {distance:.3}",
                land.lambda_min[0], land.lambda_min[1], land.losses[0], land.losses[1]
            ),
            land.lambda_min.iter().all(|l| *l > 0.0) && distance > 1e-3 && land.losses.iter().all(|l| *l < land.saddle_loss),
        ),
        Check::count(
            "every point's rate rests on at least 90% escaped replicas (censoring at max_steps is rare)",
            points.iter().map(|p| p.sgd.escaped * 10 >= p.replicas * 9),
        ),
        Check::assumption(
            "Σ ≈ 2L(θ)H*/B along the minimum-energy path: Tr C(θ) / (2 L(θ) Tr H*) within 0.8 – 1.25",
            format!("{r_lo:.3} – {r_hi:.3}"),
            r_lo >= 0.8 && r_hi <= 1.25,
        ),
        Check::assumption(
            "the Hessian at each minimum has a gap separating n < P outliers",
            format!("n = {} and {} of P = {dimension}", land.outliers[0], land.outliers[1]),
            land.outliers.iter().all(|&n| n < dimension),
        ),
        Check::assumption(
            "small steps: η·λmax ≤ 0.1 at every point (the continuous-time limit the closed forms rest on; the threshold of docs/theory.md §7)",
            format!(
                "η·λmax = {:.2} – {:.2}",
                points.iter().map(|p| p.lr_lambda_max).fold(f64::INFINITY, f64::min),
                points.iter().map(|p| p.lr_lambda_max).fold(f64::NEG_INFINITY, f64::max)
            ),
            points.iter().all(|p| p.lr_lambda_max <= 0.1),
        ),
    ];
    let mut copies_finding = None;
    if copies && minima.len() == 2 {
        let pairs: Vec<(&Point, &Point)> = points
            .iter()
            .filter(|p| p.minimum == 0)
            .filter_map(|p| Some((p, points.iter().find(|q| q.minimum == 1 && q.batch_size == p.batch_size && q.lr == p.lr)?)))
            .collect();
        // ln κ̂ has SE 1/√(escapes). The two starts are related by a symmetry of the network, but
        // the exit plane is symmetric only if that symmetry maps the saddle to itself, so equal
        // laws are an observation here, not a requirement.
        let deviations: Vec<(f64, &Point, &Point)> = pairs
            .iter()
            .map(|(a, b)| {
                ((a.sgd.rate.0.ln() - b.sgd.rate.0.ln()) / (1.0 / a.sgd.escaped as f64 + 1.0 / b.sgd.escaped as f64).sqrt(), *a, *b)
            })
            .collect();
        if let Some((worst, a, b)) = deviations.iter().max_by(|x, y| x.0.abs().total_cmp(&y.0.abs())) {
            copies_finding = Some(format!(
                "{} and {} are copies (equal L, λmax and h* to 10⁻⁹). SGD leaves them at rates within 4 SE of each other (SE of ln κ̂ = 1/√escapes) at {} of {} (B, η); the largest difference is {:.1} SE, at B = {}, η = {} (mean times {} and {}). Their exit plane is the same hyperplane, which the symmetry maps to itself only if it maps the saddle to itself, so equal rates are not guaranteed.",
                names[0],
                names[1],
                deviations.iter().filter(|d| d.0.abs() <= 4.0).count(),
                deviations.len(),
                worst.abs(),
                a.batch_size,
                a.lr,
                plus_minus(a.sgd.mean_time.0, a.sgd.mean_time.1),
                plus_minus(b.sgd.mean_time.0, b.sgd.mean_time.1),
            ));
        }
    }
    // β alone: one line through both batch sizes' points of a minimum.
    let mut single_line = Vec::new();
    for &m in &minima {
        let all: Vec<&Point> = points.iter().filter(|p| p.minimum == m).collect();
        if batches.len() > 1
            && let Some(fit) = time_fit(&all)
        {
            single_line.push(format!("minimum {}: χ²/ν = {:.1}, p = {:.1e}", names[m], fit.chi2_per_dof(), fit.p_value));
            checks.push(Check::assumption(
                format!(
                    "β = B/(ηh*) alone sets the escape time (minimum {}): one line of ln t against β fits B = 1 and B = 2 (p ≥ 0.01)",
                    names[m]
                ),
                format!("χ²/ν = {:.1}, p = {:.1e}", fit.chi2_per_dof(), fit.p_value),
                fit.acceptable(),
            ));
        }
    }

    // Findings: which trained minima the saddle borders, then the slope d ln t / dβ.
    let mut findings = Vec::new();
    let bordering: Vec<&str> =
        (0..land.trained.len()).filter(|&i| land.distances[i].iter().any(|d| *d < 1e-6)).map(|i| TRAINED[i]).collect();
    let nearest = |i: usize| land.distances[i].iter().copied().fold(f64::INFINITY, f64::min);
    findings.push(format!(
        "The NEB between the trained minima M₁ and M₂ converged on a saddle of index 1, but steepest descent from that saddle ends in {} and {}{}: {}. A band of 17 images resolves the highest barrier between its ends, not every basin it crosses, so the escape runs start at the minima the saddle actually joins.",
        names[0],
        names[1],
        if copies { ", two copies of one minimum (equal loss and spectrum)" } else { "" },
        if bordering.len() == land.trained.len() {
            "both trained minima border it".to_string()
        } else {
            let others: Vec<String> = (0..land.trained.len())
                .filter(|i| !bordering.contains(&TRAINED[*i]))
                .map(|i| format!("{} (L = {:.7}) does not, its nearest adjacent minimum being {:.3} away", TRAINED[i], land.trained_losses[i], nearest(i)))
                .collect();
            format!("{}{}", if bordering.is_empty() { String::new() } else { format!("{} borders it, ", bordering.join(" and ")) }, others.join("; "))
        }
    ));
    let mut slope_table =
        Table::new(&["minimum", "B", "measured d ln t/dβ", "log barrier", "linear barrier", "Xie s = 1", "Xie s = 0", "Kramers"]);
    for &m in &minima {
        for &b in &batches {
            let s = series_of(points, m, b);
            let Some(fit) = time_fit(&s) else { continue };
            let slope = |f: fn(&Point) -> f64| format!("{:.3}", predicted_slope(&s, f));
            slope_table.row(vec![
                names[m].to_string(),
                b.to_string(),
                fit_text(&fit),
                slope(|p| p.log_barrier),
                slope(|p| p.linear_barrier),
                slope(|p| p.xie.0),
                slope(|p| p.xie.1),
                slope(|p| p.kramers),
            ]);
            let ratio: Vec<f64> = s.iter().filter(|p| p.sgd.escaped > 0).map(|p| p.log_barrier / p.sgd.time().0).collect();
            let (lo, hi) = ratio.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, c), r| (a.min(*r), c.max(*r)));
            findings.push(format!(
                "Minimum {}, B = {b}: ln t grows with β at {} per unit β, where the log barrier predicts log c = {:.3}, the linear barrier {:.1}. The log barrier's time is {lo:.2e} – {hi:.2e} times the measured one.",
                names[m],
                fit_text(&fit),
                predicted_slope(&s, |p| p.log_barrier),
                predicted_slope(&s, |p| p.linear_barrier),
            ));
        }
    }
    // The small-step points the closed forms need, and why the page has none.
    if points.iter().all(|p| p.lr_lambda_max > 0.1) {
        let b = batches.iter().copied().min().unwrap_or(1);
        if let Some(fit) = time_fit(&series_of(points, minima[0], b)) {
            let lr = 0.1 / land.lambda_max[minima[0]];
            let beta = b as f64 / (lr * land.h_star[minima[0]]);
            let beta_measured = series_of(points, minima[0], b).iter().map(|p| p.beta).fold(f64::NEG_INFINITY, f64::max);
            let log10_steps = (fit.intercept + fit.slope * beta) / std::f64::consts::LN_10 - lr.log10();
            findings.push(format!(
                "No point has η·λmax ≤ 0.1, the continuous-time limit the closed forms rest on. On minimum {} at B = {b} that needs η ≤ {lr:.4} (β ≥ {beta:.1}), where its fitted line (above), extrapolated {:.0} units of β past its data, gives a mean escape of about 10^{:.0} steps: out of brute force's reach. Such points wait on the splitting estimator (`[estimator] kind = \"ams\"`) with a reaction coordinate that tracks this exit; this page does not estimate them.",
                names[minima[0]],
                beta - beta_measured,
                log10_steps,
            ));
        }
    }
    findings.extend(copies_finding);
    if !single_line.is_empty() {
        findings.push(format!(
            "β alone does not set SGD's escape time at these steps: fitting one line through B = 1 and B = 2 gives {}. The batch sizes sit on separate lines.",
            single_line.join("; ")
        ));
    }
    findings.push(format!(
        "The paper's noise model along the path: Tr C(θ) / (2 L(θ) Tr H*) runs over {r_lo:.3} – {r_hi:.3} from minimum {} to the saddle and beyond (figure 2): the minibatch noise is not 2L(θ)H*/B on this network, and its ratio changes along the way. The network has K = 3 outputs: with residuals of equal size in every output, the decoupling (docs/theory.md eq. 7) gives C ≈ (2L/K)·G, a ratio of 1/K = 0.33, inside this range; the closed forms use eq. (8) as the paper writes it, for one output, and weight decay adds λ = 0.01 to every Hessian eigenvalue but nothing to C.",
        names[0]
    ));

    let mut md = format!(
        "# mlp-barrier: SGD leaving a minimum of a trained network over a saddle\n\n\
         Command: `{}`{}\n\n\
         A 13-2-3 tanh network on the built-in wine data (178 samples, features standardised, one-hot targets), mean-square loss \
         with weight decay λ = 0.01, P = {dimension} parameters. Two SGD training runs (200 epochs, η = 0.05, B = 10) from the \
         initialisations with seeds {:?} end in two different minima, M₁ (L = {:.7}) and M₂ (L = {:.7}); the tool minimises both \
         (Newton), finds the saddle between them by a climbing-image NEB ({} iterations), checks its index on the dense Hessian, \
         and descends from the saddle both ways (steepest descent, then L-BFGS) to the two minima it joins, {} and {}. SGD \
         (batches with replacement) then starts at each of those, {replicas} replicas per point, and escapes when it crosses the hyperplane through \
         the saddle orthogonal to the saddle's escape direction (`exit.kind = \"saddle-plane\"`); runs still inside after \
         {MAX_STEPS} steps are censored. Times are 1/κ̂ of the censored exponential fit, with 95% intervals, in t = η·steps.\n\n\
         | | minimum {} | minimum {} | saddle |\n|---|---|---|---|\n\
         | L | {:.7} | {:.7} | {:.7} |\n| λmax (λmin) | {:.4} ({:.2e}) | {:.4} ({:.2e}) | escape eigenvalue {:.4} |\n\
         | h*, n | {:.4}, {} | {:.4}, {} | index {} |\n| c = L(θˢ)/L*, log c | {:.3}, {:.3} | {:.3}, {:.3} | |\n\n\
         ![escape time against β]({NAME}-beta.png)\n\n![noise along the path]({NAME}-path.png)\n\n",
        options.command,
        if options.quick { " (quick mode)" } else { "" },
        super::TRAIN_SEEDS,
        land.trained_losses[0],
        land.trained_losses[1],
        land.neb_iterations,
        names[0],
        names[1],
        names[0],
        names[1],
        land.losses[0],
        land.losses[1],
        land.saddle_loss,
        land.lambda_max[0],
        land.lambda_min[0],
        land.lambda_max[1],
        land.lambda_min[1],
        land.saddle_eigenvalue,
        land.h_star[0],
        land.outliers[0],
        land.h_star[1],
        land.outliers[1],
        land.saddle_index,
        land.saddle_loss / land.losses[0],
        (land.saddle_loss / land.losses[0]).ln(),
        land.saddle_loss / land.losses[1],
        (land.saddle_loss / land.losses[1]).ln(),
    );
    md.push_str("## Findings\n\n");
    for f in &findings {
        md.push_str(&format!("- {f}\n"));
    }
    md.push_str(&format!(
        "\n## How fast ln t grows with β\n\nMeasured: weighted least squares of ln(1/κ̂) on β with SE 1/√(escapes); predicted: the slope of \
         each closed form's ln t over the same points (the log barrier's is log c, its prefactor aside).\n\n{}\n\
         ## Every point against every theory\n\nSweep: (B, η) = {:?}.\n\n",
        slope_table.markdown(),
        BATCH_LR
    ));
    let mut table = Table::new(&[
        "minimum",
        "B",
        "η",
        "β",
        "η·λmax",
        "SGD",
        "log barrier",
        "exponent β+1−n/2",
        "linear barrier",
        "Xie s = 1",
        "Xie s = 0",
    ]);
    for p in points {
        table.row(vec![
            names[p.minimum].to_string(),
            p.batch_size.to_string(),
            p.lr.to_string(),
            format!("{:.2}", p.beta),
            format!("{:.2}", p.lr_lambda_max),
            measured(p),
            format!("{:.3e}", p.log_barrier),
            format!("{:.2}", p.log_barrier_exponent),
            format!("{:.3e}", p.linear_barrier),
            format!("{:.3e}", p.xie.0),
            format!("{:.3e}", p.xie.1),
        ]);
    }
    md.push_str(&table.markdown());
    let failing: Vec<String> = {
        let mut v: Vec<String> = points.iter().flat_map(|p| p.log_barrier_failing.iter().map(|(c, _)| c.clone())).collect();
        v.sort();
        v.dedup();
        v
    };
    if !failing.is_empty() {
        md.push_str(&format!("\nThe log barrier's assumptions that fail at these points (docs/theory.md §7): {}.\n", failing.join("; ")));
    }
    md.push_str(&checks_table(&checks));
    write_text(&mut files, &out.join(format!("{NAME}.md")), &md)?;
    Ok(ReproduceReport { name: NAME.into(), files, summary: findings, checks })
}
