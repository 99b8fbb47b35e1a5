"""The attacks on the L∞ threat model: FGSM, PGD with restarts, Auto-PGD (CE or DLR loss, and the
targeted DLR version APGD-T), the black-box Square attack, and ``robust_accuracy``, which counts an example
as broken when any attack breaks it (optionally running the expensive attacks on the survivors only).

Imports only from ``threat`` (below it in the subpackage); ``evaluation`` and ``defense`` build on it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf

from .threat import (
    DEFAULT_BATCH,
    _batches,
    _check_data,
    _check_eps,
    _check_labels,
    _check_positive_int,
    _check_step_size,
    _compiled,
    assert_in_threat_model,
    predict,
)


# ----------------------------------------------------------------------------- attacks
def fgsm(model: keras.Model, x, y, eps: float, batch_size: int = DEFAULT_BATCH) -> np.ndarray:
    """Fast gradient sign method (Goodfellow et al. 2015): x + eps·sign(∇ₓ loss), clipped to [0, 1]."""
    eps = _check_eps(eps)
    x, y = _check_data(x, y)
    _check_labels(model, y)
    batch_size = _check_positive_int("batch_size", batch_size)
    fn = _compiled(model, tuple(x.shape[1:]))["fgsm"]
    e = tf.constant(eps, tf.float32)
    x_adv = np.concatenate([fn(tf.constant(x[s]), tf.constant(y[s]), e).numpy()
                            for s in _batches(len(x), batch_size)])
    assert_in_threat_model(x, x_adv, eps)
    return x_adv


def _keep_stronger(todo: np.ndarray, x_new: np.ndarray, score_new: np.ndarray, broken_new: np.ndarray,
                   best_x: np.ndarray, best_score: np.ndarray, best_broken: np.ndarray) -> None:
    """Merge a restart's results for the rows ``todo`` into the running best, in place: keep the new
    point where it breaks the example or, still unbroken, reaches a higher loss (PGD and APGD alike)."""
    take = broken_new | (score_new > best_score[todo])
    best_x[todo[take]], best_score[todo[take]] = x_new[take], score_new[take]
    best_broken[todo[broken_new]] = True


def pgd(model: keras.Model, x, y, eps: float, steps: int = 40, step_size: float = 0.01, restarts: int = 1,
        random_start: bool = True, seed: int = 0, batch_size: int = DEFAULT_BATCH) -> np.ndarray:
    """Projected gradient descent (Madry et al. 2018) on the cross-entropy, L∞ ball, pixels in [0, 1].

    Each restart draws a new uniform start in the ε-ball; per example, a restart that breaks it (or,
    among unbroken ones, has the highest loss) is kept. Restart 0 uses ``seed``, so more restarts with
    the same seed are never weaker than one."""
    eps = _check_eps(eps)
    x, y = _check_data(x, y)
    _check_labels(model, y)
    steps = _check_positive_int("steps", steps)
    restarts = _check_positive_int("restarts", restarts)
    batch_size = _check_positive_int("batch_size", batch_size)
    step_size = _check_step_size(step_size)
    if restarts > 1 and not random_start:
        raise ValueError("restarts > 1 needs random_start=True: without a random start every restart "
                         "follows the same path.")
    fn = _compiled(model, tuple(x.shape[1:]))["pgd"]
    e, k, a = tf.constant(eps, tf.float32), tf.constant(steps), tf.constant(step_size, tf.float32)
    best = np.empty_like(x)
    for b, s in enumerate(_batches(len(x), batch_size)):
        xb, yb = tf.constant(x[s]), tf.constant(y[s])
        x_adv, loss, correct = fn(xb, yb, e, k, a, tf.constant([int(seed), b], tf.int32),
                                  tf.constant(bool(random_start)))
        best_adv, best_loss, best_broken = x_adv.numpy(), loss.numpy(), ~correct.numpy()
        for r in range(1, restarts):
            todo = np.flatnonzero(~best_broken)  # broken examples stay broken: restart only the others
            if len(todo) == 0:
                break
            seed_t = tf.constant([int(seed), 1_000_003 * r + b], tf.int32)
            x_adv, loss, correct = fn(tf.gather(xb, todo), tf.gather(yb, todo), e, k, a, seed_t,
                                      tf.constant(True))
            x_adv, loss, broken = x_adv.numpy(), loss.numpy(), ~correct.numpy()
            _keep_stronger(todo, x_adv, loss, broken, best_adv, best_loss, best_broken)
        best[s] = best_adv
    assert_in_threat_model(x, best, eps)
    return best


APGD_LOSSES = ("ce", "dlr")


def dlr_loss(logits, y):
    """Croce & Hein's difference-of-logits ratio, per example: −(z_y − max_{i≠y} z_i) / (z_π1 − z_π3).

    It does not change when the logits are scaled or shifted, so a saturated softmax cannot hide it."""
    logits = tf.convert_to_tensor(logits, tf.float32)
    y = tf.cast(y, tf.int32)
    z_y = tf.gather(logits, y, axis=1, batch_dims=1)
    others = tf.where(tf.one_hot(y, tf.shape(logits)[1]) > 0, tf.float32.min, logits)
    top = tf.math.top_k(logits, k=3).values
    return -(z_y - tf.reduce_max(others, axis=1)) / (top[:, 0] - top[:, 2] + 1e-12)


def dlr_targeted_loss(logits, y, target):
    """Croce & Hein's targeted DLR loss, per example: −(z_y − z_t) / (z_π1 − (z_π3 + z_π4)/2), for the
    true class y and a target class t ≠ y; it rises as z_t closes in on z_y (arXiv 2003.01690, §4, and
    ``APGDAttack_targeted.dlr_loss_targeted`` in fra31/auto-attack's ``autoattack/autopgd_base.py``).

    Like ``dlr_loss`` it ignores a shift or a positive scaling of the logits; it needs at least 4 classes."""
    logits = tf.convert_to_tensor(logits, tf.float32)
    z_y = tf.gather(logits, tf.cast(y, tf.int32), axis=1, batch_dims=1)
    z_t = tf.gather(logits, tf.cast(target, tf.int32), axis=1, batch_dims=1)
    top = tf.math.top_k(logits, k=4).values
    return -(z_y - z_t) / (top[:, 0] - 0.5 * (top[:, 2] + top[:, 3]) + 1e-12)


def margin(logits, y) -> np.ndarray:
    """Per example z_y − max_{i≠y} z_i: negative exactly when the example is misclassified."""
    logits = np.asarray(logits, np.float32)
    y = np.asarray(y)
    z_y = logits[np.arange(len(y)), y]
    others = logits.copy()
    others[np.arange(len(y)), y] = -np.inf
    return z_y - others.max(axis=1)


def apgd_checkpoints(steps: int) -> list[int]:
    """The iterations w_j where APGD may halve its step: p_0 = 0, p_1 = 0.22,
    p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06), w_j = ⌈p_j · steps⌉ (Croce & Hein 2020, §3.2)."""
    steps = _check_positive_int("steps", steps)
    p = [0.0, 0.22]
    while p[-1] + max(p[-1] - p[-2] - 0.03, 0.06) <= 1.0:
        p.append(p[-1] + max(p[-1] - p[-2] - 0.03, 0.06))
    ws = (math.ceil(round(q * steps, 6)) for q in p[1:])      # round: 0.22 · 100 is 22.000000000000004
    return sorted({wj for wj in ws if 0 < wj < steps})


def _apgd_fn(model: keras.Model, image_shape: tuple[int, ...], loss: str) -> Callable:
    """Compiled per-example loss, input gradient and logits for APGD (any batch size): ``fn(x, y)`` for
    the losses "ce" and "dlr", ``fn(x, y, target)`` for the targeted DLR loss "dlr-t"."""
    fns = _compiled(model, image_shape)
    key = f"apgd_{loss}"
    if key not in fns:
        xs = tf.TensorSpec((None, *image_shape), tf.float32)
        labels = tf.TensorSpec((None,), tf.int32)

        def value_grad(x, y, target):
            with tf.GradientTape() as tape:
                tape.watch(x)
                logits = model(x, training=False)
                if loss == "ce":
                    value = keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
                elif loss == "dlr":
                    value = dlr_loss(logits, y)
                else:
                    value = dlr_targeted_loss(logits, y, target)
            return value, tape.gradient(value, x), logits

        if loss == "dlr-t":
            @tf.function(input_signature=[xs, labels, labels])
            def loss_grad(x, y, target):
                return value_grad(x, y, target)
        else:
            @tf.function(input_signature=[xs, labels])
            def loss_grad(x, y):
                return value_grad(x, y, None)

        fns[key] = loss_grad
    return fns[key]


def apgd_start(x: np.ndarray, eps: float, rng: np.random.Generator) -> np.ndarray:
    """APGD's random start: a uniform draw scaled so that its largest pixel change is ε, then clipped
    to [0, 1] (the first draw from ``rng``, as in ``apgd(..., seed)``)."""
    t = rng.uniform(-1.0, 1.0, x.shape).astype(np.float32)
    t /= np.maximum(np.abs(t).reshape(len(x), -1).max(1), 1e-12).reshape((len(x),) + (1,) * (x.ndim - 1))
    return np.clip(x + eps * t, 0.0, 1.0).astype(np.float32)


def _apgd_run(fn, x, y, eps, steps, checkpoints, rho, momentum, rng, target=None):
    """One APGD run on a batch (numpy): Croce & Hein's Algorithm 1, every example with its own step size,
    momentum and checkpoint decisions. Returns the point to keep per example (its first misclassified
    iterate, else its best point x_max), whether it is broken, and f_max. ``target`` (one class per
    example) goes to a targeted loss, ``fn(x, y, target)``; an example is broken when misclassified as any
    class, targeted or not, as in the reference.

    At a checkpoint w_j an example's step η halves, and it restarts from its best point x_max, when
    condition 1 holds (fewer than ρ·(w_j − w_{j−1}) of its steps since w_{j−1} raised f) or condition 2
    does (η was *not* halved at w_{j−1} and f_max has not risen since w_{j−1}). As in the reference, an
    example counts as "halved at the previous checkpoint" before the first one, so condition 2 cannot fire
    at w_1, nor at the checkpoint right after a halving. The momentum term x⁽ᵏ⁾ − x⁽ᵏ⁻¹⁾ is per example:
    a halving leaves the other examples' untouched, and for the example that restarts it becomes
    x_max − x⁽ᵏ⁻¹⁾ (Algorithm 1 replaces x⁽ᵏ⁾ by x_max, and the reference keeps x⁽ᵏ⁻¹⁾).
    """
    n = len(x)
    x_k = apgd_start(x, eps, rng)
    lo, hi = np.maximum(x - eps, 0.0), np.minimum(x + eps, 1.0)

    extra = () if target is None else (tf.constant(np.asarray(target, np.int32)),)

    def evaluate(z):
        f, g, logits = fn(tf.constant(z), tf.constant(y), *extra)
        return f.numpy(), g.numpy(), np.argmax(logits.numpy(), -1) != y

    f_k, g_k, broken = evaluate(x_k)
    x_best, f_best, g_best = x_k.copy(), f_k.copy(), g_k.copy()   # x_max, f_max and ∇f(x_max)
    x_broken = x_k.copy()
    shape = (n,) + (1,) * (x.ndim - 1)
    eta = np.full(n, 2.0 * eps, np.float32)          # η⁽⁰⁾ = 2ε, one step size per example
    x_prev = x_k                                     # x⁽ᵏ⁻¹⁾ (unused at k = 0: no momentum on step 1)
    increases = np.zeros(n, np.int32)                # steps since the last checkpoint that raised f
    last_w = 0
    halved_last = np.ones(n, bool)                   # η halved at the last checkpoint (True before w_1)
    f_best_last = f_best.copy()                      # f_max at the last checkpoint
    for k in range(steps):
        z = np.clip(x_k + eta.reshape(shape) * np.sign(g_k), lo, hi)
        if k == 0:
            x_new = z
        else:                                        # momentum: α = 0.75 on the new step
            x_new = np.clip(x_k + momentum * (z - x_k) + (1 - momentum) * (x_k - x_prev), lo, hi)
        f_new, g_new, broken_new = evaluate(x_new)
        newly = broken_new & ~broken
        x_broken[newly] = x_new[newly]
        broken |= broken_new
        increases += f_new > f_k
        better = f_new > f_best
        x_best[better], f_best[better], g_best[better] = x_new[better], f_new[better], g_new[better]
        x_prev, x_k, f_k, g_k = x_k, x_new, f_new, g_new
        if k + 1 in checkpoints:
            w = k + 1
            cond1 = increases < rho * (w - last_w)
            cond2 = ~halved_last & (f_best <= f_best_last)
            halve = cond1 | cond2
            eta[halve] /= 2.0
            if halve.any():                          # those examples restart from x_max; x_prev stays
                x_k, f_k, g_k = x_k.copy(), f_k.copy(), g_k.copy()
                x_k[halve], f_k[halve], g_k[halve] = x_best[halve], f_best[halve], g_best[halve]
            increases[:] = 0
            last_w, halved_last, f_best_last = w, halve, f_best.copy()
    out = np.where(broken.reshape(shape), x_broken, x_best)
    return out, broken, f_best


def _apgd_restarts(fn, x, y, eps, steps, checkpoints, rho, momentum, rng,
                   restarts) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """APGD with restarts on a batch: yields, after each of the ``restarts`` runs, the running best per
    example (point, broken, f_max), arrays updated in place. Run r + 1 starts afresh on the examples that
    runs 1..r left unbroken (none: no run, no random draw), so "broken" after run r is the worst case over
    runs 1..r, a running minimum of robust accuracy that costs one set of runs for every r."""
    out, broken, f_best = _apgd_run(fn, x, y, eps, steps, checkpoints, rho, momentum, rng)
    yield out, broken, f_best
    for _ in range(1, restarts):
        todo = np.flatnonzero(~broken)
        if len(todo):
            o2, b2, f2 = _apgd_run(fn, x[todo], y[todo], eps, steps, checkpoints, rho, momentum, rng)
            _keep_stronger(todo, o2, f2, b2, out, f_best, broken)
        yield out, broken, f_best


def _check_apgd_settings(steps: int, rho: float, momentum: float) -> int:
    """APGD's shared settings: a whole number of steps ≥ 1, ρ in (0, 1), momentum in (0, 1]."""
    steps = _check_positive_int("steps", steps)
    if not 0 < rho < 1 or not 0 < momentum <= 1:
        raise ValueError(f"rho={rho} must be in (0, 1) and momentum={momentum} in (0, 1] "
                         "(Croce & Hein use 0.75 for both).")
    return steps


