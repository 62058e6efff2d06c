"""sgd-escape from Python: predict and measure how SGD escapes local minima of mean-square
losses (Mori, Ziyin, Liu, Ueda, "Power-Law Escape Rate of SGD", ICML 2022).

The functions mirror the command-line tool:

- `run(config)`: replicas of SGD or an SDE from a minimum until they exit; a `RunResult` with
  NumPy arrays and the summary (`summary.json` of the CLI);
- `landscape(config)`: minimum, Hessian outliers, saddle, barrier and every theory's
  prediction, as a `LandscapeResult`;
- `train(config, out=...)`: MLP training by SGD with the noise logged per epoch;
- the theory as plain functions of floats: `beta`, `log_barrier_rate`, `linear_barrier_rate`,
  `log_barrier_exponent`, `critical_dimension`, `stationary_exponent`,
  `kesten_tail_exponent_gaussian`, `kesten_tail_exponent_isotropic_gaussian`,
  `mean_first_passage_time`.

A configuration is a dict (the TOML file's tables as nested dicts), TOML text, or a path to a
TOML file (docs/config.md). Data-built models take their data as NumPy arrays
(`features`, `targets`) instead of files, and networks their start parameters as an array
(`parameters`): layer after layer, W_i (out × in, row-major, as PyTorch's
``nn.Linear.weight``) then b_i, so that for a ``torch.nn.Sequential`` of Linear layers and
activations ``np.concatenate([t.detach().numpy().ravel() for t in net.state_dict().values()])``
is that array (the loss is (1/2N) Σ |f(x) − y|², summed over the outputs). Long calls release the interpreter
lock. Ctrl-C raises `KeyboardInterrupt`: `run` stops between replicas (or AMS runs), within
about a second for typical replicas (measured 0.1 s); `train` after the epoch in progress;
`landscape` when its analysis ends. Errors are
`sgd_escape.Error`; invalid configurations and values `ConfigError` (a `ValueError`) naming the
key and the value, malformed data `DataError`.
"""

import contextlib
import hashlib
import json
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, Mapping, Optional, Tuple, Union

import numpy as np
import numpy.typing as npt

from . import _native
from ._errors import ConfigError, DataError, Error

__version__: str = _native.version()

__all__ = [
    "Config",
    "ConfigError",
    "DataError",
    "Error",
    "LandscapeResult",
    "Rate",
    "RunResult",
    "Saddle",
    "TrainResult",
    "beta",
    "critical_dimension",
    "kesten_tail_exponent_gaussian",
    "kesten_tail_exponent_isotropic_gaussian",
    "landscape",
    "linear_barrier_rate",
    "log_barrier_exponent",
    "log_barrier_rate",
    "mean_first_passage_time",
    "run",
    "stationary_exponent",
    "train",
]

Config = Union[Mapping[str, Any], str, "os.PathLike[str]"]
"""A configuration: a dict of the TOML tables, TOML text, or the path of a TOML file."""

ArrayLike = npt.ArrayLike


def _first_nonfinite(value: Any, key: str) -> Optional[str]:
    """The dotted key of the first NaN or infinite float in a configuration dict."""
    if isinstance(value, float) and not math.isfinite(value):
        return key
    if isinstance(value, Mapping):
        for k, v in value.items():
            found = _first_nonfinite(v, f"{key}.{k}" if key else str(k))
            if found is not None:
                return found
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            found = _first_nonfinite(v, f"{key}[{i}]")
            if found is not None:
                return found
    return None


