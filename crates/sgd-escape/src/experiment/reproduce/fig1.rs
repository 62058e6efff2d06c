//! `fig1`: the decoupling approximation (paper Fig. 1). The paper's noise model rests on
//! `(1/N) Σ_μ ℓ_μ ∇f_μ∇f_μᵀ ≈ L · (1/N) Σ_μ ∇f_μ∇f_μᵀ` (docs/theory.md eq. 7; for one output,
//! Σ = (2/B)·lhs − ∇L∇Lᵀ/B exactly, and the paper's 2LG/B is (2/B)·rhs). Following the paper:
//! the first N Fashion-MNIST training images (MNIST is not available; see data/README.md) with
//! ±1 labels (even against odd classes), an MLP 784-100-100-1 with ReLU, SGD with B = 100,
//! η = 0.01; both matrices' spectra by stochastic Lanczos quadrature (matrix-free) at
//! initialisation, epoch 50 and epoch 500, with their exact traces and top eigenvalues. The
//! SLQ estimates are validated against dense eigendecompositions of the same two matrices on a
//! small network, and the alignment of Σ with H is measured: Tr Σ against 2L·Tr H/B, and the
//! overlap of their top eigenspaces.

use super::{Check, ReproduceOptions, ReproduceReport, cached_point, checks_table, save_figure, write_text};
use crate::cells;
use crate::data::{DataSpec, LabelMap, Scale, build, load_vendored};
use crate::dynamics::Sampling;
use crate::error::Result;
use crate::experiment::config::TrainConfig;
use crate::experiment::train::{resolve, train_in_dir};
use crate::landscape::curvature::{DenseOperator, GaussNewton, Hessian, Operator, exact_noise, to_dense};
use crate::landscape::spectrum::{
    LanczosOptions, SpectralDensity, dense_eigen, lanczos_extreme, rademacher_probe, stochastic_lanczos_quadrature,
};
use crate::model::{Activation, Mlp, Model};
use crate::report::folder::Existing;
use crate::report::plot::{Figure, Legend, Series};
use crate::report::table::Table;
use rand::RngExt;
use serde::{Deserialize, Serialize};
use std::path::Path;

const NAME: &str = "fig1";
const BATCH_SIZE: usize = 100;

/// The measurements at one epoch.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Snapshot {
    epoch: usize,
    loss: f64,
    /// Exact traces of (1/N)Σ ℓ_μ∇f∇fᵀ and of L·G.
    trace_loss_weighted: f64,
    trace_decoupled: f64,
    /// Top eigenvalues (Lanczos) of both, the largest Ritz residual |Av − λv| of each set and
    /// whether every pair met the Lanczos tolerance.
    top_loss_weighted: Vec<f64>,
    top_decoupled: Vec<f64>,
    top_residuals: (f64, f64),
    top_converged: bool,
    /// SLQ nodes and weights of both (all probes merged).
    slq_loss_weighted: (Vec<f64>, Vec<f64>),
    slq_decoupled: (Vec<f64>, Vec<f64>),
    /// SLQ's trace estimates P·Σ wλ of both, mean ± SE over probes (each probe's Gauss rule
    /// integrates λ exactly, so these are Hutchinson estimates, checked against the exact traces).
    slq_traces: ((f64, f64), (f64, f64)),
    /// Largest relative difference between a probe's quadrature of λ and zᵀAz (both matrices).
    slq_identity_error: f64,
    /// Tr Σ (exact, with replacement) and 2L·Tr H/B with Tr H by Hutchinson (± SE).
    trace_sigma: f64,
    paper_trace: (f64, f64),
    /// (1/k)‖U_Σᵀ U_H‖²_F for the top-k eigenvectors of Σ and H.
    overlap: f64,
    overlap_k: usize,
}

/// Dense against SLQ on the small validation network.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Validation {
    parameters: usize,
    /// Per matrix (loss-weighted, decoupled): exact Tr A and Tr A², and their SLQ estimates
    /// P·Σ wλ and P·Σ wλ² (mean ± SE over probes; Gauss quadrature integrates λ and λ² exactly
    /// for each probe, so these are Hutchinson estimates of the traces).
    moments: [Moments; 2],
    /// Largest eigenvalue: exact and SLQ's largest Ritz value, per matrix.
    top: ((f64, f64), (f64, f64)),
    /// Lanczos (`lanczos_extreme`) largest eigenvalue and its Ritz residual |Av − λv|, per
    /// matrix: some eigenvalue lies within the residual of it (Krylov–Bogoliubov).
    lanczos_top: ((f64, f64), (f64, f64)),
    exact_loss_weighted: Vec<f64>,
    exact_decoupled: Vec<f64>,
    slq_loss_weighted: (Vec<f64>, Vec<f64>),
    slq_decoupled: (Vec<f64>, Vec<f64>),
}

