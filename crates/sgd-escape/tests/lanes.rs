//! The struct-of-arrays kernel for SGD on feature models (linear regression, the curve model)
//! gives outcomes bit-identical to the generic replica loop, for every exit kind, several
//! dimensions and batch sizes, with censoring and divergence; so does the SDE kernel on the
//! double well. Both give the same outcomes for any number of threads.

use sgd_escape::dynamics::{Sampling, Sgd};
use sgd_escape::escape::lanes::run_feature_model_sgd;
use sgd_escape::escape::{EnsembleSpec, Exit, Status, run_ensemble};
use sgd_escape::landscape::minimize;
use sgd_escape::model::{CurveMap, Dataset, FeatureModel, LinearMap, Model};

#[test]
fn lanes_are_bit_identical_to_the_generic_loop() {
    for (d, batch, lr) in [(1, 1, 0.1), (2, 3, 0.2), (5, 1, 0.05), (3, 7, 0.5)] {
        let model = FeatureModel::new(LinearMap { dim: d }, Dataset::gaussian(500, d, d as u64, |x, xi| 0.3 * x[0] + xi)).unwrap();
        let star = minimize(&model, &vec![0.0; d], Default::default()).unwrap().theta;
        let loss_star = model.loss(&star);
        let mut normal = vec![0.0; d];
        normal[d - 1] = 1.0;
        let mut point = star.clone();
        point[d - 1] += 0.2;
        let exits = [
            Exit::LossAbove { threshold: 1.3 * loss_star },
            Exit::Coordinate { axis: d - 1, threshold: star[d - 1] + 0.15 },
            Exit::Hyperplane { normal, offset: point[d - 1] },
            Exit::Never,
        ];
        for exit in exits {
            // 203 replicas: not a multiple of the lane count or the task size.
            let spec = EnsembleSpec { seed: 9, replicas: 203, max_steps: 3000 };
            let sgd = Sgd::new(&model, lr, batch, Sampling::WithReplacement).unwrap();
            let generic = run_ensemble(&model, &sgd, &exit, &star, spec, Vec::new(), &|_| {});
            let lanes = run_feature_model_sgd(&model, lr, batch, &exit, &star, spec, Vec::new(), &|_| {}).unwrap();
            assert_eq!(generic, lanes, "d = {d}, B = {batch}, exit {exit:?}");
            if !matches!(exit, Exit::Never) {
                assert!(generic.iter().any(|o| o.status == Status::Escaped));
            }
        }
    }
}

/// The curve model (a nonlinear feature map, m = P + 1 features) through the same kernel: one
/// and three parameters, B = 1 and 4, every exit, from the left minimum.
#[test]
fn curve_lanes_are_bit_identical_to_the_generic_loop() {
    for (dim, batch, lr) in [(1, 1, 0.2), (1, 4, 0.3), (3, 1, 0.2), (3, 4, 0.25)] {
        let map = CurveMap { dim, s: 0.5, kappa: 1.0, stiffness: 1.0 };
        let data = Dataset::gaussian(400, dim + 1, 3, |_, xi| 0.5 * xi);
        let model = FeatureModel::new(map, data).unwrap();
        let mut point = vec![0.0; dim];
        point[0] = -1.0;
        let star = minimize(&model, &point, Default::default()).unwrap().theta;
        let mut normal = vec![0.0; dim];
        normal[0] = 1.0;
        let exits = [
            Exit::LossAbove { threshold: 1.5 * model.loss(&star) },
            Exit::Coordinate { axis: 0, threshold: 0.0 },
            Exit::Hyperplane { normal, offset: -0.2 },
            Exit::Never,
        ];
        for exit in exits {
            let spec = EnsembleSpec { seed: 4, replicas: 203, max_steps: 3000 };
            let sgd = Sgd::new(&model, lr, batch, Sampling::WithReplacement).unwrap();
            let generic = run_ensemble(&model, &sgd, &exit, &star, spec, Vec::new(), &|_| {});
            let lanes = run_feature_model_sgd(&model, lr, batch, &exit, &star, spec, Vec::new(), &|_| {}).unwrap();
            assert_eq!(bits(&generic), bits(&lanes), "dim = {dim}, B = {batch}, exit {exit:?}");
            if !matches!(exit, Exit::Never) {
                assert!(generic.iter().any(|o| o.status == Status::Escaped), "dim = {dim}, B = {batch}, exit {exit:?}");
            }
        }
    }
}

