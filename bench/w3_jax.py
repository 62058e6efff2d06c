"""Peer for bench/src/w3.rs: R replicas of SGD on a 784-100-100-1 ReLU network (float64) on
the first 10^4 Fashion-MNIST training images (pixels / 255, labels +1 for classes 0-4, -1
otherwise), B = 100 indices drawn with replacement, eta = 0.01, the same Glorot-uniform start
for every replica, each with its own PRNG key; `jax.vmap` of one SGD step over the replicas
inside a jitted `lax.fori_loop` over the steps. Prints the wall time and replica-steps per
second of each repetition (after a compilation run) as JSON.

python3 bench/w3_jax.py --replicas 256 --steps 1000 --repeats 1
"""
import argparse, gzip
import jax
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp
import numpy as np
from jax_sgd_replicas import forward, glorot, time_replicas

parser = argparse.ArgumentParser()
parser.add_argument("--replicas", type=int, default=256)
parser.add_argument("--steps", type=int, default=1000)
parser.add_argument("--repeats", type=int, default=1)
args = parser.parse_args()

root = "/usr/share/datasets/fashion-mnist/"
N, B, LR, SIZES = 10000, 100, 0.01, [784, 100, 100, 1]
with gzip.open(root + "train-images-idx3-ubyte.gz") as f:
    x = np.frombuffer(f.read(), dtype=np.uint8, offset=16).reshape(-1, 784)[:N] / 255.0
with gzip.open(root + "train-labels-idx1-ubyte.gz") as f:
    label = np.frombuffer(f.read(), dtype=np.uint8, offset=8)[:N]
X = jnp.asarray(x)
Y = jnp.asarray(np.where(label < 5, 1.0, -1.0)[:, None])

params = glorot(SIZES)

def loss(params, x, y):
    r = forward(params, x, lambda z: jnp.maximum(z, 0.0)) - y
    return 0.5 * jnp.sum(r * r) / x.shape[0]

time_replicas(loss, params, X, Y, B, LR, args.replicas, args.steps, args.repeats)
