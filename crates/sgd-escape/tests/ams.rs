//! Adaptive multilevel splitting against exact probabilities: each comparison is within 4
//! standard errors of the mean over M independent runs (fixed seeds).

use sgd_escape::dynamics::{Noise, Sde, Solver};
use sgd_escape::escape::Exit;
use sgd_escape::escape::ams::{AmsSpec, ReactionCoordinate, State, ams_run};
use sgd_escape::model::Model;
use sgd_escape::stats::mean_and_stderr;

/// L(θ) = θ: under isotropic noise D = 1/2 the SDE is Brownian motion with drift −1,
/// dX = −dt + dW.
struct Slope;

impl Model for Slope {
    fn dim(&self) -> usize {
        1
    }
    fn loss(&self, theta: &[f64]) -> f64 {
        theta[0]
    }
    fn loss_and_gradient(&self, theta: &[f64], grad: &mut [f64]) -> f64 {
        grad[0] = 1.0;
        theta[0]
    }
}

/// P(hit b before a | X₀ = x) for dX = −dt + dW: the scale function s(x) = e^{2x}.
fn hitting_probability(x: f64, a: f64, b: f64) -> f64 {
    ((2.0 * x).exp() - (2.0 * a).exp()) / ((2.0 * b).exp() - (2.0 * a).exp())
}

/// (a) Brownian motion with drift to B = {x ≥ 10} before A = {x ≤ 0}: from x₀ = 0.1,
/// p = 4.56·10⁻¹⁰ in continuous time. The Euler chain at dt = 0.01 checks its boundaries only
/// at the steps, which shifts both outward by 0.5826·σ·√dt (Siegmund's correction, σ = 1).
/// That correction holds for starts many σ√dt = 0.1 from a boundary, so the chain is started
/// at x₀ = 1 (p = 1.3·10⁻⁸); from x₀ = 0.1, one σ√dt from A, it is off by tens of percent.
#[test]
fn brownian_motion_with_drift_hits_a_far_level_with_the_exact_probability() {
    let dt = 0.01;
    let model = Slope;
    let sde = Sde::new(&model, dt, Noise::Isotropic { temperature: 0.5 }, None).unwrap().with_solver(Solver::EulerMaruyama);
    let exit = Exit::Coordinate { axis: 0, threshold: 10.0 };
    let xi = ReactionCoordinate::Projection { direction: vec![1.0], from: 0.0, to: 10.0 };
    let spec = AmsSpec { particles: 100, kill: 1, basin: 0.0, resolution: 1e-3, seed: 42, max_excursion_steps: 100_000_000 };
    let runs = 40;
    let results: Vec<_> = (0..runs)
        .map(|r| {
            let starts = (0..spec.particles)
                .map(|_| State { theta: vec![1.0], ws: sgd_escape::dynamics::Stepper::workspace(&sde), steps: 0, time: 0.0 })
                .collect();
            ams_run(&model, &sde, &exit, &xi, &spec, starts, r)
        })
        .collect();
    let p: Vec<f64> = results.iter().map(|r| r.probability).collect();
    let (mean, se) = mean_and_stderr(&p);
    let shift = 0.5826 * dt.sqrt();
    let exact = hitting_probability(1.0, -shift, 10.0 + shift);
    let continuous = hitting_probability(1.0, 0.0, 10.0);
    assert!((hitting_probability(0.1, 0.0, 10.0) - 4.56e-10).abs() < 0.01e-10);
    // Levels are discretised, so ties are killed together: fewer iterations than N·ln(1/p).
    assert!(results.iter().all(|r| !r.extinct && r.iterations > 300 && r.reached == spec.particles));
    assert!((mean - exact).abs() < 4.0 * se, "AMS p = {mean:.4e} ± {se:.2e}, Euler chain {exact:.4e} (continuous {continuous:.4e})");
    // The relative variance is near the idealised ln(1/p)/N of a perfect coordinate (here the
    // exact committor is a function of ξ).
    let relative_variance = (se * se * runs as f64) / (mean * mean);
    let ideal = -mean.ln() / spec.particles as f64;
    println!("AMS p = {mean:.4e} ± {se:.2e}, Euler chain {exact:.4e}; relative variance {relative_variance:.3}, idealised {ideal:.3}");
    assert!(relative_variance < 3.0 * ideal, "relative variance {relative_variance:.3} against the idealised {ideal:.3}");
}

