"""Helpers for the adversarial-learning notebooks: data, models, losses, training, plots, checks.

One module per concern; notebooks ``import gan_helpers as gh`` and call ``gh.data.load_mnist()``,
``gh.training.GAN``… The fast (CI) switch is ``GAN_HELPERS_FAST=1`` (see ``gan_helpers.config``).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter out

from . import (  # noqa: E402
    adversarial,
    callbacks,
    config,
    data,
    exercises,
    losses,
    metrics,
    models,
    plots,
    theory,
    toy,
    training,
)

__version__ = "0.1.0"
__all__ = ["adversarial", "callbacks", "config", "data", "exercises", "losses", "metrics", "models", "plots",
           "theory", "toy", "training"]
