//! `sgd-escape reproduce`: experiments that regenerate the evidence for (and against) the
//! paper's claims: numbers (JSON, CSV), figures (PNG, SVG) and a Markdown page each.
//!
//! Every experiment is a grid of points; each finished point is cached as
//! `OUT/points/<experiment>/<point>.json` (written atomically), so an interrupted reproduction
//! resumes without redoing finished points. `quick` mode finishes each experiment in about two
//! minutes on 2 cores; full mode uses the sizes of the committed pages in `docs/results/`.

mod barrier_1d;
mod effective_dimension;
mod fig1;
mod fig2;
mod fig3a;
mod fig3b;
mod mlp_barrier;
mod sde_convergence;
mod sgd_barrier;
mod splitting;

use crate::error::{Error, Result};
use crate::stats::EscapeStatistics;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The experiments, by name.
pub const EXPERIMENTS: &[&str] =
    &["fig1", "fig2", "fig3a", "fig3b", "barrier-1d", "effective-dimension", "sgd-barrier", "sde-convergence", "mlp-barrier"];

/// Whether an experiment reads Fashion-MNIST (Debian's `dataset-fashion-mnist`).
pub fn needs_fashion_mnist(name: &str) -> bool {
    matches!(name, "fig1" | "fig2")
}

/// How to run a reproduction.
#[derive(Clone, Debug)]
pub struct ReproduceOptions {
    /// Small grids and ensembles (about two minutes per experiment).
    pub quick: bool,
    /// Output folder.
    pub out: PathBuf,
    /// Base seed.
    pub seed: u64,
    /// The command line that produced the outputs (recorded on the page).
    pub command: String,
}

/// What an experiment produced.
#[derive(Clone, Debug, Serialize)]
pub struct ReproduceReport {
    /// Experiment name.
    pub name: String,
    /// Files written.
    pub files: Vec<PathBuf>,
    /// Findings, one line each: what was compared and the numbers.
    pub summary: Vec<String>,
    /// The experiment's quantitative claims and whether they held in this run.
    pub checks: Vec<Check>,
}

/// What a check tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckKind {
    /// The tool or the page: a simulation against an exact reference within its standard
    /// error, or a claim the page makes, with the numbers it rests on. Must hold.
    Verification,
    /// An assumption of the paper's theory, tested on this data: it may fail, and the page says
    /// what follows when it does.
    Assumption,
}

/// One quantitative claim of an experiment, evaluated on its own outputs.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    /// What is claimed, with its tolerance.
    pub claim: String,
    /// What was measured.
    pub result: String,
    /// Whether the claim held.
    pub holds: bool,
    /// A verification or a tested assumption.
    pub kind: CheckKind,
}

impl Check {
    pub(crate) fn new(claim: impl Into<String>, result: impl Into<String>, holds: bool) -> Self {
        Check { claim: claim.into(), result: result.into(), holds, kind: CheckKind::Verification }
    }

    /// An assumption of the theory, tested on this data (may legitimately fail).
    pub(crate) fn assumption(claim: impl Into<String>, result: impl Into<String>, holds: bool) -> Self {
        Check { kind: CheckKind::Assumption, ..Check::new(claim, result, holds) }
    }

    /// A claim over several cases: holds when every case does.
    pub(crate) fn count(claim: impl Into<String>, cases: impl IntoIterator<Item = bool>) -> Self {
        let cases: Vec<bool> = cases.into_iter().collect();
        let held = cases.iter().filter(|h| **h).count();
        Check::new(claim, format!("{held} of {}", cases.len()), held == cases.len() && !cases.is_empty())
    }
}

/// The Markdown table of checks for a results page.
pub(crate) fn checks_table(checks: &[Check]) -> String {
    let table = |kind: CheckKind| {
        let mut table = crate::report::table::Table::new(&["claim", "result", "holds"]);
        for c in checks.iter().filter(|c| c.kind == kind) {
            table.row(crate::cells![c.claim, c.result, if c.holds { "yes" } else { "**no**" }]);
        }
        table.markdown()
    };
    let mut text = format!("\n## Checks\n\n{}\n", table(CheckKind::Verification));
    if checks.iter().any(|c| c.kind == CheckKind::Assumption) {
        text.push_str(&format!(
            "## The theory's assumptions, tested on this data\n\nThese may fail; the findings say what follows where they do.\n\n{}\n",
            table(CheckKind::Assumption)
        ));
    }
    text
}

/// Runs one experiment (`name` from [`EXPERIMENTS`]). `progress` receives one line per point.
pub fn reproduce(name: &str, options: &ReproduceOptions, progress: &(dyn Fn(&str) + Sync)) -> Result<ReproduceReport> {
    std::fs::create_dir_all(&options.out).map_err(|source| Error::Io {
        action: "cannot create output folder",
        path: options.out.clone(),
        source,
    })?;
    match name {
        "fig1" => fig1::run(options, progress),
        "fig2" => fig2::run(options, progress),
        "fig3a" => fig3a::run(options, progress),
        "fig3b" => fig3b::run(options, progress),
        "barrier-1d" => barrier_1d::run(options, progress),
        "effective-dimension" => effective_dimension::run(options, progress),
        "sgd-barrier" => sgd_barrier::run(options, progress),
        "sde-convergence" => sde_convergence::run(options, progress),
        "mlp-barrier" => mlp_barrier::run(options, progress),
        other => Err(Error::invalid("NAME", other, format!("must be one of {} or \"all\"", EXPERIMENTS.join(", ")))),
    }
}

