"""Peer for bench/src/w1.rs (workload W1, the paper's Fig. 3b setting), in JAX.

One-dimensional linear regression on N Gaussian samples (x, y i.i.d. N(0, 1)), SGD with batch
size 1 and indices drawn with replacement, learning rate eta; every replica starts at the
minimum and stops the first time L(theta) > ratio * L(theta*), i.e. (theta - theta*)^2 > r2.
All replicas advance together in one jitted while-loop (a vector of parameters and an "exited"
mask), the usual way to batch replicas in JAX; the loop runs until the last replica exits.

Reports, as JSON, the medians of bench/jax_peer.py (wall, useful and gross throughput, mean exit time).

python3 -m pip install "jax[cpu]"; python3 bench/w1_jax.py --ratio 1.5 --repeats 5
"""
import argparse

import jax
import jax.numpy as jnp
import numpy as np

from jax_peer import report

jax.config.update("jax_enable_x64", True)

parser = argparse.ArgumentParser()
parser.add_argument("--ratio", type=float, default=1.5)
parser.add_argument("--replicas", type=int, default=10_000)
parser.add_argument("--samples", type=int, default=10_000)
parser.add_argument("--lr", type=float, default=0.1)
parser.add_argument("--repeats", type=int, default=5)
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()

data = np.random.default_rng(args.seed)
xs, ys = data.standard_normal(args.samples), data.standard_normal(args.samples)
h = float(np.mean(xs * xs))
theta_star = float(np.mean(xs * ys) / h)
loss_star = 0.5 * float(np.mean((theta_star * xs - ys) ** 2))
radius_sq = 2.0 * (args.ratio - 1.0) * loss_star / h
X, Y = jnp.asarray(xs), jnp.asarray(ys)
R, lr = args.replicas, args.lr


@jax.jit
def first_passage(key):
    """Steps to exit for every replica, and the number of loop iterations."""

    def running(state):
        return ~jnp.all(state[1])

    def step(state):
        theta, exited, steps, iteration, key = state
        key, draw = jax.random.split(key)
        mu = jax.random.randint(draw, (R,), 0, args.samples)
        x, y = X[mu], Y[mu]
        moved = theta - lr * (theta * x - y) * x
        theta = jnp.where(exited, theta, moved)
        leaving = jnp.logical_and(~exited, (theta - theta_star) ** 2 > radius_sq)
        steps = jnp.where(leaving, iteration + 1, steps)
        return theta, jnp.logical_or(exited, leaving), steps, iteration + 1, key

    start = (jnp.full((R,), theta_star), jnp.zeros((R,), bool), jnp.zeros((R,), jnp.int64), jnp.int64(0), key)
    _, _, steps, iterations, _ = jax.lax.while_loop(running, step, start)
    return steps, iterations


report(first_passage, R, args.repeats, args.seed, lr, samples=args.samples, lr=lr, ratio=args.ratio)
