"""WGAN-GP and SN-GAN (notebook 07): the penalty, Algorithm 1's fresh batches, the hinge losses, power
iteration, the wall-clock budget, the exercise checks and ``--model`` in the CLI."""


import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from gan_helpers import cli, exercises, losses, models, variants
from gan_helpers.recipes import DCGANRecipe
from gan_helpers.training import GAN

TINY = DCGANRecipe(latent_dim=8, g_width=4, d_width=4, batch_size=8)


def gan_with_critic(critic: keras.Model, seed: int = 0) -> GAN:
    return GAN(models.build_generator(4, 2), critic, seed=seed)


def half_square_norm_critic() -> keras.Model:
    """f(x) = ½‖x‖², whose gradient at x is x itself: ‖∇f(x)‖ = ‖x‖, known for every sample."""
    x = keras.Input((28, 28, 1))
    return keras.Model(x, layers.Lambda(lambda t: 0.5 * keras.ops.sum(t ** 2, axis=(1, 2, 3)))(x))


def test_penalty_of_a_critic_with_known_gradient_norms():
    rng = np.random.default_rng(0)
    scale = np.linspace(0.001, 0.1, 6)[:, None, None, None]
    real = (rng.normal(size=(6, 28, 28, 1)) * scale).astype("float32")
    norms = np.linalg.norm(real.reshape(6, -1), axis=1)       # x̂ = x whatever α when fakes equal reals
    gp = float(gan_with_critic(half_square_norm_critic()).gradient_penalty(real, real))
    np.testing.assert_allclose(gp, np.mean((norms - 1) ** 2), rtol=1e-5)
    # the mutated formulas the check must reject: square of the mean, and no square at all
    assert not np.isclose(gp, (norms.mean() - 1) ** 2, rtol=1e-3)
    assert not np.isclose(gp, np.mean(np.abs(norms - 1)), rtol=1e-3)


def test_penalty_of_a_linear_critic_and_its_finite_gradient_at_zero_norm():
    critic = keras.Sequential([keras.Input((28, 28, 1)), layers.Flatten(), layers.Dense(1, use_bias=False)])
    gan = gan_with_critic(critic)
    w = np.random.default_rng(1).normal(size=(784, 1))
    real = np.random.default_rng(2).uniform(-1, 1, (4, 28, 28, 1)).astype("float32")
    fake = np.zeros_like(real)
    for c in (3.0, 0.5):
        critic.layers[-1].kernel.assign((c * w / np.linalg.norm(w)).astype("float32"))  # ‖∇f‖ = c
        np.testing.assert_allclose(float(gan.gradient_penalty(real, fake)), (c - 1) ** 2, rtol=1e-4)
    kernel = critic.layers[-1].kernel
    kernel.assign(np.zeros((784, 1), "float32"))               # ‖∇f‖ = 0: the norm's kink
    with tf.GradientTape() as tape:
        gp = gan.gradient_penalty(real, fake)
    grad = tape.gradient(gp, kernel)
    np.testing.assert_allclose(float(gp), 1.0, rtol=1e-5)
    assert grad is not None and np.isfinite(grad.numpy()).all()


def test_penalty_draws_one_alpha_per_sample_uniform_on_0_1():
    """With ‖x‖ = 1 and fakes 0, ‖∇f(x̂)‖ = α, so the penalty is the mean of (α − 1)²: 1/3 for one
    α ~ U(0, 1) per sample; one α for the whole batch would land on (α − 1)², anywhere in [0, 1]."""
    x = np.zeros((4000, 28, 28, 1), "float32")
    x[:, 0, 0, 0] = 1.0
    for seed in (0, 1, 2):
        gan = gan_with_critic(half_square_norm_critic(), seed=seed)
        gp = float(gan.gradient_penalty(x, np.zeros_like(x)))
        assert abs(gp - 1 / 3) < 0.03, (seed, gp)


