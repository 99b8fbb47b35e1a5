import keras
import numpy as np
import pytest

from gan_helpers import checkpoint, config, data, export, models, recipes, training


def make_gan(seed=0, latent_dim=8, width=4, **compile_kwargs):
    config.set_seed(seed)
    gan = training.GAN(models.build_generator(latent_dim, width),
                       models.build_discriminator(width), seed=seed)
    gan.compile(*training.make_optimizers(**compile_kwargs))
    return gan


def weights(model):
    return [w.copy() for w in model.get_weights()]


def test_train_step_updates_both_networks_and_reports_finite_metrics(small_images):
    gan = make_gan()
    g0, d0 = weights(gan.generator), weights(gan.discriminator)
    hist = gan.fit(data.make_dataset(small_images, 32, seed=0), epochs=1, verbose=0).history
    assert set(hist) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert all(np.isfinite(v[0]) for v in hist.values())
    assert 0 < hist["d_real"][0] < 1 and 0 < hist["d_fake"][0] < 1
    assert any(not np.allclose(a, b) for a, b in zip(g0, gan.generator.get_weights()))
    assert any(not np.allclose(a, b) for a, b in zip(d0, gan.discriminator.get_weights()))


def test_discriminator_learns_to_separate_on_a_fixed_generator(small_images):
    gan = make_gan()
    gan.g_optimizer.learning_rate = 0.0  # freeze G: D alone should win
    hist = gan.fit(data.make_dataset(small_images, 32, seed=0), epochs=3, verbose=0).history
    assert hist["d_loss"][-1] < hist["d_loss"][0]
    assert hist["d_real"][-1] > 0.5 > hist["d_fake"][-1]


def test_generate_is_seeded_and_in_range():
    gan = make_gan()
    a, b = gan.generate(10, seed=1), gan.generate(10, seed=1)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (10, 28, 28, 1) and -1 <= a.min() and a.max() <= 1
    assert not np.array_equal(a, gan.generate(10, seed=2))
    with pytest.raises(ValueError, match="positive"):
        gan.generate(0)


def test_generator_saves_and_loads_as_keras_file(tmp_path):
    gan = make_gan()
    path = export.save_generator(gan.sampler, tmp_path / "g.keras")
    z = np.random.default_rng(0).standard_normal((4, 8)).astype("float32")
    np.testing.assert_allclose(training.generate_from(export.load_generator(path), z),
                               training.generate_from(gan.generator, z), atol=1e-6)
    with pytest.raises(ValueError, match=".keras"):
        export.save_generator(gan.sampler, tmp_path / "g.h5")
    with pytest.raises(FileNotFoundError, match="make train"):
        export.load_generator(tmp_path / "missing.keras")


def test_a_saved_generator_records_what_made_it_and_a_stale_one_is_refused(tmp_path):
    gan = make_gan()
    recipe = recipes.DCGANRecipe().record()
    path = export.save_generator(gan.sampler, tmp_path / "g.keras",
                                 provenance={"recipe": recipe, "data_source": "bundled"})
    assert export.load_generator(path, expect={"recipe": recipe, "data_source": "bundled"}) is not None
    other = recipes.DCGANRecipe().replace(lr=1e-4).record()
    with pytest.raises(export.ProvenanceError, match=r"recipe is .*expected"):
        export.load_generator(path, expect={"recipe": other})
    with pytest.raises(export.ProvenanceError, match="data_source is 'bundled', expected 'keras'"):
        export.load_generator(path, expect={"data_source": "keras"})
    export.save_generator(gan.sampler, path)       # saved again without a record: the old one goes
    with pytest.raises(export.ProvenanceError, match="no provenance record"):
        export.load_generator(path, expect={"data_source": "bundled"})
    export.provenance_path(path).write_text("{not json")
    with pytest.raises(export.ProvenanceError, match="not readable JSON"):
        export.load_generator(path, expect={"data_source": "bundled"})


