"""Checks for notebook 08 (adversarial examples)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._common import ExerciseFailed, _call, _numpy, _passed


def _linear_case(seed: int = 0):
    """A fixed 6-input, 3-class linear model on points in [0, 1] (some at the edges 0 and 1)."""
    import keras

    rng = np.random.default_rng(seed)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3)])
    model.set_weights([rng.normal(size=(6, 3)).astype("float32"), rng.normal(size=3).astype("float32")])
    x = rng.uniform(0, 1, size=(40, 6)).astype("float32")
    x[:10, :3], x[10:20, 3:] = 0.0, 1.0
    y = rng.integers(0, 3, size=40).astype("int32")
    return model, x, y


def check_fgsm(fn: Callable) -> bool:
    """``fn(model, x, y, eps)`` must return clip(x + eps·sign(∇ₓ CE(model(x), y)), 0, 1)."""
    import tensorflow as tf

    from .. import adversarial

    model, x, y = _linear_case()
    for eps in (0.1, 0.3):
        got = _numpy(_call(fn, model, x, y, eps))
        want = adversarial.fgsm(model, x, y, eps).astype(np.float64)
        if got.shape != want.shape:
            raise ExerciseFailed(f"for x of shape {x.shape} your x_adv has shape {got.shape}.")
        if np.allclose(got, want, atol=1e-5):
            continue
        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            loss = tf.keras.losses.sparse_categorical_crossentropy(y, model(xt, training=False),
                                                                   from_logits=True)
        grad = tape.gradient(loss, xt).numpy()
        pred = np.argmax(model(x, training=False).numpy(), -1)
        if np.abs(got - x).max() > eps + 1e-5:
            hint = f"it moves pixels by up to {np.abs(got - x).max():.3f}, more than ε = {eps}."
        elif got.min() < -1e-6 or got.max() > 1 + 1e-6:
            hint = "pixels left [0, 1]: clip x + ε·sign(g) to the pixel range."
        elif np.allclose(got, np.clip(x - eps * np.sign(grad), 0, 1), atol=1e-5):
            hint = "the step goes the wrong way: FGSM climbs the loss, x + ε·sign(∇ₓ loss)."
        elif np.allclose(got, np.clip(x + eps * grad, 0, 1), atol=1e-5):
            hint = "use the sign of the gradient, ε·sign(g), not ε·g: every pixel moves by ε."
        elif np.allclose(got, adversarial.fgsm(model, x, pred, eps), atol=1e-5):
            hint = "use the true labels y, not the model's predictions."
        else:
            hint = "compute g = ∇ₓ of the cross-entropy of the logits with the true labels, then " \
                   "clip(x + ε·sign(g), 0, 1)."
        raise ExerciseFailed(f"for a small linear model at ε = {eps} your x_adv differs from FGSM by up "
                             f"to {np.abs(got - want).max():.3f}; {hint}")
    return _passed("FGSM")


def check_projection(fn: Callable) -> bool:
    """``fn(x_adv, x, eps)`` must return the nearest image to x_adv in the ε-ball around x within [0, 1]."""
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, size=(50, 8)).astype("float32")
    x[:10], x[10:20] = 0.0, 1.0
    x_adv = (x + rng.uniform(-0.8, 0.8, size=x.shape)).astype("float32")
    for eps in (0.1, 0.3):
        got = _numpy(_call(fn, x_adv, x, eps))
        want = np.clip(np.clip(x_adv, x - eps, x + eps), 0, 1)
        if got.shape != want.shape:
            raise ExerciseFailed(f"for inputs of shape {x.shape} your result has shape {got.shape}.")
        if np.allclose(got, want, atol=1e-6):
            continue
        if np.allclose(got, np.clip(x_adv, x - eps, x + eps), atol=1e-6):
            hint = "the ε-ball is right, but pixels left [0, 1]: clip to the pixel range as well."
        elif np.allclose(got, np.clip(x_adv, 0, 1), atol=1e-6):
            hint = "pixels are in [0, 1], but the image left the ε-ball: clip to [x − ε, x + ε] too."
        elif np.allclose(got, np.clip(x_adv, -eps, eps), atol=1e-6):
            hint = "the ball is around x, not around 0: clip x_adv to [x − ε, x + ε]."
        else:
            hint = "clip each pixel to [x − ε, x + ε], then to [0, 1]."
        raise ExerciseFailed(f"at ε = {eps} your projection is off by up to {np.abs(got - want).max():.3f}; "
                             f"{hint}")
    return _passed("projection onto the ε-ball and the pixel range")


def check_broken_by_any(fn: Callable) -> bool:
    """``fn(clean_correct, attack_correct)`` (bool [N] and bool [attacks, N]) must return the share of
    examples classified right clean and under every attack."""
    clean = np.array([1, 1, 1, 1, 0, 1, 0], bool)
    attacks = np.array([[1, 0, 1, 1, 1, 1, 1], [1, 1, 0, 1, 1, 0, 1]], bool)
    want = 2 / 7
    got = float(_call(fn, clean, attacks))
    if not np.isclose(got, want, atol=1e-9):
        each = [(clean & a).mean() for a in attacks]
        hints = {round(attacks.all(0).mean(), 6): "an example misclassified without any attack is "
                                                  "broken too: require clean_correct as well.",
                 round(min(each), 6): "the worst single attack is not enough: one example may be broken "
                                      "by attack A only and another by attack B only.",
                 round(float(np.mean(each)), 6): "averaging the attacks' accuracies is not a worst case: "
                                                 "an example counts only if it survives every attack.",
                 round((clean & attacks.any(0)).mean(), 6): "surviving one attack is not enough: use "
                                                            "'all attacks correct', not 'any'."}
        hint = hints.get(round(got, 6), "robust accuracy = mean(clean_correct & all attacks correct).")
        raise ExerciseFailed(f"for 7 examples and 2 attacks the robust accuracy is {want:.4f}, yours is "
                             f"{got:.4f}; {hint}")
    rng = np.random.default_rng(0)
    clean, attacks = rng.random(1000) < 0.9, rng.random((3, 1000)) < 0.7
    want = float((clean & attacks.all(0)).mean())
    got = float(_call(fn, clean, attacks))
    if not np.isclose(got, want, atol=1e-9):
        raise ExerciseFailed(f"for 1000 examples and 3 attacks the robust accuracy is {want:.4f}, yours is "
                             f"{got:.4f}; does it work for any number of attacks?")
    return _passed("robust accuracy (broken by any attack)")


def check_dlr(fn: Callable) -> bool:
    """``fn(logits, y)`` (float [N, C] logits, int [N] labels) must return the per-example DLR loss
    −(z_y − max_{i≠y} z_i) / (z_π1 − z_π3) of Croce & Hein (2020), equation (9) of notebook 08."""
    rng = np.random.default_rng(5)
    z = (rng.normal(size=(64, 10)) * 3).astype(np.float32)
    y = rng.integers(0, 10, 64).astype(np.int32)
    z[:8, :] = np.arange(10, dtype=np.float32)[::-1]      # ties broken: a clear order
    y[:8] = np.arange(8) % 3                               # the true class first, second or third
    rows = np.arange(len(y))
    top = -np.sort(-z.astype(np.float64), axis=1)
    z_y = z[rows, y].astype(np.float64)
    other = np.where(np.eye(10, dtype=bool)[y], -np.inf, z).max(1)
    want = -(z_y - other) / (top[:, 0] - top[:, 2])
    got = _numpy(_call(fn, z, y))
    if got.shape != want.shape:
        raise ExerciseFailed(f"expected one loss per example, shape {want.shape}, got {got.shape}; do not "
                             "average over the batch.")
    if np.allclose(got, want, rtol=1e-4, atol=1e-5):
        scaled = _numpy(_call(fn, 1000 * z + 7, y))
        if not np.allclose(scaled, want, rtol=1e-3, atol=1e-4):
            raise ExerciseFailed("your loss changes when all logits are scaled by 1000 and shifted by 7; "
                                 "equation (9) must not (use differences of logits, no softmax).")
        return _passed("the DLR loss")
    hints = [(-want, "the sign is flipped: the loss must rise as the true class loses, so put a minus in "
                     "front of the margin."),
             (-(z_y - other) / (top[:, 0] - top[:, 1]), "the denominator uses π₃, the third-largest logit, "
                                                        "not the second."),
             (-(z_y - top[:, 0]) / (top[:, 0] - top[:, 2]), "the maximum in the numerator is over the other "
                                                             "classes i ≠ y, not over all classes."),
             (-(z_y - other), "divide the margin by z_π1 − z_π3, which makes the loss scale-free.")]
    for wrong, hint in hints:
        if np.allclose(got, wrong, rtol=1e-4, atol=1e-5):
            raise ExerciseFailed(f"your DLR loss differs from equation (9): {hint}")
    raise ExerciseFailed(f"your DLR loss is off by up to {np.abs(got - want).max():.3g}; compute "
                         "−(z_y − max_{i≠y} z_i) / (z_π1 − z_π3) per example.")
