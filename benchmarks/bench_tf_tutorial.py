"""The project's DCGAN against TensorFlow's DCGAN tutorial, rebuilt from its published description.

Two measurements, each one command, both printing ratios measured in this one process:

    python benchmarks/bench_tf_tutorial.py quality     # time to quality: FD-MNIST and confident share at
                                                       # fixed wall-clock marks, the baseline then ours
    python benchmarks/bench_tf_tutorial.py throughput  # GAN.train_step on the tutorial's exact model
                                                       # against the tutorial's loop, A, B, A, B …

Run them on an idle machine: anything else running changes the clock. The tutorial
(tensorflow.org/tutorials/generative/dcgan) trains with batch 256, noise 100, Adam(1e-4) for both
networks, BCE from logits and one ``tf.function`` step holding two tapes, on a shuffled, batched
``tf.data`` pipeline. Its networks are rebuilt below from that description.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

import gan_helpers as gh  # noqa: E402

TUTORIAL_BATCH, TUTORIAL_NOISE, TUTORIAL_LR = 256, 100, 1e-4
BASELINE_MARKS = (30, 60, 120, 300, 900)
OURS_MARKS = (10, 20, 30, 45, 60, 90, 120, 180, 300)


def tutorial_generator() -> keras.Model:
    """Dense 7·7·256 (no bias), BN, LeakyReLU, then ConvT 128 (s1), 64 (s2), 1 (s2, tanh), 5×5 kernels."""
    return keras.Sequential([
        keras.Input((TUTORIAL_NOISE,)),
        layers.Dense(7 * 7 * 256, use_bias=False), layers.BatchNormalization(), layers.LeakyReLU(),
        layers.Reshape((7, 7, 256)),
        layers.Conv2DTranspose(128, 5, strides=1, padding="same", use_bias=False),
        layers.BatchNormalization(), layers.LeakyReLU(),
        layers.Conv2DTranspose(64, 5, strides=2, padding="same", use_bias=False),
        layers.BatchNormalization(), layers.LeakyReLU(),
        layers.Conv2DTranspose(1, 5, strides=2, padding="same", use_bias=False, activation="tanh"),
    ], name="tutorial_generator")


def tutorial_discriminator() -> keras.Model:
    """Conv 64 and 128 (5×5, stride 2), each with LeakyReLU and Dropout 0.3, then Dense 1 (a logit)."""
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(64, 5, strides=2, padding="same"), layers.LeakyReLU(), layers.Dropout(0.3),
        layers.Conv2D(128, 5, strides=2, padding="same"), layers.LeakyReLU(), layers.Dropout(0.3),
        layers.Flatten(), layers.Dense(1),
    ], name="tutorial_discriminator")


class TutorialLoop:
    """The tutorial's training: both networks updated at once from one generator pass."""

    def __init__(self, seed: int = 0):
        gh.config.set_seed(seed)
        self.generator, self.discriminator = tutorial_generator(), tutorial_discriminator()
        self.g_opt, self.d_opt = keras.optimizers.Adam(TUTORIAL_LR), keras.optimizers.Adam(TUTORIAL_LR)
        bce = keras.losses.BinaryCrossentropy(from_logits=True)

        @tf.function
        def step(images):
            noise = tf.random.normal([TUTORIAL_BATCH, TUTORIAL_NOISE])
            with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
                fake = self.generator(noise, training=True)
                real_out = self.discriminator(images, training=True)
                fake_out = self.discriminator(fake, training=True)
                g_loss = bce(tf.ones_like(fake_out), fake_out)
                d_loss = bce(tf.ones_like(real_out), real_out) + bce(tf.zeros_like(fake_out), fake_out)
            g_vars, d_vars = self.generator.trainable_variables, self.discriminator.trainable_variables
            self.g_opt.apply_gradients(zip(g_tape.gradient(g_loss, g_vars), g_vars))
            self.d_opt.apply_gradients(zip(d_tape.gradient(d_loss, d_vars), d_vars))

        self.step = step

    @staticmethod
    def dataset(x: np.ndarray, seed: int = 0):
        return tf.data.Dataset.from_tensor_slices(x).shuffle(len(x), seed=seed).batch(TUTORIAL_BATCH)

    def sampler(self):
        return self.generator


