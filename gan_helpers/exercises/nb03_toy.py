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


def _collapse_value(m: int, k: int) -> float:
    """KL(p_g ‖ p_data) − 2·JSD(p_data ‖ p_g) for p_g spread evenly over m of the k well-separated,
    equal-weight, equal-shape modes of p_data (the non-saturating generator's objective at D*)."""
    kl = np.log(k / m)
    jsd = 0.5 * (np.log(2 * k / (k + m)) + (m / k) * np.log(2 * m / (k + m)) + (1 - m / k) * np.log(2))
    return float(kl - 2 * jsd)


def check_collapse_value(fn: Callable) -> bool:
    """``fn(m, k)`` must return KL(p_g ‖ p_data) − 2·JSD for a generator spread evenly over m of the k
    modes, each covered mode with the data's own shape (the modes far apart)."""
    cases = [(1, 8), (2, 8), (4, 8), (8, 8), (1, 2), (3, 25)]
    for m, k in cases:
        want = _collapse_value(m, k)
        got = _value(_call(fn, m, k))
        if not np.isclose(got, want, atol=1e-6):
            kl_only = np.isclose(got, np.log(k / m), atol=1e-6)
            hint = ("that is KL(p_g ‖ p_data) alone; subtract 2·JSD." if kl_only else
                    "on a covered mode both densities are multiples of the same Gaussian, so each log-ratio "
                    "is a constant there; an empty mode adds to only one of the JSD's two terms.")
            raise ExerciseFailed(f"for m = {m} of k = {k} modes the value is {want:.4f}; yours is {got:.4f}. "
                                 f"{hint}")
    values = [_collapse_value(m, 8) for m in range(1, 9)]
    print("m = 1 … 8 of 8 modes: " + ", ".join(f"{v:.3f}" for v in values))
    return _passed("the non-saturating objective at D* for a partial collapse")


def _collapse_logit(x, spread: float, ring):
    """l*(x) = log p_data(x) − log p_g(x) for p_g = N(μ_0, (spread·σ)² I) on the ring: the logit of D*."""
    import keras

    ops = keras.ops
    sigma = ring.sigma
    d2 = ops.sum((x[:, None, :] - ops.convert_to_tensor(ring.modes, "float32")[None]) ** 2, axis=-1)
    log_data = ops.logsumexp(-d2 / (2 * sigma**2), axis=1) - np.log(len(ring.modes) * 2 * np.pi * sigma**2)
    s = spread * sigma
    d0 = ops.sum((x - ops.convert_to_tensor(ring.modes[0], "float32")) ** 2, axis=-1)
    log_g = -d0 / (2 * s**2) - np.log(2 * np.pi * s**2)
    return (log_data - log_g)[:, None]


def _reference_push(loss: str, x, logit_fn):
    import tensorflow as tf

    x = tf.convert_to_tensor(x, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        logit = logit_fn(x)
        per_sample = tf.nn.softplus(-logit) if loss == "nonsaturating" else -tf.nn.softplus(logit)
        total = tf.reduce_sum(per_sample)
    return -tape.gradient(total, x).numpy()


def check_collapsed_push(fn: Callable, answer: str) -> bool:
    """``fn(loss, x, logit_fn)`` must return the push −∇ₓ of the per-sample generator loss
    (``"nonsaturating"`` or ``"minimax"``) at the points x (n×2); ``answer`` names the loss whose mean
    outward push is larger, at D*, on a generator of half the mode's spread on one mode of the ring."""
    from ..toy import toy_dataset

    ring = toy_dataset("ring")
    rng = np.random.default_rng(0)
    rows = []
    for spread in (1.0, 0.5):
        x = (ring.modes[0] + spread * ring.sigma * rng.standard_normal((400, 2))).astype("float32")
        logit_fn = lambda v, s=spread: _collapse_logit(v, s, ring)  # noqa: E731
        for loss in ("nonsaturating", "minimax"):
            want = _reference_push(loss, x, logit_fn)
            got = _numpy(_call(fn, loss, x, logit_fn))
            if got.shape != want.shape:
                raise ExerciseFailed(f"the push must have one row per point, shape {want.shape}; yours is "
                                     f"{got.shape}.")
            scale = np.abs(want).max() + 1e-3
            if not np.allclose(got, want, atol=1e-3 * scale + 1e-4, rtol=1e-3):
                flipped = np.allclose(got, -want, atol=1e-3 * scale + 1e-4, rtol=1e-3)
                hint = ("its sign is flipped: the push is minus the gradient of the loss." if flipped else
                        "take the gradient of the per-sample loss (a sum over the points, not the mean) "
                        "with respect to x, with x watched by the tape.")
                raise ExerciseFailed(f"the {loss} push at a generator of spread {spread}σ on mode 0 is "
                                     f"wrong; "
                                     f"{hint}")
            radial = np.sum(want * (x - ring.modes[0]), axis=1) / np.linalg.norm(x - ring.modes[0], axis=1)
            rows.append((spread, loss, float(np.abs(want).max()), float(radial.mean())))
    for spread, loss, biggest, radial in rows:
        print(f"spread {spread}σ, {loss:<13}: largest push {biggest:.2e}, mean outward push {radial:+.2e}")
    choices = ("nonsaturating", "minimax")
    if answer not in choices:
        raise ExerciseFailed(f"answer with one of {', '.join(choices)}; got {answer!r}.")
    outward = {loss: radial for spread, loss, _, radial in rows if spread == 0.5}
    right = max(outward, key=outward.get)
    if answer != right:
        raise ExerciseFailed(f"your answer is {answer!r}, but look at the mean outward pushes printed "
                             "for the spread 0.5σ: D* is lowest where p_g peaks; which weight, D or 1 − D, "
                             "is large there?")
    return _passed(f"at half the spread the {right} loss pushes the samples outward harder")
