"""Check functions for the notebooks' exercises: run a learner's code on cases with known answers
and say in plain words what is wrong, or that it passed."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


class ExerciseFailed(AssertionError):
    """A learner's answer is not right yet; the message says how it goes wrong."""


def _call(fn: Callable, *args):
    """Call the learner's function, turning an unwritten stub into a plain message."""
    try:
        return fn(*args)
    except NotImplementedError as exc:
        name = getattr(fn, "__name__", "your function")
        raise ExerciseFailed(f"{name} is not written yet ({exc or 'NotImplementedError'}). Replace the "
                             "`raise NotImplementedError` line with your code, run its cell, then this "
                             "check again.") from None


def _passed(what: str) -> bool:
    print(f"✓ {what}: all checks passed.")
    return True


def _numpy(a) -> np.ndarray:
    """A learner's result (a tensor, array or number) as a float64 NumPy array."""
    import keras

    return np.asarray(keras.ops.convert_to_numpy(a), dtype=np.float64)


def _value(x) -> float:
    return float(_numpy(x))


def _logit(p: float) -> float:
    return float(np.log(p) - np.log1p(-p))


def check_generator_loss(fn: Callable) -> bool:
    """``fn(fake_logits)`` must be the non-saturating loss −mean(log σ(l)), stable at any logit."""
    import tensorflow as tf

    for p in (0.01, 0.5, 0.9):
        logits = tf.constant([_logit(p)] * 4, dtype=tf.float32)
        got, want = _value(_call(fn, logits)), -np.log(p)
        if not np.isclose(got, want, rtol=1e-4, atol=1e-5):
            hints = {round(np.log1p(-p), 4): "did you use log(1 − D), the minimax loss, instead of "
                                              "−log D?",
                     round(-np.log1p(-p), 4): "did you compute −log(1 − D)? The generator wants D "
                                               "to call its fakes real: −log D.",
                     round(np.log(p), 4): "the sign is flipped: the loss is −log D, not log D."}
            hint = hints.get(round(got, 4), "compare with softplus(−l), which equals −log σ(l).")
            raise ExerciseFailed(f"for D(G(z)) = {p} (logit {_logit(p):.2f}) your loss is {got:.4f}, "
                                 f"expected {want:.4f}; {hint}")
    got = _value(_call(fn, tf.constant([-200.0, 200.0])))
    if not np.isfinite(got):
        raise ExerciseFailed(f"for logits −200 and 200 your loss is {got}; σ(−200) rounds to 0 in "
                             "float32 and log(0) = −inf. Use the stable form softplus(−l).")
    if not np.isclose(got, 100.0, rtol=1e-4):
        raise ExerciseFailed(f"for logits −200 and 200 your loss is {got:.3f}, expected 100 "
                             "(the mean of 200 and 0).")
    return _passed("non-saturating generator loss")


def check_discriminator_loss(fn: Callable) -> bool:
    """``fn(real_logits, fake_logits)`` must be −mean(log σ(l_real)) − mean(log(1 − σ(l_fake)))."""
    import tensorflow as tf

    real = tf.constant([_logit(0.8), _logit(0.6)], dtype=tf.float32)
    fake = tf.constant([_logit(0.3), _logit(0.1)], dtype=tf.float32)
    want = -np.mean(np.log([0.8, 0.6])) - np.mean(np.log([0.7, 0.9]))
    got = _value(_call(fn, real, fake))
    if not np.isclose(got, want, rtol=1e-4):
        swapped = -np.mean(np.log([0.2, 0.4])) - np.mean(np.log([0.3, 0.1]))
        if np.isclose(got, swapped, rtol=1e-4):
            hint = "the labels are swapped: real images get label 1, fakes label 0."
        elif np.isclose(got, -want, rtol=1e-4):
            hint = "the sign is flipped: D maximises V, so its loss is −V."
        else:
            hint = "it should be softplus(−l_real).mean() + softplus(l_fake).mean()."
        raise ExerciseFailed(f"for D(x) = [0.8, 0.6] and D(G(z)) = [0.3, 0.1] your loss is "
                             f"{got:.4f}, expected {want:.4f}; {hint}")
    got = _value(_call(fn, tf.constant([-200.0]), tf.constant([200.0])))
    if not (np.isfinite(got) and np.isclose(got, 400.0, rtol=1e-4)):
        raise ExerciseFailed(f"a confidently wrong discriminator (logit −200 on a real image, +200 on "
                             f"a fake) should have loss 200 + 200 = 400, yours gives {got}; "
                             "σ(−200) rounds to 0, so use the softplus form, not log(σ).")
    return _passed("discriminator loss")


