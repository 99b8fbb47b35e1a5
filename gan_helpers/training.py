"""The GAN trainer: a ``keras.Model`` whose ``train_step`` updates D, then G (TensorFlow backend)."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from . import losses as _losses

STATE_FILES = ("state.npz", "meta.json")
DEFAULT_STEPS = 3000  # Adam steps of the default recipe; notebook 04 measures what they buy


@dataclass(frozen=True)
class DCGANRecipe:
    """Every setting of the default DCGAN in one place: the CLI, notebooks 04–07 and the benchmarks
    build from it. Notebook 04 measures each choice against the alternatives it replaced."""

    latent_dim: int = 64
    g_width: int = 32            # G: 7×7×4w → 14×14×2w → 28×28×1
    d_width: int = 64            # D: 14×14×w → 7×7×2w → logit
    d_dropout: float = 0.0
    batch_size: int = 64
    lr: float = 2e-3             # Adam, both networks (DCGAN's 2e-4 is for long runs; notebook 04, §8)
    d_lr: float | None = None    # None: same as lr
    beta_1: float = 0.5
    beta_2: float = 0.999
    ema_decay: float | None = 0.999
    share_fakes: bool = True     # G's update reuses the fakes of D's: one generator pass per step
    steps: int = DEFAULT_STEPS

    def replace(self, **changes) -> DCGANRecipe:
        """A copy with some settings changed; unknown names are refused."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(f"unknown recipe settings {sorted(unknown)}; known: "
                             f"{', '.join(f.name for f in dataclasses.fields(self))}")
        return dataclasses.replace(self, **changes)

    def build(self, seed: int | None = None, mixed_precision: bool = False, **compile_kwargs) -> GAN:
        """A compiled ``GAN`` with this recipe's networks, optimizers and weight average."""
        from . import config, models

        gan = GAN(models.build_generator(self.latent_dim, self.g_width),
                  models.build_discriminator(self.d_width, self.d_dropout), seed=seed,
                  ema_decay=self.ema_decay)
        compile_kwargs.setdefault("jit_compile", config.default_jit_compile())
        compile_kwargs.setdefault("share_fakes", self.share_fakes)
        gan.compile(*make_optimizers(self.lr, self.beta_1, mixed_precision, d_lr=self.d_lr,
                                     beta_2=self.beta_2), **compile_kwargs)
        return gan


