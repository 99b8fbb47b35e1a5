"""Checks for notebook 04 (the DCGAN's losses and generator); notebook 02 reuses the loss check."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._common import ExerciseFailed, _call, _logit, _passed, _value


def check_generator_loss(fn: Callable) -> bool:
    """``fn(fake_logits)`` must be the non-saturating loss −mean(log σ(l)), stable at any logit."""
    import tensorflow as tf

    for p in (0.01, 0.5, 0.9):
        logits = tf.constant([_logit(p)] * 4, dtype=tf.float32)
        got, want = _value(_call(fn, logits)), -np.log(p)
        if not np.isclose(got, want, rtol=1e-4, atol=1e-5):
            hints = {round(np.log1p(-p), 4): "did you use log(1 − D), the minimax loss, instead of "
                                              "−log D?",
                     round(-np.log1p(-p), 4): "did you compute −log(1 − D)? The generator wants D "
                                               "to call its fakes real: −log D.",
                     round(np.log(p), 4): "the sign is flipped: the loss is −log D, not log D."}
            hint = hints.get(round(got, 4), "compare with softplus(−l), which equals −log σ(l).")
            raise ExerciseFailed(f"for D(G(z)) = {p} (logit {_logit(p):.2f}) your loss is {got:.4f}, "
                                 f"expected {want:.4f}; {hint}")
    got = _value(_call(fn, tf.constant([-200.0, 200.0])))
    if not np.isfinite(got):
        raise ExerciseFailed(f"for logits −200 and 200 your loss is {got}; σ(−200) rounds to 0 in "
                             "float32 and log(0) = −inf. Use the stable form softplus(−l).")
    if not np.isclose(got, 100.0, rtol=1e-4):
        raise ExerciseFailed(f"for logits −200 and 200 your loss is {got:.3f}, expected 100 "
                             "(the mean of 200 and 0).")
    return _passed("non-saturating generator loss")


def check_discriminator_loss(fn: Callable) -> bool:
    """``fn(real_logits, fake_logits)`` must be −mean(log σ(l_real)) − mean(log(1 − σ(l_fake)))."""
    import tensorflow as tf

    real = tf.constant([_logit(0.8), _logit(0.6)], dtype=tf.float32)
    fake = tf.constant([_logit(0.3), _logit(0.1)], dtype=tf.float32)
    want = -np.mean(np.log([0.8, 0.6])) - np.mean(np.log([0.7, 0.9]))
    got = _value(_call(fn, real, fake))
    if not np.isclose(got, want, rtol=1e-4):
        swapped = -np.mean(np.log([0.2, 0.4])) - np.mean(np.log([0.3, 0.1]))
        if np.isclose(got, swapped, rtol=1e-4):
            hint = "the labels are swapped: real images get label 1, fakes label 0."
        elif np.isclose(got, -want, rtol=1e-4):
            hint = "the sign is flipped: D maximises V, so its loss is −V."
        else:
            hint = "it should be softplus(−l_real).mean() + softplus(l_fake).mean()."
        raise ExerciseFailed(f"for D(x) = [0.8, 0.6] and D(G(z)) = [0.3, 0.1] your loss is "
                             f"{got:.4f}, expected {want:.4f}; {hint}")
    got = _value(_call(fn, tf.constant([-200.0]), tf.constant([200.0])))
    if not (np.isfinite(got) and np.isclose(got, 400.0, rtol=1e-4)):
        raise ExerciseFailed(f"a confidently wrong discriminator (logit −200 on a real image, +200 on "
                             f"a fake) should have loss 200 + 200 = 400, yours gives {got}; "
                             "σ(−200) rounds to 0, so use the softplus form, not log(σ).")
    return _passed("discriminator loss")


def check_generator(build: Callable, latent_dim: int = 16) -> bool:
    """``build(latent_dim)`` must return a Keras model from noise to 28×28×1 images in [-1, 1],
    with every weight receiving a gradient."""
    import keras
    import tensorflow as tf

    model = _call(build, latent_dim)
    if not isinstance(model, keras.Model):
        raise ExerciseFailed(f"build({latent_dim}) returned {type(model).__name__}, not a "
                             "keras.Model.")
    z = tf.random.stateless_normal((8, latent_dim), seed=(1, 2)) * 3.0
    try:
        with tf.GradientTape() as tape:
            y = model(z, training=True)
            loss = tf.reduce_mean(tf.square(y))
    except Exception as exc:  # shape errors are the usual cause
        raise ExerciseFailed(f"the model fails on noise of shape (8, {latent_dim}): {exc}") from exc
    if tuple(y.shape) != (8, 28, 28, 1):
        raise ExerciseFailed(f"for 8 noise vectors the output shape is {tuple(y.shape)}, expected "
                             "(8, 28, 28, 1). Start at 7×7 and upsample twice with strides=2.")
    y = y.numpy()
    if y.min() < -1 or y.max() > 1:
        raise ExerciseFailed(f"outputs range over [{y.min():.2f}, {y.max():.2f}], but the images "
                             "are scaled to [-1, 1]: end with a tanh activation.")
    grads = tape.gradient(loss, model.trainable_variables)
    dead = [v.path for v, g in zip(model.trainable_variables, grads) if g is None]
    if dead or not model.trainable_variables:
        raise ExerciseFailed(f"these weights get no gradient: {dead or 'none are trainable'}")
    return _passed(f"generator ({model.count_params():,} parameters)")
