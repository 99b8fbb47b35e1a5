"""The mutation table (tests/mutations.py) and the plugin that runs it in nbval (tests/nbval_mutations.py).

The trials themselves run in `make test`'s nbval session, one kernel per notebook; here the table is checked
to point at real cells, and the plugin is shown to fail a notebook whose altered formula passes its check.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tests import mutations

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", sorted(mutations.MUTATIONS))
def test_each_altered_text_is_in_exactly_one_cell_and_still_compiles(name):
    path = mutations.NOTEBOOKS / name
    assert path.exists(), f"the mutation table names {name}, which is not a notebook"
    cells = mutations.code_cells(path)
    by_cell = mutations.sites(path)
    assert sum(len(v) for v in by_cell.values()) == len(mutations.MUTATIONS[name])
    for i, pairs in by_cell.items():
        for old, new in pairs:
            assert old != new
            compile(cells[i][0].replace(old, new), f"{name} cell {i} altered", "exec")


def test_a_site_that_is_missing_or_ambiguous_is_refused(tmp_path):
    cell = nbformat.v4.new_code_cell
    nb = nbformat.v4.new_notebook(cells=[cell("x = 1"), cell("x = 1")])
    path = tmp_path / "probe.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(ValueError, match="exactly one code cell of probe.ipynb, found 2"):
        mutations.sites(path, {"probe.ipynb": [("x = 1", "x = 2")]})
    with pytest.raises(ValueError, match="found 0"):
        mutations.sites(path, {"probe.ipynb": [("y = 1", "y = 2")]})


def _probe(tmp_path: Path, table: list[tuple[str, str]]) -> subprocess.CompletedProcess:
    """nbval with the plugin on a four-cell notebook: a formula, its check cell, a plain cell, a figure."""
    check = nbformat.v4.new_code_cell("assert total == 6, total")
    check.metadata["tags"] = ["check"]
    cells = [nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\ntotal = sum([1, 2, 3])"), check,
             nbformat.v4.new_code_cell("plt.plot([total, 0])\nplt.show()\nprint('after', total)")]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), tmp_path / "probe.ipynb")
    (tmp_path / "table.json").write_text(json.dumps({"probe.ipynb": table}))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GAN_HELPERS_MUTATIONS": str(tmp_path / "table.json")}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "tests.nbval_mutations", "--nbval-lax",
                           "--nbval-current-env", "-p", "no:cacheprovider", "-c", os.devnull,
                           "--rootdir", str(tmp_path), "probe.ipynb"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


def test_the_plugin_passes_caught_mutations_and_fails_survivors_and_broken_trials(tmp_path):
    caught = _probe(tmp_path, [("sum([1, 2, 3])", "sum([1, 2, 4])"),
                               ("sum([1, 2, 3])", "sum([1, 2, 3]) + 1")])
    assert caught.returncode == 0, caught.stdout + caught.stderr
    assert "3 passed" in caught.stdout, caught.stdout
    survived = _probe(tmp_path, [("sum([1, 2, 3])", "sum([1, 2, 4])"), ("sum([1, 2, 3])", "sum([3, 2, 1])")])
    assert survived.returncode == 1, survived.stdout + survived.stderr
    assert "1 of 2 altered formulas in probe.ipynb cell 0 were not caught" in survived.stdout, survived.stdout
    assert "'sum([3, 2, 1])': survived" in survived.stdout
    broken = _probe(tmp_path, [("sum([1, 2, 3])", "sum([1, 2, 3]) / undefined_name")])
    assert broken.returncode == 1
    assert "broke with NameError" in broken.stdout, broken.stdout
