import numpy as np
import pytest

from gan_helpers import exercises, theory


def test_gaussian_density_integrates_to_one_and_log_matches():
    assert abs(theory.integrate(lambda x: theory.gaussian_pdf(x, 2.0, 0.3), -5, 9) - 1) < 1e-9
    x = np.linspace(-3, 3, 7)
    np.testing.assert_allclose(np.log(theory.gaussian_pdf(x, 0.5, 2)), theory.gaussian_logpdf(x, 0.5, 2))
    with pytest.raises(ValueError, match="sigma must be positive"):
        theory.gaussian_pdf(0.0, 0.0, 0.0)


def test_divergences_known_values():
    p = np.array([0.2, 0.3, 0.5])
    assert theory.kl_divergence(p, p) == 0 and theory.js_divergence(p, p) == 0
    assert theory.kl_divergence([1.0, 0.0], [0.0, 1.0]) == float("inf")
    np.testing.assert_allclose(theory.js_divergence([1.0, 0.0], [0.0, 1.0]), np.log(2))
    np.testing.assert_allclose(theory.kl_divergence([0.5, 0.5], [0.25, 0.75]),
                               0.5 * np.log(2) + 0.5 * np.log(2 / 3))
    with pytest.raises(ValueError, match="sum to 1"):
        theory.js_divergence([0.5, 0.6], [0.5, 0.5])


def test_gaussian_jsd_matches_a_fine_discretisation_and_its_limits():
    x = np.linspace(-10, 12, 20001)
    p, q = theory.gaussian_pdf(x, 0, 1), theory.gaussian_pdf(x, 1.5, 0.7)
    discrete = theory.js_divergence(p / p.sum(), q / q.sum())
    np.testing.assert_allclose(theory.js_divergence_gaussians(0, 1, 1.5, 0.7), discrete, rtol=1e-4)
    assert theory.js_divergence_gaussians(0, 1, 0, 1) < 1e-12
    np.testing.assert_allclose(theory.js_divergence_gaussians(0, 1, 100, 1), np.log(2), rtol=1e-9)


def test_optimal_discriminator():
    d = theory.optimal_discriminator([1.0, 0.0, 0.0, 3.0], [1.0, 2.0, 0.0, 1.0])
    np.testing.assert_allclose(d[[0, 1, 3]], [0.5, 0.0, 0.75])
    assert np.isnan(d[2])


def test_notebook_01_and_02_checks_catch_common_mistakes():
    assert exercises.check_worst_perturbation(lambda w, e: e * np.sign(w))
    with pytest.raises(exercises.ExerciseFailed, match="wrong way"):
        exercises.check_worst_perturbation(lambda w, e: -e * np.sign(w))
    with pytest.raises(exercises.ExerciseFailed, match="budget"):
        exercises.check_worst_perturbation(lambda w, e: w)
    with pytest.raises(exercises.ExerciseFailed, match="‖w‖₂"):
        exercises.check_score_change(lambda w, e: e * np.linalg.norm(w))
    with pytest.raises(exercises.ExerciseFailed, match=r"\(c\)"):
        exercises.check_two_meanings({"a": "gan", "b": "adversarial example", "c": "gan", "d": "gan",
                                      "e": "adversarial example"})
    with pytest.raises(exercises.ExerciseFailed, match="missing: e"):
        exercises.check_two_meanings({"a": "gan", "b": "x", "c": "x", "d": "gan"})
    assert exercises.check_optimal_discriminator(theory.optimal_discriminator)
    with pytest.raises(exercises.ExerciseFailed, match="probability of \\*real\\*"):
        exercises.check_optimal_discriminator(lambda p, q: q / (p + q))
    assert exercises.check_jsd(theory.js_divergence)
    with pytest.raises(exercises.ExerciseFailed, match="bits"):
        exercises.check_jsd(lambda p, q: theory.js_divergence(p, q) / np.log(2))
    with pytest.raises(exercises.ExerciseFailed, match="0·log 0"):
        exercises.check_jsd(lambda p, q: float(np.sum(p * np.log(p / ((p + q) / 2)))))
