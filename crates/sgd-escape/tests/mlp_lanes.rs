//! The lane kernel for SGD on small networks gives outcomes bit-identical to the per-replica
//! loop: tanh and ReLU, one and two hidden layers, several outputs, with and without weight
//! decay, B = 1 to 3, every exit kind, censoring, divergence and resuming; the same outcomes for
//! any thread count; and it refuses the networks and batch sizes it does not apply to.

use sgd_escape::dynamics::{Sampling, Sgd};
use sgd_escape::escape::mlp_lanes::{applies, run_mlp_sgd};
use sgd_escape::escape::{EnsembleSpec, Exit, ReplicaOutcome, Status, run_ensemble};
use sgd_escape::model::{Activation, Dataset, Mlp, Model};

/// A network with `hidden` widths on 150 Gaussian samples of `features` inputs and `outputs`
/// targets, and its Glorot start.
fn network(features: usize, hidden: &[usize], outputs: usize, activation: Activation, weight_decay: f64) -> (Mlp, Vec<f64>) {
    let base = Dataset::gaussian(150, features, 3, |_, _| 0.0);
    let y: Vec<f64> = (0..150).flat_map(|mu| (0..outputs).map(move |k| ((mu * 7 + k * 3) % 5) as f64 / 5.0 - 0.4)).collect();
    let model = Mlp::new(hidden, activation, Dataset { features, outputs, x: base.x, y }).unwrap().with_weight_decay(weight_decay).unwrap();
    let start = model.glorot(1);
    (model, start)
}

/// Outcomes with every number as its bit pattern (diverged replicas end at NaN, which `==`
/// never matches).
fn bits(outcomes: &[ReplicaOutcome]) -> Vec<(usize, u64, u64, Status, Vec<u64>)> {
    outcomes.iter().map(|o| (o.replica, o.steps, o.time.to_bits(), o.status, o.final_theta.iter().map(|t| t.to_bits()).collect())).collect()
}

#[test]
fn network_lanes_are_bit_identical_to_the_per_replica_loop() {
    let cases = [
        // (inputs, hidden, outputs, activation, λ, B, η)
        (5, vec![3], 2, Activation::Tanh, 0.01, 1, 0.3),
        (5, vec![3], 2, Activation::Tanh, 0.0, 2, 0.5),
        (3, vec![4, 3], 2, Activation::Relu, 0.0, 3, 0.3),
        (3, vec![4, 3], 1, Activation::Tanh, 0.05, 1, 0.4),
    ];
    for (features, hidden, outputs, activation, decay, batch, lr) in cases {
        let (model, start) = network(features, &hidden, outputs, activation, decay);
        assert!(applies(&model, batch), "{hidden:?} at B = {batch}");
        let p = model.dim();
        let mut normal: Vec<f64> = (0..p).map(|i| ((i * 37 % 11) as f64 - 5.0) / 5.0).collect();
        normal[0] = 1.0;
        let offset = normal.iter().zip(&start).map(|(n, t)| n * t).sum::<f64>() + 0.3;
        let exits = [
            Exit::Hyperplane { normal, offset },
            Exit::Coordinate { axis: 0, threshold: start[0] + 0.05 },
            Exit::LossAbove { threshold: 1.1 * model.loss(&start) },
            Exit::Distance { center: start.clone(), radius: 0.8, metric: None },
            Exit::Never,
        ];
        for exit in exits {
            // 203 replicas: not a multiple of the lane count.
            let spec = EnsembleSpec { seed: 7, replicas: 203, max_steps: 1500 };
            let sgd = Sgd::new(&model, lr, batch, Sampling::WithReplacement).unwrap();
            let generic = run_ensemble(&model, &sgd, &exit, &start, spec, Vec::new(), &|_| {});
            let lanes = run_mlp_sgd(&model, lr, batch, &exit, &start, spec, Vec::new(), &|_| {}).unwrap();
            assert_eq!(bits(&generic), bits(&lanes), "{hidden:?}, {activation:?}, λ = {decay}, B = {batch}, {exit:?}");
            let escaped = generic.iter().filter(|o| o.status == Status::Escaped).count();
            if matches!(exit, Exit::Never) {
                assert!(generic.iter().all(|o| o.status == Status::Censored));
            } else {
                // Every exit kind is exercised (6 to 203 escapes of 203 across these cases).
                assert!(escaped >= 5, "{escaped} escapes: {hidden:?}, B = {batch}, {exit:?}");
            }
        }
    }
}

