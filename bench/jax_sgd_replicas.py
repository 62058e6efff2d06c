"""What the JAX peers of the network SGD benchmarks (w3_jax.py, w5_jax.py) share: R replicas of
SGD, each with its own PRNG key drawing B indices with replacement, as `jax.vmap` of one step
(`jax.grad` of the given loss) inside a jitted `lax.fori_loop` over the steps, timed after a
compilation run; each repetition is printed as JSON."""
import json, time
import jax
import jax.numpy as jnp
import numpy as np


def glorot(sizes, seed=0):
    """Glorot-uniform weights and zero biases, one (W, b) pair per layer (W is out x in)."""
    rng = np.random.default_rng(seed)
    params = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        bound = np.sqrt(6.0 / (a + b))
        params.append((jnp.asarray(rng.uniform(-bound, bound, (b, a))), jnp.zeros(b)))
    return params


def forward(params, x, activation):
    """The network's outputs: `activation` after every layer but the last."""
    h = x
    for i, (w, b) in enumerate(params):
        h = h @ w.T + b
        if i + 1 < len(params):
            h = activation(h)
    return h


def time_replicas(loss, params, X, Y, batch, lr, replicas, steps, repeats, extra=None):
    """Runs `steps` SGD steps of `replicas` replicas from `params` `repeats` times (keys from
    PRNGKey(repetition + 1)) and prints each repetition's wall time and replica-steps per second;
    `extra(out)` adds fields computed from the final state."""
    n = X.shape[0]

    def step(params, key, x_all, y_all):
        key, sub = jax.random.split(key)
        idx = jax.random.randint(sub, (batch,), 0, n)
        g = jax.grad(loss)(params, x_all[idx], y_all[idx])
        return jax.tree_util.tree_map(lambda p, q: p - lr * q, params, g), key

    @jax.jit
    def run(params, keys, x_all, y_all, steps):
        batched = jax.vmap(step, in_axes=(0, 0, None, None))
        return jax.lax.fori_loop(0, steps, lambda _, s: batched(s[0], s[1], x_all, y_all), (params, keys))

    replicated = jax.tree_util.tree_map(lambda p: jnp.broadcast_to(p, (replicas,) + p.shape), params)
    keys = jax.random.split(jax.random.PRNGKey(0), replicas)
    jax.block_until_ready(run(replicated, keys, X, Y, 1))  # compiles (the step count is traced)
    for repetition in range(repeats):
        keys = jax.random.split(jax.random.PRNGKey(repetition + 1), replicas)
        t0 = time.perf_counter()
        out = jax.block_until_ready(run(replicated, keys, X, Y, steps))
        wall = time.perf_counter() - t0
        record = {"implementation": "jax", "repetition": repetition, "seconds": wall,
                  "replica_steps": replicas * steps,
                  "replica_steps_per_second": replicas * steps / wall, "jax": jax.__version__}
        if extra is not None:
            record.update(extra(out))
        print(json.dumps(record), flush=True)
