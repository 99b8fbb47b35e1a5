"""Densities and divergences for checking the GAN derivation numerically (notebooks 01–03)."""

from __future__ import annotations

import numpy as np
from scipy.integrate import trapezoid

LOG4 = float(np.log(4.0))


def gaussian_pdf(x, mu: float = 0.0, sigma: float = 1.0) -> np.ndarray:
    """The density of N(mu, sigma²) at x."""
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    x = np.asarray(x, dtype=np.float64)
    return np.exp(-0.5 * ((x - mu) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))


def gaussian_logpdf(x, mu: float = 0.0, sigma: float = 1.0) -> np.ndarray:
    """log N(x; mu, sigma²), exact far into the tails where the density itself underflows."""
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    x = np.asarray(x, dtype=np.float64)
    return -0.5 * ((x - mu) / sigma) ** 2 - np.log(sigma * np.sqrt(2 * np.pi))


def _as_distribution(p, name: str) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    if np.any(p < 0) or not np.isclose(p.sum(), 1.0, atol=1e-9):
        raise ValueError(f"{name} must be non-negative and sum to 1 (sums to {p.sum():.6g})")
    return p


def kl_divergence(p, q) -> float:
    """KL(p ‖ q) = Σ p log(p/q) in nats for discrete distributions (0 log 0 = 0; inf if q = 0 < p)."""
    p, q = _as_distribution(p, "p"), _as_distribution(q, "q")
    mask = p > 0
    if np.any(q[mask] == 0):
        return float("inf")
    return float(np.sum(p[mask] * np.log(p[mask] / q[mask])))


def js_divergence(p, q) -> float:
    """JSD(p ‖ q) = ½ KL(p ‖ m) + ½ KL(q ‖ m), m = (p + q)/2, in nats: between 0 and log 2."""
    p, q = _as_distribution(p, "p"), _as_distribution(q, "q")
    m = 0.5 * (p + q)
    return 0.5 * kl_divergence(p, m) + 0.5 * kl_divergence(q, m)


def optimal_discriminator(p_data, p_g) -> np.ndarray:
    """D*(x) = p_data(x) / (p_data(x) + p_g(x)), where at least one density is positive."""
    p_data, p_g = np.asarray(p_data, np.float64), np.asarray(p_g, np.float64)
    total = p_data + p_g
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, p_data / total, np.nan)


def integrate(f, lo: float, hi: float, n: int = 200_001) -> float:
    """∫ f(x) dx on [lo, hi] by the trapezoidal rule on n points (f takes a NumPy array)."""
    x = np.linspace(lo, hi, n)
    return float(trapezoid(f(x), x))


def js_divergence_gaussians(mu1: float, s1: float, mu2: float, s2: float) -> float:
    """JSD between N(mu1, s1²) and N(mu2, s2²) in nats, by numerical integration."""
    lo = min(mu1 - 12 * s1, mu2 - 12 * s2)
    hi = max(mu1 + 12 * s1, mu2 + 12 * s2)

    def integrand(x):  # in log space, so far-apart Gaussians do not give 0/0 or p/0
        lp, lq = gaussian_logpdf(x, mu1, s1), gaussian_logpdf(x, mu2, s2)
        lm = np.logaddexp(lp, lq) - np.log(2.0)
        return 0.5 * (np.exp(lp) * (lp - lm) + np.exp(lq) * (lq - lm))

    return integrate(integrand, lo, hi)