def critic_batches(gan: GAN, data: np.ndarray) -> list[np.ndarray]:
    """The real batches each critic update of one eager ``train_step`` saw."""
    seen, d_step = [], gan.d_step
    gan.d_step = lambda real, *args: (seen.append(np.asarray(real)), d_step(real, *args))[1]
    gan.train_step(tf.constant(data))
    return seen


def fresh_per_critic_step(seen: list[np.ndarray], data: np.ndarray, n_critic: int) -> bool:
    want = np.split(data, n_critic)
    return len(seen) == n_critic and all(np.array_equal(a, b) for a, b in zip(seen, want))


def test_each_critic_step_gets_its_own_real_batch(monkeypatch):
    recipe = variants.WGAN_GP.replace(base=TINY)
    data = np.random.default_rng(0).uniform(-1, 1, (recipe.rows_per_batch, 28, 28, 1)).astype("float32")
    assert recipe.rows_per_batch == 5 * 8
    assert fresh_per_critic_step(critic_batches(recipe.build(seed=0), data), data, 5)
    # a trainer that shows the last batch to every critic step must fail the same check
    # (the labels' batches are split too: None for this unconditional GAN)
    monkeypatch.setattr(GAN, "real_batches",
                        lambda self, real: [None if real is None else real[-8:]] * self.d_steps)
    assert not fresh_per_critic_step(critic_batches(recipe.build(seed=0), data), data, 5)


def test_variants_follow_their_papers():
    w, s = variants.WGAN_GP, variants.SNGAN
    assert (w.d_steps, w.gp_weight, w.lr, w.beta_1, w.beta_2) == (5, 10.0, 1e-4, 0.0, 0.9)
    assert w.d_loss == w.g_loss == "wasserstein"
    assert (s.d_steps, s.gp_weight, s.d_loss, s.g_loss, s.spectral_norm) == (1, 0.0, "hinge", "hinge", True)
    gan = w.replace(base=TINY).build(seed=0)
    kinds = {type(layer).__name__ for layer in gan.discriminator.layers}
    assert not kinds & {"BatchNormalization", "Dropout", "Activation"}       # no BN, no sigmoid
    assert gan.is_wasserstein and gan.d_steps == 5 and gan.gp_weight == 10.0
    opt = gan.d_optimizer
    assert (float(opt.learning_rate), opt.beta_1, opt.beta_2) == pytest.approx((1e-4, 0.0, 0.9))
    sn = s.replace(base=TINY).build(seed=0)
    wrapped = [la for la in sn.discriminator.layers if isinstance(la, layers.SpectralNormalization)]
    assert len(wrapped) == 3 and sn.d_loss_fn is losses.discriminator_loss_hinge
    with pytest.raises(ValueError, match="unknown variant settings"):
        w.replace(n_critic=5)


def test_hinge_losses_at_known_values():
    real, fake = np.array([2.0, 0.5, -1.0], "float32"), np.array([-2.0, 0.5, 3.0], "float32")
    # real: max(0, 1 − l) = 0, 0.5, 2 → 2.5/3; fake: max(0, 1 + l) = 0, 1.5, 4 → 5.5/3
    np.testing.assert_allclose(float(losses.discriminator_loss_hinge(real, fake)), 8 / 3, rtol=1e-6)
    np.testing.assert_allclose(float(losses.generator_loss_hinge(fake)), -0.5, rtol=1e-6)
    no_margin = np.maximum(0, -real).mean() + np.maximum(0, fake).mean()      # a mutated formula
    assert not np.isclose(no_margin, 8 / 3)
    assert losses.get_discriminator_loss("hinge") is losses.discriminator_loss_hinge
    assert losses.get_generator_loss("hinge") is losses.generator_loss_hinge
    assert exercises.check_hinge_loss(losses.discriminator_loss_hinge)
    with pytest.raises(exercises.ExerciseFailed, match="margin is missing"):
        exercises.check_hinge_loss(
            lambda r, f: keras.ops.mean(keras.ops.relu(-r)) + keras.ops.mean(keras.ops.relu(f)))
    with pytest.raises(exercises.ExerciseFailed, match="swapped"):
        exercises.check_hinge_loss(lambda r, f: losses.discriminator_loss_hinge(-r, -f))