def check_generator(build: Callable, latent_dim: int = 16) -> bool:
    """``build(latent_dim)`` must return a Keras model from noise to 28×28×1 images in [-1, 1],
    with every weight receiving a gradient."""
    import keras
    import tensorflow as tf

    model = _call(build, latent_dim)
    if not isinstance(model, keras.Model):
        raise ExerciseFailed(f"build({latent_dim}) returned {type(model).__name__}, not a "
                             "keras.Model.")
    z = tf.random.stateless_normal((8, latent_dim), seed=(1, 2)) * 3.0
    try:
        with tf.GradientTape() as tape:
            y = model(z, training=True)
            loss = tf.reduce_mean(tf.square(y))
    except Exception as exc:  # shape errors are the usual cause
        raise ExerciseFailed(f"the model fails on noise of shape (8, {latent_dim}): {exc}") from exc
    if tuple(y.shape) != (8, 28, 28, 1):
        raise ExerciseFailed(f"for 8 noise vectors the output shape is {tuple(y.shape)}, expected "
                             "(8, 28, 28, 1). Start at 7×7 and upsample twice with strides=2.")
    y = y.numpy()
    if y.min() < -1 or y.max() > 1:
        raise ExerciseFailed(f"outputs range over [{y.min():.2f}, {y.max():.2f}], but the images "
                             "are scaled to [-1, 1]: end with a tanh activation.")
    grads = tape.gradient(loss, model.trainable_variables)
    dead = [v.path for v, g in zip(model.trainable_variables, grads) if g is None]
    if dead or not model.trainable_variables:
        raise ExerciseFailed(f"these weights get no gradient: {dead or 'none are trainable'}")
    return _passed(f"generator ({model.count_params():,} parameters)")


# ------------------------------------------------------------------ notebook 01
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


# ------------------------------------------------------------------ notebook 02
def check_optimal_discriminator(fn: Callable) -> bool:
    """``fn(p_data, p_g)`` must return D* = p_data / (p_data + p_g), elementwise."""
    p_data = np.array([0.5, 0.2, 0.0, 0.3])
    p_g = np.array([0.5, 0.6, 0.4, 0.0])
    got = np.asarray(_call(fn, p_data, p_g), dtype=np.float64)
    want = np.array([0.5, 0.25, 0.0, 1.0])
    if got.shape != want.shape:
        raise ExerciseFailed(f"expected one value per point, shape {want.shape}; got {got.shape}")
    if not np.allclose(got, want, atol=1e-9):
        flipped = np.allclose(got, 1 - want, atol=1e-9)
        hint = ("you returned p_g/(p_data + p_g): D* is the probability of *real*." if flipped
                else "maximise p_data·log D + p_g·log(1 − D) for each x: D = a/(a + b).")
        raise ExerciseFailed(f"for p_data = {p_data.tolist()}, p_g = {p_g.tolist()} you give "
                             f"{np.round(got, 4).tolist()}, expected {want.tolist()}; {hint}")
    return _passed("optimal discriminator")


