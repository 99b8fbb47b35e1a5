"""The package's own Keras layers, registered for saving: ``load_generator`` imports only this module
to read any generator the package writes."""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers, ops


@keras.saving.register_keras_serializable(package="gan_helpers")
class LabelPlanes(layers.Layer):
    """The one-hot label as ``n_classes`` constant planes of the image's height and width, so that it
    can be concatenated to the image as extra channels (the "concat" discriminator)."""

    def __init__(self, n_classes: int = 10, **kwargs):
        super().__init__(**kwargs)
        self.n_classes = n_classes

    def call(self, images, labels):
        onehot = ops.one_hot(ops.cast(labels, "int32"), self.n_classes, dtype=images.dtype)
        shape = ops.shape(images)
        return ops.broadcast_to(onehot[:, None, None, :], (shape[0], shape[1], shape[2], self.n_classes))

    def get_config(self) -> dict:
        return {**super().get_config(), "n_classes": self.n_classes}


def normal_cdf(t):
    """Φ(t), the standard normal CDF."""
    return 0.5 * (1.0 + ops.erf(t / math.sqrt(2.0)))


def normal_icdf(u):
    """Φ⁻¹(u), its inverse."""
    return math.sqrt(2.0) * ops.erfinv(2.0 * u - 1.0)


@keras.saving.register_keras_serializable(package="gan_helpers")
class ClusterCode(layers.Layer):
    """z → (style z₂…z_d, cluster c): c is the bin of Φ(z₁) among the cumulative cluster shares, so a
    standard normal z₁ gives cluster c with probability ``freqs[c]``, the data's own share."""

    def __init__(self, freqs, **kwargs):
        super().__init__(**kwargs)
        self.freqs = [float(f) for f in freqs]
        self.edges = np.cumsum(self.freqs)[:-1].astype("float32")

    def call(self, z):
        u = normal_cdf(z[:, 0])
        code = ops.sum(ops.cast(u[:, None] >= ops.convert_to_tensor(self.edges)[None, :], "int32"), axis=1)
        return z[:, 1:], code

    def noise_for(self, z, codes):
        """z with z₁ moved into the band of ``codes`` (same quantile within the band): still standard
        normal when the codes follow ``freqs``, and ``call`` then returns ``codes``."""
        lo = ops.take(ops.convert_to_tensor(np.concatenate([[0.0], self.edges]).astype("float32")), codes)
        width = ops.take(ops.convert_to_tensor(np.asarray(self.freqs, dtype="float32")), codes)
        u = lo + width * ops.clip(normal_cdf(z[:, 0]), 1e-6, 1.0 - 1e-6)
        return ops.concatenate([normal_icdf(ops.clip(u, 1e-6, 1.0 - 1e-6))[:, None], z[:, 1:]], axis=1)

    def get_config(self) -> dict:
        return {**super().get_config(), "freqs": self.freqs}


@keras.saving.register_keras_serializable(package="gan_helpers")
class NearestCentre(layers.Layer):
    """image → the index of its nearest centre, argmin_j ‖x − μ_j‖² = argmin_j (‖μ_j‖² − 2 xᵀμ_j): the
    rule by which ``selfcond.cluster_images`` gives every image its cluster, so it labels any image,
    a fake too, the way the clusters label the data. Not differentiable in x (an index), and no weights."""

    def __init__(self, centres, **kwargs):
        super().__init__(**kwargs)
        centres = np.asarray(centres, dtype="float32")
        self.centres = centres.reshape(len(centres), -1)
        self.sq_norms = (self.centres.astype("float64") ** 2).sum(1).astype("float32")

    def call(self, images):
        x = ops.reshape(ops.cast(images, "float32"), (-1, self.centres.shape[1]))
        mu = ops.convert_to_tensor(self.centres)
        scores = ops.convert_to_tensor(self.sq_norms)[None, :] - 2.0 * ops.matmul(x, ops.transpose(mu))
        return ops.cast(ops.argmin(scores, axis=1), "int32")

    def get_config(self) -> dict:
        return {**super().get_config(), "centres": self.centres.tolist()}
