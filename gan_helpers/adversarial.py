"""Adversarial examples and adversarial training under the L∞ threat model, pixels in [0, 1].

Attacks (``fgsm``, ``pgd``) take a classifier that returns logits, run it in inference mode on the true
labels, and check every result against the threat model: ‖x_adv − x‖∞ ≤ ε and 0 ≤ x_adv ≤ 1.
``robust_accuracy`` counts an example as broken when any attack breaks it. ``AdversarialTrainer`` is a
``keras.Model`` whose ``train_step`` trains on FGSM, FGSM with random start, or PGD examples.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf

MODES = ("fgsm", "fgsm_rs", "pgd")
TOLERANCE = 1e-6  # slack allowed on the ε-ball and the pixel range (float32 rounding)
DEFAULT_BATCH = 500


# ----------------------------------------------------------------------------- the classifier
def build_classifier(width: int = 32, dense: int = 512, name: str = "mnist_cnn") -> keras.Model:
    """A small CNN from 28×28×1 pixels in [0, 1] to 10 logits: two 3×3 conv blocks and one hidden layer
    (wide enough for PGD training at ε = 0.3 to reach about 85% on the bundled digits, notebook 08)."""
    if width < 1 or dense < 1:
        raise ValueError(f"width and dense must be positive, got width={width}, dense={dense}")
    from keras import layers

    return keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(width, 3, activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(2 * width, 3, activation="relu"),
        layers.MaxPooling2D(),
        layers.Flatten(),
        layers.Dense(dense, activation="relu"),
        layers.Dense(10),
    ], name=name)


def to_unit_range(images: np.ndarray) -> np.ndarray:
    """uint8 [N, 28, 28] pixels to float32 [N, 28, 28, 1] in [0, 1], the attacks' pixel scale."""
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise TypeError(f"expected uint8 pixels in 0..255, got dtype {images.dtype}")
    x = images.astype(np.float32) / 255.0
    return x[..., None] if x.ndim == 3 else x


# ----------------------------------------------------------------------------- input checks
def _check_eps(eps: float) -> float:
    try:
        eps = float(eps)
    except (TypeError, ValueError):
        raise ValueError(f"eps={eps!r} must be a number between 0 and 1 (pixels are in [0, 1])") from None
    if not math.isfinite(eps) or eps < 0 or eps > 1:
        raise ValueError(f"eps={eps} is not allowed: the L∞ budget must be between 0 and 1 on pixels in "
                         "[0, 1] (the MNIST convention is 0.3).")
    return eps


def _check_labels(model: keras.Model, y: np.ndarray) -> None:
    """Labels must index the model's outputs: 0 ≤ y < number of classes."""
    k = int(model.output_shape[-1])
    if len(y) and (y.min() < 0 or y.max() >= k):
        raise ValueError(f"y holds labels in [{y.min()}, {y.max()}], but the model has {k} classes: "
                         f"labels must be whole numbers from 0 to {k - 1}.")


def _check_data(x, y) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x)
    y = np.asarray(y)
    if x.dtype == np.uint8:
        raise ValueError("x holds uint8 pixels (0..255); the attacks work on floats in [0, 1]: "
                         "use to_unit_range(x) or x / 255.")
    x = x.astype(np.float32)
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"x must be a non-empty batch of images [N, ...], got shape {x.shape}")
    if not np.isfinite(x).all() or x.min() < 0 or x.max() > 1:
        raise ValueError(f"x must hold pixels in [0, 1], got values in [{np.nanmin(x):.3g}, "
                         f"{np.nanmax(x):.3g}]; images in [-1, 1] map to [0, 1] by (x + 1) / 2.")
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"y must be a 1-D array of integer class labels, got shape {y.shape} and dtype "
                         f"{y.dtype} (use the true labels, not one-hot vectors or predictions).")
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} images but y has {len(y)} labels; they must match one to one.")
    return x, y.astype(np.int32)


def _check_positive_int(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}={value!r} must be a whole number ≥ 1")
    return int(value)


