"""Peer for bench/src/w2.rs (workload W2), in JAX.

The 1-D double well L = eps + (theta^2 - 1)^2 / 4 with the paper's noise Sigma = 2 L H*/B
(h* = 2): Euler-Maruyama theta <- theta - L'(theta) dt + sqrt(2 eta L(theta) h* dt / B) z, with
beta = B/(eta h*) = 5 and c = L(saddle)/L* = 2 (eps = 1/4, eta = 0.1, B = 1), dt = 0.01, every
replica from theta* = -1 until theta >= 1, exits checked at the steps. All replicas advance
together in one jitted while-loop (a vector of parameters and an "exited" mask), the usual way
to batch replicas in JAX; the loop runs until the last replica exits.

Reports, as JSON, the medians of bench/jax_peer.py (wall, useful and gross throughput, mean exit time).

python3 -m pip install "jax[cpu]"; python3 bench/w2_jax.py --replicas 100000 --repeats 3
"""
import argparse

import jax
import jax.numpy as jnp

from jax_peer import report

jax.config.update("jax_enable_x64", True)

parser = argparse.ArgumentParser()
parser.add_argument("--replicas", type=int, default=100_000)
parser.add_argument("--dt", type=float, default=0.01)
parser.add_argument("--repeats", type=int, default=3)
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()

R, dt = args.replicas, args.dt
eps, lr, batch, h_star = 0.25, 0.1, 1.0, 2.0
scale = 2.0 * lr * h_star * dt / batch


@jax.jit
def first_passage(key):
    """Steps to exit for every replica, and the number of loop iterations."""

    def running(state):
        return ~jnp.all(state[1])

    def step(state):
        theta, exited, steps, iteration, key = state
        key, draw = jax.random.split(key)
        z = jax.random.normal(draw, (R,))
        u = theta * theta - 1.0
        loss = eps + 0.25 * u * u
        moved = theta - dt * theta * u + jnp.sqrt(scale * loss) * z
        theta = jnp.where(exited, theta, moved)
        leaving = jnp.logical_and(~exited, theta >= 1.0)
        steps = jnp.where(leaving, iteration + 1, steps)
        return theta, jnp.logical_or(exited, leaving), steps, iteration + 1, key

    start = (jnp.full((R,), -1.0), jnp.zeros((R,), bool), jnp.zeros((R,), jnp.int64), jnp.int64(0), key)
    _, _, steps, iterations, _ = jax.lax.while_loop(running, step, start)
    return steps, iterations


report(first_passage, R, args.repeats, args.seed, dt, dt=dt)
