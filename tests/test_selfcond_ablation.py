"""The self-conditioning ablation (issue #27): each arm of ``selfcond.build_self_conditioned`` gives the
clusters to the network it claims and to no other, the pooled projection head's size, and the
benchmark's --fast mode end to end."""

import importlib.util
import json
from pathlib import Path

import keras
import numpy as np
import pytest

from gan_helpers import conditional, jobs, layers, recipes, selfcond, training
from tests.test_selfcond import blobs as labelled_blobs

ROOT = Path(__file__).resolve().parents[1]
LATENT = 16


def blobs(n_per=20, seed=0):
    return labelled_blobs(n_per, seed)[0]   # test_selfcond's three kinds of image, without their kinds



@pytest.fixture(scope="module")
def setup():
    x = blobs()
    clusters = selfcond.cluster_images(x, 3, seed=0)
    recipe = recipes.DCGANRecipe().replace(latent_dim=LATENT, g_width=4, d_width=4, clusters=3)
    return x, clusters, recipe


def np_(t):
    return keras.ops.convert_to_numpy(t)


def has_embedding(model: keras.Model) -> bool:
    """Whether any layer of ``model``, nested models included, is an embedding (a per-label table)."""
    return any(isinstance(layer, keras.layers.Embedding)
               or (isinstance(layer, keras.Model) and has_embedding(layer)) for layer in model.layers)


def inner_model(model: keras.Model) -> keras.Model:
    return next(layer for layer in model.layers if isinstance(layer, keras.Model))


def test_g_only_arm_codes_g_and_leaves_d_plain(setup):
    x, clusters, recipe = setup
    gan = selfcond.build_self_conditioned(recipe, clusters, 0, arm="g-only")
    plain = recipe.replace(clusters=0).build(0)
    assert type(gan) is training.GAN
    # D: the plain DCGAN discriminator, image alone, no per-cluster table
    assert not isinstance(gan.discriminator.input_shape, list) and not has_embedding(gan.discriminator)
    assert gan.discriminator.count_params() == plain.discriminator.count_params()
    # G: the output is a function of z₁'s cluster band, not of z₁ itself
    code = selfcond.cluster_code(gan.generator)
    z = training.noise(8, LATENT, seed=1)
    ones, twos = np.ones(8, "int32"), np.full(8, 2, "int32")
    in_band = np_(code.noise_for(z, ones))
    elsewhere_in_band = np_(code.noise_for(-z, ones))       # another quantile of the same band
    assert not np.allclose(in_band[:, 0], elsewhere_in_band[:, 0])
    g = gan.generator
    same_style = np.concatenate([elsewhere_in_band[:, :1], z[:, 1:]], axis=1)
    np.testing.assert_allclose(np_(g(in_band)), np_(g(same_style)), atol=1e-6)
    assert np.abs(np_(g(in_band)) - np_(g(np_(code.noise_for(z, twos))))).max() > 1e-4
    np.testing.assert_array_equal(selfcond.cluster_of(g, in_band), ones)


def test_d_only_arm_labels_every_image_by_its_nearest_centre(setup):
    x, clusters, recipe = setup
    gan = selfcond.build_self_conditioned(recipe, clusters, 0, arm="d-only")
    plain = recipe.replace(clusters=0).build(0)
    assert type(gan) is training.GAN
    # G: the plain generator, no code
    with pytest.raises(ValueError, match="starts with a ClusterCode layer"):
        selfcond.cluster_code(gan.generator)
    assert not has_embedding(gan.generator)
    assert gan.generator.count_params() == plain.generator.count_params()
    # D takes x alone; its label is the nearest centre, which is each real image's cluster
    assert not isinstance(gan.discriminator.input_shape, list) and has_embedding(gan.discriminator)
    nearest = np_(layers.NearestCentre(clusters.centres)(x))
    np.testing.assert_array_equal(nearest, clusters.labels)
    inner = inner_model(gan.discriminator)
    score = np_(gan.discriminator(x))
    np.testing.assert_allclose(score, np_(inner([x, nearest])), atol=1e-5)
    assert np.abs(score - np_(inner([x, (nearest + 1) % 3]))).max() > 1e-4    # the label reaches the score
    # a fake is labelled by the same rule
    fake = np_(gan.generator(training.noise(6, LATENT, 0)))
    fake_labels = np_(layers.NearestCentre(clusters.centres)(fake))
    np.testing.assert_allclose(np_(gan.discriminator(fake)), np_(inner([fake, fake_labels])), atol=1e-5)
    no_centres = selfcond.Clusters(clusters.labels, clusters.freqs)
    with pytest.raises(ValueError, match="these clusters keep none"):
        selfcond.build_self_conditioned(recipe, no_centres, arm="d-only")


