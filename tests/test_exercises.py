import keras
import numpy as np
import pytest
from keras import layers, ops

from gan_helpers import exercises, losses, models


def test_the_package_losses_pass_their_checks():
    assert exercises.check_generator_loss(losses.generator_loss_nonsaturating)
    assert exercises.check_discriminator_loss(losses.discriminator_loss)


@pytest.mark.parametrize("wrong,message", [
    (losses.generator_loss_minimax, "did you use log\\(1 − D\\)"),
    (lambda l: -losses.generator_loss_nonsaturating(l), "sign is flipped"),
    (losses.naive_generator_loss_nonsaturating, "stable form"),
])
def test_generator_loss_mistakes_get_plain_words(wrong, message):
    with pytest.raises(exercises.ExerciseFailed, match=message):
        exercises.check_generator_loss(wrong)


def test_discriminator_loss_mistakes_get_plain_words():
    with pytest.raises(exercises.ExerciseFailed, match="labels are swapped"):
        exercises.check_discriminator_loss(lambda r, f: losses.discriminator_loss(f, r))
    with pytest.raises(exercises.ExerciseFailed, match="sign is flipped"):
        exercises.check_discriminator_loss(lambda r, f: -losses.discriminator_loss(r, f))
    with pytest.raises(exercises.ExerciseFailed, match="softplus form"):
        exercises.check_discriminator_loss(losses.naive_discriminator_loss)


def test_generator_check():
    assert exercises.check_generator(lambda n: models.build_generator(n, 4))

    def no_tanh(n):
        return keras.Sequential([keras.Input((n,)), layers.Dense(784), layers.Reshape((28, 28, 1))])

    with pytest.raises(exercises.ExerciseFailed, match="tanh"):
        exercises.check_generator(no_tanh)

    def wrong_size(n):
        return keras.Sequential([keras.Input((n,)), layers.Dense(14 * 14),
                                 layers.Reshape((14, 14, 1)), layers.Activation("tanh")])

    with pytest.raises(exercises.ExerciseFailed, match=r"expected \(8, 28, 28, 1\)"):
        exercises.check_generator(wrong_size)
    with pytest.raises(exercises.ExerciseFailed, match="not a keras.Model"):
        exercises.check_generator(lambda n: ops.zeros((1,)))


# ------------------------------------------------------------------ notebook 03
def test_high_quality_share_check():
    import numpy as np

    def right(x, modes, sigma):
        return np.mean(np.linalg.norm(x[:, None] - modes[None], axis=-1).min(1) <= 3 * sigma)

    assert exercises.check_high_quality_share(right)
    with pytest.raises(exercises.ExerciseFailed, match="share"):
        exercises.check_high_quality_share(lambda x, m, s: len(x) * right(x, m, s))
    with pytest.raises(exercises.ExerciseFailed, match="nearest"):
        exercises.check_high_quality_share(lambda x, m, s: right(x, m, 2 * s))


def _penalty(critic, real, fake, alpha, square=False, at_real=False):
    import tensorflow as tf

    mixed = real if at_real else alpha * real + (1 - alpha) * fake
    with tf.GradientTape() as tape:
        tape.watch(mixed)
        scores = critic(mixed)
    g2 = tf.reduce_sum(tf.square(tape.gradient(scores, mixed)), axis=1)
    return tf.reduce_mean(tf.square((g2 if square else tf.sqrt(g2)) - 1.0))


def test_gradient_penalty_check():
    assert exercises.check_gradient_penalty(_penalty)
    with pytest.raises(exercises.ExerciseFailed, match="not its square"):
        exercises.check_gradient_penalty(lambda *a: _penalty(*a, square=True))
    with pytest.raises(exercises.ExerciseFailed, match="interpolates"):
        exercises.check_gradient_penalty(lambda *a: _penalty(*a, at_real=True))


def test_minibatch_std_check():
    assert exercises.check_minibatch_std(models.MinibatchStdDev())
    with pytest.raises(exercises.ExerciseFailed, match="axis 0"):
        exercises.check_minibatch_std(lambda x: ops.concatenate(
            [x, ops.expand_dims(ops.std(x, axis=1), 1)], axis=1))
    with pytest.raises(exercises.ExerciseFailed, match="not written yet"):
        exercises.check_minibatch_std(lambda x: (_ for _ in ()).throw(NotImplementedError("hint")))


def test_flip_budget_check():
    assert exercises.check_flip_budget(lambda w, x, c: abs(w @ x + c) / np.abs(w).sum())
    for wrong, message in [(lambda w, x, c: abs(w @ x + c) / np.linalg.norm(w), "‖w‖₂"),
                           (lambda w, x, c: abs(w @ x) / np.abs(w).sum(), "bias c"),
                           (lambda w, x, c: (w @ x + c) / np.abs(w).sum(), "absolute value")]:
        with pytest.raises(exercises.ExerciseFailed, match=message):
            exercises.check_flip_budget(wrong)


def test_lsgan_d_star_check():
    assert exercises.check_lsgan_d_star(lambda p, q, a, b: (b * p + a * q) / (p + q))
    with pytest.raises(exercises.ExerciseFailed, match="cross-entropy GAN"):
        exercises.check_lsgan_d_star(lambda p, q, a, b: p / (p + q))
    with pytest.raises(exercises.ExerciseFailed, match="swapped"):
        exercises.check_lsgan_d_star(lambda p, q, a, b: (a * p + b * q) / (p + q))


def test_mode_seeking_fit_check():
    assert exercises.check_mode_seeking_fit({"forward": (0.0, np.sqrt(4.25)), "reverse": (-2.0, 0.5)})
    with pytest.raises(exercises.ExerciseFailed, match="reverse-KL answer"):
        exercises.check_mode_seeking_fit({"forward": (2.0, 0.5), "reverse": (2.0, 0.5)})
    with pytest.raises(exercises.ExerciseFailed, match="sit on one bump"):
        exercises.check_mode_seeking_fit({"forward": (0.0, 2.06), "reverse": (0.0, 2.06)})
    with pytest.raises(exercises.ExerciseFailed, match="dict"):
        exercises.check_mode_seeking_fit({"forward": (0.0, 2.0)})
