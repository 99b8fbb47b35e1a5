"""2-D toy data, mode_coverage on samples with known answers, the toy models, WGAN-GP in the shared
trainer, and the recorder and pictures of the game."""

import matplotlib

matplotlib.use("Agg")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from gan_helpers import callbacks, config, losses, metrics, models, plots, toy, training  # noqa: E402

RING = toy.toy_dataset("ring")


# ----------------------------------------------------------------------------- data
@pytest.mark.parametrize("name, k", [("ring", 8)])
def test_toy_datasets_have_their_modes_and_sample_around_them(name, k):
    ds = toy.toy_dataset(name)
    assert ds.modes.shape == (k, 2) and ds.n_modes == k
    x = ds.sample(4000, seed=1)
    assert x.shape == (4000, 2) and x.dtype == np.float32
    nearest = np.linalg.norm(x[:, None] - ds.modes[None], axis=-1)
    assert np.median(nearest.min(1)) < 2 * ds.sigma           # every point belongs to a mode
    counts = np.bincount(nearest.argmin(1), minlength=k)
    assert counts.min() > 0.5 * 4000 / k                       # equal weights
    np.testing.assert_array_equal(x, ds.sample(4000, seed=1))  # seeded
    assert min(np.linalg.norm(a - b) for i, a in enumerate(ds.modes) for b in ds.modes[i + 1:]) > 6 * ds.sigma


def test_ring_matches_metz_et_al_with_a_wider_sigma():
    np.testing.assert_allclose(np.linalg.norm(RING.modes, axis=1), 2.0)
    assert RING.sigma == 0.05 and toy.toy_dataset("ring", sigma=0.02).sigma == 0.02


def test_unknown_toy_dataset_and_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="choose one of ring"):
        toy.toy_dataset("circles")
    with pytest.raises(ValueError, match="positive integer"):
        RING.sample(0)


def test_d_on_modes_reads_the_discriminator_on_each_mode():
    class Fixed:                                   # logit 0 on mode 0's side, large elsewhere
        @staticmethod
        def discriminator(x, training=False):
            return np.where(x[:, :1] > 1.5, 0.0, 10.0).astype("float32")

    values = toy.d_on_modes(Fixed, RING, n=200)
    assert values.shape == (8,)
    np.testing.assert_allclose(values[0], 0.5)
    assert np.all(values[1:] > 0.99)


def test_toy_stream_batches():
    batch = next(iter(toy.make_toy_dataset(RING, batch_size=32, seed=0)))
    assert tuple(batch.shape) == (32, 2)


# ----------------------------------------------------------------------------- mode_coverage
def test_mode_coverage_on_real_samples_finds_all_modes():
    cov = metrics.mode_coverage(RING.sample(2500, seed=0), RING)
    assert cov["modes"] == 8 and cov["n_modes"] == 8
    assert cov["high_quality"] > 0.98                  # 3σ holds 98.9% of a 2-D Gaussian
    assert cov["kl_uniform"] < 0.01
    assert sum(cov["per_mode"]) == pytest.approx(2500 * cov["high_quality"])


def test_mode_coverage_on_a_single_mode():
    x = RING.modes[3] + RING.sigma * np.random.default_rng(0).standard_normal((1000, 2))
    cov = metrics.mode_coverage(x, RING)
    assert cov["modes"] == 1 and cov["per_mode"][3] == sum(cov["per_mode"])
    np.testing.assert_allclose(cov["kl_uniform"], np.log(8), rtol=1e-12)


def test_mode_coverage_on_samples_off_the_modes():
    x = np.random.default_rng(0).normal(0, 0.1, (1000, 2))         # the ring's empty centre
    cov = metrics.mode_coverage(x, RING)
    assert cov["modes"] == 0 and cov["high_quality"] == 0.0
    # halfway between modes: near them, but outside 3σ, so neither high quality nor covering
    mid = (RING.modes + np.roll(RING.modes, 1, axis=0)) / 2
    cov = metrics.mode_coverage(np.repeat(mid, 50, axis=0), RING)
    assert cov["modes"] == 0 and cov["high_quality"] == 0.0


def test_mode_coverage_threshold_counts_a_mode_only_with_enough_samples():
    x = np.concatenate([np.repeat(RING.modes[:1], 990, 0), np.repeat(RING.modes[1:2], 10, 0)])
    assert metrics.mode_coverage(x, RING)["modes"] == 1               # 1% < 0.2/8 = 2.5%
    assert metrics.mode_coverage(x, RING, min_share=0.01)["modes"] == 2