/// Exact and SLQ-estimated first and second spectral moments of one matrix.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Moments {
    trace: f64,
    trace_estimate: (f64, f64),
    trace_sq: f64,
    trace_sq_estimate: (f64, f64),
}

/// The Hutchinson estimate of Tr A^k from per-probe SLQ densities of a P × P matrix: mean ± SE
/// over probes of P·Σ w λ^k (exact per probe for k < 2·steps).
fn slq_moment(probes: &[SpectralDensity], p: usize, k: i32) -> (f64, f64) {
    crate::stats::mean_and_stderr(
        &probes.iter().map(|d| p as f64 * d.nodes.iter().zip(&d.weights).map(|(n, w)| w * n.powi(k)).sum::<f64>()).collect::<Vec<_>>(),
    )
}

/// SLQ with one probe per call (seeds seed, seed + 1, …), so that each probe's moments are
/// separate, and the merged density.
fn slq_per_probe(op: &dyn Operator, probes: usize, steps: usize, seed: u64) -> (Vec<SpectralDensity>, SpectralDensity) {
    let each: Vec<SpectralDensity> =
        (0..probes as u64).map(|i| stochastic_lanczos_quadrature(op, 1, steps, seed.wrapping_add(i))).collect();
    let merged = SpectralDensity {
        nodes: each.iter().flat_map(|d| d.nodes.clone()).collect(),
        weights: each.iter().flat_map(|d| d.weights.iter().map(|w| w / each.len() as f64)).collect(),
    };
    (each, merged)
}

/// The largest relative difference, over the probes of [`slq_per_probe`], between a probe's Gauss
/// quadrature of λ (P·Σ wλ) and zᵀAz computed directly: the rule integrates λ exactly, so this
/// is round-off when the Lanczos process is right.
fn quadrature_identity_error(op: &dyn Operator, densities: &[SpectralDensity], seed: u64) -> f64 {
    let p = op.dim();
    let mut az = vec![0.0; p];
    densities
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let z = rademacher_probe(p, seed.wrapping_add(i as u64), 0);
            op.apply(&z, &mut az);
            let direct = crate::linalg::dot(&z, &az);
            let quadrature = p as f64 * d.nodes.iter().zip(&d.weights).map(|(n, w)| n * w).sum::<f64>();
            (quadrature - direct).abs() / direct.abs()
        })
        .fold(0.0, f64::max)
}

impl Moments {
    fn new(exact: &[f64], probes: &[SpectralDensity]) -> Self {
        let p = exact.len();
        Moments {
            trace: exact.iter().sum(),
            trace_estimate: slq_moment(probes, p, 1),
            trace_sq: exact.iter().map(|e| e * e).sum(),
            trace_sq_estimate: slq_moment(probes, p, 2),
        }
    }
    fn agree(&self) -> bool {
        (self.trace_estimate.0 - self.trace).abs() < 4.0 * self.trace_estimate.1
            && (self.trace_sq_estimate.0 - self.trace_sq).abs() < 4.0 * self.trace_sq_estimate.1
    }
}

fn density(d: &(Vec<f64>, Vec<f64>)) -> SpectralDensity {
    SpectralDensity { nodes: d.0.clone(), weights: d.1.clone() }
}

fn pack(d: SpectralDensity) -> (Vec<f64>, Vec<f64>) {
    (d.nodes, d.weights)
}

/// Exact traces: Tr[(1/N)Σ ℓ_μ ∇f∇fᵀ] = (1/N)Σ |∇ℓ_μ|²/2 and Tr[L·G] = L (1/N)Σ |∇ℓ_μ|²/(2ℓ_μ)
/// for one output (|∇ℓ_μ|² = r_μ²|∇f_μ|² = 2ℓ_μ|∇f_μ|²).
fn traces(model: &Mlp, theta: &[f64]) -> (f64, f64, f64) {
    let (losses, norms) = model.per_sample_losses_and_gradient_norms(theta);
    let n = losses.len() as f64;
    let loss = losses.iter().sum::<f64>() / n;
    let weighted = norms.iter().sum::<f64>() / (2.0 * n);
    let g = losses.iter().zip(&norms).filter(|(l, _)| **l > 0.0).map(|(l, g)| g / (2.0 * l)).sum::<f64>() / n;
    (loss, weighted, loss * g)
}

