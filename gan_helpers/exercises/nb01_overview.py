"""Checks for notebook 01 (adversarial learning, the two meanings)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._common import ExerciseFailed, _call, _passed


def check_worst_perturbation(fn: Callable) -> bool:
    """``fn(w, eps)`` must return the η with ‖η‖∞ ≤ eps that raises w·x the most: eps·sign(w)."""
    rng = np.random.default_rng(0)
    for n, eps in ((5, 0.1), (784, 0.25)):
        w = rng.normal(size=n)
        eta = np.asarray(_call(fn, w, eps), dtype=np.float64)
        if eta.shape != w.shape:
            raise ExerciseFailed(f"for w of shape {w.shape} your η has shape {eta.shape}.")
        if np.abs(eta).max() > eps + 1e-9:
            raise ExerciseFailed(f"max |η_i| is {np.abs(eta).max():.3f} but the budget is ε = {eps}: "
                                 "every coordinate must stay within [−ε, ε].")
        gain, best = float(w @ eta), eps * float(np.abs(w).sum())
        if not np.isclose(gain, best, rtol=1e-6):
            hint = ("η points the wrong way: use +sign(w) to raise the score." if gain < 0 else
                    "each coordinate should use the whole budget: |η_i| = ε, with the sign of w_i.")
            raise ExerciseFailed(f"for n = {n}, ε = {eps}: w·η = {gain:.3f}, the most possible is "
                                 f"ε‖w‖₁ = {best:.3f}; {hint}")
    return _passed("worst-case perturbation for a linear score")


def check_two_meanings(answers: dict) -> bool:
    """``answers`` maps each scenario letter to "gan" or "adversarial example"."""
    key = {"a": "gan", "b": "adversarial example", "c": "adversarial example", "d": "gan",
           "e": "adversarial example"}
    why = {"a": "a generator learns to produce new faces: that is generative modelling.",
           "b": "a sticker is a perturbation that changes a trained classifier's output.",
           "c": "training on worst-case perturbed inputs is adversarial training, the defence.",
           "d": "a discriminator judging real vs generated data is the GAN game.",
           "e": "a tiny pixel change that flips a prediction is an adversarial example."}
    missing = sorted(set(key) - set(answers))
    if missing:
        raise ExerciseFailed(f"answer every scenario; missing: {', '.join(missing)}")
    allowed = {"gan", "adversarial example"}
    unanswered = [k for k in key if str(answers[k]).strip().lower() not in allowed]
    if unanswered:
        raise ExerciseFailed(f"answer {', '.join(unanswered)} with \"gan\" or \"adversarial example\".")
    wrong = [k for k in key if str(answers[k]).strip().lower() != key[k]]
    if wrong:
        raise ExerciseFailed("not yet: " + " ".join(f"({k}) {why[k]}" for k in wrong))
    return _passed("the two meanings of adversarial learning")


def check_score_change(fn: Callable) -> bool:
    """``fn(w, eps)`` must predict the change of w·x under η = eps·sign(w): eps·‖w‖₁."""
    rng = np.random.default_rng(1)
    for n in (3, 100, 10_000):
        w, eps = rng.normal(size=n), 0.07
        got, want = float(_call(fn, w, eps)), eps * float(np.abs(w).sum())
        if not np.isclose(got, want, rtol=1e-6):
            hint = ("did you use ‖w‖₂ instead of ‖w‖₁ = Σ|w_i|?"
                    if np.isclose(got, eps * np.linalg.norm(w)) else "it is Σ_i w_i·ε·sign(w_i).")
            raise ExerciseFailed(f"for n = {n}: your formula gives {got:.4f}, measured w·η is "
                                 f"{want:.4f}; {hint}")
    return _passed("change of a linear score")


def check_flip_budget(fn: Callable, prediction: str | None = None) -> bool:
    """``fn(w, x, c)`` must return the smallest L∞ budget ε that lets an attacker flip the sign of the
    linear score w·x + c: |w·x + c| / ‖w‖₁, because the worst η moves the score by ε‖w‖₁ (eq. 2).
    ``prediction`` ("larger" or "smaller"), if given, is the budget of digits the classifier is sure about."""
    rng = np.random.default_rng(2)
    for n, c in ((4, 0.3), (784, -1.5), (50, 2.0)):
        w, x = rng.normal(size=n), rng.uniform(size=n)
        score = float(w @ x + c)
        want = abs(score) / float(np.abs(w).sum())
        got = float(_call(fn, w, x, c))
        if not np.isfinite(got) or got < 0:
            raise ExerciseFailed(f"a budget is a non-negative number; yours is {got} (for n = {n}). "
                                 "Did you forget the absolute value of the score?")
        if not np.isclose(got, want, rtol=1e-6):
            hints = {round(abs(score) / float(np.linalg.norm(w)), 9):
                     "you divided by ‖w‖₂; in L∞ each feature moves by ε, so the score moves by ε‖w‖₁.",
                     round(abs(float(w @ x)) / float(np.abs(w).sum()), 9):
                     "the bias c is part of the score: the attacker must cross w·x + c = 0.",
                     round(abs(score) / float(np.abs(w).max()), 9):
                     "you divided by max|w_i|; all n features move at once, each by ε."}
            hint = hints.get(round(got, 9), "the worst η changes the score by ε‖w‖₁ (equation 2); "
                                            "set that equal to the distance |w·x + c| to the boundary.")
            # the answer is checked against the attack itself, not only the formula
            raise ExerciseFailed(f"for n = {n} your budget is {got:.5f}, the smallest that flips the "
                                 f"sign is {want:.5f}; {hint}")
        for factor, flips in ((1 - 1e-6, False), (1 + 1e-6, True)):
            eta = -np.sign(score) * factor * got * np.sign(w)
            if (np.sign(w @ (x + eta) + c) != np.sign(score)) != flips:
                raise ExerciseFailed(f"for n = {n} the worst attack with ε = {factor:.6f} × your budget "
                                     f"{'does not flip' if flips else 'already flips'} the sign.")
    if prediction is not None:
        if str(prediction).strip().lower() not in ("larger", "smaller"):
            raise ExerciseFailed('answer the prediction with "larger" or "smaller".')
        w = rng.normal(size=784)
        x = rng.uniform(size=(200, 784))
        scores = x @ w
        budgets = np.array([float(_call(fn, w, xi, 0.0)) for xi in x])
        sure = np.abs(scores) > np.median(np.abs(scores))              # the more confident half
        want = "larger" if budgets[sure].mean() > budgets[~sure].mean() else "smaller"
        if str(prediction).strip().lower() != want:
            raise ExerciseFailed(f"on 200 inputs, the confident half needs ε = {budgets[sure].mean():.4f} on "
                                 f"average and the rest {budgets[~sure].mean():.4f}: {want}. Your budget "
                                 "formula says why: what is in its numerator?")
    return _passed("smallest budget that flips a linear classifier")


def _fixed_logit(x):
    """A fixed discriminator's logit that says "real" near x = 4."""
    return 1.0 - (x - 4.0) ** 2 / 2


