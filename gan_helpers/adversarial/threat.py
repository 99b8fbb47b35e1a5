"""The L∞ threat model, pixels in [0, 1]: the input checks every attack runs, ``assert_in_threat_model``,
``project``, the small CNN the attacks are tried on, and the classifier's predictions and accuracy.

It also holds the compiled pieces the attacks and the trainer share (the per-example loss gradient, the
PGD loop, one cache of tf.functions per model), because ``predict`` uses that cache too.
The bottom layer of ``gan_helpers.adversarial``: it imports nothing from the rest of the subpackage.
"""

from __future__ import annotations

import logging
import math
import weakref
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

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
ONE_TRACE_PER_MODEL = ("fgsm_batch", "pgd_batch", "logits_batch", "loss_grad")


class QuietRetracing(logging.Filter):
    """Drops TensorFlow's "frequent retracing" warning for the attack functions above, which trace once
    per model by design (a notebook attacks several models); any other function's warning stays."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not ("triggered tf.function retracing" in message
                    and any(f".{name} at " in message for name in ONE_TRACE_PER_MODEL))


tf.get_logger().addFilter(QuietRetracing())


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
        per_model[image_shape] = fns
    return fns


def _batches(n: int, batch_size: int):
    for start in range(0, n, batch_size):
        yield slice(start, min(n, start + batch_size))


# ----------------------------------------------------------------------------- predictions
def predict(model: keras.Model, x, batch_size: int = DEFAULT_BATCH) -> np.ndarray:
    """Predicted labels (argmax of the logits), inference mode, in batches."""
    x = np.asarray(x, np.float32)
    fn = _compiled(model, tuple(x.shape[1:]))["logits"]
    out = [np.argmax(fn(tf.constant(x[s])).numpy(), -1) for s in _batches(len(x), batch_size)]
    return np.concatenate(out).astype(np.int32)


def accuracy(model: keras.Model, x, y, batch_size: int = DEFAULT_BATCH) -> float:
    """Share of examples whose predicted label equals the true one."""
    return float(np.mean(predict(model, x, batch_size) == np.asarray(y)))