fn snapshot(model: &Mlp, theta: &[f64], epoch: usize, probes: usize, steps: usize, seed: u64) -> Snapshot {
    let (loss, trace_loss_weighted, trace_decoupled) = traces(model, theta);
    let a = GaussNewton::loss_weighted(model, theta);
    let g = GaussNewton::decoupled(model, theta);
    let k = 10;
    let lanczos = LanczosOptions { seed, ..Default::default() };
    let (top_a, top_g) = (lanczos_extreme(&a, k, true, lanczos), lanczos_extreme(&g, k, true, lanczos));
    let worst = |e: &crate::landscape::spectrum::Eigenpairs| e.residuals.iter().copied().fold(0.0, f64::max);
    let p = model.dim();
    let (probes_a, slq_a) = slq_per_probe(&a, probes, steps, seed);
    let (probes_g, slq_g) = slq_per_probe(&g, probes, steps, seed);
    // Alignment: Tr Σ exactly, Tr H by Hutchinson with Rademacher probes.
    let noise = model.noise_strength(theta);
    let trace_sigma = noise.noise / BATCH_SIZE as f64;
    let h = Hessian::new(model, theta);
    let mut rng = crate::dynamics::rng::replica_rng(seed, 0x7ace);
    let mut hv = vec![0.0; p];
    let samples: Vec<f64> = (0..2 * probes)
        .map(|_| {
            let z: Vec<f64> = (0..p).map(|_| if rng.random::<bool>() { 1.0 } else { -1.0 }).collect();
            h.apply(&z, &mut hv);
            crate::linalg::dot(&z, &hv)
        })
        .collect();
    let (trace_h, trace_h_se) = crate::stats::mean_and_stderr(&samples);
    let scale = 2.0 * loss / BATCH_SIZE as f64;
    let sigma = exact_noise(model, theta, BATCH_SIZE, Sampling::WithReplacement);
    let u = lanczos_extreme(&sigma, k, true, lanczos).vectors;
    let w = lanczos_extreme(&h, k, true, lanczos).vectors;
    let overlap = u.iter().flat_map(|a| w.iter().map(move |b| crate::linalg::dot(a, b).powi(2))).sum::<f64>() / k as f64;
    Snapshot {
        epoch,
        loss,
        trace_loss_weighted,
        trace_decoupled,
        top_residuals: (worst(&top_a), worst(&top_g)),
        top_converged: top_a.converged && top_g.converged,
        top_loss_weighted: top_a.values,
        top_decoupled: top_g.values,
        slq_traces: (slq_moment(&probes_a, p, 1), slq_moment(&probes_g, p, 1)),
        slq_identity_error: quadrature_identity_error(&a, &probes_a, seed).max(quadrature_identity_error(&g, &probes_g, seed)),
        slq_loss_weighted: pack(slq_a),
        slq_decoupled: pack(slq_g),
        trace_sigma,
        paper_trace: (scale * trace_h, scale * trace_h_se),
        overlap,
        overlap_k: k,
    }
}

fn validation(probes: usize, steps: usize, seed: u64) -> Result<Validation> {
    // Digits, even against odd, MLP 64-16-16-1 (P = 1329), at its Glorot initialisation.
    let data = build(
        &load_vendored("digits")?,
        &DataSpec { labels: LabelMap::Binary { positive: vec![0, 2, 4, 6, 8] }, scale: Scale::Standardize, ..Default::default() },
    )?;
    let model = Mlp::new(&[16, 16], Activation::Relu, data)?;
    let theta = model.glorot(seed);
    let a = GaussNewton::loss_weighted(&model, &theta);
    let g = GaussNewton::decoupled(&model, &theta);
    let p = model.dim();
    let exact = |op: &dyn Operator| dense_eigen(&DenseOperator { matrix: to_dense(op), p }).0;
    let (ea, eg) = (exact(&a), exact(&g));
    let ((pa, sa), (pg, sg)) = (slq_per_probe(&a, probes, steps, seed), slq_per_probe(&g, probes, steps, seed));
    let top = |s: &SpectralDensity| s.nodes.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let lanczos = |op: &dyn Operator| {
        let e = lanczos_extreme(op, 1, true, LanczosOptions { seed, ..Default::default() });
        (e.values[0], e.residuals[0])
    };
    Ok(Validation {
        parameters: p,
        moments: [Moments::new(&ea, &pa), Moments::new(&eg, &pg)],
        top: ((*ea.last().expect("P > 0"), top(&sa)), (*eg.last().expect("P > 0"), top(&sg))),
        lanczos_top: (lanczos(&a), lanczos(&g)),
        exact_loss_weighted: ea,
        exact_decoupled: eg,
        slq_loss_weighted: pack(sa),
        slq_decoupled: pack(sg),
    })
}

