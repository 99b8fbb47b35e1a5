"""Digit data that cannot break: Keras' download when it works, the bundled real sample when not."""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from importlib import resources

import numpy as np

SOURCES = ("auto", "keras", "bundled")
DATASETS = ("mnist", "fashion_mnist")
BUNDLED_FILE = "mnist_sample.npz"
BUNDLED_SHA256 = "f045c0c1fe5a08728a4265e309ca180aaef7166dac1d67e745286262117134ce"
BUNDLED_TEST_SIZE = 2000


class DataUnavailableError(RuntimeError):
    """The requested data could not be loaded; the message says what to do instead."""


@dataclass(frozen=True)
class Digits:
    """Images as uint8 [N, 28, 28] with uint8 labels; ``source`` says where they came from."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    name: str
    source: str

    def describe(self) -> str:
        test = f", {len(self.x_test)} test" if self.x_test is not None else ""
        where = {"keras": "keras.datasets (downloaded or cached)",
                 "bundled": "the bundled 10,000-digit sample"}[self.source]
        return f"{self.name}: {len(self.x_train)} train{test} images from {where}"


def _check_source(source: str) -> None:
    if source not in SOURCES:
        raise ValueError(f"source={source!r} is not known; choose one of {', '.join(SOURCES)}.")


def load_bundled_mnist() -> tuple[np.ndarray, np.ndarray]:
    """The 10,000 real MNIST training digits shipped in the package, checked against their sha256."""
    raw = resources.files("gan_helpers").joinpath("datasets", BUNDLED_FILE).read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != BUNDLED_SHA256:
        raise DataUnavailableError(
            f"The bundled {BUNDLED_FILE} is damaged (sha256 {digest[:12]}…, expected "
            f"{BUNDLED_SHA256[:12]}…). Rebuild it with: python scripts/build_mnist_sample.py --write")
    import io

    with np.load(io.BytesIO(raw)) as npz:
        return npz["x"], npz["y"]


def _stratified_split(x: np.ndarray, y: np.ndarray, test_size: int, seed: int):
    """Split keeping the class shares, with a fixed seed so everyone gets the same split."""
    rng = np.random.default_rng(seed)
    per_class = np.bincount(y, minlength=10) * test_size / len(y)
    counts = np.floor(per_class).astype(int)
    counts[np.argsort(per_class - counts)[::-1][: test_size - counts.sum()]] += 1
    test_idx = np.concatenate([rng.choice(np.flatnonzero(y == c), counts[c], replace=False)
                               for c in range(10)])
    mask = np.zeros(len(y), bool)
    mask[test_idx] = True
    train_idx = rng.permutation(np.flatnonzero(~mask))
    test_idx = rng.permutation(test_idx)
    return x[train_idx], y[train_idx], x[test_idx], y[test_idx]


def load_mnist(source: str = "auto", with_test: bool = False, seed: int = 0) -> Digits:
    """MNIST from ``keras.datasets`` (``source="keras"``), the bundled sample (``"bundled"``),
    or the first that works (``"auto"``, the default: it prints one line when it falls back).

    With ``with_test=True`` the bundled sample is split 8,000/2,000 (stratified, fixed seed);
    Keras gives the official 60,000/10,000 split.
    """
    _check_source(source)
    if source in ("auto", "keras"):
        try:
            import keras

            was_on = keras.config.is_interactive_logging_enabled()
            keras.config.disable_interactive_logging()   # no "Downloading data from <url>" line
            try:
                (x_tr, y_tr), (x_te, y_te) = keras.datasets.mnist.load_data()
            finally:
                if was_on:
                    keras.config.enable_interactive_logging()
            if not with_test:
                x_te = y_te = None
            return Digits(x_tr, y_tr, x_te, y_te, "mnist", "keras")
        except Exception as exc:  # any network, certificate or cache failure
            if source == "keras":
                raise DataUnavailableError(
                    f"keras.datasets.mnist could not be loaded ({_short(exc)}). Use source='bundled' "
                    "(or source='auto') to train on the real MNIST sample that ships with "
                    "gan_helpers.") from exc
            print(f"gan_helpers: MNIST could not be downloaded ({type(exc).__name__}); "
                  "using the bundled sample of 10,000 real MNIST digits instead.")
    x, y = load_bundled_mnist()
    if with_test:
        x_tr, y_tr, x_te, y_te = _stratified_split(x, y, BUNDLED_TEST_SIZE, seed)
        return Digits(x_tr, y_tr, x_te, y_te, "mnist", "bundled")
    order = np.random.default_rng(seed).permutation(len(y))
    return Digits(x[order], y[order], None, None, "mnist", "bundled")


def load_fashion_mnist(source: str = "auto", with_test: bool = False) -> Digits:
    """Fashion-MNIST from ``keras.datasets``; it has no offline copy, so offline it fails clearly."""
    _check_source(source)
    if source == "bundled":
        raise DataUnavailableError(
            "There is no bundled Fashion-MNIST; only MNIST ships with gan_helpers. "
            "Use load_mnist(source='bundled') (CLI: --dataset mnist) to go on offline.")
    try:
        import keras

        (x_tr, y_tr), (x_te, y_te) = keras.datasets.fashion_mnist.load_data()
    except Exception as exc:
        raise DataUnavailableError(
            f"Fashion-MNIST could not be downloaded ({_short(exc)}) and has no offline copy. "
            "Use the bundled MNIST sample to go on: load_mnist(source='bundled') "
            "(CLI: --dataset mnist).") from exc
    if not with_test:
        x_te = y_te = None
    return Digits(x_tr, y_tr, x_te, y_te, "fashion_mnist", "keras")


def load_dataset(name: str = "mnist", source: str = "auto", with_test: bool = False) -> Digits:
    """Load a data set by name: one of ``DATASETS``."""
    if name == "mnist":
        return load_mnist(source, with_test)
    if name == "fashion_mnist":
        return load_fashion_mnist(source, with_test)
    raise ValueError(f"dataset {name!r} is not known; choose one of {', '.join(DATASETS)}.")


def check_gan_images(images, name: str = "images") -> np.ndarray:
    """``images`` as float32 [N, H, W, C] in [-1, 1], or a ``TypeError``/``ValueError`` saying what is
    wrong (uint8 or 0..255 pixels, no channel axis, NaN, empty) and how to get what is allowed."""
    x = np.asarray(images)
    if x.dtype == np.uint8:
        raise TypeError(f"{name} are uint8 pixels in 0..255; the GAN works on floats in [-1, 1]: "
                        f"convert them with gh.data.to_gan_range({name}).")
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise TypeError(f"{name} must be an array of float pixels in [-1, 1], got dtype {x.dtype}.")
    if x.ndim == 0 or len(x) == 0:
        raise ValueError(f"{name} is empty (shape {x.shape}); give at least one image [N, H, W, C].")
    if x.ndim == 3:
        raise ValueError(f"{name} have shape {x.shape}, without the channel axis; the networks take "
                         f"[N, H, W, C]: use {name}[..., None] (to_gan_range adds it for uint8 digits).")
    if x.ndim != 4:
        raise ValueError(f"{name} must be a batch of images [N, H, W, C], got shape {x.shape}.")
    x = x.astype(np.float32, copy=False)
    finite = np.isfinite(x)
    if not finite.all():
        raise ValueError(f"{name} hold {int((~finite).sum())} NaN or inf pixel values; every pixel must "
                         "be a number in [-1, 1] (check how they were loaded or scaled).")
    lo, hi = float(x.min()), float(x.max())
    if lo < -1.001 or hi > 1.001:
        hint = (" They look like 0..255 pixels: use to_gan_range on the uint8 images, or x / 127.5 - 1."
                if lo >= 0 and hi > 1.5 else "")
        raise ValueError(f"{name} must be in [-1, 1] (the generator's tanh range), got values in "
                         f"[{lo:.3g}, {hi:.3g}].{hint}")
    return x


def to_gan_range(images: np.ndarray) -> np.ndarray:
    """uint8 [N, 28, 28] pixels to float32 [N, 28, 28, 1] in [-1, 1], the range of a tanh output."""
    images = np.asarray(images)
    if images.dtype != np.uint8:
        kind = ("they look like images already in [-1, 1], which need no conversion"
                if images.size and np.issubdtype(images.dtype, np.floating)
                and np.nanmin(images) >= -1.001 and np.nanmax(images) <= 1.001 else
                "give the raw uint8 pixels")
        raise TypeError(f"to_gan_range expects uint8 pixels in 0..255, got dtype {images.dtype}; {kind}.")
    if images.ndim not in (3, 4) or len(images) == 0:
        raise ValueError(f"to_gan_range expects a non-empty batch [N, H, W] or [N, H, W, 1], got shape "
                         f"{images.shape}.")
    x = images.astype(np.float32) / 127.5 - 1.0
    return x[..., None] if x.ndim == 3 else x


def from_gan_range(images) -> np.ndarray:
    """Images in [-1, 1] (any trailing channel) back to uint8 pixels, clipping stray values."""
    x = np.asarray(images)
    if x.dtype == np.uint8:
        raise TypeError("from_gan_range expects floats in [-1, 1], got uint8 pixels, which are already "
                        "in 0..255.")
    x = x.astype(np.float32)
    if x.size and (np.nanmax(x) > 1.5 or np.nanmin(x) < -1.5):
        raise ValueError(f"from_gan_range expects floats in [-1, 1], got values in [{np.nanmin(x):.3g}, "
                         f"{np.nanmax(x):.3g}]; 0..255 floats need no conversion (use .astype('uint8')).")
    return np.clip(np.rint((x + 1.0) * 127.5), 0, 255).astype(np.uint8)


def make_dataset(images: np.ndarray, batch_size: int, shuffle: bool = True, seed: int = 0):
    """A ``tf.data`` pipeline of full batches (last partial batch dropped) of images in [-1, 1]."""
    import tensorflow as tf

    images = check_gan_images(images)
    _check_batch_size(batch_size, len(images))
    ds = tf.data.Dataset.from_tensor_slices(images)
    if shuffle:
        ds = ds.shuffle(min(len(images), 10_000), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def resumable_dataset(images: np.ndarray, batch_size: int, seed: int = 0, start_step: int = 0,
                      labels: np.ndarray | None = None):
    """An endless ``tf.data`` stream of full batches in which pass p over the data is the permutation
    drawn from (``seed``, p) alone, starting at batch ``start_step``: a run resumed at any step sees
    exactly the batches an uninterrupted run would (``make_dataset``'s reshuffling depends on how
    many times the pipeline was iterated, which a new process does not know). With ``labels`` (one
    integer per image, for a conditional GAN) each batch is the pair (images, labels)."""
    import tensorflow as tf

    images = check_gan_images(images)
    n = len(images)
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"labels must be one integer per image, shape ({n},); got shape {labels.shape} "
                             f"of dtype {labels.dtype}.")
        y = tf.constant(labels.astype(np.int32))
    _check_batch_size(batch_size, n)
    if start_step < 0:
        raise ValueError(f"start_step must be ≥ 0, got {start_step}")
    per_pass = n // batch_size
    first_pass, offset = divmod(int(start_step), per_pass)
    x = tf.constant(images)

    def one_pass(p):
        order = tf.argsort(tf.random.stateless_uniform([n], seed=tf.stack([tf.cast(seed, tf.int64), p])))
        return tf.data.Dataset.from_tensor_slices(order[: per_pass * batch_size]).batch(batch_size)

    batches = tf.data.Dataset.range(first_pass, 2**62).flat_map(one_pass).skip(offset)
    if labels is not None:
        return batches.map(lambda idx: (tf.gather(x, idx), tf.gather(y, idx))).prefetch(tf.data.AUTOTUNE)
    return batches.map(lambda idx: tf.gather(x, idx)).prefetch(tf.data.AUTOTUNE)


def _check_batch_size(batch_size, n: int) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise TypeError(f"batch_size must be a whole number, got {batch_size!r}")
    if batch_size < 1 or batch_size > n:
        raise ValueError(f"batch_size={batch_size} must be between 1 and the {n} images available.")


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) < 160 else text[:157] + "…"


if __name__ == "__main__":  # pragma: no cover - tiny manual check
    print(load_mnist(sys.argv[1] if len(sys.argv) > 1 else "auto", with_test=True).describe())
