"""2-D toy data with known modes (the ring of 8 Gaussians), and snapshots of a toy GAN's game:
the discriminator's landscape D(x) over the plane and the generator's gradient on its samples,
recorded during training by ``ToyRecorder``."""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from . import config, models
from .metrics import mode_coverage
from .recipes import compile_gan
from .training import GAN, generate_from, noise

TOY_DATASETS = ("ring",)


@dataclass(frozen=True)
class ToyDataset:
    """An equal-weight mixture of isotropic Gaussians: ``modes`` are the K centres (K×2) and
    ``sigma`` their common standard deviation, so every mode and the ideal sample are known."""

    name: str
    modes: np.ndarray
    sigma: float

    @property
    def n_modes(self) -> int:
        return len(self.modes)

    def sample(self, n: int, seed: int | None = None) -> np.ndarray:
        """``n`` points (float32, n×2): a uniformly chosen mode plus N(0, σ²I) noise."""
        if not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        rng = np.random.default_rng(seed)
        which = rng.integers(0, self.n_modes, n)
        return (self.modes[which] + self.sigma * rng.standard_normal((n, 2))).astype("float32")

    def nearest_mode(self, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each point (n×2): the index of its nearest mode and the distance to it."""
        samples = np.asarray(samples, dtype="float64")
        dist = np.linalg.norm(samples[:, None, :] - self.modes[None, :, :], axis=-1)
        index = dist.argmin(1)
        return index, dist[np.arange(len(samples)), index]

    def extent(self, margin: float = 1.0) -> tuple[float, float, float, float]:
        """A square (x0, x1, y0, y1) around the modes for plots and heat maps."""
        lo, hi = self.modes.min(0) - margin, self.modes.max(0) + margin
        half = float(max(hi - lo)) / 2
        cx, cy = (lo + hi) / 2
        return (cx - half, cx + half, cy - half, cy + half)


def _ring(n_modes: int = 8, radius: float = 2.0, sigma: float = 0.05) -> ToyDataset:
    angles = 2 * np.pi * np.arange(n_modes) / n_modes
    return ToyDataset("ring", radius * np.stack([np.cos(angles), np.sin(angles)], 1), sigma)


_BUILDERS = {"ring": _ring}


def toy_dataset(name: str, **kwargs) -> ToyDataset:
    """``ring``: 8 Gaussians on a circle of radius 2 as in Metz et al. 2016, with σ = 0.05 (theirs is
    ``sigma=0.02``, which needs many more steps to hit within 3σ); keyword arguments change the sizes."""
    try:
        builder = _BUILDERS[name]
    except KeyError:
        raise ValueError(f"toy dataset {name!r} is not known; choose one of "
                         f"{', '.join(TOY_DATASETS)}.") from None
    return builder(**kwargs)


def make_toy_dataset(dataset: ToyDataset, batch_size: int = 256, seed: int = 0,
                     pool: int = 100_000):
    """An endless shuffled ``tf.data`` stream of real points for ``GAN.fit(..., steps_per_epoch=…)``."""
    import tensorflow as tf

    points = dataset.sample(pool, seed=seed)
    return (tf.data.Dataset.from_tensor_slices(points).shuffle(pool, seed=seed,
                                                             reshuffle_each_iteration=True)
            .repeat().batch(batch_size, drop_remainder=True).prefetch(2))


# ----------------------------------------------------------------------------- the game, frozen
@dataclass
class Snapshot:
    """One moment of the game: D(x) on a grid (probabilities, or raw scores for a critic), the
    generated points, and −∇ₓ L_G at them, the direction the generator's loss pushes each one."""

    step: int
    grid_x: np.ndarray
    grid_y: np.ndarray
    d_values: np.ndarray
    fake: np.ndarray
    push: np.ndarray
    is_critic: bool = False


def snapshot(gan, z: np.ndarray, extent: tuple[float, float, float, float], step: int = 0,
             resolution: int = 80) -> Snapshot:
    """Freeze ``gan`` (a compiled ``gh.training.GAN`` with 2-D data) on the fixed noise ``z``."""
    import tensorflow as tf

    x0, x1, y0, y1 = extent
    gx, gy = np.meshgrid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))
    grid = np.stack([gx.ravel(), gy.ravel()], 1).astype("float32")
    scores = gan.discriminator(grid, training=False).numpy().reshape(gx.shape)
    is_critic = gan.is_wasserstein
    d_values = scores if is_critic else 1 / (1 + np.exp(-scores))
    fake = tf.Variable(gan.generator(np.asarray(z, "float32"), training=False))
    with tf.GradientTape() as tape:
        loss = gan.g_loss_fn(gan.discriminator(fake, training=False)) * tf.cast(tf.shape(fake)[0],
                                                                                  tf.float32)
    push = -tape.gradient(loss, fake).numpy()       # per-sample gradient (the mean's 1/n undone)
    return Snapshot(step, gx, gy, d_values, fake.numpy(), push, is_critic)


