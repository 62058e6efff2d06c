//! `fig2`: the strength of SGD noise against the loss over training (paper Fig. 2). An MLP
//! with three hidden ReLU layers and 10 linear outputs, one-hot targets, trained on
//! Fashion-MNIST by SGD with B = 100, η = 0.1 (epoch shuffling, Glorot initialisation). Once
//! per epoch the tool measures L and 𝒩 = (1/N) Σ_μ |∇ℓ_μ|² − |∇L|² (so Tr Σ = 𝒩/B up to the
//! factor (N − B)/(N − 1)); the paper reports 𝒩 ∝ L (slope 1 on log-log axes) late in training.
//! Training runs in `OUT/points/fig2/<key>/` through [`crate::experiment::train`], so an
//! interrupted reproduction resumes from its last epoch.

use super::{Check, ReproduceOptions, ReproduceReport, checks_table, plus_minus, save_figure, write_text};
use crate::error::Result;
use crate::experiment::config::TrainConfig;
use crate::experiment::train::{EpochLog, log_csv, resolve, train_in_dir};
use crate::report::folder::Existing;
use crate::report::plot::{Figure, Legend, Series};
use crate::report::table::Table;
use std::path::Path;

const NAME: &str = "fig2";

/// Least-squares slope of log 𝒩 on log L over `rows`, with its standard error from the
/// residuals (successive epochs are correlated, so this SE is a lower bound).
fn slope(rows: &[&EpochLog]) -> (f64, f64) {
    let pts: Vec<(f64, f64)> = rows.iter().map(|r| (r.loss.ln(), r.noise.ln())).collect();
    let n = pts.len() as f64;
    let (mx, my) = (pts.iter().map(|p| p.0).sum::<f64>() / n, pts.iter().map(|p| p.1).sum::<f64>() / n);
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let b = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>() / sxx;
    let resid: f64 = pts.iter().map(|p| (p.1 - my - b * (p.0 - mx)).powi(2)).sum();
    (b, (resid / (n - 2.0) / sxx).sqrt())
}

fn spread(values: impl Iterator<Item = f64>) -> f64 {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    hi / lo
}