def _plain(value: Any) -> Any:
    """NumPy scalars and arrays inside a configuration dict as Python numbers and lists."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not a configuration value (str, int, float, bool, list, dict)")


def _source(config: Config) -> Tuple[str, bool, str, str]:
    """(text, is JSON, name for messages, folder that relative paths are resolved against)."""
    if isinstance(config, Mapping):
        key = _first_nonfinite(config, "")
        if key is not None:
            err = ConfigError(f"invalid configuration <dict>: `{key}`: NaN and infinities are not values")
            err.key = key
            raise err
        try:
            text = json.dumps(config, default=_plain, allow_nan=False)
        except TypeError as e:
            raise ConfigError(f"invalid configuration <dict>: {e}") from None
        return text, True, "<dict>", os.getcwd()
    if isinstance(config, os.PathLike) or (isinstance(config, str) and "\n" not in config and "=" not in config):
        path = Path(os.fspath(config))
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise ConfigError(f"cannot read configuration {path}: {e.strerror or e}") from None
        except UnicodeDecodeError as e:
            raise ConfigError(f"invalid configuration {path}: not UTF-8 text ({e.reason})") from None
        return text, False, str(path), str(path.parent.resolve())
    if isinstance(config, str):
        return config, False, "<toml>", os.getcwd()
    raise TypeError(f"config must be a dict, TOML text or a path, not {type(config).__name__}")


def _finite(name: str, array: npt.NDArray[np.float64]) -> None:
    bad = np.argwhere(~np.isfinite(array))
    if len(bad):
        where = ", ".join(str(int(i)) for i in bad[0])
        raise DataError(f"{name}[{where}] is {array[tuple(bad[0])]}: every value must be finite")


def _content_name(prefix: str, payload: bytes, suffix: str) -> str:
    return f"{prefix}-{hashlib.sha256(payload).hexdigest()[:16]}{suffix}"


def _data_file(features: ArrayLike, targets: ArrayLike, folder: Path) -> str:
    """Writes features and targets as one `.npy` table (targets last), named by its content."""
    try:
        x = np.asarray(features, dtype=np.float64)
        y = np.asarray(targets, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise DataError(f"features and targets must be numeric arrays: {e}") from None
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[1] == 0:
        raise DataError(f"features must have shape (N, m) or (N,), got {x.shape}")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"targets must have shape (N,): one value, or one class for one-hot or binary labels, per sample; got {y.shape}")
    if len(x) != len(y):
        raise DataError(f"features has {len(x)} rows but targets has {len(y)}")
    if len(x) == 0:
        raise DataError("features and targets are empty")
    _finite("features", x)
    _finite("targets", y)
    table = np.ascontiguousarray(np.column_stack([x, y]))
    path = folder / _content_name("data", table.tobytes() + str(table.shape).encode(), ".npy")
    if not path.exists():
        np.save(path, table)
    return str(path)


def _parameters_file(parameters: ArrayLike, folder: Path) -> str:
    """Writes start parameters as a JSON array, named by its content."""
    try:
        theta = np.asarray(parameters, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise DataError(f"parameters must be a numeric array: {e}") from None
    if theta.ndim != 1 or len(theta) == 0:
        raise DataError(f"parameters must be a non-empty 1-D array (flattened in the order of params.json), got shape {theta.shape}")
    _finite("parameters", theta)
    text = json.dumps([float(v) for v in theta])
    path = folder / _content_name("parameters", text.encode(), ".json")
    if not path.exists():
        path.write_text(text, encoding="utf-8")
    return str(path)


@contextlib.contextmanager
def _inputs(
    out: Optional["os.PathLike[str] | str"],
    features: Optional[ArrayLike],
    targets: Optional[ArrayLike],
    parameters: Optional[ArrayLike],
) -> Iterator[Tuple[Optional[str], Optional[str]]]:
    """The files the arrays are written to: in `out` when given (so that a rerun there sees the
    same inputs), else in a temporary folder removed after the call."""
    if (features is None) != (targets is None):
        raise DataError("give both features and targets, or neither")
    if features is None and parameters is None:
        yield None, None
        return
    with contextlib.ExitStack() as stack:
        if out is not None:
            folder = Path(os.fspath(out))
            folder.mkdir(parents=True, exist_ok=True)
        else:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sgd-escape-")))
        data = _data_file(features, targets, folder) if features is not None and targets is not None else None
        params = _parameters_file(parameters, folder) if parameters is not None else None
        yield data, params


@dataclass(frozen=True)
class Rate:
    """An escape rate with its 95% interval (censored exponential MLE, exact χ² interval)."""

    estimate: float
    ci_low: float
    ci_high: float
    unit: str
    """``"per unit time t"`` (t = η·steps for SGD) or ``"per step"``."""


@dataclass(frozen=True)
class RunResult:
    """The outcome of `run`: one entry per replica in the arrays, sorted by replica."""

    summary: Dict[str, Any]
    """Everything `summary.json` holds: version, seed, config, escape statistics, landscape,
    predictions, comparison, warnings."""
    replica: npt.NDArray[np.int64]
    steps: npt.NDArray[np.int64]
    """Steps each replica took."""
    times: npt.NDArray[np.float64]
    """The time t at which each replica ended (escaped, censored or diverged)."""
    status: npt.NDArray[np.str_]
    """``"escaped"``, ``"censored"`` (max_steps reached) or ``"diverged"``."""
    out: Optional[Path]
    """The output folder, when the run wrote one."""

    @property
    def escape_times(self) -> npt.NDArray[np.float64]:
        """Escape time t of each replica, NaN where it did not escape (censored or diverged)."""
        return np.where(self.status == "escaped", self.times, np.nan)

    @property
    def escaped(self) -> npt.NDArray[np.bool_]:
        """Whether each replica escaped."""
        return np.asarray(self.status == "escaped", dtype=np.bool_)

    @property
    def seed(self) -> int:
        return int(self.summary["seed"])

    @property
    def mean_time(self) -> float:
        """Mean escape time t (1/κ̂ under censoring, see `mean_time_method` in the summary)."""
        return float(self.summary["escape"]["mean_time"])

    @property
    def mean_time_stderr(self) -> float:
        return float(self.summary["escape"]["mean_time_stderr"])

    @property
    def rate(self) -> Rate:
        """The escape rate per unit time t with its 95% interval."""
        r = self.summary["escape"]["rate_per_time"]
        return Rate(float(r["estimate"]), float(r["ci_low"]), float(r["ci_high"]), "per unit time t")

    @property
    def rate_per_step(self) -> Rate:
        r = self.summary["escape"]["rate_per_step"]
        return Rate(float(r["estimate"]), float(r["ci_low"]), float(r["ci_high"]), "per step")

    @property
    def warnings(self) -> Tuple[str, ...]:
        return tuple(self.summary["warnings"])


def run(
    config: Config,
    *,
    seed: Optional[int] = None,
    replicas: Optional[int] = None,
    threads: Optional[int] = None,
    progress: bool = False,
    out: Optional["os.PathLike[str] | str"] = None,
    force: bool = False,
    format: str = "csv",
    features: Optional[ArrayLike] = None,
    targets: Optional[ArrayLike] = None,
    parameters: Optional[ArrayLike] = None,
) -> RunResult:
    """Runs an escape experiment, like ``sgd-escape run``.

    `seed` and `replicas` override the configuration; `threads` sets the worker threads (the
    results never depend on it). With `out`, the run writes and resumes its folder exactly as
    the CLI does (`force` moves another configuration's results aside, `format` is ``"csv"`` or
    ``"parquet"`` for the per-replica table); without it nothing is written. `features` (N × m)
    and `targets` (N) replace the data files of a data-built model (the configuration's
    ``[data]`` keeps its other keys, such as ``labels`` or ``standardize``); `parameters`
    replaces ``start.parameters`` for a network.
    """
    text, is_json, origin, base_dir = _source(config)
    with _inputs(out, features, targets, parameters) as (data_file, parameters_file):
        summary, replica, steps, times, status = _native.run(
            text,
            is_json,
            origin,
            base_dir,
            seed=seed,
            replicas=replicas,
            threads=threads,
            out=None if out is None else os.fspath(out),
            force=force,
            progress=progress,
            data_file=data_file,
            parameters_file=parameters_file,
            format=format,
        )
    return RunResult(
        summary=json.loads(summary),
        replica=replica,
        steps=steps,
        times=times,
        status=np.array(status, dtype=np.str_),
        out=None if out is None else Path(os.fspath(out)),
    )


@dataclass(frozen=True)
class Saddle:
    """The saddle found between the minimum and the exit."""

    theta: npt.NDArray[np.float64]
    loss: float
    index: int
    """Number of negative Hessian eigenvalues (1 for a first-order saddle)."""
    escape_eigenvalue: float
    """h_eˢ < 0, the negative eigenvalue along the escape direction."""
    hessian_eigenvalues: npt.NDArray[np.float64]
    """Eigenvalues of H(θˢ), ascending: all of them, or the lowest four by Lanczos when the
    landscape is analysed matrix-free (``all_eigenvalues`` in the saddle's dict says which)."""


@dataclass(frozen=True)
class LandscapeResult:
    """The landscape analysis: the contents of the CLI's landscape.json, with the main
    quantities as attributes and arrays."""

    analysis: Dict[str, Any]
    theta: npt.NDArray[np.float64]
    """θ*, the minimum."""
    loss: float
    """L(θ*)."""
    hessian_eigenvalues: npt.NDArray[np.float64]
    """Eigenvalues of H(θ*), ascending: all of them, or the largest ones computed by Lanczos
    above 4096 parameters (``analysis["minimum"]["hessian_spectrum"]`` says which)."""
    n: int
    """Number of outlier eigenvalues."""
    h_star: float
    """The typical outlier eigenvalue h*."""
    outlier_eigenvalues: npt.NDArray[np.float64]
    saddle: Optional[Saddle]
    beta: Optional[float]
    """β = B/(η h*)."""
    predictions: Dict[str, Any]
    """Every theory's prediction with its assumptions checked."""


def landscape(
    config: Config,
    *,
    out: Optional["os.PathLike[str] | str"] = None,
    force: bool = False,
    features: Optional[ArrayLike] = None,
    targets: Optional[ArrayLike] = None,
    parameters: Optional[ArrayLike] = None,
) -> LandscapeResult:
    """Analyses the landscape, like ``sgd-escape landscape`` (which writes landscape.json into
    `out` when given). The arrays replace data files and start parameters as in `run`."""
    text, is_json, origin, base_dir = _source(config)
    with _inputs(out, features, targets, parameters) as (data_file, parameters_file):
        report = json.loads(
            _native.landscape(
                text,
                is_json,
                origin,
                base_dir,
                out=None if out is None else os.fspath(out),
                force=force,
                data_file=data_file,
                parameters_file=parameters_file,
            )
        )
    minimum = report["minimum"]
    s = report.get("saddle")
    saddle = (
        None
        if s is None
        else Saddle(
            theta=np.asarray(s["theta"], dtype=np.float64),
            loss=float(s["loss"]),
            index=int(s["index"]),
            escape_eigenvalue=float(s["escape_eigenvalue"]),
            hessian_eigenvalues=np.asarray(s["hessian_eigenvalues"], dtype=np.float64),
        )
    )
    return LandscapeResult(
        analysis=report,
        theta=np.asarray(minimum["theta"], dtype=np.float64),
        loss=float(minimum["loss"]),
        hessian_eigenvalues=np.asarray(minimum["hessian_eigenvalues"], dtype=np.float64),
        n=int(minimum["outliers"]["n"]),
        h_star=float(minimum["outliers"]["h_star"]),
        outlier_eigenvalues=np.asarray(minimum["outliers"]["eigenvalues"], dtype=np.float64),
        saddle=saddle,
        beta=None if report.get("beta") is None else float(report["beta"]),
        predictions=report["predictions"],
    )


@dataclass(frozen=True)
class TrainResult:
    """A training run: the log (one row per logged epoch) and the final parameters."""

    log: Dict[str, npt.NDArray[np.float64]]
    """Columns of log.csv as arrays: epoch, steps, loss, noise (𝒩), trace_sigma, accuracy,
    test_loss, test_accuracy (NaN without a test set), ..."""
    parameters: npt.NDArray[np.float64]
    """The final parameters, in the order `run(parameters=...)` and params.json use."""
    resumed_from: int
    """The epoch the run resumed from (0 for a fresh run)."""
    out: Optional[Path]
    """The training folder, when one was given."""


def train(
    config: Config,
    *,
    out: Optional["os.PathLike[str] | str"] = None,
    threads: Optional[int] = None,
    force: bool = False,
    features: Optional[ArrayLike] = None,
    targets: Optional[ArrayLike] = None,
) -> TrainResult:
    """Trains an MLP, like ``sgd-escape train``: checkpoints, log.csv and params.json in `out`,
    and rerunning into `out` resumes (without `out`, a temporary folder removed afterwards).
    `features` and `targets` replace the ``[data]`` files."""
    text, is_json, origin, base_dir = _source(config)
    with contextlib.ExitStack() as stack:
        folder = Path(os.fspath(out)) if out is not None else Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sgd-escape-train-")))
        with _inputs(folder, features, targets, None) as (data_file, _):
            result = json.loads(_native.train(text, is_json, origin, base_dir, str(folder), threads=threads, force=force, data_file=data_file))
    rows = result["log"]
    columns = list(rows[0].keys()) if rows else []
    log = {
        c: np.array([math.nan if r.get(c) is None else float(r[c]) for r in rows], dtype=np.float64)
        for c in columns
        if all(r.get(c) is None or isinstance(r.get(c), (int, float)) for r in rows)
    }
    return TrainResult(
        log=log,
        parameters=np.asarray(result["theta"], dtype=np.float64),
        resumed_from=int(result["resumed_from"]),
        out=None if out is None else Path(os.fspath(out)),
    )


def beta(lr: float, batch_size: int, h_star: float) -> float:
    """β = B/(η h*), the inverse temperature of the time-changed dynamics."""
    return _native.beta(lr, batch_size, h_star)


def log_barrier_exponent(beta: float, n: int) -> float:
    """The paper's exponent β + 1 − n/2 of κ ∝ c^−(β + 1 − n/2)."""
    return _native.log_barrier_exponent(beta, n)


def critical_dimension(beta: float) -> float:
    """n_c = 2(β + 1): above it the log-barrier formula no longer applies."""
    return _native.critical_dimension(beta)


def stationary_exponent(beta: float) -> float:
    """φ = 1 + β of the stationary law P(θ) ∝ L(θ)^−φ."""
    return _native.stationary_exponent(beta)


def log_barrier_rate(loss_minimum: float, loss_saddle: float, h_star: float, h_saddle: float, lr: float, batch_size: int) -> Optional[float]:
    """The paper's log-barrier escape rate per unit time t for a 1-D barrier:
    (1/2π)·sqrt(h*·|h_saddle|)·c^−(β + 1/2), c = L(saddle)/L(minimum), β = B/(η h*)."""
    return _native.log_barrier_rate(loss_minimum, loss_saddle, h_star, h_saddle, lr, batch_size)


def linear_barrier_rate(loss_minimum: float, loss_saddle: float, h_star: float, h_saddle: float, lr: float, batch_size: int) -> Optional[float]:
    """The linear-barrier rate per unit time t with the noise frozen at the minimum:
    (1/2π)·sqrt(h*·|h_saddle|)·exp(−B ΔL/(η h* L*))."""
    return _native.linear_barrier_rate(loss_minimum, loss_saddle, h_star, h_saddle, lr, batch_size)


def kesten_tail_exponent_gaussian(lr: float, batch_size: int, h: float) -> Optional[float]:
    """Kesten's tail exponent α of SGD on 1-D linear regression with Gaussian inputs of
    variance h (P(|θ| > x) ∝ x^−α); None where SGD has no stationary law."""
    return _native.kesten_tail_exponent_gaussian(lr, batch_size, h)


def kesten_tail_exponent_isotropic_gaussian(lr: float, dim: int) -> Optional[float]:
    """Kesten's exponent α for d-dimensional isotropic Gaussian inputs, B = 1."""
    return _native.kesten_tail_exponent_isotropic_gaussian(lr, dim)


def mean_first_passage_time(
    drift: Callable[[float], float],
    diffusion: Callable[[float], float],
    start: float,
    target: float,
    intervals: int = 4000,
) -> float:
    """Mean first-passage time from `start` to `target` of dθ = drift(θ)dt + sqrt(2 D(θ)) dW,
    by quadrature (Richardson-extrapolated trapezoid rule, far boundary found automatically).
    For the paper's noise, D(θ) = η L(θ) h*/B."""
    return _native.mean_first_passage_time(drift, diffusion, start, target, intervals)