def check_jsd(fn: Callable) -> bool:
    """``fn(p, q)`` must return the Jensen–Shannon divergence of two discrete distributions, in nats."""
    from .theory import js_divergence

    cases = [([0.5, 0.5], [0.5, 0.5]), ([1.0, 0.0], [0.0, 1.0]), ([0.1, 0.6, 0.3], [0.3, 0.3, 0.4]),
             ([0.7, 0.3, 0.0], [0.0, 0.5, 0.5])]
    for p, q in cases:
        got, want = float(_call(fn, np.array(p), np.array(q))), js_divergence(p, q)
        if not np.isfinite(got):
            raise ExerciseFailed(f"JSD({p}, {q}) came out {got}; terms with p_i = 0 count as 0 "
                                 "(0·log 0 = 0), and m = (p+q)/2 is never 0 where p or q is not.")
        if not np.isclose(got, want, atol=1e-9):
            hint = ("that is in bits; use the natural log (nats)." if np.isclose(got, want / np.log(2))
                    else "JSD = ½ KL(p‖m) + ½ KL(q‖m) with m = (p + q)/2.")
            raise ExerciseFailed(f"JSD({p}, {q}) = {want:.6f}, yours is {got:.6f}; {hint}")
    if abs(float(_call(fn, np.array([1.0, 0.0]), np.array([0.0, 1.0]))) - np.log(2)) > 1e-9:
        raise ExerciseFailed("disjoint distributions must give the maximum, log 2.")
    return _passed("Jensen–Shannon divergence")


def check_lsgan_d_star(fn: Callable) -> bool:
    """``fn(p_data, p_g, a, b)`` must return the least-squares GAN's optimal discriminator for labels
    a (fake) and b (real), the pointwise minimiser of ½p_data(D − b)² + ½p_g(D − a)²:
    D* = (b·p_data + a·p_g) / (p_data + p_g)."""
    p_data = np.array([0.5, 0.2, 0.0, 0.3, 0.05])
    p_g = np.array([0.5, 0.6, 0.4, 0.0, 0.15])
    for a, b in ((0.0, 1.0), (-1.0, 1.0), (-1.0, 0.0), (0.5, 2.0)):
        got = np.asarray(_call(fn, p_data, p_g, a, b), dtype=np.float64)
        want = (b * p_data + a * p_g) / (p_data + p_g)
        if got.shape != want.shape:
            raise ExerciseFailed(f"expected one value per point, shape {want.shape}; got {got.shape}")
        if not np.allclose(got, want, atol=1e-9):
            if np.allclose(got, p_data / (p_data + p_g), atol=1e-9):
                hint = ("that is the cross-entropy GAN's D*; it coincides with LSGAN's only for a = 0, "
                        "b = 1. Set the derivative of ½a'(D − b)² + ½b'(D − a)² to zero.")
            elif np.allclose(got, (a * p_data + b * p_g) / (p_data + p_g), atol=1e-9):
                hint = "the labels are swapped: real points (density p_data) are pulled towards b."
            else:
                hint = ("for each x minimise ½p_data(D − b)² + ½p_g(D − a)²: a weighted mean of the "
                        "two labels, weighted by the densities.")
            raise ExerciseFailed(f"with a = {a}, b = {b}: you give {np.round(got, 4).tolist()}, "
                                 f"expected {np.round(want, 4).tolist()}; {hint}")
    return _passed("least-squares GAN optimal discriminator")


# ------------------------------------------------------------------ notebook 03
def check_high_quality_share(fn: Callable) -> bool:
    """``fn(samples, modes, sigma)`` must return the share of samples within 3σ of their nearest mode."""
    from .toy import toy_dataset

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

    from .theory import gaussian_logpdf, gaussian_mixture_logpdf

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


# ------------------------------------------------------------------ notebook 05
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
    from .metrics import precision_recall

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


# ---- notebook 08: adversarial examples
def _linear_case(seed: int = 0):
    """A fixed 6-input, 3-class linear model on points in [0, 1] (some at the edges 0 and 1)."""
    import keras

    rng = np.random.default_rng(seed)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3)])
    model.set_weights([rng.normal(size=(6, 3)).astype("float32"), rng.normal(size=3).astype("float32")])
    x = rng.uniform(0, 1, size=(40, 6)).astype("float32")
    x[:10, :3], x[10:20, 3:] = 0.0, 1.0
    y = rng.integers(0, 3, size=40).astype("int32")
    return model, x, y


