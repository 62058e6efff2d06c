"""Escape time against 1/η for the 1-D double well under the paper's SDE noise, measured with
sgd_escape.run and compared with the log-barrier and linear-barrier predictions and the exact
quadrature. On a log scale the measured times follow a line in 1/η whose slope is
(B/h*)·log c for the log barrier and (B/h*)·ΔL/L* for the linear one.

    pip install ./crates/sgd-escape-py matplotlib
    python examples/python/escape_time_vs_lr.py [OUTPUT.png]
"""

import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import sgd_escape  # noqa: E402

base = {
    "seed": 1,
    "replicas": 500,
    "model": {"kind": "double-well", "epsilon": 0.25},
    "dynamics": {"kind": "sde", "dt": 0.01, "noise": {"kind": "paper", "batch_size": 1}},
    "start": {"point": [-1.0]},
    "exit": {"kind": "coordinate", "threshold": 1.0},
}
lrs = [0.1, 0.125, 0.15, 0.2, 0.25]
rows = []
for lr in lrs:
    config = {**base, "dynamics": {**base["dynamics"], "noise": {**base["dynamics"]["noise"], "lr": lr}}}
    result = sgd_escape.run(config)
    p = result.summary["predictions"]
    rows.append(
        (1 / lr, result.mean_time, result.mean_time_stderr, p["log_barrier"]["mean_time"], p["linear_barrier"]["mean_time"], p["quadrature"]["mean_time"])
    )
    print(f"lr = {lr}: mean escape time {result.mean_time:.1f} ± {result.mean_time_stderr:.1f} (quadrature {p['quadrature']['mean_time']:.1f})")
x, t, se, log_barrier, linear_barrier, quadrature = (np.array(c) for c in zip(*rows))

fig, ax = plt.subplots(figsize=(6, 4))
ax.errorbar(x, t, yerr=se, fmt="o", label="sgd_escape.run (500 replicas)")
ax.plot(x, quadrature, "-", label="exact quadrature")
ax.plot(x, log_barrier, "--", label="log barrier (Mori et al.)")
ax.plot(x, linear_barrier, ":", label="linear barrier")
ax.set_yscale("log")
ax.set_xlabel("1/η")
ax.set_ylabel("mean escape time t")
ax.legend()
fig.tight_layout()
out = sys.argv[1] if len(sys.argv) > 1 else "escape_time_vs_lr.png"
fig.savefig(out, dpi=120)
print(f"wrote {out}")
