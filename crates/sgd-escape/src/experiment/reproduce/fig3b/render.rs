//! The page of `fig3b`: figures, local slopes, fits, checks and findings from the computed
//! points.

use super::{
    AmsPoint, BATCH_SIZE, ChainPoint, DIMS, FIT_FROM, JUMP_FREE_BELOW, LARGE_SAMPLES, LR, Landscape, NAME, Point, SAMPLES, SEEDS, Set,
    local_slope, log_grid, quadratures, seed_mean, threshold_figure,
};
use crate::cells;
use crate::error::Result;
use crate::experiment::reproduce::{Check, ReproduceOptions, ReproduceReport, checks_table, plus_minus, save_figure, write_text};
use crate::report::plot::Series;
use crate::report::table::Table;
use crate::stats::{LineFit, mean_and_stderr};
use crate::theory::stationary::kesten_tail_exponent_gaussian;

#[allow(clippy::too_many_lines)]
pub(super) fn render(
    options: &ReproduceOptions,
    cs: &[f64],
    landscapes: &[Landscape],
    points: &[Point],
    chains: &[ChainPoint],
    ams_points: &[AmsPoint],
) -> Result<ReproduceReport> {
    let out = &options.out;
    let mut files = Vec::new();
    let mut summary = Vec::new();
    let sets_of = |dim: usize, samples: usize| landscapes.iter().filter(move |l| l.set.dim == dim && l.set.samples == samples);
    let sgd_at = |set: &Set, c: f64| points.iter().find(|p| p.set == *set && p.c == c && p.censored == 0).and_then(|p| p.measured);
    let chain_at = |set: &Set, c: f64| chains.iter().find(|q| q.set == *set && q.c == c);
    let alpha_gaussian = kesten_tail_exponent_gaussian(LR, BATCH_SIZE, 1.0).expect("a tail at η = 0.1");
    let large = landscapes.iter().find(|l| l.set.samples == LARGE_SAMPLES).expect("the N = 10⁶ set");

    // Figure 1: every d on N = 10⁴, SGD averaged over data sets, the paper's SDE and the
    // predicted power law anchored to it at c = 2.
    let mut series = Vec::new();
    for (k, &dim) in DIMS.iter().enumerate() {
        let set_list: Vec<&Landscape> = sets_of(dim, SAMPLES).collect();
        let mean_points: Vec<(f64, f64, f64)> = cs
            .iter()
            .filter_map(|&c| {
                let (m, se) = seed_mean(&set_list.iter().map(|l| sgd_at(&l.set, c).map(|v| v.0)).collect::<Vec<_>>())?;
                Some((c, m.exp(), m.exp() * se))
            })
            .collect();
        let l0 = set_list[0];
        let anchor = quadratures(l0, 2.0).0;
        series.push(
            Series::points(
                format!("d = {dim}: SGD (mean of {} data sets)", set_list.len()),
                mean_points.iter().map(|p| (p.0, p.1)).collect(),
                Some(mean_points.iter().map(|p| p.2).collect()),
            )
            .colour(k),
        );
        series.push(
            Series::line(
                format!("d = {dim}: paper-noise SDE (exact)"),
                log_grid(cs[0], cs[cs.len() - 1]).map(|c| (c, quadratures(l0, c).0)).collect(),
            )
            .colour(k),
        );
        series.push(
            Series::dashed(
                format!("d = {dim}: c^(β+1−n/2) = c^{:.2}, through the SDE at c = 2", l0.predicted_slope),
                log_grid(cs[0], cs[cs.len() - 1]).map(|c| (c, anchor * (c / 2.0).powf(l0.predicted_slope))).collect(),
            )
            .colour(k),
        );
    }
    let figure = threshold_figure(format!("Linear regression, N = 10⁴, B = 1, η = {LR}: mean first time with L > c·L*"), series);
    save_figure(&mut files, &figure, &out.join(NAME))?;

    // Figure 2: d = 1 in detail, with the exact chains and Kesten's asymptote.
    let small: Vec<&Landscape> = sets_of(1, SAMPLES).collect();
    let l0 = small[0];
    let chain_mean: Vec<(f64, f64)> = cs
        .iter()
        .filter_map(|&c| Some((c, seed_mean(&small.iter().map(|l| chain_at(&l.set, c).map(|q| q.mean_time)).collect::<Vec<_>>())?.0.exp())))
        .collect();
    let sgd_small: Vec<(f64, f64, f64)> = cs
        .iter()
        .filter_map(|&c| {
            let (m, se) = seed_mean(&small.iter().map(|l| sgd_at(&l.set, c).map(|v| v.0)).collect::<Vec<_>>())?;
            Some((c, m.exp(), m.exp() * se))
        })
        .collect();
    let sgd_large: Vec<(f64, f64, f64)> = cs.iter().filter_map(|&c| sgd_at(&large.set, c).map(|(t, se)| (c, t, se))).collect();
    let chain_large: Vec<(f64, f64)> = chains.iter().filter(|q| q.set == large.set && q.usable()).map(|q| (q.c, q.mean_time)).collect();
    let c_max = chain_large.iter().map(|p| p.0).fold(cs[cs.len() - 1], f64::max);
    let anchor = quadratures(l0, 2.0).0;
    let mut detail = vec![
        Series::points(
            "SGD, N = 10⁴ (mean of the data sets)",
            sgd_small.iter().map(|p| (p.0, p.1)).collect(),
            Some(sgd_small.iter().map(|p| p.2).collect()),
        )
        .colour(0),
        Series::line("exact SGD chain, N = 10⁴ (mean of the data sets)", chain_mean).colour(0),
        Series::points("SGD, N = 10⁶", sgd_large.iter().map(|p| (p.0, p.1)).collect(), Some(sgd_large.iter().map(|p| p.2).collect()))
            .colour(4),
        Series::line("paper-noise SDE (exact)", log_grid(cs[0], c_max).map(|c| (c, quadratures(l0, c).0)).collect()).colour(2),
        Series::dashed(
            format!("prediction c^(β+1/2) = c^{:.2}, through the SDE at c = 2", l0.predicted_slope),
            log_grid(cs[0], c_max).map(|c| (c, anchor * (c / 2.0).powf(l0.predicted_slope))).collect(),
        )
        .colour(2),
    ];
    if let (Some(&(c_end, t_end)), Some(alpha)) = (chain_large.last(), large.kesten_alpha) {
        detail.push(Series::line("exact SGD chain, N = 10⁶", chain_large.clone()).colour(4));
        detail.push(
            Series::dashed(
                format!("Kesten's asymptote c^(α/2) = c^{:.2} (α of the N = 10⁶ data), through the last chain point", alpha / 2.0),
                log_grid(cs[0], c_end).map(|c| (c, t_end * (c / c_end).powf(alpha / 2.0))).collect(),
            )
            .colour(4),
        );
    }
    let figure = threshold_figure(format!("d = 1, B = 1, η = {LR}: SGD against its exact chain and the theories"), detail);
    save_figure(&mut files, &figure, &out.join(format!("{NAME}-d1")))?;

    // Local slopes of d = 1.
    let mut local = Table::new(&[
        "c interval",
        "SGD, N = 10⁴ (mean ± SE over data sets)",
        "exact chain, N = 10⁴ (mean ± SE over data sets)",
        "paper-noise SDE",
        "exact-noise SDE",
        "β + 1/2",
    ]);
    let mut chain_local_small: Vec<(f64, f64, Vec<f64>)> = Vec::new();
    for w in cs.windows(2) {
        let (a, b) = (w[0], w[1]);
        let per_set = |f: &dyn Fn(&Landscape, f64) -> Option<f64>| -> Option<Vec<f64>> {
            small.iter().map(|l| Some(local_slope((a, f(l, a)?), (b, f(l, b)?)))).collect()
        };
        let show = |v: Option<Vec<f64>>| {
            v.map(|v| {
                let (m, se) = mean_and_stderr(&v);
                plus_minus(m, se)
            })
            .unwrap_or_else(|| "—".into())
        };
        let sgd = per_set(&|l, c| sgd_at(&l.set, c).map(|v| v.0));
        let exact_chain = per_set(&|l, c| chain_at(&l.set, c).filter(|q| q.usable()).map(|q| q.mean_time));
        if let Some(v) = &exact_chain {
            chain_local_small.push((a, b, v.clone()));
        }
        let (pa, ea) = quadratures(l0, a);
        let (pb, eb) = quadratures(l0, b);
        local.row(cells![
            format!("{a} – {b}"),
            show(sgd),
            show(exact_chain),
            format!("{:.2}", local_slope((a, pa), (b, pb))),
            format!("{:.2}", local_slope((a, ea), (b, eb))),
            format!("{:.2}", l0.predicted_slope)
        ]);
    }

    // N = 10⁶: the exact chain between its own thresholds, against the continuum SDEs.
    let mut local_large =
        Table::new(&["c interval", "exact chain, N = 10⁶", "paper-noise SDE", "exact-noise SDE", "β + 1/2", "Kesten α/2"]);
    let mut chain_local_large: Vec<(f64, f64, f64)> = Vec::new();
    for w in chain_large.windows(2) {
        let ((a, ta), (b, tb)) = (w[0], w[1]);
        let s = local_slope((a, ta), (b, tb));
        chain_local_large.push((a, b, s));
        let (pa, ea) = quadratures(large, a);
        let (pb, eb) = quadratures(large, b);
        local_large.row(cells![
            format!("{a} – {b}"),
            format!("{s:.2}"),
            format!("{:.2}", local_slope((a, pa), (b, pb))),
            format!("{:.2}", local_slope((a, ea), (b, eb))),
            format!("{:.2}", large.predicted_slope),
            large.kesten_alpha.map(|a| format!("{:.2}", a / 2.0)).unwrap_or_else(|| "none".into())
        ]);
    }

    // Fits and local slopes of every d.
    let mut fits = Table::new(&[
        "d",
        "N",
        "data seed",
        "h*",
        "n",
        "β + 1 − n/2",
        "Kesten α/2",
        "one-step reach from θ*",
        "SGD slope (c ≥ 1.5)",
        "χ²/ν",
        "p",
        "one power law?",
        "paper SDE, c = 100–200",
    ]);
    for l in landscapes {
        let (slope, chi, p, ok) = match &l.sgd_fit {
            Some(f) => (
                plus_minus(f.slope, f.slope_stderr),
                format!("{:.1}", f.chi2_per_dof()),
                format!("{:.2e}", f.p_value),
                if f.acceptable() { "yes" } else { "no (p < 0.01)" }.to_string(),
            ),
            None => ("— (fewer than three points)".into(), "—".into(), "—".into(), "—".into()),
        };
        let alpha = match (l.set.dim, l.kesten_alpha) {
            (1, Some(a)) => format!("{:.2}", a / 2.0),
            (1, None) => "none: every \\|1 − ηx²\\| ≤ 1".into(),
            _ => "—".into(),
        };
        fits.row(cells![
            l.set.dim,
            l.set.samples,
            l.set.data_seed,
            format!("{:.4}", l.h_star),
            l.n,
            format!("{:.2}", l.predicted_slope),
            alpha,
            l.one_step_reach.map(|r| format!("{r:.2}")).unwrap_or_else(|| "—".into()),
            slope,
            chi,
            p,
            ok,
            format!("{:.2}", l.paper_asymptotic_slope)
        ]);
    }
    let mut per_d = Table::new(&["d", "c interval", "SGD local slope (mean ± SE over data sets)", "paper-noise SDE", "β + 1 − n/2"]);
    for &dim in &DIMS[1..] {
        let set_list: Vec<&Landscape> = sets_of(dim, SAMPLES).collect();
        for w in cs.windows(2) {
            let slopes: Option<Vec<f64>> =
                set_list.iter().map(|l| Some(local_slope((w[0], sgd_at(&l.set, w[0])?.0), (w[1], sgd_at(&l.set, w[1])?.0)))).collect();
            let (pa, pb) = (quadratures(set_list[0], w[0]).0, quadratures(set_list[0], w[1]).0);
            per_d.row(cells![
                dim,
                format!("{} – {}", w[0], w[1]),
                slopes
                    .map(|v| {
                        let (m, se) = mean_and_stderr(&v);
                        plus_minus(m, se)
                    })
                    .unwrap_or_else(|| "—".into()),
                format!("{:.2}", local_slope((w[0], pa), (w[1], pb))),
                format!("{:.2}", set_list[0].predicted_slope)
            ]);
        }
    }

    // Checks.
    let agreement: Vec<bool> = points
        .iter()
        .filter(|p| p.set.dim == 1 && p.censored == 0)
        .filter_map(|p| {
            let (t, se) = p.measured?;
            let q = chain_at(&p.set, p.c).filter(|q| q.converged)?;
            Some((t - q.mean_time).abs() < 4.0 * se)
        })
        .collect();
    // Per data set (N = 10⁴, d = 1): the chain's local slopes over c ≥ FIT_FROM, in order.
    let rising: Vec<bool> = small
        .iter()
        .enumerate()
        .filter(|(_, l)| l.one_step_reach.is_some_and(|r| r < JUMP_FREE_BELOW))
        .map(|(k, _)| {
            let slopes: Vec<f64> = chain_local_small.iter().filter(|(a, _, _)| *a >= FIT_FROM).map(|(_, _, v)| v[k]).collect();
            slopes.len() >= 2 && slopes.windows(2).all(|w| w[1] > w[0])
        })
        .collect();
    let no_tail = small.iter().filter(|l| l.kesten_alpha.is_none()).count();
    let mut checks = vec![
        Check::count(
            "paper-noise SDE (exact quadrature): local slope between c = 100 and 200 within 1% of β + 1 − n/2 (every data set)",
            landscapes.iter().map(|l| (l.paper_asymptotic_slope / l.predicted_slope - 1.0).abs() < 0.01),
        ),
        Check::count("d = 1: brute-force SGD within 4 SE of the exact SGD chain at every threshold and data set", agreement.clone()),
        Check::new(
            format!(
                "d = 1, N = 10⁴: where no sample reaches c = {JUMP_FREE_BELOW} in one step from θ* and none has |1 − ηx²| > 1, the exact chain's local slope rises at every step in c ≥ {FIT_FROM} (t_p grows faster than any power of c)"
            ),
            format!(
                "{} of {} such data sets ({no_tail} of {} have no |1 − ηx²| > 1)",
                rising.iter().filter(|r| **r).count(),
                rising.len(),
                small.len()
            ),
            !rising.is_empty() && rising.iter().all(|r| *r) && no_tail == small.len(),
        ),
    ];
    if let Some(&(a, b, s)) = chain_local_large.last() {
        checks.push(Check::new(
            format!("d = 1, N = 10⁶: over c = {a}–{b} the exact chain's local slope lies below β + 1/2, like Kesten's α/2 (the prediction is crossed, not approached)"),
            format!("{s:.2} against β + 1/2 = {:.2} and α/2 = {:.2}", large.predicted_slope, large.kesten_alpha.unwrap_or(f64::NAN) / 2.0),
            s < large.predicted_slope && large.kesten_alpha.is_some_and(|a| a / 2.0 < large.predicted_slope),
        ));
    }

    // Findings.
    let slopes_of = |dim: usize| -> Vec<f64> { sets_of(dim, SAMPLES).filter_map(|l| l.sgd_fit.map(|f| f.slope)).collect() };
    for &dim in &DIMS {
        let s = slopes_of(dim);
        let fits: Vec<&LineFit> = sets_of(dim, SAMPLES).filter_map(|l| l.sgd_fit.as_ref()).collect();
        let acceptable = fits.iter().filter(|f| f.acceptable()).count();
        let (m, se) = mean_and_stderr(&s);
        let chi: Vec<f64> = fits.iter().map(|f| f.chi2_per_dof()).collect();
        summary.push(format!(
            "d = {dim}, N = 10⁴, {} data sets: SGD log-log slope over c ≥ {FIT_FROM} {} (mean ± SE over data sets) against β + 1 − n/2 ≈ {:.2}; χ²/ν of the per-set fits {:.1}–{:.1}, a single power law acceptable (p ≥ 0.01) in {acceptable} of {}",
            s.len(),
            plus_minus(m, se),
            sets_of(dim, SAMPLES).next().map(|l| l.predicted_slope).unwrap_or(f64::NAN),
            chi.iter().copied().fold(f64::INFINITY, f64::min),
            chi.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            fits.len()
        ));
    }
    let agree = agreement.iter().filter(|a| **a).count();
    summary.push(format!(
        "d = 1: brute-force SGD agrees with the exact chain within 4 SE at {agree} of {} (threshold, data set) points",
        agreement.len()
    ));
    if !chain_local_small.is_empty() {
        let per_set: Vec<String> = small
            .iter()
            .enumerate()
            .map(|(k, l)| {
                let slopes: Vec<String> = chain_local_small.iter().map(|(a, b, v)| format!("{:.1} ({a}–{b})", v[k])).collect();
                format!(
                    "data set {}: one-step reach c = {:.2}; local slopes {}",
                    l.set.data_seed,
                    l.one_step_reach.unwrap_or(f64::NAN),
                    slopes.join(", ")
                )
            })
            .collect();
        summary.push(format!(
            "d = 1, N = 10⁴: {no_tail} of {} data sets have no sample with |1 − ηx²| > 1, so their stationary law has no power-law tail (Kesten) and t_p eventually grows faster than any power of c; over the thresholds measured the exact chain's slope depends on the data set through its few largest jumps from θ* (β + 1/2 ≈ {:.2}): {}",
            small.len(),
            l0.predicted_slope,
            per_set.join("; ")
        ));
    }
    summary.push(format!(
        "Kesten's α/2: {:.2} for infinite Gaussian data at η = {LR}; {} for the N = 10⁶ data set; the prediction is β + 1/2 ≈ {:.2}",
        alpha_gaussian / 2.0,
        large.kesten_alpha.map(|a| format!("{:.2}", a / 2.0)).unwrap_or_else(|| "none".into()),
        large.predicted_slope
    ));
    if !chain_local_large.is_empty() {
        summary.push(format!(
            "d = 1, N = 10⁶: local slopes of the exact chain {}",
            chain_local_large.iter().map(|(a, b, s)| format!("{s:.2} (c = {a}–{b})")).collect::<Vec<_>>().join(", ")
        ));
    }

    let splitting = super::splitting::section(options, &mut files, landscapes, points, chains, ams_points)?;
    summary.extend(splitting.summary);
    checks.extend(splitting.checks);

    let json = serde_json::json!({
        "experiment": NAME, "version": crate::VERSION, "seed": options.seed, "quick": options.quick,
        "command": options.command, "lr": LR, "batch_size": BATCH_SIZE, "fit_from": FIT_FROM,
        "kesten_alpha_gaussian": alpha_gaussian,
        "landscapes": landscapes, "points": points, "chains": chains, "ams_points": ams_points,
    });
    write_text(&mut files, &out.join(format!("{NAME}.json")), &serde_json::to_string_pretty(&json).expect("serialises"))?;
    let mut csv = Table::new(&[
        "dim",
        "samples",
        "data_seed",
        "c",
        "replicas",
        "sgd_mean_time",
        "sgd_stderr",
        "censored",
        "skipped",
        "chain_mean_time",
        "chain_converged",
        "paper_sde_quadrature",
        "exact_sde_quadrature",
    ]);
    let mut all = Table::new(&["d", "N", "data seed", "c", "SGD t_p", "exact SGD chain", "paper-noise SDE", "exact-noise SDE"]);
    for l in landscapes {
        let mut set_cs: Vec<f64> =
            points.iter().filter(|p| p.set == l.set).map(|p| p.c).chain(chains.iter().filter(|q| q.set == l.set).map(|q| q.c)).collect();
        set_cs.sort_by(f64::total_cmp);
        set_cs.dedup();
        for c in set_cs {
            let p = points.iter().find(|p| p.set == l.set && p.c == c);
            let q = chain_at(&l.set, c);
            let (paper, exact) = quadratures(l, c);
            let (m, se) = p.and_then(|p| p.measured).unwrap_or((f64::NAN, f64::NAN));
            csv.row(cells![
                l.set.dim,
                l.set.samples,
                l.set.data_seed,
                c,
                p.map(|p| p.replicas).unwrap_or(0),
                m,
                se,
                p.map(|p| p.censored).unwrap_or(0),
                p.is_none_or(|p| p.skipped.is_some()),
                q.map(|q| q.mean_time).unwrap_or(f64::NAN),
                q.is_some_and(|q| q.converged),
                paper,
                exact
            ]);
            let measured = match p {
                Some(p) => match (&p.measured, &p.skipped) {
                    (Some((t, se)), _) if p.censored == 0 => plus_minus(*t, *se),
                    (Some((t, se)), _) => format!("{} (censored fit; {} of {} censored)", plus_minus(*t, *se), p.censored, p.replicas),
                    (None, Some(why)) => format!("skipped ({why})"),
                    _ => "—".into(),
                },
                None => "—".into(),
            };
            let chain_text = q
                .map(|q| {
                    let mut s = format!("{:.4e}", q.mean_time);
                    if q.quasi_stationary {
                        s.push_str(" (quasi-stationary)");
                    }
                    if !q.converged {
                        s.push_str(&format!(" (not converged: {:.1e})", q.relative_change));
                    }
                    s
                })
                .unwrap_or_else(|| "—".into());
            all.row(cells![
                l.set.dim,
                l.set.samples,
                l.set.data_seed,
                c,
                measured,
                chain_text,
                format!("{paper:.4e}"),
                format!("{exact:.4e}")
            ]);
        }
    }
    write_text(&mut files, &out.join(format!("{NAME}.csv")), &csv.csv())?;

    let mut md = format!(
        "# fig3b: first passage of SGD to L > c·L* (paper Fig. 3b)\n\n\
         Command: `{}`{}\n\n\
         Linear regression f = θᵀx in d dimensions with x, y i.i.d. N(0, 1), N = {SAMPLES} samples, {SEEDS} data sets (seeds) per d; \
         SGD with B = {BATCH_SIZE} (indices drawn with replacement), η = {LR}, started at the minimum θ*; t_p is the first time \
         t = η·steps at which L(θ) > c·L*, averaged over the runs of each point (the paper used 100). The landscape analysis finds \
         n = d outliers and h* for each data set; the paper predicts t_p ∝ c^(β + 1 − n/2), β = B/(ηh*), a slope of about 11 − d/2.\n\n\
         Exact references (docs/theory.md): for d = 1 the mean exit time of the SGD chain itself at η = {LR} on the same data set, \
         solved on a grid to 0.1% (eq. 22; a few of the largest thresholds stop at the grid's cap with a last change below 1%, marked in the table of all points); the continuum SDE with the paper's noise Σ = 2LH*/B and with the exact noise of \
         Gaussian data Σ = (2LH + ∇L∇Lᵀ)/B, by the radial quadrature on the isotropic quadratic L = L* + h*r²/2 with the same L*, h* \
         (eq. 21); and Kesten's tail exponent α of the SGD recursion u' = (1 − ηx²)u + ηxe (eq. 24): where it exists, the stationary \
         law has P(|u| > x) ∝ x^−α, so t_p grows as c^(α/2) for large c. For d = 1 the page adds N = 10⁶ samples of the same law. \
         Slopes are weighted least-squares fits of ln t_p on ln c over c ≥ {FIT_FROM} with χ²/ν reported and the errors scaled by \
         √(χ²/ν) where that exceeds 1; where a single line does not fit (p < 0.01) the local slopes are the description.\n\n\
         ![fig3b]({NAME}.png)\n\n![fig3b, d = 1]({NAME}-d1.png)\n\n## Findings\n\n",
        options.command,
        if options.quick { " (quick mode)" } else { "" },
    );
    for line in &summary {
        md.push_str(&format!("- {line}\n"));
    }
    // P(x² > 2/η) for a standard normal x: the samples that give |1 − ηx²| > 1.
    let p_heavy = statrs::function::erf::erfc((1.0 / LR).sqrt());
    let reach = large.one_step_reach.unwrap_or(1.0);
    // (a, b, local slope) of the N = 10⁶ chain, below and beyond its one-step reach.
    type Slope = (f64, f64, f64);
    let (jumpy, beyond): (Vec<&Slope>, Vec<&Slope>) = chain_local_large.iter().partition(|(_, b, _)| *b <= reach);
    let range = |v: &[&Slope]| v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(x.2), b.max(x.2)));
    let large_text = if chain_local_large.is_empty() {
        "Its exact chain is computed in full mode only.".to_string()
    } else {
        let (lo, hi) = range(&jumpy);
        format!(
            "Its one-step reach is c = {reach:.2}: up to there single jumps shape the curve (the chain's local slopes range over {lo:.1} – {hi:.1}); beyond it they are {}, near Kesten's α/2 = {:.1}: the prediction is met on the way, not approached as an asymptote.",
            beyond.iter().map(|(a, b, s)| format!("{s:.1} ({a}–{b})")).collect::<Vec<_>>().join(", "),
            large.kesten_alpha.unwrap_or(f64::NAN) / 2.0
        )
    };
    md.push_str(&format!(
        "\n**Reading the figures.** (1) β + 1 − d/2 is the exact c → ∞ slope of the paper's own SDE, but over c ≤ 3 that \
         SDE's slope is lower, the more so the larger d: the threshold is then barely outside the stationary spread and the \
         passage is not a rare event. (2) SGD itself is a Markov chain u' = (1 − ηx²)u + ηxe; its exact mean exit time, computed \
         here on each data set, matches the simulations. Its law has a power-law tail only through samples with |1 − ηx²| > 1 \
         (Kesten), i.e. x² > 2/η = {}, which a standard normal sample has with probability {p_heavy:.1e}: a data set of N = 10⁴ \
         samples has one with probability {:.0}%, and none of these does. Without them t_p eventually grows faster than any power \
         of c, and where single jumps do not matter the local slope keeps rising. Single jumps do matter where a sample can carry \
         θ from the minimum past the threshold in one step (the one-step reach, per data set in the table below): each data set's \
         curve then has its own shape, set by its few extreme samples. (3) With N = 10⁶ samples a few have x² > 20 and α is close \
         to its value for infinite data, α/2 ≈ {:.1}, below β + 1/2 ≈ {:.1}. {large_text}\n\n",
        2.0 / LR,
        100.0 * (1.0 - (1.0 - p_heavy).powi(SAMPLES as i32)),
        alpha_gaussian / 2.0,
        large.predicted_slope,
    ));
    md.push_str(&checks_table(&checks));
    md.push_str("\n## d = 1: local slopes d ln t_p / d ln c\n\n");
    md.push_str(&local.markdown());
    if !chain_local_large.is_empty() {
        md.push_str("\n## d = 1, N = 10⁶: local slopes of the exact chain\n\n");
        md.push_str(&local_large.markdown());
    }
    md.push_str("\n## Fits per data set\n\n");
    md.push_str(&fits.markdown());
    md.push_str("\n## d = 2, 4, 8: local slopes\n\n");
    md.push_str(&per_d.markdown());
    md.push_str(&splitting.markdown);
    md.push_str("\n## All points\n\n");
    md.push_str(&all.markdown());
    write_text(&mut files, &out.join(format!("{NAME}.md")), &md)?;
    Ok(ReproduceReport { name: NAME.into(), files, summary, checks })
}