def test_d_only_drawn_arm_judges_fakes_with_the_batch_clusters(setup):
    x, clusters, recipe = setup
    gan = selfcond.build_self_conditioned(recipe, clusters, 0, arm="d-only-drawn")
    assert type(gan) is conditional.LabelledCriticGAN and not has_embedding(gan.generator)
    y = clusters.labels[:6]
    gan.sample_noise = lambda n: training.noise(n, LATENT, 0)
    np.testing.assert_array_equal(np_(gan.fakes(6, y)), np_(gan.fakes(6, (y + 1) % 3)))   # G ignores y
    del gan.sample_noise
    d = gan.discriminator
    assert np.abs(np_(d([x[:6], y])) - np_(d([x[:6], (y + 1) % 3]))).max() > 1e-4        # D does not


def test_both_is_the_main_job_and_bad_arms_are_refused(setup):
    x, clusters, recipe = setup
    keras.utils.set_random_seed(3)
    gan = selfcond.build_self_conditioned(recipe, clusters, 0, arm="both")
    keras.utils.set_random_seed(3)
    job = jobs.build_gan("dcgan", recipe, 0, clusters)
    assert type(gan) is type(job) is selfcond.SelfConditionedGAN
    for a, b in ((gan.generator, job.generator), (gan.discriminator, job.discriminator)):
        assert [w.shape for w in a.get_weights()] == [w.shape for w in b.get_weights()]
        assert all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights()))
    assert selfcond.ARMS[0] == "both"
    with pytest.raises(ValueError, match="arm='d' is not known; choose one of both, g-only"):
        selfcond.build_self_conditioned(recipe, clusters, arm="d")
    with pytest.raises(ValueError, match="g-only arm's D has none"):
        selfcond.build_self_conditioned(recipe, clusters, arm="g-only", pooled=True)


def test_pooled_head_sums_the_map_and_has_a_fiftieth_of_the_weights():
    flat = conditional.build_conditional_discriminator(64, 0.0, "projection", 50)
    pooled = conditional.build_conditional_discriminator(64, 0.0, "projection", 50, pooled=True)
    plain = recipes.DCGANRecipe().build(0).discriminator
    # the main job's D: the plain D (138,561) plus 50 rows of the 7 × 7 × 128 = 6,272 flattened features
    assert plain.count_params() == 138_561
    assert flat.count_params() == 138_561 + 50 * 6_272 == 452_161
    assert pooled.count_params() == 138_561 + 50 * 128 == 144_961
    pool = next(layer for layer in pooled.layers if isinstance(layer, keras.layers.GlobalAveragePooling2D))
    probe = keras.Model(pooled.inputs, [pool.input, pooled.get_layer("sum_pool").output])
    h, summed = (np_(t) for t in probe([blobs(2), np.zeros(6, "int32")]))
    np.testing.assert_allclose(summed, h.sum(axis=(1, 2)), rtol=1e-5, atol=1e-4)
    with pytest.raises(ValueError, match="head='concat' has none"):
        conditional.build_conditional_discriminator(4, head="concat", pooled=True)


def test_fast_benchmark_writes_rows_and_means_and_resumes(tmp_path, capsys):
    path = ROOT / "benchmarks" / "selfcond_ablation.py"
    spec = importlib.util.spec_from_file_location("selfcond_ablation", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "ablation.json"
    assert bench.main(["--fast", "--seeds", "0", "--out", str(out)]) == 0
    first = json.loads(out.read_text())
    arms = bench.DEFAULT_ARMS.split(",")
    assert arms == ["plain", "g-only", "d-only", "both"]
    for key in ("date", "device", "versions", "command", "settings", "real_vs_real_floor"):
        assert first[key], key
    assert first["settings"]["fast"] and first["settings"]["steps"] == bench.FAST["steps"]
    assert list(first["runs"]) == arms
    for arm, run in first["runs"].items():
        (row,) = run["rows"]
        assert row["seed"] == 0 and row["steps"] == bench.FAST["steps"]
        for k in ("fd_mnist", "confident_share", "recall", "classes_present"):
            assert np.isfinite(row[k]) and run["mean"][k] == pytest.approx(row[k]), (arm, k)
    rows = {arm: run["rows"][0] for arm, run in first["runs"].items()}
    assert rows["both"]["d_weights"] == rows["d-only"]["d_weights"] > rows["plain"]["d_weights"]
    assert rows["g-only"]["d_weights"] == rows["plain"]["d_weights"]
    assert rows["both"]["g_weights"] == rows["g-only"]["g_weights"] > rows["plain"]["g_weights"]
    assert rows["d-only"]["head"] == "flat" and rows["plain"]["head"] is None
    # the same --out: runs already there are kept, not retrained; other settings are refused
    capsys.readouterr()
    before = out.read_text()
    assert bench.main(["--fast", "--arms", "plain", "--seeds", "0", "--out", str(out)]) == 0
    assert "plain, seed 0: already in" in capsys.readouterr().out
    assert out.read_text() == before
    with pytest.raises(SystemExit):
        bench.main(["--fast", "--head", "pooled", "--out", str(out)])
    # an arm's means and ranges are over its seeds
    two = bench.summarise([{**rows["plain"], "seed": 1, "fd_mnist": 3.0}, {**rows["plain"], "fd_mnist": 1.0}])
    assert two["seeds"] == [1, 0] and two["mean"]["fd_mnist"] == 2.0
    assert two["range"]["fd_mnist"] == [1.0, 3.0]
