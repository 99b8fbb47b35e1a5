"""Self-conditioning (gan_helpers.selfcond): the clusters, the cluster code taken from z, the trainer
hooks, the saved z-only generator and the CLI's main job."""


import keras
import numpy as np
import pytest

from gan_helpers import data, export, jobs, layers, recipes, selfcond, training

LATENT = 16


def blobs(n_per=60, seed=0):
    """Three well-separated kinds of image (dark, bright top half, bright left half) with noise."""
    rng = np.random.default_rng(seed)
    base = np.full((3, 28, 28, 1), -1.0, "float32")
    base[1, :14] = 1.0
    base[2, :, :14] = 1.0
    kinds = np.repeat(np.arange(3), n_per)
    x = base[kinds] + 0.1 * rng.standard_normal((len(kinds), 28, 28, 1)).astype("float32")
    return np.clip(x, -1, 1), kinds


def small_clusters(x, k=3):
    return selfcond.cluster_images(x, k, seed=0)


def small_gan(clusters, seed=0, **compile_kwargs):
    recipe = recipes.DCGANRecipe().replace(latent_dim=LATENT, g_width=4, d_width=4, clusters=clusters.k)
    return selfcond.build_self_conditioned(recipe, clusters, seed, **compile_kwargs)


def test_kmeans_finds_separated_groups_and_is_deterministic():
    x, kinds = blobs()
    a, b = small_clusters(x), small_clusters(x)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.purity(kinds) == 1.0                       # each group is one cluster
    np.testing.assert_allclose(a.freqs, [1 / 3] * 3)
    sub = selfcond.cluster_images(x, 3, seed=0, max_fit=30)   # centres from 30 images, all 180 assigned
    assert len(sub.labels) == len(x) and sub.purity(kinds) == 1.0
    # one cluster for everything cannot be pure; purity is the share of the largest class per cluster
    assert selfcond.cluster_images(x, 1).purity(kinds) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="cannot make 500 clusters from 180 images"):
        selfcond.cluster_images(x, 500)
    with pytest.raises(ValueError, match="k must be a positive integer, got 0"):
        selfcond.cluster_images(x, 0)


def test_cluster_code_draws_clusters_with_the_data_shares_and_noise_for_inverts_it():
    freqs = [0.2, 0.5, 0.1, 0.2]
    code = layers.ClusterCode(freqs)
    z = np.random.default_rng(0).standard_normal((200_000, 5)).astype("float32")
    style, c = code(z)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(style), z[:, 1:])   # the style is z₂…z_d
    np.testing.assert_allclose(np.bincount(keras.ops.convert_to_numpy(c), minlength=4) / len(z), freqs,
                               atol=0.004)
    wanted = np.random.default_rng(1).choice(4, len(z), p=freqs).astype("int32")
    moved = keras.ops.convert_to_numpy(code.noise_for(z, wanted))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(code(moved)[1]), wanted)
    np.testing.assert_array_equal(moved[:, 1:], z[:, 1:])
    # codes drawn with the data's shares leave z₁ standard normal: the generator sees the same z in
    # training as when it samples
    assert abs(moved[:, 0].mean()) < 0.01 and abs(moved[:, 0].std() - 1) < 0.01
    assert abs(np.mean(moved[:, 0] < -1.0) - 0.1587) < 0.005


def test_a_train_step_gives_each_fake_the_cluster_of_a_real_image(small_images):
    clusters = small_clusters(small_images, 3)
    gan = small_gan(clusters)
    code = selfcond.cluster_code(gan.generator)
    ds = data.resumable_dataset(small_images, 32, seed=0, labels=clusters.labels)
    cond = next(iter(ds))[1].numpy()
    z = np.random.default_rng(0).standard_normal((32, LATENT)).astype("float32")
    gan.sample_noise = lambda n: z                    # fix the noise the hook draws
    moved = code.noise_for(z, cond)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(code(moved)[1]), cond)
    fakes = keras.ops.convert_to_numpy(gan.fakes(32, cond, training=False))
    np.testing.assert_allclose(fakes, keras.ops.convert_to_numpy(gan.generator(moved)), atol=1e-6)
    other = keras.ops.convert_to_numpy(gan.fakes(32, (cond + 1) % 3, training=False))
    assert np.abs(other - fakes).max() > 1e-4         # the cluster reaches the image
    del gan.sample_noise
    before = [w.copy() for w in gan.generator.get_weights()]
    history = gan.fit(ds, epochs=1, steps_per_epoch=2, verbose=0)
    assert all(np.isfinite(v).all() for v in history.history.values())
    assert any(not np.allclose(a, b) for a, b in zip(before, gan.generator.get_weights()))


def test_saved_generator_takes_z_alone_and_reloads_the_same(tmp_path):
    x, _ = blobs()
    clusters = small_clusters(x)
    gan = small_gan(clusters)
    gan.fit(data.resumable_dataset(x, 30, labels=clusters.labels), epochs=1, steps_per_epoch=2, verbose=0)
    path = export.save_generator(gan.sampler, tmp_path / "g.keras")
    g = keras.models.load_model(path)
    assert g.input_shape == (None, LATENT)
    z = np.random.default_rng(0).standard_normal((6, LATENT)).astype("float32")
    np.testing.assert_allclose(training.generate_from(g, z), training.generate_from(gan.sampler, z),
                               atol=1e-6)
    assert gan.generate(3, seed=0).shape == (3, 28, 28, 1)


def test_recipe_and_clusters_must_agree():
    x, _ = blobs()
    clusters = small_clusters(x)
    recipe = recipes.DCGANRecipe().replace(latent_dim=LATENT, g_width=4, d_width=4, clusters=5)
    with pytest.raises(ValueError, match=r"self-conditions on 5 clusters .* build it with "
                                         r"gh\.jobs\.gan_and_data.*recipe\.replace\(clusters=0\)"):
        recipe.build(seed=0)                            # the recipe alone builds only the plain DCGAN
    with pytest.raises(ValueError, match="self-conditions on 5 clusters .* pass clusters="):
        jobs.build_gan("dcgan", recipe, 0)
    with pytest.raises(ValueError, match="the recipe asks for 5 clusters but 3 were given"):
        jobs.build_gan("dcgan", recipe, 0, clusters)
    with pytest.raises(ValueError, match="ClusterCode has 3 clusters but n_classes is 4"):
        selfcond.SelfConditionedGAN(selfcond.build_self_conditioned_generator(LATENT, 4, clusters.freqs),
                                    selfcond.build_conditional_discriminator(4, n_classes=4), n_classes=4)
    plain = recipes.DCGANRecipe().replace(latent_dim=LATENT, g_width=4, d_width=4)
    assert not isinstance(plain.build(), selfcond.SelfConditionedGAN)   # clusters=0: the plain DCGAN
    assert not isinstance(jobs.build_gan("dcgan", plain), selfcond.SelfConditionedGAN)