/// Same seed, same numbers; and every run is extinct-free and unbiased in the easy regime
/// where brute force gives p too: hitting 2 before 0 from 0.5.
#[test]
fn ams_agrees_with_the_exact_probability_where_brute_force_also_could() {
    let dt = 0.01;
    let model = Slope;
    let sde = Sde::new(&model, dt, Noise::Isotropic { temperature: 0.5 }, None).unwrap().with_solver(Solver::EulerMaruyama);
    let exit = Exit::Coordinate { axis: 0, threshold: 2.0 };
    let xi = ReactionCoordinate::Projection { direction: vec![1.0], from: 0.0, to: 2.0 };
    let spec = AmsSpec { particles: 50, kill: 3, basin: 0.0, resolution: 0.01, seed: 7, max_excursion_steps: 100_000_000 };
    let run = |r| {
        let starts = (0..spec.particles)
            .map(|_| State { theta: vec![0.5], ws: sgd_escape::dynamics::Stepper::workspace(&sde), steps: 0, time: 0.0 })
            .collect();
        ams_run(&model, &sde, &exit, &xi, &spec, starts, r)
    };
    assert_eq!(run(3), run(3), "deterministic for a given seed and run");
    let p: Vec<f64> = (0..200).map(|r| run(r).probability).collect();
    let (mean, se) = mean_and_stderr(&p);
    let shift = 0.5826 * dt.sqrt();
    let exact = hitting_probability(0.5, -shift, 2.0 + shift);
    println!("AMS p = {mean:.5} ± {se:.5}, Euler chain {exact:.5}");
    assert!((mean - exact).abs() < 4.0 * se, "AMS p = {mean:.5} ± {se:.5}, Euler chain {exact:.5}");
}

mod runs {
    use sgd_escape::escape::ams::AmsRun;
    use sgd_escape::experiment::Config;
    use sgd_escape::experiment::run::{RunOptions, Summary, run_in_dir};
    use std::path::Path;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn run(text: &str, dir: &Path) -> Summary {
        let config = Config::from_toml(text, Path::new("ams.toml")).unwrap();
        run_in_dir(&config, Path::new("."), dir, &RunOptions::default(), &|_| {}).unwrap()
    }

    /// The splitting estimate of the mean time lies within 4 of its standard errors of `exact`
    /// (and the summary names the splitting estimator as the loop that ran).
    fn assert_within_4_se(s: &Summary, exact: f64) {
        assert!(s.ensemble_loop.starts_with("adaptive multilevel splitting"), "{}", s.ensemble_loop);
        let e = &s.escape;
        assert!((e.mean_time - exact).abs() < 4.0 * e.mean_time_stderr, "{} ± {} against {exact:e}", e.mean_time, e.mean_time_stderr);
    }

    /// The paper-noise double well in `dim` dimensions (ε = 0.25, β = 5, c = 2), exit θ₁ ≥ 1.
    fn paper_double_well(seed: u64, dim: usize) -> String {
        format!(
            "seed = {seed}\n[model]\nkind = \"double-well\"\nepsilon = 0.25\ndim = {dim}\n[dynamics]\nkind = \"sde\"\ndt = 0.01\n\
             [dynamics.noise]\nkind = \"paper\"\nlr = 0.1\nbatch_size = 1\n[exit]\nkind = \"coordinate\"\nthreshold = 1.0\n"
        )
    }

    /// The splitting and brute-force mean times agree within 4 combined standard errors.
    fn assert_agree(ams: &Summary, brute: &Summary) {
        let (a, b) = (&ams.escape, &brute.escape);
        let se = (a.mean_time_stderr.powi(2) + b.mean_time_stderr.powi(2)).sqrt();
        assert!(
            (a.mean_time - b.mean_time).abs() < 4.0 * se,
            "AMS {} ± {}, brute force {} ± {}",
            a.mean_time,
            a.mean_time_stderr,
            b.mean_time,
            b.mean_time_stderr
        );
    }

