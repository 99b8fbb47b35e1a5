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


def check_flip_budget(fn: Callable) -> bool:
    """``fn(w, x, c)`` must return the smallest L∞ budget ε that lets an attacker flip the sign of the
    linear score w·x + c: |w·x + c| / ‖w‖₁, because the worst η moves the score by ε‖w‖₁ (eq. 2)."""
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
    return _passed("smallest budget that flips a linear classifier")