def schedule(n_images: int, batch_size: int, steps: int = DEFAULT_STEPS) -> tuple[int, int]:
    """(epochs, steps per epoch) for exactly ``steps`` updates when whole passes over the data would
    overshoot: 24 × 125 on the 8,000 bundled digits (whole passes), 4 × 750 on full MNIST's 60,000
    (each "epoch" then covers part of the shuffled data), so both get the same step budget."""
    per_pass = max(1, n_images // batch_size)
    epochs = default_epochs(n_images, batch_size, steps)
    return epochs, min(per_pass, math.ceil(steps / epochs))


def default_epochs(n_images: int, batch_size: int, steps: int = DEFAULT_STEPS) -> int:
    """Epochs for about ``steps`` updates: 20 on the 10,000-digit sample, 4 on full MNIST (batch 64)."""
    return max(1, math.ceil(steps / max(1, n_images // batch_size)))


class GAN(keras.Model):
    """Holds a generator and a discriminator and trains them adversarially with ``fit``.

    ``fit`` shows ``d_loss``, ``g_loss`` and the mean discriminator outputs ``d_real`` = D(x) and
    ``d_fake`` = D(G(z)) (probabilities, from the logits). Noise comes from a
    ``keras.random.SeedGenerator``, so a seed fixes the whole run.

    With ``ema_decay`` (for example 0.999) the GAN also keeps ``ema_generator``, an exponential
    moving average of G's weights (Yazıcı et al. 2019), warmed up so that it forgets the random
    initial weights; ``sampler`` is the generator to draw pictures from (the average, when kept).
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model,
                 latent_dim: int | None = None, seed: int | None = None,
                 ema_decay: float | None = None, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim or int(generator.input_shape[-1])
        self.seed_generator = keras.random.SeedGenerator(seed)
        if ema_decay is not None and not 0.0 < ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in (0, 1) (0.999 is usual) or None for no average, "
                             f"got {ema_decay!r}")
        self.ema_decay = ema_decay
        self.ema_generator = None
        if ema_decay is not None:
            self.ema_generator = keras.models.clone_model(generator)
            self.ema_generator.set_weights(generator.get_weights())
            self.ema_updates = self.add_weight(shape=(), initializer="zeros", dtype="float32",
                                               trainable=False, name="ema_updates")
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_real_tracker = keras.metrics.Mean(name="d_real")
        self.d_fake_tracker = keras.metrics.Mean(name="d_fake")

    def compile(self, d_optimizer: keras.optimizers.Optimizer,
                g_optimizer: keras.optimizers.Optimizer,
                d_loss_fn=_losses.discriminator_loss,
                g_loss_fn="nonsaturating", d_steps: int = 1, gp_weight: float = 0.0,
                share_fakes: bool = False, **kwargs) -> None:
        """Two optimizers and two losses (functions, or names: ``"bce"``/``"wasserstein"`` for D,
        ``"nonsaturating"``/``"minimax"``/``"wasserstein"`` for G). ``d_steps`` discriminator
        (critic) updates per generator update, each on a fresh real batch: the data then come in
        batches of ``d_steps`` × batch size rows (see ``_real_batches``); ``gp_weight`` λ > 0 adds
        the WGAN-GP penalty.
        ``share_fakes`` lets G's update reuse the fakes of D's (last) update, as PyTorch's DCGAN
        example does, instead of drawing fresh noise: one generator forward pass fewer per step.
        Other keyword arguments (``jit_compile``, ``steps_per_execution``…) go to Keras."""
        super().compile(**kwargs)
        if d_optimizer is g_optimizer:
            raise ValueError("d_optimizer and g_optimizer must be two separate optimizer objects: "
                             "each keeps its own moment estimates for its own network.")
        if not isinstance(d_steps, int) or d_steps < 1:
            raise ValueError(f"d_steps must be a positive integer (WGAN-GP uses 5), got {d_steps!r}")
        if not gp_weight >= 0:
            raise ValueError(f"gp_weight must be ≥ 0 (0 turns the penalty off, WGAN-GP uses 10), "
                             f"got {gp_weight!r}")
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.d_loss_fn = _losses.get_discriminator_loss(d_loss_fn)
        self.g_loss_fn = _losses.get_generator_loss(g_loss_fn)
        self.d_steps = d_steps
        self.gp_weight = float(gp_weight)
        self.share_fakes = bool(share_fakes)
        self.is_wasserstein = self.d_loss_fn is _losses.critic_loss_wasserstein
        g_wasserstein = self.g_loss_fn is _losses.generator_loss_wasserstein
        if self.is_wasserstein != g_wasserstein and not (callable(d_loss_fn) and callable(g_loss_fn)):
            raise ValueError("a Wasserstein critic needs the Wasserstein generator loss and vice versa: "
                             "pass d_loss_fn='wasserstein' and g_loss_fn='wasserstein' together.")

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker, self.d_real_tracker, self.d_fake_tracker]

    def call(self, z, training=False):
        return self.generator(z, training=training)

    @property
    def sampler(self) -> keras.Model:
        """The generator to draw pictures and metrics from: the weight average if kept, else G."""
        return self.ema_generator if self.ema_generator is not None else self.generator

    def ema_rate(self, t):
        """Decay of the average at update ``t`` (counting from 0): min(decay, (1 + t)/(10 + t)).

        The warm-up is TensorFlow's ``ExponentialMovingAverage(num_updates=…)`` rule. A plain 0.999
        would still hold 0.999^2000 ≈ 14% of the random initial weights after 2,000 steps; with the
        warm-up that share is below 1e-5 after 100 steps."""
        t = tf.cast(t, tf.float32)
        return tf.minimum(tf.cast(self.ema_decay, tf.float32), (1.0 + t) / (10.0 + t))

    def _update_ema(self):
        beta = self.ema_rate(self.ema_updates)
        for avg, w in zip(self.ema_generator.trainable_variables, self.generator.trainable_variables):
            avg.assign(beta * avg + (1.0 - beta) * tf.cast(w, avg.dtype))
        self.ema_updates.assign_add(1.0)

    def calibrate_ema_batchnorm(self, n: int = 2048, seed: int = 0) -> None:
        """Recompute the averaged generator's batch-norm statistics for its own weights.

        Averaged weights produce activations whose mean and variance differ from those the raw
        G's moving statistics tracked, so reusing those statistics washes the samples out. One
        forward pass in training mode on ``n`` noise vectors, with each layer's momentum set to 0,
        stores that batch's exact statistics, layer after layer."""
        if self.ema_generator is None:
            return
        bns = [layer for layer in _flat_layers(self.ema_generator)
               if isinstance(layer, keras.layers.BatchNormalization)]
        if not bns:
            return
        z = np.random.default_rng(seed).standard_normal((n, self.latent_dim)).astype("float32")
        momenta = [bn.momentum for bn in bns]
        try:
            for bn in bns:
                bn.momentum = 0.0
            self.ema_generator(z, training=True)
        finally:
            for bn, m in zip(bns, momenta):
                bn.momentum = m

    def sample_noise(self, batch_size):
        """Standard normal z, drawn from the model's seed generator."""
        return keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)

    def gradient_penalty(self, real, fake):
        """WGAN-GP's E[(‖∇D(x̂)‖₂ − 1)²] at x̂ = αx + (1 − α)G(z), one α ~ U(0, 1) per sample."""
        shape = [tf.shape(real)[0]] + [1] * (len(real.shape) - 1)
        alpha = keras.random.uniform(shape, seed=self.seed_generator)
        mixed = alpha * real + (1.0 - alpha) * tf.cast(fake, real.dtype)
        with tf.GradientTape() as tape:
            tape.watch(mixed)
            scores = self.discriminator(mixed, training=True)
        grads = tf.reshape(tape.gradient(scores, mixed), [tf.shape(real)[0], -1])
        norm = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=1) + 1e-12)  # finite gradient at 0
        return tf.reduce_mean(tf.square(norm - 1.0))

    def _d_step(self, real, batch_size, fake=None):
        if fake is None:
            fake = self.generator(self.sample_noise(batch_size), training=True)
        fake = tf.stop_gradient(fake)
        with tf.GradientTape() as tape:
            real_logits = self.discriminator(real, training=True)
            fake_logits = self.discriminator(fake, training=True)
            d_loss = self.d_loss_fn(real_logits, fake_logits)
            if self.gp_weight > 0:
                d_loss = d_loss + self.gp_weight * self.gradient_penalty(real, fake)
            scaled = self.d_optimizer.scale_loss(d_loss)  # no-op unless mixed precision
        d_vars = self.discriminator.trainable_variables
        self.d_optimizer.apply(tape.gradient(scaled, d_vars), d_vars)
        return d_loss, real_logits, fake_logits

    def _real_batches(self, real):
        """With ``d_steps`` = k > 1 the data hold k real batches at once (k × batch rows): one
        fresh batch for each critic step, as in WGAN-GP's Algorithm 1. With k = 1, the batch itself."""
        if self.d_steps == 1:
            return [real]
        rows = real.shape[0]
        if rows is not None and rows % self.d_steps:
            raise ValueError(f"with d_steps = {self.d_steps} each batch of data must hold {self.d_steps} "
                             f"real batches at once ({self.d_steps} × batch size rows, one fresh batch "
                             f"per critic step); got {rows} rows. Batch the dataset by "
                             f"{self.d_steps} × batch size.")
        return tf.split(real, self.d_steps, axis=0)

    def train_step(self, data):
        reals = self._real_batches(data[0] if isinstance(data, (tuple, list)) else data)
        real = reals[-1]
        batch_size = tf.shape(real)[0]

        # 1. Discriminator: push D(x) up on real images and D(G(z)) down on fakes. With d_steps > 1
        #    (WGAN-GP's n_critic) it takes several updates, each on its own real batch and fresh noise.
        for earlier in reals[:-1]:
            self._d_step(earlier, batch_size)
        with tf.GradientTape() as tape:
            if self.share_fakes:  # G's forward pass, recorded once and used by both updates
                fake = self.generator(self.sample_noise(batch_size), training=True)
                with tape.stop_recording():
                    d_loss, real_logits, fake_logits = self._d_step(real, batch_size, fake)
            else:
                with tape.stop_recording():
                    d_loss, real_logits, fake_logits = self._d_step(real, batch_size)
                # 2. Generator: with D fixed, make fresh fakes that D scores as real.
                fake = self.generator(self.sample_noise(batch_size), training=True)
            g_loss = self.g_loss_fn(self.discriminator(fake, training=True))
            scaled = self.g_optimizer.scale_loss(g_loss)
        g_vars = self.generator.trainable_variables
        self.g_optimizer.apply(tape.gradient(scaled, g_vars), g_vars)
        if self.ema_generator is not None:
            self._update_ema()

        # d_real, d_fake: mean D as a probability, or the raw critic score for a Wasserstein critic
        to_report = tf.identity if self.is_wasserstein else tf.sigmoid
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.d_real_tracker.update_state(tf.reduce_mean(to_report(tf.cast(real_logits, tf.float32))))
        self.d_fake_tracker.update_state(tf.reduce_mean(to_report(tf.cast(fake_logits, tf.float32))))
        return {m.name: m.result() for m in self.metrics}

    # ----------------------------------------------------------------- sampling and saving
    def generate(self, n: int, seed: int | None = None, batch_size: int = 256) -> np.ndarray:
        """``n`` images in [-1, 1] from ``sampler`` in inference mode (training RNG untouched)."""
        if n < 1:
            raise ValueError(f"n must be positive, got {n}")
        rng = np.random.default_rng(seed)
        z = rng.standard_normal((n, self.latent_dim)).astype("float32")
        return generate_from(self.sampler, z, batch_size)

    def save_generator(self, path: str | os.PathLike) -> Path:
        """Save ``sampler`` (the averaged generator when kept) alone as a ``.keras`` file."""
        path = Path(path)
        if path.suffix != ".keras":
            raise ValueError(f"{path} must end in .keras (Keras 3's native format)")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.sampler.save(path)
        return path

    def fit(self, *args, shuffle: bool = False, **kwargs):
        """``keras.Model.fit``; shuffling belongs to the ``tf.data`` pipeline (``make_dataset``)."""
        return super().fit(*args, shuffle=shuffle, **kwargs)

    def _state_groups(self):
        """Every variable a resumed run needs, by group: the networks' weights and their layers'
        RNG states (dropout), both optimizers' moments, and the noise RNG."""
        for opt, model in ((self.d_optimizer, self.discriminator), (self.g_optimizer, self.generator)):
            if not opt.built:
                opt.build(model.trainable_variables)
        groups = {"generator": self.generator.variables, "discriminator": self.discriminator.variables,
                  "g_opt": self.g_optimizer.variables, "d_opt": self.d_optimizer.variables,
                  "noise": [self.seed_generator.state]}
        if self.ema_generator is not None:
            groups["ema"] = self.ema_generator.variables + [self.ema_updates]
        return groups

    def save_state(self, directory: str | os.PathLike, epoch: int, meta: dict | None = None,
                   extras: dict[str, object] | None = None) -> Path:
        """Checkpoint everything a resumed run needs (see ``_state_groups``) and the epoch.

        It is written to a temporary folder and swapped in, so an interruption never leaves a
        half-written checkpoint."""
        if not hasattr(self, "d_optimizer"):
            raise RuntimeError("compile() the GAN with its optimizers before save_state()")
        directory = Path(directory)
        tmp = directory.with_name(directory.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        arrays = {f"{group}/{i}": keras.ops.convert_to_numpy(v)
                  for group, variables in self._state_groups().items()
                  for i, v in enumerate(variables)}
        np.savez(tmp / "state.npz", **arrays)
        (tmp / "meta.json").write_text(json.dumps({"epoch": int(epoch), **(meta or {})}, indent=2))
        for name, obj in (extras or {}).items():  # small JSON side files, e.g. the loss history
            (tmp / f"{name}.json").write_text(json.dumps(obj))
        old = directory.with_name(directory.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if directory.exists():
            directory.rename(old)
        tmp.rename(directory)
        shutil.rmtree(old, ignore_errors=True)
        return directory

    def load_state(self, directory: str | os.PathLike) -> dict:
        """Restore a checkpoint written by ``save_state``; returns its meta (``meta["epoch"]``)."""
        directory = Path(directory)
        missing = [f for f in STATE_FILES if not (directory / f).exists()]
        if missing:
            raise FileNotFoundError(f"{directory} is not a complete checkpoint (missing "
                                    f"{', '.join(missing)})")
        if not hasattr(self, "d_optimizer"):
            raise RuntimeError("compile() the GAN with its optimizers before load_state()")
        with np.load(directory / "state.npz") as state:
            groups = self._state_groups()
            for group, variables in groups.items():
                saved = [k for k in state.files if k.startswith(group + "/")]
                if len(saved) != len(variables):
                    raise ValueError(f"{directory}: the checkpoint's {group} has {len(saved)} "
                                     f"variables, this GAN's has {len(variables)}; was it made with "
                                     "another model size or optimizer?")
                for i, var in enumerate(variables):
                    value = state[f"{group}/{i}"]
                    if tuple(value.shape) != tuple(var.shape):
                        raise ValueError(f"{directory}: {group} variable {var.path} has shape "
                                         f"{value.shape} in the checkpoint, {var.shape} here; was it made "
                                         "with another model size?")
            for group, variables in groups.items():  # all checked: now assign
                for i, var in enumerate(variables):
                    var.assign(state[f"{group}/{i}"])
        return json.loads((directory / "meta.json").read_text())


STUDY_FILE = "dcgan_recipe_study.json"


def load_recipe_study() -> dict:
    """The measured study behind ``DCGANRecipe`` (``benchmarks/recipe_search.py`` writes it): each
    choice trained for the same number of steps on the bundled digits, with its quality."""
    from importlib import resources

    return json.loads(resources.files("gan_helpers").joinpath("results", STUDY_FILE).read_text())


def format_recipe_study(study: dict, names: list[str] | None = None) -> str:
    """The study as an aligned table: FD-MNIST (and its ratio to the real-vs-real floor), confident
    share, smallest–largest class share, precision/recall, and what the raw G scored."""
    rows = [r for r in study["rows"] if names is None or r["name"] in names]
    lines = [f"{'recipe':<44}{'steps':>6}{'FD-MNIST':>10}{'× floor':>8}{'confident':>10}{'classes':>13}"
             f"{'prec/rec':>11}{'raw G FD':>10}"]
    for r in rows:
        raw = f"{r['raw']['fd_mnist']:10.1f}" if r.get("raw") else f"{'–':>10}"
        ratio = r["fd_mnist"] / r["fd_floor"]
        lines.append(f"{r['name']:<44}{r['steps']:>6}{r['fd_mnist']:>10.1f}{ratio:>8.1f}"
                     f"{r['confident_share']:>10.1%}{r['min_class_share']:>6.1%}–{r['max_class_share']:<6.1%}"
                     f"{r['precision']:>6.2f}/{r['recall']:.2f}{raw}")
    where = f"{study['device']}, {study['date']}; {study['data']}; {study['metrics']}."
    return "\n".join(lines) + "\n\n" + where


def _flat_layers(model: keras.Model):
    """Every layer inside ``model``, nested models and wrappers included."""
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _flat_layers(layer)


def generate_from(generator: keras.Model, z, batch_size: int = 256) -> np.ndarray:
    """Run ``generator`` on noise ``z`` in inference mode, in batches, returning NumPy."""
    z = np.asarray(z, dtype="float32")
    out = [keras.ops.convert_to_numpy(generator(z[i:i + batch_size], training=False))
           for i in range(0, len(z), batch_size)]
    return np.concatenate(out).astype("float32")


def load_generator(path: str | os.PathLike) -> keras.Model:
    """Load a generator saved with ``GAN.save_generator``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no generator at {path}; train one with `make train` first")
    return keras.models.load_model(path)


def make_optimizers(lr: float = 2e-4, beta_1: float = 0.5, mixed_precision: bool = False,
                    d_lr: float | None = None, beta_2: float = 0.999):
    """The DCGAN recipe (Adam, lr 2e-4, β1 = 0.5) as two separate optimizers (D's, then G's),
    loss-scaled when mixed precision is on. ``d_lr`` gives D its own rate (two-timescale rule)."""
    for name, value in (("lr", lr), ("d_lr", lr if d_lr is None else d_lr)):
        if not value > 0:
            raise ValueError(f"{name} must be a positive learning rate, got {value!r}")
    opts = [keras.optimizers.Adam(rate, beta_1=beta_1, beta_2=beta_2)
            for rate in (lr if d_lr is None else d_lr, lr)]
    if mixed_precision:
        opts = [keras.optimizers.LossScaleOptimizer(o) for o in opts]
    return tuple(opts)
