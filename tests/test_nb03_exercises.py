"""Notebook 03's new exercises: each check passes the right answer and says what is wrong otherwise."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from gan_helpers.exercises import nb03_toy
from gan_helpers.exercises._common import ExerciseFailed


def _value(m, k):
    return nb03_toy._collapse_value(m, k)


def test_collapse_value_matches_the_exact_figures():
    np.testing.assert_allclose(_value(1, 8), 1.0855832883, rtol=1e-9)     # KL − 2·JSD for one of 8 modes
    assert _value(8, 8) == pytest.approx(0.0, abs=1e-12)                    # full coverage costs nothing
    values = [_value(m, 8) for m in range(1, 9)]
    assert all(a > b for a, b in zip(values, values[1:]))                   # more modes, lower value


def test_collapse_value_check():
    assert nb03_toy.check_collapse_value(_value)
    with pytest.raises(ExerciseFailed, match="KL"):
        nb03_toy.check_collapse_value(lambda m, k: np.log(k / m))           # forgot the JSD
    with pytest.raises(ExerciseFailed, match="not written yet"):
        nb03_toy.check_collapse_value(lambda m, k: (_ for _ in ()).throw(NotImplementedError("hint")))


def _push(loss, x, logit_fn, sign=1.0):
    x = tf.convert_to_tensor(x, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        logit = logit_fn(x)
        total = tf.reduce_sum(tf.nn.softplus(-logit) if loss == "nonsaturating" else -tf.nn.softplus(logit))
    return -sign * tape.gradient(total, x)


def test_collapsed_push_check():
    assert nb03_toy.check_collapsed_push(_push, "nonsaturating")
    with pytest.raises(ExerciseFailed, match="0.5σ"):
        nb03_toy.check_collapsed_push(_push, "minimax")
    with pytest.raises(ExerciseFailed, match="sign"):
        nb03_toy.check_collapsed_push(lambda *a: _push(*a, sign=-1.0), "nonsaturating")
    with pytest.raises(ExerciseFailed, match="answer with one of"):
        nb03_toy.check_collapsed_push(_push, "neither")


def test_exact_collapse_is_stationary_and_a_narrow_one_is_pushed_outwards():
    from gan_helpers.toy import toy_dataset

    ring = toy_dataset("ring")
    noise = np.random.default_rng(1).standard_normal((300, 2))
    x = (ring.modes[0] + 0.5 * ring.sigma * noise).astype("float32")
    for spread, small in ((1.0, True), (0.5, False)):
        push = _push("nonsaturating", x, lambda v, s=spread: nb03_toy._collapse_logit(v, s, ring)).numpy()
        assert (np.abs(push).max() < 1e-3) == small