class ToyRecorder(keras.callbacks.Callback):
    """Records a 2-D toy GAN's game before training and after every epoch (use
    ``steps_per_epoch`` to set how many steps apart): a ``Snapshot`` of the landscape and
    the generator's push, and ``mode_coverage`` of the samples from the fixed noise ``z``."""

    def __init__(self, dataset, z: np.ndarray, extent: tuple[float, float, float, float] | None = None,
                 resolution: int = 80, n_arrows: int = 200, snapshots: bool = True):
        super().__init__()
        self.dataset, self.z = dataset, np.asarray(z, dtype="float32")
        self.extent = extent or dataset.extent()
        self.resolution, self.n_arrows, self.keep_snapshots = resolution, n_arrows, snapshots
        self.steps: list[int] = []
        self.coverage: list[dict] = []
        self.snapshots: list = []

    def _record(self, step: int) -> None:
        self.steps.append(step)
        self.coverage.append(mode_coverage(generate_from(self.model.generator, self.z), self.dataset))
        if self.keep_snapshots:
            self.snapshots.append(snapshot(self.model, self.z[: self.n_arrows], self.extent, step,
                                           self.resolution))

    def on_train_begin(self, logs=None):
        if not self.steps:
            self._record(0)

    def on_epoch_end(self, epoch, logs=None):
        self._record((epoch + 1) * int(self.params["steps"]))

    def series(self, key: str = "modes") -> np.ndarray:
        """One coverage figure over the recorded steps: a key of ``mode_coverage`` (``modes``,
        ``high_quality``, ``kl_uniform``) or of ``collapse_stats`` (``top2_share``, ``kl_hq``,
        ``modes_hq``, ``main_mode``)."""
        if self.coverage and key not in self.coverage[0]:
            return np.array([collapse_stats(c)[key] for c in self.coverage])
        return np.array([c[key] for c in self.coverage])


def collapse_stats(coverage: dict) -> dict:
    """Figures of one ``mode_coverage`` result that count only the high-quality samples (those
    within 3σ of a mode), so that points off the data never pass for a mode:

    - ``top2_share``: the share of *all* samples that are high quality and on the two modes that
      hold most of them (≥ 0.8 means most samples really sit on one or two modes);
    - ``main_mode``: the mode with the most high-quality samples (−1 if there are none);
    - ``kl_hq``: KL(h ‖ uniform) of the histogram h of the high-quality samples over the modes
      (0: even, log K: all on one mode; NaN if there are no high-quality samples);
    - ``modes_hq``: how many modes hold at least one high-quality sample."""
    per_mode = np.asarray(coverage["per_mode"], dtype="float64")
    k, total = len(per_mode), per_mode.sum()
    if total == 0:
        return {"top2_share": 0.0, "main_mode": -1, "kl_hq": float("nan"), "modes_hq": 0}
    h = per_mode / total
    nz = h > 0
    return {"top2_share": float(np.sort(h)[::-1][:2].sum() * coverage["high_quality"]),
            "main_mode": int(per_mode.argmax()),
            "kl_hq": float(np.sum(h[nz] * np.log(h[nz] * k))),
            "modes_hq": int(nz.sum())}


def find_hops(steps, coverages: list[dict], min_share: float = 0.8) -> list[tuple[int, int, int]]:
    """Mode hops in a run recorded by ``ToyRecorder``: (step, mode before, mode after) for each pair of
    consecutive records whose main mode differs while the top-two share (``collapse_stats``) is at
    least ``min_share`` at both, so that the samples sit on one or two modes before and after."""
    if len(steps) != len(coverages):
        raise ValueError(f"steps ({len(steps)}) and coverages ({len(coverages)}) must be equally long")
    if not 0 < min_share <= 1:
        raise ValueError(f"min_share must be in (0, 1], got {min_share!r}")
    stats = [collapse_stats(c) for c in coverages]
    return [(int(steps[i]), before["main_mode"], after["main_mode"])
            for i, (before, after) in enumerate(zip(stats, stats[1:]), start=1)
            if before["main_mode"] != after["main_mode"]
            and min(before["top2_share"], after["top2_share"]) >= min_share]


