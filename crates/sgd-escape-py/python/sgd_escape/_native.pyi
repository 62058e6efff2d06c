# Type stubs of the compiled module (crates/sgd-escape-py/src/lib.rs).
from typing import Callable, List, Optional, Tuple

import numpy as np
import numpy.typing as npt

def run(
    config: str,
    json: bool,
    origin: str,
    base_dir: str,
    seed: Optional[int] = None,
    replicas: Optional[int] = None,
    threads: Optional[int] = None,
    out: Optional[str] = None,
    force: bool = False,
    progress: bool = False,
    data_file: Optional[str] = None,
    parameters_file: Optional[str] = None,
    format: str = "csv",
) -> Tuple[str, npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64], List[str]]: ...
def landscape(
    config: str,
    json: bool,
    origin: str,
    base_dir: str,
    out: Optional[str] = None,
    force: bool = False,
    data_file: Optional[str] = None,
    parameters_file: Optional[str] = None,
) -> str: ...
def train(
    config: str,
    json: bool,
    origin: str,
    base_dir: str,
    out: str,
    threads: Optional[int] = None,
    force: bool = False,
    data_file: Optional[str] = None,
) -> str: ...
def beta(lr: float, batch_size: int, h_star: float) -> float: ...
def log_barrier_exponent(beta: float, n: int) -> float: ...
def critical_dimension(beta: float) -> float: ...
def stationary_exponent(beta: float) -> float: ...
def log_barrier_rate(
    loss_minimum: float, loss_saddle: float, h_star: float, h_saddle: float, lr: float, batch_size: int
) -> Optional[float]: ...
def linear_barrier_rate(
    loss_minimum: float, loss_saddle: float, h_star: float, h_saddle: float, lr: float, batch_size: int
) -> Optional[float]: ...
def kesten_tail_exponent_gaussian(lr: float, batch_size: int, h: float) -> Optional[float]: ...
def kesten_tail_exponent_isotropic_gaussian(lr: float, dim: int) -> Optional[float]: ...
def mean_first_passage_time(
    drift: Callable[[float], float],
    diffusion: Callable[[float], float],
    start: float,
    target: float,
    intervals: int = 4000,
) -> float: ...
def version() -> str: ...