def test_resuming_from_a_checkpoint_matches_an_uninterrupted_run(small_images, tmp_path):
    ds = data.make_dataset(small_images[:128], 32, shuffle=False)
    config.set_seed(0, deterministic=True)
    straight = make_gan(seed=5)
    straight.fit(ds, epochs=2, verbose=0)

    first = make_gan(seed=5)
    first.fit(ds, epochs=1, verbose=0)
    first.save_state(tmp_path / "ckpt", epoch=1, meta={"note": "x"})
    resumed = make_gan(seed=99)  # different init and RNG: everything must come from the checkpoint
    meta = resumed.load_state(tmp_path / "ckpt")
    assert meta == {"epoch": 1, "format": checkpoint.CHECKPOINT_FORMAT, "note": "x"}
    resumed.fit(ds, epochs=2, initial_epoch=1, verbose=0)
    for a, b in zip(straight.generator.get_weights() + straight.discriminator.get_weights(),
                    resumed.generator.get_weights() + resumed.discriminator.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    iterations = [int(keras.ops.convert_to_numpy(g.g_optimizer.iterations)) for g in (resumed, straight)]
    assert iterations == [8, 8]


def test_incomplete_checkpoint_is_refused(tmp_path):
    (tmp_path / "ckpt").mkdir()
    with pytest.raises(FileNotFoundError, match="not a complete checkpoint"):
        make_gan().load_state(tmp_path / "ckpt")


def test_one_optimizer_for_both_networks_is_refused():
    gan = training.GAN(models.build_generator(8, 4), models.build_discriminator(4))
    opt = keras.optimizers.Adam()
    with pytest.raises(ValueError, match="two separate optimizer"):
        gan.compile(opt, opt)


def test_mixed_precision_with_loss_scaling_trains(small_images):
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        gan = make_gan(mixed_precision=True)
        assert isinstance(gan.d_optimizer, keras.optimizers.LossScaleOptimizer)
        hist = gan.fit(data.make_dataset(small_images[:64], 32), epochs=1, verbose=0).history
        assert all(np.isfinite(v[0]) for v in hist.values())
        assert gan.generate(2).dtype == np.float32
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_checkpoint_of_another_model_size_is_refused(tmp_path):
    make_gan(width=4).save_state(tmp_path / "ckpt", epoch=1)
    with pytest.raises(ValueError, match="another model size"):
        make_gan(width=8).load_state(tmp_path / "ckpt")


def test_train_step_compiles_with_xla(small_images):
    # Notebook 04 uses jit_compile=True on GPUs; XLA also runs on the CPU, so the step is checked here.
    gan = make_gan()
    gan.compile(*training.make_optimizers(), jit_compile=True)
    hist = gan.fit(data.make_dataset(small_images[:96], 32), epochs=1, verbose=0).history
    assert all(np.isfinite(v[0]) for v in hist.values())


# ----------------------------------------------------------------------------- the weight average (EMA)
def make_ema_gan(seed=0, decay=0.999, **compile_kwargs):
    config.set_seed(seed)
    gan = training.GAN(models.build_generator(8, 4), models.build_discriminator(4, dropout=0.0),
                       seed=seed, ema_decay=decay)
    gan.compile(*training.make_optimizers(), **compile_kwargs)
    return gan


def test_ema_warm_up_forgets_the_random_initial_weights():
    gan = make_ema_gan(decay=0.999)
    rates = np.array([float(gan.ema.rate(t)) for t in range(3000)])
    np.testing.assert_allclose(rates[:3], [1 / 10, 2 / 11, 3 / 12], rtol=1e-6)
    assert rates.max() <= 0.999 + 1e-7 and rates[-1] == pytest.approx(min(0.999, 3000 / 3009), rel=1e-6)
    # the share of the initial weights left in the average is the product of the rates
    assert np.prod(rates[:100]) < 1e-5
    assert 0.999 ** 2000 > 0.13   # what a plain decay would still hold after 2,000 steps


def test_ema_update_is_the_warmed_up_moving_average():
    gan = make_ema_gan()
    init = [v.numpy().copy() for v in gan.ema.model.trainable_variables]
    w1 = [np.full(v.shape, 1.0, "float32") for v in gan.generator.trainable_variables]
    w2 = [np.full(v.shape, 3.0, "float32") for v in gan.generator.trainable_variables]
    for w in (w1, w2):
        for var, value in zip(gan.generator.trainable_variables, w):
            var.assign(value)
        gan.ema.update(gan.generator)
    for avg, a0 in zip(gan.ema.model.trainable_variables, init):
        expected = (2 / 11) * (0.1 * a0 + 0.9 * 1.0) + (9 / 11) * 3.0
        np.testing.assert_allclose(avg.numpy(), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="ema_decay"):
        training.GAN(models.build_generator(8, 4), models.build_discriminator(4), ema_decay=1.0)


def test_ema_is_what_is_sampled_saved_and_checkpointed(small_images, tmp_path):
    ds = data.make_dataset(small_images[:128], 32, shuffle=False)
    gan = make_ema_gan(seed=3)
    gan.fit(ds, epochs=1, verbose=0)
    assert gan.sampler is gan.ema.model
    assert any(not np.allclose(a, b) for a, b in zip(gan.generator.get_weights(),
                                                       gan.ema.model.get_weights()))
    z = np.random.default_rng(0).standard_normal((4, 8)).astype("float32")
    saved = export.load_generator(export.save_generator(gan.sampler, tmp_path / "g.keras"))
    np.testing.assert_allclose(training.generate_from(saved, z),
                               training.generate_from(gan.ema.model, z), atol=1e-6)
    gan.save_state(tmp_path / "ckpt", epoch=1)
    other = make_ema_gan(seed=9)
    other.load_state(tmp_path / "ckpt")
    for a, b in zip(gan.ema.model.get_weights(), other.ema.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert float(other.ema.updates) == 4.0
    plain = training.GAN(models.build_generator(8, 4), models.build_discriminator(4, dropout=0.0))
    plain.compile(*training.make_optimizers())
    plain.save_state(tmp_path / "plain", epoch=1)
    with pytest.raises(ValueError, match="checkpoint's ema has 0 variables"):
        make_ema_gan().load_state(tmp_path / "plain")   # a checkpoint without the average


def test_batchnorm_calibration_gives_the_average_its_own_statistics():
    gan = make_ema_gan()
    for var in gan.ema.model.trainable_variables:          # an average unlike G
        var.assign(var * 1.5 + 0.1)
    z = np.random.default_rng(0).standard_normal((2048, 8)).astype("float32")
    batch_mode = gan.ema.model(z, training=True).numpy()
    stale = training.generate_from(gan.ema.model, z)
    gan.ema.calibrate(gan.calibration_inputs(training.noise(2048, gan.latent_dim, 0)))
    calibrated = training.generate_from(gan.ema.model, z)
    # inference with the recomputed statistics equals normalising by that batch's own statistics
    np.testing.assert_allclose(calibrated, batch_mode, atol=2e-4)
    assert np.abs(stale - batch_mode).mean() > 10 * np.abs(calibrated - batch_mode).mean()
    assert all(bn.momentum == 0.99 for bn in gan.ema.model.layers
               if isinstance(bn, keras.layers.BatchNormalization))   # momentum restored


def test_shared_fakes_step_is_d_then_g_on_one_generator_pass(small_images):
    """One step with share_fakes equals the hand-written update: D on G(z), then G through the
    updated D on the same z (plain SGD, so the update is w − lr·∇)."""
    lr = 0.05
    config.set_seed(0)
    gan = training.GAN(models.build_generator(8, 4), models.build_discriminator(4, dropout=0.0), seed=7)
    gan.compile(keras.optimizers.SGD(lr), keras.optimizers.SGD(lr), share_fakes=True)
    g0, d0 = gan.generator.get_weights(), gan.discriminator.get_weights()
    real = small_images[:32]
    z = keras.random.normal((32, 8), seed=keras.random.SeedGenerator(7))
    gan.fit(data.make_dataset(real, 32, shuffle=False), epochs=1, verbose=0)

    import tensorflow as tf

    from gan_helpers import losses
    config.set_seed(0)
    G, D = models.build_generator(8, 4), models.build_discriminator(4, dropout=0.0)
    G.set_weights(g0)
    D.set_weights(d0)
    fake = G(z, training=True)
    with tf.GradientTape() as tape:
        d_loss = losses.discriminator_loss(D(real, training=True), D(fake, training=True))
    for v, g in zip(D.trainable_variables, tape.gradient(d_loss, D.trainable_variables)):
        v.assign_sub(lr * g)
    with tf.GradientTape() as tape:
        g_loss = losses.generator_loss_nonsaturating(D(G(z, training=True), training=True))
    for v, g in zip(G.trainable_variables, tape.gradient(g_loss, G.trainable_variables)):
        v.assign_sub(lr * g)
    for a, b in zip(G.trainable_variables + D.trainable_variables,
                    gan.generator.trainable_variables + gan.discriminator.trainable_variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-6)


def test_recipe_builds_the_documented_gan_and_refuses_unknown_settings():
    r = recipes.DCGANRecipe()
    gan = r.replace(g_width=4, d_width=4).build(seed=0)
    assert gan.ema.decay == r.ema_decay and gan.latent_dim == r.latent_dim
    assert float(gan.g_optimizer.learning_rate) == pytest.approx(r.lr)
    with pytest.raises(ValueError, match="unknown recipe settings"):
        r.replace(widht=3)


def test_schedule_gives_the_same_step_budget_on_any_data_size():
    assert recipes.schedule(8000, 64, 3000) == (24, 125)          # whole passes: 24 × 125
    assert recipes.schedule(60000, 64, 3000) == (4, 750)          # full MNIST: 4 × 750, not 4 × 937
    epochs, per_epoch = recipes.schedule(1000, 64, 3000)
    assert per_epoch == 15 and epochs * per_epoch >= 3000