def apgd(model: keras.Model, x, y, eps: float, loss: str = "ce", steps: int = 100, restarts: int = 1,
         rho: float = 0.75, momentum: float = 0.75, seed: int = 0,
         batch_size: int = DEFAULT_BATCH) -> np.ndarray:
    """Auto-PGD (Croce & Hein 2020, arXiv 2003.01690, Algorithm 1): signed steps with momentum 0.75 and a
    step size that starts at 2ε and halves at checkpoints where the loss stopped rising; ``loss`` "ce"
    (cross-entropy) or "dlr".

    Per example it returns a point that is misclassified if any iterate of any restart was, else the point
    of highest loss (the random start included), so it is never weaker than its own start.

    Written from the paper and checked against the reference implementation, fra31/auto-attack,
    ``autoattack/autopgd_base.py`` (``APGDAttack.attack_single_run``, L∞): the same start (a uniform draw
    scaled to a largest change of ε), η⁽⁰⁾ = 2ε, α = 0.75 (none on the first step), per-example step sizes,
    condition 2 blocked at the first checkpoint and right after a halving (its ``reduced_last_check``
    starts at 1), and a halving restarts that example alone from x_max. Three details follow the paper
    where the reference differs: the checkpoints are w_j = ⌈p_j·N⌉ (the reference truncates the interval
    lengths, int(0.22 N) then minus int(0.03 N) down to int(0.06 N), the same for N = 100); condition 1 is
    "fewer than" ρ·(w_j − w_{j−1}) increases (the reference halves at "at most"); and a step's increase is
    judged against the point it started from, x⁽⁰⁾ for the first and x_max after a restart (the reference
    compares the first with 0 and the first after a restart with the loss at the point it left)."""
    eps = _check_eps(eps)
    x, y = _check_data(x, y)
    if loss not in APGD_LOSSES:
        raise ValueError(f"loss={loss!r} is not known; choose one of {', '.join(APGD_LOSSES)} "
                         "(the targeted DLR loss is apgd_targeted).")
    steps = _check_apgd_settings(steps, rho, momentum)
    restarts = _check_positive_int("restarts", restarts)
    batch_size = _check_positive_int("batch_size", batch_size)
    fn = _apgd_fn(model, tuple(x.shape[1:]), loss)
    checkpoints = set(apgd_checkpoints(steps))
    rng = np.random.default_rng(seed)
    best = np.empty_like(x)
    for s in _batches(len(x), batch_size):
        runs = _apgd_restarts(fn, x[s], y[s], eps, steps, checkpoints, rho, momentum, rng, restarts)
        best[s] = [out for out, _, _ in runs][-1]              # the running best after the last restart
    assert_in_threat_model(x, best, eps)
    return best


