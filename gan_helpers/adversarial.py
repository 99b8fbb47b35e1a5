"""Adversarial examples and adversarial training under the L∞ threat model, pixels in [0, 1].

Attacks (``fgsm``, ``pgd``, ``apgd`` with the CE or DLR loss, and the black-box ``square``) take a
classifier that returns logits, run it in inference mode on the true labels, and check every result
against the threat model: ‖x_adv − x‖∞ ≤ ε and 0 ≤ x_adv ≤ 1.
``robust_accuracy`` counts an example as broken when any attack breaks it. ``AdversarialTrainer`` is a
``keras.Model`` whose ``train_step`` trains on FGSM, FGSM with random start, or PGD examples.
"""

from __future__ import annotations

import math
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf

MODES = ("fgsm", "fgsm_rs", "pgd")
TOLERANCE = 1e-6  # slack allowed on the ε-ball and the pixel range (float32 rounding)
DEFAULT_BATCH = 500


# ----------------------------------------------------------------------------- the classifier
def build_classifier(width: int = 32, dense: int = 512, name: str = "mnist_cnn") -> keras.Model:
    """A small CNN from 28×28×1 pixels in [0, 1] to 10 logits: two 3×3 conv blocks and one hidden layer
    (wide enough for PGD training at ε = 0.3 to reach about 85% on the bundled digits, notebook 08)."""
    if width < 1 or dense < 1:
        raise ValueError(f"width and dense must be positive, got width={width}, dense={dense}")
    from keras import layers

    return keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(width, 3, activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(2 * width, 3, activation="relu"),
        layers.MaxPooling2D(),
        layers.Flatten(),
        layers.Dense(dense, activation="relu"),
        layers.Dense(10),
    ], name=name)


def to_unit_range(images: np.ndarray) -> np.ndarray:
    """uint8 [N, 28, 28] pixels to float32 [N, 28, 28, 1] in [0, 1], the attacks' pixel scale."""
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise TypeError(f"expected uint8 pixels in 0..255, got dtype {images.dtype}")
    x = images.astype(np.float32) / 255.0
    return x[..., None] if x.ndim == 3 else x


# ----------------------------------------------------------------------------- input checks
def _check_eps(eps: float) -> float:
    try:
        eps = float(eps)
    except (TypeError, ValueError):
        raise ValueError(f"eps={eps!r} must be a number between 0 and 1 (pixels are in [0, 1])") from None
    if not math.isfinite(eps) or eps < 0 or eps > 1:
        raise ValueError(f"eps={eps} is not allowed: the L∞ budget must be between 0 and 1 on pixels in "
                         "[0, 1] (the MNIST convention is 0.3).")
    return eps


def _check_labels(model: keras.Model, y: np.ndarray) -> None:
    """Labels must index the model's outputs: 0 ≤ y < number of classes."""
    k = int(model.output_shape[-1])
    if len(y) and (y.min() < 0 or y.max() >= k):
        raise ValueError(f"y holds labels in [{y.min()}, {y.max()}], but the model has {k} classes: "
                         f"labels must be whole numbers from 0 to {k - 1}.")


def _check_data(x, y) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x)
    y = np.asarray(y)
    if x.dtype == np.uint8:
        raise ValueError("x holds uint8 pixels (0..255); the attacks work on floats in [0, 1]: "
                         "use to_unit_range(x) or x / 255.")
    x = x.astype(np.float32)
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"x must be a non-empty batch of images [N, ...], got shape {x.shape}")
    if not np.isfinite(x).all() or x.min() < 0 or x.max() > 1:
        raise ValueError(f"x must hold pixels in [0, 1], got values in [{np.nanmin(x):.3g}, "
                         f"{np.nanmax(x):.3g}]; images in [-1, 1] map to [0, 1] by (x + 1) / 2.")
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"y must be a 1-D array of integer class labels, got shape {y.shape} and dtype "
                         f"{y.dtype} (use the true labels, not one-hot vectors or predictions).")
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} images but y has {len(y)} labels; they must match one to one.")
    return x, y.astype(np.int32)


def _check_positive_int(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}={value!r} must be a whole number ≥ 1")
    return int(value)


def _check_step_size(step_size: float) -> float:
    step_size = float(step_size)
    if not math.isfinite(step_size) or step_size <= 0:
        raise ValueError(f"step_size={step_size} must be a positive number (Madry et al. use 0.01 "
                         "with 40 steps at eps = 0.3).")
    return step_size