@pytest.mark.parametrize("bad", [np.zeros((5, 3)), np.zeros((0, 2)), np.full((4, 2), np.nan)])
def test_mode_coverage_refuses_bad_samples(bad):
    with pytest.raises(ValueError, match="shape|NaN"):
        metrics.mode_coverage(bad, RING)


# ----------------------------------------------------------------------------- models and losses
def test_mlp_models_shapes_and_options():
    g = models.build_mlp_generator(latent_dim=4, hidden=16, depth=2)
    assert tuple(g(np.zeros((3, 4), "float32")).shape) == (3, 2)
    for kw in ({}, {"spectral_norm": True}, {"minibatch_std": True}):
        d = models.build_mlp_discriminator(hidden=16, depth=2, **kw)
        assert tuple(d(np.zeros((3, 2), "float32"), training=True).shape) == (3, 1)
    with pytest.raises(ValueError, match="depth"):
        models.build_mlp_generator(depth=0)


def test_spectral_norm_bounds_every_layer_after_power_iteration():
    d = models.build_mlp_discriminator(hidden=32, depth=2, spectral_norm=True)
    x = np.random.default_rng(0).normal(size=(64, 2)).astype("float32")
    for _ in range(30):                       # power iteration converges over training calls
        d(x, training=True)
    for layer in d.layers:
        if isinstance(layer, keras.layers.SpectralNormalization):
            sigma = np.linalg.svd(keras.ops.convert_to_numpy(layer.kernel), compute_uv=False)[0]
            assert sigma == pytest.approx(1.0, abs=0.05)


def test_minibatch_std_sees_a_collapsed_batch():
    layer = models.MinibatchStdDev()
    same = layer(np.ones((8, 3), "float32")).numpy()
    spread = layer(np.random.default_rng(0).normal(size=(8, 3)).astype("float32")).numpy()
    assert same.shape == (8, 4)
    assert same[0, -1] == pytest.approx(1e-4, abs=1e-4) and spread[0, -1] > 0.5


def test_wasserstein_losses():
    real, fake = tf.constant([2.0, 4.0]), tf.constant([1.0, -1.0])
    assert float(losses.critic_loss_wasserstein(real, fake)) == pytest.approx(0.0 - 3.0)
    assert float(losses.generator_loss_wasserstein(fake)) == pytest.approx(0.0)
    assert losses.get_discriminator_loss("wasserstein") is losses.critic_loss_wasserstein
    with pytest.raises(ValueError, match="bce, wasserstein, hinge"):
        losses.get_discriminator_loss("lsgan")


# ----------------------------------------------------------------------------- the shared trainer
def toy_gan(seed=0, **compile_kwargs):
    config.set_seed(seed)
    gan = training.GAN(models.build_mlp_generator(4, 16, 2),
                       models.build_mlp_discriminator(hidden=16, depth=2), seed=seed)
    gan.compile(*training.make_optimizers(1e-3), **compile_kwargs)
    return gan


def test_gradient_penalty_is_zero_for_a_unit_slope_critic_and_positive_otherwise():
    gan = toy_gan()
    unit = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, use_bias=False)])
    unit.layers[0].kernel.assign(np.array([[0.6], [0.8]], "float32"))        # ‖∇D‖ = 1 everywhere
    gan.discriminator = unit
    real, fake = RING.sample(64, seed=0), RING.sample(64, seed=1) + 1.0
    assert float(gan.gradient_penalty(tf.constant(real), tf.constant(fake))) == pytest.approx(0.0, abs=1e-6)
    unit.layers[0].kernel.assign(np.array([[1.2], [1.6]], "float32"))        # ‖∇D‖ = 2: penalty 1
    assert float(gan.gradient_penalty(tf.constant(real), tf.constant(fake))) == pytest.approx(1.0, rel=1e-5)


def test_gradient_penalty_draws_one_alpha_per_sample_from_u01():
    gan = toy_gan()
    quad = keras.Sequential([keras.Input((2,)), keras.layers.Lambda(lambda x: 0.5 * keras.ops.sum(
        x * x, axis=1, keepdims=True))])                                      # ∇D(x̂) = x̂
    gan.discriminator = quad
    n = 20_000
    real = tf.zeros((n, 2)) + tf.constant([[3.0, 0.0]])
    fake = tf.zeros((n, 2))
    # x̂ = 3α e₁, so (‖∇D‖ − 1)² = (3α − 1)², whose mean over α ~ U(0, 1) is 3 − 3 + 1 = 1
    assert float(gan.gradient_penalty(real, fake)) == pytest.approx(1.0, abs=0.05)


