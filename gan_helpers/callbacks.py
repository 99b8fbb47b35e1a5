"""Keras callbacks for GAN training: sample grids and a GIF, per-step losses, timing, checkpoints."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np

from . import plots
from .training import generate_from


class SampleGrid(keras.callbacks.Callback):
    """Draws the generator's output on one fixed noise batch before training and after each
    epoch, so the frames show the same z improving; writes a GIF of them at the end if asked."""

    def __init__(self, noise: np.ndarray, every: int = 1, gif_path: str | os.PathLike | None = None):
        super().__init__()
        self.noise = np.asarray(noise, dtype="float32")
        self.every = every
        self.gif_path = gif_path
        self.frames: list[np.ndarray] = []
        self.epochs: list[int] = []

    def _grab(self, epoch: int) -> None:
        self.frames.append(plots.image_grid(generate_from(self.model.sampler, self.noise)))
        self.epochs.append(epoch)

    def on_train_begin(self, logs=None):
        if not self.frames:
            self._grab(self.params.get("initial_epoch", 0) if self.params else 0)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0:
            self._grab(epoch + 1)

    def on_train_end(self, logs=None):
        if self.gif_path and self.frames:
            plots.write_gif(self.frames, self.gif_path)


def step_values(means: dict[str, float], previous: dict[str, float], k: int) -> dict[str, float]:
    """Step k's own values from Keras' running means over the epoch: k·mean_k − (k − 1)·mean_(k−1)."""
    return {key: k * mean - (k - 1) * previous.get(key, 0.0) for key, mean in means.items()}


class LossHistory(keras.callbacks.Callback):
    """Keeps every step's value of each metric. Keras reports a running mean within an epoch,
    so the value of step k is k·mean_k − (k − 1)·mean_(k−1)."""

    def __init__(self):
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self._prev: dict[str, float] = {}

    def on_epoch_begin(self, epoch, logs=None):
        self._prev = {}

    def on_train_batch_end(self, batch, logs=None):
        means = {key: float(v) for key, v in (logs or {}).items()}
        for key, value in step_values(means, self._prev, batch + 1).items():
            self.history.setdefault(key, []).append(value)
        self._prev = means

    def plot(self, **kwargs):
        return plots.plot_losses(self.history, **kwargs)


class EpochTimer(keras.callbacks.Callback):
    """Wall time of each epoch and the images per second it trained on."""

    def __init__(self, batch_size: int):
        super().__init__()
        self.batch_size = batch_size
        self.seconds: list[float] = []
        self.steps: list[int] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._t0 = time.perf_counter()
        self._n = 0

    def on_train_batch_end(self, batch, logs=None):
        self._n = batch + 1

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._t0)
        self.steps.append(self._n)

    def images_per_second(self, skip_first: bool = True) -> float:
        """Throughput, leaving out the first epoch (tracing and warm-up) when there are others."""
        s, n = self.seconds, self.steps
        if skip_first and len(s) > 1:
            s, n = s[1:], n[1:]
        return float(sum(n) * self.batch_size / sum(s)) if s and sum(s) > 0 else float("nan")


class GANCheckpoint(keras.callbacks.Callback):
    """Saves the full training state (``GAN.save_state``) after every epoch whose losses are finite
    (``divergence.NaNGuard`` stops a diverged epoch before it ends). ``extras()`` returns more side
    files to keep in it (name → JSON object or array)."""

    def __init__(self, directory: str | os.PathLike, meta: dict | None = None,
                 history: LossHistory | None = None, extras: Callable[[], dict] | None = None):
        super().__init__()
        self.directory = Path(directory)
        self.meta = meta or {}
        self.history = history
        self.extras = extras
        self.last_epoch: int | None = None

    def on_epoch_end(self, epoch, logs=None):
        if not all(math.isfinite(float(v)) for v in (logs or {}).values()):
            return   # never overwrite the last good checkpoint with a diverged state
        extras = {"history": self.history.history} if self.history is not None else {}
        extras.update(self.extras() if self.extras is not None else {})
        self.model.save_state(self.directory, epoch + 1, self.meta, extras)
        self.last_epoch = epoch + 1


class FDTracker(keras.callbacks.Callback):
    """Fréchet distance (``gan_helpers.metrics``) of the generator's samples from fixed noise
    against fixed real features, before training and after every ``every`` epochs."""

    def __init__(self, feature_net, real_features: np.ndarray, noise: np.ndarray, every: int = 1):
        super().__init__()
        self.net, self.real_features, self.noise, self.every = feature_net, real_features, noise, every
        self.epochs: list[int] = []
        self.fd: list[float] = []

    def _measure(self, epoch: int) -> None:
        from .metrics import frechet_distance

        fake = self.net.features(generate_from(self.model.sampler, self.noise))
        self.epochs.append(epoch)
        self.fd.append(frechet_distance(self.real_features, fake))

    def on_train_begin(self, logs=None):
        if not self.epochs:
            self._measure(0)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0:
            self._measure(epoch + 1)
