"""``gan.sampler`` and ``gan.generate()`` always use a calibrated weight average: its batch-norm
statistics are recomputed whenever the average has changed since the last calibration, whatever ran
before (until the refactor, only ``callbacks.sampler_of`` recalibrated, so ``gan.generate()`` called
first after training drew from stale statistics)."""

import numpy as np
import pytest

from gan_helpers import models, recipes, training


@pytest.fixture
def trained(small_images):
    from gan_helpers import data

    recipe = recipes.DCGANRecipe(latent_dim=8, g_width=4, d_width=4, batch_size=32)
    gan = recipe.build(seed=0, jit_compile=False)
    gan.fit(data.make_dataset(small_images, 32, seed=0).repeat(), epochs=1, steps_per_epoch=3, verbose=0)
    return gan


def by_hand(gan, n=16, seed=5):
    """What a calibrated average draws: calibrate explicitly, then run it on the same noise as generate."""
    gan.ema.calibrate(gan.calibration_inputs(training.noise(training.CALIBRATION_N, gan.latent_dim, 0)))
    return training.generate_from(gan.ema.model, training.noise(n, gan.latent_dim, seed))


def test_generate_first_after_training_is_calibrated(trained):
    stale = training.generate_from(trained.ema.model, training.noise(16, trained.latent_dim, 5))
    first = trained.generate(16, seed=5)             # nothing else drew from the GAN before this call
    assert np.abs(first - stale).max() > 1e-3, "stale statistics must give other pictures (else no test)"
    np.testing.assert_allclose(first, by_hand(trained), atol=1e-6)


def test_sampler_recalibrates_after_more_training(trained, small_images):
    from gan_helpers import data

    _ = trained.sampler   # calibrated now
    trained.fit(data.make_dataset(small_images, 32, seed=1).repeat(), epochs=1, steps_per_epoch=2, verbose=0)
    after_training = training.generate_from(trained.sampler, training.noise(16, trained.latent_dim, 5))
    np.testing.assert_allclose(after_training, by_hand(trained), atol=1e-6)


def twins(small_images, steps=3):
    """Two GANs of one recipe, trained the same number of steps from different seeds."""
    from gan_helpers import data

    gans = []
    for seed in (0, 9):
        gan = recipes.DCGANRecipe(latent_dim=8, g_width=4, d_width=4, batch_size=32).build(seed=seed,
                                                                                          jit_compile=False)
        gan.fit(data.make_dataset(small_images, 32, seed=seed).repeat(), epochs=1, steps_per_epoch=steps,
                verbose=0)
        gans.append(gan)
    return gans


def test_sampler_recalibrates_after_a_restore_of_the_same_step_count(small_images, tmp_path):
    a, b = twins(small_images)
    _ = a.sampler                     # a calibrated at update count 3, the count b's checkpoint holds
    b.save_state(tmp_path / "b", epoch=1)   # b never sampled: its average has the raw G's statistics
    a.load_state(tmp_path / "b")
    z = training.noise(16, a.latent_dim, 5)
    stale = training.generate_from(a.ema.model, z)
    np.testing.assert_allclose(a.generate(16, seed=5), by_hand(b), atol=1e-6)
    assert np.abs(stale - by_hand(b)).max() > 1e-3, "b's stored statistics must be stale (else no test)"


def test_sampler_recalibrates_after_set_weights(small_images):
    a, b = twins(small_images)
    _ = a.sampler                     # calibrated for a's own weights
    a.set_weights(b.get_weights())    # b's weights, update count and uncalibrated statistics
    np.testing.assert_allclose(a.generate(16, seed=5), by_hand(b), atol=1e-6)


def test_a_conditional_gan_samples_calibrated(small_images):
    from gan_helpers import conditional, data

    labels = np.arange(len(small_images)) % 10
    recipe = recipes.DCGANRecipe(latent_dim=8, g_width=4, d_width=4, batch_size=32)
    gan = conditional.build_conditional(recipe, seed=0, jit_compile=False)
    gan.fit(data.resumable_dataset(small_images, 32, seed=0, labels=labels), epochs=1, steps_per_epoch=3,
            verbose=0)
    first = gan.generate(20, seed=5)
    gan.ema.calibrate(gan.calibration_inputs(training.noise(training.CALIBRATION_N, gan.latent_dim, 0)))
    np.testing.assert_allclose(first, gan.generate(20, seed=5), atol=1e-6)


def test_calibration_runs_only_when_the_average_changed(trained, monkeypatch):
    calls = []
    calibrate = trained.ema.calibrate
    monkeypatch.setattr(trained.ema, "calibrate", lambda inputs: (calls.append(1), calibrate(inputs))[1])
    trained.generate(4, seed=0)
    trained.generate(4, seed=1)
    _ = trained.sampler
    assert len(calls) == 1, "one calibration per change of the average, not one per call"
    trained.ema.update(trained.generator)
    trained.generate(4, seed=0)
    assert len(calls) == 2


def test_a_gan_without_average_samples_from_g():
    gan = training.GAN(models.build_generator(8, 4), models.build_discriminator(4), seed=0)
    assert gan.ema is None and gan.sampler is gan.generator
