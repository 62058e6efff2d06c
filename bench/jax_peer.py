"""What the JAX peers share: timing a jitted batched first-passage function.

`first_passage(key)` must return (steps to exit per replica, loop iterations). One run compiles;
then --repeats timed runs give, as medians:
  wall           seconds per run;
  useful         replica-steps taken before each replica's own exit, per second;
  gross          replicas x loop iterations per second (the work the batched loop does);
  mean_time      mean exit time = time_per_step * steps (a check that the workload is the same).
"""
import json
import time

import jax
import numpy as np


def report(first_passage, replicas, repeats, seed, time_per_step, **workload):
    """Times `first_passage` and prints the medians as one JSON line, with `workload`."""
    first_passage(jax.random.PRNGKey(seed))[0].block_until_ready()  # compile
    walls, useful, gross, means = [], [], [], []
    for repeat in range(repeats):
        began = time.perf_counter()
        steps, iterations = first_passage(jax.random.PRNGKey(seed + 1 + repeat))
        steps.block_until_ready()
        wall = time.perf_counter() - began
        steps = np.asarray(steps)
        walls.append(wall)
        useful.append(steps.sum() / wall)
        gross.append(replicas * int(iterations) / wall)
        means.append(time_per_step * steps.mean())
    print(json.dumps({
        "peer": "jax", "jax": jax.__version__, "replicas": replicas, **workload,
        "wall": float(np.median(walls)), "useful": float(np.median(useful)), "gross": float(np.median(gross)),
        "mean_time": float(np.median(means)),
    }))
