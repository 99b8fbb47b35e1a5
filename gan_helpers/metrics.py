"""Measuring a GAN without downloads: a small MNIST feature net trained once per machine, and
Fréchet distance, classifier score, class coverage, precision/recall, density/coverage and a
memorisation check on its features, each calibrated against reference sets."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CACHE_ENV = "GAN_HELPERS_CACHE"
FEATURE_NET_VERSION = 2  # 2: seeded before the model is built, so weights repeat exactly


def _shown(path: Path) -> str:
    """A path as printed: the home folder as ~, so outputs do not carry a user's folder names."""
    text, home = str(path), str(Path.home())
    return "~" + text[len(home):] if text.startswith(home) else text


def cache_dir() -> Path:
    """Where trained helper weights live: $GAN_HELPERS_CACHE or ~/.cache/gan_helpers."""
    return Path(os.environ.get(CACHE_ENV, Path.home() / ".cache" / "gan_helpers"))


# ----------------------------------------------------------------------------- the feature net
def build_feature_net(width: int = 32, feature_dim: int = 128):
    """A small CNN classifier for 28×28 digits in [-1, 1]; its ``features`` layer gives the
    embedding the metrics use, its output the 10 class logits."""
    import keras
    from keras import layers

    inputs = keras.Input((28, 28, 1))
    x = inputs
    for filters in (width, 2 * width):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    features = layers.Dense(feature_dim, activation="relu", name="features")(x)
    logits = layers.Dense(10, name="logits")(layers.Dropout(0.3)(features))
    return keras.Model(inputs, logits, name="feature_net")


@dataclass
class FeatureNet:
    """A trained feature net: ``features(x)`` and ``probs(x)`` for images in [-1, 1]."""

    model: object
    test_accuracy: float
    source: str
    n_train: int
    seconds: float

    def __post_init__(self):
        import keras

        self._both = keras.Model(self.model.input,
                                 [self.model.get_layer("features").output, self.model.output])

    def _run(self, images, batch_size: int = 500):
        x = _as_gan_images(images)
        feats, logits = [], []
        for i in range(0, len(x), batch_size):
            f, l = self._both(x[i:i + batch_size], training=False)
            feats.append(np.asarray(f))
            logits.append(np.asarray(l))
        return np.concatenate(feats).astype(np.float64), np.concatenate(logits).astype(np.float64)

    def features(self, images) -> np.ndarray:
        return self._run(images)[0]

    def probs(self, images) -> np.ndarray:
        logits = self._run(images)[1]
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def features_and_probs(self, images) -> tuple[np.ndarray, np.ndarray]:
        f, logits = self._run(images)
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return f, e / e.sum(axis=1, keepdims=True)


