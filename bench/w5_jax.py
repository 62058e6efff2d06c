"""Peer for bench/src/w5.rs: R replicas of SGD on the 13-2-3 tanh network of the mlp-barrier
reproduction (float64, weight decay 0.01 on every parameter) on the wine data shipped in
data/sklearn (178 samples, features standardised by their mean and population standard
deviation, one-hot targets), B = 1 index drawn with replacement, eta = 0.05, the same
Glorot-uniform start for every replica, each with its own PRNG key; `jax.vmap` of one SGD step
over the replicas inside a jitted `lax.fori_loop` over the steps. Prints the wall time and
replica-steps per second of each repetition (after a compilation run) as JSON.

python3 bench/w5_jax.py --replicas 10000 --steps 10000 --repeats 1
"""
import argparse, json, time
import jax
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp
import numpy as np

parser = argparse.ArgumentParser()
parser.add_argument("--replicas", type=int, default=10000)
parser.add_argument("--steps", type=int, default=10000)
parser.add_argument("--repeats", type=int, default=1)
args = parser.parse_args()

B, LR, DECAY, SIZES = 1, 0.05, 0.01, [13, 2, 3]
table = np.loadtxt("data/sklearn/wine_data.csv", delimiter=",", skiprows=1)
x = table[:, :13]
x = (x - x.mean(axis=0)) / x.std(axis=0)
N = x.shape[0]
X = jnp.asarray(x)
Y = jnp.asarray(np.eye(3)[table[:, 13].astype(int)])

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
            h = jnp.tanh(h)
    r = h - y
    penalty = sum(jnp.sum(w * w) + jnp.sum(b * b) for w, b in params)
    return 0.5 * jnp.sum(r * r) / x.shape[0] + 0.5 * DECAY * penalty

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
    finite = int(np.sum(np.all(np.isfinite(np.asarray(out[0][0][0]).reshape(args.replicas, -1)), axis=1)))
    print(json.dumps({"implementation": "jax", "repetition": repetition, "seconds": wall,
                      "replica_steps": args.replicas * args.steps, "finite_replicas": finite,
                      "replica_steps_per_second": args.replicas * args.steps / wall, "jax": jax.__version__}), flush=True)
