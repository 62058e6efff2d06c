//! The simulation stage: the replica ensemble of a prepared run, on the loop compiled for its
//! model and dynamics (the struct-of-arrays lane kernel where it applies).

use super::build::{BuiltModel, with_data_model, with_model};
use super::prepare::{Dynamics, Prepared};
use super::splitting::AmsPlan;
use crate::dynamics::{Sampling, Sde, Sgd};
use crate::error::{Error, Result};
use crate::escape::ams::{AmsRun, LoopStatistics, run_splitting};
use crate::escape::sde_lanes::{DoubleWellSde, run_double_well_sde};
use crate::escape::{EnsembleSpec, ReplicaOutcome, run_ensemble_checked};
use std::collections::BTreeMap;

/// The ensemble of a prepared run: replicas `0..replicas`, censored at `max_steps`.
pub fn ensemble_spec(prepared: &Prepared) -> EnsembleSpec {
    EnsembleSpec { seed: prepared.config.seed, replicas: prepared.config.replicas.get(), max_steps: prepared.config.max_steps.get() as u64 }
}

/// Runs the ensemble of a prepared run on the current rayon pool; replicas in `completed` are
/// not rerun. `on_done` sees each newly finished replica. Outcomes are sorted by replica.
/// [`Error::Cancelled`] when a stop was requested ([`crate::cancel`]) before every replica ran.
pub fn simulate(
    prepared: &Prepared,
    completed: Vec<ReplicaOutcome>,
    on_done: &(dyn Fn(&ReplicaOutcome) + Sync),
) -> Result<Vec<ReplicaOutcome>> {
    let outcomes = simulate_unchecked(prepared, completed, on_done);
    crate::cancel::check()?;
    outcomes
}

/// The loop that steps a prepared run's replicas. Every loop gives the same outcomes, bit for
/// bit, as [`EnsembleLoop::PerReplica`] with the same `check_every`; the lane kernels are only
/// faster.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnsembleLoop {
    /// [`crate::escape::lanes`]: SGD on a feature model (linear regression, curve) with i.i.d.
    /// minibatches, exit checked every step; 64 replicas stepped together.
    FeatureModelLanes,
    /// [`crate::escape::mlp_lanes`]: SGD on a network with i.i.d. minibatches whose every
    /// matrix product of a step is tiny (B · in · out ≤ 64 per layer), exit checked every step;
    /// 64 replicas stepped together.
    NetworkLanes,
    /// [`crate::escape::sde_lanes`]: SDEs on the double well, exit checked every step.
    DoubleWellSdeLanes,
    /// [`crate::escape::run_ensemble_checked`]: each worker thread steps one replica at a time
    /// from its start to its exit, on buffers allocated once per replica (a network's SGD step
    /// allocates nothing, tests/allocations.rs); the exit is checked every `check_every` steps.
    PerReplica {
        /// Steps between exit checks.
        check_every: u64,
    },
}

impl EnsembleLoop {
    /// The loop [`simulate`] uses for `prepared`.
    pub fn of(prepared: &Prepared) -> Self {
        let check_every = prepared.config.exit.check_every();
        match (&prepared.model, &prepared.dynamics) {
            (BuiltModel::LinearRegression(_) | BuiltModel::Curve(_), Dynamics::Sgd { sampling: Sampling::WithReplacement, .. })
                if check_every == 1 =>
            {
                EnsembleLoop::FeatureModelLanes
            }
            (BuiltModel::Mlp(m), Dynamics::Sgd { sampling: Sampling::WithReplacement, batch_size, .. })
                if check_every == 1 && crate::escape::mlp_lanes::applies(m, *batch_size) =>
            {
                EnsembleLoop::NetworkLanes
            }
            (BuiltModel::DoubleWell(m), Dynamics::Sde { dt, noise, solver, bridge })
                if check_every == 1 && DoubleWellSde::new(m, *dt, noise, solver, *bridge, &prepared.exit).is_some() =>
            {
                EnsembleLoop::DoubleWellSdeLanes
            }
            _ => EnsembleLoop::PerReplica { check_every },
        }
    }

    /// One line for the run log and `summary.json`.
    pub fn describe(&self) -> String {
        match self {
            EnsembleLoop::FeatureModelLanes => {
                format!("lane kernel (feature-model SGD, {} replicas stepped together)", crate::escape::lanes::LANES)
            }
            EnsembleLoop::NetworkLanes => {
                format!("lane kernel (small-network SGD, {} replicas stepped together)", crate::escape::mlp_lanes::LANES)
            }
            EnsembleLoop::DoubleWellSdeLanes => {
                format!("lane kernel (double-well SDE, {} replicas stepped together)", crate::escape::sde_lanes::LANES)
            }
            EnsembleLoop::PerReplica { check_every } => format!(
                "per-replica loop (one replica per worker thread at a time, buffers allocated once per replica, exit checked every {check_every} step{})",
                if *check_every == 1 { "" } else { "s" }
            ),
        }
    }
}