    fn double_well(epsilon: f64, noise: &str, particles: usize, runs: usize) -> String {
        format!(
            "seed = 1\n[model]\nkind = \"double-well\"\nepsilon = {epsilon}\n[dynamics]\nkind = \"sde\"\ndt = 0.01\n\
             [dynamics.noise]\nkind = \"{noise}\"\nlr = 0.1\nbatch_size = 2\n[exit]\nkind = \"coordinate\"\nthreshold = 1.0\n\
             [estimator]\nkind = \"ams\"\nparticles = {particles}\nruns = {runs}\n"
        )
    }

    /// The acceptance case: ε = 0.05, η = 0.1, B = 2 (β = 10, c = 6), paper noise,
    /// dt = 0.01 (the adaptive solver): a mean escape time of 6·10⁸ (6·10¹⁰ steps), where brute
    /// force is out of reach. The 95% interval contains the quadrature's rate and spans less
    /// than a factor 4; the estimate is within 4 SE.
    #[test]
    fn paper_noise_double_well_matches_the_quadrature_at_six_hundred_million() {
        let dir = tempfile::tempdir().unwrap();
        let s = run(&double_well(0.05, "paper", 200, 20), dir.path());
        let quadrature = s.predictions.quadrature.as_ref().unwrap();
        let (rate, exact) = (&s.escape.rate_per_time, quadrature.rate_per_time.unwrap());
        assert!(rate.ci_low < exact && exact < rate.ci_high, "{rate:?} against the quadrature's {exact:e}");
        assert!(rate.ci_high / rate.ci_low < 4.0, "{rate:?}");
        let t = quadrature.mean_time.unwrap();
        assert!(t > 5e8, "{t:e}");
        assert_within_4_se(&s, t);
        let ams = s.ams.as_ref().unwrap();
        assert_eq!((ams.extinctions, ams.runs, ams.particles), (0, 20, 200));
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
        assert!(!dir.path().join("ams.journal").exists() && dir.path().join("ams_runs.csv").exists());
    }

    /// Frozen noise (the linear-barrier theory's SDE) at a mean escape time of 2·10²².
    #[test]
    fn frozen_noise_double_well_matches_the_quadrature_at_ten_to_the_twenty_two() {
        let dir = tempfile::tempdir().unwrap();
        let s = run(&double_well(0.05, "frozen", 100, 20), dir.path());
        let t = s.predictions.quadrature.as_ref().unwrap().mean_time.unwrap();
        assert!(t > 1e22, "{t:e}");
        assert_within_4_se(&s, t);
    }

    /// (c) Where brute force is affordable (β = 5, c = 2, mean time 211), both agree within 4
    /// combined standard errors.
    #[test]
    fn ams_agrees_with_brute_force_where_both_are_affordable() {
        let base = paper_double_well(2, 1);
        let dir = tempfile::tempdir().unwrap();
        let brute = run(&format!("replicas = 4000\n{base}"), &dir.path().join("brute"));
        let ams = run(&format!("{base}[estimator]\nkind = \"ams\"\nparticles = 100\nruns = 40\n"), &dir.path().join("ams"));
        assert_agree(&ams, &brute);
    }

    /// The `path` coordinate (arc length along the minimum-energy path over the saddle) on the
    /// two-dimensional double well: within 4 combined SE of brute force, with ξ = 1 at the
    /// path's far end, 2 from θ* (the saddle search runs by default).
    #[test]
    fn path_coordinate_agrees_with_brute_force() {
        let base = paper_double_well(5, 2);
        let dir = tempfile::tempdir().unwrap();
        let brute = run(&format!("replicas = 4000\n{base}"), &dir.path().join("brute"));
        let ams = run(
            &format!("{base}[estimator]\nkind = \"ams\"\nparticles = 100\nruns = 40\nreaction_coordinate = \"path\"\n"),
            &dir.path().join("ams"),
        );
        let report = ams.ams.as_ref().unwrap();
        assert_eq!(report.reaction_coordinate_kind, "path");
        match &report.reaction_coordinate {
            sgd_escape::escape::ams::ReactionCoordinate::Path { to, length, .. } => {
                assert!((to - 2.0).abs() < 0.01 && to == length, "{to} {length}")
            }
            other => panic!("{other:?}"),
        }
        assert_agree(&ams, &brute);
    }

