"""Checks for notebook 02 (the GAN objective, derived)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._common import ExerciseFailed, _call, _passed


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
    from ..theory import js_divergence

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
    """``fn(p_data, p_g, t_fake, t_real)`` must return the least-squares GAN's optimal discriminator for
    the labels t_fake and t_real, the pointwise minimiser of ½p_data(D − t_real)² + ½p_g(D − t_fake)²:
    D* = (t_real·p_data + t_fake·p_g) / (p_data + p_g)."""
    p_data = np.array([0.5, 0.2, 0.0, 0.3, 0.05])
    p_g = np.array([0.5, 0.6, 0.4, 0.0, 0.15])
    for t_fake, t_real in ((0.0, 1.0), (-1.0, 1.0), (-1.0, 0.0), (0.5, 2.0)):
        got = np.asarray(_call(fn, p_data, p_g, t_fake, t_real), dtype=np.float64)
        want = (t_real * p_data + t_fake * p_g) / (p_data + p_g)
        if got.shape != want.shape:
            raise ExerciseFailed(f"expected one value per point, shape {want.shape}; got {got.shape}")
        if not np.allclose(got, want, atol=1e-9):
            if np.allclose(got, p_data / (p_data + p_g), atol=1e-9):
                hint = ("that is the cross-entropy GAN's D*; it coincides with LSGAN's only for t_fake = 0, "
                        "t_real = 1. Set the derivative of ½p_data(D − t_real)² + ½p_g(D − t_fake)² to zero.")
            elif np.allclose(got, (t_fake * p_data + t_real * p_g) / (p_data + p_g), atol=1e-9):
                hint = "the labels are swapped: real points (density p_data) are pulled towards t_real."
            else:
                hint = ("for each x minimise ½p_data(D − t_real)² + ½p_g(D − t_fake)²: a weighted mean of "
                        "the two labels, weighted by the densities.")
            raise ExerciseFailed(f"with t_fake = {t_fake}, t_real = {t_real}: you give "
                                 f"{np.round(got, 4).tolist()}, expected "
                                 f"{np.round(want, 4).tolist()}; {hint}")
    return _passed("least-squares GAN optimal discriminator")


def _collapse_divergences_numeric(k: int) -> tuple[float, float]:
    """(KL(p_g ‖ p_data), JSD) for p_g = N(0, 0.5²) on the first of k bumps N(10j, 0.5²), by integration."""
    from ..theory import gaussian_mixture_logpdf, reverse_kl_and_jsd

    return reverse_kl_and_jsd(0.0, 0.5, lambda x: gaussian_mixture_logpdf(x, 10.0 * np.arange(k), 0.5),
                              lo=-10.0, hi=10.0 * k, n=40_001 * k)


def check_collapse_divergences(fn: Callable) -> bool:
    """``fn(k)`` must return (KL(p_g ‖ p_data), JSD(p_g ‖ p_data)) in nats for a generator that covers
    exactly one of k equal, well-separated modes of p_data; checked against numerical integration."""
    for k in (2, 3, 8):
        got = np.asarray(_call(fn, k), dtype=np.float64)
        if got.shape != (2,):
            raise ExerciseFailed(f"return two numbers, (KL, JSD); for k = {k} yours has shape {got.shape}.")
        kl, jsd = _collapse_divergences_numeric(k)
        if not np.isfinite(got[0]):
            raise ExerciseFailed("your KL is infinite: that is KL(p_data ‖ p_g), which charges for the "
                                 "missed modes where p_g = 0. The reverse KL integrates over p_g's mode.")
        if not np.isclose(got[0], kl, rtol=1e-6):
            raise ExerciseFailed(f"for k = {k} the reverse KL is {kl:.6f}, yours is {got[0]:.6f}. Where p_g "
                                 "lives, what is p_data as a multiple of p_g?")
        if not np.isclose(got[1], jsd, rtol=1e-6):
            hint = ("that is in bits; use the natural log." if np.isclose(got[1], jsd / np.log(2), rtol=1e-6)
                    else "JSD has two halves, ½KL(p_g ‖ m) and ½KL(p_data ‖ m): the second one also "
                         "integrates over the k − 1 modes that p_g misses, where m = p_data/2.")
            raise ExerciseFailed(f"for k = {k} the JSD is {jsd:.6f}, yours is {got[1]:.6f}; {hint}")
    kl8, jsd8 = _collapse_divergences_numeric(8)
    print(f"k = 8 (notebook 03's ring): KL = log 8 = {kl8:.3f}, JSD = {jsd8:.3f}, KL − 2·JSD = "
          f"{kl8 - 2 * jsd8:.2f}, against 0 for full coverage")
    return _passed("what a collapse costs in value")


_TOWARDS, _BACK = "towards the missed bump", "back to its bump"
_GROW, _SHRINK = "grows", "shrinks"
_SYNONYMS = {"grow": _GROW, "shrink": _SHRINK}


def near_collapse_gradients() -> dict:
    """The generator's gradient at D* frozen, for p_data = ½N(−2, 0.5²) + ½N(2, 0.5²), for both losses
    (central differences): in μ at a shifted collapse N(1.7, 0.5²), in σ at a widened one N(2, 0.8²),
    and in σ at N(1.2, 0.8²), between the collapse and the gap (keys ns_/mm_ + mu, sigma, mid)."""
    from ..theory import gaussian_mixture_logpdf, generator_loss_at_frozen_dstar

    def log_p(x):
        return gaussian_mixture_logpdf(x, [-2.0, 2.0], 0.5)

    out, h = {}, 1e-4
    for loss, tag in (("nonsaturating", "ns"), ("minimax", "mm")):
        def f(m, s, m0, s0, loss=loss):
            return generator_loss_at_frozen_dstar(m, s, m0, s0, log_p, loss)
        out[f"{tag}_mu"] = (f(1.7 + h, 0.5, 1.7, 0.5) - f(1.7 - h, 0.5, 1.7, 0.5)) / (2 * h)
        out[f"{tag}_sigma"] = (f(2.0, 0.8 + h, 2.0, 0.8) - f(2.0, 0.8 - h, 2.0, 0.8)) / (2 * h)
        out[f"{tag}_mid"] = (f(1.2, 0.8 + h, 1.2, 0.8) - f(1.2, 0.8 - h, 1.2, 0.8)) / (2 * h)
    return out


def check_near_collapse(predictions: dict) -> bool:
    """``predictions`` says, for each loss, where one gradient-descent step moves μ of N(1.7, 0.5²)
    ("towards the missed bump" or "back to its bump"), σ of N(2, 0.8²) and σ of N(1.2, 0.8²)
    ("grows" or "shrinks"; "grow" and "shrink" are accepted too)."""
    sizes = (_GROW, _SHRINK)
    allowed = {"ns_mu": (_TOWARDS, _BACK), "mm_mu": (_TOWARDS, _BACK), "ns_sigma": sizes,
               "mm_sigma": sizes, "ns_mid": sizes, "mm_mid": sizes}
    if not isinstance(predictions, dict) or set(predictions) != set(allowed):
        raise ExerciseFailed(f"answer with a dict with the keys {sorted(allowed)}.")
    said = {k: _SYNONYMS.get(str(v).strip().lower(), str(v).strip().lower()) for k, v in predictions.items()}
    unanswered = [k for k, ok in allowed.items() if said[k] not in ok]
    if unanswered:
        raise ExerciseFailed("answer " + "; ".join(f"{k} with " + " or ".join(f'"{a}"' for a in allowed[k])
                                                   for k in unanswered) + ".")
    grads = near_collapse_gradients()
    truth = {k: ((_BACK if g < 0 else _TOWARDS) if k.endswith("mu") else (_GROW if g < 0 else _SHRINK))
             for k, g in grads.items()}   # descent moves against the gradient; the missed bump is at −2
    print("gradients at D*: " + ", ".join(f"{k} {g:+.3f}" for k, g in grads.items()))
    wrong = [k for k in allowed if said[k] != truth[k]]
    if wrong:
        raise ExerciseFailed("not yet: " + "; ".join(f"{k} is {truth[k]!r}" for k in wrong) + ". Sketch "
                             "D* = p_data/(p_data + p_g) where p_g has its samples. By (7), each sample's "
                             "push is weighted by D* for the minimax loss and by 1 − D* for the "
                             "non-saturating one: which samples does each loss listen to?")
    return _passed("a nearly collapsed generator: the two losses agree near the collapse and can disagree "
                   "further out")


def check_disjoint_supports(answers: dict) -> bool:
    """``answers["C"]`` is C(G) for disjoint supports and ``answers["gradient"]`` ("zero" or "nonzero")
    says whether moving p_g a little, still disjoint, changes it."""
    from ..theory import js_divergence_gaussians

    if not isinstance(answers, dict) or set(answers) != {"C", "gradient"}:
        raise ExerciseFailed('answer with a dict {"C": a number, "gradient": "zero" or "nonzero"}.')
    gradient = str(answers["gradient"]).lower()
    if not isinstance(answers["C"], (int, float)) or gradient not in ("zero", "nonzero"):
        raise ExerciseFailed('answer "C" with a number and "gradient" with "zero" or "nonzero".')
    c = [-np.log(4) + 2 * js_divergence_gaussians(0, 1, mu, 1) for mu in (40.0, 41.0)]   # far apart
    if not np.isclose(answers["C"], c[0], atol=1e-6):
        raise ExerciseFailed(f"C(G) = {c[0]:.4f} for two Gaussians 40 standard deviations apart, not "
                             f"{answers['C']}. What is the JSD when m = (p + q)/2 equals p/2 wherever p > 0?")
    want = "zero" if abs(c[1] - c[0]) < 1e-9 else "nonzero"
    if str(answers["gradient"]).lower() != want:
        raise ExerciseFailed(f"moving p_g from 40 to 41 changes C(G) by {c[1] - c[0]:.1e}: the gradient is "
                             f"{want}. A constant function has no slope to follow.")
    return _passed("disjoint supports: C(G) is flat")