fn simulate_unchecked(
    prepared: &Prepared,
    completed: Vec<ReplicaOutcome>,
    on_done: &(dyn Fn(&ReplicaOutcome) + Sync),
) -> Result<Vec<ReplicaOutcome>> {
    let spec = ensemble_spec(prepared);
    let start = &prepared.start.theta;
    let exit = &prepared.exit;
    let chosen = EnsembleLoop::of(prepared);
    let check_every = prepared.config.exit.check_every();
    match (&prepared.model, &prepared.dynamics) {
        (BuiltModel::LinearRegression(m), Dynamics::Sgd { lr, batch_size, .. }) if chosen == EnsembleLoop::FeatureModelLanes => {
            return crate::escape::lanes::run_feature_model_sgd(m, *lr, *batch_size, exit, start, spec, completed, on_done);
        }
        (BuiltModel::Curve(m), Dynamics::Sgd { lr, batch_size, .. }) if chosen == EnsembleLoop::FeatureModelLanes => {
            return crate::escape::lanes::run_feature_model_sgd(m, *lr, *batch_size, exit, start, spec, completed, on_done);
        }
        (BuiltModel::Mlp(m), Dynamics::Sgd { lr, batch_size, .. }) if chosen == EnsembleLoop::NetworkLanes => {
            return crate::escape::mlp_lanes::run_mlp_sgd(m, *lr, *batch_size, exit, start, spec, completed, on_done);
        }
        (BuiltModel::DoubleWell(m), Dynamics::Sde { dt, noise, solver, bridge }) if chosen == EnsembleLoop::DoubleWellSdeLanes => {
            if let Some(sde) = DoubleWellSde::new(m, *dt, noise, solver, *bridge, exit) {
                return Ok(run_double_well_sde(&sde, exit, start, spec, completed, on_done));
            }
        }
        _ => {}
    }
    match &prepared.dynamics {
        Dynamics::Sgd { lr, batch_size, sampling } => with_data_model!(&prepared.model, m => {
            let sgd = Sgd::new(m, *lr, *batch_size, *sampling)?;
            Ok(run_ensemble_checked(m, &sgd, exit, start, spec, check_every, completed, on_done))
        }, analytic => Err(Error::invalid("dynamics.kind", "\"sgd\"", "SGD needs a data-built model"))),
        Dynamics::Sde { dt, noise, solver, bridge } => with_model!(&prepared.model, m => {
            let sde = Sde::new(m, *dt, noise.clone(), prepared.model.gradient_noise())?.with_solver(solver.clone()).with_bridge(*bridge);
            Ok(run_ensemble_checked(m, &sde, exit, start, spec, check_every, completed, on_done))
        }),
    }
}

/// The splitting estimator of a prepared run (`[estimator] kind = "ams"`): the brute-force
/// loops between the basin and Σ, then M AMS runs of N particles started from their
/// departures (run r takes departures rN … rN + N − 1), in parallel over runs. `on_run` sees
/// each newly finished run; runs in `completed` (from a journal) are not rerun. Deterministic
/// for any thread count. [`Error::Cancelled`] when a stop was requested ([`crate::cancel`]).
pub fn simulate_ams(
    prepared: &Prepared,
    plan: &AmsPlan,
    completed: &BTreeMap<u64, AmsRun>,
    on_run: &(dyn Fn(&AmsRun) + Sync),
) -> Result<(Vec<AmsRun>, LoopStatistics)> {
    let result = simulate_ams_unchecked(prepared, plan, completed, on_run);
    crate::cancel::check()?;
    result
}

fn simulate_ams_unchecked(
    prepared: &Prepared,
    plan: &AmsPlan,
    completed: &BTreeMap<u64, AmsRun>,
    on_run: &(dyn Fn(&AmsRun) + Sync),
) -> Result<(Vec<AmsRun>, LoopStatistics)> {
    let start = &prepared.start.theta;
    let exit = &prepared.exit;
    let splitting = |result: std::result::Result<(Vec<AmsRun>, LoopStatistics), String>| {
        result.map_err(|e| Error::invalid("estimator.kind", "\"ams\"", e))
    };
    match &prepared.dynamics {
        Dynamics::Sgd { lr, batch_size, sampling } => with_data_model!(&prepared.model, m => {
            splitting(run_splitting(m, &Sgd::new(m, *lr, *batch_size, *sampling)?, exit, plan, start, completed, on_run))
        }, analytic => Err(Error::invalid("dynamics.kind", "\"sgd\"", "SGD needs a data-built model"))),
        Dynamics::Sde { dt, noise, solver, bridge } => with_model!(&prepared.model, m => {
            let sde = Sde::new(m, *dt, noise.clone(), prepared.model.gradient_noise())?.with_solver(solver.clone()).with_bridge(*bridge);
            splitting(run_splitting(m, &sde, exit, plan, start, completed, on_run))
        }),
    }
}
