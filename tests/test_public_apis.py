"""The public TensorFlow APIs that replaced private attributes do the job the private ones did."""

import logging

import keras
import pytest


def test_an_optimizer_made_outside_the_strategy_scope_is_refused():
    import tensorflow as tf

    from gan_helpers import distribute, models

    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    with strategy.scope():
        net = models.build_discriminator(4)
        inside = keras.optimizers.Adam()
        scaled = keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam())
    outside = keras.optimizers.Adam()
    distribute.build_optimizers(strategy, [(inside, net), (scaled, net)])     # made in scope: built
    assert inside.built and scaled.built
    with pytest.raises(ValueError, match="created outside the scope"):
        distribute.build_optimizers(strategy, [(outside, net)])
    with pytest.raises(ValueError, match="created outside the scope"):
        distribute.build_optimizers(strategy, [(keras.optimizers.LossScaleOptimizer(outside), net)])


@pytest.mark.parametrize("cluster, workers", [
    ({"worker": ["localhost:1"]}, 1),
    ({"worker": ["localhost:1", "localhost:2"]}, 2),
    ({"chief": ["localhost:0"], "worker": ["localhost:1", "localhost:2"]}, 3),
    ({"chief": ["localhost:0"], "worker": ["localhost:1"], "ps": ["localhost:9"]}, 2),
])
def test_workers_in_counts_the_chief_and_the_workers_only(cluster, workers):
    import tensorflow as tf

    from gan_helpers import distribute

    assert distribute.workers_in(tf.train.ClusterSpec(cluster)) == workers


def test_the_retracing_filter_drops_only_the_attack_functions_warning():
    from gan_helpers.adversarial.threat import QuietRetracing

    def record(message: str) -> logging.LogRecord:
        return logging.LogRecord("tensorflow", logging.WARNING, __file__, 1, message, None, None)

    warning = ("5 out of the last 5 calls to <function _compiled.<locals>.{} at 0x7f> triggered "
               "tf.function retracing. Tracing is expensive …")
    quiet = QuietRetracing()
    assert not quiet.filter(record(warning.format("pgd_batch")))
    assert not quiet.filter(record(warning.format("loss_grad")))
    assert quiet.filter(record(warning.format("my_train_step")))      # the user's own: kept
    assert quiet.filter(record("pgd_batch did something else"))       # another message: kept
