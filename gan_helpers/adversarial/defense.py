"""Adversarial training: Wong et al.'s cyclic learning rate, ``AdversarialTrainer`` (a ``keras.Model``
whose ``train_step`` trains on FGSM, FGSM with random start, or PGD examples) and ``PGDEarlyStopping``.

The top layer of the subpackage: imports from ``threat`` and ``attacks``, never the other way round.
"""

from __future__ import annotations

import time

import keras
import numpy as np
import tensorflow as tf

from .attacks import fgsm, pgd
from .threat import (
    _check_data,
    _check_eps,
    _check_positive_int,
    _check_step_size,
    _loss_and_grad,
    _pgd_core,
    accuracy,
    project,
)

MODES = ("fgsm", "fgsm_rs", "pgd")


# ----------------------------------------------------------------------------- adversarial training
class CyclicRate(keras.optimizers.schedules.LearningRateSchedule):
    """Wong et al.'s (2020) cyclic learning rate for fast adversarial training: linear from 0 to ``peak``
    over the first 40% of ``total_steps``, then linearly back to 0 (and 0 after ``total_steps``)."""

    def __init__(self, peak: float, total_steps: int):
        if not peak > 0:
            raise ValueError(f"peak must be a positive learning rate, got {peak!r}")
        if not isinstance(total_steps, (int, np.integer)) or total_steps < 1:
            raise ValueError(f"total_steps must be a positive integer, got {total_steps!r}")
        self.peak, self.total, self.up = float(peak), float(total_steps), 0.4 * total_steps

    def __call__(self, step):
        t = keras.ops.cast(step, "float32")
        return self.peak * keras.ops.where(t < self.up, t / self.up,
                                           keras.ops.maximum(0.0, (self.total - t) / (self.total - self.up)))

    def get_config(self) -> dict:
        return {"peak": self.peak, "total_steps": int(self.total)}


class AdversarialTrainer(keras.Model):
    """Trains ``classifier`` with ``fit`` on adversarial examples made fresh for every batch.

    ``mode``: "fgsm" (Goodfellow et al. 2015), "fgsm_rs" (FGSM from a uniform random start with step
    ``alpha`` = 1.25 ε, the gradient taken at the start before any clip to [0, 1] unless ``clip_start``,
    as in Wong et al. 2020) or "pgd" (Madry et al. 2018: ``steps`` steps of
    ``step_size`` from a random start). The loss is ``clean_weight``·CE(clean) + (1 − clean_weight)·
    CE(adversarial). ``ramp_steps`` > 0 grows ε linearly from 0 over that many optimizer steps (step
    sizes grow with it). ``fit`` reports ``loss``, ``clean_acc`` and ``adv_acc``, and the current ``eps``.
    """

    def __init__(self, classifier: keras.Model, mode: str = "pgd", eps: float = 0.3, steps: int = 40,
                 step_size: float | None = None, alpha: float | None = None, clean_weight: float = 0.0,
                 ramp_steps: int = 0, clip_start: bool = False, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"mode={mode!r} is not known; choose one of {', '.join(MODES)}.")
        eps = _check_eps(eps)
        if not 0.0 <= clean_weight <= 1.0:
            raise ValueError(f"clean_weight={clean_weight} must be between 0 (adversarial loss only) and "
                             "1 (clean loss only).")
        if isinstance(ramp_steps, bool) or int(ramp_steps) != ramp_steps or ramp_steps < 0:
            raise ValueError(f"ramp_steps={ramp_steps!r} must be a whole number ≥ 0 (0: no ramp)")
        self.classifier = classifier
        self.mode = mode
        self.eps = eps
        self.steps = _check_positive_int("steps", steps)
        self.step_size = _check_step_size(step_size if step_size is not None
                                          else 2.5 * max(eps, 1e-3) / self.steps)
        self.alpha = _check_step_size(alpha if alpha is not None else 1.25 * max(eps, 1e-3))
        self.clean_weight = float(clean_weight)
        self.ramp_steps = int(ramp_steps)
        self.clip_start = bool(clip_start)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.clean_acc = keras.metrics.SparseCategoricalAccuracy(name="clean_acc")
        self.adv_acc = keras.metrics.SparseCategoricalAccuracy(name="adv_acc")
        self.eps_tracker = keras.metrics.Mean(name="eps")

    @property
    def metrics(self):
        return [self.loss_tracker, self.clean_acc, self.adv_acc, self.eps_tracker]

    def call(self, x, training=False):
        return self.classifier(x, training=training)

    def current_eps(self):
        """ε for this optimizer step: the full ε, or its linear ramp from 0 over ``ramp_steps``."""
        if self.ramp_steps == 0:
            return tf.constant(self.eps, tf.float32)
        done = tf.cast(self.optimizer.iterations + 1, tf.float32) / float(self.ramp_steps)
        return self.eps * tf.minimum(1.0, done)

    def perturb(self, x, y, eps):
        """The adversarial batch for this mode, made with the classifier in inference mode."""
        x, y = tf.convert_to_tensor(x, tf.float32), tf.cast(y, tf.int32)
        eps = tf.cast(eps, tf.float32)
        scale = eps / self.eps if self.eps > 0 else 0.0  # step sizes follow the ε ramp
        if self.mode == "fgsm":
            _, grad, _ = _loss_and_grad(self.classifier, x, y)
            x_adv = project(x + eps * tf.sign(grad), x, eps)
        elif self.mode == "fgsm_rs":
            delta = keras.random.uniform(tf.shape(x), -1.0, 1.0, seed=self.seed_generator) * eps
            start = x + delta  # Wong et al. take the gradient at the unclipped start
            if self.clip_start:
                start = tf.clip_by_value(start, 0.0, 1.0)
            _, grad, _ = _loss_and_grad(self.classifier, start, y)
            x_adv = project(start + self.alpha * scale * tf.sign(grad), x, eps)
        else:
            seed = keras.random.randint((2,), 0, 2**30, seed=self.seed_generator)
            x_adv = _pgd_core(self.classifier, x, y, eps, self.steps, self.step_size * scale, seed, True)
        return tf.stop_gradient(x_adv)

    def train_step(self, data):
        x, y = data[0], tf.cast(data[1], tf.int32)
        eps = self.current_eps()
        x_adv = self.perturb(x, y, eps)
        with tf.GradientTape() as tape:
            adv_logits = self.classifier(x_adv, training=True)
            loss = tf.reduce_mean(
                keras.losses.sparse_categorical_crossentropy(y, adv_logits, from_logits=True))
            if self.clean_weight > 0:
                clean_logits = self.classifier(x, training=True)
                clean_loss = tf.reduce_mean(
                    keras.losses.sparse_categorical_crossentropy(y, clean_logits, from_logits=True))
                loss = self.clean_weight * clean_loss + (1.0 - self.clean_weight) * loss
        variables = self.classifier.trainable_variables
        self.optimizer.apply(tape.gradient(loss, variables), variables)
        if self.clean_weight == 0:
            clean_logits = self.classifier(x, training=False)
        self.loss_tracker.update_state(loss)
        self.clean_acc.update_state(y, clean_logits)
        self.adv_acc.update_state(y, adv_logits)
        self.eps_tracker.update_state(eps)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        x, y = data[0], tf.cast(data[1], tf.int32)
        logits = self.classifier(x, training=False)
        self.loss_tracker.update_state(
            tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)))
        self.clean_acc.update_state(y, logits)
        return {m.name: m.result() for m in (self.loss_tracker, self.clean_acc)}


