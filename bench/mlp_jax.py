"""Peer for bench/src/mlp.rs: the same MLP (784-256-256-256-10, ReLU, float64, Glorot
uniform init) on N = 2000 Gaussian inputs with one-hot targets, in JAX. Times, per sample:
the full-batch loss and gradient (jax.value_and_grad), the Hessian-vector product
(forward-over-reverse, jax.jvp of jax.grad) and the per-sample gradient norms (jax.vmap of
jax.grad, then the norms; JAX forms the N x P per-sample gradients). Medians over --repeats
runs after a compilation run, printed as JSON.

python3 bench/mlp_jax.py --repeats 5
"""
import argparse, json, time
import jax
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp
import numpy as np

parser = argparse.ArgumentParser()
parser.add_argument("--repeats", type=int, default=5)
args = parser.parse_args()

N, SIZES = 2000, [784, 256, 256, 256, 10]
rng = np.random.default_rng(0)
X = jnp.asarray(rng.standard_normal((N, 784)))
Y = jnp.asarray(np.eye(10)[np.arange(N) % 10])
params = []
for a, b in zip(SIZES[:-1], SIZES[1:]):
    bound = np.sqrt(6.0 / (a + b))
    params.append((jnp.asarray(rng.uniform(-bound, bound, (b, a))), jnp.zeros(b)))

def forward(params, x):
    for i, (w, b) in enumerate(params):
        x = x @ w.T + b
        if i + 1 < len(params):
            x = jnp.maximum(x, 0.0)
    return x

def loss(params, x, y):
    r = forward(params, x) - y
    return 0.5 * jnp.sum(r * r) / x.shape[0]

value_and_grad = jax.jit(jax.value_and_grad(loss))
v = jax.tree_util.tree_map(lambda p: jnp.ones_like(p) * 0.01, params)
hvp = jax.jit(lambda p, v: jax.jvp(lambda q: jax.grad(loss)(q, X, Y), (p,), (v,))[1])
sample_loss = lambda p, x, y: 0.5 * jnp.sum((forward(p, x[None])[0] - y) ** 2)
norms = jax.jit(lambda p: jax.tree_util.tree_reduce(
    lambda a, b: a + b,
    jax.tree_util.tree_map(lambda g: jnp.sum(g.reshape(N, -1) ** 2, axis=1), jax.vmap(jax.grad(sample_loss), (None, 0, 0))(p, X, Y))))

def timed(f):
    jax.block_until_ready(f())
    out = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        jax.block_until_ready(f())
        out.append(time.perf_counter() - t)
    return float(np.median(out))

us = lambda s: 1e6 * s / N
print(json.dumps({
    "implementation": "jax " + jax.__version__, "devices": str(jax.devices()),
    "parameters": sum(w.size + b.size for w, b in params), "samples": N,
    "gradient_us_per_sample": round(us(timed(lambda: value_and_grad(params, X, Y))), 3),
    "hvp_us_per_sample": round(us(timed(lambda: hvp(params, v))), 3),
    "sample_gradient_norms_us_per_sample": round(us(timed(lambda: norms(params))), 3),
}))
