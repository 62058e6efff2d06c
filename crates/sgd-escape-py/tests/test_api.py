"""The Python package against the CLI and against independent references.

Run by crates/sgd-escape-cli/tests/python_package.rs (so by `cargo test` when the package is
installed), or directly: `python -m pytest crates/sgd-escape-py/tests`. The CLI is
$SGD_ESCAPE_BIN, else target/release/sgd-escape.
"""

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import pytest

import sgd_escape

ROOT = Path(__file__).resolve().parents[3]
CLI = os.environ.get("SGD_ESCAPE_BIN", str(ROOT / "target" / "release" / "sgd-escape"))

DOUBLE_WELL: Dict[str, Any] = {
    "seed": 3,
    "replicas": 300,
    "model": {"kind": "double-well", "epsilon": 0.25},
    "dynamics": {"kind": "sde", "dt": 0.01, "noise": {"kind": "paper", "lr": 0.2}},
    "exit": {"kind": "coordinate", "threshold": 1.0},
}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], capture_output=True, text=True, check=False)


def test_a_run_from_a_dict_returns_float64_arrays_and_the_summary() -> None:
    r = sgd_escape.run(DOUBLE_WELL)
    assert r.times.dtype == np.float64 and r.escape_times.dtype == np.float64
    assert r.steps.dtype == np.int64 and r.replica.dtype == np.int64
    assert list(r.replica) == list(range(300))
    assert r.summary["escape"]["replicas"] == 300 and r.seed == 3
    assert r.summary["config"]["dynamics"]["solver"]["kind"] == "adaptive", "defaults are written out"
    # The mean escape time against the quadrature of the same SDE (4 standard errors).
    quadrature = r.summary["predictions"]["quadrature"]["mean_time"]
    assert abs(r.mean_time - quadrature) < 4 * r.mean_time_stderr, (r.mean_time, r.mean_time_stderr, quadrature)
    assert r.rate.ci_low < r.rate.estimate < r.rate.ci_high and r.rate.unit == "per unit time t"
    assert r.out is None


def test_censored_replicas_are_nan_in_escape_times() -> None:
    r = sgd_escape.run({**DOUBLE_WELL, "max_steps": 2000})
    censored = r.status == "censored"
    assert 0 < censored.sum() < 300
    assert np.isnan(r.escape_times[censored]).all() and np.isfinite(r.escape_times[~censored]).all()
    assert (r.times[censored] > 0).all()
    assert r.summary["escape"]["mean_time_method"] == "censored exponential fit"


def test_results_equal_the_cli_for_the_same_config_and_seed(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        """
seed = 1
replicas = 100
[model]
kind = "double-well"
epsilon = 0.25
[dynamics]
kind = "sde"
dt = 0.01
[dynamics.noise]
kind = "paper"
lr = 0.2
[exit]
kind = "coordinate"
threshold = 1.0
"""
    )
    done = cli("run", str(config), "--out", str(tmp_path / "cli"), "--seed", "9", "--threads", "1")
    assert done.returncode == 0, done.stderr
    from_cli = json.loads((tmp_path / "cli" / "summary.json").read_text())
    rows = [line.split(",") for line in (tmp_path / "cli" / "escape_times.csv").read_text().splitlines()[1:]]
    sources: List[sgd_escape.Config] = [config, str(config), config.read_text()]
    for source in sources:
        r = sgd_escape.run(source, seed=9, threads=2)
        assert r.summary["escape"] == from_cli["escape"]
        assert r.summary["predictions"] == from_cli["predictions"]
        assert [int(x[1]) for x in rows] == r.steps.tolist()
        assert [float(x[2]) for x in rows] == r.times.tolist()
        assert [x[3] for x in rows] == r.status.tolist()
    # With an output folder: the files of the CLI, and a rerun finds the run complete.
    r = sgd_escape.run(config, seed=9, out=tmp_path / "py")
    assert (tmp_path / "py" / "escape_times.csv").read_text() == (tmp_path / "cli" / "escape_times.csv").read_text()
    assert r.out == tmp_path / "py"


