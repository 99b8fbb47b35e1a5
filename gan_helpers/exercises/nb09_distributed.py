"""Checks for notebook 09 (data-parallel GAN training)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._common import ExerciseFailed, _call, _passed, _value


def check_replica_loss(fn: Callable) -> bool:
    """``fn(per_example, global_batch)`` (one replica's per-example losses) must return that replica's
    share of the global-batch mean, sum(per_example) / global_batch (``tf.nn.compute_average_loss``),
    so that the replicas' shares add up to the mean over the whole batch (notebook 09)."""
    rng = np.random.default_rng(9)
    for replicas in (2, 4):
        losses = rng.random(16).astype("float32") + 0.5
        parts = np.split(losses, replicas)
        got = sum(_value(_call(fn, part, len(losses))) for part in parts)
        want = float(losses.mean())
        if not np.isclose(got, want, rtol=1e-5):
            ratio = got / want
            hint = (f"that is {ratio:.0f}× the mean: each replica divided by its own batch of "
                    f"{len(parts[0])}, not by the global batch of {len(losses)}."
                    if np.isclose(ratio, replicas, rtol=1e-4) else
                    "divide the sum of this replica's losses by the global batch size.")
            raise ExerciseFailed(f"with {replicas} replicas of {len(parts[0])} examples the shares should "
                                 f"add up to the global mean {want:.4f}; yours add up to {got:.4f}; {hint}")
    return _passed("per-replica loss scaling")


def check_replica_rows(fn: Callable) -> bool:
    """``fn(global_rows, replica, replicas)`` must return replica ``replica``'s block of ``global_rows``:
    rows r·b … (r + 1)·b − 1 with b = len / replicas, so that replicas never share rows and their blocks,
    in order, are the one-device draw (notebook 09, section 3)."""
    rows = np.arange(24, dtype="float32").reshape(12, 2)
    for replicas in (2, 3):
        b = len(rows) // replicas
        blocks = [np.asarray(_call(fn, rows, r, replicas)) for r in range(replicas)]
        if any(block.shape != (b, 2) for block in blocks):
            raise ExerciseFailed(f"with {replicas} replicas each should get {b} of the {len(rows)} rows; "
                                 f"yours got {[block.shape[0] for block in blocks]}.")
        if all(np.array_equal(block, blocks[0]) for block in blocks):
            raise ExerciseFailed("every replica got the same rows: the fakes of the global batch would "
                                 "repeat. Start replica r at row r·b.")
        if not np.array_equal(np.concatenate(blocks), rows):
            raise ExerciseFailed(f"with {replicas} replicas the blocks, in replica order, should give back "
                                 "the global draw row for row; replica r takes rows r·b to (r + 1)·b − 1.")
    return _passed("per-replica noise rows")


def check_synced_moments(fn: Callable) -> bool:
    """``fn(parts)`` (a list of per-replica [n_r, features] arrays) must return the mean and the
    (biased) variance over all rows together, computed from what an all-reduce can add up: each
    replica's count, sum and sum of squares (synchronised batch norm, notebook 09, section 5)."""
    rng = np.random.default_rng(4)
    parts = [rng.normal(loc, 1.0, size=(4, 3)) for loc in (-2.0, 0.5, 3.0)]
    whole = np.concatenate(parts)
    got = _call(fn, parts)
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise ExerciseFailed("return two arrays: (mean, variance), one value per feature each.")
    mean, var = (np.asarray(v, dtype=np.float64) for v in got)
    if not np.allclose(mean, whole.mean(0), atol=1e-6):
        raise ExerciseFailed(f"the mean over all rows is {whole.mean(0).round(4)}, yours is {mean.round(4)}; "
                             "divide the summed sums by the summed counts.")
    if not np.allclose(var, whole.var(0), atol=1e-6):
        averaged = np.mean([p.var(0) for p in parts], axis=0)
        hint = ("that is the average of the replicas' own variances: it misses how far the replicas' means "
                "lie apart. Use E[x²] − E[x]² over all rows." if np.allclose(var, averaged, atol=1e-6) else
                "the variance over all rows is (summed squares) / n − mean².")
        raise ExerciseFailed(f"the variance over all rows is {whole.var(0).round(4)}, yours is "
                             f"{var.round(4)}; {hint}")
    return _passed("synchronised batch-norm moments")