def test_power_iteration_finds_the_top_singular_value():
    w = np.random.default_rng(0).normal(size=(4, 4, 3, 16))          # a conv kernel, as Keras reshapes it
    s = np.linalg.svd(w.reshape(-1, 16), compute_uv=False)
    sigma, _ = variants.top_singular_value(w, 300)
    np.testing.assert_allclose(sigma, s[0], rtol=1e-6)
    assert not np.isclose(sigma, np.linalg.norm(w), rtol=1e-2)      # the Frobenius norm is not it
    one, u = variants.top_singular_value(w, 1)
    assert one <= s[0] + 1e-9
    with pytest.raises(ValueError, match="n_iter"):
        variants.top_singular_value(w, 0)
    assert exercises.check_power_iteration(lambda m, n: variants.top_singular_value(m, n)[0])
    with pytest.raises(exercises.ExerciseFailed, match="Frobenius"):
        exercises.check_power_iteration(lambda m, n: np.linalg.norm(m))


def test_keras_spectral_normalization_leaves_top_singular_value_one():
    layer = layers.SpectralNormalization(layers.Conv2D(8, 3))
    x = np.random.default_rng(0).normal(size=(2, 10, 10, 4)).astype("float32")
    layer(x)
    layer.layer.kernel.assign(layer.layer.kernel * 7.0)
    for _ in range(30):                                              # one power step per training call
        layer(x, training=True)
    s = np.linalg.svd(layer.layer.kernel.numpy().reshape(-1, 8), compute_uv=False)
    np.testing.assert_allclose(s[0], 1.0, rtol=1e-3)


def test_best_critic_check():
    assert exercises.check_best_critic(lambda x: 4.0 - np.abs(x))
    with pytest.raises(exercises.ExerciseFailed, match="not 1-Lipschitz"):
        exercises.check_best_critic(lambda x: -2 * np.abs(x))
    with pytest.raises(exercises.ExerciseFailed, match="no straight line"):
        exercises.check_best_critic(lambda x: x)
    with pytest.raises(exercises.ExerciseFailed, match="flattened"):
        exercises.check_best_critic(lambda x: -np.minimum(np.abs(x), 1.0))
    with pytest.raises(exercises.ExerciseFailed, match="sign is reversed"):
        exercises.check_best_critic(np.abs)


def test_wall_clock_budget_stops_fit_and_records():
    x = np.random.default_rng(0).uniform(-1, 1, (64, 28, 28, 1)).astype("float32")
    calls = []
    run = variants.train_for_budget(TINY, "tiny", x, seconds=1e-9, seed=0, every_s=None,
                                    measure=lambda gan: calls.append(1) or 7.0)
    assert run.steps == 2 and run.diverged is None and run.gan is not None   # step 1 traces, step 2 is over
    assert [r["step"] for r in run.records] == [0, 2] and run.records[-1]["quality"] == 7.0
    assert set(run.records[-1]) >= {"d_loss", "g_loss", "d_real", "d_fake", "seconds"}
    with pytest.raises(ValueError, match="wall-clock budget"):
        variants.WallClockBudget(0)


@pytest.mark.parametrize("model,loss", [("wgan-gp", "minimax"), ("wgan-gp", "nonsaturating"),
                                        ("dcgan", "wasserstein"), ("dcgan", "hinge"),
                                        ("sngan", "wasserstein")])
def test_bad_model_and_loss_combinations_exit_2(model, loss, tmp_path, capsys):
    assert cli.main(["train", "--model", model, "--loss", loss, "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--loss {loss} does not fit --model {model}" in err
    assert not (tmp_path / "r").exists()


