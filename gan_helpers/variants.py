"""WGAN-GP and SN-GAN with the hinge loss beside the DCGAN recipe (notebook 07): their settings, what
spectral normalisation estimates, and a trainer that gives every recipe the same wall-clock budget."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import keras
import numpy as np

from . import config, data, models
from .divergence import NaNGuard, TrainingDiverged
from .recipes import DCGANRecipe, Settings, compile_gan
from .training import GAN


@dataclass(frozen=True)
class VariantRecipe(Settings):
    """A GAN built from the DCGAN recipe's networks (``base``) with another loss, critic and optimizer.

    The critic is the recipe's discriminator without dropout or batch norm and with no sigmoid (it
    never had one: the BCE losses take logits), optionally spectrally normalised."""

    name: str
    d_loss: str
    g_loss: str
    d_steps: int
    gp_weight: float
    lr: float
    beta_1: float
    beta_2: float
    spectral_norm: bool
    source: str
    base: DCGANRecipe = field(default_factory=DCGANRecipe)

    @property
    def rows_per_batch(self) -> int:
        """Rows of real data each training step takes: one real batch per critic step."""
        return self.base.batch_size * self.d_steps

    kind = "variant"

    def build(self, seed: int | None = None, **compile_kwargs) -> GAN:
        """A compiled ``GAN``: the recipe's G (and weight average), this variant's critic, losses and Adam."""
        b = self.base
        gan = GAN(models.build_generator(b.latent_dim, b.g_width),
                  models.build_discriminator(b.d_width, dropout=0.0, spectral_norm=self.spectral_norm,
                                             batch_norm=False, name="critic"),
                  seed=seed, ema_decay=b.ema_decay)
        return compile_gan(gan, self.lr, self.beta_1, self.beta_2, d_loss_fn=self.d_loss,
                           g_loss_fn=self.g_loss, d_steps=self.d_steps, gp_weight=self.gp_weight,
                           **compile_kwargs)


WGAN_GP = VariantRecipe(
    name="wgan-gp", d_loss="wasserstein", g_loss="wasserstein", d_steps=5, gp_weight=10.0, lr=1e-4,
    beta_1=0.0, beta_2=0.9, spectral_norm=False,
    source="Gulrajani et al. 2017 (arXiv 1704.00028), Algorithm 1: λ = 10, n_critic = 5, "
           "Adam(1e-4, β = (0, 0.9)), no batch norm in the critic")
SNGAN = VariantRecipe(
    name="sngan", d_loss="hinge", g_loss="hinge", d_steps=1, gp_weight=0.0, lr=2e-4, beta_1=0.5,
    beta_2=0.999, spectral_norm=True,
    source="Miyato et al. 2018 (arXiv 1802.05957): spectral norm on every critic layer, one power "
           "iteration per update, hinge loss (Lim & Ye 2017, arXiv 1705.02894), Adam(2e-4, β = (0.5, "
           "0.999)), one critic step per generator step (their setting C)")
VARIANTS = {"wgan-gp": WGAN_GP, "sngan": SNGAN}


def top_singular_value(w, n_iter: int = 1, u=None) -> tuple[float, np.ndarray]:
    """Power iteration as Keras' ``SpectralNormalization`` runs it on a kernel reshaped to
    (fan-in, outputs): σ ≈ vᵀWu, the top singular value after ``n_iter`` steps; returns (σ, new u)."""
    if not isinstance(n_iter, int) or n_iter < 1:
        raise ValueError(f"n_iter must be a positive whole number, got {n_iter!r}")
    w = np.asarray(w, dtype=np.float64)
    if w.ndim < 2:
        raise ValueError(f"w must be a kernel with at least 2 dimensions, got shape {w.shape}")
    w = w.reshape(-1, w.shape[-1])
    u = (np.random.default_rng(0).normal(size=(1, w.shape[1])) if u is None
         else np.asarray(u, dtype=np.float64).reshape(1, w.shape[1]))
    for _ in range(n_iter):
        v = u @ w.T
        v /= np.linalg.norm(v)
        u = v @ w
        u /= np.linalg.norm(u)
    return float((v @ w @ u.T)[0, 0]), u


class WallClockBudget(keras.callbacks.Callback):
    """Stops ``fit`` once training has used ``seconds`` of wall time, and every ``every_s`` seconds
    records the elapsed training time, the step, the mean logs since the last record and, with
    ``measure``, a quality figure (its own time is left out of the budget). The clock starts after
    the first step, whose tracing time (``trace_seconds``) depends on the graph, not on the recipe's
    training speed."""

    def __init__(self, seconds: float, every_s: float | None = None, measure=None):
        super().__init__()
        if not seconds > 0:
            raise ValueError(f"seconds must be a positive wall-clock budget, got {seconds!r}")
        self.seconds, self.every_s, self.measure = float(seconds), every_s, measure
        self.records: list[dict] = []
        self.steps = 0
        self.trace_seconds = 0.0

    def elapsed(self) -> float:
        """Seconds of training so far, measurement time excluded."""
        return time.perf_counter() - self._t0 - self._paused

    def on_train_begin(self, logs=None):
        self._t0, self._paused, self._next = time.perf_counter(), 0.0, 0.0
        self._sums: dict[str, float] = {}
        self._n = 0
        self._record()

    def _record(self) -> None:
        row = {"seconds": self.elapsed(), "step": self.steps,
               **{k: v / self._n for k, v in self._sums.items() if self._n}}
        if self.measure is not None:
            t = time.perf_counter()
            row["quality"] = float(self.measure(self.model))
            self._paused += time.perf_counter() - t
        self.records.append(row)
        self._sums, self._n = {}, 0
        self._next = row["seconds"] + (self.every_s or math.inf)

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if self.steps == 1:          # the clock starts now: the budget is for training, not tracing
            self.trace_seconds = self.elapsed()
            self._t0 += self.trace_seconds
            self._sums, self._n, self._prev = {}, 0, {k: float(v) for k, v in (logs or {}).items()}
            return
        step = {k: float(v) for k, v in (logs or {}).items()}
        # Keras gives running means over the epoch: turn them back into this step's values
        prev, k = getattr(self, "_prev", {}), batch + 1
        for key, mean in step.items():
            self._sums[key] = self._sums.get(key, 0.0) + k * mean - (k - 1) * prev.get(key, 0.0)
        self._prev = step
        self._n += 1
        now = self.elapsed()
        if now >= self.seconds:
            self.model.stop_training = True
        elif now >= self._next:
            self._record()

    def on_epoch_begin(self, epoch, logs=None):
        self._prev = {}

    def on_train_end(self, logs=None):
        if self._n:
            self._record()


@dataclass
class BudgetRun:
    """One recipe trained for a wall-clock budget: its GAN (None if it diverged), records, steps."""

    name: str
    seed: int
    gan: GAN | None
    records: list[dict]
    steps: int
    seconds: float
    diverged: str | None = None


def train_for_budget(recipe: DCGANRecipe | VariantRecipe, name: str, x: np.ndarray, seconds: float,
                     seed: int, every_s: float | None = None, measure=None) -> BudgetRun:
    """Train ``recipe`` on images ``x`` (in [-1, 1]) with ``fit`` until ``seconds`` of wall time have
    passed; a NaN or inf loss ends the run and is reported in ``diverged`` instead of raised."""
    config.set_seed(seed)
    rows = recipe.rows_per_batch if isinstance(recipe, VariantRecipe) else recipe.batch_size
    gan = recipe.build(seed=seed)
    budget = WallClockBudget(seconds, every_s, measure)
    ds = data.make_dataset(x, rows, seed=seed).repeat()
    diverged = None
    try:
        gan.fit(ds, epochs=10**6, steps_per_epoch=50, verbose=0,
                callbacks=[NaNGuard(), budget])
    except TrainingDiverged as exc:
        diverged = f"{exc.loss} = {exc.value} at step {exc.step}"
    return BudgetRun(name, seed, None if diverged else gan, budget.records, budget.steps,
                     budget.records[-1]["seconds"] if budget.records else 0.0, diverged)
