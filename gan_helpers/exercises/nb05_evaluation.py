"""Checks for notebook 05 (evaluating GANs)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._common import ExerciseFailed, _call, _passed


def check_frechet_distance(fn: Callable) -> bool:
    """``fn(mu1, sigma1, mu2, sigma2)`` must return ‖μ1 − μ2‖² + Tr(Σ1 + Σ2 − 2(Σ1 Σ2)^½)."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4, 4))
    s1, s2 = a @ a.T + np.eye(4), np.diag([1.0, 2.0, 3.0, 4.0])
    mu1, mu2 = rng.normal(size=4), rng.normal(size=4)
    from scipy import linalg

    want = float(np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real))
    got = float(np.real(_call(fn, mu1, s1, mu2, s2)))
    if not np.isclose(got, want, rtol=1e-5):
        no_sqrt = float(np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * s1 @ s2))
        hint = ("take the matrix square root of Σ1Σ2 (scipy.linalg.sqrtm), not the product itself."
                if np.isclose(got, no_sqrt, rtol=1e-5) else
                "the mean term is the squared distance ‖μ1 − μ2‖², not the distance."
                if np.isclose(got - np.linalg.norm(mu1 - mu2) + np.sum((mu1 - mu2) ** 2), want, rtol=1e-5)
                else "compare term by term with ‖μ1 − μ2‖² + Tr(Σ1) + Tr(Σ2) − 2 Tr((Σ1Σ2)^½).")
        raise ExerciseFailed(f"for a 4-d test case your FD is {got:.4f}, expected {want:.4f}; {hint}")
    same = float(np.real(_call(fn, mu1, s1, mu1, s1)))
    if abs(same) > 1e-6:
        raise ExerciseFailed(f"two identical Gaussians must have FD 0, yours gives {same:.3g}")
    return _passed("Fréchet distance")


def check_classifier_score(fn: Callable) -> bool:
    """``fn(probs)`` must return exp(E_x KL(p(y|x) ‖ p(y))) for an [N, classes] array of probabilities."""
    balanced = np.eye(10)[np.arange(100) % 10]
    one_class = np.eye(10)[np.zeros(100, int)]
    soft = np.full((100, 10), 0.1)
    for probs, want, what in ((balanced, 10.0, "confident and balanced over 10 classes"),
                              (one_class, 1.0, "all confidently one class"),
                              (soft, 1.0, "all uniform (no confidence)")):
        got = float(_call(fn, probs))
        if not np.isclose(got, want, rtol=1e-4):
            hint = ("did you forget the exp?" if np.isclose(np.exp(got), want, rtol=1e-4)
                    else "the marginal p(y) is the mean of p(y|x) over the samples.")
            raise ExerciseFailed(f"for predictions that are {what} the score is {want:g}; yours is "
                                 f"{got:.4f}. {hint} Clip probabilities away from 0 before the log.")
    return _passed("classifier score")


def check_precision(fn: Callable) -> bool:
    """``fn(real, fake, k)`` must return the share of fakes inside the k-NN ball of some real point."""
    from ..metrics import precision_recall

    rng = np.random.default_rng(0)
    real = rng.normal(size=(300, 2))
    fake = np.concatenate([rng.normal(size=(150, 2)), rng.normal(6, 1, size=(150, 2))])
    want = precision_recall(real, fake, k=3)["precision"]
    got = float(_call(fn, real, fake, 3))
    if not np.isclose(got, want, atol=1e-9):
        recall = precision_recall(real, fake, k=3)["recall"]
        hint = ("that is recall: precision asks whether each *fake* lies near the real data."
                if np.isclose(got, recall, atol=1e-9) else
                "each real point's radius is the distance to its k-th nearest *other* real point.")
        raise ExerciseFailed(f"half the fakes sit far from the data, so precision is {want:.3f}; "
                             f"yours is {got:.3f}. {hint}")
    return _passed("k-NN precision")
