"""The GAN trainer: a ``keras.Model`` whose ``train_step`` updates D, then G (TensorFlow backend)."""

from __future__ import annotations

import dataclasses
import io
import json
import math
import os
import shutil
import time
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from . import distribute as _distribute
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
    clusters: int = 0            # k > 0: self-condition on k k-means clusters (gan_helpers.selfcond)

    def replace(self, **changes) -> DCGANRecipe:
        """A copy with some settings changed; unknown names are refused."""
        return replace_settings(self, "recipe", changes)

    def build(self, seed: int | None = None, mixed_precision: bool = False, clusters=None,
              **compile_kwargs) -> GAN:
        """A compiled ``GAN`` with this recipe's networks, optimizers and weight average; with
        ``self.clusters`` > 0, a ``selfcond.SelfConditionedGAN`` on ``clusters``
        (``selfcond.cluster_images`` of the training images)."""
        from . import models

        if self.clusters or clusters is not None:
            from . import selfcond

            return selfcond.build_self_conditioned(self, clusters, seed, mixed_precision, **compile_kwargs)
        gan = GAN(models.build_generator(self.latent_dim, self.g_width),
                  models.build_discriminator(self.d_width, self.d_dropout), seed=seed,
                  ema_decay=self.ema_decay)
        return self.compile(gan, mixed_precision, **compile_kwargs)

    def compile(self, gan: GAN, mixed_precision: bool = False, **compile_kwargs) -> GAN:
        """Compile ``gan`` (any of the recipe's GANs: plain, conditional, self-conditioned) with this
        recipe's optimizers and shared-fakes setting; XLA as ``config.default_jit_compile`` says."""
        from . import config

        compile_kwargs.setdefault("jit_compile", config.default_jit_compile())
        compile_kwargs.setdefault("share_fakes", self.share_fakes)
        gan.compile(*make_optimizers(self.lr, self.beta_1, mixed_precision, d_lr=self.d_lr,
                                     beta_2=self.beta_2), **compile_kwargs)
        return gan


# `make train`: the recipe, self-conditioned on 50 clusters (04, section 9). 2,500 steps, not 3,000: it
# scores as well (README, "Measured") and its training fits in five minutes on a 2-core CPU.
MAIN_JOB = DCGANRecipe(clusters=50, steps=2500)


def gan_and_data(recipe: DCGANRecipe, images: np.ndarray, seed: int = 0, **compile_kwargs):
    """The recipe's compiled GAN and its endless training stream (``data.resumable_dataset``; pass
    ``steps_per_epoch`` to ``fit``). With ``recipe.clusters``, the images are clustered first and the
    stream carries each image's cluster (``selfcond``)."""
    from . import data

    clusters = None
    if recipe.clusters:
        from .selfcond import cluster_images

        clusters = cluster_images(images, recipe.clusters, seed=seed)
    gan = recipe.build(seed=seed, clusters=clusters, **compile_kwargs)
    return gan, data.resumable_dataset(images, recipe.batch_size, seed=seed,
                                       labels=None if clusters is None else clusters.labels)


