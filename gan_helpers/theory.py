"""Densities and divergences for checking the GAN derivation numerically (notebooks 01–03)."""

from __future__ import annotations

import numpy as np
from scipy.integrate import trapezoid


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


# ------------------------------------------------------------------ why the NS generator seeks modes
def kl_divergence_gaussians(mu1: float, s1: float, mu2: float, s2: float) -> float:
    """KL(N(mu1, s1²) ‖ N(mu2, s2²)) in nats, in closed form."""
    if s1 <= 0 or s2 <= 0:
        raise ValueError(f"standard deviations must be positive, got {s1} and {s2}")
    return float(np.log(s2 / s1) + (s1**2 + (mu1 - mu2) ** 2) / (2 * s2**2) - 0.5)


def gaussian_mixture_logpdf(x, mus, sigma: float = 1.0, weights=None) -> np.ndarray:
    """log of Σ_k w_k N(x; mu_k, sigma²) in 1-D (equal weights by default), stable in the tails."""
    mus = np.atleast_1d(np.asarray(mus, dtype=np.float64))
    w = np.full(len(mus), 1 / len(mus)) if weights is None else _as_distribution(weights, "weights")
    logs = np.stack([np.log(wk) + gaussian_logpdf(x, m, sigma) for wk, m in zip(w, mus) if wk > 0])
    return np.logaddexp.reduce(logs, axis=0)


def _gauss_expectation(f, mu: float, sigma: float, lo: float, hi: float, n: int = 200_001) -> float:
    """E_{x ~ N(mu, sigma²)}[f(x)] by the trapezoidal rule on [lo, hi] (f gets log p_g too)."""
    x = np.linspace(lo, hi, n)
    lq = gaussian_logpdf(x, mu, sigma)
    return float(trapezoid(np.exp(lq) * f(x, lq), x))


def generator_loss_at_frozen_dstar(mu: float, sigma: float, mu0: float, sigma0: float, log_p_data,
                                   loss: str = "nonsaturating", lo: float = -15.0,
                                   hi: float = 15.0) -> float:
    """The generator's expected loss for p_g = N(mu, sigma²) against the optimal discriminator of
    p_g0 = N(mu0, sigma0²), held fixed: E[−log D*(x)] (non-saturating) or E[log(1 − D*(x))]
    (minimax). Its gradient in (mu, sigma) at (mu0, sigma0) is what one G step follows at D*."""
    if loss not in ("nonsaturating", "minimax"):
        raise ValueError(f"loss must be 'nonsaturating' or 'minimax', got {loss!r}")

    def per_point(x, _lq):
        lp, lq0 = log_p_data(x), gaussian_logpdf(x, mu0, sigma0)
        log_d = lp - np.logaddexp(lp, lq0)              # log D*(x)
        log_1md = lq0 - np.logaddexp(lp, lq0)           # log(1 − D*(x))
        return -log_d if loss == "nonsaturating" else log_1md

    return _gauss_expectation(per_point, mu, sigma, lo, hi)


def reverse_kl_and_jsd(mu: float, sigma: float, log_p_data, lo: float = -15.0,
                       hi: float = 15.0, n: int = 200_001) -> tuple[float, float]:
    """(KL(p_g ‖ p_data), JSD(p_g ‖ p_data)) for p_g = N(mu, sigma²), by integration in log space on
    n points. Arjovsky & Bottou (2017, Thm 2.5): at D*, the non-saturating G follows ∇[KL − 2·JSD]."""
    x = np.linspace(lo, hi, n)
    lq, lp = gaussian_logpdf(x, mu, sigma), log_p_data(x)
    lm = np.logaddexp(lp, lq) - np.log(2.0)
    kl = trapezoid(np.exp(lq) * (lq - lp), x)
    jsd = 0.5 * trapezoid(np.exp(lp) * (lp - lm) + np.exp(lq) * (lq - lm), x)
    return float(kl), float(jsd)