def check_fgsm(fn: Callable) -> bool:
    """``fn(model, x, y, eps)`` must return clip(x + eps·sign(∇ₓ CE(model(x), y)), 0, 1)."""
    import tensorflow as tf

    from . import adversarial

    model, x, y = _linear_case()
    for eps in (0.1, 0.3):
        got = _numpy(_call(fn, model, x, y, eps))
        want = adversarial.fgsm(model, x, y, eps).astype(np.float64)
        if got.shape != want.shape:
            raise ExerciseFailed(f"for x of shape {x.shape} your x_adv has shape {got.shape}.")
        if np.allclose(got, want, atol=1e-5):
            continue
        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            loss = tf.keras.losses.sparse_categorical_crossentropy(y, model(xt, training=False),
                                                                   from_logits=True)
        grad = tape.gradient(loss, xt).numpy()
        pred = np.argmax(model(x, training=False).numpy(), -1)
        if np.abs(got - x).max() > eps + 1e-5:
            hint = f"it moves pixels by up to {np.abs(got - x).max():.3f}, more than ε = {eps}."
        elif got.min() < -1e-6 or got.max() > 1 + 1e-6:
            hint = "pixels left [0, 1]: clip x + ε·sign(g) to the pixel range."
        elif np.allclose(got, np.clip(x - eps * np.sign(grad), 0, 1), atol=1e-5):
            hint = "the step goes the wrong way: FGSM climbs the loss, x + ε·sign(∇ₓ loss)."
        elif np.allclose(got, np.clip(x + eps * grad, 0, 1), atol=1e-5):
            hint = "use the sign of the gradient, ε·sign(g), not ε·g: every pixel moves by ε."
        elif np.allclose(got, adversarial.fgsm(model, x, pred, eps), atol=1e-5):
            hint = "use the true labels y, not the model's predictions."
        else:
            hint = "compute g = ∇ₓ of the cross-entropy of the logits with the true labels, then " \
                   "clip(x + ε·sign(g), 0, 1)."
        raise ExerciseFailed(f"for a small linear model at ε = {eps} your x_adv differs from FGSM by up "
                             f"to {np.abs(got - want).max():.3f}; {hint}")
    return _passed("FGSM")


def check_projection(fn: Callable) -> bool:
    """``fn(x_adv, x, eps)`` must return the nearest image to x_adv in the ε-ball around x within [0, 1]."""
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, size=(50, 8)).astype("float32")
    x[:10], x[10:20] = 0.0, 1.0
    x_adv = (x + rng.uniform(-0.8, 0.8, size=x.shape)).astype("float32")
    for eps in (0.1, 0.3):
        got = _numpy(_call(fn, x_adv, x, eps))
        want = np.clip(np.clip(x_adv, x - eps, x + eps), 0, 1)
        if got.shape != want.shape:
            raise ExerciseFailed(f"for inputs of shape {x.shape} your result has shape {got.shape}.")
        if np.allclose(got, want, atol=1e-6):
            continue
        if np.allclose(got, np.clip(x_adv, x - eps, x + eps), atol=1e-6):
            hint = "the ε-ball is right, but pixels left [0, 1]: clip to the pixel range as well."
        elif np.allclose(got, np.clip(x_adv, 0, 1), atol=1e-6):
            hint = "pixels are in [0, 1], but the image left the ε-ball: clip to [x − ε, x + ε] too."
        elif np.allclose(got, np.clip(x_adv, -eps, eps), atol=1e-6):
            hint = "the ball is around x, not around 0: clip x_adv to [x − ε, x + ε]."
        else:
            hint = "clip each pixel to [x − ε, x + ε], then to [0, 1]."
        raise ExerciseFailed(f"at ε = {eps} your projection is off by up to {np.abs(got - want).max():.3f}; "
                             f"{hint}")
    return _passed("projection onto the ε-ball and the pixel range")