def _as_gan_images(images) -> np.ndarray:
    from .data import to_gan_range

    x = np.asarray(images)
    if x.dtype == np.uint8:
        return to_gan_range(x)
    x = x.astype(np.float32)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[1:] != (28, 28, 1) or len(x) == 0:
        raise ValueError(f"expected a non-empty batch of 28×28 single-channel images, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("images contain NaN or inf; pixels must be numbers in [-1, 1] (a diverged "
                         "generator gives NaN)")
    if x.min() < -1.001 or x.max() > 1.001:
        raise ValueError("float images must be in [-1, 1] (the generator's tanh range); "
                         f"got [{x.min():.2f}, {x.max():.2f}]")
    return x


def load_feature_net(source: str = "auto", epochs: int | None = None, retrain: bool = False,
                     seed: int = 0, verbose: bool = True, digits=None) -> FeatureNet:
    """The feature net for the MNIST the loader gives (``source``), trained with a fixed seed on its
    training split and cached under ``cache_dir()`` keyed by the data source; trained only once.
    Pass ``digits`` (from ``load_mnist(with_test=True)``) to reuse data you have already loaded."""
    import keras

    from . import config, data

    if digits is None:
        digits = data.load_mnist(source, with_test=True, seed=seed)
    elif digits.x_test is None:
        raise ValueError("digits must come from load_mnist(with_test=True): the feature net is tested on "
                         "the held-out split")
    epochs = epochs or (3 if digits.source == "keras" else 10)
    key = f"feature_net_v{FEATURE_NET_VERSION}_{digits.source}_{len(digits.x_train)}_e{epochs}_s{seed}"
    weights, info_file = cache_dir() / f"{key}.weights.h5", cache_dir() / f"{key}.json"
    config.set_seed(seed)  # before building: the initial weights must not depend on earlier draws
    model = build_feature_net()
    if (weights.exists() or info_file.exists()) and not retrain:
        try:
            info = _checked_cache(weights, info_file)
            model.load_weights(weights)
            if verbose:
                print(f"feature net: loaded from the cache (test accuracy {info['test_accuracy']:.2%})")
            return FeatureNet(model, info["test_accuracy"], digits.source, info["n_train"], info["seconds"])
        except Exception as exc:  # any damage: never trust it, train again
            print(f"feature net: the cache {_shown(weights)} is damaged ({type(exc).__name__}); "
                  "training the net again and replacing it.")
            config.set_seed(seed)
            model = build_feature_net()

    model.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    x_tr, x_te = data.to_gan_range(digits.x_train), data.to_gan_range(digits.x_test)
    t0 = time.perf_counter()
    model.fit(x_tr, digits.y_train, batch_size=128, epochs=epochs, verbose=0, shuffle=True)
    seconds = time.perf_counter() - t0
    accuracy = float(model.evaluate(x_te, digits.y_test, verbose=0)[1])
    cache_dir().mkdir(parents=True, exist_ok=True)
    model.save_weights(weights)
    info_file.write_text(json.dumps({"test_accuracy": accuracy, "n_train": len(x_tr), "seconds": seconds,
                                     "source": digits.source, "epochs": epochs,
                                     "sha256": _sha256(weights)}))
    if verbose:
        print(f"feature net: trained on {len(x_tr)} {digits.source} digits in {seconds:.0f} s, "
              f"test accuracy {accuracy:.2%} on {len(x_te)} held-out digits; cached in {_shown(weights)}")
    return FeatureNet(model, accuracy, digits.source, len(x_tr), seconds)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _checked_cache(weights: Path, info_file: Path) -> dict:
    """The cache's info, after checking that both files are there, the info is whole and the weights
    match the sha256 it recorded (caches from before the hash was kept are loaded and checked by
    Keras alone)."""
    info = json.loads(info_file.read_text())
    accuracy = float(info["test_accuracy"])
    if not 0.0 <= accuracy <= 1.0 or int(info["n_train"]) < 1:
        raise ValueError("implausible info")
    if "sha256" in info and _sha256(weights) != info["sha256"]:
        raise ValueError("weights do not match their recorded sha256")
    return info


# ----------------------------------------------------------------------------- the metrics
def frechet_distance(f1: np.ndarray, f2: np.ndarray, eps: float = 1e-6) -> float:
    """‖μ1 − μ2‖² + Tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^½) between Gaussians fitted to two feature sets.

    The matrix square root can pick up tiny imaginary parts from rounding, which are dropped
    (large ones raise); a near-singular product gets ``eps`` added on the diagonal."""
    from scipy import linalg

    f1, f2 = np.asarray(f1, np.float64), np.asarray(f2, np.float64)
    if f1.ndim != 2 or f2.ndim != 2 or f1.shape[1] != f2.shape[1]:
        raise ValueError(f"need two [N, d] feature arrays of the same d, got {f1.shape} and {f2.shape}")
    if min(len(f1), len(f2)) < 2:
        raise ValueError("need at least 2 samples in each set to estimate a covariance")
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    # dead ReLU units make Σ singular; handled just below. Older SciPy prints that news (its `disp`
    # argument, which would silence it, is deprecated), newer SciPy warns: both are kept quiet here.
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(s1 @ s2)
    if not np.isfinite(covmean).all():
        offset = np.eye(len(s1)) * eps
        covmean = linalg.sqrtm((s1 + offset) @ (s2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3 * max(1.0, np.abs(covmean).max())):
            raise ValueError(f"sqrtm has a large imaginary part ({np.abs(covmean.imag).max():.3g})")
        covmean = covmean.real
    diff = mu1 - mu2
    return float(max(0.0, diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)))


def classifier_score(probs: np.ndarray) -> float:
    """exp(E_x KL(p(y|x) ‖ p(y))): the Inception-score analogue, between 1 and the 10 classes."""
    p = np.clip(np.asarray(probs, np.float64), 1e-12, 1.0)
    marginal = p.mean(0)
    return float(np.exp(np.mean(np.sum(p * (np.log(p) - np.log(marginal)), axis=1))))


CONFIDENT_P = 0.9


def confident_share(probs: np.ndarray, threshold: float = CONFIDENT_P) -> float:
    """Share of images the feature net puts in one class with probability ≥ ``threshold``: a
    fidelity figure a reader can picture (an illegible blob rarely gets p ≥ 0.9)."""
    p = np.asarray(probs, np.float64)
    if p.ndim != 2 or p.shape[1] != 10:
        raise ValueError(f"probs must be an [N, 10] array of class probabilities, got shape {p.shape}")
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
    return float(np.mean(p.max(axis=1) >= threshold))


def class_coverage(probs: np.ndarray, min_share: float = 0.01) -> dict:
    """The histogram of predicted classes: how many classes hold at least ``min_share`` of the
    samples, the share of classes covered (``class_coverage``, not Naeem's k-NN coverage), the
    smallest and largest class share, and KL(histogram ‖ uniform) in nats (0 = balanced)."""
    pred = np.asarray(probs).argmax(1)
    hist = np.bincount(pred, minlength=10) / len(pred)
    nz = hist > 0
    return {"classes_present": int((hist >= min_share).sum()),
            "class_coverage": float((hist >= min_share).sum() / 10),
            "kl_from_uniform": float(np.sum(hist[nz] * np.log(hist[nz] * 10))),
            "min_class_share": float(hist.min()), "max_class_share": float(hist.max()),
            "histogram": hist.round(4).tolist()}


def _pairwise(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return np.sqrt(np.maximum(sq, 0))


def _kth_radius(x: np.ndarray, k: int) -> np.ndarray:
    d = _pairwise(x, x)
    return np.sort(d, axis=1)[:, k]  # column 0 is the point itself


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> dict:
    """Improved precision and recall (Kynkäänniemi et al. 2019): precision is the share of fakes
    inside some real sample's k-NN ball, recall the share of reals inside some fake's ball."""
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    r_real, r_fake = _kth_radius(real, k), _kth_radius(fake, k)
    d = _pairwise(real, fake)
    precision = float(np.mean((d <= r_real[:, None]).any(axis=0)))
    recall = float(np.mean((d <= r_fake[None, :]).any(axis=1)))
    return {"precision": precision, "recall": recall}


def density_coverage(real: np.ndarray, fake: np.ndarray, k: int = 5) -> dict:
    """Density and coverage (Naeem et al. 2020). Density counts how many real k-NN balls contain
    each fake (≈ 1 for identical distributions); coverage is the share of real balls holding a fake."""
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    r_real = _kth_radius(real, k)
    inside = _pairwise(real, fake) <= r_real[:, None]
    return {"density": float(inside.sum() / (k * len(fake))), "coverage": float(inside.any(axis=1).mean())}


def nearest_neighbours(queries: np.ndarray, reference: np.ndarray, n: int = 3,
                       exclude_self: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-space L2 nearest neighbours: (indices [Q, n], distances [Q, n]) of each query in
    ``reference``. Images in [-1, 1] or uint8; distances are on the [0, 1] pixel scale."""
    q = (_as_gan_images(queries).reshape(len(queries), -1).astype(np.float64) + 1) / 2
    r = (_as_gan_images(reference).reshape(len(reference), -1).astype(np.float64) + 1) / 2
    d = _pairwise(q, r)
    if exclude_self:
        d[d < 1e-5] = np.inf  # rounding in the expanded distance leaves ~1e-7 for a copy
    idx = np.argsort(d, axis=1)[:, :n]
    return idx, np.take_along_axis(d, idx, axis=1)


def evaluate(net: FeatureNet, fake_images, real_images) -> dict:
    """All the feature-based metrics of ``fake_images`` against ``real_images`` (same count advised)."""
    f_fake, p_fake = net.features_and_probs(fake_images)
    f_real = net.features(real_images)
    cov = class_coverage(p_fake)
    dc = density_coverage(f_real, f_fake)
    return {"fd_mnist": frechet_distance(f_real, f_fake), "classifier_score": classifier_score(p_fake),
            "confident_share": confident_share(p_fake),
            "classes_present": cov["classes_present"], "class_kl": cov["kl_from_uniform"],
            "min_class_share": cov["min_class_share"], "max_class_share": cov["max_class_share"],
            **precision_recall(f_real, f_fake), "density": dc["density"], "knn_coverage": dc["coverage"]}


def blur(images_uint8: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """Gaussian-blurred copies of uint8 digits (a reference set that keeps shape, loses detail)."""
    from scipy.ndimage import gaussian_filter

    x = np.asarray(images_uint8, np.float64)
    return np.clip(gaussian_filter(x, sigma=(0, sigma, sigma)), 0, 255).round().astype(np.uint8)


def reference_sets(x: np.ndarray, y: np.ndarray, n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Calibration rows, each ``n`` uint8 images drawn from (x, y), which should be data the real
    comparison set does not contain: real digits (the noise floor), uniform noise, blurred digits,
    a single class, and real digits with classes 0–4 removed.

    Pass the whole training split: a row repeats an image only once every distinct image of its kind
    is in it (8,000 bundled digits hold about 900 ones, so the 1s row repeats each about twice at n = 2,000).
    """
    rng = np.random.default_rng(seed)

    def draw(index: np.ndarray) -> np.ndarray:   # every image once, in random order, before any repeat
        if len(index) == 0:
            raise ValueError("reference_sets: y holds no image of a class that a row needs (1 and 5–9)")
        return x[np.resize(rng.permutation(index), n)]

    pick = draw(np.arange(len(x)))
    return {
        "real vs real (noise floor)": pick,
        "uniform noise": rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
        "blurred real (σ = 1 px)": blur(pick, 1.0),
        "a single class (1s)": draw(np.flatnonzero(y == 1)),
        "classes 0–4 removed": draw(np.flatnonzero(y >= 5)),
    }


def distinct_images(images: np.ndarray) -> int:
    """How many different images a set holds (repeats count once)."""
    flat = np.ascontiguousarray(np.asarray(images).reshape(len(images), -1))
    return len(np.unique(flat, axis=0))


TABLE_COLUMNS = ("fd_mnist", "confident_share", "classifier_score", "classes_present", "precision", "recall",
                 "density", "knn_coverage")


def format_table(table: dict[str, dict], columns: tuple[str, ...] = TABLE_COLUMNS) -> str:
    """Rows of ``evaluate`` results (name → metrics) as an aligned text table."""
    lines = [f"{'set':<30}" + "".join(f"{c:>17}" for c in columns)]
    for name, row in table.items():
        lines.append(f"{name:<30}" + "".join(
            f"{row[c]:>17.3f}" if isinstance(row[c], float) else f"{row[c]:>17}" for c in columns))
    return "\n".join(lines)


# ----------------------------------------------------------------------------- 2-D toy data
def mode_coverage(samples: np.ndarray, dataset, min_share: float | None = None,
                  n_sigma: float = 3.0) -> dict:
    """How well 2-D samples cover a ``gh.toy.ToyDataset``'s known modes.

    A sample is *high quality* if it lies within ``n_sigma``·σ of some mode (3σ, as in VEEGAN and
    PacGAN). A mode is *covered* if at least ``min_share`` of all samples are high-quality samples
    of it; the default is a fifth of its fair share, 0.2/K (PacGAN's 20 of 2,500 on 25 modes).
    ``kl_uniform`` is KL(h ‖ uniform) of the histogram h of every sample's nearest mode: 0 when the
    modes are hit equally, log K when one mode takes everything."""
    samples = np.asarray(samples, dtype="float64")
    if samples.ndim != 2 or samples.shape[1] != 2 or len(samples) == 0:
        raise ValueError(f"samples must be a non-empty array of shape (n, 2), got {samples.shape}")
    if not np.all(np.isfinite(samples)):
        raise ValueError("samples contain NaN or inf; the generator has diverged")
    k = dataset.n_modes
    min_share = 0.2 / k if min_share is None else float(min_share)
    if not 0 < min_share <= 1:
        raise ValueError(f"min_share must be in (0, 1], got {min_share}")
    nearest, distance = dataset.nearest_mode(samples)
    good = distance <= n_sigma * dataset.sigma
    per_mode_good = np.bincount(nearest[good], minlength=k)
    hist = np.bincount(nearest, minlength=k) / len(samples)
    nz = hist > 0
    return {
        "modes": int(np.sum(per_mode_good >= min_share * len(samples))),
        "n_modes": k,
        "high_quality": float(good.mean()),
        "kl_uniform": float(np.sum(hist[nz] * np.log(hist[nz] * k))),
        "per_mode": per_mode_good.tolist(),
    }