class PGDEarlyStopping(keras.callbacks.Callback):
    """Watches PGD and FGSM accuracy on a held-out batch after each epoch (or every ``every_batches``
    batches), stops when PGD accuracy falls more than ``drop`` below the *best* seen so far, and restores
    the best epoch's weights when training ends (``restore_best``). With ``drop=1`` and
    ``restore_best=False`` it only records the two curves.

    This repository's variant of the early stopping of Wong, Rice & Kolter 2020 (arXiv 2001.03994),
    which guards against catastrophic overfitting; it is not theirs. In locuslab/fast_adversarial
    (``CIFAR10/train_fgsm.py --early-stop``; their MNIST script has no early stopping) PGD-5 with one
    restart attacks the epoch's first *training* minibatch after each epoch, training stops when that
    accuracy is more than 0.2 below the *previous* epoch's, and the previous epoch's weights are kept.
    Here the batch is held out, the attack is PGD-``steps`` (10 by default), and the comparison is with
    the best epoch, whose weights are restored."""

    def __init__(self, x, y, eps: float = 0.3, steps: int = 10, step_size: float | None = None,
                 drop: float = 0.2, every_batches: int | None = None, seed: int = 0,
                 restore_best: bool = True):
        super().__init__()
        self.x, self.y = _check_data(x, y)
        self.eps = _check_eps(eps)
        self.steps = _check_positive_int("steps", steps)
        self.step_size = _check_step_size(step_size if step_size is not None
                                          else 2.5 * max(eps, 1e-3) / self.steps)
        if not 0 < drop <= 1:
            raise ValueError(f"drop={drop} must be in (0, 1]: the fall in PGD accuracy that stops training")
        self.drop = drop
        self.every_batches = None if every_batches is None else _check_positive_int("every_batches",
                                                                                   every_batches)
        self.seed = seed
        self.restore_best = bool(restore_best)
        self.history: list[float] = []
        self.fgsm_history: list[float] = []
        self.seconds = 0.0  # time spent measuring, so that training time can leave it out
        self.best_acc = -1.0
        self.best_weights: list[np.ndarray] | None = None
        self.stopped = False

    def _classifier(self) -> keras.Model:
        return getattr(self.model, "classifier", self.model)

    def pgd_accuracy(self) -> float:
        """PGD accuracy of the classifier on the held-out batch, as it is now."""
        clf = self._classifier()
        x_adv = pgd(clf, self.x, self.y, self.eps, self.steps, self.step_size, seed=self.seed)
        return accuracy(clf, x_adv, self.y)

    def _watch(self) -> None:
        t0 = time.perf_counter()
        acc = self.pgd_accuracy()
        self.history.append(acc)
        clf = self._classifier()
        self.fgsm_history.append(accuracy(clf, fgsm(clf, self.x, self.y, self.eps), self.y))
        self.seconds += time.perf_counter() - t0
        if acc > self.best_acc:
            self.best_acc = acc
            self.best_weights = [np.array(w) for w in self._classifier().get_weights()]
        elif acc < self.best_acc - self.drop:
            self.stopped = True
            self.model.stop_training = True

    def on_train_batch_end(self, batch, logs=None):
        if self.every_batches and (batch + 1) % self.every_batches == 0 and not self.stopped:
            self._watch()

    def on_epoch_end(self, epoch, logs=None):
        if not self.stopped:
            self._watch()
        if logs is not None and self.history:
            logs["val_pgd_acc"] = self.history[-1]

    def on_train_end(self, logs=None):
        if self.restore_best and self.best_weights is not None:
            self._classifier().set_weights(self.best_weights)