def gif_display_data(gif: bytes, frames: int | None = None) -> dict:
    """A display bundle that shows an animated GIF everywhere: the GIF's bytes under ``image/png``.
    nbconvert's HTML and nbviewer skip ``image/gif`` (jupyter/nbconvert#2270), but they embed
    ``image/png`` as a data URL, and browsers animate the image by its content, not its label."""
    import base64

    if not isinstance(gif, (bytes, bytearray)) or bytes(gif[:6]) not in (b"GIF87a", b"GIF89a"):
        raise ValueError("gif must be the bytes of a GIF file (they start with GIF87a or GIF89a)")
    what = f"{frames} frames" if frames else "frames"
    return {"image/png": base64.b64encode(bytes(gif)).decode("ascii"),
            "text/plain": f"<animated GIF, {what}, {len(gif) // 1024} KiB>"}


def show_gif(gif: bytes, frames: int | None = None) -> None:
    """Display an animated GIF so that Jupyter, Colab, GitHub and nbconvert's HTML all animate it."""
    from IPython.display import display

    display(gif_display_data(gif, frames), raw=True)


def d_on_modes(gan, dataset: ToyDataset, n: int = 2000, seed: int = 0) -> np.ndarray:
    """The median of D(x) (the probability, not the logit) over ``n`` real points of each mode: one
    value per mode, to hold against the optimal D* of a collapsed generator."""
    out = []
    for k, centre in enumerate(dataset.modes):
        rng = np.random.default_rng(seed + k)
        x = (centre + dataset.sigma * rng.standard_normal((n, 2))).astype("float32")
        logits = keras.ops.convert_to_numpy(gan.discriminator(x, training=False)).ravel()
        out.append(float(np.median(1 / (1 + np.exp(-logits)))))
    return np.array(out)


# ----------------------------------------------------------------------------- recipes and studies
@dataclass(frozen=True)
class ToyRecipe:
    """One way to train the toy GAN: losses, learning rates and Adam's betas, critic steps, the
    gradient-penalty weight and the discriminator's options. Everything else stays the same."""

    name: str
    g_loss: str = "nonsaturating"
    d_loss: str = "bce"
    g_lr: float = 1e-3
    d_lr: float = 1e-3
    beta_1: float = 0.5
    beta_2: float = 0.999
    d_steps: int = 1
    gp_weight: float = 0.0
    spectral_norm: bool = False
    minibatch_std: bool = False


# Keras runs ``steps_per_execution`` train steps per call of its compiled train function, and always
# whole calls: an epoch of ``steps_per_epoch`` steps runs ceil(steps_per_epoch / steps_per_execution)
# calls, so it must divide the epoch. 10 already takes the per-call overhead off (Keras >= 3.7 loops in
# the graph); Keras 3.3 to 3.6 unrolled the steps instead, and TensorFlow refuses to trace more than 32
# ``Iterator.get_next()`` calls ("An unusually high number of ..."), as with the former 100.
MAX_STEPS_PER_EXECUTION = 10


def steps_per_execution_for(every: int, limit: int = MAX_STEPS_PER_EXECUTION) -> int:
    """The largest divisor of ``every`` up to ``limit``, so that epochs of ``every`` steps run exactly
    ``every`` steps."""
    if not isinstance(every, (int, np.integer)) or every < 1:
        raise ValueError(f"every must be a positive integer, got {every!r}")
    return max(d for d in range(1, min(int(every), limit) + 1) if every % d == 0)


def build_toy_gan(recipe: ToyRecipe, seed: int, latent_dim: int = 16, hidden: int = 128, depth: int = 3,
                  steps_per_execution: int = 1):
    """MLP generator and discriminator, compiled with ``recipe`` in the shared ``GAN`` trainer.
    ``fit`` epochs should be a multiple of ``steps_per_execution`` steps long (see
    ``steps_per_execution_for``)."""
    config.set_seed(seed)
    gan = GAN(models.build_mlp_generator(latent_dim, hidden, depth),
              models.build_mlp_discriminator(2, hidden, depth, recipe.spectral_norm, recipe.minibatch_std),
              seed=seed)
    return compile_gan(gan, recipe.g_lr, recipe.beta_1, recipe.beta_2, d_lr=recipe.d_lr,
                       d_loss_fn=recipe.d_loss, g_loss_fn=recipe.g_loss, d_steps=recipe.d_steps,
                       gp_weight=recipe.gp_weight, steps_per_execution=steps_per_execution)


