import dataclasses

import numpy as np
import pytest

from gan_helpers import metrics


def clusters(n, classes=range(10), d=8, spread=0.3, seed=0):
    """Synthetic 'features': one Gaussian blob per class, centres fixed across calls."""
    centres = np.random.default_rng(123).normal(0, 3, (10, d))
    rng = np.random.default_rng(seed)
    labels = rng.choice(list(classes), n)
    return centres[labels] + rng.normal(0, spread, (n, d)), labels


def test_fd_is_zero_for_identical_sets_and_moves_by_the_squared_shift():
    f, _ = clusters(2000)
    assert metrics.frechet_distance(f, f) < 1e-6
    shift = np.random.default_rng(1).normal(0, 0.5, f.shape[1])
    np.testing.assert_allclose(metrics.frechet_distance(f, f + shift), shift @ shift, rtol=1e-6, atol=1e-6)


def test_fd_grows_with_the_spread_and_handles_singular_covariances():
    f, _ = clusters(1000)
    g = f.copy()
    g[:, :2] *= 1.5
    assert metrics.frechet_distance(f, g) > metrics.frechet_distance(f, f[::-1]) + 0.1
    low_rank = np.repeat(np.random.default_rng(0).normal(size=(500, 1)), 5, axis=1)  # rank-1 covariance
    assert np.isfinite(metrics.frechet_distance(low_rank, low_rank + 0.1))
    with pytest.raises(ValueError, match="same d"):
        metrics.frechet_distance(f, f[:, :3])


def test_classifier_score_and_coverage_known_answers():
    balanced = np.eye(10)[np.arange(1000) % 10]
    np.testing.assert_allclose(metrics.classifier_score(balanced), 10, rtol=1e-6)
    one_class = np.eye(10)[np.full(1000, 7)]
    np.testing.assert_allclose(metrics.classifier_score(one_class), 1, rtol=1e-6)
    cov = metrics.class_coverage(one_class)
    assert cov["class_coverage"] == 0.1 and cov["classes_present"] == 1
    np.testing.assert_allclose(cov["kl_from_uniform"], np.log(10))
    assert metrics.class_coverage(balanced)["kl_from_uniform"] < 1e-12


def test_density_and_coverage_of_identical_distributions_match_naeem():
    real, _ = clusters(1500, seed=1)
    fake, _ = clusters(1500, seed=2)
    dc = metrics.density_coverage(real, fake, k=5)
    assert 0.85 < dc["density"] < 1.15 and 0.93 < dc["coverage"] < 1.0   # Naeem et al.: ≈ 1 and ≈ 0.97


def test_precision_and_recall_react_in_the_right_direction():
    real, _ = clusters(1000, seed=1)
    same = metrics.precision_recall(real, clusters(1000, seed=2)[0])
    dropped = metrics.precision_recall(real, clusters(1000, classes=range(5), seed=2)[0])
    blurred = metrics.precision_recall(real, clusters(1000, seed=2, spread=1.2)[0])
    # k = 3 in 8-d with 100 points a blob: identical distributions give about 0.85 on both
    assert same["precision"] > 0.75 and same["recall"] > 0.75
    assert dropped["recall"] < 0.6 and dropped["precision"] > 0.75      # fewer modes: recall falls
    assert blurred["precision"] < same["precision"] - 0.2                # off-manifold: precision falls


def test_nearest_neighbours_find_copies(bundled):
    x = bundled[0][:200]
    idx, dist = metrics.nearest_neighbours(x[:5], x, n=2)
    np.testing.assert_array_equal(idx[:, 0], np.arange(5))
    assert np.all(dist[:, 0] < 1e-5) and np.all(dist[:, 1] > 1)
    idx, dist = metrics.nearest_neighbours(x[:5], x, n=1, exclude_self=True)
    assert np.all(idx[:, 0] != np.arange(5))