/// A simulated ensemble: censored exponential rate per t with its 95% interval, the mean time
/// ± SE over escaped replicas, and counts.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Measured {
    pub rate: (f64, f64, f64),
    pub mean_time: (f64, f64),
    pub escaped: usize,
    pub censored: usize,
}

impl Measured {
    pub(crate) fn from_stats(s: &EscapeStatistics) -> Self {
        Measured {
            rate: (s.rate_per_time.estimate, s.rate_per_time.ci_low, s.rate_per_time.ci_high),
            mean_time: (s.mean_time, s.mean_time_stderr),
            escaped: s.escaped,
            censored: s.censored + s.diverged,
        }
    }
    /// 1/κ̂ with its interval (t units).
    pub(crate) fn time(&self) -> (f64, f64, f64) {
        (1.0 / self.rate.0, 1.0 / self.rate.2, 1.0 / self.rate.1)
    }
}

/// A prediction's mean time (t units), NaN when it has none.
pub(crate) fn prediction_time(p: &crate::experiment::predictions::Prediction) -> f64 {
    p.mean_time.unwrap_or(f64::NAN)
}

/// A cached grid point as stored: the point with what it was computed by and from.
#[derive(Serialize, serde::Deserialize)]
struct CachedPoint<T> {
    /// The version that computed it.
    version: String,
    /// The reproduction's base seed.
    seed: u64,
    /// The point's key (its parameters).
    key: String,
    value: T,
}

/// A cached grid point: loads `points/<experiment>/<key>.json` if it holds this key's point
/// computed by this version from this seed, else computes it and stores it atomically (a
/// point of another version or seed is replaced, never mixed in). A failing `compute` stores
/// nothing.
pub(crate) fn cached_point<T: Serialize + DeserializeOwned>(
    options: &ReproduceOptions,
    experiment: &str,
    key: &str,
    compute: impl FnOnce() -> Result<T>,
) -> Result<(T, bool)> {
    let dir = options.out.join("points").join(experiment);
    std::fs::create_dir_all(&dir).map_err(|source| Error::Io { action: "cannot create folder", path: dir.clone(), source })?;
    let path = dir.join(format!("{key}.json"));
    if let Ok(text) = std::fs::read_to_string(&path)
        && let Ok(cached) = serde_json::from_str::<CachedPoint<T>>(&text)
        && cached.version == crate::VERSION
        && cached.seed == options.seed
        && cached.key == key
    {
        return Ok((cached.value, true));
    }
    let cached = CachedPoint { version: crate::VERSION.to_string(), seed: options.seed, key: key.to_string(), value: compute()? };
    crate::report::atomic_write(&path, serde_json::to_string_pretty(&cached).expect("point serialises").as_bytes())?;
    Ok((cached.value, false))
}

/// Renders `figure` to `stem.png` and `stem.svg` and records both.
pub(crate) fn save_figure(files: &mut Vec<PathBuf>, figure: &crate::report::plot::Figure, stem: &Path) -> Result<()> {
    figure.save(stem)?;
    files.push(stem.with_extension("png"));
    files.push(stem.with_extension("svg"));
    Ok(())
}

/// Writes a text file atomically and records it.
pub(crate) fn write_text(files: &mut Vec<PathBuf>, path: &Path, text: &str) -> Result<()> {
    crate::report::atomic_write(path, text.as_bytes())?;
    files.push(path.to_path_buf());
    Ok(())
}

/// `value ± stderr` with the standard error to two significant digits and the value to the
/// same decimal place.
pub(crate) fn plus_minus(value: f64, stderr: f64) -> String {
    if !(stderr.is_finite() && stderr > 0.0) {
        return format!("{value:.4}");
    }
    let decimals = (1 - stderr.log10().floor() as i32).clamp(0, 12) as usize;
    format!("{value:.decimals$} ± {stderr:.decimals$}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn plus_minus_rounds_to_the_error() {
        assert_eq!(super::plus_minus(1.034_000_7, 0.000_373), "1.03400 ± 0.00037");
        assert_eq!(super::plus_minus(7615.3, 440.2), "7615 ± 440");
        assert_eq!(super::plus_minus(2.5, f64::NAN), "2.5000");
    }

    #[test]
    fn cached_points_are_reused_only_for_the_same_seed_and_version() {
        let dir = tempfile::tempdir().unwrap();
        let options = |seed| super::ReproduceOptions { quick: true, out: dir.path().to_path_buf(), seed, command: "test".into() };
        let point = |seed, value: f64| super::cached_point(&options(seed), "e", "k", || Ok(value)).unwrap();
        assert_eq!(point(1, 1.0), (1.0, false));
        assert_eq!(point(1, 2.0), (1.0, true), "the same seed reuses the point");
        assert_eq!(point(2, 3.0), (3.0, false), "another seed recomputes it");
        // A point stored by an older version (a bare value) is recomputed.
        std::fs::write(dir.path().join("points/e/k.json"), "4.0").unwrap();
        assert_eq!(point(2, 5.0), (5.0, false));
    }
}