def test_wgan_gp_trains_with_critic_steps_and_reports_raw_scores():
    gan = toy_gan(d_loss_fn="wasserstein", g_loss_fn="wasserstein", gp_weight=10.0, d_steps=3)
    d0 = [w.copy() for w in gan.discriminator.get_weights()]
    hist = gan.fit(toy.make_toy_dataset(RING, 3 * 64, seed=0), epochs=1, steps_per_epoch=20,
                   verbose=0).history
    assert all(np.isfinite(v[0]) for v in hist.values())
    assert gan.d_optimizer.iterations.numpy() == 3 * gan.g_optimizer.iterations.numpy() == 60
    assert any(not np.allclose(a, b) for a, b in zip(d0, gan.discriminator.get_weights()))


def test_each_critic_step_gets_a_fresh_real_batch():
    # WGAN-GP's Algorithm 1 draws a new real batch for every one of the n_critic steps: the data of
    # one train step hold d_steps batches, and critic step i sees rows i·n … (i + 1)·n − 1, once each
    gan = toy_gan(d_loss_fn="wasserstein", g_loss_fn="wasserstein", gp_weight=10.0, d_steps=3,
                  run_eagerly=True)
    seen = []
    d_step = gan.d_step

    def recording(real, cond=None, fake=None):
        seen.append(np.asarray(real))
        return d_step(real, cond, fake)

    gan.d_step = recording
    data = RING.sample(3 * 16, seed=0)
    gan.train_step(tf.constant(data))
    assert len(seen) == 3 and all(batch.shape == (16, 2) for batch in seen)
    np.testing.assert_array_equal(np.concatenate(seen), data)          # each row once, in three batches
    assert gan.g_optimizer.iterations.numpy() == 1 and gan.d_optimizer.iterations.numpy() == 3
    with pytest.raises(ValueError, match="3 real batches at once"):
        gan.train_step(tf.constant(RING.sample(16, seed=0)))


def test_train_toy_gan_feeds_d_steps_batches_per_step():
    z = np.random.default_rng(0).normal(size=(50, 4)).astype("float32")
    recipe = toy.ToyRecipe("wgan", d_loss="wasserstein", g_loss="wasserstein", gp_weight=10.0, d_steps=5)
    gan, rec, _ = toy.train_toy_gan(recipe, RING, 0, steps=20, every=10, z=z, batch_size=8, hidden=8,
                                    depth=1)
    assert gan.d_optimizer.iterations.numpy() == 5 * gan.g_optimizer.iterations.numpy() == 100


def test_collapse_stats_count_only_high_quality_samples():
    one = RING.modes[3] + RING.sigma * np.random.default_rng(0).standard_normal((900, 2))
    off = np.random.default_rng(1).normal(0, 0.1, (100, 2))            # the ring's empty centre
    stats = toy.collapse_stats(metrics.mode_coverage(np.concatenate([one, off]), RING))
    hq = metrics.mode_coverage(one, RING)["high_quality"]
    assert stats["main_mode"] == 3 and stats["modes_hq"] == 1
    np.testing.assert_allclose(stats["top2_share"], 0.9 * hq)            # the centre counts as failure
    np.testing.assert_allclose(stats["kl_hq"], np.log(8))
    even = toy.collapse_stats(metrics.mode_coverage(RING.sample(8000, seed=2), RING))
    assert even["kl_hq"] < 0.01 and even["modes_hq"] == 8 and 0.2 < even["top2_share"] < 0.3
    none = toy.collapse_stats(metrics.mode_coverage(off, RING))
    assert none["top2_share"] == 0 and none["main_mode"] == -1 and np.isnan(none["kl_hq"])


def _on_mode(k: int, n: int = 1000, off: int = 0, seed: int = 0) -> dict:
    """Coverage of n samples on mode k, the last ``off`` of them moved to the ring's empty centre."""
    x = RING.modes[k] + RING.sigma * np.random.default_rng(seed).standard_normal((n, 2))
    x[n - off:] = 0.0
    return metrics.mode_coverage(x, RING)