def assert_in_threat_model(x, x_adv, eps: float, tol: float = TOLERANCE) -> None:
    """Raise AssertionError unless ‖x_adv − x‖∞ ≤ eps + tol and every pixel of x_adv is in [0, 1]."""
    x, x_adv = np.asarray(x, np.float32), np.asarray(x_adv, np.float32)
    if x.shape != x_adv.shape:
        raise AssertionError(f"x_adv has shape {x_adv.shape}, x has {x.shape}")
    dist = float(np.abs(x_adv - x).max()) if x.size else 0.0
    if not np.isfinite(x_adv).all():
        raise AssertionError("x_adv holds NaN or inf values")
    if dist > eps + tol:
        raise AssertionError(f"‖x_adv − x‖∞ = {dist:.6g} exceeds eps = {eps:.6g}: the perturbation "
                             "left the ε-ball (a missing projection?)")
    if x_adv.min() < -tol or x_adv.max() > 1 + tol:
        raise AssertionError(f"x_adv has pixels in [{x_adv.min():.4g}, {x_adv.max():.4g}], outside [0, 1] "
                             "(a missing clip to the pixel range?)")


def project(x_adv, x, eps: float):
    """Project onto the ε-ball around x and clip to [0, 1] (the nearest allowed image, per pixel)."""
    return tf.clip_by_value(tf.clip_by_value(x_adv, x - eps, x + eps), 0.0, 1.0)


