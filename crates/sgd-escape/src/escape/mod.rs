//! Escape runs: exit criteria ([`Exit`]) and replica ensembles ([`run_ensemble`]) that own the
//! loop, the RNG streams, censoring at `max_steps` and divergence detection; and stationary
//! sampling without an exit ([`sample_stationary`]).

pub mod ams;
mod ensemble;
mod exit;
mod lane_group;
pub mod lanes;
pub mod mlp_lanes;
pub mod sde_lanes;
mod stationary;

pub use ensemble::{EnsembleSpec, ReplicaOutcome, Status, run_ensemble, run_ensemble_checked, run_replica, run_replica_checked};
pub use exit::{Exit, quench};
pub use stationary::{StationarySpec, sample_stationary};