def test_reference_sets_have_the_promised_content(bundled):
    x, y = bundled
    refs = metrics.reference_sets(x, y, 100)
    assert all(v.shape == (100, 28, 28) and v.dtype == np.uint8 for v in refs.values())
    assert set(np.unique(y[np.isin(x.reshape(len(x), -1).sum(1),
                                   refs["a single class (1s)"].reshape(100, -1).sum(1))])) >= {1}
    assert refs["blurred real (σ = 1 px)"].std() < refs["real vs real (noise floor)"].std()
    # a row repeats an image only after every distinct one of its kind is in it
    n_ones = int(np.sum(y == 1))
    big = metrics.reference_sets(x, y, 2 * n_ones)
    assert metrics.distinct_images(big["a single class (1s)"]) == metrics.distinct_images(x[y == 1])
    # drawn with replacement, about 10% of these 2·n_ones digits out of 10,000 would be repeats
    assert metrics.distinct_images(big["real vs real (noise floor)"]) >= 0.99 * 2 * n_ones
    with pytest.raises(ValueError, match="no image"):
        metrics.reference_sets(x[y != 1], y[y != 1], 10)


def test_feature_net_trains_caches_and_rejects_bad_images(tmp_path, monkeypatch):
    monkeypatch.setenv(metrics.CACHE_ENV, str(tmp_path))
    net = metrics.load_feature_net("bundled", epochs=1, verbose=False)
    assert net.test_accuracy > 0.9 and net.n_train == 8000
    again = metrics.load_feature_net("bundled", epochs=1, verbose=False)  # from the cache: same weights
    assert again.test_accuracy == net.test_accuracy and len(list(tmp_path.glob("*.weights.h5"))) == 1
    x = np.random.default_rng(0).uniform(-1, 1, (7, 28, 28, 1)).astype("float32")
    f, p = net.features_and_probs(x)
    assert f.shape == (7, 128) and p.shape == (7, 10)
    np.testing.assert_allclose(p.sum(1), 1, rtol=1e-6)
    np.testing.assert_allclose(again.features(x), f, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        net.features(x * 3)


def test_feature_net_weights_do_not_depend_on_earlier_random_draws(tmp_path, monkeypatch):
    import keras

    from gan_helpers import data

    full = data.load_mnist("bundled", with_test=True)   # a slice of it: the property does not need all of it
    digits = dataclasses.replace(full, x_train=full.x_train[:1024], y_train=full.y_train[:1024],
                                 x_test=full.x_test[:256], y_test=full.y_test[:256])
    monkeypatch.setenv(metrics.CACHE_ENV, str(tmp_path / "a"))
    keras.utils.set_random_seed(1)
    np.random.rand(5)
    a = metrics.load_feature_net("bundled", epochs=1, verbose=False, digits=digits)
    monkeypatch.setenv(metrics.CACHE_ENV, str(tmp_path / "b"))
    keras.utils.set_random_seed(7)
    b = metrics.load_feature_net("bundled", epochs=1, verbose=False, digits=digits)
    for wa, wb in zip(a.model.get_weights(), b.model.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-5, atol=1e-6)


def test_format_table_aligns_rows():
    text = metrics.format_table({"a": {"fd_mnist": 1.23456, "classes_present": 3}},
                                columns=("fd_mnist", "classes_present"))
    header, row = text.splitlines()
    assert len(header) == len(row) and row.startswith("a ") and "1.235" in row and row.endswith("3")


def test_confident_share_counts_probabilities_at_or_above_the_threshold():
    probs = np.full((4, 10), 0.0)
    probs[0, 3] = 1.0                              # certain
    probs[1, :2] = [0.9, 0.1]                      # exactly at the threshold: counts
    probs[2, :2] = [0.89, 0.11]                    # just below
    probs[3] = 0.1                                 # a blob the net cannot place
    assert metrics.confident_share(probs) == 0.5
    assert metrics.confident_share(probs, threshold=0.5) == 0.75
    with pytest.raises(ValueError, match=r"\[N, 10\]"):
        metrics.confident_share(probs[:, :5])
    with pytest.raises(ValueError, match="threshold"):
        metrics.confident_share(probs, threshold=0)


def test_class_shares_report_the_smallest_and_largest_class():
    pred = np.r_[np.zeros(30, int), np.arange(70) % 9 + 1]       # class 0: 30%; 1–9 share the rest
    cov = metrics.class_coverage(np.eye(10)[pred])
    assert cov["max_class_share"] == 0.30 and cov["min_class_share"] == pytest.approx(7 / 100)
    assert cov["classes_present"] == 10
