//! The struct-of-arrays kernel for SGD on linear regression gives outcomes bit-identical to the
//! generic replica loop, for every exit kind, several dimensions and batch sizes, with
//! censoring and divergence.

use sgd_escape::dynamics::{Sampling, Sgd};
use sgd_escape::escape::lanes::run_linear_regression_sgd;
use sgd_escape::escape::{EnsembleSpec, Exit, Status, run_ensemble};
use sgd_escape::landscape::minimize;
use sgd_escape::model::{Dataset, FeatureModel, LinearMap, Model};

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
            let lanes = run_linear_regression_sgd(&model, lr, batch, &exit, &star, spec, Vec::new(), &|_| {}).unwrap();
            assert_eq!(generic, lanes, "d = {d}, B = {batch}, exit {exit:?}");
            if !matches!(exit, Exit::Never) {
                assert!(generic.iter().any(|o| o.status == Status::Escaped));
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
    let lanes = run_linear_regression_sgd(&model, 4.0, 1, &Exit::Never, &[0.0, 0.0], spec, completed, &|_| {
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