def test_find_hops_counts_a_change_of_main_mode_only_between_collapsed_records():
    steps = [0, 100, 200, 300, 400, 500]
    covs = [_on_mode(2), _on_mode(2, seed=1), _on_mode(5), _on_mode(5, off=500), _on_mode(1), _on_mode(3)]
    # 2 → 2 stays; 2 → 5 hops; 5 → 5 (half off the data) stays; 5 (half off) → 1 is not a collapse on
    # both sides; 1 → 3 hops
    assert toy.find_hops(steps, covs) == [(200, 2, 5), (500, 1, 3)]
    assert toy.find_hops(steps, covs, min_share=0.4) == [(200, 2, 5), (400, 5, 1), (500, 1, 3)]
    assert toy.find_hops(steps[:3], [_on_mode(4)] * 3) == []          # a run that stays never hops
    spread = metrics.mode_coverage(RING.sample(4000, seed=3), RING)   # all modes: the main mode wanders
    assert toy.find_hops([0, 1], [spread, metrics.mode_coverage(RING.sample(4000, seed=4), RING)]) == []
    with pytest.raises(ValueError, match="equally long"):
        toy.find_hops([0], covs)
    with pytest.raises(ValueError, match="min_share"):
        toy.find_hops(steps, covs, min_share=0)


