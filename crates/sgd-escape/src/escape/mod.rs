//! Escape runs: exit criteria ([`Exit`]) and replica ensembles ([`run_ensemble`]) that own the
//! loop, the RNG streams, censoring at `max_steps` and divergence detection.

mod ensemble;
mod exit;
pub mod lanes;

pub use ensemble::{EnsembleSpec, ReplicaOutcome, Status, run_ensemble, run_replica};
pub use exit::Exit;
