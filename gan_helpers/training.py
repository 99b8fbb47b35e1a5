r"""The GAN game as a ``keras.Model``: ``train_step`` updates D, then G (Goodfellow et al. 2014,
Algorithm 1), and ``fit`` runs it.

D ascends :math:`E_x[\log D(x)] + E_z[\log(1 - D(G(z)))]`; G, with D fixed, descends the non-saturating
:math:`-E_z[\log D(G(z))]` (``losses``). Variants change public hooks, never the step: a conditional
GAN overrides ``split_data``, ``fakes``, ``discriminate``, ``calibration_inputs``, ``sample_labels`` and
``check_data``; WGAN-GP compiles with ``d_steps`` = 5 critic updates per generator update and
``gp_weight`` = 10; a notebook may wrap ``d_step`` to watch what D is trained on.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from . import checkpoint
from . import distribute as dist
from . import losses as L
from .ema import WeightAverage

CALIBRATION_N = 2048   # noise vectors for the weight average's batch-norm statistics


class GAN(checkpoint.Resumable, keras.Model):
    """A generator and a discriminator trained adversarially with ``fit``, which shows ``d_loss``,
    ``g_loss`` and the mean D(x), D(G(z)) as ``d_real``, ``d_fake``. A seed fixes the whole run. With
    ``ema_decay`` (0.999) it keeps a weight average of G (``ema``); ``sampler`` is what to draw from."""

    label_inputs: tuple[str, ...] = ()   # the networks that also take labels ("generator": samples need them)

    def __init__(self, generator: keras.Model, discriminator: keras.Model, latent_dim: int | None = None,
                 seed: int | None = None, ema_decay: float | None = None, **kwargs):
        super().__init__(**kwargs)
        self.generator, self.discriminator = generator, discriminator
        self.latent_dim = latent_dim or int(first_input_shape(generator)[-1])
        check_image_shapes(generator, discriminator)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.ema = None if ema_decay is None else WeightAverage(generator, ema_decay, name="weight_average")
        self.trackers = [keras.metrics.Mean(name=n) for n in ("d_loss", "g_loss", "d_real", "d_fake")]
        self.built = True   # the networks are built; under a strategy Keras must not call the GAN to build it

    def compile(self, d_optimizer, g_optimizer, d_loss_fn=L.discriminator_loss, g_loss_fn="nonsaturating",
                d_steps: int = 1, gp_weight: float = 0.0, share_fakes: bool = False, **kwargs) -> None:
        """Two optimizers and two losses (functions, or names from ``losses``); ``d_steps`` critic updates
        per G update, each on its own real batch (so the data come in ``d_steps`` × batch rows);
        ``gp_weight`` λ > 0 adds the gradient penalty; ``share_fakes``: G's update reuses D's fakes."""
        super().compile(**kwargs)
        check_compile(d_optimizer, g_optimizer, d_loss_fn, g_loss_fn, d_steps, gp_weight)
        dist.build_optimizers(self.distribute_strategy, ((d_optimizer, self.discriminator),
                                                         (g_optimizer, self.generator)))
        self.d_optimizer, self.g_optimizer = d_optimizer, g_optimizer
        self.d_loss_fn, self.g_loss_fn = L.get_discriminator_loss(d_loss_fn), L.get_generator_loss(g_loss_fn)
        self.d_steps, self.gp_weight, self.share_fakes = d_steps, float(gp_weight), bool(share_fakes)

    @property
    def is_wasserstein(self) -> bool:
        """A Wasserstein critic (raw scores) rather than a logit D."""
        return self.d_loss_fn is L.critic_loss_wasserstein

    @property
    def metrics(self):
        return self.trackers

    def call(self, z, training=False):
        return self.generator(z, training=training)

    # ------------------------------------------------- hooks that a conditional GAN overrides
    def split_data(self, data):
        """A batch's images and what conditions them (None: this GAN is unconditional)."""
        return (data[0] if isinstance(data, (tuple, list)) else data), None

    def fakes(self, n, cond, training=True):
        """G(z) for ``n`` fresh noise vectors (a conditional GAN feeds ``cond`` to G too)."""
        return self.generator(self.sample_noise(n), training=training)

    def discriminate(self, images, cond, training=True):
        """D's logits on ``images`` (a conditional GAN feeds ``cond`` to D too)."""
        return self.discriminator(images, training=training)

    def calibration_inputs(self, z):
        """What the weight average is calibrated on: the noise itself here."""
        return z

    def sample_noise(self, n):
        """Standard normal z from the seed generator; under a strategy each replica takes its own rows
        of one global draw (``distribute.replica_rows``), so replicas never share noise."""
        return dist.replica_rows(
            lambda m: keras.random.normal((m, self.latent_dim), seed=self.seed_generator), n)

    # ------------------------------------------------------------------------------ the game
    def d_step(self, real, cond=None, fake=None):
        """One discriminator update on a real batch and fakes (fresh ones unless given)."""
        fake = tf.stop_gradient(self.fakes(tf.shape(real)[0], cond) if fake is None else fake)
        with tf.GradientTape() as tape:
            real_logits, fake_logits = self.discriminate(real, cond), self.discriminate(fake, cond)
            d_loss = self.d_loss_fn(real_logits, fake_logits)
            if self.gp_weight > 0:
                d_loss = d_loss + self.gp_weight * self.gradient_penalty(real, fake, cond)
            scaled = self.d_optimizer.scale_loss(dist.scale_to_global_batch(d_loss))
        d_vars = self.discriminator.trainable_variables
        self.d_optimizer.apply(tape.gradient(scaled, d_vars), d_vars)
        return d_loss, real_logits, fake_logits

    def train_step(self, data):
        images, cond = self.split_data(data)
        reals, conds = self.real_batches(images), self.real_batches(cond)
        # 1. D: push D(x) up and D(G(z)) down. With d_steps = k > 1 (WGAN-GP's n_critic), k updates,
        #    each on its own real batch and fresh noise.
        for real, c in zip(reals[:-1], conds[:-1]):
            self.d_step(real, c)
        real, cond = reals[-1], conds[-1]          # the fakes take this real batch's labels
        with tf.GradientTape() as tape:            # G's tape: with share_fakes, D's fakes are G's pass
            fake = self.fakes(tf.shape(real)[0], cond) if self.share_fakes else None
            with tape.stop_recording():            # D's update is not part of G's gradient
                d_loss, real_logits, fake_logits = self.d_step(real, cond, fake)
            # 2. G: with D fixed, make fakes (fresh ones unless shared) that D scores as real.
            if fake is None:
                fake = self.fakes(tf.shape(real)[0], cond)
            g_loss = self.g_loss_fn(self.discriminate(fake, cond))
            scaled = self.g_optimizer.scale_loss(dist.scale_to_global_batch(g_loss))
        g_vars = self.generator.trainable_variables
        self.g_optimizer.apply(tape.gradient(scaled, g_vars), g_vars)
        if self.ema is not None:
            self.ema.update(self.generator)        # 3. the weight average follows G
        return self.report(d_loss, g_loss, real_logits, fake_logits)

    def real_batches(self, real) -> list:
        """The step's data as ``d_steps`` real batches: one fresh batch per critic step."""
        if self.d_steps == 1 or real is None:
            return [real] * self.d_steps
        check_rows(real.shape[0], self.d_steps)
        return tf.split(real, self.d_steps, axis=0)

    def gradient_penalty(self, real, fake, cond=None):
        """``losses.gradient_penalty`` at random points between ``real`` and ``fake`` (one α each)."""
        shape = [tf.shape(real)[0]] + [1] * (len(real.shape) - 1)
        alpha = dist.replica_rows(lambda n: keras.random.uniform([n] + shape[1:], seed=self.seed_generator),
                                  shape[0])
        return L.gradient_penalty(lambda x: self.discriminate(x, cond), real, fake, alpha)

    def report(self, d_loss, g_loss, real_logits, fake_logits) -> dict:
        """Update the metrics with global-batch figures: D as a probability (a Wasserstein critic's raw
        score)."""
        to_report = tf.identity if self.is_wasserstein else tf.sigmoid
        values = dist.mean_over_replicas(
            tf.cast(d_loss, tf.float32), tf.cast(g_loss, tf.float32),
            tf.reduce_mean(to_report(tf.cast(real_logits, tf.float32))),
            tf.reduce_mean(to_report(tf.cast(fake_logits, tf.float32))))
        for tracker, value in zip(self.trackers, values):
            tracker.update_state(value)
        return dist.logs_for_keras({m.name: m.result() for m in self.metrics})

    # ------------------------------------------------------------------- sampling and saving
    @property
    def sampler(self) -> keras.Model:
        """The generator to draw from: the weight average, calibrated if it changed, or G itself."""
        if self.ema is None:
            return self.generator
        return self.ema.calibrated(lambda: self.calibration_inputs(noise(CALIBRATION_N, self.latent_dim, 0)))

    def sample_labels(self, n: int, labels=None):
        """The labels ``generate`` feeds the sampler: none, as this generator takes z alone."""
        if labels is not None:
            raise ValueError(f"this {type(self).__name__}'s generator takes z alone; leave labels out.")
        return None

    def generate(self, n: int, seed: int | None = None, batch_size: int = 256, labels=None) -> np.ndarray:
        """``n`` images in [-1, 1] from ``sampler`` in inference mode (the training RNG is untouched)."""
        if n < 1:
            raise ValueError(f"n must be positive, got {n}")
        return generate_from(self.sampler, noise(n, self.latent_dim, seed), batch_size,
                             labels=self.sample_labels(n, labels))

    def fit(self, *args, shuffle: bool = False, **kwargs):
        """``keras.Model.fit``, refusing data that do not fit the networks before any training."""
        self.check_data(args[0] if args else kwargs.get("x"))
        return super().fit(*args, shuffle=shuffle, **kwargs)

    def check_data(self, x) -> None:
        """Refuse images whose shape is not the generator's output shape."""
        check_image_data(x, tuple(self.generator.output_shape[1:]))

    def state_groups(self) -> dict[str, list]:
        """Every variable a resumed run needs (``save_state``), by group: weights and layer RNG states,
        both optimizers' moments, the noise RNG and the weight average."""
        if not hasattr(self, "d_optimizer"):
            raise RuntimeError("compile() the GAN with its optimizers before save_state() or load_state()")
        groups = {"generator": self.generator.variables, "discriminator": self.discriminator.variables,
                  "g_opt": self.g_optimizer.variables, "d_opt": self.d_optimizer.variables,
                  "noise": [self.seed_generator.state]}
        return groups | ({"ema": self.ema.model.variables + [self.ema.updates]} if self.ema else {})