def replace_settings(settings, kind: str, changes: dict):
    """``dataclasses.replace`` for a recipe, refusing unknown names with the list of known ones (the one
    rule behind ``DCGANRecipe.replace`` and ``variants.VariantRecipe.replace``)."""
    known = [f.name for f in dataclasses.fields(settings)]
    unknown = set(changes) - set(known)
    if unknown:
        raise ValueError(f"unknown {kind} settings {sorted(unknown)}; known: {', '.join(known)}")
    return dataclasses.replace(settings, **changes)


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
        # a conditional network's first input is the noise (G) or the image (D); the label comes second
        self.latent_dim = latent_dim or int(_first_input_shape(generator)[-1])
        g_out, d_in = tuple(generator.output_shape[1:]), tuple(_first_input_shape(discriminator)[1:])
        if g_out != d_in:
            raise ValueError(f"the generator makes images of shape {g_out} but the discriminator takes "
                             f"{d_in}; build both for the same image shape.")
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
        # The networks are built from their inputs. Said here, so that under a tf.distribute strategy
        # Keras does not try to build the GAN by calling it (on images, which are not noise).
        self.built = True

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
        _distribute.build_optimizers(self.distribute_strategy, ((d_optimizer, self.discriminator),
                                                                (g_optimizer, self.generator)))
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
            self.ema_generator(self._calibration_inputs(z), training=True)
        finally:
            for bn, m in zip(bns, momenta):
                bn.momentum = m

    # ----------------------------------------------- hooks: a conditional GAN overrides these four
    def _split_data(self, data):
        """A batch's images and what conditions them (None here: this GAN is unconditional)."""
        return (data[0] if isinstance(data, (tuple, list)) else data), None

    def _generate(self, batch_size, cond, training=True):
        """Fakes G(z) from fresh noise (a conditional GAN feeds ``cond`` to G too)."""
        return self.generator(self.sample_noise(batch_size), training=training)

    def _discriminate(self, images, cond, training=True):
        """D's logits on ``images`` (a conditional GAN feeds ``cond`` to D too)."""
        return self.discriminator(images, training=training)

    def _calibration_inputs(self, z):
        """What ``calibrate_ema_batchnorm`` feeds the averaged generator: the noise itself here."""
        return z

    def sample_noise(self, batch_size):
        """Standard normal z, drawn from the model's seed generator. Under a strategy each replica
        takes its own rows of one global draw (``distribute.replica_rows``): no shared noise."""
        return _distribute.replica_rows(
            lambda n: keras.random.normal((n, self.latent_dim), seed=self.seed_generator), batch_size)

    def gradient_penalty(self, real, fake, cond=None):
        """WGAN-GP's E[(‖∇D(x̂)‖₂ − 1)²] at x̂ = αx + (1 − α)G(z), one α ~ U(0, 1) per sample."""
        shape = [tf.shape(real)[0]] + [1] * (len(real.shape) - 1)
        alpha = _distribute.replica_rows(
            lambda n: keras.random.uniform([n] + shape[1:], seed=self.seed_generator), shape[0])
        mixed = alpha * real + (1.0 - alpha) * tf.cast(fake, real.dtype)
        with tf.GradientTape() as tape:
            tape.watch(mixed)
            scores = self._discriminate(mixed, cond)
        grads = tf.reshape(tape.gradient(scores, mixed), [tf.shape(real)[0], -1])
        norm = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=1) + 1e-12)  # finite gradient at 0
        return tf.reduce_mean(tf.square(norm - 1.0))

    def _d_step(self, real, batch_size, fake=None, cond=None):
        if fake is None:
            fake = self._generate(batch_size, cond)
        fake = tf.stop_gradient(fake)
        with tf.GradientTape() as tape:
            real_logits = self._discriminate(real, cond)
            fake_logits = self._discriminate(fake, cond)
            d_loss = self.d_loss_fn(real_logits, fake_logits)
            if self.gp_weight > 0:
                d_loss = d_loss + self.gp_weight * self.gradient_penalty(real, fake, cond)
            # per-replica mean → share of the global-batch mean; loss scaling only in mixed precision
            scaled = self.d_optimizer.scale_loss(_distribute.scale_to_global_batch(d_loss))
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
        images, cond = self._split_data(data)
        reals = self._real_batches(images)
        conds = [None] * len(reals) if cond is None else self._real_batches(cond)
        real, real_cond = reals[-1], conds[-1]   # fakes take the real batch's condition (labels)
        batch_size = tf.shape(real)[0]

        # 1. Discriminator: push D(x) up on real images and D(G(z)) down on fakes. With d_steps > 1
        #    (WGAN-GP's n_critic) it takes several updates, each on its own real batch and fresh noise.
        for earlier, earlier_cond in zip(reals[:-1], conds[:-1]):
            self._d_step(earlier, batch_size, None, earlier_cond)
        with tf.GradientTape() as tape:
            if self.share_fakes:  # G's forward pass, recorded once and used by both updates
                fake = self._generate(batch_size, real_cond)
                with tape.stop_recording():
                    d_loss, real_logits, fake_logits = self._d_step(real, batch_size, fake, real_cond)
            else:
                with tape.stop_recording():
                    d_loss, real_logits, fake_logits = self._d_step(real, batch_size, None, real_cond)
                # 2. Generator: with D fixed, make fresh fakes that D scores as real.
                fake = self._generate(batch_size, real_cond)
            g_loss = self.g_loss_fn(self._discriminate(fake, real_cond))
            scaled = self.g_optimizer.scale_loss(_distribute.scale_to_global_batch(g_loss))
        g_vars = self.generator.trainable_variables
        self.g_optimizer.apply(tape.gradient(scaled, g_vars), g_vars)
        if self.ema_generator is not None:
            self._update_ema()

        # d_real, d_fake: mean D as a probability, or the raw critic score for a Wasserstein critic
        to_report = tf.identity if self.is_wasserstein else tf.sigmoid
        reported = _distribute.mean_over_replicas(  # global-batch figures on every replica
            tf.cast(d_loss, tf.float32), tf.cast(g_loss, tf.float32),
            tf.reduce_mean(to_report(tf.cast(real_logits, tf.float32))),
            tf.reduce_mean(to_report(tf.cast(fake_logits, tf.float32))))
        for tracker, value in zip((self.d_loss_tracker, self.g_loss_tracker, self.d_real_tracker,
                                   self.d_fake_tracker), reported):
            tracker.update_state(value)
        return _distribute.logs_for_keras({m.name: m.result() for m in self.metrics})

    # ----------------------------------------------------------------- sampling and saving
    def generate(self, n: int, seed: int | None = None, batch_size: int = 256) -> np.ndarray:
        """``n`` images in [-1, 1] from ``sampler`` in inference mode (training RNG untouched)."""
        if n < 1:
            raise ValueError(f"n must be positive, got {n}")
        rng = np.random.default_rng(seed)
        z = rng.standard_normal((n, self.latent_dim)).astype("float32")
        return generate_from(self.sampler, z, batch_size)

    def save_generator(self, path: str | os.PathLike, provenance: dict | None = None) -> Path:
        """Save ``sampler`` (the averaged generator when kept) alone as a ``.keras`` file, and
        ``provenance`` (recipe, data, steps: JSON values) beside it, so a reader of the file can
        check what made it (``load_generator(path, expect=...)``)."""
        path = Path(path)
        if path.suffix != ".keras":
            raise ValueError(f"{path} must end in .keras (Keras 3's native format)")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.sampler.save(path)
        side = provenance_path(path)
        if provenance is None:
            side.unlink(missing_ok=True)      # never leave another generator's record beside this one
        else:
            side.write_text(json.dumps(provenance, indent=2, default=str))
        return path

    def fit(self, *args, shuffle: bool = False, **kwargs):
        """``keras.Model.fit``; shuffling belongs to the ``tf.data`` pipeline (``make_dataset``).
        Data whose images do not have the generator's output shape are refused before training."""
        self._check_data_fits(args[0] if args else kwargs.get("x"))
        return super().fit(*args, shuffle=shuffle, **kwargs)

    def _check_data_fits(self, x) -> None:
        spec = getattr(x, "element_spec", None)
        spec = spec[0] if isinstance(spec, (tuple, list)) else spec
        shape = getattr(spec, "shape", None) if spec is not None else getattr(x, "shape", None)
        if shape is None or len(shape) < 2 or any(d is None for d in tuple(shape)[1:]):
            return
        want = tuple(self.generator.output_shape[1:])
        if tuple(shape[1:]) != want:
            raise ValueError(f"the data's images have shape {tuple(shape[1:])} but the generator makes "
                             f"{want}; resize the data or build the networks for its shape.")

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
        """Checkpoint everything a resumed run needs (see ``_state_groups``) and the epoch; ``extras``
        are side files (JSON, or ``.npy`` for arrays), such as the loss history.

        It is written to ``<directory>.tmp`` (meta.json last, as the mark of a complete write) and
        swapped in, so a kill at any moment leaves a checkpoint that ``recover_checkpoint`` repairs."""
        if not hasattr(self, "d_optimizer"):
            raise RuntimeError("compile() the GAN with its optimizers before save_state()")
        directory = Path(directory)
        tmp, old = _sibling(directory, ".tmp"), _sibling(directory, ".old")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        arrays = {f"{group}/{i}": keras.ops.convert_to_numpy(v)
                  for group, variables in self._state_groups().items()
                  for i, v in enumerate(variables)}
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        raw = buffer.getvalue()
        with open(tmp / "state.npz", "wb") as f:      # in two halves: the test hook can stop in between
            f.write(raw[: len(raw) // 2])
            f.flush()
            _test_pause("write", epoch, directory)
            f.write(raw[len(raw) // 2:])
            f.flush()
            os.fsync(f.fileno())
        for name, obj in (extras or {}).items():
            if isinstance(obj, np.ndarray):
                np.save(tmp / f"{name}.npy", obj)
            else:
                _write_synced(tmp / f"{name}.json", json.dumps(obj))
        _write_synced(tmp / "meta.json", json.dumps(
            {"epoch": int(epoch), "format": CHECKPOINT_FORMAT, **(meta or {})}, indent=2))
        shutil.rmtree(old, ignore_errors=True)
        if directory.exists():
            directory.rename(old)
        _test_pause("swap", epoch, directory)
        tmp.rename(directory)
        _test_pause("clean", epoch, directory)
        shutil.rmtree(old, ignore_errors=True)
        return directory

    def load_state(self, directory: str | os.PathLike) -> dict:
        """Restore a checkpoint written by ``save_state``; returns its meta (``meta["epoch"]``).
        A damaged, foreign or mismatched checkpoint raises ``ValueError`` and changes nothing."""
        directory = Path(directory)
        missing = [f for f in STATE_FILES if not (directory / f).exists()]
        if missing:
            raise FileNotFoundError(f"{directory} is not a complete checkpoint (missing "
                                    f"{', '.join(missing)})")
        if not hasattr(self, "d_optimizer"):
            raise RuntimeError("compile() the GAN with its optimizers before load_state()")
        meta = read_checkpoint_meta(directory)
        try:
            with np.load(directory / "state.npz") as npz:
                state = {k: npz[k] for k in npz.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            raise ValueError(f"{directory / 'state.npz'} is damaged ({type(exc).__name__}: "
                             f"{str(exc)[:80]}); it cannot be resumed. Start again without it "
                             "(CLI: --restart).") from None
        groups = self._state_groups()
        for group, variables in groups.items():
            saved = [k for k in state if k.startswith(group + "/")]
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
        return meta


CHECKPOINT_FORMAT = 1    # meta.json's "format"; a checkpoint without one is format 1
PAUSE_ENV = "GAN_HELPERS_TEST_PAUSE"   # test hook: "stage:epoch" (see _test_pause)


def _sibling(directory: Path, suffix: str) -> Path:
    return directory.with_name(directory.name + suffix)


def _write_synced(path: Path, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _test_pause(stage: str, epoch: int, directory: Path) -> None:
    """Test hook: with ``GAN_HELPERS_TEST_PAUSE=stage:epoch`` the checkpoint writer stops at that
    point of that epoch's write (``write``: half of state.npz written; ``swap``: the old checkpoint
    moved aside, the new one not yet in place; ``clean``: the old one not yet deleted), touches
    ``<directory>.paused`` and sleeps, so that a test can kill the process exactly there."""
    if os.environ.get(PAUSE_ENV) == f"{stage}:{int(epoch)}":
        _sibling(directory, ".paused").write_text(stage)
        time.sleep(3600)


def read_checkpoint_meta(directory: str | os.PathLike) -> dict:
    """A checkpoint's meta.json, refusing one that is unreadable or from another format version."""
    path = Path(directory) / "meta.json"
    try:
        meta = json.loads(path.read_text())
        epoch = int(meta["epoch"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path} is unreadable ({type(exc).__name__}: {str(exc)[:80]}); the "
                         "checkpoint cannot be resumed.") from None
    fmt = meta.get("format", 1)
    if fmt != CHECKPOINT_FORMAT:
        raise ValueError(f"{directory} was written by another version of gan_helpers (checkpoint format "
                         f"{fmt!r}; this version reads format {CHECKPOINT_FORMAT}).")
    if epoch < 0:
        raise ValueError(f"{path} gives epoch {epoch}; it must be ≥ 0.")
    return meta


def _complete(directory: Path) -> bool:
    """True when ``directory`` holds a whole checkpoint: meta.json (written last) readable and
    state.npz an intact zip archive."""
    try:
        read_checkpoint_meta(directory)
        with zipfile.ZipFile(directory / "state.npz") as z:
            return z.testzip() is None
    except (OSError, ValueError, zipfile.BadZipFile, zlib.error):
        return False


def recover_checkpoint(directory: str | os.PathLike) -> str | None:
    """Repair what a kill during ``save_state`` can leave, before a run resumes from ``directory``.

    A complete ``.tmp`` is newer than anything else and is swapped in; an incomplete one is
    deleted. With no checkpoint in place, a complete ``.old`` is put back; with one, ``.old`` is a
    stale copy and is deleted. Returns one line saying what was done, or None when nothing was."""
    directory = Path(directory)
    tmp, old = _sibling(directory, ".tmp"), _sibling(directory, ".old")
    _sibling(directory, ".paused").unlink(missing_ok=True)
    done = []
    if tmp.exists():
        if _complete(tmp):
            shutil.rmtree(old, ignore_errors=True)
            if directory.exists():
                directory.rename(old)
            tmp.rename(directory)
            done.append(f"used the complete {tmp.name} that an interrupted save left")
        else:
            shutil.rmtree(tmp)
            done.append(f"deleted the half-written {tmp.name}")
    if old.exists():
        if not directory.exists() and _complete(old):
            old.rename(directory)
            done.append(f"restored {old.name}, the last complete checkpoint")
        else:
            shutil.rmtree(old)
            done.append(f"deleted the superseded {old.name}")
    return f"Checkpoint {directory}: " + "; ".join(done) + "." if done else None


class TrainingDiverged(FloatingPointError):
    """A loss became NaN or infinite; the message names the step, the loss and the likely cause."""

    def __init__(self, step: int, loss: str, value: float, cause: str):
        self.step, self.loss, self.value, self.cause = step, loss, value, cause
        super().__init__(f"{loss} became {value} at step {step}. Likely cause: {cause}")


def divergence_cause(lr: float, mixed_precision: bool = False, custom_loss: bool = False) -> str:
    """The likely reasons a GAN's loss became NaN or inf, most likely first, for the message."""
    causes = {
        "lr": f"the learning rate ({lr:g}) may be too high for this model; the recipe uses 2e-3, so try a "
              "tenth of yours",
        "logits": "a loss given probabilities where it expects logits (D must end without a sigmoid "
                  "and losses must use from_logits=True, as gan_helpers.losses does)",
        "scale": "under mixed precision the loss scale overflowed float16 (wrap both optimizers in "
                 "LossScaleOptimizer, as make_optimizers(mixed_precision=True) does)",
    }
    order = ["lr", "logits", "scale"]
    if mixed_precision:
        order = ["scale", "lr", "logits"]
    if custom_loss and lr <= 0.01:
        order.remove("logits")
        order.insert(0, "logits")
    first, *rest = order
    return f"{causes[first]}. Other possible causes: " + "; ".join(causes[k] for k in rest) + "."


STUDY_FILE = "dcgan_recipe_study.json"


def load_recipe_study() -> dict:
    """The measured study behind ``DCGANRecipe`` (``benchmarks/recipe_search.py`` writes it): each
    choice trained for the same number of steps on the bundled digits, with its quality."""
    from importlib import resources

    return json.loads(resources.files("gan_helpers").joinpath("results", STUDY_FILE).read_text())


def format_recipe_study(study: dict, names: list[str] | None = None) -> str:
    """The study as an aligned table: FD-MNIST (and its ratio to the real-vs-real floor), confident
    share, smallest–largest class share, precision/recall, D(x)/D(G(z)) in the last step, what the
    raw G scored, and what the average scored with the raw G's batch-norm statistics copied in."""
    rows = [r for r in study["rows"] if names is None or r["name"] in names]
    lines = [f"{'recipe':<44}{'steps':>6}{'FD-MNIST':>10}{'× floor':>8}{'confident':>10}{'classes':>13}"
             f"{'prec/rec':>11}{'D(x)/D(G(z))':>14}{'raw G FD':>10}{'raw-BN FD':>11}"]
    for r in rows:
        raw = f"{r['raw']['fd_mnist']:10.1f}" if r.get("raw") else f"{'–':>10}"
        raw_bn = f"{r['ema_raw_bn']['fd_mnist']:11.1f}" if r.get("ema_raw_bn") else f"{'–':>11}"
        ratio = r["fd_mnist"] / r["fd_floor"]
        lines.append(f"{r['name']:<44}{r['steps']:>6}{r['fd_mnist']:>10.1f}{ratio:>8.1f}"
                     f"{r['confident_share']:>10.1%}{r['min_class_share']:>6.1%}–{r['max_class_share']:<6.1%}"
                     f"{r['precision']:>6.2f}/{r['recall']:.2f}{r['d_real']:>9.2f}/{r['d_fake']:.2f}{raw}{raw_bn}")
    where = f"{study['device']}, {study['date']}; {study['data']}; {study['metrics']}."
    return "\n".join(lines) + "\n\n" + where


def _flat_layers(model: keras.Model):
    """Every layer inside ``model``, nested models and wrappers included."""
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _flat_layers(layer)


def _first_input_shape(model: keras.Model) -> tuple:
    """The shape of a model's (first) input: the noise of a generator, the image of a discriminator."""
    shape = model.input_shape
    return tuple(shape[0]) if isinstance(shape, list) else tuple(shape)


def generate_from(generator: keras.Model, z, batch_size: int = 256, labels=None) -> np.ndarray:
    """Run ``generator`` on noise ``z`` (and, for a conditional one, integer ``labels``) in inference
    mode, in batches, returning NumPy."""
    z = np.asarray(z, dtype="float32")
    if labels is not None:
        labels = np.asarray(labels, dtype="int32")
    out = [keras.ops.convert_to_numpy(generator(
        z[i:i + batch_size] if labels is None else [z[i:i + batch_size], labels[i:i + batch_size]],
        training=False)) for i in range(0, len(z), batch_size)]
    return np.concatenate(out).astype("float32")


class ProvenanceError(ValueError):
    """A saved generator was made by other settings or data than the caller expects."""


def provenance_path(path: str | os.PathLike) -> Path:
    """Where ``save_generator`` records what made ``path``: ``generator.keras`` → ``generator.json``."""
    return Path(path).with_suffix(".json")


def recipe_record(recipe: DCGANRecipe) -> dict:
    """A recipe as the JSON values a provenance record holds (and compares)."""
    return json.loads(json.dumps(dataclasses.asdict(recipe)))


def load_generator(path: str | os.PathLike, expect: dict | None = None) -> keras.Model:
    """Load a generator saved with ``GAN.save_generator``.

    With ``expect`` (for example ``{"recipe": recipe_record(r), "data_source": "bundled"}``) the
    provenance record saved beside it must hold those values, or ``ProvenanceError`` says which
    differ: a stale file from another recipe or split is refused, not silently evaluated."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no generator at {path}; train one with `make train` first")
    if expect:
        side = provenance_path(path)
        if not side.exists():
            raise ProvenanceError(f"{path} has no provenance record ({side.name}), so what trained it "
                                  "is unknown")
        try:
            record = json.loads(side.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ProvenanceError(f"{side} is not readable JSON ({err})") from None
        differ = [k for k, v in expect.items() if record.get(k) != v]
        if differ:
            raise ProvenanceError(f"{path} was made with other settings: " + "; ".join(
                f"{k} is {record.get(k)!r}, expected {expect[k]!r}" for k in differ))
    from . import conditional, selfcond  # noqa: F401  (registers their layers, e.g. ClusterCode)

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
