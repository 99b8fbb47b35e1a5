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


def test_gaussian_kl_closed_form_matches_integration():
    lp = lambda x: theory.gaussian_logpdf(x, 0.0, 1.0)  # noqa: E731
    kl, jsd = theory.reverse_kl_and_jsd(1.5, 0.7, lp)
    np.testing.assert_allclose(kl, theory.kl_divergence_gaussians(1.5, 0.7, 0.0, 1.0), rtol=1e-8)
    np.testing.assert_allclose(jsd, theory.js_divergence_gaussians(1.5, 0.7, 0.0, 1.0), rtol=1e-8)
    assert theory.kl_divergence_gaussians(0, 1, 0, 1) == 0
    with pytest.raises(ValueError, match="positive"):
        theory.kl_divergence_gaussians(0, 0, 0, 1)


def test_mixture_logpdf():
    x = np.linspace(-4, 4, 9)
    want = np.log(0.25 * theory.gaussian_pdf(x, -1, 0.5) + 0.75 * theory.gaussian_pdf(x, 2, 0.5))
    np.testing.assert_allclose(theory.gaussian_mixture_logpdf(x, [-1, 2], 0.5, [0.25, 0.75]), want)


def _fd_grad(f, mu, sigma, h=1e-4):
    return np.array([(f(mu + h, sigma) - f(mu - h, sigma)) / (2 * h),
                     (f(mu, sigma + h) - f(mu, sigma - h)) / (2 * h)])


@pytest.mark.parametrize("log_p_data", [lambda x: theory.gaussian_logpdf(x, 0.0, 1.0),
                                        lambda x: theory.gaussian_mixture_logpdf(x, [-2.0, 2.0], 0.5)])