/// Number of eigenvalues above λ, P·(1 − CDF(λ)), on a log grid from `lo` to `hi`.
fn counting(d: &SpectralDensity, p: usize, lo: f64, hi: f64) -> Vec<(f64, f64)> {
    (0..=80).map(|i| lo * (hi / lo).powf(i as f64 / 80.0)).map(|x| (x, p as f64 * (1.0 - d.cdf(x)))).filter(|(_, c)| *c >= 0.5).collect()
}

fn exact_counting(e: &[f64], lo: f64, hi: f64) -> Vec<(f64, f64)> {
    (0..=80)
        .map(|i| lo * (hi / lo).powf(i as f64 / 80.0))
        .map(|x| (x, e.iter().filter(|v| **v > x).count() as f64))
        .filter(|(_, c)| *c >= 0.5)
        .collect()
}

pub(super) fn run(options: &ReproduceOptions, progress: &(dyn Fn(&str) + Sync)) -> Result<ReproduceReport> {
    let (samples, width, epochs, probes, steps): (usize, usize, [usize; 3], usize, usize) =
        if options.quick { (1000, 32, [0, 5, 50], 4, 40) } else { (10_000, 100, [0, 50, 500], 6, 80) };
    let key = format!("n{samples}-w{width}-e{}-p{probes}-s{steps}-seed{}", epochs[2], options.seed);

    let (v, cached) =
        cached_point(options, NAME, &format!("validation-p20-s{steps}-seed{}", options.seed), || validation(20, steps, options.seed))?;
    progress(&format!("{NAME}: SLQ validation {}", if cached { "(cached)" } else { "done" }));

    let text = |e: usize| {
        format!(
            "[model]\nkind = \"mlp\"\nhidden = [{width}, {width}]\nactivation = \"relu\"\ninit_seed = {seed}\n\
             [data]\nsource = \"fashion-mnist\"\nsamples = {samples}\nlabels = {{ kind = \"binary\", positive = [0, 2, 4, 6, 8] }}\nstandardize = false\n\
             [train]\nlr = 0.01\nbatch_size = {BATCH_SIZE}\nsampling = \"without-replacement\"\nepochs = {e}\nseed = {seed}\nlog_every = 10\n",
            seed = options.seed
        )
    };
    let train_dir = options.out.join("points").join(NAME).join(format!("train-{key}"));
    let mut snapshots = Vec::new();
    for &e in &epochs {
        let (snap, cached) = cached_point(options, NAME, &format!("snapshot-{key}-epoch{e}"), || {
            let spec = resolve(&TrainConfig::from_toml(&text(e), Path::new("fig1.toml"))?, Path::new("."))?;
            let theta = if e == 0 {
                spec.model.glorot(spec.mlp.init_seed)
            } else {
                train_in_dir(&spec, &train_dir, Existing::MoveAside, &|_| {}, &|| false)?.theta
            };
            Ok(snapshot(&spec.model, &theta, e, probes, steps, options.seed.wrapping_add(e as u64)))
        })?;
        progress(&format!("{NAME}: epoch {e} {}", if cached { "(cached)" } else { "done" }));
        snapshots.push(snap);
    }
    let p = 784 * width + width + width * width + width + width + 1;
    let out = &options.out;
    let mut files = Vec::new();

    // Figures: counting functions of both matrices at each epoch, and the validation.
    let mut figure_names = Vec::new();
    for s in &snapshots {
        let (da, dg) = (density(&s.slq_loss_weighted), density(&s.slq_decoupled));
        let hi = 1.5 * s.top_loss_weighted[0].max(s.top_decoupled[0]);
        let lo = hi * 1e-7;
        let figure = Figure {
            title: format!("Fashion-MNIST ±1, MLP 784-{width}-{width}-1, epoch {}: decoupling", s.epoch),
            x_label: "eigenvalue λ".into(),
            y_label: "number of eigenvalues above λ (SLQ)".into(),
            log_x: true,
            log_y: true,
            series: vec![
                Series::line("(1/N) Σ ℓ_μ ∇f_μ∇f_μᵀ", counting(&da, p, lo, hi)).colour(0),
                Series::dashed("L · (1/N) Σ ∇f_μ∇f_μᵀ", counting(&dg, p, lo, hi)).colour(1),
            ],
            legend: Legend::UpperRight,
        };
        let stem = out.join(format!("{NAME}-epoch{}", s.epoch));
        save_figure(&mut files, &figure, &stem)?;
        figure_names.push(format!("{NAME}-epoch{}.png", s.epoch));
    }
    {
        let hi = 1.5 * v.top.0.0.max(v.top.1.0);
        let lo = hi * 1e-7;
        let figure = Figure {
            title: format!("SLQ against dense eigendecomposition (digits, MLP 64-16-16-1, P = {})", v.parameters),
            x_label: "eigenvalue λ".into(),
            y_label: "number of eigenvalues above λ".into(),
            log_x: true,
            log_y: true,
            series: vec![
                Series::line("(1/N) Σ ℓ∇f∇fᵀ: dense", exact_counting(&v.exact_loss_weighted, lo, hi)).colour(0),
                Series::dashed("(1/N) Σ ℓ∇f∇fᵀ: SLQ", counting(&density(&v.slq_loss_weighted), v.parameters, lo, hi)).colour(0),
                Series::line("L·G: dense", exact_counting(&v.exact_decoupled, lo, hi)).colour(1),
                Series::dashed("L·G: SLQ", counting(&density(&v.slq_decoupled), v.parameters, lo, hi)).colour(1),
            ],
            legend: Legend::UpperRight,
        };
        let stem = out.join(format!("{NAME}-slq-validation"));
        save_figure(&mut files, &figure, &stem)?;
    }

    let json = serde_json::json!({
        "experiment": NAME, "version": crate::VERSION, "seed": options.seed, "quick": options.quick, "command": options.command,
        "samples": samples, "width": width, "parameters": p, "batch_size": BATCH_SIZE, "lr": 0.01, "probes": probes, "lanczos_steps": steps,
        "validation": v, "snapshots": snapshots,
    });
    write_text(&mut files, &out.join(format!("{NAME}.json")), &serde_json::to_string_pretty(&json).expect("serialises"))?;
    let mut csv = Table::new(&[
        "epoch",
        "loss",
        "trace_loss_weighted",
        "trace_decoupled",
        "top_loss_weighted",
        "top_decoupled",
        "trace_sigma",
        "paper_trace",
        "paper_trace_stderr",
        "overlap",
    ]);
    for s in &snapshots {
        csv.row(cells![
            s.epoch,
            s.loss,
            s.trace_loss_weighted,
            s.trace_decoupled,
            s.top_loss_weighted[0],
            s.top_decoupled[0],
            s.trace_sigma,
            s.paper_trace.0,
            s.paper_trace.1,
            s.overlap
        ]);
    }
    write_text(&mut files, &out.join(format!("{NAME}.csv")), &csv.csv())?;

    let mut checks = vec![
        Check::new(
            "SLQ validation (small network): SLQ estimates of Tr A and Tr A² within 4 SE of the dense values, both matrices",
            v.moments
                .iter()
                .map(|m| {
                    format!(
                        "{:.4e} ± {:.1e} vs {:.4e}; {:.4e} ± {:.1e} vs {:.4e}",
                        m.trace_estimate.0, m.trace_estimate.1, m.trace, m.trace_sq_estimate.0, m.trace_sq_estimate.1, m.trace_sq
                    )
                })
                .zip(["ℓ-weighted", "L·G"])
                .map(|(text, name)| format!("{name}: {text}"))
                .collect::<Vec<_>>()
                .join("; "),
            v.moments.iter().all(Moments::agree),
        ),
        Check::new(
            "validation: the Lanczos largest eigenvalue within its Ritz residual |Av − λv| of the dense largest eigenvalue, both matrices",
            format!(
                "{:.6e} (residual {:.1e}) vs {:.6e}; {:.6e} (residual {:.1e}) vs {:.6e}",
                v.lanczos_top.0.0, v.lanczos_top.0.1, v.top.0.0, v.lanczos_top.1.0, v.lanczos_top.1.1, v.top.1.0
            ),
            (v.lanczos_top.0.0 - v.top.0.0).abs() <= v.lanczos_top.0.1.max(1e-12 * v.top.0.0)
                && (v.lanczos_top.1.0 - v.top.1.0).abs() <= v.lanczos_top.1.1.max(1e-12 * v.top.1.0),
        ),
        Check::new(
            "every epoch and probe: SLQ's Gauss quadrature of λ equals zᵀAz computed directly to 10⁻⁸ (the rule is exact for λ), both matrices",
            format!("largest relative difference {:.1e}", snapshots.iter().map(|s| s.slq_identity_error).fold(0.0, f64::max)),
            snapshots.iter().all(|s| s.slq_identity_error < 1e-8),
        ),
        Check::count(
            "every epoch: the top-10 Lanczos eigenpairs of both matrices converged (residual ≤ 10⁻⁸·|λ|)",
            snapshots.iter().map(|s| s.top_converged),
        ),
    ];
    // The decoupling itself, per epoch: Tr[(1/N)Σℓ∇f∇fᵀ] / Tr[L·G] is the factor by which the
    // true noise exceeds the paper's on average (eq. 7–8), so within 20% of 1 the paper's β is
    // right to 20% on average.
    for s in &snapshots {
        let ratio = s.trace_loss_weighted / s.trace_decoupled;
        checks.push(Check::assumption(
            format!("epoch {}: decoupling, Tr[(1/N)Σ ℓ_μ∇f_μ∇f_μᵀ] within 20% of Tr[L·G] (the paper's β right to 20% on average)", s.epoch),
            format!("ratio {ratio:.3}; effective β ≈ β/{ratio:.2}"),
            (ratio - 1.0).abs() <= 0.2,
        ));
    }
    let mut summary = Vec::new();
    for s in &snapshots {
        summary.push(format!(
            "epoch {}: L = {:.4e}; trace ratio (ℓ-weighted / L·G) = {:.3}; top eigenvalue ratio = {:.3}; Tr Σ = {:.4e} against 2L·Tr H/B = {:.4e} ± {:.1e} (ratio {:.2}, {:.1} SE apart); top-{} overlap of Σ and H = {:.3} (random subspaces: {:.1e})",
            s.epoch,
            s.loss,
            s.trace_loss_weighted / s.trace_decoupled,
            s.top_loss_weighted[0] / s.top_decoupled[0],
            s.trace_sigma,
            s.paper_trace.0,
            s.paper_trace.1,
            s.trace_sigma / s.paper_trace.0,
            (s.trace_sigma - s.paper_trace.0).abs() / s.paper_trace.1,
            s.overlap_k,
            s.overlap,
            s.overlap_k as f64 / p as f64
        ));
    }

    let mut md = format!(
        "# fig1: the decoupling approximation (paper Fig. 1)\n\n\
         Command: `{}`{}\n\n\
         The paper's noise model Σ ≈ 2LH/B rests on the decoupling (1/N)Σ_μ ℓ_μ∇f_μ∇f_μᵀ ≈ L·(1/N)Σ_μ∇f_μ∇f_μᵀ. For one \
         output Σ = (2/B)·(1/N)Σ ℓ_μ∇f_μ∇f_μᵀ − ∇L∇Lᵀ/B exactly, and the paper's 2LG/B is (2/B)·L·G, so comparing the two \
         matrices compares the true noise with the paper's. Setting as in the paper, except for the data: the first {samples} \
         **Fashion-MNIST** training images (MNIST itself is not packaged anywhere this tool can reach; Fashion-MNIST has the \
         same format; see data/README.md), pixels in [0, 1], labels +1 for the even classes and −1 for the odd ones; MLP \
         784-{width}-{width}-1 with ReLU (P = {p}), Glorot initialisation; SGD with B = {BATCH_SIZE}, η = 0.01, epoch shuffling. \
         At epochs {:?} both matrices are applied matrix-free (an R-pass and a backward pass per product); spectra by \
         stochastic Lanczos quadrature ({probes} Rademacher probes × {steps} Lanczos steps), top eigenvalues by Lanczos, \
         traces exactly from per-sample gradient norms. Both matrices have rank at most N, so most of the P eigenvalues are \
         zero; the figures show the number of eigenvalues above λ.\n\n",
        options.command,
        if options.quick { " (quick mode)" } else { "" },
        epochs,
    );
    for f in &figure_names {
        md.push_str(&format!("![{f}]({f})\n\n"));
    }
    md.push_str(&format!("![SLQ validation]({NAME}-slq-validation.png)\n\n## Findings\n\n"));
    for line in &summary {
        md.push_str(&format!("- {line}\n"));
    }
    let worst_trace = snapshots
        .iter()
        .flat_map(|s| [(s.slq_traces.0, s.trace_loss_weighted), (s.slq_traces.1, s.trace_decoupled)].map(|((e, se), x)| (e - x).abs() / se))
        .fold(0.0, f64::max);
    md.push_str(&format!(
        "- SLQ's traces are Hutchinson estimates over {probes} probes (table below): the farthest lies {worst_trace:.1} of its standard errors from the exact trace. With so few probes the spread, and so the standard error, is itself poorly known (Rademacher probes of a matrix dominated by a few eigenvalues have a skewed spread); the figures use SLQ for the shape of the spectra, which the validation below checks against dense eigenvalues, and the exact traces for every ratio.\n"
    ));
    md.push_str(&format!(
        "- SLQ validation on digits (MLP 64-16-16-1, P = {}): Tr A {:.4e} ± {:.1e} (SLQ) against {:.4e} (dense) for the ℓ-weighted matrix, {:.4e} ± {:.1e} against {:.4e} for L·G; largest eigenvalue {:.4e} (dense) against {:.4e} (SLQ), and {:.4e} against {:.4e}.\n\n",
        v.parameters,
        v.moments[0].trace_estimate.0,
        v.moments[0].trace_estimate.1,
        v.moments[0].trace,
        v.moments[1].trace_estimate.0,
        v.moments[1].trace_estimate.1,
        v.moments[1].trace,
        v.top.0.0,
        v.top.0.1,
        v.top.1.0,
        v.top.1.1
    ));
    md.push_str(
        "**Alignment.** Tr Σ is exact (𝒩/B, batches drawn with replacement); 2L·Tr H/B uses the Hessian's trace by \
         Hutchinson's estimator with its standard error. The overlap is (1/k)‖U_Σᵀ U_H‖²_F for the top-k eigenvectors of Σ \
         and of H (1 when the subspaces coincide, about k/P for random ones).\n\n\
         **What a failed decoupling does to β.** For one output the true noise is Σ = (2/B)·(1/N)Σ ℓ_μ∇f_μ∇f_μᵀ − ∇L∇Lᵀ/B and \
         the paper's is (2/B)·L·G. Where the first matrix is r times the second, the noise temperature ηh*/B of the \
         time-changed dynamics (eq. 11) is r times the paper's, so the exponent of eq. 13 is β/r instead of β: the escape \
         rate is faster by the factor c^(β(1 − 1/r)). A trace ratio averages over directions and says nothing certain about \
         one of them, and the escape direction is the one that matters; the ratio of the top eigenvalues is the same \
         comparison along the stiffest directions.\n\n",
    );
    md.push_str(&checks_table(&checks));
    md.push_str("\n## Per epoch\n\n");
    let mut table = Table::new(&[
        "epoch",
        "L",
        "Tr ℓ-weighted (exact; SLQ)",
        "Tr L·G (exact; SLQ)",
        "top ℓ-weighted",
        "top L·G",
        "Tr Σ",
        "2L·Tr H/B",
        "overlap",
    ]);
    for s in &snapshots {
        table.row(vec![
            s.epoch.to_string(),
            format!("{:.4e}", s.loss),
            format!("{:.4e}; {:.3e} ± {:.1e}", s.trace_loss_weighted, s.slq_traces.0.0, s.slq_traces.0.1),
            format!("{:.4e}; {:.3e} ± {:.1e}", s.trace_decoupled, s.slq_traces.1.0, s.slq_traces.1.1),
            format!("{:.4e}", s.top_loss_weighted[0]),
            format!("{:.4e}", s.top_decoupled[0]),
            format!("{:.4e}", s.trace_sigma),
            format!("{:.4e} ± {:.1e}", s.paper_trace.0, s.paper_trace.1),
            format!("{:.3}", s.overlap),
        ]);
    }
    md.push_str(&table.markdown());
    write_text(&mut files, &out.join(format!("{NAME}.md")), &md)?;
    Ok(ReproduceReport { name: NAME.into(), files, summary, checks })
}