pub(super) fn run(options: &ReproduceOptions, progress: &(dyn Fn(&str) + Sync)) -> Result<ReproduceReport> {
    let (width, samples, epochs): (usize, Option<usize>, usize) = if options.quick { (64, Some(2000), 300) } else { (256, None, 200) };
    let samples_line = samples.map(|n| format!("samples = {n}\n")).unwrap_or_default();
    let text = format!(
        "[model]\nkind = \"mlp\"\nhidden = [{width}, {width}, {width}]\nactivation = \"relu\"\ninit_seed = {seed}\n\
         [data]\nsource = \"fashion-mnist\"\n{samples_line}\
         [train]\nlr = 0.1\nbatch_size = 100\nsampling = \"without-replacement\"\nepochs = {epochs}\nseed = {seed}\n",
        seed = options.seed
    );
    let spec = resolve(&TrainConfig::from_toml(&text, Path::new("fig2.toml"))?, Path::new("."))?;
    let key = format!("w{width}-n{}-e{epochs}-s{}", samples.unwrap_or(60_000), options.seed);
    let dir = options.out.join("points").join(NAME).join(&key);
    let started = std::time::Instant::now();
    let outcome = train_in_dir(
        &spec,
        &dir,
        // A cached point whose configuration changed is stale: moved aside, recomputed.
        Existing::MoveAside,
        &|row| {
            if row.epoch % 10 == 0 || row.epoch == epochs {
                progress(&format!("{NAME}: {key} epoch {}/{epochs}: L = {:.4e}, 𝒩 = {:.4e}", row.epoch, row.loss, row.noise));
            }
        },
        &|| false,
    )?;
    // The cost per epoch, kept beside the checkpoint so that a page rebuilt from it quotes the
    // training run's own timing.
    let timing = dir.join("timing.json");
    let seconds_per_epoch = if outcome.resumed_from < epochs {
        let s = started.elapsed().as_secs_f64() / (epochs - outcome.resumed_from) as f64;
        crate::report::atomic_write(&timing, serde_json::json!({ "seconds_per_epoch": s }).to_string().as_bytes())?;
        s
    } else {
        std::fs::read_to_string(&timing)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v["seconds_per_epoch"].as_f64())
            .unwrap_or(f64::NAN)
    };
    let log = outcome.log;
    let p = crate::model::Model::dim(&spec.model);
    let out = &options.out;
    let mut files = Vec::new();

    // Phases: the first half of training (after epoch 0) and the second.
    let late: Vec<&EpochLog> = log.iter().filter(|r| r.epoch * 2 >= epochs).collect();
    let early: Vec<&EpochLog> = log.iter().filter(|r| r.epoch >= 1 && r.epoch * 2 < epochs).collect();
    let (late_slope, late_se) = slope(&late);
    let (early_slope, early_se) = slope(&early);
    // Local slopes: the late phase in two halves (one power law would give the same slope).
    let (late_a, late_b) = late.split_at(late.len() / 2);
    let (late_a_slope, late_b_slope) = (slope(late_a).0, slope(late_b).0);
    let late_ratio_spread = spread(late.iter().map(|r| r.noise / r.loss));
    let late_loss_spread = spread(late.iter().map(|r| r.loss));

    write_text(&mut files, &out.join(format!("{NAME}.csv")), &log_csv(&log))?;
    let json = serde_json::json!({
        "experiment": NAME, "version": crate::VERSION, "seed": options.seed, "quick": options.quick, "command": options.command,
        "config": spec.config, "parameters": p, "samples": spec.model.data().len(), "seconds_per_epoch": seconds_per_epoch,
        "late_slope": [late_slope, late_se], "late_half_slopes": [late_a_slope, late_b_slope], "early_slope": [early_slope, early_se], "log": log,
    });
    write_text(&mut files, &out.join(format!("{NAME}.json")), &serde_json::to_string_pretty(&json).expect("serialises"))?;

    let last = log.last().expect("log has rows");
    let (mx, my) = (
        late.iter().map(|r| r.loss.ln()).sum::<f64>() / late.len() as f64,
        late.iter().map(|r| r.noise.ln()).sum::<f64>() / late.len() as f64,
    );
    let l_range = (late.iter().map(|r| r.loss).fold(f64::INFINITY, f64::min), late.iter().map(|r| r.loss).fold(0.0, f64::max));
    let figure = Figure {
        title: format!("Fashion-MNIST MLP 784-{width}-{width}-{width}-10, B = 100, η = 0.1: noise against loss"),
        x_label: "training loss L".into(),
        y_label: "noise N = ⟨|∇ℓ_μ|²⟩ − |∇L|² (squared gradient norm)".into(),
        log_x: true,
        log_y: true,
        series: vec![
            Series::points("epochs 1 … E/2", early.iter().map(|r| (r.loss, r.noise)).collect(), None).colour(1),
            Series::points("epochs E/2 … E", late.iter().map(|r| (r.loss, r.noise)).collect(), None).colour(0),
            Series::dashed(
                "slope 1 (N ∝ L) through the last epoch",
                vec![(l_range.0, last.noise * l_range.0 / last.loss), (l_range.1, last.noise * l_range.1 / last.loss)],
            )
            .colour(5),
            Series::line(
                format!("late-phase fit, slope {late_slope:.2}"),
                [l_range.0, l_range.1].iter().map(|l| (*l, (my + late_slope * (l.ln() - mx)).exp())).collect(),
            )
            .colour(0),
        ],
        legend: Legend::UpperLeft,
    };
    let stem = out.join(NAME);
    save_figure(&mut files, &figure, &stem)?;
    let ratio_fig = Figure {
        title: "Loss and noise over training".into(),
        x_label: "epoch".into(),
        y_label: "L, N (squared gradient norm) and N/L".into(),
        log_x: false,
        log_y: true,
        series: vec![
            Series::line("training loss L", log.iter().map(|r| (r.epoch as f64, r.loss)).collect()).colour(0),
            Series::line("noise N", log.iter().map(|r| (r.epoch as f64, r.noise)).collect()).colour(1),
            Series::dashed("ratio N/L", log.iter().map(|r| (r.epoch as f64, r.noise / r.loss)).collect()).colour(2),
        ],
        legend: Legend::LowerLeft,
    };
    let stem = out.join(format!("{NAME}-epochs"));
    save_figure(&mut files, &ratio_fig, &stem)?;

    let checks = vec![
        Check::new(
            "late phase (second half of training): 𝒩 falls with L, fitted log-log slope > 0.5",
            format!("{} (paper: 1)", plus_minus(late_slope, late_se)),
            late_slope - 4.0 * late_se > 0.5,
        ),
        Check::new(
            "late phase: 𝒩/L varies less than L itself (max/min over the same epochs)",
            format!("𝒩/L ×{late_ratio_spread:.2} against L ×{late_loss_spread:.2}"),
            late_ratio_spread < late_loss_spread,
        ),
    ];
    let summary = vec![
        format!(
            "late-phase slope of log 𝒩 on log L: {} (paper: 1); its two halves separately: {late_a_slope:.2} and {late_b_slope:.2}; early phase: {}",
            plus_minus(late_slope, late_se),
            plus_minus(early_slope, early_se)
        ),
        format!(
            "epoch {}: L = {:.4e}, 𝒩 = {:.4e}, 𝒩/L = {:.1}, training accuracy {:.4}; {:.2} s per epoch (P = {p})",
            last.epoch,
            last.loss,
            last.noise,
            last.noise / last.loss,
            last.accuracy,
            seconds_per_epoch
        ),
    ];
    // Cost of the paper's width 2000: P grows by (P_2000 / P), the time per epoch about as much.
    let p2000 = 784 * 2000 + 2000 + 2 * (2000 * 2000 + 2000) + 2000 * 10 + 10;
    let mut md = format!(
        "# fig2: SGD noise strength against the loss (paper Fig. 2)\n\n\
         Command: `{}`{}\n\n\
         Fashion-MNIST (the paper's data set for this figure; Debian package `dataset-fashion-mnist`), {} training images, \
         pixels scaled to [0, 1], one-hot targets over the 10 classes. MLP 784-{width}-{width}-{width}-10 with ReLU and linear \
         outputs (P = {p}), Glorot initialisation, mean-square loss summed over the outputs. SGD with B = 100, η = 0.1, \
         batches drawn without replacement (epoch shuffling), {epochs} epochs. Once per epoch: L and \
         𝒩 = (1/N)Σ_μ|∇ℓ_μ|² − |∇L|², with the per-sample gradient norms computed layer by layer without forming the \
         per-sample gradients. The paper's hidden width is 2000 (P = {p2000}); at the measured {seconds_per_epoch:.2} s per \
         epoch here, that width would take roughly {:.0} s per epoch on this machine. The width is \
         `[model] hidden` in `sgd-escape train`. (The figures write 𝒩 as N.)\n\n\
         ![𝒩 against L]({NAME}.png)\n\n![over training]({NAME}-epochs.png)\n\n## Findings\n\n",
        options.command,
        if options.quick { " (quick mode)" } else { "" },
        spec.model.data().len(),
        seconds_per_epoch * p2000 as f64 / p as f64,
    );
    for line in &summary {
        md.push_str(&format!("- {line}\n"));
    }
    md.push_str(&format!(
        "\n**Reading the figure.** Early in training the loss falls quickly while 𝒩 stays roughly constant (or grows): \
         the noise is then dominated by the spread of per-sample gradients that the decoupling approximation does not \
         tie to L. Late in training, once the network fits most samples, 𝒩 falls together with L{}: the slope is \
         {late_a_slope:.2} over the first half of the late phase and {late_b_slope:.2} over the second (slope \
         {late_slope:.2} over the whole late phase). The points are single measurements \
         without error bars, so no χ² can be formed; the standard errors of the slopes come from the regression \
         residuals, and successive epochs are correlated, so they are lower bounds.\n\n",
        // The halves differ by more than 4 standard errors of the whole-phase slope: not one power law.
        if (late_a_slope - late_b_slope).abs() > 4.0 * late_se {
            ", but not as one power law"
        } else {
            ", as one power law within the errors"
        },
    ));
    md.push_str(&checks_table(&checks));
    md.push_str("\n## Every logged epoch\n\n");
    let mut table = Table::new(&["epoch", "L", "𝒩", "𝒩/L", "Tr Σ", "|∇L|²", "training accuracy"]);
    for r in &log {
        table.row(vec![
            r.epoch.to_string(),
            format!("{:.4e}", r.loss),
            format!("{:.4e}", r.noise),
            format!("{:.1}", r.noise / r.loss),
            format!("{:.4e}", r.trace_sigma),
            format!("{:.3e}", r.gradient_norm_sq),
            format!("{:.4}", r.accuracy),
        ]);
    }
    md.push_str(&table.markdown());
    write_text(&mut files, &out.join(format!("{NAME}.md")), &md)?;
    Ok(ReproduceReport { name: NAME.into(), files, summary, checks })
}