def test_recorder_lives_with_the_toy_code_and_the_modules_do_not_import_each_other():
    import ast
    import inspect

    assert toy.ToyRecorder.__module__ == toy.__name__

    def imported(module) -> set[str]:
        tree = ast.parse(inspect.getsource(module))
        return ({n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
                | {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and not n.module
                   for a in n.names})

    assert "callbacks" not in imported(toy) and "toy" not in imported(callbacks)


def test_wasserstein_needs_both_losses_and_valid_settings():
    with pytest.raises(ValueError, match="Wasserstein"):
        toy_gan(d_loss_fn="wasserstein")
    with pytest.raises(ValueError, match="d_steps"):
        toy_gan(d_steps=0)
    with pytest.raises(ValueError, match="gp_weight"):
        toy_gan(gp_weight=-1.0)


def test_two_timescale_optimizers():
    d_opt, g_opt = training.make_optimizers(1e-4, d_lr=4e-4, beta_1=0.0, beta_2=0.9)
    value = keras.ops.convert_to_numpy
    assert value(d_opt.learning_rate) == pytest.approx(4e-4)
    assert value(g_opt.learning_rate) == pytest.approx(1e-4)
    assert float(d_opt.beta_2) == pytest.approx(0.9)
    with pytest.raises(ValueError, match="d_lr"):
        training.make_optimizers(1e-4, d_lr=0.0)


# ----------------------------------------------------------------------------- the recorded game
def test_snapshot_push_is_minus_the_per_sample_loss_gradient():
    gan = toy_gan()
    z = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    snap = toy.snapshot(gan, z, RING.extent(), step=7, resolution=10)
    assert snap.d_values.shape == (10, 10) and snap.step == 7
    assert np.all((snap.d_values > 0) & (snap.d_values < 1))
    x = tf.Variable(snap.fake)
    with tf.GradientTape() as tape:
        per_sample = tf.nn.softplus(-gan.discriminator(x))        # non-saturating −log D(x), each sample
    np.testing.assert_allclose(snap.push, -tape.gradient(per_sample, x).numpy(), rtol=1e-4, atol=1e-7)


def test_landscape_draws_the_samples_above_the_arrows():
    import matplotlib.pyplot as plt
    from matplotlib.collections import PathCollection
    from matplotlib.quiver import Quiver

    gx, gy = np.meshgrid(np.linspace(-3, 3, 5), np.linspace(-3, 3, 5))
    fake = RING.sample(40, seed=1)
    snap = toy.Snapshot(3, gx, gy, np.full(gx.shape, 0.5), fake, np.ones_like(fake))
    fig, ax = plt.subplots()
    plots.plot_landscape(snap, RING.sample(50, seed=0), ax)
    arrows = [c for c in ax.collections if isinstance(c, Quiver)]
    samples = [c for c in ax.collections if isinstance(c, PathCollection) and c.get_label() == "generated"]
    assert len(arrows) == 1 and len(samples) == 1
    assert samples[0].get_zorder() > arrows[0].get_zorder()      # bunched arrows never cover the samples
    np.testing.assert_allclose(samples[0].get_offsets(), fake)
    plt.close(fig)


def test_gif_keeps_the_samples_green_when_the_last_frame_has_few():
    from io import BytesIO

    from PIL import Image

    gx, gy = np.meshgrid(np.linspace(-3, 3, 20), np.linspace(-3, 3, 20))
    heat = 1 / (1 + np.exp(-gx))                                      # a red-to-blue landscape
    many, few = RING.sample(300, seed=1), RING.sample(1, seed=2)
    snaps = [toy.Snapshot(0, gx, gy, heat, many, 0 * many), toy.Snapshot(1, gx, gy, heat, few, 0 * few)]
    gif = Image.open(BytesIO(plots.landscape_gif(snaps, RING.sample(50, seed=0), size=3, dpi=80)))
    first = np.asarray(gif.convert("RGB"), dtype=float)
    green = np.array([int(plots.GENERATED_COLOR[i:i + 2], 16) for i in (1, 3, 5)], dtype=float)
    assert (np.linalg.norm(first - green, axis=-1) < 40).sum() > 50     # the samples stay green


def test_recorder_grid_and_animation(tmp_path):
    gan = toy_gan()
    z = np.random.default_rng(0).normal(size=(300, 4)).astype("float32")
    rec = toy.ToyRecorder(RING, z, resolution=12, n_arrows=20)
    gan.fit(toy.make_toy_dataset(RING, 64, seed=0), epochs=2, steps_per_epoch=5, verbose=0, callbacks=[rec])
    assert rec.steps == [0, 5, 10] and len(rec.snapshots) == 3 and rec.series("modes").shape == (3,)
    assert rec.series("top2_share").shape == (3,) and rec.series("main_mode").dtype.kind == "i"
    assert rec.snapshots[0].push.shape == (20, 2)
    real = RING.sample(100, seed=0)
    fig = plots.landscape_grid(rec.snapshots, real, ncols=2)
    assert len([a for a in fig.axes if a.images]) == 3
    html = plots.landscape_animation(rec.snapshots, real, size=2).to_jshtml()
    assert html.count("data:image/png;base64") >= 3
    from io import BytesIO

    from PIL import Image
    gif = plots.landscape_gif(rec.snapshots, real, size=2, dpi=40)
    assert gif[:6] == b"GIF89a" and Image.open(BytesIO(gif)).n_frames == 3
    with pytest.raises(ValueError, match="ToyRecorder"):
        plots.landscape_grid([], real)
    with pytest.raises(ValueError, match="ToyRecorder"):
        plots.landscape_gif([], real)


def test_steps_per_execution_divides_every_and_stays_small():
    assert [toy.steps_per_execution_for(n) for n in (150, 400, 12, 7, 13, 1)] == [10, 10, 6, 7, 1, 1]
    assert toy.MAX_STEPS_PER_EXECUTION <= 32      # TensorFlow's limit on get_next() calls in one trace
    with pytest.raises(ValueError, match="every"):
        toy.steps_per_execution_for(0)


def test_train_toy_gan_runs_exactly_its_steps_over_several_epochs_of_the_endless_stream():
    # notebook 03's fast watch run (epochs of 150 steps): with 100 steps per execution, every Keras ran
    # 200 steps in each epoch (and Keras 3.3 to 3.6 failed to trace the 100 unrolled steps)
    z = np.random.default_rng(0).normal(size=(200, 4)).astype("float32")
    gan, rec, seconds = toy.train_toy_gan(toy.ToyRecipe("tiny", d_steps=2), RING, 0, steps=450, every=150,
                                          z=z, batch_size=32, hidden=16, depth=1)
    assert gan.steps_per_execution == 10 and seconds > 0
    assert rec.steps == [0, 150, 300, 450] and len(rec.coverage) == 4
    assert gan.g_optimizer.iterations.numpy() == 450 and gan.d_optimizer.iterations.numpy() == 900


def test_nearest_mode_index_and_distance():
    x = np.array([[2.0, 0.0], [0.0, 2.5], [0.1, 0.0]])
    index, dist = RING.nearest_mode(x)
    np.testing.assert_array_equal(index, [0, 2, 0])
    np.testing.assert_allclose(dist, [0.0, 0.5, 1.9])


def test_study_pictures_draw_every_recipe():
    rows = [{"recipe": name, "seed": seed, "steps": [0, 10], "curve": [0, m], "modes": m, "high_quality": 0.9,
             "samples": RING.sample(50, seed=seed)}
            for name, m in (("a", 2), ("b", 8)) for seed in (0, 1)]
    import matplotlib.pyplot as plt

    _, ax = plt.subplots()        # its own axes: plt.gca() may return a figure another test left open
    assert plots.plot_study(rows, RING.n_modes, ax=ax) is ax
    assert len(ax.lines) == 2 + 1 and len(ax.collections) == 2        # two means, the 8-line, two bands
    fig = plots.plot_final_samples(rows, RING, RING.sample(100, seed=0), seed=1)
    assert [a.get_title().splitlines()[0] for a in fig.axes] == ["a", "b"]
    with pytest.raises(ValueError, match="no run with seed 7"):
        plots.plot_final_samples(rows, RING, RING.sample(10), seed=7)
