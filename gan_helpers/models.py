"""DCGAN generator and discriminator for 28×28×1 images (Radford et al. 2015, arXiv 1511.06434)."""

from __future__ import annotations

import keras
from keras import layers

IMAGE_SHAPE = (28, 28, 1)


def check_positive(**kwargs: int) -> None:
    """Refuse sizes that are not positive integers, naming each."""
    for name, value in kwargs.items():
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def build_generator(latent_dim: int = 64, width: int = 32, name: str = "generator") -> keras.Model:
    """z ∈ R^latent_dim → image in [-1, 1]: dense to 7×7, then two stride-2 transposed convolutions.

    The 7×7 layer has ``4 * width`` filters and the 14×14 layer ``2 * width``. Batch norm and ReLU
    follow each hidden layer (DCGAN); the tanh output is float32 so mixed precision stays safe.
    """
    check_positive(latent_dim=latent_dim, width=width)
    return keras.Sequential(
        [
            keras.Input((latent_dim,)),
            layers.Dense(7 * 7 * 4 * width, use_bias=False),
            layers.BatchNormalization(),
            layers.ReLU(),
            layers.Reshape((7, 7, 4 * width)),                                 # 7×7
            layers.Conv2DTranspose(2 * width, 4, strides=2, padding="same", use_bias=False),
            layers.BatchNormalization(),
            layers.ReLU(),                                                      # 14×14
            layers.Conv2DTranspose(1, 4, strides=2, padding="same", activation="tanh",
                                   dtype="float32"),                           # 28×28
        ],
        name=name,
    )


def build_discriminator(width: int = 32, dropout: float = 0.3, spectral_norm: bool = False,
                        batch_norm: bool = False, name: str = "discriminator") -> keras.Model:
    """Image → one logit (no sigmoid): two stride-2 convolutions with LeakyReLU(0.2), then dense.

    No batch norm: real and fake batches go through D separately, and dropout regularises instead.
    ``spectral_norm`` wraps every layer in Keras' ``SpectralNormalization`` (Miyato et al. 2018);
    ``batch_norm`` adds batch norm after the second convolution, as DCGAN does (not after the first).
    The logit is float32 so the losses stay exact under mixed precision.
    """
    check_positive(width=width)
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")

    def sn(layer):
        return layers.SpectralNormalization(layer) if spectral_norm else layer

    stack = [keras.Input(IMAGE_SHAPE),
             sn(layers.Conv2D(width, 4, strides=2, padding="same")),               # 14×14
             layers.LeakyReLU(0.2)]
    if dropout:
        stack.append(layers.Dropout(dropout))
    stack.append(sn(layers.Conv2D(2 * width, 4, strides=2, padding="same")))      # 7×7
    if batch_norm:
        stack.append(layers.BatchNormalization())
    stack.append(layers.LeakyReLU(0.2))
    if dropout:
        stack.append(layers.Dropout(dropout))
    stack += [layers.Flatten(), sn(layers.Dense(1, dtype="float32"))]
    return keras.Sequential(stack, name=name)


# ----------------------------------------------------------------------------- 2-D toy models
class MinibatchStdDev(layers.Layer):
    """Appends the batch's mean per-feature standard deviation as one extra feature (Karras et al.
    2018), so D can see a collapsed batch: identical samples have standard deviation 0."""

    def call(self, x):
        from keras import ops

        std = ops.sqrt(ops.var(x, axis=0) + 1e-8)                      # per feature, over the batch
        extra = ops.ones_like(x[:, :1]) * ops.mean(std)
        return ops.concatenate([x, extra], axis=-1)


def build_mlp_generator(latent_dim: int = 2, hidden: int = 128, depth: int = 3, out_dim: int = 2,
                        name: str = "mlp_generator") -> keras.Model:
    """z → point in the plane: ``depth`` ReLU layers of ``hidden`` units and a linear output."""
    check_positive(latent_dim=latent_dim, hidden=hidden, depth=depth, out_dim=out_dim)
    return keras.Sequential([keras.Input((latent_dim,))]
                            + [layers.Dense(hidden, activation="relu") for _ in range(depth)]
                            + [layers.Dense(out_dim, dtype="float32")], name=name)


def build_mlp_discriminator(in_dim: int = 2, hidden: int = 128, depth: int = 3,
                            spectral_norm: bool = False, minibatch_std: bool = False,
                            name: str = "mlp_discriminator") -> keras.Model:
    """Point → one logit (or critic score): ``depth`` LeakyReLU(0.2) layers, no batch norm (WGAN-GP
    forbids it in the critic). Optional spectral normalisation of every dense layer (Miyato et al.
    2018) and a minibatch-standard-deviation feature before the last layer."""
    check_positive(in_dim=in_dim, hidden=hidden, depth=depth)

    def dense(units, **kw):
        layer = layers.Dense(units, **kw)
        return layers.SpectralNormalization(layer) if spectral_norm else layer

    stack: list = [keras.Input((in_dim,))]
    for _ in range(depth):
        stack += [dense(hidden), layers.LeakyReLU(0.2)]
    if minibatch_std:
        stack.append(MinibatchStdDev())
    stack.append(dense(1, dtype="float32"))
    return keras.Sequential(stack, name=name)
