"""Checks for notebook 03 (the 2-D toy GAN and mode collapse)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._common import ExerciseFailed, _call, _numpy, _passed, _value


def check_high_quality_share(fn: Callable) -> bool:
    """``fn(samples, modes, sigma)`` must return the share of samples within 3σ of their nearest mode."""
    from ..toy import toy_dataset

    ring = toy_dataset("ring")
    rng = np.random.default_rng(0)
    on = ring.modes[rng.integers(0, 8, 300)] + ring.sigma * rng.standard_normal((300, 2))
    cases = [(on, "samples drawn from the ring itself"),
             (np.concatenate([ring.modes[:2].repeat(50, 0), np.zeros((100, 2))]), "half at two modes, "
              "half at the centre"),
             (ring.modes + 2.9 * ring.sigma * np.array([1.0, 0.0]), "points 2.9σ from each mode")]
    for x, what in cases:
        want = float(np.mean(ring.nearest_mode(x)[1] <= 3 * ring.sigma))
        got = float(_call(fn, x, ring.modes, ring.sigma))
        if not np.isclose(got, want, atol=1e-9):
            hint = ("is it a share (0 to 1), not a count?" if np.isclose(got, want * len(x)) else
                    "measure each sample's Euclidean distance to its *nearest* mode and compare it with 3σ.")
            raise ExerciseFailed(f"for {what} the high-quality share is {want:.3f}; yours is {got:.3f}. "
                                 f"{hint}")
    return _passed("high-quality share")


def check_gradient_penalty(fn: Callable) -> bool:
    """``fn(critic, real, fake, alpha)`` must return mean((‖∇D(x̂)‖₂ − 1)²) at x̂ = αx + (1 − α)x̃."""
    import keras
    import tensorflow as tf

    critic = keras.Sequential([keras.Input((2,)), keras.layers.Lambda(
        lambda x: 0.5 * keras.ops.sum(x * x, axis=1, keepdims=True))])          # ∇D(x̂) = x̂
    real = tf.constant([[2.0, 0.0], [0.0, 3.0], [1.0, 1.0]])
    fake = tf.constant([[0.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])
    alpha = tf.constant([[0.5], [1.0], [0.25]])
    mixed = alpha.numpy() * real.numpy() + (1 - alpha.numpy()) * fake.numpy()
    want = float(np.mean((np.linalg.norm(mixed, axis=1) - 1) ** 2))
    got = _value(_call(fn, critic, real, fake, alpha))
    if not np.isclose(got, want, rtol=1e-4):
        squared = float(np.mean((np.sum(mixed ** 2, axis=1) - 1) ** 2))
        at_real = float(np.mean((np.linalg.norm(real.numpy(), axis=1) - 1) ** 2))
        hint = ("use the norm ‖∇D‖₂, not its square." if np.isclose(got, squared, rtol=1e-4) else
                "the gradient is taken at the interpolates x̂, not at the real points."
                if np.isclose(got, at_real, rtol=1e-4) else
                "per sample: x̂ = αx + (1 − α)x̃, g = ∇D(x̂) (tape.watch(x̂)), then mean((‖g‖₂ − 1)²).")
        raise ExerciseFailed(f"for the critic D(x) = ½‖x‖² the penalty is {want:.4f}; yours is {got:.4f}. "
                             f"{hint}")
    return _passed("gradient penalty")


def check_minibatch_std(fn: Callable) -> bool:
    """``fn(x)`` must append mean_j std_i(x_ij) (population std over the batch) as one extra column."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(16, 5)).astype("float32")
    got = _numpy(_call(fn, x))
    want = np.concatenate([x, np.full((16, 1), x.std(axis=0).mean())], axis=1)
    if got.shape != want.shape:
        raise ExerciseFailed(f"for a batch of shape (16, 5) the output should be (16, 6), one extra "
                             f"feature; yours is {got.shape}.")
    if not np.allclose(got[:, :5], x, atol=1e-6):
        raise ExerciseFailed("the first 5 columns must be the input, unchanged.")
    if not np.allclose(got[:, 5], want[:, 5], rtol=1e-3):
        per_sample = np.allclose(got[:, 5], x.std(axis=1), rtol=1e-3)
        hint = ("that is the spread within each sample; take the std over the batch (axis 0)."
                if per_sample else "std over the batch for each feature, then the mean over features.")
        raise ExerciseFailed(f"the extra column should be {want[0, 5]:.4f} in every row; yours starts "
                             f"{got[0, 5]:.4f}. {hint}")
    collapsed = _numpy(_call(fn, np.ones((8, 5), "float32")))
    if abs(collapsed[0, -1]) > 1e-2:
        raise ExerciseFailed("a batch of identical samples must get an extra feature of about 0.")
    return _passed("minibatch standard deviation")


