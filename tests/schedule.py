"""A pytest plugin that schedules the unit tests and the notebooks together under pytest-xdist.

`make test` runs both in one pytest session (`-p tests.schedule`), so that neither waits for the other's
slowest item. Work goes out in units, longest first, each to the next free worker:
- a notebook is one unit: nbval runs its cells in order in one kernel, so they must stay on one worker.
  Notebook 05 reads the generator that notebook 04 writes, so 05's cells ride in 04's unit, after 04's;
- a test module whose tests share an expensive module fixture is one unit (the fixture is built once);
- any other test is a unit of its own.

The plugin supplies its own scheduler: xdist's `--dist loadgroup` stopped grouping under pytest 9.2
(pytest-xdist issue #1386: it renames the test ids, which pytest no longer lets it do).
"""

from __future__ import annotations

from pathlib import PurePosixPath

SAME_WORKER_AS = {"05_evaluating_gans": "04_dcgan_mnist"}

# Modules whose tests share a module-scoped fixture that takes seconds to build.
ONE_UNIT_MODULES = {"test_adversarial", "test_book", "test_distribute", "test_fast_runs",
                    "test_notebook_tools", "test_resilience", "test_selfcond_ablation"}

# Seconds each slow unit took in a fresh-clone `make test` on the 2-core CI machine (pytest --durations;
# a notebook's figure includes its mutation trials, 05 rides with 04). Only the order of the run depends on
# them: the longest start first, so that no long unit is left to run alone at the end. A unit not listed
# counts as fast.
EXPECTED_SECONDS = {
    "09_distributed_training": 300, "03_toy_gan_mode_collapse": 260, "04_dcgan_mnist": 240,
    "08_adversarial_examples": 110, "07_wgan_gp_and_friends": 100, "06_conditional_gan": 75,
    "02_gan_objective_derivation": 40, "01_adversarial_learning_overview": 40,
    "test_distribute": 230, "test_resilience": 180, "test_notebook_tools": 140, "test_book": 65,
    "test_selfcond_ablation": 30, "test_adversarial": 60,
    "test_fast_runs": 220,
    "test_cli.py::test_ctrl_c": 49, "test_metrics.py::test_feature_net_trains": 46,
    "test_notebook_checks.py::test_the_plugin": 33,
}


def unit_of(nodeid: str) -> str:
    """The unit of work an item belongs to (see the module's docstring)."""
    path = nodeid.split("::", 1)[0]
    stem = PurePosixPath(path).stem
    if path.endswith(".ipynb"):
        return SAME_WORKER_AS.get(stem, stem)
    if stem in ONE_UNIT_MODULES:
        return stem
    return nodeid


def notebook_scope(nodeid: str) -> str:
    """The unit of one nbval cell: its notebook, or the notebook it must follow."""
    return unit_of(nodeid)


def expected_seconds(unit: str) -> float:
    return next((s for key, s in EXPECTED_SECONDS.items() if key in unit), 0.0)


def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class UnitScheduling(LoadScopeScheduling):
        """xdist's loadscope (whole units to the next free worker, in collection order) over our units."""

        def _split_scope(self, nodeid: str) -> str:
            return unit_of(nodeid)

    return UnitScheduling(config, log)


def pytest_configure(config):
    config.option.loadscopereorder = False   # keep the order below, not xdist's (most items first)


def pytest_collection_modifyitems(session, config, items):
    """Units longest first; the items of a unit together and in their order (04's before 05's)."""
    order = {unit: i for i, unit in enumerate(dict.fromkeys(unit_of(item.nodeid) for item in items))}
    items.sort(key=lambda item: (-expected_seconds(unit_of(item.nodeid)), order[unit_of(item.nodeid)]))
