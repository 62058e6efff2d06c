//! The replica bookkeeping that the SGD lane kernels ([`super::lanes`] for feature models,
//! [`super::mlp_lanes`] for networks) share: loading a pending replica into a lane, stepping
//! until some lane has an event, classifying and reporting the finished replicas, and refilling
//! their lanes from the queue.

use super::ensemble::{ReplicaQueue, final_status, step_until_exit};
use super::{EnsembleSpec, Exit, ReplicaOutcome};
use crate::dynamics::rng::{ReplicaRng, replica_rng};
use crate::dynamics::{Sgd, Stepper};
use crate::model::MinibatchGradient;

/// Which replica each of `N` lanes runs, its stream and its step count.
pub(crate) struct LaneReplicas<const N: usize> {
    /// xoshiro256++ states `s[k][l]`.
    pub s: [[u64; N]; 4],
    pub steps: [u64; N],
    pub replica: [usize; N],
    pub active: [bool; N],
}

impl<const N: usize> LaneReplicas<N> {
    pub(crate) fn new() -> Self {
        LaneReplicas { s: [[0; N]; 4], steps: [0; N], replica: [0; N], active: [false; N] }
    }
}

/// A kernel's lanes, as the driver [`run_sgd_lanes`] sees them.
pub(crate) trait SgdLanes<const N: usize> {
    /// The replicas in the lanes.
    fn replicas(&mut self) -> &mut LaneReplicas<N>;
    /// Sets lane `l`'s θ to `theta`.
    fn set_theta(&mut self, l: usize, theta: &[f64]);
    /// Copies lane `l`'s θ into `theta`.
    fn theta(&self, l: usize, theta: &mut [f64]);
    /// Steps every lane until one has an event (exit, divergence, `max_steps`), or one step
    /// when `single_step`; the lanes with an event as a bit mask.
    fn advance(&mut self, single_step: bool) -> u64;
}

/// When no replica is left to load and at most `N / HAND_BACK` lanes are still running, their
/// replicas are finished one at a time by the scalar loop ([`step_until_exit`] with the
/// kernel's [`Sgd`], from each lane's θ, stream and step count). A lane group costs the same with 1
/// or `N` lanes running; the network kernel's full group ran 3.7× the scalar loop's
/// replica-steps per second (bench/README.md, W5), so below about `N / 4` running lanes the
/// scalar loop is the faster.
const HAND_BACK: usize = 4;

/// Runs the replicas of `queue` in `lanes`, a kernel for `sgd` on `model`, to their ends: each
/// lane is loaded with a replica (its stream `(seed, replica)`, θ = `start`), stepped, and when
/// it has an event classified by [`final_status`] with time η·steps, reported to `on_done` and
/// refilled. Where the kernel
/// does not check `exit` itself (`exit_in_kernel` false) it is checked here lane by lane after
/// every step. The last few replicas are finished by the scalar loop ([`HAND_BACK`]), with the
/// same outcomes.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_sgd_lanes<M: MinibatchGradient + ?Sized, L: SgdLanes<N>, const N: usize>(
    lanes: &mut L,
    model: &M,
    sgd: &Sgd<M>,
    exit: &Exit,
    exit_in_kernel: bool,
    start: &[f64],
    spec: EnsembleSpec,
    queue: &ReplicaQueue,
    on_done: &(dyn Fn(&ReplicaOutcome) + Sync),
) -> Vec<ReplicaOutcome> {
    let load = |lanes: &mut L, l: usize, replica: usize| {
        let state = replica_rng(spec.seed, replica as u64).state();
        lanes.set_theta(l, start);
        let r = lanes.replicas();
        for (words, word) in r.s.iter_mut().zip(state) {
            words[l] = word;
        }
        r.steps[l] = 0;
        r.replica[l] = replica;
        r.active[l] = true;
    };
    // Whether the queue has run dry (no replica left, or a stop requested).
    let mut drained = false;
    for l in 0..N {
        match queue.pop() {
            Some(replica) => load(lanes, l, replica),
            None => drained = true,
        }
    }
    let mut outcomes = Vec::new();
    let mut theta_l = vec![0.0; start.len()];
    let report = |outcomes: &mut Vec<ReplicaOutcome>, replica: usize, steps: u64, theta: &[f64]| {
        let time = sgd.lr() * steps as f64;
        let status = final_status(model, exit, theta, time, false);
        let outcome = ReplicaOutcome { replica, steps, time, status, final_theta: theta.to_vec() };
        on_done(&outcome);
        outcomes.push(outcome);
    };
    while lanes.replicas().active.iter().any(|&a| a) {
        let running = lanes.replicas().active.iter().filter(|&&a| a).count();
        if drained && running <= N / HAND_BACK {
            let mut ws = sgd.workspace();
            for l in 0..N {
                let r = lanes.replicas();
                if !r.active[l] {
                    continue;
                }
                r.active[l] = false;
                let (replica, steps, mut rng) = (r.replica[l], r.steps[l], ReplicaRng::from_state(r.s.map(|words| words[l])));
                lanes.theta(l, &mut theta_l);
                let (steps, _) = step_until_exit(model, sgd, exit, &mut theta_l, &mut ws, &mut rng, steps, 0.0, spec.max_steps);
                report(&mut outcomes, replica, steps, &theta_l);
            }
            break;
        }
        let mut mask = lanes.advance(!exit_in_kernel);
        if !exit_in_kernel {
            for l in 0..N {
                if !lanes.replicas().active[l] {
                    continue;
                }
                lanes.theta(l, &mut theta_l);
                if exit.reached(model, &theta_l) {
                    mask |= 1 << l;
                }
            }
        }
        for l in 0..N {
            if mask & (1 << l) == 0 || !lanes.replicas().active[l] {
                continue;
            }
            lanes.theta(l, &mut theta_l);
            let (replica, steps) = (lanes.replicas().replica[l], lanes.replicas().steps[l]);
            report(&mut outcomes, replica, steps, &theta_l);
            lanes.replicas().active[l] = false;
            match queue.pop() {
                Some(replica) => load(lanes, l, replica),
                None => drained = true,
            }
        }
    }
    outcomes
}

/// The lanes flagged in `hit` as a bit mask (lane l at bit l), the form a kernel's step returns.
#[inline(always)]
pub(crate) fn event_mask<const N: usize>(hit: &[bool; N]) -> u64 {
    let mut mask = 0u64;
    for (l, h) in hit.iter().enumerate() {
        mask |= (*h as u64) << l;
    }
    mask
}