# ----------------------------------------------------------------------------- helpers
def noise(n: int, latent_dim: int, seed: int | None = None) -> np.ndarray:
    """Standard normal noise [n, latent_dim] in float32 from NumPy's ``default_rng(seed)``: fixed
    noise for pictures and metrics, apart from the training RNG."""
    return np.random.default_rng(seed).standard_normal((n, latent_dim)).astype("float32")


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


def first_input_shape(model: keras.Model) -> tuple:
    """The shape of a model's (first) input: the noise of a generator, the image of a discriminator."""
    shape = model.input_shape
    return tuple(shape[0]) if isinstance(shape, list) else tuple(shape)


def check_image_shapes(generator: keras.Model, discriminator: keras.Model) -> None:
    """Refuse a generator whose images the discriminator cannot take."""
    g_out, d_in = tuple(generator.output_shape[1:]), tuple(first_input_shape(discriminator)[1:])
    if g_out != d_in:
        raise ValueError(f"the generator makes images of shape {g_out} but the discriminator takes {d_in}; "
                         "build both for the same image shape.")


def check_compile(d_optimizer, g_optimizer, d_loss_fn, g_loss_fn, d_steps, gp_weight) -> None:
    """Refuse settings of ``GAN.compile`` that cannot train, saying what is allowed."""
    if d_optimizer is g_optimizer:
        raise ValueError("d_optimizer and g_optimizer must be two separate optimizer objects: each keeps "
                         "its own moment estimates for its own network.")
    if not isinstance(d_steps, int) or d_steps < 1:
        raise ValueError(f"d_steps must be a positive integer (WGAN-GP uses 5), got {d_steps!r}")
    if not gp_weight >= 0:
        raise ValueError(f"gp_weight must be ≥ 0 (0 turns the penalty off, WGAN-GP uses 10), got "
                         f"{gp_weight!r}")
    d_critic = L.get_discriminator_loss(d_loss_fn) is L.critic_loss_wasserstein
    g_critic = L.get_generator_loss(g_loss_fn) is L.generator_loss_wasserstein
    if d_critic != g_critic and not (callable(d_loss_fn) and callable(g_loss_fn)):
        raise ValueError("a Wasserstein critic needs the Wasserstein generator loss and vice versa: pass "
                         "d_loss_fn='wasserstein' and g_loss_fn='wasserstein' together.")


def check_rows(rows: int | None, d_steps: int) -> None:
    """Refuse a batch of data that does not split into ``d_steps`` real batches."""
    if rows is not None and rows % d_steps:
        raise ValueError(f"with d_steps = {d_steps} each batch of data must hold {d_steps} real batches at "
                         f"once (one per critic step); got {rows} rows. Batch the dataset by {d_steps} × "
                         "batch size.")


def check_image_data(x, want: tuple) -> None:
    """Refuse data (array or ``tf.data``) whose images do not have shape ``want``."""
    spec = getattr(x, "element_spec", None)
    spec = spec[0] if isinstance(spec, (tuple, list)) else spec
    shape = getattr(spec, "shape", None) if spec is not None else getattr(x, "shape", None)
    if shape is None or len(shape) < 2 or any(d is None for d in tuple(shape)[1:]):
        return
    if tuple(shape[1:]) != want:
        raise ValueError(f"the data's images have shape {tuple(shape[1:])} but the generator makes {want}; "
                         "resize the data or build the networks for its shape.")
