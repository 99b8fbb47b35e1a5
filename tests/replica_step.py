"""One GAN step on one device and on 2 logical CPU replicas, from the same weights and global batch.

Run as a script in a fresh process (TensorFlow must split the CPU before it starts); it prints one
JSON line for ``test_distribute.py``. ``--no-scaling`` removes the per-replica loss scaling first,
which the tests expect to break the equality.
"""

from __future__ import annotations

import json
import sys

from gan_helpers import distribute

distribute.configure_cpu_replicas(2)

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from gan_helpers import models, training  # noqa: E402

BATCH = 8
_MIRRORED = []


def mirrored() -> tf.distribute.MirroredStrategy:
    """One MirroredStrategy over the 2 logical CPUs for the whole process (a second one would
    reuse the first one's collective-op keys)."""
    if not _MIRRORED:
        cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
        _MIRRORED.append(tf.distribute.MirroredStrategy(cpus))
    return _MIRRORED[0]


def generator(batch_norm: str | None = None) -> keras.Model:
    """A small 2-D generator, optionally with batch norm (per replica, or synchronised)."""
    stack = [keras.Input((4,)), keras.layers.Dense(16)]
    if batch_norm:
        stack.append(keras.layers.BatchNormalization(synchronized=batch_norm == "sync"))
    stack += [keras.layers.ReLU(), keras.layers.Dense(2)]
    return keras.Sequential(stack)


def maker(loss: str, optimizer: str, batch_norm: str | None = None):
    def build() -> training.GAN:
        gan = training.GAN(generator(batch_norm), models.build_mlp_discriminator(hidden=16, depth=2),
                           seed=3, ema_decay=0.9)
        if optimizer == "sgd":
            opts = keras.optimizers.SGD(0.05), keras.optimizers.SGD(0.05)
        else:
            opts = training.make_optimizers(1e-3)
        kwargs = ({"share_fakes": True} if loss == "bce" else
                  {"d_loss_fn": "wasserstein", "g_loss_fn": "wasserstein", "gp_weight": 10.0, "d_steps": 2})
        gan.compile(*opts, jit_compile=False, **kwargs)
        return gan
    return build


def one_device_order(images: np.ndarray, replicas: int, d_steps: int) -> np.ndarray:
    """The global batch reordered so that one device's k-th critic batch holds every replica's k-th
    critic batch: with d_steps > 1 each replica splits its own share of the rows (Algorithm 1's fresh
    real batch per critic step), so the same rows must meet in the same critic step on one device."""
    parts = images.reshape(replicas, d_steps, -1, *images.shape[1:])
    return parts.swapaxes(0, 1).reshape(images.shape)


def compare(loss: str, optimizer: str, batch_norm: str | None = None) -> dict:
    keras.utils.set_random_seed(0)  # the same initial weights in every run
    images = np.random.default_rng(0).normal(size=(BATCH, 2)).astype("float32")
    build = maker(loss, optimizer, batch_norm)
    init = distribute.network_weights(build())
    reordered = one_device_order(images, mirrored().num_replicas_in_sync, build().d_steps)
    one, one_logs = distribute.train_one_batch(tf.distribute.get_strategy(), build, reordered, init)
    two, two_logs = distribute.train_one_batch(mirrored(), build, images, init)
    moved = distribute.max_difference(init, distribute.network_weights(one))
    return {"replicas": mirrored().num_replicas_in_sync, "moved": moved,
            "weights": distribute.max_difference(distribute.network_weights(one),
                                                 distribute.network_weights(two)),
            "logs_one": one_logs, "logs_two": two_logs}


def noise() -> dict:
    """Each replica's noise rows, and what one device draws for the whole batch."""
    one = training.GAN(generator(), models.build_mlp_discriminator(), seed=5)
    whole = keras.ops.convert_to_numpy(one.sample_noise(6))
    with mirrored().scope():
        two = training.GAN(generator(), models.build_mlp_discriminator(), seed=5)
    parts = mirrored().experimental_local_results(mirrored().run(lambda: two.sample_noise(3)))
    return {"whole": whole.tolist(), "parts": [keras.ops.convert_to_numpy(p).tolist() for p in parts]}


if __name__ == "__main__":
    if "--no-scaling" in sys.argv:
        distribute.scale_to_global_batch = lambda loss: loss
    cases = {"bce_sgd": ("bce", "sgd"), "bce_adam": ("bce", "adam"), "gp_sgd": ("gp", "sgd"),
             "bn_sgd": ("bce", "sgd", "local"), "syncbn_sgd": ("bce", "sgd", "sync")}
    if "--only" in sys.argv:
        keep = sys.argv[sys.argv.index("--only") + 1].split(",")
        cases = {k: v for k, v in cases.items() if k in keep}
    result = {name: compare(*args) for name, args in cases.items()}
    if "--noise" in sys.argv:
        result["noise"] = noise()
    print("RESULT " + json.dumps(result))