def test_arjovsky_bottou_theorem_2_5_and_its_minimax_counterpart(log_p_data):
    # at D*, the non-saturating G follows ∇[KL(p_g‖p_data) − 2 JSD] and the minimax G ∇[2 JSD]
    mu0, s0 = 1.2, 0.8
    ns = _fd_grad(lambda m, s: theory.generator_loss_at_frozen_dstar(m, s, mu0, s0, log_p_data), mu0, s0)
    mm = _fd_grad(lambda m, s: theory.generator_loss_at_frozen_dstar(m, s, mu0, s0, log_p_data, "minimax"),
                  mu0, s0)
    kl_jsd = lambda m, s: theory.reverse_kl_and_jsd(m, s, log_p_data)  # noqa: E731
    rkl_minus = _fd_grad(lambda m, s: kl_jsd(m, s)[0] - 2 * kl_jsd(m, s)[1], mu0, s0)
    two_jsd = _fd_grad(lambda m, s: 2 * kl_jsd(m, s)[1], mu0, s0)
    np.testing.assert_allclose(ns, rkl_minus, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(mm, two_jsd, rtol=1e-5, atol=1e-7)
    # a wrong identity fails: the forward KL, or the reverse KL without the JSD term
    assert not np.allclose(ns, _fd_grad(lambda m, s: kl_jsd(m, s)[0], mu0, s0), rtol=1e-3)
    assert not np.allclose(ns, two_jsd, rtol=1e-3)
    with pytest.raises(ValueError, match="nonsaturating"):
        theory.generator_loss_at_frozen_dstar(0, 1, 0, 1, log_p_data, "hinge")


# ------------------------------------------------------------------ the collapse story and its exercises
# (imported from the modules: gan_helpers.exercises re-exports them once its __init__ lists them)
from gan_helpers.exercises import nb01_overview, nb02_objective  # noqa: E402


def _collapse_closed_form(k):
    jsd = 0.5 * np.log(2 * k / (k + 1)) + 0.5 * (np.log(2 / (k + 1)) / k + (k - 1) / k * np.log(2))
    return np.log(k), jsd


def test_reverse_kl_and_jsd_on_fewer_points_agrees():
    lp = lambda x: theory.gaussian_mixture_logpdf(x, [-2.0, 2.0], 0.5)  # noqa: E731
    for mu, sigma in [(2.0, 0.5), (1.0, 1.2), (0.0, 2.04)]:
        np.testing.assert_allclose(theory.reverse_kl_and_jsd(mu, sigma, lp, n=20_001),
                                   theory.reverse_kl_and_jsd(mu, sigma, lp), rtol=1e-9)


def test_the_numbers_the_collapse_story_quotes():
    """One-mode collapse of 8: KL = log 8 and KL − 2·JSD = 1.09; two bumps: JSD 0.216 at the collapse,
    gradients of KL − 2·JSD and 2·JSD small there (about 1e-3, not zero: the other bump's tail) against
    about 0.8 at N(1.7, 0.5²), a lower JSD (0.201) for the spread Gaussian N(0, 2.04²), and a higher
    KL − 2·JSD (1.45) for the best spread fit N(0, 1.71²) than at the collapse (0.26)."""
    kl8, jsd8 = _collapse_closed_form(8)
    np.testing.assert_allclose([kl8, kl8 - 2 * jsd8], [np.log(8), 1.0856], atol=1e-4)
    lp = lambda x: theory.gaussian_mixture_logpdf(x, [-2.0, 2.0], 0.5)  # noqa: E731
    kl, jsd = theory.reverse_kl_and_jsd(2.0, 0.5, lp, n=20_001)
    np.testing.assert_allclose(jsd, _collapse_closed_form(2)[1], atol=1e-4)
    h = 1e-4
    for f in (lambda m, s: np.dot([1, -2], theory.reverse_kl_and_jsd(m, s, lp, n=20_001)),  # noqa: E731
              lambda m, s: 2 * theory.reverse_kl_and_jsd(m, s, lp, n=20_001)[1]):
        def grad(mu, sigma, f=f):
            return np.array([(f(mu + h, sigma) - f(mu - h, sigma)) / (2 * h),
                             (f(mu, sigma + h) - f(mu, sigma - h)) / (2 * h)])
        at_collapse, off = np.abs(grad(2.0, 0.5)).max(), np.abs(grad(1.7, 0.5)).max()
        assert 5e-4 < at_collapse < 3e-3 and at_collapse < 0.01 * off    # small, but not zero
    assert theory.reverse_kl_and_jsd(0.0, 2.04, lp, n=20_001)[1] < jsd - 0.01
    # p_data / (p_θ0 / 2) = 1 + e^{−16x} for p_θ0 = N(2, 0.5²): the other bump's tail
    x = np.linspace(0.5, 3.5, 7)
    np.testing.assert_allclose(np.exp(lp(x) - theory.gaussian_logpdf(x, 2.0, 0.5)) * 2, 1 + np.exp(-16 * x),
                               rtol=1e-12)
    ns_spread = np.dot([1, -2], theory.reverse_kl_and_jsd(0.0, 1.71, lp, n=20_001))
    np.testing.assert_allclose([kl - 2 * jsd, ns_spread], [0.2616, 1.4528], atol=1e-3)


def test_collapse_divergences_check():
    assert nb02_objective.check_collapse_divergences(_collapse_closed_form)
    with pytest.raises(exercises.ExerciseFailed, match="bits"):
        nb02_objective.check_collapse_divergences(
            lambda k: (np.log(k), _collapse_closed_form(k)[1] / np.log(2)))
    with pytest.raises(exercises.ExerciseFailed, match="infinite"):
        nb02_objective.check_collapse_divergences(lambda k: (np.inf, _collapse_closed_form(k)[1]))
    with pytest.raises(exercises.ExerciseFailed, match="k − 1 modes"):
        nb02_objective.check_collapse_divergences(lambda k: (np.log(k), 0.5 * np.log(2 * k / (k + 1))))


def test_near_collapse_check():
    right = {"ns_mu": "back to its bump", "mm_mu": "back to its bump", "ns_sigma": "shrinks",
             "mm_sigma": "shrinks", "ns_mid": "shrinks", "mm_mid": "grows"}
    assert nb02_objective.check_near_collapse(right)
    assert nb02_objective.check_near_collapse({**right, "ns_sigma": "shrink", "mm_mid": "grow"})  # as asked
    with pytest.raises(exercises.ExerciseFailed, match="mm_mid is 'grows'"):     # the losses disagree there
        nb02_objective.check_near_collapse({**right, "mm_mid": "shrinks"})
    with pytest.raises(exercises.ExerciseFailed, match="mm_mu is 'back to its bump'"):
        nb02_objective.check_near_collapse({**right, "mm_mu": "towards the missed bump"})
    with pytest.raises(exercises.ExerciseFailed, match="answer"):
        nb02_objective.check_near_collapse({**right, "ns_sigma": "?"})


def test_disjoint_supports_check():
    assert nb02_objective.check_disjoint_supports({"C": 0.0, "gradient": "zero"})
    with pytest.raises(exercises.ExerciseFailed, match="C\\(G\\)"):
        nb02_objective.check_disjoint_supports({"C": -np.log(4), "gradient": "zero"})
    with pytest.raises(exercises.ExerciseFailed, match="gradient is zero"):
        nb02_objective.check_disjoint_supports({"C": 0.0, "gradient": "nonzero"})
    with pytest.raises(exercises.ExerciseFailed, match="answer"):
        nb02_objective.check_disjoint_supports({"C": None, "gradient": "?"})


def test_lg_equals_ld_check():
    import tensorflow as tf

    def right(logits):
        return tf.reduce_mean(tf.nn.softplus(logits))

    assert nb01_overview.check_lg_equals_ld(right, "down")
    with pytest.raises(exercises.ExerciseFailed, match="went down"):
        nb01_overview.check_lg_equals_ld(right, "up")
    with pytest.raises(exercises.ExerciseFailed, match="non-saturating"):
        nb01_overview.check_lg_equals_ld(lambda l: tf.reduce_mean(tf.nn.softplus(-l)), "down")
    with pytest.raises(exercises.ExerciseFailed, match="sign is flipped"):
        nb01_overview.check_lg_equals_ld(lambda l: -right(l), "down")
    with pytest.raises(exercises.ExerciseFailed, match="answer"):
        nb01_overview.check_lg_equals_ld(right, "?")


def test_flip_budget_prediction_is_checked():
    def budget(w, x, c):
        return abs(w @ x + c) / np.abs(w).sum()

    assert nb01_overview.check_flip_budget(budget, "larger")
    with pytest.raises(exercises.ExerciseFailed, match="confident half"):
        nb01_overview.check_flip_budget(budget, "smaller")
    with pytest.raises(exercises.ExerciseFailed, match="answer"):
        nb01_overview.check_flip_budget(budget, "?")