def _two_bumps_divergences(mu: float, sigma: float) -> tuple[float, float]:
    """(KL(p_data ‖ p_g), KL(p_g ‖ p_data)) for p_data = ½N(−2, 0.5²) + ½N(2, 0.5²), p_g = N(mu, sigma²)."""
    from scipy.integrate import trapezoid

    from ..theory import gaussian_logpdf, gaussian_mixture_logpdf

    x = np.linspace(-15, 15, 60_001)
    lp, lq = gaussian_mixture_logpdf(x, [-2.0, 2.0], 0.5), gaussian_logpdf(x, mu, sigma)
    return float(trapezoid(np.exp(lp) * (lp - lq), x)), float(trapezoid(np.exp(lq) * (lq - lp), x))


def check_mode_seeking_fit(answers: dict) -> bool:
    """``answers`` = {"forward": (mu, sigma), "reverse": (mu, sigma)}: the single Gaussian N(mu, sigma²)
    that minimises KL(p_data ‖ p_g) and the one that minimises KL(p_g ‖ p_data), for the two-bump
    p_data = ½N(−2, 0.5²) + ½N(2, 0.5²); each must reach its divergence's minimum within 0.01 nats."""
    from scipy.optimize import minimize

    if not isinstance(answers, dict) or set(answers) != {"forward", "reverse"}:
        raise ExerciseFailed('answer with a dict {"forward": (mu, sigma), "reverse": (mu, sigma)}.')
    pairs = {}
    for key in ("forward", "reverse"):
        try:
            mu, sigma = (float(v) for v in answers[key])
        except (TypeError, ValueError):
            raise ExerciseFailed(f"answers[{key!r}] must be two numbers (mu, sigma), got "
                                 f"{answers[key]!r}.") from None
        if not sigma > 0:
            raise ExerciseFailed(f"sigma must be positive; answers[{key!r}] has sigma = {sigma}.")
        pairs[key] = (mu, sigma)
    best_forward = _two_bumps_divergences(0.0, float(np.sqrt(0.25 + 4.0)))[0]   # moment matching
    best_reverse = minimize(lambda v: _two_bumps_divergences(v[0], abs(v[1]))[1], [1.8, 0.6],
                            method="Nelder-Mead", options={"xatol": 1e-4, "fatol": 1e-7}).fun
    fwd = _two_bumps_divergences(*pairs["forward"])[0]
    rev = _two_bumps_divergences(*pairs["reverse"])[1]
    if fwd > best_forward + 0.01:
        hint = ("that is the reverse-KL answer: KL(p_data ‖ p_g) is infinite-ish wherever p_g misses "
                "data, so it must cover both bumps." if abs(abs(pairs["forward"][0]) - 2) < 0.3 else
                "KL(p_data ‖ p_g) over Gaussians p_g is minimised by matching p_data's mean and variance.")
        raise ExerciseFailed(f"your forward fit N({pairs['forward'][0]:.2f}, {pairs['forward'][1]:.2f}²) "
                             f"has KL(p_data ‖ p_g) = {fwd:.3f}, the minimum is {best_forward:.3f}; {hint}")
    if rev > best_reverse + 0.01:
        hint = ("a Gaussian spread over both bumps puts mass between them, where p_data ≈ 0, and "
                "KL(p_g ‖ p_data) punishes that hard: sit on one bump." if abs(pairs["reverse"][0]) < 1
                else "scan mu and sigma, for example with gh.theory.reverse_kl_and_jsd.")
        raise ExerciseFailed(f"your reverse fit N({pairs['reverse'][0]:.2f}, {pairs['reverse'][1]:.2f}²) "
                             f"has KL(p_g ‖ p_data) = {rev:.3f}, the minimum is {best_reverse:.3f}; {hint}")
    return _passed("mode-covering forward KL and mode-seeking reverse KL")
