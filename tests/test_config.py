import pytest

from gan_helpers import config


@pytest.mark.parametrize("value,fast", [("1", True), ("true", True), ("ON", True), ("0", False),
                                        ("", False), ("no", False)])
def test_fast_switch(monkeypatch, value, fast):
    monkeypatch.setenv(config.FAST_ENV, value)
    assert config.is_fast() is fast
    assert config.choose("full", "fast") == ("fast" if fast else "full")


def test_fast_switch_rejects_unknown_values(monkeypatch):
    monkeypatch.setenv(config.FAST_ENV, "maybe")
    with pytest.raises(ValueError, match="use 1 .* or 0"):
        config.is_fast()


def test_runtime_description_names_versions_and_device():
    text = config.describe_runtime(seed=7)
    assert "TensorFlow" in text and "Keras 3" in text and "Seed: 7" in text
    assert ("GPU:" in text) or ("CPU" in text and "No GPU visible" in text)


def test_seed_makes_draws_repeat():
    import numpy as np

    config.set_seed(3)
    a = np.random.rand(3)
    config.set_seed(3)
    np.testing.assert_array_equal(a, np.random.rand(3))


@pytest.mark.parametrize("value, seed", [("", 42), ("7", 7), (" 0 ", 0)])
def test_default_seed_comes_from_the_environment(monkeypatch, value, seed):
    monkeypatch.setenv(config.SEED_ENV, value)
    assert config.default_seed() == seed
    assert config.set_seed() == seed


@pytest.mark.parametrize("value", ["seven", "-1", "1.5", str(2**32)])
def test_default_seed_rejects_what_is_not_a_seed(monkeypatch, value):
    monkeypatch.setenv(config.SEED_ENV, value)
    with pytest.raises(ValueError, match="GAN_HELPERS_SEED.*whole number"):
        config.default_seed()
