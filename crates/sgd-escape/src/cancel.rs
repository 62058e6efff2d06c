//! Cooperative cancellation of long computations, for embeddings such as the Python package,
//! whose Ctrl-C must stop a call within about a second.
//!
//! [`request`] raises a process-wide flag. The simulation loops check it before each replica
//! (the generic ensemble, the lane kernels, each AMS run and each departure chain) and start no
//! new work once it is raised; the replicas already running finish. The experiment stages then
//! return [`Error::Cancelled`] instead of a result built from part of the ensemble, so nothing
//! partial is ever summarised. Replicas finished before the request are journalled as usual,
//! so a cancelled `run` into a folder resumes where it stopped. The flag is process-wide, like
//! the signal it stands for: it stops every computation in the process until [`clear`].

use crate::error::{Error, Result};
use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Asks every running computation to stop.
pub fn request() {
    REQUESTED.store(true, Ordering::Relaxed);
}

/// Lowers the flag (before a new computation starts).
pub fn clear() {
    REQUESTED.store(false, Ordering::Relaxed);
}

/// Whether a stop has been requested.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::Relaxed)
}

/// [`Error::Cancelled`] when a stop has been requested.
pub fn check() -> Result<()> {
    if requested() { Err(Error::Cancelled) } else { Ok(()) }
}