class Evaluator:
    """FD-MNIST and the confident share of 2,000 samples against the 2,000 held-out digits, as
    ``make train`` measures them."""

    def __init__(self, n: int = 2000):
        self.digits = gh.data.load_mnist("bundled", with_test=True)
        self.net = gh.metrics.load_feature_net("bundled", verbose=False)
        rng = np.random.default_rng(0)
        held_out = self.digits.x_test[rng.choice(len(self.digits.x_test), n, replace=False)]
        self.real = self.net.features(held_out)
        self.n = n

    def __call__(self, generator, latent_dim: int) -> dict:
        z = np.random.default_rng(1).standard_normal((self.n, latent_dim)).astype("float32")
        f, p = self.net.features_and_probs(gh.training.generate_from(generator, z))
        return {"fd": gh.metrics.frechet_distance(self.real, f), "confident": gh.metrics.confident_share(p)}


def run_marks(name: str, step_fn, batches, sampler, latent_dim: int, marks, evaluate) -> list[dict]:
    """Train by calling ``step_fn`` on batches until each wall-clock mark; the clock stops while the
    samples are measured."""
    rows, clock, steps, t = [], 0.0, 0, time.perf_counter()
    for batch in batches:
        step_fn(batch)
        steps += 1
        now = time.perf_counter()
        clock += now - t
        t = now
        if clock >= marks[len(rows)]:
            row = {"recipe": name, "mark_s": marks[len(rows)], "train_s": round(clock, 1), "steps": steps,
                   **evaluate(sampler(), latent_dim)}
            rows.append(row)
            print(f"{name:<10} {row['train_s']:>7.1f} s {steps:>6} steps   FD-MNIST {row['fd']:8.2f}   "
                  f"confident {row['confident']:.1%}", flush=True)
            if len(rows) == len(marks):
                return rows
            t = time.perf_counter()
    return rows


class MarkCallback(keras.callbacks.Callback):
    """The same clock for ``fit``: it stops while the samples are measured, and training ends at
    the last mark."""

    def __init__(self, name, marks, evaluate, latent_dim):
        super().__init__()
        self.name, self.marks, self.evaluate, self.latent_dim = name, marks, evaluate, latent_dim
        self.rows: list[dict] = []

    def on_train_begin(self, logs=None):
        self.t0, self.paused, self.steps = time.perf_counter(), 0.0, 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        clock = time.perf_counter() - self.t0 - self.paused
        if clock < self.marks[len(self.rows)]:
            return
        t = time.perf_counter()
        row = {"recipe": self.name, "mark_s": self.marks[len(self.rows)], "train_s": round(clock, 1),
               "steps": self.steps, **self.evaluate(self.model.sampler, self.latent_dim)}
        self.rows.append(row)
        print(f"{self.name:<10} {row['train_s']:>7.1f} s {self.steps:>6} steps   FD-MNIST {row['fd']:8.2f}   "
              f"confident {row['confident']:.1%}", flush=True)
        if len(self.rows) == len(self.marks):
            self.model.stop_training = True
        self.paused += time.perf_counter() - t


def endless(ds):
    while True:
        yield from ds


