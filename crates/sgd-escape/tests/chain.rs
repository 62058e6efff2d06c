//! The exact chains of docs/theory.md eq. 22 against brute-force simulation of the same
//! discrete dynamics (within 4 standard errors): SGD itself on linear regression and on the
//! curve model, and the Euler–Maruyama scheme of the exact-noise and the paper-noise SDE. As
//! dt → 0 the Euler–Maruyama chain tends to the continuous-time quadrature.

use sgd_escape::experiment::simulate::simulate;
use sgd_escape::experiment::{Config, prepare};
use sgd_escape::stats::EscapeStatistics;
use std::path::Path;

/// The prepared run's exact chain prediction (`sgd_chain` or `euler_maruyama_chain`) and the
/// simulated mean escape time with its standard error.
fn chain_and_simulation(text: &str) -> (f64, (f64, f64)) {
    let prepared = prepare(&Config::from_toml(text, Path::new("chain.toml")).unwrap(), Path::new(".")).unwrap();
    let p = &prepared.landscape.predictions;
    let chain = p.sgd_chain.as_ref().or(p.euler_maruyama_chain.as_ref()).expect("a one-parameter run has an exact chain");
    assert_eq!(chain.valid, Some(true), "the grid converged: {chain:?}");
    let outcomes = simulate(&prepared, Vec::new(), &|_| {}).unwrap();
    let stats = EscapeStatistics::from_outcomes(&outcomes);
    assert_eq!(stats.censored + stats.diverged, 0, "every replica escaped");
    (chain.mean_time.unwrap(), (stats.mean_time, stats.mean_time_stderr))
}

fn assert_within_4_se(what: &str, exact: f64, (mean, se): (f64, f64)) {
    println!("{what}: exact chain {exact:.4}, simulated {mean:.4} ± {se:.4}");
    assert!((mean - exact).abs() < 4.0 * se, "{what}: simulated {mean} ± {se} against the exact chain {exact}");
}

#[test]
fn sgd_chain_matches_sgd_on_linear_regression() {
    // Paper Fig. 3b's setting: N = 10⁴, B = 1, η = 0.1, exit at L > 1.5 L*.
    let text = "seed = 3\nreplicas = 4000\nmax_steps = 100000000\n[model]\nkind = \"linear-regression\"\nsamples = 10000\ndata_seed = 11\n\
                [dynamics]\nkind = \"sgd\"\nlr = 0.1\n[exit]\nkind = \"loss-above\"\nratio = 1.5\n";
    let (exact, simulated) = chain_and_simulation(text);
    assert_within_4_se("linear regression, c = 1.5", exact, simulated);
}

#[test]
fn sgd_chain_matches_sgd_over_the_curve_barrier() {
    let text = "seed = 4\nreplicas = 2000\nmax_steps = 100000000\n[model]\nkind = \"curve\"\nnoise = 0.5\nsamples = 20000\ndata_seed = 2\n\
                [dynamics]\nkind = \"sgd\"\nlr = 0.1\n[start]\npoint = [-1.0]\n[exit]\nkind = \"coordinate\"\nthreshold = 0.9\n";
    let (exact, simulated) = chain_and_simulation(text);
    assert_within_4_se("curve model, SGD", exact, simulated);
}

#[test]
fn euler_maruyama_chain_matches_the_exact_noise_sde() {
    let text = "seed = 5\nreplicas = 2000\nmax_steps = 100000000\n[model]\nkind = \"curve\"\nnoise = 0.5\nsamples = 20000\ndata_seed = 2\n\
                [dynamics]\nkind = \"sde\"\ndt = 0.1\n[dynamics.noise]\nkind = \"exact\"\nlr = 0.1\n[dynamics.solver]\nkind = \"euler-maruyama\"\n[start]\npoint = [-1.0]\n\
                [exit]\nkind = \"coordinate\"\nthreshold = 0.9\n";
    let (exact, simulated) = chain_and_simulation(text);
    assert_within_4_se("curve model, exact-noise Euler–Maruyama at dt = η", exact, simulated);
}

#[test]
fn euler_maruyama_chain_matches_the_paper_noise_sde_and_tends_to_the_quadrature() {
    let text = |dt: f64, replicas: usize| {
        format!(
            "seed = 6\nreplicas = {replicas}\nmax_steps = 100000000\n[model]\nkind = \"double-well\"\nepsilon = 0.25\n\
             [dynamics]\nkind = \"sde\"\ndt = {dt}\n[dynamics.noise]\nkind = \"paper\"\nlr = 0.1\n[dynamics.solver]\nkind = \"euler-maruyama\"\n[exit]\nkind = \"coordinate\"\nthreshold = 1.0\n"
        )
    };
    let (exact, simulated) = chain_and_simulation(&text(0.1, 1500));
    assert_within_4_se("double well, paper noise, dt = 0.1", exact, simulated);
    // The scheme's error against the continuous-time quadrature shrinks as dt halves.
    let mut previous = f64::INFINITY;
    for dt in [0.2, 0.1, 0.05, 0.025] {
        let prepared = prepare(&Config::from_toml(&text(dt, 1), Path::new("chain.toml")).unwrap(), Path::new(".")).unwrap();
        let p = &prepared.landscape.predictions;
        let (chain, quadrature) =
            (p.euler_maruyama_chain.as_ref().unwrap().mean_time.unwrap(), p.quadrature.as_ref().unwrap().mean_time.unwrap());
        let error = (chain / quadrature - 1.0).abs();
        println!("dt = {dt}: chain {chain:.4}, quadrature {quadrature:.4}, relative error {error:.2e}");
        assert!(error < previous, "dt = {dt}: the error {error} did not shrink");
        previous = error;
    }
}