    /// (d) SGD itself (B = 1, with replacement) on 1-D linear regression, first passage to
    /// L > 2L*, against the exact mean exit time of the SGD chain.
    #[test]
    fn sgd_on_linear_regression_matches_the_exact_sgd_chain() {
        let text = "seed = 3\n[model]\nkind = \"linear-regression\"\ndim = 1\nsamples = 10000\n[dynamics]\nkind = \"sgd\"\nlr = 0.1\n\
                    [exit]\nkind = \"loss-above\"\nratio = 2.0\n[estimator]\nkind = \"ams\"\nparticles = 100\nruns = 100\n";
        let dir = tempfile::tempdir().unwrap();
        let s = run(text, dir.path());
        let chain = s.predictions.sgd_chain.as_ref().unwrap().mean_time.unwrap();
        assert_eq!(s.ams.as_ref().unwrap().reaction_coordinate_kind, "log-loss");
        assert_within_4_se(&s, chain);
    }

    /// SGD's single samples can carry θ from below the departure surface Σ straight past the
    /// exit: such departures are at B already and count in p. Two-dimensional regression, c = 3
    /// (mean time ≈ 5800), with Σ at ξ = 0.6 so that about 4% of the departures jump straight
    /// into the exit: AMS within 4 combined SE of brute force.
    #[test]
    fn departures_that_jump_past_the_departure_surface_into_the_exit_count() {
        let base = "seed = 4\n[model]\nkind = \"linear-regression\"\ndim = 2\nsamples = 10000\ndata_seed = 1002\n\
                    [dynamics]\nkind = \"sgd\"\nlr = 0.1\n[exit]\nkind = \"loss-above\"\nratio = 3.0\n";
        let dir = tempfile::tempdir().unwrap();
        let brute = run(&format!("replicas = 1000\nmax_steps = 100_000_000\n{base}"), &dir.path().join("brute"));
        let ams = run(
            &format!("{base}[estimator]\nkind = \"ams\"\nparticles = 200\nruns = 200\nbasin = 0.1\ndeparture = 0.6\n"),
            &dir.path().join("ams"),
        );
        assert!(ams.ams.as_ref().unwrap().loops.reached_exit > 0, "no loop jumped into the exit: the case does not test it");
        assert_agree(&ams, &brute);
    }

    /// Resumable at the granularity of runs: a folder whose journal holds some finished runs
    /// runs only the others, and the summary is bit-identical; and the thread count never
    /// changes it.
    #[test]
    fn interrupted_splitting_resumes_bit_identically_for_any_thread_count() {
        let text = double_well(0.1, "paper", 50, 8);
        let dir = tempfile::tempdir().unwrap();
        let whole = dir.path().join("whole");
        let pool = |n| rayon::ThreadPoolBuilder::new().num_threads(n).build().unwrap();
        let reference = pool(1).install(|| run(&text, &whole));
        let json = |s: &Summary| serde_json::to_string(s).unwrap();
        let again = pool(3).install(|| run(&text, &dir.path().join("three")));
        assert_eq!(json(&reference), json(&again), "1 and 3 threads");
        // An interrupted run: the folder claimed, three runs journalled.
        let parts = dir.path().join("parts");
        let config = Config::from_toml(&text, Path::new("ams.toml")).unwrap();
        let prepared = sgd_escape::experiment::prepare(&config, Path::new(".")).unwrap();
        let fingerprint = sgd_escape::experiment::run::journal_fingerprint(&prepared.config, &[]);
        {
            use sgd_escape::report::folder::{Claim, Existing, OutputFolder};
            let claim = Claim {
                command: "run",
                config_fingerprint: sgd_escape::experiment::run::config_fingerprint(&prepared.config),
                inputs: &[],
                outputs: &[],
                existing: Existing::Refuse,
            };
            let _folder = OutputFolder::claim(&parts, claim).unwrap();
            let (journal, _) = sgd_escape::report::journal::Journal::<AmsRun>::open(&parts, fingerprint).unwrap();
            for r in &reference.ams.as_ref().unwrap().run_results[..3] {
                journal.record(r);
            }
            journal.check().unwrap();
        }
        let rerun = AtomicUsize::new(0);
        let on_run = |_: &AmsRun| {
            rerun.fetch_add(1, Ordering::Relaxed);
        };
        let options = RunOptions { on_ams_run: Some(&on_run), ..Default::default() };
        let resumed = run_in_dir(&config, Path::new("."), &parts, &options, &|_| {}).unwrap();
        assert_eq!(rerun.load(Ordering::Relaxed), 5, "only the missing runs run");
        assert_eq!(json(&reference), json(&resumed));
    }

