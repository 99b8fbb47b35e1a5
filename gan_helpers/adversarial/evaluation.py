"""Has the evaluation converged? Robust accuracy under APGD as a function of its budget, steps and
restarts, so that a plot can show whether more of either would still lower it.

Imports only from ``threat`` and ``attacks`` (below it in the subpackage); nothing imports it but the
subpackage's ``__init__``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np

from .attacks import APGD_LOSSES, _apgd_fn, _apgd_restarts, _check_apgd_settings, apgd_checkpoints
from .threat import (
    DEFAULT_BATCH,
    _batches,
    _check_data,
    _check_eps,
    _check_labels,
    _check_positive_int,
    predict,
)


@dataclass
class Convergence:
    """Robust accuracy (per example: correct clean and never broken) under APGD with ``steps[i]`` steps
    and ``restarts[j]`` restarts, ``robust[i, j]``: plain arrays, one line per step count in a plot."""

    loss: str
    steps: np.ndarray      # [S] step counts, increasing
    restarts: np.ndarray   # [R] restart counts, increasing
    robust: np.ndarray     # [S, R] robust accuracy; non-increasing along each row (restarts)
    clean: float           # accuracy without an attack: the curve's ceiling


def _check_budget(name: str, values: Sequence[int]) -> np.ndarray:
    """A non-empty list of whole numbers ≥ 1, sorted and without repeats."""
    values = [values] if isinstance(values, (int, np.integer)) else list(values)
    if not values:
        raise ValueError(f"{name} is empty; give at least one whole number ≥ 1, e.g. {name}=(1, 2, 3, 5)")
    return np.array(sorted({_check_positive_int(name, v) for v in values}), np.int64)


def apgd_convergence(model: keras.Model, x, y, eps: float, loss: str = "ce",
                     steps: Sequence[int] = (10, 25, 50, 100, 200), restarts: Sequence[int] = (1, 2, 3, 5),
                     rho: float = 0.75, momentum: float = 0.75, seed: int = 0,
                     batch_size: int = DEFAULT_BATCH) -> Convergence:
    """Robust accuracy under ``apgd(..., loss, steps=N, restarts=R, seed)`` for every N in ``steps`` and R
    in ``restarts``: a curve that has flattened says that a bigger budget would not find more.

    APGD's step-size schedule depends on N (its checkpoints are fractions of N), so each N is its own set of
    runs; but for one N the worst case over restarts 1..R is a running minimum, so max(restarts) runs give
    every R at once (each restart attacks only the examples the earlier ones left unbroken). Each N starts
    from the same ``seed``; when ``x`` fits in one batch, entry (N, R) is exactly the robust accuracy of
    ``apgd(model, x, y, eps, loss, steps=N, restarts=R, seed=seed)``."""
    eps = _check_eps(eps)
    x, y = _check_data(x, y)
    _check_labels(model, y)
    if loss not in APGD_LOSSES:
        raise ValueError(f"loss={loss!r} is not known; choose one of {', '.join(APGD_LOSSES)}.")
    step_counts = _check_budget("steps", steps)
    restart_counts = _check_budget("restarts", restarts)
    for n_steps in step_counts:
        _check_apgd_settings(int(n_steps), rho, momentum)
    batch_size = _check_positive_int("batch_size", batch_size)
    clean_ok = predict(model, x, batch_size) == y
    fn = _apgd_fn(model, tuple(x.shape[1:]), loss)
    most = int(restart_counts[-1])
    robust = np.empty((len(step_counts), len(restart_counts)))
    for i, n_steps in enumerate(step_counts):
        n_steps = int(n_steps)
        checkpoints = set(apgd_checkpoints(n_steps))
        rng = np.random.default_rng(seed)
        broken_after = np.zeros((most, len(x)), bool)         # row r: broken by any of runs 1..r + 1
        for s in _batches(len(x), batch_size):
            runs = _apgd_restarts(fn, x[s], y[s], eps, n_steps, checkpoints, rho, momentum, rng, most)
            for r, (_, broken, _) in enumerate(runs):
                broken_after[r, s] = broken
        robust[i] = (clean_ok & ~broken_after[restart_counts - 1]).mean(axis=1)
    return Convergence(loss, step_counts, restart_counts, robust, float(clean_ok.mean()))
