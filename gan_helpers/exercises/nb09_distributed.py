"""Checks for notebook 09 (data-parallel GAN training)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._common import ExerciseFailed, _call, _passed, _require_answers, _value


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


def _prediction(answer, keys: tuple[str, ...], what: str) -> dict:
    """A learner's dict of predictions, with every key present and filled in."""
    if not isinstance(answer, dict) or set(keys) - set(answer):
        raise ExerciseFailed(f"give {what} as a dict with the keys {', '.join(map(repr, keys))}.")
    if any(answer[k] is None or answer[k] is ... for k in keys):
        raise ExerciseFailed(f"fill in every prediction ({', '.join(map(repr, keys))}), not ... or None.")
    return answer


def unscaled_update_ratio(optimizer: str, replicas: int, lr: float = 0.05) -> float:
    """How much longer one optimizer step gets when every gradient is ``replicas`` times too large (the
    missing 1/R), measured with Keras' own optimizer on the first step."""
    import keras

    def first_step(scale: float) -> np.ndarray:
        w = keras.Variable(np.zeros(5, "float32"))
        opt = {"sgd": keras.optimizers.SGD, "adam": keras.optimizers.Adam}[optimizer](lr)
        g = np.linspace(-0.03, 0.02, 5).astype("float32") * scale   # gradients of a D-sized scale
        opt.apply_gradients([(keras.ops.convert_to_tensor(g), w)])
        return keras.ops.convert_to_numpy(w.value)

    return float(np.linalg.norm(first_step(replicas)) / np.linalg.norm(first_step(1.0)))


def check_unscaled_step(predicted) -> bool:
    """``predicted`` = {"adam": ratio}: how many times longer D's first Adam update gets on 4 replicas
    without the 1/R scaling (notebook 09, exercise 1). An "sgd" entry, if given, is checked as well."""
    _require_answers(predicted)
    predicted = _prediction(predicted, ("adam",), "your ratio")
    for name in ("sgd", "adam"):
        if name not in predicted:
            continue
        want = unscaled_update_ratio(name, 4)
        got = float(predicted[name])
        if not np.isclose(got, want, rtol=0.02):
            why = ("SGD's step is the learning rate times the gradient: scale the gradient and you scale "
                   "the step." if name == "sgd" else
                   "Adam divides the first moment by the square root of the second: what happens to a "
                   "factor that appears in both?")
            raise ExerciseFailed(f"{name}: you predicted {got:g}, but Keras' {name.upper()} takes a step "
                                 f"{want:.3f} times as long with gradients 4 times too large. {why}")
    return _passed("the missing 1/R under Adam")


def check_scale_out_plan(plan) -> bool:
    """``plan`` = {"A": {...}, "B": {...}}, each with ``per_replica`` (images per replica per step),
    ``steps`` (optimizer steps to see the main job's 2,500 × 64 images) and ``noisier_bn`` (are batch
    norm's per-replica statistics noisier than on one device?), for 8 GPUs with a global batch of 64 (A)
    or 512 (B) (notebook 09, section 8)."""
    _require_answers(plan)
    plan = _prediction(plan, ("A", "B"), "your two plans")
    truth = {"A": {"per_replica": 8, "steps": (2500,), "noisier_bn": True},
             "B": {"per_replica": 64, "steps": (312, 313), "noisier_bn": False}}
    for name, want in truth.items():
        got = _prediction(plan[name], ("per_replica", "steps", "noisier_bn"), f"plan {name}")
        if int(got["per_replica"]) != want["per_replica"]:
            raise ExerciseFailed(f"plan {name}: each of the 8 replicas gets the global batch divided by 8; "
                                 f"you said {got['per_replica']}.")
        if int(round(float(got["steps"]))) not in want["steps"]:
            raise ExerciseFailed(f"plan {name}: the main job sees 2,500 × 64 = 160,000 images; how many "
                                 f"steps of plan {name}'s global batch is that? You said {got['steps']}.")
        if bool(got["noisier_bn"]) != want["noisier_bn"]:
            raise ExerciseFailed(f"plan {name}: batch norm normalises over one replica's images. Compare "
                                 f"that count with the 64 it sees on one device (you said "
                                 f"{bool(got['noisier_bn'])}).")
    return _passed("the scale-out plan")


def check_two_example_batch_norm(two_values) -> bool:
    """``two_values`` = (smaller, larger): what batch norm (before its scale γ and shift β) outputs for
    one feature on a replica with only two examples, whatever their two distinct values
    (notebook 09, exercise 3)."""
    _require_answers(two_values)
    import keras

    if not isinstance(two_values, (tuple, list)) or len(two_values) != 2:
        raise ExerciseFailed("give two numbers, (smaller output, larger output).")
    got = np.sort(np.asarray(two_values, dtype=np.float64))
    bn = keras.layers.BatchNormalization(epsilon=1e-6, center=False, scale=False)
    rng = np.random.default_rng(2)
    for u, v in rng.normal(0, 5, size=(3, 2)):
        out = np.sort(keras.ops.convert_to_numpy(bn(np.array([[u], [v]], "float32"), training=True)).ravel())
        if not np.allclose(got, out, atol=1e-2):
            raise ExerciseFailed(f"for the two values {u:.2f} and {v:.2f} batch norm outputs "
                                 f"{out.round(3).tolist()}, not {got.tolist()}. Work out the mean and the "
                                 "variance of two numbers u < v in terms of u and v.")
    return _passed("batch norm on two examples")
