"""Checks for notebook 06 (the conditional GAN)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._common import ExerciseFailed, _call, _numpy, _passed, _require_answers


def check_projection_logit(fn: Callable) -> bool:
    """``fn(psi, phi, embedding, labels)`` must return the projection logit ψ + e_yᵀφ per sample, for
    ψ [N], features φ [N, F], class embeddings E [classes, F] and integer labels y [N]."""
    rng = np.random.default_rng(0)
    n, f, k = 6, 5, 4
    psi, phi, emb = rng.normal(size=n), rng.normal(size=(n, f)), rng.normal(size=(k, f))
    labels = np.array([0, 1, 2, 3, 1, 2])
    want = psi + np.sum(emb[labels] * phi, axis=1)
    got = _numpy(_call(fn, psi, phi, emb, labels)).reshape(-1)
    if got.shape != (n,):
        raise ExerciseFailed(f"for {n} samples give {n} logits (one each), got {got.size} values: "
                             "take the dot product per sample, e_y · φ summed over the feature axis.")
    if not np.allclose(got, want, atol=1e-6):
        hints = [(psi + phi @ emb.sum(0), "use the embedding row of each sample's own label, E[y], not "
                                          "the sum of all rows."),
                 (np.sum(emb[labels] * phi, axis=1), "the unconditional term ψ(φ(x)) is missing."),
                 (psi + np.sum(emb[(labels + 1) % k] * phi, axis=1), "the rows are off by one.")]
        hint = next((h for value, h in hints if np.allclose(got, value, atol=1e-6)),
                    "compare with ψ + Σ_f E[y, f] φ[f] for each sample.")
        raise ExerciseFailed(f"your logits {np.round(got, 3)} differ from {np.round(want, 3)}; {hint}")
    return _passed("projection logit")


def _all_layers(model) -> list:
    """Every layer of ``model``, nested models included."""
    found = []
    for layer in model.layers:
        found.append(layer)
        if hasattr(layer, "layers"):
            found.extend(_all_layers(layer))
    return found


def _logits(model, x, y) -> np.ndarray:
    return _numpy(model([x, y], training=False)).reshape(len(x), -1)


def check_concat_discriminator(build: Callable) -> bool:
    """``build(width)`` must return a ``keras.Model`` taking [images [N, 28, 28, 1], labels [N] int]
    to one logit per image, in which the label's effect depends on the image (a label term merely added
    after the last non-linearity would not), so that D can judge whether the digit matches the label.
    The label must enter as ``LabelPlanes`` channels, in a model the learner builds (the library's own D
    is refused)."""
    import keras

    from ..layers import LabelPlanes

    model = _call(build, 8)
    if not isinstance(model, keras.Model):
        raise ExerciseFailed(f"build(width) must return a keras.Model, got {type(model).__name__}.")
    names = {layer.name for layer in _all_layers(model)}
    if model.name == "conditional_discriminator" or {"phi", "psi"} <= names:
        raise ExerciseFailed("this is the library's own discriminator (build_conditional_discriminator); "
                             "the exercise is to build the concatenation D yourself from keras layers "
                             "and LabelPlanes.")
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(16, 28, 28, 1)).astype("float32")
    y = (np.arange(16) % 10).astype("int32")
    try:
        out = _logits(model, x, y)
    except Exception as exc:  # a model that does not take [x, y] fails inside Keras
        raise ExerciseFailed(f"calling your model on [images, labels] failed ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0][:120]}); it must take the two inputs as a "
                             "list.") from None
    if out.shape != (16, 1):
        raise ExerciseFailed(f"the model must give one logit per image, shape (16, 1); got {out.shape}.")
    other = _logits(model, x, (y + 3) % 10)
    effect = (other - out).reshape(-1)
    if np.allclose(effect, 0, atol=1e-7):
        raise ExerciseFailed("changing the labels does not change the logits: the label never reaches "
                             "the output. Concatenate its one-hot planes to the image (LabelPlanes).")
    same_label = np.full(16, 4, "int32")
    shift = (_logits(model, x, (same_label + 3) % 10) - _logits(model, x, same_label)).reshape(-1)
    if np.ptp(shift) < 1e-6 * max(1.0, float(np.abs(shift).max())):
        raise ExerciseFailed("changing the label shifts every image's logit by the same amount: the "
                             "label is added after the last non-linearity, so D cannot tell whether an "
                             "image matches its label. Let it enter earlier, at the input.")
    if not any(isinstance(layer, LabelPlanes) for layer in _all_layers(model)):
        raise ExerciseFailed("your model has no LabelPlanes layer: concatenate the label's one-hot "
                             "planes, gh.conditional.LabelPlanes(10)(images, labels), to the images.")
    return _passed("concatenation discriminator")


def check_class_grid_inputs(fn: Callable) -> bool:
    """``fn(z, n_classes)`` must return (noise, labels) for a class grid: n_classes × len(z) rows,
    row-major, so that row c of the picture is class c and column j reuses the noise vector z[j]."""
    rng = np.random.default_rng(0)
    z = rng.normal(size=(4, 3)).astype("float32")
    result = _call(fn, z, 10)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise ExerciseFailed("return a pair (noise, labels).")
    zz, yy = (np.asarray(a) for a in result)
    if zz.shape != (40, 3) or yy.shape != (40,):
        raise ExerciseFailed(f"for 4 noise vectors and 10 classes give noise (40, 3) and labels (40,); got "
                             f"{zz.shape} and {yy.shape}.")
    grid_y, grid_z = yy.reshape(10, 4), zz.reshape(10, 4, 3)
    if not np.array_equal(grid_y, np.repeat(np.arange(10), 4).reshape(10, 4)):
        hint = (" You have one class per column: use np.repeat for the labels and np.tile for the noise."
                if np.array_equal(grid_y, np.tile(np.arange(10), 4).reshape(10, 4)) else "")
        raise ExerciseFailed("row c of the grid (entries 4c … 4c + 3) must all have label c." + hint)
    if not np.allclose(grid_z, np.broadcast_to(z, (10, 4, 3))):
        raise ExerciseFailed("column j must use the same noise vector z[j] in every row (np.tile(z, "
                             "(n_classes, 1))), so that only the label changes down a column.")
    return _passed("class-grid inputs")


def check_shifted_embedding(answers: dict) -> bool:
    """Predictions about the projection D (3) when the same vector u is added to every row of E:
    ``answers`` maps "logit_changes", "label_gap_changes" and "psi_can_undo_it" to True or False.
    Checked by computing both logits on random features."""
    _require_answers(answers)
    want_keys = {"logit_changes", "label_gap_changes", "psi_can_undo_it"}
    if not isinstance(answers, dict) or set(answers) != want_keys:
        raise ExerciseFailed(f"give a dict with exactly the keys {sorted(want_keys)}, each True or False.")
    rng = np.random.default_rng(0)
    n, f, k = 8, 5, 10
    phi, emb, u = rng.normal(size=(n, f)), rng.normal(size=(k, f)), rng.normal(size=f)
    w, b = rng.normal(size=f), 0.3
    y, y2 = rng.integers(0, k, n), rng.integers(0, k, n)

    def logit(w_psi, e, labels):
        return phi @ w_psi + b + np.sum(e[labels] * phi, axis=1)

    before, after = logit(w, emb, y), logit(w, emb + u, y)
    facts = {
        "logit_changes": not np.allclose(before, after),
        "label_gap_changes": not np.allclose(before - logit(w, emb, y2), after - logit(w, emb + u, y2)),
        "psi_can_undo_it": bool(np.allclose(logit(w - u, emb + u, y), before)),
    }
    why = {
        "logit_changes": "every logit moves by uᵀφ(x), which depends on the image but not on the label.",
        "label_gap_changes": "f(x, y) − f(x, y′) = (e_y − e_y′)ᵀφ(x): the common u cancels, so D's "
                             "preference between two labels for the same image is unchanged.",
        "psi_can_undo_it": "uᵀφ(x) is linear in φ(x), the form of ψ's dense layer: ψ with weights w − u "
                           "gives back every logit. E is fixed only up to a common shift, as the softmax "
                           "vectors of (5) are.",
    }
    wrong = [key for key in sorted(want_keys) if bool(answers[key]) != facts[key]]
    if wrong:
        raise ExerciseFailed("not quite: " + " ".join(
            f"{key} is {facts[key]}: {why[key]}" for key in wrong))
    print(" ".join(why[key] for key in sorted(want_keys)))
    return _passed("the shifted class vectors")


def check_ignored_label_agreement(balanced: float, like_training: Callable, train_labels) -> bool:
    """Predicted label agreement of a generator that ignores its label and draws digits with the
    class frequencies q(c), each read correctly by the classifier: ``balanced`` (a share) when every
    digit is asked for equally often (section 6), and ``like_training(q)``, a function of the 10 class
    frequencies q, when the asked labels are drawn from q too (as during training). It is tried on the
    training labels' q (``train_labels``) and on strongly skewed q, where a constant answer shows."""
    _require_answers(balanced)
    try:
        got = float(balanced)
    except (TypeError, ValueError):
        raise ExerciseFailed(f"balanced must be a number between 0 and 1, got {balanced!r}.") from None
    if abs(got) > 1.5:
        raise ExerciseFailed(f"balanced = {got}: give the agreement as a share (0.25), not a percentage.")
    if not abs(got - 0.1) <= 1e-6:
        raise ExerciseFailed(f"balanced: your {got:.4f} is not it. A sample asked for c is read as c only "
                             "when the generator happens to draw a c; average that chance over the ten asked "
                             "digits, each asked for equally often.")
    if not callable(like_training):
        raise ExerciseFailed("like_training must be a function of the class frequencies q (an array of 10 "
                             "shares that sum to 1), so that it can be tried on other q than the training "
                             "labels'; it returns the agreement as a share.")
    q_train = np.bincount(np.asarray(train_labels).astype(int).ravel(), minlength=10) / np.size(train_labels)
    skewed = np.array([0.55] + [0.05] * 9)
    one_class = np.eye(10)[3]
    for name, q in (("the training labels' q", q_train), ("q = (0.55, 0.05, …, 0.05)", skewed),
                    ("q with every digit a 3", one_class)):
        want = float(np.sum(q ** 2))
        try:
            value = float(_numpy(_call(like_training, q.copy())))
        except (TypeError, ValueError):
            raise ExerciseFailed("like_training(q) must return one number, the agreement as a share.") \
                from None
        if abs(value) > 1.5:
            raise ExerciseFailed(f"like_training gives {value} for {name}: give a share (0.25), not a "
                                 "percentage.")
        if not abs(value - want) <= 1e-6:
            hint = ("A sample asked for c is read as c only when the generator happens to draw a c, and it "
                    "draws a c with probability q(c) whatever was asked. How often is c asked for now? "
                    "Average over the asked labels with that weight.")
            if abs(value - 0.1) <= 1e-6:
                hint = ("0.1 is the balanced answer; when the asked labels follow q, the common digits are "
                        "asked for more often, and they are also the ones the generator draws most. " + hint)
            raise ExerciseFailed(f"like_training: for {name} your {value:.4f} is not it. {hint}")
    print(f"Asked equally often: (1/10)·Σ q(c) = 0.1 exactly, whatever q is. Asked like the training "
          f"labels: Σ q(c)² = {float(np.sum(q_train ** 2)):.4f} here, at least 0.1 and equal only for "
          "balanced classes (0.325 for the skewed q, 1 for a single class). Section 6's agreement is "
          "measured against the 10% chance level.")
    return _passed("agreement of a label-blind generator")