def _check_targets(targets: int, n_classes: int) -> int:
    """APGD-T's number of target classes: 1 to (number of classes − 1), and the loss needs 4 classes."""
    if n_classes < 4:
        raise ValueError(f"the targeted DLR loss needs at least 4 classes (it reads z_π4), the model has "
                         f"{n_classes}.")
    if (isinstance(targets, bool) or not isinstance(targets, (int, np.integer))
            or not 1 <= targets <= n_classes - 1):
        raise ValueError(f"targets={targets!r} is not allowed: the model has {n_classes} classes, so a "
                         f"whole number from 1 to {n_classes - 1} (the classes other than the true one; "
                         "AutoAttack uses 9).")
    return int(targets)


def apgd_targeted(model: keras.Model, x, y, eps: float, targets: int = 9, steps: int = 100,
                  rho: float = 0.75, momentum: float = 0.75, seed: int = 0,
                  batch_size: int = DEFAULT_BATCH) -> np.ndarray:
    """APGD-T, as AutoAttack's standard version runs it (Croce & Hein 2020, arXiv 2003.01690, §4): for
    k = 1..``targets``, one APGD run of ``steps`` steps on the targeted DLR loss ``dlr_targeted_loss`` with
    target t = the class of the k-th largest non-true logit of the clean image; run k attacks only the
    examples that runs 1..k−1 left correctly classified. An example counts as broken when it is
    misclassified as any class, not only as t.

    Per example it returns the first misclassified iterate of the run that broke it, else the point of
    highest targeted loss over the runs; a clean mistake is returned unchanged (there is nothing to break).
    Written from the paper and checked against the reference, fra31/auto-attack,
    ``autoattack/autopgd_base.py`` (``APGDAttack_targeted.perturb`` and ``dlr_loss_targeted``: targets are
    the 2nd..10th largest clean logits of the examples still correct, ``n_target_classes = 9`` and one
    restart per target in ``set_version("standard")``). Each run is ``apgd``'s loop (same start, step
    sizes, checkpoints); the random starts come from one generator seeded with ``seed``."""
    eps = _check_eps(eps)
    x, y = _check_data(x, y)
    _check_labels(model, y)
    n_classes = int(model.output_shape[-1])
    targets = _check_targets(targets, n_classes)
    steps = _check_apgd_settings(steps, rho, momentum)
    batch_size = _check_positive_int("batch_size", batch_size)
    image_shape = tuple(x.shape[1:])
    fn = _apgd_fn(model, image_shape, "dlr-t")
    logits_fn = _compiled(model, image_shape)["logits"]
    checkpoints = set(apgd_checkpoints(steps))
    rng = np.random.default_rng(seed)
    best = x.copy()
    for s in _batches(len(x), batch_size):
        xb, yb = x[s], y[s]
        z = logits_fn(tf.constant(xb)).numpy()
        broken = np.argmax(z, -1) != yb                          # clean mistakes: already broken
        z[np.arange(len(yb)), yb] = -np.inf
        ranked = np.argsort(-z, axis=1, kind="stable")[:, :n_classes - 1]   # non-true classes, largest first
        out, f_best = xb.copy(), np.full(len(xb), -np.inf, np.float32)
        for k in range(targets):
            todo = np.flatnonzero(~broken)
            if len(todo) == 0:
                break
            o, b, f = _apgd_run(fn, xb[todo], yb[todo], eps, steps, checkpoints, rho, momentum, rng,
                                target=ranked[todo, k])
            _keep_stronger(todo, o, f, b, out, f_best, broken)
        best[s] = out
    assert_in_threat_model(x, best, eps)
    return best


