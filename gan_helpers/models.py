"""DCGAN generator and discriminator for 28×28×1 images (Radford et al. 2015, arXiv 1511.06434)."""

from __future__ import annotations

import keras
from keras import layers

IMAGE_SHAPE = (28, 28, 1)


def _check_positive(**kwargs: int) -> None:
    for name, value in kwargs.items():
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def build_generator(latent_dim: int = 64, width: int = 32, name: str = "generator") -> keras.Model:
    """z ∈ R^latent_dim → image in [-1, 1]: dense to 7×7, then two stride-2 transposed convolutions.

    The 7×7 layer has ``4 * width`` filters and the 14×14 layer ``2 * width``. Batch norm and ReLU
    follow each hidden layer (DCGAN); the tanh output is float32 so mixed precision stays safe.
    """
    _check_positive(latent_dim=latent_dim, width=width)
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


def build_discriminator(width: int = 32, dropout: float = 0.3,
                        name: str = "discriminator") -> keras.Model:
    """Image → one logit (no sigmoid): two stride-2 convolutions with LeakyReLU(0.2), then dense.

    No batch norm: real and fake batches go through D separately, and dropout regularises instead.
    The logit is float32 so the losses stay exact under mixed precision.
    """
    _check_positive(width=width)
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    return keras.Sequential(
        [
            keras.Input(IMAGE_SHAPE),
            layers.Conv2D(width, 4, strides=2, padding="same"),                # 14×14
            layers.LeakyReLU(0.2),
            layers.Dropout(dropout),
            layers.Conv2D(2 * width, 4, strides=2, padding="same"),            # 7×7
            layers.LeakyReLU(0.2),
            layers.Dropout(dropout),
            layers.Flatten(),
            layers.Dense(1, dtype="float32"),
        ],
        name=name,
    )