def train_toy_gan(recipe: ToyRecipe, dataset: ToyDataset, seed: int, steps: int, every: int,
                  z: np.ndarray, snapshots: bool = False, batch_size: int = 256, **model_kwargs):
    """Train for ``steps`` generator steps, recording the game every ``every`` steps with
    ``ToyRecorder`` on the noise ``z``. Returns (gan, recorder, seconds). With ``recipe.d_steps``
    critic steps, each step's data are ``d_steps`` real batches at once, one fresh batch per critic
    step (WGAN-GP's Algorithm 1)."""
    import time

    if steps < every or steps % every:
        raise ValueError(f"steps ({steps}) must be a positive multiple of every ({every})")
    gan = build_toy_gan(recipe, seed, latent_dim=z.shape[1],
                        steps_per_execution=steps_per_execution_for(every), **model_kwargs)
    recorder = ToyRecorder(dataset, z, snapshots=snapshots)
    start = time.perf_counter()
    gan.fit(make_toy_dataset(dataset, batch_size * recipe.d_steps, seed=seed), epochs=steps // every,
            steps_per_epoch=every, verbose=0, callbacks=[recorder])
    return gan, recorder, time.perf_counter() - start


def compare_recipes(recipes: list[ToyRecipe], dataset: ToyDataset, seeds: list[int], steps: int,
                    every: int, n_samples: int = 2500, latent_dim: int = 16, **model_kwargs) -> list[dict]:
    """Every recipe with every seed at the same step budget; one row per run with its final
    ``mode_coverage`` and ``collapse_stats`` figures, its coverage curves, 500 of its final samples,
    a final ``Snapshot`` of the game and its time."""
    rows = []
    z = noise(n_samples, latent_dim, seed=12345)
    for recipe in recipes:
        for seed in seeds:
            gan, rec, seconds = train_toy_gan(recipe, dataset, seed, steps, every, z, **model_kwargs)
            final = rec.coverage[-1]
            rows.append({"recipe": recipe.name, "seed": seed, "modes": final["modes"],
                         "high_quality": final["high_quality"], "kl_uniform": final["kl_uniform"],
                         **collapse_stats(final),
                         "steps": list(rec.steps), "curve": rec.series("modes").tolist(),
                         "top2_curve": rec.series("top2_share").tolist(),
                         "samples": generate_from(gan.generator, z[:500]), "seconds": seconds,
                         "snapshot": snapshot(gan, z[:200], dataset.extent(), steps, resolution=60)})
    return rows


def summarise(rows: list[dict]) -> dict[str, dict]:
    """Per recipe: mean and standard deviation over seeds of modes, high-quality share, top-two share
    and KL (over all samples, and over the high-quality ones, ignoring runs without any), the worst
    and best seed's modes, and the mean time."""
    out: dict[str, dict] = {}
    for name in dict.fromkeys(r["recipe"] for r in rows):
        runs = [r for r in rows if r["recipe"] == name]
        summary = {"seeds": len(runs), "seconds": float(np.mean([r["seconds"] for r in runs]))}
        for key in ("modes", "high_quality", "kl_uniform", "top2_share", "kl_hq"):
            values = np.array([r.get(key, np.nan) for r in runs], dtype=float)
            finite = values[np.isfinite(values)]
            summary[key] = ((float(finite.mean()), float(finite.std())) if len(finite)
                            else (float("nan"), float("nan")))
        summary["modes_min"] = int(min(r["modes"] for r in runs))
        summary["modes_max"] = int(max(r["modes"] for r in runs))
        out[name] = summary
    return out


def format_summary(summary: dict[str, dict], n_modes: int, seconds: bool = True) -> str:
    """The ``summarise`` table as aligned text: mean ± standard deviation over seeds. The KL column
    counts only high-quality samples (0: even over the modes, log K: all on one). ``seconds=False``
    leaves out the seconds per run (for runs that shared the machine, whose seconds are not timings)."""
    lines = [f"{'recipe':<34}{'seeds':>6}{'modes of ' + str(n_modes):>16}{'worst–best':>12}"
             f"{'high quality':>16}{'top-2 share':>16}{'KL (HQ)':>16}"
             + (f"{'s / run':>9}" if seconds else "")]
    for name, s in summary.items():
        lines.append(f"{name:<34}{s['seeds']:>6}{s['modes'][0]:>10.1f} ± {s['modes'][1]:<3.1f}"
                     f"{s['modes_min']:>8}–{s['modes_max']:<3}"
                     f"{s['high_quality'][0]:>10.2f} ± {s['high_quality'][1]:<4.2f}"
                     f"{s['top2_share'][0]:>10.2f} ± {s['top2_share'][1]:<4.2f}"
                     f"{s['kl_hq'][0]:>10.2f} ± {s['kl_hq'][1]:<4.2f}"
                     + (f"{s['seconds']:>8.0f}" if seconds else ""))
    return "\n".join(lines)