def check_broken_by_any(fn: Callable) -> bool:
    """``fn(clean_correct, attack_correct)`` (bool [N] and bool [attacks, N]) must return the share of
    examples classified right clean and under every attack."""
    clean = np.array([1, 1, 1, 1, 0, 1, 0], bool)
    attacks = np.array([[1, 0, 1, 1, 1, 1, 1], [1, 1, 0, 1, 1, 0, 1]], bool)
    want = 2 / 7
    got = float(_call(fn, clean, attacks))
    if not np.isclose(got, want, atol=1e-9):
        each = [(clean & a).mean() for a in attacks]
        hints = {round(attacks.all(0).mean(), 6): "an example misclassified without any attack is "
                                                  "broken too: require clean_correct as well.",
                 round(min(each), 6): "the worst single attack is not enough: one example may be broken "
                                      "by attack A only and another by attack B only.",
                 round(float(np.mean(each)), 6): "averaging the attacks' accuracies is not a worst case: "
                                                 "an example counts only if it survives every attack.",
                 round((clean & attacks.any(0)).mean(), 6): "surviving one attack is not enough: use "
                                                            "'all attacks correct', not 'any'."}
        hint = hints.get(round(got, 6), "robust accuracy = mean(clean_correct & all attacks correct).")
        raise ExerciseFailed(f"for 7 examples and 2 attacks the robust accuracy is {want:.4f}, yours is "
                             f"{got:.4f}; {hint}")
    rng = np.random.default_rng(0)
    clean, attacks = rng.random(1000) < 0.9, rng.random((3, 1000)) < 0.7
    want = float((clean & attacks.all(0)).mean())
    got = float(_call(fn, clean, attacks))
    if not np.isclose(got, want, atol=1e-9):
        raise ExerciseFailed(f"for 1000 examples and 3 attacks the robust accuracy is {want:.4f}, yours is "
                             f"{got:.4f}; does it work for any number of attacks?")
    return _passed("robust accuracy (broken by any attack)")


def check_replica_loss(fn: Callable) -> bool:
    """``fn(per_example, global_batch)`` (one replica's per-example losses) must return that replica's
    share of the global-batch mean, sum(per_example) / global_batch (``tf.nn.compute_average_loss``),
    so that the replicas' shares add up to the mean over the whole batch (notebook 09)."""
    rng = np.random.default_rng(9)
    for replicas in (2, 4):
        losses = rng.random(16).astype("float32") + 0.5
        parts = np.split(losses, replicas)
        got = sum(_value(_call(fn, part, len(losses))) for part in parts)
        want = float(losses.mean())
        if not np.isclose(got, want, rtol=1e-5):
            ratio = got / want
            hint = (f"that is {ratio:.0f}× the mean: each replica divided by its own batch of "
                    f"{len(parts[0])}, not by the global batch of {len(losses)}."
                    if np.isclose(ratio, replicas, rtol=1e-4) else
                    "divide the sum of this replica's losses by the global batch size.")
            raise ExerciseFailed(f"with {replicas} replicas of {len(parts[0])} examples the shares should "
                                 f"add up to the global mean {want:.4f}; yours add up to {got:.4f}; {hint}")
    return _passed("per-replica loss scaling")


def check_replica_rows(fn: Callable) -> bool:
    """``fn(global_rows, replica, replicas)`` must return replica ``replica``'s block of ``global_rows``:
    rows r·b … (r + 1)·b − 1 with b = len / replicas, so that replicas never share rows and their blocks,
    in order, are the one-device draw (notebook 09, section 3)."""
    rows = np.arange(24, dtype="float32").reshape(12, 2)
    for replicas in (2, 3):
        b = len(rows) // replicas
        blocks = [np.asarray(_call(fn, rows, r, replicas)) for r in range(replicas)]
        if any(block.shape != (b, 2) for block in blocks):
            raise ExerciseFailed(f"with {replicas} replicas each should get {b} of the {len(rows)} rows; "
                                 f"yours got {[block.shape[0] for block in blocks]}.")
        if all(np.array_equal(block, blocks[0]) for block in blocks):
            raise ExerciseFailed("every replica got the same rows: the fakes of the global batch would "
                                 "repeat. Start replica r at row r·b.")
        if not np.array_equal(np.concatenate(blocks), rows):
            raise ExerciseFailed(f"with {replicas} replicas the blocks, in replica order, should give back "
                                 "the global draw row for row; replica r takes rows r·b to (r + 1)·b − 1.")
    return _passed("per-replica noise rows")


