"""Run-wide settings in one place: the fast (CI) switch, the seed, and facts about the device."""

from __future__ import annotations

import os
import platform
from typing import TypeVar

FAST_ENV = "GAN_HELPERS_FAST"
SEED_ENV = "GAN_HELPERS_SEED"
DEFAULT_SEED = 42
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}

T = TypeVar("T")


def is_fast() -> bool:
    """True when ``GAN_HELPERS_FAST`` asks for the small CI-sized runs."""
    value = os.environ.get(FAST_ENV, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{FAST_ENV}={value!r} is not understood; use 1 (fast: small runs) or 0 (full).")


def choose(full: T, fast: T) -> T:
    """Pick the full-size setting for readers, or the fast one when the fast switch is on."""
    return fast if is_fast() else full


def default_seed() -> int:
    """The notebooks' seed: ``GAN_HELPERS_SEED`` when set (to check that no result hangs on one lucky
    seed, ``make test-seeds``), else 42."""
    value = os.environ.get(SEED_ENV, "").strip()
    if not value:
        return DEFAULT_SEED
    try:
        seed = int(value)
    except ValueError:
        seed = -1
    if not 0 <= seed < 2**32:
        raise ValueError(f"{SEED_ENV}={value!r} is not a seed; use a whole number from 0 to 2**32 - 1.")
    return seed


def set_seed(seed: int | None = None, deterministic: bool = False) -> int:
    """Seed Python, NumPy and TensorFlow (through Keras); optionally make TF ops deterministic.
    With no seed, the notebooks' ``default_seed()``."""
    import keras

    if seed is None:
        seed = default_seed()

    keras.utils.set_random_seed(seed)
    if deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    return seed


def gpu_names() -> list[str]:
    """Names of the GPUs TensorFlow can see (empty on a CPU-only machine)."""
    import tensorflow as tf

    names = []
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        names.append(details.get("device_name", gpu.name))
    return names


def has_gpu() -> bool:
    """True when TensorFlow sees at least one GPU."""
    return bool(gpu_names())


def default_jit_compile() -> bool | str:
    """XLA for ``compile(jit_compile=…)``: Keras' own default, "auto" (on where the model allows it).
    On the 2-core CPU the XLA-compiled GAN step measured as fast as the plain one (``make bench``);
    on a GPU it is the usual choice. One place to change it for every recipe-built GAN."""
    return "auto"


def device_description() -> str:
    """One line naming the device TensorFlow will use."""
    gpus = gpu_names()
    if gpus:
        return f"GPU: {gpus[0]}" + (f" (+{len(gpus) - 1} more)" if len(gpus) > 1 else "")
    cpu = platform.processor() or platform.machine()
    return f"CPU ({os.cpu_count()} cores, {cpu})"


def versions() -> dict[str, str]:
    """Versions of the libraries whose behaviour the results depend on."""
    import keras
    import matplotlib
    import numpy as np
    import tensorflow as tf

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "keras_backend": keras.backend.backend(),
        "numpy": np.__version__,
        "matplotlib": matplotlib.__version__,
    }


def describe_runtime(seed: int | None = None) -> str:
    """The Setup cell's report: versions, device, mode, with a hint when no GPU is visible."""
    v = versions()
    lines = [
        "Python {python} | TensorFlow {tensorflow} | Keras {keras} ({keras_backend} backend) | "
        "NumPy {numpy}".format(**v),
        f"Device: {device_description()}",
        f"Mode: {'fast (small runs)' if is_fast() else 'full'}  (set {FAST_ENV}=1 for the fast mode)",
    ]
    if seed is not None:
        lines.append(f"Seed: {seed}")
    if not has_gpu():
        lines.append("No GPU visible. On Colab: Runtime > Change runtime type > GPU (it runs on a "
                     "CPU too, only slower).")
    return "\n".join(lines)