    /// SGD on the curve model escapes by single large jumps, so the coordinate separates the
    /// particles poorly: the runs' p̂ are extremely skewed, and the summary says so.
    #[test]
    fn a_poor_reaction_coordinate_is_reported() {
        let text = "seed = 1\n[model]\nkind = \"curve\"\nnoise = 0.5\nsamples = 10000\n[dynamics]\nkind = \"sgd\"\nlr = 0.05\n\
                    sampling = \"without-replacement\"\n[exit]\nkind = \"coordinate\"\nthreshold = 0.935\n\
                    [estimator]\nkind = \"ams\"\nparticles = 100\nruns = 20\n";
        let dir = tempfile::tempdir().unwrap();
        let s = run(text, dir.path());
        let a = s.ams.as_ref().unwrap();
        assert!(
            a.relative_variance > 10.0 * a.idealised_relative_variance && a.median_probability < 0.01 * a.probability.estimate,
            "{a:?}"
        );
        assert!(s.warnings.iter().any(|w| w.contains("idealised") && w.contains("median")), "{:?}", s.warnings);
    }

    #[test]
    fn brute_force_settings_and_impossible_coordinates_are_refused_naming_the_key() {
        let err = |text: &str| {
            Config::from_toml(text, Path::new("a.toml"))
                .and_then(|c| sgd_escape::experiment::prepare(&c, Path::new(".")).map(|_| ()))
                .unwrap_err()
                .to_string()
        };
        let base = double_well(0.1, "paper", 50, 4);
        let e = err(&format!("replicas = 100\n{base}"));
        assert!(e.contains("`replicas`") && e.contains("estimator.particles"), "{e}");
        let e = err(&base.replace("[estimator]", "[estimator]\nreaction_coordinate = \"log-loss\"\nbasin = 0.3\ndeparture = 0.2"));
        assert!(e.contains("estimator.departure"), "{e}");
        let loss = base.replace("kind = \"coordinate\"\nthreshold = 1.0", "kind = \"loss-above\"\nratio = 2.0");
        let e = err(&loss.replace("[estimator]", "[estimator]\nreaction_coordinate = \"coordinate\""));
        assert!(e.contains("estimator.reaction_coordinate"), "{e}");
        let e = err(&base.replace("particles = 50", "particles = 50\nkill = 50"));
        assert!(e.contains("estimator.kill"), "{e}");
        // No saddle on linear regression: the path has nothing to follow.
        let e = err("[model]\nkind = \"linear-regression\"\ndim = 1\nsamples = 100\n[dynamics]\nkind = \"sgd\"\nlr = 0.1\n\
                     [exit]\nkind = \"loss-above\"\nratio = 2.0\n[estimator]\nkind = \"ams\"\nreaction_coordinate = \"path\"\n");
        assert!(e.contains("estimator.reaction_coordinate") && e.contains("saddle"), "{e}");
    }
}