def test_arrays_in_equal_the_same_data_from_a_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 2))
    y = x @ np.array([1.0, -0.5]) + 0.3 * rng.normal(size=400)
    np.savetxt(tmp_path / "data.csv", np.column_stack([x, y]), delimiter=",", fmt="%.17g")
    config: Dict[str, Any] = {
        "seed": 2,
        "replicas": 200,
        "max_steps": 20000,
        "model": {"kind": "linear-regression"},
        "dynamics": {"kind": "sgd", "lr": 0.1, "batch_size": 4},
        "exit": {"kind": "loss-above", "ratio": 1.5},
    }
    from_arrays = sgd_escape.run(config, features=x, targets=y)
    from_file = sgd_escape.run({**config, "data": {"source": "csv", "path": str(tmp_path / "data.csv")}})
    assert from_arrays.summary["escape"] == from_file.summary["escape"]
    assert np.array_equal(from_arrays.times, from_file.times)
    assert from_arrays.summary["data"]["samples"] == 400 and from_arrays.summary["data"]["inputs"] == 2
    # The data's SHA-256 is recorded like a file's.
    assert len(from_arrays.summary["inputs"]) == 1 and len(from_arrays.summary["inputs"][0]["sha256"]) == 64


def test_errors_are_exceptions_naming_the_key_and_value() -> None:
    with pytest.raises(sgd_escape.ConfigError) as e:
        sgd_escape.run({**DOUBLE_WELL, "replica": 10})
    assert isinstance(e.value, ValueError) and isinstance(e.value, sgd_escape.Error)
    assert e.value.key == "replica" and "unknown field `replica`" in str(e.value)
    with pytest.raises(sgd_escape.ConfigError) as e:
        sgd_escape.run({**DOUBLE_WELL, "dynamics": {"kind": "sde", "dt": 0.01, "noise": {"kind": "paper", "lr": -0.1}}})
    assert e.value.key == "dynamics.noise.lr" and "-0.1" in str(e.value)
    with pytest.raises(sgd_escape.ConfigError) as e:
        sgd_escape.run({**DOUBLE_WELL, "seed": math.nan})
    assert e.value.key == "seed"
    with pytest.raises(sgd_escape.ConfigError) as e:
        sgd_escape.run(DOUBLE_WELL, threads=0)
    assert e.value.key == "threads"
    with pytest.raises(sgd_escape.ConfigError, match="cannot read configuration"):
        sgd_escape.run("no-such-file.toml")
    config: Dict[str, Any] = {
        "model": {"kind": "linear-regression"},
        "dynamics": {"kind": "sgd", "lr": 0.1, "batch_size": 50},
        "exit": {"kind": "loss-above", "ratio": 2.0},
    }
    x = np.arange(20.0)
    with pytest.raises(sgd_escape.ConfigError) as e:
        sgd_escape.run(config, features=x, targets=x)
    assert "batch_size" in str(e.value) and "50" in str(e.value)
    x[7] = np.nan
    with pytest.raises(sgd_escape.DataError, match=r"features\[7, 0\] is nan"):
        sgd_escape.run(config, features=x, targets=x)
    with pytest.raises(sgd_escape.DataError, match="20 rows but targets has 3"):
        sgd_escape.run(config, features=np.ones(20), targets=np.ones(3))


def test_landscape_returns_arrays_and_every_theory() -> None:
    a = sgd_escape.landscape({**DOUBLE_WELL, "dynamics": {"kind": "sde", "dt": 0.01, "noise": {"kind": "paper", "lr": 0.1}}})
    assert a.theta.dtype == np.float64 and a.theta.tolist() == pytest.approx([-1.0])
    assert a.loss == pytest.approx(0.25) and a.n == 1 and a.h_star == pytest.approx(2.0)
    assert a.saddle is not None and a.saddle.index == 1 and a.saddle.escape_eigenvalue == pytest.approx(-1.0)
    assert a.beta == pytest.approx(5.0)
    rate = sgd_escape.log_barrier_rate(0.25, 0.5, 2.0, -1.0, 0.1, 1)
    assert rate is not None
    assert a.predictions["log_barrier"]["rate_per_time"] == pytest.approx(rate, rel=1e-12)


