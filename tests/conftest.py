import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory):
    """Feature-net weights trained by the tests go to a temporary cache, shared by the session."""
    path = tmp_path_factory.mktemp("gan_helpers_cache")
    old = os.environ.get("GAN_HELPERS_CACHE")
    os.environ["GAN_HELPERS_CACHE"] = str(path)
    yield path
    if old is None:
        os.environ.pop("GAN_HELPERS_CACHE", None)
    else:
        os.environ["GAN_HELPERS_CACHE"] = old


@pytest.fixture(scope="session")
def bundled():
    from gan_helpers import data

    return data.load_bundled_mnist()


@pytest.fixture(scope="session")
def small_images(bundled):
    from gan_helpers import data

    x, _ = bundled
    return data.to_gan_range(x[np.random.default_rng(0).permutation(len(x))[:256]])


@pytest.fixture(autouse=True)
def close_figures():
    """Each test starts with no open figure, whichever test ran before it on this worker."""
    yield
    import sys

    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