#[test]
fn lanes_report_divergence_and_resume() {
    let model = FeatureModel::new(LinearMap { dim: 2 }, Dataset::gaussian(100, 2, 1, |_, xi| xi)).unwrap();
    let spec = EnsembleSpec { seed: 2, replicas: 30, max_steps: 100_000 };
    let sgd = Sgd::new(&model, 4.0, 1, Sampling::WithReplacement).unwrap();
    let generic = run_ensemble(&model, &sgd, &Exit::Never, &[0.0, 0.0], spec, Vec::new(), &|_| {});
    assert!(generic.iter().all(|o| o.status == Status::Diverged));
    // Resumption: the first 11 replicas are given as completed and not rerun.
    let completed: Vec<_> = generic[..11].to_vec();
    let count = std::sync::atomic::AtomicUsize::new(0);
    let lanes = run_feature_model_sgd(&model, 4.0, 1, &Exit::Never, &[0.0, 0.0], spec, completed, &|_| {
        count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    })
    .unwrap();
    assert_eq!(count.into_inner(), 19);
    // NaN ≠ NaN: compare the parts that are numbers.
    for (g, l) in generic.iter().zip(&lanes) {
        assert_eq!((g.replica, g.steps, g.status), (l.replica, l.steps, l.status));
        assert_eq!(
            g.final_theta.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            l.final_theta.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
    }
}

/// The SDE lane kernel on the double well gives outcomes bit-identical to the generic loop, for
/// the paper's, the frozen and the isotropic noise, Euler–Maruyama and adaptive steps, with and
/// without the bridge, every exit kind, several dimensions, batch sizes that are and are not
/// powers of two, censoring and divergence.
#[test]
fn sde_lanes_are_bit_identical_to_the_generic_loop() {
    use sgd_escape::dynamics::{HessianRoot, Noise, Sde, Solver};
    use sgd_escape::escape::sde_lanes::{DoubleWellSde, run_double_well_sde};
    use sgd_escape::model::DoubleWell;
    // The dimensions in which some exit was detected between steps (one dimension runs the
    // kernel's rounds with held lanes, more the step-by-step passes).
    let mut escaped_by_bridge = Vec::new();
    for p in [1, 3] {
        let model = DoubleWell { epsilon: 0.2, dim: p, stiffness: 1.5 };
        let mut sqrt_hessian = vec![0.0; p * p];
        sqrt_hessian[0] = 2f64.sqrt();
        for i in 1..p {
            sqrt_hessian[i * p + i] = 1.5f64.sqrt();
        }
        // A non-diagonal H*^{1/2} exercises the full matrix product.
        if p > 1 {
            sqrt_hessian[1] = 0.3;
            sqrt_hessian[p] = 0.3;
        }
        let start: Vec<f64> = (0..p).map(|i| if i == 0 { -1.0 } else { 0.0 }).collect();
        let mut normal = vec![0.2; p];
        normal[0] = 1.0;
        let noises = [
            Noise::Paper { lr: 0.25, batch_size: 1, sqrt_hessian: HessianRoot::Dense(sqrt_hessian.clone()) },
            Noise::Frozen { lr: 0.5, batch_size: 2, sqrt_hessian: HessianRoot::Dense(sqrt_hessian.clone()), loss_at_minimum: 0.2 },
            // B = 3 is not a power of two: the kernel divides by B instead of multiplying by 1/B.
            Noise::Paper { lr: 0.25, batch_size: 3, sqrt_hessian: HessianRoot::Dense(sqrt_hessian.clone()) },
            Noise::Isotropic { temperature: 0.15 },
        ];
        let exits = [
            Exit::Coordinate { axis: 0, threshold: 0.5 },
            Exit::LossAbove { threshold: 0.4 },
            Exit::Hyperplane { normal: normal.clone(), offset: 0.3 },
            Exit::Never,
        ];
        let solvers = [Solver::EulerMaruyama, Solver::Adaptive { tolerance: 0.1, length: 1.5, origin: start.clone() }];
        for noise in &noises {
            for exit in &exits {
                for solver in &solvers {
                    for bridge in [false, true] {
                        for dt in [0.05, 0.9] {
                            let Some(kernel) = DoubleWellSde::new(&model, dt, noise, solver, bridge, exit) else {
                                assert!(bridge && matches!(exit, Exit::LossAbove { .. } | Exit::Hyperplane { .. }));
                                continue;
                            };
                            // 203 replicas: not a multiple of the lane count or the task size.
                            let spec = EnsembleSpec { seed: 5, replicas: 203, max_steps: 2000 };
                            let sde = Sde::new(&model, dt, noise.clone(), None).unwrap().with_solver(solver.clone()).with_bridge(bridge);
                            let generic = run_ensemble(&model, &sde, exit, &start, spec, Vec::new(), &|_| {});
                            let lanes = run_double_well_sde(&kernel, exit, &start, spec, Vec::new(), &|_| {});
                            assert_eq!(bits(&generic), bits(&lanes), "P = {p}, {noise:?}, {exit:?}, {solver:?}, bridge {bridge}, dt {dt}");
                            if bridge
                                && matches!(exit, Exit::Coordinate { .. })
                                && generic.iter().any(|o| o.status == Status::Escaped && o.final_theta[0] < 0.5)
                            {
                                escaped_by_bridge.push(p);
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(
        escaped_by_bridge.contains(&1) && escaped_by_bridge.contains(&3),
        "exits detected between steps in P = 1 and 3: {escaped_by_bridge:?}"
    );
}

/// Large steps make the explicit scheme blow up: divergence is reported identically.
#[test]
fn sde_lanes_report_divergence_like_the_generic_loop() {
    use sgd_escape::dynamics::{Noise, Sde, Solver};
    use sgd_escape::escape::sde_lanes::{DoubleWellSde, run_double_well_sde};
    use sgd_escape::model::DoubleWell;
    let model = DoubleWell { epsilon: 0.1, dim: 1, stiffness: 1.0 };
    let noise = Noise::Isotropic { temperature: 3.0 };
    let exit = Exit::Coordinate { axis: 0, threshold: 1e300 };
    let kernel = DoubleWellSde::new(&model, 1.5, &noise, &Solver::EulerMaruyama, false, &exit).unwrap();
    let spec = EnsembleSpec { seed: 2, replicas: 40, max_steps: 10_000 };
    let sde = Sde::new(&model, 1.5, noise.clone(), None).unwrap();
    let generic = run_ensemble(&model, &sde, &exit, &[-1.0], spec, Vec::new(), &|_| {});
    let lanes = run_double_well_sde(&kernel, &exit, &[-1.0], spec, Vec::new(), &|_| {});
    assert_eq!(bits(&generic), bits(&lanes));
    assert!(generic.iter().any(|o| o.status == Status::Diverged));
}

/// Outcomes with every number as its bit pattern (diverged replicas end at NaN, which `==`
/// never matches).
fn bits(outcomes: &[sgd_escape::escape::ReplicaOutcome]) -> Vec<(usize, u64, u64, Status, Vec<u64>)> {
    outcomes.iter().map(|o| (o.replica, o.steps, o.time.to_bits(), o.status, o.final_theta.iter().map(|t| t.to_bits()).collect())).collect()
}

/// Each run names the loop that steps its replicas, in `summary.json`: the lane kernels where
/// they apply (feature-model SGD with i.i.d. batches, SGD on networks with tiny products,
/// double-well SDEs, exit every step), the per-replica loop otherwise (larger networks or
/// batches, `check_every > 1`, sampling without replacement).
#[test]
fn every_run_names_its_replica_loop() {
    use sgd_escape::experiment::Config;
    use sgd_escape::experiment::run::run_in_memory;
    use sgd_escape::experiment::simulate::EnsembleLoop;
    use std::path::Path;
    let linear = |extra: &str, exit: &str| {
        format!(
            "seed = 1\nreplicas = 20\nmax_steps = 2000\n[model]\nkind = \"linear-regression\"\ndim = 2\nsamples = 200\n[dynamics]\nkind = \"sgd\"\nlr = 0.1\n{extra}\n[exit]\nkind = \"loss-above\"\nratio = 1.5\n{exit}\n"
        )
    };
    let double_well = "replicas = 20\nmax_steps = 2000\n[model]\nkind = \"double-well\"\n[dynamics]\nkind = \"sde\"\ndt = 0.01\nsolver = \"euler-maruyama\"\n[dynamics.noise]\nkind = \"paper\"\nlr = 0.1\n[exit]\nkind = \"coordinate\"\naxis = 0\nthreshold = 0.0\n";
    let curve = "replicas = 20\nmax_steps = 2000\n[model]\nkind = \"curve\"\nsamples = 300\n[dynamics]\nkind = \"sgd\"\nlr = 0.2\n[exit]\nkind = \"coordinate\"\naxis = 0\nthreshold = 0.0\n";
    let mlp = "replicas = 4\nmax_steps = 50\n[model]\nkind = \"mlp\"\nhidden = [4]\n[data]\nsource = \"wine\"\nstandardize = true\n[dynamics]\nkind = \"sgd\"\nlr = 0.01\n[exit]\nkind = \"loss-above\"\nratio = 1.5\n";
    let cases = [
        (linear("", ""), EnsembleLoop::FeatureModelLanes),
        (linear("", "check_every = 10"), EnsembleLoop::PerReplica { check_every: 10 }),
        (linear("sampling = \"without-replacement\"", ""), EnsembleLoop::PerReplica { check_every: 1 }),
        (double_well.to_string(), EnsembleLoop::DoubleWellSdeLanes),
        (curve.to_string(), EnsembleLoop::FeatureModelLanes),
        (mlp.to_string(), EnsembleLoop::NetworkLanes),
        // B = 2: 2 · 13 · 4 = 104 multiply-adds in the first layer, above the lane kernel's 64.
        (mlp.replace("lr = 0.01", "lr = 0.01\nbatch_size = 2"), EnsembleLoop::PerReplica { check_every: 1 }),
    ];
    for (text, expected) in cases {
        let config = Config::from_toml(&text, Path::new("t.toml")).unwrap();
        let prepared = sgd_escape::experiment::prepare(&config, Path::new(".")).unwrap();
        assert_eq!(EnsembleLoop::of(&prepared), expected, "{text}");
        let (summary, _) = run_in_memory(&config, Path::new("."), None, &|_| {}).unwrap();
        assert_eq!(summary.ensemble_loop, expected.describe());
    }
    assert!(EnsembleLoop::PerReplica { check_every: 10 }.describe().contains("every 10 steps"));
}

/// The lane kernels hand replicas to the lanes of every worker from one queue, so which lane
/// and thread runs a replica depends on timing; the outcomes must not. 1, 2, 3 and 8 threads, and
/// fewer replicas than one group of lanes.
#[test]
fn lane_kernels_give_the_same_outcomes_for_any_thread_count() {
    use sgd_escape::dynamics::{HessianRoot, Noise, Solver};
    use sgd_escape::escape::sde_lanes::{DoubleWellSde, run_double_well_sde};
    use sgd_escape::model::DoubleWell;
    let model = FeatureModel::new(LinearMap { dim: 1 }, Dataset::gaussian(300, 1, 4, |_, xi| xi)).unwrap();
    let star = minimize(&model, &[0.0], Default::default()).unwrap().theta;
    let exit = Exit::LossAbove { threshold: 1.5 * model.loss(&star) };
    let well = DoubleWell { epsilon: 0.25, dim: 1, stiffness: 1.0 };
    let noise = Noise::Paper { lr: 0.1, batch_size: 1, sqrt_hessian: HessianRoot::Dense(vec![2f64.sqrt()]) };
    let well_exit = Exit::Coordinate { axis: 0, threshold: 0.0 };
    let kernel = DoubleWellSde::new(&well, 0.05, &noise, &Solver::EulerMaruyama, false, &well_exit).unwrap();
    for replicas in [37, 1000] {
        let spec = EnsembleSpec { seed: 13, replicas, max_steps: 100_000 };
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(|| {
                let sgd = run_feature_model_sgd(&model, 0.1, 1, &exit, &star, spec, Vec::new(), &|_| {}).unwrap();
                let sde = run_double_well_sde(&kernel, &well_exit, &[-1.0], spec, Vec::new(), &|_| {});
                (sgd, bits(&sde))
            })
        };
        let one = run(1);
        assert_eq!(one.0.len(), replicas);
        assert!(one.0.iter().all(|o| o.status == Status::Escaped), "every SGD replica escapes");
        for threads in [2, 3, 8] {
            assert_eq!(run(threads), one, "{threads} threads, {replicas} replicas");
        }
    }
}