def test_theory_functions_match_their_closed_forms() -> None:
    assert sgd_escape.beta(0.1, 1, 2.0) == pytest.approx(5.0)
    assert sgd_escape.log_barrier_exponent(5.0, 1) == 5.5
    assert sgd_escape.critical_dimension(5.0) == 12.0
    assert sgd_escape.stationary_exponent(5.0) == 6.0
    rate = sgd_escape.log_barrier_rate(0.25, 0.5, 2.0, -1.0, 0.1, 1)
    assert rate == pytest.approx(math.sqrt(2.0 * 1.0) / (2 * math.pi) * 2.0 ** (-5.5), rel=1e-12)
    linear = sgd_escape.linear_barrier_rate(0.25, 0.5, 2.0, -1.0, 0.1, 1)
    assert linear == pytest.approx(math.sqrt(2.0) / (2 * math.pi) * math.exp(-1 * 0.25 / (0.1 * 2.0 * 0.25)), rel=1e-12)
    # Brownian motion with drift μ to a level b: E[T] = b/μ exactly.
    t = sgd_escape.mean_first_passage_time(lambda x: 0.5, lambda x: 0.5, 0.0, 2.0)
    assert t == pytest.approx(4.0, rel=1e-6)
    # The 1-D double well with the paper's noise: the quadrature `landscape` reports.
    eps, lr = 0.25, 0.1

    def loss(x: float) -> float:
        return eps + (x * x - 1) ** 2 / 4

    t = sgd_escape.mean_first_passage_time(lambda x: -x * (x * x - 1), lambda x: lr * loss(x) * 2.0, -1.0, 1.0)
    assert t == pytest.approx(210.96053059398454, rel=1e-6)
    with pytest.raises(ZeroDivisionError):
        sgd_escape.mean_first_passage_time(lambda x: 1 / 0, lambda x: 1.0, 0.0, 1.0)
    alpha = sgd_escape.kesten_tail_exponent_isotropic_gaussian(0.1, 1)
    assert alpha is not None and alpha / 2 == pytest.approx(8.64, abs=0.01)


def test_training_then_escape_from_the_trained_parameters(tmp_path: Path) -> None:
    config: Dict[str, Any] = {
        "model": {"kind": "mlp", "hidden": [4], "init_seed": 1},
        "data": {"source": "wine", "labels": {"kind": "binary", "positive": [0]}, "standardize": True},
        "train": {"lr": 0.05, "batch_size": 16, "epochs": 3, "seed": 1},
    }
    t = sgd_escape.train(config, out=tmp_path / "train")
    assert t.log["epoch"].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert t.log["loss"][-1] < t.log["loss"][0]
    assert (tmp_path / "train" / "params.json").exists() and t.out == tmp_path / "train"
    again = sgd_escape.train(config)
    assert again.out is None and np.array_equal(again.parameters, t.parameters), "the same training without a folder"
    run_config: Dict[str, Any] = {
        "seed": 1,
        "replicas": 20,
        "max_steps": 300,
        "model": {"kind": "mlp", "hidden": [4]},
        "data": config["data"],
        "dynamics": {"kind": "sgd", "lr": 0.05, "batch_size": 16},
        "start": {"minimize": False},
        "exit": {"kind": "loss-above", "ratio": 1.5},
    }
    from_array = sgd_escape.run(run_config, parameters=t.parameters)
    from_file = sgd_escape.run({**run_config, "start": {"minimize": False, "parameters": str(tmp_path / "train" / "params.json")}})
    assert from_array.summary["minimum"] == from_file.summary["minimum"]
    assert np.array_equal(from_array.times, from_file.times)


CANCEL = """
import signal, sys, time
import sgd_escape
# As in an interactive interpreter, even where the parent ignores SIGINT (background jobs).
signal.signal(signal.SIGINT, signal.default_int_handler)
config = {"seed": 1, "replicas": 10000000, "max_steps": 1000000,
          "model": {"kind": "double-well", "epsilon": 0.25},
          "dynamics": {"kind": "sde", "dt": 0.01, "noise": {"kind": "paper", "lr": 0.1}},
          "exit": {"kind": "coordinate", "threshold": 1.0}}
print("started", flush=True)
try:
    sgd_escape.run(config, threads=2)
    print("finished", flush=True)
except KeyboardInterrupt:
    print("interrupted", time.monotonic(), flush=True)
"""


def test_ctrl_c_cancels_a_long_run_within_about_a_second() -> None:
    child = subprocess.Popen([sys.executable, "-c", CANCEL], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "started"
    time.sleep(1.5)
    sent = time.monotonic()
    child.send_signal(signal.SIGINT)
    out, _ = child.communicate(timeout=30)
    words: List[str] = out.split()
    assert words[0] == "interrupted", out
    latency = float(words[1]) - sent
    assert latency < 5.0, f"KeyboardInterrupt {latency:.2f} s after Ctrl-C"
    print(f"cancelled {latency:.3f} s after SIGINT")