def square_schedule(p_init: float, it: int, queries: int) -> float:
    """Square attack's share of pixels changed per query: p_init, halved at 10, 50, 200, 500, 1000, 2000,
    4000, 6000 and 8000 of 10,000 queries (rescaled to ``queries``; Andriushchenko et al. 2020)."""
    i = int(it / queries * 10_000)
    for k, bound in enumerate((10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)):
        if i <= bound:
            return p_init / 2**k
    return p_init / 2**9


def square(model: keras.Model, x, y, eps: float, queries: int = 1000, p_init: float = 0.8, seed: int = 0,
           batch_size: int = DEFAULT_BATCH) -> np.ndarray:
    """Square attack, L∞ (Andriushchenko et al. 2020, arXiv 1912.00049): a black-box random search that
    uses only the logits, never a gradient. It starts from vertical stripes of ±ε and, for each query,
    sets a random square of side ≈ √(p·h·w) to ±ε per channel, keeping it if the margin z_y − max z_i falls.
    An example stops once it is misclassified."""
    eps = _check_eps(eps)
    x, y = _check_data(x, y)
    queries = _check_positive_int("queries", queries)
    batch_size = _check_positive_int("batch_size", batch_size)
    if not 0 < p_init <= 1:
        raise ValueError(f"p_init={p_init} must be in (0, 1]: the share of pixels changed per query")
    if x.ndim != 4:
        raise ValueError(f"square needs images [N, height, width, channels], got shape {x.shape}")
    logits_fn = _compiled(model, tuple(x.shape[1:]))["logits"]
    rng = np.random.default_rng(seed)
    n, h, w, c = x.shape
    out = np.empty_like(x)
    for s in _batches(n, batch_size):
        xb, yb = x[s], y[s]
        lo, hi = np.maximum(xb - eps, 0.0), np.minimum(xb + eps, 1.0)
        stripes = rng.choice([-eps, eps], size=(len(xb), 1, w, c)).astype(np.float32)
        x_best = np.clip(xb + stripes, lo, hi)
        m_best = margin(logits_fn(tf.constant(x_best)).numpy(), yb)
        clean_m = margin(logits_fn(tf.constant(xb)).numpy(), yb)
        worse = clean_m < m_best                     # the stripes helped nobody: start at x itself
        x_best[worse], m_best[worse] = xb[worse], clean_m[worse]
        for it in range(queries - 1):
            todo = np.flatnonzero(m_best > 0)
            if len(todo) == 0:
                break
            side = int(round(math.sqrt(square_schedule(p_init, it, queries) * h * w)))
            side = min(max(side, 1), h - 1)
            rows = rng.integers(0, h - side + 1, len(todo))
            cols = rng.integers(0, w - side + 1, len(todo))
            signs = rng.choice([-eps, eps], size=(len(todo), 1, 1, c)).astype(np.float32)
            r, q = np.arange(h)[None, :, None, None], np.arange(w)[None, None, :, None]
            window = ((r >= rows[:, None, None, None]) & (r < rows[:, None, None, None] + side)
                      & (q >= cols[:, None, None, None]) & (q < cols[:, None, None, None] + side))
            cand = np.clip(np.where(window, xb[todo] + signs, x_best[todo]), lo[todo], hi[todo])
            m = margin(logits_fn(tf.constant(cand)).numpy(), yb[todo])
            better = m < m_best[todo]
            x_best[todo[better]], m_best[todo[better]] = cand[better], m[better]
        out[s] = x_best
    assert_in_threat_model(x, out, eps)
    return out


