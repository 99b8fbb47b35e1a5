r"""The weight average: an exponential moving average of the generator's weights (Yazıcı et al. 2019,
arXiv 1806.04498), with a warm-up and a batch-norm calibration.

After update :math:`t` (counting from 0) each averaged weight :math:`\bar w` becomes
:math:`\beta_t \bar w + (1 - \beta_t) w` with :math:`\beta_t = \min(\text{decay}, (1 + t)/(10 + t))`,
TensorFlow's ``ExponentialMovingAverage(num_updates=…)`` warm-up: a plain 0.999 would still hold
0.999^2000 ≈ 14% of the random initial weights after 2,000 steps; with the warm-up that share is below
1e-5 after 100 steps.

Averaged weights produce activations whose mean and variance differ from those that the raw network's
batch-norm statistics tracked, so reusing those statistics washes the samples out. ``calibrated``
recomputes them, lazily: only when some variable of the average changed since the last calibration
(an update, a restored checkpoint, ``set_weights``…).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import keras
from keras import ops


class WeightAverage(keras.layers.Layer):
    """Holds ``model``, a copy of a network whose weights follow the network's by a moving average.

    ``update(network)`` runs inside the training step; ``calibrated(make_inputs)`` returns the copy
    with its batch-norm statistics recomputed for its current weights."""

    def __init__(self, network: keras.Model, decay: float, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 < decay < 1.0:
            raise ValueError(f"ema_decay must be in (0, 1) (0.999 is usual) or None for no average, "
                             f"got {decay!r}")
        self.decay = float(decay)
        self.model = keras.models.clone_model(network)
        self.model.set_weights(network.get_weights())
        self.updates = self.add_weight(shape=(), initializer="zeros", dtype="float32", trainable=False,
                                       name="ema_updates")
        self.calibrated_at: str | None = None   # digest of the variables right after the last calibration
        self.built = True

    def rate(self, t):
        """The decay at update ``t``: min(decay, (1 + t)/(10 + t))."""
        t = ops.cast(t, "float32")
        return ops.minimum(ops.cast(self.decay, "float32"), (1.0 + t) / (10.0 + t))

    def update(self, network: keras.Model) -> None:
        """One step of the average towards ``network``'s trainable weights."""
        beta = self.rate(self.updates)
        for avg, w in zip(self.model.trainable_variables, network.trainable_variables):
            avg.assign(beta * avg + (1.0 - beta) * ops.cast(w, avg.dtype))
        self.updates.assign_add(1.0)

    def calibrate(self, inputs) -> None:
        """Store the batch-norm statistics of one forward pass on ``inputs`` in training mode, with
        each layer's momentum set to 0: that batch's exact statistics, layer after layer."""
        bns = [layer for layer in flat_layers(self.model)
               if isinstance(layer, keras.layers.BatchNormalization)]
        momenta = [bn.momentum for bn in bns]
        try:
            for bn in bns:
                bn.momentum = 0.0
            if bns:
                self.model(inputs, training=True)
        finally:
            for bn, m in zip(bns, momenta):
                bn.momentum = m
        self.calibrated_at = self.digest()

    def calibrated(self, make_inputs: Callable[[], object]) -> keras.Model:
        """The averaged network, calibrated on ``make_inputs()`` first if any of its variables changed
        since the last calibration (or it was never calibrated)."""
        if self.calibrated_at is None or self.calibrated_at != self.digest():
            self.calibrate(make_inputs())
        return self.model

    def digest(self) -> str:
        """A fingerprint of every variable of the average (weights and batch-norm statistics): a
        millisecond for the DCGAN's generator, so that no change escapes the lazy calibration."""
        h = hashlib.blake2b(digest_size=16)
        for v in self.model.variables:
            h.update(ops.convert_to_numpy(v).tobytes())
        return h.hexdigest()

    def forget_calibration(self) -> None:
        """Mark the statistics as stale, so that the next ``calibrated`` recalibrates whatever changed."""
        self.calibrated_at = None


def flat_layers(model: keras.Model):
    """Every layer inside ``model``, nested models included."""
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from flat_layers(layer)
