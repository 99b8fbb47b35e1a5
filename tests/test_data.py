import hashlib
import importlib.util
from pathlib import Path

import keras
import numpy as np
import pytest

from gan_helpers import data

ROOT = Path(__file__).resolve().parents[1]


def _offline(monkeypatch):
    def fail(*args, **kwargs):
        raise Exception("URL fetch failure: Name or service not known")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", fail)
    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", fail)


def test_bundled_sample_is_the_recorded_real_mnist(bundled):
    x, y = bundled
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8
    assert np.bincount(y).tolist() == [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]
    assert abs(x.mean() / 255 - 0.1307) < 0.002  # MNIST's training mean pixel is 0.1307
    assert x.max() == 255 and x.min() == 0


def test_conversion_script_reproduces_the_file_byte_for_byte(bundled):
    spec = importlib.util.spec_from_file_location("build", ROOT / "scripts/build_mnist_sample.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    rebuilt = build.npz_bytes(*bundled)
    assert hashlib.sha256(rebuilt).hexdigest() == data.BUNDLED_SHA256
    assert data.BUNDLED_SHA256 in (ROOT / "gan_helpers/datasets/PROVENANCE.md").read_text()


def test_auto_falls_back_to_the_bundled_sample_in_one_line(monkeypatch, capsys):
    _offline(monkeypatch)
    d = data.load_mnist("auto")
    out = capsys.readouterr().out.strip().splitlines()
    assert d.source == "bundled" and d.x_train.shape == (10000, 28, 28) and d.x_test is None
    assert len(out) == 1 and "bundled sample" in out[0]


def test_offline_test_split_is_stratified_disjoint_and_fixed(monkeypatch):
    _offline(monkeypatch)
    a = data.load_mnist("bundled", with_test=True)
    b = data.load_mnist("bundled", with_test=True)
    assert len(a.x_train) == 8000 and len(a.x_test) == 2000
    np.testing.assert_array_equal(a.x_test, b.x_test)
    shares = np.bincount(a.y_test, minlength=10) / 2000
    np.testing.assert_allclose(shares, np.bincount(a.y_train, minlength=10) / 8000, atol=0.002)
    train_keys = {img.tobytes() for img in a.x_train}
    assert sum(img.tobytes() in train_keys for img in a.x_test) <= 2  # MNIST has a few duplicates


def test_keras_source_fails_clearly_offline(monkeypatch):
    _offline(monkeypatch)
    with pytest.raises(data.DataUnavailableError, match="source='bundled'"):
        data.load_mnist("keras")


def test_fashion_mnist_offline_names_the_way_on(monkeypatch):
    _offline(monkeypatch)
    with pytest.raises(data.DataUnavailableError, match="bundled MNIST"):
        data.load_fashion_mnist()
    with pytest.raises(data.DataUnavailableError, match="no bundled Fashion-MNIST"):
        data.load_fashion_mnist("bundled")


def test_bad_arguments_say_what_is_allowed():
    with pytest.raises(ValueError, match="auto, keras, bundled"):
        data.load_mnist("internet")
    with pytest.raises(ValueError, match="mnist, fashion_mnist"):
        data.load_dataset("cifar10")
    with pytest.raises(TypeError, match="uint8"):
        data.to_gan_range(np.zeros((2, 28, 28), np.float32))
    with pytest.raises(ValueError, match="between 1 and the 3 images"):
        data.make_dataset(np.zeros((3, 28, 28, 1), np.float32), batch_size=4)


def test_scaling_round_trips(bundled):
    x = bundled[0][:50]
    scaled = data.to_gan_range(x)
    assert scaled.shape == (50, 28, 28, 1) and scaled.dtype == np.float32
    assert scaled.min() == -1.0 and scaled.max() == 1.0
    np.testing.assert_array_equal(data.from_gan_range(scaled)[..., 0], x)


def test_dataset_gives_full_batches_only(small_images):
    batches = list(data.make_dataset(small_images[:100], batch_size=32))
    assert [b.shape[0] for b in batches] == [32, 32, 32]