Attack = Callable[[keras.Model, np.ndarray, np.ndarray, float], np.ndarray]


@dataclass
class RobustResult:
    """Accuracies under attack: ``robust`` counts an example only if no attack breaks it.

    ``per_attack[name]`` is that attack's own accuracy for an attack run on every example, and the accuracy
    left after it (the worst case over it and every attack before it) for one in ``on_survivors``, which
    ran only on the examples still robust; ``attacked[name]`` is how many examples each attack ran on."""

    clean: float
    robust: float
    per_attack: dict[str, float]
    correct: np.ndarray = field(repr=False)  # per example: True when clean and every attack got it right
    attacked: dict[str, int] = field(default_factory=dict)
    on_survivors: tuple[str, ...] = ()

    def __float__(self) -> float:
        return self.robust


def _survivor_names(only_survivors: bool | str | Collection[str], names: list[str]) -> tuple[str, ...]:
    """The attacks that ``robust_accuracy`` runs on the survivors only, checked against ``names``."""
    if isinstance(only_survivors, bool):
        return tuple(names) if only_survivors else ()
    chosen = (only_survivors,) if isinstance(only_survivors, str) else tuple(only_survivors)
    unknown = [c for c in chosen if c not in names]
    if unknown:
        raise ValueError(f"only_survivors names {unknown}, which are not attacks here: give True, False "
                         f"or some of {names}.")
    return tuple(n for n in names if n in chosen)


