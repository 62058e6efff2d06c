"""Peer for bench/src/w3.rs: R replicas of SGD on a 784-100-100-1 ReLU network (float64) on
the first 10^4 Fashion-MNIST training images (pixels / 255, labels +1 for classes 0-4, -1
otherwise), B = 100 indices drawn with replacement, eta = 0.01, the same Glorot-uniform start
for every replica, each with its own PRNG key; `jax.vmap` of one SGD step over the replicas
inside a jitted `lax.fori_loop` over the steps. Prints the wall time and replica-steps per
second of each repetition (after a compilation run) as JSON.

python3 bench/w3_jax.py --replicas 256 --steps 1000 --repeats 1
"""
import argparse, gzip, json, time
import jax
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp
import numpy as np

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

rng = np.random.default_rng(0)
params = []
for a, b in zip(SIZES[:-1], SIZES[1:]):
    bound = np.sqrt(6.0 / (a + b))
    params.append((jnp.asarray(rng.uniform(-bound, bound, (b, a))), jnp.zeros(b)))

def loss(params, x, y):
    h = x
    for i, (w, b) in enumerate(params):
        h = h @ w.T + b
        if i + 1 < len(params):
            h = jnp.maximum(h, 0.0)
    r = h - y
    return 0.5 * jnp.sum(r * r) / x.shape[0]

def step(params, key, x_all, y_all):
    key, sub = jax.random.split(key)
    idx = jax.random.randint(sub, (B,), 0, N)
    g = jax.grad(loss)(params, x_all[idx], y_all[idx])
    return jax.tree_util.tree_map(lambda p, q: p - LR * q, params, g), key

@jax.jit
def run(params, keys, x_all, y_all, steps):
    batched = jax.vmap(step, in_axes=(0, 0, None, None))
    return jax.lax.fori_loop(0, steps, lambda _, s: batched(s[0], s[1], x_all, y_all), (params, keys))

replicated = jax.tree_util.tree_map(lambda p: jnp.broadcast_to(p, (args.replicas,) + p.shape), params)
keys = jax.random.split(jax.random.PRNGKey(0), args.replicas)
jax.block_until_ready(run(replicated, keys, X, Y, 1))  # compiles (the step count is traced)
for repetition in range(args.repeats):
    keys = jax.random.split(jax.random.PRNGKey(repetition + 1), args.replicas)
    t0 = time.perf_counter()
    out = jax.block_until_ready(run(replicated, keys, X, Y, args.steps))
    wall = time.perf_counter() - t0
    print(json.dumps({"implementation": "jax", "repetition": repetition, "seconds": wall,
                      "replica_steps": args.replicas * args.steps,
                      "replica_steps_per_second": args.replicas * args.steps / wall, "jax": jax.__version__}), flush=True)
