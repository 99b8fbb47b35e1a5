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


# Seconds each slow test took in a fresh-clone `make test` on the 2-core CI machine (pytest --durations).
# Only the order of the run depends on them: the slowest start first, alternately on the two halves of the
# collection that pytest-xdist's worksteal scheduler hands to its two workers, so that no slow test is
# left to run alone at the end. A test not listed counts as fast.
SLOW_TESTS = {
    "test_notebook_checks.py::test_every_check_fails_when_its_formula_is_altered[03": 256,
    "test_notebook_checks.py::test_every_check_fails_when_its_formula_is_altered[07": 106,
    "test_nb09_learning_check.py::": 88,
    "test_distribute.py::test_two_workers": 83,
    "test_resilience.py::test_sigkill": 123,
    "test_cli.py::test_fast_run_writes_everything": 61,
    "test_run_fingerprint.py::test_fast_run_writes_the_recorded_bytes": 45,
    "test_notebook_checks.py::test_every_check_fails_when_its_formula_is_altered[08": 50,
    "test_cli.py::test_ctrl_c": 49,
    "test_notebook_checks.py::test_every_check_fails_when_its_formula_is_altered[04": 46,
    "test_book.py::": 41,
    "test_commands_shown.py::": 30,
    "test_notebook_checks.py::test_every_check_fails_when_its_formula_is_altered[": 28,
    "test_selfcond_ablation.py::test_fast": 25,
}


def expected_seconds(nodeid: str) -> float:
    return next((s for key, s in SLOW_TESTS.items() if key in nodeid), 0.0)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    if config.getoption("dist", default="no") != "worksteal":   # the workers get the controller's options
        return
    ranked = sorted(items, key=lambda item: -expected_seconds(item.nodeid))   # stable: ties keep their order
    items[:] = ranked[0::2] + ranked[1::2]