def robust_accuracy(model: keras.Model, x, y, attacks: Mapping[str, Attack] | Sequence[Attack],
                    eps: float, batch_size: int = DEFAULT_BATCH,
                    only_survivors: bool | str | Collection[str] = False) -> RobustResult:
    """Accuracy when each example faces every attack: broken by any (or misclassified clean) = wrong.

    ``attacks`` maps names to ``attack(model, x, y, eps) -> x_adv`` (a list gets names attack_0, …), run in
    order. By default each runs on every example. ``only_survivors`` (True: all of them; or some names)
    runs those attacks only on the examples still robust when their turn comes, as AutoAttack runs its
    attacks: an example already broken stays broken whatever a later attack does, so the worst case
    ``robust`` is the same attack for a fraction of the cost (equal per example for attacks whose result on
    an example does not depend on the rest of the batch; random attacks then draw other random numbers)."""
    eps = _check_eps(eps)
    x, y = _check_data(x, y)
    _check_labels(model, y)
    if not isinstance(attacks, Mapping):
        attacks = {f"attack_{i}": a for i, a in enumerate(attacks)}
    if not attacks:
        raise ValueError("attacks is empty; give at least one, e.g. {'pgd': gh.adversarial.pgd}")
    on_survivors = _survivor_names(only_survivors, list(attacks))
    clean_ok = predict(model, x, batch_size) == y
    ok = clean_ok.copy()
    per_attack, attacked = {}, {}
    for name, attack in attacks.items():
        rows = np.flatnonzero(ok) if name in on_survivors else slice(None)
        xs, ys = x[rows], y[rows]                      # every example: views of x and y, no copies
        attacked[name] = len(xs)
        survived = np.zeros(len(x), bool)
        if len(xs):
            x_adv = np.asarray(attack(model, xs, ys, eps), np.float32)
            assert_in_threat_model(xs, x_adv, eps)
            survived[rows] = clean_ok[rows] & (predict(model, x_adv, batch_size) == ys)
        ok &= survived
        per_attack[name] = float(survived.mean())   # on survivors only: the same as ok, what is left
    return RobustResult(float(clean_ok.mean()), float(ok.mean()), per_attack, ok, attacked, on_survivors)