def check_lg_equals_ld(fn: Callable, prediction: str) -> bool:
    """``fn(fake_logits)`` is the generator loss that reuses D's loss (its real term, constant for G, may be
    left out); ``prediction`` ("up" or "down") is where training G on it moves the mean D(G(z))."""
    import tensorflow as tf

    if str(prediction).strip().lower() not in ("up", "down"):
        raise ExerciseFailed('answer the prediction with "up" or "down".')
    logits = tf.Variable(np.linspace(-6.0, 6.0, 25), dtype=tf.float64)
    with tf.GradientTape() as tape:
        loss = tf.convert_to_tensor(_call(fn, logits), dtype=tf.float64)
    grad = tape.gradient(loss, logits)
    want = tf.sigmoid(logits).numpy() / 25        # d/dl of mean(−log(1 − σ(l))) = mean(softplus(l))
    if loss.shape != () or grad is None:
        raise ExerciseFailed("return one number, the loss averaged over the batch, computed from the logits.")
    if not np.allclose(grad.numpy(), want, rtol=1e-5, atol=1e-12):
        hint = ("that is the non-saturating generator loss, −log D(G(z)): D's loss labels fakes 0, not 1."
                if np.allclose(grad.numpy(), -(1 - tf.sigmoid(logits).numpy()) / 25, rtol=1e-5) else
                "the sign is flipped: D's loss is −V, to be minimised."
                if np.allclose(grad.numpy(), -want, rtol=1e-5) else
                "D's loss on a fake is −log(1 − D(G(z))) = −log(1 − σ(l)); average it over the batch.")
        raise ExerciseFailed(f"your loss's gradient in the logits is not D's loss's; {hint}")
    rng = np.random.default_rng(7)
    z = tf.constant(rng.standard_normal(256))
    a_b = tf.Variable([1.0, 3.0], dtype=tf.float64)                 # G(z) = a z + b, near the data
    before = float(tf.reduce_mean(tf.sigmoid(_fixed_logit(a_b[0] * z + a_b[1]))))
    for _ in range(100):
        with tf.GradientTape() as tape:
            loss = tf.convert_to_tensor(_call(fn, _fixed_logit(a_b[0] * z + a_b[1])), dtype=tf.float64)
        a_b.assign_sub(0.05 * tape.gradient(loss, a_b))
    after = float(tf.reduce_mean(tf.sigmoid(_fixed_logit(a_b[0] * z + a_b[1]))))
    moved = "up" if after > before else "down"
    print(f"100 steps against a fixed D: mean D(G(z)) {before:.3f} → {after:.3f}")
    if str(prediction).strip().lower() != moved:
        raise ExerciseFailed(f"your prediction was {prediction!r}, but mean D(G(z)) went {moved}. Look at "
                             "the sign of d/dl of your loss: which way does descent move the fake logit?")
    return _passed("L_G = L_D makes the fakes look more fake")