# ----------------------------------------------------------------------------- compiled pieces
_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _loss_and_grad(model: keras.Model, x, y):
    """Per-example cross-entropy of the logits and its gradient w.r.t. the input, inference mode."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        logits = model(x, training=False)
        loss = keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
    return loss, tape.gradient(loss, x), logits


def _pgd_core(model: keras.Model, x, y, eps, steps, step_size, seed, random_start=True):
    """One PGD run on a batch: random start, signed-gradient steps, projection and clip each step."""
    delta = tf.random.stateless_uniform(tf.shape(x), seed=seed, minval=-1.0, maxval=1.0) * eps
    x_adv = tf.clip_by_value(x + delta * tf.cast(random_start, tf.float32), 0.0, 1.0)

    def step(i, x_adv):
        _, grad, _ = _loss_and_grad(model, x_adv, y)
        return i + 1, project(x_adv + step_size * tf.sign(grad), x, eps)

    _, x_adv = tf.while_loop(lambda i, _: i < steps, step, (tf.constant(0), x_adv))
    return tf.stop_gradient(x_adv)


def _compiled(model: keras.Model, image_shape: tuple[int, ...]) -> dict[str, Callable]:
    """tf.functions for one model and image shape (any batch size), made once per model."""
    per_model = _COMPILED.setdefault(model, {})
    fns = per_model.get(image_shape)
    if fns is None:
        xs = tf.TensorSpec((None, *image_shape), tf.float32)
        ys = tf.TensorSpec((None,), tf.int32)
        scalar, int_scalar = tf.TensorSpec((), tf.float32), tf.TensorSpec((), tf.int32)

        @tf.function(input_signature=[xs, ys, scalar])
        def fgsm_batch(x, y, eps):
            _, grad, _ = _loss_and_grad(model, x, y)
            return project(x + eps * tf.sign(grad), x, eps)

        @tf.function(input_signature=[xs, ys, scalar, int_scalar, scalar, tf.TensorSpec((2,), tf.int32),
                                      tf.TensorSpec((), tf.bool)])
        def pgd_batch(x, y, eps, steps, step_size, seed, random_start):
            x_adv = _pgd_core(model, x, y, eps, steps, step_size, seed, random_start)
            loss, _, logits = _loss_and_grad(model, x_adv, y)
            return x_adv, loss, tf.equal(tf.argmax(logits, -1, output_type=tf.int32), y)

        @tf.function(input_signature=[xs])
        def logits_batch(x):
            return model(x, training=False)

        fns = {"fgsm": fgsm_batch, "pgd": pgd_batch, "logits": logits_batch}
        for fn in fns.values():  # one trace per model is expected, not the "frequent retracing" TF warns of
            fn._omit_frequent_tracing_warning = True
        per_model[image_shape] = fns
    return fns


def _batches(n: int, batch_size: int):
    for start in range(0, n, batch_size):
        yield slice(start, min(n, start + batch_size))


# ----------------------------------------------------------------------------- attacks
def predict(model: keras.Model, x, batch_size: int = DEFAULT_BATCH) -> np.ndarray:
    """Predicted labels (argmax of the logits), inference mode, in batches."""
    x = np.asarray(x, np.float32)
    fn = _compiled(model, tuple(x.shape[1:]))["logits"]
    out = [np.argmax(fn(tf.constant(x[s])).numpy(), -1) for s in _batches(len(x), batch_size)]
    return np.concatenate(out).astype(np.int32)


def accuracy(model: keras.Model, x, y, batch_size: int = DEFAULT_BATCH) -> float:
    """Share of examples whose predicted label equals the true one."""
    return float(np.mean(predict(model, x, batch_size) == np.asarray(y)))


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
    """Compiled per-example loss, input gradient and logits for APGD (any batch size)."""
    fns = _compiled(model, image_shape)
    key = f"apgd_{loss}"
    if key not in fns:
        xs = tf.TensorSpec((None, *image_shape), tf.float32)

        @tf.function(input_signature=[xs, tf.TensorSpec((None,), tf.int32)])
        def loss_grad(x, y):
            with tf.GradientTape() as tape:
                tape.watch(x)
                logits = model(x, training=False)
                if loss == "ce":
                    value = keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
                else:
                    value = dlr_loss(logits, y)
            return value, tape.gradient(value, x), logits

        loss_grad._omit_frequent_tracing_warning = True
        fns[key] = loss_grad
    return fns[key]


def apgd_start(x: np.ndarray, eps: float, rng: np.random.Generator) -> np.ndarray:
    """APGD's random start: a uniform draw scaled so that its largest pixel change is ε, then clipped
    to [0, 1] (the first draw from ``rng``, as in ``apgd(..., seed)``)."""
    t = rng.uniform(-1.0, 1.0, x.shape).astype(np.float32)
    t /= np.maximum(np.abs(t).reshape(len(x), -1).max(1), 1e-12).reshape((len(x),) + (1,) * (x.ndim - 1))
    return np.clip(x + eps * t, 0.0, 1.0).astype(np.float32)


def _apgd_run(fn, x, y, eps, steps, checkpoints, rho, momentum, rng):
    """One APGD run on a batch (numpy): returns the best point per example and whether it is broken."""
    n = len(x)
    x_k = apgd_start(x, eps, rng)
    lo, hi = np.maximum(x - eps, 0.0), np.minimum(x + eps, 1.0)

    def evaluate(z):
        f, g, logits = fn(tf.constant(z), tf.constant(y))
        return f.numpy(), g.numpy(), np.argmax(logits.numpy(), -1) != y

    f_k, g_k, broken_k = evaluate(x_k)
    x_best, f_best = x_k.copy(), f_k.copy()
    x_broken, broken = x_k.copy(), broken_k.copy()
    shape = (n,) + (1,) * (x.ndim - 1)
    eta = np.full(n, 2.0 * eps, np.float32)          # η⁽⁰⁾ = 2ε, one step size per example
    x_prev = x_k
    increases = np.zeros(n, np.int32)                # steps since the last checkpoint that raised f
    last_w, eta_at_w, fbest_at_w = 0, eta.copy(), f_best.copy()
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
        x_best[better], f_best[better] = x_new[better], f_new[better]
        x_prev, x_k, f_k, g_k = x_k, x_new, f_new, g_new
        if k + 1 in checkpoints:
            w = k + 1
            cond1 = increases < rho * (w - last_w)
            cond2 = (eta_at_w == eta) & (fbest_at_w == f_best)
            halve = cond1 | cond2
            eta[halve] /= 2.0
            if halve.any():                          # restart from the best point so far
                x_k = x_k.copy()
                x_k[halve] = x_best[halve]
                f_k, g_k, _ = evaluate(x_k)
                x_prev = x_k.copy()
            increases[:] = 0
            last_w, eta_at_w, fbest_at_w = w, eta.copy(), f_best.copy()
    out = np.where(broken.reshape(shape), x_broken, x_best)
    return out, broken, f_best


def apgd(model: keras.Model, x, y, eps: float, loss: str = "ce", steps: int = 100, restarts: int = 1,
         rho: float = 0.75, momentum: float = 0.75, seed: int = 0,
         batch_size: int = DEFAULT_BATCH) -> np.ndarray:
    """Auto-PGD (Croce & Hein 2020): signed steps with momentum 0.75 and a step size that starts at 2ε and
    halves at checkpoints where the loss stopped rising; ``loss`` "ce" (cross-entropy) or "dlr".

    Per example it returns a point that is misclassified if any iterate of any restart was, else the point
    of highest loss (the random start included), so it is never weaker than its own start."""
    eps = _check_eps(eps)
    x, y = _check_data(x, y)
    if loss not in APGD_LOSSES:
        raise ValueError(f"loss={loss!r} is not known; choose one of {', '.join(APGD_LOSSES)}.")
    steps = _check_positive_int("steps", steps)
    restarts = _check_positive_int("restarts", restarts)
    batch_size = _check_positive_int("batch_size", batch_size)
    if not 0 < rho < 1 or not 0 < momentum <= 1:
        raise ValueError(f"rho={rho} must be in (0, 1) and momentum={momentum} in (0, 1] "
                         "(Croce & Hein use 0.75 for both).")
    fn = _apgd_fn(model, tuple(x.shape[1:]), loss)
    checkpoints = set(apgd_checkpoints(steps))
    rng = np.random.default_rng(seed)
    best = np.empty_like(x)
    for s in _batches(len(x), batch_size):
        xb, yb = x[s], y[s]
        out, broken, f_best = _apgd_run(fn, xb, yb, eps, steps, checkpoints, rho, momentum, rng)
        for _ in range(1, restarts):
            todo = np.flatnonzero(~broken)
            if len(todo) == 0:
                break
            o2, b2, f2 = _apgd_run(fn, xb[todo], yb[todo], eps, steps, checkpoints, rho, momentum, rng)
            _keep_stronger(todo, o2, f2, b2, out, f_best, broken)
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
    """Accuracies under attack: ``robust`` counts an example only if no attack breaks it."""

    clean: float
    robust: float
    per_attack: dict[str, float]
    correct: np.ndarray = field(repr=False)  # per example: True when clean and every attack got it right

    def __float__(self) -> float:
        return self.robust


def robust_accuracy(model: keras.Model, x, y, attacks: Mapping[str, Attack] | Sequence[Attack],
                    eps: float, batch_size: int = DEFAULT_BATCH) -> RobustResult:
    """Accuracy when each example faces every attack: broken by any (or misclassified clean) = wrong.

    ``attacks`` maps names to ``attack(model, x, y, eps) -> x_adv`` (a list gets names attack_0, …)."""
    eps = _check_eps(eps)
    x, y = _check_data(x, y)
    _check_labels(model, y)
    if not isinstance(attacks, Mapping):
        attacks = {f"attack_{i}": a for i, a in enumerate(attacks)}
    if not attacks:
        raise ValueError("attacks is empty; give at least one, e.g. {'pgd': gh.adversarial.pgd}")
    clean_ok = predict(model, x, batch_size) == y
    ok = clean_ok.copy()
    per_attack = {}
    for name, attack in attacks.items():
        x_adv = np.asarray(attack(model, x, y, eps), np.float32)
        assert_in_threat_model(x, x_adv, eps)
        survived = clean_ok & (predict(model, x_adv, batch_size) == y)
        per_attack[name] = float(survived.mean())
        ok &= survived
    return RobustResult(float(clean_ok.mean()), float(ok.mean()), per_attack, ok)


# ----------------------------------------------------------------------------- adversarial training
class CyclicRate(keras.optimizers.schedules.LearningRateSchedule):
    """Wong et al.'s (2020) cyclic learning rate for fast adversarial training: linear from 0 to ``peak``
    over the first 40% of ``total_steps``, then linearly back to 0 (and 0 after ``total_steps``)."""

    def __init__(self, peak: float, total_steps: int):
        if not peak > 0:
            raise ValueError(f"peak must be a positive learning rate, got {peak!r}")
        if not isinstance(total_steps, (int, np.integer)) or total_steps < 1:
            raise ValueError(f"total_steps must be a positive integer, got {total_steps!r}")
        self.peak, self.total, self.up = float(peak), float(total_steps), 0.4 * total_steps

    def __call__(self, step):
        t = keras.ops.cast(step, "float32")
        return self.peak * keras.ops.where(t < self.up, t / self.up,
                                           keras.ops.maximum(0.0, (self.total - t) / (self.total - self.up)))

    def get_config(self) -> dict:
        return {"peak": self.peak, "total_steps": int(self.total)}


class AdversarialTrainer(keras.Model):
    """Trains ``classifier`` with ``fit`` on adversarial examples made fresh for every batch.

    ``mode``: "fgsm" (Goodfellow et al. 2015), "fgsm_rs" (FGSM from a uniform random start with step
    ``alpha`` = 1.25 ε, the gradient taken at the start before any clip to [0, 1] unless ``clip_start``,
    as in Wong et al. 2020) or "pgd" (Madry et al. 2018: ``steps`` steps of
    ``step_size`` from a random start). The loss is ``clean_weight``·CE(clean) + (1 − clean_weight)·
    CE(adversarial). ``ramp_steps`` > 0 grows ε linearly from 0 over that many optimizer steps (step
    sizes grow with it). ``fit`` reports ``loss``, ``clean_acc`` and ``adv_acc``, and the current ``eps``.
    """

    def __init__(self, classifier: keras.Model, mode: str = "pgd", eps: float = 0.3, steps: int = 40,
                 step_size: float | None = None, alpha: float | None = None, clean_weight: float = 0.0,
                 ramp_steps: int = 0, clip_start: bool = False, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"mode={mode!r} is not known; choose one of {', '.join(MODES)}.")
        eps = _check_eps(eps)
        if not 0.0 <= clean_weight <= 1.0:
            raise ValueError(f"clean_weight={clean_weight} must be between 0 (adversarial loss only) and "
                             "1 (clean loss only).")
        if isinstance(ramp_steps, bool) or int(ramp_steps) != ramp_steps or ramp_steps < 0:
            raise ValueError(f"ramp_steps={ramp_steps!r} must be a whole number ≥ 0 (0: no ramp)")
        self.classifier = classifier
        self.mode = mode
        self.eps = eps
        self.steps = _check_positive_int("steps", steps)
        self.step_size = _check_step_size(step_size if step_size is not None
                                          else 2.5 * max(eps, 1e-3) / self.steps)
        self.alpha = _check_step_size(alpha if alpha is not None else 1.25 * max(eps, 1e-3))
        self.clean_weight = float(clean_weight)
        self.ramp_steps = int(ramp_steps)
        self.clip_start = bool(clip_start)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.clean_acc = keras.metrics.SparseCategoricalAccuracy(name="clean_acc")
        self.adv_acc = keras.metrics.SparseCategoricalAccuracy(name="adv_acc")
        self.eps_tracker = keras.metrics.Mean(name="eps")

    @property
    def metrics(self):
        return [self.loss_tracker, self.clean_acc, self.adv_acc, self.eps_tracker]

    def call(self, x, training=False):
        return self.classifier(x, training=training)

    def current_eps(self):
        """ε for this optimizer step: the full ε, or its linear ramp from 0 over ``ramp_steps``."""
        if self.ramp_steps == 0:
            return tf.constant(self.eps, tf.float32)
        done = tf.cast(self.optimizer.iterations + 1, tf.float32) / float(self.ramp_steps)
        return self.eps * tf.minimum(1.0, done)

    def perturb(self, x, y, eps):
        """The adversarial batch for this mode, made with the classifier in inference mode."""
        x, y = tf.convert_to_tensor(x, tf.float32), tf.cast(y, tf.int32)
        eps = tf.cast(eps, tf.float32)
        scale = eps / self.eps if self.eps > 0 else 0.0  # step sizes follow the ε ramp
        if self.mode == "fgsm":
            _, grad, _ = _loss_and_grad(self.classifier, x, y)
            x_adv = project(x + eps * tf.sign(grad), x, eps)
        elif self.mode == "fgsm_rs":
            delta = keras.random.uniform(tf.shape(x), -1.0, 1.0, seed=self.seed_generator) * eps
            start = x + delta  # Wong et al. take the gradient at the unclipped start
            if self.clip_start:
                start = tf.clip_by_value(start, 0.0, 1.0)
            _, grad, _ = _loss_and_grad(self.classifier, start, y)
            x_adv = project(start + self.alpha * scale * tf.sign(grad), x, eps)
        else:
            seed = keras.random.randint((2,), 0, 2**30, seed=self.seed_generator)
            x_adv = _pgd_core(self.classifier, x, y, eps, self.steps, self.step_size * scale, seed, True)
        return tf.stop_gradient(x_adv)

    def train_step(self, data):
        x, y = data[0], tf.cast(data[1], tf.int32)
        eps = self.current_eps()
        x_adv = self.perturb(x, y, eps)
        with tf.GradientTape() as tape:
            adv_logits = self.classifier(x_adv, training=True)
            loss = tf.reduce_mean(
                keras.losses.sparse_categorical_crossentropy(y, adv_logits, from_logits=True))
            if self.clean_weight > 0:
                clean_logits = self.classifier(x, training=True)
                clean_loss = tf.reduce_mean(
                    keras.losses.sparse_categorical_crossentropy(y, clean_logits, from_logits=True))
                loss = self.clean_weight * clean_loss + (1.0 - self.clean_weight) * loss
        variables = self.classifier.trainable_variables
        self.optimizer.apply(tape.gradient(loss, variables), variables)
        if self.clean_weight == 0:
            clean_logits = self.classifier(x, training=False)
        self.loss_tracker.update_state(loss)
        self.clean_acc.update_state(y, clean_logits)
        self.adv_acc.update_state(y, adv_logits)
        self.eps_tracker.update_state(eps)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        x, y = data[0], tf.cast(data[1], tf.int32)
        logits = self.classifier(x, training=False)
        self.loss_tracker.update_state(
            tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)))
        self.clean_acc.update_state(y, logits)
        return {m.name: m.result() for m in (self.loss_tracker, self.clean_acc)}


class PGDEarlyStopping(keras.callbacks.Callback):
    """Watches PGD and FGSM accuracy on a held-out batch after each epoch (or every ``every_batches``
    batches), stops when PGD accuracy falls ``drop`` below the best seen (catastrophic overfitting, Wong
    et al. 2020), and restores the classifier's best weights when training ends (``restore_best``).
    With ``drop=1`` and ``restore_best=False`` it only records the two curves."""

    def __init__(self, x, y, eps: float = 0.3, steps: int = 10, step_size: float | None = None,
                 drop: float = 0.2, every_batches: int | None = None, seed: int = 0,
                 restore_best: bool = True):
        super().__init__()
        self.x, self.y = _check_data(x, y)
        self.eps = _check_eps(eps)
        self.steps = _check_positive_int("steps", steps)
        self.step_size = _check_step_size(step_size if step_size is not None
                                          else 2.5 * max(eps, 1e-3) / self.steps)
        if not 0 < drop <= 1:
            raise ValueError(f"drop={drop} must be in (0, 1]: the fall in PGD accuracy that stops training")
        self.drop = drop
        self.every_batches = None if every_batches is None else _check_positive_int("every_batches",
                                                                                   every_batches)
        self.seed = seed
        self.restore_best = bool(restore_best)
        self.history: list[float] = []
        self.fgsm_history: list[float] = []
        self.seconds = 0.0  # time spent measuring, so that training time can leave it out
        self.best_acc = -1.0
        self.best_weights: list[np.ndarray] | None = None
        self.stopped = False

    def _classifier(self) -> keras.Model:
        return getattr(self.model, "classifier", self.model)

    def pgd_accuracy(self) -> float:
        """PGD accuracy of the classifier on the held-out batch, as it is now."""
        clf = self._classifier()
        x_adv = pgd(clf, self.x, self.y, self.eps, self.steps, self.step_size, seed=self.seed)
        return accuracy(clf, x_adv, self.y)

    def _watch(self) -> None:
        t0 = time.perf_counter()
        acc = self.pgd_accuracy()
        self.history.append(acc)
        clf = self._classifier()
        self.fgsm_history.append(accuracy(clf, fgsm(clf, self.x, self.y, self.eps), self.y))
        self.seconds += time.perf_counter() - t0
        if acc > self.best_acc:
            self.best_acc = acc
            self.best_weights = [np.array(w) for w in self._classifier().get_weights()]
        elif acc < self.best_acc - self.drop:
            self.stopped = True
            self.model.stop_training = True

    def on_train_batch_end(self, batch, logs=None):
        if self.every_batches and (batch + 1) % self.every_batches == 0 and not self.stopped:
            self._watch()

    def on_epoch_end(self, epoch, logs=None):
        if not self.stopped:
            self._watch()
        if logs is not None and self.history:
            logs["val_pgd_acc"] = self.history[-1]

    def on_train_end(self, logs=None):
        if self.restore_best and self.best_weights is not None:
            self._classifier().set_weights(self.best_weights)
