"""A pytest plugin for running the notebooks under pytest-xdist (`make notebooks` loads it with -p).

nbval runs a notebook's cells in order in one kernel, so all of a notebook's cells must go to one worker,
in order. Notebook 05 reads the generator that notebook 04 writes, so 05's cells go to 04's worker and
run after 04's, as in a serial run.

The plugin supplies its own scheduler: xdist's `--dist loadgroup` stopped grouping under pytest 9.2
(pytest-xdist issue #1386: it renames the test ids, which pytest no longer lets it do).
"""

from __future__ import annotations

from pathlib import PurePosixPath

SAME_WORKER_AS = {"05_evaluating_gans": "04_dcgan_mnist"}


def notebook_scope(nodeid: str) -> str:
    """The unit of work of one nbval cell: its notebook, or the notebook it must follow."""
    stem = PurePosixPath(nodeid.split("::", 1)[0]).stem
    return SAME_WORKER_AS.get(stem, stem)


def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class NotebookScheduling(LoadScopeScheduling):
        """xdist's loadscope (whole units to a worker, in collection order), one unit per notebook."""

        def _split_scope(self, nodeid: str) -> str:
            return notebook_scope(nodeid)

    return NotebookScheduling(config, log)


# Fast-mode seconds of each unit of work on the 2-core CI machine (notebook 05 rides with 04): the longest
# start first, so that no long notebook is left to run alone at the end. Only the order depends on them.
EXPECTED_SECONDS = {"04_dcgan_mnist": 260, "03_toy_gan_mode_collapse": 230, "09_distributed_training": 115,
                    "08_adversarial_examples": 100, "07_wgan_gp_and_friends": 70, "06_conditional_gan": 65}


def pytest_configure(config):
    config.option.loadscopereorder = False   # keep the order below, not xdist's (most cells first)


def pytest_collection_modifyitems(session, config, items):
    """Whole notebooks, longest first; each notebook's cells (and 04's before 05's) in their order."""
    order = {scope: i for i, scope in enumerate(dict.fromkeys(notebook_scope(item.nodeid) for item in items))}
    items.sort(key=lambda item: (-EXPECTED_SECONDS.get(notebook_scope(item.nodeid), 0),
                                 order[notebook_scope(item.nodeid)]))
