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


def test_sampler_recalibrates_after_more_training_and_after_a_restore(trained, small_images, tmp_path):
    from gan_helpers import data

    _ = trained.sampler   # calibrated now
    trained.fit(data.make_dataset(small_images, 32, seed=1).repeat(), epochs=1, steps_per_epoch=2, verbose=0)
    after_training = training.generate_from(trained.sampler, training.noise(16, trained.latent_dim, 5))
    np.testing.assert_allclose(after_training, by_hand(trained), atol=1e-6)

    trained.save_state(tmp_path / "ckpt", epoch=1)
    twin = recipes.DCGANRecipe(latent_dim=8, g_width=4, d_width=4, batch_size=32).build(seed=9)
    _ = twin.sampler  # calibrated for its own random weights, at update count 0 …
    twin.load_state(tmp_path / "ckpt")                 # … then every weight replaced
    np.testing.assert_allclose(twin.generate(16, seed=5), trained.generate(16, seed=5), atol=1e-6)


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
