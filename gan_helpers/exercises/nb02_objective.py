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