def quality(args) -> None:
    evaluate = Evaluator()
    x = gh.data.to_gan_range(evaluate.digits.x_train)
    print(gh.config.describe_runtime(), f"\n{len(x)} training digits (bundled split); FD at N = {evaluate.n}")

    base = TutorialLoop(seed=args.seed)
    baseline = run_marks("tutorial", base.step, endless(base.dataset(x, args.seed)), base.sampler,
                         TUTORIAL_NOISE, args.baseline_marks, evaluate)

    # the main job (self-conditioned on k-means clusters) or the plain DCGAN recipe of notebook 04
    recipe = gh.jobs.MAIN_JOB if args.recipe == "main" else gh.recipes.DCGANRecipe()
    t0 = time.perf_counter()
    gan, stream = gh.jobs.gan_and_data(recipe, x, seed=args.seed)
    print(f"ours: {args.recipe} recipe; k-means and build took {time.perf_counter() - t0:.1f} s before the "
          "clock starts")
    marks = MarkCallback("ours", args.ours_marks, evaluate, recipe.latent_dim)
    gan.fit(stream, epochs=10_000, steps_per_epoch=len(x) // recipe.batch_size, verbose=0, callbacks=[marks])
    ours = marks.rows

    target = baseline[-1]["fd"]
    reached = next((r for r in ours if r["fd"] <= target), None)
    print(f"\nThe tutorial's FD-MNIST after {baseline[-1]['train_s']:.0f} s: {target:.2f} "
          f"(confident {baseline[-1]['confident']:.1%}).")
    if reached:
        print(f"Ours reaches it by the {reached['mark_s']} s mark ({reached['train_s']:.0f} s of training): "
              f"{baseline[-1]['train_s'] / reached['train_s']:.1f}× sooner (an upper bound on the time: "
              "marks are discrete).")
    else:
        print(f"Ours does not reach it within {ours[-1]['train_s']:.0f} s.")
    if args.json:
        args.json.write_text(json.dumps({"baseline": baseline, "ours": ours, "versions": gh.config.versions(),
                                         "device": gh.config.device_description()}, indent=1))


def throughput(args) -> None:
    """Steps per second of the tutorial's loop (A) and of ``GAN.train_step`` (B) on the tutorial's
    networks and batch, alternated so that drifts in machine speed hit both alike."""
    print(gh.config.describe_runtime())
    x = np.random.default_rng(0).uniform(-1, 1, (TUTORIAL_BATCH * args.steps, 28, 28, 1)).astype("float32")
    a = TutorialLoop(seed=0)
    ds_a = a.dataset(x)
    gh.config.set_seed(0)
    b = gh.training.GAN(tutorial_generator(), tutorial_discriminator(), seed=0,
                        ema_decay=None if args.no_ema else gh.recipes.DCGANRecipe().ema_decay)
    b.compile(keras.optimizers.Adam(TUTORIAL_LR), keras.optimizers.Adam(TUTORIAL_LR),
              jit_compile=True if args.xla else gh.config.default_jit_compile(),
              share_fakes=not args.fresh_fakes)
    ds_b = gh.data.make_dataset(x, TUTORIAL_BATCH, shuffle=False)

    def time_a():
        t = time.perf_counter()
        for batch in ds_a:
            a.step(batch)
        return args.steps / (time.perf_counter() - t)

    def time_b():
        t = time.perf_counter()
        b.fit(ds_b, epochs=1, verbose=0)
        return args.steps / (time.perf_counter() - t)

    time_a()
    time_b()  # warm-up: tracing
    ratios, rates_a, rates_b = [], [], []
    for i in range(args.repeats):
        ra, rb = time_a(), time_b()
        ratios.append(rb / ra)
        rates_a.append(ra)
        rates_b.append(rb)
        print(f"pair {i + 1}: tutorial {ra:.3f} steps/s, GAN.train_step {rb:.3f} steps/s, "
              f"ratio {rb / ra:.3f}", flush=True)
    print(f"median ratio (GAN.train_step / tutorial loop), {args.repeats} pairs of {args.steps} steps at "
          f"batch {TUTORIAL_BATCH}: {statistics.median(ratios):.3f} "
          f"(pairs {min(ratios):.3f}–{max(ratios):.3f})")
    # A machine whose speed jumps between levels moves single pairs a lot; two more summaries help
    # to see whether the median ratio is the machine or the step.
    print(f"ratio of the median rates: {statistics.median(rates_b) / statistics.median(rates_a):.3f}; "
          f"ratio of the best rates: {max(rates_b) / max(rates_a):.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="what", required=True)
    q = sub.add_parser("quality", help="time to quality")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--baseline-marks", type=float, nargs="+", default=BASELINE_MARKS)
    q.add_argument("--ours-marks", type=float, nargs="+", default=OURS_MARKS)
    q.add_argument("--json", type=Path)
    q.add_argument("--recipe", choices=("main", "plain"), default="main",
                   help="ours: the main job (make train, self-conditioned) or the plain DCGAN recipe")
    t = sub.add_parser("throughput", help="same networks, two training steps")
    t.add_argument("--steps", type=int, default=30, help="steps per timing")
    t.add_argument("--repeats", type=int, default=5)
    t.add_argument("--no-ema", action="store_true", help="time GAN.train_step without the weight average")
    t.add_argument("--fresh-fakes", action="store_true", help="draw fresh noise for G's update")
    t.add_argument("--xla", action="store_true",
                   help="compile GAN.train_step with XLA (jit_compile=True; Keras' default is off on a "
                        "CPU)")
    args = ap.parse_args()
    quality(args) if args.what == "quality" else throughput(args)


if __name__ == "__main__":
    main()
