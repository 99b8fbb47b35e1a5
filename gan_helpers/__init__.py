"""Helpers for the adversarial-learning notebooks: data, models, losses, training, plots, checks.

One module per concern, in layers (CONTRIBUTING.md has the map); notebooks ``import gan_helpers as gh``
and call ``gh.data.load_mnist()``, ``gh.training.GAN``… The fast (CI) switch is ``GAN_HELPERS_FAST=1``
(see ``gan_helpers.config``).
Submodules load on first use: ``import gan_helpers`` alone does not start TensorFlow.
"""

import importlib
import os

USER_SET_TF_LOG_LEVEL = "TF_CPP_MIN_LOG_LEVEL" in os.environ  # the user's choice wins (see _quiet)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter out

__version__ = "0.1.0"
__all__ = ["adversarial", "callbacks", "checkpoint", "cli", "conditional", "config", "data", "distribute",
           "divergence", "ema", "exercises", "export", "faults", "jobs", "layers", "losses", "metrics",
           "models", "plots", "recipes", "run", "selfcond", "studies", "theory", "toy", "training",
           "variants"]


def __getattr__(name: str):
    if name in __all__:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'gan_helpers' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
