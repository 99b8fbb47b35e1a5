"""Test hooks that make a real run fail on cue, in one place, so that the resilience tests can kill
or poison a training process at a chosen point. Unset (as for every user), they do nothing.

- ``GAN_HELPERS_TEST_PAUSE=stage:k``: stop and sleep at a checkpoint write of epoch k (``write``: half of
  state.npz written; ``swap``: the old checkpoint moved aside, the new one not yet in place; ``clean``:
  the old one not yet deleted), after global step k (``step:k``), or after training before the outputs
  are written (``outputs``), touching ``<checkpoint>.paused`` so that the test knows where it stopped.
- ``GAN_HELPERS_TEST_NAN_AT_STEP=k``: the batch of global step k is made of inf.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

PAUSE_ENV = "GAN_HELPERS_TEST_PAUSE"
NAN_ENV = "GAN_HELPERS_TEST_NAN_AT_STEP"


def paused_mark(directory: Path) -> Path:
    """The file a pause touches: ``<directory>.paused``."""
    return directory.with_name(directory.name + ".paused")


def pause_here(stage: str, directory: Path, epoch: int | None = None) -> None:
    """Sleep for an hour if ``GAN_HELPERS_TEST_PAUSE`` names this ``stage`` (and ``epoch``)."""
    wanted = stage if epoch is None else f"{stage}:{int(epoch)}"
    if os.environ.get(PAUSE_ENV) == wanted:
        paused_mark(directory).write_text(stage)
        time.sleep(3600)


def pause_callbacks(checkpoint_dir: Path, steps_per_epoch: int) -> list:
    """A callback that sleeps after global step k when ``GAN_HELPERS_TEST_PAUSE=step:k``, else none."""
    import keras

    stage, _, at = os.environ.get(PAUSE_ENV, "").partition(":")
    if stage != "step":
        return []

    class Pause(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            if self.epoch * steps_per_epoch + batch + 1 == int(at):
                paused_mark(checkpoint_dir).write_text("step")
                time.sleep(3600)

    return [Pause()]


def poison_dataset(ds, start_step: int):
    """With ``GAN_HELPERS_TEST_NAN_AT_STEP=k`` the images of global step k become inf (labels stay),
    so that the divergence path can be tested on a real run; ``ds`` unchanged otherwise."""
    at = os.environ.get(NAN_ENV)
    if not at:
        return ds
    import tensorflow as tf

    bad = int(at)

    def poison(i, x):
        return tf.where(i == bad, tf.fill(tf.shape(x), float("inf")), x) if x.dtype.is_floating else x

    return ds.enumerate(start=start_step + 1).map(
        lambda i, batch: tf.nest.map_structure(lambda x: poison(i, x), batch))