/// A learning rate far above 2/λmax: every replica diverges, reported at the same step; and a
/// run resumed from half of its outcomes completes the other half identically.
#[test]
fn network_lanes_report_divergence_and_resume() {
    let (model, start) = network(4, &[3], 2, Activation::Relu, 0.0);
    let spec = EnsembleSpec { seed: 3, replicas: 70, max_steps: 100_000 };
    let sgd = Sgd::new(&model, 8.0, 1, Sampling::WithReplacement).unwrap();
    let generic = run_ensemble(&model, &sgd, &Exit::Never, &start, spec, Vec::new(), &|_| {});
    let lanes = run_mlp_sgd(&model, 8.0, 1, &Exit::Never, &start, spec, Vec::new(), &|_| {}).unwrap();
    assert_eq!(bits(&generic), bits(&lanes));
    assert!(generic.iter().all(|o| o.status == Status::Diverged && o.steps < 100_000));
    let exit = Exit::Coordinate { axis: 1, threshold: start[1] + 0.2 };
    let spec = EnsembleSpec { seed: 3, replicas: 70, max_steps: 5000 };
    let full = run_mlp_sgd(&model, 0.3, 1, &exit, &start, spec, Vec::new(), &|_| {}).unwrap();
    let half: Vec<ReplicaOutcome> = full.iter().filter(|o| o.replica % 2 == 0).cloned().collect();
    let seen = std::sync::Mutex::new(Vec::new());
    let resumed = run_mlp_sgd(&model, 0.3, 1, &exit, &start, spec, half, &|o| seen.lock().unwrap().push(o.replica)).unwrap();
    assert_eq!(bits(&full), bits(&resumed));
    let mut seen = seen.into_inner().unwrap();
    seen.sort();
    assert_eq!(seen, (1..70).step_by(2).collect::<Vec<_>>(), "only the missing replicas run again");
}

/// Lanes are refilled from one queue shared by the workers, so which lane and thread runs a
/// replica depends on timing; the outcomes must not.
#[test]
fn network_lanes_give_the_same_outcomes_for_any_thread_count() {
    let (model, start) = network(5, &[3], 2, Activation::Tanh, 0.01);
    let exit = Exit::Coordinate { axis: 0, threshold: start[0] + 0.25 };
    for replicas in [37, 500] {
        let spec = EnsembleSpec { seed: 11, replicas, max_steps: 5000 };
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| bits(&run_mlp_sgd(&model, 0.3, 2, &exit, &start, spec, Vec::new(), &|_| {}).unwrap()))
        };
        let one = run(1);
        assert_eq!(one.len(), replicas);
        for threads in [2, 3, 8] {
            assert_eq!(run(threads), one, "{threads} threads, {replicas} replicas");
        }
    }
}

/// The kernel applies while every layer's B · in · out is at most 64 (the per-replica loop's
/// plain-loop products), and refuses other batch sizes and invalid inputs with the field named.
#[test]
fn network_lanes_apply_to_small_products_only() {
    let (model, start) = network(13, &[2], 3, Activation::Tanh, 0.01);
    assert!(applies(&model, 1) && applies(&model, 2), "13·2 = 26 multiply-adds a sample");
    assert!(!applies(&model, 3), "3·13·2 = 78 > 64");
    let spec = EnsembleSpec { seed: 1, replicas: 3, max_steps: 10 };
    let error = |lr: f64, batch: usize, start: &[f64]| {
        run_mlp_sgd(&model, lr, batch, &Exit::Never, start, spec, Vec::new(), &|_| {}).unwrap_err().to_string()
    };
    assert!(error(0.1, 3, &start).contains("batch_size"), "{}", error(0.1, 3, &start));
    assert!(error(-0.1, 1, &start).contains("lr"));
    assert!(error(0.1, 151, &start).contains("batch_size"));
    assert!(error(0.1, 1, &start[1..]).contains("start"));
}
