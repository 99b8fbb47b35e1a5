import numpy as np
import pytest
import tensorflow as tf

from gan_helpers import losses

LOGITS = np.linspace(-6, 6, 25).astype(np.float32)


def sigmoid(x):
    return 1 / (1 + np.exp(-x.astype(np.float64)))


def test_stable_losses_equal_the_textbook_formulas_on_moderate_logits():
    real, fake = LOGITS, LOGITS[::-1] * 0.7
    d = -np.mean(np.log(sigmoid(real))) - np.mean(np.log(1 - sigmoid(fake)))
    np.testing.assert_allclose(float(losses.discriminator_loss(real, fake)), d, rtol=1e-5)
    np.testing.assert_allclose(float(losses.generator_loss_nonsaturating(fake)),
                               -np.mean(np.log(sigmoid(fake))), rtol=1e-5)
    np.testing.assert_allclose(float(losses.generator_loss_minimax(fake)),
                               np.mean(np.log(1 - sigmoid(fake))), rtol=1e-5)
    # and the naive forms agree there, so the comparison below is fair
    np.testing.assert_allclose(float(losses.naive_discriminator_loss(real, fake)), d, rtol=1e-4)


def test_naive_forms_overflow_where_the_stable_ones_do_not():
    big = np.array([-120.0, 120.0], np.float32)
    assert not np.isfinite(float(losses.naive_generator_loss_nonsaturating(big)))
    assert not np.isfinite(float(losses.naive_generator_loss_minimax(big)))
    assert not np.isfinite(float(losses.naive_discriminator_loss(big, big)))
    np.testing.assert_allclose(float(losses.generator_loss_nonsaturating(big)), 60.0, rtol=1e-6)
    np.testing.assert_allclose(float(losses.generator_loss_minimax(big)), -60.0, rtol=1e-6)
    np.testing.assert_allclose(float(losses.discriminator_loss(big, big)), 120.0, rtol=1e-6)


def test_generator_loss_gradients_match_the_derivation():
    # d/dl log(1 − σ(l)) = −σ(l)  and  d/dl −log σ(l) = −(1 − σ(l)), per element (times 1/n)
    l = tf.Variable(LOGITS)
    for fn, expected in ((losses.generator_loss_minimax, -sigmoid(LOGITS)),
                         (losses.generator_loss_nonsaturating, -(1 - sigmoid(LOGITS)))):
        with tf.GradientTape() as tape:
            loss = fn(l)
        grad = tape.gradient(loss, l).numpy() * len(LOGITS)
        np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-7)


def test_minimax_saturates_when_d_rejects_fakes():
    l = tf.Variable([-8.0])  # D(G(z)) ≈ 3e-4: early training
    with tf.GradientTape(persistent=True) as tape:
        mm, ns = losses.generator_loss_minimax(l), losses.generator_loss_nonsaturating(l)
    assert abs(float(tape.gradient(mm, l)[0])) < 1e-3 < 0.99 < abs(float(tape.gradient(ns, l)[0]))


def test_loss_lookup():
    assert losses.get_generator_loss("minimax") is losses.generator_loss_minimax
    assert losses.get_generator_loss(len) is len
    assert losses.get_generator_loss("wasserstein") is losses.generator_loss_wasserstein
    assert losses.get_generator_loss("hinge") is losses.generator_loss_hinge
    with pytest.raises(ValueError, match="nonsaturating, minimax, wasserstein, hinge"):
        losses.get_generator_loss("lsgan")
