"""Peer for bench/src/w5.rs: R replicas of SGD on the 13-2-3 tanh network of the mlp-barrier
reproduction (float64, weight decay 0.01 on every parameter) on the wine data shipped in
data/sklearn (178 samples, features standardised by their mean and population standard
deviation, one-hot targets), B = 1 index drawn with replacement, eta = 0.05, the same
Glorot-uniform start for every replica, each with its own PRNG key; `jax.vmap` of one SGD step
over the replicas inside a jitted `lax.fori_loop` over the steps. Prints the wall time and
replica-steps per second of each repetition (after a compilation run) as JSON.

python3 bench/w5_jax.py --replicas 10000 --steps 10000 --repeats 1
"""
import argparse
import jax
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp
import numpy as np
from jax_sgd_replicas import forward, glorot, time_replicas

parser = argparse.ArgumentParser()
parser.add_argument("--replicas", type=int, default=10000)
parser.add_argument("--steps", type=int, default=10000)
parser.add_argument("--repeats", type=int, default=1)
args = parser.parse_args()

B, LR, DECAY, SIZES = 1, 0.05, 0.01, [13, 2, 3]
table = np.loadtxt("data/sklearn/wine_data.csv", delimiter=",", skiprows=1)
x = table[:, :13]
x = (x - x.mean(axis=0)) / x.std(axis=0)
X = jnp.asarray(x)
Y = jnp.asarray(np.eye(3)[table[:, 13].astype(int)])

params = glorot(SIZES)

def loss(params, x, y):
    r = forward(params, x, jnp.tanh) - y
    penalty = sum(jnp.sum(w * w) + jnp.sum(b * b) for w, b in params)
    return 0.5 * jnp.sum(r * r) / x.shape[0] + 0.5 * DECAY * penalty

def finite_replicas(out):
    w = np.asarray(out[0][0][0]).reshape(args.replicas, -1)
    return {"finite_replicas": int(np.sum(np.all(np.isfinite(w), axis=1)))}

time_replicas(loss, params, X, Y, B, LR, args.replicas, args.steps, args.repeats, finite_replicas)
