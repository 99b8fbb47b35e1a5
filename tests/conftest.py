import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def bundled():
    from gan_helpers import data

    return data.load_bundled_mnist()


@pytest.fixture(scope="session")
def small_images(bundled):
    from gan_helpers import data

    x, _ = bundled
    return data.to_gan_range(x[np.random.default_rng(0).permutation(len(x))[:256]])