def check_synced_moments(fn: Callable) -> bool:
    """``fn(parts)`` (a list of per-replica [n_r, features] arrays) must return the mean and the
    (biased) variance over all rows together, computed from what an all-reduce can add up: each
    replica's count, sum and sum of squares (synchronised batch norm, notebook 09, section 5)."""
    rng = np.random.default_rng(4)
    parts = [rng.normal(loc, 1.0, size=(4, 3)) for loc in (-2.0, 0.5, 3.0)]
    whole = np.concatenate(parts)
    got = _call(fn, parts)
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise ExerciseFailed("return two arrays: (mean, variance), one value per feature each.")
    mean, var = (np.asarray(v, dtype=np.float64) for v in got)
    if not np.allclose(mean, whole.mean(0), atol=1e-6):
        raise ExerciseFailed(f"the mean over all rows is {whole.mean(0).round(4)}, yours is {mean.round(4)}; "
                             "divide the summed sums by the summed counts.")
    if not np.allclose(var, whole.var(0), atol=1e-6):
        averaged = np.mean([p.var(0) for p in parts], axis=0)
        hint = ("that is the average of the replicas' own variances: it misses how far the replicas' means "
                "lie apart. Use E[x²] − E[x]² over all rows." if np.allclose(var, averaged, atol=1e-6) else
                "the variance over all rows is (summed squares) / n − mean².")
        raise ExerciseFailed(f"the variance over all rows is {whole.var(0).round(4)}, yours is "
                             f"{var.round(4)}; {hint}")
    return _passed("synchronised batch-norm moments")


def check_dlr(fn: Callable) -> bool:
    """``fn(logits, y)`` (float [N, C] logits, int [N] labels) must return the per-example DLR loss
    −(z_y − max_{i≠y} z_i) / (z_π1 − z_π3) of Croce & Hein (2020), equation (9) of notebook 08."""
    rng = np.random.default_rng(5)
    z = (rng.normal(size=(64, 10)) * 3).astype(np.float32)
    y = rng.integers(0, 10, 64).astype(np.int32)
    z[:8, :] = np.arange(10, dtype=np.float32)[::-1]      # ties broken: a clear order
    y[:8] = np.arange(8) % 3                               # the true class first, second or third
    rows = np.arange(len(y))
    top = -np.sort(-z.astype(np.float64), axis=1)
    z_y = z[rows, y].astype(np.float64)
    other = np.where(np.eye(10, dtype=bool)[y], -np.inf, z).max(1)
    want = -(z_y - other) / (top[:, 0] - top[:, 2])
    got = _numpy(_call(fn, z, y))
    if got.shape != want.shape:
        raise ExerciseFailed(f"expected one loss per example, shape {want.shape}, got {got.shape}; do not "
                             "average over the batch.")
    if np.allclose(got, want, rtol=1e-4, atol=1e-5):
        scaled = _numpy(_call(fn, 1000 * z + 7, y))
        if not np.allclose(scaled, want, rtol=1e-3, atol=1e-4):
            raise ExerciseFailed("your loss changes when all logits are scaled by 1000 and shifted by 7; "
                                 "equation (9) must not (use differences of logits, no softmax).")
        return _passed("the DLR loss")
    hints = [(-want, "the sign is flipped: the loss must rise as the true class loses, so put a minus in "
                     "front of the margin."),
             (-(z_y - other) / (top[:, 0] - top[:, 1]), "the denominator uses π₃, the third-largest logit, "
                                                        "not the second."),
             (-(z_y - top[:, 0]) / (top[:, 0] - top[:, 2]), "the maximum in the numerator is over the other "
                                                             "classes i ≠ y, not over all classes."),
             (-(z_y - other), "divide the margin by z_π1 − z_π3, which makes the loss scale-free.")]
    for wrong, hint in hints:
        if np.allclose(got, wrong, rtol=1e-4, atol=1e-5):
            raise ExerciseFailed(f"your DLR loss differs from equation (9): {hint}")
    raise ExerciseFailed(f"your DLR loss is off by up to {np.abs(got - want).max():.3g}; compute "
                         "−(z_y − max_{i≠y} z_i) / (z_π1 − z_π3) per example.")