def _check_step_size(step_size: float) -> float:
    step_size = float(step_size)
    if not math.isfinite(step_size) or step_size <= 0:
        raise ValueError(f"step_size={step_size} must be a positive number (Madry et al. use 0.01 "
                         "with 40 steps at eps = 0.3).")
    return step_size


def assert_in_threat_model(x, x_adv, eps: float, tol: float = TOLERANCE) -> None:
    """Raise AssertionError unless ‖x_adv − x‖∞ ≤ eps + tol and every pixel of x_adv is in [0, 1]."""
    x, x_adv = np.asarray(x, np.float32), np.asarray(x_adv, np.float32)
    if x.shape != x_adv.shape:
        raise AssertionError(f"x_adv has shape {x_adv.shape}, x has {x.shape}")
    dist = float(np.abs(x_adv - x).max()) if x.size else 0.0
    if not np.isfinite(x_adv).all():
        raise AssertionError("x_adv holds NaN or inf values")
    if dist > eps + tol:
        raise AssertionError(f"‖x_adv − x‖∞ = {dist:.6g} exceeds eps = {eps:.6g}: the perturbation "
                             "left the ε-ball (a missing projection?)")
    if x_adv.min() < -tol or x_adv.max() > 1 + tol:
        raise AssertionError(f"x_adv has pixels in [{x_adv.min():.4g}, {x_adv.max():.4g}], outside [0, 1] "
                             "(a missing clip to the pixel range?)")


def project(x_adv, x, eps: float):
    """Project onto the ε-ball around x and clip to [0, 1] (the nearest allowed image, per pixel)."""
    return tf.clip_by_value(tf.clip_by_value(x_adv, x - eps, x + eps), 0.0, 1.0)


