//! Stationary sampling: replicas that run without an exit and record a function of θ at
//! regular intervals after a burn-in (paper Fig. 3a samples θ every 100 steps).

use crate::dynamics::Stepper;
use crate::dynamics::rng::replica_rng;
use crate::linalg::all_finite;
use rayon::prelude::*;

/// What to sample: `replicas` independent runs; each takes `burn_in` steps, then records
/// `samples` values, one every `every` steps.
#[derive(Clone, Copy, Debug)]
pub struct StationarySpec {
    /// Run seed; replica i draws from the stream `(seed, i)`.
    pub seed: u64,
    /// Number of independent replicas.
    pub replicas: usize,
    /// Steps before the first record.
    pub burn_in: u64,
    /// Steps between records.
    pub every: u64,
    /// Records per replica.
    pub samples: usize,
}

/// Runs the replicas of `spec` from `start` in parallel and returns, per replica, its records
/// `record(θ)` in order, or `Err(step)` if θ stopped being finite at that step. Results do
/// not depend on the number of threads.
pub fn sample_stationary<S, T>(
    stepper: &S,
    start: &[f64],
    spec: StationarySpec,
    record: &(dyn Fn(&[f64]) -> T + Sync),
) -> Vec<Result<Vec<T>, u64>>
where
    S: Stepper,
    T: Send,
{
    (0..spec.replicas)
        .into_par_iter()
        .with_max_len(1)
        .map(|replica| {
            let mut rng = replica_rng(spec.seed, replica as u64);
            let mut ws = stepper.workspace();
            let mut theta = start.to_vec();
            let mut records = Vec::with_capacity(spec.samples);
            let mut step = 0u64;
            let mut advance = |count: u64, theta: &mut [f64]| -> Result<(), u64> {
                for _ in 0..count {
                    stepper.step(theta, &mut ws, &mut rng);
                    step += 1;
                }
                if all_finite(theta) { Ok(()) } else { Err(step) }
            };
            advance(spec.burn_in, &mut theta)?;
            for _ in 0..spec.samples {
                advance(spec.every, &mut theta)?;
                records.push(record(&theta));
            }
            Ok(records)
        })
        .collect()
}