# ----------------------------------------------------------------------------- compiled pieces
_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _loss_and_grad(model: keras.Model, x, y):
    """Per-example cross-entropy of the logits and its gradient w.r.t. the input, inference mode."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        logits = model(x, training=False)
        loss = keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
    return loss, tape.gradient(loss, x), logits


def _pgd_core(model: keras.Model, x, y, eps, steps, step_size, seed, random_start=True):
    """One PGD run on a batch: random start, signed-gradient steps, projection and clip each step."""
    delta = tf.random.stateless_uniform(tf.shape(x), seed=seed, minval=-1.0, maxval=1.0) * eps
    x_adv = tf.clip_by_value(x + delta * tf.cast(random_start, tf.float32), 0.0, 1.0)

    def step(i, x_adv):
        _, grad, _ = _loss_and_grad(model, x_adv, y)
        return i + 1, project(x_adv + step_size * tf.sign(grad), x, eps)

    _, x_adv = tf.while_loop(lambda i, _: i < steps, step, (tf.constant(0), x_adv))
    return tf.stop_gradient(x_adv)


def _compiled(model: keras.Model, image_shape: tuple[int, ...]) -> dict[str, Callable]:
    """tf.functions for one model and image shape (any batch size), made once per model."""
    per_model = _COMPILED.setdefault(model, {})
    fns = per_model.get(image_shape)
    if fns is None:
        xs = tf.TensorSpec((None, *image_shape), tf.float32)
        ys = tf.TensorSpec((None,), tf.int32)
        scalar, int_scalar = tf.TensorSpec((), tf.float32), tf.TensorSpec((), tf.int32)

        @tf.function(input_signature=[xs, ys, scalar])
        def fgsm_batch(x, y, eps):
            _, grad, _ = _loss_and_grad(model, x, y)
            return project(x + eps * tf.sign(grad), x, eps)

        @tf.function(input_signature=[xs, ys, scalar, int_scalar, scalar, tf.TensorSpec((2,), tf.int32),
                                      tf.TensorSpec((), tf.bool)])
        def pgd_batch(x, y, eps, steps, step_size, seed, random_start):
            x_adv = _pgd_core(model, x, y, eps, steps, step_size, seed, random_start)
            loss, _, logits = _loss_and_grad(model, x_adv, y)
            return x_adv, loss, tf.equal(tf.argmax(logits, -1, output_type=tf.int32), y)

        @tf.function(input_signature=[xs])
        def logits_batch(x):
            return model(x, training=False)

        fns = {"fgsm": fgsm_batch, "pgd": pgd_batch, "logits": logits_batch}
        for fn in fns.values():  # one trace per model is expected, not the "frequent retracing" TF warns of
            fn._omit_frequent_tracing_warning = True
        per_model[image_shape] = fns
    return fns


def _batches(n: int, batch_size: int):
    for start in range(0, n, batch_size):
        yield slice(start, min(n, start + batch_size))


# ----------------------------------------------------------------------------- attacks
def predict(model: keras.Model, x, batch_size: int = DEFAULT_BATCH) -> np.ndarray:
    """Predicted labels (argmax of the logits), inference mode, in batches."""
    x = np.asarray(x, np.float32)
    fn = _compiled(model, tuple(x.shape[1:]))["logits"]
    out = [np.argmax(fn(tf.constant(x[s])).numpy(), -1) for s in _batches(len(x), batch_size)]
    return np.concatenate(out).astype(np.int32)


def accuracy(model: keras.Model, x, y, batch_size: int = DEFAULT_BATCH) -> float:
    """Share of examples whose predicted label equals the true one."""
    return float(np.mean(predict(model, x, batch_size) == np.asarray(y)))


def fgsm(model: keras.Model, x, y, eps: float, batch_size: int = DEFAULT_BATCH) -> np.ndarray:
    """Fast gradient sign method (Goodfellow et al. 2015): x + eps·sign(∇ₓ loss), clipped to [0, 1]."""
    eps = _check_eps(eps)
    x, y = _check_data(x, y)
    _check_labels(model, y)
    batch_size = _check_positive_int("batch_size", batch_size)
    fn = _compiled(model, tuple(x.shape[1:]))["fgsm"]
    e = tf.constant(eps, tf.float32)
    x_adv = np.concatenate([fn(tf.constant(x[s]), tf.constant(y[s]), e).numpy()
                            for s in _batches(len(x), batch_size)])
    assert_in_threat_model(x, x_adv, eps)
    return x_adv


def pgd(model: keras.Model, x, y, eps: float, steps: int = 40, step_size: float = 0.01, restarts: int = 1,
        random_start: bool = True, seed: int = 0, batch_size: int = DEFAULT_BATCH) -> np.ndarray:
    """Projected gradient descent (Madry et al. 2018) on the cross-entropy, L∞ ball, pixels in [0, 1].

    Each restart draws a new uniform start in the ε-ball; per example, a restart that breaks it (or,
    among unbroken ones, has the highest loss) is kept. Restart 0 uses ``seed``, so more restarts with
    the same seed are never weaker than one."""
    eps = _check_eps(eps)
    x, y = _check_data(x, y)
    _check_labels(model, y)
    steps = _check_positive_int("steps", steps)
    restarts = _check_positive_int("restarts", restarts)
    batch_size = _check_positive_int("batch_size", batch_size)
    step_size = _check_step_size(step_size)
    if restarts > 1 and not random_start:
        raise ValueError("restarts > 1 needs random_start=True: without a random start every restart "
                         "follows the same path.")
    fn = _compiled(model, tuple(x.shape[1:]))["pgd"]
    e, k, a = tf.constant(eps, tf.float32), tf.constant(steps), tf.constant(step_size, tf.float32)
    best = np.empty_like(x)
    for b, s in enumerate(_batches(len(x), batch_size)):
        xb, yb = tf.constant(x[s]), tf.constant(y[s])
        x_adv, loss, correct = fn(xb, yb, e, k, a, tf.constant([int(seed), b], tf.int32),
                                  tf.constant(bool(random_start)))
        best_adv, best_loss, best_broken = x_adv.numpy(), loss.numpy(), ~correct.numpy()
        for r in range(1, restarts):
            todo = np.flatnonzero(~best_broken)  # broken examples stay broken: restart only the others
            if len(todo) == 0:
                break
            seed_t = tf.constant([int(seed), 1_000_003 * r + b], tf.int32)
            x_adv, loss, correct = fn(tf.gather(xb, todo), tf.gather(yb, todo), e, k, a, seed_t,
                                      tf.constant(True))
            x_adv, loss, broken = x_adv.numpy(), loss.numpy(), ~correct.numpy()
            # keep the new run where it breaks the example or, still unbroken, reaches a higher loss
            take = broken | (loss > best_loss[todo])
            best_adv[todo[take]], best_loss[todo[take]] = x_adv[take], loss[take]
            best_broken[todo[broken]] = True
        best[s] = best_adv
    assert_in_threat_model(x, best, eps)
    return best


Attack = Callable[[keras.Model, np.ndarray, np.ndarray, float], np.ndarray]


@dataclass
class RobustResult:
    """Accuracies under attack: ``robust`` counts an example only if no attack breaks it."""

    clean: float
    robust: float
    per_attack: dict[str, float]
    correct: np.ndarray = field(repr=False)  # per example: True when clean and every attack got it right

    def __float__(self) -> float:
        return self.robust


def robust_accuracy(model: keras.Model, x, y, attacks: Mapping[str, Attack] | Sequence[Attack],
                    eps: float, batch_size: int = DEFAULT_BATCH) -> RobustResult:
    """Accuracy when each example faces every attack: broken by any (or misclassified clean) = wrong.

    ``attacks`` maps names to ``attack(model, x, y, eps) -> x_adv`` (a list gets names attack_0, …)."""
    eps = _check_eps(eps)
    x, y = _check_data(x, y)
    _check_labels(model, y)
    if not isinstance(attacks, Mapping):
        attacks = {f"attack_{i}": a for i, a in enumerate(attacks)}
    if not attacks:
        raise ValueError("attacks is empty; give at least one, e.g. {'pgd': gh.adversarial.pgd}")
    clean_ok = predict(model, x, batch_size) == y
    ok = clean_ok.copy()
    per_attack = {}
    for name, attack in attacks.items():
        x_adv = np.asarray(attack(model, x, y, eps), np.float32)
        assert_in_threat_model(x, x_adv, eps)
        survived = clean_ok & (predict(model, x_adv, batch_size) == y)
        per_attack[name] = float(survived.mean())
        ok &= survived
    return RobustResult(float(clean_ok.mean()), float(ok.mean()), per_attack, ok)


# ----------------------------------------------------------------------------- adversarial training
class AdversarialTrainer(keras.Model):
    """Trains ``classifier`` with ``fit`` on adversarial examples made fresh for every batch.

    ``mode``: "fgsm" (Goodfellow et al. 2015), "fgsm_rs" (FGSM from a uniform random start with step
    ``alpha`` = 1.25 ε, Wong et al. 2020) or "pgd" (Madry et al. 2018: ``steps`` steps of
    ``step_size`` from a random start). The loss is ``clean_weight``·CE(clean) + (1 − clean_weight)·
    CE(adversarial). ``ramp_steps`` > 0 grows ε linearly from 0 over that many optimizer steps (step
    sizes grow with it). ``fit`` reports ``loss``, ``clean_acc`` and ``adv_acc``, and the current ``eps``.
    """

    def __init__(self, classifier: keras.Model, mode: str = "pgd", eps: float = 0.3, steps: int = 40,
                 step_size: float | None = None, alpha: float | None = None, clean_weight: float = 0.0,
                 ramp_steps: int = 0, seed: int | None = None, **kwargs):
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
            start = tf.clip_by_value(x + delta, 0.0, 1.0)
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
    """Watches PGD accuracy on a held-out batch after each epoch (or every ``every_batches``
    batches), stops when it falls ``drop`` below the best seen (catastrophic overfitting, Wong et al.
    2020), and restores the classifier's best weights when training ends."""

    def __init__(self, x, y, eps: float = 0.3, steps: int = 10, step_size: float | None = None,
                 drop: float = 0.2, every_batches: int | None = None, seed: int = 0):
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
        self.history: list[float] = []
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
        acc = self.pgd_accuracy()
        self.history.append(acc)
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
        if self.best_weights is not None:
            self._classifier().set_weights(self.best_weights)
